"""Risk's own settings, from the environment (prefix `RISK_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from risk.domain.grading import VISIBLE_HIGH_RISK_MIN_YES, Bands


class RiskSettings(BaseSettings):
    """Local DASH bands below the MARAC threshold (DOMAIN.md: keep the bands configurable).

    `RISK_MEDIUM_MIN_YES` (default 10): that many "yes" answers or more, below 14, is MEDIUM;
    fewer is STANDARD. 14 or more is always HIGH (SafeLives' visible high risk), so it is not a
    setting.
    """

    model_config = SettingsConfigDict(env_prefix="RISK_", extra="ignore")

    medium_min_yes: int = Field(default=10, ge=0, le=VISIBLE_HIGH_RISK_MIN_YES)

    def bands(self) -> Bands:
        return Bands(medium_min_yes=self.medium_min_yes)
