"""The graph's documentation, read as a front end reads it (introspection, or
the types it generates): every enum value says what it means, in Chinese and
English, and every field, argument and input field says what it is. Pure: the
schema is built, nothing is served."""

from __future__ import annotations

import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from gateway.schema import build_schema

#: Enums that are not the gateway's own: GraphQL's introspection and the
#: federation specification's.
FOREIGN = re.compile(r"__.*|link__Purpose")
#: Types that are not the gateway's own: GraphQL's introspection and the
#: federation specification's (``_Service``, ``_Any``, ``link__Import``...).
FOREIGN_TYPES = re.compile(r"__.*|link__.*|_Any|_Entity|_FieldSet|_Service")
#: The federation specification's root fields (with their arguments).
FOREIGN_FIELDS = {"Query._service", "Query._entities"}
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


def test_every_field_argument_and_input_field_is_described() -> None:
    """What an integrator reads in GraphiQL's documentation pane or the SDL
    (``{ _service { sdl } }``): nothing of the gateway's own is left blank."""
    schema = build_schema()._schema
    checked: list[str] = []
    undescribed: list[str] = []

    def check(where: str, description: str | None) -> None:
        checked.append(where)
        if not (description or "").strip():
            undescribed.append(where)

    for name, t in schema.type_map.items():
        if FOREIGN_TYPES.fullmatch(name):
            continue
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in t.fields.items():
                if f"{name}.{field_name}" in FOREIGN_FIELDS:
                    continue
                check(f"{name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{name}.{field_name}({arg_name})", arg.description)
        elif isinstance(t, GraphQLInputObjectType):
            for field_name, input_field in t.fields.items():
                check(f"{name}.{field_name}", input_field.description)
    # The walk reaches the roots' arguments, the types' fields and the inputs' fields.
    assert {
        "Mutation.hire(workers)",
        "Employer.workers(first)",
        "Subscription.registrationUpdates(id)",
        "WorkerConnection.totalCount",
        "HireInput.person",
    } <= set(checked)
    assert undescribed == [], "without a description: " + ", ".join(undescribed)


def test_the_exported_form_and_the_graph_call_a_state_alike() -> None:
    from gateway.forms.writing import codes_state

    schema = build_schema()._schema
    state = schema.type_map["RegistrationState"]
    assert isinstance(state, GraphQLEnumType)
    for name, member in state.values.items():
        zh = (member.description or "").split(" · ")[0]
        assert codes_state(name) == f"{zh} {name}"
    assert codes_state("SOMETHING_NEW") == "SOMETHING_NEW"
