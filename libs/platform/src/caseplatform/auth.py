"""Authentication at the edge: every gRPC call carries a signed JWT naming agency, role and user.

* `TokenVerifier` checks signature, issuer, audience, expiry and the identity claims, and turns a
  token into the `Actor` that travels with the request and the events it causes.
* `DevIssuer` is the local issuer for `make run` and the tests: an ES256 key pair kept under the
  data directory; `casework-token` (see `main`) mints tokens for the documented dev identities.
* `IdentityTokenInterceptor` lets a development client say who it is as `x-agency`/`x-role`/
  `x-user` metadata and sends a minted bearer token instead (never used by a server).

Production points `CASEWORK_JWT_PUBLIC_KEYS` at the landlord's identity provider's public keys
(PEM or a JWKS document, mounted from a Kubernetes secret) and never holds a private key.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from caseplatform.identity import Actor

DEV_ISSUER = "casework-dev-issuer"
DEFAULT_AUDIENCE = "casework"
ALGORITHMS = ("ES256", "RS256", "EdDSA")
IDENTITY_CLAIMS = ("agency", "role", "sub")
IDENTITY_KEYS = ("x-agency", "x-role", "x-user")


class Unauthenticated(Exception):
    """The caller could not be authenticated; the message says why (never echoes the token)."""


@dataclass(frozen=True)
class AuthConfig:
    issuer: str
    audience: str
    keys_source: Path
    leeway_s: int = 30

    @classmethod
    def from_env(cls, data_dir: Path, env: dict[str, str] | None = None) -> AuthConfig:
        env = os.environ if env is None else env
        keys = env.get("CASEWORK_JWT_PUBLIC_KEYS") or str(DevIssuer.default_dir(data_dir) / "public.pem")
        return cls(
            issuer=env.get("CASEWORK_JWT_ISSUER", DEV_ISSUER),
            audience=env.get("CASEWORK_JWT_AUDIENCE", DEFAULT_AUDIENCE),
            keys_source=Path(keys),
            leeway_s=int(env.get("CASEWORK_JWT_LEEWAY_S", "30")),
        )


def _load_keys(source: Path) -> list[Any]:
    """Public keys from a PEM file (one or more keys) or a JWKS JSON document."""
    if not source.exists():
        raise FileNotFoundError(
            f"no JWT public keys at {source}: set CASEWORK_JWT_PUBLIC_KEYS (PEM or JWKS), "
            "or start the stack with `make run`, which creates the local dev issuer"
        )
    text = source.read_text()
    if text.lstrip().startswith("{"):
        return [jwt.PyJWK(key).key for key in json.loads(text)["keys"]]
    blocks = [b for b in text.split("-----END PUBLIC KEY-----") if "-----BEGIN PUBLIC KEY-----" in b]
    return [serialization.load_pem_public_key((b.strip() + "\n-----END PUBLIC KEY-----\n").encode()) for b in blocks]


class TokenVerifier:
    """Checks a bearer token's signature, issuer, audience and expiry, and names its actor.

    A token once verified is remembered until it expires (at most `CACHE_SIZE` of them): callers
    send the same token with call after call, and an ES256 signature check costs ~0.2-0.7 ms of
    CPU per call, a tenth of a disclosure's whole path (profiled). Nothing a token says can change
    before it expires, and the keys it was checked against are the process's for its lifetime."""

    CACHE_SIZE = 4096

    def __init__(self, config: AuthConfig) -> None:
        self.config = config
        self._keys = _load_keys(config.keys_source)
        if not self._keys:
            raise ValueError(f"no public keys in {config.keys_source}")
        self._verified: OrderedDict[str, tuple[Actor, float]] = OrderedDict()  # token -> (actor, valid until)
        self._lock = threading.Lock()  # sync servers call from many threads

    def actor(self, metadata: Sequence[tuple[str, Any]] | None) -> Actor:
        """The authenticated caller of a gRPC call, from its `authorization: Bearer …` metadata."""
        header = next((str(v) for k, v in (metadata or ()) if k == "authorization"), "")
        if not header:
            raise Unauthenticated("missing credentials: send 'authorization: Bearer <JWT>' metadata")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("malformed authorization metadata: expected 'Bearer <JWT>'")
        return self.verify(token.strip())

    def verify(self, token: str) -> Actor:
        now = time.time()  # the library's clock for `exp`
        with self._lock:
            known = self._verified.get(token)
            if known is not None:
                if now < known[1]:
                    self._verified.move_to_end(token)
                    return known[0]
                del self._verified[token]
        claims = self._decode(token)
        missing = [c for c in IDENTITY_CLAIMS if not str(claims.get(c, "")).strip()]
        if missing:
            raise Unauthenticated(f"token lacks identity claims: {', '.join(missing)}")
        actor = Actor(agency=str(claims["agency"]), role=str(claims["role"]), user=str(claims["sub"]))
        with self._lock:
            # Accepted until `exp` plus the leeway, as `jwt.decode` itself would accept it.
            self._verified[token] = (actor, float(claims["exp"]) + self.config.leeway_s)
            if len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return actor

    def _decode(self, token: str) -> dict[str, Any]:
        last: Exception | None = None
        for key in self._keys:  # several keys during a rotation: any may have signed it
            try:
                return jwt.decode(
                    token,
                    key=key,
                    algorithms=list(ALGORITHMS),
                    audience=self.config.audience,
                    issuer=self.config.issuer,
                    leeway=self.config.leeway_s,
                    options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                )
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.ExpiredSignatureError:
                raise Unauthenticated("token expired") from None
            except jwt.InvalidAudienceError:
                raise Unauthenticated(f"token audience is not {self.config.audience!r}") from None
            except jwt.InvalidIssuerError:
                raise Unauthenticated("token issuer is not trusted") from None
            except jwt.MissingRequiredClaimError as exc:
                raise Unauthenticated(f"token lacks the {exc.claim!r} claim") from None
            except jwt.InvalidTokenError as exc:
                raise Unauthenticated(f"invalid token: {type(exc).__name__}") from None
        raise Unauthenticated("bad token signature") from last


class DevIssuer:
    """The local issuer: an ES256 key pair under `<data dir>/dev-issuer/`, made on first use."""

    def __init__(self, directory: Path, issuer: str = DEV_ISSUER, audience: str = DEFAULT_AUDIENCE) -> None:
        self.directory = directory
        self.issuer = issuer
        self.audience = audience
        private = directory / "private.pem"
        if not private.exists():
            directory.mkdir(parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            private.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            private.chmod(0o600)
            (directory / "public.pem").write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        self._key = serialization.load_pem_private_key(private.read_bytes(), password=None)

    @staticmethod
    def default_dir(data_dir: Path) -> Path:
        return data_dir / "dev-issuer"

    @property
    def public_keys(self) -> Path:
        return self.directory / "public.pem"

    def mint(
        self,
        agency: str,
        role: str,
        user: str,
        *,
        ttl_s: int = 3600,
        audience: str | None = None,
        issued_at: float | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time() if issued_at is None else issued_at)
        payload = {
            "iss": self.issuer,
            "aud": audience or self.audience,
            "sub": user,
            "agency": agency,
            "role": role,
            "iat": now,
            "exp": now + ttl_s,
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm="ES256")


class _ClientCallDetails(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


def _with_token(issuer: DevIssuer, cache: dict[tuple[str, ...], str], metadata: Any) -> list[tuple[str, str]]:
    items = list(metadata or ())
    identity = {k: v for k, v in items if k in IDENTITY_KEYS}
    if set(identity) != set(IDENTITY_KEYS) or any(k == "authorization" for k, _ in items):
        return items
    key = tuple(identity[k] for k in IDENTITY_KEYS)
    if key not in cache:
        cache[key] = issuer.mint(*key)
    return [(k, v) for k, v in items if k not in IDENTITY_KEYS] + [("authorization", f"Bearer {cache[key]}")]


class IdentityTokenInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Development clients (tests, casectl against `make run`): x-* identity → a dev-issued token."""

    def __init__(self, issuer: DevIssuer) -> None:
        self._issuer = issuer
        self._cache: dict[tuple[str, ...], str] = {}

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _ClientCallDetails(details, _with_token(self._issuer, self._cache, details.metadata))

    def intercept_unary_unary(self, continuation: Callable, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable, details: Any, iterator: Any) -> Any:
        return continuation(self._details(details), iterator)

    def intercept_stream_stream(self, continuation: Callable, details: Any, iterator: Any) -> Any:
        return continuation(self._details(details), iterator)


class AioIdentityTokenInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """The same for asyncio channels, unary calls. grpc.aio files each interceptor under one kind
    of call only: use `aio_identity_interceptors` for a channel that also makes server-streaming
    calls (`WatchCaseTimeline`)."""

    def __init__(self, issuer: DevIssuer) -> None:
        self._issuer = issuer
        self._cache: dict[tuple[str, ...], str] = {}

    async def intercept_unary_unary(self, continuation: Callable, details: Any, request: Any) -> Any:
        return await continuation(self.with_token(details), request)

    def with_token(self, details: Any) -> Any:
        return details._replace(metadata=grpc.aio.Metadata(*_with_token(self._issuer, self._cache, details.metadata)))


class _StreamTokens(grpc.aio.UnaryStreamClientInterceptor):
    """Server-streaming calls, tokens from the unary interceptor (one cache)."""

    def __init__(self, tokens: AioIdentityTokenInterceptor) -> None:
        self._tokens = tokens

    async def intercept_unary_stream(self, continuation: Callable, details: Any, request: Any) -> Any:
        return await continuation(self._tokens.with_token(details), request)


def aio_identity_interceptors(issuer: DevIssuer) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors for an asyncio channel: unary and server-streaming calls."""
    tokens = AioIdentityTokenInterceptor(issuer)
    return [tokens, _StreamTokens(tokens)]


def dev_channel(target: str, data_dir: Path) -> grpc.Channel:
    """A plaintext loopback channel that authenticates x-* identities with the local dev issuer."""
    issuer = DevIssuer(DevIssuer.default_dir(data_dir))
    return grpc.intercept_channel(grpc.insecure_channel(target), IdentityTokenInterceptor(issuer))


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m caseplatform.auth --agency landlord --role CHO --user cho-7`: print a dev token."""
    parser = argparse.ArgumentParser(description="Mint a token from the local dev issuer (make run only).")
    parser.add_argument("--agency", required=True)
    parser.add_argument("--role", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CASEWORK_DATA_DIR", "var")))
    args = parser.parse_args(argv)
    issuer = DevIssuer(DevIssuer.default_dir(args.data_dir))
    print(issuer.mint(args.agency, args.role, args.user, ttl_s=args.ttl))


if __name__ == "__main__":
    main()
