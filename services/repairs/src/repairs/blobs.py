"""Where evidence (photos of damage before and after repair) is kept: a local folder by default,
content-addressed by sha256 (the same photo twice is stored once). Only the reference and hash
go into events."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class StoredBlob:
    reference: str
    sha256: str
    size_bytes: int


class BlobStore(Protocol):
    def put(self, content: bytes) -> StoredBlob: ...

    def get(self, reference: str) -> bytes: ...


class LocalBlobStore:
    SCHEME = "local:sha256:"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, content: bytes) -> StoredBlob:
        digest = hashlib.sha256(content).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(content)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return StoredBlob(f"{self.SCHEME}{digest}", digest, len(content))

    def get(self, reference: str) -> bytes:
        if not reference.startswith(self.SCHEME):
            raise KeyError(reference)
        digest = reference.removeprefix(self.SCHEME)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise KeyError(reference)
        return self._path(digest).read_bytes()
