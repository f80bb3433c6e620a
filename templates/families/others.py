"""GLM-4.5, gpt-oss, SmolLM3 and IBM Granite (PROTOCOLS §6, §7, §9, §10)."""

from __future__ import annotations

from typing import Final

from templates.family import Family, HistoryPolicy, Mode, Sampling, Switch, ThinkTags

# POLICY: Qwen's early-stop phrase, closed the way each model writes its answer separator.
_PHRASE: Final = (
    "Considering the limited time by the user, "
    "I have to give the solution based on the thinking directly now."
)

GLM_45: Final = Family(
    name="glm-4.5",
    quirk=(
        "Hybrid, thinking on by default: enable_thinking=false appends /nothink to user turns and "
        "ends the prompt with '<|assistant|>\\n<think></think>'. History before the last user message "
        "renders an empty think block. Parser glm4_moe (0.10.0), glm45 (>=0.10.1); it needs both "
        "tags, else everything is content."
    ),
    sources=("PROTOCOLS §6", "T-glm"),
    mode=Mode.HYBRID,
    switch=Switch.TEMPLATE_KWARG,
    switch_key="enable_thinking",
    native_efforts=("none", "max"),
    history=HistoryPolicy.KEEP_IN_TOOL_LOOP,
    think_tags=ThinkTags(start="<think>", end="</think>", early_stop_text=f"\n\n{_PHRASE}</think>\n"),
    native_budget=True,
    inline_history_think=True,
    parsers=(((0, 10, 0), "glm4_moe"), ((0, 10, 1), "glm45")),
)

GPT_OSS: Final = Family(
    name="gpt-oss",
    quirk=(
        "Harmony format: vLLM writes 'Reasoning: <effort>' into the system message from the request's"
        " reasoning_effort, which accepts only low/medium/high (none is rejected). The model always "
        "reasons (analysis channel). No thinking_token_budget (parser has no start/end strings): "
        "effort is the control. Analysis is kept across the tool calls of one turn and dropped once a "
        "final answer exists (vLLM auto_drop_analysis_messages)."
    ),
    sources=("PROTOCOLS §7", "harmony"),
    mode=Mode.HYBRID,
    switch=Switch.REASONING_EFFORT,
    native_efforts=("low", "medium", "high"),
    history=HistoryPolicy.KEEP_IN_TURN,
    sampling_thinking=Sampling(temperature=1.0, top_p=1.0),
    sampling_non_thinking=Sampling(temperature=1.0, top_p=1.0),
    parsers=(((0, 10, 1), "GptOss"), ((0, 10, 2), "openai_gptoss")),
)

SMOLLM3: Final = Family(
    name="smollm3",
    quirk=(
        "Hybrid via enable_thinking (default on), but a /think or /no_think flag in the system "
        "message overrides the kwarg inside the template, so such flags are removed. The template "
        "renders history content verbatim: send answer-only history. No dedicated parser: use qwen3 "
        "(>=0.17) with the explicit kwarg."
    ),
    sources=("PROTOCOLS §9", "T-smol", "HF blog smollm3"),
    mode=Mode.HYBRID,
    switch=Switch.TEMPLATE_KWARG,
    switch_key="enable_thinking",
    native_efforts=("none", "max"),
    history=HistoryPolicy.ANSWER_ONLY,
    sampling_thinking=Sampling(temperature=0.6, top_p=0.95),
    sampling_non_thinking=Sampling(temperature=0.6, top_p=0.95),
    think_tags=ThinkTags(start="<think>", end="</think>", early_stop_text=f"\n\n{_PHRASE}\n</think>\n"),
    native_budget=True,
    parsers=(((0, 9, 0), "qwen3"),),
    system_switch_flags=("/no_think", "/think"),
)

GRANITE: Final = Family(
    name="granite",
    quirk=(
        "IBM Granite 3.2/3.3: chat_template_kwargs.thinking (default off). In 3.3 the kwarg only "
        "changes the default system prompt, so with a client system message the thinking instruction "
        "is appended to it. Parser granite (3.2 'Here is my thought process:' format). No budget "
        "support (no early-stop text)."
    ),
    sources=("PROTOCOLS §10", "T-granite", "vdocs"),
    mode=Mode.HYBRID,
    switch=Switch.TEMPLATE_KWARG,
    switch_key="thinking",
    switch_aliases=("enable_thinking",),
    native_efforts=("none", "max"),
    history=HistoryPolicy.ANSWER_ONLY,
    parsers=(((0, 8, 0), "granite"),),
    thinking_system_instruction=(
        "Write your thoughts between <think></think> and write your response between <response></response> "
        "for each user query."
    ),
)
