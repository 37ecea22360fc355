"""OidcVerifier against the running identity stand-in and against a second, independent provider.

Every refusal is the same ``AuthenticationError``, whichever check failed; the
JWKS is fetched again for a rotated key exactly once, and a flood of made-up
``kid``s makes at most one fetch per interval.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.standin.process import RunningStandin
from gateway.auth import TOKEN_REFUSED, AuthenticationError, Role, issue_token
from gateway.oidc import OidcSettings, OidcVerifier, ProviderUnavailable
from tests.identity.support import (
    DEMO_CREDIT_CODE,
    StandinSigner,
    TinyProvider,
    b64,
    demo_token,
)

LEEWAY = 30.0
MIN_REFETCH = 10.0


@dataclass
class Clock:
    wall: float = field(default_factory=time.time)
    mono: float = 1_000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


Make = Callable[..., OidcVerifier]


@pytest.fixture
def make(http: httpx.AsyncClient, clock: Clock) -> Make:
    def build(issuer: str, **settings: Any) -> OidcVerifier:
        s = OidcSettings(issuer=issuer, leeway_s=LEEWAY, jwks_min_refetch_s=MIN_REFETCH, **settings)
        return OidcVerifier(s, http, clock=clock.time, monotonic=clock.monotonic)

    return build


async def refused(verifier: OidcVerifier, token: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    assert str(caught.value) == TOKEN_REFUSED
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


# ------------------------------------------------------------- the stand-in


async def test_a_token_from_the_code_flow_proves_its_employer(
    standin: RunningStandin, make: Make
) -> None:
    token = await asyncio.to_thread(demo_token, standin.url)
    verifier = make(standin.url)
    assert verifier.is_provider_token(token)
    proven = await verifier.verify(token)
    assert proven.credit_code == DEMO_CREDIT_CODE
    assert proven.issuer == standin.url
    assert proven.name == "济南泉城机械制造有限公司"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert proven.subject == claims["sub"]
    assert proven.expires_at.timestamp() == claims["exp"]
    # The gateway's own tokens, and anything else, are not the provider's.
    own = issue_token(_Someone(), secret=b"s" * 32, ttl=__import__("datetime").timedelta(hours=1))
    assert not verifier.is_provider_token(own)
    assert not verifier.is_provider_token("not a token")


@dataclass(frozen=True)
class _Someone:
    id: int = 7
    role: Role = Role.EMPLOYER


async def test_rotation_is_followed_with_exactly_one_refetch(
    standin: RunningStandin, make: Make, http: httpx.AsyncClient
) -> None:
    old = await asyncio.to_thread(demo_token, standin.url)
    verifier = make(standin.url)
    await verifier.verify(old)
    assert standin.stats()["jwks"] == 1
    (await http.post(standin.url + "/__sim/rotate", timeout=30)).raise_for_status()
    new = await asyncio.to_thread(demo_token, standin.url)
    assert jwt.get_unverified_header(new)["kid"] != jwt.get_unverified_header(old)["kid"]
    assert (await verifier.verify(new)).credit_code == DEMO_CREDIT_CODE
    assert standin.stats()["jwks"] == 2
    # The old key is still published and now cached: no fetch for either token.
    await verifier.verify(old)
    await verifier.verify(new)
    assert standin.stats()["jwks"] == 2
    assert verifier.jwks_fetches == 2


async def test_a_flood_of_made_up_kids_fetches_at_most_once_per_interval(
    standin: RunningStandin, standin_signer: StandinSigner, make: Make, clock: Clock
) -> None:
    verifier = make(standin.url)
    await verifier.verify(await asyncio.to_thread(demo_token, standin.url))
    claims = _claims(standin.url, clock)

    async def flood() -> None:
        _, key = standin_signer.key()
        tokens = [
            jwt.encode(claims, key, algorithm="RS256", headers={"kid": uuid.uuid4().hex})
            for _ in range(40)
        ]
        results = await asyncio.gather(
            *(verifier.verify(t) for t in tokens), return_exceptions=True
        )
        assert all(isinstance(r, AuthenticationError) for r in results)

    await flood()
    await flood()
    assert standin.stats()["jwks"] == 2  # the first fetch, and one for the flood
    clock.mono += MIN_REFETCH
    await flood()
    assert standin.stats()["jwks"] == 3


async def test_keys_expire_from_the_cache(
    standin: RunningStandin, make: Make, clock: Clock
) -> None:
    token = await asyncio.to_thread(demo_token, standin.url)
    verifier = make(standin.url, jwks_cache_s=600)
    await verifier.verify(token)
    clock.mono += 599
    await verifier.verify(token)
    assert standin.stats()["jwks"] == 1
    clock.mono += 2
    await verifier.verify(token)
    assert standin.stats()["jwks"] == 2


async def test_a_provider_down_at_start_refuses_and_is_not_hammered(
    standin: RunningStandin, make: Make, clock: Clock
) -> None:
    token = await asyncio.to_thread(demo_token, standin.url)
    standin.reset()  # the sign-in read the discovery document too
    standin.faults(down=True)
    verifier = make(standin.url)
    for _ in range(5):
        with pytest.raises(ProviderUnavailable) as caught:
            await verifier.verify(token)
        assert str(caught.value) == TOKEN_REFUSED
    assert standin.stats()["discovery"] == 1
    standin.faults(down=False)
    clock.mono += MIN_REFETCH
    assert (await verifier.verify(token)).credit_code == DEMO_CREDIT_CODE


async def test_an_expired_token_is_refused_while_the_provider_is_down(
    standin: RunningStandin, make: Make, clock: Clock
) -> None:
    # Expiry needs no key: a token past its time is refused as such, not left
    # standing as "could not be checked" (a subscription would go on with it).
    token = await asyncio.to_thread(demo_token, standin.url)
    verifier = make(standin.url)
    await verifier.verify(token)
    standin.faults(down=True)
    clock.mono += 10 * 3600  # the cached keys too old to trust
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    clock.wall = exp + LEEWAY + 1
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    assert type(caught.value) is AuthenticationError
    clock.wall = exp - 1  # not expired: it cannot be checked without keys
    with pytest.raises(ProviderUnavailable):
        await verifier.verify(token)


async def test_cached_keys_outlive_an_outage_for_a_while(
    standin: RunningStandin, make: Make, clock: Clock
) -> None:
    token = await asyncio.to_thread(demo_token, standin.url)
    verifier = make(standin.url, jwks_cache_s=600)
    await verifier.verify(token)
    standin.faults(down=True)
    clock.mono += 700  # past the cache time: a fetch is tried, fails, the old keys serve
    assert (await verifier.verify(token)).credit_code == DEMO_CREDIT_CODE
    clock.mono += 600  # past twice the cache time: too old to trust
    with pytest.raises(ProviderUnavailable):
        await verifier.verify(token)


# ----------------------------------------- refusals, against both providers


@dataclass
class Issuer:
    url: str
    claim: str
    sign: Callable[..., str]
    public_pem: Callable[[], bytes]
    kid: str


@pytest.fixture(params=["standin", "tiny"])
def issuer(request: pytest.FixtureRequest) -> Issuer:
    if request.param == "standin":
        signer: StandinSigner = request.getfixturevalue("standin_signer")
        kid = jwt.get_unverified_header(signer.sign({}))["kid"]
        return Issuer(signer.issuer, "credit_code", signer.sign, signer.public_pem, kid)
    tiny: TinyProvider = request.getfixturevalue("tiny")
    return Issuer(tiny.issuer, tiny.claim, tiny.sign, tiny.public_pem, "ec-1")


def _claims(url: str, clock: Clock, claim: str = "credit_code", **changes: Any) -> dict[str, Any]:
    now = int(clock.wall)
    claims: dict[str, Any] = {
        "iss": url,
        "aud": "hrss-gateway",
        "sub": "legal-person-1",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        claim: DEMO_CREDIT_CODE,
        **changes,
    }
    return {k: v for k, v in claims.items() if v is not None}


def _verifier(issuer: Issuer, make: Make) -> OidcVerifier:
    return make(issuer.url, credit_code_claim=issuer.claim)


async def test_a_well_made_token_is_accepted(issuer: Issuer, make: Make, clock: Clock) -> None:
    token = issuer.sign(
        _claims(issuer.url, clock, issuer.claim, **{issuer.claim: "91370102ma3c4tlq2n"})
    )
    # Normalised as the gateway normalises typed codes.
    assert (await _verifier(issuer, make).verify(token)).credit_code == DEMO_CREDIT_CODE


WRONG_CLAIMS: dict[str, dict[str, Any]] = {
    "wrong iss": {"iss": "https://idp.example.org"},
    "wrong aud": {"aud": "another-service"},
    "no aud": {"aud": None},
    "no sub": {"sub": None},
    "no exp": {"exp": None},
    "exp not a number": {"exp": "tomorrow"},
    "no credit code": {"CLAIM": None},
    "credit code checksum": {"CLAIM": "91370102MA3C4TLQ2M"},
    "credit code format": {"CLAIM": "not-a-credit-code"},
    "credit code not a string": {"CLAIM": 913701020},
}


@pytest.mark.parametrize("case", WRONG_CLAIMS)
async def test_wrong_claims_are_refused(
    issuer: Issuer, make: Make, clock: Clock, case: str
) -> None:
    changes = {issuer.claim if k == "CLAIM" else k: v for k, v in WRONG_CLAIMS[case].items()}
    await refused(
        _verifier(issuer, make), issuer.sign(_claims(issuer.url, clock, issuer.claim, **changes))
    )


async def test_times_are_judged_with_the_leeway(issuer: Issuer, make: Make, clock: Clock) -> None:
    verifier = _verifier(issuer, make)
    now = int(clock.wall)

    def token(**changes: Any) -> str:
        return issuer.sign(_claims(issuer.url, clock, issuer.claim, **changes))

    await verifier.verify(token(exp=now - LEEWAY + 5))  # expired, within the leeway
    await refused(verifier, token(exp=now - LEEWAY - 5))
    await verifier.verify(token(nbf=now + LEEWAY - 5))  # not yet valid, within the leeway
    await refused(verifier, token(nbf=now + LEEWAY + 5))
    await verifier.verify(token(iat=now + LEEWAY - 5))
    await refused(verifier, token(iat=now + LEEWAY + 5))  # issued in the future
    # The same token, judged at two moments.
    later = token(exp=now + 100)
    clock.wall += 100 + LEEWAY + 1
    await refused(verifier, later)


async def test_forged_signatures_are_refused(issuer: Issuer, make: Make, clock: Clock) -> None:
    verifier = _verifier(issuer, make)
    claims = _claims(issuer.url, clock, issuer.claim)
    good = issuer.sign(claims)
    await verifier.verify(good)
    header, payload, signature = good.split(".")
    # alg none, with and without a kid.
    await refused(verifier, f"{b64({'alg': 'none', 'kid': issuer.kid})}.{payload}.")
    await refused(verifier, f"{b64({'alg': 'none'})}.{payload}.")
    # HS256 keyed with the provider's public key: the classic confusion.
    hs_header = b64({"alg": "HS256", "typ": "JWT", "kid": issuer.kid})
    mac = hmac.new(issuer.public_pem(), f"{hs_header}.{payload}".encode(), hashlib.sha256)
    await refused(verifier, f"{hs_header}.{payload}.{_b64bytes(mac.digest())}")
    # Signed by a key the provider never published, under a new kid and under its own.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    await refused(verifier, jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "x"}))
    await refused(
        verifier, jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": issuer.kid})
    )
    # The payload changed after signing.
    tampered = b64({**claims, issuer.claim: "91370202MA3BQ6YK01"})
    await refused(verifier, f"{header}.{tampered}.{signature}")
    await refused(verifier, "a.b.c")
    await refused(verifier, "")


def _b64bytes(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ------------------------------------------------- the independent provider


async def test_another_provider_shape_is_understood(
    tiny: TinyProvider, make: Make, clock: Clock
) -> None:
    verifier = make(tiny.issuer, credit_code_claim=tiny.claim)
    claims = _claims(tiny.issuer, clock, tiny.claim, name="济南泉城机械制造有限公司")
    for alg in ("ES256", "PS256"):
        assert (await verifier.verify(tiny.sign(claims, alg=alg))).name == claims["name"]
    # An audience list is as good as one audience that is ours.
    listed = tiny.sign({**claims, "aud": ["other", "hrss-gateway"]})
    assert (await verifier.verify(listed)).credit_code == DEMO_CREDIT_CODE
    # The allow-list is the verifier's, not the token's.
    only_ec = make(tiny.issuer, credit_code_claim=tiny.claim, algorithms=("ES256",))
    await only_ec.verify(tiny.sign(claims, alg="ES256"))
    await refused(only_ec, tiny.sign(claims, alg="PS256"))
    # A PS256 header on the EC key's kid does not make the EC key an RSA one.
    await refused(verifier, tiny.sign(claims, alg="PS256", kid="ec-1"))


async def test_a_discovery_document_naming_another_issuer_is_refused(
    tiny: TinyProvider, make: Make, clock: Clock
) -> None:
    # Same discovery URL (the slash is dropped to build it), but the issuers differ.
    verifier = make(tiny.issuer + "/", credit_code_claim=tiny.claim)
    token = tiny.sign(_claims(tiny.issuer + "/", clock, tiny.claim))
    with pytest.raises(ProviderUnavailable):
        await verifier.verify(token)
