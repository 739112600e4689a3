"""Repairs' own settings, from the environment (prefix `REPAIRS_`).

Deadlines are configuration (DOMAIN.md: work is priority): EMERGENCY and SECURITY work within
`REPAIRS_EMERGENCY_HOURS` / `REPAIRS_SECURITY_HOURS` (default 24) of raising the order; ROUTINE
within `REPAIRS_ROUTINE_WORKING_DAYS` (default 5) working days. Evidence goes to
`REPAIRS_BLOB_DIR` (default `$CASEWORK_DATA_DIR/repairs/blobs`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RepairsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPAIRS_", extra="ignore")

    emergency_hours: int = Field(default=24, ge=1, le=24 * 30)
    security_hours: int = Field(default=24, ge=1, le=24 * 30)
    routine_working_days: int = Field(default=5, ge=1, le=60)
    blob_dir: Path | None = None
    max_evidence_bytes: int = Field(default=3 * 1024 * 1024, ge=1)
