"""`common.v1.OpsService`: counts and positions for operations and tests, and the service's dead
letters (ADR 0039) — never case content."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import grpc

from caseplatform.store import ServiceApplication, Sql
from casework.common.v1 import ops_pb2, ops_pb2_grpc

if TYPE_CHECKING:
    from caseplatform.dead_letters import DeadLetters
    from caseplatform.relay import Relay


class OpsServicer(ops_pb2_grpc.OpsServiceServicer):
    def __init__(self, app: ServiceApplication, relay: Relay, dead_letters: DeadLetters) -> None:
        self._app = app
        self._relay = relay
        self._sql = Sql(app)
        self._dead_letters = dead_letters

    async def ListDeadLetters(self, request, context):
        return await self._dead_letters.page(request.pending_only, request.page_size, request.page_token)

    async def ReplayDeadLetter(self, request, context):
        return await self._dead_letters.replay(request.partition, request.offset)

    async def GetStoreStats(self, request, context):
        return await asyncio.to_thread(self._stats)

    def _stats(self) -> ops_pb2.GetStoreStatsResponse:
        counts = self._sql.event_counts()
        positions = self._sql.query(
            f"SELECT application_name, notification_id FROM {self._sql.tracking_table}"
        )
        return ops_pb2.GetStoreStatsResponse(
            service=self._app.service,
            max_notification_id=self._app.recorder.max_notification_id() or 0,
            relay_position=self._relay.position,
            event_counts=[
                ops_pb2.EventTypeCount(event_type=_short(topic), count=n) for topic, n in sorted(counts.items())
            ],
            consumer_positions=[
                ops_pb2.ConsumerPosition(
                    source_service=name.split(":")[0], source_partition=int(name.split(":")[1]), notification_id=int(n)
                )
                for name, n in positions
                if ":" in name and name.split(":")[1].isdigit()
            ],
            read_model_rows=[
                ops_pb2.ReadModelRows(name=name, rows=rows) for name, rows in sorted(self._app.read_model_rows().items())
            ],
        )


def _short(topic: str) -> str:
    """'intake.domain.case:Case.DisclosureReceived' → 'Case.DisclosureReceived'."""
    return topic.split(":", 1)[-1]


def register_ops(server: grpc.aio.Server, servicer: OpsServicer) -> None:
    ops_pb2_grpc.add_OpsServiceServicer_to_server(servicer, server)
