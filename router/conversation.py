"""Conversation → what the effort classifier reads of it (pure, no I/O).

:func:`view_from_messages` reads an OpenAI ``messages`` list into a :class:`ChatView` (system text, the turns
as ``(role, text)``, whether tools are offered); it never raises: parts it cannot read are skipped.
:func:`read_latest` reads only what the classifier's cache key needs of the same list (the latest user turn,
the context before it), without the view of a whole trajectory. :func:`followup_weight` (:func:`leaning` of
the latest turn's text) says how much the latest user turn leans on the turns before it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.features import SOCIAL_WORDS

#: Turns before the latest user turn that are read as context (most recent first).
CONTEXT_TURNS = 4
#: Characters read from each context turn (its tail; the system prompt's head).
CONTEXT_CHARS = 600

_USER_ROLES = frozenset({"user"})
_SYSTEM_ROLES = frozenset({"system", "developer"})


@dataclass(frozen=True, slots=True)
class ChatView:
    """What the classifier reads of a conversation.

    ``system`` is the joined system/developer text, ``turns`` the other messages in order as ``(role, text)``
    (assistant reasoning is not included), ``tools`` whether the request offers tools.
    """

    system: str = ""
    turns: tuple[tuple[str, str], ...] = ()
    tools: bool = False

    @property
    def latest_user(self) -> str:
        """Text of the last user turn ('' if there is none)."""
        for role, text in reversed(self.turns):
            if role in _USER_ROLES:
                return text
        return ""

    def context(self) -> str:
        """Bounded text of what came before the latest user turn: recent turns (newest first), then system."""
        idx = len(self.turns)
        for i in range(len(self.turns) - 1, -1, -1):
            if self.turns[i][0] in _USER_ROLES:
                idx = i
                break
        return _context([text for _role, text in self.turns[max(0, idx - CONTEXT_TURNS) : idx]], self.system)

    @property
    def earlier_user_turns(self) -> int:
        """How many user turns come before the latest one."""
        return max(0, sum(1 for role, _ in self.turns if role in _USER_ROLES) - 1)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and not isinstance(content, (bytes, bytearray)):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str) and part.get("type", "text") in (
                    "text",
                    "input_text",
                    "output_text",
                ):
                    parts.append(text)
        return "\n".join(parts)
    return ""


def view_from_messages(messages: Any, *, tools: bool = False) -> ChatView:
    """Read an OpenAI chat ``messages`` list; skip anything unreadable (never raises).

    String content and lists of ``{"type": "text", "text": ...}`` parts are read; images, audio and other
    parts are ignored; ``None`` or whitespace-only content gives an empty text. Assistant ``reasoning`` /
    ``reasoning_content`` is ignored (it says how the model thought, not what was asked).
    """
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    if isinstance(messages, Sequence) and not isinstance(messages, (str, bytes, bytearray)):
        for msg in messages:
            if not isinstance(msg, Mapping):
                continue
            role = msg.get("role")
            if not isinstance(role, str):
                continue
            text = _content_text(msg.get("content")).strip()
            if role in _SYSTEM_ROLES:
                if text:
                    system.append(text)
            else:
                turns.append((role, text))
    return ChatView(system="\n\n".join(system), turns=tuple(turns), tools=bool(tools))


def _context(before: list[str], system: str) -> str:
    """The context text: the tails of the turns ``before`` the latest user turn (newest first), then the head
    of the system text."""
    pieces = [text[-CONTEXT_CHARS:] for text in reversed(before)]
    pieces.append(system[:CONTEXT_CHARS])
    return "\n\n".join(p for p in pieces if p)


def _message_text(msg: Mapping[str, Any]) -> str:
    return _content_text(msg.get("content")).strip()


def read_latest(messages: Any) -> tuple[str, str, bool]:
    """``(view.latest_user, view.context(), len(view.turns) >= 2)`` of ``view_from_messages(messages)``,
    reading the text of only the messages they come from: the latest user turn, the :data:`CONTEXT_TURNS`
    turns before it and the system messages up to :data:`CONTEXT_CHARS`. An agent step resends a whole
    trajectory; this is what the gateway reads of it for the classifier's cache key (85 KB trajectory: 3.9 us
    instead of 9.1 us for the view, 800 KB: 10.8 instead of 31.5 us, 2026-12-07). Never raises.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes, bytearray)):
        return "", "", False
    turns: list[Mapping[str, Any]] = []  # the view's turns, text not read yet
    latest = -1  # index of the latest user turn in turns
    system: list[str] = []
    system_chars = 0  # len("\n\n".join(system)); past CONTEXT_CHARS the rest cannot reach the context
    for msg in messages:
        if type(msg) is not dict and not isinstance(msg, Mapping):  # dict first: the ABC check is slower
            continue
        role = msg.get("role")
        if not isinstance(role, str):
            continue
        if role not in _SYSTEM_ROLES:
            if role in _USER_ROLES:
                latest = len(turns)
            turns.append(msg)
        elif system_chars < CONTEXT_CHARS and (text := _message_text(msg)):
            system_chars += len(text) + (2 if system else 0)
            system.append(text)
    idx = latest if latest >= 0 else len(turns)
    before = [_message_text(msg) for msg in turns[max(0, idx - CONTEXT_TURNS) : idx]]
    text = _message_text(turns[latest]) if latest >= 0 else ""
    return text, _context(before, "\n\n".join(system)), len(turns) >= 2


#: Words that point back at earlier turns ("now do *it* for n = 7", "the *same* in Java", "*what about* 12?").
#: Courtesy and sequencing words ("thanks", "now", "also") are not among them: "thanks! now translate hello
#: into French" is a task of its own.
_REFERRING = frozenset(
    (
        "it", "its", "that", "this", "these", "those", "them", "same", "again", "instead", "above",
        "previous", "redo", "continue", "why", "what_about", "how_about", "and_if", "what_if", "the_other",
        "go_on", "your_answer", "you_said", "are_you", "the_result", "the_answer", "the_proof", "the_code",
    )
)  # fmt: skip
_REFERRING_CUES = frozenset(w.replace("_", " ") for w in _REFERRING)
_WORD = re.compile(r"[a-z']+|\d+")
#: A turn of at most this many words with no task words of its own ("why?", "and n = 7?", "continue") leans
#: on the thread even without a referring word.
_BARE_WORDS = 4


def followup_weight(view: ChatView) -> float:
    """How much the latest user turn leans on earlier turns, in [0, 1]: :func:`leaning` of its text, 0 when
    there is no earlier turn."""
    return leaning(view.latest_user) if len(view.turns) >= 2 else 0.0


def leaning(latest: str) -> float:
    """How much a latest user turn that follows other turns leans on them, in [0, 1].

    0 when the turn is only courtesy ("thanks!", "ok, great": the words of
    :data:`router.features.SOCIAL_WORDS`), or when the turn names a task of its own without referring back
    ("thanks! now translate hello into French" after a proof is judged on its own). A turn that refers back
    ("now do it for n = 7", "what about 12?", "the same in Java") or is a bare fragment ("why?", "continue")
    gets 1 when short, falling towards 0.6 for longer ones (and to 0 for long, self-contained text).
    """
    n_words = latest.count(" ", 0, 2000) + 1
    head = _WORD.findall(latest[:300].lower())
    if SOCIAL_WORDS.issuperset(head):  # "thanks!", "ok, great": asks nothing of the thread
        return 0.0
    if n_words <= _BARE_WORDS and len(head) <= _BARE_WORDS:
        return 1.0
    # set operations in C; the word pairs are joined only when no single word refers back
    if _REFERRING_CUES.isdisjoint(head) and _REFERRING_CUES.isdisjoint(
        map(" ".join, itertools.pairwise(head))
    ):
        return 0.0
    base = 1.0 if n_words <= 12 else max(0.0, 1.0 - (n_words - 12) / 100.0)
    return max(base, 0.6) if n_words <= 60 else base
