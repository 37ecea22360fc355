"""The GraphQL fields of the row fields registered systems declare (``RowField``).

A system that asks more of the registration row than the notice's columns
declares each field with its rules (``SystemSpec.row_fields``); the GraphQL
inputs that carry a row gain an optional field for each, by the same unified
name (``monthly_wage`` is ``monthlyWage``), typed by its kind and described as
the system describes it. The schema is built once, from every registered
system: a field of a system switched off is still there, and its system's rule
says what a value given means then (``RowField.check`` with no settings).
"""

from __future__ import annotations

import datetime as dt
import inspect
from decimal import Decimal
from typing import Any, TypeVar

import strawberry

from gateway.domain.model import Business
from gateway.registry import RowField, registry

__all__ = ["declared", "given", "with_row_fields"]

T = TypeVar("T")

_TYPES: dict[str, Any] = {"money": Decimal, "date": dt.date, "text": str}


def declared(business: Business | None = None) -> list[RowField]:
    """The fields registered systems add to the row (of ``business``; None: any)."""
    return [
        f
        for _, f in registry().row_fields()
        if business is None or not f.businesses or business in f.businesses
    ]


def with_row_fields(
    cls: type[T], business: Business | None = None, *, unset: bool = False
) -> type[T]:
    """``cls`` (a class about to become a Strawberry input) with an optional field for
    each declared row field (those of ``business``; None: all); ``unset``: absent
    unless given (a correction), else None."""
    annotations = dict(inspect.get_annotations(cls))
    for f in declared(business):
        annotations[f.name] = _TYPES[f.kind] | None
        default = strawberry.UNSET if unset else None
        setattr(cls, f.name, strawberry.field(default=default, description=f.description))
    cls.__annotations__ = annotations
    return cls


def given(value: object, business: Business | None = None) -> dict[str, Any]:
    """The declared row fields an input carries, by their unified names."""
    found = {f.name: getattr(value, f.name, None) for f in declared(business)}
    return {name: v for name, v in found.items() if v is not strawberry.UNSET}
