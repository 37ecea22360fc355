"""What each system writes and how it is undone, looked up in the registry.

Each system's package says it (``SystemSpec.operations``, ``gateway.registry``):
nothing here names a system. The step (``step.py``) sends and undoes through
these; the engine and the decisions ask ``UNDOABLE``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from gateway.registrations.model import Operation, Step
from gateway.registrations.plan import step_request
from gateway.registry import registry
from gateway.systems import SystemAdapter

__all__ = ["UNDOABLE", "revoke", "write"]


class _Undoable(Collection[Operation]):
    """The operations whose write their system can undo, as registered now
    (OPEN_EMPLOYER: an opened unit stays)."""

    def __contains__(self, operation: object) -> bool:
        try:
            return registry().undoable(Operation(str(operation)))
        except (KeyError, ValueError):
            return False

    def __iter__(self) -> Iterator[Operation]:
        return (op for op in registry().operations() if registry().undoable(op))

    def __len__(self) -> int:
        return sum(1 for _ in self)


#: Operations whose write a system can undo.
UNDOABLE: Collection[Operation] = _Undoable()


async def write(adapter: SystemAdapter, step: Step) -> str:
    """Send the step's write; the system's reference of what it holds."""
    try:
        operation = registry().operation(step.operation)
    except KeyError:
        raise ValueError(f"unknown operation {step.operation}") from None
    return await operation.write(adapter, step_request(step))


async def revoke(adapter: SystemAdapter, step: Step, reference: str) -> None:
    """Undo the step's write, known in its system as ``reference``.

    An operation that cannot be undone never gets here (``UNDOABLE``); one whose
    system declares no undo is refused rather than sent to another system's."""
    undo = registry().operation(step.operation).undo
    if undo is None:
        raise ValueError(f"{step.operation} cannot be undone")
    await undo(adapter, reference)
