"""Strawberry types and thin resolvers over the unified domain.

The schema is also an Apollo Federation 2 subgraph: ``Employer`` is an entity
keyed by its credit code, ``Worker`` by ID type and number.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.types import ExecutionContext

from gateway.errors import GatewayError
from gateway.schema.context import Info
from gateway.schema.employer import Employer
from gateway.schema.mutation import Mutation
from gateway.schema.query import Query
from gateway.schema.registrations import Registration, follow
from gateway.schema.worker import Worker


def _should_mask(error: GraphQLError) -> bool:
    """Mask everything that is not one of the gateway's own errors or a GraphQL
    validation error: no exception text, host, SOAP fault or SQL reaches a client."""
    original = error.original_error
    if original is None:
        return False  # parse and validation errors speak of the query itself
    return not isinstance(original, GatewayError)


logger = logging.getLogger("gateway.schema")


@strawberry.type(description="What a front end can follow without polling (graphql-transport-ws).")
class Subscription:
    @strawberry.subscription(
        description="登记进度: the registration now, then again at every change of its state or "
        "of a step, until it is completed, compensated, cancelled or needs attention."
    )
    async def registration_updates(
        self,
        info: Info,
        id: strawberry.ID,
    ) -> AsyncGenerator[Registration, None]:
        async for update in follow(info.context, str(id)):
            yield update


class GatewaySchema(strawberry.federation.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors only, by type, path and stack, never with their
        message or the query document: either may hold an ID number typed inline.
        The gateway's own errors are answers to the client, not incidents."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, GatewayError):
                continue
            stack = "".join(traceback.format_tb(original.__traceback__))
            logger.error("unexpected %s at %s\n%s", type(original).__name__, error.path, stack)


def build_schema() -> GatewaySchema:
    return GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Employer, Worker],
        federation_version="2.5",
        extensions=[
            # Front ends send the same few documents again and again: parse and
            # validate each once.
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: MaskErrors(
                should_mask_error=_should_mask,
                error_message="Internal error. 内部错误。",
            ),
        ],
    )
