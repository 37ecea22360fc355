"""Every adapter keeps the same promises to the gateway, over its stand-in process.

What the gateway relies on of any system, written once and run for each of the
four (employment, labour, unemployment, social insurance; one driver each in
``drivers.py``): it satisfies its Protocol, it leaves a client it was given
open, ``ping`` tells a down system, and each way a call can fail reaches the
caller as the same error: nothing listening, wrong credentials, a slow or
dripping answer, a down system, maintenance with ``Retry-After``, a server
error, an error after the commit and an answer lost after it, each with
whether the write may have happened, the write then found committed. No error
repeats personal data or the contract's legacy names. What is particular to one
system (its business refusals, batching, its wire format) stays in its folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin, free_port
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable
from tests.adapters.drivers import DRIVERS, Adapter, Driver, read

#: The deadline of the adapters the slow cases build: long enough for a busy machine
#: to answer the calls made before the fault (a ping takes some 10 ms, the labour
#: client's WSDL some 30 ms), short beside the fault's delay. Each slow case waits
#: it out once or twice, so it is kept no longer than that.
SLOW_TIMEOUT = 0.5
#: How long the stand-in holds a slow or dropped answer: far beyond the deadline,
#: and never waited for (the client hangs up at its deadline).
FAULT_DELAY = 6 * SLOW_TIMEOUT

every_system = pytest.mark.parametrize("driver", DRIVERS, ids=[d.name for d in DRIVERS])


@pytest.fixture
def standin(driver: Driver, request: pytest.FixtureRequest) -> RunningStandin:
    running: RunningStandin = request.getfixturevalue(driver.standin)
    return running


@pytest.fixture
async def make(driver: Driver, standin: RunningStandin) -> AsyncIterator[Callable[..., Adapter]]:
    """``make(url=None, **setting_changes)``: adapters over the stand-in, closed after."""
    made: list[Adapter] = []

    def build(url: str | None = None, **changes: Any) -> Adapter:
        adapter = driver.make(url or standin.url, **changes)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.aclose()


def operations(driver: Driver, standin: RunningStandin) -> int:
    """Calls of the contract the stand-in counted since its last reset."""
    return sum(n for op, n in standin.stats().items() if op not in driver.not_operations)


def assert_clean(driver: Driver, error: BaseException, secrets: tuple[str, ...]) -> None:
    text = str(error)
    for secret in secrets:
        assert secret not in text, text
    assert not driver.legacy_names.search(text), text


# ------------------------------------------------------------------ the shape


@every_system
async def test_satisfies_its_protocol(driver: Driver, make: Callable[..., Adapter]) -> None:
    adapter = make()
    assert isinstance(adapter, driver.protocol)
    assert adapter.system is driver.system


@every_system
async def test_an_injected_client_is_used_and_left_open(
    driver: Driver, standin: RunningStandin
) -> None:
    seen: list[str] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as client:
        borrowed = driver.make(standin.url, client=client)
        await borrowed.ping()
        await borrowed.aclose()
        assert seen
        assert not client.is_closed


@every_system
async def test_ping_answers_and_a_down_system_is_unavailable(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    adapter = make()
    await adapter.ping()
    standin.faults(down=True)
    with pytest.raises(Unavailable) as down:
        await adapter.ping()
    assert down.value.system is driver.system


# ------------------------------------------------------------- calls failing


@every_system
async def test_nothing_listening_is_unavailable_and_surely_not_committed(
    driver: Driver, make: Callable[..., Adapter]
) -> None:
    adapter = make(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Unavailable) as failed:
        await driver.blind_write(adapter)
    assert failed.value.outcome_unknown is False
    assert failed.value.system is driver.system


@every_system
async def test_wrong_credentials_are_rejected_not_retried(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    adapter = make(**driver.wrong_credentials)
    for call in (adapter.ping, lambda: read(adapter)):
        standin.reset()
        with pytest.raises(Rejected) as refused:
            await call()
        assert not isinstance(refused.value, NotFound | Duplicate)
        assert refused.value.system_code == driver.credentials_code
        for secret in driver.wrong_credentials.values():
            assert secret not in str(refused.value)
        assert operations(driver, standin) == 1  # refused once, not tried again


@every_system
async def test_slow_answers_time_out_as_unavailable(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    fast = make()
    write = await driver.new_write(fast)
    # Its deadline, and latency well past it. What an adapter loads once (the WSDL)
    # comes before the latency.
    adapter = make(timeout=SLOW_TIMEOUT)
    await adapter.ping()
    standin.faults(latency_ms=int(1000 * FAULT_DELAY))
    started = time.monotonic()
    with pytest.raises(Unavailable) as slow_read:
        await read(adapter)
    assert time.monotonic() - started < FAULT_DELAY  # the deadline, not the latency
    assert slow_read.value.outcome_unknown is False
    with pytest.raises(Unavailable) as slow_write:
        await write.send(adapter)
    assert slow_write.value.outcome_unknown is True
    assert_clean(driver, slow_write.value, write.secrets)


@pytest.fixture
async def dripping_server() -> AsyncIterator[str]:
    """A server that answers one byte every 0.1 s: never idle long enough for a
    read timeout, never done."""
    handlers: set[asyncio.Task[Any]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            # The client gives up first (its deadline): its hanging up ends this.
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 10000\r\n\r\n"
                )
                for _ in range(10000):
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.1)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.close()
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)
    await server.wait_closed()


@pytest.mark.parametrize(
    "driver", [d for d in DRIVERS if d.drips], ids=[d.name for d in DRIVERS if d.drips]
)
async def test_a_dripping_answer_is_cut_off_by_the_overall_deadline(
    driver: Driver, make: Callable[..., Adapter], dripping_server: str
) -> None:
    adapter = make(dripping_server, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(Unavailable) as failed:
        await driver.blind_write(adapter)
    assert time.monotonic() - started < 1.5
    assert failed.value.outcome_unknown is True


@every_system
async def test_a_down_system_is_unavailable_without_retry_after(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    adapter = make()
    await adapter.ping()
    standin.faults(down=True)
    with pytest.raises(Unavailable) as down:
        await read(adapter)
    assert (down.value.retry_after, down.value.outcome_unknown) == (None, False)


@every_system
async def test_maintenance_is_unavailable_with_retry_after(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    adapter = make()
    write = await driver.new_write(adapter)
    standin.faults(maintenance=True, retry_after_s=7)
    with pytest.raises(Unavailable) as reading:
        await read(adapter)
    assert (reading.value.retry_after, reading.value.outcome_unknown) == (7.0, False)
    with pytest.raises(Unavailable) as writing:
        await write.send(adapter)
    assert writing.value.retry_after == 7.0
    assert writing.value.outcome_unknown is driver.maintenance_write_unknown
    standin.reset()
    assert not await write.committed(adapter)


@every_system
async def test_server_errors_are_unavailable_and_unknown_only_for_writes(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    adapter = make()
    write = await driver.new_write(adapter)
    standin.faults(error_rate=1.0)
    with pytest.raises(Unavailable) as reading:
        await read(adapter)
    assert reading.value.outcome_unknown is False
    with pytest.raises(Unavailable) as writing:
        await write.send(adapter)
    assert writing.value.outcome_unknown is True
    assert_clean(driver, writing.value, write.secrets)


@every_system
async def test_an_error_after_the_commit_leaves_the_outcome_unknown_and_the_write_done(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    adapter = make()
    write = await driver.new_write(adapter)
    standin.faults(error_after_commit=1.0)
    with pytest.raises(Unavailable) as lost:
        await write.send(adapter)
    assert lost.value.outcome_unknown is True
    assert_clean(driver, lost.value, write.secrets)
    standin.reset()
    assert await write.committed(adapter)


@every_system
async def test_an_answer_lost_after_the_commit_times_out_with_the_write_done(
    driver: Driver, make: Callable[..., Adapter], standin: RunningStandin
) -> None:
    fast = make()
    write = await driver.new_write(fast)
    adapter = make(timeout=SLOW_TIMEOUT)
    await adapter.ping()
    standin.faults(commit_then_drop=1.0, stall_s=FAULT_DELAY)
    with pytest.raises(Unavailable) as lost:
        await write.send(adapter)
    assert lost.value.outcome_unknown is True
    assert_clean(driver, lost.value, write.secrets)
    standin.reset()
    assert await write.committed(fast)


# ------------------------------------------------------------- personal data


@every_system
async def test_no_personal_data_or_legacy_names_in_messages(
    driver: Driver, make: Callable[..., Adapter]
) -> None:
    adapter = make()
    refusals, secrets = await driver.refusals(adapter)
    assert secrets
    said = []
    for refusal in refusals:
        with pytest.raises(AdapterError) as raised:
            await refusal()
        assert raised.value.system is driver.system
        assert_clean(driver, raised.value, secrets)
        if raised.value.said is not None:
            # The system's own words, which a clerk's Chinese message quotes: as
            # clean as the rest, and what the adapter's English account quotes too.
            assert_clean(driver, Exception(raised.value.said), secrets)
            assert raised.value.said in raised.value.message
            said.append(raised.value.said)
    assert said, "the system explained none of its refusals"
