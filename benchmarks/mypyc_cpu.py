"""What compiling the gateway's own Python with mypyc would buy: CPU per request in process (issue 18).

One revision (``git archive``), two copies: the source as it ships, and the same source with a list of its
modules compiled in place by mypyc (the ``mypyc`` of this venv, i.e. the pinned mypy). Each copy runs
``request_cpu.py``'s child (the whole ASGI app, no HTTP server, CPU time of the process over N sequential
requests per body size); the copies alternate round by round and the table shows medians and the ratio.

This is a measurement, not a build: nothing here changes how thinkgate is installed. mypyc compiles a module
only if it type-checks without the pydantic mypy plugin and its classes can be native classes, so modules that
define pydantic models (their ``Field(...)`` class attributes are not valid defaults of a native class) or
that mypyc rejects are left as Python; ``--modules`` lists what is compiled (shell globs, relative to the
repository root) and the script prints which files mypyc accepted.

Run: ``.venv/bin/python benchmarks/mypyc_cpu.py --rev HEAD [--set router] [--rounds 4]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hot_path import source_dir
from request_cpu import BODIES, alternate, body_name

#: Modules that define pydantic models or other classes mypyc cannot make native (checked at 8a90aa9):
#: compiled, they fail at import ("None object expected; got pydantic.fields.FieldInfo").
PYDANTIC = ("router/classifier.py", "router/episodes.py", "router/steps.py")

#: Named module sets (globs relative to the repository root).
SETS: dict[str, tuple[str, ...]] = {
    # the pure decision and rendering code, minus the pydantic-model modules
    "router": (
        "router/features.py",
        "router/conversation.py",
        "router/decide.py",
        "router/decision.py",
        "router/effort.py",
        "router/signals.py",
        "router/agent.py",
        "router/routing.py",
        "router/shedding.py",
        "templates/*.py",
        "templates/families/*.py",
    ),
}
#: ``router`` plus the request pipeline, the answer's normalisation, the upstream HTTP/1.1 client, the render
#: seam and the metrics. Left out, with mypyc's reason at 8a90aa9: async generators ("unimplemented":
#: pipeline/forced.py, proxy/forcing.py, proxy/relay.py, backends/client.py), name-mangled ``self.__thread``
#: (generated C does not compile: logs.py), pydantic-settings (asgi.py), classes an interpreted class inherits
#: from (fastpath.py, middleware.py).
SETS["pipeline"] = (
    *SETS["router"],
    "gateway/pipeline/[!f]*.py",
    "gateway/proxy/[!fr]*.py",
    "gateway/backends/http1.py",
    "gateway/backends/deadline.py",
    "gateway/backends/pool.py",
    "gateway/render.py",
    "gateway/metrics.py",
)

#: mypy options for the compile: strict typing is checked by ``make lint``; here only what mypyc needs.
MYPY_INI = "[mypy]\npython_version = 3.11\nignore_missing_imports = True\nfollow_imports = silent\n"


def expand(root: Path, patterns: Sequence[str]) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        out.extend(sorted(str(p.relative_to(root)) for p in root.glob(pattern)))
    return [m for m in dict.fromkeys(out) if m not in PYDANTIC]


def compile_copy(src: Path, dest: Path, modules: Sequence[str]) -> list[str]:
    """Copy ``src`` to ``dest``, compile ``modules`` there with mypyc; the extension files it built."""
    shutil.copytree(src, dest)
    (dest / "mypyc.ini").write_text(MYPY_INI)
    argv = [sys.executable, "-m", "mypyc", "--config-file", "mypyc.ini", *modules]
    done = subprocess.run(argv, cwd=dest, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "error" in line]
        raise RuntimeError("mypyc failed:\n" + "\n".join(errors[:20]))
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*.so") if "build" not in p.parts)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rev", default="HEAD", help="git revision to measure (WORKTREE: this checkout)")
    p.add_argument("--set", choices=sorted(SETS), default="router", help="named module set to compile")
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
