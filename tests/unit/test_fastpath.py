"""The hot-path dispatch of :class:`gateway.fastpath.GatewayApp`: same envelopes, ids and routing as FastAPI."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import HTTPException
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import BadRequest, install_handlers
from gateway.fastpath import GatewayApp
from gateway.middleware import RequestIdMiddleware

CALLS: list[str] = []


async def ok(request: Request) -> Response:
    body = await request.body()
    CALLS.append("handler")
    rid = request.state.request_id

    async def after() -> None:
        CALLS.append("after")

    return JSONResponse({"len": len(body), "rid": rid}, background=BackgroundTask(after))


async def bad(_: Request) -> Response:
    raise BadRequest("messages must not be empty", param="messages", code="empty_messages")


async def http_error(_: Request) -> Response:
    raise HTTPException(status_code=418, detail="teapot")


async def crash(_: Request) -> Response:
    raise RuntimeError("boom")


def build() -> GatewayApp:
    app = GatewayApp()
    install_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    for path, handler in (("/ok", ok), ("/bad", bad), ("/teapot", http_error), ("/crash", crash)):
        app.add_hot_route(path, handler)

    @app.get("/plain")
    async def plain(request: Request) -> dict[str, str]:
        return {"rid": request.state.request_id}

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    CALLS.clear()
    transport = httpx.ASGITransport(app=build())
    return httpx.AsyncClient(transport=transport, base_url="http://gw")


async def test_hot_route_serves_body_request_id_and_runs_bookkeeping_after(client: httpx.AsyncClient) -> None:
    resp = await client.post("/ok", content=b"x" * 1000, headers={"x-request-id": "client-id-1"})
    assert resp.status_code == 200
    assert resp.json() == {"len": 1000, "rid": "client-id-1"}
    assert resp.headers["x-request-id"] == "client-id-1"
    assert CALLS == ["handler", "after"]


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "bad\x01id"])
async def test_hot_route_makes_an_id_when_the_client_gives_none_or_a_bad_one(
    client: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {} if sent is None else {"x-request-id": sent}
    resp = await client.post("/ok", content=b"{}", headers=headers)
    rid = resp.headers["x-request-id"]
    assert rid != sent and len(rid) == 32 and resp.json()["rid"] == rid


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        ("/bad", 400, "empty_messages", "messages must not be empty"),
        ("/teapot", 418, None, "teapot"),
        ("/crash", 500, "internal_error", "internal gateway error: RuntimeError"),
    ],
)
async def test_hot_route_errors_get_the_apps_openai_envelopes(
    client: httpx.AsyncClient, path: str, status: int, code: str | None, message: str
) -> None:
    resp = await client.post(path, content=b"{}")
    assert resp.status_code == status
    err = resp.json()["error"]
    assert err["message"] == message and err["code"] == code
    assert set(err) == {"message", "type", "param", "code"}
    assert len(resp.headers["x-request-id"]) == 32


async def test_an_unexpected_error_is_logged_with_its_traceback(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="thinkgate.errors"):
        await client.post("/crash", content=b"{}")
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


async def test_other_methods_and_paths_take_the_fastapi_route(client: httpx.AsyncClient) -> None:
    wrong_method = await client.get("/ok")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()
    plain = await client.get("/plain", headers={"x-request-id": "plain-7"})
    assert plain.json() == {"rid": "plain-7"} and plain.headers["x-request-id"] == "plain-7"
    missing = await client.post("/ok/", content=b"{}")
    assert missing.status_code == 307  # FastAPI redirect_slashes, not the hot handler
    assert CALLS == []


class Tag:
    """A middleware added after the hot routes: it must run for them exactly as for the other routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"x-tag", scope["path"].encode())]
            await send(message)

        CALLS.append("tag")
        await self.app(scope, receive, tagged)


def parity_app() -> GatewayApp:
    app = GatewayApp()
    install_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    for name, handler in (("ok", ok), ("bad", bad), ("teapot", http_error), ("crash", crash)):
        app.add_hot_route(f"/hot/{name}", handler)
        app.router.add_route(f"/std/{name}", handler, methods=["POST"])
    app.add_middleware(Tag)
    return app


@pytest.mark.parametrize("name", ["ok", "bad", "teapot", "crash"])
@pytest.mark.parametrize("rid", [None, "client-7"])
async def test_a_hot_route_answers_exactly_like_the_same_handler_on_a_normal_route(
    name: str, rid: str | None
) -> None:
    """Parity: same status, body and headers (the request id aside when the gateway makes one), the same
    middleware calls, the bookkeeping after the response on both."""
    CALLS.clear()
    transport = httpx.ASGITransport(app=parity_app())
    headers = {} if rid is None else {"x-request-id": rid}
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        hot = await c.post(f"/hot/{name}", content=b'{"a": 1}', headers=headers)
        hot_calls = list(CALLS)
        CALLS.clear()
        std = await c.post(f"/std/{name}", content=b'{"a": 1}', headers=headers)
        std_calls = list(CALLS)

    def view(resp: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
        made = rid is None
        body = resp.content.replace(resp.headers["x-request-id"].encode(), b"<rid>") if made else resp.content
        kept = sorted(
            (k, v)
            for k, v in resp.headers.items()
            if k not in ("x-tag",) and not (made and k == "x-request-id")
        )
        return resp.status_code, body, kept

    assert view(hot) == view(std)
    assert hot.headers["x-tag"] == f"/hot/{name}" and std.headers["x-tag"] == f"/std/{name}"
    assert len(hot.headers["x-request-id"]) == (32 if rid is None else len(rid))
    assert hot_calls == std_calls and hot_calls[0] == "tag"
