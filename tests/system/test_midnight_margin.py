"""Tests on a private stack run on real time; they start clear of London's midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .client import wait_for_midnight


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # GMT: London's midnight is 00:00 UTC; the wait ends five seconds after it.
        (datetime(2026, 12, 1, 23, 57, 30, tzinfo=UTC), 2 * 60 + 35),
        (datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC), 6),
        # BST: London's midnight is 23:00 UTC.
        (datetime(2027, 6, 1, 22, 58, 0, tzinfo=UTC), 2 * 60 + 5),
    ],
)
def test_a_test_starting_within_three_minutes_of_midnight_waits_until_just_after_it(
    now: datetime, expected: float
) -> None:
    assert wait_for_midnight(now) == expected


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 1, 23, 56, 59, tzinfo=UTC),  # three minutes and a second before
        datetime(2026, 12, 1, 0, 0, 5, tzinfo=UTC),  # just after
        datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        datetime(2027, 6, 1, 23, 56, tzinfo=UTC),  # 00:56 BST: midnight has passed
    ],
)
def test_a_test_starting_well_clear_of_midnight_starts_at_once(now: datetime) -> None:
    assert wait_for_midnight(now) == 0
