"""Each area's MARAC cycle — one source for referral (when a MARAC referral is due) and marac
(when meetings fall and their case lists close).

Each area meets on a regular cycle (fortnightly by default) from an anchor meeting date; the case
list closes `cutoff_working_days` working days before a meeting, at the end of that day (London).
A referral made after a meeting's cut-off goes to the following meeting. The cycles are a TOML
file: `CASEWORK_MARAC_AREAS_FILE`, default the bundled synthetic sample `config/marac_areas.toml`.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from caseplatform.calendar import WorkingDayCalendar


@dataclass(frozen=True)
class MaracSchedule:
    area: str
    anchor_meeting: date
    interval_days: int = 14
    cutoff_working_days: int = 3

    def meetings_from(self, day: date):
        """Meeting dates on or after `day` (an endless, ordered generator)."""
        step = timedelta(days=self.interval_days)
        if day <= self.anchor_meeting:
            meeting = self.anchor_meeting
        else:
            cycles = -(-(day - self.anchor_meeting).days // self.interval_days)
            meeting = self.anchor_meeting + cycles * step
        while True:
            yield meeting
            meeting += step

    def cutoff_for(self, meeting: date, calendar: WorkingDayCalendar) -> date:
        day, remaining = meeting, self.cutoff_working_days
        while remaining:
            day -= timedelta(days=1)
            if calendar.is_working_day(day):
                remaining -= 1
        return day

    def next_listing(self, at: datetime, calendar: WorkingDayCalendar) -> tuple[date, date, datetime]:
        """(meeting date, cut-off date, cut-off instant) of the first meeting whose list is open at `at`."""
        for meeting in self.meetings_from(calendar.local_date(at)):
            cutoff = self.cutoff_for(meeting, calendar)
            closes = calendar.end_of_day(cutoff)
            if at < closes:
                return meeting, cutoff, closes
        raise AssertionError("unreachable: meetings never end")


def area_key(area: str) -> str:
    """"Blaenau Gwent" → "blaenau-gwent": the key areas are configured and published under."""
    return "-".join(area.lower().split())


BUNDLED_AREAS = Path(__file__).parent / "config" / "marac_areas.toml"


class MaracAreas:
    def __init__(self, default: MaracSchedule, areas: dict[str, MaracSchedule]) -> None:
        self.default = default
        self.areas = areas

    def for_area(self, area: str) -> MaracSchedule:
        return self.areas.get(area_key(area), self.default)

    @classmethod
    def configured(cls, env: dict[str, str] | None = None) -> MaracAreas:
        env = os.environ if env is None else env
        return cls.load(Path(env.get("CASEWORK_MARAC_AREAS_FILE") or BUNDLED_AREAS))

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
