"""Who is calling: an authenticated identity travels with every request and every event.

The foundation reads it from gRPC metadata (`x-agency`, `x-role`, `x-user`); signed tokens
replace that with the security work, behind the same `Actor`.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    agency: str
    role: str
    user: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)  # flat fields of str: dataclasses.asdict's deep copy is not needed

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(agency=data.get("agency", ""), role=data.get("role", ""), user=data.get("user", ""))


def system_actor(service: str) -> Actor:
    """The actor for what a service does by itself, in reaction to another event."""
    return Actor(agency="system", role="system", user=f"{service}-policy")


current_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar(
    "current_actor", default=None
)


def require_actor() -> Actor:
    actor = current_actor.get()
    if actor is None:  # the interceptor guarantees one; a servicer called directly must set it
        raise RuntimeError("no caller identity in context")
    return actor
