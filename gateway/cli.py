"""The ``hrss-gateway`` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def _legacy(args: argparse.Namespace) -> int:
    from adapters.standin.server import serve

    serve(args.system, host=args.host, port=args.port, data=args.data, seed=args.seed)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hrss-gateway",
        description="One GraphQL endpoint over the province's employment, labour and "
        "unemployment systems.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    legacy = commands.add_parser(
        "legacy",
        help="run a stand-in for one of the existing systems",
        description="Run a stand-in that honours one existing system's contract "
        "(shared/legacy/), with the /__sim/ fault and stats surface.",
    )
    legacy.add_argument("system", choices=["employment", "labor", "unemployment"])
    legacy.add_argument(
        "--host",
        default=os.environ.get("HRSS_STANDIN_HOST", "127.0.0.1"),
        help="address to listen on (default: loopback)",
    )
    legacy.add_argument(
        "--port",
        type=int,
        default=None,
        help="port (default: employment 8101, labor 8102, unemployment 8103)",
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
    legacy.set_defaults(run=_legacy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
