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


# ---- episode budgets: the next call bounded by what its episode has left (nothing is charged) ------------

TRAJECTORY = {
    "model": "auto-deep",
    "tools": [{"type": "function", "function": {"name": "run_tests", "parameters": {"type": "object"}}}],
    "messages": [
        {"role": "user", "content": "Fix the failing date parser test in utils/dates.py"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "t", "type": "function", "function": {"name": "run_tests", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "t", "content": "FAILED tests/test_dates.py::test_iso\n1 failed"},
    ],
}


def episode_files(tmp_path: Path, on_spent: str) -> tuple[str, str]:
    from gateway.demo_policy import demo_policy_yaml

    policy = tmp_path / "policy.yaml"
    episodes = f"agent:\n  episodes: {{budget: 5000, on_spent: {on_spent}}}\n"
    policy.write_text(demo_policy_yaml("http://a", "http://b", "http://c") + episodes)
    body = tmp_path / "trajectory.json"
    body.write_text(json.dumps(TRAJECTORY))
    return str(policy), str(body)


@pytest.mark.parametrize(
    ("on_spent", "left", "effect", "effort", "budget"),
    [
        pytest.param("no_thinking", None, "bounded", "high", 5000, id="fresh-episode-bounds-high"),
        pytest.param("no_thinking", 700, "bounded", "low", 700, id="little-left"),
        # auto-deep has no instruct pool: "no thinking" is minimal with a thinking budget of 0
        pytest.param("no_thinking", 0, "no_thinking", "minimal", 0, id="spent-no-thinking"),
        pytest.param("refuse", 0, "refuse", "high", 16384, id="spent-refused-shows-the-decision"),
    ],
)
def test_episode_budget_effect(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    on_spent: str,
    left: int | None,
    effect: str,
    effort: str,
    budget: int | None,
) -> None:
    policy, body = episode_files(tmp_path, on_spent)
    args = ["--config", policy, "--file", body] + ([] if left is None else ["--episode-left", str(left)])
    out = run_json(capsys, *args)
    episode = out["episode"]
    assert isinstance(episode, dict) and episode["id"].startswith("t-") and episode["source"] == "hash"
    assert (episode["budget"], episode["left"], episode["effect"]) == (
        5000,
        5000 if left is None else left,
        effect,
    )
    assert (out["effort"], out["budget"]) == (effort, budget)
    assert out["step"]["kind"] == "recover"  # type: ignore[index]
    steps = out["steps"]
    assert isinstance(steps, list) and (steps[-1]["effort"], steps[-1]["budget"]) == (effort, budget)
    assert steps[0]["effort"] == "high"  # the earlier call is shown without the episode bound


def test_episode_table_and_explicit_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy, body = episode_files(tmp_path, "refuse")
    assert (
        main(["route", "--config", policy, "--file", body, "--episode", "run-7", "--episode-left", "0"]) == 0
    )
    text = capsys.readouterr().out
    assert "episode run-7 (header): 0 of 5000 left; this step: refuse (nothing charged)" in text
    assert main(["route", "--config", policy, "--file", body, "--episode-left", "-1"]) == 2
    assert "--episode-left" in capsys.readouterr().err
