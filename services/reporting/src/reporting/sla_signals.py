"""What an event means for SLA clocks: which it starts, meets or withdraws (ADR 0016).

The general rule reads the contract: any `common.v1.Deadline` in the payload (fields `deadline`,
`deadlines`, at any depth) starts a clock, `common.v1.DeadlineMet` (in `deadlines_met`) meets one,
`common.v1.DeadlineWithdrawn` withdraws one. Events published before `DeadlineMet` existed meet
their deadlines in their own words; the explicit rules below say how.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from google.protobuf.message import Message

from caseplatform.envelope import IncomingEvent, from_timestamp
from casework.intake.v1 import intake_pb2
from reporting.domain.sla import Start, Stop, clock_identity

DEADLINE = "common.v1.Deadline"
DEADLINE_MET = "common.v1.DeadlineMet"
DEADLINE_WITHDRAWN = "common.v1.DeadlineWithdrawn"

SAFE_CONTACT, CASE_RECORDED, RISK_ASSESSMENT = "SAFE_CONTACT", "CASE_RECORDED", "RISK_ASSESSMENT"


@dataclass
class Signals:
    starts: list[Start] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)
    area: str = ""


def signals(event: IncomingEvent) -> Signals:
    out = Signals()
    payload = event.payload
    if payload is None or event.source_service == "reporting":
        return out  # our own SlaBreached/SlaMet are outcomes, not clocks
    for message in _walk(payload):
        name = message.DESCRIPTOR.full_name
        if name == DEADLINE:
            out.starts.append(_start(event, message))
        elif name == DEADLINE_MET:
            out.stops.append(_met(event, message))
        elif name == DEADLINE_WITHDRAWN:
            out.stops.append(_withdrawn(event, message))
    rule = LEGACY_RULES.get(event.event_type)
    if rule is not None:
        rule(event, payload, out)
    return out


# ----- the general rule --------------------------------------------------------------------------


def _walk(message: Message) -> Iterator[Message]:
    """Every message nested in `message` that is set (singular) or present (repeated)."""
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        items = value if descriptor.is_repeated else [value]
        for item in items:
            if not isinstance(item, Message):
                continue  # map fields
            yield item
            yield from _walk(item)


def _start(event: IncomingEvent, d: Message, clock_id: str = "") -> Start:
    return Start(
        clock_id=clock_identity(event.case_id, d.kind, clock_id or d.clock_id),
        case_id=event.case_id,
        kind=d.kind,
        service=event.source_service,
        started_at=event.occurred_at,
        due_at=from_timestamp(d.due_at),
        due_date=d.due_date,
    )


def _met(event: IncomingEvent, m: Message) -> Stop:
    return Stop(
        clock_id=clock_identity(event.case_id, m.kind, m.clock_id),
        case_id=event.case_id,
        kind=m.kind,
        service=event.source_service,
        recorded_at=event.recorded_at,
        met_at=from_timestamp(m.met_at) if m.HasField("met_at") else event.occurred_at,
        on_time=m.on_time,
    )


def _withdrawn(event: IncomingEvent, w: Message) -> Stop:
    return Stop(
        clock_id=clock_identity(event.case_id, w.kind, w.clock_id),
        case_id=event.case_id,
        kind=w.kind,
        service=event.source_service,
        recorded_at=event.recorded_at,
        met=False,
        reason_code=w.reason_code,
    )


def _stop(event: IncomingEvent, kind: str, *, clock_id: str = "", **how: object) -> Stop:
    return Stop(
        clock_id=clock_identity(event.case_id, kind, clock_id),
        case_id=event.case_id,
        kind=kind,
        service=event.source_service,
        recorded_at=event.recorded_at,
        **how,  # type: ignore[arg-type]
    )


# ----- events that predate DeadlineMet -----------------------------------------------------------


def _disclosure_received(event: IncomingEvent, p: Message, out: Signals) -> None:
    # The case is recorded by the very event that records the disclosure: CASE_RECORDED is met when
    # intake stored it (recorded-at), on time if that was by the due instant (1 working day of receipt).
    out.area = p.area
    for d in p.deadlines:
        if d.kind == CASE_RECORDED:
            out.stops.append(
                _stop(event, CASE_RECORDED, met_at=event.recorded_at,
                      on_time=event.recorded_at <= from_timestamp(d.due_at))
            )


def _owner_reassigned(event: IncomingEvent, p: Message, out: Signals) -> None:
    out.area = p.area


def _safe_contact_recorded(event: IncomingEvent, p: Message, out: Signals) -> None:
    if p.outcome == intake_pb2.MADE:  # an attempt, or "not safe now", does not stop the clock
        out.stops.append(_stop(event, SAFE_CONTACT, met_at=from_timestamp(p.at), on_time=p.deadline_met))


def _case_closed(event: IncomingEvent, p: Message, out: Signals) -> None:
    # Intake stops owing safe contact on a closed case (it no longer counts it overdue).
    out.stops.append(_stop(event, SAFE_CONTACT, met=False, reason_code="CASE_CLOSED"))


def _risk_assessed(event: IncomingEvent, p: Message, out: Signals) -> None:
    out.starts.clear()  # its `deadline` is the one it met, not a new clock
    if p.satisfies_deadline:
        out.stops.append(
            _stop(event, RISK_ASSESSMENT, met_at=from_timestamp(p.completed_at), on_time=p.on_time)
        )


def _work_order_clock(work_order_id: str) -> str:
    return f"work-order:{work_order_id}"


def _work_order_raised(event: IncomingEvent, p: Message, out: Signals) -> None:
    # One clock per work order (REPAIRS_<PRIORITY>), whether or not repairs sets clock_id.
    out.starts[:] = [_start(event, p.deadline, p.deadline.clock_id or _work_order_clock(p.work_order_id))]


def _work_completed(event: IncomingEvent, p: Message, out: Signals) -> None:
    out.starts.clear()  # the deadline it carries is the one it met
    clock = p.deadline.clock_id or _work_order_clock(p.work_order_id)
    out.stops.append(
        _stop(event, p.deadline.kind, clock_id=clock, met_at=from_timestamp(p.completed_at), on_time=p.on_time)
    )


def _work_order_cancelled(event: IncomingEvent, p: Message, out: Signals) -> None:
    # The kind is not on the event; the clock id is enough to find the clock.
    out.stops.append(_stop(event, "", clock_id=_work_order_clock(p.work_order_id), met=False,
                           reason_code="WORK_ORDER_CANCELLED"))


LEGACY_RULES: dict[str, Callable[[IncomingEvent, Message, Signals], None]] = {
    "intake.v1.DisclosureReceived": _disclosure_received,
    "intake.v1.OwnerReassigned": _owner_reassigned,
    "intake.v1.SafeContactRecorded": _safe_contact_recorded,
    "intake.v1.CaseClosed": _case_closed,
    "risk.v1.RiskAssessed": _risk_assessed,
    "repairs.v1.WorkOrderRaised": _work_order_raised,
    "repairs.v1.WorkCompleted": _work_completed,
    "repairs.v1.WorkOrderCancelled": _work_order_cancelled,
}
