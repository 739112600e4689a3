"""Intake's inputs to the referral pathways (issue #4): recorded on the case, published as codes and
flags only — safe times and the people the victim names never leave intake (ADR 0013)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from caseplatform.calendar import LONDON
from caseplatform.identity import Actor
from caseplatform.settings import PlatformSettings
from caseplatform.testing import controlled_clock
from caseplatform.validation import parse_command
from casework.intake.v1 import events_pb2, intake_pb2
from intake import commands
from intake.application import IntakeApplication
from intake.translation import to_contract

CHO = Actor("landlord", "CHO", "cho-7")
MONDAY = datetime(2027, 4, 5, 9, 0, tzinfo=LONDON)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[IntakeApplication]:
    with controlled_clock(MONDAY):
        yield IntakeApplication(PlatformSettings(casework_data_dir=tmp_path))


@pytest.fixture
def case_id(app: IntakeApplication) -> str:
    command = parse_command(commands.SubmitDisclosure, {
        "idempotency_key": "k-1", "received_at": MONDAY.isoformat(), "channel": "VICTIM_DIRECT",
        "victim": {"tenant_ref": "T-1", "name": "Synthetic Person", "address": {"line1": "1 Test St", "postcode": "NP4 6YB"}},
    })
    return app.submit_disclosure(command, CHO).case.case_id


def last_published(app: IntakeApplication, case_id: str) -> Any:
    *_, last = app.events.get(UUID(case_id))
    return to_contract(last).payload


def test_marac_form_details_publish_flags_not_safe_times_or_names(app, case_id):
    command = parse_command(commands.RecordMaracReferralDetails, {
        "idempotency_key": "form-1", "case_id": case_id, "safe_to_call": True, "safe_times": "weekdays 10-12",
        "diversity": {"gender": "FEMALE", "age_band": "25_34", "disability": True},
        "perpetrator_relationship": "EX_PARTNER", "victim_aware": True,
        "who_victim_fears": "Synthetic Ex-Partner", "safe_to_talk_to": "Synthetic Sister",
    })
    case, applied = app.record_marac_referral_details(command, CHO)
    assert applied and app.sealer.open(case.details["marac_form"]["safe_times"]) == "weekdays 10-12"
    payload = last_published(app, case_id)
    assert isinstance(payload, events_pb2.MaracReferralDetailsRecorded)
    assert (payload.safe_to_call, payload.safe_times_recorded, payload.who_victim_fears_recorded) == (True, True, True)
    assert (payload.diversity.gender, payload.perpetrator_relationship) == ("FEMALE", "EX_PARTNER")
    text = payload.SerializeToString()
    assert b"weekdays" not in text and b"Synthetic" not in text
    assert app.record_marac_referral_details(command, CHO)[1] is False  # the same key again


def test_rehousing_perpetrator_and_safeguarding_inputs_are_published_as_codes(app, case_id):
    app.record_rehousing_request(parse_command(commands.RecordRehousingRequest, {
        "idempotency_key": "r-1", "case_id": case_id, "route": "MANAGEMENT_TRANSFER", "reason": "fled home"}), CHO)
    assert last_published(app, case_id).route == intake_pb2.MANAGEMENT_TRANSFER
    app.record_perpetrator_willingness(parse_command(commands.RecordPerpetratorWillingness, {
        "idempotency_key": "p-1", "case_id": case_id, "willing": True}), CHO)
    assert last_published(app, case_id).willing
    app.record_safeguarding_concern(parse_command(commands.RecordSafeguardingConcern, {
        "idempotency_key": "s-1", "case_id": case_id, "kind": "CHILD_AT_RISK", "details": "Synthetic detail"}), CHO)
    payload = last_published(app, case_id)
    assert payload.kind == intake_pb2.CHILD_AT_RISK and b"Synthetic" not in payload.SerializeToString()
