"""Which of intake's stored fields are personal, sealed with their data subject's own key (ADR 0022).

A case names its data subjects by random ids (`Case.subjects`: VICTIM, PERPETRATOR), never by
anything personal. The victim's name, address lines, full postcode and date of birth, the
safe-contact phone and times, the free text of the MARAC form, notes and reasons are sealed with
the victim's key before they reach an event; what routing, deadlines and figures need stays in
clear: the postcode district (NP4), children's ages, dates, grades, channel, flags and codes.
Opening a value of an erased subject gives `ERASED` ("[erased]").
"""

from __future__ import annotations

import uuid
from typing import Any

from caseplatform.personal import ERASED, PersonalData
from intake.domain.patches import postcode_district

VICTIM, PERPETRATOR = "VICTIM", "PERPETRATOR"
OTHER_PARTY = "OTHER_PARTY"  # a DACC incident's other parties (witnesses, relatives)
SUBJECTS = (VICTIM, PERPETRATOR)

_VICTIM_FIELDS = ("name", "date_of_birth")
_ADDRESS_FIELDS = ("line1", "line2", "town", "postcode")
_SAFE_CONTACT_FIELDS = ("safe_phone", "safe_times")
_DETAIL_FIELDS = ("support_worker",)  # an agency worker's name: it says who supports the victim
_PARTY_FIELDS = ("name", "date_of_birth", "phone")  # the tenancy reference stays: it is how a match is made
FORM_FIELDS = ("safe_times", "who_victim_fears", "safe_to_talk_to")

__all__ = ["ERASED", "FORM_FIELDS", "PERPETRATOR", "SUBJECTS", "VICTIM", "Sealer", "new_subjects"]


def new_subjects(subjects: tuple[str, ...] = SUBJECTS) -> dict[str, str]:
    """Random subject ids for a new case or DACC incident: linkable to nobody outside intake's store."""
    return {subject: str(uuid.uuid4()) for subject in subjects}


def district(victim: dict[str, Any]) -> str:
    """The postcode district kept in clear; events recorded before sealing held the postcode."""
    address = victim.get("address") or {}
    return address.get("district") or postcode_district(address.get("postcode", ""))


class Sealer:
    def __init__(self, personal: PersonalData) -> None:
        self.personal = personal

    def seal(self, subject_id: str, value: str | None) -> str | None:
        return self.personal.seal(subject_id, value) if value else value

    def open(self, value: Any) -> Any:
        return self.personal.open(value) if isinstance(value, str) else value

    # ----- the victim ----------------------------------------------------------------------

    def seal_victim(self, subject_id: str, victim: dict[str, Any]) -> dict[str, Any]:
        address = dict(victim.get("address") or {})
        sealed_address = {k: self.seal(subject_id, address.get(k, "")) for k in _ADDRESS_FIELDS}
        sealed_address["district"] = postcode_district(address.get("postcode", ""))
        sealed = {**victim, "address": sealed_address}
        for field in _VICTIM_FIELDS:
            sealed[field] = self.seal(subject_id, victim.get(field))
        return sealed

    def open_victim(self, victim: dict[str, Any]) -> dict[str, Any]:
        address = dict(victim.get("address") or {})
        opened = {**victim, "address": {k: self.open(address.get(k, "")) for k in _ADDRESS_FIELDS}}
        for field in _VICTIM_FIELDS:
            opened[field] = self.open(victim.get(field))
        return opened

    def seal_safe_contact(self, subject_id: str, safe_contact: dict[str, Any]) -> dict[str, Any]:
        return {**safe_contact, **{k: self.seal(subject_id, safe_contact.get(k, "")) for k in _SAFE_CONTACT_FIELDS}}

    def open_safe_contact(self, safe_contact: dict[str, Any]) -> dict[str, Any]:
        return {**safe_contact, **{k: self.open(safe_contact.get(k, "")) for k in _SAFE_CONTACT_FIELDS}}

    def seal_details(self, subject_id: str, details: dict[str, Any]) -> dict[str, Any]:
        return {**details, **{k: self.seal(subject_id, details[k]) for k in _DETAIL_FIELDS if k in details}}

    def seal_form(self, subject_id: str, form: dict[str, Any]) -> dict[str, Any]:
        return {**form, **{k: self.seal(subject_id, form.get(k, "")) for k in FORM_FIELDS}}

    # ----- DACC incidents: parties and the scene's addresses ------------------------------------

    def seal_address(self, subject_id: str, address: dict[str, Any] | None) -> dict[str, Any] | None:
        if address is None:
            return None
        return {**address, **{k: self.seal(subject_id, address.get(k, "")) for k in _ADDRESS_FIELDS}}

    def open_address(self, address: dict[str, Any] | None) -> dict[str, Any] | None:
        if address is None:
            return None
        return {**address, **{k: self.open(address.get(k, "")) for k in _ADDRESS_FIELDS}}

    def seal_party(self, subject_id: str, party: dict[str, Any]) -> dict[str, Any]:
        sealed = {**party, **{k: self.seal(subject_id, party.get(k)) for k in _PARTY_FIELDS}}
        sealed["home_address"] = self.seal_address(subject_id, party.get("home_address"))
        return sealed

    def open_party(self, party: dict[str, Any]) -> dict[str, Any]:
        opened = {**party, **{k: self.open(party.get(k)) for k in _PARTY_FIELDS}}
        opened["home_address"] = self.open_address(party.get("home_address"))
        return opened

    # ----- erasure ---------------------------------------------------------------------------

    def erase(self, subject_id: str) -> bool:
        return self.personal.erase(subject_id)

    def is_erased(self, subject_id: str) -> bool:
        return self.personal.is_erased(subject_id)
