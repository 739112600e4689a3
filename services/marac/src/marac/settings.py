"""Marac's own settings, from the environment (prefix `MARAC_`).

Each area's meeting cycle and case-list cut-off come from the shared MARAC areas file
(`caseplatform.marac_areas`, `CASEWORK_MARAC_AREAS_FILE`), the same cycles referral's deadlines use.
Actions owned by `MARAC_LANDLORD_AGENCY` (default "landlord") are the landlord's work.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class MaracSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARAC_", extra="ignore")

    landlord_agency: str = "landlord"
