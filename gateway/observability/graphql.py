"""``GraphQLMetrics``, the Strawberry extension that counts and times each GraphQL
operation in a ``GatewayMetrics`` (``gateway.observability.metrics``, which says
what is counted and which labels a client can never choose).

Apart from the metrics themselves so that a process that keeps metrics but
serves no GraphQL (a worker) does not load Strawberry.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.execution import PreExecutionError

from gateway.errors import GatewayError, client_error, operation_errors
from gateway.observability.metrics import CANCELLED, INTERNAL, OK, REFUSED, GatewayMetrics

_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
#: Requests refused before anything ran: the gateway's own errors, and an
#: operation Strawberry cannot pick.
_REQUEST_EXCEPTIONS: tuple[type[Exception], ...] = (GatewayError, *operation_errors())


class GraphQLMetrics(SchemaExtension):
    """Counts and times each operation. Put it last in the schema's extensions: it
    then sees the errors before ``MaskErrors`` replaces them.

    Without ``metrics``, those of the gateway the operation's context belongs to
    (``context.gateway.metrics``; none for an operation run without a gateway):
    the schema then holds nothing of one app's, and apps built alike share it."""

    def __init__(
        self,
        metrics: GatewayMetrics | None = None,
        *,
        execution_context: ExecutionContext | None = None,
    ) -> None:
        self._metrics = metrics

    def on_operation(self) -> Iterator[None]:
        metrics = self._metrics or _gateway_metrics(self.execution_context)
        if metrics is None:
            yield
            return
        start = time.perf_counter()
        failure: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            failure = exc
            raise
        finally:
            context = self.execution_context
            metrics.observe_operation(
                _operation_name(context),
                _operation_type(context),
                _outcome(context, failure),
                time.perf_counter() - start,
            )


def _gateway_metrics(context: ExecutionContext) -> GatewayMetrics | None:
    found = getattr(getattr(context.context, "gateway", None), "metrics", None)
    return found if isinstance(found, GatewayMetrics) else None


def _operation_name(context: ExecutionContext) -> str | None:
    try:
        return context.operation_name
    except Exception:  # a document too broken to name an operation
        return None


def _operation_type(context: ExecutionContext) -> str:
    try:
        return str(context.operation_type.value)
    except Exception:  # no document (it did not parse), or no such operation
        return "unknown"


def _outcome(context: ExecutionContext, failure: BaseException | None) -> str:
    if isinstance(failure, asyncio.CancelledError | GeneratorExit):
        # A subscription whose client closed its stream: nothing went wrong here.
        return CANCELLED
    if failure is not None:
        return REFUSED if isinstance(failure, _REQUEST_EXCEPTIONS) else INTERNAL
    result = context.result
    errors = list((result.errors if result is not None else None) or [])
    if not errors:
        return OK
    if isinstance(result, PreExecutionError) or (
        result is not None and result.data is None and all(e.path is None for e in errors)
    ):
        # Nothing was executed: a parse or validation error, a refused limit,
        # variables that do not fit.
        return REFUSED
    return _error_code(errors[0])


def _error_code(error: GraphQLError) -> str:
    # The code the client is given (gateway.errors.client_error): one of the
    # gateway's own, whatever the error's text.
    code = (client_error(error).extensions or {}).get("code")
    if isinstance(code, str) and _GRAPHQL_NAME.fullmatch(code):
        return code
    return INTERNAL
