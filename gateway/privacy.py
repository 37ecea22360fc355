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

#: What ``redact`` masks in free text, as one pattern (one pass over the text):
#:
#: - ``id``: an 18-character resident ID / residence permit / permanent resident ID
#:   (17 digits and a digit or X) or a 15-digit old-style one (which starts with its
#:   area's code, never 0: ``0086`` and a mobile is no ID);
#: - ``permit``: an HK/Macao permit, H or M and 8 or 10 digits, standing alone (its
#:   letter is part of it: glued to others it is too common a shape to be one);
#: - ``mobile``: a mainland mobile number, 11 digits as ``1[3-9]`` and nine more, or
#:   grouped 3-4-4 with spaces or hyphens, after an optional country code (``+86``,
#:   ``0086``, ``86``, in brackets or not, then a space or hyphen or nothing): the
#:   code is kept, the number masked.
#:
#: Numbers are bounded by digits only: one glued to letters (``ID370102…``,
#: ``tel137…``, a percent escape's ``%22``) is still one. Where the letters around it
#: make a uuid (``_in_uuid``), the digits are the uuid's.
_PERSONAL = re.compile(
    # Every match starts with one of these: the engine skips the rest of the text
    # at the cost of one test a character (three times faster on a traceback).
    r"(?=[\d(+HMhm])(?:"
    r"(?<!\d)(?P<id>\d{17}[\dXx]|[1-9]\d{14})(?!\d)"
    r"|(?<![0-9A-Za-z])(?P<permit>[HMhm]\d{8}(?:\d{2})?)(?![0-9A-Za-z])"
    r"|(?<!\d)(?P<code>\(?(?:\+|00)?86\)?[ -]?)?"
    r"(?P<mobile>1[3-9]\d(?P<sep>[ -]?)\d{4}(?P=sep)\d{4})(?!\d)"
    r")"
)

#: The ids the gateway and tracing systems write (``uuid4().hex``, a uuid with its
#: dashes, a W3C trace id), standing alone: about one in 700 holds a run of digits
#: that reads as a mobile number (one in 18 a run of 11 digits or more), and masking
#: it made a log line impossible to follow by its id. A number glued to one makes a
#: token of another shape, and is masked.
UUID_LIKE = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9A-Fa-f]{32}"
    r"|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})"
    r"(?![0-9A-Za-z])"
)
_UUID_CHARS = frozenset("0123456789abcdefABCDEF-")

#: A percent escape (``%22``, ``%2B``): the text of URLs, which uvicorn logs as sent.
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
#: Escapes decoded at most this many times over (``%2522`` is ``%22`` escaped again).
_DECODINGS = 3


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
    """Mask every ID-number-like and mobile-like run in free text (a system's message,
    a log line), as written and as percent-decoded (a URL's path and query, which
    uvicorn logs as sent: ``%22370102…%22``, ``%2B86137…``).

    The text comes back as given but for the digits that make each number, each
    replaced by ``*`` (an escaped one, ``%33``, by one ``*`` too)."""
    masked = _PERSONAL.sub(_masked_match, text)
    if "%" in masked and _ESCAPE.search(masked):
        # Line by line: a URL holds no line break, and the lines of a traceback
        # without an escape are not decoded for nothing.
        masked = "\n".join(_redact_escaped(line) for line in masked.split("\n"))
    return masked


def _masked_match(match: re.Match[str]) -> str:
    if _in_uuid(match.string, match.start(), match.end()):
        return match.group(0)
    return _mask_of(match)


def _mask_of(match: re.Match[str]) -> str:
    """The match masked, of its length: what stays and what is hidden of the number."""
    mobile = match.group("mobile")
    if mobile is not None:
        masked = _mask_grouped(mobile) if match.group("sep") else mask_mobile(mobile)
        return (match.group("code") or "") + masked
    return mask_id_number(match.group("permit") or match.group("id"))


def _mask_grouped(mobile: str) -> str:
    """A mobile written in groups (``137 3333 4444``): its digits masked as
    ``mask_mobile`` masks them, the separators kept."""
    digits = [i for i, c in enumerate(mobile) if c.isdigit()]
    hidden = set(digits[3:-4])
    return "".join("*" if i in hidden else c for i, c in enumerate(mobile))


def _in_uuid(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies within a uuid standing alone (``UUID_LIKE``).

    Asked only of a run that reads as a number, so the common text (no such run)
    pays nothing for it: the neighbourhood of hex digits and dashes is looked at."""
    lo = start
    while lo > 0 and text[lo - 1] in _UUID_CHARS:
        lo -= 1
    hi = end
    while hi < len(text) and text[hi] in _UUID_CHARS:
        hi += 1
    if hi - lo < 32:
        return False
    return any(m.start() <= start and end <= m.end() for m in UUID_LIKE.finditer(text, lo, hi))


def _redact_escaped(text: str) -> str:
    """``text`` with the numbers its percent-decoded forms hold masked in place.

    Each decoded character knows the span of ``text`` it came from (one character,
    or an escape); a masked character masks its span, which an escape writes as one
    ``*``. Decoded again while escapes remain (an escape escaped), up to ``_DECODINGS``.
    Most such text holds none (a URL with a space or a quote): found by decoding
    alone, before any span is kept."""
    if "%" not in text or not _holds_escaped_number(text):
        return text
    spans = [(i, i + 1) for i in range(len(text))]
    current = text
    hidden: set[tuple[int, int]] = set()
    for _ in range(_DECODINGS):
        decoded = _decode(current, spans)
        if decoded is None:
            break
        current, spans = decoded
        for match in _PERSONAL.finditer(current):
            if _in_uuid(current, match.start(), match.end()):
                continue
            masked = _mask_of(match)
            for offset, char in enumerate(masked):
                if char != current[match.start() + offset]:
                    hidden.add(spans[match.start() + offset])
        if "%" not in current:
            break
    if not hidden:
        return text
    out: list[str] = []
    at = 0
    for lo, hi in sorted(hidden):
        if lo < at:  # overlapping a span already hidden (an escape escaped)
            at = max(at, hi)
            continue
        out += [text[at:lo], "*"]
        at = hi
    out.append(text[at:])
    return "".join(out)


def _holds_escaped_number(text: str) -> bool:
    current = text
    for _ in range(_DECODINGS):
        decoded = _ESCAPE.sub(_unescape, current)
        if decoded == current:
            return False
        if any(not _in_uuid(decoded, m.start(), m.end()) for m in _PERSONAL.finditer(decoded)):
            return True
        if "%" not in decoded:
            return False
        current = decoded
    return False


def _unescape(escape: re.Match[str]) -> str:
    return chr(int(escape.group(1), 16))


def _decode(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]] | None:
    """``text`` percent-decoded once (each escape a character of its byte's value), with
    each character's span in the original text; None when it holds no escape."""
    chars: list[str] = []
    decoded_spans: list[tuple[int, int]] = []
    at = 0
    for escape in _ESCAPE.finditer(text):
        chars += text[at : escape.start()]
        decoded_spans += spans[at : escape.start()]
        chars.append(chr(int(escape.group(1), 16)))
        decoded_spans.append((spans[escape.start()][0], spans[escape.end() - 1][1]))
        at = escape.end()
    if not chars and at == 0:
        return None
    chars += text[at:]
    decoded_spans += spans[at:]
    return "".join(chars), decoded_spans


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
