"""``ping`` against systems that check a look-up's input, as our stand-ins do not.

No contract has a health check: each adapter looks up a unit under a credit code
nobody holds ("0" * 18). A real system may refuse that code as an invalid field
rather than answer "not found" (employment ``E1001``, labour
``Client.Validation``, unemployment ``40001``, social insurance ``1400``): a
business answer all the same, which proves the system answers. Its refusal of
our credentials does not (the gateway is misconfigured), nor does a page that is
not the system's. Each case is a small server of its own over loopback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.labor import soap
from adapters.standin.process import RunningStandin
from gateway.systems import NotFound, Rejected, Unavailable
from tests.adapters.drivers import DRIVERS, Adapter, Driver
from tests.adapters.servers import serving

every_system = pytest.mark.parametrize("driver", DRIVERS, ids=[d.name for d in DRIVERS])

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _labour_fault(code: str, system_code: str, message: str) -> bytes:
    # The contract's fault: faultcode Client.<Kind>, a detail of <code> and <message>.
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
        f"<S:Fault><faultcode>S:{code}</faultcode><faultstring>{message}</faultstring>"
        f"<detail><code>{system_code}</code><message>{message}</message></detail>"
        "</S:Fault></S:Body></S:Envelope>"
    ).encode()


def _json(body: dict[str, Any], status: int = 200, encoding: str = "utf-8") -> Response:
    content = json.dumps(body, ensure_ascii=False).encode(encoding)
    return Response(content, status, media_type=f"application/json; charset={encoding}")


#: What each system answers the probe, by case.
ANSWERS: dict[str, dict[str, Callable[[], Response]]] = {
    "invalid": {
        "employment": lambda: _json(
            {"code": "E1001", "msg": "aab998 统一社会信用代码格式不正确", "data": None}
        ),
        "labour": lambda: Response(
            _labour_fault(soap.VALIDATION, "LD1002", "creditCode: 统一社会信用代码格式不正确"),
            500,
            media_type="text/xml; charset=utf-8",
        ),
        "unemployment": lambda: _json(
            {"errcode": 40001, "errmsg": "tyshxydm 统一社会信用代码格式不正确"}, 400, "gbk"
        ),
        "social_insurance": lambda: _json(
            {"code": "1400", "message": "字段 tyshxydm 无效：格式不正确", "data": None}
        ),
    },
    "credentials": {
        "employment": lambda: _json({"code": "E0401", "msg": "API Key 无效", "data": None}, 401),
        "labour": lambda: Response(
            _labour_fault(soap.AUTHENTICATION, "LD0401", "认证失败"),
            500,
            media_type="text/xml; charset=utf-8",
        ),
        "unemployment": lambda: _json({"errcode": 40100, "errmsg": "认证失败"}, 401, "gbk"),
        "social_insurance": lambda: _json(
            {"code": "4010", "message": "签名错误", "data": None}, 401
        ),
    },
    "not_the_system": {
        name: lambda: Response(
            "<html><body>404 Not Found</body></html>", 404, media_type="text/html"
        )
        for name in ("employment", "labour", "unemployment", "social_insurance")
    },
}


class StrictLookups:
    """Every system's look-up, answered as ``case`` says; labour's WSDL is the stand-in's."""

    def __init__(self, wsdl: bytes) -> None:
        self.wsdl = wsdl
        self.case = "invalid"
        self.asked: list[str] = []

    def answer(self, system: str) -> Response:
        self.asked.append(system)
        return ANSWERS[self.case][system]()

    async def employment(self, request: Request) -> Response:
        return self.answer("employment")

    async def labour(self, request: Request) -> Response:
        if request.method == "GET":
            return Response(self.wsdl, media_type="text/xml; charset=utf-8")
        return self.answer("labour")

    async def unemployment(self, request: Request) -> Response:
        return self.answer("unemployment")

    async def social_insurance(self, request: Request) -> Response:
        return self.answer("social_insurance")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/jy/api/v1/unit", self.employment),
                Route(soap.SERVICE_PATH, self.labour, methods=["GET", "POST"]),
                Route("/sy/dw/{code}", self.unemployment),
                Route("/si/v2/units/{code}", self.social_insurance),
            ]
        )


@pytest.fixture
def strict(labor_standin: RunningStandin) -> Iterator[tuple[StrictLookups, str]]:
    wsdl = httpx.get(labor_standin.url + soap.SERVICE_PATH + "?wsdl", timeout=10).content
    server = StrictLookups(wsdl)
    with serving(server.app()) as url:
        yield server, url


@pytest.fixture
async def adapter(driver: Driver, strict: tuple[StrictLookups, str]) -> Any:
    made: Adapter = driver.make(strict[1])
    yield made
    await made.aclose()


@every_system
async def test_an_invalid_field_answer_to_the_probe_proves_the_system_answers(
    driver: Driver, adapter: Adapter, strict: tuple[StrictLookups, str]
) -> None:
    server, _ = strict
    await adapter.ping()
    assert server.asked == [driver.name]  # asked once, and not "not found"
    # The same refusal of a look-up is still a refusal, not "no such unit".
    with pytest.raises(Rejected) as refused:
        await adapter.find_employer("0" * 18)
    assert not isinstance(refused.value, NotFound)


@every_system
async def test_a_refusal_of_the_gateways_credentials_fails_the_probe(
    driver: Driver, adapter: Adapter, strict: tuple[StrictLookups, str]
) -> None:
    server, _ = strict
    server.case = "credentials"
    with pytest.raises(Rejected) as refused:
        await adapter.ping()
    assert not isinstance(refused.value, NotFound)
    assert refused.value.system is driver.system


@every_system
async def test_a_page_that_is_not_the_systems_fails_the_probe(
    driver: Driver, adapter: Adapter, strict: tuple[StrictLookups, str]
) -> None:
    server, _ = strict
    server.case = "not_the_system"
    with pytest.raises((Rejected, Unavailable)):
        await adapter.ping()
