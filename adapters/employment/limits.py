"""The employment system's limits (employment.md, "Limits"), in unified field names.

Counted in Unicode characters; any character but a control character is taken.
The gateway checks every value it will send here against these before it
stores or sends anything (``gateway/domain/limits.py``); the stand-in enforces
the same table in the system's own field names.
"""

from __future__ import annotations

from gateway.domain.limits import Characters, Limits, Unit

LIMITS = Limits(
    owner_zh="就业系统",
    owner_en="employment system",
    unit=Unit.CHARACTERS,
    characters=Characters.UNICODE,
    fields={
        "unit_name": 100,  # aab004
        "contact": 30,  # aae004
        "phone": 20,  # aae005
        "mobile": 20,  # aac067
        "name": 50,  # aac003
        "household_address": 100,  # aac010
        "current_address": 100,  # aae006
        "post": 50,  # aca111
        "id_number": 32,  # aac147
    },
)
