"""``LabourAdapter`` against labour servers of other shapes than our stand-in.

The contract is SOAP 1.1 document/literal with a published WSDL, faults
``Client.<Kind>`` with a detail of ``<code>`` and ``<message>``. A server may
honour it otherwise than spyne does: the envelope's namespace as the default
one, the fault code under any prefix, a WSDL that also publishes a SOAP 1.2
port (first), a Validation fault naming the field in its message only. Each is
a server over loopback that forwards to the stand-in and rewrites its answers so.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.labor import LabourAdapter, soap
from adapters.standin.process import RunningStandin
from gateway.domain.model import ContractEnding, EndReason, System
from gateway.settings import SystemSettings
from gateway.systems import Duplicate, NotFound, Rejected
from tests import factories
from tests.adapters.servers import forward, serving
from tests.labor.test_adapter import LEGACY_WORDS, SEED_EMPLOYER, person, profile, term

SOAP_ENV = soap.SOAP_ENV
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
WSDL_SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"


def _local(element: Any) -> str:
    return str(etree.QName(element).localname)


@dataclass
class OtherLabourServer:
    """Forwards to the stand-in; ``modes`` say how its answers are rewritten."""

    upstream: str
    modes: set[str] = field(default_factory=set)
    #: How the fault code is written in the default-namespace envelope: its prefix
    #: ("" for none).
    prefix: str = "e"
    #: (Content-Type, envelope namespace) of each call received.
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def handle(self, request: Request) -> Response:
        answer = await forward(request, self.upstream)
        content = answer.content
        if request.method == "GET":
            if "soap12_first" in self.modes:
                content = _soap12_first(content)
        else:
            body = await request.body()
            self.calls.append(
                (request.headers.get("content-type", ""), etree.QName(_parse(body)).namespace)
            )
            root = _parse(content)
            fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
            if fault is not None and "field_in_message_only" in self.modes:
                _field_in_message(fault)
                content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            if "default_namespace" in self.modes:
                content = self._default_namespace(root, fault)
        media_type = answer.headers.get("content-type")
        return Response(content, status_code=answer.status_code, media_type=media_type)

    def _default_namespace(self, root: Any, fault: Any) -> bytes:
        """The answer with the envelope's namespace as the default one (no prefix).

        A fault's children are unqualified, as SOAP 1.1 has them, so they undo the
        default namespace (``xmlns=""``); the fault code's prefix is declared where
        it is used."""
        if fault is None:
            text = etree.tostring(root, encoding="unicode")
            prefix = root.prefix
            text = text.replace(f"<{prefix}:", "<").replace(f"</{prefix}:", "</")
            text = text.replace(f"xmlns:{prefix}=", "xmlns=")
            return ('<?xml version="1.0" encoding="UTF-8"?>' + text).encode()
        code = (fault.findtext("faultcode") or "").rsplit(":", 1)[-1]
        if self.prefix:
            code_element = (
                f'<faultcode xmlns="" xmlns:{self.prefix}="{SOAP_ENV}">{self.prefix}:{code}'
                "</faultcode>"
            )
        else:
            code_element = f'<faultcode xmlns="">{code}</faultcode>'
        detail = fault.find("detail")
        details = ""
        if detail is not None:
            details = '<detail xmlns="">' + "".join(
                f"<{_local(c)}>{escape(c.text or '')}</{_local(c)}>" for c in detail
            )
            details += "</detail>"
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="{SOAP_ENV}"><Body><Fault>'
            + code_element
            + f'<faultstring xmlns="">{escape(fault.findtext("faultstring") or "")}</faultstring>'
            + details
            + "</Fault></Body></Envelope>"
        ).encode()


def _parse(content: bytes) -> Any:
    return etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))


def _field_in_message(fault: Any) -> None:
    """The detail's ``<field>`` taken out, its path put in front of the message."""
    detail = fault.find("detail")
    named = None if detail is None else detail.find("field")
    if named is None:
        return
    message = detail.find("message")
    message.text = f"{named.text}: {message.text}"
    detail.remove(named)


def _soap12_first(wsdl: bytes) -> bytes:
    """The WSDL also publishing a SOAP 1.2 binding of the same port type, its port
    listed first in the service."""
    root = _parse(wsdl)
    binding = root.find(f"{{{WSDL}}}binding")
    binding12 = copy.deepcopy(binding)
    binding12.set("name", binding.get("name") + "Soap12")
    for element in binding12.iter(etree.Element):
        if etree.QName(element).namespace == WSDL_SOAP11:
            element.tag = f"{{{WSDL_SOAP12}}}{_local(element)}"
    binding.addprevious(binding12)
    port = root.find(f"{{{WSDL}}}service/{{{WSDL}}}port")
    port12 = copy.deepcopy(port)
    port12.set("name", port.get("name") + "Soap12")
    port12.set("binding", port.get("binding") + "Soap12")
    for element in port12:
        element.tag = f"{{{WSDL_SOAP12}}}{_local(element)}"
    port.addprevious(port12)
    result: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return result


@pytest.fixture
def other(labor_standin: RunningStandin) -> Iterator[tuple[OtherLabourServer, str]]:
    server = OtherLabourServer(labor_standin.url)
    app = Starlette(routes=[Route(soap.SERVICE_PATH, server.handle, methods=["GET", "POST"])])
    with serving(app) as url:
        yield server, url


@pytest.fixture
async def make(
    other: tuple[OtherLabourServer, str],
) -> AsyncIterator[Any]:
    made: list[LabourAdapter] = []

    def build(*modes: str, prefix: str = "e") -> LabourAdapter:
        server, url = other
        server.modes, server.prefix = set(modes), prefix
        base = SystemSettings.from_env(System.LABOUR)
        settings = dataclasses.replace(base, url=url, timeout=5.0, connect_timeout=1.0)
        adapter = LabourAdapter.from_settings(settings)
        made.append(adapter)
        return adapter

    yield build
    for adapter in made:
        await adapter.aclose()


# ----------------------------------------------- the envelope's default namespace


@pytest.mark.parametrize("prefix", ["e", "soap", ""], ids=["e:", "soap:", "unprefixed"])
async def test_faults_in_a_default_namespace_envelope_are_business_refusals(
    make: Any, prefix: str
) -> None:
    adapter = make("default_namespace", prefix=prefix)
    await adapter.ping()  # "not found" proves the system answers
    assert await adapter.find_employer(factories.credit_code()) is None
    seeded = await adapter.find_employer(SEED_EMPLOYER)  # an answer, not a fault
    assert seeded is not None
    assert seeded.employer_id == "LD370102000001"

    p = profile()
    opened = await adapter.ensure_employer(p)
    again = await adapter.ensure_employer(p)  # Duplicate, its detail naming the employer
    assert (again.employer_id, again.created) == (opened.employer_id, False)

    worker = person()
    await adapter.file(opened.employer_id, worker, term())
    with pytest.raises(Duplicate) as duplicate:
        await adapter.file(opened.employer_id, worker, term(dt.date(2025, 1, 1)))
    assert duplicate.value.system_code
    assert duplicate.value.system_code.startswith("LD")  # the detail's <code>
    assert duplicate.value.said  # the detail's <message>

    with pytest.raises(NotFound) as missing:
        await adapter.revoke("BA370102202401019999999")
    assert missing.value.system_code
    with pytest.raises(Rejected) as too_long:
        await adapter.file(opened.employer_id, person(name="王" * 41), term())
    assert type(too_long.value) is Rejected
    assert too_long.value.field == "name"

    ending = ContractEnding(
        opened.employer_id, worker.id_number, EndReason.AGREEMENT, dt.date(2025, 1, 31)
    )
    reference = await adapter.end(ending)
    with pytest.raises(Rejected) as state:  # Client.State: a refusal, not outcome unknown
        await adapter.end(ending)
    assert type(state.value) is Rejected
    await adapter.revoke(reference)
    for error in (duplicate.value, missing.value, too_long.value, state.value):
        assert not LEGACY_WORDS.search(str(error)), error
        assert worker.id_number not in str(error)


async def test_wrong_credentials_in_a_default_namespace_fault_stay_a_refusal(
    labor_standin: RunningStandin, other: tuple[OtherLabourServer, str]
) -> None:
    server, url = other
    server.modes = {"default_namespace"}
    base = SystemSettings.from_env(System.LABOUR)
    settings = dataclasses.replace(base, url=url, timeout=5.0, secret="not-the-password")
    adapter = LabourAdapter.from_settings(settings)
    try:
        with pytest.raises(Rejected) as refused:
            await adapter.ping()
        assert refused.value.system_code == soap.AUTHENTICATION
    finally:
        await adapter.aclose()


# --------------------------------------------------------- a SOAP 1.2 port too


async def test_the_soap11_port_is_used_when_a_soap12_port_comes_first(
    make: Any, other: tuple[OtherLabourServer, str]
) -> None:
    server, _ = other
    adapter = make("soap12_first")
    await adapter.ping()
    seeded = await adapter.find_employer(SEED_EMPLOYER)
    assert seeded is not None
    assert seeded.employer_id == "LD370102000001"
    with pytest.raises(NotFound):
        await adapter.revoke("BA370102202401019999999")
    assert server.calls
    for content_type, namespace in server.calls:
        assert content_type.startswith("text/xml")
        assert namespace == SOAP_ENV


# ------------------------------------------- the field named in the message only


async def test_a_validation_fault_naming_the_field_in_its_message_only(make: Any) -> None:
    adapter = make("field_in_message_only")
    employer = (await adapter.ensure_employer(profile())).employer_id
    worker = person(name="王" * 41)
    with pytest.raises(Rejected) as too_long:
        await adapter.file(employer, worker, term())
    assert too_long.value.field == "name"
    with pytest.raises(Rejected) as locality:
        await adapter.file(employer, person(), term(locality="3701"))
    assert locality.value.field == "locality"  # Contract/region, not the employer's
    with pytest.raises(Rejected) as division:
        await adapter.ensure_employer(dataclasses.replace(profile(), division="37A102"))
    assert division.value.field == "division"  # region, read for RegisterEmployer
    for error in (too_long.value, locality.value, division.value):
        # The message's element path comes out as the unified name; no value is added.
        assert not LEGACY_WORDS.search(str(error)), error
        assert worker.name not in str(error)
