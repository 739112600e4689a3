"""SLA compliance per clock kind (and per month, for the chart), from the deadline marks on the
timeline: each clock's outcome is on time, late, breached (unmet) or still open."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from reporting.dataset.figure import Figure
from reporting.dataset.scope import Scope, local_date

OUTCOMES = ("on_time", "late", "breached", "open")


def clocks(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = defaultdict(lambda: {"kind": "", "due_at": "", "started_at": "", "outcome": "open"})
    for e in entries:
        for d in e.get("deadlines", []):
            clock = found[d["clock_id"] or f"{e['case_id']}:{d['kind']}"]
            clock["kind"] = d["kind"]
            clock["due_at"] = d.get("due_at") or clock["due_at"]
            mark = d["mark"]
            if mark == "STARTED":
                clock["started_at"] = clock["started_at"] or e["occurred_at"]
            elif mark == "MET" and clock["outcome"] in ("open",):
                clock["outcome"] = "on_time"
            elif mark == "MET_LATE" or (mark == "MET" and clock["outcome"] == "breached"):
                clock["outcome"] = "late"
            elif mark == "BREACHED" and clock["outcome"] == "open":
                clock["outcome"] = "breached"
            elif mark == "WITHDRAWN":
                clock["outcome"] = "withdrawn"
    return found


def sla_figures(entries: list[dict[str, Any]], scope: Scope) -> list[Figure]:
    by_kind: dict[str, Counter] = defaultdict(Counter)
    by_month: dict[str, Counter] = defaultdict(Counter)
    for clock in clocks(entries).values():
        when = clock["due_at"] or clock["started_at"]
        if clock["outcome"] == "withdrawn" or not scope.in_period(when):
            continue
        by_kind[clock["kind"]][clock["outcome"]] += 1
        by_month[local_date(when).strftime("%Y-%m")][clock["outcome"]] += 1
    figures = []
    for kind, counts in sorted(by_kind.items()):
        figures += [Figure("sla_clocks", f"kind={kind}", f"outcome={o}", float(counts[o])) for o in OUTCOMES if counts[o]]
        figures.append(Figure("sla_compliance_percent", f"kind={kind}", value=_percent(counts)))
    figures += [Figure("sla_compliance_percent_by_month", f"month={m}", value=_percent(c)) for m, c in sorted(by_month.items())]
    return figures


def _percent(counts: Counter) -> float | None:
    decided = counts["on_time"] + counts["late"] + counts["breached"]
    return round(100.0 * counts["on_time"] / decided, 1) if decided else None
