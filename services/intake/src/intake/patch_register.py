"""Loading the patch register from a CSV file (INTAKE_PATCH_REGISTER, else the bundled sample)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

from intake.domain.patches import PatchRegister

BUNDLED = Path(__file__).parent / "config" / "patch_register.csv"


def load_patch_register(path: Path | None = None) -> PatchRegister:
    source = path or Path(os.environ.get("INTAKE_PATCH_REGISTER", BUNDLED))
    with source.open(newline="", encoding="utf-8") as handle:
        lines = (line for line in handle if line.strip() and not line.startswith("#"))
        rows = [(r["postcode_sector"], r["cho"], r["area"]) for r in csv.DictReader(lines)]
    return PatchRegister(rows)
