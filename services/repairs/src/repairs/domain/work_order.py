"""The WorkOrder aggregate: one piece of target hardening or emergency repair on a case — the
measures, priority and deadline, the evidence before and after, the contractor, a lock-change
approval, and the work's start and completion (DOMAIN.md §Target hardening and repairs).

Rules (each raises PreconditionFailed; the edge answers FAILED_PRECONDITION):
- a damage repair (EMERGENCY_REPAIR_*) does not start without a BEFORE photo;
- a LOCK_CHANGE in a joint tenancy does not start without a CSO's or line manager's approval;
- work is not completed without AFTER evidence, nor before it started;
- nothing changes on a cancelled or completed order.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from caseplatform.aggregate import CaseAggregate
from caseplatform.errors import PreconditionFailed
from caseplatform.ids import stable_id

SENSITIVITY_INSTRUCTION = (
    "Urgent work. Behave sympathetically in the home. Do not discuss the case, or why the work "
    "is being done, with anyone in the household."
)


class Measure(StrEnum):
    FIREPROOF_LETTERBOX = "FIREPROOF_LETTERBOX"
    DOOR_STRENGTHENING = "DOOR_STRENGTHENING"
    GATE_STRENGTHENING = "GATE_STRENGTHENING"
    WINDOW_STRENGTHENING = "WINDOW_STRENGTHENING"
    LIGHTING = "LIGHTING"
    EXTRA_LOCKS = "EXTRA_LOCKS"
    LOCK_CHANGE = "LOCK_CHANGE"
    FENCING_OR_WALLS = "FENCING_OR_WALLS"
    WINDOW_DOOR_ALARMS = "WINDOW_DOOR_ALARMS"
    CCTV = "CCTV"
    MOBILE_PHONE_AND_CREDIT = "MOBILE_PHONE_AND_CREDIT"
    EMERGENCY_REPAIR_REGLAZING = "EMERGENCY_REPAIR_REGLAZING"
    EMERGENCY_REPAIR_SECURING = "EMERGENCY_REPAIR_SECURING"


DAMAGE_REPAIRS = frozenset({Measure.EMERGENCY_REPAIR_REGLAZING, Measure.EMERGENCY_REPAIR_SECURING})


class Priority(StrEnum):
    EMERGENCY = "EMERGENCY"
    SECURITY = "SECURITY"
    ROUTINE = "ROUTINE"


class Source(StrEnum):
    INITIAL_ASSESSMENT = "INITIAL_ASSESSMENT"
    MARAC_ACTION = "MARAC_ACTION"
    DACC_OUTCOME = "DACC_OUTCOME"
    CSO = "CSO"


class Stage(StrEnum):
    BEFORE = "BEFORE"
    AFTER = "AFTER"


class ApproverRole(StrEnum):
    APPROVER_CSO = "APPROVER_CSO"
    APPROVER_LINE_MANAGER = "APPROVER_LINE_MANAGER"

    @property
    def caller_role(self) -> str:
        return self.value.removeprefix("APPROVER_")


class Status(StrEnum):
    RAISED = "RAISED"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


def deadline_kind(priority: str) -> str:
    return f"REPAIRS_{priority}"


def work_order_id_for(case_id: str, agency: str, idempotency_key: str) -> UUID:
    """The same (case, caller agency, key) always names the same work order (ADR 0006)."""
    return stable_id("repairs", "work-order", case_id, agency, idempotency_key)


class WorkOrder(CaseAggregate):
    @staticmethod
    def create_id(work_order_id: UUID, **_: Any) -> UUID:
        return work_order_id

    @event("WorkOrderRaised")
    def __init__(
        self,
        *,
        work_order_id: UUID,
        case_id: str,
        measures: list[str],
        priority: str,
        source: str,
        reason: str,
        joint_tenancy: bool,
        postcode_district: str,
        request_hash: str,
        deadline: dict[str, str],
        raised_at: datetime,
        meta: dict[str, Any],
    ) -> None:
        self.case_id = case_id
        self.measures = list(measures)
        self.priority = priority
        self.source = source
        self.reason = reason
        self.joint_tenancy = joint_tenancy
        self.postcode_district = postcode_district
        self.request_hash = request_hash
        self.deadline = deadline
        self.raised_at = raised_at
        self.status = Status.RAISED.value
        self.contractor = ""
        self.evidence: list[dict[str, Any]] = []
        self.approval: dict[str, Any] | None = None
        self.started_at: datetime | None = None
        self.completed_at: datetime | None = None
        self.on_time = False
        self.cancel_reason = ""
        self.progress: list[dict[str, Any]] = []

    # -- queries ---------------------------------------------------------------------------

    @property
    def sensitivity_instruction(self) -> str:
        return SENSITIVITY_INSTRUCTION

    @property
    def is_damage_repair(self) -> bool:
        return any(m in DAMAGE_REPAIRS for m in self.measures)

    @property
    def needs_lock_change_approval(self) -> bool:
        return self.joint_tenancy and Measure.LOCK_CHANGE in self.measures

    def has_evidence(self, stage: Stage) -> bool:
        return any(e["stage"] == stage.value for e in self.evidence)

    def find_evidence(self, evidence_id: str) -> dict[str, Any] | None:
        return next((e for e in self.evidence if e["evidence_id"] == evidence_id), None)

    def _refuse_if_closed(self, doing: str) -> None:
        if self.status in (Status.CANCELLED, Status.COMPLETED):
            raise PreconditionFailed(f"cannot {doing}: the work order is {self.status.lower()}")

    # -- commands --------------------------------------------------------------------------

    def attach_evidence(
        self, *, evidence_id: str, stage: Stage, reference: str, sha256: str, content_type: str,
        size_bytes: int, attached_by: str, attached_at: datetime, meta: dict[str, Any],
    ) -> dict[str, Any]:
        existing = self.find_evidence(evidence_id)
        if existing is not None:
            return existing  # the same photo at the same stage again: already recorded
        self._refuse_if_closed("attach evidence")
        self._evidence_attached(
            case_id=self.case_id, evidence_id=evidence_id, stage=stage.value, reference=reference, sha256=sha256,
            content_type=content_type, size_bytes=size_bytes, attached_by=attached_by,
            attached_at=attached_at, meta=meta,
        )
        found = self.find_evidence(evidence_id)
        assert found is not None
        return found

    @event("EvidenceAttached")
    def _evidence_attached(
        self, *, case_id: str, evidence_id: str, stage: str, reference: str, sha256: str, content_type: str,
        size_bytes: int, attached_by: str, attached_at: datetime, meta: dict[str, Any],
    ) -> None:
        self.evidence.append({
            "evidence_id": evidence_id, "stage": stage, "reference": reference, "sha256": sha256,
            "content_type": content_type, "size_bytes": size_bytes, "attached_by": attached_by,
            "attached_at": attached_at,
        })

    def assign_contractor(self, contractor: str, meta: dict[str, Any]) -> None:
        self._refuse_if_closed("assign a contractor")
        if self.status == Status.IN_PROGRESS:
            raise PreconditionFailed("cannot reassign: work has started")
        if self.contractor == contractor:
            return
        self._contractor_assigned(case_id=self.case_id, contractor=contractor, meta=meta)

    @event("ContractorAssigned")
    def _contractor_assigned(self, *, case_id: str, contractor: str, meta: dict[str, Any]) -> None:
        self.contractor = contractor
        self.status = Status.ASSIGNED.value

    def approve_lock_change(
        self, *, approver_role: ApproverRole, approved_by: str, reason: str, approved_at: datetime,
        meta: dict[str, Any],
    ) -> None:
        self._refuse_if_closed("approve a lock change")
        if not self.needs_lock_change_approval:
            raise PreconditionFailed("only a LOCK_CHANGE in a joint tenancy needs approval")
        if self.approval is not None:
            return
        self._lock_change_approved(
            case_id=self.case_id, approver_role=approver_role.value, approved_by=approved_by, reason=reason,
            approved_at=approved_at, meta=meta,
        )

    @event("LockChangeApproved")
    def _lock_change_approved(
        self, *, case_id: str, approver_role: str, approved_by: str, reason: str, approved_at: datetime, meta: dict[str, Any]
    ) -> None:
        self.approval = {
            "approver_role": approver_role, "approved_by": approved_by, "reason": reason, "approved_at": approved_at,
        }

    def start_work(self, started_at: datetime, meta: dict[str, Any]) -> None:
        if self.status == Status.IN_PROGRESS:
            return
        self._refuse_if_closed("start work")
        if self.is_damage_repair and not self.has_evidence(Stage.BEFORE):
            raise PreconditionFailed("photograph the damage before repairing it: attach BEFORE evidence first")
        if self.needs_lock_change_approval and self.approval is None:
            raise PreconditionFailed(
                "a lock change in a joint tenancy needs CSO or line-manager approval first (ApproveLockChange)"
            )
        self._work_started(case_id=self.case_id, started_at=started_at, meta=meta)

    @event("WorkStarted")
    def _work_started(self, *, case_id: str, started_at: datetime, meta: dict[str, Any]) -> None:
        self.started_at = started_at
        self.status = Status.IN_PROGRESS.value

    def report_progress(self, *, note: str, reported_by: str, reported_at: datetime, meta: dict[str, Any]) -> None:
        self._refuse_if_closed("report progress")
        self._progress_reported(case_id=self.case_id, note=note, reported_by=reported_by, reported_at=reported_at, meta=meta)

    @event("ProgressReported")
    def _progress_reported(self, *, case_id: str, note: str, reported_by: str, reported_at: datetime, meta: dict[str, Any]) -> None:
        self.progress.append({"note": note, "reported_by": reported_by, "reported_at": reported_at})

    def complete_work(self, completed_at: datetime, meta: dict[str, Any]) -> None:
        if self.status == Status.COMPLETED:
            return
        self._refuse_if_closed("complete work")
        if self.status != Status.IN_PROGRESS:
            raise PreconditionFailed("work has not started (StartWork first)")
        if not self.has_evidence(Stage.AFTER):
            raise PreconditionFailed("attach AFTER evidence of the finished work first")
        on_time = completed_at <= datetime.fromisoformat(self.deadline["due_at"])
        self._work_completed(case_id=self.case_id, deadline=self.deadline, completed_at=completed_at, on_time=on_time, meta=meta)

    @event("WorkCompleted")
    def _work_completed(
        self, *, case_id: str, deadline: dict[str, str], completed_at: datetime, on_time: bool, meta: dict[str, Any]) -> None:
        self.completed_at = completed_at
        self.on_time = on_time
        self.status = Status.COMPLETED.value

    def cancel(self, reason: str, meta: dict[str, Any]) -> None:
        if self.status == Status.CANCELLED:
            return
        if self.status == Status.COMPLETED:
            raise PreconditionFailed("cannot cancel: the work is completed")
        self._cancelled(case_id=self.case_id, reason=reason, meta=meta)

    @event("WorkOrderCancelled")
    def _cancelled(self, *, case_id: str, reason: str, meta: dict[str, Any]) -> None:
        self.cancel_reason = reason
        self.status = Status.CANCELLED.value


class ContractorJobs(CaseAggregate):
    """The work orders assigned to one contractor, for ListMyJobs (not published)."""

    @staticmethod
    def create_id(contractor: str, **_: Any) -> UUID:
        return stable_id("repairs", "contractor-jobs", contractor)

    @event("ContractorJobsOpened")
    def __init__(self, *, contractor: str, meta: dict[str, Any]) -> None:
        self.contractor = contractor
        self.work_order_ids: list[str] = []

    @event("JobAdded")
    def add(self, *, work_order_id: str, meta: dict[str, Any]) -> None:
        if work_order_id not in self.work_order_ids:
            self.work_order_ids.append(work_order_id)

    @event("JobRemoved")
    def remove(self, *, work_order_id: str, meta: dict[str, Any]) -> None:
        if work_order_id in self.work_order_ids:
            self.work_order_ids.remove(work_order_id)
