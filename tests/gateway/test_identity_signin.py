"""Employers sign in through the identity platform, in the production profile.

The gateway trusts the identity stand-in (a real OpenID Connect provider on
loopback) and refuses employer passwords, as it does outside the demo. A token
proves which unit the legal person acts for; nothing else does.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.identity.config import DEFAULT_CLIENT_ID, DEFAULT_REDIRECT_URI, DEMO_PASSWORD
from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.auth import issue_token
from gateway.domain.model import System
from gateway.oidc import OidcSettings
from gateway.services import Gateway
from gateway.signin import sign_in
from tests.factories import credit_code
from tests.gateway.conftest import GraphQLClient, error_codes, writes
from tests.gateway.test_open_account import OPEN, opening
from tests.identity.support import StandinSigner, demo_token

JINAN = EMPLOYERS[0].profile  # has the demo account `demo-employer`
UNOPENED = EMPLOYERS[2].profile  # known to the systems, no account yet
EMPLOYER = "{ employer { creditCode name } }"


@pytest.fixture
def gateway_settings(store_url: str, identity: RunningStandin) -> dict[str, Any]:
    """The production profile: employer passwords off, the identity platform trusted."""
    identity.reset()
    return {
        "store_url": store_url,
        "employer_passwords": False,
        "oidc": OidcSettings(issuer=identity.url),
    }


def as_legal_person(identity: RunningStandin, code: str, **claims: Any) -> str:
    """A token the provider signs for the legal-person account of ``code``: the
    stand-in's seed has accounts for the seed's units only, so for a new unit the
    test signs with the provider's own current key, as the provider would."""
    assert identity.data is not None
    now = int(time.time())
    return StandinSigner(identity.url, Path(identity.data)).sign(
        {
            "iss": identity.url,
            "aud": "hrss-gateway",
            "sub": f"legal-person-{code}",
            "credit_code": code,
            "iat": now,
            "exp": now + 600,
            "client_id": DEFAULT_CLIENT_ID,
            **claims,
        }
    )


def key() -> str:
    return uuid.uuid4().hex


async def test_an_employer_with_an_account_acts_through_the_platforms_token(
    client: GraphQLClient, identity: RunningStandin
) -> None:
    me = GraphQLClient(client.http, demo_token(identity.url))
    body = await me.post(EMPLOYER)
    assert body["data"]["employer"]["creditCode"] == JINAN.credit_code
    other = await me.post(
        "query($c: String!) { employer(creditCode: $c) { name } }",
        {"c": EMPLOYERS[1].profile.credit_code},
    )
    assert error_codes(other) == ["NOT_FOUND"]


async def test_a_proven_employer_opens_its_own_account_and_only_its_own(
    client: GraphQLClient,
    gateway: Gateway,
    identity: RunningStandin,
    standins: dict[System, RunningStandin],
) -> None:
    me = GraphQLClient(client.http, demo_token(identity.url, UNOPENED.credit_code))
    assert error_codes(await me.post(EMPLOYER)) == ["ACCOUNT_NOT_OPEN"]
    someone_else = await me.post(OPEN, {"i": opening(credit_code()), "k": key()})
    assert error_codes(someone_else) == ["FORBIDDEN"]
    assert not any(writes(standins).values())
    # Employers have no password here: asking for one is refused, nothing stored.
    with_password = await me.post(
        OPEN, {"i": opening(UNOPENED.credit_code, password="a-long-password-9"), "k": key()}
    )
    problems = with_password["data"]["openAccount"]["result"]["problems"]
    assert problems == [{"field": "password", "code": "EMPLOYER_PASSWORDS_OFF"}]
    assert await gateway.store.accounts.for_employer(UNOPENED.credit_code) == []
    body = await me.post(OPEN, {"i": opening(UNOPENED.credit_code), "k": key()})
    opened = body["data"]["openAccount"]
    assert opened["account"] == {
        "username": UNOPENED.credit_code.lower(),
        "role": "employer",
        "creditCode": UNOPENED.credit_code,
    }
    [registration] = opened["result"]["registrations"]
    assert registration["actor"] == UNOPENED.credit_code.lower()
    assert registration["channel"] == "GOVERNMENT_PORTAL"
    # The same token now acts with the account it opened.
    assert (await me.post(EMPLOYER))["data"]["employer"]["creditCode"] == UNOPENED.credit_code


async def test_a_new_unit_is_opened_by_its_proven_legal_person(
    client: GraphQLClient, gateway: Gateway, identity: RunningStandin
) -> None:
    code = credit_code()
    me = GraphQLClient(client.http, as_legal_person(identity, code))
    body = await me.post(OPEN, {"i": opening(code), "k": key()})
    assert body["data"]["openAccount"]["account"]["creditCode"] == code, body
    record = await gateway.store.employers.get(code)
    assert record is not None
    assert (record.name, record.division) == ("济南新开户科技有限公司", "370102")


async def test_employer_passwords_are_refused_outside_the_demo(
    client: GraphQLClient, gateway: Gateway
) -> None:
    refused = await client.post(
        'mutation { login(username: "demo-employer", password: "demo-password") { token } }'
    )
    assert error_codes(refused) == ["INVALID_CREDENTIALS"]
    await client.login("demo-clerk")  # staff keep their gateway accounts
    # A token issued while employer passwords were on no longer works.
    account = await gateway.store.accounts.get("demo-employer")
    assert account is not None
    old = issue_token(account, secret=gateway.token_secret, ttl=dt.timedelta(hours=1))
    body = await GraphQLClient(client.http, old).post(EMPLOYER)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_a_token_the_platform_did_not_sign_proves_nothing(
    client: GraphQLClient, identity: RunningStandin, standins: dict[System, RunningStandin]
) -> None:
    """Signed with a key of the forger's own under the platform's current key id."""
    assert identity.data is not None
    kid, _ = StandinSigner(identity.url, Path(identity.data)).key()
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": identity.url,
            "aud": "hrss-gateway",
            "sub": "x",
            "credit_code": JINAN.credit_code,
            "iat": now,
            "exp": now + 600,
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": kid},
    )
    me = GraphQLClient(client.http, forged)
    assert error_codes(await me.post(EMPLOYER)) == ["UNAUTHENTICATED"]
    body = await me.post(OPEN, {"i": opening(JINAN.credit_code, "370202"), "k": key()})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert not any(writes(standins).values())


async def test_a_platform_that_cannot_be_asked_is_said_so(
    client: GraphQLClient, identity: RunningStandin
) -> None:
    token = demo_token(identity.url)
    identity.faults(down=True)
    try:
        body = await GraphQLClient(client.http, token).post(EMPLOYER)
    finally:
        identity.reset()
    assert error_codes(body) == ["IDENTITY_PLATFORM_UNAVAILABLE"]


async def test_an_id_token_is_not_an_access_token(
    client: GraphQLClient, identity: RunningStandin
) -> None:
    """An ID token is addressed to the client that signed in, not to the gateway."""
    tokens = sign_in(
        identity.url,
        DEFAULT_CLIENT_ID,
        JINAN.credit_code,
        DEMO_PASSWORD,
        redirect_uri=DEFAULT_REDIRECT_URI,
    )
    assert tokens.id_token is not None
    assert error_codes(await GraphQLClient(client.http, tokens.id_token).post(EMPLOYER)) == [
        "UNAUTHENTICATED"
    ]
    body = await GraphQLClient(client.http, tokens.access_token).post(EMPLOYER)
    assert body["data"]["employer"]["creditCode"] == JINAN.credit_code
