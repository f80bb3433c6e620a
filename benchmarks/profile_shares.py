"""Where one request's CPU goes, from a py-spy profile of ``request_cpu.py``'s child (issue 18).

Record (repo root; a mock backend on PORT, ``POLICY`` as in ``request_cpu.py``: ``model: mock`` on it)::

    PYTHONPATH=.:benchmarks .venv/bin/py-spy record -r 1000 --format raw -o /tmp/p85.txt -- \\
        .venv/bin/python -c "import sys, request_cpu; request_cpu.child(sys.argv[1:])" policy.yaml 85 8000

then ``.venv/bin/python benchmarks/profile_shares.py /tmp/p85.txt``: the share of the request's samples (those
under the ASGI app's call) spent under each of the pipeline's stages, inclusive, and the functions with the
most samples of their own. Start-up and the load loop are not counted.

py-spy samples wall-clock time of a running thread: a write to the mock backend on loopback wakes it, and on a
busy box it may run on this core while the gateway is still inside the ``send`` system call, so the upstream
write's own samples are mostly that wait (2026-12-07, load 3.3: ``Connection.send`` 21 us of thread CPU but
175 us of wall time per request). ``--without-send`` leaves those samples out, for shares of the CPU the rest
of the request spends.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

#: Frames that mark one request (every stack under it is the request's).
REQUEST = "GatewayApp.__call__ (gateway/fastpath.py"

#: The stages reported, by the start of their py-spy frame name, in pipeline order.
STAGES = (
    "GatewayApp.__call__",
    "admit ",
    "parse_json_object",
    "OpenAIDoor.parse",
    "receive_body",
    "agent_inputs",
    "plan_call",
    "decide_call",
    "agent_step",
    "_classified",
    "_client_ask",
    "render_chat (gateway",
    "render_chat (templates",
    "route ",
    "PipelineResponse.__call__",
    "DisconnectWatch",
    "dispatch ",
    "UpstreamClient.request",
    "NativeExchange.answer",
    "Ledger.finish",
    "RequestTrace.finish",
)


#: The leaf frame of the upstream write (see the module docstring and ``--without-send``).
SEND = "Connection.send (gateway/backends/http1.py"


def shares(path: Path, without_send: bool = False) -> tuple[int, dict[str, int], collections.Counter[str]]:
    """Samples of the request, per stage (inclusive) and per function (own samples)."""
    total = 0
    stage: dict[str, int] = dict.fromkeys(STAGES, 0)
    own: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if REQUEST not in stack:
            continue
        n = int(count)
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")]
        frames = frames[next(i for i, f in enumerate(frames) if f.startswith("GatewayApp.__call__")) :]
        if without_send and frames[-1].startswith(SEND):
            continue
        total += n
        for name in STAGES:
            if any(f.startswith(name) for f in frames):
                stage[name] += n
        own[frames[-1]] += n
    return total, stage, own


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("profile", type=Path, help="py-spy record --format raw output")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--without-send", action="store_true", help="leave out the upstream write's own samples")
    opts = p.parse_args()
    total, stage, own = shares(opts.profile, opts.without_send)
    print(f"{total} samples in requests")
    for name, n in stage.items():
        print(f"{100 * n / max(total, 1):6.1f} %  {name.strip()}")
    print("own samples:")
    for name, n in own.most_common(opts.top):
        print(f"{100 * n / max(total, 1):6.1f} %  {name}")


if __name__ == "__main__":
    main()
