"""The MARAC pathway end to end on the running system: a HIGH-risk disclosure in Blaenau Gwent
becomes a MARAC referral (sent on a recorded lawful basis), which marac lists for the area's next
meeting on the shared cycle; the landlord's actions agreed there become housing work in intake and
a rehousing referral in referral — all through events, none re-keyed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casework.intake.v1 import intake_pb2
from casework.marac.v1 import marac_pb2
from casework.referral.v1 import referral_pb2

from .client import STAFF, Client, disclosure, eventually
from .test_referral import GOOD_FRIDAY_1730, assess, mark_sent, referral_of

pytestmark = pytest.mark.system

CSO = (("x-agency", "landlord"), ("x-role", "CSO"), ("x-user", "cso-3"))


def test_a_high_risk_case_reaches_the_case_list_and_its_landlord_actions_become_work(client: Client) -> None:
    request = disclosure(received_at=GOOD_FRIDAY_1730)
    request.victim.address.postcode = "NP23 6XX"  # Blaenau Gwent: meets on alternate Tuesdays
    case_id = client.submit(request).case_id
    eventually(lambda: client.risk_history(case_id))
    assess(client, case_id, key="bg-high", yes=15, completed_at=GOOD_FRIDAY_1730 + timedelta(minutes=5))

    marac = referral_of(client, case_id, referral_pb2.MARAC)
    client.referral.OverrideConsent(
        referral_pb2.OverrideConsentRequest(
            referral_id=marac.referral_id, lawful_basis=referral_pb2.CRIME_AND_DISORDER_ACT_S115,
            reason="risk of serious harm", officer_name="Synthetic Officer", officer_role="CSO",
        ),
        metadata=CSO, timeout=10,
    )
    mark_sent(client, marac.referral_id, metadata=CSO)
    # Due before the cut-off of the area's next meeting (Tuesday 6 April; its list closes at the end
    # of Thursday 1 April: three working days before, Easter Monday being a bank holiday).
    assert marac.deadline.due_date == "2027-04-01"

    meeting = client.marac.ScheduleMeeting(
        marac_pb2.ScheduleMeetingRequest(area="blaenau-gwent"), metadata=CSO, timeout=10
    ).meeting
    assert meeting.meeting_date == "2027-04-06"  # the next one on the area's cycle, not chosen by hand

    def listed() -> marac_pb2.CaseListEntry:
        entries = client.marac.GetCaseList(
            marac_pb2.GetCaseListRequest(meeting_id=meeting.meeting_id), metadata=CSO, timeout=10
        ).entries
        found = [e for e in entries if e.case_id == case_id]
        assert len(found) == 1, (meeting, [e.case_id for e in entries], client.marac.GetCase(
            marac_pb2.GetCaseRequest(case_id=case_id), metadata=CSO, timeout=10))
        return found[0]

    entry = eventually(listed)
    assert (entry.referral_id, entry.risk_grade, entry.repeat) == (marac.referral_id, "HIGH", False)
    assert "VISIBLE_HIGH_RISK" in entry.criteria

    for key, kind, description in (
        ("bg-tenancy", marac_pb2.CONFIRM_TENANCY_STATUS, "confirm sole or joint tenancy"),
        ("bg-rehouse", marac_pb2.REHOUSE, "offer a management transfer"),
    ):
        client.marac.AgreeAction(
            marac_pb2.AgreeActionRequest(
                idempotency_key=key, case_id=case_id, meeting_id=meeting.meeting_id, owning_agency="landlord",
                kind=kind, description=description, due_date="2027-04-13", source=marac_pb2.MARAC_MEETING,
            ),
            metadata=CSO, timeout=10,
        )

    def housing_work() -> list[intake_pb2.LandlordAction]:
        case = client.intake.GetCase(intake_pb2.GetCaseRequest(case_id=case_id), metadata=STAFF, timeout=10)
        assert [(a.kind, a.status) for a in case.landlord_actions] == [("CONFIRM_TENANCY_STATUS", "OPEN")]
        return list(case.landlord_actions)

    (action,) = eventually(housing_work)
    assert action.due_date == "2027-04-13"
    rehousing = referral_of(client, case_id, referral_pb2.REHOUSING)
    assert rehousing.reason == "MARAC action: rehouse"
