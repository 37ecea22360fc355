"""What a request may ask and what the schema says of itself: plain settings.

Kept apart from the schema package (which uses them) so that the configuration
can hold them without importing the whole schema.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """How much one request may ask for. Every limit is refused before execution."""

    max_depth: int = 12
    #: The document, in characters: refused before it is read. The token limit does
    #: not bound one token: a string or a comment of a megabyte took a third of a
    #: second of CPU to read, and the parser cache would have kept 512 of them.
    max_document_length: int = 64 * 1024
    max_tokens: int = 2000
    max_aliases: int = 30
    max_root_fields: int = 10
    max_page_size: int = 100
    max_cost: int = 20_000
    #: The request body (POST), in bytes; refused with 413 before it is parsed.
    max_body_bytes: int = 1024 * 1024
    #: JSON (a body, variables in a GET, a WebSocket message): how deep it may nest,
    #: and about how many values it may hold; refused with 400 before it is parsed.
    max_json_depth: int = 32
    max_json_values: int = 20_000
    #: Several operations in one JSON array. Off: each costs a request of its own.
    batching: bool = False
    max_batch_operations: int = 10
    #: Operations one WebSocket may have running at once (subscriptions, mostly):
    #: each holds a task and reads the store at every turn.
    max_socket_operations: int = 100


@dataclass(frozen=True, slots=True)
class Disclosure:
    """What the schema says about itself. The defaults are the production profile."""

    introspection: bool = False
    field_suggestions: bool = False
    #: Federation's ``_service { sdl }``: the whole schema as SDL, which a supergraph
    #: router reads when it composes at run time. On by default so that a router keeps
    #: working; a deployment that composes offline (``rover supergraph compose`` with
    #: the SDL from a file) turns it off, else the SDL gives away what turning
    #: introspection off hides.
    service_sdl: bool = True

    @classmethod
    def demo(cls) -> Disclosure:
        return cls(introspection=True, field_suggestions=True, service_sdl=True)
