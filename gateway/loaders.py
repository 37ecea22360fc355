"""Per-request batching of look-ups into each system's batch query (DataLoader).

A page of 100 workers asks each system for 100 people; the loaders turn that
into the system's batch query (the adapters chunk to the system's limits), one
per employer, after taking what the cache already holds. How a system is asked
is its package's to say (``SystemSpec.records``): the unemployment system has no
batch query, and its adapter bounds the calls in flight.

A system that fails fails only its own keys: the loader returns the error for
each of them, and the fields those keys feed come back null with that error.
Each loader also keeps the failures it met (:meth:`Loaders.failures`), so that
a system that could not be asked is reported even where no field of its own
was selected (see :class:`gateway.schema.worker.ReportSystemFailures`).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from strawberry.dataloader import DataLoader

from gateway.cache import GatewayCache
from gateway.domain.model import (
    EmploymentRecord,
    IdType,
    LabourContract,
    System,
    UnemploymentRegistration,
)
from gateway.registry import registry
from gateway.systems import AdapterError, SystemAdapter

R = TypeVar("R")

#: (the system's own id of the employer, the person's ID number)
Key = tuple[str, str]


class _SystemLoader(Generic[R]):
    """Cache first, then one batch query per employer for the misses."""

    def __init__(
        self,
        system: System,
        cache: GatewayCache,
        fetch: Callable[[list[str], str], Awaitable[Sequence[R]]],
    ) -> None:
        self.system = system
        self._cache = cache
        self._fetch = fetch
        self.loader: DataLoader[Key, list[R]] = DataLoader(self._batch)
        #: The failures met in this request, the latest last.
        self.failures: list[AdapterError] = []

    async def load(self, employer_id: str, id_number: str) -> list[R]:
        return await self.loader.load((employer_id, id_number))

    def prime(self, employer_id: str, id_number: str, records: list[R]) -> None:
        self.loader.prime((employer_id, id_number), records)

    async def _batch(self, keys: list[Key]) -> list[list[R] | BaseException]:
        cache_keys = [self._cache.worker_key(self.system, e, n) for e, n in keys]
        cached = await self._cache.get_many(cache_keys)
        results: dict[Key, list[R] | BaseException] = {
            k: v for k, v in zip(keys, cached, strict=True) if v is not None
        }
        misses: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            if key not in results:
                misses[key[0]].append(key[1])
        for employer_id, numbers in misses.items():
            try:
                records = await self._fetch(numbers, employer_id)
            except AdapterError as exc:
                self.failures.append(exc)
                for n in numbers:
                    results[(employer_id, n)] = exc
                continue
            by_person: dict[str, list[R]] = {n: [] for n in numbers}
            for record in records:
                rec: Any = record
                if rec.employer_id == employer_id and rec.person.id_number in by_person:
                    by_person[rec.person.id_number].append(record)
            for n, found in by_person.items():
                results[(employer_id, n)] = found
            await self._cache.set_many(
                [
                    (self._cache.worker_key(self.system, employer_id, n), found)
                    for n, found in by_person.items()
                ],
                ttl=self._cache.worker_ttl_s,
            )
        return [results[k] for k in keys]


class _PersonLoader:
    """A worker's records in a system that adds to the worker view, by ID type and
    number (``WorkerSection.records``: one call per person, bounded by its adapter).
    Not cached: what such a system decides (an approved declaration) changes
    without any write of ours."""

    def __init__(
        self,
        system: System,
        adapter: SystemAdapter,
        records: Callable[[Any, IdType, str], Awaitable[Any]],
    ) -> None:
        self.system = system
        self._adapter = adapter
        self._records = records
        self.loader: DataLoader[tuple[IdType, str], Any] = DataLoader(self._batch)
        self.failures: list[AdapterError] = []

    async def load(self, id_type: IdType, id_number: str) -> Any:
        return await self.loader.load((id_type, id_number))

    async def _batch(self, keys: list[tuple[IdType, str]]) -> list[Any]:
        found = await asyncio.gather(
            *(self._records(self._adapter, t, n) for t, n in keys), return_exceptions=True
        )
        for result in found:
            if isinstance(result, AdapterError):
                self.failures.append(result)
            elif isinstance(result, BaseException):
                raise result
        return list(found)


class Loaders:
    """Fresh for every request, so that nothing is shared between callers.

    One loader per system switched on whose registration says how a worker's
    records are read there (``SystemSpec.records``); ``of(system)`` finds it.
    A system that adds to the worker view (``SystemSpec.worker``) has its own,
    by the person (``person(system)``; ``people``: every one of them).
    """

    def __init__(
        self,
        adapters: Mapping[System, SystemAdapter],
        cache: GatewayCache,
    ) -> None:
        self._loaders: dict[System, _SystemLoader[Any]] = {}
        for system, adapter in adapters.items():
            records = registry().get(system).records
            if records is not None:
                self._loaders[system] = _SystemLoader(system, cache, _fetch(records, adapter))
        #: The systems switched on that add to the worker view, with their loaders.
        self.people: dict[System, _PersonLoader] = {}
        for system, adapter in adapters.items():
            section = registry().get(system).worker
            if section is not None:
                self.people[system] = _PersonLoader(system, adapter, section.records)
        #: Whether the caller reaches a unit, by a system's id of it, as found in this
        #: request (what of a person's other units a caller may see:
        #: ``gateway.schema.worker``).
        self.reached: dict[tuple[System, str], bool] = {}

    def of(self, system: System) -> _SystemLoader[Any]:
        return self._loaders[system]

    # The core systems' loaders, for the worker view built on them.

    @property
    def employment(self) -> _SystemLoader[EmploymentRecord]:
        return self._loaders[System.EMPLOYMENT]

    @property
    def contracts(self) -> _SystemLoader[LabourContract]:
        return self._loaders[System.LABOUR]

    @property
    def unemployment(self) -> _SystemLoader[UnemploymentRegistration]:
        return self._loaders[System.UNEMPLOYMENT]

    def failures(self) -> list[AdapterError]:
        """The latest failure of each system met in this request."""
        found = [loader.failures[-1] for loader in self._loaders.values() if loader.failures]
        found += [p.failures[-1] for p in self.people.values() if p.failures]
        return found


def _fetch(
    records: Callable[[Any, list[str], str], Awaitable[Sequence[Any]]], adapter: SystemAdapter
) -> Callable[[list[str], str], Awaitable[Sequence[Any]]]:
    async def fetch(ids: list[str], employer_id: str) -> Sequence[Any]:
        return await records(adapter, ids, employer_id)

    return fetch
