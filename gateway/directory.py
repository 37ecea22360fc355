"""Which unit is which in each system: the employer bindings.

An employer is known to the gateway by its unified social credit code; each
system knows it under its own id. The bindings are kept in the store (the
gateway's record, written when an account is opened or merged) and cached; an
employer the store does not know yet is looked up in the three systems at once
and remembered. A unit no system found is no unit only when every system was
asked: while one cannot be (down, its breaker open), the answer is that system's
error, not "no such employer".
"""

from __future__ import annotations

import asyncio

from gateway.cache import GatewayCache
from gateway.domain.model import EmployerBinding, EmployerProfile, System
from gateway.registry import registry
from gateway.store import Store
from gateway.store.model import EmployerRecord
from gateway.systems import AdapterError, SystemAdapter, Unavailable


class EmployerDirectory:
    def __init__(
        self, store: Store, cache: GatewayCache, adapters: dict[System, SystemAdapter]
    ) -> None:
        self._store = store
        self._cache = cache
        self._adapters = adapters

    async def get(self, credit_code: str) -> EmployerRecord | None:
        """The unit's record, its bindings completed from the systems that were missing
        (and remembered); None when the store has no record and every system was asked
        and none knows the unit.

        Raises the ``AdapterError`` of a system that could not be asked (an
        ``Unavailable`` first) when the store has no record and no system that answered
        knows the unit: the unit may well exist there, and "no such employer" would
        tell a clerk submitting a hire for it that it does not. The caller decides
        first whether this caller may look the unit up at all."""
        key = self._cache.employer_key(credit_code)
        cached: EmployerRecord | None = await self._cache.get(key)
        if cached is not None:
            return cached
        record = await self._store.employers.get(credit_code)
        missing = [s for s in self._adapters if record is None or record.system_id(s) is None]
        if missing:
            found, unasked = await self._ask(credit_code, missing)
            if record is None and not found:
                if unasked:
                    raise _first_unavailable(unasked)
                return None
            record = await self._remember(credit_code, record, found)
        if record is not None and all(record.system_id(s) for s in self._adapters):
            # Only complete bindings are cached: a system that was down is asked again.
            await self._cache.set(key, record, ttl=self._cache.employer_ttl_s)
        return record

    async def profiles(
        self, credit_code: str
    ) -> tuple[dict[System, EmployerProfile], dict[System, AdapterError]]:
        """The unit as each system that answers holds it, asked afresh (not cached):
        for comparing them when an account is opened; and why each system that
        could not be asked was not (down, its breaker open, its deadline passed).
        A system unasked is not a system that does not know the unit."""
        found, unasked = await self._ask(credit_code, list(self._adapters))
        return {s: b.profile for s, b in found.items()}, unasked

    async def forget(self, credit_code: str) -> None:
        await self._cache.delete(self._cache.employer_key(credit_code))

    async def _ask(
        self, credit_code: str, systems: list[System]
    ) -> tuple[dict[System, EmployerBinding], dict[System, AdapterError]]:
        async def one(system: System) -> EmployerBinding | AdapterError | None:
            try:
                return await self._adapters[system].find_employer(credit_code)
            except AdapterError as exc:
                return exc

        answers = await asyncio.gather(*(one(s) for s in systems))
        found = {
            s: a for s, a in zip(systems, answers, strict=True) if isinstance(a, EmployerBinding)
        }
        unasked = {
            s: a for s, a in zip(systems, answers, strict=True) if isinstance(a, AdapterError)
        }
        return found, unasked

    async def _remember(
        self,
        credit_code: str,
        record: EmployerRecord | None,
        found: dict[System, EmployerBinding],
    ) -> EmployerRecord | None:
        if record is None:
            # The employment system's profile first: it is the one the form's header follows.
            first = registry().first_known(found)
            assert first is not None
            record = EmployerRecord(
                credit_code=credit_code,
                name=first.profile.name,
                division=first.profile.division,
            )
            await self._store.employers.upsert(record)
        for system, binding in found.items():
            await self._store.employers.bind(credit_code, system, binding.employer_id)
        return await self._store.employers.get(credit_code)


def _first_unavailable(unasked: dict[System, AdapterError]) -> AdapterError:
    """Why the unit could not be looked up: a system unavailable (retry later) before
    any other error, in the systems' order."""
    errors = list(unasked.values())
    return next((e for e in errors if isinstance(e, Unavailable)), errors[0])
