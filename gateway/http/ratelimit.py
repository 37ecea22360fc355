"""Rate limits: requests per account or client address, and sign-in attempts.

:class:`RateLimitMiddleware` counts every request to ``/graphql`` (HTTP, and
the handshake of a WebSocket) and to the form files under ``/forms/`` before it
reaches them: against the caller's
account when the request carries a valid bearer token, against the client
address otherwise. Over the limit it answers 429 with ``Retry-After`` and a
GraphQL-shaped body whose code is ``RATE_LIMITED``. Other paths (``/healthz``,
``/readyz``, ``/metrics``, GraphiQL's assets) are never counted.

:class:`LoginThrottle` limits sign-in attempts against password guessing, per
username and per address, apart from the request limits; the login mutation
answers ``LOGIN_THROTTLED`` (:func:`login_throttled`). What it answers depends
only on the attempts made, never on whether the username exists, and usernames
and addresses appear in storage keys only as keyed hashes.

Counting uses the ``limits`` library's *moving window*: every hit is a
timestamp, and a request is allowed when fewer than the limit fall within the
last window. It is exact: no burst of twice the limit across a window boundary
(fixed window), and no approximation that lets the at-threshold answer depend
on where the clock stands within a window (sliding window counter). What it
costs, a list of at most ``limit`` timestamps per key, is small at these limits.

With a ``redis://`` storage URL the counts are shared by every gateway process;
with ``memory://`` each process counts alone. A Redis that is down, refuses or is
slow (no answer within ``storage_timeout_s``) does not take the gateway down, nor
the limits off: the limiters **count in the process's memory** meanwhile, as with
``memory://``, log one warning, try Redis again (one call at a time) every
``storage_retry_s``, and log once when it answers again, from when on they count
in Redis again. Refusing every request while Redis is down would turn a cache
outage into a gateway outage; letting every one through uncounted would let a
password guesser through unslowed (as it did). Counted per process, a limit
holds in each process: behind N processes a client gets up to N times it, still
a limit, and a guesser of passwords still meets ``LOGIN_THROTTLED`` after as
many guesses per process. The counts made in memory stay there (Redis does not
learn them when it answers again), and those in Redis before the outage are
found there again after it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import limits
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth import AuthenticationError, verify_token
from gateway.errors import GatewayError, error_entry

log = logging.getLogger(__name__)

T = TypeVar("T")
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: ``async (scope) -> account key``: a stable key for the account whose valid
#: bearer token the request carries, or None (no token, or one that is not valid).
AccountOf = Callable[[Scope], Awaitable[str | None]]

#: Where the middleware leaves the client address it settled on, for the login mutation.
CLIENT_ADDRESS_SCOPE_KEY = "hrss.client_address"
#: Where it leaves, on a WebSocket's scope, what counts each operation the socket
#: carries (``OperationLimit``): the handshake is one request, the operations are
#: each one more, as they would be over HTTP.
OPERATION_LIMIT_SCOPE_KEY = "hrss.operation_limit"

#: Counts one operation of a socket, for its account (id) or, signed in as no one,
#: its address; None when allowed, else the seconds to wait.
OperationLimit = Callable[[str | None], Awaitable[float | None]]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits, in the ``limits`` notation (``"600/minute"``, ``"5 per 15 minutes"``)."""

    #: Requests to ``/graphql`` by one signed-in account.
    per_account: str = "600/minute"
    #: Requests to ``/graphql`` without a valid token, by one client address.
    per_address: str = "300/minute"
    #: Sign-in attempts for one username (the successful one forgets the failed ones).
    login_per_username: str = "5 per 15 minutes"
    #: Failed sign-in attempts from one client address, whatever the username.
    login_per_address: str = "20 per 15 minutes"
    #: For how many days an address a username signed in from stays known to it:
    #: there the username's attempts are counted for that address alone, so that
    #: guesses from elsewhere cannot lock its owner out (0: every address alike).
    login_known_address_days: int = 30
    #: Addresses or networks of the reverse proxies whose ``X-Forwarded-For`` is believed.
    trusted_proxies: tuple[str, ...] = ()
    #: IPv6 clients are counted by network: one host usually holds a whole /64.
    ipv6_prefix: int = 64
    #: The paths counted; everything else passes untouched. One ending in ``/*``
    #: counts everything under it (the form files: uploads are read, workbooks
    #: written, for each request).
    paths: tuple[str, ...] = ("/graphql", "/forms/*")
    #: Prefix of the keys in Redis.
    key_prefix: str = "hrss-ratelimit"
    #: How long one call to the storage may take before the limiter counts in memory.
    storage_timeout_s: float = 0.5
    #: After a storage failure, how long the limiter counts in memory before Redis is
    #: tried again (by one call; the others count in memory until it answers).
    storage_retry_s: float = 5.0
    enabled: bool = True

    def __post_init__(self) -> None:
        for name in ("per_account", "per_address", "login_per_username", "login_per_address"):
            try:
                limits.parse(getattr(self, name))
            except ValueError:
                raise ValueError(f"rate limit {name} is not a limit such as '600/minute'") from None
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                # A typo must stop the start-up, not silently trust nobody.
                raise ValueError(
                    f"rate limit trusted_proxies: {proxy!r} is not a network"
                ) from None
        if not 0 < self.ipv6_prefix <= 128:
            raise ValueError("rate limit ipv6_prefix must be between 1 and 128")
        if self.login_known_address_days < 0:
            raise ValueError("rate limit login_known_address_days must be 0 or more")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        section: Mapping[str, object] | None = None,
    ) -> RateLimits:
        """From ``HRSS_RATE_LIMIT_<NAME>`` variables, then ``section`` (the
        ``[rate_limits]`` table of the configuration file, same names in lower
        case), then the defaults. Lists are comma-separated in variables."""
        env = os.environ if environ is None else environ
        table = section or {}
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw: Any = env.get(f"HRSS_RATE_LIMIT_{f.name.upper()}", table.get(f.name))
            if raw is None:
                continue
            default = f.default
            if isinstance(default, bool):
                text = str(raw).strip().lower()
                values[f.name] = (
                    raw if isinstance(raw, bool) else text in ("1", "true", "yes", "on")
                )
            elif isinstance(default, tuple):
                items = raw.split(",") if isinstance(raw, str) else raw
                values[f.name] = tuple(str(i).strip() for i in items if str(i).strip())
            elif isinstance(default, int | float):
                values[f.name] = type(default)(str(raw))
            else:
                values[f.name] = str(raw)
        return cls(**values)


# ------------------------------------------------------------------- counting


class _Counter:
    """Moving-window counts in one storage; in this process's memory while the
    storage (Redis) fails, and again in it once it answers."""

    def __init__(self, storage_url: str, config: RateLimits, *, what: str) -> None:
        self._what = what
        self._timeout = config.storage_timeout_s
        self._retry = config.storage_retry_s
        #: When the storage last failed while it was thought up; None while it answers.
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._probing = False
        self.storage = _storage(storage_url, config)
        self._limiter = MovingWindowRateLimiter(self.storage)
        #: Where counting goes while the storage fails (None: it is memory already).
        self._in_memory = (
            None
            if isinstance(self.storage, MemoryStorage)
            else MovingWindowRateLimiter(MemoryStorage())
        )
        self._failures: tuple[type[BaseException], ...] = (
            TimeoutError,
            OSError,
            StorageError,
            *_as_tuple(self.storage.base_exceptions),
        )

    async def hit(self, item: limits.RateLimitItem, *key: str) -> float | None:
        """Count one; None when allowed, else the seconds until one more would be."""

        async def hit(limiter: MovingWindowRateLimiter) -> float | None:
            if await limiter.hit(item, *key):
                return None
            return await self._wait(limiter, item, *key)

        return await self._counted(hit)

    async def wait(self, item: limits.RateLimitItem, *key: str) -> float | None:
        """Count nothing; None when one more would be allowed, else the seconds until then."""

        async def test(limiter: MovingWindowRateLimiter) -> float | None:
            if await limiter.test(item, *key):
                return None
            return await self._wait(limiter, item, *key)

        return await self._counted(test)

    async def clear(self, item: limits.RateLimitItem, *key: str) -> None:
        async def clear(limiter: MovingWindowRateLimiter) -> None:
            await limiter.clear(item, *key)

        if self._in_memory is not None:
            # Those counted while the storage failed go too, wherever this one lands.
            await clear(self._in_memory)
        await self._counted(clear)

    async def aclose(self) -> None:
        # limits gives its storages no close; redis-py's client must be closed on
        # the loop it ran on, or its connections are left to the garbage collector.
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()

    @staticmethod
    async def _wait(
        limiter: MovingWindowRateLimiter, item: limits.RateLimitItem, *key: str
    ) -> float:
        stats = await limiter.get_window_stats(item, *key)
        return max(stats.reset_time - time.time(), 0.0)

    async def _counted(self, op: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T | None:
        """``op`` on the storage; on this process's memory while the storage fails (and
        for ``storage_retry_s`` after, but for one call at a time trying it again)."""
        now = time.monotonic()
        probe = self._down_since is not None
        if probe and (self._probing or now < self._retry_at):
            return await self._fallback(op)
        self._probing = probe
        try:
            async with asyncio.timeout(self._timeout):
                result = await op(self._limiter)
        except self._failures as e:
            self._failed(e, probe=probe)
            return await self._fallback(op)
        except BaseException:
            if probe:
                self._probing = False
            raise
        if probe and self._down_since is not None:
            log.info(
                "%s: the rate-limit storage answers again after %.1f s; counting there again",
                self._what,
                time.monotonic() - self._down_since,
            )
            self._down_since, self._probing = None, False
        return result

    async def _fallback(self, op: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T | None:
        if self._in_memory is None:
            return None  # a memory storage does not fail; nothing else to count in
        return await op(self._in_memory)

    def _failed(self, error: BaseException, *, probe: bool) -> None:
        now = time.monotonic()
        self._retry_at = now + self._retry
        if self._down_since is None:
            self._down_since = now
            # The exception's text may name the Redis host; its type is enough here.
            log.warning(
                "%s: the rate-limit storage failed (%s); counting in this process's memory "
                "until it answers again (tried again every %g s)",
                self._what,
                type(error).__name__,
                self._retry,
            )
        elif probe:
            self._probing = False
            log.debug(
                "%s: the rate-limit storage still fails (%s)", self._what, type(error).__name__
            )


def _storage(url: str, config: RateLimits) -> Storage:
    """``memory://`` or ``redis://`` (the gateway's cache URLs), or ``async+...`` as is."""
    if not url.startswith("async+"):
        url = "async+" + url
    options: dict[str, Any] = {}
    if url.startswith(("async+redis", "async+rediss")):
        options = {
            # redis-py: the client the gateway's cache already uses.
            "implementation": "redispy",
            "key_prefix": config.key_prefix,
            "socket_connect_timeout": config.storage_timeout_s,
            "socket_timeout": config.storage_timeout_s,
            # A connection Redis closed (a restart) is replaced and the command sent
            # again, once, at once; redis-py's default (ten tries, backing off) spent
            # the whole ``storage_timeout_s`` on a Redis that was down.
            "retry": Retry(NoBackoff(), 1, (RedisConnectionError,)),
        }
    storage = storage_from_string(url, **options)
    assert isinstance(storage, Storage), "an async+ URL gives an async storage"
    return storage


def _as_tuple(
    exceptions: type[Exception] | tuple[type[Exception], ...],
) -> tuple[type[Exception], ...]:
    return exceptions if isinstance(exceptions, tuple) else (exceptions,)


# ------------------------------------------------------------ client address


def resolve_client_address(
    scope: Scope, trusted_proxies: Sequence[str | _Network] = ()
) -> str | None:
    """The client's address: the peer's, or, when the peer is a trusted proxy, the
    nearest address in ``X-Forwarded-For`` that is not itself a trusted proxy.

    Read from the right: each trusted proxy appends the address it got the request
    from, while anything to the left of the first untrusted entry was written by the
    client and could be anything.
    """
    client = scope.get("client")
    peer = client[0] if client else None
    networks = [_network(n) if isinstance(n, str) else n for n in trusted_proxies]
    if peer is None or not networks or not _trusted(peer, networks):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-forwarded-for":
            forwarded += [p.strip() for p in value.decode("latin-1").split(",")]
    address = peer
    for hop in reversed([h for h in forwarded if h]):
        address = hop
        if not _trusted(hop, networks):
            break
    return address


def client_address(scope: Scope) -> str | None:
    """The address :class:`RateLimitMiddleware` settled on for this request (the peer's
    when the middleware did not see it): what the login mutation passes to the throttle."""
    settled = scope.get(CLIENT_ADDRESS_SCOPE_KEY)
    if isinstance(settled, str):
        return settled
    client = scope.get("client")
    return client[0] if client else None


def address_key(address: str | None, ipv6_prefix: int = 64) -> str:
    """What an address is counted under: itself for IPv4, its network for IPv6."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # a name or garbage from a trusted proxy: counted as given
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{ipv6_prefix}", strict=False))
    return str(ip)


def _network(value: str) -> _Network:
    return ipaddress.ip_network(value, strict=False)


def _trusted(address: str, networks: list[_Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in n for n in networks)


# ------------------------------------------------------------------ requests


def rate_limited_body(retry_after: int) -> dict[str, Any]:
    en = f"Too many requests; try again in {retry_after} seconds."
    zh = f"请求过于频繁，请在{retry_after}秒后重试。"
    return {"errors": [error_entry("RATE_LIMITED", en, zh, retry_after=retry_after)]}


class RateLimitMiddleware:
    """Counts requests to ``limits.paths`` per account (valid bearer token) or per
    client address (anonymous), and refuses those over the limit with 429."""

    def __init__(
        self,
        app: ASGIApp,
        limits: RateLimits | None = None,
        storage_url: str = "memory://",
        *,
        account_of: AccountOf | None = None,
    ) -> None:
        self.app = app
        self.limits = limits or RateLimits()
        self.account_of = account_of
        self._per_account = _parse(self.limits.per_account)
        self._per_address = _parse(self.limits.per_address)
        self._proxies = [_network(p) for p in self.limits.trusted_proxies]
        self._paths = frozenset(
            p.rstrip("/") or "/" for p in self.limits.paths if not p.endswith("/*")
        )
        self._prefixes = tuple(p[:-1] for p in self.limits.paths if p.endswith("/*"))
        self._counter = _Counter(storage_url, self.limits, what="request limits")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._closing_at_shutdown(send))
            return
        if scope["type"] not in ("http", "websocket") or not self._counted(scope):
            await self.app(scope, receive, send)
            return
        address = resolve_client_address(scope, self._proxies)
        if address is not None:
            scope[CLIENT_ADDRESS_SCOPE_KEY] = address
        if not self.limits.enabled:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            scope[OPERATION_LIMIT_SCOPE_KEY] = functools.partial(self._operation, address)
        account = await self.account_of(scope) if self.account_of is not None else None
        if account is not None:
            wait = await self._counter.hit(self._per_account, "account", account)
        else:
            key = address_key(address, self.limits.ipv6_prefix)
            wait = await self._counter.hit(self._per_address, "address", key)
        if wait is None:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        if scope["type"] == "http":
            await _refuse_http(send, retry_after, "http.response")
        elif "websocket.http.response" in scope.get("extensions", {}):
            await _refuse_http(send, retry_after, "websocket.http.response")
        else:
            await send({"type": "websocket.close", "code": 1013})  # try again later

    async def _operation(self, address: str | None, account: str | None) -> float | None:
        """One operation on a socket, counted as one request (``OPERATION_LIMIT_SCOPE_KEY``)."""
        if account is not None:
            return await self._counter.hit(self._per_account, "account", account)
        key = address_key(address, self.limits.ipv6_prefix)
        return await self._counter.hit(self._per_address, "address", key)

    async def aclose(self) -> None:
        await self._counter.aclose()

    def _counted(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return (path.rstrip("/") or "/") in self._paths or path.startswith(self._prefixes)

    def _closing_at_shutdown(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.aclose()
            await send(message)

        return wrapped


async def _refuse_http(send: Send, retry_after: int, kind: str) -> None:
    body = json.dumps(rate_limited_body(retry_after), ensure_ascii=False).encode()
    await send(
        {
            "type": f"{kind}.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
            ],
        }
    )
    await send({"type": f"{kind}.body", "body": body})


def bearer_account_key(secret: bytes | str | Callable[[Scope], bytes | str]) -> AccountOf:
    """An ``account_of`` for the gateway's own tokens: the account id of a token whose
    signature and expiry hold, without asking the store (a disabled account's token
    is still counted as that account, which is what a limit wants).

    ``secret`` may be a function of the scope, for a secret known only once the app
    has started: ``lambda scope: scope["app"].state.gateway.token_secret``.
    """

    async def account_of(scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return None
                key = secret(scope) if callable(secret) else secret
                try:
                    return str(verify_token(token.strip(), secret=key).account_id)
                except AuthenticationError:
                    return None
        return None

    return account_of


# -------------------------------------------------------------------- sign-in


def login_throttled(retry_after: float) -> GatewayError:
    """The one answer to a throttled sign-in, whichever limit it hit."""
    seconds = max(1, math.ceil(retry_after))
    return GatewayError(
        "LOGIN_THROTTLED",
        f"Too many sign-in attempts; try again in {seconds} seconds.",
        f"登录尝试次数过多，请在{seconds}秒后重试。",
        retry_after=seconds,
    )


class LoginThrottle:
    """Sign-in attempts per username and failed ones per client address.

    ``check`` counts the attempt against the username before the password is
    verified, so that guesses sent in parallel, between one ``check`` and its
    ``failed``, cannot slip past the limit; ``succeeded`` forgets the username's
    attempts. Failures alone count against the address, so that a service hall
    behind one address can sign in all its clerks. Usernames and addresses are
    keyed by an HMAC under ``hash_key`` (the gateway's audit key), never in clear.

    An address a username signed in from within ``login_known_address_days`` is
    known to it: its attempts there are counted for that address alone. Counted
    for the username wherever they came from, five wrong passwords from anyone
    who knew a clerk's username locked the clerk out at the window, again every
    fifteen minutes; guesses from elsewhere still share the username's count.

    The login mutation::

        wait = await throttle.check(username, address)
        if wait is not None:
            raise login_throttled(wait)
        account = ...  # verify the password
        if account is None:
            await throttle.failed(username, address)
            raise invalid_credentials()
        await throttle.succeeded(username, address)
    """

    def __init__(
        self, limits: RateLimits | None = None, storage_url: str = "memory://", *, hash_key: bytes
    ) -> None:
        if not hash_key:
            raise ValueError("the login throttle needs a key for its hashes")
        self.limits = limits or RateLimits()
        self._key = hash_key
        self._per_username = _parse(self.limits.login_per_username)
        self._per_address = _parse(self.limits.login_per_address)
        days = self.limits.login_known_address_days
        self._known = _parse(f"1 per {days} days") if days else None
        self._counter = _Counter(storage_url, self.limits, what="login throttle")

    async def check(self, username: str, address: str | None) -> float | None:
        """None when this attempt may go ahead (and it is counted), else the seconds to wait."""
        if not self.limits.enabled:
            return None
        at = self._address(address)
        wait = await self._counter.wait(self._per_address, "login-address", at)
        if wait is not None:
            # Not counted against the username: an address being throttled must not
            # also lock the accounts it tries out.
            return wait
        user = self._user(username)
        if await self._known_at(user, at):
            return await self._counter.hit(self._per_username, "login-user-at", user, at)
        return await self._counter.hit(self._per_username, "login-user", user)

    async def failed(self, username: str, address: str | None) -> None:
        """The attempt ``check`` let through failed (wrong or unknown username, wrong password)."""
        if self.limits.enabled:
            await self._counter.hit(self._per_address, "login-address", self._address(address))

    async def succeeded(self, username: str, address: str | None) -> None:
        """The attempt ``check`` let through signed in: the username's attempts are
        forgotten, and ``address`` is known to it from now on."""
        user, at = self._user(username), self._address(address)
        await self._counter.clear(self._per_username, "login-user", user)
        if self._known is not None and self.limits.enabled:
            await self._counter.clear(self._per_username, "login-user-at", user, at)
            # Cleared first: the window starts again at each sign-in.
            await self._counter.clear(self._known, "login-known", user, at)
            await self._counter.hit(self._known, "login-known", user, at)

    async def _known_at(self, user: str, at: str) -> bool:
        if self._known is None:
            return False
        # The window of one is full while the sign-in that filled it is within it.
        return await self._counter.wait(self._known, "login-known", user, at) is not None

    async def aclose(self) -> None:
        await self._counter.aclose()

    def _user(self, username: str) -> str:
        # The store compares usernames stripped and lower-cased; folding a little
        # more can only make two spellings share one count, never split one.
        return self._hash("user", unicodedata.normalize("NFKC", username).strip().casefold())

    def _address(self, address: str | None) -> str:
        return self._hash("address", address_key(address, self.limits.ipv6_prefix))

    def _hash(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]


def _parse(limit: str) -> limits.RateLimitItem:
    return limits.parse(limit)
