"""Code tables of the unified model, with Chinese and English labels.

One table per coded field of the registration form (gender, ethnicity, ID type,
education, contract type, form of employment, the two person categories, end
reason, business) and per record state. Tables backed by an enum of
``model.py`` are built from that enum, so a member without a label fails at
import. Administrative divisions (GB/T 2260) are not written out here: they come
from the division data bundled with python-stdnum, read through
``division_name`` and friends.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, TypeVar

from stdnum import numdb

from gateway.domain.model import (
    Business,
    ContractState,
    ContractType,
    Education,
    EmploymentForm,
    EmploymentPersonCategory,
    EmploymentState,
    EndReason,
    FilingPersonCategory,
    Gender,
    IdType,
    UnemploymentState,
)

Lang = Literal["zh", "en"]
_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True, slots=True)
class Code:
    """One value of a code table."""

    code: str
    label_zh: str
    label_en: str

    def label(self, lang: Lang = "zh") -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True, slots=True)
class CodeTable:
    """A named, ordered, immutable set of codes."""

    name: str
    title_zh: str
    title_en: str
    codes: tuple[Code, ...]
    #: The codes by value: each row of a form looks several up (ethnicity, education,
    #: categories...), each a scan of its table before (4 % of a submission's CPU).
    _by_code: dict[str, Code] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_code = {c.code: c for c in self.codes}
        if len(by_code) != len(self.codes):
            raise ValueError(f"duplicate code in table {self.name}")
        object.__setattr__(self, "_by_code", by_code)

    def get(self, code: str) -> Code | None:
        return self._by_code.get(code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def __iter__(self) -> Iterator[Code]:
        return iter(self.codes)

    def __len__(self) -> int:
        return len(self.codes)


def _from_enum(
    name: str,
    title_zh: str,
    title_en: str,
    enum: type[_E],
    labels: Mapping[_E, tuple[str, str]],
) -> CodeTable:
    # Labels are keyed by member, not by value, so that renaming a value in
    # model.py cannot silently detach its label.
    missing = [m for m in enum if m not in labels]
    extra = [m for m in labels if not isinstance(m, enum)]
    if missing or extra:
        raise ValueError(f"table {name}: unlabelled {missing}, foreign {extra}")
    codes = tuple(Code(m.value, *labels[m]) for m in enum)
    return CodeTable(name, title_zh, title_en, codes)


GENDER = _from_enum(
    "gender",
    "性别",
    "Gender (GB/T 2261.1)",
    Gender,
    {Gender.MALE: ("男", "Male"), Gender.FEMALE: ("女", "Female")},
)

# GB/T 3304-1991, in the standard's own order; 97 and 98 are the standard's
# two residual codes.
_ETHNICITIES = (
    ("01", "汉族", "Han"),
    ("02", "蒙古族", "Mongol"),
    ("03", "回族", "Hui"),
    ("04", "藏族", "Tibetan"),
    ("05", "维吾尔族", "Uyghur"),
    ("06", "苗族", "Miao"),
    ("07", "彝族", "Yi"),
    ("08", "壮族", "Zhuang"),
    ("09", "布依族", "Buyei"),
    ("10", "朝鲜族", "Korean"),
    ("11", "满族", "Manchu"),
    ("12", "侗族", "Dong"),
    ("13", "瑶族", "Yao"),
    ("14", "白族", "Bai"),
    ("15", "土家族", "Tujia"),
    ("16", "哈尼族", "Hani"),
    ("17", "哈萨克族", "Kazakh"),
    ("18", "傣族", "Dai"),
    ("19", "黎族", "Li"),
    ("20", "傈僳族", "Lisu"),
    ("21", "佤族", "Va"),
    ("22", "畲族", "She"),
    ("23", "高山族", "Gaoshan"),
    ("24", "拉祜族", "Lahu"),
    ("25", "水族", "Sui"),
    ("26", "东乡族", "Dongxiang"),
    ("27", "纳西族", "Naxi"),
    ("28", "景颇族", "Jingpo"),
    ("29", "柯尔克孜族", "Kyrgyz"),
    ("30", "土族", "Tu"),
    ("31", "达斡尔族", "Daur"),
    ("32", "仫佬族", "Mulao"),
    ("33", "羌族", "Qiang"),
    ("34", "布朗族", "Blang"),
    ("35", "撒拉族", "Salar"),
    ("36", "毛南族", "Maonan"),
    ("37", "仡佬族", "Gelao"),
    ("38", "锡伯族", "Xibe"),
    ("39", "阿昌族", "Achang"),
    ("40", "普米族", "Pumi"),
    ("41", "塔吉克族", "Tajik"),
    ("42", "怒族", "Nu"),
    ("43", "乌孜别克族", "Uzbek"),
    ("44", "俄罗斯族", "Russian"),
    ("45", "鄂温克族", "Evenki"),
    ("46", "德昂族", "De'ang"),
    ("47", "保安族", "Bonan"),
    ("48", "裕固族", "Yugur"),
    ("49", "京族", "Gin"),
    ("50", "塔塔尔族", "Tatar"),
    ("51", "独龙族", "Derung"),
    ("52", "鄂伦春族", "Oroqen"),
    ("53", "赫哲族", "Hezhen"),
    ("54", "门巴族", "Monba"),
    ("55", "珞巴族", "Lhoba"),
    ("56", "基诺族", "Jino"),
    ("97", "其他", "Other"),
    ("98", "外国血统中国籍人士", "Chinese citizen of foreign origin"),
)
ETHNICITY = CodeTable(
    "ethnicity",
    "民族",
    "Ethnicity (GB/T 3304)",
    tuple(Code(*e) for e in _ETHNICITIES),
)

ID_TYPE = _from_enum(
    "id_type",
    "证件类型",
    "ID document type",
    IdType,
    {
        IdType.RESIDENT_ID: ("居民身份证", "Resident identity card"),
        IdType.HK_MACAO_PERMIT: (
            "港澳居民来往内地通行证",
            "Mainland travel permit for Hong Kong and Macao residents",
        ),
        IdType.TAIWAN_PERMIT: (
            "台湾居民来往大陆通行证",
            "Mainland travel permit for Taiwan residents",
        ),
        IdType.HMT_RESIDENCE_PERMIT: (
            "港澳台居民居住证",
            "Residence permit for Hong Kong, Macao and Taiwan residents",
        ),
        IdType.FOREIGN_PERMANENT_RESIDENT_ID: (
            "外国人永久居留身份证",
            "Foreign permanent resident ID card",
        ),
        IdType.FOREIGN_PASSPORT: ("外国护照", "Foreign passport"),
    },
)

EDUCATION = _from_enum(
    "education",
    "文化程度",
    "Education",
    Education,
    {
        Education.POSTGRADUATE: ("研究生", "Postgraduate"),
        Education.BACHELOR: ("大学本科", "Bachelor's degree"),
        Education.JUNIOR_COLLEGE: ("大学专科", "Junior college"),
        Education.SECONDARY_VOCATIONAL: ("中等专科", "Secondary vocational school"),
        Education.TECHNICAL_SCHOOL: ("技工学校", "Technical school"),
        Education.SENIOR_HIGH: ("高中", "Senior high school"),
        Education.JUNIOR_HIGH: ("初中", "Junior high school"),
        Education.PRIMARY: ("小学", "Primary school"),
        Education.ILLITERATE: ("文盲或半文盲", "Illiterate or semi-literate"),
        Education.OTHER: ("其他", "Other"),
    },
)

CONTRACT_TYPE = _from_enum(
    "contract_type",
    "合同类型",
    "Contract type (Labour Contract Law art. 12)",
    ContractType,
    {
        ContractType.FIXED_TERM: ("固定期限劳动合同", "Fixed-term contract"),
        ContractType.OPEN_ENDED: ("无固定期限劳动合同", "Open-ended contract"),
        ContractType.TASK: (
            "以完成一定工作任务为期限的劳动合同",
            "Contract for the completion of a specific task",
        ),
    },
)

EMPLOYMENT_FORM = _from_enum(
    "employment_form",
    "用工形式",
    "Form of employment",
    EmploymentForm,
    {
        EmploymentForm.FULL_TIME: ("全日制", "Full-time"),
        EmploymentForm.PART_TIME: ("非全日制", "Part-time"),
        EmploymentForm.DISPATCHED: ("劳务派遣", "Dispatched (labour dispatch)"),
        EmploymentForm.OTHER: ("其他", "Other"),
    },
)

EMPLOYMENT_PERSON_CATEGORY = _from_enum(
    "employment_person_category",
    "就业人员类别",
    "Employment person category",
    EmploymentPersonCategory,
    {
        EmploymentPersonCategory.NEW_URBAN_ENTRANT: (
            "城镇新成长劳动力",
            "New urban labour-force entrant",
        ),
        EmploymentPersonCategory.COLLEGE_GRADUATE: ("高校毕业生", "College graduate"),
        EmploymentPersonCategory.REEMPLOYED_UNEMPLOYED: (
            "失业人员再就业",
            "Re-employed unemployed person",
        ),
        EmploymentPersonCategory.EMPLOYMENT_DIFFICULTY: (
            "就业困难人员",
            "Person with employment difficulty",
        ),
        EmploymentPersonCategory.RURAL_MIGRANT: ("农村转移劳动力", "Rural migrant worker"),
        EmploymentPersonCategory.VETERAN: ("退役军人", "Veteran"),
        EmploymentPersonCategory.FROM_OUTSIDE_PROVINCE: ("省外人员", "From outside the province"),
        EmploymentPersonCategory.FROM_HK_MACAO_TAIWAN: (
            "港澳台人员",
            "From Hong Kong, Macao or Taiwan",
        ),
        EmploymentPersonCategory.FOREIGN_NATIONAL: ("外国人", "Foreign national"),
        EmploymentPersonCategory.OTHER: ("其他", "Other"),
    },
)

FILING_PERSON_CATEGORY = _from_enum(
    "filing_person_category",
    "备案人员类别",
    "Filing person category",
    FilingPersonCategory,
    {
        FilingPersonCategory.URBAN_EMPLOYEE: ("城镇职工", "Urban employee"),
        FilingPersonCategory.RURAL_MIGRANT: ("农民工", "Rural migrant worker"),
        FilingPersonCategory.FROM_HK_MACAO_TAIWAN: (
            "港澳台人员",
            "From Hong Kong, Macao or Taiwan",
        ),
        FilingPersonCategory.FOREIGN_NATIONAL: ("外国人", "Foreign national"),
        FilingPersonCategory.REEMPLOYED_RETIREE: ("退休返聘人员", "Re-employed retiree"),
        FilingPersonCategory.OTHER: ("其他", "Other"),
    },
)

END_REASON = _from_enum(
    "end_reason",
    "劳动合同解除或终止原因",
    "Reason the labour contract ended (Labour Contract Law)",
    EndReason,
    {
        EndReason.AGREEMENT: ("协商一致解除（第三十六条）", "Rescission by agreement (art. 36)"),
        EndReason.BY_WORKER_NOTICE: (
            "劳动者提前通知解除（第三十七条）",
            "Rescission by the worker with notice (art. 37)",
        ),
        EndReason.BY_WORKER_UNIT_FAULT: (
            "因用人单位过错劳动者解除（第三十八条）",
            "Rescission by the worker for the unit's fault (art. 38)",
        ),
        EndReason.BY_UNIT_FOR_CAUSE: (
            "用人单位因劳动者过错解除（第三十九条）",
            "Rescission by the unit for cause (art. 39)",
        ),
        EndReason.BY_UNIT_NO_FAULT: (
            "用人单位无过失性辞退（第四十条）",
            "Rescission by the unit without fault (art. 40)",
        ),
        EndReason.ECONOMIC_LAYOFF: ("经济性裁员（第四十一条）", "Economic layoff (art. 41)"),
        EndReason.EXPIRY: (
            "劳动合同期满（第四十四条第一项）",
            "Expiry of the contract (art. 44(1))",
        ),
        EndReason.RETIREMENT: (
            "劳动者开始依法享受基本养老保险待遇（第四十四条第二项）",
            "The worker starts to draw the basic pension (art. 44(2))",
        ),
        EndReason.DEATH: (
            "劳动者死亡或被宣告死亡、宣告失踪（第四十四条第三项）",
            "Death of the worker, or declared dead or missing (art. 44(3))",
        ),
        EndReason.BANKRUPTCY: (
            "用人单位被依法宣告破产（第四十四条第四项）",
            "The unit is declared bankrupt (art. 44(4))",
        ),
        EndReason.CLOSURE: (
            "用人单位被吊销营业执照、责令关闭、撤销或决定提前解散（第四十四条第五项）",
            "The unit's licence is revoked, or it is closed, dissolved or wound up early "
            "(art. 44(5))",
        ),
        EndReason.OTHER_TERMINATION: (
            "法律、行政法规规定的其他情形（第四十四条第六项）",
            "Other cases provided by law or administrative regulation (art. 44(6))",
        ),
    },
)

BUSINESS = _from_enum(
    "business",
    "业务类别",
    "Business",
    Business,
    {
        Business.HIRE: (
            "招用劳动者（就业登记、劳动合同新订备案）",
            "Hire (employment registration and new contract filing)",
        ),
        Business.RENEW: ("劳动合同续签备案", "Contract renewal filing"),
        Business.END: (
            "终止或解除劳动合同（解聘备案、解除终止备案、失业登记）",
            "End of a contract (dismissal, rescission or termination filing, "
            "unemployment registration)",
        ),
    },
)

EMPLOYMENT_STATE = _from_enum(
    "employment_state",
    "就业登记状态",
    "Employment registration state",
    EmploymentState,
    {
        EmploymentState.EMPLOYED: ("在职", "Employed"),
        EmploymentState.DISMISSED: ("已解聘", "Dismissed"),
        EmploymentState.REVOKED: ("已撤销", "Revoked"),
    },
)

CONTRACT_STATE = _from_enum(
    "contract_state",
    "劳动合同备案状态",
    "Contract filing state",
    ContractState,
    {
        ContractState.IN_FORCE: ("履行中", "In force"),
        ContractState.SUPERSEDED: ("已续签", "Superseded by a renewal"),
        ContractState.RESCINDED: ("已解除", "Rescinded"),
        ContractState.TERMINATED: ("已终止", "Terminated"),
        ContractState.REVOKED: ("已撤销", "Revoked"),
    },
)

UNEMPLOYMENT_STATE = _from_enum(
    "unemployment_state",
    "失业登记状态",
    "Unemployment registration state",
    UnemploymentState,
    {
        UnemploymentState.REGISTERED: ("已登记", "Registered"),
        UnemploymentState.CANCELLED: ("已注销", "Cancelled"),
    },
)

CODE_TABLES: Mapping[str, CodeTable] = MappingProxyType(
    {
        t.name: t
        for t in (
            GENDER,
            ETHNICITY,
            ID_TYPE,
            EDUCATION,
            CONTRACT_TYPE,
            EMPLOYMENT_FORM,
            EMPLOYMENT_PERSON_CATEGORY,
            FILING_PERSON_CATEGORY,
            END_REASON,
            BUSINESS,
            EMPLOYMENT_STATE,
            CONTRACT_STATE,
            UNEMPLOYMENT_STATE,
        )
    }
)


def label(table_name: str, code: str, lang: Lang = "zh") -> str | None:
    """The label of ``code`` in a table, None for a code the table lacks.

    An unknown table name is a programming error and raises KeyError.
    """
    found = CODE_TABLES[table_name].get(code)
    return found.label(lang) if found else None


def is_valid(table_name: str, code: str) -> bool:
    """Whether ``code`` belongs to the table (an unknown table raises KeyError)."""
    return code in CODE_TABLES[table_name]


# ------------------------------------------------------------ divisions


@dataclass(frozen=True, slots=True)
class DivisionName:
    """One name a division code has carried, with the years it carried it.

    ``since`` / ``until`` are inclusive years, None where the data gives no
    bound (before the data starts, or still in use).
    """

    name: str
    since: int | None
    until: int | None

    def in_use(self, year: int) -> bool:
        return (self.since is None or self.since <= year) and (
            self.until is None or year <= self.until
        )


def _parse_names(county: str) -> tuple[DivisionName, ...]:
    # stdnum's data (taken from Wikipedia) writes a reused or renamed code as
    # '[-1991]东郊区,[1992-]东丽区' and a dated one as '[1983-]历下区'; some
    # entries carry no brackets at all.
    names = []
    for part in county.split(","):
        part = part.strip()
        since = until = None
        if part.startswith("[") and "]" in part:
            span, part = part[1:].split("]", 1)
            start, _, end = span.partition("-")
            since = int(start) if start.strip().isdigit() else None
            until = int(end) if end.strip().isdigit() else None
        if part:
            names.append(DivisionName(part, since, until))
    return tuple(names)


@functools.lru_cache(maxsize=4096)
def division_history(code: str) -> tuple[DivisionName, ...]:
    """Every name a GB/T 2260 code has carried, oldest first; empty if unknown.

    Only a complete six-digit code counts: stdnum's lookup also answers with
    the province for a code whose county part it does not know.
    """
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return ()
    # The last part is the county's, empty when only the province is known.
    county = numdb.get("cn/loc").info(code)[-1][1].get("county")
    return _parse_names(county) if county else ()


def is_known_division(code: str) -> bool:
    """Whether the code is or ever was a GB/T 2260 division."""
    return bool(division_history(code))


def is_current_division(code: str) -> bool:
    """Whether the code is a division still in use (its latest name has no end year)."""
    history = division_history(code)
    return bool(history) and history[-1].until is None


def division_name(code: str, year: int | None = None) -> str | None:
    """The name of a division: the one in use in ``year``, or the latest one.

    None for a code that is not a division (or was not one in ``year``).
    """
    history = division_history(code)
    if not history:
        return None
    if year is None:
        return history[-1].name
    return next((n.name for n in reversed(history) if n.in_use(year)), None)
