"""Topic administration: wait for the broker, then make sure the topics exist.

Both calls are idempotent and bounded: they retry while the broker is not answering (it may still be
starting) and give up with `BrokerUnavailable` once `timeout_s` has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)
from tenacity import AsyncRetrying, retry_if_exception, stop_before_delay, wait_exponential

from caseplatform.aio import bounded
from caseplatform.kafka.security import kafka_client_options

log = logging.getLogger(__name__)

T = TypeVar("T")

# One attempt never waits longer than this for a single request, so a broker that accepts
# connections but hangs still leaves room for further attempts within the caller's timeout.
_ATTEMPT_REQUEST_TIMEOUT_MS = 5_000


class BrokerUnavailable(RuntimeError):
    """The broker did not answer (or the topics did not appear) within the time allowed."""


async def wait_for_broker(bootstrap: str, timeout_s: float = 30) -> None:
    """Return once the broker at `bootstrap` answers a metadata request."""

    async def answer(admin: AIOKafkaAdminClient) -> None:
        await admin.list_topics()

    await _with_admin(bootstrap, timeout_s, answer, what="answer a metadata request")


async def ensure_topics(
    bootstrap: str, topics: Iterable[str], partitions: int, *, timeout_s: float = 30
) -> None:
    """Create the topics that do not exist yet, with `partitions` partitions, and wait until the
    broker lists every one of them.

    Topics that already exist are left as they are, even with another partition count: adding
    partitions would move case ids to other partitions and break per-case ordering, so a mismatch is
    only logged for a human to decide.
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    wanted = sorted(set(topics))
    if not wanted:
        return

    async def create(admin: AIOKafkaAdminClient) -> None:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            log.debug("creating topics %s with %d partitions", missing, partitions)
            response = await admin.create_topics([NewTopic(t, partitions, 1) for t in missing])
            for topic, code, *message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"cannot create topic {topic}: {message}")
        await _check_visible(admin, wanted, partitions)

    await _with_admin(bootstrap, timeout_s, create, what=f"create topics {wanted}")


async def _check_visible(admin: AIOKafkaAdminClient, topics: list[str], partitions: int) -> None:
    """Raise a retriable error until metadata shows every topic (a real cluster may lag)."""
    for entry in await admin.describe_topics(topics):
        if entry["error_code"] or not entry["partitions"]:
            raise UnknownTopicOrPartitionError(f"topic {entry['topic']} not visible yet")
        if len(entry["partitions"]) != partitions:
            log.warning(
                "topic %s has %d partitions, not %d; left unchanged",
                entry["topic"],
                len(entry["partitions"]),
                partitions,
            )


async def _with_admin(
    bootstrap: str,
    timeout_s: float,
    action: Callable[[AIOKafkaAdminClient], Awaitable[T]],
    *,
    what: str,
) -> T:
    """Run `action` with a fresh admin client, retrying transient failures until `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s

    async def attempt() -> T:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=_ATTEMPT_REQUEST_TIMEOUT_MS,
            **kafka_client_options(bootstrap),
        )
        try:
            await admin.start()
            return await action(admin)
        finally:
            await admin.close()

    retrying = AsyncRetrying(
        stop=stop_before_delay(timeout_s),
        wait=wait_exponential(multiplier=0.05, max=1.0),
        retry=retry_if_exception(_is_transient),
        reraise=True,
    )
    try:
        with _quiet_aiokafka():
            async for try_ in retrying:
                with try_:
                    remaining = max(0.1, deadline - loop.time())
                    return await bounded(attempt(), remaining)
    except Exception as exc:
        if _is_transient(exc):
            raise BrokerUnavailable(
                f"Kafka broker at {bootstrap} did not {what} within {timeout_s:g}s: {exc!r}"
            ) from exc
        raise
    raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover


def _is_transient(exc: BaseException) -> bool:
    """Connection trouble and the broker's own retriable errors are worth another attempt."""
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    return isinstance(exc, (OSError, asyncio.TimeoutError))


# While we retry on purpose, aiokafka logs every refused connection as an ERROR. The flag is a
# context variable so only our own attempts (and the tasks the admin client spawns) go quiet; other
# Kafka clients in the same process keep logging normally.
_quiet: ContextVar[bool] = ContextVar("caseplatform_quiet_aiokafka", default=False)
_NOISY_LOGGERS = ("aiokafka", "aiokafka.conn", "aiokafka.cluster", "aiokafka.admin.client")


class _QuietWhileRetrying(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL or not _quiet.get()


_FILTER = _QuietWhileRetrying()


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)
