"""Normalising UK postcodes and first address lines so the police's spelling of an address
matches the tenancy register's. Pure functions.

Postcodes: the Royal Mail format is small and stable, so a tested normaliser here is preferred
to a dependency (ADR 0015): upper case, no inner spaces, then one space before the inward code.
"""

from __future__ import annotations

import re

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")

# Common abbreviations in street names, spelled out so "1 Example St." matches "1 Example Street".
_WORDS = {
    "st": "street", "rd": "road", "ave": "avenue", "av": "avenue", "ln": "lane", "dr": "drive",
    "cl": "close", "ct": "court", "cres": "crescent", "cresc": "crescent", "pl": "place", "sq": "square",
    "gdns": "gardens", "gr": "grove", "terr": "terrace", "ter": "terrace", "wy": "way", "hse": "house",
    "apt": "flat", "apartment": "flat",
}


def normalise_postcode(raw: str) -> str | None:
    """'np4 6yb', 'NP46YB', ' NP4  6YB ' → 'NP4 6YB'; None when it is not a UK postcode shape."""
    compact = re.sub(r"\s+", "", raw or "").upper()
    found = _POSTCODE.match(compact)
    return f"{found.group(1)} {found.group(2)}" if found else None


def normalise_line(raw: str) -> str:
    """'Flat 2, 10 Example St.' → 'flat 2 10 example street': case, punctuation and common
    abbreviations do not decide a match."""
    words = re.sub(r"[^a-z0-9]+", " ", (raw or "").lower()).split()
    return " ".join(_WORDS.get(w, w) for w in words)


def address_key(line1: str, postcode: str) -> tuple[str, str] | None:
    """The key an address is matched on: normalised first line and postcode (None if either is unusable)."""
    code = normalise_postcode(postcode)
    line = normalise_line(line1)
    return (line, code) if code and line else None
