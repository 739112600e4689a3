"""Nothing accepted is lost and nothing is applied twice: services killed, the broker lost,
the whole stack restarted on a fresh broker with the same stores."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from caseplatform.devstack.stack import DevStack

from .client import Client, disclosure, eventually

pytestmark = pytest.mark.system

OwnStack = Callable[[], tuple[DevStack, Client]]


def expected_counts(disclosures: int, with_children: int) -> dict[str, dict[str, int]]:
    """What each service's store must hold, exactly, once everything has flowed."""
    counts = {
        # every synthetic victim has their own tenancy reference: one index entry each
        "intake": {"Case.DisclosureReceived": disclosures, "VictimIndex.VictimIndexed": disclosures},
        "risk": {"RiskAssessment.AssessmentRequired": disclosures},
        # a case file per case; with children a MARF, held by the consent gate (no consent recorded)
        "referral": {
            "ReferralCase.CaseNoted": disclosures,
            "ReferralCase.DisclosureNoted": disclosures,
            "ReferralCase.ReferralFiled": with_children,
            "Referral.ReferralRequired": with_children,
            "Referral.ReferralHeld": with_children,
        },
        "marac": {"CaseFile.CaseFileOpened": disclosures},
        "repairs": {"CaseFile.CaseFileOpened": disclosures},
        "reporting": {
            # one timeline row per event (ADR 0024): intake, risk, marac, repairs and reporting's
            # SlaMet (case recorded on time) for every case; referral's required + held for those
            # with children
            "rows:timeline_entries": 5 * disclosures + 2 * with_children,
            # SLA clocks (ADR 0016): safe contact, case recorded, risk assessment for every case,
            # the children's referral for those with children (one clock, shared by intake and
            # referral); case recorded met at once
            "SlaCase.Registered": disclosures,
            "SlaCase.AreaSet": disclosures,
            "SlaCase.ClockAdded": 3 * disclosures + with_children,
            "SlaClock.Opened": 3 * disclosures + with_children,
            "SlaClock.Started": 3 * disclosures + with_children,
            "SlaClock.Met": disclosures,
        },
    }
    for service in ("risk", "referral", "marac", "repairs", "reporting"):
        # the kernel's owner index (ADR 0021): who owns each case, learnt from intake's event
        counts[service]["CaseOwner.Known"] = disclosures
    return {service: {k: n for k, n in c.items() if n} for service, c in counts.items()}


def settled(client: Client, disclosures: int, with_children: int, timeout: float = 120) -> None:
    expected = expected_counts(disclosures, with_children)

    def check() -> None:
        actual = {service: client.event_counts(service) for service in expected}
        assert actual == expected

    eventually(check, timeout=timeout, interval=0.5)


def burst(client: Client, count: int, *, children_every: int = 2) -> tuple[list[str], int]:
    requests = [disclosure(children=1 if i % children_every == 0 else 0) for i in range(count)]
    with_children = sum(1 for r in requests if r.children)
    return client.submit_many(requests), with_children


def each_case_once_on_its_timeline(client: Client, case_ids: list[str]) -> None:
    for case_id in case_ids:
        types = [e.event_type for e in client.timeline(case_id).entries]
        assert len(types) == len(set(types)), f"{case_id}: {types}"
        assert types.count("intake.v1.DisclosureReceived") == 1


def test_consumers_killed_mid_burst_catch_up_exactly_once(own_stack: OwnStack) -> None:
    stack, client = own_stack()
    submitted: list[tuple[list[str], int]] = []

    def submit() -> None:
        for _ in range(5):
            submitted.append(burst(client, 100))

    sender = threading.Thread(target=submit)
    sender.start()
    eventually(lambda: _at_least(client, "risk", "RiskAssessment.AssessmentRequired", 50), timeout=60, interval=0.05)
    stack.kill_service("risk")  # kill -9: no goodbye
    eventually(lambda: _at_least(client, "reporting", "rows:timeline_entries", 400), timeout=60, interval=0.05)
    stack.kill_service("reporting")
    sender.join(timeout=120)
    stack.start_service("risk")
    stack.start_service("reporting")
    case_ids = [c for ids, _ in submitted for c in ids]
    assert len(case_ids) == 500
    settled(client, 500, sum(n for _, n in submitted))
    each_case_once_on_its_timeline(client, case_ids)


def _at_least(client: Client, service: str, event_type: str, count: int) -> None:
    assert client.event_counts(service).get(event_type, 0) >= count


def test_disclosures_taken_while_the_broker_is_down_are_delivered_once(own_stack: OwnStack) -> None:
    stack, client = own_stack()
    before, before_children = burst(client, 20)
    settled(client, 20, before_children)
    stack.stop_broker()
    during, during_children = burst(client, 30)  # accepted and stored: the broker is not needed
    assert client.event_counts("intake")["Case.DisclosureReceived"] == 50
    stack.start_broker()  # a fresh, empty broker
    settled(client, 50, before_children + during_children)
    each_case_once_on_its_timeline(client, before + during)


def test_restarting_the_stack_keeps_every_case_and_repeats_nothing(own_stack: OwnStack) -> None:
    stack, client = own_stack()
    first, first_children = burst(client, 30)
    settled(client, 30, first_children)
    stack.stop()  # what Ctrl-C on `make run` does
    stack.start()  # a fresh broker, the same stores
    settled(client, 30, first_children, timeout=30)  # replayed to the new broker, applied 0 times
    second, second_children = burst(client, 10)
    settled(client, 40, first_children + second_children)
    each_case_once_on_its_timeline(client, first + second)
