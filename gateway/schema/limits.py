"""What the schema refuses before it executes anything, and what it tells about itself.

:class:`RequestLimits` bounds one request: its body, its tokens, depth, aliases,
root fields, page sizes and estimated cost, and whether several operations may
come in one request. :class:`Disclosure` says what the schema reveals of itself:
introspection, "Did you mean ...?" suggestions, the federation SDL.
:func:`schema_extensions` turns both into Strawberry extensions, in the order
they must run.

Each refusal is a :class:`~gateway.errors.GatewayError` with a stable
``extensions.code``, raised before a resolver runs:

=====================  ======================================================
code                   when
=====================  ======================================================
DOCUMENT_TOO_LONG      the document has more than ``max_document_length``
                       characters; refused before it is read
TOO_MANY_TOKENS        the document has more lexical tokens (comments count)
                       than ``max_tokens``; the parser stops at the first
                       token over, so an oversized document is never built
QUERY_TOO_DEEP         fields nest deeper than ``max_depth`` (measured as
                       Strawberry's ``QueryDepthLimiter`` does: the root fields
                       are at depth 0, introspection fields do not count)
TOO_MANY_ALIASES       more than ``max_aliases`` aliases in the document
TOO_MANY_ROOT_FIELDS   an operation selects more than ``max_root_fields`` root
                       fields (``__typename`` aside)
PAGE_TOO_LARGE         a ``first`` or ``last`` argument over
                       ``max_page_size``, literal or in a variable
TOO_MANY_REPRESENTATIONS  ``_entities`` asked for more than ``max_page_size``
                       entities (its ``representations``): a router asks for a
                       page's entities at most; each is looked up in the systems
QUERY_TOO_COSTLY       the estimated cost is over ``max_cost``
INTROSPECTION_DISABLED ``__schema``/``__type`` (or ``_service`` when the SDL is
                       not published) while introspection is off
=====================  ======================================================

The cost estimate counts every field the operation selects, each multiplied by
the page sizes of the paginated fields above it: a field that takes ``first``
or ``last`` multiplies what it contains by that value, or by the argument's
default when the query leaves it out (``max_page_size`` when it has none), and
``_entities`` by the number of its representations. It is
the scheme GitHub uses for its GraphQL API. Plain lists (a worker's records, the
code tables) are bounded by the data, not by the caller, and count once.

Page sizes and cost depend on variables, which validation does not see, so they
are checked in the ``on_execute`` hook: after validation, before execution.

Tokens are counted by the parser itself (Strawberry's ``MaxTokensLimiter``), which
stops at the first token over the limit; depth, aliases and root fields by one
validation rule (:func:`shape_rule`) rather than Strawberry's limiters, whose
walks are exponential in the length of some documents (see :class:`_Shape`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from graphql import (
    ArgumentNode,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    validate,
)
from graphql.error import GraphQLSyntaxError
from graphql.utilities import get_operation_ast
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
)
from strawberry.extensions.validation_cache import ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from gateway.domain.limits import invalid_text
from gateway.errors import GatewayError, invalid_character
from gateway.profile import Disclosure, RequestLimits

#: Arguments that set how many items a paginated field returns.
PAGE_ARGUMENTS = ("first", "last")
#: Fields whose list argument says how many items they return, each found anew.
LIST_ARGUMENTS = {"_entities": "representations"}


# The refusals. Numbers in the messages are the limits, never anything the caller sent.


def document_too_long(limit: int) -> GatewayError:
    return GatewayError(
        "DOCUMENT_TOO_LONG",
        f"The document is longer than {limit} characters.",
        f"查询文档超过 {limit} 个字符。",
        limit=limit,
    )


def too_many_tokens(limit: int) -> GatewayError:
    return GatewayError(
        "TOO_MANY_TOKENS",
        f"The document has more than {limit} tokens.",
        f"查询文档超过 {limit} 个词法单元。",
        limit=limit,
    )


def query_too_deep(limit: int) -> GatewayError:
    return GatewayError(
        "QUERY_TOO_DEEP",
        f"The query nests fields deeper than {limit} levels.",
        f"查询字段嵌套超过 {limit} 层。",
        limit=limit,
    )


def too_many_aliases(limit: int) -> GatewayError:
    return GatewayError(
        "TOO_MANY_ALIASES",
        f"The document has more than {limit} aliases.",
        f"查询文档的别名超过 {limit} 个。",
        limit=limit,
    )


def too_many_root_fields(limit: int) -> GatewayError:
    return GatewayError(
        "TOO_MANY_ROOT_FIELDS",
        f"An operation may select at most {limit} root fields; split the request.",
        f"一个操作最多选择 {limit} 个根字段，请拆分请求。",
        limit=limit,
    )


def page_too_large(argument: str, limit: int) -> GatewayError:
    return GatewayError(
        "PAGE_TOO_LARGE",
        f"{argument} may be at most {limit}.",
        f"{argument} 最大为 {limit}。",
        limit=limit,
        field=argument,
    )


def too_many_representations(limit: int) -> GatewayError:
    return GatewayError(
        "TOO_MANY_REPRESENTATIONS",
        f"_entities resolves at most {limit} representations in one request.",
        f"_entities 一次最多解析 {limit} 个实体表示。",
        limit=limit,
    )


def query_too_costly(limit: int) -> GatewayError:
    return GatewayError(
        "QUERY_TOO_COSTLY",
        f"The query would fetch too much (estimated cost over {limit}); ask for smaller "
        "pages or fewer fields.",
        f"查询数据量过大（估算成本超过 {limit}），请减小分页或减少字段。",
        limit=limit,
    )


def introspection_disabled() -> GatewayError:
    return GatewayError(
        "INTROSPECTION_DISABLED",
        "Introspection is disabled; the schema is documented for integrators.",
        "内省查询已关闭，接口说明请见对接文档。",
    )


# Validation rules


class _RecodingContext:
    """A validation context whose errors are replaced by the gateway's coded ones."""

    def __init__(self, context: ValidationContext, recode: Callable[[GraphQLError], GraphQLError]):
        self._context = context
        self._recode = recode
        self._reported = False

    def report_error(self, error: GraphQLError) -> None:
        # Once per document: the limiters report every field past the limit, and the
        # caller needs to hear of the limit once.
        if not self._reported:
            self._reported = True
            # Keep where in the document the problem is: a client's editor points at it.
            self._context.report_error(_located(self._recode(error), error))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _located(coded: GraphQLError, original: GraphQLError) -> GraphQLError:
    return GraphQLError(
        coded.message,
        nodes=original.nodes,
        source=original.source,
        positions=original.positions,
        extensions=dict(coded.extensions or {}),
    )


def coded_rule(
    rule: type[ASTValidationRule], error: Callable[[], GraphQLError]
) -> type[ASTValidationRule]:
    """``rule`` reporting ``error()`` (where ``rule`` found its problem) instead of its own."""

    class Coded(rule):  # type: ignore[valid-type, misc]
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(cast(ValidationContext, _RecodingContext(context, lambda _: error())))

    Coded.__name__ = Coded.__qualname__ = f"Coded{rule.__name__}"
    return Coded


class _Shape:
    """Depth, aliases and root fields of a document, each fragment measured once.

    Strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` measure a fragment
    again at every spread of it: a chain of fragments each spreading the next twice
    takes them time exponential in its length (16 fragments take a second, 30 take
    hours), in a document well within the token limit. The measures are the same
    (introspection fields do not count towards depth, as there); memoised, they cost
    one walk of the document.
    """

    def __init__(self, document: DocumentNode, cap: int) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.cap = cap  # counts stop growing here: 2**200 aliases is just "too many"
        self._memo: dict[tuple[str, str], int] = {}

    def _spread(self, measure: str, name: str, walk: Callable[[SelectionSetNode], int]) -> int:
        key = (measure, name)
        if key not in self._memo:
            fragment = self.fragments.get(name)
            self._memo[key] = 0  # a cycle (refused by validation anyway) counts nothing
            if fragment is not None:
                self._memo[key] = min(self.cap, walk(fragment.selection_set))
        return self._memo[key]

    def depth(self, selection_set: SelectionSetNode) -> int:
        """The depth of the deepest field, the root fields being at depth 0."""
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is not None and not selection.name.value.startswith(
                    "__"
                ):
                    deepest = max(deepest, 1 + self.depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._spread("depth", selection.name.value, self.depth))
        return min(self.cap, deepest)

    def aliases(self, selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.alias is not None
                if selection.selection_set is not None:
                    count += self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._spread("aliases", selection.name.value, self.aliases)
        return min(self.cap, count)

    def root_fields(self, selection_set: SelectionSetNode) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += selection.name.value != "__typename"
            elif isinstance(selection, InlineFragmentNode):
                count += self.root_fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._spread("root", selection.name.value, self.root_fields)
        return min(self.cap, count)


def shape_rule(limits: RequestLimits) -> type[ValidationRule]:
    """Refuses documents too deep, with too many aliases, or too many root fields."""
    cap = 1 + max(limits.max_depth, limits.max_aliases, limits.max_root_fields)

    class ShapeRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations = [
                d for d in context.document.definitions if isinstance(d, OperationDefinitionNode)
            ]
            try:
                self._measure(_Shape(context.document, cap), operations)
            except RecursionError:
                # Fragments spread in a chain longer than the interpreter's stack: a
                # document too deep to measure is too deep (possible only with a token
                # limit far above the default).
                self._refuse(query_too_deep(limits.max_depth), operations[0])

        def _measure(self, shape: _Shape, operations: list[OperationDefinitionNode]) -> None:
            for operation in operations:
                if shape.depth(operation.selection_set) > limits.max_depth:
                    self._refuse(query_too_deep(limits.max_depth), operation)
                    break
            # Counted over the whole document, as Strawberry's MaxAliasesLimiter does.
            aliases = sum(shape.aliases(operation.selection_set) for operation in operations)
            if aliases > limits.max_aliases:
                self._refuse(too_many_aliases(limits.max_aliases), operations[0])
            for operation in operations:
                if shape.root_fields(operation.selection_set) > limits.max_root_fields:
                    self._refuse(too_many_root_fields(limits.max_root_fields), operation)
                    break

        def _refuse(self, error: GraphQLError, node: OperationDefinitionNode) -> None:
            self.report_error(_located(error, GraphQLError("", node)))

    return ShapeRule


class _TextRule(ValidationRule):
    """A string in the document holding NUL (``"\\u0000"``): graphql-core reads it, no
    store takes it (PostgreSQL's text refused it after the checks, INTERNAL). Half a
    character never gets here: the parser refuses it. Variables are checked as the
    request's JSON is read (``gateway/http/body.py``)."""

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: list[Any]
    ) -> None:
        if invalid_text(node.value):
            above = [*ancestors, parent]  # the argument or input field holding it, and above
            names = [a.name.value for a in above if isinstance(a, ArgumentNode | ObjectFieldNode)]
            where = ".".join(names) or "the document"
            refusal = invalid_character(where)
            coded = GatewayError(refusal.code, refusal.message_en, refusal.message_zh, field=where)
            self.report_error(_located(coded, GraphQLError("", node)))


class _NoServiceSdlRule(ValidationRule):
    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.context.get_parent_type()
        if (
            node.name.value == "_service"
            and parent is not None
            and parent is self.context.schema.query_type
        ):
            self.report_error(_located(introspection_disabled(), GraphQLError("", node)))


# Extensions


class TokenLimitedParserCache(ParserCache):
    """Strawberry's parser cache, refusing a document longer than ``max_length``
    before the parser sees it, and reporting the token limit with the gateway's code.

    ``MaxTokensLimiter`` hands ``max_tokens`` to the parser, which stops at the first
    token over it; the parser then says so in a syntax error, recognised here by the
    limit it names.
    """

    def __init__(self, max_tokens: int, max_length: int, maxsize: int | None = 512) -> None:
        super().__init__(maxsize=maxsize)
        self.max_tokens = max_tokens
        self.max_length = max_length

    def on_parse(self) -> Iterator[None]:
        query = self.execution_context.query or ""
        if len(query) > self.max_length:
            raise document_too_long(self.max_length)
        try:
            yield from super().on_parse()
        except GraphQLSyntaxError as error:
            if f"more than {self.max_tokens} tokens" in error.message:
                raise too_many_tokens(self.max_tokens) from None
            raise


class QuietValidationCache(ValidationCache):
    """Strawberry's validation cache, without "Did you mean ...?" in the errors.

    Suggestions list the names of fields, arguments and enum values near what the
    caller typed: introspection by guessing.
    """

    def __init__(self, maxsize: int | None = 512) -> None:
        super().__init__(maxsize=maxsize)

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        assert ec.graphql_document is not None
        ec.pre_execution_errors = _validate_quietly(
            ec.schema._schema, ec.graphql_document, ec.validation_rules
        )
        yield


@lru_cache(maxsize=512)
def _validate_quietly(
    schema: GraphQLSchema, document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    # The same rules as Strawberry's validate_document, which adds its own two.
    every_rule = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, every_rule, hide_suggestions=True)


class PageAndCostLimits(SchemaExtension):
    """``first``/``last`` and the estimated cost, with the variables' values."""

    def __init__(self, max_page_size: int, max_cost: int) -> None:
        self.max_page_size = max_page_size
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        operation = get_operation_ast(document, ec.operation_name) if document is not None else None
        if document is not None and operation is not None:
            check = _Check(
                schema=ec.schema._schema,
                fragments={
                    d.name.value: d
                    for d in document.definitions
                    if isinstance(d, FragmentDefinitionNode)
                },
                variables=_variables(operation, ec.variables or {}),
                max_page_size=self.max_page_size,
                max_cost=self.max_cost,
            )
            root = check.schema.get_root_type(operation.operation)
            if root is not None:
                check.pages(operation.selection_set, frozenset())
                check.cost(operation.selection_set, root, 1)
        yield


def _variables(operation: OperationDefinitionNode, given: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in given:
            values[name] = given[name]
        elif isinstance(definition.default_value, IntValueNode):
            values[name] = int(definition.default_value.value)
    return values


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None  # anything else fails coercion later, with GraphQL's own error


@dataclass
class _Check:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    max_page_size: int
    max_cost: int
    total: int = field(default=0)

    def argument(self, node: FieldNode, name: str) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            if isinstance(argument.value, IntValueNode):
                return int(argument.value.value)
            if isinstance(argument.value, VariableNode):
                return _as_int(self.variables.get(argument.value.name.value))
        return None

    def items(self, node: FieldNode) -> int | None:
        """How many items a field's list argument asks for (``LIST_ARGUMENTS``)."""
        name = LIST_ARGUMENTS.get(node.name.value)
        for argument in node.arguments or ():
            if argument.name.value != name:
                continue
            if isinstance(argument.value, ListValueNode):
                return len(argument.value.values)
            if isinstance(argument.value, VariableNode):
                value = self.variables.get(argument.value.name.value)
                # A single value stands for a list of one (GraphQL's input coercion).
                return len(value) if isinstance(value, list) else 1
        return None

    def pages(self, selection_set: SelectionSetNode, visited: frozenset[str]) -> None:
        """Every page size in the operation; each fragment is looked at once."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                for name in PAGE_ARGUMENTS:
                    value = self.argument(selection, name)
                    if value is not None and value > self.max_page_size:
                        raise page_too_large(name, self.max_page_size)
                items = self.items(selection)
                if items is not None and items > self.max_page_size:
                    raise too_many_representations(self.max_page_size)
                if selection.selection_set is not None:
                    self.pages(selection.selection_set, visited)
            elif isinstance(selection, InlineFragmentNode):
                self.pages(selection.selection_set, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in visited:
                    visited = visited | {name}
                    self.pages(fragment.selection_set, visited)

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        """The page the field asks for: the arguments given, else their defaults, else the
        largest page allowed (the resolver picks a page size the schema does not say)."""
        items = self.items(node)
        if items is not None:
            return max(1, items)
        names = [name for name in PAGE_ARGUMENTS if name in definition.args]
        if not names:
            return 1
        given = [v for v in (self.argument(node, name) for name in names) if v is not None]
        defaults = [
            v
            for v in (_as_int(definition.args[name].default_value) for name in names)
            if v is not None
        ]
        # first: 0 still walks its selections, and every step of the walk must add to
        # the total for the walk to stop.
        return max(1, *(given or defaults or [self.max_page_size]))

    def cost(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, weight: int) -> None:
        """Add to the total, stopping at the limit: fragments spread in several places
        repeat their fields, so a small document can stand for a huge tree."""
        fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                definition = fields.get(name)
                if name.startswith("__") or definition is None:
                    continue
                self.total += weight
                if self.total > self.max_cost:
                    raise query_too_costly(self.max_cost)
                if selection.selection_set is not None:
                    child = get_named_type(definition.type)
                    inner = weight * self.page_size(selection, definition)
                    self.cost(selection.selection_set, child, inner)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                self.cost(selection.selection_set, target or parent, weight)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    self.cost(fragment.selection_set, target or parent, weight)


def schema_extensions(
    limits: RequestLimits, disclosure: Disclosure
) -> list[Callable[[], SchemaExtension]]:
    """The extensions that enforce ``limits`` and ``disclosure``, in their order.

    Factories, not instances: Strawberry builds them afresh for each request.
    """
    rules: list[type[ASTValidationRule]] = [shape_rule(limits), _TextRule]
    if not disclosure.introspection:
        rules.append(coded_rule(NoSchemaIntrospectionCustomRule, introspection_disabled))
    if not disclosure.service_sdl:
        rules.append(_NoServiceSdlRule)
    validation = (
        (lambda: ValidationCache(maxsize=512))
        if disclosure.field_suggestions
        else QuietValidationCache
    )
    return [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: TokenLimitedParserCache(limits.max_tokens, limits.max_document_length),
        lambda: AddValidationRules(rules),
        validation,
        lambda: PageAndCostLimits(limits.max_page_size, limits.max_cost),
    ]


def schema_config(limits: RequestLimits) -> StrawberryConfig:
    """Strawberry's configuration for ``limits``: batching, off unless enabled."""
    if not limits.batching:
        return StrawberryConfig()
    return StrawberryConfig(batching_config={"max_operations": limits.max_batch_operations})


__all__ = [
    "Disclosure",
    "RequestLimits",
    "schema_config",
    "schema_extensions",
]
