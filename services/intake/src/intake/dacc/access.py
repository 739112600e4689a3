"""Who may use the DACC feed: the police send incidents; the landlord's ASB advisor prepares
for the call and records its outcome (seed 000). Identity comes from the gRPC edge (ADR 0008)."""

from __future__ import annotations

import re

from caseplatform.access import is_police
from caseplatform.errors import PermissionDenied
from caseplatform.identity import Actor

ASB_ADVISOR = "ASB_ADVISOR"


def is_asb_advisor(actor: Actor) -> bool:
    return not is_police(actor) and re.sub(r"[^A-Z0-9]+", "_", actor.role.upper()).strip("_") == ASB_ADVISOR


def require_police(actor: Actor) -> None:
    if not is_police(actor):
        raise PermissionDenied("only a police agency sends DACC incidents")


def require_asb_advisor(actor: Actor) -> None:
    if not is_asb_advisor(actor):
        raise PermissionDenied("the DACC briefing and outcomes are for the landlord's ASB advisor (x-role ASB_ADVISOR)")


def require_landlord(actor: Actor) -> None:
    if is_police(actor):
        raise PermissionDenied("tenancy records are kept by the landlord's staff")
