"""Did a write whose answer was lost happen? Ask the system, and check the answer.

None of the systems is idempotent, so a step sent once with its outcome unknown
is never simply sent again: the system is queried for a record that matches
what the step asked for (never an "already exists" taken on trust), and only
when none is found is the write sent again. Each operation has its own match.
Dismissals and contract endings are found without their own reference (the
systems' queries show the record's state, not the serial of the act that
changed it), which is why ``Found.reference`` may be None. Each system's
package declares how each of its writes is found (``OperationSpec.find``).
"""

from __future__ import annotations

from gateway.registrations.model import Step
from gateway.registrations.plan import step_request
from gateway.registry import Found, registry
from gateway.systems import SystemAdapter

__all__ = ["Found", "find_write"]


async def find_write(step: Step, adapter: SystemAdapter) -> Found | None:
    """The record ``step`` would have made, if the system holds it; None if not.

    How it is looked for is the operation's own (``OperationSpec.find``, declared
    by the system's package). Raises the adapter's errors when the system cannot
    be asked: the caller must then neither send nor give up, only ask again later.
    """
    try:
        operation = registry().operation(step.operation)
    except KeyError:
        raise ValueError(f"no reconciliation for {step.operation}") from None
    return await operation.find(adapter, step_request(step))
