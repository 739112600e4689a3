"""referral.v1.ReferralService."""

from __future__ import annotations

import asyncio

from caseplatform.deadlines import deadline_message
from caseplatform.envelope import to_timestamp
from caseplatform.ids import parse_uuid
from casework.referral.v1 import referral_pb2, referral_pb2_grpc
from referral.application import ReferralApplication


class ReferralServicer(referral_pb2_grpc.ReferralServiceServicer):
    def __init__(self, app: ReferralApplication) -> None:
        self._app = app

    async def ListReferrals(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        referrals = await asyncio.to_thread(self._app.referrals_for, case_id)
        return referral_pb2.ListReferralsResponse(
            referrals=[
                referral_pb2.Referral(
                    referral_id=str(r.id),
                    case_id=r.case_id,
                    type=referral_pb2.ReferralType.Value(r.referral_type),
                    target_agency=r.target_agency,
                    reason=r.reason,
                    status=r.status,
                    required_at=to_timestamp(r.created_on),
                    deadline=deadline_message(r.deadline),
                )
                for r in referrals
            ]
        )


def register(app: ReferralApplication):
    servicer = ReferralServicer(app)
    return lambda server: referral_pb2_grpc.add_ReferralServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [referral_pb2.DESCRIPTOR.services_by_name["ReferralService"].full_name]
