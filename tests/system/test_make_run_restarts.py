"""`make run`'s launcher with the six real services, tried as issue #10's fault scenarios would be
on a laptop: intake and the broker killed -9 while it runs come back by themselves, and a case
submitted before, and one submitted after, both reach reporting — the README's own tools only
(`python -m caseplatform.devstack`, `casectl call`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from google.protobuf import json_format

from caseplatform import topology
from caseplatform.devstack.ports import free_ports
from caseplatform.testing import launched_devstack

from .client import disclosure, eventually

pytestmark = pytest.mark.system


@contextmanager
def _launcher(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, dict[str, int]]]:
    names = [f"{s.upper()}_{kind}_PORT" for s in topology.SERVICES for kind in ("GRPC", "METRICS")]
    ports = dict(zip(["BROKER_PORT", *names], free_ports(1 + len(names)), strict=True))
    env = {**os.environ, **{k: str(v) for k, v in ports.items()}, "KCAT_PORT": "0",
           "CASEWORK_DATA_DIR": str(tmp_path / "var")}
    env.pop("CASEWORK_SERVICES", None)
    env.pop("CASEWORK_RESTART", None)
    output = tmp_path / "launcher.out"
    with launched_devstack(env, tmp_path, output) as proc:
        yield proc, output, ports


def _wait_for(output: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while text not in output.read_text():
        assert proc.poll() is None, f"launcher exited ({proc.returncode}):\n{output.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout}s:\n{output.read_text()}"
        time.sleep(0.2)


def _call(data_dir: Path, port: int, method: str, body: dict) -> dict:
    env = {**os.environ, "CASEWORK_DATA_DIR": str(data_dir), "CASECTL_ROLE": "CHO", "CASECTL_AGENCY": "landlord"}
    script = Path(sys.executable).with_name("casectl")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "reporting.cli"]
    done = subprocess.run([*command, "--user", "cho-torfaen-central", "call", method, "--at", f"127.0.0.1:{port}",
                           "-d", json.dumps(body)], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_intake_and_the_broker_killed_under_make_run_come_back_and_nothing_is_lost(tmp_path: Path) -> None:
    data = tmp_path / "var"
    with _launcher(tmp_path) as (proc, output, ports):
        _wait_for(output, "a process that dies is started again", proc)

        def submit() -> str:
            request = json_format.MessageToDict(disclosure(children=1), preserving_proto_field_name=True)
            return _call(data, ports["INTAKE_GRPC_PORT"], "intake.v1.IntakeService/SubmitDisclosure", request)["case_id"]

        before = submit()
        children = json.loads((data / "devstack.pids.json").read_text())["children"]
        os.kill(children["intake"]["pid"], signal.SIGKILL)
        os.kill(children["broker"]["pid"], signal.SIGKILL)  # memory only: it comes back empty
        _wait_for(output, "broker started again (restart 1)", proc)
        _wait_for(output, "intake started again (restart 1)", proc)
        after = submit()

        def on_their_timelines() -> None:
            for case_id in (before, after):
                read = _call(data, ports["REPORTING_GRPC_PORT"], "reporting.v1.ReportingService/GetCaseTimeline",
                             {"case_id": case_id})
                types = {e["event_type"] for e in read["entries"]}
                assert {"intake.v1.DisclosureReceived", "referral.v1.ReferralRequired"} <= types, (case_id, types)

        eventually(on_their_timelines, timeout=120, interval=1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, output.read_text()
