"""Redaction for exports: safe-contact details and anyone's current address never leave in a
report, even where an event carried them. Fields are redacted by name (any depth); each value
redacted is then also scrubbed from every other text in the document (e.g. a summary naming the
patch), so the value is absent from the report wherever it appeared."""

from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"
# Field names (or parts of names) that hold safe-contact details or an address.
SENSITIVE = (
    "safe_contact", "safe_number", "safe_phone", "safe_email", "safe_times", "leave_message",
    "address", "postcode", "line1", "line2", "town", "phone", "email",
)
POLICY = "Safe-contact details and current addresses are redacted."


def is_sensitive(key: str) -> bool:
    key = key.lower()
    return any(part in key for part in SENSITIVE)


def redact(document: Any) -> Any:
    found: set[str] = set()
    cleared = _clear(document, found)
    return _scrub(cleared, sorted(found, key=len, reverse=True))


def _clear(value: Any, found: set[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if is_sensitive(str(key)):
                _collect(item, found)
                out[key] = REDACTED
            else:
                out[key] = _clear(item, found)
        return out
    if isinstance(value, list):
        return [_clear(item, found) for item in value]
    return value


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)
    elif isinstance(value, str) and len(value.strip()) >= 2:
        found.add(value.strip())


def _scrub(value: Any, secrets: list[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, str) and value != REDACTED:
        for secret in secrets:
            value = value.replace(secret, REDACTED)
    return value
