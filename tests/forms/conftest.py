"""The gateway fixtures of tests/gateway (stand-ins over HTTP, a real store)."""

from tests.gateway.conftest import _cheap_password_hashes as _cheap_password_hashes
from tests.gateway.conftest import client as client
from tests.gateway.conftest import gateway as gateway
from tests.gateway.conftest import standins as standins
