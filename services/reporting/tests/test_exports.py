"""Exports for reviewers: redacted, hashed, the same hash in every format; the HTML checked in
real headless Chromium (renders, prints to PDF, redacted values absent from the page text)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from caseplatform.testing import needs
from reporting.exports.document import content_hash, json_export, timeline_content, verify_json
from reporting.exports.html import render_timeline, verify_html
from reporting.exports.pdf import chromium_command, chromium_path, html_to_pdf
from reporting.exports.redaction import REDACTED, redact

SAFE_NUMBER = "07700 900123"
ADDRESS = "14 Synthetic Row"
POSTCODE = "NP4 6YB"


def entry(summary: str, details: dict) -> dict:
    return {
        "event_id": "e-1", "service": "intake", "event_type": "intake.v1.SafeContactRecorded",
        "actor": {"agency": "landlord", "role": "CHO", "user": "cho-7"},
        "occurred_at": "2026-11-21T10:00:00.000000Z", "recorded_at": "2026-11-21T10:05:00.000000Z",
        "summary": summary, "deadlines": [{"kind": "SAFE_CONTACT", "clock_id": "", "mark": "MET", "due_at": ""}],
        "correction": False, "details": details,
    }


ENTRIES = [
    entry(f"Safe contact made on {SAFE_NUMBER}; victim now at {ADDRESS}", {
        "case_id": "c-1",
        "safe_contact": {"safe_number": SAFE_NUMBER, "safe_times": "after 6pm", "leave_message": False},
        "current_address": {"line1": ADDRESS, "postcode": POSTCODE},
        "perpetrator": {"address": {"line1": "9 Other Lane"}},
        "outcome": "MADE",
    }),
    {**entry("Details corrected (a new record; nothing overwritten)", {"postcode_district": "NP44"}),
     "event_id": "e-2", "correction": True},
]
SECRETS = [SAFE_NUMBER, ADDRESS, POSTCODE, "after 6pm", "9 Other Lane", "NP44"]


def test_redaction_clears_safe_contact_and_addresses_wherever_they_appear() -> None:
    content = timeline_content("c-1", None, ENTRIES)
    text = json.dumps(content)
    for secret in SECRETS:
        assert secret not in text
    first = content["entries"][0]
    assert first["details"]["safe_contact"] == REDACTED
    assert first["details"]["outcome"] == "MADE"  # what is not sensitive stays
    assert first["summary"] == f"Safe contact made on {REDACTED}; victim now at {REDACTED}"
    assert redact({"area": "torfaen"}) == {"area": "torfaen"}


def test_content_hash_verifies_and_detects_alteration() -> None:
    content = timeline_content("c-1", "2026-11-22T00:00:00.000000Z", ENTRIES)
    exported = json_export(content, generated_at="2026-12-01T09:00:00.000000Z")
    ok, claimed, actual = verify_json(exported)
    assert ok and claimed == actual == content_hash(content)
    # Exported again later: the same content, the same hash.
    assert verify_json(json_export(content, generated_at="2027-01-01T00:00:00.000000Z"))[1] == claimed

    tampered = json.loads(exported)
    tampered["content"]["entries"][0]["summary"] = "Safe contact made within the deadline"
    ok, claimed_after, actual_after = verify_json(json.dumps(tampered).encode())
    assert not ok and claimed_after == claimed and actual_after != claimed


def test_html_shows_the_same_hash_and_verifies_on_its_own() -> None:
    content = timeline_content("c-1", None, ENTRIES)
    page = render_timeline(content, generated_at="2026-12-01T09:00:00.000000Z")
    ok, shown, _ = verify_html(page)
    assert ok and shown == content_hash(content)
    assert b"Correction:" in page
    altered = page.replace(b"Details corrected", b"Details confirmed")
    assert not verify_html(altered)[0]


def needs_chromium() -> None:
    needs(chromium_path(), "headless Chromium not installed (Debian package 'chromium'; make system-deps)")


@pytest.mark.chromium
def test_html_renders_in_chromium_without_the_redacted_values() -> None:
    needs_chromium()
    content = timeline_content("c-1", None, ENTRIES)
    page = render_timeline(content, generated_at="2026-12-01T09:00:00.000000Z")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "timeline.html")
        path.write_bytes(page)
        dom = subprocess.run(
            chromium_command(chromium_path(), Path(folder, "profile"), "--dump-dom", path.as_uri()),
            check=True, capture_output=True, text=True, timeout=90,
        ).stdout
    assert "Case timeline" in dom and content_hash(content) in dom
    assert dom.count("<tr") == 1 + len(ENTRIES)  # the header and one row per entry, rendered
    for secret in SECRETS:
        assert secret not in dom


@pytest.mark.chromium
def test_html_prints_to_pdf_with_the_hash_and_without_the_redacted_values() -> None:
    needs_chromium()
    content = timeline_content("c-1", None, ENTRIES)
    pdf = html_to_pdf(render_timeline(content, generated_at="2026-12-01T09:00:00.000000Z"))
    assert pdf.startswith(b"%PDF-")
    needs(shutil.which("pdftotext"), "pdftotext (Debian package 'poppler-utils') not installed: PDF text not checked")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert content_hash(content) in text.replace("\n", "").replace(" ", "")
    assert "Safe contact made" in text
    for secret in SECRETS:
        assert secret not in text
