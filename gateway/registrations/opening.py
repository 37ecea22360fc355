"""Opening an employer's account: which profile stands, and what a clerk should see.

A caller's word does not rename or move a unit. Once the gateway or any system
knows a unit, its name and division are the ones on record; what the caller
typed is compared with them and, where it differs, becomes a warning for a
clerk, not an overwrite. Where the systems disagree among themselves, that is
a warning too: a clerk settles it with the systems' owners, with papers in hand.

Pure functions: the caller gathers what the store and the systems say.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.domain.model import EmployerProfile, System
from gateway.registrations.model import Warning
from gateway.registry import registry

_FIELDS = {
    # field: (Chinese, English)
    "name": ("单位名称", "unit name"),
    "division": ("属地", "division"),
}


@dataclass(frozen=True, slots=True)
class SettledProfile:
    """The profile the opening goes on with, and the warnings it leaves."""

    profile: EmployerProfile
    warnings: tuple[Warning, ...]
    known: bool  # the gateway or a system knew the unit before


def settle_profile(
    given: EmployerProfile,
    stored: EmployerProfile | None,
    in_systems: Mapping[System, EmployerProfile],
) -> SettledProfile:
    """The profile that stands: the gateway's record, else the employment system's
    (the form's header follows it), else any system's, else what was given.

    Contact and phone are the caller's to give: they name who to call, not who
    the unit is, and no system's record of them is overwritten by opening."""
    record = stored or registry().first_known(in_systems)
    if record is None:
        return SettledProfile(given, (), known=False)
    settled = dataclasses.replace(given, name=record.name, division=record.division)
    warnings: list[Warning] = []
    for field_name in _FIELDS:
        zh, en = _FIELDS[field_name]
        if getattr(given, field_name) != getattr(record, field_name):
            warnings.append(
                Warning(
                    "EMPLOYER_PROFILE_KEPT",
                    field_name,
                    f"所填{zh}与已登记的不一致，未作修改，以登记记录为准。",
                    f"The {en} given differs from the one on record and was not changed: "
                    "the record stands.",
                )
            )
        ours = getattr(record, field_name)
        differing = sorted(
            (s for s, p in in_systems.items() if getattr(p, field_name) != ours),
            key=lambda s: s.value,
        )
        if differing:
            names_zh = "、".join(registry().get(s).name_zh for s in differing)
            warnings.append(
                Warning(
                    "SYSTEMS_DISAGREE",
                    field_name,
                    f"{names_zh}登记的{zh}与其他记录不一致，请窗口核实。",
                    f"The {en} held by the {', '.join(s.value for s in differing)} system(s) "
                    "differs from the other records; a clerk should check it.",
                )
            )
    return SettledProfile(settled, tuple(warnings), known=True)
