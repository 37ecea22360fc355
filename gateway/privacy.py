"""Masking of personal data (PIPL): ID numbers and mobile numbers.

Lists show masked values; logs and error messages never hold them in clear.
Addresses cannot be recognised in free text, so the rule for them is simpler:
they are never put into a log line or an error message at all. A finished
registration's personal data are erased once its retention has passed (``erase``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# An 18-character resident ID / residence permit / permanent resident ID, a
# 15-character old-style one, an HK/Macao permit (H or M and 8 or 10 digits),
# and a mainland mobile number, each standing alone in the text.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15}|[HMhm]\d{8}(?:\d{2})?)(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


def mask_id_number(value: str) -> str:
    """Keep the first 6 and last 4 characters of an ID number (fewer for short ones)."""
    if len(value) >= 14:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return value[:1] + "*" * (len(value) - 4) + value[-3:]


def mask_mobile(value: str) -> str:
    """Keep the first 3 and last 4 digits of a mobile number."""
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def redact(text: str) -> str:
    """Mask every ID-number-like and mobile-like run in free text (a system's message)."""
    text = _ID_LIKE.sub(lambda m: mask_id_number(m.group(1)), text)
    return _MOBILE.sub(lambda m: mask_mobile(m.group(1)), text)


def _blank(value: str) -> str:
    return ""


#: What is kept of a person's data once a finished registration's personal data
#: are erased (``erase``): the numbers masked as the graph shows them to those
#: who may not see them in full, the addresses gone. The name, the dates and the
#: codes stay: a window must still tell one registration from another. Keys of
#: the unified person (``gateway.domain.model.Person``), and the contact phone of
#: a unit's profile, wherever they sit in a payload.
_ERASED: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "mobile": mask_mobile,
    "phone": mask_mobile,
    "household_address": _blank,
    "current_address": _blank,
}


def erase(value: Any) -> Any:
    """``value`` (a stored payload: dicts, lists, scalars) with the personal data
    of ``_ERASED`` masked or blanked, at any depth. Erasing twice changes nothing."""
    if isinstance(value, dict):
        return {
            k: _ERASED[k](v) if k in _ERASED and isinstance(v, str) else erase(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [erase(v) for v in value]
    return value
