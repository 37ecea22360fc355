"""The province's policy as this deployment applies it, for front ends: whether
separate (per-system) handling is still accepted, which systems are switched on
(and so which extra columns the form has), how long keys and sessions last.

Readable without signing in, as the code tables are: a portal shows it before
anyone signs in, and none of it is about a person or an employer.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.utils.str_converters import to_camel_case

from gateway.registry import registry
from gateway.schema.context import Info
from gateway.schema.enums import System


@strawberry.type(description="接入系统: a system switched on in this deployment.")
class SystemOn:
    system: System = strawberry.field(description="The system.")
    name_zh: str = strawberry.field(description="Its name in Chinese.")
    name_en: str = strawberry.field(description="Its name in English.")
    form_fields: list[str] = strawberry.field(
        description="The fields it adds to a registration row (a column of the form, a "
        "field of the graph's row: `contributionWage`), beyond the notice's own."
    )


@strawberry.type(description="办理政策: the province's policy as this deployment applies it.")
class Policy:
    today: dt.date = strawberry.field(
        description="The province's date (UTC+8) now: what the policy's dates and the "
        "registrations' deadlines are read against."
    )
    transition_start: dt.date = strawberry.field(
        description="过渡期开始: from this date integrated registration is offered."
    )
    mandatory_from: dt.date = strawberry.field(
        description="全面实行一体化办理: from this date separate (per-system) handling is "
        "refused (SEPARATE_HANDLING_CLOSED)."
    )
    separate_handling_open: bool = strawberry.field(
        description="分口办理: whether the per-system mutations (`fileEmploymentRegistration` "
        "...) are accepted today."
    )
    systems: list[SystemOn] = strawberry.field(
        description="The systems switched on, in the order registrations list them."
    )
    idempotency_key_hours: float = strawberry.field(
        description="How long an idempotency key is kept: a retry within it returns the "
        "same registrations."
    )
    session_hours: float = strawberry.field(
        description="How long a token from `login` or `changePassword` is good for."
    )
    personal_data_kept_days: int | None = strawberry.field(
        description="个人信息保存期限: days after a registration ends before the worker's "
        "personal data are erased from it (`personalDataErasedAt`); null: kept."
    )


def policy(info: Info) -> Policy:
    gateway = info.context.gateway
    config = gateway.config
    registrar = gateway.registrar
    today = registrar.today()
    specs = [registry().get(system) for system in config.systems]  # in the registry's order
    systems = [
        SystemOn(
            system=spec.system,
            name_zh=spec.name_zh,
            name_en=spec.name_en,
            # The graph's own name of each (``monthly_wage`` is ``monthlyWage``).
            form_fields=[to_camel_case(f.name) for f in spec.row_fields],
        )
        for spec in specs
    ]
    return Policy(
        today=today,
        transition_start=registrar.policy.transition_start,
        mandatory_from=registrar.policy.mandatory_from,
        separate_handling_open=registrar.policy.allowed(today),
        systems=systems,
        idempotency_key_hours=config.idempotency_ttl_s / 3600,
        session_hours=config.token_ttl_s / 3600,
        personal_data_kept_days=config.registration_retention_days or None,
    )
