"""The social insurance system's limits (social-insurance.md, "Limits"), in unified names.

Counted in Unicode characters after decryption; any character but a control
character is taken. The stand-in enforces the same table in the system's own
field names (``LEGACY_LIMITS``).
"""

from __future__ import annotations

from gateway.domain.limits import Characters, Limits, Unit

LIMITS = Limits(
    owner_zh="社会保险登记系统",
    owner_en="social insurance system",
    unit=Unit.CHARACTERS,
    characters=Characters.UNICODE,
    fields={
        "unit_name": 100,  # dwmc
        "name": 30,  # aac003
        "id_number": 32,  # aac002
    },
)

#: The same table under the system's field names, as the stand-in checks it.
LEGACY_LIMITS: dict[str, int] = {"dwmc": 100, "aac003": 30, "aac002": 32}
