"""What a step's error and a refused read say, in Chinese and English (pure: no
system, no store)."""

from __future__ import annotations

from gateway.domain.model import System
from gateway.errors import from_adapter
from gateway.registrations import messages
from gateway.systems import Duplicate, Rejected, Unavailable

WORDS = "该劳动者与本单位已有在执行的劳动合同"


def test_the_chinese_message_quotes_the_systems_own_words_not_the_adapters_english() -> None:
    refusal = Duplicate(
        System.LABOUR, f"contract filing refused, already exists: {WORDS}", system_code="LD2002"
    ).saying(f"  {WORDS} ")
    error = messages.refused(refusal)
    assert error.message_zh == f"劳动关系系统拒绝办理（系统中已有该记录）：{WORDS}"
    assert error.message_en == (
        "The labour relations system refused (the system already holds such a record): "
        f"contract filing refused, already exists: {WORDS}"
    )
    assert (
        messages.undo_failed(refusal).message_zh == f"劳动关系系统拒绝撤销：{WORDS}，请经办人员处理"
    )
    read = from_adapter(refusal).extensions
    assert read is not None
    assert read["message_zh"] == f"劳动关系系统拒绝办理：{WORDS}"
    assert "contract filing refused" in read["message_en"]


def test_a_refusal_the_adapter_explained_alone_keeps_its_explanation() -> None:
    # Nothing from the system: the adapter's account is all there is to quote.
    refusal = Rejected(
        System.UNEMPLOYMENT,
        "name holds a character the unemployment system cannot store (GBK)",
        field="name",
    ).saying("   ")
    assert refusal.said is None
    assert messages.refused(refusal).message_zh.endswith(
        "：name holds a character the unemployment system cannot store (GBK)"
    )


def test_a_system_that_said_nothing_is_not_quoted_in_chinese() -> None:
    lost = Unavailable(System.LABOUR, "file: no answer within the deadline", outcome_unknown=True)
    error = messages.unavailable(lost)
    assert error.message_zh == "已发送至劳动关系系统但未收到答复，将先核实是否已办理再决定是否重发"
    assert error.message_en.endswith("resend: file: no answer within the deadline")
    down = messages.unavailable(Unavailable(System.LABOUR, "the system is unavailable"))
    assert down.message_zh == "劳动关系系统暂时无法访问，稍后自动重试"
    maintenance = Unavailable(System.LABOUR, "in maintenance: 系统维护中").saying("系统维护中")
    assert messages.unavailable(maintenance).message_zh.endswith("稍后自动重试：系统维护中")
    assert (
        messages.cannot_check(lost).message_zh
        == "无法向劳动关系系统核实上次发送是否已办理，稍后再核实"
    )


def test_an_id_number_in_the_systems_words_is_masked_in_both_languages() -> None:
    number = "370102199001011231"
    refusal = Rejected(System.LABOUR, f"refused: 证件号码{number}已存在").saying(
        f"证件号码{number}已存在"
    )
    error = messages.refused(refusal)
    assert number not in error.message_zh + error.message_en
    assert "证件号码" in error.message_zh
