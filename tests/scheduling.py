"""How xdist hands the tests to its workers: the proofs spread over all of them.

The proofs over real processes (``tests/proof``) are few and long (up to a
minute each) and come first in the collection (``tests/conftest.py``). xdist's
``load`` scheduling starts every worker on a chunk of consecutive tests, a
quarter of its share: with 2,500 tests and 3 workers the first chunk, 210
tests, held every proof, so one worker ran them all one after another (about
300 s) while the others finished the rest and then waited.

:class:`ProofsSpread` is ``load`` scheduling, except that while proofs are
pending they are handed out one at a time, the longest first, each with one
test that is not a proof (a worker runs a test only once it knows the next, for
the teardown between them), to at most :data:`PROOFS_AT_ONCE` workers at once;
the other workers take chunks of the other tests meanwhile. A proof starts a
dozen processes whose timings it relies on: four at once on two cores starved
each other (a kill meant for writes in flight came after they had landed). When
only proofs are left, every worker takes them. Once they are all handed out, it
is ``load`` as before. ``make test`` and ``make pytest`` use it through the
``pytest_xdist_make_scheduler`` hook of ``tests/conftest.py``; other ``--dist``
modes are xdist's own.
"""

from __future__ import annotations

from xdist.scheduler import LoadScheduling
from xdist.workermanage import WorkerController

PROOFS = "tests/proof/"

#: The proofs' files, the longest first (``--durations``, docs/testing.md): a long
#: proof started last would keep its worker busy after the others are done.
PROOF_ORDER = (
    "test_kills.py",
    "test_cluster.py",
    "test_events.py",
    "test_insurance.py",
    "test_faults.py",
    "test_concurrency.py",
    "test_rate_limits.py",
)


#: How many workers may run a proof at once while other tests are left (module
#: docstring): the proofs' processes rely on being scheduled within seconds.
PROOFS_AT_ONCE = 2


def proof_rank(nodeid: str) -> int:
    """Where a proof's file comes in :data:`PROOF_ORDER` (a new file: after them)."""
    name = nodeid.removeprefix(PROOFS).split("::", 1)[0]
    return PROOF_ORDER.index(name) if name in PROOF_ORDER else len(PROOF_ORDER)


class ProofsSpread(LoadScheduling):
    """``load`` scheduling that deals the proofs out one by one (module docstring)."""

    def _is_proof(self, index: int) -> bool:
        assert self.collection is not None
        return self.collection[index].startswith(PROOFS)

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None or not self._check_nodes_have_same_collection():
            super().schedule()  # rescheduling, or a collection mismatch xdist reports
            return
        collection = next(iter(self.node2collection.values()))
        if not collection or not collection[0].startswith(PROOFS):
            super().schedule()
            return
        self.collection = collection
        self.pending[:] = range(len(collection))
        if self.maxschedchunk is None:
            self.maxschedchunk = len(collection)
        for node in self.nodes:
            self._deal(node)

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if node.shutting_down:
            return
        if not any(self._is_proof(index) for index in self.pending):
            super().check_schedule(node, duration)
            return
        if len(self.node2pending[node]) < 2:
            self._deal(node)

    def _deal(self, node: WorkerController) -> None:
        """A proof and another test, or a chunk of the other tests while
        :data:`PROOFS_AT_ONCE` other workers hold proofs."""
        if not self.pending:
            for each in self.nodes:
                if not each.shutting_down:
                    each.shutdown()
            return
        proofs = [i for i, index in enumerate(self.pending) if self._is_proof(index)]
        others = [i for i, index in enumerate(self.pending) if not self._is_proof(index)]
        holding = sum(
            1
            for other in self.nodes
            if other is not node and any(self._is_proof(i) for i in self.node2pending[other])
        )
        if proofs and (holding < PROOFS_AT_ONCE or not others):
            chosen = [proofs[0], *(others[:1] or proofs[1:2])]
        else:
            share = len(others) // max(1, len(self.nodes)) // 4
            chosen = others[: max(2, min(share, self.maxschedchunk or share))]
        if len(self.node2pending[node]) + len(chosen) < 2 and len(self.pending) > len(chosen):
            # One test alone would never start (the worker waits to know the next).
            chosen.append(next(i for i in range(len(self.pending)) if i not in chosen))
        indices = [self.pending[i] for i in chosen]
        for i in sorted(chosen, reverse=True):
            del self.pending[i]
        self.node2pending[node].extend(indices)
        node.send_runtest_some(indices)
        if not self.pending:
            # Nothing will follow: each worker runs what it holds, then stops.
            for each in self.nodes:
                if not each.shutting_down:
                    each.shutdown()
