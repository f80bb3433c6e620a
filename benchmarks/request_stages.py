"""Thread CPU per pipeline stage of one chat request, in process (issue 18).

``request_cpu.py`` measures a whole request; py-spy (``profile_shares.py``) samples wall-clock time, so a
stage that waits (the upstream write wakes the backend on the same core) looks bigger than the CPU it uses.
This script wraps the stage functions (:data:`STAGES`) with ``time.thread_time_ns`` marks and runs N
sequential requests through the ASGI app as ``request_cpu.py`` does (no HTTP server, a real socket to
``mock_backend.py``): the table is the thread CPU per request spent inside each stage, inclusive (a nested
stage is also counted in its parent), and the whole request measured first without the marks. Each mark
costs a few us on a request whose caches are cold (2026-12-07: ~90 us more for the twenty of them on a
~300 us request, a parent paying for its children's marks too), so compare a stage between revisions
measured with the same marks, not with the unmarked total. Asynchronous stages count the event loop's work
while they wait (the upstream answer's callbacks run then), as the request does. The access log goes to
``/dev/null``.

Run (repo root; the checkout's own code): ``.venv/bin/python benchmarks/request_stages.py [--kb 0] [-n 5000]``
(``--kb 0``: the short task of ``request_cpu.py``; 1, 20, 85, 800: its trajectories).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from request_cpu import _per_request, body_for, body_name, with_app

#: (module, attribute, label): the functions timed, in pipeline order. A function is wrapped where the
#: caller looks it up (the module that imported it), so the label names the stage, not the definition.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("gateway.pipeline.serve", "admit", "prologue (admit)"),
    ("gateway.pipeline.prologue", "receive_body", "  body"),
    ("gateway.pipeline.prologue", "parse_json_object", "  parse + depth"),
    ("gateway.api.chat", "chat_fields", "  chat check"),
    ("gateway.pipeline.serve", "agent_inputs", "agent inputs (episode)"),
    ("gateway.pipeline.serve", "plan_call", "plan"),
    ("gateway.pipeline.plan", "timed_decision", "  decision"),
    ("gateway.pipeline.plan", "decide", "    router.decide"),
    ("router.decide", "_classified", "      classifier (cache)"),
    ("router.decide", "_client_ask", "      client signals"),
    ("gateway.pipeline.plan", "agent_step", "    agent step"),
    ("gateway.pipeline.plan", "route", "  route"),
    ("gateway.pipeline.plan", "render_chat", "  render"),
    ("gateway.pipeline.serve", "record_plan", "plan metrics (after the last byte)"),
    ("gateway.pipeline.serve", "PipelineResponse.__init__", "response setup (headers)"),
    ("gateway.pipeline.serve", "PipelineResponse.__call__", "response call"),
    ("gateway.pipeline.serve", "dispatch", "  dispatch (to the upstream answer)"),
    ("gateway.pipeline.serve", "PipelineResponse._served", "  routing headers"),
    ("gateway.pipeline.serve", "PipelineResponse._answer", "  answer (read, normalise, write)"),
    ("gateway.pipeline.ledger", "Ledger.finish", "  ledger + access line"),
)


def _timed(fn: Callable[..., Any], label: str, spent: Counter[str]) -> Callable[..., Any]:
    clock = time.thread_time_ns
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            try:
                return await fn(*args, **kwargs)
            finally:
                spent[label] += clock() - began

        return timed_async

    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        began = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += clock() - began

    return timed


def install(spent: Counter[str]) -> None:
    """Wrap every stage of :data:`STAGES` (a class method as ``Class.method``)."""
    for module_name, attr, label in STAGES:
        owner: Any = importlib.import_module(module_name)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, _timed(getattr(owner, name), label, spent))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--kb", type=int, default=0, help="body: 0 = short task, else a trajectory of KB")
    p.add_argument("-n", type=int, default=5000, help="requests measured")
    opts = p.parse_args(argv)
    spent: Counter[str] = Counter()
    out = os.fdopen(os.dup(1), "w")  # the table; the access log (stdout) goes to /dev/null
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)

    async def work(app: Any) -> tuple[float, float]:
        body = body_for(opts.kb)
        await _per_request(app, body, 500)  # warm
        plain = await _per_request(app, body, opts.n)
        install(spent)
        await _per_request(app, body, 200)
        spent.clear()
        marked = await _per_request(app, body, opts.n)
        return plain, marked

    plain, marked = with_app("thinkgate-stages-", work)
    count = opts.n + min(opts.n, 50)  # _per_request's own warm-up requests are counted too
    print(
        f"thread CPU us per request, {body_name(opts.kb)} chat body, {opts.n} requests, in process", file=out
    )
    print(f"{plain * 1000:9.1f}  whole request, no marks (process CPU)", file=out)
    print(f"{marked * 1000:9.1f}  whole request, with the marks", file=out)
    for _, _, label in STAGES:
        print(f"{spent[label] / count / 1000:9.1f}  {label}", file=out)
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
