"""The identity stand-in's two pages: the sign-in form and an error page.

Plain HTML with no script; the headers forbid framing (click-jacking of the
password form) and caching.
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

_STYLE = (
    "body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}"
    "label{display:block;margin:.8em 0}input{width:100%;padding:.4em}"
    ".error{color:#b00}"
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def sign_in(request_id: str, *, failed: bool = False) -> HTMLResponse:
    """The form for one authorization request (``request_id`` names it)."""
    notice = '<p class="error">用户名或密码错误 / wrong username or password</p>' if failed else ""
    body = (
        "<h1>法人登录 / Legal-person sign-in</h1>"
        "<p>山东省统一身份认证平台（演示） / unified identity platform (demo)</p>"
        f"{notice}"
        '<form method="post" action="/authorize">'
        f'<input type="hidden" name="request_id" value="{escape(request_id)}">'
        "<label>统一社会信用代码 / credit code"
        '<input name="username" autocomplete="username" required></label>'
        "<label>密码 / password"
        '<input name="password" type="password" autocomplete="current-password" required>'
        "</label>"
        '<button type="submit">登录 / Sign in</button>'
        "</form>"
    )
    return _page("法人登录", body, status=401 if failed else 200)


def error(message: str, *, status: int = 400) -> HTMLResponse:
    return _page(
        "错误 / Error", f'<h1>错误 / Error</h1><p class="error">{escape(message)}</p>', status
    )
