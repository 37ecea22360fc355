"""Hundreds of hires at once through the graph of a real ``hrss-gateway serve``.

Some requests are sent twice with the same idempotency key (the same content),
some hire a worker again under a different key, all in parallel while the
gateway's background worker carries them out: exactly one registration per
key, and no worker registered twice, counted in the systems themselves.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.standin.process import RunningStandin
from gateway.domain.model import System
from tests.proof.conftest import (
    HIRE,
    Deployment,
    Graph,
    Ledger,
    employer,
    hire_input,
    hired_once,
    new_key,
    new_person,
    settle,
    summary,
    urls_of,
)

WORKERS = 170  # one request each, under a key of its own
SAME_KEY = 20  # of these, requests sent again under the same key
OTHER_KEY = 10  # and workers hired again under a different key
PARALLEL = 48  # requests in flight at once

LIST = """query($after: String) { registrations(first: 100, after: $after) {
  nodes { id workerIdNumber } endCursor hasNextPage } }"""


@dataclass
class Request:
    worker: int  # index into the workers
    key: str
    variables: dict[str, Any]
    answer: dict[str, Any] | None = None


async def _all_registration_ids(graph: Graph) -> list[str]:
    """Every registration the employer sees in the store, page by page."""
    ids: list[str] = []
    after = None
    while True:
        page = (await graph.data(LIST, {"after": after}))["registrations"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["hasNextPage"]:
            return ids
        after = page["endCursor"]


@pytest.mark.timeout(150)
async def test_hundreds_of_parallel_hires_one_registration_per_key_no_worker_twice(
    tmp_path: Path,
    http: httpx.AsyncClient,
    standins: dict[System, RunningStandin],
    ledgers: Callable[[dict[System, str]], Ledger],
    deployments: Callable[..., Deployment],
) -> None:
    urls = urls_of(standins)
    running = deployments(tmp_path / "gateway", urls, workers=0, gateway_worker=True, timeout=3.0)
    graph = await employer(http, running)
    people = [new_person() for _ in range(WORKERS)]
    firsts = [
        Request(i, key, {"w": [hire_input(p)], "k": key})
        for i, p in enumerate(people)
        for key in [new_key()]
    ]
    again = [Request(r.worker, r.key, dict(r.variables)) for r in firsts[:SAME_KEY]]
    others = [
        Request(r.worker, key, {"w": r.variables["w"], "k": key})
        for r in firsts[SAME_KEY : SAME_KEY + OTHER_KEY]
        for key in [new_key()]
    ]
    requests = [*firsts, *again, *others]
    assert len(requests) == WORKERS + SAME_KEY + OTHER_KEY == 200
    random.Random(20240301).shuffle(requests)
    gate = asyncio.Semaphore(PARALLEL)

    async def send(request: Request) -> None:
        async with gate:
            request.answer = (await graph.data(HIRE, request.variables))["hire"]

    await asyncio.gather(*(send(r) for r in requests))

    by_key: dict[str, list[Request]] = defaultdict(list)
    for r in requests:
        by_key[r.key].append(r)
    assert len(by_key) == WORKERS + OTHER_KEY
    accepted: dict[str, str] = {}  # key -> its one registration
    for key, sent in by_key.items():
        answers = [r.answer for r in sent]
        assert all(a is not None for a in answers)
        answered = {tuple(x["id"] for x in a["registrations"]) for a in answers if a is not None}
        # One registration per key, whichever of its requests came first.
        assert len(answered) == 1, (key, answers)
        (registration_ids,) = answered
        if registration_ids:
            (accepted[key],) = registration_ids
        replayed = sorted(bool(a["replayed"]) for a in answers if a is not None)
        assert replayed == [False] + [True] * (len(sent) - 1), answers
    for worker in range(WORKERS):
        mine = [r for r in requests if r.worker == worker]
        # Each worker's hire was accepted under one of its keys at least; under
        # another key it was refused while the first was under way (or accepted
        # after it had finished, and then refused by the systems).
        assert any(r.key in accepted for r in mine), [r.answer for r in mine]
        for r in mine:
            if r.key not in accepted:
                assert r.answer is not None
                assert [p["code"] for p in r.answer["problems"]] == ["REGISTRATION_IN_PROGRESS"]

    # The store holds exactly those registrations: none made twice, none extra.
    stored = await _all_registration_ids(graph)
    assert sorted(stored) == sorted(accepted.values())

    done = await settle(graph, list(accepted.values()), within=90, deployment=running)
    by_worker: dict[int, list[str]] = defaultdict(list)
    for r in requests:
        if r.key in accepted and accepted[r.key] not in by_worker[r.worker]:
            by_worker[r.worker].append(accepted[r.key])
    for worker, theirs in by_worker.items():
        outcomes = sorted(done[i]["state"] for i in theirs)
        # One of a worker's registrations completed; a later one was refused.
        assert outcomes in (["COMPLETED"], ["COMPENSATED", "COMPLETED"]), (
            worker,
            summary(done[i] for i in theirs),
        )
        for i in theirs:
            if done[i]["state"] == "COMPENSATED":
                assert done[i]["failure"]["code"] == "SYSTEM_DUPLICATE", done[i]
    # Counted in the systems: every worker employed once, one contract in force.
    assert await hired_once(ledgers(urls), [p["idNumber"] for p in people]) == []
