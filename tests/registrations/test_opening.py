"""Which profile stands when an account is opened (pure: no store, no system)."""

from __future__ import annotations

from gateway.domain.model import EmployerProfile, System
from gateway.registrations.opening import SettledProfile, settle_profile

CODE = "91370102MA3C4TLQ2N"
GIVEN = EmployerProfile(CODE, "冒名公司", "370202", "钱经理", "0531-81234567")
RECORD = EmployerProfile(CODE, "济南泉城机械制造有限公司", "370102")


def codes(settled: SettledProfile) -> set[tuple[str, str]]:
    return {(w.code, w.field) for w in settled.warnings}


def test_an_unknown_unit_is_opened_as_given() -> None:
    settled = settle_profile(GIVEN, None, {})
    assert settled.profile == GIVEN
    assert not settled.known
    assert settled.warnings == ()


def test_the_gateways_record_stands_and_what_differs_warns() -> None:
    settled = settle_profile(GIVEN, RECORD, {})
    assert settled.known
    assert (settled.profile.name, settled.profile.division) == (RECORD.name, RECORD.division)
    # Who to call is the caller's to say: contact and phone are kept as given.
    assert (settled.profile.contact, settled.profile.phone) == (GIVEN.contact, GIVEN.phone)
    assert codes(settled) == {
        ("EMPLOYER_PROFILE_KEPT", "name"),
        ("EMPLOYER_PROFILE_KEPT", "division"),
    }


def test_the_employment_systems_record_stands_when_the_gateway_has_none() -> None:
    labour = EmployerProfile(CODE, "济南泉城机械", "370102")
    settled = settle_profile(GIVEN, None, {System.LABOUR: labour, System.EMPLOYMENT: RECORD})
    assert settled.profile.name == RECORD.name
    assert ("SYSTEMS_DISAGREE", "name") in codes(settled)
    [disagree] = [w for w in settled.warnings if w.code == "SYSTEMS_DISAGREE"]
    assert "labour" in disagree.message_en
    assert "employment" not in disagree.message_en


def test_any_system_stands_when_employment_does_not_know_the_unit() -> None:
    unemployment = EmployerProfile(CODE, "济南泉城机械制造有限公司", "370102")
    settled = settle_profile(RECORD, None, {System.UNEMPLOYMENT: unemployment})
    assert settled.known
    assert settled.warnings == ()


def test_a_matching_opening_warns_of_nothing() -> None:
    same = EmployerProfile(CODE, RECORD.name, RECORD.division, "王敏", "0531-86150001")
    settled = settle_profile(same, RECORD, {System.EMPLOYMENT: RECORD, System.LABOUR: RECORD})
    assert settled.warnings == ()
    assert settled.profile == same
