"""Case lists at the application level: referral's MARAC `ReferralSent` envelopes go through
marac's inbox onto a real SQLite store; each meeting lists the area's referrals after the previous
cut-off and up to its own, repeats flagged (a MARAC referral for the same victim within 12 months)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from caseplatform.calendar import LONDON
from caseplatform.testing import controlled_clock
from casework.referral.v1 import events_pb2 as referral_events
from casework.referral.v1 import referral_pb2
from marac import commands
from marac.application import MaracApplication

from .helpers import CHO, MONDAY, Feed, app_for, case_id_for, published, schedule


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=LONDON)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[MaracApplication]:
    with controlled_clock(MONDAY):
        yield app_for(tmp_path)


@pytest.fixture
def feed(app: MaracApplication) -> Feed:
    return Feed(app)


def listed(app: MaracApplication, meeting: Any) -> dict[str, dict[str, Any]]:
    return {e["case_id"]: e for e in app.case_list(meeting.id)}


def test_a_meeting_lists_the_area_s_referrals_since_the_previous_cut_off(app: MaracApplication, feed: Feed) -> None:
    first = schedule(app, "torfaen", "2027-03-04")
    second = schedule(app, "torfaen", "2027-03-18")
    # Cut-offs (the shared areas file: Torfaen meets on alternate Thursdays, its list closes three
    # working days before): the end of Monday 1 and Monday 15 March.
    assert first.cut_off_at == datetime(2027, 3, 2, tzinfo=LONDON)
    assert second.cut_off_at == datetime(2027, 3, 16, tzinfo=LONDON)

    before, between, late, elsewhere = (case_id_for(k) for k in ("before", "between", "late", "elsewhere"))
    feed.marac_referral(before, subject_ref="T-100", sent_at=at("2027-02-20"))
    feed.marac_referral(between, subject_ref="T-200", sent_at=at("2027-03-02"), criteria=["PROFESSIONAL_JUDGEMENT"],
                        risk_grade="MEDIUM", children_count=0, referring_agency="gwent-police")
    feed.marac_referral(late, subject_ref="T-300", sent_at=at("2027-03-16"))
    feed.marac_referral(elsewhere, subject_ref="T-400", sent_at=at("2027-03-02"), area="blaenau-gwent")

    assert set(listed(app, first)) == {before}
    assert set(listed(app, second)) == {between}
    entry = listed(app, second)[between]
    assert (entry["risk_grade"], entry["criteria"], entry["children_count"], entry["referring_agency"]) == (
        "MEDIUM", ["PROFESSIONAL_JUDGEMENT"], 0, "gwent-police",
    )
    assert entry["repeat"] is False and entry["transferred_from"] == ""
    assert app.previous_cut_off(second) == first.cut_off_at


def test_repeat_when_the_victim_was_referred_364_days_before_not_366(app: MaracApplication, feed: Feed) -> None:
    meeting = schedule(app, "torfaen", "2027-03-18")
    # Same victims (subject refs), earlier MARAC referrals on other cases (one in another area).
    feed.marac_referral(case_id_for("old-a"), subject_ref="T-364", sent_at=at("2026-03-03"), area="blaenau-gwent")
    feed.marac_referral(case_id_for("old-b"), subject_ref="T-366", sent_at=at("2026-03-01"))
    within, beyond = case_id_for("within"), case_id_for("beyond")
    feed.marac_referral(within, subject_ref="T-364", sent_at=at("2027-03-02"))  # 364 days later
    feed.marac_referral(beyond, subject_ref="T-366", sent_at=at("2027-03-02"))  # 366 days later

    cases = listed(app, meeting)
    assert cases[within]["repeat"] is True
    assert cases[beyond]["repeat"] is False
    (listed_event,) = [e.payload for e in published(app, ["CaseListed"]) if e.case_id == within]
    assert listed_event.repeat and listed_event.area == "torfaen"


def test_the_form_s_own_repeat_flag_is_kept(app: MaracApplication, feed: Feed) -> None:
    meeting = schedule(app, "torfaen", "2027-03-18")
    case_id = case_id_for("known-before")
    feed.marac_referral(case_id, subject_ref="T-500", sent_at=at("2027-03-02"), repeat=True, previous_marac_count=1)
    assert listed(app, meeting)[case_id]["repeat"] is True


def test_a_redelivered_referral_lists_the_case_once(app: MaracApplication, feed: Feed) -> None:
    meeting = schedule(app, "torfaen", "2027-03-18")
    case_id = case_id_for("redelivered")
    feed.marac_referral(case_id, subject_ref="T-600", sent_at=at("2027-03-02"), referral_key="r-600")
    feed.marac_referral(case_id, subject_ref="T-600", sent_at=at("2027-03-02"), referral_key="r-600")  # republished
    assert len(app.case_list(meeting.id)) == 1
    assert len(app.marac_case(case_id).referrals) == 1
    assert len(published(app, ["CaseListed"])) == 1


def test_other_referral_types_do_not_reach_a_case_list(app: MaracApplication, feed: Feed) -> None:
    meeting = schedule(app, "torfaen", "2027-03-18")
    case_id = case_id_for("support")
    payload = referral_events.ReferralSent(
        referral_id="r-support", case_id=case_id, type=referral_pb2.SPECIALIST_SUPPORT, target_agency="idva",
    )
    feed.deliver("referral", case_id, payload, at("2027-03-02"))
    assert app.case_list(meeting.id) == []


def test_the_next_meeting_follows_the_fortnightly_schedule(app: MaracApplication) -> None:
    schedule(app, "torfaen", "2027-03-04")
    nxt = schedule(app, "torfaen", None)
    assert nxt.meeting_date == "2027-03-18"
    again, created = app.schedule_meeting(
        commands.parse(commands.ScheduleMeeting, {"area": "Torfaen", "meeting_date": "2027-03-18"}), CHO
    )
    assert again.id == nxt.id and not created
    scheduled = published(app, ["MeetingScheduled"])
    assert [e.payload.meeting_date for e in scheduled] == ["2027-03-04", "2027-03-18"]
    assert all(e.case_id == "" for e in scheduled)  # area-level: about no case


def test_an_area_is_loaded_from_a_snapshot_not_from_every_meeting_and_case_ever(tmp_path: Path) -> None:
    from datetime import timedelta

    from marac.domain.area import Area

    app = app_for(tmp_path)
    area = Area(area="torfaen-snapshot", meta={})
    for week in range(120):  # over two years of fortnightly meetings, and more
        day = MONDAY + timedelta(weeks=week)
        area.add_meeting(meeting_id=f"m-{week}", meeting_date=day.date().isoformat(), cut_off_at=day, meta={})
    app.save(area)
    assert app.snapshots is not None
    assert [s.originator_version for s in app.snapshots.get(area.id)] == [100]
    loaded = app.repository.get(area.id)
    assert loaded.version == 121 and loaded.meetings == area.meetings
