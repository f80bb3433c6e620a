"""A revision's source with its hot-path modules compiled in place by mypyc: a tree to measure (issue 18).

``hot_path.source_dir("REV+mypyc", work)`` (so ``--rev REV+mypyc`` of ``hot_path.py``, ``request_cpu.py`` and
every script that takes revisions through it) extracts REV with ``git archive``, copies it and compiles the
modules of ``SETS["hot"]`` in the copy with the ``mypyc`` of this venv (the pinned mypy); ``REV+mypyc-router``
compiles ``SETS["router"]`` only. Python's import finds the extension module (``*.so``) before the ``.py``
next to it, so the child processes run the compiled code with no other change. A measurement, not a build.

What mypyc refuses or breaks, and so is left as Python (checked at ``e904d2f``, mypy 2.4.1):

* modules that define pydantic models (``BaseModel`` subclasses; their ``Field(...)`` class attributes are not
  valid native-class defaults, and the generated C does not compile: "CPyModule_pydantic___main undeclared"):
  ``gateway/protocol.py``, ``router/{auth,classifier,episodes,limits,policy,steps}.py``;
* async generators ("async generators are unimplemented"): ``gateway/backends/client.py``,
  ``gateway/pipeline/forced.py``, ``gateway/proxy/{forcing,relay}.py``;
* ``router/records.py``: ``@record`` is a ``typing.dataclass_transform`` decorator, which sets an attribute on
  the decorated function at import; a compiled function has no ``__dict__`` ("'builtin_function_or_method'
  object has no attribute '__dataclass_transform__'").
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: Named module sets (globs relative to the repository root; ``LEFT_OUT`` is removed from every set).
SETS: dict[str, tuple[str, ...]] = {
    # the pure decision and rendering code
    "router": ("router/*.py", "templates/*.py", "templates/families/*.py"),
}
#: ``router`` plus every module of the request's path in ``gateway/`` that mypyc accepts: the pipeline, the
#: render seam, the upstream connection, pools and deadline, the answer's normalisation and SSE parser, auth,
#: limits, the nesting bound, errors, episodes, token counting and the metrics.
SETS["hot"] = (
    *SETS["router"],
    "gateway/pipeline/*.py",
    "gateway/proxy/*.py",
    "gateway/backends/*.py",
    "gateway/render.py",
    "gateway/auth.py",
    "gateway/limits.py",
    "gateway/metrics.py",
    "gateway/nesting.py",
    "gateway/errors.py",
    "gateway/episodes.py",
    "gateway/tokens.py",
)
#: ``router`` plus the modules of ``hot`` in ``gateway/`` that define no coroutine (``hot`` compiled measured
#: slower than interpreted on small requests; this set tells whether the coroutine modules are why).
SETS["sync"] = (
    *SETS["router"],
    "gateway/auth.py",
    "gateway/backends/deadline.py",
    "gateway/backends/load.py",
    "gateway/backends/pool.py",
    "gateway/metrics.py",
    "gateway/nesting.py",
    "gateway/pipeline/door.py",
    "gateway/pipeline/ledger.py",
    "gateway/pipeline/plan.py",
    "gateway/proxy/normalize.py",
    "gateway/proxy/sse.py",
    "gateway/proxy/toolcalls.py",
    "gateway/render.py",
)
#: Never compiled (the module docstring says why); also off the request path: training and evaluation code.
LEFT_OUT = frozenset(
    {
        "gateway/protocol.py",
        "router/auth.py",
        "router/classifier.py",
        "router/episodes.py",
        "router/limits.py",
        "router/policy.py",
        "router/steps.py",
        "gateway/backends/client.py",
        "gateway/pipeline/forced.py",
        "gateway/proxy/forcing.py",
        "gateway/proxy/relay.py",
        "router/records.py",
        "router/train.py",
        "router/evaluation.py",
        "router/tuning.py",
    }
)

#: mypy options for the compile: strict typing is checked by ``make lint``; here only what mypyc needs (no
#: pydantic plugin: no module compiled here defines a model).
MYPY_INI = "[mypy]\npython_version = 3.11\nignore_missing_imports = True\nfollow_imports = silent\n"


def expand(root: Path, patterns: Sequence[str]) -> list[str]:
    """The files ``patterns`` match under ``root``, in order, without duplicates or ``LEFT_OUT``."""
    out: list[str] = []
    for pattern in patterns:
        out.extend(sorted(str(p.relative_to(root)) for p in root.glob(pattern)))
    return [m for m in dict.fromkeys(out) if m not in LEFT_OUT and not m.endswith("__init__.py")]


def compile_copy(src: Path, dest: Path, modules: Sequence[str]) -> list[str]:
    """Copy ``src`` to ``dest``, compile ``modules`` there with mypyc; the extension files it built."""
    skip = (".git", ".venv", ".cache", "*_cache", "build", "__pycache__", "*.so", "*.egg-info")
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*skip))
    (dest / "mypyc.ini").write_text(MYPY_INI)
    argv = [sys.executable, "-m", "mypyc", "--config-file", "mypyc.ini", *modules]
    done = subprocess.run(argv, cwd=dest, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "error" in line]
        raise RuntimeError("mypyc failed:\n" + "\n".join(errors[:20]))
    return sorted(str(p.relative_to(dest)) for p in dest.rglob("*.so") if "build" not in p.parts)


def compiled_tree(src: Path, dest: Path, set_name: str) -> Path:
    """``src`` with ``SETS[set_name]`` compiled, in ``dest`` (progress on stderr)."""
    modules = expand(src, SETS[set_name])
    print(f"{dest.name}: compiling {len(modules)} modules with mypyc ...", file=sys.stderr, flush=True)
    built = compile_copy(src, dest, modules)
    print(f"{dest.name}: mypyc built {len(built)} extension files", file=sys.stderr, flush=True)
    return dest
