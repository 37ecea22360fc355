"""How xdist hands the tests to its workers: the proofs spread over all of them.

The proofs over real processes (``tests/proof``) are few and long (up to a
minute each) and come first in the collection (``tests/conftest.py``). xdist's
``load`` scheduling starts every worker on a chunk of consecutive tests, a
quarter of its share: with 2,500 tests and 3 workers the first chunk, 210
tests, held every proof, so one worker ran them all one after another (about
300 s) while the others finished the rest and then waited.

:class:`ProofsSpread` is ``load`` scheduling, except that while proofs are
pending a worker is handed one proof at a time, the longest first, each with
one test that is not a proof (a worker runs a test only once it knows the next,
for the teardown between them): every worker carries proofs, and a worker that
finishes a short one takes the next. Once they are all handed out, it is
``load`` as before. ``make test`` and ``make pytest`` use it through the
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


def proof_rank(nodeid: str) -> int:
    """Where a proof's file comes in :data:`PROOF_ORDER` (a new file: after them)."""
    name = nodeid.removeprefix(PROOFS).split("::", 1)[0]
    return PROOF_ORDER.index(name) if name in PROOF_ORDER else len(PROOF_ORDER)


class ProofsSpread(LoadScheduling):
    """``load`` scheduling that deals the proofs out one by one (module docstring)."""

    def _is_proof(self, index: int) -> bool:
        assert self.collection is not None
        return self.collection[index].startswith(PROOFS)

    def _proofs_pending(self) -> bool:
        return bool(self.pending) and self._is_proof(self.pending[0])

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
            if self._proofs_pending():
                self._send_proof(node)
            elif self.pending:
                super().check_schedule(node)
        if not self.pending:
            for node in self.nodes:  # as xdist does: each runs what it holds, then stops
                node.shutdown()

    def check_schedule(self, node: WorkerController, duration: float = 0) -> None:
        if not node.shutting_down and self._proofs_pending():
            if len(self.node2pending[node]) < 2:
                self._send_proof(node)
            return
        super().check_schedule(node, duration)

    def _send_proof(self, node: WorkerController) -> None:
        """The next proof, and the first pending test that is not one (or the
        next proof, when only proofs are left)."""
        chosen = [self.pending.pop(0)]
        others = (i for i, index in enumerate(self.pending) if not self._is_proof(index))
        position = next(others, 0)
        if self.pending:
            chosen.append(self.pending.pop(position))
        self.node2pending[node].extend(chosen)
        node.send_runtest_some(chosen)
        if not self.pending:
            node.shutdown()  # nothing will follow: it runs what it holds
