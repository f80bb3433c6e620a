"""Generated deploy files are up to date: the policy JSON schema and the Grafana dashboard."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def load(relative: str) -> ModuleType:
    path = DEPLOY / relative
    spec = importlib.util.spec_from_file_location(f"deploy_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("script", "output", "command"),
    [
        ("gen_schema.py", "policy.schema.json", "python deploy/gen_schema.py"),
        ("grafana/build_dashboard.py", "grafana/thinkgate.json", "python deploy/grafana/build_dashboard.py"),
    ],
)
def test_committed_file_equals_generated(script: str, output: str, command: str) -> None:
    generated = load(script).render()
    committed = (DEPLOY / output).read_text(encoding="utf-8")
    assert committed == generated, f"deploy/{output} is stale: run `{command}`"


@pytest.mark.parametrize("script", ["gen_schema.py", "grafana/build_dashboard.py"])
def test_check_mode_detects_a_stale_file(
    script: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = load(script)
    attr = "SCHEMA_PATH" if script == "gen_schema.py" else "OUT"
    stale = tmp_path / "out.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(module, attr, stale)
    assert module.main(["--check"]) == 1
    assert module.main([]) == 0
    assert module.main(["--check"]) == 0
