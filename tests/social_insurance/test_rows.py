"""What social insurance asks of the registration row, as its spec declares it
(``adapters/social_insurance/rows.py``): the monthly contribution wage and the
date of birth a document lacks, checked by the generic checks through the rules
the configuration binds to the system's settings (``GatewayConfig.row_rules``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest

from adapters.social_insurance.settings import ContributionWage, SocialInsuranceSettings
from gateway.config import GatewayConfig
from gateway.domain.checks import RowRule, check_form, check_row
from gateway.domain.model import Business, IdType, RegistrationForm, RegistrationRow
from tests import factories
from tests.domain.test_checks import TODAY, row

ON_ENV = {"HRSS_SOCIAL_INSURANCE_ENABLED": "true"}


def rules(environ: dict[str, str] | None = None) -> list[RowRule]:
    return GatewayConfig.load(environ=environ if environ is not None else ON_ENV).row_rules()


ON = rules()
OFF = rules({})


def found(r: RegistrationRow, on: list[RowRule] = ON) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in check_row(r, today=TODAY, rules=on).problems]


# ------------------------------------------------ the contribution wage


def test_a_hire_needs_its_wage_only_when_social_insurance_is_on() -> None:
    assert found(row(), OFF) == []
    on = check_row(row(), today=TODAY, rules=ON).problems
    assert [(p.field, p.code) for p in on] == [("monthly_wage", "REQUIRED")]
    assert "社会保险增员" in on[0].message_zh
    assert (
        on[0].message_en
        == "Monthly contribution wage is required for the social insurance addition"
    )
    assert found(row(monthly_wage=Decimal("3800.00"))) == []
    assert found(row(monthly_wage=Decimal("20000"))) == []


@pytest.mark.parametrize(
    ("wage", "code"),
    [
        ("3799.99", "WAGE_OUT_OF_RANGE"),
        ("20000.01", "WAGE_OUT_OF_RANGE"),
        ("5200.001", "WAGE_FORMAT"),
        ("0", "WAGE_FORMAT"),
        ("-5200", "WAGE_FORMAT"),
        ("NaN", "WAGE_FORMAT"),
        ("Infinity", "WAGE_FORMAT"),
        # More digits than cents can be counted in (quantize raised: INTERNAL).
        ("99999999999999999999999999999999", "WAGE_FORMAT"),
        ("1E+999999999", "WAGE_FORMAT"),
    ],
)
def test_the_wage_is_cents_within_the_floor_and_ceiling(wage: str, code: str) -> None:
    (problem,) = check_row(row(monthly_wage=Decimal(wage)), today=TODAY, rules=ON).problems
    assert (problem.field, problem.code) == ("monthly_wage", code)
    assert wage not in problem.message_zh + problem.message_en


def test_the_range_is_the_systems_setting_and_the_older_names_still_work() -> None:
    for environ in (
        {**ON_ENV, "HRSS_SOCIAL_INSURANCE_WAGE_FLOOR": "4000.00"},
        {**ON_ENV, "HRSS_CONTRIBUTION_WAGE_FLOOR": "4000.00"},
    ):
        environ["HRSS_SOCIAL_INSURANCE_WAGE_CEILING"] = "25000.50"
        configured = rules(environ)
        (problem,) = check_row(
            row(monthly_wage=Decimal("3900")), today=TODAY, rules=configured
        ).problems
        assert "4,000.00" in problem.message_zh
        assert "25,000.50" in problem.message_en
        assert check_row(row(monthly_wage=Decimal("25000.50")), today=TODAY, rules=configured).ok
    section = {"wage_floor": "4100.00"}
    assert SocialInsuranceSettings.from_env({}, section).contribution_wage == ContributionWage(
        Decimal("4100.00"), Decimal("20000.00")
    )


def test_off_a_wage_given_is_only_checked_to_be_an_amount() -> None:
    assert found(row(monthly_wage=Decimal("999999.00")), OFF) == []
    assert found(row(monthly_wage=Decimal("1.234")), OFF) == [("monthly_wage", "WAGE_FORMAT")]
    huge = Decimal("9" * 32)
    assert found(row(monthly_wage=huge), OFF) == [("monthly_wage", "WAGE_FORMAT")]


@pytest.mark.parametrize("business", [Business.RENEW, Business.END])
def test_a_wage_goes_only_with_a_hire(business: Business) -> None:
    wage = Decimal("6000.00")
    assert found(row(business, monthly_wage=wage), OFF) == [("monthly_wage", "WAGE_ONLY_ON_HIRE")]
    assert found(row(business)) == []


def test_a_form_checks_its_hires_wages_when_on() -> None:
    form = RegistrationForm("济南示例有限公司", factories.credit_code(), None, [row(), row()])
    checked = check_form(form, today=TODAY, rules=ON)
    assert [(i, p.code) for i, p in checked.problems()] == [(0, "REQUIRED"), (1, "REQUIRED")]
    assert check_form(form, today=TODAY, rules=OFF).ok


@pytest.mark.parametrize("bad", [("3800.001", "20000.00"), ("5000.00", "4000.00")])
def test_a_floor_and_ceiling_must_make_sense(bad: tuple[str, str]) -> None:
    with pytest.raises(ValueError, match="contribution wage"):
        ContributionWage(Decimal(bad[0]), Decimal(bad[1]))
    floor, ceiling = bad
    with pytest.raises(ValueError, match="contribution wage"):
        rules(
            {
                **ON_ENV,
                "HRSS_SOCIAL_INSURANCE_WAGE_FLOOR": floor,
                "HRSS_SOCIAL_INSURANCE_WAGE_CEILING": ceiling,
            }
        )


# ------------------------------------------------ the date of birth

WAGE = Decimal("6000.00")


def passport_hire(**changes: object) -> RegistrationRow:
    return dataclasses.replace(
        row(),
        id_type=IdType.FOREIGN_PASSPORT,
        id_number="E12345678",
        monthly_wage=WAGE,
        **changes,  # type: ignore[arg-type]
    )


def test_a_document_without_a_birth_date_needs_one_when_insurance_is_on() -> None:
    problems = check_row(passport_hire(), today=TODAY, rules=ON).problems
    assert [(p.field, p.code) for p in problems] == [("birth_date", "REQUIRED")]
    (problem,) = problems
    assert "出生日期" in problem.message_zh
    assert "Date of birth is required" in problem.message_en
    assert "E12345678" not in problem.message_zh + problem.message_en
    assert found(passport_hire(birth_date=dt.date(1990, 6, 15))) == []
    # Off, nothing is declared: nothing is asked.
    assert found(passport_hire(), OFF) == []
    # Only a hire declares the addition.
    ending = dataclasses.replace(row(Business.END), id_type=IdType.FOREIGN_PASSPORT)
    assert found(dataclasses.replace(ending, id_number="E12345678")) == []


def test_a_resident_id_carries_its_own_and_one_given_must_match() -> None:
    resident = row(monthly_wage=WAGE)
    assert found(resident) == []  # born 1990-03-15, in the ID number
    assert found(dataclasses.replace(resident, birth_date=dt.date(1990, 3, 15))) == []
    assert found(dataclasses.replace(resident, birth_date=dt.date(1991, 3, 15))) == [
        ("birth_date", "BIRTH_DATE_DIFFERS_FROM_ID")
    ]


def test_a_birth_date_comes_before_the_start() -> None:
    assert found(passport_hire(birth_date=row().start_date)) == [
        ("birth_date", "BIRTH_DATE_NOT_BEFORE_START")
    ]


def test_the_floor_in_the_gateway_table_is_refused_naming_where_it_went(tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\ncontribution_wage_floor = "4000.00"\n')
    with pytest.raises(ValueError, match=r"wage_floor in \[systems.social_insurance\]"):
        GatewayConfig.load(path, environ={})
    path.write_text('[systems.social_insurance]\nenabled = true\nwage_floor = "4000.00"\n')
    settings = GatewayConfig.load(path, environ={}).systems
    assert any(getattr(s, "wage_floor", None) == Decimal("4000.00") for s in settings.values())


def test_the_graphql_rows_carry_the_fields_it_declares_by_the_same_names() -> None:
    from gateway.schema import build_schema

    sdl = build_schema().as_str()

    def fields(type_name: str) -> str:
        start = sdl.index(f"input {type_name} ")
        return sdl[start : sdl.index("\n}", start)]

    for name in ("HireInput", "FormRowInput", "FollowUpCorrectionsInput"):
        assert "monthlyWage: Decimal" in fields(name)
        assert "birthDate: Date" in fields(name)
    assert "monthlyWage" not in fields("EndInput")  # declared for a hire only
