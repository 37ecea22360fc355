"""The gateway on the three stand-ins, with the demo accounts, as the graph tests have it."""

from tests.gateway.conftest import _cheap_password_hashes, client, gateway

__all__ = ["_cheap_password_hashes", "client", "gateway"]
