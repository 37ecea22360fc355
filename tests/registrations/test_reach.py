"""Which systems a row's writes reach, and with which fields: known before the row is
checked, and exactly what planning then sends (pure: no system, no store)."""

from __future__ import annotations

import pytest

from gateway.domain.model import Business, RegistrationRow, System
from gateway.registrations.model import Operation
from gateway.registrations.plan import (
    account_reach,
    payload_fields,
    row_operations,
    row_reach,
    row_steps,
)
from gateway.registry import registry
from tests.domain.test_checks import row

BOUND: dict[System, str | None] = {s: f"{s.value}-id" for s in System}
ROWS = [
    row(Business.HIRE),
    row(Business.RENEW),
    row(Business.END),
    row(Business.END, register_unemployment=True),
]


@pytest.mark.parametrize("r", ROWS, ids=lambda r: f"{r.business}-{r.register_unemployment}")
def test_the_operations_known_up_front_are_the_ones_planned(r: RegistrationRow) -> None:
    planned = [(s.operation, s.system) for s in row_steps(r, dict(BOUND))]
    assert [(op, registry().system_of(op)) for op in row_operations(r)] == planned


def test_each_system_is_reached_with_the_fields_its_writes_carry() -> None:
    hire = row_reach(row(Business.HIRE))
    assert set(hire) == {System.EMPLOYMENT, System.LABOUR}
    assert {"name", "post", "household_address", "mobile"} <= hire[System.LABOUR]
    renew = row_reach(row(Business.RENEW))
    assert set(renew) == {System.LABOUR}
    assert "post" in renew[System.LABOUR]
    assert "name" not in renew[System.LABOUR]
    end = row_reach(row(Business.END))
    assert "name" not in end[System.EMPLOYMENT] | end[System.LABOUR]
    with_unemployment = row_reach(row(Business.END, register_unemployment=True))
    assert {"name", "current_address"} <= with_unemployment[System.UNEMPLOYMENT]


def test_separate_handling_reaches_its_one_system() -> None:
    only = row_reach(row(Business.HIRE), Operation.FILE_CONTRACT)
    assert set(only) == {System.LABOUR}
    assert row_reach(row(Business.HIRE), Operation.DISMISS) == {}


def test_opening_an_account_sends_the_unit_name_contact_and_phone_everywhere() -> None:
    reach = account_reach()
    assert set(reach) == set(System)
    # Every system switched on that opens accounts, social insurance among them.
    assert set(account_reach(registry().systems)) == set(registry().systems)
    assert all({"unit_name", "contact", "phone"} <= fields for fields in reach.values())
    assert "name" in payload_fields(Operation.OPEN_EMPLOYER)  # the profile's own word
