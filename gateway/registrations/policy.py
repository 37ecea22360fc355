"""The province's policy on separate handling, and the province's calendar.

During the transition period both integrated and separate (per-system)
handling are accepted; from the mandatory date separate handling is refused.
Other provinces set their own dates (configuration), and tests move the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: China Standard Time: the province's dates (no daylight saving).
CHINA = dt.timezone(dt.timedelta(hours=8), "CST")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def local_date(moment: dt.datetime) -> dt.date:
    """The date in the province at ``moment``: what "today" means for deadlines."""
    return moment.astimezone(CHINA).date()


@dataclass(frozen=True, slots=True)
class SeparateHandling:
    transition_start: dt.date = dt.date(2020, 11, 1)
    mandatory_from: dt.date = dt.date(2021, 5, 1)

    def __post_init__(self) -> None:
        if self.mandatory_from <= self.transition_start:
            raise ValueError("the mandatory date must come after the start of the transition")

    def allowed(self, today: dt.date) -> bool:
        """Separate handling is accepted until the integrated process is mandatory."""
        return today < self.mandatory_from
