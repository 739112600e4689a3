"""One figure of the partnership dataset: a measure, broken down by up to two dimensions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    measure: str
    dimension: str = ""
    breakdown: str = ""
    value: float | None = 0.0   # None: not computable (no data) or suppressed
    suppressed: bool = False
