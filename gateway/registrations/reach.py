"""Where a row or an account opening will write, and which unified fields each
system is sent: known before the row is checked, so that every text is held to
the strictest limit of wherever it goes (``service.check_row_limits``)."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Collection, Iterable
from typing import Any

from gateway.domain.model import Business as RowBusiness
from gateway.domain.model import RegistrationRow, System
from gateway.registrations.model import Operation
from gateway.registry import registry

__all__ = [
    "PROFILE_FIELDS",
    "ROW_OPERATIONS",
    "account_reach",
    "account_systems",
    "payload_fields",
    "row_operations",
    "row_reach",
]

#: The writes of each business; an end adds the unemployment registration when asked.
ROW_OPERATIONS: dict[RowBusiness, tuple[Operation, ...]] = {
    RowBusiness.HIRE: (Operation.REGISTER_EMPLOYMENT, Operation.FILE_CONTRACT),
    RowBusiness.RENEW: (Operation.RENEW_CONTRACT,),
    RowBusiness.END: (Operation.DISMISS, Operation.END_CONTRACT),
}


def row_operations(
    row: RegistrationRow,
    only: Operation | None = None,
    systems: Collection[System] = (),
) -> tuple[Operation, ...]:
    """The writes a row will make (``row_steps`` makes exactly these, given the
    ``systems`` switched on beyond the core), known before the row is checked:
    nothing but its business and its flags counts."""
    operations = ROW_OPERATIONS.get(row.business, ())
    if row.business is RowBusiness.END and row.register_unemployment:
        operations += (Operation.REGISTER_UNEMPLOYMENT,)
    on = dict.fromkeys(systems)
    operations += tuple(
        step.operation for step in registry().plan_steps(row.business, on) if step.when(row)
    )
    return tuple(op for op in operations if only is None or op is only)


@functools.cache
def payload_fields(operation: Operation) -> frozenset[str]:
    """The unified fields an operation sends: the leaves of its payload type."""

    def leaves(kind: type[Any]) -> set[str]:
        hints = typing.get_type_hints(kind)
        found: set[str] = set()
        for f in dataclasses.fields(kind):
            hint = hints[f.name]
            nested = isinstance(hint, type) and dataclasses.is_dataclass(hint)
            found |= leaves(hint) if nested else {f.name}
        return found

    return frozenset(leaves(registry().operation(operation).payload))


def row_reach(
    row: RegistrationRow, only: Operation | None = None, systems: Collection[System] = ()
) -> dict[System, frozenset[str]]:
    """Each system a row will write to, with the unified fields it will send there."""
    reach: dict[System, frozenset[str]] = {}
    for operation in row_operations(row, only, systems):
        system = registry().system_of(operation)
        assert system is not None  # only opening an employer leaves its system to the step
        reach[system] = reach.get(system, frozenset()) | payload_fields(operation)
    return reach


#: An employer's profile calls the unit's name ``name``; its unified name is ``unit_name``.
PROFILE_FIELDS = {"name": "unit_name"}


def account_systems(systems: Iterable[System] | None = None) -> tuple[System, ...]:
    """The systems opening an account opens the unit in: of ``systems`` (those
    switched on; None: the core systems), each whose spec says it opens accounts."""
    chosen = tuple(System) if systems is None else tuple(systems)
    return tuple(s for s in chosen if s in registry() and registry().get(s).opens_accounts)


def account_reach(systems: Iterable[System] | None = None) -> dict[System, frozenset[str]]:
    """Each system opening an account writes to, with the unified fields it sends there."""
    sent = frozenset(PROFILE_FIELDS.get(f, f) for f in payload_fields(Operation.OPEN_EMPLOYER))
    return dict.fromkeys(account_systems(systems), sent)
