"""Opening the account of a unit the systems know and the gateway has never met.

The finding: on a store that had never looked the unit up (no administrator had
asked for it by its credit code), an employer proven by the identity platform
opening its account first thing got `INTERNAL`: the unit was known to the
systems, so opening skipped adding it to the store, and the account could not
be bound to a unit the store did not hold. The unit is now added with the
account, in the account's transaction, under the name and division on record.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.standin.process import RunningStandin
from adapters.standin.seed import EMPLOYERS
from gateway.domain.model import System
from gateway.oidc import OidcSettings
from gateway.services import Gateway
from gateway.store import tables as t
from tests.gateway.conftest import GraphQLClient, error_codes
from tests.gateway.test_open_account import OPEN, opening
from tests.identity.support import demo_token

#: Known to the systems, with workers in the employment system, and no account yet.
UNMET = EMPLOYERS[2].profile

WORKERS = """{ employer { creditCode name
  workers(first: 100) { totalCount edges { node { name } } } } }"""


@pytest.fixture
def gateway_settings(store_url: str, identity: RunningStandin) -> dict[str, Any]:
    """The production profile: employer passwords off, the identity platform trusted."""
    identity.reset()
    return {
        "store_url": store_url,
        "employer_passwords": False,
        "oidc": OidcSettings(issuer=identity.url),
    }


async def never_met(gateway: Gateway, code: str) -> None:
    """The store as one that has never looked ``code`` up: no record of the unit, no
    bindings (the demo's preparation writes the seed units; a fresh store has none)."""
    async with gateway.store.db.write() as conn:
        bindings = t.employer_systems
        await conn.execute(sa.delete(bindings).where(bindings.c.credit_code == code))
        await conn.execute(sa.delete(t.employers).where(t.employers.c.credit_code == code))
    assert await gateway.store.employers.get(code) is None


async def test_a_proven_employer_opens_a_unit_the_store_never_met_and_reads_its_workers(
    client: GraphQLClient,
    gateway: Gateway,
    identity: RunningStandin,
    standins: dict[System, RunningStandin],
) -> None:
    await never_met(gateway, UNMET.credit_code)
    me = GraphQLClient(client.http, demo_token(identity.url, UNMET.credit_code))
    body = await me.post(
        OPEN, {"i": opening(UNMET.credit_code, name="改名公司"), "k": uuid.uuid4().hex}
    )
    assert "errors" not in body, body
    opened = body["data"]["openAccount"]
    assert opened["account"] == {
        "username": UNMET.credit_code.lower(),
        "role": "employer",
        "creditCode": UNMET.credit_code,
    }
    assert opened["result"]["accepted"]
    # The systems' name and division stand; the one typed is a warning.
    assert {"field": "name", "code": "EMPLOYER_PROFILE_KEPT"} in opened["result"]["warnings"]
    record = await gateway.store.employers.get(UNMET.credit_code)
    assert record is not None
    assert (record.name, record.division) == (UNMET.name, UNMET.division)
    # The same token now acts with the account it opened, and reads its workers
    # (the unit's bindings completed from the systems).
    workers = await me.post(WORKERS)
    assert "errors" not in workers, workers
    employer = workers["data"]["employer"]
    assert (employer["creditCode"], employer["name"]) == (UNMET.credit_code, UNMET.name)
    assert employer["workers"]["totalCount"] > 0
    assert len(employer["workers"]["edges"]) == employer["workers"]["totalCount"]


async def test_a_clerk_opens_a_unit_the_store_never_met(
    client: GraphQLClient, gateway: Gateway, standins: dict[System, RunningStandin]
) -> None:
    await never_met(gateway, UNMET.credit_code)
    clerk = await client.login("demo-clerk")
    body = await clerk.post(OPEN, {"i": opening(UNMET.credit_code), "k": uuid.uuid4().hex})
    assert error_codes(body) == [], body
    opened = body["data"]["openAccount"]
    assert opened["account"]["creditCode"] == UNMET.credit_code
    [registration] = opened["result"]["registrations"]
    assert registration["actor"] == "demo-clerk"
    record = await gateway.store.employers.get(UNMET.credit_code)
    assert record is not None
    assert (record.name, record.division) == (UNMET.name, UNMET.division)
    assert len(await gateway.store.accounts.for_employer(UNMET.credit_code)) == 1
