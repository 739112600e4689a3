"""Events are encrypted at rest: the store's file never holds personal data in clear, the service
reads its own events back, and a store cannot be read with another key."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import Aggregate, event

from caseplatform.crypto import MissingCipherKey, cipher_env
from caseplatform.settings import PlatformSettings
from caseplatform.store import ServiceApplication

SAFE_PHONE = "07700 900123"  # an Ofcom drama number: synthetic


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


def write_note(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[ServiceApplication, UUID]:
    app = ServiceApplication("intake", PlatformSettings(casework_data_dir=tmp_path), env)
    note = Note(text=f"safe number {SAFE_PHONE}")
    app.save(note)
    return app, note.id


def test_the_store_file_holds_no_personal_data_in_clear(tmp_path: Path) -> None:
    app, note_id = write_note(tmp_path)
    assert app.repository.get(note_id).text.endswith(SAFE_PHONE)
    raw = b"".join(p.read_bytes() for p in (tmp_path / "intake").glob("events.sqlite*"))
    assert SAFE_PHONE.encode() not in raw
    assert b"safe number" not in raw


def test_another_key_cannot_read_the_store(tmp_path: Path) -> None:
    _, note_id = write_note(tmp_path)
    intruder = ServiceApplication(
        "intake", PlatformSettings(casework_data_dir=tmp_path), {"CIPHER_KEY": AESCipher.create_key(32)}
    )
    with pytest.raises(Exception):  # noqa: B017 — the library raises its own decryption error
        intruder.repository.get(note_id)


def test_the_configured_key_is_used_and_a_missing_one_is_fatal_where_required(tmp_path: Path) -> None:
    settings = PlatformSettings(casework_data_dir=tmp_path)
    key = AESCipher.create_key(32)
    assert cipher_env("risk", settings, {"RISK_CIPHER_KEY": key})["CIPHER_KEY"] == key
    assert cipher_env("risk", settings, {"CASEWORK_CIPHER_KEY": key})["CIPHER_KEY"] == key
    with pytest.raises(MissingCipherKey, match="RISK_CIPHER_KEY"):
        cipher_env("risk", settings, {"CASEWORK_REQUIRE_CIPHER_KEY": "true"})


def test_a_local_key_is_made_once_and_kept(tmp_path: Path) -> None:
    settings = PlatformSettings(casework_data_dir=tmp_path)
    first = cipher_env("referral", settings, {})["CIPHER_KEY"]
    assert cipher_env("referral", settings, {})["CIPHER_KEY"] == first
    assert (tmp_path / "referral" / "cipher.key").stat().st_mode & 0o777 == 0o600
    assert cipher_env("marac", settings, {})["CIPHER_KEY"] != first
