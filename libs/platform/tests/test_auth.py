"""The edge's token check: only a current token from the trusted issuer, for this audience,
naming agency, role and user, authenticates a caller."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from caseplatform.auth import AuthConfig, DevIssuer, TokenVerifier, Unauthenticated


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path / "trusted")


@pytest.fixture
def verifier(issuer: DevIssuer) -> TokenVerifier:
    return TokenVerifier(AuthConfig.from_env(Path("unused"), {"CASEWORK_JWT_PUBLIC_KEYS": str(issuer.public_keys)}))


def bearer(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def test_a_current_token_names_the_actor(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    actor = verifier.actor(bearer(issuer.mint("landlord", "CHO", "cho-7")))
    assert (actor.agency, actor.role, actor.user) == ("landlord", "CHO", "cho-7")


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ([], "missing credentials"),
        ([("authorization", "Basic dXNlcjpwYXNz")], "malformed"),
        ([("authorization", "Bearer not-a-jwt")], "invalid token"),
        ([("x-agency", "landlord"), ("x-role", "CHO"), ("x-user", "u")], "missing credentials"),
    ],
)
def test_no_usable_token_is_refused(verifier: TokenVerifier, metadata: list, reason: str) -> None:
    with pytest.raises(Unauthenticated, match=reason):
        verifier.actor(metadata)


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path, verifier: TokenVerifier) -> None:
    impostor = DevIssuer(tmp_path / "impostor")  # same issuer name and audience, different key
    with pytest.raises(Unauthenticated, match="bad token signature"):
        verifier.actor(bearer(impostor.mint("landlord", "CHO", "cho-7")))


def test_an_expired_token_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.mint("landlord", "CHO", "cho-7", ttl_s=60, issued_at=time.time() - 3600)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.actor(bearer(token))


def test_a_verified_token_is_remembered_only_until_it_expires(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The signature is checked once per token, not once per call; the expiry is still the token's."""
    verifier = TokenVerifier(AuthConfig.from_env(Path("unused"), {
        "CASEWORK_JWT_PUBLIC_KEYS": str(issuer.public_keys), "CASEWORK_JWT_LEEWAY_S": "0"}))
    decoded: list[str] = []
    real_decode = verifier._decode
    monkeypatch.setattr(verifier, "_decode", lambda token: decoded.append(token) or real_decode(token))
    token = issuer.mint("landlord", "CHO", "cho-7", ttl_s=1)
    for _ in range(3):
        assert verifier.actor(bearer(token)).user == "cho-7"
    assert decoded == [token]
    time.sleep(1.1)  # past `exp`: the remembered token is checked again, and refused
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.actor(bearer(token))
    assert decoded == [token, token]


def test_a_refused_token_is_not_remembered(tmp_path: Path, verifier: TokenVerifier) -> None:
    impostor = DevIssuer(tmp_path / "impostor").mint("landlord", "CHO", "cho-7")
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="bad token signature"):
            verifier.actor(bearer(impostor))


def test_a_token_for_another_audience_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthenticated, match="audience"):
        verifier.actor(bearer(issuer.mint("landlord", "CHO", "cho-7", audience="payroll")))


def test_a_token_from_another_issuer_is_refused(tmp_path: Path, issuer: DevIssuer) -> None:
    other = DevIssuer(issuer.directory, issuer="someone-else")  # the trusted key, the wrong issuer name
    verifier = TokenVerifier(AuthConfig(issuer=issuer.issuer, audience=issuer.audience, keys_source=issuer.public_keys))
    with pytest.raises(Unauthenticated, match="issuer"):
        verifier.actor(bearer(other.mint("landlord", "CHO", "cho-7")))


def test_a_token_without_a_role_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    with pytest.raises(Unauthenticated, match="role"):
        verifier.actor(bearer(issuer.mint("landlord", "", "cho-7")))


def test_keys_rotate_through_a_jwks_document(tmp_path: Path) -> None:
    import json

    import jwt

    old, new = DevIssuer(tmp_path / "old"), DevIssuer(tmp_path / "new")
    jwks = {"keys": [json.loads(jwt.algorithms.ECAlgorithm.to_jwk(
        jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(d.public_keys.read_bytes())
    )) for d in (old, new)]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    verifier = TokenVerifier(AuthConfig(issuer=old.issuer, audience=old.audience, keys_source=tmp_path / "jwks.json"))
    assert verifier.actor(bearer(old.mint("police", "partner", "p-1"))).agency == "police"
    assert verifier.actor(bearer(new.mint("police", "partner", "p-2"))).user == "p-2"


def test_a_service_without_keys_says_how_to_configure_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="CASEWORK_JWT_PUBLIC_KEYS"):
        TokenVerifier(AuthConfig.from_env(tmp_path, {}))
