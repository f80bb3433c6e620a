"""``thinkgate check-config FILE``: validate a policy file and print what it sets up."""

from __future__ import annotations

import argparse
import sys

from gateway.config import PolicyFileError, load_policy
from gateway.render import check_families


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="policy YAML file")


def run(ns: argparse.Namespace) -> int:
    try:
        policy = load_policy(ns.file)
        check_families(policy)
    except (PolicyFileError, ValueError) as exc:
        print(f"thinkgate: {exc}", file=sys.stderr)
        return 2
    print(f"{ns.file}: OK (policy version {policy.version})")
    print("backends:")
    for name, spec in policy.backends.items():
        print(
            f"  {name}: family={spec.family} mode={spec.mode} model={spec.model} "
            f"budget={spec.budget} endpoints={len(spec.endpoints)}"
        )
    print("virtual models:")
    for name, vm in policy.models.items():
        print(f"  {name}: effort={vm.effort} thinking={list(vm.thinking)} instruct={list(vm.instruct)}")
    budgets = ", ".join(
        f"{k}={'unlimited' if v is None else v}" for k, v in policy.budgets.model_dump().items()
    )
    print(f"budgets: {budgets}")
    print(f"classifier on_error: {policy.classifier.on_error.value}")
    print(f"state: {'redis ' + policy.state.redis_url if policy.state.redis_url else 'in-memory'}")
    return 0
