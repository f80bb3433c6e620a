"""Registry, family data and vLLM capability tables of the templates package."""

from __future__ import annotations

import dataclasses

import pytest

from templates.effort import EFFORT_LEVELS, nearest_effort, require_effort
from templates.errors import (
    DuplicateFamilyError,
    InvalidEffortError,
    UnknownFamilyError,
    UnsupportedBackendError,
)
from templates.family import Mode, Switch
from templates.registry import get_family, known_families, register, unregister
from templates.vllm import accepted_reasoning_efforts, require_version, supports_thinking_budget

BUILTIN = (
    "deepseek-r1",
    "deepseek-v3.1",
    "glm-4.5",
    "gpt-oss",
    "granite",
    "qwen3",
    "qwen3-instruct-2507",
    "qwen3-thinking-2507",
    "smollm3",
)


def test_known_families_lists_every_builtin() -> None:
    assert known_families() == BUILTIN


def test_unknown_family_error_lists_known_families() -> None:
    with pytest.raises(UnknownFamilyError) as info:
        get_family("qwen4")
    message = str(info.value)
    assert "'qwen4'" in message
    assert all(name in message for name in BUILTIN)
    assert isinstance(info.value, ValueError)


def test_register_rejects_duplicates_and_unregister_undoes() -> None:
    custom = dataclasses.replace(get_family("qwen3"), name="qwen3-custom")
    register(custom)
    try:
        assert get_family("qwen3-custom") is custom
        with pytest.raises(DuplicateFamilyError):
            register(custom)
        assert register(custom, replace=True) is custom
    finally:
        unregister("qwen3-custom")
    assert "qwen3-custom" not in known_families()
    with pytest.raises(TypeError):
        register("qwen3")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", BUILTIN)
def test_every_family_is_documented_and_consistent(name: str) -> None:
    family = get_family(name)
    assert len(family.quirk) > 80 and family.sources
    assert (family.switch is Switch.TEMPLATE_KWARG) == (family.switch_key is not None)
    assert all(level in EFFORT_LEVELS for level in family.native_efforts)
    if family.mode is Mode.INSTRUCT_ONLY:
        assert family.native_efforts == ("none",)
    if family.opens_think or family.native_budget:
        assert family.think_tags is not None
    if family.think_tags is not None:
        assert family.think_tags.early_stop_text.rstrip("\n").endswith(family.think_tags.end)


@pytest.mark.parametrize(
    ("name", "version", "parser"),
    [
        pytest.param("qwen3", (0, 8, 5), "deepseek_r1", id="qwen3-0.8.5"),
        pytest.param("qwen3", (0, 32, 0), "qwen3", id="qwen3-0.32"),
        pytest.param("glm-4.5", (0, 10, 0), "glm4_moe", id="glm-0.10.0"),
        pytest.param("glm-4.5", (0, 10, 1), "glm45", id="glm-0.10.1"),
        pytest.param("gpt-oss", (0, 10, 1), "GptOss", id="gptoss-0.10.1"),
        pytest.param("gpt-oss", (0, 11, 0), "openai_gptoss", id="gptoss-0.11"),
        pytest.param("gpt-oss", (0, 10, 0), None, id="gptoss-too-old"),
        pytest.param("deepseek-v3.1", (0, 11, 1), "deepseek_v3", id="v31"),
        pytest.param("qwen3-instruct-2507", (0, 32, 0), None, id="instruct-no-parser"),
    ],
)
def test_parser_names_by_release(name: str, version: tuple[int, int, int], parser: str | None) -> None:
    assert get_family(name).parser_for(version) == parser


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        pytest.param((0, 10, 0), (), id="0.10.0"),
        pytest.param((0, 10, 1), ("low", "medium", "high"), id="0.10.1"),
        pytest.param((0, 17, 9), ("low", "medium", "high"), id="0.17"),
        pytest.param((0, 18, 0), ("none", "low", "medium", "high"), id="0.18"),
        pytest.param((0, 20, 3), ("none", "low", "medium", "high"), id="0.20"),
        pytest.param((0, 22, 0), EFFORT_LEVELS, id="0.22"),
        pytest.param((0, 32, 0), EFFORT_LEVELS, id="0.32"),
    ],
)
def test_accepted_reasoning_efforts(version: tuple[int, int, int], accepted: tuple[str, ...]) -> None:
    assert accepted_reasoning_efforts(version) == accepted


def test_thinking_budget_support_starts_at_0_20() -> None:
    assert not supports_thinking_budget((0, 19, 9))
    assert supports_thinking_budget((0, 20, 0))


@pytest.mark.parametrize(
    ("effort", "allowed", "expected"),
    [
        pytest.param("none", ("low", "medium", "high"), "low", id="none-up"),
        pytest.param("minimal", ("none", "low", "medium", "high"), "low", id="minimal-never-none"),
        pytest.param("xhigh", ("none", "low", "medium", "high"), "high", id="xhigh-down"),
        pytest.param("max", ("low", "medium", "high"), "high", id="max-down"),
        pytest.param("medium", ("none", "max"), "max", id="hybrid-unbounded"),
        pytest.param("high", ("none",), "none", id="only-none"),
        pytest.param("high", (), None, id="empty"),
        pytest.param("medium", EFFORT_LEVELS, "medium", id="identity"),
    ],
)
def test_nearest_effort(effort: str, allowed: tuple[str, ...], expected: str | None) -> None:
    assert nearest_effort(require_effort(effort), allowed) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["HIGH", "", None, 3, "extreme"])
def test_require_effort_rejects_unknown(bad: object) -> None:
    with pytest.raises(InvalidEffortError, match="expected one of none, minimal"):
        require_effort(bad)


@pytest.mark.parametrize("bad", [(0, 32), (0, 32, "0"), [0, 32, 0], (0, -1, 0), (True, 0, 0), "0.32.0"])
def test_require_version_rejects_malformed(bad: object) -> None:
    with pytest.raises(UnsupportedBackendError):
        require_version(bad)
