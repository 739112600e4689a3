"""Runs one service process: store, gRPC edge, relay, tracked consumer and metrics, with a clean
shutdown on SIGINT/SIGTERM. Each service's `__main__` calls `run_service` with its own parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import grpc
from faststream.kafka import KafkaBroker
from grpc_health.v1 import health_pb2
from prometheus_client import start_http_server

from caseplatform import metrics
from caseplatform.access_guard import AccessGuard
from caseplatform.access_rules import RULES
from caseplatform.audit import ReadAudit, is_access_event_class, skip_audit, translate_access
from caseplatform.case_owners import OwnerIndex, is_kernel_event, is_kernel_event_class
from caseplatform.clock import OffsetClock, set_process_clock
from caseplatform.consumer import TrackedConsumer
from caseplatform.dead_letters import DeadLetters, DeadLetterShelf, count_pending
from caseplatform.envelope import event_types
from caseplatform.inbox import Inbox, Policy
from caseplatform.kafka.admin import ensure_topics
from caseplatform.kafka.security import kafka_security
from caseplatform.ops import OpsServicer, register_ops
from caseplatform.relay import Publishes, Relay, Translator
from caseplatform.relay_lease import lease_for
from caseplatform.settings import PlatformSettings, service_settings
from caseplatform.store import ServiceApplication
from caseplatform.telemetry import setup_tracing
from caseplatform.tls import allow_plaintext_from_env
from caseplatform.topology import SUBSCRIPTIONS, dead_letter_topic_for, topic_for

if TYPE_CHECKING:
    from caseplatform.grpc_server import CaseArrival

log = logging.getLogger(__name__)
CALLS_GRACE_S = 3  # calls in progress when the server stops get this long to finish
KAFKA_CLOSE_S = 3.0  # then the Kafka clients this long to close (see `_close_kafka_clients`)


@dataclass
class ServiceParts:
    """What a service brings; the runner supplies everything else."""

    app: ServiceApplication
    translate: Translator
    policy: Policy | None
    grpc_register: Sequence[Callable[[grpc.aio.Server], None]]
    grpc_service_names: Sequence[str]
    # The service's own long-running tasks (name -> coroutine function), e.g. a watch that acts
    # when time passes. Each runs supervised (restarted if it fails) until the process stops.
    background: Mapping[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    # Who owns a case (the CHO), for the need-to-know check; None: learnt from intake's events
    # by the kernel's owner index (caseplatform.case_owners). Intake knows its own cases.
    owner_of: Callable[[str], str | None] | None = None
    # Whether the service's policy reads the read audit (`common.v1.CaseAccessed`, reporting's
    # access log); for every other service the kernel steps over those messages.
    reads_audit: bool = False
    # Which of the service's domain event classes `translate` can publish (the relay decodes
    # no others); None: every one is decoded and translated.
    publishes: Publishes | None = None

    @classmethod
    def of(
        cls,
        app: ServiceApplication,
        translate: Translator,
        grpc_api: Any,
        policy: Policy | None = None,
        background: Mapping[str, Callable[[], Awaitable[None]]] | None = None,
        publishes: Publishes | None = None,
    ) -> ServiceParts:
        """From a service's application, translation and `entrypoints.grpc_api` module
        (which offers `register(app)` and `SERVICE_NAMES`)."""
        return cls(app, translate, policy, [grpc_api.register(app)], grpc_api.SERVICE_NAMES, dict(background or {}),
                   publishes=publishes)


def wire_broker(
    service: str, settings: PlatformSettings, inbox: Inbox | None,
    before_batch: Callable[[], Awaitable[None]] | None = None,
) -> KafkaBroker:
    """The service's FastStream broker: its subscriber (the tracked consumer) and, for the
    AsyncAPI document, its own topic. No I/O here: connecting happens in `broker.start()`."""
    return wire_service_broker(service, settings, inbox, before_batch)[0]


def wire_service_broker(
    service: str, settings: PlatformSettings, inbox: Inbox | None,
    before_batch: Callable[[], Awaitable[None]] | None = None,
) -> tuple[KafkaBroker, TrackedConsumer | None]:
    """`wire_broker`, and the tracked consumer it subscribes (None for a service that consumes nothing)."""
    security = kafka_security()
    security.check_transport(settings.kafka_bootstrap_servers, allow_plaintext_from_env())
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        metadata_max_age_ms=2000,
        request_timeout_ms=10000,
        client_id=f"casework-{service}",
        description=f"The {service} service",
        log_level=logging.DEBUG,  # per-message "Received/Processed" lines only when debugging
        # Topics are created, with their partition counts, by the relays and the consumer's start:
        # never implicitly by a subscription (which would give them the broker's default).
        allow_auto_create_topics=False,
        security=security.faststream(),
        # The one subscriber takes the message as it is (`TrackedConsumer.on_events`): no
        # dependency injection or validation per batch.
        apply_types=False,
    )
    broker.publisher(
        topic_for(service),
        title=f"{service}: events",
        description=f"Domain events of the {service} service. Value: a serialised "
        "common.v1.EventEnvelope (proto/casework/common/v1/envelope.proto) whose payload is an "
        f"{service}.v1.* message from proto/casework/{service}/v1/events.proto. Key: the case id. "
        f"Event types: {', '.join(event_types(service)) or 'none yet'}.",
    )
    sources = SUBSCRIPTIONS.get(service, ())
    consumer = TrackedConsumer(broker, service, sources, settings, inbox, before_batch) if sources else None
    return broker, consumer


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("aiokafka", "kafka", "faststream"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def run_service(service: str, build: Callable[[PlatformSettings], ServiceParts]) -> None:
    configure_logging()
    asyncio.run(_serve(service, build))


async def _serve(service: str, build: Callable[[PlatformSettings], ServiceParts]) -> None:
    settings, grpc_port, metrics_port = service_settings(service)
    if settings.casework_clock_start is not None:
        set_process_clock(OffsetClock(settings.casework_clock_start, anchor=settings.casework_clock_anchor))
    provider = setup_tracing(service, settings)
    parts = await asyncio.to_thread(build, settings)
    access = KernelAccess.wire(service, parts, settings)
    relay = Relay(
        parts.app,
        access.translate,
        publishes=access.publishes,
        bootstrap=settings.kafka_bootstrap_servers,
        partitions=settings.kafka_topic_partitions,
        section_size=settings.relay_section_size,
        poll_interval_s=settings.relay_poll_interval_s,
        idle_poll_max_s=settings.relay_idle_poll_max_s,
        lease=lease_for(service, settings),
    )
    inbox = Inbox(parts.app, access.policy) if access.policy else None
    broker, consumer = wire_service_broker(service, settings, inbox, partial(
        relay.backlog_below, settings.relay_backlog_pause, settings.relay_backlog_pause_max_s))
    dead_letters = DeadLetters(service, SUBSCRIPTIONS.get(service, ()),
                               DeadLetterShelf(service, settings.kafka_bootstrap_servers), inbox)
    server, health_servicer = _build_grpc(service, parts, OpsServicer(parts.app, relay, dead_letters), grpc_port,
                                          settings, access)
    start_http_server(metrics_port, addr=settings.casework_bind_host)
    await server.start()
    servers = [server]
    if settings.casework_health_port:  # probes beside an mTLS API port
        from caseplatform.grpc_server import build_health_server

        servers.append(build_health_server(health_servicer, settings.casework_bind_host, settings.casework_health_port))
        await servers[-1].start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)  # operations: `kill -USR1 <pid>` shows what waits
    tasks = [asyncio.create_task(_supervised(relay.run, "relay", service), name="relay")]
    tasks += [asyncio.create_task(_supervised(run, name, service), name=name) for name, run in parts.background.items()]
    if inbox is not None:
        topics = [topic_for(s) for s in SUBSCRIPTIONS[service]] + [dead_letter_topic_for(service)]
        tasks.append(asyncio.create_task(_start_consumer(broker, settings, topics), name="consumer"))
        if consumer is not None:
            tasks.append(asyncio.create_task(_supervised(consumer.watch_lag, "consumer lag", service), name="consumer lag"))
        tasks.append(asyncio.create_task(
            _supervised(partial(count_pending, service, inbox), "dead letters count", service), name="dead letters count"))
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    log.info("%s serving gRPC on %s, metrics on %s", service, grpc_port, metrics_port)
    await stop.wait()
    log.info("%s stopping", service)
    phases = _Phases(loop)
    await health_servicer.enter_graceful_shutdown()
    await _drain(stop, settings.casework_shutdown_delay_s, service)
    phases.ended("not serving")
    await asyncio.gather(*(s.stop(grace=CALLS_GRACE_S) for s in servers))
    phases.ended("calls")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    phases.ended("relay and consumers")
    await _close_kafka_clients(broker, service)
    phases.ended("Kafka clients")
    provider.shutdown()
    # How long each step of a stop took: a slow stop (near its grace period) shows which step it was.
    log.info("%s stopped: %s", service, phases)


class _Phases:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._since = loop.time()
        self._took: list[tuple[str, float]] = []

    def ended(self, phase: str) -> None:
        now = self._loop.time()
        self._took.append((phase, now - self._since))
        self._since = now

    def __str__(self) -> str:
        return ", ".join(f"{phase} {took:.1f}s" for phase, took in self._took)


async def _close_kafka_clients(broker: KafkaBroker, service: str) -> None:
    """Leave the consumer group and close the clients, for at most `KAFKA_CLOSE_S`.

    A consumer asked to stop while its group rebalances (a new replica joining: every rolling
    update) first waits for its join to be answered, which the broker holds until the rebalance
    ends: in a rolling restart of two replicas that was 7 s and more, and the process was killed
    for outliving the stop's time (ADR 0040). Nothing
    depends on a clean close: positions are the store's (the inbox's tracking, not Kafka commits)
    and the relay records nothing before its sends are acknowledged, so past the bound the
    process lets the clients go and the group drops it after its session timeout."""
    closing = asyncio.ensure_future(broker.stop())
    done, _ = await asyncio.wait([closing], timeout=KAFKA_CLOSE_S)
    if not done:
        log.warning("%s: Kafka clients not closed after %gs (a group rebalancing?); leaving them", service, KAFKA_CLOSE_S)
        closing.cancel()
        await asyncio.gather(closing, return_exceptions=True)


async def _drain(stop: asyncio.Event, delay_s: float, service: str) -> None:
    """Keep serving, NOT_SERVING, for `delay_s` after the stop signal, so that no proxy still sends
    new connections to a port that is closed (ADR 0040); a second signal ends the wait at once."""
    if delay_s <= 0:
        return
    log.info("%s not serving; still answering for %gs while callers move to other replicas", service, delay_s)
    stop.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)


@dataclass
class KernelAccess:
    """What the kernel adds to every service for need-to-know (ADR 0021): the edge's guard, the
    case-owner index kept by the consumer, and the translation of its own events (access records
    are published as `common.v1.CaseAccessed`; the owner index is not published)."""

    guard: AccessGuard
    policy: Policy | None
    translate: Translator
    wait_for_case: CaseArrival | None = None  # the owner index's wait for a case to arrive (ADR 0026)
    publishes: Publishes | None = None  # what `translate` can publish (the relay decodes nothing else)

    @classmethod
    def wire(cls, service: str, parts: ServiceParts, settings: PlatformSettings) -> KernelAccess:
        owner_of, policy, wait_for_case = parts.owner_of, parts.policy, None
        if owner_of is None and "intake" in SUBSCRIPTIONS.get(service, ()):
            index = OwnerIndex(parts.app)
            owner_of, policy, wait_for_case = index.owner_of, index.around(parts.policy), index.wait_for_case
        if policy is not None and not parts.reads_audit:
            policy = skip_audit(policy)
        guard = AccessGuard(service, RULES, ReadAudit(parts.app), owner_of, settings.casework_landlord_agency)
        service_translate = parts.translate

        def translate(domain_event: Any) -> Any:
            if is_kernel_event(domain_event):
                return None
            return translate_access(domain_event) or service_translate(domain_event)

        service_publishes = parts.publishes

        def publishes(event_class: type) -> bool:  # what `translate` above can return something for
            if is_kernel_event_class(event_class):
                return False
            if is_access_event_class(event_class):
                return True
            return service_publishes is None or service_publishes(event_class)

        return cls(guard, policy, translate, wait_for_case, publishes)


def _build_grpc(
    service: str, parts: ServiceParts, ops: OpsServicer, port: int, settings: PlatformSettings, access: KernelAccess
) -> tuple[grpc.aio.Server, object]:
    from caseplatform.auth import AuthConfig, TokenVerifier
    from caseplatform.grpc_server import build_server
    from caseplatform.tls import TlsConfig

    return build_server(
        service,
        [*parts.grpc_register, lambda server: register_ops(server, ops)],
        [*parts.grpc_service_names, "common.v1.OpsService"],
        port,
        TokenVerifier(AuthConfig.from_env(settings.casework_data_dir)),
        host=settings.casework_bind_host,
        tls=TlsConfig.from_env(),
        allow_plaintext=allow_plaintext_from_env(),
        guard=access.guard,
        wait_for_case=access.wait_for_case,
        case_arrival_wait_s=settings.casework_case_arrival_wait_s,
        max_connection_age_s=settings.casework_grpc_max_connection_age_s,
    )


async def _supervised(run: Callable[[], Awaitable[None]], what: str, service: str = "") -> None:
    """Keep a long-running loop alive: if it ever ends or fails, say so, count it
    (`casework_background_task_failures_total`: a loop failing again and again, such as an SLA
    watch that cannot record breaches, is an alert, not only log lines) and start it again."""
    while True:
        try:
            await run()
            log.error("%s stopped unexpectedly; restarting it", what)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            log.error("%s was cancelled from inside; restarting it", what)
        except Exception:
            log.exception("%s failed; restarting it", what)
        metrics.BACKGROUND_FAILURES.labels(service, what).inc()
        await asyncio.sleep(1.0)


def _dump_tasks() -> None:
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=8)
        where = " <- ".join(f"{f.f_code.co_name}:{f.f_lineno}" for f in reversed(frames))
        log.warning("task %s: %s", task.get_name(), where or "(no frames)")


async def _start_consumer(broker: KafkaBroker, settings: PlatformSettings, topics: list[str]) -> None:
    """Connect the consumer, retrying while the broker is away: the service keeps serving
    gRPC (and storing) meanwhile; the relay and inbox catch up when it is back."""
    delay = 0.2
    while True:
        try:
            await ensure_topics(settings.kafka_bootstrap_servers, topics, settings.kafka_topic_partitions)
            await broker.start()
            return
        except Exception as exc:  # noqa: BLE001 - any connection failure means "try again"
            log.warning("consumer cannot reach the broker (%s); retrying", type(exc).__name__)
            try:
                await broker.stop()
            except Exception:
                log.debug("broker stop after failed start", exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
