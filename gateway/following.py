"""The subscriptions of one process, and the one look at the store they share.

A subscription (``registrationUpdates``) reads its registration when something
says it changed: a wake-up of ``gateway/events.py`` from whichever process changed
it, or this module's poll. The poll is one statement for every registration
followed in the process, their versions only, every ``subscription_poll_s``; a
follower whose registration's version is not the one it last read is woken to
read it whole. It catches what no wake-up told: a worker process on the same
SQLite file (local events reach no other process), a wake-up lost on the way.

Each subscription reading its own registration at every poll cost the process
about 2 ms of CPU a turn (the registration and its steps, the token checked
again): one employer's 100 streams, well within its rate limit, held a core of
the demo for as long as its registration was under way (a system down, say).
Polled together, a turn costs a follower nothing until its registration changes.

An account may follow at most ``per_account`` registrations at once in a process
(``TooManySubscriptions`` for one more): each holds a connection and a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("gateway.following")

#: Registrations whose versions one statement reads: SQLite's and asyncpg's limits
#: on parameters are far above it.
_IDS_PER_READ = 500


class TooManySubscriptions(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} subscriptions of one account at once")
        self.limit = limit


@dataclass(eq=False)
class Follower:
    """One subscription: woken (``changed``) when its registration's version is no
    longer ``seen``, the one it last read."""

    registration_id: str
    changed: asyncio.Event
    seen: int | None = None


@dataclass(eq=False)
class Following:
    """Who follows what in this process, and the poll that wakes them."""

    #: The versions of the registrations of these ids that exist.
    versions: Callable[[Sequence[str]], Awaitable[Mapping[str, int]]]
    #: Seconds between two looks (read at each, so that it follows the events' kind).
    poll_s: Callable[[], float]
    per_account: int = 100
    _followers: dict[str, set[Follower]] = field(default_factory=dict, init=False)
    _accounts: Counter[int] = field(default_factory=Counter, init=False)
    _poll: asyncio.Task[None] | None = field(default=None, init=False)

    @contextlib.contextmanager
    def follow(
        self, registration_id: str, changed: asyncio.Event, *, account: int | None
    ) -> Iterator[Follower]:
        """Follow ``registration_id`` while in the block, ``changed`` set when its
        version moves past the follower's ``seen``; ``TooManySubscriptions`` when
        ``account`` already follows ``per_account``."""
        if account is not None:
            if self._accounts[account] >= self.per_account:
                raise TooManySubscriptions(self.per_account)
            self._accounts[account] += 1
        follower = Follower(registration_id, changed)
        self._followers.setdefault(registration_id, set()).add(follower)
        if self._poll is None or self._poll.done():
            self._poll = asyncio.get_running_loop().create_task(self._polling())
        try:
            yield follower
        finally:
            following = self._followers.get(registration_id)
            if following is not None:
                following.discard(follower)
                if not following:
                    del self._followers[registration_id]
            if account is not None:
                self._accounts[account] -= 1
                if self._accounts[account] <= 0:
                    del self._accounts[account]

    @property
    def followed(self) -> int:
        """How many subscriptions are running in this process."""
        return sum(len(f) for f in self._followers.values())

    async def look(self) -> None:
        """Read the versions of every registration followed, and wake each follower
        whose registration is not at the version it last read (or is gone)."""
        ids = sorted(self._followers)
        for start in range(0, len(ids), _IDS_PER_READ):
            chunk = ids[start : start + _IDS_PER_READ]
            found = await self.versions(chunk)
            for registration_id in chunk:
                version = found.get(registration_id)
                for follower in self._followers.get(registration_id, ()):
                    if follower.seen is not None and follower.seen != version:
                        follower.changed.set()

    async def _polling(self) -> None:
        """Look every ``poll_s`` while anyone follows; ends with the last follower
        (the next one starts it again)."""
        while self._followers:
            await asyncio.sleep(self.poll_s())
            if not self._followers:
                return
            try:
                await self.look()
            except Exception as exc:  # the store unreachable: the next look may do
                log.warning(
                    "subscriptions: their registrations could not be read: %s",
                    type(exc).__name__,
                )

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll
            self._poll = None
