"""Strawberry types and thin resolvers over the unified domain.

The schema is also an Apollo Federation 2 subgraph: ``Employer`` is an entity
keyed by its credit code, ``Worker`` by ID type and number.

:func:`build_schema` takes the request limits and what the schema discloses of
itself (:mod:`gateway.schema.limits`); the defaults are the production profile.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from typing import Annotated, Any, cast

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types import Info as StrawberryInfo
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from gateway.errors import (
    MASKED_MESSAGE,
    GatewayError,
    bad_input,
    client_error,
    log_store_unreachable,
    operation_errors,
    store_unreachable,
)
from gateway.observability.graphql import GraphQLMetrics
from gateway.schema.arguments import REGISTRATION_ID
from gateway.schema.context import Info
from gateway.schema.employer import Employer
from gateway.schema.limits import Disclosure, RequestLimits, schema_config, schema_extensions
from gateway.schema.mutation import Mutation
from gateway.schema.query import Query
from gateway.schema.registrations import Registration, follow
from gateway.schema.worker import ReportSystemFailures, Worker


def _should_mask(error: GraphQLError) -> bool:
    """Whether an error is unexpected (masked as ``INTERNAL``, logged by its stack):
    anything that is neither one of the gateway's own errors nor graphql-core's
    words about the document or the variables."""
    original = error.original_error
    if original is None:
        return False  # parse and validation errors speak of the query itself
    if isinstance(original, operation_errors()):
        # No operation to run as sent (no query, an operationName naming nothing, a
        # kind not allowed here): the caller's request, answered with its code. The
        # streaming transports (WebSocket, server-sent events, multipart) hand these
        # to ``process_errors``, which logged each at ERROR with its stack.
        return False
    if error.path is None and isinstance(original, GraphQLError):
        # Variable values that cannot be coerced: graphql-core's own words about the
        # caller's input, with its cause attached. Nothing was executed (no path).
        return False
    return not isinstance(original, GatewayError)


logger = logging.getLogger("gateway.schema")


def _store_unreachable_logged(error: BaseException) -> bool:
    """Whether ``error`` is the gateway's store not reached (answered
    ``STORE_UNAVAILABLE``): then logged as an outage, once a minute, by its type and
    without a stack, rather than as an unexpected error at every request."""
    reason = store_unreachable(error)
    if reason is None:
        return False
    log_store_unreachable(logger, reason)
    return True


__all__ = ["MASKED_MESSAGE", "GatewaySchema", "Subscription", "build_schema"]


def _client_errors(result: Any) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [client_error(e) for e in errors]


@strawberry.type(description="What a front end can follow without polling (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(
        description="登记进度: the registration now, then again at every change of its state or "
        "of a step, until it is completed, compensated, cancelled or needs attention."
    )
    async def registration_updates(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=REGISTRATION_ID)],
    ) -> AsyncGenerator[Registration, None]:
        async for update in follow(info.context, str(id)):
            yield update


_ENTITY_KEYS = {"Employer": ("creditCode",), "Worker": ("idType", "idNumber")}


def _representation_problem(representation: Any) -> GatewayError | None:
    """Why a federation representation cannot be resolved, as a client error."""
    if not isinstance(representation, dict):
        return bad_input("representations", "A representation is an object.", "实体表示须为对象。")
    keys = _ENTITY_KEYS.get(representation.get("__typename"))  # type: ignore[arg-type]
    if keys is None:
        return bad_input(
            "representations",
            "A representation names Employer or Worker in __typename.",
            "实体表示的 __typename 须为 Employer 或 Worker。",
        )
    if not all(isinstance(representation.get(k), str) for k in keys):
        return bad_input(
            "representations",
            f"A {representation['__typename']} representation gives {' and '.join(keys)}.",
            f"{representation['__typename']} 实体表示须提供 {'、'.join(keys)}。",
        )
    return None


class GatewaySchema(strawberry.federation.Schema):
    # The annotations are the parent's: Strawberry builds ``_entities`` from them.
    def entities_resolver(
        self, info: StrawberryInfo, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Each representation checked on its own: a malformed one is a client error in
        its place, and does not keep the others from being resolved."""
        results: list[FederationAny] = []
        for representation in representations:
            problem = _representation_problem(representation)
            if problem is not None:
                results.append(cast(FederationAny, problem))
            else:
                one = cast(FederationAny, dict(cast(dict[str, Any], representation)))
                results.extend(super().entities_resolver(info, [one]))
        return results

    def __init__(self, *args: Any, field_suggestions: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_suggestions = field_suggestions

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's execute, every error given the gateway's shape on the way out
        (:func:`gateway.errors.client_error`), also those raised in an extension's
        hook (a parser's RecursionError, a rule's KeyError on a document it did not
        expect), which Strawberry turns into errors after every extension has run."""
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        _client_errors(result)
        return result

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """Strawberry's stream (every operation over a WebSocket), each result given
        the gateway's shape as execute's are."""
        results = await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )
        return _shaped_stream(results)

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        # Validation hides suggestions (gateway.schema.limits); variable values are
        # coerced at execution, where an unknown enum value would get a "Did you mean".
        if not self.field_suggestions:
            kwargs["hide_suggestions"] = True
        return kwargs

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors only, by type, path and stack, never with their
        message or the query document: either may hold an ID number typed inline.
        The gateway's own errors are answers to the client, not incidents."""
        for error in errors:
            original = error.original_error
            if original is None or not _should_mask(error):
                continue
            if not _store_unreachable_logged(original):
                stack = "".join(traceback.format_tb(original.__traceback__))
                logger.error("unexpected %s at %s\n%s", type(original).__name__, error.path, stack)


async def _shaped_stream(results: StreamResult) -> StreamResult:
    try:
        async for result in results:
            _client_errors(result)
            yield result
    except Exception as exc:
        # Strawberry's stream lets what a parsing hook raises escape (the parser
        # cache's syntax error, a RecursionError): answered as execute answers it.
        error = exc if isinstance(exc, GraphQLError) else GraphQLError("", original_error=exc)
        if _should_mask(error) and not _store_unreachable_logged(exc):
            stack = "".join(traceback.format_tb(exc.__traceback__))
            logger.error("unexpected %s in a stream\n%s", type(exc).__name__, stack)
        yield PreExecutionError(data=None, errors=[client_error(error)])
    finally:
        aclose = getattr(results, "aclose", None)
        if aclose is not None:
            await aclose()


def build_schema(
    limits: RequestLimits | None = None,
    disclosure: Disclosure | None = None,
    *,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> GatewaySchema:
    """The schema; without arguments, the production profile and the default limits.
    ``extensions`` run after the gateway's own; the last of these counts each
    operation in the metrics of the gateway serving it (its context's).

    Without ``extensions`` the schema holds nothing of one app's, so that it is
    built once per process for each ``limits`` and ``disclosure`` (both frozen):
    building one takes 10 to 30 ms of CPU, paid by every app a test makes."""
    limits = limits or RequestLimits()
    disclosure = disclosure or Disclosure()
    if not extensions:
        return _shared_schema(limits, disclosure)
    return _schema(limits, disclosure, extensions)


@functools.lru_cache(maxsize=16)
def _shared_schema(limits: RequestLimits, disclosure: Disclosure) -> GatewaySchema:
    return _schema(limits, disclosure, ())


def _schema(
    limits: RequestLimits,
    disclosure: Disclosure,
    extensions: Sequence[Callable[[], SchemaExtension]],
) -> GatewaySchema:
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Employer, Worker],
        federation_version="2.5",
        config=schema_config(limits),
        field_suggestions=disclosure.field_suggestions,
        extensions=[
            # The limits come first, with the parser and validation caches: front ends
            # send the same few documents again and again, parsed and validated once.
            *schema_extensions(limits, disclosure),
            ReportSystemFailures,
            *extensions,
            # Last: it sees the errors as the extensions before it left them.
            GraphQLMetrics,
        ],
    )
