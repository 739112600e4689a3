"""The dataset as CSV and as the quarterly HTML report for the partnership's operational group,
with SVG charts (pygal): referrals by agency, SLA compliance by month, MARAC volume against the
SafeLives benchmark. Suppressed figures read "<5" and are never charted."""

from __future__ import annotations

import csv
import io
import sys
from itertools import groupby

import pygal
from pygal.style import CleanStyle

# pygal registers a legacy `sys.meta_path` hook (for map plugins, unused here) that has no
# `find_spec`; importers that walk sys.meta_path (pytest's importlib mode) then fail. Drop it.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__name__ != "PluginImportFixer"]

from reporting.dataset.figure import Figure
from reporting.exports.html import environment

SUPPRESSED = "<5"


def to_csv(figures: list[Figure]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["measure", "dimension", "breakdown", "value"])
    for f in figures:
        writer.writerow([f.measure, f.dimension, f.breakdown, _shown(f)])
    return out.getvalue().encode("utf-8")


def to_html(figures: list[Figure], start: str, end: str, area: str) -> bytes:
    sections = [(measure, list(group)) for measure, group in groupby(figures, key=lambda f: f.measure)]
    html = environment().get_template("dataset.html.j2").render(
        start=start, end=end, area=area or "all areas", sections=sections, shown=_shown,
        charts=[_referrals_chart(figures), _sla_chart(figures), _marac_chart(figures)],
    )
    return html.encode("utf-8")


def _shown(f: Figure) -> str:
    if f.suppressed:
        return SUPPRESSED
    if f.value is None:
        return ""
    return f"{f.value:g}"


def _chart(kind, title: str):
    # No JavaScript: the report is printed and archived, and must not fetch anything.
    return kind(title=title, style=CleanStyle, js=[], disable_xml_declaration=True, width=700, height=320,
                explicit_size=True, print_values=True)


def _referrals_chart(figures: list[Figure]) -> str:
    chart = _chart(pygal.HorizontalBar, "Referrals by target agency: sent and engaged")
    agencies = sorted({f.breakdown.split("=", 1)[1] for f in figures if f.measure == "referrals_sent"})
    for stage in ("sent", "engaged"):
        totals = {a: sum(f.value or 0 for f in figures if f.measure == f"referrals_{stage}" and f.breakdown == f"target_agency={a}")
                  for a in agencies}
        chart.add(stage, [totals[a] for a in agencies])
    chart.x_labels = agencies
    return chart.render(is_unicode=True)


def _sla_chart(figures: list[Figure]) -> str:
    chart = _chart(pygal.Bar, "Deadlines met on time, by month (%)")
    months = [f for f in figures if f.measure == "sla_compliance_percent_by_month"]
    chart.x_labels = [f.dimension.split("=", 1)[1] for f in months]
    chart.add("on time", [f.value for f in months])
    chart.range = (0, 100)
    return chart.render(is_unicode=True)


def _marac_chart(figures: list[Figure]) -> str:
    chart = _chart(pygal.Bar, "MARAC cases a year per 10,000 adult women")
    rate = next((f.value for f in figures if f.measure == "marac_volume_per_10k_adult_women_per_year"), None)
    benchmark = next((f.value for f in figures if f.measure == "marac_benchmark_per_10k_adult_women_per_year"), None)
    chart.x_labels = ["this period (annualised)", "SafeLives benchmark"]
    chart.add("cases per 10,000", [rate, benchmark])
    return chart.render(is_unicode=True)
