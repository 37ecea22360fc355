"""Checks on everything a person types, before any system is called.

Each check returns every problem it finds, never only the first, as
``Problem`` values: the unified field name, a stable UPPER_SNAKE code and a
message in Chinese and English. Messages never repeat what was typed, so ID
and mobile numbers (and addresses) cannot leak through them. ``check_row``
and ``check_form`` separate refusals (``problems``) from warnings.

Nothing here reads the clock: every check that depends on the date takes
``today``. Values are judged as given; ``identifiers.normalize_*`` gives the
form to store and send, and callers normalise before checking.

python-stdnum is used where it is right (check characters, birth dates, the
division data) and not for its validators, which refuse valid numbers:
``cn.ric`` refuses HK/Macao/Taiwan residence permits and new foreign permanent
resident IDs, raises KeyError on some unknown divisions, and refuses IDs whose
birth year precedes the creation of their division code (people born earlier
were issued IDs later, under the code then current); ``cn.uscc`` refuses
credit codes that begin with a letter.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from gateway.domain import codes
from gateway.domain.identifiers import (
    ELEVEN_TWO,
    FOREIGN_PR_MARK,
    HMT_PREFIXES,
    USCC_ALPHABET,
    birth_date_from_id,
    carries_birth_date,
    eleven_two_check,
    gender_from_id,
    uscc_check,
)
from gateway.domain.model import (
    Business,
    ContractType,
    EmployerProfile,
    EmploymentForm,
    EndReason,
    Gender,
    IdType,
    RegistrationForm,
    RegistrationRow,
)

__all__ = [
    "MESSAGES",
    "WARNING_CODES",
    "FormCheck",
    "Problem",
    "RowCheck",
    "RowResult",
    "RowRule",
    "birth_date_from_id",
    "check_credit_code",
    "check_division",
    "check_employer",
    "check_form",
    "check_id_number",
    "check_mobile",
    "check_phone",
    "check_row",
    "is_amount",
    "required_fields",
]

MINIMUM_AGE = 16  # Labour Law art. 15
DISPATCHED_MINIMUM_YEARS = 2  # Labour Contract Law art. 58
EMPLOYMENT_REGISTRATION_DAYS = 30  # 就业服务与就业管理规定 art. 62
CONTRACT_WRITING_MONTHS = 1  # Labour Contract Law art. 10


#: One more check of a row: a field a system adds, with its rules
#: (``gateway.registry.RowField``, bound to the system's settings).
RowRule = Callable[["RegistrationRow"], "Sequence[Problem]"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one field (or, as a warning, worth a second look)."""

    field: str
    code: str
    message_zh: str
    message_en: str


@dataclass(frozen=True, slots=True)
class RowCheck:
    """What the checks found in one row: refusals and warnings apart."""

    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class RowResult:
    """A row's check within a form; ``index`` is its 0-based place in ``form.rows``."""

    index: int
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class FormCheck:
    """Problems of the form's header and the result of every row, in order."""

    header: tuple[Problem, ...]
    rows: tuple[RowResult, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is refused (warnings do not count)."""
        return not self.header and all(r.ok for r in self.rows)

    def problems(self) -> Iterator[tuple[int | None, Problem]]:
        """Every refusal, with its row index (None for the header)."""
        yield from ((None, p) for p in self.header)
        for r in self.rows:
            yield from ((r.index, p) for p in r.problems)

    def warnings(self) -> Iterator[tuple[int, Problem]]:
        for r in self.rows:
            yield from ((r.index, w) for w in r.warnings)


# ------------------------------------------------------------- messages

# Templates by code. ``f_zh`` / ``f_en`` are the field's label; nothing that a
# person typed is ever put into a message.
MESSAGES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "REQUIRED": ("{f_zh}为必填项{note_zh}", "{f_en} is required{note_en}"),
        "CODE_UNKNOWN": (
            "{f_zh}不是《{table_zh}》中的代码",
            "{f_en} is not a code of the table {table_en}",
        ),
        "ID_NUMBER_FORMAT": (
            "{f_zh}格式不正确：{doc_zh}号码应为{rule_zh}",
            "{f_en} is not well formed: a {doc_en} number is {rule_en}",
        ),
        "ID_NUMBER_PREFIX": (
            "{f_zh}开头不正确：{doc_zh}号码应以{rule_zh}开头",
            "{f_en} begins wrongly: a {doc_en} number begins with {rule_en}",
        ),
        "ID_NUMBER_TYPE_MISMATCH": (
            "{f_zh}是{other_zh}的号码，与所选证件类型不符",
            "{f_en} is the number of a {other_en}, not of the ID type chosen",
        ),
        "ID_NUMBER_CHECKSUM": (
            "{f_zh}末位校验码不正确，请核对号码",
            "the check character of {f_en} does not match: please check the number",
        ),
        "ID_NUMBER_BIRTH_DATE_INVALID": (
            "{f_zh}中的出生日期不是有效日期",
            "{f_en} does not carry a real birth date",
        ),
        "ID_NUMBER_BIRTH_DATE_IN_FUTURE": (
            "{f_zh}中的出生日期晚于今天",
            "the birth date in {f_en} is in the future",
        ),
        "ID_NUMBER_DIVISION_UNKNOWN": (
            "{f_zh}前6位不是行政区划代码",
            "the first six digits of {f_en} are not an administrative division code",
        ),
        "ID_NUMBER_GENDER_MISMATCH": (
            "{f_zh}第17位表示的性别与所填性别不符",
            "the 17th digit of {f_en} gives another gender than the one entered",
        ),
        "CREDIT_CODE_FORMAT": (
            "{f_zh}应为18位，由数字和除I、O、S、V、Z以外的大写字母组成，第3至8位为数字",
            "{f_en} must be 18 characters, digits and capital letters other than "
            "I, O, S, V and Z, with digits in places 3 to 8",
        ),
        "CREDIT_CODE_CHECKSUM": (
            "{f_zh}末位校验码不正确，请核对代码",
            "the check character of {f_en} does not match: please check the code",
        ),
        "MOBILE_FORMAT": (
            "{f_zh}应为以13至19开头的11位数字",
            "{f_en} must be 11 digits beginning with 13 to 19",
        ),
        "PHONE_FORMAT": (
            "{f_zh}应为手机号码或带区号的固定电话号码",
            "{f_en} must be a mobile number or a landline number with its area code",
        ),
        "DIVISION_FORMAT": (
            "{f_zh}应为6位数字的行政区划代码",
            "{f_en} must be a 6-digit administrative division code",
        ),
        "DIVISION_UNKNOWN": (
            "{f_zh}不是已知的行政区划代码",
            "{f_en} is not a known administrative division code",
        ),
        "DIVISION_ABOLISHED": (
            "{f_zh}是已撤销的行政区划代码，请填写现行代码",
            "{f_en} is a division code no longer in use: give the current one",
        ),
        "UNDER_MINIMUM_AGE": (
            "劳动者在{f_zh}未满16周岁，不得招用（劳动法第十五条）",
            "the worker is under 16 on the {f_en} and may not be employed (Labour Law art. 15)",
        ),
        "CONTRACT_END_NOT_AFTER_START": (
            "{f_zh}应晚于开始时间",
            "the {f_en} must be after the start date",
        ),
        "OPEN_ENDED_WITH_END_DATE": (
            "无固定期限劳动合同没有{f_zh}",
            "an open-ended contract has no {f_en}",
        ),
        "DISPATCHED_TERM_TOO_SHORT": (
            "劳务派遣劳动者的固定期限劳动合同应为二年以上（劳动合同法第五十八条），"
            "{f_zh}不得早于{min_date}",
            "a dispatched worker's fixed-term contract runs at least two years "
            "(Labour Contract Law art. 58): the {f_en} cannot be before {min_date}",
        ),
        "DATE_OUT_OF_RANGE": (
            "{f_zh}应在{earliest}至{latest}之间",
            "the {f_en} must be between {earliest} and {latest}",
        ),
        "END_BEFORE_START": (
            "{f_zh}早于开始时间",
            "the {f_en} is before the start date",
        ),
        "UNEMPLOYMENT_ONLY_ON_END": (
            "只有终止或解除劳动合同的业务可以同时办理失业登记",
            "unemployment registration goes only with the end of a contract",
        ),
        "UNEMPLOYMENT_NOT_POSSIBLE": (
            "因{reason_zh}终止劳动合同的，不能办理失业登记",
            "there is no unemployment registration after a contract ended by: {reason_en}",
        ),
        "UNEMPLOYMENT_BEFORE_END": (
            "劳动关系尚未解除或终止（{end_zh}晚于今天），还不能办理失业登记："
            "请在该日期当天或之后一并提交解除（终止）和失业登记，或现在只提交解除（终止）",
            "the relation has not ended yet (the {end_en} is after today), so there can be no "
            "unemployment registration yet: submit the ending with it on or after that date, "
            "or the ending alone now",
        ),
        "DUPLICATE_IN_FORM": (
            "本表第{other_row}行已有同一证件号码的同一业务",
            "row {other_row} of this form already has the same business for this ID number",
        ),
        "NO_ROWS": ("登记表没有填写任何登记行", "the form has no rows"),
        "LATE_EMPLOYMENT_REGISTRATION": (
            "开始就业已超过30日，就业登记应在用工之日起30日内办理"
            "（就业服务与就业管理规定第六十二条）",
            "more than 30 days since the start of employment: employment registration "
            "is due within 30 days (Employment Services and Management Provisions art. 62)",
        ),
        "LATE_CONTRACT_FILING": (
            "用工已超过一个月，书面劳动合同应自用工之日起一个月内订立（劳动合同法第十条）",
            "more than a month since the start of employment: the written contract is "
            "due within one month (Labour Contract Law art. 10)",
        ),
    }
)

WARNING_CODES = frozenset({"LATE_EMPLOYMENT_REGISTRATION", "LATE_CONTRACT_FILING"})

FIELD_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "business": ("业务类别", "business"),
        "name": ("姓名", "name"),
        "gender": ("性别", "gender"),
        "ethnicity": ("民族", "ethnicity"),
        "id_type": ("证件类型", "ID type"),
        "id_number": ("证件号码", "ID number"),
        "mobile": ("移动电话号码", "mobile number"),
        "household_address": ("户籍地址", "household registration address"),
        "current_address": ("现居住址", "current address"),
        "education": ("文化程度", "education"),
        "contract_type": ("合同类型", "contract type"),
        "start_date": ("开始（就业）时间", "start date"),
        "contract_end_date": ("合同终止时间", "contract end date"),
        "employment_person_category": ("就业人员类别", "employment person category"),
        "filing_person_category": ("备案人员类别", "filing person category"),
        "employment_form": ("用工形式", "form of employment"),
        "post": ("岗位（工种）", "post"),
        "end_reason": ("合同解除（终止）原因", "reason the contract ended"),
        "end_date": ("合同解除（终止）日期", "date the contract ended"),
        "employment_locality": ("就业属地", "employment registration locality"),
        "labour_filing_locality": ("劳动备案属地", "labour filing locality"),
        "register_unemployment": ("失业登记", "unemployment registration"),
        "unit_name": ("单位名称", "unit name"),
        "credit_code": ("统一社会信用代码", "unified social credit code"),
        "contact": ("单位联系人", "contact person"),
        "rows": ("登记行", "rows"),
        "division": ("属地", "administrative division"),
        "phone": ("联系电话", "contact phone"),
    }
)

# EmployerProfile.name is the unit's name, not a person's.
_EMPLOYER_LABELS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {"name": FIELD_LABELS["unit_name"]}
)


def _problem(
    field: str,
    code: str,
    *,
    labels: Mapping[str, tuple[str, str]] = FIELD_LABELS,
    like: str | None = None,
    **params: object,
) -> Problem:
    """A problem of ``field``; a field without a label of its own is labelled ``like`` one."""
    zh, en = MESSAGES[code]
    f_zh, f_en = (
        labels.get(field)
        or FIELD_LABELS.get(field)
        or FIELD_LABELS.get(like or field)
        or (field, field)
    )
    values: dict[str, object] = {"note_zh": "", "note_en": "", **params}
    message_en = en.format(f_en=f_en, **values)
    return Problem(field, code, zh.format(f_zh=f_zh, **values), _sentence(message_en))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _in_sentence(label_en: str) -> str:
    # Table labels are capitalised for lists; inside a sentence they are not.
    return label_en[:1].lower() + label_en[1:]


def _blank(value: object) -> bool:
    """Nothing, or nothing to see: spaces, and the invisible format characters (a zero
    width space, a joiner, a direction mark) that a name of them alone would be."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in value)


# ------------------------------------------------------------ ID numbers

_ID_RULES: Mapping[IdType, tuple[str, str]] = MappingProxyType(
    {
        IdType.RESIDENT_ID: (
            "18位，前17位为数字，末位为数字或大写字母X",
            "18 characters: 17 digits, then a digit or a capital X",
        ),
        IdType.HMT_RESIDENCE_PERMIT: (
            "18位，前17位为数字，末位为数字或大写字母X",
            "18 characters: 17 digits, then a digit or a capital X",
        ),
        IdType.FOREIGN_PERMANENT_RESIDENT_ID: (
            "18位（以9开头，末位为数字或大写字母X），或旧版15位（3个大写字母加12位数字）",
            "18 characters beginning with 9 (the last a digit or a capital X), "
            "or the old 15-character form: 3 capital letters and 12 digits",
        ),
        IdType.HK_MACAO_PERMIT: (
            "大写字母H或M加8位数字（新版证件为10位数字）",
            "a capital H or M and 8 digits (10 digits on newer cards)",
        ),
        # Cards issued before 2015 carry 10 digits (8 and a 2-digit issue count);
        # they are still in circulation, so both lengths are accepted.
        IdType.TAIWAN_PERMIT: (
            "8位数字（旧版证件为10位数字）",
            "8 digits (10 digits on older cards)",
        ),
        IdType.FOREIGN_PASSPORT: (
            "5至20位大写字母或数字",
            "5 to 20 capital letters or digits",
        ),
    }
)

_PREFIX_RULES: Mapping[IdType, tuple[str, str]] = MappingProxyType(
    {
        IdType.HMT_RESIDENCE_PERMIT: (
            "810000（香港）、820000（澳门）或830000（台湾）",
            "810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan)",
        ),
        IdType.FOREIGN_PERMANENT_RESIDENT_ID: ("9", "9"),
    }
)

_HK_MACAO_PERMIT = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
_TAIWAN_PERMIT = re.compile(r"[0-9]{8}|[0-9]{10}")
_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_OLD_FOREIGN_PR = re.compile(r"[A-Z]{3}[0-9]{12}")


def _doc(id_type: IdType) -> tuple[str, str]:
    doc = codes.ID_TYPE.get(id_type)
    assert doc is not None  # every IdType is labelled, enforced when codes is imported
    return doc.label_zh, _in_sentence(doc.label_en)


def _format_problem(id_type: IdType, field: str) -> Problem:
    (rule_zh, rule_en), (doc_zh, doc_en) = _ID_RULES[id_type], _doc(id_type)
    return _problem(
        field,
        "ID_NUMBER_FORMAT",
        like="id_number",
        rule_zh=rule_zh,
        rule_en=rule_en,
        doc_zh=doc_zh,
        doc_en=doc_en,
    )


def _prefix_problem(id_type: IdType, field: str) -> Problem:
    (rule_zh, rule_en), (doc_zh, doc_en) = _PREFIX_RULES[id_type], _doc(id_type)
    return _problem(
        field,
        "ID_NUMBER_PREFIX",
        like="id_number",
        rule_zh=rule_zh,
        rule_en=rule_en,
        doc_zh=doc_zh,
        doc_en=doc_en,
    )


def _resident_id_prefix(number: str, field: str) -> list[Problem]:
    other = None
    if number[:6] in HMT_PREFIXES:
        other = codes.ID_TYPE.get(IdType.HMT_RESIDENCE_PERMIT)
    elif number.startswith(FOREIGN_PR_MARK):
        other = codes.ID_TYPE.get(IdType.FOREIGN_PERMANENT_RESIDENT_ID)
    if other is not None:
        return [
            _problem(
                field,
                "ID_NUMBER_TYPE_MISMATCH",
                like="id_number",
                other_zh=other.label_zh,
                other_en=_in_sentence(other.label_en),
            )
        ]
    # Any code that ever existed: an ID keeps the code it was issued under, and
    # it may have been issued before or after the code's dates in the data.
    if not codes.is_known_division(number[:6]):
        return [_problem(field, "ID_NUMBER_DIVISION_UNKNOWN", like="id_number")]
    return []


def _has_prefix(id_type: IdType, number: str) -> bool:
    if id_type == IdType.HMT_RESIDENCE_PERMIT:
        return number[:6] in HMT_PREFIXES
    return number.startswith(FOREIGN_PR_MARK)


def _check_eleven_two(
    id_type: IdType, number: str, *, today: dt.date, gender: Gender | None, field: str
) -> list[Problem]:
    """Numbers built on GB 11643: resident IDs, residence permits, new permanent resident IDs."""
    if not ELEVEN_TWO.fullmatch(number):
        return [_format_problem(id_type, field)]
    found: list[Problem] = []
    if id_type == IdType.RESIDENT_ID:
        found += _resident_id_prefix(number, field)
    elif not _has_prefix(id_type, number):
        found.append(_prefix_problem(id_type, field))
    if number[17] != eleven_two_check(number[:17]):
        found.append(_problem(field, "ID_NUMBER_CHECKSUM", like="id_number"))
    born = birth_date_from_id(id_type, number)
    if born is None:
        found.append(_problem(field, "ID_NUMBER_BIRTH_DATE_INVALID", like="id_number"))
    elif born > today:
        found.append(_problem(field, "ID_NUMBER_BIRTH_DATE_IN_FUTURE", like="id_number"))
    carried = gender_from_id(id_type, number)
    if gender is not None and carried is not None and carried != gender:
        found.append(_problem(field, "ID_NUMBER_GENDER_MISMATCH", like="id_number"))
    return found


def check_id_number(
    id_type: IdType,
    number: str | None,
    *,
    today: dt.date,
    gender: Gender | None = None,
    field: str = "id_number",
) -> list[Problem]:
    """Every problem of an ID number of the given type.

    ``gender``, when given, must agree with the number where the number carries
    one (the 17th digit of a resident ID or residence permit).
    """
    if _blank(number):
        return [_problem(field, "REQUIRED", like="id_number")]
    assert number is not None
    if id_type in (IdType.RESIDENT_ID, IdType.HMT_RESIDENCE_PERMIT):
        return _check_eleven_two(id_type, number, today=today, gender=gender, field=field)
    if id_type == IdType.FOREIGN_PERMANENT_RESIDENT_ID:
        if len(number) == 15:
            return [] if _OLD_FOREIGN_PR.fullmatch(number) else [_format_problem(id_type, field)]
        return _check_eleven_two(id_type, number, today=today, gender=gender, field=field)
    pattern = {
        IdType.HK_MACAO_PERMIT: _HK_MACAO_PERMIT,
        IdType.TAIWAN_PERMIT: _TAIWAN_PERMIT,
        IdType.FOREIGN_PASSPORT: _PASSPORT,
    }[id_type]
    return [] if pattern.fullmatch(number) else [_format_problem(id_type, field)]


# ---------------------------------------------------- codes and numbers


def check_credit_code(code: str | None, field: str = "credit_code") -> list[Problem]:
    """A unified social credit code (GB 32100), letter-prefixed ones included."""
    if _blank(code):
        return [_problem(field, "REQUIRED", like="credit_code")]
    assert code is not None
    # Places 1-2 (registering authority, entity type) may be letters, e.g. N for
    # farmers' cooperatives or Y for "other"; places 3-8 are a GB/T 2260 code.
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code) or not code[2:8].isdigit():
        return [_problem(field, "CREDIT_CODE_FORMAT", like="credit_code")]
    if code[17] != uscc_check(code[:17]):
        return [_problem(field, "CREDIT_CODE_CHECKSUM", like="credit_code")]
    return []


_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}(?:-[0-9]{1,6})?|[48]00-?[0-9]{3}-?[0-9]{4}")


def check_mobile(mobile: str | None, field: str = "mobile") -> list[Problem]:
    """A mainland mobile number: 11 digits, ``1[3-9]`` first."""
    if _blank(mobile):
        return [_problem(field, "REQUIRED", like="mobile")]
    assert mobile is not None
    return [] if _MOBILE.fullmatch(mobile) else [_problem(field, "MOBILE_FORMAT", like="mobile")]


def check_phone(phone: str, field: str = "phone") -> list[Problem]:
    """A contact phone: a mobile number, or a landline with its area code (extension allowed)."""
    if _MOBILE.fullmatch(phone) or _LANDLINE.fullmatch(phone):
        return []
    return [_problem(field, "PHONE_FORMAT", like="phone")]


def check_division(
    code: str | None, field: str = "division", *, abolished: bool = False
) -> list[Problem]:
    """A locality (属地): a six-digit GB/T 2260 code still in use (or, with
    ``abolished``, one that was: a window may serve the units still on record
    under a code since abolished)."""
    if _blank(code):
        return [_problem(field, "REQUIRED", like="division")]
    assert code is not None
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return [_problem(field, "DIVISION_FORMAT", like="division")]
    if not codes.is_known_division(code):
        return [_problem(field, "DIVISION_UNKNOWN", like="division")]
    if not abolished and not codes.is_current_division(code):
        return [_problem(field, "DIVISION_ABOLISHED", like="division")]
    return []


_CENT = Decimal("0.01")


def is_amount(value: Decimal) -> bool:
    """Yuan above zero, in whole cents. An amount of more digits than the decimal
    context holds (32 of them, 1e999999999) cannot be counted in cents: not one
    (``quantize`` raised InvalidOperation, INTERNAL)."""
    if not value.is_finite() or value <= 0:
        return False
    try:
        return value == value.quantize(_CENT)
    except InvalidOperation:
        return False


# ------------------------------------------------------------------ rows

_PERSON_FIELDS = (
    "name",
    "gender",
    "ethnicity",
    "id_type",
    "id_number",
    "mobile",
    "household_address",
    "current_address",
    "education",
)

# From the form's matrix: the columns each business sends to some system.
# The contract end date is required only for fixed-term contracts (see
# _check_contract_term).
_REQUIRED: Mapping[Business, tuple[str, ...]] = MappingProxyType(
    {
        Business.HIRE: (
            *_PERSON_FIELDS,
            "contract_type",
            "start_date",
            "employment_person_category",
            "filing_person_category",
            "employment_form",
            "post",
            "employment_locality",
            "labour_filing_locality",
        ),
        Business.RENEW: (
            *_PERSON_FIELDS,
            "contract_type",
            "start_date",
            "filing_person_category",
            "employment_form",
            "post",
            "labour_filing_locality",
        ),
        Business.END: (*_PERSON_FIELDS, "end_reason", "end_date"),
    }
)

_CODED_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "business": "business",
        "gender": "gender",
        "ethnicity": "ethnicity",
        "id_type": "id_type",
        "education": "education",
        "contract_type": "contract_type",
        "employment_person_category": "employment_person_category",
        "filing_person_category": "filing_person_category",
        "employment_form": "employment_form",
        "end_reason": "end_reason",
    }
)

# A worker who has died or draws a pension is not unemployed (失业登记 is for
# people of working age able and willing to work).
_NO_UNEMPLOYMENT_AFTER = frozenset({EndReason.DEATH, EndReason.RETIREMENT})


def _anniversary(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: the next day
        return dt.date(day.year + years, 3, 1)


def _add_months(day: dt.date, months: int) -> dt.date:
    # Civil Code art. 202: without a corresponding day, the last day of the month.
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def _check_codes(row: RegistrationRow) -> list[Problem]:
    found = []
    for field, table_name in _CODED_FIELDS.items():
        value = getattr(row, field)
        if value is not None and not codes.is_valid(table_name, value):
            table = codes.CODE_TABLES[table_name]
            found.append(
                _problem(field, "CODE_UNKNOWN", table_zh=table.title_zh, table_en=table.title_en)
            )
    return found


def required_fields(business: Business) -> tuple[str, ...]:
    """The row's fields a business always requires (``REQUIRED`` when blank; the
    contract's end date is required besides for a fixed-term contract alone); the
    form's instructions name their columns."""
    return _REQUIRED[business]


def _check_required(row: RegistrationRow, business: Business | None) -> list[Problem]:
    fields = _REQUIRED[business] if business is not None else _PERSON_FIELDS
    return [_problem(f, "REQUIRED") for f in fields if _blank(getattr(row, f))]


def _check_person(row: RegistrationRow, today: dt.date) -> list[Problem]:
    found = []
    if codes.is_valid("id_type", row.id_type) and not _blank(row.id_number):
        gender = row.gender if codes.is_valid("gender", row.gender or "") else None
        found += check_id_number(row.id_type, row.id_number, today=today, gender=gender)
    if not _blank(row.mobile):
        found += check_mobile(row.mobile)
    return found


def _check_localities(row: RegistrationRow) -> list[Problem]:
    found = []
    for field in ("employment_locality", "labour_filing_locality"):
        value = getattr(row, field)
        if not _blank(value):
            found += check_division(value, field)
    return found


def _check_contract_term(row: RegistrationRow) -> list[Problem]:
    start, end, kind = row.start_date, row.contract_end_date, row.contract_type
    field = "contract_end_date"
    if kind == ContractType.OPEN_ENDED:
        return [_problem(field, "OPEN_ENDED_WITH_END_DATE")] if end is not None else []
    if kind == ContractType.FIXED_TERM and end is None:
        return [
            _problem(
                field,
                "REQUIRED",
                note_zh="（固定期限劳动合同）",
                note_en=" for a fixed-term contract",
            )
        ]
    if end is None or start is None or kind is None:
        return []
    if end <= start:
        return [_problem(field, "CONTRACT_END_NOT_AFTER_START")]
    if kind == ContractType.FIXED_TERM and row.employment_form == EmploymentForm.DISPATCHED:
        # The last day is part of the term: a two-year contract starting on
        # 2024-03-01 runs to 2026-02-28.
        earliest_end = _anniversary(start, DISPATCHED_MINIMUM_YEARS) - dt.timedelta(days=1)
        if end < earliest_end:
            return [_problem(field, "DISPATCHED_TERM_TOO_SHORT", min_date=earliest_end.isoformat())]
    return []


def _birth_date(row: RegistrationRow, today: dt.date) -> dt.date | None:
    """The worker's date of birth the age is reckoned from, None where there is none to
    reckon from (or it is refused as such already).

    The ID number's, where the document carries one: a row's date that differs from it
    is refused on its own (``BIRTH_DATE_DIFFERS_FROM_ID``, social insurance's rule).
    Otherwise the row's (出生日期, the column for a passport, a travel permit, an old
    permanent resident ID), which its rule holds to the date range and before the start.
    """
    assert row.start_date is not None
    if carries_birth_date(row.id_type, row.id_number):
        born = birth_date_from_id(row.id_type, row.id_number)
        # A birth date in the future is already refused as such. One after the start
        # date is not (a start in the past): that worker was not even born, let alone 16.
        return None if born is None or born > today else born
    born = row.birth_date
    if born is None or not EARLIEST_DATE <= born < row.start_date:
        return None  # refused by its own rule (DATE_OUT_OF_RANGE, BIRTH_DATE_NOT_BEFORE_START)
    return born


def _check_age(row: RegistrationRow, today: dt.date) -> list[Problem]:
    if row.start_date is None or _blank(row.id_number):
        return []
    if not codes.is_valid("id_type", row.id_type):
        return []
    born = _birth_date(row, today)
    if born is None:
        return []
    if row.start_date < _anniversary(born, MINIMUM_AGE):
        return [_problem("start_date", "UNDER_MINIMUM_AGE")]
    return []


def _check_end(row: RegistrationRow, today: dt.date) -> list[Problem]:
    found = []
    if row.end_date is not None and row.start_date is not None and row.end_date < row.start_date:
        found.append(_problem("end_date", "END_BEFORE_START"))
    if not row.register_unemployment:
        return found
    if row.end_date is not None and row.end_date > today:
        # The unemployment system refuses a relation ended after its registration's
        # day: sent, the ending would be filed and the registration refused after it.
        end_zh, end_en = FIELD_LABELS["end_date"]
        found.append(
            _problem(
                "register_unemployment", "UNEMPLOYMENT_BEFORE_END", end_zh=end_zh, end_en=end_en
            )
        )
    if row.end_reason in _NO_UNEMPLOYMENT_AFTER:
        reason = codes.END_REASON.get(row.end_reason)
        assert reason is not None
        found.append(
            _problem(
                "register_unemployment",
                "UNEMPLOYMENT_NOT_POSSIBLE",
                reason_zh=reason.label_zh,
                reason_en=_in_sentence(reason.label_en),
            )
        )
    return found


def _warnings(row: RegistrationRow, today: dt.date) -> list[Problem]:
    if row.business != Business.HIRE or row.start_date is None:
        return []
    found = []
    if (today - row.start_date).days > EMPLOYMENT_REGISTRATION_DAYS:
        found.append(_problem("start_date", "LATE_EMPLOYMENT_REGISTRATION"))
    if today > _add_months(row.start_date, CONTRACT_WRITING_MONTHS):
        found.append(_problem("start_date", "LATE_CONTRACT_FILING"))
    return found


#: The dates a row may hold: no labour relation of anyone alive began before the
#: first, nor will one end after the last. Beyond them a typed year (2062 for 2026,
#: 9999) made the date sums that follow fail (a contract's two years, a month to
#: file it in, insurance stopping the day after an end) as internal errors.
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
_DATE_FIELDS = ("start_date", "contract_end_date", "end_date")  # a system adds its own


def _check_dates(row: RegistrationRow) -> list[Problem]:
    return [
        _problem(
            field,
            "DATE_OUT_OF_RANGE",
            earliest=EARLIEST_DATE.isoformat(),
            latest=LATEST_DATE.isoformat(),
        )
        for field in _DATE_FIELDS
        if (day := getattr(row, field)) is not None and not EARLIEST_DATE <= day <= LATEST_DATE
    ]


def check_row(row: RegistrationRow, *, today: dt.date, rules: Sequence[RowRule] = ()) -> RowCheck:
    """Every problem and warning of one row of the registration form.

    ``rules`` are the checks of the fields the registered systems add to the row
    (``gateway.registry.RowField``), each with its system's settings when the
    system is on (``GatewayConfig.row_rules``).
    """
    business = Business(row.business) if codes.is_valid("business", row.business) else None
    out_of_range = _check_dates(row)
    if out_of_range:
        # Nothing is reckoned from such a date: the other checks wait for a real one.
        return RowCheck(
            tuple(_check_codes(row) + _check_required(row, business) + out_of_range), ()
        )
    problems = _check_codes(row) + _check_required(row, business) + _check_person(row, today)
    problems += _check_localities(row)
    if business in (Business.HIRE, Business.RENEW):
        problems += _check_contract_term(row) + _check_age(row, today)
    if business == Business.END:
        problems += _check_end(row, today)
    elif row.register_unemployment:
        problems.append(_problem("register_unemployment", "UNEMPLOYMENT_ONLY_ON_END"))
    for rule in rules:
        problems += rule(row)
    return RowCheck(tuple(problems), tuple(_warnings(row, today)))


def check_form(
    form: RegistrationForm,
    *,
    today: dt.date,
    rules: Sequence[RowRule] = (),
    row_numbers: Sequence[int] | None = None,
) -> FormCheck:
    """The header and every row of a form; the same person and business twice is refused.
    ``rules`` and ``row_numbers``: as for ``checked_rows``."""
    rows = tuple(checked_rows(form.rows, today=today, rules=rules, row_numbers=row_numbers))
    return FormCheck(tuple(check_header(form)), rows)


def check_header(form: RegistrationForm) -> list[Problem]:
    """The problems of the form's header (and of a form without rows)."""
    header = [_problem("unit_name", "REQUIRED")] if _blank(form.unit_name) else []
    header += check_credit_code(form.credit_code)
    if not form.rows:
        header.append(_problem("rows", "NO_ROWS"))
    return header


def checked_rows(
    rows: Sequence[RegistrationRow],
    *,
    today: dt.date,
    rules: Sequence[RowRule] = (),
    row_numbers: Sequence[int] | None = None,
) -> Iterator[RowResult]:
    """Each row's result in turn (``check_form``'s rows), the same person and business
    met before refused: one at a time, so that a caller may pause between them.

    ``row_numbers``: the number a person knows each row by, for the messages that
    name another row (``DUPLICATE_IN_FORM``): a sheet's own row numbers for a file.
    By default a row's 1-based position among ``rows``. ``RowResult.index`` stays
    the 0-based position either way."""
    if row_numbers is not None and len(row_numbers) != len(rows):
        raise ValueError(f"{len(row_numbers)} row numbers for {len(rows)} rows")
    first_seen: dict[tuple[str, str, str], int] = {}
    for index, row in enumerate(rows):
        checked = check_row(row, today=today, rules=rules)
        problems = list(checked.problems)
        key = (str(row.business), str(row.id_type), row.id_number)
        if key in first_seen and not _blank(row.id_number):
            first = first_seen[key]
            other_row = first + 1 if row_numbers is None else row_numbers[first]
            problems.append(_problem("id_number", "DUPLICATE_IN_FORM", other_row=other_row))
        first_seen.setdefault(key, index)
        yield RowResult(index, tuple(problems), checked.warnings)


def check_employer(profile: EmployerProfile) -> list[Problem]:
    """An employer's profile, as sent to open or merge its account in every system."""
    found = check_credit_code(profile.credit_code)
    if _blank(profile.name):
        found.append(_problem("name", "REQUIRED", labels=_EMPLOYER_LABELS))
    found += check_division(profile.division)
    if not _blank(profile.phone):
        assert profile.phone is not None
        found += check_phone(profile.phone)
    return found
