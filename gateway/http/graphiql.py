"""GraphiQL served entirely by the gateway: the page and the assets it loads.

Government networks have no internet, so nothing on the page comes from a CDN.
The vendored files under ``static/graphiql/`` are exactly those Strawberry's own
page loads from unpkg (written by ``scripts/vendor-graphiql.sh``, checked by
``static/graphiql/VERSIONS``); the page keeps Strawberry's Subresource Integrity
hashes for them. The page's own script and styles live in ``static/page/``, so
that the page itself has no inline script or style and its Content-Security-Policy
can allow ``'self'`` only.

Mount :func:`graphiql_assets_app` at :data:`GRAPHIQL_ASSETS_PATH` beside the
GraphQL view; the view renders the page with :func:`graphiql_page_response`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.headers import weighted

STATIC_DIR = Path(__file__).parent / "static"
PAGE_TEMPLATE = Path(__file__).parent / "graphiql.html"

GRAPHIQL_ASSETS_PATH = "/graphql/static"
"""Where the application mounts :func:`graphiql_assets_app` by default."""

# Scripts need 'self' only, styles too: everything on the page is a file served by the
# gateway. data: covers the inline SVG icon and the fonts and images graphiql.min.css
# embeds. connect-src 'self' also matches ws:/wss: on the same host (CSP Level 3), which
# is what subscriptions use. Checked in headless Chromium with the network cut: the page
# renders, runs queries, shows docs and the explorer with no violation, except that a
# GraphiQL dialog's scroll lock (react-remove-scroll) injects a <style> without a nonce,
# which is refused; harmless, as the page's body never scrolls (page/graphiql.css).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

#: Files smaller than this are sent as they are (GZipMiddleware's default threshold).
GZIP_MINIMUM_SIZE = 1024

# Every asset URL carries a version (a directory named after the package version, or
# the content hash of the page's own files), so a browser may keep it for a year.
IMMUTABLE = "public, max-age=31536000, immutable"

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


@dataclass(frozen=True)
class _PageFile:
    version: str
    integrity: str


def _fingerprint(path: Path) -> _PageFile:
    data = path.read_bytes()
    sri = base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")
    return _PageFile(version=hashlib.sha256(data).hexdigest()[:16], integrity=f"sha384-{sri}")


@cache
def _page_template() -> str:
    js = _fingerprint(STATIC_DIR / "page" / "graphiql.js")
    css = _fingerprint(STATIC_DIR / "page" / "graphiql.css")
    return (
        PAGE_TEMPLATE.read_text(encoding="utf-8")
        .replace("{{page_js_version}}", js.version)
        .replace("{{page_js_integrity}}", js.integrity)
        .replace("{{page_css_version}}", css.version)
        .replace("{{page_css_integrity}}", css.integrity)
    )


def render_graphiql_page(assets_url: str = GRAPHIQL_ASSETS_PATH) -> str:
    """The GraphiQL page, with every asset under ``assets_url`` (a path, no host)."""
    return _page_template().replace("{{assets}}", assets_url.rstrip("/"))


def graphiql_page_response(assets_url: str = GRAPHIQL_ASSETS_PATH) -> HTMLResponse:
    return HTMLResponse(
        render_graphiql_page(assets_url),
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            # The page names asset versions: revalidate it so an upgrade shows at once.
            "Cache-Control": "no-cache",
        },
    )


@dataclass(frozen=True)
class _Asset:
    """A file as it is served: read, and compressed where that pays, once."""

    media_type: str
    body: bytes
    #: The body gzipped, for the clients that take it; None where it would not be smaller.
    gzipped: bytes | None
    #: Of the body as read: the gzipped one's is this with ``-gzip`` added.
    tag: str

    @classmethod
    def read(cls, path: Path) -> _Asset:
        body = path.read_bytes()
        gzipped = None
        if len(body) >= GZIP_MINIMUM_SIZE:
            # mtime=0: the same file gives the same bytes in every process.
            packed = gzip.compress(body, compresslevel=9, mtime=0)
            gzipped = packed if len(packed) < len(body) else None
        tag = hashlib.sha256(body).hexdigest()[:32]
        return cls(CONTENT_TYPES[path.suffix], body, gzipped, tag)

    def response(self, request: Request) -> Response:
        headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
        body, etag = self.body, f'"{self.tag}"'
        if self.gzipped is not None:
            headers["Vary"] = "Accept-Encoding"
            if accepts_gzip(request.headers.get("accept-encoding", "")):
                body, etag = self.gzipped, f'"{self.tag}-gzip"'
                headers["Content-Encoding"] = "gzip"
        headers["ETag"] = etag
        if _matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        headers["Content-Length"] = str(len(body))
        if request.method == "HEAD":
            body = b""
        return Response(body, media_type=self.media_type, headers=headers)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (RFC 9110, 12.5.3): named
    (or ``x-gzip``), or covered by ``*``, with a weight above zero.

    Starlette's GZipMiddleware looks for the substring, which takes ``gzip;q=0``,
    a refusal, for a yes."""
    weights: dict[str, float] = {}
    for coding, weight in weighted(accept_encoding):
        weights.setdefault(coding, weight)
    for coding in ("gzip", "x-gzip", "*"):
        if coding in weights:
            return weights[coding] > 0
    return False


def _matches(if_none_match: str, etag: str) -> bool:
    # Weak comparison, as If-None-Match asks (RFC 9110, 13.1.2).
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


class GraphiQLAssets:
    """Serves the page's scripts and styles, and nothing else, from ``directory``.

    The files are indexed once at start-up and looked up by exact path, so no
    request path can reach outside the index (no traversal, no directory listing).

    Each file is read, and compressed if it is large, at its first request, on a
    thread, and kept for the process (one copy for every app in it): compressing
    graphiql.min.js (3.5 MB) takes a quarter of a second of CPU, which Starlette's
    GZipMiddleware spent again at every request, on the event loop, stalling every
    other request meanwhile; anyone could ask for it (the assets need no sign-in).
    About 5 MB are kept, the files as read and compressed. Precompressed files on
    disk (ServeStatic, WhiteNoise's ASGI fork) would need a build step writing them
    beside the vendored files.
    """

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        self._files = {
            path.relative_to(directory).as_posix(): path
            for path in sorted(directory.rglob("*"))
            if path.is_file() and path.suffix in CONTENT_TYPES
        }

    @property
    def paths(self) -> list[str]:
        return list(self._files)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse(
                "Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"}
            )
        relative = request.path_params.get("path") or _tail(request)
        if relative not in self._files:
            return PlainTextResponse("Not Found", status_code=404)
        path = self._files[relative]
        asset = _READ.get(path)
        if asset is None:
            asset = await anyio.to_thread.run_sync(_load, path)
        return asset.response(request)


#: The files read, by path: one copy for every app of the process.
_READ: dict[Path, _Asset] = {}
_READING = threading.Lock()


def _load(path: Path) -> _Asset:
    # Requests arriving together for a file not yet read wait for one reading.
    with _READING:
        asset = _READ.get(path)
        if asset is None:
            asset = _READ[path] = _Asset.read(path)
        return asset


def _tail(request: Request) -> str:
    # Under a Starlette Mount the remainder is the part of the path after the mount
    # point; run bare (as in tests of this class alone) it is the whole path.
    path = request.scope["path"]
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.lstrip("/")


def graphiql_assets_app(directory: Path = STATIC_DIR) -> ASGIApp:
    """The ASGI app to mount at :data:`GRAPHIQL_ASSETS_PATH`.

    graphiql.min.js is 3.5 MB as published (not really minified); gzip brings it
    under 1 MB, which matters on the slow links of township service windows.
    """
    return GraphiQLAssets(directory)
