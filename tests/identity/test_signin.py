"""``hrss-gateway signin`` as a person runs it, against the identity stand-in."""

from __future__ import annotations

import os
import subprocess
import sys

import jwt

from adapters.standin.process import RunningStandin
from tests.identity.support import DEMO_CREDIT_CODE


def _signin(
    standin: RunningStandin, password: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HRSS_SIGNIN_PASSWORD": password}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "signin",
            "--provider",
            standin.url,
            "--username",
            DEMO_CREDIT_CODE,
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prints_an_access_token_for_the_account(standin: RunningStandin) -> None:
    done = _signin(standin, "demo-password")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["iss"], claims["credit_code"]) == (standin.url, DEMO_CREDIT_CODE)
    assert "demo-password" not in done.stdout + done.stderr
    assert standin.stats()["token"] == 1


def test_a_wrong_password_prints_no_token(standin: RunningStandin) -> None:
    done = _signin(standin, "not-the-password")
    assert done.returncode == 1
    assert done.stdout == ""
    assert "wrong username or password" in done.stderr
    assert "not-the-password" not in done.stderr


def test_an_unregistered_redirect_uri_is_refused(standin: RunningStandin) -> None:
    done = _signin(standin, "demo-password", "--redirect-uri", "http://127.0.0.1:9/elsewhere")
    assert done.returncode == 1
    assert "refused" in done.stderr
    assert standin.stats().get("token", 0) == 0
