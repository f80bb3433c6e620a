"""CPU cost of training the tiny real-vLLM model: CPU seconds per training step of a ``build_model.py``.

Runs the script's own ``train()`` for a few steps (its example mix, batching and optimiser; one torch thread,
as the build uses) and reports process CPU time per step, which a busy shared machine disturbs far less than
wall time. To compare with an older version of the script, write it out and pass both::

    git show REV:scripts/vllm/build_model.py > /tmp/build_model_old.py
    .cache/vllm-venv/bin/python benchmarks/tiny_model_train_cost.py \\
        scripts/vllm/build_model.py /tmp/build_model_old.py --steps 32

(the vLLM venv has torch and transformers; ``tiny_tools.py`` is imported from ``scripts/vllm``). The whole
build is ``steps x this`` plus a constant (tokenizer load, greedy verification, saving).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parent.parent


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def cpu_per_step(module: ModuleType, steps: int, seed: int) -> float:
    import torch  # the vLLM venv's

    torch.set_num_threads(1)
    maker = module.ExampleMaker(module.load_tokenizer(), random.Random(seed))
    model = module.make_model(seed)
    start = time.process_time()
    module.train(model, maker, steps, seed)
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("scripts", nargs="+", type=Path, help="build_model.py files to measure")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args()
    sys.path.insert(0, str(REPO / "scripts" / "vllm"))  # tiny_tools
    results = []
    for i, path in enumerate(ns.scripts):
        per_step = cpu_per_step(load(path, f"build_model_{i}"), ns.steps, ns.seed)
        results.append((path, per_step))
    print(f"\n{'script':50s} {'CPU s/step':>10s}")
    for path, per_step in results:
        print(f"{path!s:50s} {per_step:10.3f}")
    if len(results) > 1:
        print(f"ratio first/second: {results[0][1] / results[1][1]:.2f}")


if __name__ == "__main__":
    main()
