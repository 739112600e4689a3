"""RepairsApplication: keeps a case file for every disclosed case, and the work orders raised on
it (target hardening and emergency repairs), their evidence, contractors and approvals."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from caseplatform.access import normalise, require_case
from caseplatform.calendar import WorkingDayCalendar
from caseplatform.clock import process_clock
from caseplatform.concurrency import retry_on_conflict
from caseplatform.deadlines import Deadline, deadline
from caseplatform.envelope import IncomingEvent
from caseplatform.errors import Conflict, InvalidArgument, NotFound, PermissionDenied
from caseplatform.identity import Actor
from caseplatform.ids import stable_id
from caseplatform.inbox import Unit
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication
from casework.intake.v1 import events_pb2 as intake_events
from casework.marac.v1 import events_pb2 as marac_events
from repairs import commands
from repairs.blobs import BlobStore, LocalBlobStore
from repairs.dacc import react as react_to_dacc_outcome
from repairs.domain.case_file import CaseFile
from repairs.domain.work_order import (
    ApproverRole,
    ContractorJobs,
    Priority,
    Status,
    WorkOrder,
    deadline_kind,
    work_order_id_for,
)
from repairs.marac_actions import raise_for_marac_action
from repairs.settings import RepairsSettings

REQUEST_HASH_VERSION = "v1"
FINISHED = (Status.COMPLETED.value, Status.CANCELLED.value)  # off a contractor's open jobs
CONTRACTOR_ROLE = "contractor"




@dataclass(frozen=True)
class Raised:
    work_order: WorkOrder
    created: bool


def is_contractor(actor: Actor) -> bool:
    return actor.role.lower() == CONTRACTOR_ROLE


class RepairsApplication(ServiceApplication):
    def __init__(
        self,
        settings: PlatformSettings,
        env: dict[str, str] | None = None,
        repairs_settings: RepairsSettings | None = None,
        calendar: WorkingDayCalendar | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        super().__init__("repairs", settings, env)
        self.repairs_settings = repairs_settings or RepairsSettings()
        self.calendar = calendar or WorkingDayCalendar()
        blob_dir = self.repairs_settings.blob_dir or Path(settings.casework_data_dir) / "repairs" / "blobs"
        self.blobs: BlobStore = blobs or LocalBlobStore(blob_dir)

    def policy(self, event: IncomingEvent, unit: Unit) -> None:
        if isinstance(event.payload, intake_events.DisclosureReceived):
            disclosure = event.payload
            if unit.get(CaseFile.create_id(disclosure.case_id)) is None:
                unit.collect(
                    CaseFile(
                        case_id=disclosure.case_id,
                        postcode_district=disclosure.postcode_district,
                        children_count=len(disclosure.children_ages),
                        meta=unit.meta(),
                    )
                )
        elif isinstance(event.payload, marac_events.ActionAgreed):
            raise_for_marac_action(self, event, unit)
        react_to_dacc_outcome(self, event, unit)  # DACC target hardening → a work order

    # -- deadlines -------------------------------------------------------------------------

    def deadline_for(self, priority: str, raised_at: datetime) -> Deadline:
        if priority == Priority.ROUTINE:
            due = self.calendar.due_after_working_days(raised_at, self.repairs_settings.routine_working_days)
        else:
            hours = self.repairs_settings.emergency_hours if priority == Priority.EMERGENCY else self.repairs_settings.security_hours
            due_at = raised_at + timedelta(hours=hours)
            due = (self.calendar.local_date(due_at), due_at)
        return deadline(deadline_kind(priority), due)

    # -- commands --------------------------------------------------------------------------

    def raise_work_order(self, command: commands.RaiseWorkOrder, actor: Actor) -> Raised:
        self._refuse_contractor(actor)
        request_hash = hashlib.sha256(f"{REQUEST_HASH_VERSION}:{command.model_dump_json()}".encode()).hexdigest()
        work_order_id = work_order_id_for(str(command.case_id), actor.agency, command.idempotency_key)
        for _attempt in range(5):
            existing = self._get(WorkOrder, work_order_id)
            if existing is not None:
                if existing.request_hash != request_hash:
                    raise Conflict("idempotency_key was already used for a different work order on this case")
                return Raised(existing, created=False)
            case_file = self.case_file(command.case_id)
            now = process_clock().now()
            order = WorkOrder(
                work_order_id=work_order_id,
                case_id=case_file.case_id,
                measures=[m.value for m in command.measures],
                priority=command.priority.value,
                source=command.source.value,
                reason=command.reason,
                joint_tenancy=command.joint_tenancy,
                postcode_district=case_file.postcode_district,
                request_hash=request_hash,
                deadline=self.deadline_for(command.priority.value, now),
                raised_at=now,
                meta=self.meta(actor),
            )
            case_file.file_work_order(work_order_id=str(work_order_id), meta=self.meta(actor))
            try:
                self.save(order, case_file)
            except IntegrityError:
                continue
            return Raised(order, created=True)
        raise RuntimeError("case file kept changing under concurrent writes")

    @retry_on_conflict
    def attach_evidence(self, command: commands.AttachEvidence, actor: Actor) -> dict[str, Any]:
        if len(command.content) > self.repairs_settings.max_evidence_bytes:
            raise InvalidArgument.one("content", f"is larger than {self.repairs_settings.max_evidence_bytes} bytes")
        order = self.work_order(command.work_order_id, actor)
        stored = self.blobs.put(command.content)
        evidence_id = str(_evidence_id(order.id, command.stage.value, stored.sha256))
        recorded = order.attach_evidence(
            evidence_id=evidence_id,
            stage=command.stage,
            reference=stored.reference,
            sha256=stored.sha256,
            content_type=command.content_type,
            size_bytes=stored.size_bytes,
            attached_by=actor.user,
            attached_at=process_clock().now(),
            meta=self.meta(actor),
        )
        self.save(order)
        return recorded

    @retry_on_conflict
    def assign_contractor(self, command: commands.AssignContractor, actor: Actor) -> WorkOrder:
        self._refuse_contractor(actor)
        order = self.work_order(command.work_order_id, actor)
        previous = order.contractor
        order.assign_contractor(command.contractor, meta=self.meta(actor))
        if order.contractor == previous:
            return order
        jobs = self._get(ContractorJobs, ContractorJobs.create_id(command.contractor)) or ContractorJobs(
            contractor=command.contractor, meta=self.meta(actor)
        )
        jobs.add(work_order_id=str(order.id), meta=self.meta(actor))
        to_save: list[Any] = [order, jobs]
        if previous:
            old = self._get(ContractorJobs, ContractorJobs.create_id(previous))
            if old is not None:
                old.remove(work_order_id=str(order.id), meta=self.meta(actor))
                to_save.append(old)
        self.save(*to_save)
        return order

    @retry_on_conflict
    def approve_lock_change(self, command: commands.ApproveLockChange, actor: Actor) -> WorkOrder:
        if not _may_approve_as(actor, command.approver_role):
            raise PermissionDenied(
                f"only a caller with role {command.approver_role.caller_role} may approve as {command.approver_role.value}"
            )
        order = self.work_order(command.work_order_id, actor)
        order.approve_lock_change(
            approver_role=command.approver_role,
            approved_by=actor.user,
            reason=command.reason,
            approved_at=process_clock().now(),
            meta=self.meta(actor),
        )
        self.save(order)
        return order

    @retry_on_conflict
    def start_work(self, work_order_id: UUID, actor: Actor) -> WorkOrder:
        order = self.work_order(work_order_id, actor)
        order.start_work(process_clock().now(), meta=self.meta(actor))
        self.save(order)
        return order

    @retry_on_conflict
    def complete_work(self, work_order_id: UUID, actor: Actor) -> WorkOrder:
        order = self.work_order(work_order_id, actor)
        order.complete_work(process_clock().now(), meta=self.meta(actor))
        self.save(order)
        return order

    @retry_on_conflict
    def cancel_work_order(self, command: commands.CancelWorkOrder, actor: Actor) -> WorkOrder:
        self._refuse_contractor(actor)
        order = self.work_order(command.work_order_id, actor)
        order.cancel(command.reason, meta=self.meta(actor))
        self.save(order)
        return order

    @retry_on_conflict
    def report_progress(self, command: commands.ReportProgress, actor: Actor) -> WorkOrder:
        if not is_contractor(actor):
            raise PermissionDenied("only the assigned contractor reports progress")
        order = self.work_order(command.work_order_id, actor)
        order.report_progress(
            note=command.note, reported_by=actor.user, reported_at=process_clock().now(), meta=self.meta(actor)
        )
        self.save(order)
        return order

    # -- queries ---------------------------------------------------------------------------

    def case_file(self, case_id: UUID) -> CaseFile:
        try:
            return self.repository.get(CaseFile.create_id(str(case_id)))
        except AggregateNotFoundError:
            raise NotFound("repairs case file for case", str(case_id)) from None

    def work_order(self, work_order_id: UUID, actor: Actor) -> WorkOrder:
        """The work order, if this caller may see it: a contractor sees only their own jobs."""
        order = self._get(WorkOrder, work_order_id)
        if order is None:
            raise NotFound("work order", str(work_order_id))
        if is_contractor(actor) and order.contractor != actor.agency:
            raise PermissionDenied("this work order is not assigned to you")
        require_case(order.case_id)  # a CHO: only work orders of their own patch's cases
        return order

    def work_orders(self, case_id: UUID, actor: Actor) -> list[WorkOrder]:
        self._refuse_contractor(actor)
        case_file = self.case_file(case_id)
        return [self.repository.get(UUID(i)) for i in case_file.work_order_ids]

    def my_jobs(self, actor: Actor, open_only: bool = False) -> list[WorkOrder]:
        """The jobs assigned to the calling contractor, in the order they were assigned."""
        return self.my_jobs_page(actor, open_only)[0]

    def my_jobs_page(
        self, actor: Actor, open_only: bool = False, after: tuple[str, int] | None = None, limit: int | None = None
    ) -> tuple[list[WorkOrder], tuple[str, int] | None]:
        """Up to `limit` of `my_jobs`, from after `after` (the job a previous page ended with and
        its place in the list then): (the jobs, where this page ended, or None on the last page).
        Only the jobs a page needs are read, reading on past finished ones with `open_only`."""
        if not is_contractor(actor):
            raise PermissionDenied("ListMyJobs is for contractors (x-role contractor)")
        jobs = self._get(ContractorJobs, ContractorJobs.create_id(actor.agency))
        ids = jobs.work_order_ids if jobs is not None else []
        found: list[tuple[int, WorkOrder]] = []
        for place in range(_resume_at(ids, after), len(ids)):
            order = self.repository.get(UUID(ids[place]))
            if order.contractor != actor.agency or (open_only and order.status in FINISHED):
                continue
            if limit is not None and len(found) == limit:  # one more than the page: there is a next
                last_place, last = found[-1]
                return [o for _, o in found], (str(last.id), last_place)
            found.append((place, order))
        return [o for _, o in found], None

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _refuse_contractor(actor: Actor) -> None:
        if is_contractor(actor):
            raise PermissionDenied("contractors may only see and report on their own jobs")

    def _get(self, _kind: type, aggregate_id: UUID) -> Any:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


def _may_approve_as(actor: Actor, approver: ApproverRole) -> bool:
    """The approver's role claim must match; the Housing Manager is a CHO's line manager."""
    claimed = normalise(actor.role)
    return claimed == approver.caller_role or (
        approver is ApproverRole.APPROVER_LINE_MANAGER and claimed == "HOUSING_MANAGER"
    )


def _evidence_id(work_order_id: UUID, stage: str, sha256: str) -> UUID:
    return stable_id("repairs", "evidence", work_order_id, stage, sha256)


def _resume_at(ids: list[str], after: tuple[str, int] | None) -> int:
    """Where the page after `after` starts. A job reassigned away since shifted the list: the one
    the page ended with is looked for by id; gone itself, the next one now sits at its place."""
    if after is None:
        return 0
    last, place = after
    try:
        return ids.index(last) + 1
    except ValueError:
        return min(place, len(ids))
