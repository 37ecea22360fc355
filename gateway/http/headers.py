"""Request headers whose values are weighted lists (RFC 9110, 12.4.2): ``Accept``
and ``Accept-Encoding``, read by the view and by GraphiQL's assets alike."""

from __future__ import annotations


def weighted(value: str) -> list[tuple[str, float]]:
    """Each item of ``value`` (lower case) with its weight, ``q``: 1 when not given,
    0 when it is not a number; in the order given."""
    items = []
    for part in value.split(","):
        item, *params = (p.strip() for p in part.split(";"))
        if not item:
            continue
        quality = 1.0
        for param in params:
            name, _, number = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        items.append((item.lower(), quality))
    return items
