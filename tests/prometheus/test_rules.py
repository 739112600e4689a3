"""The shipped alerting rules and Grafana dashboard, checked with the real tools (ADR 0016):
`promtool check rules`, `promtool test rules` with a unit test per alert, and every metric the
rules and the dashboard use is one the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from caseplatform import metrics as platform_metrics
from reporting import sla_metrics

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "charts/casework/files/alerts.yaml"
DASHBOARD = ROOT / "charts/casework/files/dashboard.json"
ALERT_TESTS = ROOT / "tests/prometheus/alerts_test.yaml"

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus: make system-deps)"
)


@pytest.mark.prometheus
@needs_promtool
def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(["promtool", "check", "rules", str(ALERTS)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run(
        ["promtool", "test", "rules", str(ALERT_TESTS)], check=False, capture_output=True, text=True, cwd=ALERT_TESTS.parent
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    alerts = {r["alert"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"] if "alert" in r}
    fired = {
        t["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for t in test.get("alert_rule_test", [])
        if t.get("exp_alerts")
    }
    assert {"SlaBreached", "SlaClocksNearDue", "ConsumerLagHigh"} <= alerts  # breach, near due, lag
    assert alerts == fired


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = _exported_names()
    rules = [r["expr"] for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    panels = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    variables = [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {name for expr in rules + panels + variables for name in re.findall(r"\bcasework_[a-z_]+", expr)}
    assert used and used <= exported, used - exported


def test_no_metric_is_labelled_by_person_or_case() -> None:
    for metric in (sla_metrics.OPEN_CLOCKS, sla_metrics.BREACHES, sla_metrics.MET, sla_metrics.TIME_TO_MEET):
        labels = set(metric._labelnames)
        assert labels <= {"kind", "service", "area", "state", "outcome"}
        assert not labels & {"case_id", "case", "person", "user", "clock_id"}


def _exported_names() -> set[str]:
    names: set[str] = set()
    for module in (platform_metrics, sla_metrics):
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            for family in value.describe():
                # The series names a scrape holds: a counter's or a histogram's bare name is none
                # of them (a rule on `casework_events_consumed` would never match anything).
                base = family.name
                kind = value._type
                if kind == "counter":
                    names |= {f"{base}_total", f"{base}_created"}
                elif kind == "histogram":
                    names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
                else:
                    names.add(base)
    return names
