"""The graph's documentation, read as a front end reads it (introspection, or
the types it generates): every enum value says what it means, in Chinese and
English. Pure: the schema is built, nothing is served."""

from __future__ import annotations

import re

from graphql import GraphQLEnumType

from gateway.schema import build_schema

#: Enums that are not the gateway's own: GraphQL's introspection and the
#: federation specification's.
FOREIGN = re.compile(r"__.*|link__Purpose")
#: ``中文 · English``: some Chinese, then the English after the separator.
DESCRIBED = re.compile(r"[\u4e00-\u9fff][^·]*· [A-Za-z].*", re.S)


def test_every_enum_value_is_described_in_chinese_and_english() -> None:
    schema = build_schema()._schema
    enums = {
        name: t
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLEnumType) and not FOREIGN.fullmatch(name)
    }
    # Those a front end shows on every registration are among them.
    assert {"RegistrationState", "StepState", "StepKind", "Channel", "AuditResult"} <= set(enums)
    undescribed = [
        f"{name}.{value}"
        for name, enum in enums.items()
        for value, member in enum.values.items()
        if not DESCRIBED.fullmatch(member.description or "")
    ]
    assert undescribed == []


def test_the_exported_form_and_the_graph_call_a_state_alike() -> None:
    from gateway.forms.writing import codes_state

    schema = build_schema()._schema
    state = schema.type_map["RegistrationState"]
    assert isinstance(state, GraphQLEnumType)
    for name, member in state.values.items():
        zh = (member.description or "").split(" · ")[0]
        assert codes_state(name) == f"{zh} {name}"
    assert codes_state("SOMETHING_NEW") == "SOMETHING_NEW"
