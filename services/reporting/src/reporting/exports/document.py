"""The exported timeline as a document with a content hash. The hash is the SHA-256 of the
canonical JSON of the redacted content (keys sorted, no insignificant whitespace, UTF-8); the
JSON, HTML and PDF exports of the same timeline carry the same hash, and anyone holding the JSON
(or the HTML, which embeds it) can recompute it. The time of generation is outside the hashed
content, so exporting the same timeline twice gives the same hash."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reporting.exports.redaction import POLICY, redact

ENTRY_FIELDS = (
    "event_id", "service", "event_type", "actor", "occurred_at", "recorded_at",
    "summary", "deadlines", "correction", "details",
)


def timeline_content(case_id: str, as_at: str | None, entries: list[dict[str, Any]]) -> dict[str, Any]:
    content = {
        "report": "case-timeline",
        "case_id": case_id,
        "as_at": as_at,
        "redaction": POLICY,
        "entries": [{k: e.get(k) for k in ENTRY_FIELDS} for e in entries],
    }
    return redact(content)


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(content)).hexdigest()


def json_export(content: dict[str, Any], generated_at: str) -> bytes:
    document = {
        "content": content,
        "content_sha256": content_hash(content),
        "hash": "SHA-256 of the canonical JSON of 'content': keys sorted, separators ',' and ':', UTF-8",
        "generated_at": generated_at,
    }
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def verify_json(exported: bytes) -> tuple[bool, str, str]:
    """(unaltered?, the hash it claims, the hash of its content as it stands)."""
    document = json.loads(exported)
    claimed = str(document.get("content_sha256", ""))
    actual = content_hash(document["content"])
    return claimed == actual, claimed, actual
