"""A very fast OpenAI-compatible mock backend for the hot-path benchmarks (``hot_path.py``).

It reads the whole request body (as a backend must), ignores it, and answers a fixed chat completion or a
fixed stream of ``--chunks`` chunks plus a usage chunk: the cost of the backend stays constant and tiny
whatever the body size, so what varies between targets is the proxy. ``/v1/completions`` answers a fixed
text completion (non-stream). It also answers what the gateway's probes ask (``/health``, ``/version``,
``/metrics``, ``/v1/models``).

Run: ``.venv/bin/python benchmarks/mock_backend.py --port 9000 [--chunks 20] [--model mock]``
"""

from __future__ import annotations

import argparse
import asyncio
import time

import orjson
from aiohttp import web


def _bodies(model: str, chunks: int) -> tuple[bytes, bytes]:
    created = int(time.time())
    usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    answer = {
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok " * chunks, "reasoning_content": None},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }
    events = []
    for i in range(chunks):
        delta = {"role": "assistant", "content": "ok "} if i == 0 else {"content": "ok "}
        chunk = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if i == chunks - 1 else None}],
        }
        events.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    tail = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": created, "model": model}
    events.append(b"data: " + orjson.dumps({**tail, "choices": [], "usage": usage}) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return orjson.dumps(answer), b"".join(events)


def build(model: str, chunks: int) -> web.Application:
    answer, stream = _bodies(model, chunks)
    models = orjson.dumps({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "mock"}]})
    usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    choice = {"index": 0, "text": "ok " * chunks, "logprobs": None, "finish_reason": "stop"}
    text = {"id": "cmpl-mock", "object": "text_completion", "created": int(time.time()), "model": model}
    text_answer = orjson.dumps({**text, "choices": [choice], "usage": usage})

    async def text_completions(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=text_answer, content_type="application/json")

    async def completions(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if b'"stream":true' not in raw and b'"stream": true' not in raw:
            return web.Response(body=answer, content_type="application/json")
        resp = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await resp.prepare(request)
        await resp.write(stream)
        await resp.write_eof()
        return resp

    async def health(_: web.Request) -> web.Response:
        return web.Response(body=b"")

    async def version(_: web.Request) -> web.Response:
        return web.Response(body=b'{"version":"0.32.0"}', content_type="application/json")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text="vllm:num_requests_waiting 0\nvllm:num_requests_running 0\n")

    async def list_models(_: web.Request) -> web.Response:
        return web.Response(body=models, content_type="application/json")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_post("/v1/completions", text_completions)
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/models", list_models)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--model", default="mock")
    p.add_argument("--chunks", type=int, default=20)
    ns = p.parse_args()
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(build(ns.model, ns.chunks), host=ns.host, port=ns.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
