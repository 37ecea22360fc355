"""The social insurance stand-in beyond its operations: its "Limits" table at
each limit and one over, the /__sim/ surface with its three settings of its
own, the seed shared with the other stand-ins, and data surviving a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.social_insurance.limits import LEGACY_LIMITS, LIMITS
from adapters.social_insurance.review import SEED_UNITS
from adapters.standin import seed
from adapters.standin.process import RunningStandin
from tests import factories
from tests.social_insurance.wire import (
    addition,
    answer,
    call,
    declaration,
    declare,
    insured,
    new_unit,
    wait_decided,
)

ADD = "/si/v2/declarations/additions"


# ------------------------------------------------------------------ limits


def test_the_table_is_the_contracts() -> None:
    assert dict(LIMITS.fields) == {"unit_name": 100, "name": 30, "id_number": 32}
    assert LEGACY_LIMITS == {"dwmc": 100, "aac003": 30, "aac002": 32}


@pytest.mark.parametrize("char", ["张", "a"])
def test_unit_name_at_100_characters_and_one_over(
    social_insurance_standin: RunningStandin, char: str
) -> None:
    s = social_insurance_standin
    unit = {"tyshxydm": factories.credit_code(), "xzqh": "370102"}
    r = call(s, "POST", "/si/v2/units", {**unit, "dwmc": char * 101})
    assert answer(r, "1400") is None
    assert "dwmc" in r.json()["message"]
    assert "超过100" in r.json()["message"]
    assert answer(call(s, "POST", "/si/v2/units", {**unit, "dwmc": char * 100}))["dwbh"]


def test_name_at_30_characters_after_decryption_and_one_over(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    # 31 Chinese characters are 93 bytes of UTF-8 and more once encrypted: characters count.
    r = call(s, "POST", ADD, addition(dwbh, aac003="张" * 31))
    assert answer(r, "1400") is None
    assert "aac003" in r.json()["message"]
    assert "超过30" in r.json()["message"]
    assert declare(s, ADD, addition(dwbh, aac003="张" * 30))


def test_id_number_over_32_characters_is_refused_for_its_length(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    over = call(s, "POST", ADD, addition(dwbh, aac058="08", aac002="E" * 33))
    assert "超过32" in over.json()["message"]
    # At 32 the length passes; a passport number that long fails on its format instead.
    at = call(s, "POST", ADD, addition(dwbh, aac058="08", aac002="E" * 32))
    assert answer(at, "1400") is None
    assert "aac002" in at.json()["message"]
    assert "超过" not in at.json()["message"]


@pytest.mark.parametrize("char", ["\n", "\x00", "\x1f", "\x7f"])
def test_a_control_character_is_1400(social_insurance_standin: RunningStandin, char: str) -> None:
    s = social_insurance_standin
    r = call(s, "POST", ADD, addition(new_unit(s), aac003=f"王{char}芳"))
    assert answer(r, "1400") is None
    assert "aac003" in r.json()["message"]


# ---------------------------------------------------------------- /__sim/


def test_the_sim_surface_with_its_own_settings(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    s.reset()
    faults = httpx.get(s.url + "/__sim/faults", timeout=5).json()
    assert {k: faults[k] for k in ("review_delay_s", "return_rate", "quota_per_s")} == {
        "review_delay_s": 2.0,
        "return_rate": 0.0,
        "quota_per_s": 20,
    }
    assert {"latency_ms", "error_rate", "down", "commit_then_drop", "maintenance"} <= set(faults)
    changed = s.faults(review_delay_s=0.25, return_rate=0.5)
    assert (changed["review_delay_s"], changed["return_rate"]) == (0.25, 0.5)
    for bad in ({"return_rate": 1.5}, {"quota_per_s": -1}, {"review_delay_s": "soon"}):
        r = httpx.post(s.url + "/__sim/faults", json=bad, timeout=5)
        assert r.status_code == 400
    s.reset()
    assert httpx.get(s.url + "/__sim/faults", timeout=5).json()["review_delay_s"] == 2.0


def test_stats_count_requests_by_operation(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    dwbh = new_unit(s)
    slh = declare(s, ADD, addition(dwbh))
    declaration(s, slh)
    declaration(s, slh)
    call(s, "GET", "/si/v2/units/x", headers={})  # refused, still counted
    assert s.stats() == {"units.create": 1, "declarations.addition": 1, "declarations.get": 2,
                         "units.get": 1}  # fmt: skip
    s.reset()
    assert s.stats() == {}


def test_review_delay_is_taken_when_declared(social_insurance_standin: RunningStandin) -> None:
    s = social_insurance_standin
    s.faults(review_delay_s=1.0)
    slh = declare(s, ADD, addition(new_unit(s)))
    started = time.monotonic()
    assert declaration(s, slh)["zt"] == "01"
    s.faults(review_delay_s=0)  # later changes do not hurry it
    assert declaration(s, slh)["zt"] == "01"
    assert wait_decided(s, slh)["zt"] == "02"
    assert time.monotonic() - started > 0.8


# -------------------------------------------------------------------- seed


def test_the_seed_insures_the_shared_employers_workers(
    social_insurance_standin: RunningStandin,
) -> None:
    s = social_insurance_standin
    for employer, dwbh in zip(seed.EMPLOYERS, SEED_UNITS, strict=True):
        unit = answer(call(s, "GET", f"/si/v2/units/{employer.profile.credit_code}"))
        assert unit == {
            "dwbh": dwbh,
            "tyshxydm": employer.profile.credit_code,
            "dwmc": employer.profile.name,
            "xzqh": employer.profile.division,
        }
    codes = {"RESIDENT_ID": "01", "HK_MACAO_PERMIT": "04"}
    for worker in seed.WORKERS:
        assert worker.employment is not None
        p = worker.person
        [spell] = insured(s, codes[p.id_type.value], p.id_number)
        assert spell["dwbh"] == SEED_UNITS[worker.employer]
        assert spell["cbrq"] == worker.employment.start_date.isoformat()
        dismissed = worker.employment.dismissed_on
        if dismissed is None:
            assert (spell["zt"], spell["tbrq"]) == ("1", None)
        else:
            assert spell["zt"] == "2"
            assert spell["tbrq"] == (dismissed.fromordinal(dismissed.toordinal() + 1)).isoformat()


# ---------------------------------------------------------------- restarts


def test_records_survive_a_restart_and_reviews_fall_due_meanwhile(
    standin_factory: Callable[..., RunningStandin], tmp_path: Path
) -> None:
    s = standin_factory("social-insurance", seed=False, data=str(tmp_path / "si.db"))
    s.faults(quota_per_s=0, review_delay_s=1.0)
    dwbh = new_unit(s)
    body = addition(dwbh)
    slh = declare(s, ADD, body)
    due = time.monotonic() + 1.0
    nonce = "n" * 32
    assert answer(call(s, "GET", f"/si/v2/declarations/{slh}", nonce=nonce))["zt"] == "01"

    s.restart(kill=True)
    # The review falls due while the stand-in is down or starting (a start takes
    # about as long): only what is left of the delay is waited for.
    time.sleep(max(0.0, due - time.monotonic()))
    found: dict[str, Any] = declaration(s, slh)
    assert found["zt"] == "02"  # decided from its stored due time, though nobody was up
    assert [r["dwbh"] for r in insured(s, "01", body["aac002"])] == [dwbh]
    # The nonces are kept too: a replay after a restart is still a replay.
    assert answer(call(s, "GET", f"/si/v2/declarations/{slh}", nonce=nonce), "4012") is None
    # The numbers go on after the stored ones.
    assert new_unit(s) > dwbh
