"""Figures, their targets and ratios: one table on stdout, the same as JSON under var/bench/."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Figure:
    section: str
    name: str
    value: float | None
    unit: str
    target: str = ""  # e.g. ">= 500"
    met: bool | None = None  # None: no target, or not measured
    note: str = ""


@dataclass
class Report:
    scale: float
    started: float = field(default_factory=time.time)
    figures: list[Figure] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, name: str, value: float | None, unit: str, *,
            at_least: float | None = None, at_most: float | None = None, note: str = "") -> Figure:
        target, met = "", None
        if at_least is not None:
            target, met = f">= {at_least:g}", (value is not None and value >= at_least)
        elif at_most is not None:
            target, met = f"<= {at_most:g}", (value is not None and value <= at_most)
        figure = Figure(section, name, value, unit, target, met, note)
        self.figures.append(figure)
        return figure

    def skip(self, section: str, reason: str) -> None:
        self.skipped[section] = reason

    def table(self) -> str:
        rows = [("section", "figure", "value", "unit", "target", "met")]
        for f in self.figures:
            met = "" if f.met is None else ("met" if f.met else "NOT MET")
            rows.append((f.section, f.name, _fmt(f.value), f.unit, f.target, met))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        for section, reason in self.skipped.items():
            lines.append(f"{section}: not available: {reason}")
        lines.append(f"scale {self.scale:g}; a shared machine: compare the ratios, not the absolute figures")
        return "\n".join(lines)

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(self.started))
        path = folder / f"bench-{stamp}.json"
        document = {
            "scale": self.scale,
            "started": self.started,
            "machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
            "figures": [asdict(f) for f in self.figures],
            "skipped": self.skipped,
            "details": self.details,
        }
        path.write_text(json.dumps(document, indent=2, default=str))
        (folder / "latest.json").write_text(path.read_text())
        return path


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)
