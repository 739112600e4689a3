"""The deployment checks run their tools (Helm SDK, kubernetes-validate, checkov) from a
virtualenv of their own, `.venv-deploy` (`make deploy-tools`), through `chart_tool.py`."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from caseplatform.testing import needs

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "casework"
TOOL = Path(__file__).with_name("chart_tool.py")
TOOLS_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"

Render = Callable[..., list[dict[str, Any]]]


def run_tool(*args: str) -> Any:
    needs(TOOLS_PYTHON.exists(), "deployment tools not installed: run `make deploy-tools` (make test does)")
    out = subprocess.run(
        [str(TOOLS_PYTHON), str(TOOL), *args], check=False, capture_output=True, text=True, timeout=900
    )
    if out.returncode != 0:
        raise AssertionError(f"chart_tool {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def render() -> Render:
    """Render the chart with these values; returns [{"template", "doc"}], cached per values."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def _render(values: dict[str, Any] | None = None, chart: Path = CHART) -> list[dict[str, Any]]:
        key = json.dumps([str(chart), values or {}], sort_keys=True)
        if key not in cache:
            cache[key] = run_tool("render", str(chart), json.dumps(values or {}))
        return cache[key]

    return _render


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d["doc"] for d in docs if d["doc"].get("kind") == kind]
