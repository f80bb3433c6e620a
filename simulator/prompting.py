"""Chat prompt rendering per simulated model kind (hybrid Qwen3, Thinking-2507, Instruct-2507)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.config import SimMode
from simulator.tokenizer import SimTokenizer


@dataclass(frozen=True)
class ChatPrompt:
    """A rendered chat prompt and whether the model will think after it."""

    text: str
    thinks: bool


def render_chat_prompt(
    tokenizer: SimTokenizer,
    mode: SimMode,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
    continue_final_message: bool = False,
    template_kwargs: Mapping[str, Any] | None = None,
    reasoning_effort: str | None = None,
) -> ChatPrompt:
    """Render like vLLM 0.32 would for the served model kind.

    * hybrid: the official Qwen3 template; `chat_template_kwargs.thinking` is accepted as an alias of
      `enable_thinking`, and (vLLM >= 0.22) `reasoning_effort` sets `enable_thinking = effort != "none"`
      when the kwargs do not.
    * thinking: Thinking-2507 ignores the switch and its generation prompt ends with `<think>\\n`.
    * instruct: Instruct-2507 ignores the switch and never thinks.
    """
    kwargs = dict(template_kwargs or {})
    if mode == "hybrid":
        if "enable_thinking" not in kwargs and "thinking" in kwargs:
            kwargs["enable_thinking"] = kwargs["thinking"]
        if "enable_thinking" not in kwargs and reasoning_effort is not None:
            kwargs["enable_thinking"] = reasoning_effort != "none"
        thinks = kwargs.get("enable_thinking", True) is not False
    else:
        kwargs.pop("enable_thinking", None)
        kwargs.pop("thinking", None)
        thinks = mode == "thinking"
    text = tokenizer.render_chat(
        messages,
        tools=tools,
        add_generation_prompt=add_generation_prompt,
        continue_final_message=continue_final_message,
        template_kwargs=kwargs,
    )
    if mode == "thinking" and add_generation_prompt:
        text += "<think>\n"
    return ChatPrompt(text=text, thinks=thinks)
