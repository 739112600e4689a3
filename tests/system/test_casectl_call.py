"""`casectl call`: the README's first steps — submit a disclosure, read its timeline — with nothing
but the project's own tools, against the running services; and what a caller is told when the
request is wrong."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

from caseplatform.devstack.stack import DevStack

from .client import casectl, disclosure, eventually

pytestmark = pytest.mark.system
CHO = ("--user", "cho-torfaen-central")


def _call(stack: DevStack, method: str, service: str, body: dict | None = None, *, role: str = "CHO",
          extra: tuple[str, ...] = ()):
    args = [*CHO, "call", method, "--at", stack.grpc_address(service), *extra]
    if body is not None:
        args += ["-d", json.dumps(body)]
    return casectl(stack, *args, role=role)


def test_a_disclosure_submitted_and_its_timeline_read_with_casectl_call(stack: DevStack) -> None:
    request = json_format.MessageToDict(disclosure(children=1), preserving_proto_field_name=True)
    submitted = _call(stack, "intake.v1.IntakeService/SubmitDisclosure", "intake", request)
    assert submitted.returncode == 0, submitted.stderr
    answer = json.loads(submitted.stdout)
    assert answer["created"] is True and answer["owner_cho"] == "cho-torfaen-central"
    assert {d["kind"] for d in answer["deadlines"]} >= {"SAFE_CONTACT", "CHILDRENS_REFERRAL"}

    again = json.loads(_call(stack, "intake.v1.IntakeService.SubmitDisclosure", "intake", request).stdout)
    assert (again["case_id"], again.get("created", False)) == (answer["case_id"], False)  # the same key: once

    def on_the_timeline() -> None:
        read = _call(stack, "reporting.v1.ReportingService/GetCaseTimeline", "reporting", {"case_id": answer["case_id"]})
        assert read.returncode == 0, read.stderr
        types = [e["event_type"] for e in json.loads(read.stdout)["entries"]]
        assert "intake.v1.DisclosureReceived" in types

    eventually(on_the_timeline)

    # A streamed answer: one JSON document per message, ending once the entry is there.
    watched = _call(stack, "reporting.v1.ReportingService/WatchCaseTimeline", "reporting",
                    {"case_id": answer["case_id"], "until_event_types": ["intake.v1.DisclosureReceived"]})
    assert watched.returncode == 0, watched.stderr
    assert '"intake.v1.DisclosureReceived"' in watched.stdout

    # An RPC every service offers is sent to the one named.
    stats = _call(stack, "common.v1.OpsService/GetStoreStats", "risk", role="operations")
    assert json.loads(stats.stdout)["service"] == "risk"


def test_casectl_call_says_what_is_wrong_and_changes_nothing(stack: DevStack) -> None:
    missing = _call(stack, "intake.v1.IntakeService/SubmitDisclosure", "intake", {"idempotency_key": "call-bad-1"})
    assert missing.returncode == 1 and not missing.stdout
    assert "INVALID_ARGUMENT" in missing.stderr
    for field in ("received_at", "channel", "victim"):  # each named, with why (google.rpc.BadRequest)
        assert f"  {field}: is required" in missing.stderr

    unparsable = _call(stack, "intake.v1.IntakeService/SubmitDisclosure", "intake", {"channel": "CARRIER_PIGEON"})
    assert unparsable.returncode == 1 and "CARRIER_PIGEON" in unparsable.stderr  # refused before sending

    denied = _call(stack, "intake.v1.IntakeService/SubmitDisclosure", "intake", {}, role="regulator")
    assert denied.returncode == 1 and "PERMISSION_DENIED" in denied.stderr

    unknown = casectl(stack, "call", "intake.v1.IntakeService/SubmitDisclsure")
    assert unknown.returncode == 1 and "has no RPC 'SubmitDisclsure'" in unknown.stderr
    every = casectl(stack, "call", "common.v1.OpsService/GetStoreStats")
    assert every.returncode == 1 and "--service" in every.stderr

    listed = casectl(stack, "call", "--list")
    assert "police.v1.DaccFeed/" in listed.stdout and "(streamed)" in listed.stdout
