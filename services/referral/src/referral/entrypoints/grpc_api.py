"""referral.v1.ReferralService: proto → command → application → proto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from caseplatform.envelope import to_timestamp
from caseplatform.identity import require_actor
from caseplatform.ids import parse_uuid
from caseplatform.validation import proto_to_dict
from casework.common.v1 import envelope_pb2
from casework.referral.v1 import referral_pb2, referral_pb2_grpc
from referral import commands
from referral.application import ReferralApplication
from referral.domain.referral import Referral
from referral.translation import deadline_msg, gate_value


class ReferralServicer(referral_pb2_grpc.ReferralServiceServicer):
    def __init__(self, app: ReferralApplication) -> None:
        self._app = app

    async def ListReferrals(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        referrals = await asyncio.to_thread(self._app.referrals_for, case_id, require_actor())
        return referral_pb2.ListReferralsResponse(referrals=[referral_message(r) for r in referrals])

    async def RecordVictimDecision(self, request, context):
        return await self._command(commands.RecordVictimDecision, request, self._app.record_victim_decision)

    async def MarkSent(self, request, context):
        return await self._command(commands.MarkSent, request, self._app.mark_sent)

    async def RecordAcknowledgement(self, request, context):
        return await self._command(commands.RecordAcknowledgement, request, self._app.record_acknowledgement)

    async def RecordOutcome(self, request, context):
        return await self._command(commands.RecordOutcome, request, self._app.record_outcome)

    async def OverrideConsent(self, request, context):
        return await self._command(commands.OverrideConsent, request, self._app.override_consent)

    async def RecordRehousingDecision(self, request, context):
        return await self._command(commands.RecordRehousingDecision, request, self._app.record_rehousing_decision)

    async def _command(self, model: type, request: Any, apply: Callable[..., Referral]) -> referral_pb2.Referral:
        command = commands.parse(model, proto_to_dict(request))
        return referral_message(await asyncio.to_thread(apply, command, require_actor()))


def referral_message(r: Referral) -> referral_pb2.Referral:
    message = referral_pb2.Referral(
        referral_id=str(r.id),
        case_id=r.case_id,
        type=referral_pb2.ReferralType.Value(r.referral_type),
        target_agency=r.target_agency,
        reason=r.reason,
        status=r.status,
        required_at=to_timestamp(r.required_at),
        consent=gate_value(r.gate),
        decline_reason=r.decline_reason,
        consent_withdrawn_after_sending=r.consent_withdrawn_after_sending,
        deadline_met_on_time=r.on_time,
        history=[
            referral_pb2.StatusChange(status=h["status"], at=to_timestamp(h["at"]), actor=envelope_pb2.Actor(**h["actor"]))
            for h in r.history
        ],
    )
    if r.deadline:
        message.deadline.CopyFrom(deadline_msg(r.deadline))
    if r.sent_at is not None:
        message.sent_at.CopyFrom(to_timestamp(r.sent_at))
    if r.acknowledged_at is not None:
        message.acknowledged_at.CopyFrom(to_timestamp(r.acknowledged_at))
    if r.outcome:
        message.outcome = referral_pb2.Outcome.Value(r.outcome)
    if r.override:
        o = r.override
        message.override.CopyFrom(referral_pb2.LawfulBasisOverride(
            lawful_basis=referral_pb2.LawfulBasis.Value(o["lawful_basis"]), grounds=o["grounds"], reason=o["reason"],
            officer_name=o["officer_name"], officer_role=o["officer_role"], at=to_timestamp(o["at"]),
        ))
    if r.rehousing:
        h = r.rehousing
        message.rehousing.CopyFrom(referral_pb2.RehousingDecision(
            route=referral_pb2.RehousingRoute.Value(h["route"]), approved=h["approved"],
            high_priority=h["high_priority"], reason=h["reason"], decided_by_role=h["decided_by_role"],
            at=to_timestamp(h["at"]),
        ))
    return message


def register(app: ReferralApplication):
    servicer = ReferralServicer(app)
    return lambda server: referral_pb2_grpc.add_ReferralServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [referral_pb2.DESCRIPTOR.services_by_name["ReferralService"].full_name]
