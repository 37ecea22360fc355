"""The root mutation: signing in (registrations join in their own module)."""

from __future__ import annotations

import datetime as dt

import strawberry

from gateway.auth import issue_token
from gateway.errors import invalid_credentials
from gateway.schema.account import Me, Session
from gateway.schema.context import Info


@strawberry.type(description="Everything one can do through the gateway.")
class Mutation:
    @strawberry.mutation(
        description="登录: exchange a user name and password for a signed, expiring token. "
        "A wrong user name, a wrong password and a disabled account get the same answer."
    )
    async def login(self, info: Info, username: str, password: str) -> Session:
        gateway = info.context.gateway
        account = await gateway.store.accounts.authenticate(username, password)
        if account is None or account.disabled:
            raise invalid_credentials()
        ttl = dt.timedelta(seconds=gateway.config.token_ttl_s)
        now = dt.datetime.now(dt.UTC)
        token = issue_token(account, secret=gateway.token_secret, ttl=ttl, now=now)
        return Session(token=token, expires_at=now + ttl, account=Me.from_domain(account))
