"""A partner system's view of the stack: real gRPC over sockets, with an identity."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import timestamp_pb2

from caseplatform.auth import DevIssuer, IdentityTokenInterceptor
from caseplatform.calendar import LONDON
from caseplatform.devstack.stack import DevStack
from casework.common.v1 import ops_pb2, ops_pb2_grpc
from casework.intake.v1 import intake_pb2, intake_pb2_grpc
from casework.marac.v1 import marac_pb2, marac_pb2_grpc
from casework.referral.v1 import referral_pb2, referral_pb2_grpc
from casework.repairs.v1 import repairs_pb2, repairs_pb2_grpc
from casework.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from casework.risk.v1 import risk_pb2, risk_pb2_grpc

# Landlord staff who work every case (a CHO sees only their own patch: test_authorisation_matrix.py).
STAFF = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "cso-7"))
OPERATIONS = (("x-agency", "landlord"), ("x-role", "OPERATIONS"), ("x-user", "ops-1"))
T = TypeVar("T")


def timestamp(instant: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(instant.astimezone(UTC))
    return ts


def recent() -> datetime:
    """Five minutes ago, but never on the day before (Europe/London): a disclosure received
    before midnight has its children's referral due at that midnight, which a test started just
    after it would see breached at once. (`clear_of_midnight` keeps tests off the other side.)"""
    now = datetime.now(UTC)
    start_of_day = now.astimezone(LONDON).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(minutes=5), start_of_day.astimezone(UTC))


# Longer than any test on a private stack takes (the longest, a service frozen in turn, about 90 s),
# and short, as CI waits it out when a run meets midnight (the whole run must stay under 30 minutes).
MIDNIGHT_MARGIN = timedelta(minutes=3)


def wait_for_midnight(now: datetime, margin: timedelta = MIDNIGHT_MARGIN) -> float:
    """Seconds to wait so that a test starting at `now` does not run across London's midnight
    (0 when midnight is at least `margin` away): SLA clocks due at midnight would otherwise
    breach in the middle of a test that expects none to."""
    local = now.astimezone(LONDON)
    just_after = (local + timedelta(days=1)).replace(hour=0, minute=0, second=5, microsecond=0)
    wait = just_after - local
    return wait.total_seconds() if wait < margin + timedelta(seconds=5) else 0.0


def clear_of_midnight() -> None:
    """Wait, if London's midnight is near, until just after it (see `wait_for_midnight`)."""
    time.sleep(wait_for_midnight(datetime.now(UTC)))


def disclosure(
    *, children: int = 0, received_at: datetime | None = None, key: str | None = None
) -> intake_pb2.SubmitDisclosureRequest:
    received = received_at or recent()
    return intake_pb2.SubmitDisclosureRequest(
        idempotency_key=key or str(uuid.uuid4()),
        received_at=timestamp(received),
        channel=intake_pb2.VICTIM_DIRECT,
        victim=intake_pb2.Victim(
            tenant_ref=f"T-{uuid.uuid4().hex[:8]}",
            name="Synthetic Victim",
            address=intake_pb2.Address(line1="1 Example Street", postcode="NP4 6YB"),
        ),
        children=[intake_pb2.Child(age=3 + i) for i in range(children)],
    )


def authenticated_channel(stack: DevStack, service: str, address: str | None = None) -> grpc.Channel:
    """A channel to one service (at `address`, if it is reached another way) on which x-* identity
    metadata travels as a dev-issued token."""
    tokens = IdentityTokenInterceptor(DevIssuer(DevIssuer.default_dir(stack.data_dir)))
    return grpc.intercept_channel(grpc.insecure_channel(address or stack.grpc_address(service)), tokens)


class Client:
    def __init__(self, stack: DevStack) -> None:
        # Identities are said as x-* metadata in the tests and sent as tokens from the stack's dev issuer.
        self._channels = {name: authenticated_channel(stack, name) for name in stack.services}
        ch = self._channels
        self.intake = intake_pb2_grpc.IntakeServiceStub(ch["intake"])
        self.risk = risk_pb2_grpc.RiskServiceStub(ch["risk"])
        self.referral = referral_pb2_grpc.ReferralServiceStub(ch["referral"])
        self.marac = marac_pb2_grpc.MaracServiceStub(ch["marac"])
        self.repairs = repairs_pb2_grpc.RepairsServiceStub(ch["repairs"])
        self.reporting = reporting_pb2_grpc.ReportingServiceStub(ch["reporting"])

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()

    def submit(self, request: intake_pb2.SubmitDisclosureRequest) -> intake_pb2.SubmitDisclosureResponse:
        return self.intake.SubmitDisclosure(request, metadata=STAFF, timeout=10)

    def submit_many(self, requests: list[intake_pb2.SubmitDisclosureRequest]) -> list[str]:
        futures = [self.intake.SubmitDisclosure.future(r, metadata=STAFF, timeout=30) for r in requests]
        return [f.result().case_id for f in futures]

    def timeline(self, case_id: str) -> reporting_pb2.GetCaseTimelineResponse:
        return self.reporting.GetCaseTimeline(reporting_pb2.GetCaseTimelineRequest(case_id=case_id), metadata=STAFF, timeout=10)

    def referrals(self, case_id: str) -> referral_pb2.ListReferralsResponse:
        return self.referral.ListReferrals(referral_pb2.ListReferralsRequest(case_id=case_id), metadata=STAFF, timeout=10)

    def risk_history(self, case_id: str) -> risk_pb2.GetRiskHistoryResponse:
        return self.risk.GetRiskHistory(risk_pb2.GetRiskHistoryRequest(case_id=case_id), metadata=STAFF, timeout=10)

    def case_files(self, case_id: str) -> tuple[Any, Any]:
        return (
            self.marac.GetCaseFile(marac_pb2.GetCaseFileRequest(case_id=case_id), metadata=STAFF, timeout=10),
            self.repairs.GetCaseFile(repairs_pb2.GetCaseFileRequest(case_id=case_id), metadata=STAFF, timeout=10),
        )

    def event_counts(self, service: str) -> dict[str, int]:
        stub = ops_pb2_grpc.OpsServiceStub(self._channels[service])
        stats = stub.GetStoreStats(ops_pb2.GetStoreStatsRequest(), metadata=OPERATIONS, timeout=10)
        # Read models kept as rows (ADR 0024) count beside the events, as "rows:<name>"; like an
        # event type never recorded, an empty table is not listed.
        rows = {f"rows:{r.name}": r.rows for r in stats.read_model_rows if r.rows}
        return {c.event_type: c.count for c in stats.event_counts} | rows


def eventually(check: Callable[[], T], timeout: float = 60.0, interval: float = 0.2) -> T:
    """Retry `check` until it returns without raising (AssertionError or gRPC errors)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, grpc.RpcError):
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


def settled(complete: Callable[[], list], quiet_s: float = 1.0, timeout: float = 60.0) -> list:
    """`complete()`'s timeline entries once it passes and no entry arrives for `quiet_s`
    (other services keep reacting — referral, the SLA engine — for a moment after)."""

    def unchanged() -> list:
        before = complete()
        time.sleep(quiet_s)
        after = complete()
        assert [e.event_id for e in after] == [e.event_id for e in before]
        return after

    eventually(complete, timeout=timeout)
    return eventually(unchanged, timeout=60)


def casectl(stack: DevStack, *args: str, role: str | None = None, agency: str = "landlord") -> subprocess.CompletedProcess[str]:
    # Timelines are case content: a Housing Manager exports them; figures and rebuilds are
    # operations' (casectl's default role) — ADR 0021.
    role = role or ("HOUSING_MANAGER" if args[:1] == ("timeline",) else "operations")
    env = {
        **os.environ,
        "CASECTL_TARGET": stack.grpc_address("reporting"),
        "CASECTL_ROLE": role,
        "CASECTL_AGENCY": agency,
        "COLUMNS": "250",  # rich's tables: one row per line
        "CASEWORK_DATA_DIR": str(stack.data_dir),  # the stack's dev issuer mints casectl's token
    }
    # The command `make install` puts on the venv's PATH (the module itself if run outside `make`).
    script = Path(sys.executable).with_name("casectl")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "reporting.cli"]
    return subprocess.run([*command, *args], check=False, env=env, capture_output=True, text=True, timeout=180)
