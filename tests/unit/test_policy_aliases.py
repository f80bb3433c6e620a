"""Model aliases (policy ``aliases``): validation, prefix patterns, resolution to virtual models and pools."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from gateway.config import parse_policy_text
from gateway.demo_policy import demo_policy_yaml
from router.policy import Policy, parse_policy

BASE: dict[str, Any] = {
    "version": 1,
    "backends": {
        "hyb": {"family": "qwen3", "mode": "hybrid", "model": "served-hybrid", "endpoints": ["http://h:1"]},
    },
    "models": {
        "auto": {"thinking": ["hyb"], "instruct": ["hyb"]},
        "fast": {"effort": "none", "instruct": ["hyb"]},
    },
}


def policy(aliases: dict[str, str]) -> Policy:
    return parse_policy({**BASE, "aliases": aliases})


def test_exact_and_prefix_aliases() -> None:
    p = policy({"claude-*": "auto", "claude-haiku-*": "fast", "claude-haiku-4-5": "hyb", "gpt-5": "auto"})
    assert p.alias_target("claude-sonnet-4-5-20250929") == "auto"
    assert p.alias_target("claude-haiku-4-5-20251001") == "fast"  # the longest prefix wins
    assert p.alias_target("claude-haiku-4-5") == "hyb"  # an exact alias beats every pattern
    assert p.alias_target("gpt-5") == "auto"
    assert p.alias_target("gpt-5-mini") is None
    assert p.alias_target("auto") is None


@pytest.mark.parametrize(
    ("aliases", "needle"),
    [
        pytest.param({"claude": "nope"}, "unknown target 'nope'", id="unknown-target"),
        pytest.param({"auto": "fast"}, "would hide the model 'auto'", id="hides-virtual-model"),
        pytest.param({"served-*": "auto"}, "would hide the model 'served-hybrid'", id="pattern-hides-served"),
        pytest.param({"a*b": "auto"}, "aliases.a*b", id="star-inside"),
        pytest.param({"has space": "auto"}, "aliases.has space", id="space"),
    ],
)
def test_bad_aliases_are_refused(aliases: dict[str, str], needle: str) -> None:
    with pytest.raises(ValidationError) as err:
        policy(aliases)
    assert needle in str(err.value)


def test_demo_policy_maps_claude_names() -> None:
    p = parse_policy_text(demo_policy_yaml("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"))
    assert p.alias_target("claude-sonnet-4-5") == "auto"
    assert p.alias_target("claude-3-5-haiku-20241022") == "auto-fast"
    assert p.messages.on_invalid_thinking == "drop"
