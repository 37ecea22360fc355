"""Deterministic seed data for the three stand-ins.

Written once, in unified terms, and put into each stand-in through that
system's own mapping, so that the three systems describe the same employers
and people consistently, each under its own ids and codes. Every identifier
here is valid (check digits computed), and together the workers cover every
state: employed with a contract in force, contract renewed, dismissed with the
contract rescinded, contract ended and registered unemployed, and one worker
employed without a filed contract (an inconsistency a clerk should see).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gateway.domain.model import (
    ContractState,
    ContractTerm,
    ContractType,
    Education,
    EmployerProfile,
    EmploymentForm,
    EmploymentPersonCategory,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    Person,
)

D = dt.date


@dataclass(frozen=True, slots=True)
class SeedEmployer:
    profile: EmployerProfile
    employment_id: str  # aab001
    labour_id: str  # employerCode
    unemployment_id: str  # dwbh


@dataclass(frozen=True, slots=True)
class SeedEmployment:
    start_date: dt.date
    category: EmploymentPersonCategory
    form: EmploymentForm
    post: str
    dismissed_on: dt.date | None = None
    dismissal_reason: EndReason | None = None


@dataclass(frozen=True, slots=True)
class SeedContract:
    term: ContractTerm
    state: ContractState
    ended_on: dt.date | None = None
    end_reason: EndReason | None = None


@dataclass(frozen=True, slots=True)
class SeedUnemployment:
    relation_ended_on: dt.date
    reason: EndReason
    registered_on: dt.date


@dataclass(frozen=True, slots=True)
class SeedWorker:
    employer: int  # index into EMPLOYERS
    person: Person
    employment: SeedEmployment | None
    contracts: list[SeedContract] = field(default_factory=list)  # oldest first
    unemployment: SeedUnemployment | None = None

    @property
    def label(self) -> str:
        """The state this worker stands for, for tests and docs."""
        if self.unemployment:
            return "unemployment registered"
        if self.employment and self.employment.dismissed_on:
            return "dismissed"
        if any(c.state is ContractState.SUPERSEDED for c in self.contracts):
            return "contract renewed"
        if self.employment and not self.contracts:
            return "employed without a filed contract"
        return "employed"


EMPLOYERS: list[SeedEmployer] = [
    SeedEmployer(
        EmployerProfile(
            "91370102MA3C4TLQ2N", "济南泉城机械制造有限公司", "370102", "王敏", "0531-86150001"
        ),
        employment_id="JY370100000101",
        labour_id="LD370102000001",
        unemployment_id="SY3701020001",
    ),
    SeedEmployer(
        EmployerProfile(
            "91370202MA3BQ6YK01", "青岛海岸软件科技有限公司", "370202", "李娜", "0532-80880002"
        ),
        employment_id="JY370200000202",
        labour_id="LD370202000002",
        unemployment_id="SY3702020002",
    ),
    SeedEmployer(
        EmployerProfile(
            "91370102MA3D8R5H1H", "济南历下家政服务有限公司", "370102", "张伟", "0531-88990003"
        ),
        employment_id="JY370100000303",
        labour_id="LD370102000003",
        unemployment_id="SY3701020003",
    ),
]


def _person(
    id_number: str,
    name: str,
    gender: Gender,
    education: Education,
    mobile: str,
    hukou: str,
    address: str,
    *,
    id_type: IdType = IdType.RESIDENT_ID,
    ethnicity: str = "01",
) -> Person:
    return Person(id_type, id_number, name, gender, ethnicity, education, mobile, hukou, address)


def _term(
    start: dt.date,
    end: dt.date | None,
    post: str,
    locality: str,
    *,
    kind: ContractType = ContractType.FIXED_TERM,
    category: FilingPersonCategory = FilingPersonCategory.URBAN_EMPLOYEE,
    form: EmploymentForm = EmploymentForm.FULL_TIME,
) -> ContractTerm:
    return ContractTerm(kind, start, end, category, form, post, locality)


M, F = Gender.MALE, Gender.FEMALE
NEW = EmploymentPersonCategory.NEW_URBAN_ENTRANT
GRAD = EmploymentPersonCategory.COLLEGE_GRADUATE
MIGRANT = EmploymentPersonCategory.RURAL_MIGRANT
IN_FORCE, SUPERSEDED = ContractState.IN_FORCE, ContractState.SUPERSEDED

WORKERS: list[SeedWorker] = [
    # ---- 济南泉城机械制造有限公司
    SeedWorker(
        0,
        _person(
            "37010219850312002X",
            "刘洋",
            F,
            Education.BACHELOR,
            "13905310001",
            "山东省济南市历下区泉城路1号",
            "山东省济南市历下区文化东路2号",
        ),
        SeedEmployment(D(2021, 3, 1), NEW, EmploymentForm.FULL_TIME, "机械工程师"),
        [
            SeedContract(_term(D(2021, 3, 1), D(2024, 2, 29), "机械工程师", "370102"), SUPERSEDED),
            SeedContract(_term(D(2024, 3, 1), D(2027, 2, 28), "机械工程师", "370102"), IN_FORCE),
        ],
    ),
    SeedWorker(
        0,
        _person(
            "370102199207160048",
            "陈静",
            F,
            Education.JUNIOR_COLLEGE,
            "13705310002",
            "山东省济南市历下区山大路3号",
            "山东省济南市历下区山大路3号",
        ),
        SeedEmployment(D(2022, 7, 1), GRAD, EmploymentForm.FULL_TIME, "质检员"),
        [SeedContract(_term(D(2022, 7, 1), D(2028, 6, 30), "质检员", "370102"), IN_FORCE)],
    ),
    SeedWorker(
        0,
        _person(
            "370112199305150014",
            "赵磊",
            M,
            Education.SENIOR_HIGH,
            "15805310003",
            "山东省济南市历城区洪家楼5号",
            "山东省济南市历下区燕山路6号",
        ),
        SeedEmployment(
            D(2020, 5, 6),
            MIGRANT,
            EmploymentForm.FULL_TIME,
            "装配工",
            dismissed_on=D(2023, 8, 31),
            dismissal_reason=EndReason.AGREEMENT,
        ),
        [
            SeedContract(
                _term(
                    D(2020, 5, 6),
                    D(2023, 5, 5),
                    "装配工",
                    "370102",
                    category=FilingPersonCategory.RURAL_MIGRANT,
                ),
                ContractState.RESCINDED,
                D(2023, 8, 31),
                EndReason.AGREEMENT,
            )
        ],
    ),
    SeedWorker(
        0,
        _person(
            "370103198909090031",
            "孙强",
            M,
            Education.JUNIOR_HIGH,
            "18605310004",
            "山东省济南市市中区经七路7号",
            "山东省济南市市中区经七路7号",
        ),
        SeedEmployment(
            D(2019, 9, 1),
            NEW,
            EmploymentForm.FULL_TIME,
            "焊工",
            dismissed_on=D(2024, 8, 31),
            dismissal_reason=EndReason.EXPIRY,
        ),
        [
            SeedContract(
                _term(D(2019, 9, 1), D(2024, 8, 31), "焊工", "370102"),
                ContractState.TERMINATED,
                D(2024, 8, 31),
                EndReason.EXPIRY,
            )
        ],
        SeedUnemployment(D(2024, 8, 31), EndReason.EXPIRY, D(2024, 9, 10)),
    ),
    SeedWorker(
        0,
        _person(
            "H60123456",
            "何家明",
            M,
            Education.BACHELOR,
            "13805310005",
            "香港特别行政区九龙弥敦道8号",
            "山东省济南市历下区经十路9号",
            id_type=IdType.HK_MACAO_PERMIT,
        ),
        SeedEmployment(
            D(2023, 1, 9),
            EmploymentPersonCategory.FROM_HK_MACAO_TAIWAN,
            EmploymentForm.FULL_TIME,
            "技术顾问",
        ),
        [
            SeedContract(
                _term(
                    D(2023, 1, 9),
                    None,
                    "技术顾问",
                    "370102",
                    kind=ContractType.OPEN_ENDED,
                    category=FilingPersonCategory.FROM_HK_MACAO_TAIWAN,
                ),
                IN_FORCE,
            )
        ],
    ),
    # ---- 青岛海岸软件科技有限公司
    SeedWorker(
        1,
        _person(
            "370202198801050037",
            "周涛",
            M,
            Education.POSTGRADUATE,
            "13953210006",
            "山东省青岛市市南区香港中路10号",
            "山东省青岛市市南区香港中路10号",
        ),
        SeedEmployment(D(2018, 4, 2), NEW, EmploymentForm.FULL_TIME, "软件架构师"),
        [
            SeedContract(_term(D(2018, 4, 2), D(2021, 4, 1), "软件工程师", "370202"), SUPERSEDED),
            SeedContract(
                _term(D(2021, 4, 2), None, "软件架构师", "370202", kind=ContractType.OPEN_ENDED),
                IN_FORCE,
            ),
        ],
    ),
    SeedWorker(
        1,
        _person(
            "370202199509210069",
            "吴婷",
            F,
            Education.BACHELOR,
            "17753210007",
            "山东省青岛市市南区东海西路11号",
            "山东省青岛市市北区辽宁路12号",
            ethnicity="03",
        ),
        SeedEmployment(D(2024, 7, 15), GRAD, EmploymentForm.FULL_TIME, "测试工程师"),
        [],
    ),
    SeedWorker(
        1,
        _person(
            "370212199703020042",
            "郑雪",
            F,
            Education.JUNIOR_COLLEGE,
            "15153210008",
            "山东省青岛市崂山区海尔路13号",
            "山东省青岛市崂山区海尔路13号",
        ),
        SeedEmployment(
            D(2021, 6, 1),
            NEW,
            EmploymentForm.DISPATCHED,
            "客服专员",
            dismissed_on=D(2024, 5, 31),
            dismissal_reason=EndReason.ECONOMIC_LAYOFF,
        ),
        [
            SeedContract(
                _term(
                    D(2021, 6, 1),
                    D(2024, 5, 31),
                    "客服专员",
                    "370202",
                    form=EmploymentForm.DISPATCHED,
                ),
                ContractState.RESCINDED,
                D(2024, 5, 31),
                EndReason.ECONOMIC_LAYOFF,
            )
        ],
        SeedUnemployment(D(2024, 5, 31), EndReason.ECONOMIC_LAYOFF, D(2024, 6, 12)),
    ),
    # ---- 济南历下家政服务有限公司
    SeedWorker(
        2,
        _person(
            "370602198707140089",
            "王芳",
            F,
            Education.PRIMARY,
            "13665350009",
            "山东省烟台市芝罘区南大街14号",
            "山东省济南市历下区和平路15号",
        ),
        SeedEmployment(D(2022, 3, 1), MIGRANT, EmploymentForm.PART_TIME, "家政服务员"),
        [
            SeedContract(
                _term(
                    D(2022, 3, 1),
                    D(2027, 2, 28),
                    "家政服务员",
                    "370102",
                    category=FilingPersonCategory.RURAL_MIGRANT,
                    form=EmploymentForm.PART_TIME,
                ),
                IN_FORCE,
            )
        ],
    ),
    SeedWorker(
        2,
        _person(
            "370203198407070052",
            "马军",
            M,
            Education.SENIOR_HIGH,
            "13465310010",
            "山东省青岛市市北区台东一路16号",
            "山东省济南市历下区东关大街17号",
            ethnicity="04",
        ),
        SeedEmployment(
            D(2020, 11, 2),
            NEW,
            EmploymentForm.FULL_TIME,
            "司机",
            dismissed_on=D(2023, 11, 1),
            dismissal_reason=EndReason.BY_WORKER_NOTICE,
        ),
        [
            SeedContract(
                _term(D(2020, 11, 2), D(2023, 11, 1), "司机", "370102"),
                ContractState.RESCINDED,
                D(2023, 11, 1),
                EndReason.BY_WORKER_NOTICE,
            )
        ],
    ),
    SeedWorker(
        2,
        _person(
            "370102200008080016",
            "林晓",
            M,
            Education.SECONDARY_VOCATIONAL,
            "19965310011",
            "山东省济南市历下区解放路18号",
            "山东省济南市历下区解放路18号",
        ),
        SeedEmployment(D(2025, 9, 1), NEW, EmploymentForm.FULL_TIME, "保洁员"),
        [SeedContract(_term(D(2025, 9, 1), D(2027, 8, 31), "保洁员", "370102"), IN_FORCE)],
    ),
]
