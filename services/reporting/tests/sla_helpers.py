"""Test helpers for the SLA engine: real contract events from each service, in envelopes, fed
through reporting's inbox (the production path) into a real SQLite store."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from caseplatform.calendar import LONDON, WorkingDayCalendar
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
from casework.common.v1 import envelope_pb2
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from casework.repairs.v1 import events_pb2 as repairs_events
from casework.repairs.v1 import repairs_pb2
from casework.risk.v1 import events_pb2 as risk_events
from reporting.application import ReportingApplication
from reporting.domain.sla import SlaClock
from reporting.sla_watch import SlaWatch

CHO = Actor("landlord", "CHO", "cho-7")
CALENDAR = WorkingDayCalendar()
# Good Friday 2027, 17:40 in London: 1 working day runs to the end of Tuesday (Easter Monday).
GOOD_FRIDAY_EVENING = datetime(2027, 3, 26, 17, 40, tzinfo=LONDON)


def app_for(tmp_path: Path) -> ReportingApplication:
    return ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))


def watch_for(app: ReportingApplication) -> SlaWatch:
    return SlaWatch(app.sla, app.recorder, startup_hold_s=0)


def deadline(kind: str, due: tuple[date, datetime], clock_id: str = "") -> envelope_pb2.Deadline:
    due_date, due_at = due
    return envelope_pb2.Deadline(kind=kind, due_at=to_timestamp(due_at), due_date=due_date.isoformat(), clock_id=clock_id)


def case_id_for(key: str) -> str:
    return str(stable_id("test-intake", key))


class Feed:
    """Publishes events as a service's relay would (one partition per service, chained ids) and
    applies them through reporting's inbox."""

    def __init__(self, app: ReportingApplication) -> None:
        self.app = app
        self.inbox = Inbox(app, app.policy)
        self.sent: dict[str, int] = defaultdict(int)
        self.history: list[tuple[str, IncomingEvent]] = []

    def event(self, service: str, case_id: str, payload: Message, recorded_at: datetime,
              occurred_at: datetime | None = None) -> IncomingEvent:
        previous = self.sent[service]
        self.sent[service] = previous + 1
        envelope = build_envelope(
            OutgoingEvent(case_id=case_id, payload=payload, occurred_at=occurred_at or recorded_at),
            aggregate_id=case_id,
            aggregate_version=previous + 1,
            recorded_at=recorded_at,
            actor=CHO,
            source=SourcePosition(service, previous + 1, 0, previous),
        )
        event = parse_envelope(envelope.SerializeToString())
        self.history.append((service, event))
        return event

    def send(self, service: str, case_id: str, payload: Message, recorded_at: datetime, **kw: Any) -> None:
        event = self.event(service, case_id, payload, recorded_at, **kw)
        assert self.inbox.apply(service, 0, [event]).processed == 1


def disclosure(case_id: str, received_at: datetime, *, children: int = 0, area: str = "Torfaen North",
               preferred_contact_at: datetime | None = None) -> intake_events.DisclosureReceived:
    safe_contact = CALENDAR.due_after_working_days(received_at, 1)
    if preferred_contact_at is not None:
        safe_contact = (CALENDAR.local_date(preferred_contact_at), preferred_contact_at)
    deadlines = [deadline("SAFE_CONTACT", safe_contact),
                 deadline("CASE_RECORDED", CALENDAR.due_after_working_days(received_at, 1))]
    if children:
        deadlines.append(deadline("CHILDRENS_REFERRAL", CALENDAR.due_same_day(received_at)))
    return intake_events.DisclosureReceived(
        case_id=case_id, channel=intake_pb2.VICTIM_DIRECT, received_at=to_timestamp(received_at),
        postcode_district="NP4", children_ages=[4] * children, deadlines=deadlines, area=area,
    )


def safe_contact(case_id: str, at: datetime, *, met: bool, outcome: int = intake_pb2.MADE) -> Message:
    return intake_events.SafeContactRecorded(case_id=case_id, outcome=outcome, at=to_timestamp(at), deadline_met=met)


def assessment_required(case_id: str, received_at: datetime) -> Message:
    return risk_events.AssessmentRequired(
        case_id=case_id, deadline=deadline("RISK_ASSESSMENT", CALENDAR.due_after_working_days(received_at, 1))
    )


def risk_assessed(case_id: str, received_at: datetime, completed_at: datetime, on_time: bool) -> Message:
    return risk_events.RiskAssessed(
        case_id=case_id, assessment_id="a-1", completed_at=to_timestamp(completed_at),
        satisfies_deadline=True, on_time=on_time,
        deadline=deadline("RISK_ASSESSMENT", CALENDAR.due_after_working_days(received_at, 1)),
    )


def work_order_raised(case_id: str, work_order_id: str, due_at: datetime) -> Message:
    return repairs_events.WorkOrderRaised(
        case_id=case_id, work_order_id=work_order_id, priority=repairs_pb2.EMERGENCY,
        deadline=deadline("REPAIRS_EMERGENCY", (CALENDAR.local_date(due_at), due_at)),
    )


def work_completed(case_id: str, work_order_id: str, due_at: datetime, at: datetime) -> Message:
    return repairs_events.WorkCompleted(
        case_id=case_id, work_order_id=work_order_id, completed_at=to_timestamp(at), on_time=at <= due_at,
        deadline=deadline("REPAIRS_EMERGENCY", (CALENDAR.local_date(due_at), due_at)),
    )


def snapshot(app: ReportingApplication, case_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Every started clock of these cases, as the facts a rebuild must reproduce."""
    out = {}
    for case_id in case_ids:
        area, clocks = app.sla.status(case_id)
        for c in clocks:
            out[c.clock_id] = {
                "kind": c.kind, "service": c.service, "area": area, "due_at": c.due_at, "state": c.state,
                "breached_at": c.breached_at, "met_at": c.met_at, "on_time": c.on_time,
                "withdrawn": c.withdrawn_reason,
            }
    return out


def stored_events(app: ReportingApplication, clock_id: str) -> list[str]:
    return [type(e).__name__ for e in app.repository.event_store.get(SlaClock.create_id(clock_id))]


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)
