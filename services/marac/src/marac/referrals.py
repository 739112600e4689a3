"""How a MARAC referral from referral's `ReferralSent` puts a case on its area's case list.

The repeat flag is read from marac's own record of the victim's MARAC referrals (by the form's
pseudonymous subject reference, across cases and areas), or taken from the form when referral
already knew of an earlier MARAC (e.g. one from before this system).
"""

from __future__ import annotations

from datetime import date

from caseplatform.calendar import WorkingDayCalendar
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.inbox import Unit
from casework.referral.v1 import events_pb2 as referral_events
from casework.referral.v1 import referral_pb2
from marac.domain.area import Area
from marac.domain.marac_case import MaracCase, SubjectHistory
from marac.domain.rules import is_repeat


class UnlistableReferral(ValueError):
    """A MARAC referral marac cannot list (no area): dead-lettered with the reason, not guessed."""


def receive_marac_referral(event: IncomingEvent, unit: Unit, calendar: WorkingDayCalendar) -> None:
    sent = event.payload
    assert isinstance(sent, referral_events.ReferralSent)
    if sent.type != referral_pb2.MARAC:
        return
    form = sent.marac
    area_code = form.area.strip().lower()
    if not area_code:
        raise UnlistableReferral("MARAC referral without an area")
    case = unit.get(MaracCase.create_id(sent.case_id)) or MaracCase(case_id=sent.case_id, area=area_code, meta=unit.meta())
    if case.has_referral(sent.referral_id):
        return
    received_at = from_timestamp(sent.sent_at) if sent.HasField("sent_at") else event.occurred_at
    referred_on = calendar.local_date(received_at)

    subject = None
    earlier: list[date] = []
    if form.subject_ref:
        subject = unit.get(SubjectHistory.create_id(form.subject_ref)) or SubjectHistory(
            subject_ref=form.subject_ref, meta=unit.meta()
        )
        earlier = [date.fromisoformat(r["referred_on"]) for r in subject.referrals]
        subject.add(referral_id=sent.referral_id, case_id=sent.case_id, referred_on=referred_on.isoformat(), meta=unit.meta())

    case.receive_referral(
        case_id=sent.case_id, referral_id=sent.referral_id, area=area_code, subject_ref=form.subject_ref,
        risk_grade=form.risk_grade, criteria=list(form.criteria), children_count=form.children_count,
        referring_agency=form.referring_agency, repeat=form.repeat or is_repeat(referred_on, earlier),
        received_at=received_at, meta=unit.meta(),
    )
    area = unit.get(Area.create_id(area_code)) or Area(area=area_code, meta=unit.meta())
    area.register_case(
        case_id=sent.case_id, referral_id=sent.referral_id, listed_at=received_at, transferred_from="", meta=unit.meta()
    )
    unit.collect(case, subject, area)
