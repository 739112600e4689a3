"""Matching police DACC incidents to the tenancy register (seed 000): by the victim's tenancy
reference, or by normalised first address line and postcode."""

from __future__ import annotations

import pytest

from intake.dacc.matching import ADDRESS, TENANT_REF, match_incident
from intake.dacc.normalise import normalise_line, normalise_postcode
from intake.dacc.register import Tenancy, TenancyRegister, load_tenancy_register

HOME = Tenancy("T-1", "12 Example Street", "", "Pontypool", "NP4 6YB", joint_tenancy=False)
FLAT = Tenancy("T-2", "Flat 3, Sample Court", "", "Cwmbran", "NP44 1AA", joint_tenancy=True)
REGISTER = TenancyRegister([HOME, FLAT])


def victim(**fields: object) -> dict[str, object]:
    return {"role": "VICTIM", "name": "Synthetic Victim", **fields}


@pytest.mark.parametrize("raw", ["NP4 6YB", "np46yb", " np4  6yb ", "Np4 6Yb"])
def test_postcodes_normalise_to_the_royal_mail_shape(raw: str) -> None:
    assert normalise_postcode(raw) == "NP4 6YB"


@pytest.mark.parametrize("raw", ["", "NP4", "6YB NP4", "NOT A POSTCODE", "NP4 6Y"])
def test_what_is_not_a_postcode_does_not_normalise(raw: str) -> None:
    assert normalise_postcode(raw) is None


def test_address_lines_ignore_case_punctuation_and_common_abbreviations() -> None:
    assert normalise_line("12, Example St.") == normalise_line("12 EXAMPLE STREET") == "12 example street"
    assert normalise_line("Apt 3 Sample Ct") == normalise_line("Flat 3, Sample Court")


def test_a_victim_tenancy_reference_matches_whatever_the_address() -> None:
    found = match_incident([{"line1": "somewhere else", "postcode": "CF10 1AA"}], [victim(tenant_ref="t-2")], REGISTER)
    assert found is not None and (found.tenancy, found.matched_on) == (FLAT, TENANT_REF)


def test_a_victim_home_address_matches_when_normalised() -> None:
    parties = [victim(home_address={"line1": "12 example st", "postcode": "np46yb"})]
    found = match_incident([], parties, REGISTER)
    assert found is not None and (found.tenancy, found.matched_on) == (HOME, ADDRESS)


def test_the_incident_address_matches_for_the_victim() -> None:
    found = match_incident([{"line1": "flat 3 sample ct.", "postcode": "NP441AA"}], [victim()], REGISTER)
    assert found is not None and (found.tenancy, found.matched_on, found.victim["name"]) == (FLAT, ADDRESS, "Synthetic Victim")


def test_the_same_street_in_another_postcode_does_not_match() -> None:
    assert match_incident([{"line1": "12 Example Street", "postcode": "NP4 6YD"}], [victim()], REGISTER) is None


def test_a_tenancy_found_only_through_the_perpetrator_is_not_a_match() -> None:
    parties = [victim(), {"role": "PERPETRATOR", "tenant_ref": "T-1",
                          "home_address": {"line1": "12 Example Street", "postcode": "NP4 6YB"}}]
    assert match_incident([], parties, REGISTER) is None


def test_the_bundled_register_loads_normalised() -> None:
    register = load_tenancy_register()
    tenancy = register.by_address("flat 3 sample ct", "np44 1aa")
    assert tenancy is not None and tenancy.tenant_ref == "T-DACC-1002" and tenancy.joint_tenancy
