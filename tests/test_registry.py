"""The registry of systems: names, operations and entry points (pure: no system called)."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import pytest

from adapters.employment.system import SPEC as EMPLOYMENT
from adapters.labor.system import SPEC as LABOUR
from gateway.domain.model import System
from gateway.registrations.model import Operation
from gateway.registry import (
    BUILTIN,
    ENTRY_POINT_GROUP,
    Registry,
    RegistryError,
    registry,
    reload,
)


def test_the_built_in_systems_in_their_order() -> None:
    assert [s.key for s in registry()][: len(BUILTIN)] == [
        "employment",
        "labour",
        "unemployment",
        "social_insurance",
    ]
    assert registry().named("social-insurance").system == System("social_insurance")
    assert registry().system_of(Operation.FILE_CONTRACT) is System.LABOUR
    assert registry().system_of(Operation.OPEN_EMPLOYER) is None
    assert not registry().undoable(Operation.OPEN_EMPLOYER)
    assert registry().already_undone(System.UNEMPLOYMENT, "40903")
    assert not registry().already_undone(System.EMPLOYMENT, "40903")


def test_an_older_spelling_is_taken_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert registry().named("labor") is LABOUR
    assert "'labor' is an older name of the labour system: use 'labour'" in caplog.text
    with pytest.raises(KeyError):
        registry().named("labours")


def test_names_and_operations_are_each_one_system_s() -> None:
    with pytest.raises(RegistryError, match="registered twice"):
        Registry([EMPLOYMENT, EMPLOYMENT])
    taken = dataclasses.replace(EMPLOYMENT, system=System("employment_two"), aliases=("labor",))
    with pytest.raises(RegistryError, match="'labor'"):
        Registry([LABOUR, taken])
    copied = dataclasses.replace(EMPLOYMENT, system=System("employment_two"))
    with pytest.raises(RegistryError, match="REGISTER_EMPLOYMENT is declared twice"):
        Registry([EMPLOYMENT, copied])


@pytest.mark.parametrize("name", ["", "Employment", "with space", "x" * 33, "9lives"])
def test_a_system_name_is_lower_case_and_short(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid System name"):
        System(name)


def test_a_system_is_one_object_per_name_and_stored_as_its_text() -> None:
    assert System("labour") is System.LABOUR
    assert System("labour") == "labour"
    assert f"{System.LABOUR}" == "labour"
    assert System.LABOUR.value == "labour"
    assert System.LABOUR.name == "LABOUR"


def test_an_entry_point_that_cannot_be_loaded_stops_the_start(tmp_path: Path) -> None:
    dist = tmp_path / "broken_system-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-system\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nbroken = no_such_module.system:SPEC\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    try:
        with pytest.raises(RegistryError, match=r"'broken'.*ModuleNotFoundError"):
            reload()
    finally:
        sys.path.remove(str(tmp_path))
        importlib.invalidate_caches()
        reload()
    assert "broken" not in registry().names()


def test_an_adapter_is_checked_against_its_protocol_once_and_refused_when_it_falls_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway import registry as module
    from gateway.systems import EmploymentSystem, LabourSystem
    from tests.fakes import FakeEmployment

    adapter = FakeEmployment()
    checks: list[type] = []
    real = isinstance

    def counting(obj: object, kind: type) -> bool:
        if kind in (EmploymentSystem, LabourSystem):
            checks.append(kind)
        return real(obj, kind)

    monkeypatch.setattr(module, "isinstance", counting, raising=False)
    assert module.adapter_as(adapter, EmploymentSystem) is adapter
    assert module.adapter_as(adapter, EmploymentSystem) is adapter
    assert checks == [EmploymentSystem]  # the second call is answered from what the first found
    # Falling short is never remembered: refused at every call.
    for _ in range(2):
        with pytest.raises(TypeError, match="FakeEmployment is not a LabourSystem"):
            module.adapter_as(adapter, LabourSystem)
    assert checks == [EmploymentSystem, LabourSystem, LabourSystem]
    # An object without weak references (or a hash) is checked at each call instead.
    slotted = type("Slotted", (), {"__slots__": ()})()
    for _ in range(2):
        with pytest.raises(TypeError, match="Slotted is not a LabourSystem"):
            module.adapter_as(slotted, LabourSystem)
