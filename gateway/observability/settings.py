"""The settings of metrics and logs, with defaults that suit production."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    #: Serve ``/metrics`` (Prometheus text format).
    metrics_enabled: bool = True
    metrics_path: str = "/metrics"
    #: When set, ``/metrics`` answers only ``Authorization: Bearer <token>``; for a
    #: gateway whose port is reachable from outside the operators' network.
    metrics_token: str | None = None
    #: How often the registrations gauges are read from the store; 0 turns them off.
    registrations_refresh_s: float = 15.0
    #: The GraphQL operation names counted under their own name: those of the front
    #: ends' documents, declared by the operators. Any other name is the caller's
    #: free choice (it may hold an ID number) and is counted under ``other``.
    operation_names: tuple[str, ...] = ()
    #: JSON lines (production) or plain text (the demo, a developer's terminal).
    log_json: bool = True
    #: A level name (``INFO``, ``DEBUG``...) as ``logging`` knows it.
    log_level: str = "INFO"
