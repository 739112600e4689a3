"""Ceilings measured in the same run as the end-to-end figures: the raw broker (plain aiokafka,
same Tansu), the relay alone and the inbox alone (no gRPC, the services' own code)."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from caseplatform import topology
from caseplatform.envelope import UnreadableMessage, parse_envelope
from caseplatform.inbox import Inbox
from caseplatform.kafka.admin import ensure_topics
from caseplatform.kafka.reading import read_topics
from caseplatform.relay import Relay
from caseplatform.settings import PlatformSettings


async def raw_broker(bootstrap: str, messages: int, size: int, partitions: int = 3) -> dict[str, float]:
    """Produce `messages` of `size` bytes (acks=all, as the relay does) and consume them back."""
    topic = f"bench.raw.{os.getpid()}.{int(time.time())}"
    await ensure_topics(bootstrap, [topic], partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    value = os.urandom(size)
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(topic, value, key=str(i).encode()) for i in range(messages)]
        await asyncio.gather(*futures)
        produced = time.perf_counter() - t0
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, fetch_max_wait_ms=10)
    await consumer.start()
    try:
        seen = 0
        t0 = time.perf_counter()
        deadline = t0 + 120
        while seen < messages and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            seen += sum(len(v) for v in batch.values())
        consumed = time.perf_counter() - t0
    finally:
        await consumer.stop()
    return {
        "messages": messages,
        "produce_per_second": messages / produced,
        "consume_per_second": seen / consumed,
        "round_trip_per_second": messages / (produced + consumed),
    }


async def capture(bootstrap: str, services: tuple[str, ...] = topology.SERVICES) -> dict[str, list[Any]]:
    """Every message on the services' event topics, in offset order per partition."""
    return {service: await read_topics(bootstrap, [topology.topic_for(service)], settle_s=1.0) for service in services}


def build_parts(service: str, data_dir: Path) -> Any:
    """The service's own composition root, on a store under `data_dir`."""
    main = importlib.import_module(f"{service}.entrypoints.main")
    return main.build(PlatformSettings(casework_data_dir=data_dir))


def copy_store(source_dir: Path, target_dir: Path, service: str) -> None:
    """A consistent copy of a running service's SQLite store (the backup API, not a file copy)."""
    (target_dir / service).mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source_dir / service / 'events.sqlite'}?mode=ro", uri=True)
    dst = sqlite3.connect(target_dir / service / "events.sqlite")
    with dst:
        src.backup(dst)
    dst.execute("DROP TABLE IF EXISTS relay_state")  # the copy's relay starts from the beginning
    dst.commit()
    src.close()
    key = source_dir / service / "cipher.key"  # the store is encrypted at rest (ADR 0020)
    if key.exists():
        shutil.copy2(key, target_dir / service / "cipher.key")
    dst.close()


async def relay_ceiling(bootstrap: str, stores: Path, services: tuple[str, ...]) -> dict[str, float]:
    """Each service's relay, alone, publishing its whole (copied) store to a fresh topic."""
    total_events = 0
    total_s = 0.0
    per: dict[str, float] = {}
    for service in services:
        parts = build_parts(service, stores)
        app = parts.app
        latest = app.recorder.max_notification_id() or 0
        if not latest:
            continue
        relay = Relay(app, parts.translate, bootstrap=bootstrap, partitions=3, idle_check_interval_s=60,
                      publishes=parts.publishes)
        relay.topic = f"bench.relay.{service}.{os.getpid()}.{int(time.time())}"
        # Connecting and checking the broker are start-up costs, not the relay's rate: done first,
        # then only the publishing loop is timed (the kernel's own steps, called directly).
        await relay._start_clients()
        await relay._reconcile()
        t0 = time.perf_counter()
        task = asyncio.create_task(relay._publish_forever())
        try:
            while relay.position < latest:
                if task.done():
                    task.result()
                await asyncio.sleep(0.002)
            elapsed = time.perf_counter() - t0
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await relay.close()
            app.close()
        per[service] = latest / elapsed
        total_events += latest
        total_s += elapsed
    return {"notifications": total_events, "per_second": total_events / total_s if total_s else 0.0,
            **{f"{s}_per_second": v for s, v in per.items()}}


def inbox_ceiling(
    captured: dict[str, list[Any]], stores: Path, consumers: tuple[str, ...], profile: Path | None = None
) -> dict[str, float]:
    """Each consuming service's inbox, alone, applying the captured messages of its subscriptions
    (upstream topics first) in fetched-batch-sized runs per partition, on a fresh store.
    `profile`: write a pyinstrument profile of all of it there."""
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    try:
        return _inbox_ceiling(captured, stores, consumers)
    finally:
        if profiler is not None:
            profiler.stop()
            profile.write_text(profiler.output_text(unicode=True, show_all=False))


def _inbox_ceiling(captured: dict[str, list[Any]], stores: Path, consumers: tuple[str, ...]) -> dict[str, float]:
    rates: dict[str, float] = {}
    for service in consumers:
        parts = build_parts(service, stores)
        if parts.policy is None:
            parts.app.close()
            continue
        inbox = Inbox(parts.app, parts.policy)
        applied = 0
        t0 = time.perf_counter()
        for source in topology.SUBSCRIPTIONS[service]:
            applied += apply_records(inbox, source, captured.get(source, []))
        elapsed = time.perf_counter() - t0
        parts.app.close()
        if applied:
            rates[service] = applied / elapsed
    slowest = min(rates.values()) if rates else 0.0
    return {"per_second_slowest": slowest, **{f"{s}_per_second": v for s, v in rates.items()}}


def apply_records(inbox: Inbox, source: str, records: list[Any], batch: int = 1000) -> int:
    by_partition: dict[int, list[Any]] = {}
    for record in records:
        by_partition.setdefault(record.partition, []).append(record)
    count = 0
    for partition, rs in by_partition.items():
        for start in range(0, len(rs), batch):
            events = []
            for record in rs[start : start + batch]:
                try:
                    headers = {k: v.decode() for k, v in record.headers or ()}
                    events.append(parse_envelope(record.value, headers))
                except UnreadableMessage:
                    continue
            inbox.apply(source, partition, events)
            count += len(events)
    return count
