"""What compiling the gateway's own Python with mypyc would buy: CPU per request in process (issue 18).

One revision (``git archive``), two copies: the source as it ships, and the same source with a list of its
modules compiled in place by mypyc (the ``mypyc`` of this venv, i.e. the pinned mypy). Each copy runs
``request_cpu.py``'s child (the whole ASGI app, no HTTP server, CPU time of the process over N sequential
requests per body size); the copies alternate round by round and the table shows medians and the ratio.

This is a measurement, not a build: nothing here changes how thinkgate is installed. The module sets, and what
mypyc refuses and why, are in ``mypyc_tree.py`` (``--rev REV+mypyc`` of ``hot_path.py`` and ``request_cpu.py``
uses the same compile); ``--modules`` lists other globs to compile, relative to the repository root.

Run: ``.venv/bin/python benchmarks/mypyc_cpu.py --rev HEAD [--set router|hot] [--rounds 4]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hot_path import source_dir
from mypyc_tree import SETS, compile_copy, expand
from request_cpu import BODIES, alternate, body_name


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", default="HEAD", help="git revision to measure (WORKTREE: this checkout)")
    p.add_argument("--set", choices=sorted(SETS), default="hot", help="module set (mypyc_tree.SETS)")
    p.add_argument("--modules", nargs="*", default=None, help="globs to compile instead of --set")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--requests", type=int, default=1000, help="requests per size (fewer for large bodies)")
    opts = p.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thinkgate-mypyc-") as tmp:
        work = Path(tmp)
        src = source_dir(opts.rev, work)
        modules = expand(src, opts.modules if opts.modules is not None else SETS[opts.set])
        print(f"compiling {len(modules)} modules with mypyc ...", file=sys.stderr, flush=True)
        built = compile_copy(src, work / "compiled", modules)
        print(f"mypyc built {len(built)} extension files: {' '.join(built)}", file=sys.stderr)
        runs = alternate({"python": src, "mypyc": work / "compiled"}, work, opts.rounds, opts.requests)
    medians = {name: {kb: statistics.median(r[kb] for r in rs) for kb in BODIES} for name, rs in runs.items()}
    print(f"gateway CPU ms per chat request in process at {opts.rev} (median of {opts.rounds} rounds)")
    print(f"compiled: {' '.join(modules)}")
    # Each round runs both copies back to back, so the ratio within a round is the paired measurement; its
    # median and range over the rounds say how far the load moved it.
    print(
        "body".rjust(8)
        + "python".rjust(12)
        + "mypyc".rjust(12)
        + "   ratio of medians   per-round ratio: median [min, max]"
    )
    for kb in BODIES:
        a, b = medians["python"][kb], medians["mypyc"][kb]
        paired = [m[kb] / py[kb] for py, m in zip(runs["python"], runs["mypyc"], strict=True)]
        spread = f"{statistics.median(paired):.2f} [{min(paired):.2f}, {max(paired):.2f}]"
        print(f"{body_name(kb):>8}{a:12.3f}{b:12.3f}{b / a:19.2f}   {spread:>33}")
    print(f"load average before {load_before}, after {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
