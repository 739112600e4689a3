"""Referral's own settings (prefix `REFERRAL_`) and the MARAC meeting cycles per area.

The MARAC cycles per area are shared with marac: `caseplatform.marac_areas`
(`CASEWORK_MARAC_AREAS_FILE`; `REFERRAL_MARAC_AREAS_FILE` still overrides it for referral alone).
`REFERRAL_SUPPORT_WORKING_DAYS` (default 1): the specialist support
referral is made within that many working days of the victim accepting.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from caseplatform.marac_areas import MaracAreas

__all__ = ["MaracAreas", "ReferralSettings"]


class ReferralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    marac_areas_file: Path | None = None  # default: the shared CASEWORK_MARAC_AREAS_FILE
    support_working_days: int = Field(default=1, ge=0, le=20)
