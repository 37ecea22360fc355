"""What social insurance asks of the registration row: its fields and their rules.

Declared on its spec (``SystemSpec.row_fields``), so that the checks, the form's
columns, the GraphQL row and a follow-up's corrections take them from the
registry, never from a branch on this system:

- ``monthly_wage`` (社会保险月缴费工资, the contract's ``jfgz``): with a hire,
  required while the system is on, yuan above zero in whole cents, within the
  province's floor and ceiling (``HRSS_SOCIAL_INSURANCE_WAGE_FLOOR`` /
  ``_CEILING``; the older ``HRSS_CONTRIBUTION_WAGE_FLOOR`` / ``_CEILING`` still
  work); the addition (增员) declares it. Off, a wage given is only checked to be
  an amount (nothing is sent with it).
- ``birth_date`` (出生日期, ``csrq``): the addition sends the worker's date of
  birth, which a resident ID and a residence permit carry; for the other
  documents (a passport, a foreigner's permit, a Hong Kong, Macao or Taiwan
  travel permit) a hire gives it while the system is on. Given with a document
  that carries one, it must be that one.
"""

from __future__ import annotations

from collections.abc import Sequence

from adapters.social_insurance.settings import ContributionWage
from gateway.domain import codes
from gateway.domain.checks import EARLIEST_DATE, LATEST_DATE, Problem, is_amount
from gateway.domain.identifiers import birth_date_from_id
from gateway.domain.model import Business, RegistrationRow
from gateway.registry import RowField

__all__ = ["BIRTH_DATE", "MONTHLY_WAGE", "ContributionWage", "check_birth_date", "check_wage"]


WAGE_ZH, WAGE_EN = "社会保险月缴费工资", "monthly contribution wage"
BIRTH_ZH, BIRTH_EN = "出生日期", "date of birth"


def _is_hire(row: RegistrationRow) -> bool | None:
    """Whether the row is a hire; None when its business is not a valid code."""
    if not codes.is_valid("business", row.business):
        return None
    return Business(row.business) is Business.HIRE


def check_wage(row: RegistrationRow, rule: ContributionWage | None) -> list[Problem]:
    """``monthly_wage``: ``rule`` is the province's when the system is on, None off."""
    field, wage, hire = "monthly_wage", row.monthly_wage, _is_hire(row)
    if hire is False:
        if wage is None:
            return []
        return [
            Problem(
                field,
                "WAGE_ONLY_ON_HIRE",
                f"只有招用劳动者的业务填写{WAGE_ZH}（用于社会保险增员）",
                f"The {WAGE_EN} goes only with a hire (it is declared with the worker's "
                "social insurance addition)",
            )
        ]
    if hire is None:
        return []
    if wage is None:
        if rule is None:
            return []
        return [
            Problem(
                field,
                "REQUIRED",
                f"{WAGE_ZH}为必填项（社会保险增员）",
                "Monthly contribution wage is required for the social insurance addition",
            )
        ]
    if not is_amount(wage):
        return [
            Problem(
                field,
                "WAGE_FORMAT",
                f"{WAGE_ZH}应为大于零的金额（元），最多两位小数",
                "Monthly contribution wage must be an amount in yuan above zero, with at "
                "most two decimals",
            )
        ]
    if rule is not None and not rule.floor <= wage <= rule.ceiling:
        floor, ceiling = f"{rule.floor:,.2f}", f"{rule.ceiling:,.2f}"
        return [
            Problem(
                field,
                "WAGE_OUT_OF_RANGE",
                f"{WAGE_ZH}应在本省缴费工资下限{floor}元至上限{ceiling}元之间",
                f"Monthly contribution wage must be between the province's floor of {floor} "
                f"yuan and its ceiling of {ceiling} yuan",
            )
        ]
    return []


def check_birth_date(row: RegistrationRow, on: object | None) -> list[Problem]:
    """``birth_date``: needed with a hire, while the system is on (``on`` not None),
    when the worker's document carries none."""
    field, born = "birth_date", row.birth_date
    if born is None and (on is None or _is_hire(row) is not True):
        return []
    if not codes.is_valid("id_type", row.id_type) or not row.id_number:
        return []  # the ID itself is refused: nothing to compare with
    carried = birth_date_from_id(row.id_type, row.id_number.strip().upper())
    if born is None:
        if carried is not None:
            return []
        return [
            Problem(
                field,
                "REQUIRED",
                f"{BIRTH_ZH}为必填项（该证件不含出生日期，社会保险增员须申报）",
                "Date of birth is required: the worker's document does not carry it and "
                "the social insurance addition declares it",
            )
        ]
    if carried is not None and born != carried:
        return [
            Problem(
                field,
                "BIRTH_DATE_DIFFERS_FROM_ID",
                f"{BIRTH_ZH}与证件号码中的出生日期不一致",
                "Date of birth differs from the one the ID number carries",
            )
        ]
    if not EARLIEST_DATE <= born <= LATEST_DATE:
        earliest, latest = EARLIEST_DATE.isoformat(), LATEST_DATE.isoformat()
        return [
            Problem(
                field,
                "DATE_OUT_OF_RANGE",
                f"{BIRTH_ZH}应在{earliest}至{latest}之间",
                f"Date of birth must be between {earliest} and {latest}",
            )
        ]
    if row.start_date is not None and born >= row.start_date:
        return [
            Problem(
                field,
                "BIRTH_DATE_NOT_BEFORE_START",
                f"{BIRTH_ZH}应早于开始（就业）时间",
                "Date of birth must come before the start date",
            )
        ]
    return []


def _wage_rule(settings: object | None) -> ContributionWage | None:
    return None if settings is None else getattr(settings, "contribution_wage", None)


def _check_wage(row: RegistrationRow, settings: object | None) -> Sequence[Problem]:
    return check_wage(row, _wage_rule(settings))


MONTHLY_WAGE = RowField(
    "monthly_wage",
    WAGE_ZH,
    WAGE_EN,
    _check_wage,
    kind="money",
    # The form's column, as the templates already out there head it.
    header_zh="社会保险缴费工资",
    header_en="Monthly contribution wage",
    businesses=frozenset({Business.HIRE}),
    description='社会保险月缴费工资 (with a hire), in yuan (e.g. "5200.00"): declared with the '
    "worker's social insurance addition (增员). Required when the social insurance system is "
    "on, within the province's floor and ceiling (WAGE_OUT_OF_RANGE); at most two decimals.",
)
BIRTH_DATE = RowField(
    "birth_date",
    BIRTH_ZH,
    BIRTH_EN,
    check_birth_date,
    kind="date",
    businesses=frozenset({Business.HIRE}),
    description="出生日期 (with a hire): the worker's date of birth, declared with the social "
    "insurance addition (增员). Needed only when the social insurance system is on and the "
    "worker's document carries none (a passport, a foreigner's permit, a travel permit); "
    "with a resident ID or residence permit it may be left out, or must match.",
)
