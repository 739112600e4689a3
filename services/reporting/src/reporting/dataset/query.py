"""GetPartnershipDataset: validate the period, read the entries up to its end, compute."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from caseplatform.calendar import LONDON
from caseplatform.errors import FieldViolation, InvalidArgument
from reporting.dataset.figure import Figure
from reporting.dataset.figures import partnership_dataset
from reporting.dataset.scope import Scope, case_areas
from reporting.domain.deadline_marks import iso
from reporting.timelines.table import TimelineTable


def parse_period(from_date: str, to_date: str) -> tuple[date, date]:
    violations, parsed = [], {}
    for name, value in (("from_date", from_date), ("to_date", to_date)):
        try:
            parsed[name] = date.fromisoformat(value)
        except ValueError:
            violations.append(FieldViolation(name, "must be a date, YYYY-MM-DD"))
    if violations:
        raise InvalidArgument(violations)
    start, end = parsed["from_date"], parsed["to_date"]
    if end < start:
        raise InvalidArgument.one("to_date", "must not be before from_date")
    if (end - start).days > 366:
        raise InvalidArgument.one("to_date", "a period is at most a year")
    return start, end


def dataset(table: TimelineTable, start: date, end: date, area: str, population: dict[str, int]) -> list[Figure]:
    until = datetime.combine(end + timedelta(days=1), time(0), LONDON)
    entries = table.until(iso(until))
    return partnership_dataset(entries, Scope(start, end, area, case_areas(entries)), population)
