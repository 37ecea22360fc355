"""The proofs dealt out to the xdist workers (``tests/scheduling.py``), against
fake workers: every test is sent once, the longest proofs first, never more
than ``PROOFS_AT_ONCE`` workers on proofs while other tests are left."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.scheduling import PROOF_ORDER, PROOFS, PROOFS_AT_ONCE, ProofsSpread, proof_rank


@dataclass(eq=False)
class FakeWorker:
    """What the scheduler asks of an xdist worker: tests sent, a shutdown."""

    name: str
    received: list[int] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> Any:  # xdist names a worker by its gateway's id
        return self

    @property
    def id(self) -> str:
        return self.name

    def send_runtest_some(self, indices: list[int]) -> None:
        assert not self.shutting_down, "sent tests after its shutdown"
        self.received.extend(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


class FakeConfig:
    def __init__(self, workers: int) -> None:
        self.values = {"tx": [f"{workers}*popen"], "maxschedchunk": None}

    def getvalue(self, name: str) -> Any:
        return self.values[name]

    getoption = getvalue


def collection(others: int) -> list[str]:
    """Proofs of each file in PROOF_ORDER, the longest first, then other tests."""
    proofs = [f"{PROOFS}{name}::test_{i}" for name in PROOF_ORDER for i in range(2)]
    return proofs + [f"tests/domain/test_x.py::test_{i}" for i in range(others)]


def run(workers: int, tests: list[str], seed: int) -> tuple[list[FakeWorker], list[int]]:
    """Deal ``tests`` out, completing one test at a time on a random worker, as
    xdist reports them; check the rules at every step. The order tests started."""
    rng = random.Random(seed)
    sched = ProofsSpread(FakeConfig(workers))  # type: ignore[arg-type]
    nodes = [FakeWorker(f"gw{n}") for n in range(workers)]
    for node in nodes:
        sched.add_node(node)  # type: ignore[arg-type]
        sched.add_node_collection(node, tests)  # type: ignore[arg-type]
    sched.schedule()
    started: list[int] = []
    while sched.pending or any(sched.node2pending.values()):
        # A worker runs its first test once it knows the next, or has been shut down.
        ready = [
            n
            for n in nodes
            if len(sched.node2pending[n]) >= 2 or (n.shutting_down and sched.node2pending[n])  # type: ignore[index]
        ]
        assert ready, "every worker waits for a test that never comes"
        node = rng.choice(ready)
        index = sched.node2pending[node][0]  # type: ignore[index]
        started.append(index)
        if sum(not tests[i].startswith(PROOFS) for i in sched.pending) >= 2:
            holding = sum(
                any(tests[i].startswith(PROOFS) for i in sched.node2pending[n])  # type: ignore[index]
                for n in nodes
            )
            assert holding <= PROOFS_AT_ONCE
        sched.mark_test_complete(node, index)  # type: ignore[arg-type]
    return nodes, started


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
@pytest.mark.parametrize("others", [0, 1, 7, 400])
def test_every_test_runs_once_and_the_proofs_go_first_to_several_workers(
    workers: int, others: int
) -> None:
    tests = collection(others)
    for seed in range(5):
        nodes, started = run(workers, tests, seed)
        received = sorted(i for n in nodes for i in n.received)
        assert received == list(range(len(tests)))
        assert all(n.shutting_down for n in nodes)
        proofs = [i for i in started if tests[i].startswith(PROOFS)]
        # Handed out in the order of PROOF_ORDER, the longest first.
        ranks = [proof_rank(tests[i]) for i in sorted(proofs)]
        assert ranks == sorted(ranks)
        if workers > 1 and others:
            carrying = {
                n.name for n in nodes if any(tests[i].startswith(PROOFS) for i in n.received)
            }
            assert len(carrying) >= min(workers, PROOFS_AT_ONCE)


def test_a_collection_without_proofs_is_plain_load_scheduling() -> None:
    tests = collection(50)[len(PROOF_ORDER) * 2 :]
    nodes, started = run(3, tests, 0)
    assert sorted(started) == list(range(len(tests)))
    assert all(len(n.received) > 2 for n in nodes)
