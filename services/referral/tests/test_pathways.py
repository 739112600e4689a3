"""Every pathway row of issue #4 and both branches of the consent gate, at the application level
(real store on SQLite, events fed through the inbox; no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from caseplatform.calendar import LONDON, WorkingDayCalendar
from caseplatform.clock import ControlledClock
from caseplatform.envelope import to_timestamp
from caseplatform.errors import InvalidArgument, PermissionDenied, PreconditionFailed
from caseplatform.identity import Actor
from caseplatform.marac_areas import MaracSchedule
from caseplatform.settings import PlatformSettings
from caseplatform.testing import controlled_clock
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import events_pb2
from casework.risk.v1 import events_pb2 as risk_events
from referral import commands
from referral.application import ReferralApplication
from referral.domain.referral import Referral

from .helpers import CHO, THURSDAY, Feed, of_type

HOUSING_MANAGER = Actor("landlord", "Housing Manager", "hm-1")
LA_DUTY = Actor("local-authority-duty-team", "duty-officer", "la-1")
POLICE = Actor("gwent-police", "officer", "pc-1")


@pytest.fixture
def clock() -> Iterator[ControlledClock]:
    with controlled_clock(THURSDAY + timedelta(minutes=30)) as clock:
        yield clock


@pytest.fixture
def app(tmp_path: Path, clock: ControlledClock) -> ReferralApplication:
    return ReferralApplication(PlatformSettings(casework_data_dir=tmp_path))


@pytest.fixture
def feed(app: ReferralApplication) -> Feed:
    return Feed(app)


@pytest.fixture
def case_id() -> str:
    return str(uuid4())


def by_type(app: ReferralApplication, case_id: str) -> dict[str, Referral]:
    return {r.referral_type: r for r in app.referrals_for(case_id)}


def send(app: ReferralApplication, r: Referral, actor: Actor = CHO) -> Referral:
    return app.mark_sent(commands.MarkSent(referral_id=r.id), actor)


def due(r: Referral) -> datetime:
    assert r.deadline is not None
    return datetime.fromisoformat(r.deadline["due_at"])


# -- the pathways --------------------------------------------------------------------------


def test_children_in_household_require_a_marf_to_the_duty_team_before_midnight(app, feed, case_id):
    feed.disclosure(case_id, children_ages=[4, 9])
    marf = by_type(app, case_id)["CHILDRENS_MARF"]
    assert marf.target_agency == "local-authority-duty-team"
    assert marf.reason == "2 children in the household"
    assert due(marf) == datetime(2027, 3, 5, 0, 0, tzinfo=LONDON)  # midnight of the day received
    assert marf.deadline["clock_id"] == f"referral:{marf.id}"


def test_high_risk_requires_a_marac_referral_before_the_areas_next_cutoff_and_informs_the_cso(app, feed, case_id):
    feed.disclosure(case_id)
    feed.risk(case_id, "HIGH", triggers=("VISIBLE_HIGH_RISK",))
    marac = by_type(app, case_id)["MARAC"]
    assert marac.target_agency == "marac"
    # Torfaen meets fortnightly on Thursdays from 7 Jan 2027: the 4 March meeting's list closed on
    # Monday 1 March, so this goes to 18 March, whose list closes at the end of Monday 15 March.
    assert marac.deadline["due_date"] == "2027-03-15"
    assert [e.area for e in of_type(app, events_pb2.CsoInformed)] == ["torfaen"]


def test_a_risk_grade_newer_than_this_build_holds_the_partition_and_skips_nothing(app, feed, case_id):
    """A newer risk service may grade with a value this build does not know (adding an enum value
    is a compatible change). Guessing "not HIGH" could skip a MARAC referral; dead-lettering would
    lose the assessment. Held (ADR 0038): nothing applied from it on until a build that knows it."""
    feed.disclosure(case_id)
    payload = risk_events.RiskAssessed(case_id=case_id, assessment_id="a-new", grade=77, completed_at=to_timestamp(THURSDAY))
    outcome = feed.send("risk", payload)
    assert (outcome.held_at, outcome.processed, outcome.dead_letters) == (0, 0, [])
    assert feed.inbox.tracked("risk", 0) == 0 and "MARAC" not in by_type(app, case_id)
    feed.risk(case_id, "HIGH", triggers=("VISIBLE_HIGH_RISK",))  # what follows it waits too
    assert feed.inbox.tracked("risk", 0) == 0 and "MARAC" not in by_type(app, case_id)


def test_risk_heard_before_the_disclosure_waits_for_it_and_is_timed_by_the_cases_own_area(app, feed, case_id):
    # Risk's and intake's topics are read independently: risk's assessment can come first.
    feed.risk(case_id, "HIGH", triggers=("VISIBLE_HIGH_RISK",))
    feed.risk(case_id, "HIGH", triggers=("VISIBLE_HIGH_RISK",), redeliver=True)
    assert by_type(app, case_id) == {}  # not required yet: the case's area is not known here
    feed.disclosure(case_id, tenant_ref="T-EARLY")
    marac = by_type(app, case_id)["MARAC"]
    assert marac.reason == "risk HIGH (DASH)" and marac.area == "torfaen"
    assert marac.deadline["due_date"] == "2027-03-15"  # Torfaen's 18 March list, as when heard in order
    assert [e.area for e in of_type(app, events_pb2.CsoInformed)] == ["torfaen"]
    assert len(of_type(app, events_pb2.ReferralRequired)) == 1
    # ... and it is in the victim's MARAC history: a new incident months later is a repeat.
    second, later = str(uuid4()), THURSDAY + timedelta(days=100)
    feed.disclosure(second, at=later, tenant_ref="T-EARLY")
    assert "MARAC" in by_type(app, second)


def test_a_medium_risk_heard_first_offers_support_once_the_disclosure_arrives(app, feed, case_id):
    feed.risk(case_id, "MEDIUM")
    assert by_type(app, case_id) == {}
    feed.disclosure(case_id)
    assert set(by_type(app, case_id)) == {"SPECIALIST_SUPPORT"}


def test_repeat_within_twelve_months_goes_back_to_marac_whatever_the_score(app, feed):
    first, second = str(uuid4()), str(uuid4())
    feed.disclosure(first, tenant_ref="T-REPEAT")
    feed.risk(first, "HIGH", triggers=("PROFESSIONAL_JUDGEMENT",))
    later = THURSDAY + timedelta(days=200)
    feed.disclosure(second, at=later, tenant_ref="T-REPEAT")
    feed.risk(second, "STANDARD", at=later)
    assert set(by_type(app, second)) == {"MARAC", "SPECIALIST_SUPPORT"}
    feed.consent(second, "GIVEN", "marac")
    send(app, by_type(app, second)["MARAC"])
    form = of_type(app, events_pb2.ReferralSent)[-1].marac
    assert (form.repeat, form.previous_marac_count, list(form.criteria)) == (True, 1, ["REPEAT"])
    assert form.subject_ref == "T-REPEAT" and form.area == "torfaen"


def test_no_repeat_after_twelve_months(app, feed):
    first, second = str(uuid4()), str(uuid4())
    feed.disclosure(first, tenant_ref="T-OLD")
    feed.risk(first, "HIGH")
    feed.disclosure(second, at=THURSDAY + timedelta(days=370), tenant_ref="T-OLD")
    assert "MARAC" not in by_type(app, second)


def test_medium_risk_offers_support_accepted_on_thursday_is_due_friday(app, feed, case_id):
    feed.disclosure(case_id)
    feed.risk(case_id, "MEDIUM")
    support = by_type(app, case_id)["SPECIALIST_SUPPORT"]
    assert (support.status, support.deadline) == ("OFFERED", None)  # no clock until the victim agrees
    accepted = app.record_victim_decision(
        commands.RecordVictimDecision(referral_id=support.id, accepted=True, at=THURSDAY), CHO
    )
    assert accepted.status == "ACCEPTED"
    assert accepted.deadline["due_date"] == "2027-03-05"  # Friday
    assert of_type(app, events_pb2.ReferralAccepted)[0].deadline.clock_id == f"referral:{support.id}"


def test_declining_needs_a_reason_and_stops_the_clock(app, feed, case_id):
    feed.disclosure(case_id)
    feed.risk(case_id, "STANDARD")
    support = by_type(app, case_id)["SPECIALIST_SUPPORT"]
    app.record_victim_decision(commands.RecordVictimDecision(referral_id=support.id, accepted=True), CHO)
    with pytest.raises(InvalidArgument):
        app.record_victim_decision(commands.RecordVictimDecision(referral_id=support.id, accepted=False), CHO)
    declined = app.record_victim_decision(
        commands.RecordVictimDecision(referral_id=support.id, accepted=False, reason="has support already"), CHO
    )
    assert declined.status == "DECLINED" and declined.decline_reason == "has support already"
    event = of_type(app, events_pb2.ReferralDeclined)[0]
    assert [(w.kind, w.clock_id) for w in event.deadlines_withdrawn] == [("SUPPORT_REFERRAL", f"referral:{support.id}")]
    assert "has support" not in str(event)  # free text stays in referral's store


def test_marac_is_not_the_victims_to_decline(app, feed, case_id):
    feed.disclosure(case_id)
    feed.risk(case_id, "HIGH")
    marac = by_type(app, case_id)["MARAC"]
    with pytest.raises(PreconditionFailed):
        app.record_victim_decision(commands.RecordVictimDecision(referral_id=marac.id, reason="no"), CHO)


def test_not_safe_to_return_home_requires_housing_options_and_refuge_the_same_working_day(app, feed, case_id):
    saturday = datetime(2027, 3, 6, 11, 0, tzinfo=LONDON)
    feed.disclosure(case_id, at=saturday, safe_to_return_home_known=True, safe_to_return_home=False)
    found = by_type(app, case_id)
    assert found["HOUSING_OPTIONS"].target_agency == "local-authority-housing-options"
    assert found["REFUGE"].target_agency == "refuge-provider"
    assert {found[t].deadline["due_date"] for t in ("HOUSING_OPTIONS", "REFUGE")} == {"2027-03-08"}  # Monday


def test_immediate_safety_recorded_later_also_triggers_housing_options(app, feed, case_id):
    feed.disclosure(case_id)
    feed.send("intake", intake_events.ImmediateSafetyRecorded(case_id=case_id, safe_to_return_home=False))
    assert {"HOUSING_OPTIONS", "REFUGE"} <= set(by_type(app, case_id))
    assert by_type(app, case_id)["HOUSING_OPTIONS"].deadline["due_date"] == "2027-03-04"


def test_rehousing_is_a_recorded_decision_and_only_a_housing_manager_grants_high_priority(app, feed, case_id):
    feed.disclosure(case_id)
    feed.send("intake", intake_events.RehousingRequested(case_id=case_id, route=intake_pb2.MANAGEMENT_TRANSFER))
    rehousing = by_type(app, case_id)["REHOUSING"]
    assert (rehousing.gate, rehousing.deadline) == ("NOT_NEEDED", None)
    decision: dict[str, Any] = {"referral_id": rehousing.id, "route": "MANAGEMENT_TRANSFER", "approved": True,
                                "high_priority": True}
    with pytest.raises(PermissionDenied):
        app.record_rehousing_decision(commands.RecordRehousingDecision(**decision), CHO)
    decided = app.record_rehousing_decision(commands.RecordRehousingDecision(**decision), HOUSING_MANAGER)
    assert decided.rehousing["high_priority"] and decided.status == "ACCEPTED"
    assert of_type(app, events_pb2.RehousingDecisionRecorded)[0].decided_by_role == "Housing Manager"


def test_a_willing_perpetrator_is_referred_to_a_programme_when_consented(app, feed, case_id):
    feed.disclosure(case_id)
    feed.send("intake", intake_events.PerpetratorWillingnessRecorded(case_id=case_id, willing=True))
    programme = by_type(app, case_id)["PERPETRATOR_PROGRAMME"]
    assert programme.status == "OFFERED"
    with pytest.raises(PreconditionFailed):
        send(app, programme)
    app.record_victim_decision(commands.RecordVictimDecision(referral_id=programme.id, accepted=True), CHO)
    feed.consent(case_id, "GIVEN", "perpetrator-programme")
    assert send(app, programme).status == "SENT"


# -- the consent gate ----------------------------------------------------------------------


def test_with_consent_covering_the_agency_the_referral_is_sent_and_meets_its_clocks(app, feed, case_id):
    feed.disclosure(case_id, children_ages=[3])
    marf = by_type(app, case_id)["CHILDRENS_MARF"]
    assert marf.gate == "HELD"
    with pytest.raises(PreconditionFailed):
        send(app, marf)
    feed.consent(case_id, "GIVEN", "local-authority-duty-team")
    sent = send(app, marf)
    assert (sent.status, sent.gate, sent.on_time) == ("SENT", "CONSENTED", True)
    event = of_type(app, events_pb2.ReferralSent)[0]
    assert {(m.kind, m.clock_id, m.on_time) for m in event.deadlines_met} == {
        ("CHILDRENS_REFERRAL", f"referral:{marf.id}", True),
        ("CHILDRENS_REFERRAL", "", True),  # intake's case clock for the children's referral
    }
    assert [h["status"] for h in sent.history] == ["REQUIRED", "SENT"]
    assert of_type(app, events_pb2.ReferralHeld)[0].reason_code == "NO_CONSENT"


def test_without_consent_high_risk_proceeds_only_on_a_recorded_lawful_basis(app, feed, case_id):
    feed.disclosure(case_id)
    feed.risk(case_id, "MEDIUM")
    support = by_type(app, case_id)["SPECIALIST_SUPPORT"]
    app.record_victim_decision(commands.RecordVictimDecision(referral_id=support.id, accepted=True), CHO)
    feed.risk(case_id, "HIGH", triggers=("PROFESSIONAL_JUDGEMENT",))
    marac = by_type(app, case_id)["MARAC"]
    with pytest.raises(PreconditionFailed):
        send(app, marac)
    override = {"lawful_basis": "CRIME_AND_DISORDER_ACT_S115", "reason": "risk to life",
                "officer_name": "Synthetic Officer", "officer_role": "CSO"}
    app.override_consent(commands.OverrideConsent(referral_id=marac.id, **override), CHO)
    with pytest.raises(PreconditionFailed):  # a voluntary referral is never overridden
        app.override_consent(commands.OverrideConsent(referral_id=support.id, **override), CHO)
    sent = send(app, marac)
    assert sent.override["officer_name"] == "Synthetic Officer" and sent.gate == "OVERRIDDEN"
    with pytest.raises(PreconditionFailed):
        send(app, support)
    event = of_type(app, events_pb2.ConsentOverridden)[0]
    assert (event.grounds, event.officer_role, event.decided_by) == ("HIGH_RISK", "CSO", "cho-7")
    assert "Synthetic Officer" not in str(event) and "risk to life" not in str(event)
    form = of_type(app, events_pb2.ReferralSent)[0].marac
    assert (form.consent_given, form.lawful_basis, form.lawful_basis_grounds) == (
        False, "CRIME_AND_DISORDER_ACT_S115", "HIGH_RISK")


def test_override_needs_high_risk_or_a_safeguarding_concern(app, feed, case_id):
    feed.disclosure(case_id, children_ages=[2])
    marf = by_type(app, case_id)["CHILDRENS_MARF"]
    override = commands.OverrideConsent(
        referral_id=marf.id, lawful_basis="SAFEGUARDING_CHILDREN", reason="child at risk",
        officer_name="Synthetic Officer", officer_role="Housing Manager",
    )
    with pytest.raises(PreconditionFailed):
        app.override_consent(override, CHO)
    feed.send("intake", intake_events.SafeguardingConcernRecorded(case_id=case_id, kind=intake_pb2.CHILD_AT_RISK))
    assert app.override_consent(override, CHO).gate == "OVERRIDDEN"
    assert of_type(app, events_pb2.ConsentOverridden)[0].grounds == "SAFEGUARDING_CONCERN"


def test_withdrawn_consent_stops_unsent_referrals_and_is_visible_on_sent_ones(app, feed, case_id):
    feed.disclosure(case_id, children_ages=[5], safe_to_return_home_known=True, safe_to_return_home=False)
    feed.consent(case_id, "GIVEN", "local-authority-duty-team", "refuge-provider")
    marf = send(app, by_type(app, case_id)["CHILDRENS_MARF"])
    feed.consent(case_id, "WITHDRAWN", "local-authority-duty-team", "refuge-provider")
    found = by_type(app, case_id)
    assert found["CHILDRENS_MARF"].consent_withdrawn_after_sending and found["CHILDRENS_MARF"].status == "SENT"
    assert (found["REFUGE"].status, found["REFUGE"].gate) == ("WITHDRAWN", "WITHDRAWN")
    assert [e.referral_id for e in of_type(app, events_pb2.ConsentWithdrawnAfterSending)] == [str(marf.id)]
    withdrawn = of_type(app, events_pb2.ReferralWithdrawn)[0]
    assert [w.clock_id for w in withdrawn.deadlines_withdrawn] == [f"referral:{found['REFUGE'].id}"]
    with pytest.raises(PreconditionFailed):
        send(app, found["REFUGE"])


# -- idempotency and partners --------------------------------------------------------------


def test_duplicate_events_do_not_create_duplicate_referrals(app, feed, case_id):
    feed.disclosure(case_id, children_ages=[1])
    feed.risk(case_id, "HIGH")
    before = app.recorder.max_notification_id()
    feed.risk(case_id, "HIGH", redeliver=True)      # the same message again: the inbox drops it
    feed.risk(case_id, "HIGH")                      # a fresh reassessment, still HIGH: no second referral
    assert sorted(by_type(app, case_id)) == ["CHILDRENS_MARF", "MARAC"]
    assert len(of_type(app, events_pb2.ReferralRequired)) == 2
    assert app.recorder.max_notification_id() - before <= 1  # at most the case file noting the grade


def test_only_the_target_agency_acknowledges_and_reports_the_outcome(app, feed, case_id):
    feed.disclosure(case_id, children_ages=[1])
    feed.consent(case_id, "GIVEN", "local-authority-duty-team")
    marf = send(app, by_type(app, case_id)["CHILDRENS_MARF"])
    with pytest.raises(PermissionDenied):
        app.record_acknowledgement(commands.RecordAcknowledgement(referral_id=marf.id), POLICE)
    with pytest.raises(PermissionDenied):
        app.mark_sent(commands.MarkSent(referral_id=marf.id), POLICE)
    assert app.record_acknowledgement(commands.RecordAcknowledgement(referral_id=marf.id), LA_DUTY).status == "ACKNOWLEDGED"
    done = app.record_outcome(commands.RecordOutcome(referral_id=marf.id, outcome="ENGAGED"), LA_DUTY)
    assert done.status == "OUTCOME" and done.sent_at is not None and done.required_at is not None
    assert [r.referral_type for r in app.referrals_for(case_id, POLICE)] == []
    assert [r.referral_type for r in app.referrals_for(case_id, LA_DUTY)] == ["CHILDRENS_MARF"]
    outcome = of_type(app, events_pb2.ReferralOutcomeRecorded)[0]
    assert outcome.sent_at.seconds and outcome.required_at.seconds


# -- the MARAC schedule --------------------------------------------------------------------


def test_marac_cutoff_counts_working_days_back_over_bank_holidays():
    calendar = WorkingDayCalendar()
    schedule = MaracSchedule("torfaen", date(2027, 1, 7), 14, 3)
    # The meeting of Thursday 1 April 2027: Wednesday 31 and Tuesday 30 March count; Easter Monday
    # and Good Friday are bank holidays; the third working day back is Thursday 25 March.
    assert schedule.cutoff_for(date(2027, 4, 1), calendar) == date(2027, 3, 25)
    meeting, cutoff, _ = schedule.next_listing(datetime(2027, 3, 30, 9, 0, tzinfo=LONDON), calendar)
    assert (meeting, cutoff) == (date(2027, 4, 15), date(2027, 4, 12))


def test_a_landlord_marac_action_to_rehouse_becomes_a_rehousing_referral_once(app, feed, case_id):
    from casework.marac.v1 import events_pb2 as marac_events
    from casework.marac.v1 import marac_pb2

    feed.disclosure(case_id)

    def action(action_id: str, kind: int, landlord: bool = True) -> marac_events.ActionAgreed:
        return marac_events.ActionAgreed(action_id=action_id, case_id=case_id, owning_agency="landlord" if landlord else
                                         "idva-service", landlord_owned=landlord, kind=kind)

    feed.send("marac", action("act-1", marac_pb2.REHOUSE))
    feed.send("marac", action("act-1", marac_pb2.REHOUSE), redeliver=True)
    feed.send("marac", action("act-2", marac_pb2.REHOUSE, landlord=False))  # another agency's action
    feed.send("marac", action("act-3", marac_pb2.CHECK_ASB_HISTORY))  # intake's work, not a referral
    rehousing = [r for r in app.referrals_for(case_id) if r.referral_type == "REHOUSING"]
    assert [r.reason for r in rehousing] == ["MARAC action: rehouse"]
