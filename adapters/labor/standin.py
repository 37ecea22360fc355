"""The labour relations system's stand-in: a SOAP 1.1 server, plus the ``/__sim/`` surface.

A Starlette app in front of the spyne service (``service.py``): it reads each
envelope, names the operation for the simulator's counts and faults, checks
the WS-Security UsernameToken, and hands the envelope to spyne's WSGI
application in a worker thread. A write's commit is signalled through the
WSGI environ, so that the after-commit faults apply only to committed writes.

Infrastructure answers, as this system gives them: ``error_rate`` → HTTP 500
with a ``Server`` fault; ``down`` → a bare HTTP 503; ``maintenance`` (the
contract defines none) → HTTP 503 with ``Retry-After`` and a ``Server`` fault.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.labor import filings, mapping, service, soap
from adapters.standin import seed as seed_data
from adapters.standin.sim import Outcome, Simulator
from adapters.standin.store import Store
from gateway.domain.model import LabourContract
from gateway.settings import SystemSettings

_XML = "text/xml; charset=utf-8"
# Spyne builds the WSDL once; each fetch gets it with the address it was asked at.
_PLACEHOLDER = "http://standin.invalid"


class SoapAnswers:
    """How the labour system answers when it is in trouble."""

    def infra_error(self) -> Response:
        body = soap.fault_envelope(
            soap.SERVER,
            "系统繁忙，请稍后再试 (internal error)",
            {"code": filings.E_SERVER, "message": "internal error"},
        )
        return Response(body, status_code=500, media_type=_XML)

    def down(self) -> Response:
        return PlainTextResponse("Service Unavailable", status_code=503)

    def maintenance(self, retry_after_s: int) -> Response:
        body = soap.fault_envelope(
            soap.SERVER,
            "系统维护中 (under maintenance)",
            {"code": filings.E_SERVER, "message": "under maintenance"},
        )
        return Response(
            body,
            status_code=503,
            media_type=_XML,
            headers={"Retry-After": str(retry_after_s)},
        )


def _seed(registry: filings.FilingRegistry) -> None:
    """The shared seed, in unified terms, put in through this package's mapping."""
    employers = [(e.labour_id, mapping.employer_to_legacy(e.profile)) for e in seed_data.EMPLOYERS]
    records = []
    for worker in seed_data.WORKERS:
        employer_code = seed_data.EMPLOYERS[worker.employer].labour_id
        for c in worker.contracts:
            filed_at = dt.datetime.combine(c.term.start_date, dt.time(9, 0), filings.CHINA)
            contract = LabourContract(
                reference="",
                employer_id=employer_code,
                person=worker.person,
                term=c.term,
                state=c.state,
                filed_at=filed_at,
                end_reason=c.end_reason,
                ended_on=c.ended_on,
            )
            records.append(mapping.record_to_legacy(contract))
    registry.load_seed(employers, records)


def _call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, str, bytes]:
    status: list[str] = []
    headers: list[tuple[str, str]] = []

    def start_response(s: str, h: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status[:] = [s]
        headers[:] = h
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    content_type = next((v for k, v in headers if k.lower() == "content-type"), _XML)
    return int(status[0].split()[0]), content_type, body


def _environ(request: Request, body: bytes) -> dict[str, Any]:
    host = request.url.hostname or "127.0.0.1"
    port = request.url.port or 80
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": soap.SERVICE_PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": request.headers.get("host", f"{host}:{port}"),
        "CONTENT_TYPE": request.headers.get("content-type", _XML),
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_SOAPACTION": request.headers.get("soapaction", ""),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.url.scheme,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def create_app(*, data: str | None, seed: bool, settings: SystemSettings) -> Starlette:
    """The stand-in; its WS-Security account is ``settings.username`` / ``settings.secret``."""
    # spyne logs every fault it serialises; faults can quote what was sent.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    store = Store(data, filings.SCHEMA)
    registry = filings.FilingRegistry(store)
    if seed and store.is_empty("employer") and store.is_empty("contract_record"):
        _seed(registry)
    wsgi = service.build_wsgi(registry)
    wsdl = service.wsdl_document(wsgi, _PLACEHOLDER + soap.SERVICE_PATH)
    sim = Simulator(SoapAnswers())

    async def post(request: Request) -> Response:
        body = soap.mark_unparsable(await request.body())
        envelope = soap.read_envelope(body)
        operation = envelope.operation if envelope and envelope.operation else "invalid"
        write = operation in soap.WRITES

        async def call() -> Outcome:
            if envelope is None or envelope.operation is None:
                fault = soap.fault_envelope(
                    "Client", "请求不是有效的SOAP 1.1报文 (not a SOAP envelope)"
                )
                return Outcome(Response(fault, status_code=500, media_type=_XML))
            if not soap.authenticated(envelope, settings.username, settings.secret):
                fault = soap.fault_envelope(
                    soap.AUTHENTICATION,
                    "用户名或口令错误 (authentication failed)",
                    {"code": filings.E_AUTH, "message": "authentication failed"},
                )
                return Outcome(Response(fault, status_code=500, media_type=_XML))
            environ = _environ(request, body)
            status, content_type, answer = await asyncio.to_thread(_call_wsgi, wsgi, environ)
            committed = bool(environ.get(service.COMMITTED))
            return Outcome(Response(answer, status_code=status, media_type=content_type), committed)

        return await sim.run(operation, write, call)

    async def get(request: Request) -> Response:
        if "wsdl" not in {k.lower() for k in request.query_params}:
            return PlainTextResponse("GET ?wsdl for the service description", status_code=400)

        async def call() -> Outcome:
            base = f"{request.url.scheme}://{request.url.netloc}"
            document = wsdl.replace(_PLACEHOLDER.encode(), base.encode())
            return Outcome(Response(document, media_type=_XML))

        return await sim.run("wsdl", False, call)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    routes = [
        Route(soap.SERVICE_PATH, post, methods=["POST"]),
        Route(soap.SERVICE_PATH, get, methods=["GET"]),
        *sim.routes(),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
