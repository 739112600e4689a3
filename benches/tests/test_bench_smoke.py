"""`make bench` at a tiny scale, so the harness cannot rot: every section runs (or says why it
cannot) and the report is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.system


def test_quick_bench_runs_every_section_and_writes_its_report(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "benches", "--quick", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=280, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # a crash in a C extension prints every thread's stack
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:], proc.stdout[-1000:])
    assert "ratio e2e / raw broker" in proc.stdout and "ratio rebuild / raw read" in proc.stdout
    report = json.loads((out / "latest.json").read_text())
    sections = {f["section"] for f in report["figures"]} | set(report["skipped"])
    assert {"0 machine", "1 e2e", "1 ceilings", "2 breach lag", "3 timeline", "4 rebuild", "5 memory"} <= sections
    by_name = {f["name"]: f for f in report["figures"]}
    # Nothing lost, whatever the speed.
    assert by_name["incomplete after run"]["value"] == 0
    assert by_name["lost at 50/s"]["value"] == 0
    # The rebuild read every message put on the topics (to their true ends) and kept every row.
    rebuilt = report["details"]["rebuild"]["rebuild"]
    assert rebuilt["raw_read"] == rebuilt["messages"] and 0 < rebuilt["rows"] == rebuilt["rows_in_table"]
    assert all(f["value"] is not None for f in report["figures"] if f["section"] != "5 memory")
    # The machine's speed, taken before and after, so that runs of other days can be compared.
    start, end = by_name["reference loop at start"]["value"], by_name["reference loop at end"]["value"]
    assert start > 0 and end > 0 and by_name["ratio end / start"]["value"] == pytest.approx(end / start)


def test_the_rebuild_section_runs_on_its_own(tmp_path: Path) -> None:
    """`--only 4` loads the stack itself: the rebuild replicates what a run published, and there
    is no run of section 1 to have published it."""
    out = tmp_path / "bench"
    proc = subprocess.run(
        [sys.executable, "-m", "benches", "--quick", "--only", "4", "--out", str(out)],
        check=False, capture_output=True, text=True, timeout=280, cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:], proc.stdout[-1000:])
    report = json.loads((out / "latest.json").read_text())
    assert not report["skipped"], report["skipped"]
    assert {f["section"] for f in report["figures"]} == {"0 machine", "4 rebuild", "5 memory"}
    rebuilt = report["details"]["rebuild"]["rebuild"]
    assert rebuilt["raw_read"] == rebuilt["messages"] and 0 < rebuilt["rows"] == rebuilt["rows_in_table"]
    assert rebuilt["entries_filled"] == rebuilt["rows"]  # then every staged row's entry stored (ADR 0042)
    assert report["details"]["base_load_for_rebuild"]["incomplete"] == 0
