"""The tenancy register: which tenancies the landlord holds (tenant reference, address, whether
it is a joint tenancy). Pure lookups; `load_tenancy_register` reads the CSV (INTAKE_TENANCY_REGISTER,
else the bundled synthetic sample)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from intake.dacc.normalise import address_key, normalise_postcode

BUNDLED = Path(__file__).parent.parent / "config" / "tenancy_register.csv"


@dataclass(frozen=True)
class Tenancy:
    tenant_ref: str
    line1: str
    line2: str
    town: str
    postcode: str
    joint_tenancy: bool

    def address(self) -> dict[str, str]:
        return {"line1": self.line1, "line2": self.line2, "town": self.town, "postcode": self.postcode}


class TenancyRegister:
    def __init__(self, tenancies: Iterable[Tenancy]) -> None:
        self._by_ref: dict[str, Tenancy] = {}
        self._by_address: dict[tuple[str, str], Tenancy] = {}
        for tenancy in tenancies:
            self._by_ref[tenancy.tenant_ref.strip().upper()] = tenancy
            key = address_key(tenancy.line1, tenancy.postcode)
            if key is not None:
                self._by_address[key] = tenancy

    def by_ref(self, tenant_ref: str) -> Tenancy | None:
        return self._by_ref.get((tenant_ref or "").strip().upper())

    def by_address(self, line1: str, postcode: str) -> Tenancy | None:
        key = address_key(line1, postcode)
        return self._by_address.get(key) if key else None


def load_tenancy_register(path: Path | None = None) -> TenancyRegister:
    source = path or Path(os.environ.get("INTAKE_TENANCY_REGISTER", BUNDLED))
    with source.open(newline="", encoding="utf-8") as handle:
        lines = (line for line in handle if line.strip() and not line.startswith("#"))
        rows = list(csv.DictReader(lines))
    return TenancyRegister(
        Tenancy(
            tenant_ref=r["tenant_ref"].strip(), line1=r["line1"].strip(), line2=r.get("line2", "").strip(),
            town=r.get("town", "").strip(), postcode=normalise_postcode(r["postcode"]) or r["postcode"].strip(),
            joint_tenancy=r.get("joint_tenancy", "").strip().lower() in ("yes", "true", "1"),
        )
        for r in rows
    )
