"""The labour system's limits (labor.md, "Limits"), in unified field names.

The WSDL's ``xs:maxLength``, counted in characters. XML 1.0 carries no control
character but tab, line feed and carriage return, and the service refuses
those three too. The employer's contact and phone have no published length:
they are listed (None) so that their characters are still checked.
"""

from __future__ import annotations

from gateway.domain.limits import Characters, Limits, Unit

LIMITS = Limits(
    owner_zh="劳动关系系统",
    owner_en="labour system",
    unit=Unit.CHARACTERS,
    characters=Characters.XML,
    fields={
        "unit_name": 200,  # RegisterEmployer name
        "contact": None,  # RegisterEmployer contact
        "phone": None,  # RegisterEmployer phone
        "name": 40,  # Worker/name
        "household_address": 200,  # Worker/hukouAddress
        "current_address": 200,  # Worker/address
        "post": 60,  # Contract/post
        "mobile": 20,  # Worker/mobile
        "id_number": 32,  # Worker/idNumber, idNumber
    },
)
