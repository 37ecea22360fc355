"""A worker: the person, and what each of the three systems holds for them.

Each system's records are their own field, fed by that system's loader: a
system that fails nulls its own field (with an error naming it) and nothing
else. ``status`` and ``inconsistencies`` are derived from whatever answered.
ID and mobile numbers are masked unless the worker was reached by a
single-worker query by a role entitled to see them; addresses are shown only
then.

No system's failure is ever a silent null: a worker none of the systems that
answered knows is an error when another system could not be asked, and
:class:`ReportSystemFailures` reports every system that could not be asked in
the request, once, even where no field of that system was selected. A worker of
an employer the caller may not reach is answered as one nobody holds, through
``_entities`` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gateway.domain import model
from gateway.domain.checks import check_id_number
from gateway.domain.identifiers import normalize_id_number
from gateway.domain.worker import (
    Disagreements,
    SystemFacts,
    build_view,
    derive_status,
    find_inconsistencies,
    seen_from,
    stands,
    units_of,
)
from gateway.errors import GatewayError, bad_input, check_id_number_length, from_adapter
from gateway.loaders import _SystemLoader
from gateway.privacy import mask_id_number, mask_mobile
from gateway.registrations.policy import local_date
from gateway.registry import registry
from gateway.schema import records
from gateway.schema.context import Context, Info
from gateway.schema.enums import (
    Education,
    Gender,
    IdType,
    InconsistencyKind,
    Status,
    System,
)
from gateway.store.model import AuditResult, EmployerRecord
from gateway.systems import AdapterError

if TYPE_CHECKING:
    from gateway.schema.employer import Employer

R = TypeVar("R")


async def _load(
    loader: _SystemLoader[R], employer: EmployerRecord, system: model.System, id_number: str
) -> list[R]:
    employer_id = employer.system_id(system)
    if employer_id is None:
        return []  # the unit is not known to that system, so neither is the worker there
    return await loader.load(employer_id, id_number)


@strawberry.type
class _WorkerBase:
    """The worker as the core systems know them; ``Worker`` adds what registered
    systems contribute (``SystemSpec.worker``)."""

    employer: strawberry.Private[EmployerRecord]
    person: strawberry.Private[model.Person]
    reveal: strawberry.Private[bool]

    @strawberry.field(
        name="employer",
        description="用人单位: the employer this worker is seen at, whose records and contracts "
        "these are (for `worker` at the root, that of their newest employment registration "
        "that stands).",
    )
    def seen_at(self) -> Annotated[Employer, strawberry.lazy("gateway.schema.employer")]:
        from gateway.schema.employer import Employer  # it lists workers: imported when used

        return Employer(record=self.employer)

    # ------------------------------------------------------------ the person

    @strawberry.field(description="证件类型.")
    def id_type(self) -> IdType:
        return self.person.id_type

    @strawberry.field(
        description="证件号码: masked (first 6 and last 4 kept) except in a single-worker query "
        "by a role entitled to it."
    )
    def id_number(self) -> str:
        n = self.person.id_number
        return n if self.reveal else mask_id_number(n)

    @strawberry.field(description="姓名.")
    def name(self) -> str:
        return self.person.name

    @strawberry.field(description="性别.")
    def gender(self) -> Gender:
        return self.person.gender

    @strawberry.field(description='民族: GB/T 3304 code (see codeTable(name: "ethnicity")).')
    def ethnicity(self) -> str:
        return self.person.ethnicity

    @strawberry.field(description="文化程度.")
    def education(self) -> Education:
        return self.person.education

    @strawberry.field(
        description="移动电话号码: masked (first 3 and last 4 kept) except in a "
        "single-worker query."
    )
    def mobile(self) -> str | None:
        m = self.person.mobile
        return m if (m is None or self.reveal) else mask_mobile(m)

    @strawberry.field(description="户籍地址: only in a single-worker query.")
    def household_address(self) -> str | None:
        return self.person.household_address if self.reveal else None

    @strawberry.field(description="现居住址: only in a single-worker query.")
    def current_address(self) -> str | None:
        return self.person.current_address if self.reveal else None

    # ---------------------------------------------------- each system's part

    @strawberry.field(
        description="就业登记: this worker's employment registrations with this employer "
        "(employment system), every state, newest first."
    )
    async def employment_records(self, info: Info) -> list[records.EmploymentRecord] | None:
        try:
            found = await self._employment(info)
        except AdapterError as exc:
            raise from_adapter(exc) from None
        return [records.EmploymentRecord.from_domain(r) for r in found]

    @strawberry.field(
        description="劳动合同备案: this worker's contract filings with this employer "
        "(labour system), every state."
    )
    async def labour_contracts(self, info: Info) -> list[records.LabourContract] | None:
        try:
            found = await self._contracts(info)
        except AdapterError as exc:
            raise from_adapter(exc) from None
        return [records.LabourContract.from_domain(c) for c in found]

    @strawberry.field(
        description="失业登记: this worker's unemployment registrations made by this employer "
        "(unemployment system), every state, newest first."
    )
    async def unemployment_registrations(
        self, info: Info
    ) -> list[records.UnemploymentRegistration] | None:
        try:
            found = await self._unemployment(info)
        except AdapterError as exc:
            raise from_adapter(exc) from None
        return [records.UnemploymentRegistration.from_domain(u) for u in found]

    # ------------------------------------------------------------- derived

    @strawberry.field(
        description="当前状态, derived from the three systems; UNKNOWN when a system needed "
        "to tell did not answer (see unavailableSystems)."
    )
    async def status(self, info: Info) -> Status:
        return derive_status(*await self._all(info))

    @strawberry.field(
        description="系统间不一致: where the systems that answered disagree about this worker."
    )
    async def inconsistencies(self, info: Info) -> list[InconsistencyKind]:
        contributed = await self._contributed(info)
        return find_inconsistencies(*await self._all(info), list(contributed.values()))

    @strawberry.field(
        description="Systems that did not answer for this worker: status and inconsistencies "
        "were derived without them."
    )
    async def unavailable_systems(self, info: Info) -> list[System]:
        parts = await self._all(info)
        missing = [s for s, part in zip(model.System, parts, strict=True) if part is None]
        contributed = await self._contributed(info)
        missing += [s for s, (_, facts) in contributed.items() if facts.records is None]
        return missing

    # ------------------------------------------------------------ loading

    async def _employment(self, info: Info) -> list[model.EmploymentRecord]:
        loader = info.context.loaders.employment
        return await _load(loader, self.employer, model.System.EMPLOYMENT, self.person.id_number)

    async def _contracts(self, info: Info) -> list[model.LabourContract]:
        loader = info.context.loaders.contracts
        return await _load(loader, self.employer, model.System.LABOUR, self.person.id_number)

    async def _unemployment(self, info: Info) -> list[model.UnemploymentRegistration]:
        loader = info.context.loaders.unemployment
        return await _load(loader, self.employer, model.System.UNEMPLOYMENT, self.person.id_number)

    async def facts(self, info: Info, system: model.System) -> SystemFacts | None:
        """What ``system``, which adds to the view, holds of the worker that the caller
        may see (records None: it could not be asked); None while it is switched off.

        The system answers by the person, at every unit: the records shown are those
        at this unit and at the other units the caller reaches (an employer: its own
        only; a clerk: those of its divisions), and of any other unit only whether it
        holds the worker now (``SystemFacts.elsewhere``)."""
        loader = info.context.loaders.people.get(system)
        if loader is None:
            return None
        unit = self.employer.system_id(system)
        try:
            found = await loader.load(self.person.id_type, self.person.id_number)
        except AdapterError:
            return SystemFacts(None, unit)  # recorded by the loader, reported once
        reached = await _reached_units(info.context, system, units_of(found) - {unit})
        return seen_from(found, unit, reached)

    async def _contributed(
        self, info: Info
    ) -> dict[model.System, tuple[Disagreements, SystemFacts]]:
        """Each system switched on that adds to the view: how it disagrees with
        employment, and what it holds."""
        found: dict[model.System, tuple[Disagreements, SystemFacts]] = {}
        for system in info.context.loaders.people:
            section = registry().get(system).worker
            facts = await self.facts(info, system)
            if section is not None and facts is not None:
                found[system] = (section.inconsistencies, facts)
        return found

    async def _all(self, info: Info) -> tuple[Any, Any, Any]:
        """The three systems' records, None for a system that failed."""
        parts, _ = await _gather_parts(info.context, self.employer, self.person.id_number)
        return parts

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> Worker | None:
        """A supergraph asks for ``Worker`` by ``idType`` and ``idNumber``."""
        info.context.require_account()
        try:
            id_type = model.IdType[str(representation["idType"])]
        except KeyError:
            raise bad_input("idType", "Unknown ID type.", "证件类型无效。") from None
        return await worker_by_id(info.context, id_type, str(representation["idNumber"]))


def _contributions() -> tuple[type[Any], ...]:
    """The Strawberry types of the fields registered systems add to ``Worker``."""
    return tuple(spec.worker.graph() for spec in registry() if spec.worker and spec.worker.graph)


if TYPE_CHECKING:
    Worker = _WorkerBase
else:
    Worker = strawberry.federation.type(
        type("Worker", (_WorkerBase, *_contributions()), {}),
        keys=["idType idNumber"],
        description="劳动者: a worker of one employer, as the systems know them together "
        "(and what the registered systems switched on add: social insurance's status and "
        "spells).",
    )


async def _reached_units(
    ctx: Context, system: model.System, units: Collection[str | None]
) -> frozenset[str]:
    """Of ``units`` (``system``'s ids of units), those the caller reaches: units on the
    gateway's record within its reach. A unit the gateway has not met is reached by
    nobody."""
    known = ctx.loaders.reached
    for unit in units:
        if unit is None or (system, unit) in known:
            continue
        record = await ctx.gateway.store.employers.find_by_system_id(system, unit)
        known[(system, unit)] = record is not None and ctx.access.may_reach_employer(
            record.credit_code, record.division
        )
    return frozenset(u for u in units if u is not None and known.get((system, u), False))


async def _gather_parts(
    ctx: Context, employer: EmployerRecord, id_number: str
) -> tuple[tuple[Any, Any, Any], list[AdapterError]]:
    """Each system's records of one worker at one employer; None where a system failed."""
    results = await asyncio.gather(
        _load(ctx.loaders.employment, employer, model.System.EMPLOYMENT, id_number),
        _load(ctx.loaders.contracts, employer, model.System.LABOUR, id_number),
        _load(ctx.loaders.unemployment, employer, model.System.UNEMPLOYMENT, id_number),
        return_exceptions=True,
    )
    failures: list[AdapterError] = []
    for r in results:
        if isinstance(r, AdapterError):
            failures.append(r)
        elif isinstance(r, BaseException):
            raise r
    e, c, u = (None if isinstance(r, BaseException) else r for r in results)
    return (e, c, u), failures


async def find_worker(
    ctx: Context, employer: EmployerRecord, id_type: model.IdType, id_number: str
) -> Worker | None:
    """One worker of one employer, audited; full numbers for the roles entitled to them.

    A person the employer has no record of that stands is None, exactly as one who
    does not exist: a registration or filing revoked, an unemployment registration
    cancelled (what a refused hire leaves behind at the unit that tried) make nobody
    the unit's worker; a dismissal or a contract ended do. When a system could not be
    asked and those that answered know nobody, nobody can say: the answer is that
    system's error, not None.
    """
    access = ctx.access
    number = check_id_number_length("idNumber", normalize_id_number(id_number))
    if check_id_number(id_type, number, today=local_date(ctx.gateway.clock())):
        # A number that cannot exist has no worker anywhere: no system is asked.
        await ctx.audit_worker_read(employer, id_type, number, AuditResult.NOT_FOUND)
        return None
    parts, failures = await _gather_parts(ctx, employer, number)
    view = build_view(*parts, reveal=access.may_reveal())
    if view is not None and view.person.id_type != id_type:
        view = None
    if view is None and failures:
        raise from_adapter(failures[0])
    await ctx.audit_worker_read(
        employer, id_type, number, AuditResult.NOT_FOUND if view is None else AuditResult.ALLOWED
    )
    if view is None:
        return None
    return Worker(employer=employer, person=view.person, reveal=view.reveal)


async def worker_by_id(ctx: Context, id_type: model.IdType, id_number: str) -> Worker | None:
    """One person, as seen at the employer of their newest employment registration
    that stands (what a window needs when a person, not a unit, comes in), if the caller may
    reach that employer; audited like ``find_worker``.

    Nobody found, and another employer's worker, are the same None: telling them
    apart would tell who works where.
    """
    ctx.require_account()
    number = check_id_number_length("idNumber", normalize_id_number(id_number))
    employer: EmployerRecord | None = None
    if not check_id_number(id_type, number, today=local_date(ctx.gateway.clock())):
        try:
            found = await ctx.gateway.employment.query([number])
        except AdapterError as exc:
            raise from_adapter(exc) from None
        record = None
        # The newest registration that stands: one revoked (a hire refused and undone
        # at the unit that tried) makes nobody that unit's worker.
        newest = next((r for r in found if stands(r)), None)
        if newest is not None:
            record = await ctx.gateway.store.employers.find_by_system_id(
                model.System.EMPLOYMENT, newest.employer_id
            )
        if record is not None:
            try:
                employer = await ctx.employer(record.credit_code)
            except GatewayError as refused:
                if refused.code != "NOT_FOUND":
                    raise
    if employer is None:
        # Asked of a person and found nowhere the caller reaches: a read all the same.
        await ctx.audit_worker_read(None, id_type, number, AuditResult.NOT_FOUND)
        return None
    return await find_worker(ctx, employer, id_type, number)


class ReportSystemFailures(SchemaExtension):
    """After execution, an error for each system that could not be asked and that no
    error of the response names yet: a worker's ``status`` or ``name`` can be
    answered without a system, but the caller must know it was missing."""

    def on_execute(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        result, ctx = ec.result, ec.context
        if result is None or not isinstance(ctx, Context):
            return
        errors: list[GraphQLError] = list(result.errors or [])
        named = {(e.extensions or {}).get("system") for e in errors}
        missing = [f for f in ctx.loaders.failures() if f.system.value not in named]
        if missing:
            result.errors = errors + [from_adapter(f) for f in missing]
