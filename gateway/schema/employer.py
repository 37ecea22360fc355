"""An employer (用人单位): its ids in each system and its workers."""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any

import strawberry

from gateway.domain import codes
from gateway.domain.limits import has_control_character
from gateway.domain.model import EmploymentRecord
from gateway.domain.worker import newest_per_person
from gateway.errors import bad_input, check_first, from_adapter, invalid_cursor
from gateway.registry import registry
from gateway.schema.arguments import FIRST, ID_NUMBER, ID_TYPE, WORKERS_AFTER
from gateway.schema.context import Context, Info
from gateway.schema.enums import EmploymentState, IdType
from gateway.schema.worker import Worker, find_worker
from gateway.store import InvalidCursor
from gateway.store.model import EmployerRecord
from gateway.systems import AdapterError

_SYSTEM_PAGE = 100  # the employment system's largest page


def _system_ids() -> type:
    """One field per registered system, by its configuration key (``social_insurance``
    is ``socialInsurance``): a system that joins shows its unit's id here with no
    change to this module."""
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for spec in registry():
        annotations[spec.key] = str | None
        namespace[spec.key] = strawberry.field(
            default=None,
            description=f"{spec.name_zh}单位编号: the unit's id in the {spec.name_en}.",
        )
    return strawberry.type(
        type("SystemIds", (), namespace),
        description="The employer's own id in each system (各系统单位编号): null where it is "
        "not open or that system is not switched on.",
    )


SystemIds = _system_ids()


@strawberry.input(description="Which workers to list.")
class WorkerFilter:
    state: EmploymentState | None = strawberry.field(
        default=None,
        description="就业登记状态: only workers whose newest registration here that stands "
        "is in this state (a worker let go and hired again is EMPLOYED, not DISMISSED; "
        "REVOKED lists nobody: a revoked registration makes nobody the unit's worker).",
    )


@strawberry.type(description="Where a page ends (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")


@strawberry.type(description="One worker in a list, with its cursor.")
class WorkerEdge:
    cursor: str = strawberry.field(
        description="Opaque position of this item in the unit's list of people (pass it as "
        "`after`; one the list did not give out is BAD_INPUT on `after`)."
    )
    node: Worker = strawberry.field(description="The worker (ID and mobile numbers masked).")


@strawberry.type(description="A page of an employer's workers.")
class WorkerConnection:
    edges: list[WorkerEdge] = strawberry.field(description="The workers of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page ends.")
    total_count: int = strawberry.field(
        description="How many workers of the unit (people, not registrations) match "
        "`filter` in all, every page together."
    )


async def _unit_registrations(ctx: Context, employment_id: str) -> list[EmploymentRecord]:
    """Every employment registration of the unit, every state, in the system's order: a
    person's rows are counted as one only over the whole list (one call per 100)."""
    employment = ctx.gateway.employment
    first = await employment.list_by_employer(employment_id, page=1, size=_SYSTEM_PAGE)
    pages = -(-first.total // _SYSTEM_PAGE)
    rest = await asyncio.gather(
        *(
            employment.list_by_employer(employment_id, page=p, size=_SYSTEM_PAGE)
            for p in range(2, pages + 1)
        )
    )
    return first.items + [r for page in rest for r in page.items]


#: More people than any unit's list holds: a position at or past it is no cursor a
#: list gave out, refused before the list is read.
_MAX_POSITION = 10_000_000


def _cursor(position: int) -> str:
    """A row's cursor: its position in the unit's list of people (as ``workers`` builds
    it, filtered as asked), counted from 0."""
    return base64.urlsafe_b64encode(f"w:{position}".encode()).decode()


def _position(cursor: str) -> int:
    """The position ``cursor`` names, if it is one ``_cursor`` gives out (written as it
    writes them: base64 of ``w:`` and the position in ASCII digits, no sign, no leading
    zero, below ``_MAX_POSITION``); otherwise BAD_INPUT on ``after``, before any system
    is asked."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except ValueError:  # not ASCII, not base64 (binascii.Error is a ValueError)
        raise invalid_cursor() from None
    kind, sep, digits = text.partition(":")
    if kind != "w" or not sep or not (digits.isascii() and digits.isdigit()):
        raise invalid_cursor()
    if len(digits) > len(str(_MAX_POSITION)) or int(digits) >= _MAX_POSITION:
        raise invalid_cursor()
    position = int(digits)
    if _cursor(position) != cursor:  # leading zeros, other padding: not given out
        raise invalid_cursor()
    return position


@strawberry.federation.type(
    keys=["creditCode"],
    description="用人单位: an employer, known to the gateway by its unified social credit code.",
)
class Employer:
    record: strawberry.Private[EmployerRecord]

    @strawberry.field(description="统一社会信用代码 (GB 32100).")
    def credit_code(self) -> str:
        return self.record.credit_code

    @strawberry.field(description="单位名称.")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="属地: administrative division code (GB/T 2260).")
    def division(self) -> str:
        return self.record.division

    @strawberry.field(description="属地名称: the division's name.")
    def division_name(self) -> str | None:
        return codes.division_name(self.record.division)

    @strawberry.field(description="The employer's own id in each system.")
    def system_ids(self) -> SystemIds:  # type: ignore[valid-type]
        return SystemIds(**{str(system): i for system, i in self.record.ids.items()})

    @strawberry.field(
        description="劳动者名单: the workers registered with this employer in the employment "
        "system, a page at a time (`first` at most 100). One row per person (ID type and "
        "number) with a registration here that stands, from their newest such; a person "
        "whose registrations here were all revoked is not the unit's worker and is not "
        "listed. `filter.state` is that registration's state. ID and mobile numbers are "
        "masked. Cursors are positions in the unit's list of people: a worker hired or "
        "let go between two pages may shift the next page by one."
    )
    async def workers(
        self,
        info: Info,
        filter: Annotated[
            WorkerFilter | None,
            strawberry.argument(
                description="Which workers, by their newest registration's state; null: "
                "every worker of the unit."
            ),
        ] = None,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=WORKERS_AFTER)] = None,
    ) -> WorkerConnection:
        check_first(first)
        # After the row at a position: refused (BAD_INPUT on ``after``) before any
        # system is asked when it is no cursor the list gives out, and once the list
        # is read when it lies beyond it (the last row's is an empty page).
        start = 0 if after is None else _position(after) + 1
        employment_id = self.record.employment_id
        if employment_id is None:
            if start:
                raise invalid_cursor()
            return WorkerConnection(
                edges=[], page_info=PageInfo(has_next_page=False, end_cursor=None), total_count=0
            )
        state = filter.state if filter else None
        try:
            registrations = await _unit_registrations(info.context, employment_id)
        except AdapterError as exc:
            raise from_adapter(exc) from None
        people = newest_per_person(registrations)
        if state is not None:
            people = [r for r in people if r.state is state]
        if start > len(people):
            raise invalid_cursor()
        rows, total = people[start : start + first], len(people)
        edges = [
            WorkerEdge(
                cursor=_cursor(start + i),
                node=Worker(employer=self.record, person=r.person, reveal=False),
            )
            for i, r in enumerate(rows)
        ]
        return WorkerConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=start + len(rows) < total,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
        )

    @strawberry.field(
        description="One worker of this employer, with full ID and mobile numbers and addresses "
        "for the roles entitled to them. Every call is recorded in the audit log. Null when "
        "the employer has no such worker."
    )
    async def worker(
        self,
        info: Info,
        id_type: Annotated[IdType, strawberry.argument(description=ID_TYPE)],
        id_number: Annotated[str, strawberry.argument(description=ID_NUMBER)],
    ) -> Worker | None:
        return await find_worker(info.context, self.record, id_type, id_number)

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> Employer:
        """A supergraph asks for ``Employer`` by ``creditCode``."""
        return cls(record=await info.context.employer(str(representation["creditCode"])))


#: The longest search: a unit's whole name (its column's length in the store).
SEARCH_MAX = 200


@strawberry.type(description="A page of the employers the caller may reach, by credit code.")
class EmployerConnection:
    nodes: list[Employer] = strawberry.field(description="The employers of this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` for the next page.")
    has_next_page: bool = strawberry.field(description="Whether more follow.")
    #: What the page was read with (None: nothing the caller may reach).
    bounds: strawberry.Private[dict[str, Any] | None] = None

    @strawberry.field(
        description="How many employers match in all, every page together (counted only "
        "when selected)."
    )
    async def total_count(self, info: Info) -> int:
        if self.bounds is None:
            return 0
        return await info.context.gateway.store.employers.count(**self.bounds)


async def list_employers(
    ctx: Context, search: str | None, first: int, after: str | None
) -> EmployerConnection:
    """The units the gateway has on record that the caller may reach: a clerk's
    divisions, an administrator's every unit, an employer its own."""
    scope = ctx.access.employer_scope()  # signed in, or refused before anything else
    check_first(first)
    search = (search or "").strip() or None
    if search is not None and (len(search) > SEARCH_MAX or has_control_character(search)):
        raise bad_input(
            "search",
            f"Search with at most {SEARCH_MAX} characters of a unit's name or credit code, "
            "without line breaks.",
            f"检索词为单位名称或统一社会信用代码的一部分，最多 {SEARCH_MAX} 个字符，"
            "且不得含换行等控制字符。",
        )
    bounds: dict[str, Any] = {
        "divisions": scope.divisions,
        "credit_codes": scope.credit_codes,
        "search": search,
    }
    try:
        page = await ctx.gateway.store.employers.page(**bounds, first=first, after=after)
    except InvalidCursor:
        raise invalid_cursor() from None
    return EmployerConnection(
        nodes=[Employer(record=r) for r in page.items],
        end_cursor=page.end_cursor,
        has_next_page=page.has_next_page,
        bounds=bounds,
    )
