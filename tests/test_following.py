"""The subscriptions of a process and the poll they share (``gateway/following.py``),
against a table of versions held in memory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

import pytest

from gateway.following import Following, TooManySubscriptions


class Versions:
    """The store's versions, as a dict; each read remembered."""

    def __init__(self, **versions: int) -> None:
        self.table = dict(versions)
        self.reads: list[list[str]] = []

    async def __call__(self, ids: Sequence[str]) -> Mapping[str, int]:
        self.reads.append(list(ids))
        return {i: self.table[i] for i in ids if i in self.table}


def following(versions: Versions, *, poll_s: float = 60.0, per_account: int = 3) -> Following:
    return Following(versions, poll_s=lambda: poll_s, per_account=per_account)


async def test_a_follower_is_woken_when_its_registration_is_not_at_the_version_it_read() -> None:
    versions = Versions(a=1, b=1, c=1)
    f = following(versions)
    with (
        f.follow("a", asyncio.Event(), account=None) as a,
        f.follow("b", asyncio.Event(), account=None) as b,
        f.follow("c", asyncio.Event(), account=None) as gone,
        f.follow("a", asyncio.Event(), account=None) as unread,
    ):
        a.seen = b.seen = gone.seen = 1
        versions.table["a"] = 2
        del versions.table["c"]
        await f.look()
        assert a.changed.is_set()
        assert not b.changed.is_set()
        assert gone.changed.is_set()  # erased or never there: read again, NOT_FOUND
        # Not read yet: it reads anyway, nothing to wake.
        assert not unread.changed.is_set()
        assert versions.reads == [["a", "b", "c"]]  # one statement for all of them
        await f.close()


async def test_each_follower_is_compared_with_what_it_read_itself() -> None:
    """Two followers of one registration, one a version behind the other: the one
    behind is woken, whatever the other read since."""
    versions = Versions(a=2)
    f = following(versions)
    with (
        f.follow("a", asyncio.Event(), account=None) as behind,
        f.follow("a", asyncio.Event(), account=None) as current,
    ):
        behind.seen, current.seen = 1, 2
        await f.look()
        assert behind.changed.is_set()
        assert not current.changed.is_set()
    await f.close()


async def test_a_look_reads_many_registrations_in_few_statements() -> None:
    ids = [f"r{i:04d}" for i in range(1200)]
    versions = Versions(**dict.fromkeys(ids, 1))
    f = following(versions)
    with contextlib.ExitStack() as stack:
        for i in ids:
            stack.enter_context(f.follow(i, asyncio.Event(), account=None)).seen = 1
        await f.look()
    assert [len(read) for read in versions.reads] == [500, 500, 200]
    assert sorted(i for read in versions.reads for i in read) == ids
    await f.close()


async def test_an_account_follows_a_bounded_number_at_once() -> None:
    f = following(Versions(), per_account=2)
    with f.follow("a", asyncio.Event(), account=7), f.follow("b", asyncio.Event(), account=7):
        with (
            pytest.raises(TooManySubscriptions) as refused,
            f.follow("c", asyncio.Event(), account=7),
        ):
            raise AssertionError("a third was followed")  # refused on the way in
        assert refused.value.limit == 2
        # Another account, and a caller of no account (refused later, when it reads), are not.
        with (
            f.follow("c", asyncio.Event(), account=8),
            f.follow("c", asyncio.Event(), account=None),
        ):
            assert f.followed == 4
        assert f.followed == 2
    # One ended: room for another.
    with f.follow("c", asyncio.Event(), account=7), f.follow("d", asyncio.Event(), account=7):
        assert f.followed == 2
    assert f.followed == 0
    await f.close()


async def test_the_poll_runs_while_anyone_follows_and_starts_again_with_the_next() -> None:
    versions = Versions(a=1)
    f = following(versions, poll_s=0.01)
    changed = asyncio.Event()
    with f.follow("a", changed, account=None) as follower:
        follower.seen = 1
        versions.table["a"] = 2
        async with asyncio.timeout(10):
            await changed.wait()  # woken by the poll, no one told
    async with asyncio.timeout(10):
        while f._poll is not None and not f._poll.done():  # noqa: ASYNC110 - the poll's own end
            await asyncio.sleep(0.01)
    reads = len(versions.reads)
    await asyncio.sleep(0.05)
    assert len(versions.reads) == reads  # no follower, no look
    again = asyncio.Event()
    with f.follow("a", again, account=None) as follower:
        follower.seen = 2
        versions.table["a"] = 3
        async with asyncio.timeout(10):
            await again.wait()
    await f.close()
    assert f._poll is None


async def test_a_store_that_fails_a_look_is_looked_at_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    async def flaky(ids: Sequence[str]) -> Mapping[str, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("the store went away")
        return dict.fromkeys(ids, 5)

    f = Following(flaky, poll_s=lambda: 0.01)
    changed = asyncio.Event()
    with f.follow("a", changed, account=None) as follower:
        follower.seen = 4
        async with asyncio.timeout(10):
            await changed.wait()
    await f.close()
    assert calls >= 2
    assert "ConnectionError" in caplog.text
    assert "went away" not in caplog.text  # the name of what failed, never its text
