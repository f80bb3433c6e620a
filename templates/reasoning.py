"""Split raw model text into reasoning and answer, one-shot or incrementally (PROTOCOLS §2.8, §3).

Rules (same for both): the text is in reasoning from its start when thinking is on, when the template opened
``<think>`` itself, or when the text starts with ``<think>`` (a model that thought despite the switch); a
leading ``<think>`` is dropped. Reasoning ends at ``</think>``; with no end tag all of it is (truncated)
reasoning. Otherwise all text is answer. Both parts are stripped of surrounding newlines; empty parts are
None.

The one-shot split uses the **last** ``</think>`` (Qwen's reference code). A stream cannot see the future,
so the streaming splitter ends reasoning at the first ``</think>``; the two agree whenever the reasoning text
holds no further ``</think>``, and the splitter sets ``extra_end_tag`` when one appears later, so the
gateway can log the (rare) divergence instead of hiding it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

THINK_START: Final = "<think>"
THINK_END: Final = "</think>"


@dataclass(frozen=True)
class Split:
    """Result of :func:`split_reasoning`: reasoning and answer (None when empty) and the truncation flag."""

    reasoning: str | None
    content: str | None
    truncated: bool


def _or_none(text: str) -> str | None:
    text = text.strip("\n")
    return text or None


def split_reasoning(
    text: str, *, thinking: bool, opens_think: bool = False, start: str = THINK_START, end: str = THINK_END
) -> Split:
    """Split ``text`` at its last end tag; see the module docstring for the rules."""
    if not (thinking or opens_think or text.startswith(start)):
        return Split(reasoning=None, content=_or_none(text), truncated=False)
    if text.startswith(start):
        text = text[len(start) :]
    cut = text.rfind(end)
    if cut < 0:
        return Split(reasoning=_or_none(text), content=None, truncated=True)
    return Split(reasoning=_or_none(text[:cut]), content=_or_none(text[cut + len(end) :]), truncated=False)


class _NewlineTrim:
    """Streams one section, dropping leading newlines and holding trailing ones until more text follows."""

    def __init__(self) -> None:
        self._started = False
        self._held = ""

    def push(self, text: str) -> str:
        if not self._started:
            text = text.lstrip("\n")
            if not text:
                return ""
            self._started = True
        text = self._held + text
        kept = text.rstrip("\n")
        self._held = text[len(kept) :]
        return kept


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkStreamSplitter:
    """Incremental reasoning/answer splitter that is exact across arbitrary chunk boundaries.

    ``feed(chunk)`` returns ``(reasoning_delta, content_delta)``; call ``finish()`` once at the end for the
    final pair. Tags split over several chunks are held back until they can be decided.
    """

    def __init__(
        self, *, thinking: bool, opens_think: bool = False, start: str = THINK_START, end: str = THINK_END
    ) -> None:
        self._in_reasoning_default = thinking or opens_think
        self._start = start
        self._end = end
        self._state = "start"  # "start" (deciding a leading start tag) → "reasoning" → "content"
        self._carry = ""
        self._reasoning = _NewlineTrim()
        self._content = _NewlineTrim()
        self._content_tail = ""
        self._after_reasoning = False
        self._finished = False
        self.extra_end_tag = False
        """True once an end tag appeared after reasoning had ended (the one-shot split would differ)."""

    @property
    def truncated(self) -> bool:
        """After ``finish()``: the text ended inside reasoning (no end tag)."""
        return self._finished and self._state == "reasoning"

    def feed(self, chunk: str) -> tuple[str, str]:
        """Consume ``chunk``; return the reasoning and answer text that is now certain."""
        if self._finished:
            raise ValueError("ThinkStreamSplitter.feed() called after finish()")
        return self._consume(self._carry + chunk, final=False)

    def finish(self) -> tuple[str, str]:
        """Flush held text (an unfinished tag is plain text) and close both sections."""
        if self._finished:
            raise ValueError("ThinkStreamSplitter.finish() called twice")
        pair = self._consume(self._carry, final=True)
        self._finished = True
        return pair

    def _consume(self, text: str, *, final: bool) -> tuple[str, str]:
        self._carry = ""
        reasoning, content = "", ""
        if self._state == "start":
            if len(text) < len(self._start) and self._start.startswith(text) and not final:
                self._carry = text
                return "", ""
            if text.startswith(self._start):
                text = text[len(self._start) :]
                self._state = "reasoning"
            else:
                self._state = "reasoning" if self._in_reasoning_default else "content"
        if self._state == "reasoning":
            cut = text.find(self._end)
            if cut >= 0:
                reasoning = self._reasoning.push(text[:cut])
                text = text[cut + len(self._end) :]
                self._state = "content"
                self._after_reasoning = True
            else:
                hold = 0 if final else _partial_suffix(text, self._end)
                reasoning = self._reasoning.push(text[: len(text) - hold])
                self._carry = text[len(text) - hold :]
                text = ""
        if self._state == "content" and text:
            if self._after_reasoning and self._end in self._content_tail + text:
                self.extra_end_tag = True
            keep = len(self._end) - 1
            self._content_tail = (self._content_tail + text)[-keep:] if keep else ""
            content = self._content.push(text)
        return reasoning, content
