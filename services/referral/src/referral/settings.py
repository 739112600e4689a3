"""Referral's own settings (prefix `REFERRAL_`) and the MARAC meeting cycles per area.

`REFERRAL_MARAC_AREAS_FILE`: a TOML file of MARAC cycles (anchor meeting, interval, case-list
cut-off in working days before the meeting) per area; default the bundled sample
`config/marac_areas.toml`. `REFERRAL_SUPPORT_WORKING_DAYS` (default 1): the specialist support
referral is made within that many working days of the victim accepting.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from referral.domain.marac_schedule import MaracSchedule, area_key

BUNDLED_AREAS = Path(__file__).parent / "config" / "marac_areas.toml"


class ReferralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REFERRAL_", extra="ignore")

    marac_areas_file: Path = BUNDLED_AREAS
    support_working_days: int = Field(default=1, ge=0, le=20)


class MaracAreas:
    def __init__(self, default: MaracSchedule, areas: dict[str, MaracSchedule]) -> None:
        self.default = default
        self.areas = areas

    def for_area(self, area: str) -> MaracSchedule:
        return self.areas.get(area_key(area), self.default)

    @classmethod
    def load(cls, path: Path) -> MaracAreas:
        data = tomllib.loads(path.read_text(encoding="utf-8"))

        def schedule(area: str, entry: dict) -> MaracSchedule:
            return MaracSchedule(
                area=area,
                anchor_meeting=entry["anchor_meeting"],
                interval_days=int(entry.get("interval_days", 14)),
                cutoff_working_days=int(entry.get("cutoff_working_days", 3)),
            )

        areas = {area_key(k): schedule(area_key(k), v) for k, v in data.get("areas", {}).items()}
        return cls(schedule("default", data["default"]), areas)
