"""Steps' payloads as stored: JSON built and read back with cattrs, so that what
the engine sends is exactly what was stored; and the ids a plan gives."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, TypeVar

from cattrs.preconf.json import make_converter

from gateway.registrations.model import Step
from gateway.registry import registry

__all__ = ["from_payload", "new_id", "person_key", "step_request", "to_payload"]

T = TypeVar("T")

_converter = make_converter()
# Amounts (the contribution wage) travel as their exact decimal text, never a float.
_converter.register_unstructure_hook(Decimal, str)
_converter.register_structure_hook(Decimal, lambda value, _: Decimal(str(value)))


def to_payload(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = _converter.unstructure(value)
    return data


def from_payload(data: dict[str, Any], kind: type[T]) -> T:
    return _converter.structure(data, kind)


def new_id() -> str:
    return uuid.uuid4().hex


def person_key(id_type: str, id_number: str) -> str:
    return f"{id_type}:{id_number}"


def step_request(step: Step) -> Any:
    """What a step sends, as the adapter's request type."""
    return from_payload(step.payload, registry().operation(step.operation).payload)
