"""The Case aggregate: one victim's journey from the first disclosure to closure (seed 001 §3–§8).

Every change is an event with its actor (in `meta`); corrections are new events, nothing is
rewritten. Commands that may be retried carry an idempotency key the case remembers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.ids import stable_id
from intake.domain.deadlines import CASE_RECORDED, SAFE_CONTACT
from intake.domain.patches import victim_district

OPEN, CLOSED = "OPEN", "CLOSED"
MADE = "MADE"


class CaseClosedError(Exception):
    """The case is closed: reopen it first."""


class Case(CaseAggregate):
    @staticmethod
    def create_id(idempotency_scope: str, idempotency_key: str, **_: Any) -> UUID:
        # The same (caller agency, key) always names the same case: creation is idempotent.
        return stable_id("intake", "case", idempotency_scope, idempotency_key)

    @event("DisclosureReceived")
    def __init__(
        self,
        *,
        idempotency_scope: str,
        idempotency_key: str,
        request_hash: str,
        channel: str,
        received_at: datetime,
        victim: dict[str, Any],
        children_ages: list[int],
        deadlines: list[dict[str, str]],
        meta: dict[str, Any],
        # Added after the first release: defaults keep the earliest events readable.
        details: dict[str, Any] | None = None,
        safe_contact: dict[str, Any] | None = None,
        owner: dict[str, str] | None = None,
        subjects: dict[str, str] | None = None,
    ) -> None:
        self.request_hash = request_hash
        self.channel = channel
        self.received_at = received_at
        self.victim = victim
        self.children_ages = list(children_ages)
        self.deadlines = list(deadlines)
        self.details = dict(details or {})
        self.safe_contact = dict(safe_contact or {})
        self.owner = dict(owner or {"cho": "", "area": ""})
        self.status = OPEN
        self.disclosures = 1
        self.safe_contact_made_at: datetime | None = None
        self.consent: dict[str, dict[str, Any]] = {}
        self.notes: list[dict[str, Any]] = []
        self.applied_keys: set[str] = set()
        self.possible_perpetrator_as_victim = bool(self.details.get("reporter_suspected_perpetrator"))
        self.legal_advice_requested = False
        self.risk_grade = ""
        self.landlord_actions: dict[str, dict[str, str]] = {}
        self.corrections = 0
        # Random ids of the case's data subjects, whose keys seal their personal fields (ADR 0022);
        # cases recorded before sealing have none.
        self.subjects = dict(subjects or {})
        self.erased: dict[str, dict[str, Any]] = {}

    # ----- queries ----------------------------------------------------------------------------

    @property
    def case_id(self) -> str:
        return str(self.id)

    @property
    def postcode_district(self) -> str:
        return victim_district(self.victim)

    @property
    def recorded_at(self) -> datetime:
        return self.created_on

    def due_at(self, kind: str) -> datetime | None:
        for d in self.deadlines:
            if d["kind"] == kind:
                return datetime.fromisoformat(d["due_at"])
        return None

    def overdue(self, now: datetime) -> list[str]:
        """Deadlines intake itself tracks that have passed unmet (reporting keeps every clock)."""
        late = []
        recorded_due = self.due_at(CASE_RECORDED)
        if recorded_due is not None and self.recorded_at > recorded_due:
            late.append(CASE_RECORDED)
        contact_due = self.due_at(SAFE_CONTACT)
        if self.status == OPEN and contact_due is not None and now > contact_due and not self.safe_contact_made_at:
            late.append(SAFE_CONTACT)
        return late

    def has_applied(self, idempotency_key: str) -> bool:
        return idempotency_key in self.applied_keys

    # ----- commands ---------------------------------------------------------------------------

    def add_disclosure(self, *, idempotency_key: str, channel: str, received_at: datetime,
                       children_ages: list[int], details: dict[str, Any], meta: dict[str, Any]) -> None:
        self._further_disclosure(idempotency_key=idempotency_key, channel=channel, received_at=received_at,
                                 children_ages=children_ages, details=details, meta=meta)

    @event("FurtherDisclosureReceived")
    def _further_disclosure(self, idempotency_key: str, channel: str, received_at: datetime,
                            children_ages: list[int], details: dict[str, Any], meta: dict[str, Any]) -> None:
        self.disclosures += 1
        self.applied_keys.add(idempotency_key)
        if children_ages:  # the household as it is now known
            self.children_ages = list(children_ages)
        if details.get("reporter_suspected_perpetrator"):
            self.possible_perpetrator_as_victim = True

    def record_safe_contact(self, *, idempotency_key: str, outcome: str, at: datetime, method: str,
                            meta: dict[str, Any]) -> None:
        self._require_open()
        due = self.due_at(SAFE_CONTACT)
        met = outcome == MADE and due is not None and at <= due
        self._safe_contact(idempotency_key=idempotency_key, outcome=outcome, at=at, method=method,
                           deadline_met=met, meta=meta)

    @event("SafeContactRecorded")
    def _safe_contact(self, idempotency_key: str, outcome: str, at: datetime, method: str,
                      deadline_met: bool, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        # Only contact actually made stops the clock; an attempt or "unsafe now" does not.
        if outcome == MADE and self.safe_contact_made_at is None:
            self.safe_contact_made_at = at

    def record_consent(self, *, idempotency_key: str, decision: str, agencies: list[str], at: datetime,
                       meta: dict[str, Any]) -> None:
        self._require_open()
        self._consent(idempotency_key=idempotency_key, decision=decision, agencies=agencies, at=at, meta=meta)

    @event("ConsentRecorded")
    def _consent(self, idempotency_key: str, decision: str, agencies: list[str], at: datetime,
                 meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        for agency in agencies:
            self.consent[agency] = {"decision": decision, "at": at, "by": meta.get("actor", {})}

    def record_note(self, *, idempotency_key: str, text: str, meta: dict[str, Any]) -> None:
        self._note(idempotency_key=idempotency_key, text=text, meta=meta)

    @event("NoteRecorded")
    def _note(self, idempotency_key: str, text: str, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.notes.append({"text": text, "by": meta.get("actor", {})})

    def record_immediate_safety(self, *, idempotency_key: str, safe_to_return_home: bool,
                                meta: dict[str, Any]) -> None:
        self._require_open()
        self._immediate_safety(idempotency_key=idempotency_key, safe_to_return_home=safe_to_return_home, meta=meta)

    @event("ImmediateSafetyRecorded")
    def _immediate_safety(self, idempotency_key: str, safe_to_return_home: bool, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.details["safe_to_return_home"] = safe_to_return_home

    def record_reported_elsewhere(self, *, idempotency_key: str, police_log_number: str, support_worker: str,
                                  consent_to_speak: bool, meta: dict[str, Any]) -> None:
        self._require_open()
        self._reported_elsewhere(idempotency_key=idempotency_key, police_log_number=police_log_number,
                                 support_worker=support_worker, consent_to_speak=consent_to_speak, meta=meta)

    @event("ReportedElsewhereRecorded")
    def _reported_elsewhere(self, idempotency_key: str, police_log_number: str, support_worker: str,
                            consent_to_speak: bool, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        if police_log_number:
            self.details["police_log_number"] = police_log_number
        if support_worker:
            self.details["support_worker"] = support_worker
        self.details["consent_to_speak_to_them"] = consent_to_speak

    def request_legal_advice(self, *, idempotency_key: str, reason: str, meta: dict[str, Any]) -> None:
        self._require_open()
        self._legal_advice(idempotency_key=idempotency_key, reason=reason, meta=meta)

    @event("LegalAdviceRequested")
    def _legal_advice(self, idempotency_key: str, reason: str, meta: dict[str, Any]) -> None:
        # Never contact a perpetrator without CSO or Housing Manager agreement (seed 001 §3).
        self.applied_keys.add(idempotency_key)
        self.legal_advice_requested = True

    def flag_possible_perpetrator(self, *, idempotency_key: str, reason: str, meta: dict[str, Any]) -> None:
        self._flag_perpetrator(idempotency_key=idempotency_key, reason=reason, meta=meta)

    @event("PossiblePerpetratorAsVictimFlagged")
    def _flag_perpetrator(self, idempotency_key: str, reason: str, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.possible_perpetrator_as_victim = True

    def correct_details(self, *, idempotency_key: str, victim: dict[str, Any], reason: str,
                        owner: dict[str, str], meta: dict[str, Any]) -> None:
        """Corrections are new events; when the address moves to another patch, so does the case."""
        previous = dict(self.owner)
        self._correct(idempotency_key=idempotency_key, victim=victim, reason=reason, meta=meta)
        if owner["cho"] != previous.get("cho"):
            self._reassign(owner=owner, previous_owner=previous, meta=meta)

    @event("DetailsCorrected")
    def _correct(self, idempotency_key: str, victim: dict[str, Any], reason: str, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.corrections = getattr(self, "corrections", 0) + 1
        self.victim = victim

    @event("OwnerReassigned")
    def _reassign(self, owner: dict[str, str], previous_owner: dict[str, str], meta: dict[str, Any]) -> None:
        self.owner = dict(owner)

    def note_risk_grade(self, *, grade: str, assessment_id: str, meta: dict[str, Any]) -> None:
        """The latest grade from the risk service, so the case list can be filtered by it."""
        if grade != self.risk_grade:
            self._risk_grade(grade=grade, assessment_id=assessment_id, meta=meta)

    def assign_landlord_action(self, *, action_id: str, kind: str, due_date: str, meta: dict[str, Any]) -> None:
        """A MARAC action the landlord owns that is housing work on this case (once per action)."""
        if action_id not in self.landlord_actions:
            self._landlord_action_assigned(action_id=action_id, kind=kind, due_date=due_date, meta=meta)

    def complete_landlord_action(self, *, action_id: str, meta: dict[str, Any]) -> None:
        action = self.landlord_actions.get(action_id)
        if action is not None and action["status"] == "OPEN":
            self._landlord_action_completed(action_id=action_id, meta=meta)

    @event("LandlordActionAssigned")
    def _landlord_action_assigned(self, action_id: str, kind: str, due_date: str, meta: dict[str, Any]) -> None:
        self.landlord_actions[action_id] = {"kind": kind, "due_date": due_date, "status": "OPEN"}

    @event("LandlordActionCompleted")
    def _landlord_action_completed(self, action_id: str, meta: dict[str, Any]) -> None:
        self.landlord_actions[action_id]["status"] = "COMPLETED"

    @event("RiskGradeNoted")
    def _risk_grade(self, grade: str, assessment_id: str, meta: dict[str, Any]) -> None:
        self.risk_grade = grade

    def close(self, *, reason: str, meta: dict[str, Any]) -> None:
        if self.status == OPEN:
            self._close(reason=reason, meta=meta)

    @event("CaseClosed")
    def _close(self, reason: str, meta: dict[str, Any]) -> None:
        self.status = CLOSED

    def reopen(self, *, reason: str, meta: dict[str, Any]) -> None:
        if self.status == CLOSED:
            self._reopen(reason=reason, meta=meta)

    @event("CaseReopened")
    def _reopen(self, reason: str, meta: dict[str, Any]) -> None:
        self.status = OPEN

    # ----- inputs to the referral pathways (issue #4) ---------------------------------------

    def record_referral_input(self, which: str, *, idempotency_key: str, meta: dict[str, Any], **fields: Any) -> None:
        """Rehousing request, perpetrator willingness, safeguarding concern or MARAC form details."""
        self._require_open()
        getattr(self, f"_{which}")(idempotency_key=idempotency_key, meta=meta, **fields)

    @event("RehousingRequested")
    def _rehousing_requested(self, idempotency_key: str, route: str, reason: str, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.details["rehousing"] = {"route": route, "reason": reason}

    @event("PerpetratorWillingnessRecorded")
    def _perpetrator_willingness(self, idempotency_key: str, willing: bool, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.details["perpetrator_willing"] = willing

    @event("SafeguardingConcernRecorded")
    def _safeguarding_concern(self, idempotency_key: str, kind: str, details: str, meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        self.details.setdefault("safeguarding_concerns", []).append({"kind": kind, "details": details})

    @event("MaracReferralDetailsRecorded")
    def _marac_referral_details(self, idempotency_key: str, form: dict[str, Any], meta: dict[str, Any]) -> None:
        # Safe times and the people named stay here, in intake's store (translation publishes flags).
        self.applied_keys.add(idempotency_key)
        self.details["marac_form"] = form

    # ----- lawful erasure (ADR 0022) --------------------------------------------------------

    def subject_id(self, subject: str) -> str:
        """The random id whose key seals this subject's fields ("" on a case recorded before)."""
        return getattr(self, "subjects", {}).get(subject, "")

    def is_erased(self, subject: str) -> bool:
        return subject in getattr(self, "erased", {})

    def record_erasure(self, *, idempotency_key: str, subject: str, reason: str, erased_at: datetime,
                       meta: dict[str, Any]) -> None:
        """The subject's key has been destroyed: recorded once, on an open or a closed case."""
        if not self.is_erased(subject):
            self._subject_erased(idempotency_key=idempotency_key, subject=subject, reason=reason,
                                 erased_at=erased_at, meta=meta)

    @event("SubjectErased")
    def _subject_erased(self, idempotency_key: str, subject: str, reason: str, erased_at: datetime,
                        meta: dict[str, Any]) -> None:
        self.applied_keys.add(idempotency_key)
        if not hasattr(self, "erased"):
            self.erased = {}
        self.erased[subject] = {"at": erased_at, "by": meta.get("actor", {})}

    def _require_open(self) -> None:
        if self.status != OPEN:
            raise CaseClosedError(f"case {self.id} is closed")


class LinkedDisclosure(CaseAggregate):
    """A disclosure added to a victim's open case: remembers which case, under the same id a
    new case would have had, so a retry of the same request finds it."""

    @staticmethod
    def create_id(idempotency_scope: str, idempotency_key: str, **_: Any) -> UUID:
        return Case.create_id(idempotency_scope, idempotency_key)

    @event("DisclosureLinked")
    def __init__(
        self, *, idempotency_scope: str, idempotency_key: str, case_id: str, request_hash: str,
        meta: dict[str, Any],
    ) -> None:
        self.case_id = case_id
        self.request_hash = request_hash


class VictimIndex(CaseAggregate):
    """Which case is open for a victim (by tenancy reference): a second disclosure links to it."""

    @staticmethod
    def create_id(tenant_ref: str, **_: Any) -> UUID:
        return stable_id("intake", "victim", tenant_ref.strip().upper())

    @event("VictimIndexed")
    def __init__(self, *, tenant_ref: str, case_id: str) -> None:
        self.open_case_id: str | None = case_id

    @event("OpenCaseChanged")
    def set_open_case(self, case_id: str | None) -> None:
        self.open_case_id = case_id
