"""The labour stand-in's "Limits" (labor.md): the WSDL's xs:maxLength, each limit at
and one over, and control characters, as raw envelopes on the wire."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from adapters.labor import filings
from adapters.labor.limits import LIMITS
from adapters.standin.process import RunningStandin
from tests import factories
from tests.labor.envelopes import PATH, Answer, envelope, parse, post, xml
from tests.labor.test_contract import (
    assert_fault,
    contract,
    file,
    labor_standin_employer,
    query,
    renew,
    worker,
)

XS = "http://www.w3.org/2001/XMLSchema"

#: The contract's table, by element path (an idNumber argument is the worker's).
CONTRACT_LIMITS = {
    "name": 200,  # RegisterEmployer: the employer's
    "Worker/name": 40,
    "Worker/hukouAddress": 200,
    "Worker/address": 200,
    "Contract/post": 60,
    "Worker/mobile": 20,
    "Worker/idNumber": 32,
}


def _max_lengths(wsdl: bytes) -> dict[str, int]:
    """``xs:maxLength`` of every element of Worker, Contract and RegisterEmployer."""
    root = etree.fromstring(wsdl)
    ns = {"xs": XS}
    lengths = {
        t.get("name"): int(t.find("xs:restriction/xs:maxLength", ns).get("value"))
        for t in root.iterfind(".//xs:simpleType", ns)
        if t.find("xs:restriction/xs:maxLength", ns) is not None
    }
    found = {}
    for owner, prefix in (
        ("Worker", "Worker/"),
        ("Contract", "Contract/"),
        ("RegisterEmployer", ""),
    ):
        complex_type = root.find(f".//xs:complexType[@name='{owner}']", ns)
        assert complex_type is not None, owner
        for element in complex_type.iterfind(".//xs:element", ns):
            type_name = (element.get("type") or "").split(":")[-1]
            if type_name in lengths:
                found[prefix + element.get("name")] = lengths[type_name]
    return found


def test_the_wsdl_carries_every_limit_of_the_contract(labor_standin: RunningStandin) -> None:
    r = httpx.get(labor_standin.url + PATH + "?wsdl", timeout=10)
    assert r.status_code == 200
    assert _max_lengths(r.content) == CONTRACT_LIMITS


def _refused_for(answer: Answer, field: str, words: str) -> None:
    assert_fault(answer, "Validation", field)
    assert words in answer.detail["message"], answer.detail


@pytest.mark.parametrize(
    ("element", "char"),
    [("name", "张"), ("hukouAddress", "路"), ("address", "a")],
)
def test_worker_text_at_its_limit_is_filed_and_one_over_is_refused(
    labor_standin: RunningStandin, element: str, char: str
) -> None:
    url, employer = labor_standin.url, labor_standin_employer(labor_standin)
    most = CONTRACT_LIMITS[f"Worker/{element}"]
    over = worker(**{element: char * (most + 1)})
    answer = file(url, employer, over, contract())
    _refused_for(answer, f"Worker/{element}", f"longer than {most} characters")
    assert query(url, str(over["idNumber"])) == []
    at = worker(**{element: char * most})
    assert file(url, employer, at, contract()).status == 200


def test_a_post_at_60_is_filed_and_61_is_refused(labor_standin: RunningStandin) -> None:
    url, employer = labor_standin.url, labor_standin_employer(labor_standin)
    long_post = worker()
    answer = file(url, employer, long_post, contract(post="岗" * 61))
    _refused_for(answer, "Contract/post", "longer than 60 characters")
    assert query(url, str(long_post["idNumber"])) == []
    assert file(url, employer, worker(), contract(post="岗" * 60)).status == 200


def test_an_employer_name_at_200_is_registered_and_201_is_refused(
    labor_standin: RunningStandin,
) -> None:
    def register(name: str) -> Answer:
        values = {"creditCode": factories.credit_code(), "name": name, "region": "370102"}
        return post(
            labor_standin.url, "RegisterEmployer", "".join(xml(k, v) for k, v in values.items())
        )

    _refused_for(register("名" * 201), "name", "longer than 200 characters")
    assert register("名" * 200).status == 200


@pytest.mark.parametrize(("field", "value"), [("mobile", "1" * 21), ("idNumber", "1" * 33)])
def test_numbers_over_their_limit_are_refused_as_too_long(
    labor_standin: RunningStandin, field: str, value: str
) -> None:
    # Their formats are stricter than the limits: the length is what is named first.
    url, employer = labor_standin.url, labor_standin_employer(labor_standin)
    answer = file(url, employer, worker(**{field: value}), contract())
    most = CONTRACT_LIMITS[f"Worker/{field}"]
    _refused_for(answer, f"Worker/{field}", f"longer than {most} characters")


def test_an_id_number_argument_over_32_is_refused(labor_standin: RunningStandin) -> None:
    url, employer = labor_standin.url, labor_standin_employer(labor_standin)
    _refused_for(renew(url, employer, "1" * 33, contract()), "idNumber", "longer than 32")


@pytest.mark.parametrize("char", ["\t", "\n", "\r", "\x7f"])
def test_control_characters_xml_carries_are_refused(
    labor_standin: RunningStandin, char: str
) -> None:
    url, employer = labor_standin.url, labor_standin_employer(labor_standin)
    bad = worker(name=f"张{char}伟")
    _refused_for(file(url, employer, bad, contract()), "Worker/name", "control character")
    assert query(url, str(bad["idNumber"])) == []


@pytest.mark.parametrize("sent", ["\x00", "\x07", "\x1f", "&#7;", "&#x0;", "&#x1B;"])
def test_control_characters_xml_cannot_carry_are_refused_by_element(
    labor_standin: RunningStandin, sent: str
) -> None:
    """Raw or as a reference, such a character makes the XML ill-formed: the
    element is still named, with the contract's Client.Validation."""
    url, employer = labor_standin.url, labor_standin_employer(labor_standin)
    w = worker()
    # Built by hand: xml() would escape the reference.
    fields = "".join(
        f"<f:{k}>{'张' + sent + '伟' if k == 'address' else v}</f:{k}>" for k, v in w.items()
    )
    terms = "".join(f"<f:{k}>{v}</f:{k}>" for k, v in contract().items())
    data = envelope(
        "FileContract",
        xml("employerCode", employer)
        + f"<f:Worker>{fields}</f:Worker><f:Contract>{terms}</f:Contract>",
    )
    r = httpx.post(
        url + PATH,
        content=data,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "FileContract"},
        timeout=10,
    )
    _refused_for(parse(r), "Worker/address", "control character")
    assert query(url, str(w["idNumber"])) == []


def test_the_gateway_holds_values_to_the_same_table() -> None:
    """What the gateway checks before sending (unified names) is this table."""
    unified = {
        "name": "unit_name",
        "Worker/name": "name",
        "Worker/hukouAddress": "household_address",
        "Worker/address": "current_address",
        "Contract/post": "post",
        "Worker/mobile": "mobile",
        "Worker/idNumber": "id_number",
    }
    declared = {f: n for f, n in LIMITS.fields.items() if n is not None}
    assert {unified[k]: n for k, n in CONTRACT_LIMITS.items()} == declared
    assert filings.LIMITS == {**CONTRACT_LIMITS, "idNumber": 32}
