"""Who may erase a data subject (ADR 0022): a Housing Manager of the landlord, no one else.

A local check until the kernel's role table covers every RPC; the role claim is normalised
("Housing Manager", "housing-manager" → HOUSING_MANAGER).
"""

from __future__ import annotations

from caseplatform.errors import PermissionDenied
from caseplatform.identity import Actor

LANDLORD = "landlord"
HOUSING_MANAGER = "HOUSING_MANAGER"


def normalised_role(actor: Actor) -> str:
    return "_".join(actor.role.upper().replace("-", " ").replace("_", " ").split())


def require_housing_manager(actor: Actor) -> None:
    if actor.agency.strip().lower() != LANDLORD or normalised_role(actor) != HOUSING_MANAGER:
        raise PermissionDenied("only the landlord's Housing Manager may erase a data subject")
