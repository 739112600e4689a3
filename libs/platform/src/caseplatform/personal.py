"""Personal data sealed per data subject, so one person can be erased (crypto-shredding).

A service seals each personal field it stores (a victim's name, address, phone, safe times…) with
a key of that person's own, kept in the service's database wrapped by the store's cipher key.
`erase(subject)` destroys the key: every sealed value of that person — in every stored event,
snapshot and projection built from them — then reads as `ERASED`, while the case's non-personal
history (times, grades, deadlines) stays intact. Events are immutable; the key is not.
"""

from __future__ import annotations

import os
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from caseplatform.projection import Rows
from caseplatform.store import ServiceApplication, Sql

ERASED = "[erased]"
PREFIX = "pd1."  # sealed-value format version
_CACHE_S = 5.0  # a replica may open a just-erased value for at most this long


class PersonalData:
    def __init__(self, app: ServiceApplication) -> None:
        self._app = app  # keeps the datastore (and its connection pool) open
        self._sql = Sql(app)
        self._table = self._sql.table("subject_keys")
        blob = "BLOB" if self._sql.is_sqlite else "BYTEA"
        self._sql.execute(
            f"CREATE TABLE IF NOT EXISTS {self._table} "
            f"(subject_id TEXT PRIMARY KEY, wrapped_key {blob}, erased_at TEXT)"
        )
        self._insert_statement = self._sql.dialect(
            f"INSERT INTO {self._table} (subject_id, wrapped_key, erased_at) VALUES (?, ?, ?) "
            "ON CONFLICT (subject_id) DO NOTHING"
        )
        cipher = getattr(app.mapper, "cipher", None)
        if cipher is None:
            raise RuntimeError("personal data needs the store cipher (caseplatform.crypto)")
        self._wrap = AESGCM(cipher.key)
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._fresh: dict[str, bytes] = {}  # keys of `new_subject` blocks, not stored yet

    # ----- sealing ----------------------------------------------------------------------------

    @contextmanager
    def new_subject(self, subject_id: str) -> Iterator[Rows]:
        """A key for a subject id just made (random: nobody has a key or an erasure under it),
        used by `seal` inside the block; the block gives its row, to be written in the
        transaction that saves the first values sealed with it (`save(..., rows=...)`, ADR
        0027) rather than in a commit of its own before them. If that save fails, neither the
        key nor anything sealed with it was stored."""
        key = AESGCM.generate_key(256)
        self._fresh[subject_id] = key
        try:
            yield ((self, (self._row(subject_id, key),)),)
        finally:
            del self._fresh[subject_id]

    def write_rows(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        cursor.executemany(self._insert_statement, list(rows))

    def seal(self, subject_id: str, value: str) -> str:
        """`value` sealed with the subject's key (created on first use). Empty stays empty."""
        if not value:
            return value
        key = self._key(subject_id, create=True)
        if key is None:
            raise SubjectErased(subject_id)
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, value.encode(), subject_id.encode())
        return f"{PREFIX}{subject_id}.{urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, value: str) -> str:
        """The clear value, or ERASED once the subject's key is destroyed. Unsealed text passes."""
        if not value.startswith(PREFIX):
            return value
        subject_id, _, body = value[len(PREFIX):].rpartition(".")
        key = self._key(subject_id, create=False)
        if key is None:
            return ERASED
        raw = urlsafe_b64decode(body.encode())
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], subject_id.encode()).decode()
        except InvalidTag:
            return ERASED

    # ----- erasure ----------------------------------------------------------------------------

    def erase(self, subject_id: str) -> bool:
        """Destroy the subject's key; True if there was one to destroy."""
        existed = self._load(subject_id) is not None
        self._sql.execute(
            f"UPDATE {self._table} SET wrapped_key = NULL, erased_at = ? WHERE subject_id = ?",
            (datetime.now(UTC).isoformat(), subject_id),
        )
        if not existed:  # remember the erasure, so a later seal cannot re-create a key
            self._insert(subject_id, None)
        self._cache[subject_id] = (time.monotonic(), None)
        return existed

    def is_erased(self, subject_id: str) -> bool:
        rows = self._sql.query(f"SELECT erased_at FROM {self._table} WHERE subject_id = ?", (subject_id,))
        return bool(rows and rows[0][0])

    # ----- keys -------------------------------------------------------------------------------

    def _key(self, subject_id: str, *, create: bool) -> bytes | None:
        fresh = self._fresh.get(subject_id)
        if fresh is not None:
            return fresh
        cached = self._cache.get(subject_id)
        if cached and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        key = self._load(subject_id)
        if key is None and create and not self.is_erased(subject_id):
            self._insert(subject_id, AESGCM.generate_key(256))
            key = self._load(subject_id)  # another process may have won the race: use its key
        self._cache[subject_id] = (time.monotonic(), key)
        return key

    def _load(self, subject_id: str) -> bytes | None:
        rows = self._sql.query(f"SELECT wrapped_key FROM {self._table} WHERE subject_id = ?", (subject_id,))
        if not rows or rows[0][0] is None:
            return None
        wrapped = bytes(rows[0][0])
        return self._wrap.decrypt(wrapped[:12], wrapped[12:], subject_id.encode())

    def _insert(self, subject_id: str, key: bytes | None) -> None:
        self._sql.execute(self._insert_statement, self._row(subject_id, key))

    def _row(self, subject_id: str, key: bytes | None) -> tuple[str, bytes | None, str | None]:
        wrapped = None
        if key is not None:
            nonce = os.urandom(12)
            wrapped = nonce + self._wrap.encrypt(nonce, key, subject_id.encode())
        return (subject_id, wrapped, None if key is not None else datetime.now(UTC).isoformat())


class SubjectErased(Exception):
    """Personal data cannot be recorded for a subject whose data has been erased."""

    def __init__(self, subject_id: str) -> None:
        super().__init__(f"data subject {subject_id} has been erased")
