"""Lawful erasure on the running stack (ADR 0022): a Housing Manager erases a victim; then no read,
export, rebuilt projection or store — even opened with each store's own key — holds the victim's
name, phone, safe times or address lines, while the case's history and SLA clocks are unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from caseplatform import topology
from caseplatform.calendar import LONDON
from caseplatform.devstack.stack import DevStack
from caseplatform.personal import ERASED
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication, Sql
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import referral_pb2
from casework.reporting.v1 import reporting_pb2

from .client import OPERATIONS, STAFF, Client, disclosure, eventually, settled
from .test_referral import assess, referral_of

pytestmark = pytest.mark.system

HOUSING_MANAGER = (("x-agency", "landlord"), ("x-role", "Housing Manager"), ("x-user", "hm-3"))
NAME = "Erasetest Synthetica"
PHONE = "07700 900733"
LINE1, LINE2 = "7 Erasetest Gardens", "Erasetest Estate"
TIMES, FEARS = "after the erasetest chime", "Erasetest Expartner"
NEEDLES = [NAME, "Erasetest", "erasetest", PHONE, PHONE.replace(" ", ""), LINE1, LINE2, TIMES, FEARS]
RECEIVED = datetime(2027, 3, 26, 17, 20, tzinfo=LONDON)


def _hits(blob: bytes) -> list[str]:
    return [n for n in NEEDLES if n.encode() in blob]


def _export(client: Client, case_id: str, fmt: int) -> bytes:
    return client.reporting.ExportCaseTimeline(
        reporting_pb2.ExportCaseTimelineRequest(case_id=case_id, format=fmt), metadata=STAFF, timeout=60).content


def _sla(client: Client, case_id: str) -> list:
    status = client.reporting.GetSlaStatus(reporting_pb2.GetSlaStatusRequest(case_id=case_id), metadata=STAFF, timeout=10)
    return [c.SerializeToString(deterministic=True) for c in status.clocks]


def _history(entries: list) -> list[tuple[str, str, str]]:
    return [(e.event_id, e.event_type, e.summary) for e in entries if e.event_type != "intake.v1.SubjectErased"]


def _settled(client: Client, case_id: str) -> list:
    """The timeline once the MARAC referral is on it and nothing more arrives for a while."""
    def complete() -> list:
        entries = list(client.timeline(case_id).entries)
        types = {e.event_type for e in entries}
        assert {"referral.v1.ReferralRequired", "intake.v1.MaracReferralDetailsRecorded"} <= types, types
        return entries

    return settled(complete, quiet_s=1.5, timeout=90)


def _stores(stack: DevStack) -> Iterator[ServiceApplication]:
    env = stack.child_env()
    settings = PlatformSettings(
        casework_data_dir=stack.data_dir,
        casework_persistence=env.get("CASEWORK_PERSISTENCE", "sqlite"),
        casework_postgres_dsn=env.get("CASEWORK_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/casework"),
    )
    for service in topology.SERVICES:
        app = ServiceApplication(service, settings)
        try:
            yield app
        finally:  # on PostgreSQL each holds a pool of connections until closed
            app.close()


def _no_rows_to_fill(client: Client) -> None:
    assert "rows:timeline_entries_to_fill" not in client.event_counts("reporting")  # none: not listed


def _store_hits(app: ServiceApplication) -> dict[str, list[str]]:
    """Every stored event opened with the store's own key, and every row of the store's tables."""
    found: dict[str, list[str]] = {}
    mapper = app.mapper
    for n in app.recorder.select_notifications(start=1, limit=1_000_000):
        state = mapper.cipher.decrypt(n.state) if mapper.cipher else n.state
        plain = mapper.compressor.decompress(state) if mapper.compressor else state
        if hits := _hits(plain):
            found[f"{app.service} event {n.id} {n.topic}"] = hits
    sql = Sql(app)
    if sql.is_sqlite:
        tables = [r[0] for r in sql.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    else:
        tables = [r[0] for r in sql.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", (app.service,))]
    for table in tables:
        rows = sql.query(f"SELECT * FROM {sql.table(table)}")
        if hits := _hits(repr(rows).encode()):
            found[f"{app.service} table {table}"] = hits
    return found


def test_erasing_a_victim_removes_them_everywhere_and_keeps_the_history(stack: DevStack, client: Client) -> None:
    request = disclosure(children=2, received_at=RECEIVED)
    request.victim.name = NAME
    request.victim.address.CopyFrom(intake_pb2.Address(line1=LINE1, line2=LINE2, postcode="NP4 6XE"))
    request.safe_contact.CopyFrom(intake_pb2.SafeContact(safe_phone=PHONE, safe_times=TIMES))
    case_id = client.submit(request).case_id
    client.intake.RecordMaracReferralDetails(intake_pb2.RecordMaracReferralDetailsRequest(
        idempotency_key=str(uuid.uuid4()), case_id=case_id, safe_to_call=True, safe_times=TIMES,
        who_victim_fears=FEARS, perpetrator_relationship="EX_PARTNER", victim_aware=True), metadata=STAFF, timeout=10)
    eventually(lambda: client.risk_history(case_id))
    assess(client, case_id, key="dash-high", yes=15, completed_at=RECEIVED + timedelta(minutes=5))
    referral_of(client, case_id, referral_pb2.MARAC)
    before = _settled(client, case_id)

    case = client.intake.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=STAFF, timeout=10)
    assert (case.victim.name, case.victim.address.line1, case.safe_contact.safe_phone) == (NAME, LINE1, PHONE)
    sla_before = _sla(client, case_id)
    assert sla_before  # the case has clocks to keep
    erasures_before = client.event_counts("intake")

    erased = client.intake.EraseSubject(intake_pb2.EraseSubjectRequest(
        idempotency_key=str(uuid.uuid4()), case_id=case_id, subject=intake_pb2.VICTIM,
        reason="UK GDPR Art. 17 request ER-7"), metadata=HOUSING_MANAGER, timeout=10)
    assert erased.erased

    def erasure_reached_reporting() -> list:
        entries = list(client.timeline(case_id).entries)
        assert "intake.v1.SubjectErased" in {e.event_type for e in entries}
        return entries

    after = eventually(erasure_reached_reporting, timeout=60)
    case = client.intake.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=STAFF, timeout=10)
    assert (case.victim.name, case.victim.address.line1, case.safe_contact.safe_phone) == (ERASED, ERASED, ERASED)
    assert (case.postcode_district, case.children_count) == ("NP4", 2)

    reads = {
        "GetCase": case.SerializeToString(),
        "ListReferrals": client.referrals(case_id).SerializeToString(),
        "GetCaseTimeline": client.timeline(case_id).SerializeToString(),
        "export JSON": _export(client, case_id, reporting_pb2.JSON),
        "export HTML": _export(client, case_id, reporting_pb2.HTML),
    }
    assert {name: _hits(blob) for name, blob in reads.items() if _hits(blob)} == {}

    # The case's history (every service's events on it) is what it was, plus the erasure itself;
    # the SLA clocks are untouched; intake stored one event, rewriting none (stores are append-only).
    assert _history(after) == _history(before) and len(after) == len(before) + 1
    assert _sla(client, case_id) == sla_before
    erasures = client.event_counts("intake")["Case.SubjectErased"]
    assert erasures - erasures_before.get("Case.SubjectErased", 0) == 1

    # A projection rebuilt from reporting's store after the erasure holds nothing personal either.
    progress = list(client.reporting.RebuildTimelines(reporting_pb2.RebuildTimelinesRequest(), metadata=OPERATIONS, timeout=120))
    assert progress and progress[-1].done == progress[-1].total
    rebuilt = list(client.timeline(case_id).entries)
    assert _history(rebuilt) == _history(before) and not _hits(client.timeline(case_id).SerializeToString())
    # Its rows' entries are then stored in the background (ADR 0042), and the scan below sees them.
    eventually(lambda: _no_rows_to_fill(client), timeout=60)
    assert list(client.timeline(case_id).entries) == rebuilt

    # No store holds the values in clear, even opened with the store's own key.
    found: dict[str, list[str]] = {}
    for app in _stores(stack):
        found.update(_store_hits(app))
    for path in sorted(p for p in stack.data_dir.rglob("*") if p.is_file()):
        if hits := _hits(path.read_bytes()):
            found[str(path.relative_to(stack.data_dir))] = hits
    assert found == {}, found
