"""The data that describes one model family: how thinking is switched, sampled, budgeted and parsed.

Families are data, not classes (STYLE.md): three switch mechanisms cover every supported model, and everything
else is a field. The registry (``templates.registry``) maps the policy-file key to one of these records.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum

from templates.effort import EffortLevel
from templates.vllm import VllmVersion


class Switch(StrEnum):
    """How the backend is told to think or not."""

    #: A boolean ``chat_template_kwargs`` key (``enable_thinking``/``thinking``) read by template and parser.
    TEMPLATE_KWARG = "template_kwarg"
    #: The top-level ``reasoning_effort`` field, consumed natively (gpt-oss / harmony).
    REASONING_EFFORT = "reasoning_effort"
    #: No switch: the model always thinks (thinking-only) or never does (instruct-only).
    NONE = "none"


class Mode(StrEnum):
    """Which thinking modes the model has at all."""

    HYBRID = "hybrid"
    THINKING_ONLY = "thinking"
    INSTRUCT_ONLY = "instruct"


class HistoryPolicy(StrEnum):
    """What happens to an assistant turn's earlier reasoning when the conversation is sent back."""

    #: Strip it before the last real user query; keep it inside the unfinished tool-call loop after it
    #: (Qwen3 keeps reasoning within the current loop; GLM-4.5 interleaves thinking between tool calls).
    KEEP_IN_TOOL_LOOP = "keep_in_tool_loop"
    #: Keep it for every assistant turn after the last final answer (an assistant message without tool
    #: calls), even past a user message sent mid-loop: harmony keeps the analysis across the calls of one
    #: turn and drops it once a final-channel answer exists (gpt-oss).
    KEEP_IN_TURN = "keep_in_turn"
    #: The template never renders history reasoning: send answer-only content for every turn.
    ANSWER_ONLY = "answer_only"


@dataclass(frozen=True)
class Sampling:
    """Sampling parameters recommended by the model's authors; ``None`` leaves the server default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None

    def fields(self) -> dict[str, float | int]:
        """The set parameters as request fields (vLLM accepts ``top_k``/``min_p`` at the top level)."""
        return dict(self.items)

    @functools.cached_property
    def items(self) -> tuple[tuple[str, float | int], ...]:
        """:meth:`fields` as ``(key, value)`` pairs, computed once (the render reads them per request)."""
        values = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "min_p": self.min_p,
        }
        return tuple((key, value) for key, value in values.items() if value is not None)


@dataclass(frozen=True)
class ThinkTags:
    """The family's reasoning delimiters and the text the gateway appends when a forced budget runs out.

    ``early_stop_text`` already ends with the end tag and the separator the model writes before its answer.
    """

    start: str
    end: str
    early_stop_text: str


@dataclass(frozen=True)
class Family:
    """One model family: its quirk (with source) and every fact ``render_chat`` needs.

    ``native_efforts`` lists the levels the family's own mechanism distinguishes without a budget: a hybrid
    expresses ``none`` (off) and ``max`` (unbounded thinking); levels in between need a thinking budget.
    ``parsers`` maps the first vLLM release to the ``--reasoning-parser`` name valid from it on.
    """

    name: str
    quirk: str
    sources: tuple[str, ...]
    mode: Mode
    switch: Switch
    native_efforts: tuple[EffortLevel, ...]
    history: HistoryPolicy
    sampling_thinking: Sampling = field(default_factory=Sampling)
    sampling_non_thinking: Sampling = field(default_factory=Sampling)
    #: ``chat_template_kwargs`` key of the switch (``Switch.TEMPLATE_KWARG`` only).
    switch_key: str | None = None
    #: Other kwargs that template or parser read as the same switch; overwritten when the client sent them.
    switch_aliases: tuple[str, ...] = ()
    #: Kwargs sent on every request so a kwarg-reading parser agrees with a template that has a fixed mode.
    pinned_kwargs: tuple[tuple[str, bool], ...] = ()
    think_tags: ThinkTags | None = None
    #: The generation prompt already ends in the start tag, so output begins inside reasoning.
    opens_think: bool = False
    #: vLLM can enforce ``thinking_token_budget`` (the parser defines start/end strings, §13.5).
    native_budget: bool = False
    #: The template splits ``<think>…</think>`` out of assistant ``content`` when no reasoning key is given.
    inline_history_think: bool = False
    parsers: tuple[tuple[VllmVersion, str], ...] = ()
    #: File name under ``templates/jinja/`` for families the gateway renders itself (budget forcing).
    jinja_template: str | None = None
    #: Strings in a system message that override the switch inside the template (SmolLM3).
    system_switch_flags: tuple[str, ...] = ()
    #: Instruction appended to a client system message when thinking, because the kwarg only changes the
    #: default system prompt (Granite 3.3).
    thinking_system_instruction: str | None = None
    #: Tool calls work only in non-thinking mode: a step that offers tools runs without thinking (noted).
    tools_without_thinking: bool = False
    #: How the model writes tool calls in its text (``hermes``: ``<tool_call>{json}</tool_call>``, parsed by
    #: :mod:`templates.toolcalls` where the gateway reads raw text, i.e. budget forcing); None: not parsed.
    tool_call_format: str | None = None

    def sampling(self, *, thinking: bool) -> Sampling:
        """The recommended sampling for the mode."""
        return self.sampling_thinking if thinking else self.sampling_non_thinking

    def parser_for(self, version: VllmVersion) -> str | None:
        """The ``--reasoning-parser`` name for this family on ``version`` (None: none exists there)."""
        chosen: str | None = None
        for first, name in self.parsers:
            if version >= first:
                chosen = name
        return chosen
