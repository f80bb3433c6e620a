"""The ``thinkgate`` command: one subcommand per module in :mod:`gateway.commands`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

#: subcommand -> (module under gateway.commands, one-line help). Modules import lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "run the gateway with a policy file"),
    "demo": ("demo", "run the gateway on embedded simulated backends (no GPU, no services)"),
    "sim": ("sim", "run the vLLM simulator"),
    "check-config": ("check_config", "validate a policy file and print a summary"),
    "route": ("route", "show the effort decision for a prompt or chat file, without generating"),
    "train": ("train", "train the effort classifier from labelled JSONL"),
    "eval": ("eval", "evaluate the classifier and policy on labelled JSONL"),
    "calibrate": ("calibrate", "propose classifier thresholds for a target think-share"),
}


class _Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...
    def run(self, ns: argparse.Namespace) -> int: ...


def _load(name: str) -> _Command:
    return cast(_Command, importlib.import_module(f"gateway.commands.{COMMANDS[name][0]}"))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="thinkgate", description="thinkgate: effort-aware gateway for vLLM")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in args if not a.startswith("-")), None)
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).add_arguments(p)
    ns = parser.parse_args(args)
    if ns.command is None:
        parser.print_help()
        return 2
    return _load(ns.command).run(ns)


if __name__ == "__main__":
    raise SystemExit(main())
