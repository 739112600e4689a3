"""The pathways policy: which referrals intake's and risk's events call for, and how consent
recorded at intake opens, holds or stops them. Runs inside the inbox unit, so a redelivered event
finds what it created before (deterministic ids) and creates nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from caseplatform.deadlines import Deadline, deadline_from_message
from caseplatform.enums import enum_name, enum_names
from caseplatform.envelope import IncomingEvent, from_timestamp
from caseplatform.inbox import Unit
from caseplatform.marac_areas import area_key
from casework.intake.v1 import events_pb2 as intake_events
from casework.marac.v1 import events_pb2 as marac_events
from casework.marac.v1 import marac_pb2
from casework.risk.v1 import events_pb2 as risk_events
from referral.deadlines import PathwayDeadlines
from referral.domain.case_file import MaracHistory, ReferralCase
from referral.domain.pathways import PATHWAYS, Gate, ReferralType, children_reason
from referral.domain.referral import Referral

HELD_BY = {None: "NO_CONSENT", "REFUSED": "CONSENT_REFUSED", "WITHDRAWN": "CONSENT_WITHDRAWN"}


class PathwayPolicy:
    def __init__(self, deadlines: PathwayDeadlines) -> None:
        self.deadlines = deadlines

    def __call__(self, event: IncomingEvent, unit: Unit) -> None:
        payload = event.payload
        handler = getattr(self, f"on_{type(payload).__name__}", None)
        if handler is not None and getattr(payload, "case_id", ""):
            handler(payload, event, unit)

    # -- intake ----------------------------------------------------------------------------

    def on_DisclosureReceived(self, d: intake_events.DisclosureReceived, event: IncomingEvent, unit: Unit) -> None:
        received = from_timestamp(d.received_at)
        case = self._case(d.case_id, unit)
        case.note_disclosure(
            area=area_key(d.area), tenant_ref=d.tenant_ref, children_count=len(d.children_ages),
            received_at=received, meta=unit.meta(),
        )
        unit.collect(case)
        if d.children_ages:
            started = next((x for x in d.deadlines if x.kind == "CHILDRENS_REFERRAL"), None)
            self.require(unit, case, ReferralType.CHILDRENS_MARF, children_reason(len(d.children_ages)), received,
                         deadline=deadline_from_message(started) if started is not None else None)
        if d.safe_to_return_home_known and not d.safe_to_return_home:
            self._not_safe_home(unit, case, received)
        self._repeat_check(unit, case, received, occasion="")
        if case.waiting:
            for w in case.waiting:  # as if risk's event had come after this one, as it was made
                self.require(unit, case, ReferralType(w["referral_type"]), w["reason"], w["start"])
            case.take_waiting(meta=unit.meta())

    def on_FurtherDisclosureReceived(self, d: intake_events.FurtherDisclosureReceived, event: IncomingEvent,
                                     unit: Unit) -> None:
        received = from_timestamp(d.received_at)
        case = self._case(d.case_id, unit)
        if d.children_ages:
            self.require(unit, case, ReferralType.CHILDRENS_MARF, children_reason(len(d.children_ages)), received)
        self._repeat_check(unit, case, received, occasion=event.envelope.event_id)

    def on_ImmediateSafetyRecorded(self, s: intake_events.ImmediateSafetyRecorded, event: IncomingEvent,
                                   unit: Unit) -> None:
        if not s.safe_to_return_home:
            self._not_safe_home(unit, self._case(s.case_id, unit), _occurred(event))

    def on_OwnerReassigned(self, o: intake_events.OwnerReassigned, event: IncomingEvent, unit: Unit) -> None:
        case = self._case(o.case_id, unit)
        if o.area and area_key(o.area) != case.area:
            case.note_area(area=area_key(o.area), meta=unit.meta())
            unit.collect(case)

    def on_ConsentRecorded(self, c: intake_events.ConsentRecorded, event: IncomingEvent, unit: Unit) -> None:
        case = self._case(c.case_id, unit)
        decision = enum_name(c, "decision")
        agencies = [a for a in c.agencies if a]
        case.note_consent(decision=decision, agencies=agencies, meta=unit.meta())
        unit.collect(case)
        at = _occurred(event)
        for referral in self._referrals(case, unit):
            if referral.target_agency not in agencies:
                continue
            if decision == "GIVEN":
                resumed = self._due(referral, at)
                referral.clear_consent(at, resumed, unit.meta())
            elif decision == "REFUSED":
                referral.hold("CONSENT_REFUSED", unit.meta())
            elif decision == "WITHDRAWN":
                referral.consent_withdrawn(at, unit.meta())
            unit.collect(referral)

    def on_SafeguardingConcernRecorded(self, s: intake_events.SafeguardingConcernRecorded, event: IncomingEvent,
                                       unit: Unit) -> None:
        case = self._case(s.case_id, unit)
        case.note_safeguarding_concern(kind=enum_name(s, "kind"), meta=unit.meta())
        unit.collect(case)

    def on_MaracReferralDetailsRecorded(self, f: intake_events.MaracReferralDetailsRecorded, event: IncomingEvent,
                                        unit: Unit) -> None:
        case = self._case(f.case_id, unit)
        form = {
            "safe_to_call": f.safe_to_call, "safe_times_recorded": f.safe_times_recorded,
            "perpetrator_relationship": f.perpetrator_relationship, "victim_aware": f.victim_aware,
            "victim_unaware_reason": f.victim_unaware_reason,
            "who_victim_fears_recorded": f.who_victim_fears_recorded,
            "safe_to_talk_to_recorded": f.safe_to_talk_to_recorded,
            "diversity": {
                "gender": f.diversity.gender, "age_band": f.diversity.age_band, "ethnicity": f.diversity.ethnicity,
                "disability": f.diversity.disability, "sexual_orientation": f.diversity.sexual_orientation,
            },
        }
        case.note_form_details(form=form, meta=unit.meta())
        unit.collect(case)

    def on_RehousingRequested(self, r: intake_events.RehousingRequested, event: IncomingEvent, unit: Unit) -> None:
        route = enum_name(r, "route")
        self.require(unit, self._case(r.case_id, unit), ReferralType.REHOUSING, f"rehousing requested: {route}",
                     _occurred(event), occasion=event.envelope.event_id)

    def on_PerpetratorWillingnessRecorded(self, p: intake_events.PerpetratorWillingnessRecorded,
                                          event: IncomingEvent, unit: Unit) -> None:
        if p.willing:
            self.require(unit, self._case(p.case_id, unit), ReferralType.PERPETRATOR_PROGRAMME,
                         "perpetrator willing to attend a programme", _occurred(event))

    # -- marac -----------------------------------------------------------------------------

    def on_ActionAgreed(self, a: marac_events.ActionAgreed, event: IncomingEvent, unit: Unit) -> None:
        """A landlord-owned MARAC action to rehouse the victim is a rehousing referral (issue #5)."""
        if a.landlord_owned and a.kind == marac_pb2.REHOUSE:
            self.require(unit, self._case(a.case_id, unit), ReferralType.REHOUSING, "MARAC action: rehouse",
                         _occurred(event), occasion=a.action_id)

    # -- risk ------------------------------------------------------------------------------

    def on_RiskAssessed(self, r: risk_events.RiskAssessed, event: IncomingEvent, unit: Unit) -> None:
        case = self._case(r.case_id, unit)
        grade = enum_name(r, "grade")
        case.note_risk(grade=grade, triggers=enum_names(r, "triggers"), meta=unit.meta())
        unit.collect(case)
        at = from_timestamp(r.completed_at) if r.HasField("completed_at") else _occurred(event)
        if grade == "HIGH":
            self._require_once_disclosed(unit, case, ReferralType.MARAC, "risk HIGH (DASH)", at)
        elif grade in ("MEDIUM", "STANDARD"):
            self._require_once_disclosed(
                unit, case, ReferralType.SPECIALIST_SUPPORT, f"risk {grade}: specialist support offered", at)

    def _require_once_disclosed(
        self, unit: Unit, case: ReferralCase, referral_type: ReferralType, reason: str, start: datetime
    ) -> None:
        """Risk's and intake's topics are read independently, so risk's assessment can arrive
        before the disclosure it assessed. A referral needs the disclosure's facts: a MARAC
        referral is due by the cutoff of the case's own area's next meeting, and goes into the
        victim's MARAC history by tenancy (repeats within 12 months). Required without them, it
        was timed by the default area's meetings and left out of the history. So it waits on the
        case until the disclosure is here, then is required as of its own `start`."""
        if case.disclosed:
            self.require(unit, case, referral_type, reason, start)
            return
        if all(w["referral_type"] != referral_type.value for w in case.waiting):  # not a redelivery
            case.wait_for_disclosure(referral_type=referral_type.value, reason=reason, start=start, meta=unit.meta())
            unit.collect(case)

    # -- the rules -------------------------------------------------------------------------

    def require(
        self, unit: Unit, case: ReferralCase, referral_type: ReferralType, reason: str, start: datetime,
        occasion: str = "", deadline: Deadline | None = None,
    ) -> Referral | None:
        referral_id = Referral.create_id(case.case_id, referral_type.value, occasion)
        if unit.get(referral_id) is not None:
            return None  # required before (a redelivery, or the trigger again)
        pathway = PATHWAYS[referral_type]
        # Given: intake's case-level clock (the children's referral). The MARF meets that same clock —
        # one obligation, one clock — so it keeps the case-level identity rather than a second one.
        if deadline is None and not pathway.voluntary:
            deadline = self.deadlines.due(referral_type, referral_id, start, case.area)
        meta = unit.meta()
        decision = case.consents.get(pathway.target_agency)
        consented = decision == "GIVEN" or not pathway.shares_outside
        referral = Referral(
            case_id=case.case_id, referral_type=referral_type.value, target_agency=pathway.target_agency,
            reason=reason, deadline=deadline, occasion=occasion, area=case.area, required_at=start, meta=meta,
            gate=(Gate.CONSENTED if pathway.shares_outside else Gate.NOT_NEEDED).value if consented else "PENDING",
            case_deadline_kind="CHILDRENS_REFERRAL" if referral_type == ReferralType.CHILDRENS_MARF else "",
        )
        if not consented:
            referral.hold(HELD_BY.get(decision, "NO_CONSENT"), meta)
        referral.offer(start, meta)
        if referral_type == ReferralType.MARAC:
            referral.inform_cso(meta)
            self._note_marac(unit, case, referral_id, start)
        case.file_referral(referral_id=str(referral_id), meta=meta)
        unit.collect(referral, case)
        return referral

    def _not_safe_home(self, unit: Unit, case: ReferralCase, start: datetime) -> None:
        self.require(unit, case, ReferralType.HOUSING_OPTIONS, "not safe to return home", start)
        self.require(unit, case, ReferralType.REFUGE, "not safe to return home: refuge via a specialist agency", start)

    def _repeat_check(self, unit: Unit, case: ReferralCase, at: datetime, occasion: str) -> None:
        if not case.tenant_ref:
            return
        history = unit.get(MaracHistory.create_id(case.tenant_ref))
        if history is None or not history.within_year_before(at):
            return
        self.require(unit, case, ReferralType.MARAC, "repeat: new incident within 12 months of the last MARAC referral",
                     at, occasion=occasion)

    def _note_marac(self, unit: Unit, case: ReferralCase, referral_id: UUID, at: datetime) -> None:
        if not case.tenant_ref:
            return
        history = unit.get(MaracHistory.create_id(case.tenant_ref)) or MaracHistory(
            subject_ref=case.tenant_ref, meta=unit.meta()
        )
        history.note_referral(referral_id=str(referral_id), case_id=case.case_id, at=at, meta=unit.meta())
        unit.collect(history)

    def _due(self, referral: Referral, start: datetime) -> Deadline | None:
        if referral.pathway.voluntary and referral.status_before_withdrawal != "ACCEPTED":
            return None
        return self.deadlines.due(ReferralType(referral.referral_type), referral.id, start, referral.area)

    @staticmethod
    def _case(case_id: str, unit: Unit) -> ReferralCase:
        case = unit.get(ReferralCase.create_id(case_id))
        if case is None:
            # Risk's and intake's topics are read independently: whichever arrives first opens it.
            case = ReferralCase(case_id=case_id, meta=unit.meta())
            unit.collect(case)
        return case

    @staticmethod
    def _referrals(case: ReferralCase, unit: Unit) -> list[Any]:
        return [r for r in (unit.get(UUID(i)) for i in case.referral_ids) if r is not None]


def _occurred(event: IncomingEvent) -> datetime:
    return from_timestamp(event.envelope.occurred_at)
