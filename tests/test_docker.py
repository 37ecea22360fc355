"""docker/: the image and the compose file, checked against the code they run.

No Docker engine is needed. The compose file and the Dockerfile are parsed and
held against the real program: every command goes through the real argument
parser, every ``HRSS_*`` variable must be one the code reads, the URLs go
through the real configuration loader and must reach services of the compose
file, and no secret is written down. Each check is a function that returns what
is wrong; the ``test_checks_catch_broken_*`` tests break a copy of the files on
purpose and make sure that the check notices.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import fcntl
import functools
import hashlib
import http.server
import io
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from adapters.standin.server import SYSTEMS
from gateway import settings
from gateway.auth import HashParams
from gateway.cli import build_parser
from gateway.config import GatewayConfig

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE = DOCKER / "compose.yaml"
DOCKERIGNORE = ROOT / ".dockerignore"

#: Services that run images of their own; every other service runs ours.
THIRD_PARTY = {"postgres": "postgres", "redis": "redis"}
STANDINS = {"employment", "labor", "unemployment"}
EXPECTED_SERVICES = {*THIRD_PARTY, *STANDINS, "gateway", "worker"}

Compose = dict[str, Any]


# ------------------------------------------------------------------ reading


@dataclass
class Instruction:
    keyword: str  # upper case
    args: str
    stage: int


@dataclass
class Dockerfile:
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def stages(self) -> int:
        return sum(1 for i in self.instructions if i.keyword == "FROM")

    def final(self, keyword: str) -> list[Instruction]:
        last = self.stages - 1
        return [i for i in self.instructions if i.keyword == keyword and i.stage == last]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> Dockerfile:
    """Instructions with their continuation lines joined; comments dropped."""
    result = Dockerfile()
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments (and parser directives) may sit inside a continuation
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.instructions.append(Instruction(keyword, args.strip(), stage))
    return result


def exec_form(args: str) -> list[str] | None:
    """The JSON (exec) form of CMD, ENTRYPOINT or HEALTHCHECK CMD; None for the shell form."""
    try:
        value = json.loads(args)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def healthcheck_command(instruction: Instruction) -> list[str] | None:
    words = instruction.args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    if not words or words[0].upper() != "CMD":
        return None
    return exec_form(" ".join(words[1:]))


def load_compose(text: str) -> Compose:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict)
    return doc


@functools.cache
def compose_text() -> str:
    return COMPOSE.read_text(encoding="utf-8")


@functools.cache
def dockerfile_text() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


# ------------------------------------------------------ compose interpolation

_REFERENCE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
_REQUIRED_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}")


def placeholder(name: str) -> str:
    """What a required variable stands for here: 64 hex characters (a valid secret,
    safe in a URL), different for each variable so that mix-ups show."""
    return hashlib.sha256(name.encode()).hexdigest()


def interpolate(value: str) -> str:
    """Compose's interpolation, with every variable unset: ``${X:-d}`` gives ``d``,
    ``${X:?m}`` and ``${X}`` give ``placeholder("X")``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        op = match.group("op") or ""
        if op.endswith("-"):
            return match.group("arg")
        return placeholder(match.group("name"))

    return _REFERENCE.sub(one, value)


def services(compose: Compose) -> dict[str, dict[str, Any]]:
    found = compose.get("services") or {}
    assert isinstance(found, dict)
    return found


def image_services(compose: Compose) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services(compose).items() if n not in THIRD_PARTY}


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as written (map or list form), values not interpolated."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def command(service: Mapping[str, Any]) -> list[str] | None:
    value = service.get("command")
    if value is None:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def option(args: list[str], name: str) -> str | None:
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    return None


def listening_port(service: Mapping[str, Any]) -> int | None:
    args = command(service) or []
    port = option(args, "--port")
    if port is not None:
        return int(port)
    if args[:1] in (["serve"], ["cluster"]):
        return GatewayConfig().port
    return None


# ------------------------------------------------------------ the real code


def cli_commands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def cli_problem(args: list[str]) -> str | None:
    """None when ``hrss-gateway ARGS`` is accepted by the real parser, else why not."""
    known = cli_commands()
    if not args or args[0] not in known:
        return (
            f"`hrss-gateway {shlex.join(args)}`: {args[0] if args else '(nothing)'!r} is not "
            f"a command of gateway.cli.build_parser() (it has: {', '.join(sorted(known))})"
        )
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit:
        return f"`hrss-gateway {shlex.join(args)}` is refused: {errors.getvalue().strip()}"
    return None


class _Recorder(Mapping[str, str]):
    """An empty environment that notes every name looked up in it."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.names.add(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@functools.cache
def variables_read() -> frozenset[str]:
    """``HRSS_*`` variables the code reads: those the configuration loaders look up
    (names built at run time, recorded), and those named literally in the source."""
    return frozenset(shared_by_the_run("variables", lambda: sorted(_variables_read())))


def _variables_read() -> frozenset[str]:
    recorder = _Recorder()
    GatewayConfig.load(environ=recorder)
    HashParams.from_env(recorder)
    names = {n for n in recorder.names if n.startswith("HRSS_")}
    for package in ("gateway", "adapters"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and re.fullmatch(r"HRSS_[A-Z0-9_]+", node.value)
                ):
                    names.add(node.value)
    return frozenset(names)


_ROUTES = """
import json
from adapters.standin.server import SYSTEMS, create_app as standin_app
from gateway.app import create_app
from gateway.config import GatewayConfig
found = {"serve": [r.path for r in create_app(GatewayConfig()).routes]}
found.update({name: [r.path for r in standin_app(name).routes] for name in SYSTEMS})
print(json.dumps(found))
"""


@functools.cache
def routes() -> dict[str, frozenset[str]]:
    """Paths served by ``serve`` and by each stand-in, from the real applications.

    Read in a child process: spyne, under the labour stand-in, puts an import hook
    in place that would make warnings (errors here) of other tests' imports."""
    found = shared_by_the_run("routes", _read_routes)
    return {name: frozenset(paths) for name, paths in found.items()}


def _read_routes() -> Any:
    done = subprocess.run(
        [sys.executable, "-c", _ROUTES], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


#: The folder the run's xdist workers share (their temporary directories' parent),
#: set by ``_shared_folder`` before any test of the module; None outside xdist.
_SHARED: list[Path] = []


@pytest.fixture(scope="module", autouse=True)
def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") and not _SHARED:
        _SHARED.append(tmp_path_factory.getbasetemp().parent)


def shared_by_the_run(name: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` (JSON) once for the whole run rather than once per xdist worker:
    the first worker to need it writes it under a lock, the others read it. The
    routes cost each worker a child process that imports every app (2 s of CPU),
    and the tests of this module are spread over the workers."""
    if not _SHARED:
        return compute()
    folder = _SHARED[0]
    with (folder / f"docker-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        path = folder / f"docker-{name}.json"
        if not path.exists():
            path.write_text(json.dumps(compute()), encoding="utf-8")
        return json.loads(path.read_text(encoding="utf-8"))


def service_role(service: Mapping[str, Any]) -> str | None:
    """ "serve", "worker", or the stand-in's system name (``cluster`` serves as
    ``serve`` does, from several processes)."""
    args = command(service) or []
    if args[:1] == ["legacy"] and len(args) > 1:
        return args[1]
    if args[:1] == ["cluster"]:
        return "serve"
    return args[0] if args else None


# ----------------------------------------------------------------- checks


def build_problems(compose: Compose, dockerfile: Dockerfile) -> list[str]:
    problems = []
    if set(services(compose)) != EXPECTED_SERVICES:
        problems.append(
            f"services are {sorted(services(compose))}, not {sorted(EXPECTED_SERVICES)}"
        )
    images = set()
    for name, service in image_services(compose).items():
        build = service.get("build")
        if not isinstance(build, dict):
            problems.append(f"{name}: no build section")
            continue
        context = (COMPOSE.parent / str(build.get("context", "."))).resolve()
        built = (context / str(build.get("dockerfile", "Dockerfile"))).resolve()
        if built != DOCKERFILE:
            problems.append(f"{name}: builds {built}, not {DOCKERFILE}")
        if context != ROOT:
            problems.append(f"{name}: build context {context} is not the repository root")
        images.add(service.get("image"))
    if len(images) != 1 or None in images:
        problems.append(f"the image services should share one image name, not {images}")
    for name, official in THIRD_PARTY.items():
        image = str(services(compose).get(name, {}).get("image", ""))
        repo, _, tag = image.partition(":")
        if repo != official or not tag or tag == "latest":
            problems.append(
                f"{name}: image {image!r} is not the official {official} with a version"
            )
    if dockerfile.stages < 2:
        problems.append("the Dockerfile has one stage: build and runtime should be apart")
    for instruction in dockerfile.all("FROM"):
        if not instruction.args.split()[0].startswith("python:3.11-slim"):
            problems.append(f"FROM {instruction.args}: not python:3.11-slim")
    return problems


def command_problems(compose: Compose, dockerfile: Dockerfile, service: str) -> list[str]:
    """The command of one compose service, or with service "Dockerfile" the image's
    ENTRYPOINT and CMD, as ``hrss-gateway`` runs it."""
    entrypoint = [exec_form(i.args) for i in dockerfile.final("ENTRYPOINT")]
    cmd = [exec_form(i.args) for i in dockerfile.final("CMD")]
    if entrypoint != [["hrss-gateway"]]:
        return [f'ENTRYPOINT should be exactly once ["hrss-gateway"], not {entrypoint}']
    if service == "Dockerfile":
        if len(cmd) != 1 or cmd[0] is None:
            return ["the Dockerfile needs one CMD in JSON form"]
        args = cmd[0]
    else:
        given = command(image_services(compose)[service])
        if given is None:
            return [f"{service}: no command (the image's CMD would run the gateway)"]
        if "entrypoint" in image_services(compose)[service]:
            return [f"{service}: overrides the entrypoint"]
        args = given
    problem = cli_problem([interpolate(a) for a in args])
    return [f"{service}: {problem}"] if problem else []


def variable_problems(compose: Compose, dockerfile: Dockerfile) -> list[str]:
    problems = []
    known = variables_read()
    for name, service in image_services(compose).items():
        for variable in environment(service):
            if variable.startswith("HRSS_") and variable not in known:
                problems.append(f"{name}: {variable} is read nowhere in gateway/ or adapters/")
    for instruction in dockerfile.all("ENV"):
        for variable in re.findall(r"(?:^|\s)(HRSS_[A-Z0-9_]+)=", instruction.args):
            if variable not in known:
                problems.append(f"Dockerfile: ENV {variable} is read nowhere")
    return problems


def url_problems(compose: Compose) -> list[str]:
    """The gateway's configuration, loaded by the real loader from the compose
    environment, reaches the compose services."""
    from sqlalchemy.engine import make_url

    from gateway.cache import GatewayCache
    from gateway.store.database import create_engine

    problems = []
    all_services = services(compose)
    for name in ("gateway", "worker"):
        env = {k: interpolate(v) for k, v in environment(all_services.get(name, {})).items()}
        config = GatewayConfig.load(environ=env)
        for system, settings_ in config.systems.items():
            url = urlsplit(settings_.url)
            target = all_services.get(url.hostname or "")
            if target is None:
                problems.append(f"{name}: {system.name} URL {settings_.url} names no service")
                continue
            if SYSTEMS.get(service_role(target) or "") is not system:
                problems.append(f"{name}: {system.name} URL {settings_.url} is not its stand-in")
            if url.port != listening_port(target):
                problems.append(f"{name}: {settings_.url}: {url.hostname} listens elsewhere")

        store = make_url(config.store_url)
        db = all_services.get(store.host or "", {})
        db_env = {k: interpolate(v) for k, v in environment(db).items()}
        if store.drivername != "postgresql+asyncpg":
            problems.append(f"{name}: the store is {store.drivername}, not postgresql+asyncpg")
            continue
        if not str(db.get("image", "")).startswith("postgres:"):
            problems.append(f"{name}: the store's host {store.host} is not the postgres service")
        if (store.port or 5432) != 5432:
            problems.append(f"{name}: the store's port {store.port} is not PostgreSQL's")
        expected = (db_env.get("POSTGRES_USER"), db_env.get("POSTGRES_PASSWORD"))
        if (store.username, store.password) != expected:
            problems.append(f"{name}: the store's user and password are not the postgres service's")
        if store.database != db_env.get("POSTGRES_DB"):
            problems.append(f"{name}: the store's database is not POSTGRES_DB")
        try:
            create_engine(config.store_url).sync_engine.dispose()
        except (ValueError, ImportError) as exc:
            problems.append(f"{name}: the store refuses its URL: {exc}")

    for name in ("gateway", "worker"):
        env = {k: interpolate(v) for k, v in environment(all_services.get(name, {})).items()}
        config = GatewayConfig.load(environ=env)
        cache = urlsplit(config.cache_url)
        redis = all_services.get(cache.hostname or "", {})
        if cache.scheme != "redis" or not str(redis.get("image", "")).startswith("redis:"):
            problems.append(
                f"{name}: the cache {cache.scheme}://{cache.hostname} is not the redis service"
            )
        if (cache.port or 6379) != 6379:
            problems.append(f"{name}: the cache's port {cache.port} is not Redis's")
        redis_password = option([interpolate(a) for a in command(redis) or []], "--requirepass")
        if cache.password != redis_password:
            problems.append(f"{name}: the cache's password is not the one redis requires")
        try:
            GatewayCache(config.cache_url, key_secret=b"k" * 32, worker_ttl_s=1, employer_ttl_s=1)
        except ValueError as exc:
            problems.append(f"{name}: the cache refuses its URL: {exc}")
    return problems


_SECRET_NAME = re.compile(r"PASSWORD|SECRET|API_KEY|_KEY$|TOKEN")
_URL_PASSWORD = re.compile(r"://[^:@/\s]*:(?P<password>\$\{[^}]*\}|[^@/\s]*)@")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def secret_problems(compose: Compose) -> list[str]:
    """Secrets only as required references (``${VAR:?message}``): no value, no default."""
    problems = []
    for name, service in services(compose).items():
        for variable, value in environment(service).items():
            if _SECRET_NAME.search(variable) and not _REQUIRED_REFERENCE.fullmatch(value):
                problems.append(f"{name}: {variable} is not a required ${{...:?...}} reference")
        for text in _strings(service):
            for match in _URL_PASSWORD.finditer(text):
                if not _REQUIRED_REFERENCE.fullmatch(match.group("password")):
                    problems.append(f"{name}: a URL holds a password that is not a reference")
        args = command(service) or []
        for flag in ("--requirepass", "--password"):
            given = option(args, flag)
            if given is not None and not _REQUIRED_REFERENCE.fullmatch(given):
                problems.append(f"{name}: {flag} is not a required reference")
    demo_secrets = {
        settings.DEFAULT_EMPLOYMENT_API_KEY,
        settings.DEFAULT_LABOUR_PASSWORD,
        settings.DEFAULT_UNEMPLOYMENT_PASSWORD,
        "demo-password",
    }
    for text in _strings(compose):
        for secret in demo_secrets:
            if secret in text:
                problems.append(f"the demo credential {secret!r} is written in the compose file")
    return problems


def _healthcheck(service: Mapping[str, Any]) -> list[str] | None:
    """The service's own check; [] when turned off; None when it has none of its own."""
    check = service.get("healthcheck")
    if check is None:
        return None
    if check.get("disable"):
        return []
    test = check.get("test")
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(t) for t in test] if test else []


def dependency_problems(compose: Compose, dockerfile: Dockerfile) -> list[str]:
    problems = []
    all_services = services(compose)
    for name, service in all_services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, spec in depends.items():
            condition = (spec or {}).get("condition", "service_started")
            if target not in all_services:
                problems.append(f"{name}: depends on {target}, which is not a service")
                continue
            if condition == "service_healthy" and not _has_healthcheck(
                all_services[target], target, dockerfile
            ):
                problems.append(f"{name}: waits for {target} to be healthy, which has no check")
        if name in ("gateway", "worker"):
            needed = {"postgres", "redis"} | {
                urlsplit(interpolate(v)).hostname or ""
                for k, v in environment(service).items()
                if k.endswith("_URL") and k not in ("HRSS_STORE_URL", "HRSS_CACHE_URL")
            } & set(all_services)
            for target in needed:
                if (depends.get(target) or {}).get("condition") != "service_healthy":
                    problems.append(f"{name}: does not wait for {target} to be healthy")
    for name, service in image_services(compose).items():
        role = service_role(service)
        check = _healthcheck(service)
        if role == "serve":
            continue  # the image's HEALTHCHECK is for serve, unless it is overridden
        if check is None:
            problems.append(
                f"{name}: inherits the image's check of /healthz, which it does not serve"
            )
        elif check:
            port, path = _health_target(check)
            if role not in routes() or path not in routes()[role]:
                problems.append(f"{name}: its check asks for {path}, which {role} does not serve")
            if port != listening_port(service):
                problems.append(f"{name}: its check asks port {port}, not the one it listens on")
    worker = all_services.get("worker", {})
    gateway_env = environment(all_services.get("gateway", {}))
    if environment(worker) != {k: v for k, v in gateway_env.items() if k != "HRSS_RUN_WORKER"}:
        problems.append("worker: its environment differs from the gateway's")
    gateway_config = GatewayConfig.load(environ={k: interpolate(v) for k, v in gateway_env.items()})
    if worker and getattr(gateway_config, "run_worker", False):
        problems.append("gateway: carries out registrations too; set HRSS_RUN_WORKER=false")
    for key in ("container_name", "ports"):
        if key in worker:
            problems.append(f"worker: {key} would stop it from running as several replicas")
    return problems


def event_problems(compose: Compose) -> list[str]:
    """Every gateway process and every worker hear each other: their events go
    through a service of the compose file, on one channel, never in-process only."""
    from gateway.events import events_for

    problems = []
    heard = set()
    all_services = services(compose)
    for name in ("gateway", "worker"):
        env = {k: interpolate(v) for k, v in environment(all_services.get(name, {})).items()}
        config = GatewayConfig.load(environ=env)
        events = events_for(
            config.events_url, store_url=config.store_url, cache_url=config.cache_url
        )
        if events.kind == "local":
            problems.append(f"{name}: its events stay in the process; the others are not woken")
            continue
        target = urlsplit(getattr(events, "url", "")).hostname or ""
        if target not in THIRD_PARTY:
            problems.append(f"{name}: its events go to {target}, not to postgres or redis")
        heard.add((events.kind, target, config.events_channel))
    if len(heard) > 1:
        problems.append(f"gateway and worker publish on different channels: {sorted(heard)}")
    gateway = command(all_services.get("gateway", {})) or []
    if gateway[:1] == ["cluster"] and option(gateway, "--workers") not in ("0", None):
        problems.append("gateway: runs workers of its own beside the worker service")
    return problems


def _has_healthcheck(service: Mapping[str, Any], name: str, dockerfile: Dockerfile) -> bool:
    check = _healthcheck(service)
    if check is None:
        return name not in THIRD_PARTY and bool(dockerfile.final("HEALTHCHECK"))
    return bool(check)


def _health_target(check: list[str]) -> tuple[int | None, str | None]:
    match = re.search(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/[^'\"\s]*)", " ".join(check))
    return (int(match.group(1)), match.group(2)) if match else (None, None)


def volume_problems(compose: Compose) -> list[str]:
    problems = []
    declared = set(compose.get("volumes") or {})
    used: dict[str, str] = {}
    for name, service in services(compose).items():
        mounts = {}
        for volume in service.get("volumes") or []:
            source, _, target = str(volume).partition(":")
            target = target.split(":")[0]
            mounts[target] = source
            if not source.startswith((".", "/")):
                if source not in declared:
                    problems.append(f"{name}: volume {source} is not declared under volumes")
                if source in used:
                    problems.append(f"{name}: shares volume {source} with {used[source]}")
                used[source] = name
        data = option(command(service) or [], "--data")
        if data is not None and str(Path(data).parent) not in mounts:
            problems.append(f"{name}: keeps {data} outside any volume")
        if name == "postgres" and "/var/lib/postgresql/data" not in mounts:
            problems.append("postgres: its data directory is not a volume")
    return problems


def dockerfile_problems(dockerfile: Dockerfile) -> list[str]:
    problems = []
    users = dockerfile.final("USER")
    if not users or users[-1].args.split(":")[0] in ("root", "0"):
        problems.append("the final stage does not switch to an unprivileged USER")
    checks = dockerfile.final("HEALTHCHECK")
    check = healthcheck_command(checks[-1]) if checks else None
    if not check or check[0] != "python" or "/healthz" not in " ".join(check):
        problems.append('the final stage has no HEALTHCHECK CMD ["python", ...] of /healthz')
    elif "/healthz" not in routes()["serve"]:
        problems.append("the gateway serves no /healthz")
    exposed = {p.split("/")[0] for i in dockerfile.final("EXPOSE") for p in i.args.split()}
    if str(GatewayConfig().port) not in exposed:
        problems.append(f"the gateway's port {GatewayConfig().port} is not EXPOSEd")
    build_tools = re.compile(r"\b(apt-get|apk)\b.*\b(gcc|g\+\+|build-essential|make|\S+-dev)\b")
    for instruction in dockerfile.final("RUN"):
        if build_tools.search(instruction.args):
            problems.append(f"the final stage installs build tools: {instruction.args}")
    if not any("pip wheel" in i.args for i in dockerfile.all("RUN") if i.stage == 0):
        problems.append("the build stage does not build wheels")
    if not any("-m venv" in i.args and "pip install" in i.args for i in dockerfile.final("RUN")):
        problems.append("the final stage does not install into a virtualenv")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    if scripts.get("hrss-gateway") != "gateway.cli:main":
        problems.append("pyproject.toml does not install the hrss-gateway command")
    return problems


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def ignored(path: str, dockerignore: str) -> bool:
    """Whether ``.dockerignore`` keeps ``path`` (or a folder above it) out of the context."""
    rules = []
    for line in dockerignore.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, _ignore_regex(line.lstrip("!").strip("/"))))
    parts = Path(path).parts
    result = False
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        for negated, regex in rules:
            if regex.fullmatch(prefix):
                result = not negated
    return result


def copy_problems(dockerfile: Dockerfile, dockerignore: str) -> list[str]:
    problems = []
    for instruction in dockerfile.all("COPY") + dockerfile.all("ADD"):
        words = instruction.args.split()
        if any(w.startswith("--from") for w in words):
            continue
        sources = [w for w in words if not w.startswith("--")][:-1]
        for source in sources:
            clean = source.removeprefix("./").rstrip("/")
            if not (ROOT / clean).exists():
                problems.append(f"COPY {source}: no such file in the repository")
            elif ignored(clean, dockerignore):
                problems.append(f"COPY {source}: excluded by .dockerignore")
    for kept_out in (".venv", "data", ".git"):
        if not ignored(kept_out, dockerignore):
            problems.append(f".dockerignore lets {kept_out} into the build context")
    return problems


# ------------------------------------------------------------------ tests


@pytest.fixture(scope="module")
def compose() -> Compose:
    return load_compose(compose_text())


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(dockerfile_text())


def test_services_build_the_one_image(compose: Compose, dockerfile: Dockerfile) -> None:
    assert build_problems(compose, dockerfile) == []


@pytest.mark.parametrize("service", ["Dockerfile", *sorted(EXPECTED_SERVICES - set(THIRD_PARTY))])
def test_command_is_accepted_by_the_cli(
    compose: Compose, dockerfile: Dockerfile, service: str
) -> None:
    problems = command_problems(compose, dockerfile, service)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_hrss_variables_are_read_by_the_code(compose: Compose, dockerfile: Dockerfile) -> None:
    assert variable_problems(compose, dockerfile) == []


def test_urls_reach_the_compose_services(compose: Compose) -> None:
    assert url_problems(compose) == []


def test_no_secret_is_written(compose: Compose) -> None:
    assert secret_problems(compose) == []


def test_dependencies_and_healthchecks(compose: Compose, dockerfile: Dockerfile) -> None:
    assert dependency_problems(compose, dockerfile) == []


def test_every_process_hears_the_others(compose: Compose) -> None:
    assert event_problems(compose) == []


def test_data_lives_in_volumes(compose: Compose) -> None:
    assert volume_problems(compose) == []


def test_dockerfile(dockerfile: Dockerfile) -> None:
    assert dockerfile_problems(dockerfile) == []


def test_copy_sources_are_in_the_build_context(dockerfile: Dockerfile) -> None:
    assert copy_problems(dockerfile, DOCKERIGNORE.read_text(encoding="utf-8")) == []


def test_shared_environment_is_written_once() -> None:
    """Anchors, not copies: each shared variable appears once in the file."""
    for variable in ("HRSS_STORE_URL", "HRSS_TOKEN_SECRET", "HRSS_EMPLOYMENT_API_KEY"):
        assert len(re.findall(rf"^\s*{variable}:", compose_text(), re.M)) == 1, variable


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_image_healthcheck_runs(dockerfile: Dockerfile, status: int, healthy: bool) -> None:
    """The HEALTHCHECK command itself, run by this Python against a server on
    HRSS_PORT: healthy on 200 from /healthz, unhealthy otherwise."""
    check = healthcheck_command(dockerfile.final("HEALTHCHECK")[-1])
    assert check is not None
    assert check[0] == "python"
    handler = type("Handler", (_Health,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        done = subprocess.run(
            [sys.executable, *check[1:]],
            env={"HRSS_PORT": str(server.server_address[1])},
            capture_output=True,
            timeout=30,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert (done.returncode == 0) is healthy, done.stderr.decode()


def test_package_data_reaches_the_wheel() -> None:
    """The image installs the wheel, not the tree: every GraphiQL asset and
    migration must be matched by pyproject's package-data (or be a module)."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_data: dict[str, list[str]] = tool["package-data"]
    packaged: set[Path] = set()
    for package_dir in [ROOT / "gateway", ROOT / "adapters"]:
        for folder in [package_dir, *(p for p in package_dir.rglob("*") if p.is_dir())]:
            parts = folder.relative_to(ROOT).parts
            if not all(part.isidentifier() for part in parts):
                continue  # not a package: only a pattern of a package above reaches it
            name = ".".join(parts)
            for pattern in package_data.get("*", []) + package_data.get(name, []):
                packaged.update(folder.glob(pattern))
            packaged.update(folder.glob("*.py"))
    for shipped in ("gateway/http/static", "gateway/store/migrations"):
        files = [
            p for p in (ROOT / shipped).rglob("*") if p.is_file() and "__pycache__" not in p.parts
        ]
        assert files, shipped
        missing = [str(p.relative_to(ROOT)) for p in files if p not in packaged]
        assert missing == [], "not in the wheel: add them to package-data"


# ------------------------------------------- the checks can fail: break a copy


def _edit_service(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Compose], None]:
    def edit(compose: Compose) -> None:
        change(services(compose)[name])

    return edit


def _set_env(name: str, variable: str, value: str) -> Callable[[Compose], None]:
    def change(service: dict[str, Any]) -> None:
        service["environment"] = {**environment(service), variable: value}

    return _edit_service(name, change)


def _replace_in_command(name: str, old: str, new: str) -> Callable[[Compose], None]:
    def change(service: dict[str, Any]) -> None:
        service["command"] = [new if a == old else a for a in command(service) or []]

    return _edit_service(name, change)


ComposeCheck = Callable[[Compose, Dockerfile], list[str]]

BROKEN_COMPOSE: dict[str, tuple[Callable[[Compose], None], ComposeCheck]] = {
    "builds another Dockerfile": (
        _edit_service("labor", lambda s: s["build"].update(dockerfile="Dockerfile")),
        build_problems,
    ),
    "postgres without a version": (
        _edit_service("postgres", lambda s: s.update(image="postgres")),
        build_problems,
    ),
    "an option the CLI lacks": (
        _replace_in_command("employment", "--seed", "--seeded"),
        lambda c, d: command_problems(c, d, "employment"),
    ),
    "a command the CLI lacks": (
        _edit_service("gateway", lambda s: s.update(command=["serve-all"])),
        lambda c, d: command_problems(c, d, "gateway"),
    ),
    "a variable nobody reads": (
        _set_env("gateway", "HRSS_LABOR_URL", "http://labor:8102"),
        variable_problems,
    ),
    "a URL to a missing service": (
        _set_env("gateway", "HRSS_UNEMPLOYMENT_URL", "http://shiye:8103"),
        lambda c, d: url_problems(c),
    ),
    "a URL to the wrong stand-in": (
        _set_env("gateway", "HRSS_LABOUR_URL", "http://employment:8101"),
        lambda c, d: url_problems(c),
    ),
    "a URL to the wrong port": (
        _set_env("worker", "HRSS_EMPLOYMENT_URL", "http://employment:8000"),
        lambda c, d: url_problems(c),
    ),
    "a store on SQLite": (
        _set_env("gateway", "HRSS_STORE_URL", "sqlite+aiosqlite:///data/gateway.db"),
        lambda c, d: url_problems(c),
    ),
    "a store with another password": (
        _set_env("gateway", "HRSS_STORE_URL", "postgresql+asyncpg://hrss:${PG:?x}@postgres/hrss"),
        lambda c, d: url_problems(c),
    ),
    "a cache without the password": (
        _set_env("gateway", "HRSS_CACHE_URL", "redis://redis:6379/0"),
        lambda c, d: url_problems(c),
    ),
    "a literal secret": (
        _set_env("gateway", "HRSS_TOKEN_SECRET", "0123456789abcdef0123456789abcdef"),
        lambda c, d: secret_problems(c),
    ),
    "a secret with a default": (
        _set_env("worker", "HRSS_AUDIT_KEY", "${HRSS_AUDIT_KEY:-0123456789abcdef0123456789abcdef}"),
        lambda c, d: secret_problems(c),
    ),
    "a password in a URL": (
        _set_env("gateway", "HRSS_STORE_URL", "postgresql+asyncpg://hrss:hunter2@postgres/hrss"),
        lambda c, d: secret_problems(c),
    ),
    "a demo credential": (
        _set_env("labor", "HRSS_LABOUR_PASSWORD", "${X:?" + settings.DEFAULT_LABOUR_PASSWORD + "}"),
        lambda c, d: secret_problems(c),
    ),
    "waits on a service without a check": (
        _edit_service("redis", lambda s: s.pop("healthcheck")),
        dependency_problems,
    ),
    "does not wait for the database": (
        _edit_service(
            "worker", lambda s: s.update(depends_on={"redis": {"condition": "service_healthy"}})
        ),
        dependency_problems,
    ),
    "a stand-in with the gateway's check": (
        _edit_service("unemployment", lambda s: s.pop("healthcheck")),
        dependency_problems,
    ),
    "a stand-in checked on the wrong port": (
        _replace_in_command("labor", "8102", "8109"),
        dependency_problems,
    ),
    "a gateway that works as a worker too": (
        _edit_service("gateway", lambda s: s["environment"].pop("HRSS_RUN_WORKER")),
        dependency_problems,
    ),
    "a worker with another environment": (
        _set_env("worker", "HRSS_WORKER_CACHE_TTL_S", "5"),
        dependency_problems,
    ),
    "a worker that cannot scale": (
        _edit_service("worker", lambda s: s.update(container_name="hrss-worker")),
        dependency_problems,
    ),
    "events that stay in each process": (
        _set_env("worker", "HRSS_EVENTS_URL", "local"),
        lambda c, d: event_problems(c),
    ),
    "workers on another channel": (
        _set_env("worker", "HRSS_EVENTS_CHANNEL", "elsewhere"),
        lambda c, d: event_problems(c),
    ),
    "gateway processes that work too": (
        _replace_in_command("gateway", "0", "2"),
        lambda c, d: event_problems(c),
    ),
    "a stand-in without its volume": (
        _edit_service("employment", lambda s: s.pop("volumes")),
        lambda c, d: volume_problems(c),
    ),
    "two stand-ins on one volume": (
        _edit_service("labor", lambda s: s.update(volumes=["employment-data:/data"])),
        lambda c, d: volume_problems(c),
    ),
}

BROKEN_DOCKERFILE: dict[str, tuple[str, str, Callable[[Dockerfile], list[str]]]] = {
    "runs as root": ("USER 10001:10001", "USER root", dockerfile_problems),
    "no healthcheck": ("HEALTHCHECK", "# HEALTHCHECK", dockerfile_problems),
    "checks with curl": ('CMD ["python", "-c"', 'CMD ["curl", "-c"', dockerfile_problems),
    "another port": ("EXPOSE 8000", "EXPOSE 8080", dockerfile_problems),
    "a compiler at run time": (
        "RUN groupadd",
        "RUN apt-get install -y gcc && groupadd",
        dockerfile_problems,
    ),
    "another base image": (
        "FROM python:3.11-slim AS build",
        "FROM python:3.12 AS build",
        lambda d: build_problems(load_compose(compose_text()), d),
    ),
    "copies what is not there": (
        "COPY adapters ./adapters",
        "COPY adapters scripts/missing.sh ./",
        lambda d: copy_problems(d, DOCKERIGNORE.read_text()),
    ),
    "copies what the context leaves out": (
        "COPY adapters ./adapters",
        "COPY adapters benchmarks ./",
        lambda d: copy_problems(d, DOCKERIGNORE.read_text()),
    ),
    "a CMD the CLI refuses": (
        'CMD ["serve", "--host", "0.0.0.0"]',
        'CMD ["serve", "--hots", "0.0.0.0"]',
        lambda d: command_problems({}, d, "Dockerfile"),
    ),
    "another entrypoint": (
        'ENTRYPOINT ["hrss-gateway"]',
        'ENTRYPOINT ["python", "-m", "gateway"]',
        lambda d: command_problems({}, d, "Dockerfile"),
    ),
    "an unread variable": (
        "PYTHONUNBUFFERED=1",
        "PYTHONUNBUFFERED=1 HRSS_LOG_COLOUR=always",
        lambda d: variable_problems({}, d),
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_COMPOSE))
def test_checks_catch_broken_compose(case: str, dockerfile: Dockerfile) -> None:
    edit, check = BROKEN_COMPOSE[case]
    broken = copy.deepcopy(load_compose(compose_text()))
    edit(broken)
    assert broken != load_compose(compose_text())
    assert check(broken, dockerfile) != []


@pytest.mark.parametrize("case", sorted(BROKEN_DOCKERFILE))
def test_checks_catch_broken_dockerfile(case: str) -> None:
    old, new, check = BROKEN_DOCKERFILE[case]
    assert old in dockerfile_text()
    assert check(parse_dockerfile(dockerfile_text().replace(old, new, 1))) != []


def test_ignore_rules() -> None:
    rules = "*\n!gateway\n**/__pycache__\n"
    assert ignored(".venv", rules)
    assert not ignored("gateway/cli.py", rules)
    assert ignored("gateway/__pycache__/cli.cpython-311.pyc", rules)
