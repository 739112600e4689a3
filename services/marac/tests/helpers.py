"""Test helpers: feed marac the events it consumes the way production does (envelopes through the
inbox, on a real SQLite store), and the callers who act at a meeting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from caseplatform.calendar import LONDON
from caseplatform.envelope import (
    IncomingEvent,
    OutgoingEvent,
    SourcePosition,
    build_envelope,
    parse_envelope,
    to_timestamp,
)
from caseplatform.identity import Actor
from caseplatform.ids import stable_id
from caseplatform.inbox import Inbox
from caseplatform.settings import PlatformSettings
from casework.intake.v1 import events_pb2 as intake_events
from casework.referral.v1 import events_pb2 as referral_events
from casework.referral.v1 import referral_pb2
from marac import commands
from marac.application import MaracApplication

CHO = Actor("landlord", "CHO", "cho-7")
CSO = Actor("landlord", "CSO", "cso-2")
POLICE = Actor("gwent-police", "DA-OFFICER", "pc-11")
# Monday 1 March 2027, 09:00 in London.
MONDAY = datetime(2027, 3, 1, 9, 0, tzinfo=LONDON)


def app_for(tmp_path: Path) -> MaracApplication:
    return MaracApplication(PlatformSettings(casework_data_dir=tmp_path))


def case_id_for(key: str) -> str:
    return str(stable_id("test-intake", key))


class Feed:
    """Delivers upstream events to marac's inbox in order, one partition per source service."""

    def __init__(self, app: MaracApplication) -> None:
        self.app = app
        self.inbox = Inbox(app, app.policy)
        self.last: dict[str, int] = {}

    def deliver(self, source: str, case_id: str, payload: Message, at: datetime, redeliver: bool = False) -> IncomingEvent:
        previous = self.last.get(source, 0)
        notification_id = previous if redeliver else previous + 1
        envelope = build_envelope(
            OutgoingEvent(case_id=case_id, payload=payload, occurred_at=at),
            aggregate_id=case_id, aggregate_version=notification_id, recorded_at=at, actor=CHO,
            source=SourcePosition(source, notification_id, 0, notification_id - 1),
        )
        event = parse_envelope(envelope.SerializeToString())
        outcome = self.inbox.apply(source, 0, [event])
        assert outcome.processed + outcome.duplicates == 1 and not outcome.dead_letters, outcome
        self.last[source] = notification_id
        return event

    def disclosure(self, case_id: str, at: datetime = MONDAY) -> None:
        payload = intake_events.DisclosureReceived(case_id=case_id, received_at=to_timestamp(at), postcode_district="NP4")
        self.deliver("intake", case_id, payload, at)

    def marac_referral(
        self, case_id: str, *, subject_ref: str, sent_at: datetime, area: str = "torfaen",
        referral_key: str | None = None, **form: Any,
    ) -> str:
        referral_id = str(stable_id("test-referral", referral_key or f"{case_id}@{sent_at.isoformat()}"))
        fields: dict[str, Any] = {
            "area": area, "subject_ref": subject_ref, "risk_grade": "HIGH", "criteria": ["VISIBLE_HIGH_RISK"],
            "children_count": 2, "referring_agency": "landlord", "victim_aware": True, "consent_given": True,
        }
        fields.update(form)
        payload = referral_events.ReferralSent(
            referral_id=referral_id, case_id=case_id, type=referral_pb2.MARAC, target_agency=f"marac-{area}",
            sent_at=to_timestamp(sent_at), marac=referral_pb2.MaracReferralForm(**fields),
        )
        self.deliver("referral", case_id, payload, sent_at)
        return referral_id


def schedule(app: MaracApplication, area: str, day: str | None, actor: Actor = CHO, **extra: Any):
    data: dict[str, Any] = {"area": area, **extra}
    if day:
        data["meeting_date"] = day
    return app.schedule_meeting(commands.parse(commands.ScheduleMeeting, data), actor)[0]


def attend(app: MaracApplication, meeting: Any, agency: str, status: str, actor: Actor = CHO):
    data = {"meeting_id": str(meeting.id), "agency": agency, "representative": "Rep A", "status": status}
    return app.record_attendance(commands.parse(commands.RecordAttendance, data), actor)


def agree(app: MaracApplication, case_id: str, meeting: Any | None, actor: Actor = CHO, **overrides: Any):
    data: dict[str, Any] = {
        "idempotency_key": "act-1", "case_id": case_id, "owning_agency": "landlord", "kind": "TARGET_HARDENING",
        "description": "offer target hardening", "due_date": "2027-03-22", "source": "MARAC_MEETING",
        "measures": ["EXTRA_LOCKS", "FIREPROOF_LETTERBOX"],
    }
    if meeting is not None:
        data["meeting_id"] = str(meeting.id)
    data.update(overrides)
    return app.agree_action(commands.parse(commands.AgreeAction, data), actor)[0]


def published(app: MaracApplication, types: Sequence[str] = ()) -> list[Any]:
    from marac.translation import to_contract

    out = []
    for notification in app.notification_log.select(1, 1000):
        outgoing = to_contract(app.mapper.to_domain_event(notification))
        if outgoing is not None and (not types or outgoing.payload.DESCRIPTOR.name in types):
            out.append(outgoing)
    return out
