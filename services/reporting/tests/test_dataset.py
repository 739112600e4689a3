"""The partnership dataset reconciled with a known quarter in Torfaen: every figure counted by
hand from the scenario below; small equality counts suppressed; CSV and the HTML report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from caseplatform.envelope import to_timestamp
from caseplatform.errors import InvalidArgument
from caseplatform.identity import Actor
from caseplatform.ids import stable_id
from caseplatform.settings import PlatformSettings
from casework.common.v1 import envelope_pb2
from casework.intake.v1 import events_pb2 as intake_events
from casework.intake.v1 import intake_pb2
from casework.referral.v1 import events_pb2 as referral_events
from casework.referral.v1 import referral_pb2
from casework.risk.v1 import events_pb2 as risk_events
from casework.risk.v1 import risk_pb2
from reporting.application import ReportingApplication
from reporting.dataset.figure import Figure
from reporting.dataset.figures import partnership_dataset
from reporting.dataset.outputs import to_csv, to_html
from reporting.dataset.query import dataset, parse_period
from reporting.dataset.scope import Scope, case_areas

from .helpers import Feed

Q4 = (date(2026, 10, 1), date(2026, 12, 31))
DAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
POPULATION = {"torfaen": 38_000}
POLICE = Actor("gwent-police", "PC", "pc-1")


def case(n: int) -> str:
    return str(stable_id("dataset", n))


def disclosure(feed: Feed, n: int, channel: int, area: str = "Torfaen", when: datetime = DAY) -> None:
    due = envelope_pb2.Deadline(kind="SAFE_CONTACT", due_at=to_timestamp(when + timedelta(days=1)), due_date="x")
    feed.publish(case(n), intake_events.DisclosureReceived(case_id=case(n), channel=channel, area=area, deadlines=[due]), when)


def scenario(feed: Feed) -> list[dict]:
    for n in range(4):
        disclosure(feed, n, intake_pb2.VICTIM_DIRECT)
    for n in (4, 5):
        disclosure(feed, n, intake_pb2.POLICE_DACC)
    disclosure(feed, 6, intake_pb2.VICTIM_DIRECT, area="Newport")                      # another area
    disclosure(feed, 7, intake_pb2.VICTIM_DIRECT, when=datetime(2026, 9, 20, 12, tzinfo=UTC))  # before the quarter
    # Safe contact: four on time, one late, case 5 still open.
    for n, on_time in ((0, True), (1, True), (2, True), (3, True), (4, False)):
        feed.publish(case(n), intake_events.SafeContactRecorded(case_id=case(n), outcome=intake_pb2.MADE, deadline_met=on_time),
                     DAY + timedelta(hours=3))
    for n, grade, triggers in ((0, risk_pb2.HIGH, [risk_pb2.VISIBLE_HIGH_RISK]), (1, risk_pb2.HIGH, [risk_pb2.VISIBLE_HIGH_RISK]),
                               (2, risk_pb2.HIGH, [risk_pb2.PROFESSIONAL_JUDGEMENT]), (3, risk_pb2.MEDIUM, []), (4, risk_pb2.MEDIUM, [])):
        feed.publish(case(n), risk_events.RiskAssessed(case_id=case(n), grade=grade, triggers=triggers), DAY + timedelta(hours=4))
    for n, agency, repeat in ((0, "landlord", False), (1, "landlord", True), (2, "gwent-police", False)):
        feed.publish(case(n), referral_events.ReferralSent(
            referral_id=f"m-{n}", case_id=case(n), type=referral_pb2.MARAC, target_agency="torfaen-marac",
            marac=referral_pb2.MaracReferralForm(area="Torfaen", referring_agency=agency, repeat=repeat),
        ), DAY + timedelta(hours=5), actor=POLICE if agency == "gwent-police" else Actor("landlord", "CSO", "cso-1"))
    for n in (3, 4):
        feed.publish(case(n), referral_events.ReferralRequired(
            referral_id=f"s-{n}", case_id=case(n), type=referral_pb2.SPECIALIST_SUPPORT, target_agency="idva-service"),
            DAY + timedelta(hours=5))
        feed.publish(case(n), referral_events.ReferralSent(
            referral_id=f"s-{n}", case_id=case(n), type=referral_pb2.SPECIALIST_SUPPORT, target_agency="idva-service"),
            DAY + timedelta(hours=6))
    entries = feed.app.timelines.until("2027-01-01T00:00:00.000000Z")
    # Event types other work adds (outcomes, diversity on the MARAC form), read by name:
    later = DAY + timedelta(days=3)
    extra = [_entry(3, "referral.v1.ReferralOutcome", {"referral_id": "s-3", "outcome": "ENGAGED"}, later),
             _entry(4, "referral.v1.ReferralOutcome", {"referral_id": "s-4", "outcome": "NOT_ENGAGED"}, later)]
    extra += [_entry(n, "marac.v1.DiversityRecorded",
                     {"diversity": {"ethnicity": "ASIAN_BRITISH" if n == 5 else "WHITE_BRITISH", "age_band": "25-34"}}, later)
              for n in range(6)]
    return entries + extra


def _entry(n: int, event_type: str, details: dict, when: datetime) -> dict:
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"case_id": case(n), "event_type": event_type, "service": event_type.split(".")[0], "occurred_at": stamp,
            "recorded_at": stamp, "actor": {"agency": "x", "role": "y", "user": "z"}, "deadlines": [], "details": details}


@pytest.fixture
def app(tmp_path: Path) -> ReportingApplication:
    return ReportingApplication(PlatformSettings(casework_data_dir=tmp_path))


def figures_of(entries: list[dict], area: str = "Torfaen") -> dict[tuple[str, str, str], Figure]:
    figures = partnership_dataset(entries, Scope(*Q4, area, case_areas(entries)), POPULATION)
    return {(f.measure, f.dimension, f.breakdown): f for f in figures}


def value(figures: dict, measure: str, dimension: str = "", breakdown: str = "") -> float | None:
    return figures[(measure, dimension, breakdown)].value


def test_figures_reconcile_with_the_known_quarter(app: ReportingApplication) -> None:
    f = figures_of(scenario(Feed(app)))
    assert value(f, "disclosures", "channel=VICTIM_DIRECT") == 4   # not Newport's, not September's
    assert value(f, "disclosures", "channel=POLICE_DACC") == 2
    assert value(f, "risk_assessments", "grade=HIGH") == 3
    assert value(f, "risk_assessments", "grade=MEDIUM") == 2
    assert value(f, "risk_assessments", "trigger=VISIBLE_HIGH_RISK") == 2
    assert value(f, "risk_assessments", "trigger=PROFESSIONAL_JUDGEMENT") == 1
    support = ("type=SPECIALIST_SUPPORT", "target_agency=idva-service")
    assert value(f, "referrals_required", *support) == 2
    assert value(f, "referrals_sent", *support) == 2
    assert value(f, "referrals_engaged", *support) == 1              # the drop-off: 2 sent, 1 engaged
    assert value(f, "referrals_sent", "type=MARAC", "target_agency=torfaen-marac") == 3
    assert value(f, "marac_volume", "basis=referrals_sent") == 3
    assert value(f, "marac_repeat_rate_percent") == 33.3
    # 3 cases in 92 days, annualised, per 10,000 of 38,000 adult women: 3.1 against SafeLives' 40.
    assert value(f, "marac_volume_per_10k_adult_women_per_year") == round(3 / 38_000 * 10_000 * 365 / 92, 1) == 3.1
    assert value(f, "marac_benchmark_per_10k_adult_women_per_year") == 40
    assert value(f, "marac_referrals_by_referring_agency", "agency=landlord") == 2
    assert value(f, "marac_referrals_by_referring_agency", "agency=gwent-police") == 1
    assert value(f, "sla_clocks", "kind=SAFE_CONTACT", "outcome=on_time") == 4
    assert value(f, "sla_clocks", "kind=SAFE_CONTACT", "outcome=late") == 1
    assert value(f, "sla_clocks", "kind=SAFE_CONTACT", "outcome=open") == 1
    assert value(f, "sla_compliance_percent", "kind=SAFE_CONTACT") == 80.0
    assert value(f, "sla_compliance_percent_by_month", "month=2026-11") == 80.0


def test_small_equality_counts_are_suppressed(app: ReportingApplication) -> None:
    f = figures_of(scenario(Feed(app)))
    assert value(f, "equality_and_diversity", "ethnicity=WHITE_BRITISH") == 5   # 5 is shown
    one = f[("equality_and_diversity", "ethnicity=ASIAN_BRITISH", "")]
    assert one.suppressed and one.value is None                                   # 1 is not
    assert value(f, "equality_and_diversity", "age_band=25-34") == 6
    csv = to_csv(list(f.values())).decode()
    assert "equality_and_diversity,ethnicity=ASIAN_BRITISH,,<5" in csv
    assert "equality_and_diversity,ethnicity=ASIAN_BRITISH,,1" not in csv


def test_every_area_together_and_the_reports(app: ReportingApplication) -> None:
    feed = Feed(app)
    scenario(feed)
    figures = dataset(app.timelines, *Q4, "", POPULATION)
    by_key = {(x.measure, x.dimension, x.breakdown): x for x in figures}
    assert value(by_key, "disclosures", "channel=VICTIM_DIRECT") == 5  # Newport's counted too
    page = to_html(figures, "2026-10-01", "2026-12-31", "").decode()
    assert page.count("<svg") == 3 and "SafeLives benchmark" in page
    assert "http://kozea" not in page.replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")  # fetches nothing
    assert "Disclosures" in page


def test_a_period_must_be_dates_in_order() -> None:
    assert parse_period("2026-10-01", "2026-12-31") == Q4
    with pytest.raises(InvalidArgument) as bad:
        parse_period("2026-13-01", "yesterday")
    assert [v.field for v in bad.value.violations] == ["from_date", "to_date"]
    with pytest.raises(InvalidArgument):
        parse_period("2026-12-31", "2026-10-01")
