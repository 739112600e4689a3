"""Timelines, exports and the partnership dataset on the real stack, driven through `casectl`
as operations and reviewers would use it (a real process, real gRPC)."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, timedelta
from pathlib import Path

import pytest

from caseplatform.devstack.stack import DevStack
from caseplatform.testing import needs
from casework.intake.v1 import intake_pb2
from casework.reporting.v1 import reporting_pb2
from reporting.exports.pdf import chromium_command, chromium_path

from .client import STAFF, Client, casectl, disclosure, eventually, settled, timestamp

pytestmark = pytest.mark.system
SAFE_PHONE = "07700 900461"
POSTCODE = "NP4 6YB"


@pytest.fixture(scope="module")
def case(client: Client) -> dict:
    """A disclosure with safe-contact details and an address, contact made, then corrected."""
    request = disclosure(children=1)
    request.safe_contact.CopyFrom(intake_pb2.SafeContact(safe_phone=SAFE_PHONE, safe_times="after 6pm"))
    case_id = client.submit(request).case_id
    first = eventually(lambda: _entries(client, case_id, 5), timeout=60)
    client.intake.RecordSafeContact(intake_pb2.RecordSafeContactRequest(
        idempotency_key=str(uuid.uuid4()), case_id=case_id, outcome=intake_pb2.MADE,
        at=timestamp(request.received_at.ToDatetime(tzinfo=UTC) + timedelta(minutes=1))), metadata=STAFF, timeout=10)
    client.intake.CorrectDetails(intake_pb2.CorrectDetailsRequest(
        idempotency_key=str(uuid.uuid4()), case_id=case_id, reason="typo in the tenancy reference",
        victim=intake_pb2.Victim(tenant_ref=request.victim.tenant_ref + "X", name="Synthetic Victim",
                                 address=intake_pb2.Address(line1="1 Example Street", postcode=POSTCODE))),
        metadata=STAFF, timeout=10)
    return {"id": case_id, "first": first, "all": settled_timeline(client, case_id)}


def settled_timeline(client: Client, case_id: str) -> list:
    """The case's timeline once the contact and the correction are on it and nothing more arrives
    (other services keep reacting — referral, the SLA engine — for a moment after)."""
    wanted = {"intake.v1.SafeContactRecorded", "intake.v1.DetailsCorrected"}

    def complete() -> list:
        entries = _entries(client, case_id, 7)
        assert wanted <= {e.event_type for e in entries}
        return entries

    return settled(complete)


def _entries(client: Client, case_id: str, at_least: int, as_at=None) -> list:
    request = reporting_pb2.GetCaseTimelineRequest(case_id=case_id)
    if as_at is not None:
        request.as_at.CopyFrom(as_at)
    entries = list(client.reporting.GetCaseTimeline(request, metadata=STAFF, timeout=10).entries)
    assert len(entries) >= at_least, [e.event_type for e in entries]
    return entries


def test_timeline_as_at_excludes_what_was_recorded_later(client: Client, case: dict) -> None:
    entries = case["all"]
    types = [e.event_type for e in entries]
    assert {"intake.v1.DisclosureReceived", "intake.v1.SafeContactRecorded", "intake.v1.DetailsCorrected"} <= set(types)
    disclosed = entries[types.index("intake.v1.DisclosureReceived")]
    assert [(d.kind, d.mark) for d in disclosed.deadlines][:2] == [("SAFE_CONTACT", reporting_pb2.STARTED),
                                                                    ("CASE_RECORDED", reporting_pb2.STARTED)]
    corrected = entries[types.index("intake.v1.DetailsCorrected")]
    assert corrected.correction
    contact = entries[types.index("intake.v1.SafeContactRecorded")]
    # As at just before safe contact was recorded: the correction and the contact are not yet known.
    before = contact.recorded_at.ToDatetime(tzinfo=UTC) - timedelta(microseconds=1)
    earlier = _entries(client, case["id"], 1, as_at=timestamp(before))
    assert {e.event_id for e in earlier} < {e.event_id for e in entries}
    assert all(e.recorded_at.ToDatetime(tzinfo=UTC) <= before for e in earlier)
    assert "intake.v1.DetailsCorrected" not in [e.event_type for e in earlier]


def test_casectl_exports_verifiable_redacted_reports(stack: DevStack, case: dict, tmp_path: Path) -> None:
    out = tmp_path / "timeline.json"
    exported = casectl(stack, "timeline", "export", case["id"], "--format", "json", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    document = json.loads(out.read_bytes())
    sha = document["content_sha256"]
    assert sha in exported.stderr
    text = out.read_text()
    assert POSTCODE not in text and "NP4" not in text and SAFE_PHONE not in text  # the patch is part of the address
    verified = casectl(stack, "timeline", "verify", str(out))
    assert verified.returncode == 0 and sha in verified.stdout

    document["content"]["entries"][0]["summary"] = "nothing happened"
    out.write_text(json.dumps(document))
    altered = casectl(stack, "timeline", "verify", str(out))
    assert altered.returncode == 1 and "ALTERED" in altered.stderr

    page = tmp_path / "timeline.html"
    assert casectl(stack, "timeline", "export", case["id"], "--format", "html", "-o", str(page)).returncode == 0
    assert casectl(stack, "timeline", "verify", str(page)).returncode == 0
    needs(chromium_path(), "headless Chromium not installed (Debian package 'chromium'): page text and PDF not checked")
    dom = subprocess.run(chromium_command(chromium_path(), tmp_path / "profile", "--dump-dom", page.as_uri()),
                         capture_output=True, text=True, check=True, timeout=120).stdout
    assert sha in dom and "Correction:" in dom and "NP4" not in dom
    pdf = tmp_path / "timeline.pdf"
    printed = casectl(stack, "timeline", "export", case["id"], "--format", "pdf", "-o", str(pdf))
    assert printed.returncode == 0, printed.stderr
    assert pdf.read_bytes().startswith(b"%PDF-") and sha in printed.stderr  # the same content, the same hash


def test_a_regulator_exports_with_a_purpose_that_the_access_log_keeps(stack: DevStack, case: dict, tmp_path: Path) -> None:
    out = tmp_path / "dhr.json"
    export = ("timeline", "export", case["id"], "--format", "json", "-o", str(out))
    refused = casectl(stack, *export, role="REGULATOR", agency="dhr-panel")
    assert refused.returncode == 1 and "x-purpose" in refused.stderr and not out.exists()

    purpose = "DHR 2027-04 chronology"
    given = casectl(stack, "--purpose", purpose, *export, role="REGULATOR", agency="dhr-panel")
    assert given.returncode == 0, given.stderr
    assert SAFE_PHONE not in out.read_text() and POSTCODE not in out.read_text()

    def audited() -> None:
        log = casectl(stack, "--purpose", "audit check", "access-log", case["id"], role="HOUSING_MANAGER")
        assert log.returncode == 0, log.stderr
        assert purpose in log.stdout and "REGULATOR" in log.stdout

    eventually(audited)


def test_casectl_dataset_rebuild_and_sla(stack: DevStack, case: dict, tmp_path: Path) -> None:
    disclosed = next(e for e in case["all"] if e.event_type == "intake.v1.DisclosureReceived").occurred_at.ToDatetime()
    period = ("--from", str(disclosed.date() - timedelta(days=1)), "--to", str(disclosed.date() + timedelta(days=1)))
    csv = casectl(stack, "dataset", *period, "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    assert "disclosures,channel=VICTIM_DIRECT," in csv.stdout
    report = tmp_path / "q1.html"
    assert casectl(stack, "dataset", "--quarter", "2027-Q1", "--format", "html", "-o", str(report)).returncode == 0
    assert report.read_text().count("<svg") == 3
    bad = casectl(stack, "dataset", "--from", "2027-13-01", "--to", "2027-03-31")
    assert bad.returncode == 1 and "from_date" in bad.stderr

    rebuilt = casectl(stack, "projection", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt:" in rebuilt.stdout
    assert [e.event_id for e in _entries(Client(stack), case["id"], 7)] == [e.event_id for e in case["all"]]

    status = casectl(stack, "sla", "status", case["id"])
    # With the SLA engine: its status; without it: a plain message naming the missing RPC.
    assert status.returncode == 0 or "GetSlaStatus" in status.stderr, status.stderr

    # The breach list's filter is nested in the request: options reach it (a flat field=value could not).
    breaches = casectl(stack, "sla", "breaches", "--kind", "SAFE_CONTACT", "--area", "Torfaen North",
                       "--from", str(disclosed.date() - timedelta(days=1)), "--page-size", "5")
    assert breaches.returncode == 0, breaches.stderr
    refused = casectl(stack, "sla", "breaches", "--page-size", "-1")
    assert refused.returncode == 1 and "page_size" in refused.stderr, refused.stderr


def test_casectl_watches_a_timeline_until_what_it_waits_for_is_there(stack: DevStack, case: dict) -> None:
    done = casectl(stack, "timeline", "watch", case["id"], "--until", "intake.v1.DetailsCorrected", "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert "intake.v1.DetailsCorrected" in done.stdout and "complete" in done.stdout
    assert len([line for line in done.stdout.splitlines() if ".v1." in line]) >= len(case["all"])
    refused = casectl(stack, "timeline", "watch", case["id"], "--until", "intake.v1.Nothing")
    assert refused.returncode == 1 and "until_event_types[0]" in refused.stderr
