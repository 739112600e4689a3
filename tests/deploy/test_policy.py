"""Policy scan (checkov) of the rendered chart and the Dockerfile, and what can be checked of the
image without a Docker engine: multi-stage, pinned base, non-root user."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from caseplatform import topology

from .conftest import ROOT, Render, run_tool

DOCKERFILE = ROOT / "Dockerfile"


def findings(report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    results = report.get("results", {})
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results.get("failed_checks", [])]
    return failed, results.get("skipped_checks", [])


def assert_clean(report: dict[str, Any]) -> None:
    failed, skipped = findings(report)
    assert not failed, "checkov findings:\n" + "\n".join(failed)
    unexplained = [
        s["check_id"] for s in skipped
        if not (s.get("check_result", {}).get("suppress_comment") or s.get("suppress_comment") or "").strip()
    ]
    assert not unexplained, f"skipped without a reason: {unexplained}"


@pytest.mark.parametrize("values", [{}, {"image": {"digests": {s: "sha256:" + "cd" * 32 for s in topology.SERVICES}}}],
                         ids=["defaults", "pinned-digests"])
def test_rendered_chart_has_no_unexplained_policy_findings(values: dict[str, Any], render: Render, tmp_path: Path) -> None:
    for i, item in enumerate(render(values)):
        (tmp_path / f"{i:03d}.yaml").write_text(json.dumps(item["doc"]))  # JSON is YAML
    report = run_tool("checkov", "kubernetes", str(tmp_path))
    assert_clean(report)
    _, skipped = findings(report)
    if values:  # with digests the one explained skip (CKV_K8S_43) is not needed at all
        assert not skipped


def test_dockerfile_has_no_unexplained_policy_findings() -> None:
    assert_clean(run_tool("checkov", "dockerfile", str(DOCKERFILE)))


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_image_is_multi_stage_non_root_on_a_pinned_base() -> None:
    steps = instructions()
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert len(bases) >= 2, "multi-stage: build tools stay out of the runtime image"
    for base in bases:
        assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    runtime = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM"):]
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "the runtime stage must end non-root"
    assert not [a for op, a in steps if op == "ADD"], "COPY only: nothing fetched at build time"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "var", "libs/contracts/src"} <= set(ignored), "no local state in the build context"


def docker_engine() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False).returncode == 0


@pytest.mark.skipif(not docker_engine(), reason="no Docker engine on this machine: the image is not built here")
def test_image_builds_and_runs_as_non_root() -> None:
    tag = "casework-intake:test"
    subprocess.run(["docker", "build", "--build-arg", "SERVICE=intake", "-t", tag, str(ROOT)], check=True, timeout=1200)
    out = subprocess.run(["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "10001"
