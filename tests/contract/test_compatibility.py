"""Partners build clients from `proto/` and the topics keep events for ever: a `v1` contract only
grows (ADR 0005). The compiled contracts are compared with the recorded baseline
(`proto/compatibility-baseline.json`): nothing removed, renumbered, renamed or retyped, and every
addition recorded (`make proto-baseline`, after review), so that it is protected from then on."""

from __future__ import annotations

import copy

import pytest

from caseplatform.contract_shape import Shape, breaking, current, recorded, unrecorded


def test_the_contracts_break_nothing_the_baseline_records() -> None:
    problems = breaking(recorded(), current())
    assert problems == [], "breaking changes to a v1 contract (add a v2 package instead):\n" + "\n".join(problems)


def test_every_addition_is_recorded_in_the_baseline() -> None:
    added = unrecorded(recorded(), current())
    assert added == [], "record these additions with `make proto-baseline` (after review):\n" + "\n".join(added)


@pytest.fixture
def base() -> Shape:
    return current()


def _changed(base: Shape, change) -> list[str]:  # type: ignore[no-untyped-def]
    after = copy.deepcopy(base)
    change(after)
    return breaking(base, after)


def test_a_removed_field_breaks_unless_its_number_is_reserved(base: Shape) -> None:
    fields = base["messages"]["risk.v1.RiskAssessed"]["fields"]
    number = next(n for n, f in fields.items() if f["name"] == "grade")

    def remove(s: Shape) -> None:
        del s["messages"]["risk.v1.RiskAssessed"]["fields"][number]

    def remove_and_reserve(s: Shape) -> None:
        remove(s)
        s["messages"]["risk.v1.RiskAssessed"]["reserved"].append(int(number))

    assert _changed(base, remove) == [f"risk.v1.RiskAssessed field {number} (grade) removed without reserving its number"]
    assert _changed(base, remove_and_reserve) == []


def test_a_field_retyped_renamed_or_made_repeated_breaks(base: Shape) -> None:
    number = next(n for n, f in base["messages"]["risk.v1.RiskAssessed"]["fields"].items() if f["name"] == "grade")
    for key, value in (("type", "TYPE_STRING"), ("name", "risk_grade"), ("repeated", True)):
        def change(s: Shape, key: str = key, value: object = value) -> None:
            s["messages"]["risk.v1.RiskAssessed"]["fields"][number][key] = value

        (problem,) = _changed(base, change)
        assert problem.startswith(f"risk.v1.RiskAssessed field {number} changed: {key} ")


def test_enum_values_may_be_added_but_not_removed_or_renamed(base: Shape) -> None:
    values = base["enums"]["risk.v1.Grade"]["values"]
    high = next(n for n, name in values.items() if name == "HIGH")

    def add(s: Shape) -> None:
        s["enums"]["risk.v1.Grade"]["values"]["97"] = "VERY_HIGH"

    def rename(s: Shape) -> None:
        s["enums"]["risk.v1.Grade"]["values"][high] = "SEVERE"

    def remove(s: Shape) -> None:
        del s["enums"]["risk.v1.Grade"]["values"][high]

    assert _changed(base, add) == []
    assert _changed(base, rename) == [f"risk.v1.Grade value {high} renamed HIGH -> SEVERE"]
    assert _changed(base, remove) == [f"risk.v1.Grade value {high} (HIGH) removed without reserving its number"]


def test_an_rpc_removed_or_given_another_request_breaks(base: Shape) -> None:
    rpc = "intake.v1.IntakeService/SubmitDisclosure"
    assert rpc in base["methods"]

    def retype(s: Shape) -> None:
        s["methods"][rpc]["input"] = "intake.v1.OtherRequest"

    def remove(s: Shape) -> None:
        del s["methods"][rpc]

    assert _changed(base, retype) == [f"rpc {rpc} changed: input 'intake.v1.SubmitDisclosureRequest' -> 'intake.v1.OtherRequest'"]
    assert _changed(base, remove) == [f"rpc {rpc} removed"]


def test_additions_are_allowed_and_listed_until_recorded(base: Shape) -> None:
    after = copy.deepcopy(base)
    after["messages"]["risk.v1.RiskAssessed"]["fields"]["999"] = {
        "name": "new_field", "type": "TYPE_STRING", "type_name": "", "repeated": False}
    after["enums"]["risk.v1.Grade"]["values"]["97"] = "VERY_HIGH"
    assert breaking(base, after) == []
    assert unrecorded(base, after) == ["risk.v1.Grade value 97", "risk.v1.RiskAssessed field 999"]
