"""The need-to-know check at the gRPC edge (ADR 0021), before any behaviour runs:

1. the RPC's rule (`caseplatform.access_rules`; no rule: refused);
2. the caller's role (`caseplatform.access.role_of`; an unknown staff role: refused);
3. the purpose (`x-purpose` metadata, at most 200 characters; required of partners and regulators);
4. where the request names a case, the caller's scope on it (a CHO: their own patch).

It records every refusal, and every allowed read of case data, in the read audit (no audit, no
answer), and counts refusals by service, RPC and role."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from caseplatform import metrics
from caseplatform.access import (
    PURPOSE_REQUIRED,
    Access,
    Role,
    Rule,
    Scope,
    landlord_agency,
    role_of,
)
from caseplatform.audit import ALLOWED, DENIED, ReadAudit
from caseplatform.errors import InvalidArgument, NotFound, PermissionDenied
from caseplatform.identity import Actor

PURPOSE_KEY = "x-purpose"
PURPOSE_MAX = 200
DEFAULT_PURPOSE = "casework"
# The same caller reading the same case through the same RPC for the same purpose again within
# this many seconds is covered by the first record: a client polling a timeline every 10 ms must
# not write a hundred audit records a second (nor starve the store). Denials are always recorded.
COALESCE_S = float(os.environ.get("CASEWORK_AUDIT_COALESCE_S", "60"))
_REMEMBERED = 50_000  # recent reads kept per process for coalescing (oldest forgotten first)


class AccessGuard:
    def __init__(
        self,
        service: str,
        rules: Mapping[str, Rule],
        audit: ReadAudit | None,
        owner_of: Callable[[str], str | None] | None,
        landlord: str | None = None,
        coalesce_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self._rules = rules
        self._audit = audit
        self._owner_of = owner_of
        self._landlord = landlord or landlord_agency()
        self._coalesce_s = COALESCE_S if coalesce_s is None else coalesce_s
        self._clock = clock
        self._recent: OrderedDict[tuple[str, ...], float] = OrderedDict()
        self._recent_lock = threading.Lock()

    def rule(self, method: str) -> Rule | None:
        return self._rules.get(method)

    def admit(self, method: str, request: Any, metadata: Sequence[tuple[str, Any]] | None, actor: Actor) -> Access:
        """The admitted call, or PermissionDenied (recorded) / InvalidArgument (bad purpose)."""
        role = role_of(actor, self._landlord)
        purpose = _purpose(metadata)
        case_id = case_named_by(request)
        rule = self._rules.get(method)
        scope = rule.scope_for(role) if rule is not None else None
        if rule is None:
            self.deny(method, actor, role, purpose, case_id, "no access rule for this method: refused")
        if role is None:
            self.deny(method, actor, role, purpose, case_id, f"role {actor.role!r} is not a known landlord staff role")
        if scope is None:
            self.deny(method, actor, role, purpose, case_id, f"the {role} role may not call {_short(method)}")
        assert role is not None and scope is not None
        if purpose is None:
            if role in PURPOSE_REQUIRED:
                raise InvalidArgument.one(PURPOSE_KEY, f"a {role} caller must state the purpose of the call")
            purpose = DEFAULT_PURPOSE
        access = Access(actor=actor, role=role, scope=scope, purpose=purpose, owner_of=self._owner_of)
        if case_id:
            access.note_case(case_id)
            if scope is Scope.OWN_PATCH and self._owner_of is not None and self._owner_of(case_id) is None:
                # Not known here (yet), or no such case: what anyone is told, not a denial.
                raise NotFound("case", case_id)
            if not access.may_see_case(case_id):
                self.deny(method, actor, role, purpose, case_id, "the case is not on the caller's patch")
        return access

    def deny(self, method: str, actor: Actor, role: Role | None, purpose: str | None, case_id: str, reason: str) -> None:
        metrics.ACCESS_DENIALS.labels(self.service, _short(method), role.value if role else "UNKNOWN").inc()
        self._record(method, actor, role, purpose or "", case_id, DENIED, reason)
        raise PermissionDenied(reason)

    def denied_by_application(self, method: str, access: Access, reason: str) -> None:
        """The application refused (e.g. another agency's referral): count and record it."""
        metrics.ACCESS_DENIALS.labels(self.service, _short(method), access.role.value).inc()
        for case_id in access.cases or [""]:
            self._record(method, access.actor, access.role, access.purpose, case_id, DENIED, reason)

    def allowed(self, method: str, access: Access) -> None:
        rule = self._rules.get(method)
        if rule is None or not rule.reads:
            return
        for case_id in access.cases or [""]:
            if self._seen_recently(method, access, case_id):
                continue
            self._record(method, access.actor, access.role, access.purpose, case_id, ALLOWED, "")

    def _seen_recently(self, method: str, access: Access, case_id: str) -> bool:
        if self._coalesce_s <= 0:
            return False
        actor = access.actor
        key = (method, actor.agency, actor.role, actor.user, access.purpose, case_id)
        now = self._clock()
        with self._recent_lock:
            last = self._recent.get(key)
            if last is not None and now - last < self._coalesce_s:
                return True
            self._recent[key] = now
            self._recent.move_to_end(key)
            while len(self._recent) > _REMEMBERED:
                self._recent.popitem(last=False)
        return False

    def _record(
        self, method: str, actor: Actor, role: Role | None, purpose: str, case_id: str, outcome: str, reason: str
    ) -> None:
        if self._audit is None:
            return
        self._audit.record(
            case_id=case_id, service=self.service, rpc=method, agency=actor.agency, role=actor.role,
            user=actor.user, access_role=role.value if role else "UNKNOWN", purpose=purpose[:PURPOSE_MAX],
            outcome=outcome, reason=reason,
        )


def _short(method: str) -> str:
    return method.rsplit("/", 1)[-1]


def _purpose(metadata: Sequence[tuple[str, Any]] | None) -> str | None:
    value = next((str(v) for k, v in (metadata or ()) if k == PURPOSE_KEY), "").strip()
    if not value:
        return None
    if len(value) > PURPOSE_MAX:
        raise InvalidArgument.one(PURPOSE_KEY, f"at most {PURPOSE_MAX} characters")
    return value


def case_named_by(request: Any) -> str:
    """The case a request names (a top-level `case_id` field), or ""."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or "case_id" not in descriptor.fields_by_name:
        return ""
    return str(getattr(request, "case_id", "") or "")

