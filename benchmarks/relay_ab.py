"""One app, two stream relays, alternated in one process: this checkout's vs an older revision's (issue 18).

``answer_path.py`` compares revisions in separate child processes, round by round; on a box whose load
drifts that leaves ±10-20 % between two runs of the same code. Here one process builds this checkout's app
(``request_cpu.with_app``: the ASGI app called directly, a real socket to ``mock_backend.py``) and swaps only
the stream relay between blocks of requests: this checkout's ``read_chunks`` and ``NativeExchange.prefetch``,
or ``--base``'s ``gateway/proxy/relay.py`` (loaded from git as its own module) with a prefetch that parses
the whole first read (``SSEParser.feed``, what the opener did before ``feed_first``). Everything else —
dispatch, normalisation, the door, the bookkeeping — is the same code, so the per-block ratios show what the
relay change alone does to the thread CPU and wall time to the first and last body message of
``answer_path.py``'s ``stream`` request (the mock's 20 chunks + usage in one read).

Run: ``.venv/bin/python benchmarks/relay_ab.py --base 2daa49b [--blocks 30] [--requests 300]``
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from answer_path import PARTS, WALL, _per_request, body_for
from hot_path import REPO
from request_cpu import with_app


def base_relay(rev: str, work: Path) -> ModuleType:
    """``gateway/proxy/relay.py`` as it was at ``rev``, imported as a module of its own."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{rev}:gateway/proxy/relay.py"], check=True, capture_output=True
    ).stdout
    path = work / "base_relay.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("base_relay", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["base_relay"] = module  # its dataclass looks its module up while it is built
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--base", required=True, help="the revision whose relay is the baseline")
    p.add_argument("--blocks", type=int, default=30, help="blocks per relay")
    p.add_argument("--requests", type=int, default=300, help="stream requests per block")
    opts = p.parse_args(argv)

    async def work(app: Any) -> dict[bool, list[dict[str, float]]]:
        import gateway.pipeline.native as native

        with tempfile.TemporaryDirectory(prefix="thinkgate-relay-ab-") as tmp:
            old = base_relay(opts.base, Path(tmp))
        new_read, new_prefetch = native.read_chunks, native.NativeExchange.prefetch

        async def whole_prefetch(self: Any) -> None:  # the opener before feed_first: the whole first read
            while chunk := await self.response.receive():
                self.first_events = self.parser.feed(chunk)
                if self.first_events:
                    return
            self.first_events = self.parser.close()
            self.ended = True

        def use(new: bool) -> None:
            native.read_chunks = new_read if new else old.read_chunks  # type: ignore[attr-defined]
            native.NativeExchange.prefetch = new_prefetch if new else whole_prefetch  # type: ignore[method-assign]

        body = body_for("stream")
        out: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        for i in range(opts.blocks):
            for new in (True, False) if i % 2 == 0 else (False, True):
                use(new)
                out[new].append(await _per_request(app, body, opts.requests))
        use(True)
        return out

    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):  # the app's access log
        res = with_app("thinkgate-relay-ab-", work)
    print(f"stream request, µs per request (median of {opts.blocks} blocks of {opts.requests}), relay of")
    print(f"{'part':<8}{opts.base[:12]:>14}{'this checkout':>15}   ratio   per-block median [min, max]")
    for part in (*PARTS, *WALL):
        base = statistics.median(r[part] for r in res[False])
        this = statistics.median(r[part] for r in res[True])
        ratios = [b[part] / a[part] for a, b in zip(res[False], res[True], strict=True)]
        label = part.replace("wall_", "w.")
        print(
            f"{label:<8}{base:14.1f}{this:15.1f}{this / base:8.3f}   "
            f"{statistics.median(ratios):.3f} [{min(ratios):.2f}, {max(ratios):.2f}]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
