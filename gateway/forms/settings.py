"""Limits and switches of the form files, read with the gateway's configuration.

The upload limit is the forms' own: a filled workbook is larger than any
GraphQL body, and raising the body limit for it would raise it for every
request. The other limits bound what a small file may unfold into.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FormSettings:
    #: A multipart upload to /graphql, in bytes (refused with 413 above it).
    max_upload_bytes: int = 10 * 1024 * 1024
    #: What the parts of an .xlsx may unfold into, all together. A form of 10,000
    #: rows unfolds into about 20 MB; marking loads it whole, so this bounds memory.
    max_uncompressed_bytes: int = 50 * 1024 * 1024
    #: How many parts an .xlsx may hold.
    max_zip_entries: int = 2000
    #: Rows and columns of the form sheet read at most (a row is one worker).
    max_rows: int = 10_000
    max_columns: int = 64
    #: How long the workbook with its problems marked may be fetched.
    marked_ttl_s: float = 3600.0
    #: Threads of a process that read, check, mark and export forms (work that grows
    #: with the rows; the rest queues for them). The interpreter runs one thread at a
    #: time: more of them write no more workbooks a second, and leave the event loop,
    #: which answers every other request, a smaller share (six exports at once on six
    #: threads: 38 ms for twenty turns of the loop at the median, 255 to 356 ms at the
    #: 95th centile; on one: 5.3 and 11 to 16 ms; ``benchmarks/workbooks.py``).
    workbook_threads: int = 1
    #: The systems switched on: the form carries the columns they add to the row
    #: (``SystemSpec.row_fields``). Set from the gateway's systems, not a setting.
    systems: tuple[str, ...] = ()
    #: What the instructions sheet says of the columns those systems add: asked of
    #: their rules, with their settings (``gateway.forms.instructions``). Set with them.
    instructions: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.workbook_threads < 1:
            raise ValueError("form_workbook_threads must be 1 or more")

    @classmethod
    def pick(cls, pick: Callable[[str, Any, Any], Any]) -> FormSettings:
        """From the configuration's ``pick`` (file, then ``HRSS_FORM_*`` variables)."""
        d = cls()
        casts: Mapping[str, Any] = {
            "max_upload_bytes": int,
            "max_uncompressed_bytes": int,
            "max_zip_entries": int,
            "max_rows": int,
            "max_columns": int,
            "marked_ttl_s": float,
            "workbook_threads": int,
        }
        return cls(**{k: pick(f"form_{k}", getattr(d, k), cast) for k, cast in casts.items()})
