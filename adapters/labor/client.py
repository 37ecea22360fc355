"""The labour system over SOAP: zeep's async client, and its failures as gateway errors.

I/O only. The WSDL is fetched and parsed once, in a worker thread (zeep
parses synchronously), on first use; every later call reuses the parsed
service. The service is bound to ``settings.url``, whatever address the WSDL
names, since the real system sits behind a proxy.

Every call has an operation timeout on the HTTP request (zeep sets none) and
an overall deadline (``settings.timeout``). What can go wrong becomes one of
the gateway's errors (``gateway.systems``): SOAP faults ``Client.*`` are
business refusals, everything else is ``Unavailable``, with
``outcome_unknown`` for a write that may have reached the system. Messages are
redacted and name no value that was sent.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import zeep
import zeep.exceptions
import zeep.helpers
from lxml import etree
from zeep.proxy import AsyncServiceProxy
from zeep.transports import AsyncTransport
from zeep.wsdl.bindings.soap import Soap11Binding
from zeep.wsse.username import UsernameToken

from adapters.http import parse_retry_after, tls_context
from adapters.labor import mapping, soap
from gateway.domain.model import System
from gateway.privacy import redact
from gateway.settings import SystemSettings
from gateway.systems import AdapterError, Duplicate, NotFound, Rejected, Unavailable

SYSTEM = System.LABOUR


@dataclass(slots=True)
class _Exchange:
    """What the transport saw of one call: whether it sent, and the HTTP answer."""

    sent: bool = False
    status: int | None = None
    retry_after: str | None = None
    #: The answer's body, when small enough to read a fault from (``_raw_fault``).
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class _FaultParts:
    """A SOAP fault's code (without its prefix), words and detail."""

    code: str
    message: str | None
    detail: dict[str, str]


#: The largest answer a fault is read from by hand: a fault is a few hundred bytes.
_FAULT_BYTES = 64 * 1024
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


# What each operation is, in words a message may carry (legacy names stay inside).
_ACTIONS = {
    soap.REGISTER_EMPLOYER: "employer registration",
    soap.GET_EMPLOYER: "employer lookup",
    soap.FILE_CONTRACT: "contract filing",
    soap.RENEW_CONTRACT: "contract renewal",
    soap.TERMINATE_CONTRACT: "contract ending",
    soap.REVOKE_FILING: "filing revocation",
    soap.QUERY_CONTRACTS: "contract query",
}

_EXCHANGE: ContextVar[_Exchange | None] = ContextVar("labour_exchange", default=None)


class _Transport(AsyncTransport):
    """zeep's async transport with a per-request timeout, recording each HTTP answer.

    zeep drops the HTTP status and headers of a fault (a 503 with a SOAP body
    becomes a plain ``Fault``), and ``Retry-After`` is needed.
    """

    def __init__(
        self, client: httpx.AsyncClient, wsdl_client: httpx.Client, timeout: httpx.Timeout
    ) -> None:
        # zeep replaces the client's headers with its own User-Agent; the client
        # may be the caller's, so keep what it had.
        headers = httpx.Headers(client.headers)
        super().__init__(client=client, wsdl_client=wsdl_client)
        client.headers = headers
        self._timeout = timeout

    async def post(self, address: str, message: bytes, headers: dict[str, str]) -> httpx.Response:
        exchange = _EXCHANGE.get()
        if exchange is not None:
            exchange.sent = True
        response = await self.client.post(
            address, content=message, headers=headers, timeout=self._timeout
        )
        if exchange is not None:
            exchange.status = response.status_code
            exchange.retry_after = response.headers.get("Retry-After")
            if len(response.content) <= _FAULT_BYTES:
                exchange.body = response.content
        return response


def _detail(detail: Any) -> dict[str, str]:
    """The fault detail's children by local name, whatever their namespace."""
    if detail is None or not isinstance(detail, etree._Element):
        return {}
    result: dict[str, str] = {}
    for child in detail.iter(etree.Element):
        if child is detail:
            continue
        name = etree.QName(child).localname
        if child.text and child.text.strip():
            result.setdefault(name, child.text.strip())
    return result


def _faultcode(code: Any) -> str:
    # Under whatever prefix the server declared (``soap:``, ``e:``), or none.
    text = str(code or "")
    return text.rsplit(":", 1)[-1] if ":" in text else text


def _raw_fault(body: bytes | None) -> _FaultParts | None:
    """The fault of an answer read by hand: its children by local name, in whatever
    namespace they are (SOAP 1.1 leaves them unqualified)."""
    if not body:
        return None
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError:
        return None
    fault = root.find(f"{{{soap.SOAP_ENV}}}Body/{{{soap.SOAP_ENV}}}Fault")
    if fault is None:
        return None
    children = {etree.QName(c).localname: c for c in fault.iterchildren(etree.Element)}

    def text(name: str) -> str | None:
        child = children.get(name)
        return child.text.strip() if child is not None and child.text else None

    return _FaultParts(
        _faultcode(text("faultcode")), text("faultstring"), _detail(children.get("detail"))
    )


class LabourClient:
    """One connection to the labour system: the parsed WSDL and an HTTP client."""

    def __init__(
        self, settings: SystemSettings, *, client: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self._timeout = httpx.Timeout(settings.timeout, connect=settings.connect_timeout)
        self._http = client or httpx.AsyncClient(timeout=self._timeout, verify=tls_context())
        self._owns_http = client is None
        self.address = settings.url.rstrip("/") + soap.SERVICE_PATH
        self._service: Any = None
        self._lock = asyncio.Lock()

    # --------------------------------------------------------------- WSDL

    def _load(self) -> Any:
        """Fetch and parse the WSDL (blocking: run in a thread)."""
        with httpx.Client(timeout=self._timeout, verify=tls_context()) as wsdl_client:
            transport = _Transport(self._http, wsdl_client, self._timeout)
            client = zeep.AsyncClient(
                self.address + "?wsdl",
                transport=transport,
                wsse=UsernameToken(self.settings.username, self.settings.secret),
            )
        # AsyncClient.create_service returns zeep's synchronous proxy (zeep 4.3),
        # whose calls are never awaited: build the async one for the binding.
        binding = client.wsdl.bindings[self._binding(client)]
        return AsyncServiceProxy(client, binding, address=self.address)

    @staticmethod
    def _binding(client: Any) -> str:
        # The binding a port of the WSDL's service uses, whatever it is called: its
        # SOAP 1.1 one (the contract's), though the WSDL may publish a SOAP 1.2 port
        # too, and first; else the first port's.
        ports = [p for service in client.wsdl.services.values() for p in service.ports.values()]
        for port in ports:
            if isinstance(port.binding, Soap11Binding):
                return str(port.binding.name)
        if ports:
            return str(ports[0].binding.name)
        return f"{{{soap.TNS}}}{soap.SERVICE_NAME}"

    async def _proxy(self) -> Any:
        if self._service is None:
            async with self._lock:
                if self._service is None:
                    self._service = await asyncio.to_thread(self._load)
        return self._service

    # -------------------------------------------------------------- calls

    async def call(self, operation: str, **params: Any) -> Any:
        """Call one operation; its answer as plain Python (dicts, lists, strings, dates)."""
        exchange = _Exchange()
        token = _EXCHANGE.set(exchange)
        write = operation in soap.WRITES
        action = _ACTIONS.get(operation, "call")
        try:
            async with asyncio.timeout(self.settings.timeout):
                service = await self._proxy()
                result = await getattr(service, operation)(**params)
            return zeep.helpers.serialize_object(result, dict)
        except zeep.exceptions.Fault as exc:
            raise self._fault(operation, exc, exchange) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Never reached the system: the write certainly did not happen.
            raise Unavailable(SYSTEM, f"cannot connect ({type(exc).__name__})") from None
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise Unavailable(
                SYSTEM,
                f"{action} timed out ({type(exc).__name__})",
                outcome_unknown=write and exchange.sent,
            ) from None
        except httpx.HTTPError as exc:
            raise Unavailable(
                SYSTEM,
                f"{action}: connection failed ({type(exc).__name__})",
                outcome_unknown=write and exchange.sent,
            ) from None
        except zeep.exceptions.TransportError as exc:
            status = exc.status_code or exchange.status
            raise Unavailable(
                SYSTEM,
                f"{action}: HTTP {status}" if status else f"{action}: no answer",
                retry_after=parse_retry_after(exchange.retry_after),
                outcome_unknown=write and exchange.sent,
            ) from None
        except zeep.exceptions.ValidationError as exc:
            # zeep refused to build the request: nothing was sent.
            path = "/".join(str(p) for p in getattr(exc, "path", []))
            raise Rejected(
                SYSTEM,
                f"{action}: incomplete or malformed request",
                field=mapping.field_from_legacy(path, operation),
            ) from None
        except ValueError:
            if exchange.sent:
                raise
            # lxml refuses characters XML cannot carry (control characters): the
            # request cannot be written, so nothing was sent.
            raise Rejected(SYSTEM, f"{action}: a value holds characters XML cannot carry") from None
        except (zeep.exceptions.Error, etree.XMLSyntaxError) as exc:
            raise Unavailable(
                SYSTEM,
                f"{action}: unreadable answer ({type(exc).__name__})",
                outcome_unknown=write and exchange.sent,
            ) from None
        finally:
            _EXCHANGE.reset(token)

    def _fault(self, operation: str, exc: Any, exchange: _Exchange) -> AdapterError:
        fault = _FaultParts(_faultcode(exc.code), exc.message, _detail(exc.detail))
        if not fault.code or not fault.detail:
            # zeep looks the fault's children up in the Fault element's own
            # namespaces: in an envelope whose namespace is the default one, the
            # unqualified children (xmlns="") are not found (code and detail None).
            raw = _raw_fault(exchange.body)
            if raw is not None:
                fault = _FaultParts(
                    fault.code or raw.code,
                    fault.message or raw.message,
                    fault.detail or raw.detail,
                )
        error = self._fault_error(operation, fault, exchange)
        # The system's own words, when its fault gave any (not its fault code).
        words = fault.detail.get("message") or fault.message
        return error.saying(_words(words, operation) if words else None)

    def _fault_error(self, operation: str, fault: _FaultParts, exchange: _Exchange) -> AdapterError:
        action = _ACTIONS.get(operation, "call")
        code, detail = fault.code, fault.detail
        text = _words(detail.get("message") or fault.message or code, operation)
        system_code = detail.get("code") or code or None
        field = mapping.field_from_legacy(detail.get("field"), operation)
        if field is None and code == soap.VALIDATION:
            # The contract's detail is <code> and <message>: the field is named in the
            # message then (``Worker/name: …``). Only its name is taken.
            field = mapping.field_named_in(detail.get("message") or fault.message, operation)
        status = exchange.status
        if code.startswith("Client") and status is not None and status < 502:
            if code == soap.AUTHENTICATION:
                return Rejected(
                    SYSTEM,
                    "the system refused the gateway's credentials",
                    system_code=code,
                )
            if code == soap.DUPLICATE:
                existing = detail.get("employerCode") or detail.get("filingNo")
                return Duplicate(
                    SYSTEM,
                    f"{action} refused, already exists: {text}",
                    system_code=system_code,
                    field=field,
                    existing_reference=existing,
                )
            if code == soap.NOT_FOUND:
                return NotFound(
                    SYSTEM,
                    f"{action} refused, not found: {text}",
                    system_code=system_code,
                    field=field,
                )
            return Rejected(
                SYSTEM, f"{action} refused: {text}", system_code=system_code, field=field
            )
        # A Server fault, or any fault that came with a gateway error status.
        return Unavailable(
            SYSTEM,
            f"{action}: system error (HTTP {status}): {text}",
            retry_after=parse_retry_after(exchange.retry_after),
            outcome_unknown=operation in soap.WRITES and exchange.sent,
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _words(text: str, operation: str) -> str:
    """The system's words fit to leave the adapter: elements by their unified names,
    personal data masked."""
    return redact(mapping.clean_message(str(text), operation))
