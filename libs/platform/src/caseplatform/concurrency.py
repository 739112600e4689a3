"""Optimistic concurrency for commands.

A command is one read-change-save. When another writer saved the same aggregate first (a policy
applying an incoming event, a concurrent request, another replica), the store refuses the stale
version and writes nothing, so the whole command is simply run again on fresh reads. Decorate only
methods whose writes are a single `save` (atomic): then a retry can never repeat an effect.
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

retry_on_conflict = retry(
    retry=retry_if_exception_type(IntegrityError),
    stop=stop_after_attempt(8),
    # Jittered, so two writers that collided do not collide again in lockstep.
    wait=wait_random_exponential(multiplier=0.005, max=0.25),
    reraise=True,
)
