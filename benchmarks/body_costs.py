"""Per-request costs that grow with the body, in process: what the hot path spends on an agent trajectory.

For the trajectories of ``hot_path.py`` (1, 20, 85, 800 KB) prints the median microseconds of: orjson's parse,
the nesting-depth walk (``gateway.nesting.too_deep``), the bracket counts it replaced, the validation of the
chat request, the re-serialisation of the messages that the admission estimate did until issue 18 (it now
reads the body's size), and the render of one step with and without the deep copy of the body
(``templates.render_chat(share_input=...)``). Medians of ``--repeat`` rounds, so a busy box skews them less.

Run: ``.venv/bin/python benchmarks/body_costs.py [--repeat 7]``
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

import orjson
from hot_path import SIZES_KB, trajectory

from gateway.nesting import too_deep
from gateway.protocol import validate_chat
from templates.render import render_chat


def median_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=7)
    opts = p.parse_args()
    head = f"{'body':>7} {'parse':>8} {'depth':>8} {'counts':>8} {'validate':>9} {'re-dump':>9}"
    print(head + f" {'render+copy':>12} {'render':>8}   (µs, median of {opts.repeat})")
    for kb in SIZES_KB:
        row(kb, opts.repeat)


def row(kb: int, repeat: int) -> None:
    raw = trajectory(kb)
    body = orjson.loads(raw)
    n = max(5, 20_000 // max(kb, 1) // 4)
    cells = [
        median_us(lambda: orjson.loads(raw), n, repeat),
        median_us(lambda: too_deep(body), n, repeat),
        median_us(lambda: raw.count(b"{") + raw.count(b"["), n, repeat),
        median_us(lambda: validate_chat(body), n, repeat),
        median_us(lambda: len(orjson.dumps(body["messages"])), n, repeat),
        median_us(lambda: render_chat("qwen3", body, "low", 1024), n, repeat),
        median_us(lambda: render_chat("qwen3", body, "low", 1024, share_input=True), n, repeat),
    ]
    print(f"{len(raw) / 1024:6.0f}K " + " ".join(f"{c:8.1f}" for c in cells[:3]), end=" ")
    print(f"{cells[3]:9.1f} {cells[4]:9.1f} {cells[5]:12.1f} {cells[6]:8.1f}")


if __name__ == "__main__":
    main()
