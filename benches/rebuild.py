"""Section 4: rebuild reporting's projection, as a ratio of reading the same events raw.

The events are the end-to-end run's own: every service's published events, wrapped from its
store exactly as its relay wraps them. To reach the scale asked for they are replicated under
fresh case and event ids (same-length ids substituted in the serialised envelope: the bytes a
real case would have).

- **Rebuild** (the figure of the issue): `RebuildTimelines`' own code, `rebuild_from_topics`,
  on a fresh Tansu holding the replicated events: read every topic reporting follows, derive
  every timeline row, stage and swap in (ADR 0025). Ratio: the same topics read to their end
  with plain aiokafka, nothing parsed — where the events are kept, read as fast as Python can.
- **Replay through the live path** (smaller): the stores replicated the same way and applied
  through reporting's inbox in batches per partition (timeline rows, SLA clocks, tracking), as
  a consumer catching up from the start would; its ratio is to a sequential read of the stores.

Run in its own process (`python -m benches.rebuild`) so its peak memory is its own; the
rebuild's workers are its children (their peak is reported apart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from caseplatform import topology
from caseplatform.envelope import SourcePosition, build_envelope, parse_envelope
from caseplatform.identity import Actor, system_actor
from caseplatform.inbox import Inbox
from caseplatform.kafka.admin import ensure_topics
from caseplatform.kafka.reading import PartitionEnds
from caseplatform.relay import message_headers, partition_for
from caseplatform.settings import PlatformSettings
from caseplatform.testing import running_broker
from reporting.timelines.rebuild import FETCH_BYTES, FETCH_PARTITION_BYTES

from .ceilings import build_parts
from .memory import own_peak_rss_mib

SOURCES = tuple(s for s in topology.SERVICES if s != "reporting")  # whose stores the live-path replay applies
PARTITIONS = 3


def published(parts: Any) -> list[tuple[int, str]]:
    """(notification id, case id) of every stored event the service publishes."""
    app = parts.app
    out: list[tuple[int, str]] = []
    start = 0
    while True:
        section = app.recorder.select_notifications(start=start, limit=1000, inclusive_of_start=False)
        if not section:
            return out
        for n in section:
            outgoing = parts.translate(app.mapper.to_domain_event(n))
            if outgoing is not None and outgoing.case_id:
                out.append((n.id, outgoing.case_id))
        start = section[-1].id


def scale_store(path: Path, rows: list[tuple[int, str]], copies: int, mapper: Any) -> int:
    """Append `copies` replicas of the published rows, each under new ids. Returns rows added.
    Stored state is compressed and encrypted (ADR 0020): opened and sealed with the store's own
    mapper so the copies carry their new case ids."""
    cipher, compressor = mapper.cipher, mapper.compressor

    def rewrite(state: bytes, old: str, new: str) -> bytes:
        plain = compressor.decompress(cipher.decrypt(state))
        plain = plain.replace(old.encode(), new.encode()).replace(UUID(old).hex.encode(), UUID(new).hex.encode())
        return cipher.encrypt(compressor.compress(plain))

    db = sqlite3.connect(path)
    wanted = dict(rows)
    originals = [
        r for r in db.execute("SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid")
        if r[0] in wanted
    ]
    added = 0
    with db:
        for k in range(1, copies + 1):
            batch = []
            for rowid, originator, version, topic, state in originals:
                case_id = wanted[rowid]
                new_case = str(uuid5(UUID(case_id), f"bench-{k}"))
                new_state = rewrite(state, case_id, new_case)
                batch.append((str(uuid5(UUID(originator), f"bench-{k}")), version, topic, new_state))
            db.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", batch)
            added += len(batch)
    db.close()
    return added


def raw_read(stores: Path) -> tuple[int, float]:
    """Every notification of every store, read in sections of 1,000 (the relay's section size)."""
    total, elapsed = 0, 0.0
    for service in SOURCES:
        parts = build_parts(service, stores)
        t0 = time.perf_counter()
        start = 0
        while True:
            section = parts.app.recorder.select_notifications(start=start, limit=1000, inclusive_of_start=False)
            if not section:
                break
            total += len(section)
            start = section[-1].id
        elapsed += time.perf_counter() - t0
        parts.app.close()
    return total, elapsed


def replay(stores: Path, target: Path) -> tuple[int, float]:
    """Every store's published events, wrapped and parsed as on the live path, applied through a
    fresh reporting's inbox in runs of up to 1,000 per partition. Returns (events applied, seconds)."""
    reporting = build_parts("reporting", target)
    inbox = Inbox(reporting.app, reporting.policy)
    applied, elapsed = 0, 0.0
    for service in SOURCES:
        parts = build_parts(service, stores)
        t0 = time.perf_counter()
        runs: dict[int, list[Any]] = {}
        for _, _, value, _ in envelopes(parts, service):
            event = parse_envelope(value)
            partition = event.envelope.source.partition
            run = runs.setdefault(partition, [])
            run.append(event)
            if len(run) == 1000:
                applied += inbox.apply(service, partition, run).processed
                runs[partition] = []
        for partition, run in runs.items():
            if run:
                applied += inbox.apply(service, partition, run).processed
        elapsed += time.perf_counter() - t0
        parts.app.close()
    reporting.app.close()
    return applied, elapsed


Published = tuple[str, str, bytes, list[tuple[str, bytes]]]  # case id, event id, envelope, headers
# A trace header as a relay's publish span writes it (the same length; the rebuild ignores it).
TRACE = {"traceparent": "00-" + "4bf92f3577b34da6a3ce929d0e0e4736" + "-" + "00f067aa0ba902b7" + "-00"}


def envelopes(parts: Any, service: str) -> list[Published]:
    """(case id, event id, serialised envelope, headers) of every event the service publishes,
    wrapped as its relay wraps them (partition chains and headers included)."""
    app, heads, out, start = parts.app, {}, [], 0
    while True:
        section = app.recorder.select_notifications(start=start, limit=1000, inclusive_of_start=False)
        if not section:
            return out
        start = section[-1].id
        for n in section:
            event = app.mapper.to_domain_event(n)
            outgoing = parts.translate(event)
            if outgoing is None or not outgoing.case_id:
                continue
            partition = partition_for(outgoing.case_id, PARTITIONS)
            meta = getattr(event, "meta", None) or {}
            actor = Actor.from_dict(meta["actor"]) if "actor" in meta else system_actor(service)
            envelope = build_envelope(
                outgoing, aggregate_id=event.originator_id, aggregate_version=event.originator_version,
                recorded_at=event.timestamp, actor=actor,
                source=SourcePosition(service, n.id, partition, heads.get(partition, 0)),
            )
            heads[partition] = n.id
            out.append((outgoing.case_id, envelope.event_id, envelope.SerializeToString(),
                        message_headers(envelope, TRACE)))


async def fill_topics(bootstrap: str, base: dict[str, list[Published]], wanted: int) -> int:
    """Put `wanted` messages (at least) on the services' topics: the base events, then copies
    under fresh case and event ids. Returns messages put."""
    await ensure_topics(bootstrap, [topology.topic_for(s) for s in base], PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    have = sum(len(v) for v in base.values())
    put, pending = 0, []
    try:
        for k in range(math.ceil(wanted / have)):
            for service, events in base.items():
                topic = topology.topic_for(service)
                for case_id, event_id, value, headers in events:
                    if k:
                        new_case = str(uuid5(UUID(case_id), f"bench-{k}"))
                        value = value.replace(case_id.encode(), new_case.encode()).replace(
                            event_id.encode(), str(uuid5(UUID(event_id), f"bench-{k}")).encode())
                        case_id = new_case
                    pending.append(await producer.send(topic, value, key=case_id.encode(), headers=headers,
                                                       partition=partition_for(case_id, PARTITIONS)))
                    put += 1
                    if len(pending) >= 10_000:
                        await asyncio.gather(*pending)
                        pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return put


async def raw_topic_read(bootstrap: str, services: list[str]) -> tuple[int, float]:
    """Every message of the topics read to its end with plain aiokafka, nothing parsed."""
    # The rebuild's own fetch sizes: the raw read is as fast as it can be, not held to smaller ones.
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=FETCH_PARTITION_BYTES,
                                fetch_max_bytes=FETCH_BYTES)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition(topology.topic_for(s), p) for s in services for p in range(PARTITIONS)]
        consumer.assign(partitions)
        t0 = time.perf_counter()
        ends = PartitionEnds(consumer, await consumer.end_offsets(partitions))
        remaining, read = set(partitions), 0
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            ends.learn()
            read += sum(1 for tp, records in batch.items() for r in records if r.offset < ends.end(tp))
            remaining = {tp for tp in remaining if not ends.reached(tp, await consumer.position(tp))}
        return read, time.perf_counter() - t0
    finally:
        await consumer.stop()


async def topic_rebuild(base: dict[str, list[Published]], work: Path, wanted: int) -> dict[str, Any]:
    from reporting.application import ReportingApplication
    from reporting.timelines.fill import EntryFill
    from reporting.timelines.rebuild import rebuild_from_topics

    work.mkdir(parents=True, exist_ok=True)
    with running_broker(work) as broker:
        put = await fill_topics(broker.bootstrap, base, wanted)
        raw_events, raw_s = await raw_topic_read(broker.bootstrap, list(base))
        app = ReportingApplication(PlatformSettings(casework_data_dir=work / "reporting"))
        try:
            t0 = time.perf_counter()
            rows = await rebuild_from_topics(app.timelines, broker.bootstrap)
            elapsed = time.perf_counter() - t0
            in_table = app.timelines.count()
            # What the service then does in the background (ADR 0042), here without its rests.
            t0 = time.perf_counter()
            filled = await EntryFill(app.timelines, rest=0).fill()
            fill_s = time.perf_counter() - t0
        finally:
            app.close()
        # The rebuild's workers (if it started any) were this process's children, waited for;
        # the broker, also a child, is not counted until it stops.
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 or None
    return {"messages": put, "raw_read": raw_events, "raw_read_per_second": raw_events / raw_s,
            "rows": rows, "rows_in_table": in_table, "seconds": elapsed, "per_second": raw_events / elapsed,
            "entries_filled": filled, "fill_seconds": fill_s, "fill_per_second": filled / fill_s if fill_s else 0.0,
            "peak_rss_children_mib": children}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=Path, required=True, help="copies of the services' stores")
    parser.add_argument("--target", type=Path, required=True, help="where the new projection goes")
    parser.add_argument("--events", type=int, required=True, help="published events to replay")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of the rebuild here")
    parser.add_argument("--replay-events", type=int, default=0, help="events for the live-path replay")
    args = parser.parse_args(argv)
    base: dict[str, list[tuple[int, str]]] = {}
    wrapped: dict[str, list[Published]] = {}
    mappers: dict[str, Any] = {}
    for service in SOURCES:
        parts = build_parts(service, args.stores)
        base[service] = published(parts)
        wrapped[service] = envelopes(parts, service)
        mappers[service] = parts.app.mapper
        parts.app.close()
    # The rebuild reads every topic reporting follows, its own too (its SLA outcomes are on the
    # timelines); the live-path replay below applies the five sources' stores only.
    parts = build_parts("reporting", args.stores)
    wrapped["reporting"] = envelopes(parts, "reporting")
    parts.app.close()
    have = sum(len(v) for v in base.values())
    if not have:
        raise SystemExit("no published events in the stores")
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    rebuild_figures = asyncio.run(topic_rebuild({s: v for s, v in wrapped.items() if v}, args.target / "topics", args.events))
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, show_all=False))
    peak_after_rebuild = own_peak_rss_mib()
    replayed: dict[str, Any] = {}
    if args.replay_events:
        copies = max(0, math.ceil(args.replay_events / have) - 1)
        for service, rows in base.items():
            scale_store(args.stores / service / "events.sqlite", rows, copies, mappers[service])
        raw_events, raw_s = raw_read(args.stores)
        applied, replay_s = replay(args.stores, args.target / "replay")
        replayed = {"events": applied, "per_second": applied / replay_s, "stored_events_read": raw_events,
                  "raw_read_per_second": raw_events / raw_s}
    json.dump({"rebuild": rebuild_figures, "replay": replayed, "peak_rss_mib": peak_after_rebuild}, sys.stdout)


if __name__ == "__main__":
    main()
