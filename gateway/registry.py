"""The systems behind the gateway, each declared once, by its own package.

A system is a package that exports one :class:`SystemSpec`: its names, its
settings and their defaults, how to build its adapter and its stand-in, its
health check, the limits of what it takes, and for every operation it can
write: what the step sends, the write, how the write is found again when its
answer was lost, how it is undone (or that it cannot be), and which of the
system's answers mean "already undone". The engine, reconciliation, the
configuration, the command line, the demo, ``/readyz``, the metrics and the
store look systems up here; none of them branches on a system's name.

The four systems the project ships are built in (``adapters/<package>/system.py``).
A province adds its own without forking, from an installed distribution that
names its spec under the entry-point group ``hrss_gateway.systems``::

    [project.entry-points."hrss_gateway.systems"]
    pension = "my_province.pension.system:SPEC"

The object named is a ``SystemSpec``, or a callable that returns one. See
``docs/systems.md``.

Light to import: the standard library, the domain and the plain registration
model. A spec builds its adapter and its stand-in in functions that import them
when called, so that reading the registry loads no HTTP, SOAP or web stack.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gateway.domain.model import Business, RegistrationRow, System
from gateway.registrations.model import Operation
from gateway.systems import SystemAdapter

if TYPE_CHECKING:
    import httpx

    from gateway.decided import DecidedLater
    from gateway.domain.checks import Problem
    from gateway.domain.limits import Limits

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "Found",
    "OperationSpec",
    "PlanStep",
    "Registry",
    "RegistryError",
    "RowField",
    "SettingsLike",
    "Standin",
    "SystemSpec",
    "WorkerSection",
    "registry",
    "reload",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Where an installed distribution names the systems it adds.
ENTRY_POINT_GROUP = "hrss_gateway.systems"

#: The systems the project ships: module paths of their specs (``SPEC``).
BUILTIN = (
    "adapters.employment.system",
    "adapters.labor.system",
    "adapters.unemployment.system",
    "adapters.social_insurance.system",
)


class RegistryError(Exception):
    """A spec that cannot be registered: a name taken twice, a bad entry point."""


class SettingsLike(Protocol):
    """What the gateway reads of every system's settings (the rest is the adapter's)."""

    @property
    def url(self) -> str: ...

    @property
    def timeout(self) -> float: ...

    @property
    def connect_timeout(self) -> float: ...

    @property
    def max_in_flight(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Found:
    """The write is in the system; ``reference`` is its id there when the answer shows it."""

    reference: str | None


#: ``(adapter, request) -> reference``: the write itself.
Write = Callable[[Any, Any], Awaitable[str]]
#: ``(adapter, request) -> Found | None``: is the write in the system? Never sends.
Find = Callable[[Any, Any], Awaitable[Found | None]]
#: ``(adapter, reference) -> None``: undo a write (compensation).
Undo = Callable[[Any, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """One write a system can make, and everything the engine needs to carry it out.

    ``payload`` is the dataclass a step stores (and the write takes); ``undo``
    None means the write cannot be undone (a compensation leaves it as it is).
    """

    operation: Operation
    payload: type[Any]
    write: Write
    find: Find
    undo: Undo | None
    label_zh: str  # "就业登记"
    label_en: str  # "the employment registration"
    #: The system decides the write later (a declaration under review): answered,
    #: the step awaits the outcome, polled from the store, found when its answer
    #: was lost and undone by what these hooks say (``gateway.decided``,
    #: ``gateway.registrations.awaiting``). None: answered is done.
    decided_later: DecidedLater | None = None
    #: The row's fields a person may correct when retrying this write as a refused
    #: follow-up: those only it sends (``gateway.registrations.followups``).
    correctable: frozenset[str] = frozenset()
    #: The write sets a state the system keeps (an ending), which ``find`` tells
    #: whole (worker, unit, kind, date): refused because the state is already so,
    #: it is adopted as done by someone else (``FOUND_EXISTING``, never undone),
    #: as a follow-up's "already exists" is (``gateway.registrations.step``).
    settles: bool = False


@dataclass(frozen=True, slots=True)
class PlanStep:
    """A step a system adds to the plan of a business (hire, renew, end).

    ``build(row, employer_id)`` makes the payload from the checked row and the
    unit's id in that system; ``when(row)`` says whether the row takes the step
    (known before the row is checked: only its business and flags may count).
    A step a system adds to another's business is a follow-up by default: it
    waits for the core and its refusal never undoes it (``follow_up=False``
    makes it part of the core, which stands or falls together).

    ``build_unbound(row, credit_code)``, for a system that registers units after
    the core (``opens_accounts_after_core``), makes the payload for a unit not
    yet bound there (opened before the system was switched on): the
    registration then registers the unit there first, as a follow-up of its
    own, and the write finds the unit by its credit code when it is sent.
    Without it, such a row is refused until the account is opened again.
    """

    business: Business
    operation: Operation
    stage: int
    build: Callable[[RegistrationRow, str], Any]
    when: Callable[[RegistrationRow], bool] = lambda row: True
    follow_up: bool = True
    build_unbound: Callable[[RegistrationRow, str], Any] | None = None


@dataclass(frozen=True, slots=True)
class RowField:
    """A field of the registration row that a system asks for, and its rules.

    ``name`` is the row's attribute (``RegistrationRow.<name>``), the field a
    problem names and the key of the form's column, under ``label_zh`` /
    ``label_en``; ``kind`` is the column's (``"money"``, ``"date"``, ``"text"``).
    ``check(row, settings)`` gives the row's problems with the field, in both
    languages: ``settings`` are the system's own when it is switched on, None
    when it is off (then a value given is at most checked for its form: nothing
    is sent with it). The form shows the column only while the system is on.
    """

    name: str
    label_zh: str
    label_en: str
    check: Callable[[RegistrationRow, Any], Sequence[Problem]]
    kind: str = "text"
    width: int = 12
    #: The businesses whose rows carry it (empty: any), as the GraphQL inputs of
    #: one business (``HireInput``) offer it.
    businesses: frozenset[Business] = frozenset()
    #: What the GraphQL field says of it.
    description: str = ""
    #: The form's column header, when it is not the label (capitalised in English).
    header_zh: str | None = None
    header_en: str | None = None


@dataclass(frozen=True, slots=True)
class WorkerSection:
    """What a system adds to the unified view of a worker (``Worker``).

    ``records(adapter, id_type, id_number)``: the worker's records there, found
    by the person (one call per person in a request, never cached); the view
    gets them with the unit's id there as ``gateway.domain.worker.SystemFacts``
    (records None: the system could not be asked; the view lists it as
    unavailable). ``inconsistencies(employment, facts)``: the codes of what it
    and the employment system disagree on, each labelled in ``labels``
    (Chinese, English), which the GraphQL enum ``InconsistencyKind`` gains.
    ``graph()`` returns a Strawberry type whose fields ``Worker`` gains (imported
    only where the schema is built); its resolvers read ``self.facts(info,
    system)``.
    """

    records: Callable[[Any, Any, str], Awaitable[Any]]
    inconsistencies: Callable[[Any, Any], Sequence[str]]
    labels: Mapping[str, tuple[str, str]]
    graph: Callable[[], type[Any]] | None = None


@dataclass(frozen=True, slots=True)
class Standin:
    """The system's stand-in: ``app(settings, data, seed)`` builds its ASGI app
    (``data``: its SQLite file, None in memory), on ``port`` by default.
    ``seed_units`` gives the seed's units as that system knows them (credit code
    -> its id), for the demo's bindings."""

    app: Callable[[Any, str | None, bool], Any]
    port: int
    seed_units: Callable[[], Mapping[str, str]] = dict


async def _ping(adapter: SystemAdapter) -> None:
    await adapter.ping()


@dataclass(frozen=True, slots=True)
class SystemSpec:
    """Everything the gateway knows of one system, declared by its package.

    Names: ``system`` is the name the store keeps and the configuration key (the
    ``[systems.<key>]`` table; ``HRSS_<KEY>_*`` variables); the command line
    spells it with hyphens. ``aliases`` are older spellings still taken, with a
    deprecation warning, where a person types them (command line, file tables).

    ``settings(environ, section)`` reads its settings (environment first, then
    its table of the configuration file, then defaults that match its
    stand-in); ``adapter(settings, client)`` builds its adapter over a shared
    HTTP client that stays the caller's. ``reads`` and ``writes`` name the
    adapter's methods beyond the common ones: reads are retried, writes never
    (``gateway.resilience``).

    ``enabled_by_default`` False: a deployment switches it on (``HRSS_<KEY>_ENABLED``
    or ``enabled = true`` in its table); ``in_demo``: ``serve --demo`` switches it on.
    ``opens_accounts``: opening an employer's account opens (or binds) the unit there;
    with ``opens_accounts_after_core`` as a follow-up, once the unit is open in the
    core systems (its refusal then never holds the account back).
    """

    system: System
    name_zh: str
    name_en: str
    settings: Callable[[Mapping[str, str], Mapping[str, Any]], SettingsLike]
    adapter: Callable[[Any, httpx.AsyncClient], SystemAdapter]
    limits: Callable[[], Limits]
    standin: Standin | None = None
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    operations: tuple[OperationSpec, ...] = ()
    already_undone: frozenset[str] = frozenset()
    plan: tuple[PlanStep, ...] = ()
    opens_accounts: bool = True
    opens_accounts_after_core: bool = False
    enabled_by_default: bool = True
    in_demo: bool = True
    aliases: tuple[str, ...] = ()
    health: Callable[[SystemAdapter], Awaitable[None]] = _ping
    #: ``(adapter, id_numbers, employer_id) -> records``: the people's records
    #: there, for the worker view (batched per request, ``gateway.loaders``);
    #: None: the view shows nothing of this system.
    records: Callable[[Any, list[str], str], Awaitable[Sequence[Any]]] | None = None
    #: Settings that hold a secret, for documentation (never logged).
    secrets: tuple[str, ...] = field(default=())
    #: Fields of the registration row it asks for (a column of the form, a field
    #: of the GraphQL row), with their checks.
    row_fields: tuple[RowField, ...] = ()
    #: What it adds to the unified view of a worker; None: nothing.
    worker: WorkerSection | None = None

    @property
    def key(self) -> str:
        """Its configuration key and stored name: ``social_insurance``."""
        return self.system.value

    @property
    def cli_name(self) -> str:
        """Its name on the command line: ``social-insurance``."""
        return self.system.value.replace("_", "-")

    @property
    def env_prefix(self) -> str:
        return f"HRSS_{self.system.value.upper()}_"

    def enabled(
        self, environ: Mapping[str, str], section: Mapping[str, Any], *, demo: bool = False
    ) -> bool:
        """Whether this deployment switches the system on."""
        raw = environ.get(self.env_prefix + "ENABLED", section.get("enabled"))
        if raw is None:
            return self.enabled_by_default or (demo and self.in_demo)
        if isinstance(raw, bool):
            return raw
        return str(raw).strip().lower() in ("1", "true", "yes", "on")


# ------------------------------------------------ the write every system has


async def _open(adapter: SystemAdapter, request: Any) -> str:
    binding = await adapter.ensure_employer(request.profile)
    return binding.employer_id


async def _find_open(adapter: SystemAdapter, request: Any) -> Found | None:
    binding = await adapter.find_employer(request.profile.credit_code)
    return None if binding is None else Found(binding.employer_id)


def _open_employer() -> OperationSpec:
    from gateway.domain.model import OpenEmployerRequest

    return OperationSpec(
        Operation.OPEN_EMPLOYER,
        OpenEmployerRequest,
        write=_open,
        find=_find_open,
        undo=None,  # an opened unit stays open
        label_zh="单位开户",
        label_en="opening the unit",
    )


#: The Protocols each live adapter was found to satisfy. ``isinstance`` against a
#: runtime-checkable Protocol looks up every one of its methods on the object, at
#: every call sent (about a twentieth of a worker's CPU per hire on the benchmark,
#: py-spy); an adapter's methods are there from its construction on and stay, so
#: one check per adapter and Protocol is enough. Weak: an adapter closed and
#: dropped is forgotten with it.
_CONFORMING: weakref.WeakKeyDictionary[Any, set[type[Any]]] = weakref.WeakKeyDictionary()


def adapter_as(adapter: SystemAdapter, kind: type[Any]) -> Any:
    """``adapter`` checked against a system's Protocol (runtime-checkable)."""
    try:
        known = _CONFORMING.get(adapter)
    except TypeError:  # an object that takes no weak reference: checked each time
        known = None
    if known is not None and kind in known:
        return adapter
    if not isinstance(adapter, kind):
        raise TypeError(f"{type(adapter).__name__} is not a {kind.__name__}")
    with contextlib.suppress(TypeError):
        _CONFORMING.setdefault(adapter, set()).add(kind)
    return adapter


# ------------------------------------------------------------------ registry


class Registry:
    """The registered systems, in registration order (the built-ins first)."""

    def __init__(self, specs: Iterable[SystemSpec]) -> None:
        self._specs: dict[System, SystemSpec] = {}
        self._names: dict[str, SystemSpec] = {}
        self._aliases: dict[str, SystemSpec] = {}
        self._operations: dict[Operation, tuple[System | None, OperationSpec]] = {}
        opening = _open_employer()
        self._operations[opening.operation] = (None, opening)
        for spec in specs:
            self._add(spec)

    def _add(self, spec: SystemSpec) -> None:
        if not isinstance(spec, SystemSpec):
            raise RegistryError(f"{spec!r} is not a SystemSpec")
        if spec.system in self._specs:
            raise RegistryError(f"the system {spec.key!r} is registered twice")
        for name in (spec.key, spec.cli_name, *spec.aliases):
            taken = self._names.get(name) or self._aliases.get(name)
            if taken is not None and taken is not spec:
                raise RegistryError(f"the name {name!r} of {spec.key!r} is {taken.key!r}'s")
        for op in spec.operations:
            if op.operation in self._operations:
                raise RegistryError(f"the operation {op.operation} is declared twice")
        for step in spec.plan:
            if step.operation not in {o.operation for o in spec.operations}:
                raise RegistryError(
                    f"{spec.key}: the plan step {step.operation} is not one of its operations"
                )
        self._specs[spec.system] = spec
        self._names[spec.key] = self._names[spec.cli_name] = spec
        for alias in spec.aliases:
            self._aliases[alias] = spec
        for op in spec.operations:
            self._operations[op.operation] = (spec.system, op)

    def __iter__(self) -> Iterator[SystemSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, system: object) -> bool:
        return system in self._specs

    @property
    def systems(self) -> tuple[System, ...]:
        return tuple(self._specs)

    def get(self, system: System | str) -> SystemSpec:
        try:
            return self._specs[System(system)]
        except (KeyError, ValueError):
            raise KeyError(f"no system {system!r} is registered") from None

    def named(self, name: str) -> SystemSpec:
        """A system by a name a person typed: its key, its command-line name, or an
        older spelling (which still works, with a warning)."""
        spec = self._names.get(name)
        if spec is not None:
            return spec
        spec = self._aliases.get(name)
        if spec is None:
            raise KeyError(f"no system is called {name!r}")
        log.warning("%r is an older name of the %s system: use %r", name, spec.key, spec.cli_name)
        return spec

    def names(self) -> list[str]:
        """Every name the command line takes, the current spellings first."""
        return [s.cli_name for s in self] + [a for s in self for a in s.aliases]

    def operation(self, operation: Operation | str) -> OperationSpec:
        try:
            return self._operations[Operation(operation)][1]
        except (KeyError, ValueError):
            raise KeyError(f"no system declares the operation {operation!r}") from None

    def system_of(self, operation: Operation | str) -> System | None:
        """The system an operation writes to (None: opening an employer, any system)."""
        return self._operations[Operation(operation)][0]

    def operations(self) -> tuple[Operation, ...]:
        return tuple(self._operations)

    def undoable(self, operation: Operation) -> bool:
        return self.operation(operation).undo is not None

    def already_undone(self, system: System, code: str | None) -> bool:
        """Whether ``code`` is ``system``'s answer to undoing what is already undone."""
        return code is not None and code in self.get(system).already_undone

    def first_known(self, answers: Mapping[System, T]) -> T | None:
        """The answer of the first system in the registry's order (the employment
        system's, which the form's header follows), else any."""
        for system in self._specs:
            if system in answers:
                return answers[system]
        return next(iter(answers.values()), None)

    def row_fields(self) -> list[tuple[SystemSpec, RowField]]:
        """Every field a registered system adds to the row, with its system."""
        return [(spec, f) for spec in self for f in spec.row_fields]

    def row_field(self, name: str) -> RowField | None:
        return next((f for _, f in self.row_fields() if f.name == name), None)

    def plan_steps(self, business: Business, systems: Mapping[System, Any]) -> list[PlanStep]:
        """The steps registered systems add to ``business``, for the systems in
        ``systems`` (those switched on), by stage."""
        found = [
            step
            for spec in self
            if spec.system in systems
            for step in spec.plan
            if step.business is business
        ]
        return sorted(found, key=lambda s: s.stage)


def _load(target: Any, origin: str) -> SystemSpec:
    spec = target() if callable(target) and not isinstance(target, SystemSpec) else target
    if not isinstance(spec, SystemSpec):
        raise RegistryError(f"{origin} gave {type(spec).__name__}, not a SystemSpec")
    return spec


def _discover() -> Iterator[SystemSpec]:
    for module in BUILTIN:
        yield _load(importlib.import_module(module).SPEC, module)
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            target = point.load()
        except Exception as exc:
            # A system configured but broken must stop the start, not vanish.
            raise RegistryError(
                f"the entry point {point.name!r} ({point.value}) of {ENTRY_POINT_GROUP} "
                f"could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        yield _load(target, f"the entry point {point.name!r}")


@functools.cache
def registry() -> Registry:
    """Every system: the built-ins, then those of installed distributions."""
    return Registry(_discover())


def reload() -> Registry:
    """Read the entry points again (after installing a distribution; tests)."""
    registry.cache_clear()
    return registry()
