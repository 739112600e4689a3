"""`WatchCaseTimeline` on the real stack (ADR 0028): a landlord system submits a disclosure and
waits, without polling, until reporting holds the case with its required referral."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from casework.common.v1 import access_pb2
from casework.reporting.v1 import reporting_pb2

from .client import STAFF, Client, disclosure, eventually

pytestmark = pytest.mark.system

COMPLETE = ["intake.v1.DisclosureReceived", "risk.v1.AssessmentRequired", "referral.v1.ReferralRequired"]
MANAGER = (("x-agency", "landlord"), ("x-role", "HOUSING_MANAGER"), ("x-user", "hm-1"), ("x-purpose", "access review"))


@pytest.fixture(scope="module", autouse=True)
def warm(client: Client) -> None:
    """On a stack just started, reporting's consumer can take longer to join its group than a
    watch waits for a case to arrive (ADR 0026): let one case through first."""
    case_id = client.submit(disclosure()).case_id
    eventually(lambda: client.timeline(case_id))


def watch(client: Client, case_id: str, until: list[str], timeout: float = 30) -> list[reporting_pb2.TimelineUpdate]:
    request = reporting_pb2.WatchCaseTimelineRequest(case_id=case_id, until_event_types=until)
    return list(client.reporting.WatchCaseTimeline(request, metadata=STAFF, timeout=timeout))


def test_a_new_case_is_watched_until_complete_each_entry_sent_once(client: Client) -> None:
    case_id = client.submit(disclosure(children=2)).case_id
    started = time.monotonic()
    updates = watch(client, case_id, COMPLETE)  # at once: reporting may not have heard of it yet
    assert time.monotonic() - started < 20
    assert updates[-1].complete and not any(u.complete for u in updates[:-1])
    sent = [e.event_id for u in updates for e in u.entries]
    assert len(sent) == len(set(sent)), "an entry was sent twice"
    assert {e.event_type for u in updates for e in u.entries} >= set(COMPLETE)
    # Everything the watch sent is on the timeline, with the same content.
    stored = {e.event_id: e for e in client.timeline(case_id).entries}
    assert all(stored[e.event_id] == e for u in updates for e in u.entries)


def test_a_watch_of_a_case_already_complete_answers_once_with_all_of_it(client: Client) -> None:
    case_id = client.submit(disclosure(children=1)).case_id
    watch(client, case_id, COMPLETE)
    again = watch(client, case_id, COMPLETE)
    assert len(again) == 1 and again[0].complete
    assert {e.event_type for e in again[0].entries} >= set(COMPLETE)


def test_without_an_end_it_pushes_what_arrives_until_the_deadline(client: Client) -> None:
    case_id = client.submit(disclosure(children=1)).case_id
    request = reporting_pb2.WatchCaseTimelineRequest(case_id=case_id)
    got: list[str] = []
    with pytest.raises(grpc.RpcError) as ended:
        for update in client.reporting.WatchCaseTimeline(request, metadata=STAFF, timeout=4):
            assert not update.complete
            got += [e.event_type for e in update.entries]
    assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "intake.v1.DisclosureReceived" in got


def test_bad_event_types_are_refused_naming_the_field(client: Client) -> None:
    case_id = client.submit(disclosure()).case_id
    with pytest.raises(grpc.RpcError) as refused:
        watch(client, case_id, ["intake.v1.DisclosureReceived", "intake.v1.NoSuchEvent"])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "until_event_types[1]" in refused.value.details()
    with pytest.raises(grpc.RpcError) as malformed:
        watch(client, "not-a-uuid", COMPLETE)
    assert malformed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "case_id" in malformed.value.details()


def test_a_case_nobody_disclosed_is_not_found_after_the_arrival_wait(client: Client) -> None:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as missing:
        watch(client, str(uuid.uuid4()), COMPLETE)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert time.monotonic() - started >= 1.9  # CASEWORK_CASE_ARRIVAL_WAIT_S, as for a call (ADR 0026)


def test_the_watch_is_in_the_read_audit(client: Client) -> None:
    case_id = client.submit(disclosure()).case_id
    watch(client, case_id, COMPLETE[:1])

    def logged() -> None:
        log = client.reporting.GetAccessLog(reporting_pb2.GetAccessLogRequest(case_id=case_id), metadata=MANAGER, timeout=10)
        assert any(e.rpc.endswith("/WatchCaseTimeline") and e.user == "cso-7" and e.outcome == access_pb2.ALLOWED
                   for e in log.entries)

    eventually(logged)
