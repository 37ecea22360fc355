"""The log scan: which numbers it flags, and the plugin failing a session that logged one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.factories import resident_id
from tests.pii_scan import (
    ID_NUMBER,
    MOBILE_NUMBER,
    find_personal_numbers,
    is_valid_id_number,
    record_texts,
)

REPO = Path(__file__).resolve().parents[2]
ID = "37010219850312002X"
MOBILE = "13905310001"


def kinds(text: str) -> list[str]:
    return [f.kind for f in find_personal_numbers(text)]


@pytest.mark.parametrize(
    "text",
    [
        f"证件号码{ID}已登记",
        f"id_number={ID.lower()}",
        f'{{"zjhm": "{ID}"}}',
        f"GET /sy/djxx?zjhm={ID}&x=1",
        f"person ({ID}, 'name')",
    ],
)
def test_a_valid_id_number_is_flagged(text: str) -> None:
    assert kinds(text) == [ID_NUMBER]


@pytest.mark.parametrize(
    "text", [f"手机{MOBILE}", f"mobile={MOBILE};", f"tel:+86 {MOBILE}", f'"{MOBILE}"']
)
def test_a_mobile_number_is_flagged(text: str) -> None:
    assert kinds(text) == [MOBILE_NUMBER]


@pytest.mark.parametrize(
    "text",
    [
        "370102********002X and 139****0001",  # masked, as the gateway writes them
        "37010219850312002X"[:-1] + "3",  # wrong check character
        "370102198513120021",  # no such birth date (month 13)
        "010102198503120024",  # no division begins with 0
        "serial DJ000000000123 and JY370100000101 and dwbh SY3701020001",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "request 4b2f5ea609b44b86bed8be5afa617f15, at 1717171717171 ms, 1717171717.171 s",
        "elapsed 0.13905310001 s, size 13905310001.5",
        "token eyJhbGciOiJIUzI1NiJ9.13905310001x",
        f"X{MOBILE}",  # part of a longer code
        f"{ID}7",  # a 19-digit run is not an ID number
        "1390531000",  # ten digits
        "12905310001",  # no mobile begins 12
    ],
)
def test_what_is_not_a_number_in_clear_is_not_flagged(text: str) -> None:
    assert kinds(text) == []


def test_the_check_character_is_what_validates() -> None:
    number = resident_id()
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert is_valid_id_number(number)
    assert not is_valid_id_number(wrong)


def test_the_excerpt_never_holds_the_number() -> None:
    text = f"worker {ID} (手机{MOBILE}) and another {resident_id()} in one line"
    findings = find_personal_numbers(text)
    assert len(findings) == 3
    for finding in findings:
        assert ID not in finding.excerpt
        assert MOBILE not in finding.excerpt
        assert find_personal_numbers(finding.excerpt) == []
    assert "370102********002X" in findings[0].excerpt


def test_record_texts_cover_arguments_extras_and_tracebacks() -> None:
    try:
        raise ValueError(ID)
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "person %s", (MOBILE,), sys.exc_info()
        )
    record.id_number = ID
    texts = "\n".join(record_texts(record))
    assert kinds(texts).count(MOBILE_NUMBER) == 2  # the message and the arguments
    assert kinds(texts).count(ID_NUMBER) == 2  # the extra field and the traceback


# ------------------------------------------------------------------ the plugin

SESSION = """
import logging

def test_logs(tmp_path_factory):
    logging.getLogger("gateway.somewhere").debug({message!r})
    (tmp_path_factory.getbasetemp() / "employment-standin.log").write_text({file!r})
"""

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def run_session(message: str, file: str, *options: str) -> subprocess.CompletedProcess[str]:
    """A small pytest session with the plugin, in a temporary directory outside this
    session's own, whose log files this session's scan would otherwise read."""
    with tempfile.TemporaryDirectory() as d:
        tests = Path(d)
        (tests / "test_session.py").write_text(SESSION.format(message=message, file=file))
        (tests / "pytest.ini").write_text(INI)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        plugins = ["-p", "tests.pii_scan", "-p", "no:cacheprovider"]
        return subprocess.run(
            [
                *(sys.executable, "-m", "pytest", "-q", *plugins, *options),
                *("--basetemp", str(tests / "tmp")),
            ],
            cwd=tests,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def test_a_session_that_logged_a_number_fails_without_printing_it() -> None:
    number = resident_id()
    done = run_session(f"hired {number}", "started\n")
    assert done.returncode == 1, done.stdout
    assert "1 passed" in done.stdout
    assert "ID number in logger gateway.somewhere (DEBUG)" in done.stdout
    assert "test_session.py::test_logs" in done.stdout
    assert number[:6] + "********" + number[-4:] in done.stdout
    assert number not in done.stdout + done.stderr


def test_a_number_in_a_standin_log_file_fails_the_session() -> None:
    done = run_session("hired 370102********002X", f"GET /sy/djxx?sjhm={MOBILE} 200\n")
    assert done.returncode == 1, done.stdout
    assert "mobile number in file" in done.stdout
    assert "employment-standin.log" in done.stdout
    assert "line 1: GET /sy/djxx?sjhm=139****0001 200" in done.stdout
    assert MOBILE not in done.stdout + done.stderr


def test_on_xdist_workers_the_controller_reports_what_each_worker_found() -> None:
    """As ``make test`` runs: the number a worker's logger wrote and the one in a
    worker's log file both reach the report, and fail the session."""
    number = resident_id()
    done = run_session(f"hired {number}", f"GET /sy/djxx?sjhm={MOBILE} 200\n", "-n", "2")
    assert done.returncode == 1, done.stdout
    assert "1 passed" in done.stdout
    assert "ID number in logger gateway.somewhere (DEBUG)" in done.stdout
    assert "test_session.py::test_logs" in done.stdout
    assert "mobile number in file" in done.stdout
    assert "popen-gw" in done.stdout  # the worker's own directory
    assert number not in done.stdout + done.stderr
    assert MOBILE not in done.stdout + done.stderr


def test_a_session_that_logged_only_masked_numbers_passes() -> None:
    done = run_session("hired 370102********002X", "mobile 139****0001\n")
    assert done.returncode == 0, done.stdout
    assert "personal data" not in done.stdout
