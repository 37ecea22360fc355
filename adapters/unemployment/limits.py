"""The unemployment system's limits (unemployment.md, "Limits"), in unified field names.

Counted in bytes of GBK (a Chinese character is 2 bytes, an ASCII one 1); a
character GBK cannot encode cannot be sent at all.
"""

from __future__ import annotations

from gateway.domain.limits import Characters, Limits, Unit

LIMITS = Limits(
    owner_zh="失业登记系统",
    owner_en="unemployment system",
    unit=Unit.GBK_BYTES,
    characters=Characters.GBK,
    fields={
        "unit_name": 200,  # dwmc
        "name": 40,  # xm
        "household_address": 200,  # hjdz
        "current_address": 200,  # jzdz
        "mobile": 20,  # sjhm
        "id_number": 32,  # zjhm
    },
)
