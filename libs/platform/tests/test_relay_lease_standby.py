"""A standby replica asks for the relay lease every second: asking again must not make it the holder."""

from __future__ import annotations

import pytest

from caseplatform.relay_lease import LeaseLost, lease_for
from caseplatform.settings import PlatformSettings


def test_a_standby_asking_again_is_still_refused(settings: PlatformSettings) -> None:
    # On PostgreSQL the standby keeps its session between attempts; a live session is not the
    # lease (a defect until 2026-12-01: its second attempt answered "held", and two relays published).
    holder, standby = lease_for("source", settings), lease_for("source", settings)
    try:
        assert holder.try_acquire()
        for _ in range(3):
            assert not standby.try_acquire(), "the standby took itself for the holder"
        with pytest.raises(LeaseLost):
            standby.check()
        holder.release()
        assert standby.try_acquire()
        assert not holder.try_acquire()
        assert not holder.try_acquire()
    finally:
        holder.release()
        standby.release()
