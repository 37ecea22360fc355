"""The bounded JSON reader and the error shaping, as pure logic: where the bounds fall,
and what of graphql-core's words reaches a client."""

from __future__ import annotations

import json

import pytest
import strawberry
from graphql import GraphQLError, OperationDefinitionNode, parse

from gateway.errors import client_error, names_only
from gateway.http.body import JsonRefused, check_bounds, load_bounded
from gateway.schema import GatewaySchema

DEPTH, VALUES = 32, 20_000


def nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


def code(data: bytes) -> str | None:
    refusal = check_bounds(data, max_depth=DEPTH, max_values=VALUES)
    return refusal.code if refusal else None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (nested(DEPTH), None),
        (nested(DEPTH + 1), "JSON_TOO_DEEP"),
        (nested(50_000), "JSON_TOO_DEEP"),
        (b"[" * 50_000, "JSON_TOO_DEEP"),
        # Deep without a long run of openings: found by peeling levels.
        (("[[]," * (DEPTH + 1) + "1" + "]" * (DEPTH + 1)).encode(), "JSON_TOO_DEEP"),
        (("[[]," * (DEPTH - 1) + "1" + "]" * (DEPTH - 1)).encode(), None),
        # Brackets inside strings are not structure, escaped quotes included.
        (json.dumps({"q": "[" * 5_000 + '\\"' + "{" * 5_000}).encode(), None),
        (json.dumps(list(range(VALUES - 1))).encode(), None),
        (json.dumps(list(range(VALUES + 1))).encode(), "JSON_TOO_LARGE"),
        (json.dumps([{"a": [1]}] * 7_000).encode(), "JSON_TOO_LARGE"),
        (b"[[[}", None),  # unbalanced: left to the parser
    ],
    ids=[
        "at-the-limit",
        "one-over",
        "50000",
        "50000-unclosed",
        "wide-and-deep",
        "wide-at-the-limit",
        "brackets-in-strings",
        "values-at-the-limit",
        "values-over",
        "objects-over",
        "unbalanced",
    ],
)
def test_bounds(data: bytes, expected: str | None) -> None:
    assert code(data) == expected


MEGABYTE = 1024 * 1024  # the body limit


# Bodies of the body limit's size that a scan done badly takes minutes or hours over:
# nesting peeled a level a pass, and strings left unclosed, which a backtracking
# pattern tried again from every quote inside them (3.3 s for 32 KB, growing with the
# square of the length). The scan is a handful of passes over the bytes: milliseconds.
# The time is bounded by a timeout, not measured: one that ran over ends the test's
# process (a regular expression is not interrupted by a signal).
@pytest.mark.timeout(20, method="thread")
@pytest.mark.parametrize(
    ("body", "expected", "parses"),
    [
        (json.dumps({"query": "{ a }", "variables": {"v": [[1, [2]]] * 40_000}}), None, True),
        ('{"query": "' + '\\"' * (MEGABYTE // 2 - 8), None, False),
        ('{"query": "' + "\\" * (MEGABYTE - 16), None, False),
        ('"' * MEGABYTE, None, False),
        ('"\\' * (MEGABYTE // 2), None, False),
        ('"a' * (MEGABYTE // 2), None, False),
        ('{"query": "\\"' + "[" * (MEGABYTE - 16), None, False),
        ("[" * 100 + '"' + "]" * 100, "JSON_TOO_DEEP", False),
    ],
    ids=[
        "nested-lists",
        "escaped-quotes-unclosed",
        "backslashes-unclosed",
        "quotes",
        "quote-backslash",
        "quote-letter",
        "brackets-in-an-unclosed-string",
        "an-unclosed-string-after-the-structure",
    ],
)
def test_the_scan_of_a_megabyte_is_a_few_passes(
    body: str, expected: str | None, parses: bool
) -> None:
    data = body.encode()
    assert len(data) <= MEGABYTE
    refusal = check_bounds(data, max_depth=DEPTH, max_values=10**9)
    assert (refusal.code if refusal else None) == expected
    if parses:
        assert load_bounded(data, max_depth=DEPTH, max_values=10**9)
    else:
        with pytest.raises(JsonRefused):
            load_bounded(data, max_depth=DEPTH, max_values=10**9)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a": ', "INVALID_JSON"),
        (b'{"a": "\xff"}', "INVALID_JSON"),
        (b"[" * 50_000 + b"1", "JSON_TOO_DEEP"),
        # Python's reader takes these; JSON has no such values.
        (b'{"a": NaN}', "INVALID_JSON"),
        (b"[Infinity]", "INVALID_JSON"),
        (b'{"a": -Infinity}', "INVALID_JSON"),
    ],
)
def test_load_refuses_with_a_code(data: bytes, expected: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        load_bounded(data, max_depth=DEPTH, max_values=VALUES)
    assert refused.value.refusal.code == expected


def test_load_reads_what_is_within_bounds() -> None:
    assert load_bounded('{"a": [1, {"b": "]"}]}', max_depth=DEPTH, max_values=VALUES) == {
        "a": [1, {"b": "]"}]
    }


def test_names_only_keeps_names_and_drops_values() -> None:
    assert (
        names_only("Cannot query field 'nope' on type 'Query'. Did you mean 'Employer.name'?")
        == "Cannot query field 'nope' on type 'Query'. Did you mean 'Employer.name'?"
    )
    assert names_only("Expected '[IdType!]!', found \"张三 110101199003077777\".") == (
        "Expected '[IdType!]!', found '…'."
    )
    assert "110101199003077777" not in names_only("Unknown type 'X110101199003077777'.")


@strawberry.input
class Contract:
    start_date: strawberry.Maybe[str] = None


@strawberry.type
class Query:
    @strawberry.field
    def hire(self, when: list[Contract], on: str = "") -> int:
        return len(when)


async def test_a_variable_error_names_the_path_inside_the_variable() -> None:
    # The gateway's schema: Strawberry's own logs every error with its message.
    schema = GatewaySchema(query=Query)
    result = await schema.execute(
        "query($w: [Contract!]!) { hire(when: $w) }",
        variable_values={"w": [{"startDate": "ok"}, {"startDate": {"n": "13800138000"}}]},
    )
    [error] = [client_error(e) for e in result.errors or []]
    assert error.extensions == {
        "code": "BAD_INPUT",
        "message_en": "The value of variable $w does not fit its type [Contract!]! at "
        "$w[1].startDate.",
        "message_zh": "变量 $w 的值在 $w[1].startDate 处不符合其类型 [Contract!]!。",
        "field": "w[1].startDate",
    }
    assert error.locations


# graphql-core's words are read with patterns: one that split a run of letters into
# names in every way took twice as long for every letter more where the path did
# not end as expected. Bounded by a timeout, not measured (see above).
@pytest.mark.timeout(20, method="thread")
def test_a_variable_path_of_any_length_is_read_at_once() -> None:
    document = parse("query($w: [Contract!]!) { hire(when: $w) }")
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    [node] = operation.variable_definitions or ()
    message = "Variable '$w' has invalid value at ." + "a" * 60 + "! and no colon"
    error = client_error(GraphQLError(message, nodes=[node]))
    assert error.extensions is not None
    assert error.extensions["code"] == "BAD_INPUT"
    assert "aaaa" not in error.message


def test_an_unexpected_error_is_internal_without_its_text() -> None:
    error = client_error(
        GraphQLError("db.internal:5432", path=["a"], original_error=KeyError("db.internal"))
    )
    assert error.extensions is not None
    assert error.extensions["code"] == "INTERNAL"
    assert "db.internal" not in str(error.formatted)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('Unknown operation named "Q110101199003077777".', "OPERATION_NOT_FOUND"),
        ("Must provide operation name if query has several.", "OPERATION_NAME_REQUIRED"),
        ("Must provide an operation.", "GRAPHQL_VALIDATION_FAILED"),
        ("Value cannot represent a Date: '2026-02-30'. day is out of range", "BAD_INPUT"),
    ],
)
def test_graphql_cores_words_without_a_node_are_coded(message: str, expected: str) -> None:
    error = client_error(GraphQLError(message))
    assert error.extensions is not None
    assert error.extensions["code"] == expected
    assert "110101199003077777" not in str(error.formatted)
    assert "2026-02-30" not in str(error.formatted)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (r'{"variables": {"i": {"displayName": "\ud800"}}}', "variables.i.displayName"),
        (r'{"variables": {"p": "ab\udc00"}}', "variables.p"),  # a low half alone
        (r'{"variables": {"p": "\udc00\ud800"}}', "variables.p"),  # the halves reversed
        (r'{"variables": {"w": [{"n": "ok"}, {"n": "\ud83d"}]}}', "variables.w[1].n"),
        (r'{"variables": {"\ud800": 1}}', "variables"),  # a key is a string too
        (r'{"variables": {"an ID 110101199003077777": ["\ud800"]}}', "variables.?[0]"),
        (r'"\ud800"', "the request"),
        (r'{"query": "{ a }", "variables": {"n": "37\u0000"}}', "variables.n"),  # NUL
        (r'{"variables": {"n\u0000": "x"}}', "variables"),
    ],
)
def test_a_character_no_text_may_hold_is_refused_where_it_is(data: str, where: str) -> None:
    with pytest.raises(JsonRefused) as refused:
        load_bounded(data, max_depth=DEPTH, max_values=VALUES)
    assert refused.value.refusal.code == "INVALID_CHARACTER"
    assert refused.value.refusal.field == where
    assert refused.value.refusal.error()["extensions"]["field"] == where
    assert where in refused.value.refusal.message_en
    assert where in refused.value.refusal.message_zh


def test_whole_characters_spelt_in_halves_are_taken() -> None:
    # A pair of escapes is one character (a rare hanzi beyond the BMP, an emoji), and
    # an escaped backslash before "ud800" is text.
    data = r'{"n": "\ud840\udc00", "e": "\uD83D\uDE00", "t": "\\ud800"}'
    assert load_bounded(data, max_depth=DEPTH, max_values=VALUES) == {
        "n": "\U00020000",
        "e": "\U0001f600",
        "t": "\\ud800",
    }
