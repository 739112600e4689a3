"""Need-to-know: who a caller is for authorisation, what each RPC allows, and the check an
application makes when it finds which case a request is about (ADR 0021).

* `role_of(actor)` turns the verified identity into one `Role`: landlord staff by their role
  claim, contractors, regulators and operations by theirs, every other agency a PARTNER. An
  unknown landlord role is `None` and is refused everything (fail closed).
* `Rule` says, for one RPC, which roles may call it and in what `Scope`; the table is in
  `caseplatform.access_rules`. The gRPC edge (`caseplatform.access_guard`) applies it.
* `require_case(case_id)` is for the application: called where a request names a referral,
  action or work order rather than a case, it checks the current caller's scope on that case
  and notes the case for the read audit.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from caseplatform.errors import NotFound, PermissionDenied
from caseplatform.identity import Actor

DEFAULT_LANDLORD_AGENCY = "landlord"


class Role(StrEnum):
    CHO = "CHO"
    CSO = "CSO"
    HOUSING_MANAGER = "HOUSING_MANAGER"
    ASB_ADVISOR = "ASB_ADVISOR"
    MARAC_COORDINATOR = "MARAC_COORDINATOR"
    PARTNER = "PARTNER"
    CONTRACTOR = "CONTRACTOR"
    REGULATOR = "REGULATOR"
    OPERATIONS = "OPERATIONS"


STAFF_ROLES = frozenset({Role.CHO, Role.CSO, Role.HOUSING_MANAGER, Role.ASB_ADVISOR, Role.MARAC_COORDINATOR})
CLAIMED_ROLES = frozenset({Role.CONTRACTOR, Role.REGULATOR, Role.OPERATIONS})  # from the role claim, any agency
PURPOSE_REQUIRED = frozenset({Role.PARTNER, Role.REGULATOR})


class Scope(StrEnum):
    ANY = "ANY"                  # any case
    OWN_PATCH = "OWN_PATCH"      # cases whose owner CHO is the caller
    SHARED = "SHARED"            # what was shared with, or is owned by, the caller's agency
    OWN_JOBS = "OWN_JOBS"        # a contractor's own work orders
    AGGREGATE = "AGGREGATE"      # figures and references, no case content


def normalise(role: str) -> str:
    """"ASB advisor" -> "ASB_ADVISOR", "housing-manager" -> "HOUSING_MANAGER"."""
    return re.sub(r"[^A-Z0-9]+", "_", role.upper()).strip("_")


def landlord_agency() -> str:
    return os.environ.get("CASEWORK_LANDLORD_AGENCY", DEFAULT_LANDLORD_AGENCY)


def is_police(actor: Actor) -> bool:
    """A police agency names itself as one: "police", "gwent-police", "south_wales_police"."""
    return "police" in re.split(r"[^a-z0-9]+", actor.agency.lower())


def role_of(actor: Actor, landlord: str | None = None) -> Role | None:
    claimed = normalise(actor.role)
    if claimed in CLAIMED_ROLES:
        return Role(claimed)
    if actor.agency == (landlord or landlord_agency()):
        return Role(claimed) if claimed in STAFF_ROLES else None  # an unknown staff role: nothing
    return Role.PARTNER


@dataclass(frozen=True)
class Rule:
    """One RPC's need-to-know: the roles that may call it, each with its scope; `reads` marks an
    RPC that returns case data, so every allowed call is recorded in the read audit."""

    scopes: Mapping[Role, Scope]
    reads: bool = False

    def scope_for(self, role: Role | None) -> Scope | None:
        return None if role is None else self.scopes.get(role)


@dataclass
class Access:
    """The admitted call, for the application: who, judged as which role, in what scope."""

    actor: Actor
    role: Role
    scope: Scope
    purpose: str
    owner_of: Callable[[str], str | None] | None = None
    cases: list[str] = field(default_factory=list)  # the cases it touched, for the audit

    def note_case(self, case_id: str) -> None:
        if case_id and case_id not in self.cases:
            self.cases.append(case_id)

    def may_see_case(self, case_id: str) -> bool:
        if self.scope is not Scope.OWN_PATCH:
            return True
        owner = self.owner_of(case_id) if self.owner_of else None
        return owner is not None and owner == self.actor.user

    def check_case(self, case_id: str) -> None:
        self.note_case(case_id)
        if self.scope is Scope.OWN_PATCH and self.owner_of is not None and self.owner_of(case_id) is None:
            # Not (yet) known here: intake's event for it has not arrived, or there is no such case.
            raise NotFound("case", case_id)
        if not self.may_see_case(case_id):
            raise PermissionDenied(f"case {case_id} is not on the caller's patch (a CHO sees only the cases they own)")


current_access: contextvars.ContextVar[Access | None] = contextvars.ContextVar("current_access", default=None)


def require_case(case_id: str) -> None:
    """Check the current caller may act on this case (and note it for the audit). Outside a
    gRPC call (a policy reacting to an event) there is no caller to check."""
    access = current_access.get()
    if access is not None:
        access.check_case(case_id)


def own_patch_only() -> str | None:
    """For list queries: the CHO whose cases are the only ones the caller may see, or None."""
    access = current_access.get()
    return access.actor.user if access is not None and access.scope is Scope.OWN_PATCH else None


def caller_role() -> Role | None:
    access = current_access.get()
    return None if access is None else access.role


def caller_scope() -> Scope | None:
    access = current_access.get()
    return None if access is None else access.scope
