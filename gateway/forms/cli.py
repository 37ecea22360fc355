"""``hrss-gateway form template|check|submit``: the form as a file, for integrators.

Talks to a running gateway over HTTP (``--url``) with the bearer token in
``HRSS_TOKEN``: downloads the template, checks a filled form (a dry run), or
submits it and follows its registrations with a progress bar until each is
done. Problems are printed by cell; ``--marked FILE`` saves the workbook with
them marked. Exit status: 0 all well, 1 problems, 2 a refusal or an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

IMPORT = """mutation($f: Upload!, $k: String!, $d: Boolean!, $v: Boolean!) {
  importRegistrationForm(file: $f, idempotencyKey: $k, dryRun: $d, validOnly: $v) {
    accepted rows validRows registrations { id state }
    problems { sheet cell code messageZh messageEn } warnings { cell code messageEn }
    markedWorkbook { url } } }"""
PAGE = """query($a: String) { registrations(first: 100, after: $a) {
  nodes { id state } endCursor hasNextPage } }"""
FINAL = {"COMPLETED", "COMPENSATED", "CANCELLED", "NEEDS_ATTENTION"}
#: How often ``submit`` asks again for the states of the registrations it follows.
FOLLOW_POLL_S = 0.5


def add_form_parser(commands: Any) -> None:
    form = commands.add_parser(
        "form",
        help="the registration form as a file: template, check, submit",
        description="Download the form's template, check a filled form, or submit it, "
        "against a running gateway. The bearer token is read from HRSS_TOKEN.",
    )
    form.add_argument("action", choices=("template", "check", "submit"))
    form.add_argument("file", type=Path, help="where to save the template, or the filled form")
    form.add_argument(
        "--url",
        default=os.environ.get("HRSS_URL", "http://127.0.0.1:8000"),
        help="the gateway (default: $HRSS_URL or %(default)s)",
    )
    form.add_argument("--key", help="idempotency key (default: a new one; reuse it to retry)")
    form.add_argument("--valid-only", action="store_true", help="submit the valid rows only")
    form.add_argument("--marked", type=Path, help="save the workbook with its problems marked")
    form.add_argument("--no-wait", action="store_true", help="do not follow the registrations")
    form.set_defaults(run=run)


def _headers() -> dict[str, str]:
    token = os.environ.get("HRSS_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def run(args: argparse.Namespace) -> int:
    import httpx

    with httpx.Client(base_url=args.url, headers=_headers(), timeout=120) as http:
        try:
            if args.action == "template":
                r = http.get("/forms/registration-template.xlsx")
                if r.status_code != 200:
                    return _refused(r.json())
                args.file.write_bytes(r.content)
                print(f"saved {args.file}")
                return 0
            return _import(http, args)
        except httpx.HTTPError as exc:
            print(f"cannot reach the gateway: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:  # the form or a file to save: missing, unreadable, no folder
            print(f"hrss-gateway form: {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
            return 2


def _refused(body: dict[str, Any]) -> int:
    for e in body.get("errors", []):
        code = e.get("extensions", {}).get("code", "?")
        zh = e.get("extensions", {}).get("message_zh", "")
        print(f"{code}: {e.get('message')} {zh}", file=sys.stderr)
    return 2


def _import(http: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    dry = args.action == "check"
    variables = {"f": None, "k": args.key or uuid.uuid4().hex, "d": dry, "v": args.valid_only}
    data = args.file.read_bytes()
    with tqdm(total=len(data), unit="B", unit_scale=True, desc="upload + check") as bar:
        r = http.post(
            "/graphql",
            data={
                "operations": json.dumps({"query": IMPORT, "variables": variables}),
                "map": json.dumps({"0": ["variables.f"]}),
            },
            files={"0": (args.file.name, data, "application/octet-stream")},
            headers={"Apollo-Require-Preflight": "true"},
        )
        bar.update(len(data))
    body = r.json()
    if body.get("errors") or not body.get("data"):
        return _refused(body)
    result = body["data"]["importRegistrationForm"]
    for p in result["problems"]:
        print(f"{p['sheet']}!{p['cell'] or '-'} {p['code']}: {p['messageZh']} / {p['messageEn']}")
    for w in result["warnings"]:
        print(f"warning {w['cell'] or '-'} {w['code']}: {w['messageEn']}")
    print(f"rows {result['rows']}, valid {result['validRows']}, problems {len(result['problems'])}")
    if args.marked and result["markedWorkbook"]:
        args.marked.write_bytes(http.get(result["markedWorkbook"]["url"]).content)
        print(f"marked workbook saved to {args.marked}")
    ids = {r["id"] for r in result["registrations"]}
    if ids and not args.no_wait:
        _follow(http, ids)
    return 1 if result["problems"] else 0


def _follow(http: Any, ids: set[str]) -> None:
    """A bar of registrations done, from their states (newest first in the list)."""
    from tqdm import tqdm

    done: dict[str, str] = {}
    with tqdm(total=len(ids), unit="reg", desc="registrations") as bar:
        while len(done) < len(ids):
            after, seen = None, 0
            while seen < len(ids):
                page = http.post("/graphql", json={"query": PAGE, "variables": {"a": after}})
                found = page.json()["data"]["registrations"]
                for node in found["nodes"]:
                    if node["id"] in ids:
                        seen += 1
                        if node["state"] in FINAL and node["id"] not in done:
                            done[node["id"]] = node["state"]
                            bar.update(1)
                if not found["hasNextPage"]:
                    break
                after = found["endCursor"]
            if len(done) < len(ids):
                time.sleep(FOLLOW_POLL_S)
    states: dict[str, int] = {}
    for state in done.values():
        states[state] = states.get(state, 0) + 1
    print(", ".join(f"{s} {n}" for s, n in sorted(states.items())))
