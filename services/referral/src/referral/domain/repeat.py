"""SafeLives' repeat rule: a new incident within 12 months of the victim's last MARAC referral."""

from __future__ import annotations

from datetime import datetime


def twelve_months_after(instant: datetime) -> datetime:
    try:
        return instant.replace(year=instant.year + 1)
    except ValueError:  # 29 February
        return instant.replace(year=instant.year + 1, day=28)


def within_twelve_months(earlier: datetime, instant: datetime) -> bool:
    return earlier <= instant <= twelve_months_after(earlier)
