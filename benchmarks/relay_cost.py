"""The relay of one upstream read, by revision: CPU to a stream's first output bytes and to all of them.

Issue 18, answer side.

One read of SSE events goes through what the gateway does with a stream's first read: the opener's parse
(``SSEParser.feed_first`` where the revision has it, else ``feed``), the relay (``read_chunks`` with a
``ChunkReader``: JSON parse, reasoning count walk, normalisation) and the OpenAI door's SSE bytes
(``door.stream(call).chunks``), with no sockets and no event loop (nothing in it suspends). Measured per
read: ``first``, the CPU from the read to the bytes of the first batch the relay yields (what the client's
first byte waits for), ``all``, to the bytes of every batch, and ``writes``, how many batches (body
messages, one socket write each) the read makes.

Reads: ``mock``, the stream ``mock_backend.py`` sends in one read (20 chunks, a usage chunk, ``[DONE]``:
the first-byte request of ``hot_path.py``); ``vllm``, the recorded vLLM 0.32 thinking stream
(``tests/unit/data/vllm-0.32-chat-stream.sse``, reasoning deltas) as one read, a backend that bursts;
``pair``, that recording's first two events (the role chunk and the first reasoning delta, which vLLM can
deliver in one read) and ``[DONE]``.

Each revision runs in its own child (``git archive``, ``python -P``, this venv), alternated round by round;
each child takes the minimum of ``--repeat`` timings of ``--number`` runs. The table shows the medians of the
rounds and the ratio of the last revision to the first.

Run: ``.venv/bin/python benchmarks/relay_cost.py --rev main --rev HEAD [--rounds 6]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hot_path import REPO, source_dir

KINDS = ("mock", "vllm", "pair")
PARTS = ("first", "all", "writes")
RECORDING = REPO / "tests" / "unit" / "data" / "vllm-0.32-chat-stream.sse"


def child(args: list[str]) -> None:
    """``NUMBER REPEAT``: print ``{kind: {part: value}}`` as JSON on stderr (µs; ``writes``: a count)."""
    number, repeat = int(args[0]), int(args[1])
    from mock_backend import _bodies

    from gateway.pipeline.door import OpenAIDoor
    from gateway.proxy.normalize import UsageTally
    from gateway.proxy.relay import ChunkReader, read_chunks
    from gateway.proxy.sse import SSEParser

    class Counter:  # the reasoning counter; the mock's usage lacks the count, so the relay asks for it
        async def count(self, text: str) -> int:
            return len(text)

    class Response:  # the read is the whole stream: nothing more comes
        def done_reading(self) -> None:
            pass

        async def receive(self) -> bytes:
            return b""

    writer = OpenAIDoor("chat", lambda body: None).stream(None)  # type: ignore[arg-type,return-value]

    def batches(raw: bytes, stop_after: int | None) -> list[bytes]:
        parser = SSEParser()
        opener = getattr(parser, "feed_first", parser.feed)  # what the revision's opener calls
        reader = ChunkReader(pool="p", exclude=False, want_usage=False, tally=UsageTally(), counter=Counter())
        relay = read_chunks(reader, Response(), parser, opener(raw), False)  # type: ignore[arg-type]
        out: list[bytes] = []
        while stop_after is None or len(out) < stop_after:
            step = relay.__anext__()
            try:
                step.send(None)
            except StopIteration as done:
                out.append(writer.chunks(done.value))
            except StopAsyncIteration:
                break
        relay.aclose().close()
        return out

    def best(fn: Callable[[], Any]) -> float:
        return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6

    vllm = RECORDING.read_bytes()
    two = vllm.index(b"\n\n", vllm.index(b"\n\n") + 2) + 2  # the recording's role chunk and first delta
    reads = {"mock": _bodies("mock", 20)[1], "vllm": vllm, "pair": vllm[:two] + b"data: [DONE]\n\n"}
    result = {}
    for kind, raw in reads.items():
        result[kind] = {
            "first": best(lambda raw=raw: batches(raw, 1)),
            "all": best(lambda raw=raw: batches(raw, None)),
            "writes": float(len(batches(raw, None))),
        }
    print("RESULT " + json.dumps(result), file=sys.stderr)


def run_rev(src: Path, number: int, repeat: int) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}"}
    code = "import sys, relay_cost; relay_cost.child(sys.argv[1:])"
    argv = [sys.executable, "-P", "-c", code, str(number), str(repeat)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{src}: exit {done.returncode}\n{done.stderr[-3000:]}")
    line = [x for x in done.stderr.splitlines() if x.startswith("RESULT ")][-1]
    result: dict[str, dict[str, float]] = json.loads(line.removeprefix("RESULT "))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--number", type=int, default=300, help="runs per timing")
    p.add_argument("--repeat", type=int, default=15, help="timings per child (the minimum counts)")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs = opts.rev or ["WORKTREE"]
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, dict[str, float]]]] = {rev: [] for rev in revs}
    with tempfile.TemporaryDirectory(prefix="thinkgate-relay-") as tmp:
        sources = {rev: source_dir(rev, Path(tmp)) for rev in revs}
        for n in range(opts.rounds):
            for rev in revs if n % 2 == 0 else revs[::-1]:
                runs[rev].append(run_rev(sources[rev], opts.number, opts.repeat))
    print(
        f"relay of one upstream read, µs of CPU (median of {opts.rounds} rounds, each a min of {opts.repeat})"
    )
    print(
        "kind  part  "
        + "".join(rev[:12].rjust(14) for rev in revs)
        + ("   last/first" if len(revs) > 1 else "")
    )
    for kind in KINDS:
        for part in PARTS:
            med = [statistics.median(r[kind][part] for r in runs[rev]) for rev in revs]
            ratio = f"{med[-1] / med[0]:13.2f}" if len(revs) > 1 else ""
            print(f"{kind:<5} {part:<6}" + "".join(f"{m:14.1f}" for m in med) + ratio)
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        opts.json.write_text(json.dumps({"argv": sys.argv, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
