"""Lengths and characters against several systems' limits: the strictest verdict wins.

The declared limits of the three systems are used where a case is about them
(a 41-character name fits employment's 50 but not labour's 40); the rules
themselves are tried on small made-up limits, and with hypothesis.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.employment.limits import LIMITS as EMPLOYMENT
from adapters.labor.limits import LIMITS as LABOUR
from adapters.unemployment.limits import LIMITS as UNEMPLOYMENT
from gateway.domain.limits import Characters, Limits, Unit, check_limits, first_refused, measure
from gateway.store.limits import LIMITS as STORE

SYSTEMS = (EMPLOYMENT, LABOUR, UNEMPLOYMENT)


def found(values: dict[str, str | None], *limits: Limits) -> list[tuple[str, str]]:
    return [(p.field, p.code) for p in check_limits(values, limits or SYSTEMS)]


def test_gbk_bytes_count_a_chinese_character_as_two() -> None:
    assert measure("张三", Unit.GBK_BYTES) == 4
    assert measure("张三", Unit.CHARACTERS) == 2
    assert measure("Li Lei", Unit.GBK_BYTES) == 6


def test_each_limit_is_reached_and_not_passed() -> None:
    for limits in (*SYSTEMS, STORE):
        for field, most in limits.fields.items():
            if most is None:
                continue
            assert found({field: "a" * most}, limits) == [], (limits.owner_en, field)
            assert found({field: "a" * (most + 1)}, limits) == [(field, "TOO_LONG")]


def test_a_41_character_name_fits_employment_but_not_labour() -> None:
    name = "a" * 41
    assert found({"name": name}, EMPLOYMENT) == []
    (p,) = check_limits({"name": name}, SYSTEMS)
    assert (p.field, p.code) == ("name", "TOO_LONG")
    # Labour's 40 characters and unemployment's 40 bytes are exceeded alike:
    # the first declared of the two is named.
    assert p.message_en == "The name is longer than the labour system takes: at most 40 characters"
    assert p.message_zh == "姓名超过劳动关系系统的长度上限：最多40个字符"


def test_a_chinese_name_is_held_to_unemployment_bytes() -> None:
    name = "张" * 21  # 21 characters for labour, 42 bytes for unemployment
    assert found({"name": name}, EMPLOYMENT, LABOUR) == []
    (p,) = check_limits({"name": name}, SYSTEMS)
    assert p.code == "TOO_LONG"
    assert "unemployment system" in p.message_en
    assert "40 bytes in GBK" in p.message_en
    assert "失业登记系统" in p.message_zh
    assert "40个GBK字节" in p.message_zh


def test_the_limit_exceeded_the_most_is_named() -> None:
    address = "路" * 150  # employment: 150/100 characters; unemployment: 300/200 bytes
    (p,) = check_limits({"household_address": address}, SYSTEMS)
    assert "employment system" in p.message_en
    assert "100 characters" in p.message_en


def test_control_characters_are_refused_everywhere_at_their_position() -> None:
    for char in ("\x00", "\x07", "\t", "\n", "\r", "\x1f", "\x7f"):
        for limits in (*SYSTEMS, STORE):
            field = "name" if "name" in limits.fields else "unit_name"
            (p,) = check_limits({field: f"张{char}三"}, [limits])
            assert p.code == "CONTROL_CHARACTER"
            assert "第2个字符" in p.message_zh
            assert "Character 2 " in p.message_en
    assert found({"name": "阿依古丽·吐尔逊 ü"}) == []  # a middle dot, a space, a pinyin ü


def test_characters_each_side_cannot_carry() -> None:
    # 䶮 (CJK extension A) is outside GBK; the others take it.
    (p,) = check_limits({"name": "刘䶮"}, SYSTEMS)
    assert (p.code, "第2个字符" in p.message_zh) == ("NOT_ENCODABLE", True)
    assert "unemployment system" in p.message_en
    assert found({"name": "刘䶮"}, EMPLOYMENT, LABOUR) == []
    # U+FFFE is no XML character, so labour cannot carry it; a noncharacter, no
    # side takes it (below).
    (p,) = check_limits({"post": "会\ufffe计"}, [LABOUR])
    assert p.code == "NOT_ENCODABLE"
    assert "labour system" in p.message_en
    # A lone surrogate is no character at all (JSON can smuggle one in).
    assert found({"name": "张\ud800"}, EMPLOYMENT) == [("name", "NOT_ENCODABLE")]
    assert first_refused("a\ud842\udfb7", Characters.UNICODE) == 2


def test_no_side_takes_a_noncharacter() -> None:
    """The finding: a name, an address or a post holding U+FDD0 passed every check and
    the labour stand-in refused it (its mark for what XML cannot carry) after the
    employment registration was filed. A noncharacter is kept for a program's own use,
    never exchanged: every side refuses it, at its position, wherever in the planes."""
    for mark in ("\ufdd0", "\ufdef", "\ufffe", "\U0001fffe", "\U0010ffff"):
        for characters in Characters:
            assert first_refused(f"张{mark}三", characters) == 2, (mark, characters)
        assert found({"name": f"张{mark}三"}, EMPLOYMENT) == [("name", "NOT_ENCODABLE")]
    # Their neighbours are characters like any other.
    for fine in ("\ufdcf", "\ufdf0", "\ufffd", "\U0001fffd"):
        assert first_refused(f"张{fine}三", Characters.UNICODE) is None, fine


def test_every_problem_of_a_field_is_given() -> None:
    assert found({"name": "\x00" + "䶮" * 60}) == [
        ("name", "CONTROL_CHARACTER"),
        ("name", "NOT_ENCODABLE"),
        ("name", "TOO_LONG"),
    ]


def test_only_what_a_side_receives_is_held_to_its_limits() -> None:
    post = "a" * 55  # over employment's 50, within labour's 60
    assert found({"post": post}, EMPLOYMENT.only({"name"}), LABOUR) == []
    assert found({"post": post}, EMPLOYMENT.only({"post"}), LABOUR) == [("post", "TOO_LONG")]
    # Unemployment never receives a post.
    assert found({"post": "a" * 61}, UNEMPLOYMENT) == []


def test_a_field_with_no_published_length_still_has_its_characters_checked() -> None:
    assert LABOUR.fields["contact"] is None
    assert found({"contact": "x" * 10_000}, LABOUR) == []
    assert found({"contact": "李\x00"}, LABOUR) == [("contact", "CONTROL_CHARACTER")]


def test_fields_are_reported_under_the_callers_name() -> None:
    (p,) = check_limits({"unit_name": "x" * 101}, SYSTEMS, report_as={"unit_name": "name"})
    assert p.field == "name"
    assert p.message_zh.startswith("单位名称超过就业系统的长度上限")


def test_empty_and_missing_values_are_not_judged_here() -> None:
    assert found({"name": None, "post": ""}) == []


# ------------------------------------------------------------- properties

_text = st.text(
    alphabet=st.sampled_from("ab张三\x00\t䶮\ufffe\ud800Ä"),
    max_size=12,
)
_limits = st.builds(
    Limits,
    owner_zh=st.just("甲系统"),
    owner_en=st.just("system A"),
    unit=st.sampled_from(Unit),
    characters=st.sampled_from(Characters),
    fields=st.fixed_dictionaries({"name": st.one_of(st.none(), st.integers(1, 10))}),
)


@given(_text, st.lists(_limits, min_size=1, max_size=4))
def test_several_sides_refuse_what_any_one_of_them_refuses(value: str, sides: list[Limits]) -> None:
    together = {p.code for p in check_limits({"name": value}, sides)}
    alone = {p.code for side in sides for p in check_limits({"name": value}, [side])}
    assert together == alone


@given(_text, _limits)
def test_a_value_within_a_sides_limits_passes_it(value: str, side: Limits) -> None:
    most = side.fields["name"]
    fits = most is None or measure(value, side.unit) <= most
    clean = not any(c < " " or c == "\x7f" for c in value)
    carried = first_refused(value, side.characters) is None
    assert (found({"name": value}, side) == []) == (not value or (fits and clean and carried))


@given(st.text(alphabet="ㄅㄆㄇㄈ", min_size=2, max_size=60))
def test_messages_never_repeat_the_value(value: str) -> None:
    for p in check_limits({"name": value + "\x07", "household_address": value * 10}, SYSTEMS):
        assert value not in p.message_zh
        assert value not in p.message_en
