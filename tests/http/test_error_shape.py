"""Every kind of error a client can be given, tried as an attacker would: each carries
a code and both languages, and none repeats what was sent.

Each case sends a distinctive ID number or mobile number somewhere in a request the
gateway refuses (in the JSON, the document, a variable, a header-less body...) and
checks that the answer is coded and that the number appears nowhere in it. Against
the real gateway (stand-ins over HTTP, a real store), in the production profile and
in the demo's (introspection and "Did you mean" suggestions on).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from adapters.standin.process import RunningStandin
from gateway.app import create_app
from gateway.demo import DEMO_PASSWORD
from gateway.http.ratelimit import RateLimits
from gateway.profile import Disclosure
from tests.gateway.conftest import started_gateway, worker_standins

ID = "110101199003077777"
MOBILE = "13800138000"
SECRETS = (ID, MOBILE, "张三丰", "东城区")
GQL = "application/graphql-response+json"
HAN = re.compile(r"[\u4e00-\u9fff]")

PERSON = {
    "name": "张三丰",
    "gender": "MALE",
    "ethnicity": "01",
    "idType": "RESIDENT_ID",
    "idNumber": ID,
    "mobile": MOBILE,
    "householdAddress": "北京市东城区某街1号",
    "currentAddress": "北京市东城区某街1号",
    "education": "BACHELOR",
}
CONTRACT = {
    "contractType": "FIXED_TERM",
    "startDate": "2026-02-30",
    "endDate": "2029-01-31",
    "filingPersonCategory": "URBAN_EMPLOYEE",
    "employmentForm": "FULL_TIME",
    "post": "车工",
    "labourFilingLocality": "370102",
}
HIRE = """mutation($w: [HireInput!]!) { hire(workers: $w, idempotencyKey: "k-1") {
  accepted } }"""
WORKER = """query($n: String!) { employer { worker(idType: RESIDENT_ID, idNumber: $n) {
  name } } }"""


@dataclass
class Case:
    """One hostile request and the refusal it must get."""

    status: int
    code: str
    method: str = "POST"
    path: str = "/graphql"
    json: Any = None
    content: bytes | str | None = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    signed_in: bool = True
    #: Profiles where the case applies (introspection is allowed in the demo).
    profiles: tuple[str, ...] = ("production", "demo")


def gql(query: str, variables: Any = None, **more: Any) -> dict[str, Any]:
    body = {"query": query, **more}
    if variables is not None:
        body["variables"] = variables
    return body


def _nested(depth: int) -> str:
    return "[" * depth + json.dumps(ID) + "]" * depth


CASES: dict[str, Case] = {
    # --- the HTTP request itself
    "bad-json": Case(400, "INVALID_JSON", content='{"query": "{ me { username } }", "n": "' + ID),
    "not-utf-8": Case(400, "INVALID_JSON", content=b'{"query": "\xff' + ID.encode() + b'"}'),
    "not-an-object": Case(400, "MALFORMED_REQUEST", content=json.dumps(ID)),
    "nested-50000-deep": Case(
        400,
        "JSON_TOO_DEEP",
        content='{"query": "{ __typename }", "variables": {"n": ' + _nested(50_000) + "}}",
    ),
    "opened-50000-deep": Case(400, "JSON_TOO_DEEP", content="[" * 50_000 + json.dumps(ID)),
    "nested-40-deep": Case(400, "JSON_TOO_DEEP", json=gql(WORKER, {"n": json.loads(_nested(40))})),
    "huge-array": Case(400, "JSON_TOO_LARGE", json=gql(WORKER, {"n": [MOBILE] * 60_000})),
    "huge-batch": Case(
        400, "JSON_TOO_LARGE", json=[gql("{ __typename }", {"n": [ID, MOBILE]})] * 6_000
    ),
    "batch": Case(400, "BATCHING_DISABLED", json=[gql(WORKER, {"n": ID})] * 2),
    "body-too-large": Case(413, "BODY_TOO_LARGE", json=gql(WORKER, {"n": ID * 60_000})),
    "text-plain": Case(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        content=json.dumps(gql(WORKER, {"n": ID})),
        headers={"Content-Type": "text/plain", "Apollo-Require-Preflight": "1"},
    ),
    "latin-1": Case(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        content=json.dumps(gql(WORKER, {"n": ID})),
        headers={"Content-Type": "application/json; charset=latin-1"},
    ),
    "forged-form": Case(
        400,
        "CSRF_REFUSED",
        content=f"query={ID}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "put": Case(405, "METHOD_NOT_ALLOWED", method="PUT", json=gql(WORKER, {"n": ID})),
    "mutation-over-get": Case(
        405,
        "METHOD_NOT_ALLOWED",
        method="GET",
        params={"query": HIRE, "variables": json.dumps({"w": [{"person": PERSON}]})},
    ),
    "no-such-path": Case(404, "NOT_FOUND", method="GET", path=f"/workers/{ID}"),
    "post-to-healthz": Case(405, "METHOD_NOT_ALLOWED", path="/healthz", json={"n": ID}),
    "accept-csv": Case(
        406, "NOT_ACCEPTABLE", json=gql(WORKER, {"n": ID}), headers={"Accept": "text/csv"}
    ),
    "no-query": Case(400, "MISSING_QUERY", json={"variables": {"n": ID}}),
    "operation-name-a-number": Case(
        400, "MALFORMED_REQUEST", json=gql(WORKER, {"n": ID}, operationName=int(ID))
    ),
    "variables-a-list": Case(400, "MALFORMED_REQUEST", json=gql(WORKER, [ID, MOBILE])),
    "get-variables-too-deep": Case(
        400,
        "JSON_TOO_DEEP",
        method="GET",
        params={"query": WORKER, "variables": '{"n": ' + _nested(5_000) + "}"},
    ),
    # Half a character (a lone surrogate's escape) beside a number: only where it is told.
    "half-a-character": Case(
        400,
        "INVALID_CHARACTER",
        content=json.dumps(gql(WORKER))[:-1] + ', "variables": {"n": "' + ID + '\\ud800"}}',
    ),
    "nul": Case(
        400,
        "INVALID_CHARACTER",
        content=json.dumps(gql(WORKER))[:-1] + ', "variables": {"n": "' + ID + '\\u0000"}}',
    ),
    "get-half-a-character": Case(
        400,
        "INVALID_CHARACTER",
        method="GET",
        params={"query": WORKER, "variables": '{"n": "\\udc00' + ID + '"}'},
    ),
    # --- the document
    "does-not-parse": Case(
        400, "GRAPHQL_PARSE_FAILED", json=gql(f"{{ employer(creditCode: {ID} }}")
    ),
    "unterminated-string": Case(
        400, "GRAPHQL_PARSE_FAILED", json=gql(f'{{ employer(creditCode: "{ID}\n }}')
    ),
    "unknown-field": Case(
        400, "GRAPHQL_VALIDATION_FAILED", json=gql(f"{{ employer {{ f{ID} }} }}")
    ),
    "number-for-a-string": Case(
        400,
        "BAD_INPUT",
        json=gql(f"{{ employer {{ worker(idType: RESIDENT_ID, idNumber: {ID}) {{ name }} }} }}"),
    ),
    "object-for-a-string": Case(
        400,
        "BAD_INPUT",
        json=gql(
            f'{{ employer {{ worker(idType: RESIDENT_ID, idNumber: {{n: "{ID}", m: "{MOBILE}"}})'
            " { name } } }"
        ),
    ),
    "unknown-enum-value": Case(
        400,
        "BAD_INPUT",
        json=gql(f'{{ employer {{ worker(idType: X{ID}, idNumber: "{ID}") {{ name }} }} }}'),
    ),
    "impossible-date-literal": Case(
        400,
        "BAD_INPUT",
        json=gql(
            'mutation { endEmployment(idempotencyKey: "k", workers: [{person: {name: "张三丰", '
            f'gender: MALE, ethnicity: "01", idType: RESIDENT_ID, idNumber: "{ID}", mobile: '
            f'"{MOBILE}", householdAddress: "东城区", currentAddress: "东城区", education: '
            'BACHELOR}, reason: AGREEMENT, date: "2026-02-30"}]) { accepted } }'
        ),
    ),
    "too-many-tokens": Case(
        400,
        "TOO_MANY_TOKENS",
        json=gql(f'{{ employer(creditCode: "{ID}") {{ {"name " * 3000} }} }}'),
    ),
    "document-too-long": Case(
        400,
        "DOCUMENT_TOO_LONG",
        json=gql(f'{{ employer(creditCode: "{ID}") {{ name }} }}' + " " * 70_000),
    ),
    "introspection": Case(
        400,
        "INTROSPECTION_DISABLED",
        json=gql(f'{{ __type(name: "{ID}") {{ name }} }}'),
        profiles=("production",),
    ),
    "several-operations": Case(
        400,
        "OPERATION_NAME_REQUIRED",
        json=gql(f"query A {{ __typename }} query B{ID} {{ me {{ username }} }}"),
    ),
    "operation-name-unknown": Case(
        400, "OPERATION_NOT_FOUND", json=gql("query A { __typename }", operationName=f"Q{ID}")
    ),
    "subscription-over-http": Case(
        400,
        "SUBSCRIPTION_NEEDS_WEBSOCKET",
        json=gql("subscription($id: ID!) { registrationUpdates(id: $id) { state } }", {"id": ID}),
    ),
    # --- the variables
    "mobile-as-a-number": Case(400, "BAD_INPUT", json=gql(WORKER, {"n": int(MOBILE)})),
    "person-for-a-string": Case(400, "BAD_INPUT", json=gql(WORKER, {"n": PERSON})),
    "unknown-enum-variable": Case(
        400,
        "BAD_INPUT",
        json=gql(
            "query($t: IdType!, $n: String!) { employer { worker(idType: $t, idNumber: $n) "
            "{ name } } }",
            {"t": ID, "n": MOBILE},
        ),
    ),
    "impossible-date-variable": Case(
        400,
        "BAD_INPUT",
        json=gql(
            HIRE,
            {
                "w": [
                    {
                        "person": PERSON,
                        "contract": CONTRACT,
                        "employmentPersonCategory": "NEW_URBAN_ENTRANT",
                        "employmentLocality": "370102",
                    }
                ]
            },
        ),
    ),
    "unknown-input-field": Case(
        400, "BAD_INPUT", json=gql(HIRE, {"w": [{"person": {**PERSON, f"x{ID}": MOBILE}}]})
    ),
    "variable-missing": Case(400, "BAD_INPUT", json=gql(WORKER, {})),
    "variable-named-after-an-id": Case(
        400,
        "BAD_INPUT",
        json=gql(WORKER.replace("$n", f"$n{ID}"), {f"n{ID}": int(MOBILE)}),
    ),
    "int-overflow": Case(
        400,
        "BAD_INPUT",
        json=gql(
            "query($f: Int!) { employer { workers(first: $f) { totalCount } } }", {"f": -int(ID)}
        ),
    ),
    # --- execution
    "unauthenticated": Case(200, "UNAUTHENTICATED", json=gql(WORKER, {"n": ID}), signed_in=False),
    "employer-not-found": Case(
        200, "NOT_FOUND", json=gql(f'{{ employer(creditCode: "{ID}") {{ name }} }}')
    ),
    "page-too-large": Case(
        400,
        "PAGE_TOO_LARGE",
        json=gql(
            "query($c: String!) { employer(creditCode: $c) { workers(first: 1000) { "
            "totalCount } } }",
            {"c": ID},
        ),
    ),
    "entity-of-unknown-id-type": Case(
        200,
        "BAD_INPUT",
        json=gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Worker { name } } }",
            {"r": [{"__typename": "Worker", "idType": ID, "idNumber": ID}]},
        ),
    ),
    "entity-of-unknown-type": Case(
        200,
        "BAD_INPUT",
        json=gql(
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
            {"r": [{"__typename": f"T{ID}", "mobile": MOBILE}]},
        ),
    ),
}


#: One gateway for the module: no case changes it (each is refused before it could),
#: so starting a gateway and its demo accounts per case proved nothing more. Tests run
#: on the module's event loop, the one the gateway's connections belong to.
pytestmark = pytest.mark.asyncio(loop_scope="module")
#: The cases' requests are not to meet the limits; the test of the limits has its own.
UNLIMITED = RateLimits(per_account="100000/minute", per_address="100000/minute")


@dataclass
class Clients:
    """An app in each profile over the one gateway, and the demo employer's token."""

    http: dict[str, httpx.AsyncClient]
    token: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def clients(
    _standins: dict[str, RunningStandin], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Clients]:
    directory = tmp_path_factory.mktemp("error-shape")
    async with (
        started_gateway(
            worker_standins(_standins, tmp_path_factory),
            directory,
            rate_limits=UNLIMITED,
        ) as gw,
        contextlib.AsyncExitStack() as stack,
    ):
        http = {}
        for profile in ("production", "demo"):
            disclosure = Disclosure.demo() if profile == "demo" else Disclosure()
            app = create_app(gw.config, gateway=gw, disclosure=disclosure)
            http[profile] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
            )
        yield Clients(http, await sign_in(http["production"]))


async def sign_in(http: httpx.AsyncClient) -> str:
    r = await http.post(
        "/graphql",
        json=gql(
            "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
            {"u": "demo-employer", "p": DEMO_PASSWORD},
        ),
    )
    token: str = r.json()["data"]["login"]["token"]
    return token


def assert_coded(response: httpx.Response, code: str) -> None:
    """The whole answer: coded errors in both languages, and nothing that was sent."""
    text = response.text
    for secret in SECRETS:
        assert secret not in text, text[:2000]
    assert "Traceback" not in text
    errors = response.json()["errors"]
    assert errors
    assert errors[0]["extensions"]["code"] == code, errors
    for error in errors:
        extensions = error["extensions"]
        assert error["message"]
        assert extensions["code"] != "INTERNAL", error
        assert extensions["message_en"]
        assert HAN.search(extensions["message_zh"]), error


@pytest.mark.parametrize(
    ("name", "profile"),
    [(name, profile) for name, case in CASES.items() for profile in case.profiles],
)
async def test_every_error_is_coded_and_echoes_nothing(
    clients: Clients, profile: str, name: str
) -> None:
    case = CASES[name]
    http = clients.http[profile]
    headers = {"Accept": GQL}
    if case.signed_in:
        headers["Authorization"] = f"Bearer {clients.token}"
    if case.content is not None:
        headers["Content-Type"] = "application/json"
    headers.update(case.headers)
    response = await http.request(
        case.method,
        case.path,
        json=case.json,
        content=case.content,
        params=case.params,
        headers=headers,
    )
    assert response.status_code == case.status, response.text[:2000]
    assert_coded(response, case.code)


@pytest.mark.parametrize("profile", ["production", "demo"])
async def test_rate_limited_answers_are_coded(
    employment_standin: RunningStandin,
    labor_standin: RunningStandin,
    unemployment_standin: RunningStandin,
    tmp_path: Path,
    profile: str,
) -> None:
    standins = {"employment": employment_standin, "labor": labor_standin}
    standins["unemployment"] = unemployment_standin
    limits = RateLimits(per_account="5/minute", per_address="1000/minute")
    disclosure = Disclosure.demo() if profile == "demo" else Disclosure()
    async with started_gateway(standins, tmp_path, rate_limits=limits) as gw:
        app = create_app(gw.config, gateway=gw, disclosure=disclosure)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            headers = {"Accept": GQL, "Authorization": f"Bearer {await sign_in(http)}"}
            statuses = []
            for _ in range(7):
                r = await http.post("/graphql", json=gql(WORKER, {"n": ID}), headers=headers)
                statuses.append(r.status_code)
    assert statuses[-1] == 429, statuses
    assert_coded(r, "RATE_LIMITED")
