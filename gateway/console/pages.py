"""The console's HTML page, its login, and its static files (package data in ``gateway/console/static``)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from starlette.responses import Response

from gateway.console.access import COOKIE, admin_token, page_access, require_bearer, session_value
from gateway.errors import NotFound

router = APIRouter()

#: every file the console serves, with its media type; anything else is 404
STATIC: dict[str, str] = {
    "console.css": "text/css; charset=utf-8",
    "login.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "try.js": "text/javascript; charset=utf-8",
    "tune.js": "text/javascript; charset=utf-8",
    "watch.js": "text/javascript; charset=utf-8",
}
#: what the login page itself needs, served before the token is known (no data in them)
_PUBLIC = frozenset({"console.css", "login.js"})

_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
_MESSAGES = {
    401: "Enter the admin token to open the console.",
    403: "That admin token is not valid.",
}


@cache
def _file(name: str) -> bytes:
    return resources.files("gateway.console").joinpath("static", name).read_bytes()


@router.get("/console", include_in_schema=False)
async def console_page(request: Request) -> Response:
    """The console (200), or the login page with 401 (no token) or 403 (a wrong one); 404 when off."""
    status = page_access(request)
    if status == 200:
        return Response(_file("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)
    page = _file("login.html").replace(b"{{message}}", _MESSAGES[status].encode())
    headers = dict(_HEADERS)
    if status == 401:
        headers["www-authenticate"] = "Bearer"
    return Response(page, status_code=status, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/console/static/{name}", include_in_schema=False)
async def console_static(request: Request, name: str) -> Response:
    admin_token(request)  # 404 when the console is off
    if name not in STATIC:
        raise NotFound(f"no console file {name!r}", code="not_found")
    if name not in _PUBLIC and page_access(request) != 200:
        require_bearer(request)  # raises the 401/403 envelope
    return Response(_file(name), media_type=STATIC[name], headers=_HEADERS)


@router.post("/console/session", include_in_schema=False)
async def open_session(request: Request) -> Response:
    """Check the bearer token and set the cookie that opens the page on navigation (204)."""
    require_bearer(request)
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        session_value(admin_token(request)),
        httponly=True,
        samesite="strict",
        path="/console",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("/console/session", include_in_schema=False)
async def close_session(request: Request) -> Response:
    admin_token(request)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/console")
    return response
