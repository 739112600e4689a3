"""Encryption at rest of every stored event (the library's AES-GCM cipher, zlib-compressed first).

The key is configuration: `<SERVICE>_CIPHER_KEY`, `CASEWORK_CIPHER_KEY` or a file named by
`CASEWORK_CIPHER_KEY_FILE` (base64 of 16/24/32 bytes, from a Kubernetes secret in production, where `CASEWORK_REQUIRE_CIPHER_KEY=true` makes a missing key
fatal). On a developer's machine a key is made once per service under the data directory, so
`make run` encrypts too. Create a key with `python -m caseplatform.crypto`.
"""

from __future__ import annotations

import os
from pathlib import Path

from eventsourcing.cryptography import AESCipher

from caseplatform.settings import PlatformSettings

CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"
COMPRESSOR_TOPIC = "eventsourcing.compressor:ZlibCompressor"


class MissingCipherKey(RuntimeError):
    pass


def cipher_env(service: str, settings: PlatformSettings, env: dict[str, str] | None = None) -> dict[str, str]:
    """The library's cipher settings for this service's store."""
    env = dict(os.environ) if env is None else env
    key = env.get(f"{service.upper()}_CIPHER_KEY") or env.get("CASEWORK_CIPHER_KEY")
    if not key and env.get("CASEWORK_CIPHER_KEY_FILE"):  # a mounted Kubernetes secret
        key = Path(env["CASEWORK_CIPHER_KEY_FILE"]).read_text().strip()
    if not key:
        if env.get("CASEWORK_REQUIRE_CIPHER_KEY", "").lower() in {"1", "true", "yes"}:
            raise MissingCipherKey(
                f"{service}: no encryption key — set {service.upper()}_CIPHER_KEY or CASEWORK_CIPHER_KEY "
                "(base64 of 32 random bytes, e.g. from `python -m caseplatform.crypto`)"
            )
        key = _local_key(settings.casework_data_dir / service / "cipher.key")
    return {"CIPHER_TOPIC": CIPHER_TOPIC, "CIPHER_KEY": key, "COMPRESSOR_TOPIC": COMPRESSOR_TOPIC}


def _local_key(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Exclusive create: two processes starting at once agree on one key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(AESCipher.create_key(32))
    return path.read_text().strip()


if __name__ == "__main__":
    print(AESCipher.create_key(32))
