"""Log records as JSON lines, each with its request id, none with personal data.

``configure_logging`` installs one handler on the root logger: JSON (python-json-
logger) in production, plain text for a person at a terminal. Two filters sit on
that handler, so that they see every record of every logger:

- ``RequestIdFilter`` adds the id of the request being handled (``request_id``);
- ``RedactionFilter`` passes the message, its arguments, any extra fields and
  the text of an exception through ``gateway.privacy.redact``: defence in
  depth, so that even a careless log line writes no ID or mobile number in
  clear. (Addresses cannot be recognised in free text: they are never logged.)

The same masking is applied as each record is made (a record factory), so
that handlers installed by others (uvicorn's, a test runner's) get masked
records too.

HTTP client libraries log every request's full URL at INFO, and some of the
systems' URLs carry ID numbers: those loggers (``QUIET``) stay at WARNING.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

from gateway.observability.request_id import current_request_id
from gateway.privacy import redact

#: Loggers that would write URLs or bodies holding personal data at INFO or DEBUG.
#: Loggers that would write personal data at INFO or DEBUG: HTTP clients log full
#: URLs (the unemployment system's carry ID numbers), aiosqlite every statement with
#: its parameters, aiocache its keys. Held at WARNING.
QUIET = (
    "httpx",
    "httpcore",
    "zeep",
    "zeep.transports",
    "urllib3",
    "spyne",
    "aiosqlite",
    "aiocache",
)

# The attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
# Set on the handler this module installs, so that configuring again replaces it.
_OURS = "_hrss_gateway_handler"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = ("levelname", "name", "message", "request_id")
_EXCEPTIONS = logging.Formatter()


class RequestIdFilter(logging.Filter):
    """Adds ``request_id``: the id of the request being handled, when there is one."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = current_request_id()
        if rid is not None:
            record.request_id = rid
        return True


def _scrub(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        # A bare number cannot be told from a count; numbers in text are caught below.
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    # An object's text is what a formatter would write: mask that.
    return redact(str(value))


def redact_record(record: logging.LogRecord) -> None:
    """Mask the message with its arguments, the exception text and the stack.

    The message is formatted here and masked as a whole: a number split between
    the format and an argument, or hidden in an object's ``str``, is caught as
    well as one passed plainly. The exception's traceback is rendered and
    masked too, since an exception's message may quote a value.
    """
    if isinstance(record.msg, Mapping):
        # python-json-logger writes a dict message as fields.
        record.msg = _scrub(record.msg)
        record.args = _scrub(record.args) if record.args else record.args
    else:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format: keep its parts, masked
            message = f"{record.msg} {record.args}"
        record.msg = redact(message)
        record.args = ()
    if record.exc_info:
        text = record.exc_text or _EXCEPTIONS.formatException(record.exc_info)
        record.exc_text = redact(text)
        # Formatters render exc_info afresh when it is set; the masked text stands in.
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactionFilter(logging.Filter):
    """Masks ID and mobile numbers in everything a record will write: the message,
    its arguments, the exception, and the fields given with ``extra``."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD:
                setattr(record, name, _scrub(value))
        return True


def install_redacting_record_factory() -> None:
    """Mask every record as it is made, before any handler sees it.

    A filter covers the handlers it is put on; records also reach handlers that
    others install on the root logger (a test runner's, a server's own). Fields
    given with ``extra`` are set after the factory runs: the filter covers them.
    """
    inner = logging.getLogRecordFactory()
    if getattr(inner, _OURS, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        redact_record(record)
        return record

    setattr(factory, _OURS, True)
    logging.setLogRecordFactory(factory)


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        list(_JSON_FIELDS),
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
        # Names and messages are Chinese: readable UTF-8 rather than \\u escapes.
        json_ensure_ascii=False,
    )


def text_formatter() -> logging.Formatter:
    return logging.Formatter(_TEXT_FORMAT, defaults={"request_id": "-"})


def configure_logging(
    json: bool = True, level: int | str = logging.INFO, *, stream: IO[str] | None = None
) -> logging.Handler:
    """Log to ``stream`` (stderr) from every logger, as JSON lines or text, every
    record masked (``install_redacting_record_factory``).

    Configuring again replaces the handler installed before; handlers others put
    on the root logger (a test runner's) are left alone.
    """
    install_redacting_record_factory()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactionFilter())
    handler.setFormatter(json_formatter() if json else text_formatter())
    setattr(handler, _OURS, True)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
