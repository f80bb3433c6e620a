"""Qwen3 families: the hybrid (2504) models and the 2507 thinking-only / instruct-only split (§2-3)."""

from __future__ import annotations

from typing import Final

from templates.family import Family, HistoryPolicy, Mode, Sampling, Switch, ThinkTags

#: Qwen's official early-stopping prompt for a spent thinking budget (Q-qs "Thinking Budget", 24 tokens).
QWEN_EARLY_STOP_TEXT: Final = (
    "\n\nConsidering the limited time by the user, I have to give the solution based on the thinking "
    "directly now.\n</think>\n\n"
)
QWEN_THINK_TAGS: Final = ThinkTags(start="<think>", end="</think>", early_stop_text=QWEN_EARLY_STOP_TEXT)

_QWEN_THINKING_SAMPLING: Final = Sampling(temperature=0.6, top_p=0.95, top_k=20, min_p=0.0)
_QWEN_INSTRUCT_SAMPLING: Final = Sampling(temperature=0.7, top_p=0.8, top_k=20, min_p=0.0)

QWEN3: Final = Family(
    name="qwen3",
    quirk=(
        "Hybrid: chat_template_kwargs.enable_thinking=false makes the template end the prompt with an"
        " empty '<think>\\n\\n</think>\\n\\n' block; unset/true lets the model open <think> itself. "
        "vLLM's qwen3 parser reads the same kwarg (>=0.17), so it is always sent. The template reads "
        "history reasoning only from reasoning_content and drops it before the last user query. Do "
        "not use greedy decoding when thinking."
    ),
    sources=("PROTOCOLS §2.2-2.8", "T-qwen3", "Q-qs", "Q-cc", "Q-vllm"),
    mode=Mode.HYBRID,
    switch=Switch.TEMPLATE_KWARG,
    switch_key="enable_thinking",
    native_efforts=("none", "max"),
    history=HistoryPolicy.KEEP_IN_TOOL_LOOP,
    sampling_thinking=_QWEN_THINKING_SAMPLING,
    sampling_non_thinking=_QWEN_INSTRUCT_SAMPLING,
    think_tags=QWEN_THINK_TAGS,
    native_budget=True,
    inline_history_think=True,
    parsers=(((0, 8, 0), "deepseek_r1"), ((0, 9, 0), "qwen3")),
    jinja_template="qwen3.jinja",
    tool_call_format="hermes",
)

QWEN3_THINKING_2507: Final = Family(
    name="qwen3-thinking-2507",
    quirk=(
        "Thinking-only: the generation prompt ends in '<|im_start|>assistant\\n<think>\\n', so output "
        "has only the closing </think>. No off switch: effort none is approximated by a zero thinking"
        " budget (the router should prefer the Instruct-2507 sibling). enable_thinking=true is pinned"
        " so a qwen3 parser agrees."
    ),
    sources=("PROTOCOLS §3", "T-2507", "Q-readme", "Q-qs", "Q-cc"),
    mode=Mode.THINKING_ONLY,
    switch=Switch.NONE,
    native_efforts=("max",),
    history=HistoryPolicy.KEEP_IN_TOOL_LOOP,
    sampling_thinking=_QWEN_THINKING_SAMPLING,
    sampling_non_thinking=_QWEN_THINKING_SAMPLING,
    pinned_kwargs=(("enable_thinking", True),),
    think_tags=QWEN_THINK_TAGS,
    opens_think=True,
    native_budget=True,
    inline_history_think=True,
    parsers=(((0, 8, 0), "deepseek_r1"),),
    jinja_template="qwen3-thinking-2507.jinja",
    tool_call_format="hermes",
)

QWEN3_INSTRUCT_2507: Final = Family(
    name="qwen3-instruct-2507",
    quirk=(
        "Instruct-only: the template never reads enable_thinking ('no longer required or supported');"
        " there is no reasoning parser. Thinking efforts are refused so the router sends them to a "
        "thinking backend."
    ),
    sources=("PROTOCOLS §3", "T-2507", "Q-qs"),
    mode=Mode.INSTRUCT_ONLY,
    switch=Switch.NONE,
    native_efforts=("none",),
    history=HistoryPolicy.ANSWER_ONLY,
    sampling_thinking=_QWEN_INSTRUCT_SAMPLING,
    sampling_non_thinking=_QWEN_INSTRUCT_SAMPLING,
    pinned_kwargs=(("enable_thinking", False),),
)
