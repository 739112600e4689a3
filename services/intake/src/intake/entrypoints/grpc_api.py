"""intake.v1.IntakeService: proto → command → application → proto."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from caseplatform import access
from caseplatform.clock import process_clock
from caseplatform.deadlines import deadline_message
from caseplatform.envelope import to_timestamp
from caseplatform.errors import InvalidArgument, PermissionDenied
from caseplatform.identity import require_actor
from caseplatform.ids import parse_uuid
from caseplatform.paging import next_page_token, page_asked, too_many_for_one_answer
from caseplatform.validation import parse_command, proto_to_dict
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from intake import commands
from intake.application import IntakeApplication
from intake.domain.case import Case
from intake.sealing import Sealer

# Without page_size every matching case comes in one answer, up to this many (~1 MB: gRPC clients
# refuse answers over 4 MB by default); beyond it the caller is told to page (`caseplatform.paging`).
UNPAGED_MAX = 10_000


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, app: IntakeApplication) -> None:
        self._app = app

    async def SubmitDisclosure(self, request, context):
        command = parse_command(commands.SubmitDisclosure, proto_to_dict(request))
        submitted = await asyncio.to_thread(self._app.submit_disclosure, command, require_actor())
        case = submitted.case
        return intake_pb2.SubmitDisclosureResponse(
            case_id=case.case_id,
            created=submitted.created,
            deadlines=[deadline_message(d) for d in case.deadlines],
            owner_cho=case.owner.get("cho", ""),
            linked_to_open_case=submitted.linked,
        )

    async def GetCase(self, request, context):
        case_id = parse_uuid(request.case_id, "case_id")
        case = await asyncio.to_thread(self._app.get_case, case_id)
        return await asyncio.to_thread(case_response, case, self._app.sealer)

    async def ListCases(self, request, context):
        status = request.status.strip().upper()
        if status not in ("", "OPEN", "CLOSED"):
            raise InvalidArgument.one("status", "must be OPEN, CLOSED or empty")
        grade = request.risk_grade.strip().upper()
        if grade not in ("", "STANDARD", "MEDIUM", "HIGH"):
            raise InvalidArgument.one("risk_grade", "must be STANDARD, MEDIUM, HIGH or empty")
        owner = access.own_patch_only() or request.owner_cho  # a CHO lists their own cases only
        if owner != (request.owner_cho or owner):
            raise PermissionDenied("a CHO lists the cases on their own patch only")
        listing = intake_pb2.ListCasesRequest(owner_cho=owner, status=status, overdue_only=request.overdue_only,
                                              risk_grade=grade)  # what a page token is tied to
        page = page_asked(request.page_size, request.page_token, listing, key_parts=1)
        wanted = (owner, status, request.overdue_only, grade)
        if page.size is None:
            # One more than the limit: enough to tell that there are more than one answer carries.
            cases = await asyncio.to_thread(self._app.list_cases, *wanted, limit=UNPAGED_MAX + 1)
            if len(cases) > UNPAGED_MAX:
                raise too_many_for_one_answer("cases", UNPAGED_MAX)
            more = False
        else:
            after = page.after[0] if page.after else None
            cases = await asyncio.to_thread(self._app.list_cases, *wanted, after=after, limit=page.size + 1)
            more, cases = len(cases) > page.size, cases[:page.size]
        now = process_clock().now()
        return intake_pb2.ListCasesResponse(
            cases=[
                intake_pb2.CaseSummary(
                    case_id=c.case_id, owner_cho=c.owner_cho, status=c.status,
                    received_at=to_timestamp(c.received_at), overdue=c.overdue(now),
                    risk_grade=c.risk_grade,
                )
                for c in cases
            ],
            next_page_token=next_page_token([cases[-1].case_id], listing) if more else "",
        )

    async def RecordSafeContact(self, request, context):
        return await self._change(commands.RecordSafeContact, request, self._app.record_safe_contact)

    async def RecordConsent(self, request, context):
        return await self._change(commands.RecordConsent, request, self._app.record_consent)

    async def RecordNote(self, request, context):
        return await self._change(commands.RecordNote, request, self._app.record_note)

    async def RecordImmediateSafety(self, request, context):
        return await self._change(commands.RecordImmediateSafety, request, self._app.record_immediate_safety)

    async def RecordReportedElsewhere(self, request, context):
        return await self._change(commands.RecordReportedElsewhere, request, self._app.record_reported_elsewhere)

    async def RequestLegalAdvice(self, request, context):
        return await self._change(commands.ReasonedCommand, request, self._app.request_legal_advice)

    async def FlagPossiblePerpetratorAsVictim(self, request, context):
        return await self._change(commands.ReasonedCommand, request, self._app.flag_possible_perpetrator)

    async def CorrectDetails(self, request, context):
        return await self._change(commands.CorrectDetails, request, self._app.correct_details)

    async def CloseCase(self, request, context):
        return await self._change(commands.ChangeStatus, request, self._app.close_case)

    async def ReopenCase(self, request, context):
        return await self._change(commands.ChangeStatus, request, self._app.reopen_case)

    async def RecordRehousingRequest(self, request, context):
        return await self._change(commands.RecordRehousingRequest, request, self._app.record_rehousing_request)

    async def RecordPerpetratorWillingness(self, request, context):
        return await self._change(commands.RecordPerpetratorWillingness, request, self._app.record_perpetrator_willingness)

    async def RecordSafeguardingConcern(self, request, context):
        return await self._change(commands.RecordSafeguardingConcern, request, self._app.record_safeguarding_concern)

    async def RecordMaracReferralDetails(self, request, context):
        return await self._change(commands.RecordMaracReferralDetails, request, self._app.record_marac_referral_details)

    async def EraseSubject(self, request, context):
        command = parse_command(commands.EraseSubject, proto_to_dict(request))
        case, erased = await asyncio.to_thread(self._app.erase_subject, command, require_actor())
        subject = command.subject.value
        return intake_pb2.EraseSubjectResponse(
            case_id=case.case_id, subject=intake_pb2.DataSubject.Value(subject), erased=erased,
            erased_at=to_timestamp(case.erased[subject]["at"]),
        )

    async def _change(self, model: type, request: Any, apply: Callable[..., tuple[Case, bool]]) -> Any:
        command = parse_command(model, proto_to_dict(request))
        case, applied = await asyncio.to_thread(apply, command, require_actor())
        return intake_pb2.CaseChangeResponse(case_id=case.case_id, version=case.version, applied=applied)


def case_response(case: Case, sealer: Sealer) -> intake_pb2.GetCaseResponse:
    """The case as its owner sees it; personal fields opened with their subject's key ("[erased]")."""
    victim = sealer.open_victim(case.victim)
    safe_contact = sealer.open_safe_contact(case.safe_contact)
    preferred = safe_contact.get("preferred_contact_at")
    return intake_pb2.GetCaseResponse(
        case_id=case.case_id,
        channel=intake_pb2.Channel.Value(case.channel),
        received_at=to_timestamp(case.received_at),
        recorded_at=to_timestamp(case.recorded_at),
        tenant_ref=case.victim.get("tenant_ref", ""),
        postcode_district=case.postcode_district,
        children_count=len(case.children_ages),
        deadlines=[deadline_message(d) for d in case.deadlines],
        status=case.status,
        owner_cho=case.owner.get("cho", ""),
        area=case.owner.get("area", ""),
        safe_contact_made=case.safe_contact_made_at is not None,
        consent=[
            intake_pb2.ConsentState(
                agency=agency, decision=intake_pb2.ConsentDecision.Value(state["decision"]),
                decided_at=to_timestamp(state["at"]),
            )
            for agency, state in sorted(case.consent.items())
        ],
        disclosures=case.disclosures,
        notes=len(case.notes),
        possible_perpetrator_as_victim=case.possible_perpetrator_as_victim,
        overdue=case.overdue(process_clock().now()),
        risk_grade=case.risk_grade,
        landlord_actions=[
            intake_pb2.LandlordAction(action_id=i, kind=a["kind"], due_date=a["due_date"], status=a["status"])
            for i, a in case.landlord_actions.items()
        ],
        victim=intake_pb2.Victim(
            tenant_ref=victim.get("tenant_ref", ""), name=victim.get("name") or "",
            address=intake_pb2.Address(**victim["address"]), date_of_birth=victim.get("date_of_birth") or "",
        ),
        safe_contact=intake_pb2.SafeContact(
            safe_phone=safe_contact.get("safe_phone", ""), safe_times=safe_contact.get("safe_times", ""),
            may_leave_message=bool(safe_contact.get("may_leave_message")),
            preferred_contact_at=to_timestamp(datetime.fromisoformat(preferred)) if preferred else None,
        ),
        erased_subjects=[intake_pb2.DataSubject.Value(s) for s in sorted(getattr(case, "erased", {}))],
    )


def register(app: IntakeApplication):
    servicer = IntakeServicer(app)
    return lambda server: intake_pb2_grpc.add_IntakeServiceServicer_to_server(servicer, server)


SERVICE_NAMES = [intake_pb2.DESCRIPTOR.services_by_name["IntakeService"].full_name]
