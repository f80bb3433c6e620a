"""Issue 12, defect 5: a deeply nested body is a 400 ``invalid_value`` at parse time, never a 500.

On 3c8187d bodies nested 254-1,023 levels got ``500 internal gateway error`` (a ``TypeError`` from orjson, which
writes only 255 levels, or a ``RecursionError`` from the renderer's copy)."""

from __future__ import annotations

import httpx
import pytest

from gateway.nesting import MAX_DEPTH
from tests.integration.conftest import Stack

PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/route"]


def body(depth: int, stream: bool = False) -> bytes:
    """A valid request whose unknown field ``x`` makes the whole body ``depth`` levels deep."""
    inner = b"[" * (depth - 1) + b"1" + b"]" * (depth - 1)
    head = (
        b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "prompt": "hi", "max_tokens": 8'
    )
    return head + (b', "stream": true' if stream else b"") + b', "x": ' + inner + b"}"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 254, 256, 300, 1023])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_deep_body_is_400_invalid_value(stack: Stack, path: str, depth: int, stream: bool) -> None:
    resp = httpx.post(
        stack.gateway + path, content=body(depth, stream), headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["code"] == "invalid_value"
    assert err["type"] == "invalid_request_error"
    assert f"deeper than {MAX_DEPTH} levels" in err["message"]


@pytest.mark.parametrize("path", PATHS)
def test_body_at_the_bound_is_served(stack: Stack, path: str) -> None:
    resp = httpx.post(
        stack.gateway + path,
        content=body(MAX_DEPTH),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
