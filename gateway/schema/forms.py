"""The registration form as a file, in the graph: ``importRegistrationForm``.

The workbook (or CSV) comes as an upload, by the GraphQL multipart request
specification. A file refused as a whole is a coded error and nothing of it is
kept. Otherwise every problem comes back at its sheet, row and column, with
the workbook marked at an expiring link only its uploader's rights can open;
accepted rows go to the registrar exactly as ``submitRegistrationForm`` sends
them, so they become the same registrations.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

import strawberry
from strawberry.file_uploads import Upload

from gateway.domain.checks import Problem, check_credit_code
from gateway.domain.identifiers import normalize_credit_code
from gateway.errors import GatewayError, bad_input, forbidden
from gateway.forms.busy import one_at_a_time
from gateway.forms.checking import CellProblem, ReadForm, check, read_form
from gateway.forms.marking import marked
from gateway.forms.progress import Phase, Progress, progress_of, published
from gateway.forms.reading import FileRefused, FormFile, open_form, too_large
from gateway.forms.store import keep_marked, token_of, workbook_reference
from gateway.registrations import model as reg
from gateway.registrations.service import Refused
from gateway.schema.context import Info
from gateway.schema.registrations import Registration, channel_of
from gateway.store.audit import IMPORT_ACTION, record_form
from gateway.store.model import AuditResult, EmployerRecord

__all__ = ["FormImportResult", "FormProblem", "import_registration_form"]

logger = logging.getLogger(__name__)


@strawberry.type(description="A problem (or warning) of the form, where it sits in the file.")
class FormProblem:
    sheet: str = strawberry.field(description="The sheet (CSV for a CSV file).")
    row: int | None = strawberry.field(description="The sheet's row number (1-based).")
    column: str | None = strawberry.field(description="The column's header, Chinese and English.")
    cell: str | None = strawberry.field(description="The cell, e.g. F7.")
    field: str = strawberry.field(description="The unified field, e.g. id_number.")
    code: str = strawberry.field(description="Stable code, e.g. ID_NUMBER_CHECKSUM.")
    message_zh: str = strawberry.field(description="中文说明.")
    message_en: str = strawberry.field(description="English explanation.")

    @classmethod
    def of(cls, p: CellProblem) -> FormProblem:
        cell = f"{p.letter}{p.row}" if p.letter and p.row else None
        return cls(
            sheet=p.sheet,
            row=p.row,
            column=p.column,
            cell=cell,
            field=p.field,
            code=p.code,
            message_zh=p.message_zh,
            message_en=p.message_en,
        )


@strawberry.type(description="The workbook with every problem cell marked (fill and comment).")
class MarkedWorkbook:
    url: str = strawberry.field(description="GET it with the same bearer token, before it expires.")
    expires_at: dt.datetime = strawberry.field(description="After this it is gone.")


@strawberry.type(description="What became of an imported form.")
class FormImportResult:
    accepted: bool = strawberry.field(description="Whether registrations were stored.")
    dry_run: bool = strawberry.field(description="Checked only: nothing was stored.")
    replayed: bool = strawberry.field(description="This idempotency key was seen before.")
    rows: int = strawberry.field(description="Rows of workers read from the file.")
    valid_rows: int = strawberry.field(description="Rows without problems.")
    registrations: list[Registration] = strawberry.field(description="One per accepted row.")
    problems: list[FormProblem] = strawberry.field(description="Every problem, at its cell.")
    warnings: list[FormProblem] = strawberry.field(description="Warnings, at their cells.")
    marked_workbook: MarkedWorkbook | None = strawberry.field(
        description="The file back with its problems marked (when it has any)."
    )


def _refused(exc: FileRefused | Refused) -> GatewayError:
    return GatewayError(exc.code, exc.en, exc.zh)


async def _read(upload: Upload, info: Info, progress: Progress) -> tuple[FormFile, ReadForm]:
    settings = info.context.gateway.config.forms
    if not hasattr(upload, "read"):  # a value inline in the document, not a multipart part
        raise bad_input(
            "file",
            "Send the file as a multipart upload (GraphQL multipart request specification).",
            "请以 multipart 方式上传文件（GraphQL multipart 请求规范）。",
        )
    # At most one byte more than the limit is read: enough to know it is over.
    try:
        data = await upload.read(settings.max_upload_bytes + 1)
    finally:
        await upload.close()  # type: ignore[attr-defined]
    if len(data) > settings.max_upload_bytes:
        raise _refused(too_large(settings.max_upload_bytes))
    try:
        # Reading thousands of rows is CPU work: off the event loop.
        file = open_form(data, settings)
        read = await info.context.gateway.in_workbook_thread(
            read_form, file, systems=settings.systems
        )
    except FileRefused as exc:
        raise _refused(exc) from None
    return file, read


async def _employer(info: Info, read: ReadForm) -> EmployerRecord | None:
    """The employer the form is for: its header's, else the signed-in employer's own.
    None when the header's code is not one (reported as the header's problem)."""
    ctx = info.context
    code = read.header.get("credit_code") or ctx.require_account().credit_code
    if code is None or check_credit_code(normalize_credit_code(code)):
        return None
    return await ctx.employer(normalize_credit_code(code))


def import_busy() -> GatewayError:
    return GatewayError(
        "FORM_IMPORT_BUSY",
        "Another form of this account is being imported: send this one when it is done.",
        "本账号的另一份登记表正在导入，请在其完成后再提交。",
    )


async def import_registration_form(
    info: Info,
    file: Upload,
    idempotency_key: str,
    *,
    dry_run: bool,
    valid_only: bool,
    channel: reg.Channel | None,
) -> FormImportResult:
    ctx = info.context
    account = ctx.require_account()  # signed in, or refused before the file is read
    if not ctx.access.may_submit_registrations():
        raise forbidden()
    chosen = channel_of(ctx.access, channel)
    with one_at_a_time(ctx.gateway.importing, account.id, import_busy):
        async with published(ctx.gateway, ctx.access.principal, idempotency_key) as progress:
            return await _import(
                info,
                file,
                idempotency_key,
                progress,
                dry_run=dry_run,
                valid_only=valid_only,
                channel=chosen,
            )


async def _import(
    info: Info,
    file: Upload,
    idempotency_key: str,
    progress: Progress,
    *,
    dry_run: bool,
    valid_only: bool,
    channel: reg.Channel,
) -> FormImportResult:
    ctx = info.context
    account = ctx.require_account()
    upload, read = await _read(file, info, progress)
    employer = await _employer(info, read)
    registrar = ctx.gateway.registrar
    found = await ctx.gateway.in_workbook_thread(
        check,
        read,
        today=registrar.today(),
        limits=registrar.check_row_limits,
        rules=registrar.row_rules,
        unit_name=employer.name if employer else None,
        credit_code=employer.credit_code if employer else None,
        progress=progress,
    )
    numbers = set(read.row_numbers)
    refused = [p for p in found if not p.warning]
    bad = {p.row for p in refused}
    good = [i for i, n in enumerate(read.row_numbers) if n not in bad]
    header_bad = any(p.row not in numbers for p in refused)
    result = FormImportResult(
        accepted=False,
        dry_run=dry_run,
        replayed=False,
        rows=len(read.rows),
        valid_rows=0 if header_bad else len(good),
        registrations=[],
        problems=[],
        warnings=[],
        marked_workbook=None,
    )
    submit = not dry_run and employer is not None and not header_bad and good
    if submit and (valid_only or not refused):
        assert employer is not None
        progress.start(Phase.STORING, len(good))
        try:
            outcome = await registrar.submit(
                actor=account,
                channel=channel,
                employer=employer,
                rows=[read.rows[i] for i in good],
                idempotency_key=idempotency_key,
                valid_only=valid_only,
                contact=read.header.get("contact"),
            )
        except Refused as exc:
            result.problems = [FormProblem.of(p) for p in found if not p.warning]
            await _audited(info, channel, employer, result, dry_run, valid_only, refused=exc.code)
            raise _refused(exc) from None
        # The registrar's own findings (a worker busy elsewhere, a system not open),
        # by the index of the rows it was given.
        for p in outcome.problems:
            row = good[p.row] if p.row is not None else None
            problem = Problem(p.field, p.code, p.message_zh, p.message_en)
            found.append(read.problem(row, problem))
        result.registrations = [Registration(data=r) for r in outcome.registrations]
        result.accepted, result.replayed = bool(outcome.registrations), outcome.replayed
    result.problems = [FormProblem.of(p) for p in found if not p.warning]
    result.warnings = [FormProblem.of(p) for p in found if p.warning]
    if result.problems:
        try:
            content = await ctx.gateway.in_workbook_thread(marked, upload, found)
        except Exception:
            # openpyxl loads the whole file to mark it, and may fail where its streaming
            # reader did not: the problems are answered all the same, without the file.
            logger.warning("a form with problems could not be marked", exc_info=False)
            await _audited(info, channel, employer, result, dry_run, valid_only)
            return result
        url, expires = await keep_marked(
            ctx.gateway,
            ctx.access,
            content,
            credit_code=employer.credit_code if employer else None,
            rows=len(read.rows),
        )
        result.marked_workbook = MarkedWorkbook(url=url, expires_at=expires)
    await _audited(info, channel, employer, result, dry_run, valid_only)
    return result


async def _audited(
    info: Info,
    channel: reg.Channel,
    employer: EmployerRecord | None,
    result: FormImportResult,
    dry_run: bool,
    valid_only: bool,
    *,
    refused: str | None = None,
) -> None:
    """The upload's record in the audit log: the workers' data of every row were read
    and checked (and kept, marked, when it has problems). The registrations it stored
    have each their own record, written in their transaction (``submit_hire``...): here
    only how many. Nothing of a worker."""
    detail: dict[str, object] = {
        "rows": result.rows,
        "valid_rows": result.valid_rows,
        "problems": len(result.problems),
        "dry_run": dry_run,
        "valid_only": valid_only,
        "registrations": len(result.registrations),
        "replayed": result.replayed,
    }
    if result.marked_workbook is not None:
        token = token_of(result.marked_workbook.url)
        detail["workbook"] = workbook_reference(info.context.gateway, token)
    if refused is not None:
        detail["refused"] = refused
    await record_form(
        info.context.gateway.store.audit,
        actor=info.context.require_account(),
        action=IMPORT_ACTION,
        channel=channel,
        credit_code=employer.credit_code if employer else None,
        result=AuditResult.REFUSED if refused else AuditResult.ALLOWED,
        detail=detail,
    )


@strawberry.type
class FormMutation:
    @strawberry.mutation(
        description="登记表导入: the filled form as an .xlsx workbook or a CSV saved by a "
        "spreadsheet (UTF-8 or GBK), uploaded by the GraphQL multipart request specification."
    )
    async def import_registration_form(
        self,
        info: Info,
        file: Annotated[Upload, strawberry.argument(description="The filled form.")],
        idempotency_key: Annotated[
            str,
            strawberry.argument(
                description="The same key replays the first answer; `formImportProgress` "
                "follows the import by it."
            ),
        ],
        dry_run: Annotated[
            bool, strawberry.argument(description="Check only: store nothing.")
        ] = False,
        valid_only: Annotated[
            bool,
            strawberry.argument(
                description="Store the valid rows and report the others (default: all or nothing)."
            ),
        ] = False,
        channel: Annotated[
            reg.Channel | None, strawberry.argument(description="办理渠道 (clerks: the window).")
        ] = None,
    ) -> FormImportResult:
        return await import_registration_form(
            info, file, idempotency_key, dry_run=dry_run, valid_only=valid_only, channel=channel
        )


@strawberry.type(description="How far an import has got: a front end draws its bar from it.")
class FormImportProgress:
    phase: str = strawberry.field(description="READING, CHECKING, STORING or DONE.")
    done: int = strawberry.field(description="Rows read (of the sheet), checked or stored.")
    total: int | None = strawberry.field(description="Of how many (null: not known yet).")


@strawberry.type
class FormQuery:
    @strawberry.field(
        description="The progress of one's own import of a form, by its idempotency key "
        "(null when there is none under that key); poll it while the import runs."
    )
    async def form_import_progress(
        self,
        info: Info,
        idempotency_key: Annotated[
            str,
            strawberry.argument(
                description="The `idempotencyKey` the import was sent with "
                "(`importRegistrationForm`); found only with the uploader's rights (its "
                "role and unit, or a clerk's divisions): null for anyone else. Readable "
                "until `form_marked_ttl_s` (an hour by default) after the import ends."
            ),
        ],
    ) -> FormImportProgress | None:
        ctx = info.context
        found = await progress_of(ctx.gateway, ctx.access.principal, idempotency_key)
        if found is None:
            return None
        return FormImportProgress(phase=found.phase.value, done=found.done, total=found.total)
