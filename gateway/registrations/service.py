"""Accepting registrations: check everything, then store, then let the engine act.

Every row is checked in full before anything is stored: all problems of all
rows come back at once, per row and field, and nothing is stored if any row is
invalid, unless the caller asks for the valid rows only. What is accepted is
stored, with its idempotency key, before any system is called.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.access import Access, Principal
from gateway.config import GatewayConfig
from gateway.domain.checks import (
    FormCheck,
    Problem,
    RowResult,
    check_employer,
    check_header,
    checked_rows,
)
from gateway.domain.identifiers import (
    normalize_credit_code,
    normalize_id_number,
    normalize_mobile,
)
from gateway.domain.limits import Limits, check_limits
from gateway.domain.model import EmployerProfile, RegistrationForm, RegistrationRow, System
from gateway.registrations.followups import Correction, correct, under_review
from gateway.registrations.model import (
    Channel,
    Operation,
    Registration,
    Step,
    Submission,
    Warning,
    request_hash,
)
from gateway.registrations.opening import settle_profile
from gateway.registrations.outcomes import (
    Outcome,
    Refused,
    RowProblem,
    busy_row,
    key_conflict,
    not_open,
    unit_name_differs,
)
from gateway.registrations.plan import (
    PROFILE_FIELDS,
    NotBound,
    account_reach,
    new_id,
    plan_account,
    plan_row,
    row_reach,
    to_payload,
)
from gateway.registrations.policy import SeparateHandling, local_date
from gateway.registrations.ports import (
    Created,
    KeyConflict,
    Replayed,
    WorkersBusy,
)
from gateway.store import (
    Account,
    DuplicateUsername,
    EmployerRecord,
    InvalidAccount,
    Role,
    Store,
    WeakPassword,
)
from gateway.store.accounts import check_new_account, employer_username
from gateway.store.limits import LIMITS as STORE_LIMITS

__all__ = ["Outcome", "Refused", "Registrar", "RowProblem", "key_conflict", "normalized"]


#: Rows a submission checks or plans between two turns it gives the event loop: a
#: form of 10,000 rows held the loop 1.7 s in one stretch, every other request waiting.
ROWS_PER_TURN = 250


async def _turn(n: int) -> None:
    """Let the event loop run the others' work before row ``n`` (every ``ROWS_PER_TURN``)."""
    if n and n % ROWS_PER_TURN == 0:
        await asyncio.sleep(0)


def normalized(row: RegistrationRow) -> RegistrationRow:
    """The row as it will be checked, stored and sent (full-width digits, spaces...):
    its ID number and its mobile number."""
    mobile = None if row.mobile is None else normalize_mobile(row.mobile)
    return dataclasses.replace(row, id_number=normalize_id_number(row.id_number), mobile=mobile)


class Registrar:
    def __init__(
        self,
        store: Store,
        config: GatewayConfig,
        *,
        clock: Callable[[], dt.datetime],
        limits: Mapping[System, Limits],
        store_limits: Limits = STORE_LIMITS,
        on_submitted: Callable[[], None] = lambda: None,
    ) -> None:
        #: The systems switched on in this deployment (``config.systems``).
        self.systems: tuple[System, ...] = tuple(config.systems) or tuple(System)
        missing = set(self.systems) - set(limits)
        if missing:
            raise ValueError(f"no limits declared for {sorted(missing)}")
        self._store = store
        self._limits = dict(limits)
        self._store_limits = store_limits
        self._on_submitted = on_submitted
        self._config = config
        self._clock = clock
        self.policy = SeparateHandling(config.transition_start, config.mandatory_from)
        #: The checks of the fields the registered systems add to the row.
        self.row_rules = config.row_rules()

    def _ids(self, employer: EmployerRecord) -> dict[System, str | None]:
        """The unit's id in each system switched on (None: not bound there)."""
        return {s: employer.system_id(s) for s in self.systems}

    def today(self) -> dt.date:
        return local_date(self._clock())

    def _sides(self, reach: Mapping[System, frozenset[str]]) -> list[Limits]:
        """The limits of every system reached (for what it is sent), and the store's."""
        return [self._limits[s].only(fields) for s, fields in reach.items()] + [self._store_limits]

    def check_row_limits(
        self, row: RegistrationRow, only: Operation | None = None
    ) -> list[Problem]:
        """Every text of the row against the strictest limit of wherever it will go."""
        values = {
            f.name: value
            for f in dataclasses.fields(row)
            if type(value := getattr(row, f.name)) is str
        }
        return check_limits(values, self._sides(row_reach(row, only, self.systems)))

    def correction(
        self, registration: Registration, step: Step, corrections: Mapping[str, Any]
    ) -> Correction:
        """A follow-up's retry with corrected data, checked as the form's row is."""
        return correct(
            registration,
            step,
            corrections,
            today=self.today(),
            limits=self.check_row_limits,
            rules=self.row_rules,
        )

    def check_employer_limits(self, profile: EmployerProfile) -> list[Problem]:
        """The unit's name, contact and phone against every system and the store."""
        values = {
            PROFILE_FIELDS.get(f.name, f.name): getattr(profile, f.name)
            for f in dataclasses.fields(profile)
        }
        return check_limits(
            values,
            self._sides(account_reach(self.systems)),
            report_as={unified: own for own, unified in PROFILE_FIELDS.items()},
        )

    def _check_key(self, key: str) -> None:
        if not 1 <= len(key) <= 128 or not key.isprintable():
            raise Refused(
                "BAD_IDEMPOTENCY_KEY",
                "An idempotency key is 1 to 128 printable characters.",
                "幂等键须为 1 至 128 个可打印字符。",
            )

    async def submit(
        self,
        *,
        actor: Account,
        channel: Channel,
        employer: EmployerRecord,
        rows: Sequence[RegistrationRow],
        idempotency_key: str,
        valid_only: bool = False,
        only: Operation | None = None,
        contact: str | None = None,
        unit_name: str | None = None,
    ) -> Outcome:
        """Check, plan and store one submission of rows for one employer.

        ``unit_name``: the name typed in the form's header (单位名称), if any. The
        credit code identifies the unit and its name on record is the one stored and
        sent; a name typed that differs is a warning (``UNIT_NAME_DIFFERS``), so that
        a clerk who mixed up two units' papers sees it."""
        self._check_key(idempotency_key)
        today = self.today()
        if only is not None and not self.policy.allowed(today):
            later_en, later_zh = "", ""
            if only is Operation.REGISTER_UNEMPLOYMENT:
                # The worker comes back for it after the ending: the ending as filed
                # is found in each system and adopted (``OperationSpec.settles``).
                later_en = (
                    " For a worker whose ending is already filed, submit the ending again as "
                    "filed (the same date) with the unemployment registration: the ending on "
                    "record is found, not filed twice."
                )
                later_zh = (
                    "已办理解除（终止）的劳动者，请按原日期再次提交解除（终止）并同时申请失业登记："
                    "已有的解除（终止）记录经核实后沿用，不会重复办理。"
                )
            raise Refused(
                "SEPARATE_HANDLING_CLOSED",
                f"Separate handling ended on {self.policy.mandatory_from:%Y-%m-%d}: submit the "
                "integrated registration instead." + later_en,
                f"自{self.policy.mandatory_from:%Y年%m月%d日}起全面实行一体化办理，禁止分口办理，"
                "请提交一体化登记。" + later_zh,
            )
        rows = [normalized(r) for r in rows]
        form = RegistrationForm(employer.name, employer.credit_code, contact, list(rows))
        # As ``check_form``, the rows in turns.
        results: list[RowResult] = []
        for n, row_result in enumerate(checked_rows(rows, today=today, rules=self.row_rules)):
            await _turn(n)
            results.append(row_result)
        checked = FormCheck(tuple(check_header(form)), tuple(results))
        outcome = Outcome(
            problems=[RowProblem.of(None, p) for p in checked.header],
            warnings=[RowProblem.of(i, w) for i, w in checked.warnings()],
        )
        if (differs := unit_name_differs(unit_name, employer.name)) is not None:
            outcome.warnings.insert(0, RowProblem.of(None, differs))
        for n, (row_check, row) in enumerate(zip(checked.rows, rows, strict=True)):
            await _turn(n)
            found = [*row_check.problems, *self.check_row_limits(row, only)]
            outcome.problems += [RowProblem.of(row_check.index, p) for p in found]
        content = {
            "credit_code": employer.credit_code,
            "rows": [to_payload(r) for r in rows],
            "valid_only": valid_only,
            "only": only,
            "channel": channel,
        }
        now = self._clock()
        common = {
            "channel": channel,
            "actor_id": actor.id,
            "actor_username": actor.username,
            "now": now,
            "step_deadline": dt.timedelta(seconds=self._config.step_deadline_s),
        }
        header_ok = not any(p.row is None for p in outcome.problems)
        bad_rows = {p.row for p in outcome.problems}
        planned: dict[int, Registration] = {}
        submission_id = new_id()
        # By row, once: looked up through every warning for each row, a form of 10,000
        # late hires (two warnings each) held the event loop 4 s more than on time.
        warned: dict[int | None, list[Warning]] = {}
        for w in outcome.warnings:
            warned.setdefault(w.row, []).append(
                Warning(w.code, w.field, w.message_zh, w.message_en)
            )
        for i, row in enumerate(rows):
            await _turn(i)
            if i in bad_rows or not header_ok:
                continue
            # The header's warnings concern every row's registration.
            warnings = [*warned.get(None, []), *warned.get(i, [])]
            try:
                planned[i] = plan_row(
                    row,
                    employer.credit_code,
                    employer.division,
                    self._ids(employer),
                    only=only,
                    unit_name=employer.name,
                    submission_id=submission_id,
                    warnings=warnings,
                    **common,
                )
            except NotBound as exc:
                outcome.problems.append(not_open(i, exc.system))
        hashed = request_hash(content)
        for _ in range(len(rows) + 1):
            if outcome.problems and not valid_only:
                return outcome
            if not planned:
                if not outcome.problems:  # pragma: no cover - check_form refuses empty forms
                    outcome.problems.append(
                        RowProblem(None, "rows", "NO_ROWS", "没有登记行。", "No rows.")
                    )
                return outcome
            submission = Submission(
                id=submission_id,
                actor_id=actor.id,
                idempotency_key=idempotency_key,
                request_hash=hashed,
                registration_ids=tuple(r.id for r in planned.values()),
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self._config.idempotency_ttl_s),
            )
            # A worker's personal data is written: the audit log says who, for
            # whom, in the same transaction.
            result = await self._store.registrations.submit(
                submission, list(planned.values()), audit_as=actor
            )
            if isinstance(result, Created):
                outcome.registrations = result.registrations
                self._on_submitted()
                return outcome
            if isinstance(result, Replayed):
                outcome.registrations, outcome.replayed = result.registrations, True
                return outcome
            if isinstance(result, KeyConflict):
                raise key_conflict()
            assert isinstance(result, WorkersBusy)
            busy = set(result.person_keys)
            under_way = await self._under_way(result.held_by, actor)
            for i, registration in list(planned.items()):
                if registration.person_key in busy:
                    key = registration.person_key
                    named = under_way.get(key) if key else None
                    outcome.problems.append(busy_row(i, *(named or (None, ()))))
                    del planned[i]
        raise AssertionError("unreachable: each round drops at least one busy row")

    async def _under_way(
        self, held_by: Mapping[str, tuple[str, str]], actor: Account
    ) -> dict[str, tuple[str, list[tuple[str, str]]]]:
        """For each worker held by another registration that the caller may see (its
        unit within the caller's reach, never another's): that registration's id, and
        what it awaits when that is only an agency's review (``followups.under_review``).
        """
        access = Access(Principal.of(actor))
        found: dict[str, tuple[str, list[tuple[str, str]]]] = {}
        for key, (registration_id, _) in held_by.items():
            holding = await self._store.registrations.get(registration_id)
            if holding is None or not access.may_reach_employer(
                holding.credit_code, holding.division
            ):
                continue
            found[key] = (registration_id, under_review(holding))
        return found

    def check_opening(self, profile: EmployerProfile, password: str | None) -> Outcome:
        """Everything wrong with an opening, found before anything is looked up or stored."""
        found = check_employer(profile) + self.check_employer_limits(profile)
        outcome = Outcome(problems=[RowProblem.of(None, p) for p in found])
        if password is None:
            return outcome
        if not self._config.employer_passwords_enabled:
            outcome.problems.append(
                RowProblem(
                    None,
                    "password",
                    "EMPLOYER_PASSWORDS_OFF",
                    "用人单位通过统一身份认证平台登录，不设密码。",
                    "Employers sign in through the identity platform; they have no password here.",
                )
            )
            return outcome
        try:
            check_new_account(
                employer_username(profile.credit_code),
                password,
                Role.EMPLOYER,
                credit_code=profile.credit_code,
            )
        except WeakPassword as exc:
            outcome.problems.append(
                RowProblem(None, "password", exc.code, exc.message_zh, exc.message_en)
            )
        except InvalidAccount as exc:
            outcome.problems.append(
                RowProblem(None, "password", "INVALID_ACCOUNT", "密码不符合要求。", str(exc))
            )
        return outcome

    async def open_account(
        self,
        *,
        actor: Account | None,
        channel: Channel,
        profile: EmployerProfile,
        password: str | None,
        idempotency_key: str,
        stored: EmployerProfile | None,
        in_systems: Mapping[System, EmployerProfile],
    ) -> tuple[Outcome, Account | None]:
        """Open the employer's one online account, and open or merge the employer in
        each system (in the background). The account exists at once; its bindings
        fill in as each system answers.

        The caller has proven that ``actor`` may act for this employer (a clerk of
        its division, or the employer itself through the identity platform, with
        ``actor`` None while it has no account yet). ``stored`` and ``in_systems``
        are what the gateway and the systems hold of the unit: what they hold
        stands, and what was typed only warns (``gateway.registrations.opening``).
        An existing account is returned as it is: opening never changes who can
        sign in, or how."""
        self._check_key(idempotency_key)
        profile = dataclasses.replace(
            profile, credit_code=normalize_credit_code(profile.credit_code)
        )
        outcome = self.check_opening(profile, password)
        if outcome.problems:
            return outcome, None
        settled = settle_profile(profile, stored, in_systems)
        outcome.warnings += [
            RowProblem(None, w.field, w.code, w.message_zh, w.message_en) for w in settled.warnings
        ]
        code = profile.credit_code
        account = await self._store.accounts.of_employer(code)
        if account is not None and password is not None:
            outcome.warnings.append(
                RowProblem(
                    None,
                    "password",
                    "PASSWORD_NOT_CHANGED",
                    "该单位已有网上账号，其密码未作修改。",
                    "The employer's account exists already; its password was not changed.",
                )
            )
        if account is None:
            # A unit the store has not met yet (new, or known only to the systems:
            # nobody has looked it up here) is added with its account, in the
            # account's transaction, under the name and division that stand.
            unit = EmployerRecord(code, settled.profile.name, settled.profile.division)

            async def add_unit(conn: AsyncConnection) -> None:
                await self._store.employers.add_in(conn, unit)

            try:
                account = await self._store.accounts.create(
                    employer_username(code),
                    password,
                    Role.EMPLOYER,
                    display_name=settled.profile.name,
                    credit_code=code,
                    unit=add_unit,
                )
            except DuplicateUsername:
                # Opened at the same moment by another request (a clerk and the
                # employer, or a retry): one account per employer, theirs.
                account = await self._store.accounts.get(employer_username(code))
        assert account is not None
        acting = actor or account
        now = self._clock()
        registration = plan_account(
            settled.profile,
            systems=self.systems,
            submission_id=new_id(),
            channel=channel,
            actor_id=acting.id,
            actor_username=acting.username,
            warnings=list(settled.warnings),
            now=now,
            step_deadline=dt.timedelta(seconds=self._config.step_deadline_s),
        )
        # No password in the hash: a retry must not need to resend it.
        content = {"profile": to_payload(settled.profile), "channel": channel}
        submission = Submission(
            id=registration.submission_id,
            actor_id=acting.id,
            idempotency_key=idempotency_key,
            request_hash=request_hash(content),
            registration_ids=(registration.id,),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=self._config.idempotency_ttl_s),
        )
        result = await self._store.registrations.submit(submission, [registration], audit_as=acting)
        if isinstance(result, KeyConflict):
            raise key_conflict()
        assert isinstance(result, Created | Replayed)
        outcome.registrations, outcome.replayed = result.registrations, isinstance(result, Replayed)
        if isinstance(result, Created):
            self._on_submitted()
        return outcome, account
