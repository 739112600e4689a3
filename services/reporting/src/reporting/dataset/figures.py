"""Seed 003's monitoring figures, computed from timeline entries (the events' published details).
Event types other helpers add later (acknowledgements, outcomes, MARAC listings, attendance) are
read by name and field name, defensively: absent types simply give no figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from reporting.dataset.figure import Figure
from reporting.dataset.scope import Scope, short
from reporting.dataset.sla import sla_figures

SAFELIVES_BENCHMARK = 40.0  # MARAC cases a year per 10,000 adult women (SafeLives)
SMALL_NUMBER = 5            # equality counts of 1-4 are suppressed
DIVERSITY = ("age_band", "disability", "sex", "ethnicity", "religion", "sexual_orientation")


def partnership_dataset(entries: list[dict[str, Any]], scope: Scope, population: dict[str, int]) -> list[Figure]:
    """`entries`: every timeline entry up to the end of the period (earlier ones give context)."""
    known = [e for e in entries if scope.case_in_area(e["case_id"])]
    period = scope.select(entries)
    return [
        *_disclosures(period), *_risk(period), *_referrals(known, period),
        *_marac(period, scope, population), *sla_figures(known, scope), *_diversity(known, period),
    ]


def _counts(measure: str, counter: Counter, breakdown: str = "") -> list[Figure]:
    return [Figure(measure, k if not isinstance(k, tuple) else k[0], k[1] if isinstance(k, tuple) else breakdown, float(v))
            for k, v in sorted(counter.items())]


def _disclosures(period: list[dict[str, Any]]) -> list[Figure]:
    channels = Counter(f"channel={e['details'].get('channel', 'UNSPECIFIED')}" for e in period
                       if short(e["event_type"]) in ("DisclosureReceived", "FurtherDisclosureReceived"))
    return _counts("disclosures", channels)


def _risk(period: list[dict[str, Any]]) -> list[Figure]:
    assessed = [e["details"] for e in period if short(e["event_type"]) == "RiskAssessed"]
    grades = Counter(f"grade={d.get('grade', 'UNSPECIFIED')}" for d in assessed)
    triggers = Counter(f"trigger={t}" for d in assessed for t in d.get("triggers", []))
    return _counts("risk_assessments", grades) + _counts("risk_assessments", triggers)


def _referrals(known: list[dict[str, Any]], period: list[dict[str, Any]]) -> list[Figure]:
    """Required, sent, acknowledged and engaged, by type and target agency: the drop-off
    between referred and engaged is the warning sign seed 003 asks partnerships to watch."""
    what: dict[str, tuple[str, str]] = {}
    for e in known:
        d = e["details"]
        if d.get("referral_id") and d.get("type"):
            what[d["referral_id"]] = (f"type={d['type']}", f"target_agency={d.get('target_agency', '')}")
    stages: dict[str, Counter] = defaultdict(Counter)
    for e in period:
        d, name = e["details"], short(e["event_type"])
        key = what.get(d.get("referral_id", ""))
        stage = _referral_stage(name, d)
        if key and stage:
            stages[stage][key] += 1
    return [f for stage in ("required", "sent", "acknowledged", "engaged") for f in _counts(f"referrals_{stage}", stages[stage])]


def _referral_stage(name: str, d: dict[str, Any]) -> str | None:
    if name == "ReferralRequired":
        return "required"
    if name == "ReferralSent":
        return "sent"
    if name in ("ReferralAcknowledged", "ReferralAccepted"):
        return "acknowledged"
    if name in ("ReferralEngaged", "ReferralOutcome", "ReferralOutcomeRecorded"):
        outcome = str(d.get("outcome", "")).upper()
        engaged = d.get("engaged") is True or (("ENGAGED" in outcome or "SEEN" in outcome) and "NOT" not in outcome)
        return "engaged" if engaged or name == "ReferralEngaged" else None
    return None


def _marac(period: list[dict[str, Any]], scope: Scope, population: dict[str, int]) -> list[Figure]:
    listed = [e for e in period if e["service"] == "marac" and short(e["event_type"]) == "CaseListed"]
    referred = [e for e in period if short(e["event_type"]) == "ReferralSent" and e["details"].get("type") == "MARAC"]
    basis = "cases_listed" if listed else "referrals_sent"
    cases = {e["case_id"]: e for e in (listed or referred)}
    repeats = sum(1 for e in cases.values() if e["details"].get("repeat") or e["details"].get("marac", {}).get("repeat"))
    figures = [Figure("marac_volume", f"basis={basis}", value=float(len(cases))),
               Figure("marac_repeat_rate_percent", value=round(100.0 * repeats / len(cases), 1) if cases else None)]
    women = population.get(scope.area.lower(), 0) if scope.area else sum(population.values())
    if women:
        per_year = len(cases) / women * 10_000 * 365 / scope.days
        figures.append(Figure("marac_volume_per_10k_adult_women_per_year", value=round(per_year, 1)))
    figures.append(Figure("marac_benchmark_per_10k_adult_women_per_year", value=SAFELIVES_BENCHMARK))
    agencies = Counter(f"agency={e['details'].get('marac', {}).get('referring_agency') or e['actor']['agency']}" for e in referred)
    figures += _counts("marac_referrals_by_referring_agency", agencies)
    return figures + _attendance(period)


def _attendance(period: list[dict[str, Any]]) -> list[Figure]:
    seen: Counter = Counter()
    for e in period:
        if short(e["event_type"]) != "AttendanceRecorded":
            continue
        d = e["details"]
        if d.get("agency"):
            present = d.get("attended", d.get("present", False))
            seen[(f"agency={d['agency']}", "attended" if present else "absent")] += 1
        for agency in d.get("attended_agencies", d.get("present", []) if isinstance(d.get("present"), list) else []):
            seen[(f"agency={agency}", "attended")] += 1
        for agency in d.get("absent_agencies", d.get("absent", [])):
            seen[(f"agency={agency}", "absent")] += 1
    return _counts("marac_attendance", seen)


def _diversity(known: list[dict[str, Any]], period: list[dict[str, Any]]) -> list[Figure]:
    """Of the people whose cases had activity in the period, where recorded; 1-4 suppressed."""
    cases = {e["case_id"] for e in period}
    latest: dict[tuple[str, str], str] = {}
    for e in known:
        if e["case_id"] in cases:
            for key, value in _find(e["details"], DIVERSITY):
                latest[(e["case_id"], key)] = value
    counts = Counter((f"{key}={value}") for (_, key), value in latest.items())
    return [Figure("equality_and_diversity", dimension, value=None if 0 < n < SMALL_NUMBER else float(n),
                   suppressed=0 < n < SMALL_NUMBER) for dimension, n in sorted(counts.items())]


def _find(value: Any, keys: tuple[str, ...]):
    if isinstance(value, dict):
        for k, v in value.items():
            if k in keys and isinstance(v, str | int | bool) and str(v):
                yield k, str(v)
            else:
                yield from _find(v, keys)
    elif isinstance(value, list):
        for item in value:
            yield from _find(item, keys)
