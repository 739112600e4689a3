"""gRPC server bootstrap: every service gets the same edge.

* health (grpc.health.v1) and server reflection;
* a verified bearer token (JWT: signature, issuer, audience, expiry) on every call, else
  UNAUTHENTICATED with the reason — streaming handlers included;
* domain errors mapped to status codes, with `google.rpc.BadRequest` field violations for
  INVALID_ARGUMENT so a partner system can show which field is wrong and why;
* need-to-know (ADR 0021): the RPC's access rule checked before the behaviour runs, refusals
  and reads of case data recorded in the read audit (`caseplatform.access_guard`);
* a span and metrics per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import trace

from caseplatform import metrics
from caseplatform.access import Access, current_access
from caseplatform.access_guard import AccessGuard, case_named_by
from caseplatform.audit import AuditUnavailable
from caseplatform.auth import TokenVerifier, Unauthenticated
from caseplatform.errors import (
    Conflict,
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    Unavailable,
)
from caseplatform.identity import Actor, current_actor
from caseplatform.store import STORE_TROUBLE
from caseplatform.telemetry import tracer
from caseplatform.tls import TlsConfig, bind

log = logging.getLogger(__name__)

# Infrastructure endpoints a probe or a developer tool calls without an identity.
OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_CODES: list[tuple[type[DomainError], grpc.StatusCode]] = [
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Conflict, grpc.StatusCode.ALREADY_EXISTS),
    (PreconditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
]


def _status_details(exc: DomainError, code: grpc.StatusCode) -> tuple[tuple[str, bytes], ...]:
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=str(exc))
    if isinstance(exc, InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.reason)
                for v in exc.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    return (("grpc-status-details-bin", status.SerializeToString()),)


# Waits until this service has learnt of a case, at most the given seconds: True if it has.
CaseArrival = Callable[[str, float], Awaitable[bool]]
_ANSWER_MARGIN_S = 0.1  # of the caller's deadline, left for answering after a wait


class EdgeInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        service: str,
        verifier: TokenVerifier,
        guard: AccessGuard | None = None,
        wait_for_case: CaseArrival | None = None,
        case_arrival_wait_s: float = 0.0,
    ) -> None:
        self._service = service
        self._verifier = verifier
        self._guard = guard
        self._wait_for_case = wait_for_case
        self._case_arrival_wait_s = case_arrival_wait_s

    async def _admit(self, method: str, request: Any, context: grpc.aio.ServicerContext, actor: Actor) -> Access | None:
        if self._guard is None:
            return None
        return await asyncio.to_thread(self._guard.admit, method, request, context.invocation_metadata(), actor)

    async def _guarded(self, method: str, behaviour: Callable[..., Awaitable[Any]], request: Any,
                       context: grpc.aio.ServicerContext, actor: Actor) -> Any:
        """Admit, run, audit — and a call that found nothing because its case has not reached
        this service yet runs again once the case has arrived (ADR 0026)."""
        try:
            return await self._admitted(method, behaviour, request, context, actor)
        except NotFound:
            if not await self._case_arrived(request, context):
                raise
        return await self._admitted(method, behaviour, request, context, actor)

    async def _case_arrived(self, request: Any, context: grpc.aio.ServicerContext) -> bool:
        case_id = case_named_by(request)
        if not case_id or self._wait_for_case is None or self._case_arrival_wait_s <= 0:
            return False
        limit = self._case_arrival_wait_s
        remaining = context.time_remaining()
        if remaining is not None:
            limit = min(limit, remaining - _ANSWER_MARGIN_S)
        started = time.perf_counter()
        arrived = await self._wait_for_case(case_id, limit)
        outcome = "arrived" if arrived else "not_found"
        metrics.CASE_ARRIVAL_WAITS.labels(self._service, outcome).observe(time.perf_counter() - started)
        return arrived

    async def _admitted(self, method: str, behaviour: Callable[..., Awaitable[Any]], request: Any,
                        context: grpc.aio.ServicerContext, actor: Actor) -> Any:
        """Admit, run, audit: a refusal or a read of case data is recorded before anything is answered."""
        access = await self._admit(method, request, context, actor)
        token = current_access.set(access)
        try:
            result = await behaviour(request, context)
        except PermissionDenied as exc:
            if access is not None and self._guard is not None:
                await asyncio.to_thread(self._guard.denied_by_application, method, access, str(exc))
            raise
        finally:
            current_access.reset(token)
        if access is not None and self._guard is not None:
            await asyncio.to_thread(self._guard.allowed, method, access)
        return result

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(OPEN_SERVICES):
            return handler
        try:
            actor: Actor | str = self._verifier.actor(details.invocation_metadata)
        except Unauthenticated as exc:
            actor = str(exc)
        if handler.unary_stream is not None:  # server streaming (e.g. progress of a rebuild)
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream, actor),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_unary is None:  # client/bidi streaming is not offered: refuse rather than let one past
            return _refuse_streaming(handler)
        return grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary, actor),
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )

    def _wrap(self, method: str, behaviour: Callable[..., Awaitable[Any]], actor: Actor | str):
        service = self._service
        short = method.rsplit("/", 1)[-1]

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            # An abort (NOT_FOUND, INVALID_ARGUMENT, …) is an answer, not a fault: the span gets its
            # status code, and only unexpected exceptions get a recorded traceback (formatting one
            # for every expected refusal cost risk ~7 % of its CPU under load).
            with tracer().start_as_current_span(
                method.lstrip("/"), kind=trace.SpanKind.SERVER, attributes={"rpc.system": "grpc"},
                record_exception=False, set_status_on_exception=False,
            ) as span:
                try:
                    if isinstance(actor, str):  # the reason authentication failed
                        code = grpc.StatusCode.UNAUTHENTICATED
                        metrics.AUTH_FAILURES.labels(service).inc()
                        await context.abort(code, actor)
                    if isinstance(request, Malformed):
                        code = grpc.StatusCode.INVALID_ARGUMENT
                        await context.abort(code, request.reason)
                    span.set_attribute("casework.actor.agency", actor.agency)
                    span.set_attribute("casework.actor.role", actor.role)
                    token = current_actor.set(actor)
                    try:
                        return await self._guarded(method, behaviour, request, context, actor)
                    except REFUSALS as exc:
                        code, message, details = _refusal(method, exc)
                        await context.abort(code, message, trailing_metadata=details)
                    finally:
                        current_actor.reset(token)
                except grpc.aio.AbortError:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    raise
                except Exception as exc:
                    code = grpc.StatusCode.INTERNAL
                    span.record_exception(exc)
                    span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
                    log.exception("%s failed", method)
                    await context.abort(code, "internal error; it may or may not have been applied: retry with the same idempotency key")
                finally:
                    metrics.GRPC_REQUESTS.labels(service, short, code.name).inc()
                    metrics.GRPC_LATENCY.labels(service, short).observe(time.perf_counter() - started)

        return call


    async def _admitted_stream(self, method: str, request: Any, context: grpc.aio.ServicerContext,
                               actor: Actor) -> Access | None:
        """Admission for a stream, waiting for a case not known here yet as a call does (ADR 0026)."""
        try:
            return await self._admit(method, request, context, actor)
        except NotFound:
            if not await self._case_arrived(request, context):
                raise
        return await self._admit(method, request, context, actor)

    def _wrap_stream(self, method: str, behaviour: Callable[..., Any], actor: Actor | str):
        """The same edge for a server-streaming method: authenticate, admit (waiting for a case not
        known here yet), record the read before the first item, map domain errors."""
        service = self._service
        short = method.rsplit("/", 1)[-1]

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            code = grpc.StatusCode.OK
            try:
                if isinstance(actor, str):
                    code = grpc.StatusCode.UNAUTHENTICATED
                    metrics.AUTH_FAILURES.labels(service).inc()
                    await context.abort(code, actor)
                if isinstance(request, Malformed):
                    code = grpc.StatusCode.INVALID_ARGUMENT
                    await context.abort(code, request.reason)
                token = current_actor.set(actor)
                try:
                    access = await self._admitted_stream(method, request, context, actor)
                    access_token = current_access.set(access)
                    try:
                        audited = access is None or self._guard is None
                        async for item in behaviour(request, context):
                            if not audited:  # a read of case data is recorded before any of it is sent
                                await asyncio.to_thread(self._guard.allowed, method, access)  # type: ignore[union-attr]
                                audited = True
                            yield item
                    finally:
                        current_access.reset(access_token)
                except REFUSALS as exc:
                    code, message, details = _refusal(method, exc)
                    await context.abort(code, message, trailing_metadata=details)
                finally:
                    current_actor.reset(token)
            finally:
                metrics.GRPC_REQUESTS.labels(service, short, code.name).inc()

        return stream


# What a call can fail with that the caller is told about (anything else is INTERNAL).
REFUSALS: tuple[type[BaseException], ...] = (AuditUnavailable, DomainError, *STORE_TROUBLE)


def _refusal(method: str, exc: BaseException) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """The status, message and trailing details a call failing with `exc` is refused with."""
    if isinstance(exc, AuditUnavailable):
        return grpc.StatusCode.UNAVAILABLE, "the access could not be recorded in the read audit; nothing was returned", ()
    if isinstance(exc, DomainError):
        code = next((c for t, c in _CODES if isinstance(exc, t)), grpc.StatusCode.INVALID_ARGUMENT)
        return code, str(exc), _status_details(exc, code)
    return grpc.StatusCode.UNAVAILABLE, _store_trouble(method, exc), ()


def _store_trouble(method: str, exc: BaseException) -> str:
    """A store that did not answer is not the caller's fault, and worth a retry: UNAVAILABLE, which
    gRPC clients' retry policies retry, rather than INTERNAL."""
    log.warning("%s: the store did not answer (%s)", method, type(exc).__name__)
    return "the service's store did not answer: retry, with the same idempotency key for a change (it may or may not have been recorded)"


class Malformed:
    """A request whose bytes are not the method's message: refused as INVALID_ARGUMENT, not a crash."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except (DecodeError, ValueError):  # nothing of the caller's bytes is echoed back
            return Malformed("malformed request: the bytes are not a valid message for this method")

    return parse


def _refuse_streaming(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "streaming calls are not offered")

    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)
    return grpc.stream_stream_rpc_method_handler(refuse, handler.request_deserializer, handler.response_serializer)


# Keepalive, both ways (README: integrating). Partners hold long calls (`WatchCaseTimeline`, up
# to 15 minutes) through NATs and load balancers that drop a quiet connection, so they may ping
# as often as every CLIENT_PING_MIN_S, with or without a call; gRPC's default answers pings more
# frequent than every 5 minutes with GOAWAY "too_many_pings", cutting the stream. The server
# pings a quiet connection itself and drops a partner that has vanished without a word.
CLIENT_PING_MIN_S = 10
SERVER_PING_S = 60
PING_ANSWER_S = 20
KEEPALIVE = [
    # Half of it: a client's timer fires a little early, and three early pings end the connection.
    ("grpc.http2.min_ping_interval_without_data_ms", CLIENT_PING_MIN_S * 1000 // 2),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.keepalive_time_ms", SERVER_PING_S * 1000),
    ("grpc.keepalive_timeout_ms", PING_ANSWER_S * 1000),
]


def connection_age(max_age_s: float) -> list[tuple[str, int]]:
    """Behind a Service's proxy a caller's one HTTP/2 connection stays with the replica it first
    reached, so replicas the autoscaler adds, or a rolling update brings back, get no share of
    the partners already connected. A connection older than `max_age_s` (±10 %, gRPC's jitter)
    is sent GOAWAY: the caller's next calls open a new one, which the proxy may send to another
    replica. Calls and streams on the old connection finish as they would (no grace limit: a
    `WatchCaseTimeline` stream runs its course)."""
    return [("grpc.max_connection_age_ms", int(max_age_s * 1000))] if max_age_s > 0 else []


def build_server(
    service: str,
    register: Sequence[Callable[[grpc.aio.Server], None]],
    service_names: Sequence[str],
    port: int,
    verifier: TokenVerifier,
    host: str = "127.0.0.1",
    tls: TlsConfig | None = None,
    allow_plaintext: bool = False,
    guard: AccessGuard | None = None,
    wait_for_case: CaseArrival | None = None,
    case_arrival_wait_s: float = 0.0,
    max_connection_age_s: float = 0.0,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A server with the service's servicers, health and reflection, bound to host:port
    (mutual TLS when `tls` is given; plaintext only on loopback unless explicitly allowed).
    A service process always passes its `guard` (caseplatform.runner); a unit test of a
    servicer's mapping may leave it out. `wait_for_case` (the kernel's owner index) lets a call
    naming a case not known here yet wait up to `case_arrival_wait_s` for it (ADR 0026).
    `max_connection_age_s` (0: never) moves callers to a new connection that often (ADR 0041)."""
    edge = EdgeInterceptor(service, verifier, guard, wait_for_case, case_arrival_wait_s)
    server = grpc.aio.server(interceptors=[edge], options=KEEPALIVE + connection_age(max_connection_age_s))
    for add in register:
        add(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    bound = bind(server, host, port, tls, allow_plaintext)
    if bound == 0:
        raise OSError(f"{service}: cannot bind gRPC port {host}:{port}")
    return server, health_servicer


def build_health_server(health_servicer: health.aio.HealthServicer, host: str, port: int) -> grpc.aio.Server:
    """A plaintext server offering only gRPC health, for kubelet probes when the API port speaks
    mutual TLS (a probe cannot present a client certificate). It carries no case data."""
    server = grpc.aio.server(options=KEEPALIVE)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot bind gRPC health port {host}:{port}")
    return server
