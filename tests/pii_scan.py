"""A pytest plugin: nothing the test suite logs holds an ID number or mobile number in clear.

For the whole session every log record of every logger at DEBUG and above is
scanned as it is emitted (its formatted message, its arguments, its extra
fields and its traceback), and at the end of the session so are the log files
written under the session's temporary directories (the stand-ins' and the
gateway processes' logs). A valid ID number or mobile number found anywhere
fails the session; the report names the logger or file and shows a masked
excerpt, never the number.

Only valid numbers count, so that serial numbers, timestamps and hashes do not
raise false alarms: an 18-character GB 11643 number with a real birth date and
a correct check character, or ``1[3-9]`` and nine more digits, each standing
alone (not inside a longer run of letters and digits). Masked values such as
``370102********002X`` and ``139****0001`` are what the gateway should write
and are not flagged.

The loggers ``gateway.logs.QUIET`` names are held at WARNING, as every gateway
process does at start: the scan judges what the gateway would write, not what
an HTTP client library writes when nobody has configured it.

Loaded from ``tests/conftest.py``; ``-p no:tests.pii_scan`` turns it off.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from gateway.logs import QUIET
from gateway.privacy import redact
from tests.factories import ric_check

# "Standing alone": no letter or digit on either side, and not the digits after
# (or before) a decimal point, which are the fractional part of some number.
_ALONE_BEFORE = r"(?<![0-9A-Za-z])(?<![0-9]\.)"
_ALONE_AFTER = r"(?![0-9A-Za-z])(?!\.[0-9])"
_ID_NUMBER = re.compile(_ALONE_BEFORE + r"([1-9][0-9]{16}[0-9Xx])" + _ALONE_AFTER)
_MOBILE = re.compile(_ALONE_BEFORE + r"(1[3-9][0-9]{9})" + _ALONE_AFTER)

_EXCERPT_CONTEXT = 40
_EARLIEST_BIRTH_YEAR = 1900

ID_NUMBER = "ID number"
MOBILE_NUMBER = "mobile number"


@dataclass(frozen=True, slots=True)
class Finding:
    """One number in clear: what it is and a masked excerpt of the text around it."""

    kind: str
    excerpt: str


def is_valid_id_number(number: str) -> bool:
    """An 18-character GB 11643 number: a real birth date and the right check character."""
    number = number.upper()
    if not re.fullmatch(r"[1-9][0-9]{16}[0-9X]", number):
        return False
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not _EARLIEST_BIRTH_YEAR <= born.year <= dt.date.today().year:
        return False
    return ric_check(number[:17]) == number[17]


def find_personal_numbers(text: str) -> list[Finding]:
    """Every valid ID number and mobile number standing alone in ``text``, masked."""
    findings = [
        Finding(ID_NUMBER, _excerpt(text, m.start(1), m.end(1)))
        for m in _ID_NUMBER.finditer(text)
        if is_valid_id_number(m.group(1))
    ]
    findings += [
        Finding(MOBILE_NUMBER, _excerpt(text, m.start(1), m.end(1))) for m in _MOBILE.finditer(text)
    ]
    return findings


def _excerpt(text: str, start: int, end: int) -> str:
    """The text around a number, widened to whole tokens so that no number is cut
    in two (a cut one would escape masking), then masked throughout."""
    lo, hi = max(0, start - _EXCERPT_CONTEXT), min(len(text), end + _EXCERPT_CONTEXT)
    while lo > 0 and text[lo - 1].isalnum():
        lo -= 1
    while hi < len(text) and text[hi].isalnum():
        hi += 1
    window = text[lo:hi]
    # redact() masks every ID-like and mobile-like run, valid or not; the masks
    # below cover what it leaves (a lower-case x is ID-like to it too).
    masked = redact(window)
    masked = _ID_NUMBER.sub(lambda m: _mask(m.group(1), 6, 4), masked)
    masked = _MOBILE.sub(lambda m: _mask(m.group(1), 3, 4), masked)
    return " ".join(masked.split())


def _mask(value: str, keep_start: int, keep_end: int) -> str:
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[-keep_end:]


# ------------------------------------------------------------------ the plugin

#: Where an xdist worker hands its findings to the controller (``config.workeroutput``).
_WORKER_FINDINGS = "pii_scan_findings"

_STANDARD_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def record_texts(record: logging.LogRecord) -> Iterator[str]:
    """Everything of a record a handler or formatter might write."""
    try:
        yield record.getMessage()
    except Exception:  # a record whose arguments do not fit its format is still written
        yield str(record.msg)
    if record.args:
        yield repr(record.args)
    for name, value in vars(record).items():
        if name not in _STANDARD_RECORD_ATTRIBUTES:
            yield f"{name}={value!r}"
    if record.exc_info and record.exc_info[1] is not None:
        yield logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        yield record.exc_text
    if record.stack_info:
        yield record.stack_info


@dataclass(slots=True)
class Source:
    """Where numbers were found (a logger or a file), how often, and the first of them."""

    where: str
    kind: str
    first_excerpt: str
    first_test: str | None
    count: int = 0


class _ScanningHandler(logging.Handler):
    def __init__(self, scan: PersonalDataScan) -> None:
        super().__init__(logging.DEBUG)
        self.scan = scan

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "tests" or record.name.startswith("tests."):
            # The tests' own loggers write sample numbers on purpose, to prove that the
            # gateway's handler masks them; the scan is about everything else.
            return
        try:
            for text in record_texts(record):
                for finding in find_personal_numbers(text):
                    self.scan.report(f"logger {record.name} ({record.levelname})", finding)
        except Exception:  # a broken record must not break the test that logged it
            self.handleError(record)


class PersonalDataScan:
    """The session-wide scan: a handler on the root logger, then the log files."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.found: dict[tuple[str, str], Source] = {}
        self.test: str | None = None
        self.handler = _ScanningHandler(self)
        self._root_level = logging.NOTSET
        self._quieted: list[logging.Logger] = []

    def report(self, where: str, finding: Finding) -> None:
        # One logger can write the same number hundreds of times: one line per
        # logger or file and kind, with the first excerpt, is what a reader needs.
        key = (where, finding.kind)
        if key not in self.found:
            self.found[key] = Source(where, finding.kind, finding.excerpt, self.test)
        self.found[key].count += 1

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        root = logging.getLogger()
        self._root_level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self.handler)
        for name in QUIET:
            logger = logging.getLogger(name)
            if logger.level == logging.NOTSET:
                logger.setLevel(logging.WARNING)
                self._quieted.append(logger)

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.test = nodeid

    # First, before the temporary directories can be cleaned up by their own plugin.
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._root_level)
        for logger in self._quieted:
            logger.setLevel(logging.NOTSET)
        self.test = None
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            # An xdist worker: its findings go to the controller, which reports them
            # and scans every worker's files (they lie under its own base directory).
            workeroutput[_WORKER_FINDINGS] = [asdict(s) for s in self.found.values()]
            return
        for path in self.log_files():
            self.scan_file(path)
        if self.found and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        """An xdist worker finished: take over what its loggers wrote."""
        output = getattr(node, "workeroutput", None) or {}
        for found in output.get(_WORKER_FINDINGS, []):
            source = Source(**found)
            key = (source.where, source.kind)
            if key in self.found:
                self.found[key].count += source.count
            else:
                self.found[key] = source

    def log_files(self) -> list[Path]:
        # The factory is the tmp_path plugin's own; it has a base directory only
        # once a test has asked for a temporary directory.
        factory = getattr(self.config, "_tmp_path_factory", None)
        if factory is None or getattr(factory, "_basetemp", None) is None:
            return []
        base: Path = factory.getbasetemp()
        return sorted(p for p in base.rglob("*.log") if p.is_file())

    def scan_file(self, path: Path) -> None:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for n, line in enumerate(lines, start=1):
                for found in find_personal_numbers(line):
                    self.report(f"file {path}", Finding(found.kind, f"line {n}: {found.excerpt}"))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.found:
            return
        terminalreporter.section("personal data in clear in the logs", sep="=", red=True)
        for source in self.found.values():
            during = f", first during {source.first_test}" if source.first_test else ""
            terminalreporter.line(
                f"{source.kind} in {source.where}, {source.count} time(s){during}:\n"
                f"    {source.first_excerpt}"
            )
        total = sum(source.count for source in self.found.values())
        terminalreporter.line(f"{total} number(s) in clear: the session fails.")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(PersonalDataScan(config), "pii-scan")
