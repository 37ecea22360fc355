"""The adapter against a server that is not our stand-in: a small verifier written
here from the contract's "Transport" section alone, with the cryptography
package's primitives and none of ``adapters.social_insurance``'s code.

If the adapter and our stand-in shared a misreading of the contract, the other
suites would pass; this one would not.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from adapters.social_insurance import SocialInsuranceAdapter
from adapters.social_insurance.model import AdditionRequest, DeclarationState
from adapters.social_insurance.settings import SocialInsuranceSettings
from gateway.domain.model import Education, EmployerProfile, Gender, IdType, Person
from gateway.systems import Rejected
from tests import factories

APP_ID = "agency-issued-app"
SECRET = "agency-issued-secret-7f3a"
KEY = os.urandom(16)


def sm3_hex(data: bytes) -> str:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def sm4_decrypt(value: str) -> str:
    raw = base64.b64decode(value)
    d = Cipher(algorithms.SM4(KEY), modes.CBC(raw[:16])).decryptor()
    u = padding.PKCS7(128).unpadder()
    return (u.update(d.update(raw[16:]) + d.finalize()) + u.finalize()).decode("utf-8")


def sm4_encrypt(value: str) -> str:
    iv = os.urandom(16)
    p = padding.PKCS7(128).padder()
    e = Cipher(algorithms.SM4(KEY), modes.CBC(iv)).encryptor()
    return base64.b64encode(
        iv + e.update(p.update(value.encode()) + p.finalize()) + e.finalize()
    ).decode()


class Verifier:
    """The agency's side of the contract, as much as these tests need of it."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret
        self.nonces: set[str] = set()
        self.seen: list[dict[str, Any]] = []

    def refusal(self, request: httpx.Request) -> httpx.Response | None:
        h = request.headers
        if any(n not in h for n in ("X-App-Id", "X-Timestamp", "X-Nonce", "X-Signature")):
            return self.envelope("4010", "签名缺失", status=401)
        path, _, _ = request.url.raw_path.decode().partition("?")
        query = "&".join(f"{k}={v}" for k, v in sorted(request.url.params.multi_items()))
        to_sign = "\n".join(
            [request.method, path, query, h["X-Timestamp"], h["X-Nonce"], sm3_hex(request.content)]
        )
        mac = hmac.HMAC(self.secret.encode(), hashes.SM3())
        mac.update(to_sign.encode())
        if h["X-App-Id"] != APP_ID or mac.finalize().hex() != h["X-Signature"]:
            return self.envelope("4010", "签名错误", status=401)
        if abs(int(h["X-Timestamp"]) - time.time() * 1000) > 300_000:
            return self.envelope("4011", "时间戳无效", status=401)
        if not 16 <= len(h["X-Nonce"]) <= 64 or h["X-Nonce"] in self.nonces:
            return self.envelope("4012", "随机数重复", status=401)
        self.nonces.add(h["X-Nonce"])
        return None

    @staticmethod
    def envelope(code: str, message: str, data: Any = None, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json={"code": code, "message": message, "data": data})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        refused = self.refusal(request)
        if refused is not None:
            return refused
        body = json.loads(request.content) if request.content else {}
        clear = {k: sm4_decrypt(v) if k in ("aac002", "aac003") else v for k, v in body.items()}
        self.seen.append({"method": request.method, "path": request.url.path, "body": clear})
        path = request.url.path
        if path == "/si/v2/units":
            return self.envelope("0000", "成功", {"dwbh": "SB37010299999999"})
        if path == "/si/v2/declarations/additions":
            return self.envelope("0000", "成功", {"slh": "SL20260301000001", "zt": "01"})
        if path.endswith("/withdraw"):
            return self.envelope("0000", "成功", {"zt": "04"})
        if path.startswith("/si/v2/declarations/"):
            number = self.seen[-2]["body"]["aac002"]
            return self.envelope(
                "0000",
                "成功",
                {
                    "slh": "SL20260301000001",
                    "ywlx": "ZY",
                    "dwbh": "SB37010299999999",
                    "aac058": "01",
                    "aac002": sm4_encrypt(number),
                    "zt": "01",
                    "sbsj": "2026-03-01T09:00:00",
                    "thyy": None,
                    "thsm": None,
                    "grbh": None,
                    "sxrq": None,
                },
            )
        return self.envelope("4040", "不存在", status=404)


def adapter_for(verifier: Verifier) -> tuple[SocialInsuranceAdapter, httpx.AsyncClient]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(verifier))
    settings = SocialInsuranceSettings(
        url="https://si.example.gov.cn", app_id=APP_ID, app_secret=SECRET, sm4_key=KEY.hex()
    )
    return SocialInsuranceAdapter.from_settings(settings, client=client), client


async def test_the_adapter_signs_and_encrypts_as_the_contract_says() -> None:
    verifier = Verifier()
    adapter, client = adapter_for(verifier)
    person = Person(
        IdType.RESIDENT_ID,
        factories.resident_id(),
        "司马相如",
        Gender.MALE,
        "01",
        Education.BACHELOR,
    )
    async with client:
        binding = await adapter.ensure_employer(
            EmployerProfile(factories.credit_code(), "济南某某有限公司", "370102")
        )
        reference = await adapter.declare_addition(
            AdditionRequest(binding.employer_id, person, dt.date(2026, 3, 1), Decimal("5200"))
        )
        found = await adapter.declaration(reference)
        await adapter.withdraw(reference)  # a POST with an empty body

    assert (found.id_number, found.state) == (person.id_number, DeclarationState.UNDER_REVIEW)
    assert [s["method"] for s in verifier.seen] == ["POST", "POST", "GET", "POST"]
    declared = verifier.seen[1]["body"]
    assert (declared["aac002"], declared["aac003"], declared["jfgz"]) == (
        person.id_number,
        person.name,
        "5200.00",
    )
    assert len(verifier.nonces) == 4  # a fresh nonce each time


async def test_a_verifier_with_another_secret_refuses_it() -> None:
    """The check above can fail: the same verifier, another secret."""
    adapter, client = adapter_for(Verifier(secret="some-other-secret"))
    async with client:
        with pytest.raises(Rejected) as caught:
            await adapter.ping()
    assert caught.value.system_code == "4010"
