"""Section 4: rebuild reporting's projection from the services' stores, as a ratio of reading
those stores sequentially.

The stores come from the end-to-end run (real events of every service). To reach the scale
asked for, each store's published events are replicated under fresh case and aggregate ids
(string substitution in the stored state: the same bytes a real case would have).
The rebuild reads each store in sections, translates and wraps each event exactly as the relay
does, parses the envelope as the consumer does, and applies it through reporting's inbox in
batches per partition — the live path without the network.

Run in its own process (`python -m benches.rebuild`) so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from caseplatform import topology
from caseplatform.envelope import SourcePosition, build_envelope, parse_envelope
from caseplatform.identity import Actor, system_actor
from caseplatform.inbox import Inbox
from caseplatform.relay import partition_for

from .ceilings import build_parts
from .memory import own_peak_rss_mib

SOURCES = tuple(s for s in topology.SERVICES if s != "reporting")
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


def rebuild(stores: Path, target: Path) -> tuple[int, float]:
    """Replay every store into a fresh reporting projection. Returns (events applied, seconds)."""
    reporting = build_parts("reporting", target)
    inbox = Inbox(reporting.app, reporting.policy)
    applied, elapsed = 0, 0.0
    for service in SOURCES:
        parts = build_parts(service, stores)
        app = parts.app
        heads: dict[int, int] = {}
        start = 0
        t0 = time.perf_counter()
        while True:
            section = app.recorder.select_notifications(start=start, limit=1000, inclusive_of_start=False)
            if not section:
                break
            start = section[-1].id
            runs: dict[int, list[Any]] = {}
            for n in section:
                event = app.mapper.to_domain_event(n)
                outgoing = parts.translate(event)
                if outgoing is None:
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
                runs.setdefault(partition, []).append(parse_envelope(envelope.SerializeToString()))
            for partition, events in runs.items():
                outcome = inbox.apply(service, partition, events)
                applied += outcome.processed
        elapsed += time.perf_counter() - t0
        app.close()
    reporting.app.close()
    return applied, elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stores", type=Path, required=True, help="copies of the services' stores")
    parser.add_argument("--target", type=Path, required=True, help="where the new projection goes")
    parser.add_argument("--events", type=int, required=True, help="published events to replay")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument profile of the rebuild here")
    args = parser.parse_args(argv)
    base: dict[str, list[tuple[int, str]]] = {}
    mappers: dict[str, Any] = {}
    for service in SOURCES:
        parts = build_parts(service, args.stores)
        base[service] = published(parts)
        mappers[service] = parts.app.mapper
        parts.app.close()
    have = sum(len(v) for v in base.values())
    if not have:
        raise SystemExit("no published events in the stores")
    copies = max(0, math.ceil(args.events / have) - 1)
    for service, rows in base.items():
        scale_store(args.stores / service / "events.sqlite", rows, copies, mappers[service])
    raw_events, raw_s = raw_read(args.stores)
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
    applied, rebuild_s = rebuild(args.stores, args.target)
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=True, show_all=False))
    json.dump({
        "events": applied,
        "stored_events_read": raw_events,
        "raw_read_per_second": raw_events / raw_s,
        "rebuild_per_second": applied / rebuild_s,
        "rebuild_seconds": rebuild_s,
        "peak_rss_mib": own_peak_rss_mib(),
    }, sys.stdout)


if __name__ == "__main__":
    main()
