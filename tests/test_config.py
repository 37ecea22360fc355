"""Configuration: built-in defaults, then the TOML file, then HRSS_* variables, then flags."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from gateway.auth import ConfigurationError, Role
from gateway.config import GatewayConfig
from gateway.domain.model import System
from gateway.settings import DEFAULT_EMPLOYMENT_API_KEY, DEFAULT_PORTS
from tests.services import postgres_url, services

TOML = """
[gateway]
port = 9100
store_url = "postgresql+asyncpg://gateway@db/gateway"
mandatory_from = 2022-01-01
reveal_roles = ["clerk"]

[systems.employment]
url = "https://jy.example.test/"
api_key = "from-the-file"
timeout = 4

[systems.labor]
username = "ldgx"
password = "secret-from-file"

[rate_limits]
per_account = "100/minute"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


def test_the_defaults_are_the_demo_on_one_machine() -> None:
    config = GatewayConfig.load(environ={})
    assert (config.host, config.port) == ("127.0.0.1", 8000)
    assert config.store_url.startswith("sqlite+aiosqlite:///")
    for system in System:
        assert config.system(system).url == f"http://127.0.0.1:{DEFAULT_PORTS[system]}"
    assert config.system(System.EMPLOYMENT).secret == DEFAULT_EMPLOYMENT_API_KEY
    assert config.mandatory_from == dt.date(2021, 5, 1)
    assert config.disclosure().introspection is False


def test_the_file_overrides_the_defaults(config_file: Path) -> None:
    config = GatewayConfig.load(config_file, environ={})
    assert config.port == 9100
    assert config.store_url == "postgresql+asyncpg://gateway@db/gateway"
    assert config.mandatory_from == dt.date(2022, 1, 1)  # a TOML date
    assert config.reveal_roles == ("clerk",)
    employment = config.system(System.EMPLOYMENT)
    assert (employment.url, employment.secret, employment.timeout) == (
        "https://jy.example.test",
        "from-the-file",
        4.0,
    )
    labour = config.system(System.LABOUR)
    assert (labour.username, labour.secret) == ("ldgx", "secret-from-file")
    assert config.rate_limits.per_account == "100/minute"


def test_variables_override_the_file_and_flags_override_both(config_file: Path) -> None:
    env = {
        "HRSS_PORT": "9200",
        "HRSS_EMPLOYMENT_API_KEY": "from-the-environment",
        "HRSS_MANDATORY_FROM": "2023-07-01",
        "HRSS_REVEAL_ROLES": "employer, clerk",
        "HRSS_RUN_WORKER": "false",
        "HRSS_MAX_DEPTH": "7",
    }
    config = GatewayConfig.load(config_file, environ=env, port=9300)
    assert config.port == 9300
    assert config.system(System.EMPLOYMENT).secret == "from-the-environment"
    assert config.system(System.EMPLOYMENT).timeout == 4.0  # still the file's
    assert config.mandatory_from == dt.date(2023, 7, 1)
    assert config.reveal_roles == ("employer", "clerk")
    assert config.run_worker is False
    assert config.limits.max_depth == 7


def test_disclosure_follows_the_demo_unless_set() -> None:
    assert GatewayConfig.load(environ={}, demo=True).disclosure().introspection is True
    on = GatewayConfig.load(environ={"HRSS_INTROSPECTION": "true"})
    assert on.disclosure().introspection is True
    assert on.disclosure().field_suggestions is False


def test_registration_retention_is_read_and_zero_keeps_registrations_whole() -> None:
    assert GatewayConfig().registration_retention_days == 183
    config = GatewayConfig.load(environ={"HRSS_REGISTRATION_RETENTION_DAYS": "0"})
    assert config.registration_retention_days == 0
    with pytest.raises(ValueError, match="registration_retention_days"):
        GatewayConfig.load(environ={"HRSS_REGISTRATION_RETENTION_DAYS": "-1"})


def test_the_readiness_interval_is_read_and_zero_looks_at_every_request() -> None:
    assert GatewayConfig().readiness_cache_s == 5.0
    config = GatewayConfig.load(environ={"HRSS_READINESS_CACHE_S": "0"})
    assert config.readiness_cache_s == 0
    with pytest.raises(ValueError, match="readiness_cache_s"):
        GatewayConfig.load(environ={"HRSS_READINESS_CACHE_S": "-1"})


def test_the_subscriptions_of_an_account_are_read_and_at_least_one() -> None:
    assert GatewayConfig().subscriptions_per_account == 100
    config = GatewayConfig.load(environ={"HRSS_SUBSCRIPTIONS_PER_ACCOUNT": "5"})
    assert config.subscriptions_per_account == 5
    with pytest.raises(ValueError, match="subscriptions_per_account"):
        GatewayConfig.load(environ={"HRSS_SUBSCRIPTIONS_PER_ACCOUNT": "0"})


def test_the_form_threads_are_read_and_at_least_one() -> None:
    assert GatewayConfig().forms.workbook_threads == 1
    config = GatewayConfig.load(environ={"HRSS_FORM_WORKBOOK_THREADS": "2"})
    assert config.forms.workbook_threads == 2
    with pytest.raises(ValueError, match="form_workbook_threads"):
        GatewayConfig.load(environ={"HRSS_FORM_WORKBOOK_THREADS": "0"})


def test_audit_retention_shorter_than_six_months_is_refused() -> None:
    config = GatewayConfig.load(environ={"HRSS_AUDIT_RETENTION_DAYS": "90"})
    with pytest.raises(ValueError, match="six months"):
        config.audit_retention()
    assert GatewayConfig.load(environ={}).audit_retention().days == 183


def test_reveal_roles_are_roles_and_an_unknown_one_stops_the_start() -> None:
    config = GatewayConfig.load(environ={"HRSS_REVEAL_ROLES": "clerk, admin"})
    assert config.reveal_roles == (Role.CLERK, Role.ADMIN)
    assert all(isinstance(r, Role) for r in config.reveal_roles)
    with pytest.raises(ValueError, match="auditor"):
        GatewayConfig.load(environ={"HRSS_REVEAL_ROLES": "clerk,auditor"})


def test_declared_operation_names_and_json_bounds(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[gateway]\noperation_names = ["MyWorkers", "Hire"]\nmax_json_depth = 16\n')
    from_file = GatewayConfig.load(path, environ={})
    assert from_file.observability.operation_names == ("MyWorkers", "Hire")
    assert from_file.limits.max_json_depth == 16
    from_env = GatewayConfig.load(
        path,
        environ={"HRSS_OPERATION_NAMES": " MyWorkers, Me ,", "HRSS_MAX_JSON_VALUES": "500"},
    )
    assert from_env.observability.operation_names == ("MyWorkers", "Me")
    assert from_env.limits.max_json_values == 500
    assert GatewayConfig.load(environ={}).observability.operation_names == ()


def test_each_system_has_one_table_name_and_the_older_one_still_reads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[systems.labour]\nusername = "current"\n', encoding="utf-8")
    assert GatewayConfig.load(path, environ={}).system(System.LABOUR).username == "current"
    path.write_text('[systems.labor]\nusername = "older"\n', encoding="utf-8")
    assert GatewayConfig.load(path, environ={}).system(System.LABOUR).username == "older"
    assert "[systems.labor] is an older name: use [systems.labour]" in caplog.text
    # Both given: the current name wins where they differ.
    path.write_text(
        '[systems.labor]\nusername = "older"\npassword = "kept"\n'
        '[systems.labour]\nusername = "current"\n',
        encoding="utf-8",
    )
    labour = GatewayConfig.load(path, environ={}).system(System.LABOUR)
    assert (labour.username, labour.secret) == ("current", "kept")


def test_a_table_naming_no_registered_system_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text('[systems.employmnet]\nurl = "http://x"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="employmnet"):
        GatewayConfig.load(path, environ={})


def test_a_system_can_be_switched_off_and_is_then_not_configured() -> None:
    config = GatewayConfig.load(environ={"HRSS_UNEMPLOYMENT_ENABLED": "false"})
    assert System.UNEMPLOYMENT not in config.systems
    with pytest.raises(KeyError, match="not switched on"):
        config.system(System.UNEMPLOYMENT)


@pytest.fixture
def root_logging() -> Iterator[None]:
    """The root logger as it was: a command configures logging onto the stderr it
    finds, which is this test's capture, closed once the test ends."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


#: Secrets long enough, for the cases about another setting.
SECRETS = {"HRSS_TOKEN_SECRET": "t" * 32, "HRSS_AUDIT_KEY": "a" * 32}
#: A PostgreSQL store where nothing listens, with a password no message may show.
UNREACHABLE_STORE = "postgresql+asyncpg://gateway:hunter2@127.0.0.1:1/gateway"
#: What each case may set; anything else is as the test's environment leaves it.
SETTINGS = (
    "HRSS_TOKEN_SECRET",
    "HRSS_AUDIT_KEY",
    "HRSS_OIDC_ISSUER",
    "HRSS_DEMO",
    "HRSS_PORT",
    "HRSS_STORE_URL",
    "HRSS_CACHE_URL",
    "HRSS_RATE_LIMIT_PER_ACCOUNT",
)


def _case(argv: list[str], variables: dict[str, str], message: str, file: str | None = None) -> Any:
    return pytest.param(argv, variables, file, message, id=f"{argv[0]}: {message}")


@pytest.mark.parametrize(
    ("argv", "variables", "file", "message"),
    [
        _case(["worker"], {}, "HRSS_TOKEN_SECRET must be set outside demo mode"),
        _case(["serve"], {"HRSS_TOKEN_SECRET": "t" * 32}, "HRSS_AUDIT_KEY must be set"),
        _case(["serve"], {"HRSS_OIDC_ISSUER": "http://example.com"}, "HRSS_OIDC_ISSUER must be"),
        # Each of these gave a traceback and exit status 1.
        _case(["serve"], {"HRSS_PORT": "abc"}, "HRSS_PORT: expected a whole number, not 'abc'"),
        _case(
            ["worker"],
            {},
            "worker_poll_s in [gateway]: expected a number, not 'abc'",
            '[gateway]\nworker_poll_s = "abc"\n',
        ),
        _case(
            ["serve"],
            {},
            "[systems] names no registered system: employmnet (did you mean employment",
            '[systems.employmnet]\nurl = "http://x"\n',
        ),
        _case(["cluster"], {}, "is not valid TOML", "[gateway\nport = 1\n"),
        _case(["worker", "--config", "missing.toml"], {}, "missing.toml: no such file"),
        _case(
            ["serve"],
            {"HRSS_RATE_LIMIT_PER_ACCOUNT": "lots"},
            "HRSS_RATE_LIMIT_PER_ACCOUNT: rate limit per_account is not a limit",
        ),
        _case(["serve"], {**SECRETS, "HRSS_AUDIT_KEY": "abc"}, "HRSS_AUDIT_KEY must be at least"),
        _case(
            ["serve"], {**SECRETS, "HRSS_STORE_URL": "mysql://u:hunter2@db/gw"}, "HRSS_STORE_URL"
        ),
        _case(["serve"], {**SECRETS, "HRSS_CACHE_URL": "rediss:/bogus"}, "HRSS_CACHE_URL"),
        # Unknown names were dropped silently, leaving the setting at its default.
        _case(
            ["serve"],
            {},
            "[gateway] has no setting store_ur (did you mean store_url",
            '[gateway]\nstore_ur = "x"\n',
        ),
        _case(
            ["worker"],
            {},
            "no table [rate_limit] (did you mean [rate_limits]?)",
            '[rate_limit]\nper_account = "1/minute"\n',
        ),
        # A token secret too short: every login was INTERNAL, every bearer request 500.
        *(
            _case(
                [command],
                # The store named too: a cluster refuses SQLite first; nothing reaches it.
                {**SECRETS, "HRSS_TOKEN_SECRET": "short", "HRSS_STORE_URL": UNREACHABLE_STORE},
                "HRSS_TOKEN_SECRET must be",
            )
            for command in ("serve", "worker", "cluster")
        ),
        # The store unreachable at start: one line naming it, its password hidden.
        *(
            _case(
                [command],
                {**SECRETS, "HRSS_STORE_URL": UNREACHABLE_STORE},
                "HRSS_STORE_URL: the store postgresql+asyncpg://gateway:***@127.0.0.1:1/gateway"
                " cannot be reached",
            )
            for command in ("serve", "worker", "cluster")
        ),
    ],
)
@pytest.mark.usefixtures("root_logging")
def test_a_setting_missing_or_wrong_stops_a_command_with_its_name(
    argv: list[str],
    variables: dict[str, str],
    file: str | None,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One line naming the setting, exit status 2, before a server or a worker
    starts: the message was in a traceback, ``serve``'s in uvicorn's log of its
    failed start-up."""
    from gateway.cli import main

    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    if file is not None:
        (tmp_path / "gateway.toml").write_text(file, encoding="utf-8")
        argv = [*argv, "--config", "gateway.toml"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hrss-gateway {argv[0]}: ")
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert "hunter2" not in err
    assert not (tmp_path / "data").exists()  # nothing started, no store made


@services
@pytest.mark.parametrize("command", ["serve", "worker", "cluster"])
@pytest.mark.usefixtures("root_logging")
def test_a_missing_postgres_database_stops_a_command_with_one_line(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gateway.cli import main

    missing = make_url(postgres_url()).set(database="hrss_no_such_database")
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HRSS_STORE_URL", missing.render_as_string(hide_password=False))
    monkeypatch.chdir(tmp_path)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hrss-gateway {command}: HRSS_STORE_URL: the store ")
    assert "does not exist" in err
    assert len(err.strip().splitlines()) == 1, err


def test_the_store_timeouts_are_read_and_more_than_zero(tmp_path: Path) -> None:
    config = GatewayConfig.load(environ={})
    assert (
        config.store_connect_timeout_s,
        config.store_timeout_s,
        config.store_pool_timeout_s,
    ) == (5.0, 30.0, 10.0)
    path = tmp_path / "gateway.toml"
    path.write_text("[gateway]\nstore_timeout_s = 12\n", encoding="utf-8")
    config = GatewayConfig.load(path, environ={"HRSS_STORE_CONNECT_TIMEOUT_S": "2"})
    timeouts = config.store_timeouts()
    assert (timeouts.connect_s, timeouts.statement_s, timeouts.pool_s) == (2.0, 12.0, 10.0)
    with pytest.raises(ConfigurationError, match="store_pool_timeout_s"):
        GatewayConfig.load(environ={"HRSS_STORE_POOL_TIMEOUT_S": "0"})


def test_unknown_names_in_the_file_are_refused(tmp_path: Path) -> None:
    """Misspelt, a setting was dropped silently and stayed at its default."""
    path = tmp_path / "gateway.toml"
    for text, message in [
        ("[gateway]\nwroker_poll_s = 2\n", "(did you mean worker_poll_s"),
        ('[rate_limits]\nper_acount = "1/minute"\n', "did you mean per_account?"),
        ('[oidc]\nisuer = "https://idp"\n', "did you mean issuer?"),
        ("port = 9000\n", "[gateway]"),  # outside any table
    ]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigurationError, match=re.escape(message)):
            GatewayConfig.load(path, environ={})


@pytest.mark.parametrize(
    "argv",
    [["serve", "--port", "0"], ["worker"], ["audit", "verify"], ["audit", "purge"]],
    ids=lambda argv: " ".join(argv[:2]),
)
@pytest.mark.usefixtures("root_logging")
def test_a_command_refuses_a_store_written_under_another_audit_key(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A new deployment given a fresh audit key against the old store: the records'
    worker hashes would no longer match any search (silently, found nothing), so
    nothing starts and the message says which setting."""
    import asyncio
    import secrets

    from gateway.cli import main
    from gateway.store import Store

    url = f"sqlite+aiosqlite:///{tmp_path}/gateway.db"

    async def written() -> None:
        # Opened once with a key: the store takes it as its own.
        async with await Store.open(url, audit_key=b"k" * 32) as store:
            await store.audit.verify_chain()

    asyncio.run(written())
    for name in ("HRSS_OIDC_ISSUER", "HRSS_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HRSS_STORE_URL", url)
    monkeypatch.setenv("HRSS_TOKEN_SECRET", "t" * 32)
    monkeypatch.setenv("HRSS_AUDIT_KEY", secrets.token_hex(32))
    if argv[0] == "audit":
        argv = [*argv, "--store", url]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hrss-gateway {argv[0]}: HRSS_AUDIT_KEY is not the key")
    assert "Traceback" not in err


def test_the_audit_command_reads_a_demo_store_with_the_key_kept_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make demo`` keeps its audit key in its data folder, beside the store:
    ``audit verify`` as the README gives it works on the demo's store without
    HRSS_AUDIT_KEY, and never makes a key where there is none."""
    import asyncio

    from gateway.auth import load_or_create_secret
    from gateway.cli import main
    from gateway.store import Store

    data = tmp_path / "data"
    url = f"sqlite+aiosqlite:///{data}/gateway.db"
    key = load_or_create_secret(data / "audit.key")  # binary, as the demo makes it

    async def written() -> None:
        async with await Store.open(url, audit_key=key) as store:
            await store.audit.verify_chain()

    asyncio.run(written())
    for name in ("HRSS_AUDIT_KEY", "HRSS_DEMO"):
        monkeypatch.delenv(name, raising=False)
    assert main(["audit", "verify", "--store", url]) == 0
    assert "audit chain: intact" in capsys.readouterr().out
    # Elsewhere, a store without a key beside it: the variable is asked for.
    other = tmp_path / "other"
    elsewhere = f"sqlite+aiosqlite:///{other}/gateway.db"

    async def written_elsewhere() -> None:
        async with await Store.open(elsewhere, audit_key=b"k" * 32) as store:
            await store.audit.verify_chain()

    asyncio.run(written_elsewhere())
    assert main(["audit", "verify", "--store", elsewhere]) == 2
    assert "HRSS_AUDIT_KEY is not set" in capsys.readouterr().err
    assert not (other / "audit.key").exists()


@pytest.mark.parametrize("argv", [["audit", "verify"], ["audit", "purge"], ["accounts", "list"]])
def test_a_command_that_reads_a_store_makes_none_where_there_is_none(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run from another folder, the default store (``./data/gateway.db``) is not
    there: opening it made an empty store and listed nothing, as if the accounts
    were gone. It says there is no store, and makes nothing."""
    from gateway.cli import main

    monkeypatch.delenv("HRSS_STORE_URL", raising=False)
    monkeypatch.setenv("HRSS_AUDIT_KEY", "k" * 32)
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "there is no store at" in err
    assert "Traceback" not in err
    assert not (tmp_path / "data").exists()
