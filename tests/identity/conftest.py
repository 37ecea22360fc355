"""The identity stand-in as a real process, and a second, independent provider.

``identity`` (``tests/conftest.py``) is one seeded stand-in per worker (Argon2 at
its cheapest, as for the gateways the tests start), with a data file so that
tests can sign tokens with its own current key (the only way to make a token
that is signed right but claims something wrong). ``tiny`` is a provider
built here from PyJWT and ``cryptography`` keys alone, shaped like another
vendor's (a path in its issuer, EC and RSA-PSS keys, JWKS without ``alg``,
another claim name), so that the verifier is not tied to our stand-in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.standin.process import RunningStandin
from tests.identity.support import StandinSigner, TinyProvider


@pytest.fixture
def standin(identity: RunningStandin) -> RunningStandin:
    identity.reset()
    return identity


@pytest.fixture
def standin_signer(standin: RunningStandin) -> StandinSigner:
    assert standin.data is not None
    return StandinSigner(standin.url, Path(standin.data))


@pytest.fixture(scope="module")
def tiny() -> Iterator[TinyProvider]:
    provider = TinyProvider().start()
    yield provider
    provider.stop()
