"""One process of a timeline rebuild (`rebuild._in_workers`): reads its share of the partitions
and stages the rows into the rebuild's table. Its job comes as JSON on stdin; it answers with
JSON lines on stdout — figures and, on failure, the kind of error, never content."""

from __future__ import annotations

import asyncio
import json
import sys
from functools import partial
from typing import Any

from aiokafka import TopicPartition

from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication, Sql
from reporting.timelines.rebuild import WORKER_BATCH, BrokerUnavailable, read_partitions
from reporting.timelines.table import stage_rows


def say(**line: Any) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def main() -> int:
    job = json.load(sys.stdin)
    # The service's store, nothing else; its tables exist (workers creating them at once would race).
    app = ServiceApplication("reporting", PlatformSettings(**job["settings"]), {**job["env"], "CREATE_TABLE": "n"})
    try:
        figures = asyncio.run(read_partitions(
            job["bootstrap"], [TopicPartition(topic, p) for topic, p in job["share"]],
            partial(stage_rows, Sql(app), job["staging"]),
            lambda *figures: say(kind="progress", figures=figures), WORKER_BATCH,
        ))
        say(kind="done", figures=figures)
        return 0
    except BrokerUnavailable as exc:
        say(kind="unavailable", reason=str(exc))
        return 1
    except Exception as exc:
        say(kind="failed", reason=type(exc).__name__)  # the name only: a message may quote content
        raise
    finally:
        app.close()


if __name__ == "__main__":
    raise SystemExit(main())
