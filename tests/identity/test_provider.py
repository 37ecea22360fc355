"""The identity stand-in over real HTTP: discovery, the code flow with PKCE, keys, faults."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import httpx
import jwt
import pytest

from adapters.identity.config import DEFAULT_CLIENT_ID, DEFAULT_REDIRECT_URI
from adapters.standin.process import RunningStandin, start_standin
from gateway.oidc import DEFAULT_AUDIENCE
from tests.identity.support import DEMO_CREDIT_CODE, Authorization, demo_token, redirect_query


def _jwks(standin: RunningStandin) -> dict[str, dict[str, object]]:
    keys = httpx.get(standin.url + "/jwks", timeout=5).json()["keys"]
    return {k["kid"]: k for k in keys}


def _decode(token: str, standin: RunningStandin, audience: str) -> dict[str, object]:
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(_jwks(standin)[kid])
    claims: dict[str, object] = jwt.decode(
        token, key, algorithms=["RS256"], audience=audience, issuer=standin.url
    )
    return claims


def test_discovery_names_its_own_endpoints(standin: RunningStandin) -> None:
    meta = httpx.get(standin.url + "/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == standin.url
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert meta[name].startswith(standin.url + "/")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert httpx.get(meta["jwks_uri"], timeout=5).json()["keys"]


def test_code_flow_gives_tokens_carrying_the_credit_code(standin: RunningStandin) -> None:
    flow = Authorization(standin.url)
    answer = flow.exchange(flow.code())
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert body["token_type"] == "Bearer"
    access = _decode(body["access_token"], standin, DEFAULT_AUDIENCE)
    assert access["credit_code"] == DEMO_CREDIT_CODE
    assert access["name"] == "济南泉城机械制造有限公司"
    assert access["client_id"] == DEFAULT_CLIENT_ID
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"
    id_claims = _decode(body["id_token"], standin, DEFAULT_CLIENT_ID)
    assert id_claims["sub"] == access["sub"]
    assert id_claims["nonce"] == flow.nonce
    assert id_claims["credit_code"] == DEMO_CREDIT_CODE
    half = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert id_claims["at_hash"] == base64.urlsafe_b64encode(half).rstrip(b"=").decode()
    info = httpx.get(
        standin.url + "/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=5,
    )
    assert info.json() == {
        "sub": access["sub"],
        "name": access["name"],
        "credit_code": DEMO_CREDIT_CODE,
    }
    assert httpx.get(standin.url + "/userinfo", timeout=5).status_code == 401


def test_each_seed_employer_has_its_own_account(standin: RunningStandin) -> None:
    from adapters.standin.seed import EMPLOYERS

    subjects = set()
    for employer in EMPLOYERS:
        code = employer.profile.credit_code
        claims = jwt.decode(demo_token(standin.url, code), options={"verify_signature": False})
        assert claims["credit_code"] == code
        subjects.add(claims["sub"])
    assert len(subjects) == len(EMPLOYERS)


def test_wrong_password_shows_the_form_again(standin: RunningStandin) -> None:
    flow = Authorization(standin.url)
    page = flow.start()
    handle = page.text.split('name="request_id" value="')[1].split('"')[0]
    for username, password in [
        (DEMO_CREDIT_CODE, "wrong"),
        ("91370000000000000X", "demo-password"),
    ]:
        answer = httpx.post(
            standin.url + "/authorize",
            data={"request_id": handle, "username": username, "password": password},
            timeout=10,
        )
        assert answer.status_code == 401
        assert "wrong username or password" in answer.text
        assert "location" not in answer.headers


def test_wrong_pkce_verifier_is_refused_and_spends_the_code(standin: RunningStandin) -> None:
    flow = Authorization(standin.url)
    code = flow.code()
    other = Authorization(standin.url).verifier
    refused = flow.exchange(code, code_verifier=other)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    # One try per code: the right verifier is too late now.
    assert flow.exchange(code).json()["error"] == "invalid_grant"


def test_code_is_single_use(standin: RunningStandin) -> None:
    flow = Authorization(standin.url)
    code = flow.code()
    assert flow.exchange(code).status_code == 200
    again = flow.exchange(code)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uri": "http://127.0.0.1:8000/oidc/callback"},  # registered, but not this one's
        {"client_id": "hrss-other"},
        {"code_verifier": "short"},
        {"code": "made-up"},
    ],
)
def test_code_bound_to_its_request(standin: RunningStandin, changes: dict[str, str]) -> None:
    flow = Authorization(standin.url)
    answer = flow.exchange(flow.code(), **changes)
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] in ("invalid_grant", "invalid_client")


def test_unregistered_redirect_or_client_is_not_redirected_to(standin: RunningStandin) -> None:
    flow = Authorization(standin.url)
    for changes in (
        {"redirect_uri": "https://attacker.example/callback"},
        {"redirect_uri": DEFAULT_REDIRECT_URI + "/more"},
        {"client_id": "unknown-client"},
    ):
        answer = flow.start(**changes)
        assert answer.status_code == 400
        assert "location" not in answer.headers


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
    ],
)
def test_bad_requests_are_sent_back_with_an_error(
    standin: RunningStandin, changes: dict[str, str], error: str
) -> None:
    flow = Authorization(standin.url)
    answer = flow.start(**changes)
    assert answer.status_code == 302
    query = redirect_query(answer, DEFAULT_REDIRECT_URI)
    assert (query["error"], query["state"], query["iss"]) == (error, flow.state, standin.url)
    assert "code" not in query


def test_token_endpoint_takes_forms_only(standin: RunningStandin) -> None:
    flow = Authorization(standin.url)
    answer = httpx.post(standin.url + "/token", json={"code": flow.code()}, timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


def test_rotation_keeps_the_old_key_published_for_a_while(standin: RunningStandin) -> None:
    before = set(_jwks(standin))
    rotated = httpx.post(standin.url + "/__sim/rotate", timeout=30).json()
    assert rotated["kid"] not in before
    assert set(_jwks(standin)) == before | {rotated["kid"]}
    token = demo_token(standin.url)
    assert jwt.get_unverified_header(token)["kid"] == rotated["kid"]
    # Without a grace period the replaced key goes at once; older ones keep theirs.
    dropped = httpx.post(standin.url + "/__sim/rotate", json={"keep_old_s": 0}, timeout=30).json()
    assert set(_jwks(standin)) == before | {dropped["kid"]}
    bad = httpx.post(standin.url + "/__sim/rotate", json={"keep_old_s": -1}, timeout=5)
    assert bad.status_code == 400


def test_faults_and_stats(standin: RunningStandin) -> None:
    standin.faults(down=True)
    assert httpx.get(standin.url + "/jwks", timeout=5).status_code == 503
    standin.faults(down=False, maintenance=True)
    answer = httpx.get(standin.url + "/.well-known/openid-configuration", timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (503, "temporarily_unavailable")
    standin.reset()
    httpx.get(standin.url + "/jwks", timeout=5)
    assert standin.stats() == {"jwks": 1}


def test_codes_expire_and_keys_survive_a_restart(tmp_path: Path) -> None:
    standin = start_standin(
        "identity",
        tmp_path,
        data=str(tmp_path / "identity.db"),
        env={"HRSS_IDENTITY_CODE_TTL_S": "0"},
    )
    try:
        flow = Authorization(standin.url)
        assert flow.exchange(flow.code()).json()["error"] == "invalid_grant"
        kids = set(_jwks(standin))
        standin.restart()
        assert set(_jwks(standin)) == kids
    finally:
        standin.stop()
