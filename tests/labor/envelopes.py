"""Raw SOAP 1.1 envelopes for the labour contract tests, built without zeep."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import httpx
from lxml import etree

TNS = "urn:sd-hrss:ldgx:filing:1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PATH = "/ldgx/services/FilingService"


def xml(tag: str, value: object) -> str:
    """One element in the service namespace (prefix f)."""
    return f"<f:{tag}>{escape(str(value))}</f:{tag}>"


def group(tag: str, values: dict[str, object]) -> str:
    inner = "".join(xml(k, v) for k, v in values.items() if v is not None)
    return f"<f:{tag}>{inner}</f:{tag}>"


def envelope(
    operation: str,
    body: str,
    *,
    username: str | None = "gateway",
    password: str | None = "demo-labour-password",  # noqa: S107 - the demo default
    password_type: str | None = None,
) -> bytes:
    header = ""
    if username is not None:
        kind = f' Type="{password_type}"' if password_type else ""
        pw = "" if password is None else f"<wsse:Password{kind}>{escape(password)}</wsse:Password>"
        header = (
            f'<soap:Header><wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken>'
            f"<wsse:Username>{escape(username)}</wsse:Username>{pw}"
            "</wsse:UsernameToken></wsse:Security></soap:Header>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_ENV}" '
        f'xmlns:f="{TNS}">{header}<soap:Body><f:{operation}>{body}</f:{operation}>'
        "</soap:Body></soap:Envelope>"
    ).encode()


@dataclass
class Answer:
    status: int
    headers: httpx.Headers
    root: etree._Element | None
    faultcode: str | None = None
    faultstring: str | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        """The text of the first element of this local name in the body."""
        assert self.root is not None
        found = self.root.find(f".//{{{TNS}}}{name}")
        return None if found is None else found.text

    def all(self, name: str) -> list[etree._Element]:
        assert self.root is not None
        return self.root.findall(f".//{{{TNS}}}{name}")


def post(base_url: str, operation: str, body: str = "", **auth: object) -> Answer:
    data = envelope(operation, body, **auth)  # type: ignore[arg-type]
    r = httpx.post(
        base_url + PATH,
        content=data,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": operation},
        timeout=10,
    )
    return parse(r)


def parse(r: httpx.Response) -> Answer:
    try:
        root = etree.fromstring(r.content)
    except etree.XMLSyntaxError:
        return Answer(r.status_code, r.headers, None)
    answer = Answer(r.status_code, r.headers, root)
    fault = root.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    if fault is not None:
        code = fault.findtext("faultcode") or ""
        answer.faultcode = code.split(":", 1)[-1]
        answer.faultstring = fault.findtext("faultstring")
        detail = fault.find("detail")
        if detail is not None:
            answer.detail = {etree.QName(c).localname: c.text or "" for c in detail}
    return answer
