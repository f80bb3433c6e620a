"""``thinkgate route``: offline decisions from text or a chat file, with the same precedence as the API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["route", "--json", *args]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_text_prompt_uses_the_classifier(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "Find all integers n such that n^2 + 1 divides n^3 + 3.")
    assert out["source"] == "classifier" and out["effort"] != "none"
    assert out["backend"] == "qwen3-thinking"
    assert isinstance(out["scores"], dict) and 0.5 < out["scores"]["p_think"] <= 1  # type: ignore[operator]


def test_explicit_header_wins(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "Translate to German: good morning", "--effort-header", "high")
    assert (out["effort"], out["source"], out["budget"]) == ("high", "explicit", 16384)


def test_chat_file_with_follow_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chat = [
        {"role": "user", "content": "Compute the sum of the first 10 primes."},
        {"role": "assistant", "content": "129"},
        {"role": "user", "content": "now do it for the first 20"},
    ]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(chat))
    out = run_json(capsys, "--file", str(path))
    assert out["effort"] != "none", out


def test_virtual_model(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "anything", "--model", "auto-fast")
    assert (out["effort"], out["source"], out["backend"]) == ("none", "virtual-model", "qwen3-instruct")


def test_conflict_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "body.json"
    path.write_text(
        json.dumps(
            {
                "messages": [{"role": "user", "content": "x"}],
                "reasoning_effort": "high",
                "chat_template_kwargs": {"enable_thinking": False},
            }
        )
    )
    assert main(["route", "--file", str(path)]) == 2
    assert "contradictory" in capsys.readouterr().err


def test_no_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route"]) == 2
    assert "give a prompt" in capsys.readouterr().err
