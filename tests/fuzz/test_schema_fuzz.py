"""Generated queries and mutations over the whole schema, sent over HTTP to the real app.

hypothesis-graphql builds valid operations from the schema ``build_schema()``
makes; each is posted to the gateway (on the three stand-ins, as
``tests/gateway/conftest.py`` wires it) anonymously and signed in as each demo
role. Whatever the operation, the answer must be:

- no HTTP 5xx;
- every error one of the gateway's own (``extensions`` with ``code``,
  ``message_en`` and ``message_zh``) or a parse or validation error about the
  document itself (no ``path``, and graphql-core's own validation of the
  document says the same), never the masked internal error: that one means an
  unexpected exception, a bug even though nothing leaked;
- no valid ID number or mobile number in any error.

String arguments are drawn mostly from what reaches data (the seeded credit
codes, ID numbers and mobile numbers, fresh valid ID numbers, the demo
accounts), so that an error echoing its input would show a number in clear.

``HRSS_FUZZ_EXAMPLES`` sets the examples per role (25 by default, fast enough
for ``make test``; ``HRSS_FUZZ_EXAMPLES=2000`` for a long run). Under ``CI`` the
examples are derandomized, so that CI is reproducible; elsewhere each run
explores anew and failures are replayed from the database under ``.hypothesis/``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis_graphql import Mode, from_schema

from adapters.standin.seed import EMPLOYERS, WORKERS
from gateway.demo import DEMO_PASSWORD
from gateway.privacy import redact
from gateway.schema import build_schema
from tests.factories import ric_check
from tests.gateway.conftest import GraphQLClient
from tests.pii_scan import find_personal_numbers

MASKED = "Internal error. 内部错误。"
EXAMPLES = int(os.environ.get("HRSS_FUZZ_EXAMPLES", "25"))
DETERMINISTIC = bool(os.environ.get("CI"))
ROLES = [None, "demo-employer", "demo-clerk", "demo-admin"]

SCHEMA = build_schema()._schema

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DETERMINISTIC,
    database=None if DETERMINISTIC else DirectoryBasedExampleDatabase(".hypothesis/examples"),
    # One gateway serves every example of a test: that is the point (state
    # builds up as it would in production), not an oversight.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# ------------------------------------------------------------------ strategies


def _valid_id_numbers() -> st.SearchStrategy[str]:
    def build(division: str, born: dt.date, seq: int) -> str:
        body = f"{division}{born:%Y%m%d}{seq:03d}"
        return body + ric_check(body)

    return st.builds(
        build,
        st.sampled_from(["370102", "370112", "370202", "110101", "440305"]),
        st.dates(dt.date(1950, 1, 1), dt.date(2008, 12, 31)),
        st.integers(0, 999),
    )


KNOWN_STRINGS = sorted(
    {e.profile.credit_code for e in EMPLOYERS}
    | {w.person.id_number for w in WORKERS}
    | {w.person.mobile for w in WORKERS if w.person.mobile}
    | {e.profile.division for e in EMPLOYERS}
    | {"370100", "demo-employer", "demo-clerk", "demo-admin", DEMO_PASSWORD}
)

TEXT = st.one_of(
    st.sampled_from(KNOWN_STRINGS),
    _valid_id_numbers(),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    # Surrogates cannot travel in JSON; control characters can, and must be refused
    # cleanly (test_control_characters_are_a_client_error).
    st.text(st.characters(exclude_categories=["Cs"]), max_size=24),
)


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _iso(value: dt.date) -> graphql.StringValueNode:
    return _string(value.isoformat())


def _object(fields: dict[str, str]) -> graphql.ObjectValueNode:
    return graphql.ObjectValueNode(
        fields=tuple(
            graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_string(v))
            for k, v in fields.items()
        )
    )


# Federation representations: mostly the two entities with their keys, some not.
ENTITY = st.fixed_dictionaries(
    {"__typename": st.sampled_from(["Employer", "Worker"]) | st.text(max_size=8)},
    optional={
        "creditCode": TEXT,
        "idType": st.sampled_from(["RESIDENT_ID", "PASSPORT"]) | st.text(max_size=8),
        "idNumber": TEXT,
    },
).map(_object)

#: Offsets at the ends of those in use (and none): a time near year 1 or 9999 may lie
#: beyond the calendar once in UTC.
OFFSETS = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=14)), dt.timezone(dt.timedelta(hours=-12))]
)

CUSTOM_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "String": TEXT.map(_string),
    # Every date and time the calendar has, not only plausible ones: the sums made
    # from a date at either end (a month to file a contract in) were internal errors.
    "Date": st.one_of(
        st.sampled_from([dt.date.min, dt.date.max]),
        st.dates(),
        st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)),
    ).map(_iso),
    "DateTime": st.datetimes(timezones=OFFSETS).map(_iso),
    # Amounts of any size and shape (32 digits made the check of cents fail).
    "Decimal": st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True),
        st.decimals(min_value=1, max_value=99999, places=2),
    ).map(lambda d: _string(str(d))),
    "_Any": ENTITY,
    # A file comes only as a multipart part; inline, whatever is sent must be refused.
    "Upload": TEXT.map(_string),
}

ROOT_FIELDS = [
    name
    for root in (SCHEMA.query_type, SCHEMA.mutation_type)
    if root is not None
    for name in root.fields
]

OPERATIONS = from_schema(SCHEMA, fields=ROOT_FIELDS, custom_scalars=CUSTOM_SCALARS)
# Each with one violation of the schema (a wrong type, a missing argument...):
# refused in validation, whoever sends it, so once is enough.
INVALID_OPERATIONS = from_schema(
    SCHEMA, fields=ROOT_FIELDS, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE
)


# ------------------------------------------------------------------- checking


def validation_messages(document: str) -> set[str]:
    """What graphql-core itself says is wrong with the document, if anything."""
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError as error:
        return {error.message}
    return {error.message for error in graphql.validate(SCHEMA, ast)}


def is_gateway_error(error: dict[str, Any]) -> bool:
    extensions = error.get("extensions") or {}
    return all(isinstance(extensions.get(k), str) for k in ("code", "message_en", "message_zh"))


def problems(document: str, status: int, body: Any) -> list[str]:
    """Everything wrong with one answer, in words; empty when it is acceptable."""
    found: list[str] = []
    if status >= 500:
        found.append(f"HTTP {status}")
    if not isinstance(body, dict):
        return [*found, f"not a GraphQL response: {body!r}"]
    expected = None
    for error in body.get("errors") or []:
        if error.get("message") == MASKED:
            found.append(f"masked internal error (an unexpected exception) at {error.get('path')}")
        elif not is_gateway_error(error):
            if expected is None:
                # The gateway masks numbers in them, as it does everywhere.
                expected = {redact(m) for m in validation_messages(document)}
            if "path" in error or error.get("message") not in expected:
                found.append(f"unmasked error: {error!r}")
        for finding in find_personal_numbers(json.dumps(error, ensure_ascii=False)):
            found.append(f"{finding.kind} in clear in an error: {finding.excerpt}")
    return found


async def send(caller: GraphQLClient, document: str) -> tuple[int, Any]:
    headers = {"Accept": "application/graphql-response+json"}
    if caller.token:
        headers["Authorization"] = f"Bearer {caller.token}"
    r = await caller.http.post("/graphql", json={"query": document}, headers=headers)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


# ----------------------------------------------------------------------- tests


@pytest.fixture(params=ROLES, ids=lambda role: role or "anonymous")
async def caller(client: GraphQLClient, request: pytest.FixtureRequest) -> GraphQLClient:
    return await client.login(request.param) if request.param else client


@FUZZ_SETTINGS
@given(document=OPERATIONS)
async def test_no_operation_breaks_the_gateway_or_leaks(
    caller: GraphQLClient, document: str
) -> None:
    status, body = await send(caller, document)
    found = problems(document, status, body)
    assert not found, "\n".join([*found, "document:", document])


@FUZZ_SETTINGS
@given(document=INVALID_OPERATIONS)
async def test_no_invalid_operation_breaks_the_gateway_or_leaks(
    client: GraphQLClient, document: str
) -> None:
    status, body = await send(client, document)
    # Until the bug test_validation_errors_do_not_echo_numbers shows is fixed.
    found = problems(document, status, body)
    assert not found, "\n".join([*found, "document:", document])


# ------------------------------------------------- regressions the fuzzing found

ENTITIES = "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"


@pytest.mark.parametrize(
    "representation",
    [
        {"creditCode": EMPLOYERS[0].profile.credit_code},  # no __typename
        {"__typename": "Nope"},
        {"__typename": "Employer"},
        {"__typename": "Worker", "idNumber": "x"},
        {"__typename": "Worker", "idType": "NOPE", "idNumber": "x"},
    ],
    ids=["no-typename", "unknown-type", "employer-no-key", "worker-no-id-type", "bad-id-type"],
)
async def test_entities_with_a_bad_representation_is_a_client_error(
    client: GraphQLClient, representation: dict[str, str]
) -> None:
    admin = await client.login("demo-admin")
    headers = {"Authorization": f"Bearer {admin.token}"}
    r = await admin.http.post(
        "/graphql", json={"query": ENTITIES, "variables": {"r": [representation]}}, headers=headers
    )
    assert problems(ENTITIES, r.status_code, r.json()) == []


async def test_validation_errors_do_not_echo_numbers(client: GraphQLClient) -> None:
    person = WORKERS[0].person
    # The person lacks its other required fields: the document fails validation.
    document = (
        "mutation { hire(workers: [{person: {idType: RESIDENT_ID, "
        f'idNumber: "{person.id_number}", mobile: "{person.mobile}"}}}}], '
        'idempotencyKey: "k") { __typename } }'
    )
    status, body = await send(client, document)
    assert body["errors"]
    assert problems(document, status, body) == []


async def test_control_characters_are_a_client_error(client: GraphQLClient) -> None:
    admin = await client.login("demo-admin")
    document = '{ employer(creditCode: "91370102MA3C4TLQ2\\u0010") { name } }'
    status, body = await send(admin, document)
    assert problems(document, status, body) == []
