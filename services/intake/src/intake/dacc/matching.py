"""Matching a police DACC incident to one of the landlord's tenancies. Pure.

The case is about the victim (the CHO owns it by the victim's home, seed 001), so only the
victim's side is matched: a victim's tenancy reference first, then a victim's home address, then
the incident's own addresses (DACC incidents are mostly at home). A tenancy found only through the
perpetrator is not a match here (ADR 0015): the incident is kept as unmatched for the advisor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from intake.dacc.register import Tenancy, TenancyRegister

TENANT_REF, ADDRESS = "TENANT_REF", "ADDRESS"
VICTIM = "VICTIM"


@dataclass(frozen=True)
class Match:
    tenancy: Tenancy
    matched_on: str
    victim: dict[str, Any]


def victims(parties: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in parties if p.get("role") == VICTIM]


def match_incident(addresses: list[dict[str, Any]], parties: list[dict[str, Any]], register: TenancyRegister) -> Match | None:
    people = victims(parties)
    for victim in people:
        tenancy = register.by_ref(victim.get("tenant_ref", ""))
        if tenancy is not None:
            return Match(tenancy, TENANT_REF, victim)
    for victim in people:
        home = victim.get("home_address") or {}
        tenancy = register.by_address(home.get("line1", ""), home.get("postcode", ""))
        if tenancy is not None:
            return Match(tenancy, ADDRESS, victim)
    for address in addresses:
        tenancy = register.by_address(address.get("line1", ""), address.get("postcode", ""))
        if tenancy is not None and people:
            return Match(tenancy, ADDRESS, people[0])
    return None


def unmatched_reason(parties: list[dict[str, Any]]) -> str:
    if not victims(parties):
        return "no victim among the parties"
    return "no victim tenancy reference or address on the tenancy register"
