"""Reading a JSON request within bounds: how deep it nests and how many values it holds.

Python's ``json`` recurses once per level of nesting: 50,000 ``[`` in a body well
under the size limit end in a ``RecursionError``, and a few thousand levels that
do parse then make graphql-core recurse as deep again over the variables. No
GraphQL request needs more than a few levels, nor tens of thousands of values, so
both are bounded before the parser runs, by a scan that never recurses:

- strings are removed (a bracket in a string is not structure; an unclosed one
  runs to the end), then everything but brackets and commas;
- more than ``max_depth`` openings in a row nest too deep, ``JSON_TOO_DEEP``,
  closed or not;
- the values are about the commas and the openings: over ``max_values`` is
  ``JSON_TOO_LARGE``;
- innermost pairs are removed, one level a pass: something still removable after
  ``max_depth`` passes nests deeper (``[[],[[]]]`` has no long run of openings).

Each step is a C-level pass over the bytes; a body with no deep nesting costs as
many passes as it is deep. What is unbalanced is left to the parser to refuse.

A string may also spell a character no text may hold: ``\\u0000`` (NUL), which
PostgreSQL's text refuses, or half of one, ``\\ud800`` with no low surrogate after
it, which neither UTF-8, a database nor a password hash takes. Both are JSON to the
parser (RFC 8259 leaves their meaning to the reader) and passed every check, to be
refused by a store or a system after them, as an internal error. Such a value is
``INVALID_CHARACTER``, naming where it is (``variables.i.displayName``); only a
body that spells one at all is walked for it.

Written here because no parser at hand takes these bounds: the standard
library's has none, orjson's depth is fixed at 1,024 (deeper than graphql-core
can then walk), and neither counts values nor refuses those characters.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.domain.limits import invalid_text
from gateway.errors import Refusal, invalid_character

INVALID_JSON = Refusal(
    "INVALID_JSON",
    "The request is not valid JSON.",
    "请求不是有效的 JSON。",
)


def json_too_deep(limit: int) -> Refusal:
    return Refusal(
        "JSON_TOO_DEEP",
        f"The request's JSON nests deeper than {limit} levels.",
        f"请求的 JSON 嵌套超过 {limit} 层。",
    )


def json_too_large(limit: int) -> Refusal:
    return Refusal(
        "JSON_TOO_LARGE",
        f"The request's JSON holds more than {limit} values.",
        f"请求的 JSON 包含的值超过 {limit} 个。",
    )


class JsonRefused(json.JSONDecodeError):
    """A JSON document refused, with the refusal to answer. A ``JSONDecodeError``, so
    that Strawberry's WebSocket transport treats it as a message that is not JSON."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message_en, "", 0)
        self.refusal = refusal


#: A string, from its opening quote to its closing one or, unclosed, to the end of the
#: body. Possessive, and never failing once at a quote: each byte is looked at once.
#: ``"(?:[^"\\]|\\.)*"`` backtracked over an unclosed string and began again at
#: every escaped quote inside it: a body of one quote and 500,000 ``\"`` (1 MB, the
#: body limit) held the event loop for most of an hour, refused as INVALID_JSON at
#: its end (the time grew with the square of the length: 3.3 s for 32 KB).
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
#: How JSON spells NUL or half a character (a surrogate, high or low): a \u escape.
_INVALID_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
#: A GraphQL name (a variable's, an argument's, a field's), as far as it is told back.
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_STRUCTURE = b"[]{},"
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)


def check_bounds(data: bytes, *, max_depth: int, max_values: int) -> Refusal | None:
    """Why ``data`` is refused before parsing, or None when it is within bounds."""
    structure = _STRING.sub(b"", data).translate(None, _NOT_STRUCTURE)
    nesting = structure.translate(None, b",")
    if re.search(rb"[\[{]{%d}" % (max_depth + 1), nesting):
        return json_too_deep(max_depth)  # that many openings in a row, closed or not
    values = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if values > max_values:
        return json_too_large(max_values)
    for _ in range(max_depth):
        if not nesting:
            return None
        inner = nesting.replace(b"[]", b"").replace(b"{}", b"")
        if inner == nesting:
            return None  # unbalanced: the parser refuses it
        nesting = inner
    if nesting and nesting.replace(b"[]", b"").replace(b"{}", b"") != nesting:
        return json_too_deep(max_depth)
    return None


def load_bounded(data: str | bytes, *, max_depth: int, max_values: int) -> Any:
    """``json.loads`` for a client's JSON: :class:`JsonRefused` for anything that is not
    JSON (also bytes that are not UTF-8) or is out of bounds."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    refusal = check_bounds(raw, max_depth=max_depth, max_values=max_values)
    if refusal is not None:
        raise JsonRefused(refusal)
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        # Openings never closed are unbalanced, so not caught by the scan.
        raise JsonRefused(json_too_deep(max_depth)) from None
    except ValueError:  # JSONDecodeError, and UnicodeDecodeError for bytes not UTF-8
        raise JsonRefused(INVALID_JSON) from None
    if _INVALID_ESCAPE.search(raw):  # a pair is one character once parsed; half is not
        where = _invalid_at(value)
        if where is not None:
            raise JsonRefused(invalid_character(where))
    return value


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity``, ``-Infinity``: Python's reader takes them, JSON has none."""
    raise ValueError(name)


def _invalid_at(value: Any) -> str | None:
    """The path of the first key or string in ``value`` holding NUL or an unpaired surrogate
    (``variables.i.displayName``, ``variables.w[2].person.name``), or None. Walked
    with a stack, not recursion: the bounds above keep it small."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if invalid_text(item):
                return path or "the request"
        elif isinstance(item, dict):
            for key, inner in reversed(item.items()):
                if invalid_text(key):
                    return path or "the request"
                # Only names are told back: a key is the caller's text, which may be anything.
                name = key if _NAME.fullmatch(key) else "?"
                stack.append((f"{path}.{name}" if path else name, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", inner) for i, inner in reversed(list(enumerate(item))))
    return None
