"""Marac's own settings, from the environment (prefix `MARAC_`).

Each area meets every `MARAC_MEETING_INTERVAL_DAYS` (default 14: fortnightly) unless a date is
given; a meeting's case list closes at the end of the working day `MARAC_CUTOFF_WORKING_DAYS`
(default 5) working days before it, so agencies can research the cases (SafeLives practice).
Actions owned by `MARAC_LANDLORD_AGENCY` (default "landlord") are the landlord's work.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MaracSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARAC_", extra="ignore")

    meeting_interval_days: int = Field(default=14, ge=1, le=366)
    cutoff_working_days: int = Field(default=5, ge=0, le=30)
    landlord_agency: str = "landlord"
