"""A rolling restart, as Kubernetes does one for every deployment: intake's two replicas behind
one address (`L4Proxy`, standing in for the Service's proxy), each stopped with SIGTERM and
started again in turn while two partner systems keep submitting disclosures.

Kubernetes takes a stopping pod out of the Service's endpoints at the same time as it sends
SIGTERM, and the proxies on each node hear of it a moment later. A replica that stopped
listening at once would refuse the connections still sent to it in that moment, and partners
would see UNAVAILABLE at every deployment. With `CASEWORK_SHUTDOWN_DELAY_S` (the chart's
`shutdownDelaySeconds`) a stopping replica reports NOT_SERVING and keeps serving for that long,
then lets its callers go (GOAWAY) with their calls finished: the partners see no error (but for
gRPC's own race at the instant of the stop, below), every replica exits by itself, and every
count reconciles afterwards."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from caseplatform.devstack.ports import free_ports
from caseplatform.devstack.stack import DevStack
from caseplatform.l4_proxy import L4Proxy
from caseplatform.runner import CALLS_GRACE_S, KAFKA_CLOSE_S
from caseplatform.testing import postgres_or_skip
from casework.intake.v1 import intake_pb2_grpc

from .client import Client, authenticated_channel, eventually
from .conftest import new_stack, store_env
from .test_fault_matrix import Load
from .test_faults import each_case_once_on_its_timeline, settled

pytestmark = [pytest.mark.system, pytest.mark.postgres]

SHUTDOWN_DELAY_S = 2.0
# After the delay, what the runner bounds a stop's steps by (calls in progress, then the Kafka
# clients of a group rebalancing), and two seconds for the rest: well short of a kill.
STOP_STEPS_S = CALLS_GRACE_S + KAFKA_CLOSE_S + 2
PROXY_LAG_S = 1.0  # how long after SIGTERM the proxy stops sending new connections to the pod


@pytest.fixture
def intake_replicas(tmp_path: Path, real_time: None) -> Iterator[tuple[DevStack, Client, list[str]]]:
    postgres_or_skip()  # two replicas share one store
    with store_env("postgres") as env, new_stack(tmp_path, CASEWORK_SHUTDOWN_DELAY_S=str(SHUTDOWN_DELAY_S), **env) as stack:
        replica = stack.add_replica("intake", *free_ports(2))
        client = Client(stack)
        yield stack, client, ["intake", replica]
        client.close()


def test_a_rolling_restart_of_intake_loses_no_call(intake_replicas: tuple[DevStack, Client, list[str]]) -> None:
    stack, client, instances = intake_replicas
    with L4Proxy([stack.grpc_address(i) for i in instances]) as proxy:
        channels = [authenticated_channel(stack, "intake", proxy.address) for _ in range(2)]
        partners = [Load(intake_pb2_grpc.IntakeServiceStub(c), per_second=10) for c in channels]
        try:
            with partners[0], partners[1]:
                for n, instance in enumerate(instances, start=1):
                    for partner in partners:
                        partner.wait_for(15 * n)
                    address = stack.grpc_address(instance)
                    proxy.remove(address, after=PROXY_LAG_S)
                    code, took = _stop_gracefully(stack, instance)
                    # a clean exit, not the devstack's SIGKILL after 10 s (Kubernetes': after the grace period)
                    assert code == 0, f"{instance} did not stop by itself: exit {code}"
                    assert SHUTDOWN_DELAY_S <= took < SHUTDOWN_DELAY_S + STOP_STEPS_S, (
                        f"{instance} took {took:.1f}s to stop: {_stopped_line(stack, instance)}")
                    stack.start_service(instance)
                    proxy.add(address)
                for partner in partners:
                    partner.wait_for(15 * (len(instances) + 1))
        finally:
            for channel in channels:
                channel.close()
    refusals = partners[0].refusals + partners[1].refusals
    # A call that reaches a server in the very instant it stops is answered CANCELLED by gRPC's
    # core (grpc/grpc#41785; about once in 25 runs of this test): partners retry it like
    # UNAVAILABLE (README). Nothing else may fail.
    cancelled = refusals.pop(grpc.StatusCode.CANCELLED, 0)
    assert not refusals, f"partners saw errors during the rolling restart: {partners[0].errors + partners[1].errors}"
    assert cancelled <= len(instances), partners[0].errors + partners[1].errors
    assert proxy.refused == 0, "a stopping replica refused a connection the proxy still sent it"
    case_ids = partners[0].case_ids + partners[1].case_ids
    assert len(set(case_ids)) == len(case_ids)
    settled(client, len(case_ids), partners[0].with_children + partners[1].with_children, timeout=180)
    each_case_once_on_its_timeline(client, case_ids)


def _stopped_line(stack: DevStack, instance: str) -> str:
    """What the instance said of its stop, step by step (`runner`: "<service> stopped: ...")."""
    lines = [line for line in stack.log_path(instance).read_text(errors="replace").splitlines() if " stopped: " in line]
    return lines[-1] if lines else "(it said nothing of its stop)"


def _stop_gracefully(stack: DevStack, instance: str) -> tuple[int, float]:
    """SIGTERM `instance`; it must say NOT_SERVING at once (readiness) and exit after the delay.
    Returns its exit code and the seconds it took to exit."""
    health = health_pb2_grpc.HealthStub(grpc.insecure_channel(stack.grpc_address(instance)))
    started = time.monotonic()
    exit_code: list[int] = []
    stopper = threading.Thread(target=lambda: exit_code.append(stack.kill_service(instance, signal.SIGTERM)))
    stopper.start()

    def not_serving() -> None:
        answer = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
        assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING

    eventually(not_serving, timeout=SHUTDOWN_DELAY_S - 1, interval=0.1)
    stopper.join(timeout=60)
    assert exit_code, "the stop did not return"
    return exit_code[0], time.monotonic() - started
