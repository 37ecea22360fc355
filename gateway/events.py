"""Wake-ups between gateway and worker processes: work submitted, a registration changed.

The store is the one source of truth. An event only says "look again now":

- ``work``: a registration was stored (or made due again); the workers of every
  process claim at once instead of at their next poll (``worker_poll_s``).
- ``changed``: a registration or one of its steps changed; the subscriptions
  following it (``registrationUpdates``, over any transport) read it again at once
  instead of at the process's next look at their versions (``subscription_poll_s``,
  ``gateway/following.py``).

A lost event costs only that wait: every reader still polls, so an outage of the
channel slows the gateway down and never makes it wrong. Three carriers:

``LocalEvents``
    Within the process only: the single-machine path (SQLite, one ``serve``).
``PostgresEvents``
    ``LISTEN``/``NOTIFY`` on the store's PostgreSQL, through one asyncpg
    connection per process (SQLAlchemy's pool has no listening connection).
``RedisEvents``
    Pub/sub on the Redis that the cache and rate limits already share
    (redis-py's asyncio client).

Which one: ``events_url`` (``local``, a ``postgresql://`` or a ``redis://`` URL), or,
when it is not set, Redis when ``cache_url`` is Redis, else PostgreSQL when the store
is, else local (:func:`events_for`). Every process delivers its own events to itself
at once; the carrier takes them to the others, which ignore their own echo.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger("gateway.events")

#: The one channel (PostgreSQL) or pub/sub channel (Redis) of a deployment.
DEFAULT_CHANNEL = "hrss_gateway_events"
#: PostgreSQL's NOTIFY payloads must stay under 8000 bytes: ids go in chunks.
_IDS_PER_MESSAGE = 100
#: How long a carrier that lost its connection waits before trying again (doubling).
_RETRY_FIRST_S, _RETRY_CAP_S = 0.5, 15.0
#: How long closing a connection may take before it is left behind.
_CLOSE_S = 3.0
#: Events waiting to be sent; past this the oldest are dropped (they are wake-ups).
_OUTBOX = 10_000


class Events:
    """The in-process carrier, and what the others build on: local delivery,
    waiters per registration, and an outbox sent by a task of its own so that
    publishing never waits on the network (nor fails)."""

    kind = "local"

    def __init__(self, on_work: Callable[[], None] = lambda: None) -> None:
        self._on_work = on_work
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.origin = os.urandom(8).hex()
        self._outbox: asyncio.Queue[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: Told of each message sent to or received from the other processes
        #: (direction, kind): the gateway's metrics count them.
        self.counted: Callable[[str, str], None] = lambda direction, kind: None

    # ----------------------------------------------------------- publishing

    def work(self) -> None:
        """Something is due: wake this process's worker now, the others' soon."""
        self._on_work()
        self._send({"k": "work"})

    def changed(self, registration_ids: Iterable[str]) -> None:
        """These registrations changed: wake whoever follows them, here and elsewhere."""
        ids = sorted(set(registration_ids))
        if not ids:
            return
        self._wake(ids)
        for start in range(0, len(ids), _IDS_PER_MESSAGE):
            self._send({"k": "changed", "ids": ids[start : start + _IDS_PER_MESSAGE]})

    # ------------------------------------------------------------ following

    @contextlib.contextmanager
    def watch(self, registration_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``registration_id`` changes, while in the block."""
        event = asyncio.Event()
        self._waiters.setdefault(registration_id, set()).add(event)
        try:
            yield event
        finally:
            waiting = self._waiters.get(registration_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[registration_id]

    def _wake(self, ids: Iterable[str]) -> None:
        for registration_id in ids:
            for event in self._waiters.get(registration_id, ()):
                event.set()

    def _wake_everything(self) -> None:
        """After a gap in the carrier: anything may have happened meanwhile."""
        self._on_work()
        for waiting in self._waiters.values():
            for event in waiting:
                event.set()

    # ---------------------------------------------------------- other processes

    def _send(self, message: dict[str, Any]) -> None:
        if self._outbox is None:
            return  # in-process only, or not started
        if self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait({**message, "o": self.origin})

    def receive(self, payload: str | bytes) -> None:
        """A message from the carrier: acted upon unless it is this process's own."""
        try:
            message = json.loads(payload)
            if not isinstance(message, dict) or message.get("o") == self.origin:
                return
            if message.get("k") == "work":
                self._on_work()
            elif message.get("k") == "changed":
                self._wake([str(i) for i in message.get("ids", ())])
            else:
                return
            self.counted("received", message["k"])
        except (ValueError, TypeError):
            log.warning("an event that is not one of the gateway's was ignored")

    async def start(self) -> None:
        """Begin carrying events to and from the other processes (none here)."""

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a connection that hangs on its way out must not hold the shutdown.
            await asyncio.wait(self._tasks, timeout=_CLOSE_S)
        self._tasks.clear()


class _Carried(Events, abc.ABC):
    """A carrier over the network: one task keeps a connection, listens, and sends
    the outbox; when the connection fails it is made again, with a growing pause.
    Each carrier says how it connects, disconnects and publishes."""

    def __init__(self, url: str, channel: str, on_work: Callable[[], None]) -> None:
        super().__init__(on_work)
        self.url = url
        self.channel = channel
        #: Set while connected and listening (tests wait for it).
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._outbox = asyncio.Queue(maxsize=_OUTBOX)
        self._tasks.append(asyncio.create_task(self._keep_connected(), name="events"))

    async def _keep_connected(self) -> None:
        pause = _RETRY_FIRST_S
        first = True
        while True:
            try:
                try:
                    await self._connect()
                    self.listening.set()
                    log.info("%s events: listening", self.kind)
                    if not first:
                        self._wake_everything()
                    first = False
                    pause = _RETRY_FIRST_S
                    await self._serve()
                finally:
                    self.listening.clear()
                    await self._disconnect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Hosts and passwords stay out of the log: the type says enough.
                log.warning(
                    "%s events unavailable (%s); retrying in %.1f s",
                    self.kind,
                    type(exc).__name__,
                    pause,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RETRY_CAP_S)

    async def _serve(self) -> None:
        """Send the outbox until the connection fails (received messages arrive
        through the carrier's own callback or loop). What piled up while one was
        being sent goes as one message per kind: under load, far fewer sends."""
        assert self._outbox is not None
        while True:
            pending = [await self._outbox.get()]
            while not self._outbox.empty():
                pending.append(self._outbox.get_nowait())
            for message in _merged(pending, self.origin):
                await self._publish(json.dumps(message, separators=(",", ":")))
                self.counted("sent", message["k"])

    @abc.abstractmethod
    async def _connect(self) -> None: ...

    @abc.abstractmethod
    async def _disconnect(self) -> None: ...

    @abc.abstractmethod
    async def _publish(self, payload: str) -> None: ...


def _merged(pending: list[dict[str, Any]], origin: str) -> list[dict[str, Any]]:
    """The messages of ``pending`` as few: one ``work`` at most, the changed ids together."""
    work = any(m.get("k") == "work" for m in pending)
    ids = sorted({i for m in pending if m.get("k") == "changed" for i in m.get("ids", ())})
    merged: list[dict[str, Any]] = [{"k": "work", "o": origin}] if work else []
    for start in range(0, len(ids), _IDS_PER_MESSAGE):
        merged.append({"k": "changed", "ids": ids[start : start + _IDS_PER_MESSAGE], "o": origin})
    return merged


class PostgresEvents(_Carried):
    """``LISTEN``/``NOTIFY`` over one asyncpg connection of the process's own."""

    kind = "postgresql"

    def __init__(
        self, url: str, channel: str = DEFAULT_CHANNEL, on_work: Callable[[], None] = lambda: None
    ) -> None:
        super().__init__(url, channel, on_work)
        self._conn: Any = None
        self._lost: asyncio.Event = asyncio.Event()

    async def _connect(self) -> None:
        import asyncpg  # type: ignore[import-untyped]
        from sqlalchemy.engine import make_url

        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._lost = asyncio.Event()
        self._conn = await asyncpg.connect(dsn, timeout=10)
        self._conn.add_termination_listener(lambda _conn: self._lost.set())
        await self._conn.add_listener(self.channel, self._notified)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.receive(payload)

    async def _serve(self) -> None:
        sending = asyncio.create_task(super()._serve())
        lost = asyncio.create_task(self._lost.wait())
        try:
            done, _ = await asyncio.wait({sending, lost}, return_when=asyncio.FIRST_COMPLETED)
            if sending in done:
                sending.result()  # the send's failure, raised
            raise ConnectionError("the listening connection was closed")
        finally:
            for task in (sending, lost):
                task.cancel()
            await asyncio.gather(sending, lost, return_exceptions=True)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=_CLOSE_S)

    async def _publish(self, payload: str) -> None:
        await self._conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)


class RedisEvents(_Carried):
    """Pub/sub over redis-py's asyncio client: one connection subscribed, one publishing."""

    kind = "redis"

    def __init__(
        self, url: str, channel: str = DEFAULT_CHANNEL, on_work: Callable[[], None] = lambda: None
    ) -> None:
        super().__init__(url, channel, on_work)
        self._redis: Any = None
        self._pubsub: Any = None

    async def _connect(self) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.url, socket_connect_timeout=5)
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(self.channel)
        # Listening only once Redis confirms: a message published before is not heard.
        async with asyncio.timeout(10):
            while True:
                confirmed = await self._pubsub.get_message(timeout=1.0)
                if confirmed is not None and confirmed.get("type") == "subscribe":
                    break

    async def _serve(self) -> None:
        sending = asyncio.create_task(super()._serve())
        listening = asyncio.create_task(self._listen())
        try:
            done, _ = await asyncio.wait({sending, listening}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise ConnectionError("the subscription ended")
        finally:
            for task in (sending, listening):
                task.cancel()
            await asyncio.gather(sending, listening, return_exceptions=True)

    async def _listen(self) -> None:
        async for message in self._pubsub.listen():
            if message.get("type") == "message":
                self.receive(message["data"])

    async def _disconnect(self) -> None:
        pubsub, client = self._pubsub, self._redis
        self._pubsub = self._redis = None
        for closing in (pubsub, client):
            if closing is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing.aclose(), timeout=_CLOSE_S)

    async def _publish(self, payload: str) -> None:
        await self._redis.publish(self.channel, payload)


def events_for(
    events_url: str | None,
    *,
    store_url: str,
    cache_url: str,
    channel: str = DEFAULT_CHANNEL,
    on_work: Callable[[], None] = lambda: None,
) -> Events:
    """The carrier the configuration asks for (see the module's docstring)."""
    url = events_url
    if not url:
        if cache_url.startswith(("redis://", "rediss://", "unix://")):
            url = cache_url
        elif store_url.startswith("postgresql"):
            url = store_url
        else:
            url = "local"
    if url == "local":
        return Events(on_work)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisEvents(url, channel, on_work)
    if url.startswith("postgresql"):
        return PostgresEvents(url, channel, on_work)
    raise ValueError("events_url: 'local', a postgresql:// URL or a redis:// URL")


__all__ = ["DEFAULT_CHANNEL", "Events", "PostgresEvents", "RedisEvents", "events_for"]
