"""How far the relay got: its position in the notification log and, per Kafka partition,
the last notification id it sent there (the head of that partition's chain).

Kept in the service's own database, written after the broker acknowledged a section.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from caseplatform.store import ServiceApplication, Sql


@dataclass
class RelayPosition:
    position: int = 0
    heads: dict[int, int] = field(default_factory=dict)


class RelayStateStore:
    def __init__(self, app: ServiceApplication, relay_name: str = "kafka") -> None:
        self._sql = Sql(app)
        self._name = relay_name
        self._table = self._sql.table("relay_state")
        self._sql.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} "
            "(relay TEXT PRIMARY KEY, position BIGINT NOT NULL, heads TEXT NOT NULL)"
        )

    def load(self) -> RelayPosition:
        rows = self._sql.query(f"SELECT position, heads FROM {self._table} WHERE relay = ?", [self._name])
        if not rows:
            return RelayPosition()
        position, heads = rows[0]
        return RelayPosition(int(position), {int(p): int(n) for p, n in json.loads(heads).items()})

    def save(self, state: RelayPosition) -> None:
        # Only ever forwards: a relay replaying history to a fresh broker does not lower it.
        self._sql.execute(
            f"INSERT INTO {self._table} (relay, position, heads) VALUES (?, ?, ?) "
            "ON CONFLICT (relay) DO UPDATE SET position = excluded.position, heads = excluded.heads "
            f"WHERE {self._table}.position < excluded.position",
            [self._name, state.position, json.dumps(state.heads)],
        )
