"""How long a text may be, and which characters it may hold, in every place it goes.

Each existing system publishes a "Limits" table (its contract) and a character
set; the gateway's own columns have widths too. A value is sent to several of
them, so it must fit the strictest: the gateway checks that up front, before
anything is stored or sent, instead of learning it from a refusal after one
system has already written (and then compensating).

``Limits`` is one such declaration, keyed by the unified field names; the
declarations live next to what they describe (``adapters/*/limits.py``,
``gateway/store/limits.py``) and are passed in: this module knows no system.
``check_limits`` gives, for each field, the strictest verdict of all the
limits that apply to it, as ``Problem`` values:

=====================  ======================================================
code                   when
=====================  ======================================================
TOO_LONG               over a length limit; the message names the limit, its
                       unit (characters, GBK bytes) and who imposes it (when
                       several are exceeded, the one exceeded the most)
CONTROL_CHARACTER      a control character, U+0000 to U+001F or U+007F (tab,
                       line feed and carriage return included): refused by
                       every system
NOT_ENCODABLE          a character the receiving side cannot carry: outside
                       GBK (unemployment), not an XML 1.0 character (labour),
                       or not a Unicode scalar value at all (a lone surrogate)
=====================  ======================================================

Messages give the position of a bad character, never the character or the
value: names, addresses and ID numbers are personal data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from gateway.domain.checks import FIELD_LABELS, Problem

__all__ = [
    "LIMIT_MESSAGES",
    "Characters",
    "Limits",
    "Unit",
    "check_limits",
    "first_refused",
    "measure",
]


class Unit(StrEnum):
    """What a length limit counts."""

    CHARACTERS = "CHARACTERS"  # Unicode code points (what PostgreSQL's varchar counts too)
    GBK_BYTES = "GBK_BYTES"  # bytes once encoded in GBK: a Chinese character is 2


class Characters(StrEnum):
    """The characters a side takes. Control characters are refused by all of them."""

    UNICODE = "UNICODE"  # any Unicode scalar value (a lone surrogate is not one)
    XML = "XML"  # the characters XML 1.0 can carry
    GBK = "GBK"  # the characters GBK can encode


@dataclass(frozen=True, slots=True)
class Limits:
    """What one system (or the gateway's store) takes, by unified field name.

    ``fields`` lists every text field it receives: the value is its length limit
    in ``unit``, or None where it publishes no length (the characters still count).
    """

    owner_zh: str
    owner_en: str
    unit: Unit
    characters: Characters
    fields: Mapping[str, int | None]

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def only(self, fields: Collection[str]) -> Limits:
        """The same limits, for the fields in ``fields`` only (what one write carries)."""
        kept = {f: n for f, n in self.fields.items() if f in fields}
        return dataclasses.replace(self, fields=kept)


LIMIT_MESSAGES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "TOO_LONG": (
            "{f_zh}超过{owner_zh}的长度上限：最多{limit}{unit_zh}",
            "the {f_en} is longer than the {owner_en} takes: at most {limit} {unit_en}",
        ),
        "CONTROL_CHARACTER": (
            "{f_zh}第{position}个字符是控制字符（如换行、制表符），{owner_zh}不接收",
            "character {position} of the {f_en} is a control character (a line break, "
            "a tab...), which the {owner_en} refuses",
        ),
        "NOT_ENCODABLE": (
            "{f_zh}第{position}个字符{charset_zh}，{owner_zh}无法接收",
            "character {position} of the {f_en} is {charset_en}, which the {owner_en} "
            "cannot receive",
        ),
    }
)

_UNITS: Mapping[Unit, tuple[str, str]] = MappingProxyType(
    {
        Unit.CHARACTERS: ("个字符", "characters"),
        Unit.GBK_BYTES: (
            "个GBK字节（一个汉字占2个字节）",
            "bytes in GBK (a Chinese character counts 2)",
        ),
    }
)

_CHARSETS: Mapping[Characters, tuple[str, str]] = MappingProxyType(
    {
        Characters.UNICODE: ("不是有效的Unicode字符", "not a valid Unicode character"),
        Characters.XML: ("不是XML 1.0允许的字符", "not a character XML 1.0 allows"),
        Characters.GBK: ("不在GBK字符集中", "outside GBK"),
    }
)


def _control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or code == 0x7F


def _surrogate(char: str) -> bool:
    return 0xD800 <= ord(char) <= 0xDFFF


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a control character (U+0000 to U+001F or U+007F)."""
    return any(_control(c) for c in text)


def invalid_text(text: str) -> bool:
    """Whether ``text`` holds NUL or half a character: no store or system takes them
    (PostgreSQL's text refuses NUL, UTF-8 every surrogate), whatever the field."""
    return "\x00" in text or any("\ud800" <= c <= "\udfff" for c in text)


def _noncharacter(char: str) -> bool:
    """A code point Unicode keeps for a program's own use, never for text exchanged
    (U+FDD0 to U+FDEF, and the last two of every plane): no name, address or post
    holds one, and a system may use them as its own marks (the labour stand-in marks
    with U+FDD0 what XML cannot carry, and so refused a name that held one, after the
    employment registration was filed)."""
    code = ord(char)
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _takes(characters: Characters, char: str) -> bool:
    """Whether ``characters`` holds ``char`` (control characters are judged apart)."""
    if _surrogate(char) or _noncharacter(char):
        return False  # nothing can encode a surrogate; no system takes a noncharacter
    if characters is Characters.XML:
        return True
    if characters is Characters.GBK:
        try:
            char.encode("gbk")
        except UnicodeEncodeError:
            return False
    return True


def first_refused(value: str, characters: Characters) -> int | None:
    """The 1-based position of the first character ``characters`` cannot hold, if any."""
    if characters is Characters.GBK and value.isascii():
        return None
    if characters is not Characters.GBK and not any(
        _surrogate(c) or c > "\ufffd" or "\ufdd0" <= c <= "\ufdef" for c in value
    ):
        return None
    for position, char in enumerate(value, start=1):
        if not _control(char) and not _takes(characters, char):
            return position
    return None


def measure(value: str, unit: Unit) -> int:
    """The length of ``value`` as ``unit`` counts it."""
    if unit is Unit.GBK_BYTES:
        # A character GBK cannot hold is refused apart; count it as one byte here.
        return len(value.encode("gbk", errors="replace"))
    return len(value)


def _problem(reported: str, field: str, code: str, **params: object) -> Problem:
    zh, en = LIMIT_MESSAGES[code]
    f_zh, f_en = FIELD_LABELS.get(field, (field, field))
    message_en = en.format(f_en=f_en, **params)
    return Problem(
        reported, code, zh.format(f_zh=f_zh, **params), message_en[:1].upper() + message_en[1:]
    )


def _check_field(reported: str, field: str, value: str, limits: list[Limits]) -> list[Problem]:
    found = []
    control = next((i for i, c in enumerate(value, start=1) if _control(c)), None)
    if control is not None:
        owner = limits[0]
        found.append(
            _problem(
                reported,
                field,
                "CONTROL_CHARACTER",
                position=control,
                owner_zh=owner.owner_zh,
                owner_en=owner.owner_en,
            )
        )
    # The first character some side cannot hold, and the first side that cannot.
    refusals = [(p, lim) for lim in limits if (p := first_refused(value, lim.characters))]
    if refusals:
        position, owner = min(refusals, key=lambda r: r[0])
        charset_zh, charset_en = _CHARSETS[owner.characters]
        found.append(
            _problem(
                reported,
                field,
                "NOT_ENCODABLE",
                position=position,
                charset_zh=charset_zh,
                charset_en=charset_en,
                owner_zh=owner.owner_zh,
                owner_en=owner.owner_en,
            )
        )
    # Over several limits, the one exceeded the most: fixing the value for it
    # is most likely to fix it for the others.
    worst: tuple[float, Limits, int] | None = None
    for lim in limits:
        most = lim.fields[field]
        if most is not None and measure(value, lim.unit) > most:
            ratio = measure(value, lim.unit) / most
            if worst is None or ratio > worst[0]:
                worst = (ratio, lim, most)
    if worst is not None:
        _, owner, most = worst
        unit_zh, unit_en = _UNITS[owner.unit]
        found.append(
            _problem(
                reported,
                field,
                "TOO_LONG",
                limit=most,
                unit_zh=unit_zh,
                unit_en=unit_en,
                owner_zh=owner.owner_zh,
                owner_en=owner.owner_en,
            )
        )
    return found


def check_limits(
    values: Mapping[str, str | None],
    limits: Iterable[Limits],
    *,
    report_as: Mapping[str, str] = MappingProxyType({}),
) -> list[Problem]:
    """Every field of ``values`` (by unified name) against every limit that applies.

    A field no limit mentions is not judged here. ``report_as`` renames fields
    in the problems, for inputs that call a unified field otherwise (an
    employer's ``name`` is the ``unit_name``).
    """
    declared = tuple(limits)
    found: list[Problem] = []
    for field, value in values.items():
        applying = [lim for lim in declared if field in lim.fields]
        if value and applying:
            found += _check_field(report_as.get(field, field), field, value, applying)
    return found
