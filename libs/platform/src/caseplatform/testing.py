"""Helpers for tests of services built on the kernel (imported by tests only)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import grpc

from caseplatform.auth import AioIdentityTokenInterceptor, AuthConfig, DevIssuer, TokenVerifier
from caseplatform.clock import ControlledClock, set_process_clock


@contextmanager
def controlled_clock(start: datetime) -> Iterator[ControlledClock]:
    """Run with the process clock stopped at `start` (move it with `.advance()`/`.set()`)."""
    clock = ControlledClock(start)
    previous = set_process_clock(clock)
    try:
        yield clock
    finally:
        set_process_clock(previous)


class TestIdentities:
    """A throwaway dev issuer for a test's own gRPC server and clients: tokens are real JWTs,
    verified by the same edge as in production."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path) -> None:
        self.issuer = DevIssuer(directory)
        self.verifier = TokenVerifier(
            AuthConfig(issuer=self.issuer.issuer, audience=self.issuer.audience, keys_source=self.issuer.public_keys)
        )

    def aio_channel(self, address: str) -> grpc.aio.Channel:
        """An asyncio channel on which x-agency/x-role/x-user metadata becomes a signed token."""
        return grpc.aio.insecure_channel(address, interceptors=[AioIdentityTokenInterceptor(self.issuer)])
