"""The unified model: employers, workers and their records across the three systems.

Plain Python, no framework import. Every adapter maps its system's records into
these types and back; the GraphQL schema is a thin layer over them. Enum values
are the unified codes (national standards where one exists, the province's own
tables otherwise); their Chinese and English labels live in ``codes.py``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

T = TypeVar("T")


class _Names(type):
    """Iterating ``System`` gives its core members, the three systems every
    deployment has; every registered system is in ``gateway.registry``."""

    def __iter__(cls) -> Iterator[Any]:
        return iter(cls._core)  # type: ignore[attr-defined]

    def __len__(cls) -> int:
        return len(cls._core)  # type: ignore[attr-defined]


class OpenName(str, metaclass=_Names):
    """A name from an open set: a ``str`` (stored, compared and hashed as its text)
    with the ``value`` and ``name`` an enum member has.

    One instance per name, so that ``System("labour") is System.LABOUR``: code
    that compares members with ``is`` keeps working. A package adds members by
    naming them (``System("social_insurance")``); the registry says which exist.
    """

    __slots__ = ()
    _pattern: ClassVar[re.Pattern[str]]
    _known: ClassVar[dict[str, Any]]
    _core: ClassVar[tuple[Any, ...]]

    def __new__(cls, value: str) -> Self:
        if isinstance(value, cls):
            return value
        known = cls._known.get(value)
        if known is not None:
            return cast(Self, known)
        if not isinstance(value, str) or not cls._pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {cls.__name__} name")
        member = super().__new__(cls, value)
        return cast(Self, cls._known.setdefault(value, member))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._known = {}
        cls._core = ()

    @property
    def value(self) -> str:
        return str.__str__(self)

    @property
    def name(self) -> str:
        return self.value.upper()

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.value,))

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: Any) -> Self:
        return self


class System(OpenName):
    """A system behind the gateway, by the name the store keeps (``"labour"``).

    Open: each system's package names its own (``adapters/<package>/system.py``)
    and ``gateway.registry`` collects them. The constants below are the core
    systems the integrated registrations are built on.
    """

    __slots__ = ()
    _pattern = re.compile(r"[a-z][a-z0-9_]{0,31}")

    EMPLOYMENT: ClassVar[System]
    LABOUR: ClassVar[System]
    UNEMPLOYMENT: ClassVar[System]


System.EMPLOYMENT = System("employment")
System.LABOUR = System("labour")
System.UNEMPLOYMENT = System("unemployment")
System._core = (System.EMPLOYMENT, System.LABOUR, System.UNEMPLOYMENT)


class Gender(StrEnum):
    """GB/T 2261.1 (only the two values a registration can carry)."""

    MALE = "1"
    FEMALE = "2"


class IdType(StrEnum):
    """Identity documents a worker can register with."""

    RESIDENT_ID = "RESIDENT_ID"
    HK_MACAO_PERMIT = "HK_MACAO_PERMIT"
    TAIWAN_PERMIT = "TAIWAN_PERMIT"
    HMT_RESIDENCE_PERMIT = "HMT_RESIDENCE_PERMIT"
    FOREIGN_PERMANENT_RESIDENT_ID = "FOREIGN_PERMANENT_RESIDENT_ID"
    FOREIGN_PASSPORT = "FOREIGN_PASSPORT"


class Education(StrEnum):
    """文化程度: the coarse set the employment system uses (its ``aac011``)."""

    POSTGRADUATE = "10"
    BACHELOR = "20"
    JUNIOR_COLLEGE = "30"
    SECONDARY_VOCATIONAL = "40"
    TECHNICAL_SCHOOL = "50"
    SENIOR_HIGH = "60"
    JUNIOR_HIGH = "70"
    PRIMARY = "80"
    ILLITERATE = "90"
    OTHER = "97"


class ContractType(StrEnum):
    """Labour Contract Law art. 12."""

    FIXED_TERM = "FIXED_TERM"
    OPEN_ENDED = "OPEN_ENDED"
    TASK = "TASK"


class EmploymentForm(StrEnum):
    """用工形式."""

    FULL_TIME = "FULL_TIME"
    PART_TIME = "PART_TIME"  # arts. 68-72
    DISPATCHED = "DISPATCHED"  # arts. 57-67
    OTHER = "OTHER"


class EmploymentPersonCategory(StrEnum):
    """就业人员类别, the province's table."""

    NEW_URBAN_ENTRANT = "01"
    COLLEGE_GRADUATE = "02"
    REEMPLOYED_UNEMPLOYED = "03"
    EMPLOYMENT_DIFFICULTY = "04"
    RURAL_MIGRANT = "05"
    VETERAN = "06"
    FROM_OUTSIDE_PROVINCE = "07"
    FROM_HK_MACAO_TAIWAN = "08"
    FOREIGN_NATIONAL = "09"
    OTHER = "99"


class FilingPersonCategory(StrEnum):
    """备案人员类别, the province's table."""

    URBAN_EMPLOYEE = "1"
    RURAL_MIGRANT = "2"
    FROM_HK_MACAO_TAIWAN = "3"
    FOREIGN_NATIONAL = "4"
    REEMPLOYED_RETIREE = "5"
    OTHER = "9"


class EndReason(StrEnum):
    """Why a labour contract ended, by article of the Labour Contract Law."""

    AGREEMENT = "A36"  # rescission by agreement
    BY_WORKER_NOTICE = "A37"  # the worker gives notice
    BY_WORKER_UNIT_FAULT = "A38"  # the worker rescinds for the unit's fault
    BY_UNIT_FOR_CAUSE = "A39"
    BY_UNIT_NO_FAULT = "A40"
    ECONOMIC_LAYOFF = "A41"
    EXPIRY = "A44-1"
    RETIREMENT = "A44-2"
    DEATH = "A44-3"
    BANKRUPTCY = "A44-4"
    CLOSURE = "A44-5"
    OTHER_TERMINATION = "A44-6"

    @property
    def is_termination(self) -> bool:
        """Termination (终止, art. 44) rather than rescission (解除, arts. 36-41)."""
        return self.value.startswith("A44")


class Business(StrEnum):
    """业务类别 of a row of the registration form."""

    HIRE = "HIRE"  # 就业登记备案 + 劳动合同新订
    RENEW = "RENEW"  # 劳动合同续签
    END = "END"  # 解聘 + 劳动合同解除终止 (+ 失业登记)


class EmploymentState(StrEnum):
    EMPLOYED = "EMPLOYED"
    DISMISSED = "DISMISSED"
    REVOKED = "REVOKED"


class ContractState(StrEnum):
    IN_FORCE = "IN_FORCE"
    SUPERSEDED = "SUPERSEDED"  # by a renewal
    RESCINDED = "RESCINDED"
    TERMINATED = "TERMINATED"
    REVOKED = "REVOKED"


class UnemploymentState(StrEnum):
    REGISTERED = "REGISTERED"
    CANCELLED = "CANCELLED"


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class EmployerProfile:
    """What the gateway knows of an employer, the same in every system."""

    credit_code: str  # 统一社会信用代码, GB 32100
    name: str
    division: str  # 属地, GB/T 2260 six digits
    contact: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class EmployerBinding:
    """An employer as one system knows it: that system's own id for it."""

    system: System
    employer_id: str
    profile: EmployerProfile
    created: bool = False  # True when this call opened it, False when it existed


@dataclass(frozen=True, slots=True)
class Person:
    """The worker's own fields (form columns 3-10)."""

    id_type: IdType
    id_number: str
    name: str
    gender: Gender
    ethnicity: str  # GB/T 3304 two digits
    education: Education
    mobile: str | None = None
    household_address: str | None = None
    current_address: str | None = None

    #: The registration row's field each attribute is built from (``field_in_row``).
    FROM_ROW: ClassVar[Mapping[str, str]] = {
        "id_type": "id_type",
        "id_number": "id_number",
        "name": "name",
        "gender": "gender",
        "ethnicity": "ethnicity",
        "education": "education",
        "mobile": "mobile",
        "household_address": "household_address",
        "current_address": "current_address",
    }


@dataclass(frozen=True, slots=True)
class EmploymentRecord:
    """就业登记 as the employment system holds it."""

    reference: str  # the system's serial of the registration
    employer_id: str
    person: Person
    start_date: dt.date
    state: EmploymentState
    person_category: EmploymentPersonCategory | None = None
    employment_form: EmploymentForm | None = None
    post: str | None = None
    locality: str | None = None
    dismissal_date: dt.date | None = None
    dismissal_reason: EndReason | None = None  # lossy: the system's coarse reason
    system_person_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContractTerm:
    """The terms of one labour contract (form columns 11-13, 15-17, 21)."""

    contract_type: ContractType
    start_date: dt.date
    end_date: dt.date | None
    filing_category: FilingPersonCategory
    employment_form: EmploymentForm
    post: str
    locality: str  # 劳动备案属地

    FROM_ROW: ClassVar[Mapping[str, str]] = {
        "contract_type": "contract_type",
        "start_date": "start_date",
        "end_date": "contract_end_date",
        "filing_category": "filing_person_category",
        "employment_form": "employment_form",
        "post": "post",
        "locality": "labour_filing_locality",
    }


@dataclass(frozen=True, slots=True)
class LabourContract:
    """劳动合同备案 as the labour system holds it."""

    reference: str  # filing number
    employer_id: str
    person: Person
    term: ContractTerm
    state: ContractState
    filed_at: dt.datetime | None = None
    end_reason: EndReason | None = None  # lossy for terminations: art. 44 only
    ended_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class UnemploymentRegistration:
    """失业登记 as the unemployment system holds it."""

    reference: str
    employer_id: str
    person: Person
    relation_ended_on: dt.date
    reason: EndReason  # lossy: the system's coarse reason
    registered_on: dt.date
    state: UnemploymentState


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a system's list, with the system's total count."""

    items: list[T]
    total: int


# ------------------------------------------------- writes sent to the systems
#
# A system's refusal names the field at fault by the attribute of the request it
# refused (``Rejected.field``: ``date`` of a ``ContractEnding``, ``locality`` of a
# ``ContractTerm``), a nested one by its own name. Each request built from a
# registration row says which of the row's fields each attribute holds
# (``FROM_ROW``, the plan's ``gateway.registrations.plan``), so that the step's
# error names the row's field, as a problem of the row does (``field_in_row``).


@dataclass(frozen=True, slots=True)
class EmploymentRegistrationRequest:
    employer_id: str
    person: Person
    start_date: dt.date
    person_category: EmploymentPersonCategory
    employment_form: EmploymentForm
    post: str
    locality: str

    FROM_ROW: ClassVar[Mapping[str, str]] = {
        **Person.FROM_ROW,
        "start_date": "start_date",
        "person_category": "employment_person_category",
        "employment_form": "employment_form",
        "post": "post",
        "locality": "employment_locality",
    }


@dataclass(frozen=True, slots=True)
class DismissalRequest:
    employer_id: str
    id_type: IdType
    id_number: str
    date: dt.date
    reason: EndReason

    FROM_ROW: ClassVar[Mapping[str, str]] = {
        "id_type": "id_type",
        "id_number": "id_number",
        "date": "end_date",
        "reason": "end_reason",
    }


@dataclass(frozen=True, slots=True)
class ContractEnding:
    employer_id: str
    id_number: str
    reason: EndReason
    date: dt.date

    FROM_ROW: ClassVar[Mapping[str, str]] = {
        "id_number": "id_number",
        "reason": "end_reason",
        "date": "end_date",
    }


@dataclass(frozen=True, slots=True)
class UnemploymentRequest:
    employer_id: str
    person: Person
    relation_ended_on: dt.date
    reason: EndReason

    FROM_ROW: ClassVar[Mapping[str, str]] = {
        **Person.FROM_ROW,
        "relation_ended_on": "end_date",
        "reason": "end_reason",
    }


@dataclass(frozen=True, slots=True)
class FileContractRequest:
    """A new contract to file (the labour adapter takes it as arguments)."""

    employer_id: str
    person: Person
    term: ContractTerm

    FROM_ROW: ClassVar[Mapping[str, str]] = {**Person.FROM_ROW, **ContractTerm.FROM_ROW}


@dataclass(frozen=True, slots=True)
class RenewContractRequest:
    employer_id: str
    id_number: str
    term: ContractTerm

    FROM_ROW: ClassVar[Mapping[str, str]] = {"id_number": "id_number", **ContractTerm.FROM_ROW}


@dataclass(frozen=True, slots=True)
class OpenEmployerRequest:
    """Open the unit in a system, or bind the one it holds.

    Built from the unit's profile, not a row: it declares no ``FROM_ROW``, and a
    refusal of it names the profile's field as the system's adapter does."""

    profile: EmployerProfile


def field_in_row(request_type: type[Any], name: str) -> str | None:
    """The registration row's field that ``name``, a field a system's refusal of a
    ``request_type`` names (``Rejected.field``), was built from.

    By the type's ``FROM_ROW``: an attribute it maps is the row's field it holds
    (``ContractEnding.date`` → ``end_date``); a name that already is one of those
    row fields stays (an adapter may name the row's field itself); any other name
    (the unit's id in the system, a reference, the whole worker or term) is no
    field of the row: None. A type that declares no ``FROM_ROW`` (opening a unit,
    from its profile) leaves ``name`` as it is.
    """
    from_row: Mapping[str, str] | None = getattr(request_type, "FROM_ROW", None)
    if from_row is None:
        return name
    if name in from_row:
        return from_row[name]
    return name if name in from_row.values() else None


# ---------------------------------------------------- the registration form


@dataclass(frozen=True, slots=True)
class RegistrationRow:
    """One row of 山东省人力资源社会保障领域一体化登记表, all 21 columns, and the two
    the notice leaves to other paperwork (the unemployment request, the wage).

    Which columns a row needs depends on its business (see ``checks.py``).
    """

    business: Business  # 1 业务类别
    name: str  # 2 姓名
    gender: Gender | None  # 3 性别
    ethnicity: str | None  # 4 民族
    id_type: IdType  # 5 证件类型
    id_number: str  # 6 证件号码
    mobile: str | None  # 7 移动电话号码
    household_address: str | None  # 8 户籍地址
    current_address: str | None  # 9 现居住址
    education: Education | None  # 10 文化程度
    contract_type: ContractType | None = None  # 11 合同类型
    start_date: dt.date | None = None  # 12 开始(就业)时间
    contract_end_date: dt.date | None = None  # 13 终止时间
    employment_person_category: EmploymentPersonCategory | None = None  # 14
    filing_person_category: FilingPersonCategory | None = None  # 15
    employment_form: EmploymentForm | None = None  # 16 用工形式
    post: str | None = None  # 17 岗位(工种)
    end_reason: EndReason | None = None  # 18 合同解除原因
    end_date: dt.date | None = None  # 19 合同解除日期
    employment_locality: str | None = None  # 20 就业属地
    labour_filing_locality: str | None = None  # 21 劳动备案属地
    register_unemployment: bool = False  # END only: the worker asks for 失业登记
    #: Fields a registered system asks for (``SystemSpec.row_fields``, which carry
    #: their rules): social insurance's 社会保险月缴费工资, in yuan, declared with a
    #: hire's addition (增员), and the worker's date of birth, for a document that
    #: carries none.
    monthly_wage: Decimal | None = None
    birth_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class RegistrationForm:
    """The form's header and its rows."""

    unit_name: str  # 单位名称
    credit_code: str  # 统一社会信用代码
    contact: str | None  # 单位联系人
    rows: list[RegistrationRow] = field(default_factory=list)
