"""The structure of identity numbers and credit codes, without judging them.

Pure functions over the characters of an ID number (GB 11643 and the documents
built on it) or a unified social credit code (GB 32100): their parts, their
check characters, the birth date and gender they carry, and the normal form a
typed value should take. ``checks.py`` turns these facts into problems.

python-stdnum computes both check characters and parses the birth date
correctly, so it is used for those; its validators are not used, because they
refuse valid numbers (see ``checks.py``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from gateway.domain.model import Gender, IdType

# GB 11643 and the documents numbered like it: 17 digits and a MOD 11-2 check.
ELEVEN_TWO = re.compile(r"[0-9]{17}[0-9X]")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
HMT_PREFIXES = {"810000": "HK", "820000": "MO", "830000": "TW"}
# GB/T 2260 gives no division to 9x: the new foreign permanent resident ID
# takes that leading digit as its mark.
FOREIGN_PR_MARK = "9"

# The earliest birth year accepted: older than anyone who can still register.
EARLIEST_BIRTH_YEAR = 1900


def _compact(value: str) -> str:
    """Full-width characters as ASCII (NFKC), without spaces (of any width) or hyphens."""
    return re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value))


def _ascii_compact(value: str) -> str:
    return _compact(value).upper()


def normalize_id_number(value: str) -> str:
    """The form an ID number should be stored and sent in.

    Full-width characters (typed with a Chinese input method) become ASCII,
    spaces and hyphens are dropped and letters upper-cased (the check
    character is a capital X; passports and permits use capitals).
    The checks judge the value as given, so callers normalise first.
    """
    return _ascii_compact(value)


def normalize_credit_code(value: str) -> str:
    """The form a unified social credit code should be stored and sent in.

    As for an ID number: full-width characters become ASCII (NFKC), spaces
    (around it or within) and hyphens are dropped and letters upper-cased, so
    that ``９１３７０１０２ＭＡ３Ｃ４ＴＬＱ２Ｎ`` and `` 91370102ma3c4tlq2n `` are
    ``91370102MA3C4TLQ2N``. Every path that reads a typed code (the graph's
    ``creditCode``, the form's header) normalises with this before checking.
    """
    return _ascii_compact(value)


def normalize_mobile(value: str) -> str:
    """The form a mobile number should be stored and sent in.

    As for an ID number: full-width digits become ASCII (NFKC), spaces and
    hyphens are dropped (``138 1234 5678``, ``138-1234-5678``,
    ``１３８１２３４５６７８`` are ``13812345678``). Nothing else is changed: what
    is then not 11 digits ``1[3-9]…`` is refused by ``check_mobile`` as typed.
    A unit's contact phone (``check_phone``) is not normalised by this.
    """
    return _compact(value)


def eleven_two_check(body17: str) -> str:
    """The MOD 11-2 check character (ISO 7064) of 17 digits."""
    # stdnum expects the whole number and ignores its last character.
    return str(ric.calc_check_digit(body17 + "0"))


def uscc_check(body17: str) -> str:
    """The GB 32100 mod-31 check character of the first 17 characters."""
    return str(uscc.calc_check_digit(body17))


def carries_birth_date(id_type: IdType, number: str) -> bool:
    """Whether the number is of a form that encodes the holder's birth date.

    Resident IDs, HK/Macao/Taiwan residence permits and new (18-digit) foreign
    permanent resident IDs do; passports, travel permits and the old 15-character
    permanent resident ID (whose date has a two-digit year) do not.
    """
    if id_type in (IdType.RESIDENT_ID, IdType.HMT_RESIDENCE_PERMIT):
        return True
    return id_type == IdType.FOREIGN_PERMANENT_RESIDENT_ID and len(number) == 18


def birth_date_from_id(id_type: IdType, number: str) -> dt.date | None:
    """The birth date an ID number carries, None if it carries none or no real date."""
    if not carries_birth_date(id_type, number) or not ELEVEN_TWO.fullmatch(number):
        return None
    try:
        born: dt.date = ric.get_birth_date(number)
    except ValidationError:
        return None
    return born if born.year >= EARLIEST_BIRTH_YEAR else None


def gender_from_id(id_type: IdType, number: str) -> Gender | None:
    """The gender the 17th digit carries (odd for men), where the document has one.

    GB 11643 defines it for resident IDs; residence permits follow GB 11643.
    The foreign permanent resident ID is not asserted to: its published rules
    name a sequence code without saying the parity carries gender.
    """
    if id_type not in (IdType.RESIDENT_ID, IdType.HMT_RESIDENCE_PERMIT):
        return None
    if not ELEVEN_TWO.fullmatch(number):
        return None
    return Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
