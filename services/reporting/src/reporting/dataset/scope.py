"""What the dataset counts: entries in a period (Europe/London dates) for cases in an area."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from caseplatform.calendar import LONDON


def local_date(iso_utc: str) -> date:
    return datetime.fromisoformat(iso_utc).astimezone(LONDON).date()


def short(event_type: str) -> str:
    return event_type.rsplit(".", 1)[-1]


def case_areas(entries: list[dict[str, Any]]) -> dict[str, str]:
    """Each case's area as last recorded: intake's owner area, a reassignment, a MARAC form."""
    areas: dict[str, str] = {}
    for e in entries:
        details = e.get("details", {})
        area = details.get("area") or details.get("marac", {}).get("area")
        if area:
            areas[e["case_id"]] = str(area)
    return areas


@dataclass
class Scope:
    start: date
    end: date
    area: str = ""
    areas: dict[str, str] = field(default_factory=dict)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def case_in_area(self, case_id: str) -> bool:
        return not self.area or self.areas.get(case_id, "").lower() == self.area.lower()

    def in_period(self, iso_utc: str) -> bool:
        return bool(iso_utc) and self.start <= local_date(iso_utc) <= self.end

    def select(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in entries if self.case_in_area(e["case_id"]) and self.in_period(e["occurred_at"])]
