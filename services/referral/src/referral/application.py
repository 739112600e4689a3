"""ReferralApplication: requires the referrals a case's events call for."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from caseplatform.deadlines import deadline_from_message
from caseplatform.envelope import IncomingEvent
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from casework.referral.v1 import referral_pb2
from referral.domain.referral import (
    CHILDRENS_MARF,
    LOCAL_AUTHORITY_DUTY_TEAM,
    Referral,
    childrens_referral_reason,
)

CHILDRENS_REFERRAL_DEADLINE = "CHILDRENS_REFERRAL"


class ReferralApplication(ServiceApplication):
    def __init__(self, settings: PlatformSettings, env: dict[str, str] | None = None) -> None:
        super().__init__("referral", settings, env)

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if isinstance(event.payload, intake_events.DisclosureReceived):
            self._children_referral(event.payload, unit)

    def _children_referral(self, disclosure: intake_events.DisclosureReceived, unit: Unit) -> None:
        if not disclosure.children_ages:
            return
        if unit.get(Referral.create_id(disclosure.case_id, CHILDRENS_MARF)) is not None:
            return
        # The deadline was started by intake when the disclosure was received (same day).
        deadline = next(d for d in disclosure.deadlines if d.kind == CHILDRENS_REFERRAL_DEADLINE)
        unit.collect(
            Referral(
                case_id=disclosure.case_id,
                referral_type=CHILDRENS_MARF,
                target_agency=LOCAL_AUTHORITY_DUTY_TEAM,
                reason=childrens_referral_reason(len(disclosure.children_ages)),
                deadline=deadline_from_message(deadline),
                meta=unit.meta(),
            )
        )

    def referrals_for(self, case_id: UUID) -> list[Referral]:
        found = []
        for referral_type in referral_pb2.ReferralType.keys()[1:]:
            try:
                found.append(self.repository.get(Referral.create_id(str(case_id), referral_type)))
            except AggregateNotFoundError:
                continue
        return found
