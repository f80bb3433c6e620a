"""DeepSeek families: R1 (thinking-only; also QwQ, R1-Distill) and V3.1 (``thinking`` kwarg), §4-5."""

from __future__ import annotations

from typing import Final

from templates.family import Family, HistoryPolicy, Mode, Sampling, Switch, ThinkTags

# POLICY: Qwen's early-stop phrase, closed the way each model writes its answer separator.
_PHRASE: Final = (
    "Considering the limited time by the user, "
    "I have to give the solution based on the thinking directly now."
)

DEEPSEEK_R1: Final = Family(
    name="deepseek-r1",
    quirk=(
        "Thinking-only: the generation prompt is '<｜Assistant｜><think>\\n'; history keeps only the "
        "text after </think>. Authors: temperature 0.6, no system prompt (instructions in the user "
        "turn). Effort none is approximated by thinking_token_budget 0 (quality unverified)."
    ),
    sources=("PROTOCOLS §4", "T-r1", "R1-readme"),
    mode=Mode.THINKING_ONLY,
    switch=Switch.NONE,
    native_efforts=("max",),
    history=HistoryPolicy.ANSWER_ONLY,
    sampling_thinking=Sampling(temperature=0.6),
    sampling_non_thinking=Sampling(temperature=0.6),
    think_tags=ThinkTags(start="<think>", end="</think>", early_stop_text=f"\n\n{_PHRASE}\n</think>\n\n"),
    opens_think=True,
    native_budget=True,
    parsers=(((0, 7, 0), "deepseek_r1"),),
)

DEEPSEEK_V31: Final = Family(
    name="deepseek-v3.1",
    quirk=(
        "Hybrid, thinking OFF by default: chat_template_kwargs.thinking=true selects "
        "'<｜Assistant｜><think>', false '<｜Assistant｜></think>'. vLLM's deepseek_v3 parser reads "
        "'thinking' (and enable_thinking from 0.14), so a client enable_thinking is overwritten too. "
        "Tool calling is supported in non-thinking mode only, so a step that offers tools runs without "
        "thinking (noted)."
    ),
    sources=("PROTOCOLS §5", "T-v31", "vdocs"),
    mode=Mode.HYBRID,
    switch=Switch.TEMPLATE_KWARG,
    switch_key="thinking",
    switch_aliases=("enable_thinking",),
    native_efforts=("none", "max"),
    history=HistoryPolicy.ANSWER_ONLY,
    think_tags=ThinkTags(start="<think>", end="</think>", early_stop_text=f"\n\n{_PHRASE}</think>"),
    native_budget=True,
    parsers=(((0, 11, 1), "deepseek_v3"),),
    tools_without_thinking=True,
)
