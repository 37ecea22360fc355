"""What both sides of the labour system's SOAP contract agree on, and its envelopes.

The names (namespace, path, operations) are used by the client and the
stand-in alike; the envelope helpers are the stand-in's, for the answers it
gives outside spyne (authentication, infrastructure trouble).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from lxml import etree

TNS = "urn:sd-hrss:ldgx:filing:1"
SERVICE_NAME = "FilingService"
SERVICE_PATH = "/ldgx/services/FilingService"

REGISTER_EMPLOYER = "RegisterEmployer"
GET_EMPLOYER = "GetEmployer"
FILE_CONTRACT = "FileContract"
RENEW_CONTRACT = "RenewContract"
TERMINATE_CONTRACT = "TerminateContract"
REVOKE_FILING = "RevokeFiling"
QUERY_CONTRACTS = "QueryContracts"

OPERATIONS = (
    REGISTER_EMPLOYER,
    GET_EMPLOYER,
    FILE_CONTRACT,
    RENEW_CONTRACT,
    TERMINATE_CONTRACT,
    REVOKE_FILING,
    QUERY_CONTRACTS,
)
WRITES = frozenset(
    {REGISTER_EMPLOYER, FILE_CONTRACT, RENEW_CONTRACT, TERMINATE_CONTRACT, REVOKE_FILING}
)
#: Most ID numbers one ``QueryContracts`` takes.
QUERY_LIMIT = 100

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_USERNAME_PROFILE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
PASSWORD_TEXT = _USERNAME_PROFILE + "#PasswordText"

# Faultcodes, without the envelope prefix.
AUTHENTICATION = "Client.Authentication"
VALIDATION = "Client.Validation"
DUPLICATE = "Client.Duplicate"
NOT_FOUND = "Client.NotFound"
STATE = "Client.State"
SERVER = "Server"

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the stand-in needs to know of a request before spyne sees it."""

    operation: str | None  # local name of the first child of soap:Body
    username: str | None
    password: str | None
    password_type: str | None


#: Put where a control character XML 1.0 cannot carry was sent, so that the
#: envelope still parses and the element holding it is refused by name (the
#: contract's ``Client.Validation``). A noncharacter: nobody sends it as text.
UNPARSABLE = "\ufdd0"
# Raw, in UTF-8 (these bytes never occur inside a multi-byte character), or as
# a character reference. Tab, line feed and carriage return are XML; the
# registry refuses them once parsed.
_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_REFERENCE = re.compile(rb"&#(?:x([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_CONTROL_CODES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0D}


def mark_unparsable(body: bytes) -> bytes:
    """The body with every control character XML 1.0 cannot carry replaced by ``UNPARSABLE``."""

    def reference(m: re.Match[bytes]) -> bytes:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        return b"&#xFDD0;" if code in _CONTROL_CODES else m.group(0)

    return _REFERENCE.sub(reference, _RAW_CONTROL.sub(UNPARSABLE.encode(), body))


def read_envelope(body: bytes) -> Envelope | None:
    """Parse a request envelope; None when it is not a SOAP 1.1 envelope."""
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError:
        return None
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        return None
    soap_body = root.find(f"{{{SOAP_ENV}}}Body")
    first = None if soap_body is None else next(iter(soap_body.iterchildren(etree.Element)), None)
    operation = etree.QName(first).localname if first is not None else None
    token = root.find(f"{{{SOAP_ENV}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        return Envelope(operation, None, None, None)
    password = token.find(f"{{{WSSE}}}Password")
    return Envelope(
        operation,
        token.findtext(f"{{{WSSE}}}Username"),
        None if password is None else (password.text or ""),
        None if password is None else password.get("Type"),
    )


def authenticated(envelope: Envelope, username: str, password: str) -> bool:
    """A UsernameToken with this account's password as text."""
    if envelope.username is None or envelope.password is None:
        return False
    if envelope.password_type not in (None, PASSWORD_TEXT):
        return False
    same_user = hmac.compare_digest(envelope.username.encode(), username.encode())
    same_password = hmac.compare_digest(envelope.password.encode(), password.encode())
    return same_user and same_password


def fault_envelope(faultcode: str, faultstring: str, detail: dict[str, str] | None = None) -> bytes:
    """A SOAP 1.1 fault, its detail children unqualified as the contract shows them."""
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap:{faultcode}"
    etree.SubElement(fault, "faultstring").text = faultstring
    if detail:
        det = etree.SubElement(fault, "detail")
        for name, value in detail.items():
            etree.SubElement(det, name).text = value
    result: bytes = etree.tostring(env, xml_declaration=True, encoding="UTF-8")
    return result
