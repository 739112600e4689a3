"""A case's access log (ADR 0021, ADR 0033): every audited read of its records, oldest first,
recorded once however often the audit event is delivered."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from caseplatform.ids import stable_id
from caseplatform.settings import PlatformSettings
from casework.common.v1 import access_pb2
from reporting.access_log import TABLE
from reporting.application import ReportingApplication
from reporting.domain.access_log import CaseAccessLog

from .helpers import Feed

CASE = str(stable_id("test", "accessed-case"))
AT = datetime(2027, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def app(tmp_path: Path) -> ReportingApplication:
    return ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))


def accessed(user: str, outcome: int = access_pb2.ALLOWED, case_id: str = CASE) -> access_pb2.CaseAccessed:
    return access_pb2.CaseAccessed(
        case_id=case_id, service="reporting", rpc="/casework.reporting.v1.ReportingService/GetCaseTimeline",
        agency="landlord", role="CHO", user=user, access_role="CHO", purpose="casework", outcome=outcome,
        reason="" if outcome == access_pb2.ALLOWED else "not the case's CHO",
    )


def test_each_access_is_logged_once_oldest_first(app: ReportingApplication) -> None:
    feed = Feed(app)
    # Recorded out of order within one second: the log is in time order, not arrival order
    # (as text, "10:00:00.5Z" sorts before "10:00:00Z").
    later = feed.envelope(CASE, accessed("cho-7"), AT + timedelta(seconds=1, milliseconds=500))
    earlier = feed.envelope(CASE, accessed("cho-9", access_pb2.DENIED), AT + timedelta(seconds=1))
    feed.publish_many([later, earlier])
    feed.publish(str(stable_id("test", "another-case")), accessed("cho-7", case_id=str(stable_id("test", "another-case"))), AT)
    assert feed.inbox.apply("common", 0, [later]).processed == 0  # redelivered: already applied

    log = app.access_log(stable_id("test", "accessed-case"))
    assert [(e["user"], e["outcome"]) for e in log] == [("cho-9", "DENIED"), ("cho-7", "ALLOWED")]
    assert log[0]["reason"] == "not the case's CHO" and log[0]["at"] == "2027-03-04T10:00:01Z"
    assert log[1]["event_id"] == later.envelope.event_id and log[1]["at"] == "2027-03-04T10:00:01.500Z"
    assert app.read_model_rows()["access_log_entries"] == 3
    assert app.access_log(stable_id("test", "never-read")) == []


def test_logs_kept_as_aggregates_are_copied_in_once(tmp_path: Path) -> None:
    old = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))
    log = CaseAccessLog(case_id=CASE)
    for second, user in ((5, "hm-1"), (2, "cho-7")):
        log.append({"case_id": CASE, "user": user, "outcome": "ALLOWED", "event_id": f"e-{user}",
                    "at": f"2027-03-04T10:00:0{second}Z"})
    old.save(log)
    old.close()
    with sqlite3.connect(tmp_path / "reporting" / "events.sqlite") as db:  # as a store before ADR 0033 was
        db.execute(f"DROP TABLE {TABLE}")
        db.execute("DELETE FROM read_model_positions WHERE name LIKE ?", [f"{TABLE}%"])

    reopened = ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))
    try:
        assert [e["user"] for e in reopened.access_log(stable_id("test", "accessed-case"))] == ["cho-7", "hm-1"]
        assert reopened.access_logs.copy_logged_entries() == 0  # copied once: nothing new to copy
        assert reopened.read_model_rows()["access_log_entries"] == 2
    finally:
        reopened.close()
