"""Ownership by patch: the CHO who owns a case is found from the victim's address.

A register maps postcode sectors ("NP4 6") or whole districts ("NP44") to a CHO and an area;
the most specific entry wins. Pure: the register's rows are given, not read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

UNASSIGNED = "UNASSIGNED"


@dataclass(frozen=True)
class Patch:
    cho: str
    area: str


def postcode_district(postcode: str) -> str:
    """The outward code ('NP4 6YB' → 'NP4')."""
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 3 else compact


def victim_district(victim: dict) -> str:
    """The district of a stored victim's address: kept in clear beside the sealed postcode (ADR
    0022); events recorded before sealing held the postcode itself."""
    address = victim.get("address") or {}
    return address.get("district") or postcode_district(address.get("postcode", ""))


def postcode_sector(postcode: str) -> str:
    """Outward code and the first digit of the inward code ('NP4 6YB' → 'NP4 6')."""
    compact = postcode.replace(" ", "").upper()
    return f"{compact[:-3]} {compact[-3]}" if len(compact) > 3 else compact


class PatchRegister:
    def __init__(self, rows: Iterable[tuple[str, str, str]]) -> None:
        self._patches = {key.strip().upper(): Patch(cho.strip(), area.strip()) for key, cho, area in rows}

    def owner_of(self, postcode: str) -> Patch:
        """The patch the address is on; an address on no patch is UNASSIGNED (and stands out)."""
        for key in (postcode_sector(postcode), postcode_district(postcode)):
            if key in self._patches:
                return self._patches[key]
        return Patch(UNASSIGNED, UNASSIGNED)
