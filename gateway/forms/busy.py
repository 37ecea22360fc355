"""Form work an account runs one at a time in a process.

Reading and checking an upload, writing an export: each costs seconds of CPU for
thousands of rows (a form of 10,000 rows about 3 s to read and check, an export
of 10,000 rows about 5 s to write), and an account's rate limit (600 requests a
minute) let it start many at once, each slowing every other request of the
process down. While one runs, another of the same account is refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def one_at_a_time(
    running: set[int], account_id: int, busy: Callable[[], Exception]
) -> Iterator[None]:
    """Run the block as ``account_id``'s one piece of this work (``running``: the
    accounts at it now); ``busy()`` is raised, and nothing run, while another is."""
    if account_id in running:
        raise busy()
    running.add(account_id)
    try:
        yield
    finally:
        running.discard(account_id)
