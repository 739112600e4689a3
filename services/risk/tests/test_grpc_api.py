"""risk.v1.RiskService over a real socket: recording DASH assessments, errors by field, not
found, idempotency, history and escalation."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from eventsourcing.persistence import OperationalError
from google.protobuf import timestamp_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from caseplatform.devstack.ports import free_port
from caseplatform.envelope import to_timestamp
from caseplatform.grpc_server import build_server
from caseplatform.settings import PlatformSettings
from caseplatform.testing import TestIdentities, controlled_clock
from caseplatform.testing import field_violations as violations
from casework.risk.v1 import events_pb2, risk_pb2, risk_pb2_grpc
from risk.application import RiskApplication
from risk.entrypoints import grpc_api
from risk.translation import to_contract

from .helpers import GOOD_FRIDAY_EVENING, open_case

IDENTITY = (("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "cho-7"))
NOW = GOOD_FRIDAY_EVENING + timedelta(minutes=45)


class Risk:
    def __init__(self, stub: risk_pb2_grpc.RiskServiceStub, app: RiskApplication, clock: Any, address: str) -> None:
        self.stub, self.app, self.clock, self.address = stub, app, clock, address


@pytest.fixture
async def risk(tmp_path: Path) -> AsyncIterator[Risk]:
    identities = TestIdentities(tmp_path / "issuer")
    with controlled_clock(NOW) as clock:
        app = RiskApplication(PlatformSettings(casework_data_dir=tmp_path))
        port = free_port()
        server, _ = build_server("risk", [grpc_api.register(app)], grpc_api.SERVICE_NAMES, port, identities.verifier)
        await server.start()
        channel = identities.aio_channel(f"127.0.0.1:{port}")
        yield Risk(risk_pb2_grpc.RiskServiceStub(channel), app, clock, f"127.0.0.1:{port}")
        await channel.close()
        await server.stop(grace=None)


def ts(instant: datetime) -> timestamp_pb2.Timestamp:
    return to_timestamp(instant)


def ric(yes: int, total: int = 24) -> list[risk_pb2.DashAnswer]:
    return [
        risk_pb2.DashAnswer(question=q, answer=risk_pb2.YES if q <= yes else risk_pb2.NO) for q in range(1, total + 1)
    ]


def request(case: str, **overrides: Any) -> risk_pb2.RecordDashAssessmentRequest:
    fields: dict[str, Any] = {
        "idempotency_key": "dash-1",
        "case_id": case,
        "answers": ric(5),
        "safe_to_talk": True,
        "assessed_by": "cho-7",
        "source": risk_pb2.LANDLORD,
        "completed_at": ts(GOOD_FRIDAY_EVENING + timedelta(minutes=30)),
    }
    fields.update(overrides)
    return risk_pb2.RecordDashAssessmentRequest(**fields)


async def record(risk: Risk, req: risk_pb2.RecordDashAssessmentRequest) -> risk_pb2.RecordDashAssessmentResponse:
    return await risk.stub.RecordDashAssessment(req, metadata=IDENTITY)


async def history(risk: Risk, case_id: str) -> risk_pb2.GetRiskHistoryResponse:
    return await risk.stub.GetRiskHistory(risk_pb2.GetRiskHistoryRequest(case_id=case_id), metadata=IDENTITY)


def published(app: RiskApplication, kind: type) -> list[Any]:
    out = [to_contract(app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(start=1, limit=1000)]
    return [o.payload for o in out if o is not None and isinstance(o.payload, kind)]


async def test_fourteen_yes_is_high_with_visible_high_risk(risk: Risk) -> None:
    case_id = open_case(risk.app)
    reply = await record(risk, request(case_id, answers=ric(14)))
    assert (reply.grade, list(reply.triggers), reply.yes_count, reply.escalated, reply.created) == (
        risk_pb2.HIGH, [risk_pb2.VISIBLE_HIGH_RISK], 14, False, True,
    )
    assert reply.assessment_id


async def test_judgement_and_escalation_are_reported_as_triggers(risk: Risk) -> None:
    case_id = open_case(risk.app)
    reply = await record(
        risk,
        request(
            case_id, answers=ric(6), police_callouts_12_months=3, professional_judgement_high=True,
            professional_judgement_reason="threats to kill since the last incident",
        ),
    )
    assert reply.grade == risk_pb2.HIGH
    assert list(reply.triggers) == [risk_pb2.PROFESSIONAL_JUDGEMENT, risk_pb2.ESCALATION]


async def test_officer_grading_raises_the_band(risk: Risk) -> None:
    case_id = open_case(risk.app)
    reply = await record(risk, request(case_id, answers=ric(3), officer_grade=risk_pb2.MEDIUM))
    assert (reply.grade, list(reply.triggers)) == (risk_pb2.MEDIUM, [])


async def test_a_police_dash_keeps_its_grade(risk: Risk) -> None:
    case_id = open_case(risk.app)
    reply = await record(
        risk,
        request(
            case_id, checklist=risk_pb2.POLICE_DASH, answers=ric(18, total=27), police_grade=risk_pb2.STANDARD,
            source=risk_pb2.POLICE, safe_to_talk=False, assessed_by="gwent-police/pc-1",
        ),
    )
    assert (reply.grade, list(reply.triggers), reply.yes_count) == (risk_pb2.STANDARD, [], 18)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"answers": ric(5, total=23)}, "answers", "24 answers"),
        ({"answers": [*ric(5, total=23), risk_pb2.DashAnswer(question=25, answer=risk_pb2.NO)]}, "answers[23].question", "between 1 and 24"),
        ({"answers": [*ric(5, total=23), risk_pb2.DashAnswer(question=7, answer=risk_pb2.NO)]}, "answers[23].question", "more than once"),
        ({"answers": [risk_pb2.DashAnswer(question=1), *ric(0)[1:]]}, "answers[0].answer", "is required"),
        ({"answers": [risk_pb2.DashAnswer(answer=risk_pb2.YES), *ric(0)[1:]]}, "answers[0].question", "is required"),
        ({"case_id": ""}, "case_id", "is required"),
        ({"idempotency_key": ""}, "idempotency_key", "is required"),
        ({"checklist": 9}, "checklist", "Input should be"),
        ({"source": risk_pb2.SOURCE_UNSPECIFIED}, "source", "is required"),
        ({"source": 42}, "source", "Input should be"),
        ({"officer_grade": risk_pb2.GRADE_UNSPECIFIED}, "officer_grade", "must be set"),
        ({"professional_judgement_high": True}, "professional_judgement_reason", "is required"),
        ({"completed_at": ts(NOW + timedelta(days=1))}, "completed_at", "in the future"),
        ({"checklist": risk_pb2.POLICE_DASH, "answers": [], "source": risk_pb2.POLICE}, "police_grade", "is required"),
        ({"assessed_by": ""}, "assessed_by", "is required"),
        ({"safe_to_talk": False}, "safe_to_talk", "must be confirmed"),
    ],
)
async def test_malformed_requests_name_the_field_and_store_nothing(risk: Risk, overrides, field, reason) -> None:
    case_id = open_case(risk.app)
    before = risk.app.recorder.max_notification_id()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record(risk, request(case_id, **overrides))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in raised.value.details()
    assert reason in violations(raised.value)[field]
    assert risk.app.recorder.max_notification_id() == before


async def test_an_unknown_case_is_not_found(risk: Risk) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record(risk, request("0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await history(risk, "0b5f6a3e-1111-4e8e-9a1e-2f0f5d3c4b2a")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert risk.app.recorder.max_notification_id() is None


async def test_no_identity_is_unauthenticated(risk: Risk) -> None:
    case_id = open_case(risk.app)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await risk.stub.RecordDashAssessment(request(case_id))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_same_key_twice_is_the_same_assessment_and_no_new_event(risk: Risk) -> None:
    case_id = open_case(risk.app)
    first = await record(risk, request(case_id, answers=ric(14)))
    before = risk.app.recorder.max_notification_id()
    again = await record(risk, request(case_id, answers=ric(14)))
    assert (again.assessment_id, again.grade, list(again.triggers), again.created) == (
        first.assessment_id, first.grade, list(first.triggers), False,
    )
    assert risk.app.recorder.max_notification_id() == before
    assert len((await history(risk, case_id)).assessments) == 1
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await record(risk, request(case_id, answers=ric(2)))  # same key, other answers
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_history_oldest_first_and_escalation_on_a_rise_not_a_fall(risk: Risk) -> None:
    case_id = open_case(risk.app)
    opened = await history(risk, case_id)
    assert opened.assessment_due and list(opened.assessments) == []
    assert opened.current_grade == risk_pb2.GRADE_UNSPECIFIED and not opened.HasField("deadline_outcome")

    replies = []
    for day, (key, yes) in enumerate([("a", 10), ("b", 14), ("c", 1)]):
        risk.clock.set(NOW + timedelta(days=day))
        completed = ts(GOOD_FRIDAY_EVENING + timedelta(days=day, minutes=30))
        replies.append(await record(risk, request(case_id, idempotency_key=key, answers=ric(yes), completed_at=completed)))
    assert [(r.grade, r.escalated) for r in replies] == [
        (risk_pb2.MEDIUM, False), (risk_pb2.HIGH, True), (risk_pb2.STANDARD, False),
    ]

    h = await history(risk, case_id)
    assert [a.assessment_id for a in h.assessments] == [r.assessment_id for r in replies]
    assert [a.grade for a in h.assessments] == [risk_pb2.MEDIUM, risk_pb2.HIGH, risk_pb2.STANDARD]
    assert [a.completed_at.ToDatetime() for a in h.assessments] == sorted(a.completed_at.ToDatetime() for a in h.assessments)
    assert [a.recorded_at.ToDatetime() for a in h.assessments] == [
        (NOW + timedelta(days=d)).astimezone(UTC).replace(tzinfo=None) for d in range(3)
    ]
    second = h.assessments[1]
    assert (list(second.triggers), second.yes_count, second.source, second.assessed_by, second.escalated) == (
        [risk_pb2.VISIBLE_HIGH_RISK], 14, risk_pb2.LANDLORD, "cho-7", True,
    )
    assert h.current_grade == risk_pb2.STANDARD
    rises = published(risk.app, events_pb2.RiskEscalated)
    assert [(r.from_grade, r.to_grade, r.assessment_id) for r in rises] == [
        (risk_pb2.MEDIUM, risk_pb2.HIGH, replies[1].assessment_id)
    ]


async def test_the_first_assessment_meets_the_deadline(risk: Risk) -> None:
    case_id = open_case(risk.app)
    first = await record(risk, request(case_id))
    await record(risk, request(case_id, idempotency_key="dash-2"))
    h = await history(risk, case_id)
    assert not h.assessment_due
    assert h.deadline.kind == "RISK_ASSESSMENT" and h.deadline.due_date == "2027-03-30"
    assert (h.deadline_outcome.assessment_id, h.deadline_outcome.source, h.deadline_outcome.on_time) == (
        first.assessment_id, risk_pb2.LANDLORD, True,
    )
    assert [(a.satisfies_deadline, a.on_time) for a in h.assessments] == [(True, True), (False, False)]
    assessed = published(risk.app, events_pb2.RiskAssessed)
    assert [(e.satisfies_deadline, e.on_time, e.source) for e in assessed] == [
        (True, True, risk_pb2.LANDLORD), (False, False, risk_pb2.LANDLORD),
    ]


async def test_reflection_lists_the_risk_service(risk: Risk) -> None:
    async with grpc.aio.insecure_channel(risk.address) as channel:
        responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")])
        )
        names = [s.name async for r in responses for s in r.list_services_response.service]
    assert "risk.v1.RiskService" in names


@pytest.mark.parametrize("trouble", [OperationalError("connection lost"), sqlite3.OperationalError("disk I/O error")])
async def test_a_store_that_does_not_answer_is_unavailable_to_retry_not_an_internal_error(
    risk: Risk, monkeypatch: pytest.MonkeyPatch, trouble: Exception
) -> None:
    # A failover or a full disk is not the caller's fault: UNAVAILABLE is what gRPC retry policies
    # retry, and a retry with the same idempotency key records it once when the store is back.
    case_id = open_case(risk.app)

    def not_answering(*_: object, **__: object) -> None:
        raise trouble

    with monkeypatch.context() as m:
        m.setattr(risk.app, "save", not_answering)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await record(risk, request(case_id))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "retry, with the same idempotency key" in refused.value.details()
        m.setattr(risk.app.repository, "get", not_answering)
        with pytest.raises(grpc.aio.AioRpcError) as unread:
            await history(risk, case_id)
        assert unread.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (await record(risk, request(case_id))).created  # once the store is back
    assert len((await history(risk, case_id)).assessments) == 1
