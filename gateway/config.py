"""The gateway's configuration: a TOML file, overridden by environment variables.

Read once at start-up. Every setting has a default that runs the demo on one
machine; ``docs/configuration.md`` lists them all.

Loading the configuration loads neither the HTTP layer nor the store: the
rate limits and the audit retention are imported where they are built, so
that a worker or a command pays only for what it runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import logging
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gateway.auth import ConfigurationError, Role
from gateway.domain.model import System
from gateway.events import DEFAULT_CHANNEL as DEFAULT_EVENTS_CHANNEL
from gateway.forms.settings import FormSettings
from gateway.observability.settings import ObservabilitySettings
from gateway.oidc_settings import OidcSettings
from gateway.profile import Disclosure, RequestLimits
from gateway.registry import SettingsLike, registry
from gateway.settings import DEFAULT_STORE_URL

if TYPE_CHECKING:
    from gateway.domain.checks import Problem, RowRule
    from gateway.domain.model import RegistrationRow
    from gateway.http.ratelimit import RateLimits
    from gateway.registry import RowField
    from gateway.store.audit import AuditRetention
    from gateway.store.database import StoreTimeouts

__all__ = ["DEFAULT_STORE_URL", "GatewayConfig", "SettingError"]

log = logging.getLogger(__name__)


class SettingError(ConfigurationError, ValueError):
    """A setting that cannot be used, named with what is wrong with it: ``serve``,
    ``worker`` and ``cluster`` stop with that one line, exit status 2. A
    ``ValueError`` too, as the configuration's refusals were."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    store_url: str = DEFAULT_STORE_URL
    #: How long the gateway waits on PostgreSQL: for a new connection, for one
    #: statement, for a connection of the pool when all are taken (seconds). A store
    #: not reached within them answers ``STORE_UNAVAILABLE`` (gateway/store/database.py).
    store_connect_timeout_s: float = 5.0
    store_timeout_s: float = 30.0
    store_pool_timeout_s: float = 10.0
    cache_url: str = "memory://"  # or redis://host:port/db, shared by several gateways
    token_secret: str | None = None  # required outside demo mode
    token_ttl_s: int = 8 * 3600
    audit_key: str | None = None  # HMAC key for worker references in the audit log
    worker_cache_ttl_s: float = 30.0  # a worker's records, invalidated by our own writes
    employer_cache_ttl_s: float = 600.0  # employer bindings
    account_cache_ttl_s: float = 5.0  # signed-in accounts: how long a disabling may take
    #: Whether employer accounts may sign in with a password. None: as in the demo
    #: when ``demo``; otherwise off, and employers sign in only through the
    #: identity platform (``oidc_*``), which proves who acts for a unit.
    employer_passwords: bool | None = None
    #: Roles that see full ID and mobile numbers in a single-worker query.
    reveal_roles: tuple[Role, ...] = (Role.EMPLOYER, Role.CLERK)
    #: Separate (per-system) handling is refused from this date (鲁人社字〔2020〕129号).
    transition_start: dt.date = dt.date(2020, 11, 1)
    mandatory_from: dt.date = dt.date(2021, 5, 1)
    #: How long one step may take, retries included, before it needs attention.
    step_deadline_s: float = 24 * 3600
    #: How long idempotency keys are kept (at least 24 hours).
    idempotency_ttl_s: float = 48 * 3600
    #: Carry registrations out in the background of ``serve`` (else: ``hrss-gateway worker``).
    run_worker: bool = True
    #: How often a worker looks for due steps when nothing woke it (a submission, in
    #: any process that shares its events, wakes it at once).
    worker_poll_s: float = 1.0
    #: How wake-ups travel between processes (gateway/events.py): ``local``, a
    #: ``postgresql://`` or a ``redis://`` URL; None: Redis when ``cache_url`` is
    #: Redis, else PostgreSQL when the store is, else local.
    events_url: str | None = None
    #: The PostgreSQL NOTIFY channel or Redis pub/sub channel; one per deployment.
    events_channel: str = DEFAULT_EVENTS_CHANNEL
    #: How often a subscription re-reads its registration when nothing woke it; None:
    #: 0.2 s with local events, 2 s with PostgreSQL or Redis.
    subscription_poll_s: float | None = None
    #: Registrations one account may follow at once in a process (each subscription
    #: holds a connection and a task); one more is ``TOO_MANY_SUBSCRIPTIONS``.
    subscriptions_per_account: int = 100
    worker_concurrency: int = 16
    #: How long a worker keeps a step before another may take it (a worker that died
    #: hands its steps on after this); at least a few calls at the slowest timeout.
    worker_lease_s: float = 60.0
    #: When a step that met an infrastructure failure is tried again: exponential,
    #: full jitter, from ``step_backoff_base_s`` up to ``step_backoff_cap_s``.
    step_backoff_base_s: float = 1.0
    step_backoff_cap_s: float = 300.0
    #: How often a worker asks a system whose breaker is open whether it is back;
    #: its waiting steps are taken at once when it answers (gateway/registrations/recovery.py).
    system_probe_interval_s: float = 1.0
    #: How long ``/readyz`` answers from its last look at the systems: anyone may
    #: ask it, and each look is a call to every system (the social-insurance one's
    #: counts against the quota its declarations need); 0: a look at every request.
    readiness_cache_s: float = 5.0
    #: Per system: circuit breaker, read retries (see gateway/resilience.py).
    breaker_threshold: int = 5
    breaker_recovery_s: float = 30.0
    read_attempts: int = 3
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 2.0
    #: How long audit records are kept (at least six months) and how often old ones go.
    audit_retention_days: int = 183
    audit_purge_every_s: float = 86_400.0
    #: Days after a registration ends (completed, compensated, cancelled) before its
    #: personal data are erased (numbers masked, addresses blank), checked as often
    #: as the audit log is purged; 0: never (gateway/store/registrations/erasing.py).
    registration_retention_days: int = 183
    rate_limits: RateLimits = field(default_factory=lambda: _rate_limits()())
    limits: RequestLimits = field(default_factory=RequestLimits)
    #: What the schema says of itself; None means "as in the demo when ``demo``, else off".
    introspection: bool | None = None
    field_suggestions: bool | None = None
    #: Federation's ``_service { sdl }``, which a supergraph router reads at run time.
    service_sdl: bool = True
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    graphiql: bool = False
    #: The origins (``https://portal.example.gov.cn``) whose pages may call the
    #: gateway from a browser (CORS); none: only pages of its own origin.
    cors_origins: tuple[str, ...] = ()
    demo: bool = False
    data_dir: str = "data"
    #: The systems switched on in this deployment and how to reach each, in the
    #: registry's order (``gateway.registry``; ``[systems.<key>]`` or ``HRSS_<KEY>_*``).
    systems: dict[System, SettingsLike] = field(default_factory=dict)
    #: The identity provider whose tokens prove who acts for an employer (none: no
    #: provider is trusted); ``[oidc]`` table or ``HRSS_OIDC_*``, see gateway/oidc.py.
    oidc: OidcSettings | None = None
    #: The registration form as a file: upload limits, the columns of the systems on.
    forms: FormSettings = field(default_factory=FormSettings)

    def __post_init__(self) -> None:
        # A typo here would leave workers or subscribers waiting on a wrong clock.
        if self.worker_poll_s <= 0:
            raise SettingError("worker_poll_s must be more than 0 seconds")
        if self.subscription_poll_s is not None and self.subscription_poll_s <= 0:
            raise SettingError("subscription_poll_s must be more than 0 seconds")
        if self.subscriptions_per_account < 1:
            raise SettingError("subscriptions_per_account must be 1 or more")
        if self.events_url is not None and not (
            self.events_url == "local"
            or self.events_url.startswith(("postgresql", "redis://", "rediss://", "unix://"))
        ):
            raise SettingError("events_url must be 'local', a postgresql:// or a redis:// URL")
        if self.readiness_cache_s < 0:
            raise SettingError("readiness_cache_s must be 0 (no cache) or more seconds")
        if self.registration_retention_days < 0:
            raise SettingError("registration_retention_days must be 0 (never erase) or more")
        for name in ("store_connect_timeout_s", "store_timeout_s", "store_pool_timeout_s"):
            if not getattr(self, name) > 0:
                raise SettingError(f"{name} must be more than 0 seconds")
        _check_store_url(self.store_url)
        _check_cache_url(self.cache_url)

        on = tuple(self.systems)
        fields = self.row_fields_on()
        said = tuple(_instruction_lines(fields)) if fields else ()
        if self.forms.systems != on or self.forms.instructions != said:
            # The form's extra columns, and what its instructions say of them, follow
            # the systems' switches.
            object.__setattr__(
                self, "forms", dataclasses.replace(self.forms, systems=on, instructions=said)
            )

    def row_fields_on(self) -> list[tuple[RowField, str, RowRule]]:
        """The fields the systems switched on add to the row: each with its system's
        Chinese name and its rule, bound to that system's settings."""
        return [
            (row_field, spec.name_zh, _bound(row_field, self.systems[spec.system]))
            for spec, row_field in registry().row_fields()
            if spec.system in self.systems
        ]

    def row_rules(self) -> list[RowRule]:
        """The checks of the fields registered systems add to the row, each with its
        system's settings while it is on, None while it is off
        (``gateway.registry.RowField``)."""
        return [
            _bound(row_field, self.systems.get(spec.system))
            for spec, row_field in registry().row_fields()
        ]

    def system(self, system: System) -> Any:
        """The settings of a system switched on (its package's own settings type)."""
        try:
            return self.systems[system]
        except KeyError:
            raise KeyError(f"the {system} system is not switched on") from None

    def disclosure(self) -> Disclosure:
        """The production profile, or the demo's, with the settings that were given."""
        base = Disclosure.demo() if self.demo else Disclosure()
        return Disclosure(
            introspection=base.introspection if self.introspection is None else self.introspection,
            field_suggestions=(
                base.field_suggestions if self.field_suggestions is None else self.field_suggestions
            ),
            service_sdl=self.service_sdl,
        )

    @property
    def employer_passwords_enabled(self) -> bool:
        return self.demo if self.employer_passwords is None else self.employer_passwords

    def store_timeouts(self) -> StoreTimeouts:
        """The waits on the store, as its engine takes them."""
        from gateway.store.database import StoreTimeouts

        return StoreTimeouts(
            connect_s=self.store_connect_timeout_s,
            statement_s=self.store_timeout_s,
            pool_s=self.store_pool_timeout_s,
        )

    def audit_retention(self) -> AuditRetention:
        """The retention as the audit log takes it (refuses less than six months)."""
        from gateway.store.audit import AuditRetention

        return AuditRetention(self.audit_retention_days, self.audit_purge_every_s)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> GatewayConfig:
        """The file's ``[gateway]`` and ``[systems.<name>]`` tables, then ``HRSS_*``
        variables, then ``overrides`` (command-line flags).

        A setting that cannot be used (a number that is not one, an unknown name in
        the file, a URL of no store or cache the gateway knows) is a
        :class:`SettingError` naming it, where it was given."""
        try:
            return cls._load(path, environ, overrides)
        except ConfigurationError:
            raise
        except ValueError as exc:
            # Any other refusal of a setting's own check: its words name it.
            raise SettingError(str(exc)) from None

    @classmethod
    def _load(
        cls, path: str | Path | None, environ: Mapping[str, str] | None, overrides: dict[str, Any]
    ) -> GatewayConfig:
        env = os.environ if environ is None else environ
        doc = _read_file(path) if path else {}
        gw: dict[str, Any] = dict(doc.get("gateway", {}))
        systems_doc: dict[str, Any] = doc.get("systems", {})
        moved = sorted(set(gw) & set(_MOVED))
        if moved:
            # Ignored, they would leave the rule at its default, silently.
            raise SettingError(
                "; ".join(f"[gateway] {name} is now {_MOVED[name]}" for name in moved)
            )
        asked: set[str] = {"reveal_roles"}

        def pick(name: str, default: Any, cast: Any = str) -> Any:
            asked.add(name)
            variable = "HRSS_" + name.upper()
            if variable in env:
                raw, where = env[variable], variable
            elif name in gw:
                raw, where = gw[name], f"{name} in [gateway]"
            else:
                raw, where = default, None
            if raw is None:
                return None
            if cast is bool and isinstance(raw, str):
                return raw.strip().lower() in ("1", "true", "yes", "on")
            try:
                return cast(raw)
            except ConfigurationError:
                raise
            except (ValueError, TypeError) as exc:
                if where is None:
                    raise
                said = f"expected {_expected(cast)}, not {_shown(raw)}"
                raise SettingError(f"{where}: {said}") from exc

        d = cls()
        values: dict[str, Any] = {
            "host": pick("host", d.host),
            "port": pick("port", d.port, int),
            "store_url": pick("store_url", d.store_url),
            "store_connect_timeout_s": pick(
                "store_connect_timeout_s", d.store_connect_timeout_s, float
            ),
            "store_timeout_s": pick("store_timeout_s", d.store_timeout_s, float),
            "store_pool_timeout_s": pick("store_pool_timeout_s", d.store_pool_timeout_s, float),
            "cache_url": pick("cache_url", d.cache_url),
            "token_secret": pick("token_secret", None),
            "token_ttl_s": pick("token_ttl_s", d.token_ttl_s, int),
            "audit_key": pick("audit_key", None),
            "worker_cache_ttl_s": pick("worker_cache_ttl_s", d.worker_cache_ttl_s, float),
            "employer_cache_ttl_s": pick("employer_cache_ttl_s", d.employer_cache_ttl_s, float),
            "account_cache_ttl_s": pick("account_cache_ttl_s", d.account_cache_ttl_s, float),
            "transition_start": pick("transition_start", d.transition_start, _date),
            "mandatory_from": pick("mandatory_from", d.mandatory_from, _date),
            "step_deadline_s": pick("step_deadline_s", d.step_deadline_s, float),
            "idempotency_ttl_s": pick("idempotency_ttl_s", d.idempotency_ttl_s, float),
            "run_worker": pick("run_worker", d.run_worker, bool),
            "worker_poll_s": pick("worker_poll_s", d.worker_poll_s, float),
            "events_url": pick("events_url", None),
            "events_channel": pick("events_channel", d.events_channel),
            "subscription_poll_s": pick("subscription_poll_s", None, float),
            "subscriptions_per_account": pick(
                "subscriptions_per_account", d.subscriptions_per_account, int
            ),
            "worker_concurrency": pick("worker_concurrency", d.worker_concurrency, int),
            "worker_lease_s": pick("worker_lease_s", d.worker_lease_s, float),
            "step_backoff_base_s": pick("step_backoff_base_s", d.step_backoff_base_s, float),
            "step_backoff_cap_s": pick("step_backoff_cap_s", d.step_backoff_cap_s, float),
            "readiness_cache_s": pick("readiness_cache_s", d.readiness_cache_s, float),
            "system_probe_interval_s": pick(
                "system_probe_interval_s", d.system_probe_interval_s, float
            ),
            "breaker_threshold": pick("breaker_threshold", d.breaker_threshold, int),
            "breaker_recovery_s": pick("breaker_recovery_s", d.breaker_recovery_s, float),
            "read_attempts": pick("read_attempts", d.read_attempts, int),
            "backoff_base_s": pick("backoff_base_s", d.backoff_base_s, float),
            "backoff_cap_s": pick("backoff_cap_s", d.backoff_cap_s, float),
            "audit_retention_days": pick("audit_retention_days", d.audit_retention_days, int),
            "audit_purge_every_s": pick("audit_purge_every_s", d.audit_purge_every_s, float),
            "registration_retention_days": pick(
                "registration_retention_days", d.registration_retention_days, int
            ),
            "graphiql": pick("graphiql", d.graphiql, bool),
            "data_dir": pick("data_dir", d.data_dir),
            "cors_origins": pick("cors_origins", d.cors_origins, _origins),
        }
        roles = env.get("HRSS_REVEAL_ROLES", gw.get("reveal_roles"))
        if roles is not None:
            # An unknown name fails here, at start-up, rather than never matching.
            try:
                values["reveal_roles"] = tuple(
                    Role(r.strip()) for r in (roles.split(",") if isinstance(roles, str) else roles)
                )
            except ValueError as exc:
                raise SettingError(f"HRSS_REVEAL_ROLES (reveal_roles): {exc}") from None
        values["rate_limits"] = _read_rate_limits(env, doc.get("rate_limits", {}))
        lim = RequestLimits()
        values["limits"] = RequestLimits(
            max_depth=pick("max_depth", lim.max_depth, int),
            max_document_length=pick("max_document_length", lim.max_document_length, int),
            max_tokens=pick("max_tokens", lim.max_tokens, int),
            max_aliases=pick("max_aliases", lim.max_aliases, int),
            max_root_fields=pick("max_root_fields", lim.max_root_fields, int),
            max_page_size=pick("max_page_size", lim.max_page_size, int),
            max_cost=pick("max_cost", lim.max_cost, int),
            max_body_bytes=pick("max_body_bytes", lim.max_body_bytes, int),
            max_json_depth=pick("max_json_depth", lim.max_json_depth, int),
            max_json_values=pick("max_json_values", lim.max_json_values, int),
            batching=pick("batching", lim.batching, bool),
            max_batch_operations=pick("max_batch_operations", lim.max_batch_operations, int),
            max_socket_operations=pick("max_socket_operations", lim.max_socket_operations, int),
        )
        values["employer_passwords"] = pick("employer_passwords", None, bool)
        values["introspection"] = pick("introspection", None, bool)
        values["field_suggestions"] = pick("field_suggestions", None, bool)
        values["service_sdl"] = pick("service_sdl", d.service_sdl, bool)
        o = ObservabilitySettings()
        values["observability"] = ObservabilitySettings(
            metrics_enabled=pick("metrics_enabled", o.metrics_enabled, bool),
            metrics_path=pick("metrics_path", o.metrics_path),
            metrics_token=pick("metrics_token", o.metrics_token),
            registrations_refresh_s=pick(
                "registrations_metrics_interval_s", o.registrations_refresh_s, float
            ),
            operation_names=pick("operation_names", o.operation_names, _names),
            log_json=pick("log_json", o.log_json, bool),
            log_level=pick("log_level", o.log_level),
        )
        values["systems"] = _systems(env, systems_doc, demo=bool(overrides.get("demo")))
        oidc_doc = doc.get("oidc", {})
        _refuse_unknown("[oidc]", oidc_doc, [f.name for f in dataclasses.fields(OidcSettings)])
        values["oidc"] = OidcSettings.from_env(env, oidc_doc)
        values["forms"] = FormSettings.pick(pick)
        # Every name of [gateway] is asked for by now: any other is misspelt, and would
        # leave its setting at the default, silently.
        _refuse_unknown("[gateway]", gw, asked)
        _refuse_unknown_tables(doc, asked)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


#: Settings of the ``[gateway]`` table that became a system's own.
_MOVED = {
    "contribution_wage_floor": "wage_floor in [systems.social_insurance]",
    "contribution_wage_ceiling": "wage_ceiling in [systems.social_insurance]",
}


def _instruction_lines(fields: list[tuple[RowField, str, RowRule]]) -> list[tuple[str, str]]:
    # The checks (python-stdnum's data) are loaded only where a system adds a field.
    from gateway.forms.instructions import field_lines

    return field_lines(fields)


def _bound(row_field: RowField, settings: object | None) -> RowRule:
    def rule(row: RegistrationRow) -> Sequence[Problem]:
        return row_field.check(row, settings)

    return rule


def _rate_limits() -> type[RateLimits]:
    # The HTTP package loads the GraphQL view with it: only when limits are built.
    from gateway.http.ratelimit import RateLimits

    return RateLimits


#: The tables of the configuration file.
_TABLES = ("gateway", "systems", "rate_limits", "oidc")


def _read_file(path: str | Path) -> dict[str, Any]:
    """The configuration file, read as TOML; a ``SettingError`` naming it when it is
    missing, unreadable or not TOML."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SettingError(f"the configuration file {path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"the configuration file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise SettingError(
            f"the configuration file {path} cannot be read: {exc.strerror or exc}"
        ) from None


def _close_to(name: str, known: Sequence[str] | set[str]) -> str:
    """`` (did you mean x?)`` for the known names close to ``name``, else nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=2)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def _refuse_unknown(table: str, given: Mapping[str, Any], known: Sequence[str] | set[str]) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        said = "; ".join(f"{name}{_close_to(name, known)}" for name in unknown)
        raise SettingError(f"{table} has no setting {said}")


def _refuse_unknown_tables(doc: Mapping[str, Any], gateway_names: set[str]) -> None:
    for name in sorted(set(doc) - set(_TABLES)):
        if name in gateway_names:
            hint = f" ({name} is a setting of [gateway]: put it under [gateway])"
        else:
            hint = _close_to(name, _TABLES).replace("did you mean ", "did you mean [")
            hint = hint.replace("?)", "]?)").replace(" or ", "] or [")
        raise SettingError(f"the configuration file has no table [{name}]{hint}")


def _read_rate_limits(env: Mapping[str, str], table: Mapping[str, Any]) -> RateLimits:
    """The rate limits; a refusal names the variable or the file's entry that caused it."""
    limits = _rate_limits()
    names = [f.name for f in dataclasses.fields(limits)]
    _refuse_unknown("[rate_limits]", table, names)
    try:
        return limits.from_env(env, table)
    except (ValueError, TypeError) as exc:
        # Which one: each given on its own, until one is refused as they all were.
        for name in names:
            variable = f"HRSS_RATE_LIMIT_{name.upper()}"
            alone_env = {variable: env[variable]} if variable in env else {}
            alone_file = {name: table[name]} if name in table and not alone_env else {}
            if not (alone_env or alone_file):
                continue
            try:
                limits.from_env(alone_env, alone_file)
            except (ValueError, TypeError) as refused:
                where = variable if alone_env else f"{name} in [rate_limits]"
                raw = alone_env.get(variable, alone_file.get(name))
                default = next(f.default for f in dataclasses.fields(limits) if f.name == name)
                said = (
                    str(refused)
                    if "rate limit" in str(refused)
                    else f"expected {_expected(type(default))}, not {_shown(raw)}"
                )
                raise SettingError(f"{where}: {said}") from None
        raise SettingError(f"[rate_limits]: {exc}") from None


def _expected(cast: Any) -> str:
    return {
        int: "a whole number",
        float: "a number",
        _date: "a date (YYYY-MM-DD)",
    }.get(cast, "another value")


def _shown(raw: object) -> str:
    """A value given for a setting, as a message quotes it (shortened)."""
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


#: The store URLs the gateway runs on (``gateway.store.database``), checked without it.
_STORE_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


def _check_store_url(url: str) -> None:
    """The store URL names a store the gateway runs on; never quoted (its password)."""
    if not url.startswith(_STORE_SCHEMES):
        scheme = url.split("://", 1)[0] if "://" in url else "no scheme"
        raise SettingError(
            f"HRSS_STORE_URL (store_url): {scheme!r} is no store the gateway runs on; use "
            "sqlite+aiosqlite:///path/to/gateway.db or postgresql+asyncpg://user@host/database"
        )
    if url.startswith("sqlite+aiosqlite://"):
        database = url.removeprefix("sqlite+aiosqlite://").removeprefix("/").split("?", 1)[0]
        if not database or database == ":memory:" or database.startswith("file:"):
            raise SettingError(
                "HRSS_STORE_URL (store_url): the embedded store needs a file: "
                "sqlite+aiosqlite:///path/to/gateway.db"
            )


def _check_cache_url(url: str) -> None:
    """``memory://``, or a Redis URL with its host; never quoted (its password)."""
    refused = SettingError(
        "HRSS_CACHE_URL (cache_url): expected memory:// or redis://host[:port]/db "
        "(rediss:// with TLS)"
    )
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is not a number is refused here
    except ValueError:
        raise refused from None
    if parts.scheme in ("", "memory"):
        return
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise refused
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise SettingError("HRSS_CACHE_URL (cache_url): the Redis database is a number")


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value  # TOML has dates of its own
    return dt.date.fromisoformat(str(value))


def _systems(
    env: Mapping[str, str], doc: Mapping[str, Any], *, demo: bool
) -> dict[System, SettingsLike]:
    """Each registered system the deployment switches on, with its settings. A
    system's table is ``[systems.<key>]``; an older name of it (``[systems.labor]``)
    is still read, with a warning."""
    found: dict[System, SettingsLike] = {}
    for spec in registry():
        section: Mapping[str, Any] = doc.get(spec.key, {})
        for alias in spec.aliases:
            if alias in doc:
                log.warning("[systems.%s] is an older name: use [systems.%s]", alias, spec.key)
                section = {**doc[alias], **section}
        if spec.enabled(env, section, demo=demo):
            try:
                found[spec.system] = spec.settings(env, section)
            except ConfigurationError:
                raise
            except (ValueError, TypeError) as exc:
                said = str(exc)
                if not said.startswith(spec.env_prefix):  # named in the file, or not named
                    said = f"[systems.{spec.key}] {said}"
                raise SettingError(said) from None
    names = [n for spec in registry() for n in (spec.key, *spec.aliases)]
    unknown = sorted(set(doc) - set(names))
    if unknown:
        # A misspelt table would otherwise leave a system at its defaults, silently.
        said = ", ".join(f"{name}{_close_to(name, names)}" for name in unknown)
        raise SettingError(f"[systems] names no registered system: {said}")
    return found


#: An origin as a browser sends it: scheme, host and port, nothing after.
_ORIGIN = re.compile(r"https?://([a-z0-9.\-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?", re.IGNORECASE)


def _origins(value: str | Sequence[str]) -> tuple[str, ...]:
    """The CORS origins, each as a browser sends it in ``Origin``; ``*`` is refused:
    a page of any site could then call the gateway with a token it came by."""
    origins = _names(value)
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigurationError(
                f"HRSS_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port], "
                "no path, no '*': list the front ends' origins)"
            )
    return tuple(o.lower() for o in origins)


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    """A list from the environment (comma-separated) or from the file (a list)."""
    names = value.split(",") if isinstance(value, str) else value
    return tuple(n.strip() for n in names if n.strip())
