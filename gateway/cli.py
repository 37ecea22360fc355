"""The ``hrss-gateway`` command.

Each command imports what it runs when it runs: a stand-in (``legacy``) does not
load the gateway's schema, store or metrics, and ``--help`` loads nothing heavy.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.auth import ConfigurationError
from gateway.forms.cli import add_form_parser
from gateway.logs import configure as configure_logging
from gateway.registry import registry
from gateway.settings import DEFAULT_STORE_URL
from gateway.store.cli import add_accounts_parser

if TYPE_CHECKING:
    from gateway.config import GatewayConfig


def _legacy(args: argparse.Namespace) -> int:
    if args.system == "identity":
        from adapters.identity.server import serve as serve_identity

        serve_identity(host=args.host, port=args.port, data=args.data, seed=args.seed, fd=args.fd)
        return 0
    from adapters.standin.server import serve

    serve(args.system, host=args.host, port=args.port, data=args.data, seed=args.seed, fd=args.fd)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from gateway.config import GatewayConfig

    demo = bool(args.demo)
    config = GatewayConfig.load(
        args.config,
        host=args.host,
        port=args.port,
        demo=demo or None,
        # GraphiQL is on in the demo; elsewhere only when configured.
        graphiql=True if demo else None,
    )
    _service_logging(config)
    if demo:
        from gateway import demo as demo_mode
        from gateway.store import Store

        config = demo_mode.trust_identity_standin(config)

        async def prepare() -> None:
            store = await Store.open(config.store_url)
            try:
                await demo_mode.prepare_store(store, config.systems)
            finally:
                await store.close()

        try:
            listener = demo_mode.gateway_socket(config)
            with listener, _terminated_unwinds(), demo_mode.standins(config):
                asyncio.run(prepare())
                print(demo_mode.banner(config), flush=True)
                # uvicorn takes the socket over, and closes it.
                _run(config, fd=listener.detach())
        except demo_mode.DemoRefused as e:
            print(f"hrss-gateway serve --demo: {e}", file=sys.stderr)
            return 1
        return 0
    # Here rather than in the app's start-up, where uvicorn would bury the
    # message in a traceback.
    _check_store(config)
    _run(config, fd=args.fd)
    return 0


def _check_store(config: GatewayConfig) -> None:
    """The secrets usable, and the store reached, migrated and written under this
    audit key: else ``ConfigurationError``, one line naming the setting, before
    anything starts (``serve``, ``cluster``)."""
    import asyncio

    from gateway.services import secrets_of
    from gateway.store.audit import check_store_key

    _, audit_key = secrets_of(config)

    async def check() -> None:
        async with _store_reached(config):
            await check_store_key(config.store_url, audit_key)

    asyncio.run(check())


@contextlib.asynccontextmanager
async def _store_reached(config: GatewayConfig) -> AsyncIterator[None]:
    """The block, within the configured waits on the store; a store that cannot be
    reached (or a database that does not exist, a password refused) stops the
    command with one line naming ``HRSS_STORE_URL``, its password hidden, where the
    driver's traceback said it before."""
    from gateway.store.database import store_timeouts, unreached_at_start

    try:
        with store_timeouts(config.store_timeouts()):
            yield
    except Exception as exc:
        why = unreached_at_start(config.store_url, exc)
        if why is None:
            raise
        raise ConfigurationError(f"HRSS_STORE_URL: {why}") from None


class _Terminated(BaseException):
    """SIGTERM, raised where the process is, so that what it started is stopped."""


@contextlib.contextmanager
def _terminated_unwinds() -> Iterator[None]:
    """SIGTERM stops the demo as Ctrl-C does, its stand-ins with it, then ends the
    process as SIGTERM would have.

    uvicorn shuts down gracefully on SIGTERM, then raises the signal again with
    the handler it found; with the default one the process ended there, before
    the stand-ins were stopped, and they kept running, holding their ports."""
    import signal

    def terminated(signum: int, frame: Any) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _service_logging(config: Any) -> None:
    """JSON lines for a service, text in the demo's terminal."""
    obs = config.observability
    configure_logging(obs.log_level, json=obs.log_json and not config.demo)


def _demo_key_beside(store_url: str) -> Path | None:
    """The audit key the demo keeps in its data folder, beside its SQLite store,
    when there is one (never made here)."""
    from gateway.settings import sqlite_file

    database = sqlite_file(store_url)
    if database is None:
        return None
    kept = Path(database).parent / "audit.key"
    return kept if kept.is_file() else None


def no_store_at(store_url: str) -> str | None:
    """Why a command that only reads a store must not open ``store_url``: a SQLite
    file that is not there (opening would make an empty store, and read nothing)."""
    from gateway.settings import sqlite_file

    database = sqlite_file(store_url)
    if database is None or Path(database).exists():
        return None
    return (
        f"there is no store at {Path(database).resolve()} (give --store, or run the "
        "command from the folder the gateway runs in)"
    )


def _audit(args: argparse.Namespace) -> int:
    import asyncio

    from gateway.auth import secret_from_env
    from gateway.store.audit import AuditChainBroken, AuditRetention, purge_store, verify_store

    missing = no_store_at(args.store)
    if missing is not None:
        print(f"hrss-gateway audit: {missing}", file=sys.stderr)
        return 1
    key = secret_from_env("HRSS_AUDIT_KEY", demo_file=_demo_key_beside(args.store))
    if args.action == "verify":
        check = asyncio.run(verify_store(args.store, key))
        print(f"audit chain: {'intact' if check.ok else 'BROKEN'} ({check})")
        return 0 if check.ok else 1
    try:
        result = asyncio.run(purge_store(args.store, key, AuditRetention(days=args.retention_days)))
    except AuditChainBroken as exc:
        print(f"audit chain broken: {exc}; nothing was purged", file=sys.stderr)
        return 1
    print(f"purged {result.removed} audit records")
    return 0


def _signin(args: argparse.Namespace) -> int:
    import getpass

    from gateway.signin import SignInError, sign_in

    password = os.environ.get("HRSS_SIGNIN_PASSWORD") or getpass.getpass(
        f"password of {args.username}: "
    )
    try:
        tokens = sign_in(
            args.provider, args.client_id, args.username, password, redirect_uri=args.redirect_uri
        )
    except SignInError as exc:
        print(f"signin: {exc}", file=sys.stderr)
        return 1
    print(tokens.access_token)
    print('GraphiQL headers: {"Authorization": "Bearer <the token above>"}', file=sys.stderr)
    return 0


def _run(config: GatewayConfig, *, fd: int | None = None) -> None:
    from gateway.app import create_app
    from gateway.serving import gateway_options, run

    run(
        create_app(config),
        host=config.host,
        port=config.port,
        **gateway_options(config.limits),
        # A listening socket bound by ``hrss-gateway cluster`` (shared with its
        # siblings) or by the demo.
        fd=fd,
        log_level="info",
        # uvicorn's own loggers go through the gateway's handler (JSON, masked).
        log_config=None,
        # Access logs carry query strings, where a GET query may hold an ID number.
        access_log=False,
        timeout_graceful_shutdown=5,
    )


def _cluster(args: argparse.Namespace) -> int:
    from gateway.cluster import ClusterRefused, check, run
    from gateway.config import GatewayConfig

    config = GatewayConfig.load(args.config, host=args.host, port=args.port)
    _service_logging(config)
    try:
        # What each of its processes would refuse, refused once, before they start.
        check(config.store_url, args.gateways, args.workers)
        _check_store(config)
        return run(
            host=config.host,
            port=config.port,
            store_url=config.store_url,
            gateways=args.gateways,
            workers=args.workers,
            config_file=args.config,
        )
    except ClusterRefused as refused:
        print(f"cluster: {refused}", file=sys.stderr)
        return 2


def _worker(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from gateway.config import GatewayConfig
    from gateway.registrations.wiring import run_worker
    from gateway.services import Gateway

    config = GatewayConfig.load(args.config)
    _service_logging(config)

    async def work() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with _store_reached(config):
            gateway = await Gateway.start(config)
        try:
            await run_worker(gateway, stop=stop, poll_interval=config.worker_poll_s)
        finally:
            await gateway.close()

    asyncio.run(work())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrss-gateway",
        description="One GraphQL endpoint over the province's employment, labour, "
        "unemployment and other registered systems.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    legacy = commands.add_parser(
        "legacy",
        help="run a stand-in for one of the existing systems",
        description="Run a stand-in that honours one existing system's contract "
        "(shared/legacy/), with the /__sim/ fault and stats surface.",
    )
    standins = [s for s in registry() if s.standin is not None]
    legacy.add_argument(
        "system",
        choices=[*registry().names(), "identity"],
        help="a registered system ("
        + ", ".join(s.cli_name for s in standins)
        + "; older spellings: "
        + ", ".join(f"{a} for {s.cli_name}" for s in standins for a in s.aliases)
        + "), or the identity provider",
    )
    legacy.add_argument(
        "--host",
        default=os.environ.get("HRSS_STANDIN_HOST", "127.0.0.1"),
        help="address to listen on (default: loopback)",
    )
    legacy.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default: "
        + ", ".join(f"{s.cli_name} {s.standin.port}" for s in standins if s.standin)
        + ", identity 8104)",
    )
    legacy.add_argument(
        "--data",
        metavar="FILE",
        default=None,
        help="SQLite file that keeps the records across restarts (default: in memory)",
    )
    legacy.add_argument(
        "--seed",
        action="store_true",
        help="load the deterministic seed data (only into an empty store)",
    )
    # A listening socket bound by the process that starts the stand-in
    # (adapters/standin/process.py), which keeps the port from being taken meanwhile.
    legacy.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    legacy.set_defaults(run=_legacy)

    serve = commands.add_parser(
        "serve",
        help="run the gateway",
        description="Run the GraphQL gateway (/graphql, /healthz, /readyz).",
    )
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000)")
    serve.add_argument("--config", metavar="FILE", default=None, help="TOML configuration file")
    serve.add_argument(
        "--demo",
        action="store_true",
        help="also run the seeded stand-ins (every system switched on in the demo, and the "
        "identity provider), with demo accounts and GraphiQL",
    )
    # The listening socket of ``hrss-gateway cluster`` (not for operators).
    serve.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)
    serve.set_defaults(run=_serve)

    cluster = commands.add_parser(
        "cluster",
        help="run N gateway processes on one port and M worker processes",
        description="Run --gateways gateway processes sharing one port and --workers worker "
        "processes over one PostgreSQL store (and Redis, when configured), until stopped "
        "(SIGTERM). A submission on any gateway wakes the workers at once, and a "
        "subscription on any gateway sees every change.",
    )
    cluster.add_argument("--gateways", type=int, default=2, help="gateway processes (default 2)")
    cluster.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    cluster.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    cluster.add_argument("--port", type=int, default=None, help="port (default 8000)")
    cluster.add_argument("--config", metavar="FILE", default=None, help="TOML configuration file")
    cluster.set_defaults(run=_cluster)

    worker = commands.add_parser(
        "worker",
        help="carry registrations out (several may share one store)",
        description="Carry out the steps of stored registrations until stopped (SIGTERM). "
        "Run several, on several machines if need be: leases in the store keep any step "
        "from being carried out twice.",
    )
    worker.add_argument("--config", metavar="FILE", default=None, help="TOML configuration file")
    worker.set_defaults(run=_worker)

    audit = commands.add_parser(
        "audit",
        help="verify or purge the audit log",
        description="Verify the audit log's hash chain, or remove the records older than "
        "the retention period (at least six months); the key comes from HRSS_AUDIT_KEY "
        "(for the demo's store, from the audit.key kept beside it).",
    )
    audit.add_argument("action", choices=["verify", "purge"])
    audit.add_argument(
        "--store", default=os.environ.get("HRSS_STORE_URL", DEFAULT_STORE_URL), help="store URL"
    )
    audit.add_argument(
        "--retention-days", type=int, default=183, help="keep this many days (at least 183)"
    )
    audit.set_defaults(run=_audit)

    _add_signin_parser(commands)
    add_form_parser(commands)
    add_accounts_parser(commands)
    return parser


def _add_signin_parser(commands: Any) -> None:
    from adapters.identity.config import DEFAULT_CLIENT_ID, DEFAULT_PORT, DEFAULT_REDIRECT_URI

    signin = commands.add_parser(
        "signin",
        help="sign in at the identity provider and print an access token",
        description="Run the authorization code flow with PKCE against the identity "
        "provider (the demo's stand-in: its sign-in form is posted directly) and print "
        "the access token, for GraphiQL's Authorization header. The password is read "
        "from HRSS_SIGNIN_PASSWORD, or prompted.",
    )
    signin.add_argument(
        "--provider",
        default=os.environ.get("HRSS_OIDC_ISSUER", f"http://127.0.0.1:{DEFAULT_PORT}"),
        help="the provider's issuer URL (default: HRSS_OIDC_ISSUER, else the demo's)",
    )
    signin.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    signin.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI)
    signin.add_argument(
        "--username", required=True, help="the legal-person account (its credit code)"
    )
    signin.set_defaults(run=_signin)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    try:
        result: int = args.run(args)
    except ConfigurationError as e:
        # A setting missing or wrong: the message names it, a traceback buried it.
        print(f"hrss-gateway {args.command}: {e}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
