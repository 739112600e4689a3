"""An outside subscriber with nothing of ours but the published .proto files: Debian's kcat
reads intake's topic as the relay wrote it, and protoc decodes the value.

Debian bookworm's kcat (librdkafka 2.0.2) cannot read Tansu's ApiVersions v3 reply, so it
connects through the ApiVersions shim (see caseplatform.devstack.apiversions_shim), set up as
`make run` sets it up: beside a broker that advertises its own address to everyone else."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from caseplatform.devstack.apiversions_shim import serve
from caseplatform.devstack.broker import TansuBroker
from caseplatform.devstack.ports import free_ports
from caseplatform.identity import Actor
from caseplatform.relay import Relay
from caseplatform.settings import PlatformSettings
from caseplatform.validation import parse_command, proto_to_dict
from casework.common.v1.envelope_pb2 import EventEnvelope
from intake.application import IntakeApplication
from intake.commands import SubmitDisclosure
from intake.translation import to_contract

from .client import disclosure

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.system,
    pytest.mark.kcat,
    pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed (make system-deps)"),
]


async def test_kcat_reads_a_disclosure_that_protoc_decodes(tmp_path: Path) -> None:
    broker_port, shim_port = free_ports(2)
    shim = await serve(shim_port, broker_port)
    broker = TansuBroker(broker_port, tmp_path / "broker.log")
    broker.start()
    await asyncio.to_thread(broker.wait_ready)
    app = IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))
    request = disclosure(children=1, received_at=datetime.now(UTC) - timedelta(hours=1))
    case = app.submit_disclosure(parse_command(SubmitDisclosure, proto_to_dict(request)), Actor("landlord", "CHO", "u"))
    relay = Relay(app, to_contract, bootstrap=broker.bootstrap, partitions=3)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.caught_up.wait(), 30)
        kcat = await asyncio.create_subprocess_exec(
            "kcat", "-C", "-b", f"127.0.0.1:{shim_port}", "-t", "intake.events.v1", "-o", "beginning", "-e",
            "-c", "1", "-q", "-f", "%k\\n%S\\n%s", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        raw, errors = await asyncio.wait_for(kcat.communicate(), 30)
        assert kcat.returncode == 0, errors.decode()
        listing = await asyncio.create_subprocess_exec(
            "kcat", "-L", "-b", f"127.0.0.1:{shim_port}", "-t", "intake.events.v1", "-m", "10",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        metadata, errors = await asyncio.wait_for(listing.communicate(), 30)
        assert listing.returncode == 0, errors.decode()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        shim.close()
        broker.stop()

    # kcat was sent back to the shim, not to the broker it could not have read.
    assert f"127.0.0.1:{shim_port}" in metadata.decode() and f":{broker_port}" not in metadata.decode()
    key, size, rest = raw.split(b"\n", 2)
    assert key == case.case.case_id.encode()  # the Kafka key is the case id, nothing personal
    value = rest[: int(size)]
    protos = [str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto").rglob("*.proto")]

    def protoc_decode(message_type: str, data: bytes) -> str:
        return subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--decode={message_type}", *protos],
            cwd=ROOT, input=data, capture_output=True, timeout=30, check=True,
        ).stdout.decode()

    envelope_text = protoc_decode("common.v1.EventEnvelope", value)
    assert 'event_type: "intake.v1.DisclosureReceived"' in envelope_text
    assert f'case_id: "{case.case.case_id}"' in envelope_text
    assert 'type_url: "type.googleapis.com/intake.v1.DisclosureReceived"' in envelope_text
    assert 'role: "CHO"' in envelope_text
    payload_bytes = EventEnvelope.FromString(value).payload.value
    payload_text = protoc_decode("intake.v1.DisclosureReceived", payload_bytes)
    assert "children_ages: 3" in payload_text
    assert 'postcode_district: "NP4"' in payload_text
    for text in (envelope_text, payload_text):
        assert "Synthetic Victim" not in text  # the victim's name and address never go on Kafka
        assert "1 Example Street" not in text
