"""Per-request costs that grow with the body, in process: what the hot path spends on an agent trajectory.

For the trajectories of ``hot_path.py`` (1, 20, 85, 800 KB) prints the median microseconds of each step the
gateway runs over the whole body: orjson's parse, the nesting-depth walk (``gateway.nesting.too_deep``), the
pydantic validation of the chat request and the quick check that lets plain bodies skip it
(``gateway.protocol.chat_fields``), the soft-switch scan (``router.signals.soft_switch``), the agent-state
read (``router.agent.read_agent_state``), the classifier's reading when its answer is cached (the view of
the messages and the cache lookup), the render of one step without and with the deep copy of the body
(``templates.render_chat(share_input=...)``) and the serialisation of the upstream body. Medians of
``--repeat`` rounds, so a busy box skews them less.

Run: ``.venv/bin/python benchmarks/body_costs.py [--repeat 7]``
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any

import orjson
from hot_path import SIZES_KB, trajectory

from gateway.classifier_loader import load_default_classifier
from gateway.nesting import too_deep
from gateway.protocol import chat_fields, validate_chat
from router.agent import read_agent_state
from router.policy import parse_policy
from router.signals import soft_switch
from templates.render import render_chat

#: column name -> the step, given the raw body, its parse and the classifier
COLUMNS: dict[str, Callable[[bytes, dict[str, Any], Any], Callable[[], object]]] = {
    "parse": lambda raw, body, clf: lambda: orjson.loads(raw),
    "depth": lambda raw, body, clf: lambda: too_deep(body),
    "model": lambda raw, body, clf: lambda: validate_chat(body),
    "check": lambda raw, body, clf: lambda: chat_fields(body),
    "soft": lambda raw, body, clf: lambda: soft_switch(body["messages"]),
    "agent": lambda raw, body, clf: lambda: read_agent_state(body["messages"], body.get("tools")),
    "classify": lambda raw, body, clf: lambda: clf(body["messages"], True),
    "render": lambda raw, body, clf: lambda: render_chat("qwen3", body, "low", 1024, share_input=True),
    "dump": lambda raw, body, clf: _dump(body),
    "render+copy": lambda raw, body, clf: lambda: render_chat("qwen3", body, "low", 1024),
}


def _dump(body: dict[str, Any]) -> Callable[[], object]:
    """The serialisation of the rendered upstream body (the render itself not timed)."""
    out = render_chat("qwen3", body, "low", 1024, share_input=True).body
    return lambda: orjson.dumps(out)


def median_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=7)
    opts = p.parse_args()
    backends = {"p": {"family": "qwen3", "mode": "hybrid", "model": "m", "endpoints": ["http://127.0.0.1:1"]}}
    classify = load_default_classifier(parse_policy({"version": 1, "backends": backends}))
    print(f"{'body':>7}" + "".join(f"{name:>12}" for name in COLUMNS) + f"   (µs, median of {opts.repeat})")
    for kb in SIZES_KB:
        raw = trajectory(kb)
        body = orjson.loads(raw)
        classify(body["messages"], True)  # the answer is cached, as for every step of a task but its first
        n = max(5, 20_000 // max(kb, 1) // 4)
        cells = [median_us(make(raw, body, classify), n, opts.repeat) for make in COLUMNS.values()]
        print(f"{len(raw) / 1024:6.0f}K" + "".join(f"{c:12.1f}" for c in cells))


if __name__ == "__main__":
    main()
