"""Every code the gateway answers with is documented (``docs/errors.md`` and the
errors table of ``docs/graph.md``): front ends and clerks act on codes, and one they
cannot look up is one they cannot act on. Pure: the sources are read, nothing runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from gateway.domain.checks import MESSAGES
from gateway.domain.limits import LIMIT_MESSAGES

ROOT = Path(__file__).resolve().parent.parent
CODE = re.compile(r"[A-Z][A-Z0-9_]{3,}")
#: What carries a code as a positional argument: the graph's errors, the refusals
#: before GraphQL, a row's problems, a step's errors.
CARRIERS = {
    "GatewayError",
    "Refusal",
    "error_entry",
    "StepError",
    "Problem",
    "RowProblem",
    "PasswordRefusal",
    "Refused",
}


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def codes_in_sources() -> dict[str, set[str]]:
    """Each code and the files it is given in."""
    found: dict[str, set[str]] = {}
    for path in sorted([*ROOT.glob("gateway/**/*.py"), *ROOT.glob("adapters/**/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = str(path.relative_to(ROOT))
        named = {}  # a module's CODE = "CODE": a code declared by name
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        named[target.id] = node.value.value
                        if target.id == node.value.value and CODE.fullmatch(target.id):
                            found.setdefault(target.id, set()).add(where)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or _called(node) not in CARRIERS:
                continue
            for arg in node.args:
                value = arg.value if isinstance(arg, ast.Constant) else None
                if isinstance(arg, ast.Name):
                    value = named.get(arg.id)
                if isinstance(value, str) and CODE.fullmatch(value):
                    found.setdefault(value, set()).add(where)
    for table in (MESSAGES, LIMIT_MESSAGES):
        for code in table:
            found.setdefault(code, set()).add("gateway/domain")
    return found


def test_every_code_is_documented() -> None:
    docs = "".join(p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("docs/*.md")))
    codes = codes_in_sources()
    # The scan finds what it should: codes of each kind are among them.
    assert {"UNAUTHENTICATED", "ID_NUMBER_CHECKSUM", "TOO_LONG", "OUTCOME_UNKNOWN"} <= set(codes)
    assert {"REGISTRATION_IN_PROGRESS", "DECLARATION_RETURNED", "PAGE_TOO_LARGE"} <= set(codes)
    undocumented = {code: sorted(where) for code, where in codes.items() if f"`{code}`" not in docs}
    assert undocumented == {}
