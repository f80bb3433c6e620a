"""Thread CPU of a request's plan (decision, route, render: ``plan_call``), warm, per revision (issue 18).

``request_cpu.py`` measures whole requests; on this shared box one revision's rounds scatter by 10-30 %, so a
change of 1-3 µs in the ~100 µs before the upstream write cannot be resolved there. This script measures
only the plan, warm: in each child (the revision's code from ``git archive``, ``python -P``, this venv) the
app is built on ``hot_path.py``'s policy (a mock backend), then for each body N chat calls are parsed by the
chat front door (a fresh body each: no string hash or dict is reused), and ``plan_call`` runs over them after
a warm-up; the child prints µs per plan (best of three passes). Revisions alternate round by round; the table
gives medians and the per-round ratio last/first. What a cold request adds to these steps is not measured.

Run: ``.venv/bin/python benchmarks/request_plan.py --rev 67914a1 --rev HEAD [--rounds 5] [-n 2000]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from hot_path import REPO, source_dir, start_mock_with_policy
from loadgen import Processes
from request_cpu import BODIES, body_for, print_by_body


def child(policy: str, n: int) -> None:
    """In the child: print ``RESULT {kb: µs per plan_call}`` on stderr."""
    import uvloop

    from gateway.api.chat import parse_chat
    from gateway.app import create_app
    from gateway.pipeline.plan import plan_call
    from gateway.settings import Settings

    async def main() -> dict[int, float]:
        app = create_app(Settings(config=policy))
        out: dict[int, float] = {}
        async with app.router.lifespan_context(app):
            state = app.state.gateway
            for kb in BODIES:
                raw = body_for(kb)
                count = max(50, n // max(1, kb // 20))
                target = state.target(parse_chat(orjson.loads(raw)).model)
                best = []
                for _ in range(4):  # the first pass warms up
                    calls = [parse_chat(orjson.loads(raw)) for _ in range(count)]
                    began = time.thread_time_ns()
                    for call in calls:
                        plan_call(state, call, target, None, None, observe=False)
                    best.append((time.thread_time_ns() - began) / count / 1000)
                out[kb] = min(best[1:])
        return out

    print("RESULT " + json.dumps(uvloop.run(main())), file=sys.stderr)


def run_rev(src: Path, policy: Path, n: int) -> dict[int, float]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'benchmarks'}"}
    code = "import sys, request_plan; request_plan.child(sys.argv[1], int(sys.argv[2]))"
    done = subprocess.run(
        [sys.executable, "-P", "-c", code, str(policy), str(n)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{src}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return {int(k): v for k, v in json.loads(lines[-1].removeprefix("RESULT ")).items()}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", action="append", help="git revision (repeatable; WORKTREE = this checkout)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("-n", type=int, default=2000, help="plans per pass (fewer for large bodies)")
    p.add_argument("--json", type=Path, default=None)
    opts = p.parse_args(argv)
    revs: list[str] = opts.rev or ["WORKTREE"]
    load_before = os.getloadavg()
    runs: dict[str, list[dict[int, float]]] = {rev: [] for rev in revs}
    with tempfile.TemporaryDirectory(prefix="thinkgate-plan-") as tmp:
        work = Path(tmp)
        sources = {rev: source_dir(rev, work) for rev in revs}
        procs = Processes(work, REPO)
        try:
            _, policy = start_mock_with_policy(procs, work)
            for r in range(opts.rounds):
                for rev in revs if r % 2 == 0 else revs[::-1]:
                    print(f"round {r + 1}: {rev}", file=sys.stderr, flush=True)
                    runs[rev].append(run_rev(sources[rev], policy, opts.n))
        finally:
            procs.close()
    width = max(12, *(len(rev) + 2 for rev in revs))
    print_by_body(f"thread CPU us per plan_call, warm (median of {opts.rounds} rounds)", runs, revs, width, 2)
    print(f"load average before {load_before}, after {os.getloadavg()}")
    if opts.json:
        result: dict[str, Any] = {"argv": sys.argv, "runs": runs}
        opts.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
