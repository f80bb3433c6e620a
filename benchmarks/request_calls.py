"""Python calls per short chat request, in process, by where they go (issue 18).

Runs the in-process loop of ``request_cpu.py`` (the ASGI app, a real socket to ``mock_backend.py``) with a
``sys.setprofile`` hook for N requests and prints, per request: all Python function calls, those into
prometheus_client, and the dataclass constructors by class (frozen ones marked: their ``__init__`` sets each
field through ``object.__setattr__``). A map of what a request calls, not a timing: the hook makes every call
several times slower.

With ``--opcodes`` it also counts the bytecode instructions executed per request, by where their code lives
(:func:`opcode_counting`): a count that a loaded box does not move, for comparing two revisions' own Python.
``--before-write`` counts only those executed before the request's upstream write (the first
``gateway.backends.http1.Connection.send`` of the request): the work on the critical path before the backend
can start, by area and by the source file of the code (the ``--top`` largest files).

Run (repo root; the checkout's own code): ``.venv/bin/python benchmarks/request_calls.py [--kb 0] [-n 200]
[--opcodes] [--before-write [--top 25]]``
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections import Counter
from types import FrameType
from typing import Any

from hot_path import REPO
from request_cpu import _per_request, body_for, body_name, call_once, chat_scope, with_app


def counting(calls: Counter[str]) -> Any:
    """A profile hook counting Python calls: ``all``, ``prometheus_client`` and ``init:<Class>``."""

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        calls["all"] += 1
        code = frame.f_code
        if "prometheus_client" in code.co_filename:
            calls["prometheus_client"] += 1
        elif code.co_name == "__init__" and code.co_filename.startswith("<"):
            owner = frame.f_locals.get("self")
            params = getattr(type(owner), "__dataclass_params__", None)
            if params is not None and dataclasses.is_dataclass(owner):
                frozen = " (frozen)" if params.frozen else ""
                calls[f"init:{type(owner).__module__}.{type(owner).__qualname__}{frozen}"] += 1

    return hook


def area(filename: str) -> str:
    """Where a code object lives: ``gateway``, ``router``, ``templates`` (this checkout) or ``other``."""
    for name in ("gateway", "router", "templates"):
        if f"/{name}/" in filename and "site-packages" not in filename:
            return name
    return "other"


def opcode_counting(
    opcodes: Counter[str], files: Counter[str] | None = None, on: list[bool] | None = None
) -> Any:
    """A trace hook counting the bytecode instructions executed, by :func:`area` of their code object (and,
    with ``files``, by source file); with ``on``, only while ``on[0]`` is true.

    Unlike CPU time, the count does not move with the load of a shared box (the same requests execute the
    same instructions, up to the event loop's turns): a change of a few microseconds in our own Python code
    shows as a change of the count. It does not see the work inside C functions (orjson, dict operations)."""
    areas: dict[str, str] = {}

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "opcode" and (on is None or on[0]):
            filename = frame.f_code.co_filename
            where = areas.get(filename)
            if where is None:
                where = areas[filename] = area(filename)
            opcodes[where] += 1
            if files is not None:
                files[filename] += 1
        return local

    def hook(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    return hook


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--kb", type=int, default=0, help="body: 0 = short task, else a trajectory of KB")
    p.add_argument("-n", type=int, default=200, help="requests counted")
    p.add_argument("--opcodes", action="store_true", help="also count bytecode instructions, by area")
    p.add_argument("--before-write", action="store_true", help="also those before the upstream write")
    p.add_argument("--top", type=int, default=25, help="--before-write: the largest files shown")
    opts = p.parse_args(argv)
    calls: Counter[str] = Counter()
    opcodes: Counter[str] = Counter()
    before: Counter[str] = Counter()
    files: Counter[str] = Counter()
    out = os.fdopen(os.dup(1), "w")  # the table; the access log (stdout) goes to /dev/null
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)

    async def work(app: Any) -> None:
        body = body_for(opts.kb)
        await _per_request(app, body, 200)  # warm: caches filled, children made
        sys.setprofile(counting(calls))
        try:
            await _per_request(app, body, opts.n)
        finally:
            sys.setprofile(None)
        if opts.opcodes:
            sys.settrace(opcode_counting(opcodes))
            try:
                await _per_request(app, body, opts.n)
            finally:
                sys.settrace(None)
        if opts.before_write:
            await count_before_write(app, body, opts.n, before, files)

    with_app("thinkgate-calls-", work)
    count = opts.n + min(opts.n, 50)  # _per_request's own warm-up requests are counted too
    print(f"Python calls per request, {body_name(opts.kb)} chat body, {count} requests, in process", file=out)
    for key in ("all", "prometheus_client"):
        print(f"{calls[key] / count:9.1f}  {key}", file=out)
    inits = sorted((k for k in calls if k.startswith("init:")), key=lambda k: -calls[k])
    print(f"{sum(calls[k] for k in inits) / count:9.1f}  dataclass constructors, of which:", file=out)
    for key in inits:
        print(f"{calls[key] / count:9.1f}    {key.removeprefix('init:')}", file=out)
    if opts.opcodes:
        print(f"{sum(opcodes.values()) / count:9.1f}  bytecode instructions, of which:", file=out)
        for key in ("gateway", "router", "templates", "other"):
            print(f"{opcodes[key] / count:9.1f}    {key}", file=out)
    if opts.before_write:
        total = sum(before.values()) / opts.n
        print(f"{total:9.1f}  bytecode instructions before the upstream write, of which:", file=out)
        for key in ("gateway", "router", "templates", "other"):
            print(f"{before[key] / opts.n:9.1f}    {key}", file=out)
        print(f"  the {opts.top} largest files:", file=out)
        root = f"{REPO}/"
        for name, n in files.most_common(opts.top):
            shown = name.split("/site-packages/")[-1].removeprefix(root)
            print(f"{n / opts.n:9.1f}    {shown}", file=out)
    out.flush()
    return 0


async def count_before_write(
    app: Any, body: bytes, n: int, by_area: Counter[str], files: Counter[str]
) -> None:
    """Count the instructions of ``n`` requests from their start to their upstream write (the first
    ``Connection.send`` of each), into ``by_area`` and ``files``."""
    from gateway.backends import http1

    on = [False]
    send = http1.Connection.send

    def marked(conn: Any, head: bytes, data: bytes | None) -> None:
        on[0] = False
        send(conn, head, data)

    http1.Connection.send = marked  # type: ignore[method-assign]
    scope = chat_scope(body)
    sys.settrace(opcode_counting(by_area, files, on))
    try:
        for _ in range(n):
            on[0] = True
            await call_once(app, body, scope)
    finally:
        sys.settrace(None)
        http1.Connection.send = send  # type: ignore[method-assign]


if __name__ == "__main__":
    raise SystemExit(main())
