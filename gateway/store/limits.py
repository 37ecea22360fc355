"""The gateway's own columns, as limits on the unified fields stored in them.

Read from the table definitions, so that a column made narrower or wider moves
the check with it. PostgreSQL refuses a value longer than its ``varchar`` (in
characters) and cannot hold U+0000 at all; a value that passes the checks
must never reach it only to fail there. Most personal fields are kept inside
the JSON ``payload`` (``text``, no width): they have no length here, but the
gateway keeps them and shows them back, so their characters are held to the
same rule as everywhere (no control character, nothing that is not one).
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.domain.limits import Characters, Limits, Unit
from gateway.domain.model import IdType
from gateway.store import tables


def _width(*columns: sa.Column[str]) -> int:
    widths = [c.type.length for c in columns if isinstance(c.type, sa.String)]
    assert widths and all(w is not None for w in widths), "every column here has a width"
    return min(w for w in widths if w is not None)


LIMITS = Limits(
    owner_zh="网关数据库",
    owner_en="gateway's database",
    unit=Unit.CHARACTERS,
    characters=Characters.UNICODE,
    fields={
        # The employer's name is kept, and is the employer account's display name.
        "unit_name": _width(tables.employers.c.name, tables.accounts.c.display_name),
        # The audit log keeps the masked number, as long as the number itself;
        # a registration's person key is the ID type, a colon and the number.
        "id_number": min(
            _width(tables.audit_records.c.worker_masked),
            _width(tables.registrations.c.person_key) - max(len(t.value) for t in IdType) - 1,
        ),
        # Kept in the registration's JSON payload only.
        "name": None,
        "household_address": None,
        "current_address": None,
        "mobile": None,
        "post": None,
        "contact": None,
        "phone": None,
    },
)
