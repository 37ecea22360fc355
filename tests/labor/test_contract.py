"""The labour stand-in honours shared/legacy/labor.md, seen from two SOAP stacks.

Raw envelopes posted by httpx check the wire (independently of zeep); zeep
checks that the published WSDL describes what the server does.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree
from zeep.wsse.username import UsernameToken

from adapters.standin.process import RunningStandin
from tests import factories
from tests.labor.envelopes import PATH, TNS, Answer, envelope, group, parse, post, xml

OPERATIONS = {
    "RegisterEmployer",
    "GetEmployer",
    "FileContract",
    "RenewContract",
    "TerminateContract",
    "RevokeFiling",
    "QueryContracts",
}
SEED_RENEWED = "37010219850312002X"  # 刘洋, renewed in 2024
SEED_RESCINDED = "370112199305150014"  # 赵磊, rescinded by agreement
SEED_TERMINATED = "370103198909090031"  # 孙强, contract expired
SEED_HK = "H60123456"  # 何家明, open-ended, HK/Macao permit


# ------------------------------------------------------------------ helpers


def register(url: str, **overrides: object) -> str:
    values: dict[str, object] = {
        "creditCode": factories.credit_code(),
        "name": "测试机械有限公司",
        "region": "370102",
        "contact": "王经理",
        "phone": "0531-88880000",
        **overrides,
    }
    answer = post(url, "RegisterEmployer", "".join(xml(k, v) for k, v in values.items()))
    assert answer.status == 200, answer.faultstring
    code = answer.text("employerCode")
    assert code is not None
    return code


def worker(id_number: str | None = None, **overrides: object) -> dict[str, object]:
    return {
        "idType": "A",
        "idNumber": id_number or factories.resident_id(),
        "name": "张伟",
        "gender": "1",
        "nation": "01",
        "education": "21",
        "mobile": factories.mobile(),
        "hukouAddress": "山东省济南市历下区泉城路100号",
        "address": "山东省济南市历下区泉城路100号",
        **overrides,
    }


def contract(**overrides: object) -> dict[str, object]:
    return {
        "contractType": "10",
        "startDate": "2024-03-01",
        "endDate": "2027-02-28",
        "filingCategory": "1",
        "employmentForm": "Q",
        "post": "装配工",
        "region": "370102",
        **overrides,
    }


def file(url: str, employer: str, w: dict[str, object], c: dict[str, object]) -> Answer:
    return post(
        url,
        "FileContract",
        xml("employerCode", employer) + group("Worker", w) + group("Contract", c),
    )


def filed(url: str, employer: str, w: dict[str, object], c: dict[str, object] | None = None) -> str:
    answer = file(url, employer, w, c or contract())
    assert answer.status == 200, (answer.faultcode, answer.detail)
    filing_no = answer.text("filingNo")
    assert filing_no is not None
    return filing_no


def renew(url: str, employer: str, id_number: str, c: dict[str, object]) -> Answer:
    return post(
        url,
        "RenewContract",
        xml("employerCode", employer) + xml("idNumber", id_number) + group("Contract", c),
    )


def terminate(
    url: str,
    employer: str,
    id_number: str,
    kind: str = "JC",
    reason: str = "A36",
    date: str = "2025-06-30",
) -> Answer:
    body = (
        xml("employerCode", employer)
        + xml("idNumber", id_number)
        + xml("endKind", kind)
        + xml("reasonCode", reason)
        + xml("endDate", date)
    )
    return post(url, "TerminateContract", body)


def revoke(url: str, filing_no: str) -> Answer:
    return post(url, "RevokeFiling", xml("filingNo", filing_no))


def query(url: str, *id_numbers: str, employer: str | None = None) -> list[dict[str, str | None]]:
    body = "".join(xml("idNumbers", n) for n in id_numbers)
    if employer:
        body += xml("employerCode", employer)
    answer = post(url, "QueryContracts", body)
    assert answer.status == 200, (answer.faultcode, answer.detail)
    records = []
    for rec in answer.all("ContractRecord"):
        flat: dict[str, str | None] = {}
        for child in rec:
            name = child.tag.split("}")[1]
            if len(child) == 0:
                flat[name] = child.text
            for grandchild in child:
                flat[f"{name}/{grandchild.tag.split('}')[1]}"] = grandchild.text
        records.append(flat)
    return records


def states(url: str, id_number: str) -> dict[str, str | None]:
    return {r["filingNo"] or "": r["status"] for r in query(url, id_number)}


def assert_fault(answer: Answer, kind: str, field: str | None = None) -> None:
    assert answer.status == 500
    assert answer.faultcode == f"Client.{kind}", (answer.faultcode, answer.detail)
    assert answer.detail.get("code")
    assert answer.detail.get("message")
    if field is not None:
        assert answer.detail.get("field") == field


# --------------------------------------------------------------- the WSDL


def test_wsdl_loads_in_zeep_with_seven_document_literal_operations(
    labor_standin: RunningStandin,
) -> None:
    client = zeep.Client(labor_standin.url + PATH + "?wsdl")
    binding = client.wsdl.bindings[f"{{{TNS}}}FilingService"]
    assert set(binding._operations) == OPERATIONS
    for op in binding._operations.values():
        assert op.style == "document"
        assert op.input.body is not None
        assert type(op.input).__name__ == "DocumentMessage"
    contract_type = client.get_type(f"{{{TNS}}}Contract")
    elements = dict(contract_type.elements)
    assert elements["startDate"].type.name == "date"
    assert elements["endDate"].type.name == "date"
    record = dict(client.get_type(f"{{{TNS}}}ContractRecord").elements)
    assert record["filedAt"].type.name == "dateTime"
    assert {"filingNo", "employerCode", "Worker", "Contract", "status"} <= set(record)
    worker_fields = [name for name, _ in client.get_type(f"{{{TNS}}}Worker").elements]
    assert worker_fields == list(worker())
    port = next(iter(client.wsdl.services["FilingService"].ports.values()))
    assert port.binding_options["address"] == labor_standin.url + PATH
    assert labor_standin.stats()["wsdl"] == 1


def test_wsdl_schema_compiles(labor_standin: RunningStandin) -> None:
    wsdl = etree.fromstring(httpx.get(labor_standin.url + PATH + "?WSDL").content)
    [schema] = wsdl.findall(".//{http://www.w3.org/2001/XMLSchema}schema")
    assert schema.get("targetNamespace") == TNS
    # Standalone, the schema needs the prefixes the WSDL declares around it (tns:…).
    standalone = etree.Element(schema.tag, dict(schema.attrib), nsmap=wsdl.nsmap)
    standalone.extend(copy.deepcopy(list(schema)))
    etree.XMLSchema(standalone)  # raises when the types are not a valid XML Schema
    assert wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}binding").get("style") == "document"


def test_zeep_calls_every_operation_with_ws_security(labor_standin: RunningStandin) -> None:
    client = zeep.Client(
        labor_standin.url + PATH + "?wsdl", wsse=UsernameToken("gateway", "demo-labour-password")
    )
    svc = client.service
    credit = factories.credit_code()
    code = svc.RegisterEmployer(creditCode=credit, name="济南测试", region="370102")
    assert re.fullmatch(r"LD370102\d{6}", code)
    employer = svc.GetEmployer(creditCode=credit)
    assert (employer.employerCode, employer.region, employer.contact) == (code, "370102", None)
    w = worker()
    c = contract(startDate="2020-05-01", endDate=None, contractType="20")
    filing_no = svc.FileContract(employerCode=code, Worker=w, Contract=c)
    renewed = svc.RenewContract(
        employerCode=code, idNumber=w["idNumber"], Contract={**c, "startDate": "2025-01-01"}
    )
    ended = svc.TerminateContract(
        employerCode=code,
        idNumber=w["idNumber"],
        endKind="ZZ",
        reasonCode="A44",
        endDate="2026-01-31",
    )
    assert len({filing_no, renewed, ended}) == 3
    records = svc.QueryContracts(idNumbers=[w["idNumber"]], employerCode=code)
    assert [(r.filingNo, r.status) for r in records] == [(filing_no, "XQ"), (renewed, "ZZ")]
    assert records[1].endKind == "ZZ"
    assert records[1].endReason == "A44"
    assert str(records[1].endDate) == "2026-01-31"
    assert records[0].Contract.endDate is None
    assert records[0].filedAt.tzinfo is not None
    assert svc.RevokeFiling(filingNo=ended) is None
    with pytest.raises(zeep.exceptions.Fault) as fault:
        svc.RevokeFiling(filingNo=ended)
    assert fault.value.code.endswith("Client.State")


# ------------------------------------------------------ every operation, raw


def test_register_and_get_employer(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    credit = factories.credit_code(division="370202")
    code = register(url, creditCode=credit, region="370202")
    assert re.fullmatch(r"LD370202\d{6}", code)
    answer = post(url, "GetEmployer", xml("creditCode", credit))
    assert answer.status == 200
    assert answer.text("employerCode") == code
    assert answer.text("name") == "测试机械有限公司"
    assert answer.text("region") == "370202"
    assert answer.text("phone") == "0531-88880000"

    again = post(
        url,
        "RegisterEmployer",
        xml("creditCode", credit) + xml("name", "别的名字") + xml("region", "370202"),
    )
    assert_fault(again, "Duplicate")
    assert again.detail["employerCode"] == code

    assert_fault(post(url, "GetEmployer", xml("creditCode", factories.credit_code())), "NotFound")


def test_filing_lifecycle_new_renew_end_revoke(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    employer = register(url)
    w = worker()
    pid = str(w["idNumber"])
    first = filed(url, employer, w)
    assert re.fullmatch(r"BA370102\d{15}", first)
    assert states(url, pid) == {first: "ZX"}

    renewal = renew(url, employer, pid, contract(startDate="2027-03-01", endDate="2030-02-28"))
    assert renewal.status == 200
    second = renewal.text("filingNo")
    assert second
    assert second != first
    assert states(url, pid) == {first: "XQ", second: "ZX"}

    # The first filing can no longer be undone on its own: its renewal stands on it.
    assert_fault(revoke(url, first), "State")

    ending = terminate(url, employer, pid, "JC", "A39", "2028-05-31")
    assert ending.status == 200
    end_no = ending.text("filingNo")
    assert end_no
    assert end_no not in (first, second)
    [old, current] = query(url, pid)
    assert (current["status"], current["endKind"], current["endReason"], current["endDate"]) == (
        "JC",
        "JC",
        "A39",
        "2028-05-31",
    )
    assert old.get("endKind") is None
    # Nothing in force any more: ending again does not fit the record's state.
    assert_fault(terminate(url, employer, pid), "State")
    assert_fault(
        renew(url, employer, pid, contract(startDate="2029-01-01", endDate="2031-01-01")),
        "NotFound",
    )

    assert revoke(url, end_no).status == 200  # the ending undone: back in force
    assert states(url, pid) == {first: "XQ", second: "ZX"}
    assert query(url, pid)[1].get("endKind") is None
    assert revoke(url, second).status == 200  # the renewal undone: the first is back
    assert states(url, pid) == {first: "ZX", second: "CX"}
    assert revoke(url, first).status == 200
    assert states(url, pid) == {first: "CX", second: "CX"}
    assert_fault(revoke(url, first), "State")
    assert_fault(revoke(url, "BA370102202401010999999"), "NotFound")

    # Revoked filings leave the person free to be filed again.
    third = filed(url, employer, w)
    assert states(url, pid)[third] == "ZX"


def test_one_contract_in_force_per_employer_but_several_employers(
    labor_standin: RunningStandin,
) -> None:
    url = labor_standin.url
    a, b = register(url), register(url)
    w = worker()
    filed(url, a, w)
    duplicate = file(url, a, w, contract(startDate="2025-01-01", endDate="2026-01-01"))
    assert_fault(duplicate, "Duplicate")
    filed(url, b, w)  # part-time elsewhere is lawful
    assert len(query(url, str(w["idNumber"]))) == 2
    assert [r["employerCode"] for r in query(url, str(w["idNumber"]), employer=b)] == [b]


def test_termination_needs_an_existing_contract_and_matching_article(
    labor_standin: RunningStandin,
) -> None:
    url = labor_standin.url
    employer = register(url)
    pid = factories.resident_id()
    assert_fault(terminate(url, employer, pid), "NotFound")
    assert_fault(terminate(url, "LD370102999999", pid), "NotFound")
    filed(url, employer, worker(pid))
    assert_fault(terminate(url, employer, pid, "ZZ", "A36"), "Validation", "reasonCode")
    assert_fault(terminate(url, employer, pid, "JC", "A44"), "Validation", "reasonCode")
    assert_fault(terminate(url, employer, pid, "XX", "A36"), "Validation", "endKind")
    assert_fault(terminate(url, employer, pid, "JC", "A99"), "Validation", "reasonCode")
    assert_fault(terminate(url, employer, pid, date="2020-01-01"), "Validation", "endDate")
    assert terminate(url, employer, pid, "ZZ", "A44", "2027-02-28").status == 200
    assert query(url, pid)[0]["status"] == "ZZ"


@pytest.mark.parametrize(
    ("where", "values", "field"),
    [
        ("Worker", {"idType": "Z"}, "Worker/idType"),
        ("Worker", {"idNumber": "370102199001011230"}, "Worker/idNumber"),  # bad check digit
        ("Worker", {"name": None}, "Worker/name"),
        ("Worker", {"gender": "3"}, "Worker/gender"),
        ("Worker", {"nation": "60"}, "Worker/nation"),
        ("Worker", {"education": "10"}, "Worker/education"),  # coarse code: not this system's
        ("Worker", {"mobile": "1234"}, "Worker/mobile"),
        ("Contract", {"contractType": "40"}, "Contract/contractType"),
        ("Contract", {"startDate": "2024-02-30"}, "Contract/startDate"),
        ("Contract", {"startDate": None}, "Contract/startDate"),
        ("Contract", {"endDate": None}, "Contract/endDate"),  # fixed term needs one
        ("Contract", {"endDate": "2023-01-01"}, "Contract/endDate"),
        ("Contract", {"contractType": "20"}, "Contract/endDate"),  # open-ended has none
        ("Contract", {"filingCategory": "7"}, "Contract/filingCategory"),
        ("Contract", {"employmentForm": "X"}, "Contract/employmentForm"),
        ("Contract", {"post": None}, "Contract/post"),
        ("Contract", {"region": "3701"}, "Contract/region"),
    ],
)
def test_file_contract_validation_names_the_field(
    labor_standin: RunningStandin, where: str, values: dict[str, object], field: str
) -> None:
    employer = labor_standin_employer(labor_standin)
    w, c = worker(), contract()
    (w if where == "Worker" else c).update(values)
    answer = file(labor_standin.url, employer, w, c)
    assert_fault(answer, "Validation", field)
    # The message names no value that was sent.
    for value in (*w.values(), *c.values()):
        if isinstance(value, str) and len(value) > 3:
            assert value not in (answer.faultstring or "") + answer.detail["message"]


_EMPLOYERS: dict[int, str] = {}


def labor_standin_employer(standin: RunningStandin) -> str:
    """One employer per stand-in process, for tests that only need one to exist."""
    if standin.port not in _EMPLOYERS:
        _EMPLOYERS[standin.port] = register(standin.url)
    return _EMPLOYERS[standin.port]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"creditCode": "91370102MA3C4TLQ2X"}, "creditCode"),  # bad check character
        ({"creditCode": "123"}, "creditCode"),
        ({"region": "37010A"}, "region"),
        ({"name": None}, "name"),
    ],
)
def test_register_employer_validation(
    labor_standin: RunningStandin, values: dict[str, object], field: str
) -> None:
    base: dict[str, object] = {
        "creditCode": factories.credit_code(),
        "name": "单位",
        "region": "370102",
    }
    base.update(values)
    answer = post(
        labor_standin.url,
        "RegisterEmployer",
        "".join(xml(k, v) for k, v in base.items() if v is not None),
    )
    assert_fault(answer, "Validation", field)


def test_file_contract_for_unknown_employer_is_not_found(labor_standin: RunningStandin) -> None:
    assert_fault(file(labor_standin.url, "LD370102999998", worker(), contract()), "NotFound")


def test_query_takes_one_to_a_hundred_numbers(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    hundred = [factories.resident_id() for _ in range(99)] + [SEED_RENEWED]
    assert len(query(url, *hundred)) == 2
    too_many = post(
        url, "QueryContracts", "".join(xml("idNumbers", n) for n in [*hundred, "X1234567"])
    )
    assert_fault(too_many, "Validation", "idNumbers")
    assert_fault(post(url, "QueryContracts", ""), "Validation", "idNumbers")
    assert query(url, factories.resident_id()) == []


# ------------------------------------------------------------- WS-Security


@pytest.mark.parametrize(
    "auth",
    [
        {"username": None},
        {"password": "wrong"},
        {"username": "someone-else"},
        {"password": None},
        {
            "password_type": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
        },
    ],
)
def test_ws_security_missing_or_wrong(
    labor_standin: RunningStandin, auth: dict[str, object]
) -> None:
    answer = post(labor_standin.url, "GetEmployer", xml("creditCode", "91370102MA3C4TLQ2N"), **auth)
    assert answer.status == 500
    assert answer.faultcode == "Client.Authentication"
    assert answer.text("employerCode") is None


def test_zeep_with_wrong_password_gets_authentication_fault(labor_standin: RunningStandin) -> None:
    client = zeep.Client(labor_standin.url + PATH + "?wsdl", wsse=UsernameToken("gateway", "nope"))
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.GetEmployer(creditCode="91370102MA3C4TLQ2N")
    assert fault.value.code.endswith("Client.Authentication")


# --------------------------------------------------------------------- seed


def test_seed_holds_every_contract_state(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    renewed = query(url, SEED_RENEWED)
    assert [(r["status"], r["Contract/startDate"]) for r in renewed] == [
        ("XQ", "2021-03-01"),
        ("ZX", "2024-03-01"),
    ]
    assert all(r["employerCode"] == "LD370102000001" for r in renewed)
    [rescinded] = query(url, SEED_RESCINDED)
    assert (rescinded["status"], rescinded["endKind"], rescinded["endReason"]) == (
        "JC",
        "JC",
        "A36",
    )
    assert rescinded["Contract/filingCategory"] == "2"
    [terminated] = query(url, SEED_TERMINATED)
    assert (terminated["status"], terminated["endReason"], terminated["endDate"]) == (
        "ZZ",
        "A44",
        "2024-08-31",
    )
    [hk] = query(url, SEED_HK)
    assert (
        hk["Worker/idType"],
        hk["Contract/contractType"],
        hk.get("Contract/endDate"),
        hk["Worker/education"],
    ) == (
        "B",
        "20",
        None,
        "21",
    )
    employer = post(url, "GetEmployer", xml("creditCode", "91370202MA3BQ6YK01"))
    assert employer.text("employerCode") == "LD370202000002"


# ------------------------------------------------------------ persistence


def test_records_survive_restart_and_kill(
    standin_factory: Callable[..., RunningStandin], tmp_path: Path
) -> None:
    standin = standin_factory("labor", seed=False, data=str(tmp_path / "l.db"))
    assert_fault(
        post(standin.url, "GetEmployer", xml("creditCode", "91370102MA3C4TLQ2N")), "NotFound"
    )
    employer = register(standin.url)
    w = worker()
    first = filed(standin.url, employer, w)
    standin.restart()
    assert states(standin.url, str(w["idNumber"])) == {first: "ZX"}
    second = renew(
        standin.url,
        employer,
        str(w["idNumber"]),
        contract(startDate="2027-03-01", endDate="2029-01-01"),
    ).text("filingNo")
    standin.restart(kill=True)
    assert states(standin.url, str(w["idNumber"])) == {first: "XQ", second: "ZX"}
    # Numbering carries on after the restart: no number is given twice.
    other = register(standin.url)
    assert other != employer
    assert filed(standin.url, other, w) not in (first, second)


# ----------------------------------------------------------------- faults


def test_latency_and_jitter(labor_standin: RunningStandin) -> None:
    labor_standin.faults(latency_ms=300, jitter_ms=200)
    started = time.monotonic()
    assert post(labor_standin.url, "QueryContracts", xml("idNumbers", SEED_HK)).status == 200
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0


def test_error_rate_answers_server_fault(labor_standin: RunningStandin) -> None:
    labor_standin.faults(error_rate=1.0)
    answer = post(labor_standin.url, "GetEmployer", xml("creditCode", "91370102MA3C4TLQ2N"))
    assert answer.status == 500
    assert answer.faultcode == "Server"


def test_down_answers_503_to_operations_and_wsdl(labor_standin: RunningStandin) -> None:
    labor_standin.faults(down=True)
    assert post(labor_standin.url, "GetEmployer", xml("creditCode", "x")).status == 503
    assert httpx.get(labor_standin.url + PATH + "?wsdl").status_code == 503


def test_maintenance_answers_503_with_retry_after(labor_standin: RunningStandin) -> None:
    labor_standin.faults(maintenance=True, retry_after_s=42)
    answer = post(labor_standin.url, "GetEmployer", xml("creditCode", "x"))
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "42"
    assert answer.faultcode == "Server"


def test_commit_then_drop_commits_and_stalls(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    employer = register(url)
    labor_standin.faults(commit_then_drop=1.0, stall_s=0.5)
    # Reads are not writes: answered at once.
    assert post(url, "QueryContracts", xml("idNumbers", SEED_HK)).status == 200
    w = worker()
    body = xml("employerCode", employer) + group("Worker", w) + group("Contract", contract())
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + PATH, content=envelope("FileContract", body), timeout=0.25)
    time.sleep(0.4)
    labor_standin.reset()
    assert [r["status"] for r in query(url, str(w["idNumber"]))] == ["ZX"]
    # With patience the stalled answer is the infrastructure error.
    labor_standin.faults(commit_then_drop=1.0, stall_s=0.3)
    answer = parse(httpx.post(url + PATH, content=envelope("FileContract", body), timeout=5))
    assert answer.faultcode == "Client.Duplicate"  # refused, not committed: no stall


def test_error_after_commit(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    employer = register(url)
    labor_standin.faults(error_after_commit=1.0)
    w = worker()
    answer = file(url, employer, w, contract())
    assert (answer.status, answer.faultcode) == (500, "Server")
    labor_standin.reset()
    assert [r["status"] for r in query(url, str(w["idNumber"]))] == ["ZX"]


def test_faults_settings_are_validated_and_kept(labor_standin: RunningStandin) -> None:
    r = httpx.post(labor_standin.url + "/__sim/faults", json={"error_rate": 2})
    assert r.status_code == 400
    labor_standin.faults(latency_ms=5)
    assert httpx.get(labor_standin.url + "/__sim/faults").json()["latency_ms"] == 5


def test_stats_count_operations_and_reset_keeps_data(labor_standin: RunningStandin) -> None:
    url = labor_standin.url
    httpx.get(url + PATH + "?wsdl").raise_for_status()
    post(url, "GetEmployer", xml("creditCode", "91370102MA3C4TLQ2N"))
    post(url, "GetEmployer", xml("creditCode", "91370102MA3C4TLQ2N"))
    query(url, SEED_HK)
    assert labor_standin.stats() == {"wsdl": 1, "GetEmployer": 2, "QueryContracts": 1}
    labor_standin.faults(down=True)
    labor_standin.reset()
    assert labor_standin.stats() == {}
    assert httpx.get(url + "/__sim/faults").json()["down"] is False
    assert len(query(url, SEED_RENEWED)) == 2
