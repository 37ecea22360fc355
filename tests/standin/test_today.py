"""The stand-ins reckon days as the province does, whatever the host's zone."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.standin import today
from gateway.registrations.policy import local_date


class _At(dt.datetime):
    moment = dt.datetime(2026, 12, 3, 20, 0, tzinfo=dt.UTC)  # 04:00 on the 4th in Jinan

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
        return cls.moment.astimezone(tz) if tz else cls.moment.replace(tzinfo=None)


def test_between_midnight_and_eight_in_the_province_its_day_is_the_hosts_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The finding: the unemployment stand-in took the host's date (UTC), a day behind
    the province from midnight to eight there, and refused a relation that ended
    "today" as ending after its registration's day, after the gateway, which reckons
    in the province's days, had checked the row and the other systems had filed."""
    monkeypatch.setattr(today.dt, "datetime", _At)
    assert today.province_today() == dt.date(2026, 12, 4)
    assert today.province_today() == local_date(_At.moment)  # the gateway's own day
    assert _At.now().date() == dt.date(2026, 12, 3)  # the host's, a day behind
