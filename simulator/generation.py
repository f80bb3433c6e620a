"""Deterministic "model": what a Qwen3-protocol model would emit after a prompt, token by token.

Pure (no I/O). The output token sequence is built eagerly, then the same rules as vLLM are applied in
the order vLLM applies them: the thinking budget (vLLM's ThinkingTokenBudget logits processor forces
`</think>` once the think block holds `thinking_token_budget` tokens, counting tokens already inside an
open think block in the prompt), then EOS / `max_tokens` (EOS wins when both hit on the same token),
then stop strings (checked on the detokenized text, which includes `<think>` since it is not special).

Accounting (same as vLLM 0.32 with the qwen3 parser): `reasoning_tokens` counts the tokens strictly
inside the think block, excluding `<think>` and `</think>`; `completion_tokens` counts every generated
token including `<think>`, `</think>` and the final `<|im_end|>`.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from simulator.tokenizer import DOUBLE_NEWLINE_ID, IM_END_ID, IM_START_ID, THINK_END_ID, THINK_START_ID

_ASSISTANT_HEADER = (IM_START_ID, 77091, 198)  # "<|im_start|>assistant\n"

_WORD_TEXT = """
    the user asks about a question so i should think through each part carefully and check the result
    first consider what they want then look at the data compare options weigh costs pick simple steps
    this means we need one clear answer with short reasons maybe an example would help here note that
    time space order value list table number code model request server token cache limit budget effort
    plan test case edge input output error retry check again yes no good fine right wrong small large
    fast slow early late high low open close start end next last other same different better best
    because since while when where which who how why what that these those some many few more less
    make use find give take show keep turn call read write send build run move hold bring help
"""
WORDS = tuple(_WORD_TEXT.split())


class CodecLike(Protocol):
    """What generation needs from a tokenizer."""

    def encode(self, text: str) -> list[int]: ...

    def piece(self, token_id: int) -> str: ...


class Phase(enum.Enum):
    """Where a generated token lands after vLLM's qwen3 reasoning parser."""

    MARKER = "marker"  # <think> / </think>: no text in chat responses
    REASONING = "reasoning"
    CONTENT = "content"
    EOS = "eos"


class StartState(enum.Enum):
    """Where the prompt leaves the model."""

    FRESH_TURN = "fresh_turn"  # right after "<|im_start|>assistant\n": a thinking model opens <think>
    IN_THINK = "in_think"  # the prompt's last <think> is open
    AFTER_THINK_END = "after_think_end"  # the prompt ends exactly with </think>
    ANSWER = "answer"  # anything else: the model writes the answer


@dataclass(frozen=True)
class GenerationRequest:
    """The inputs that shape one choice's output."""

    prompt_ids: Sequence[int]
    thinks: bool  # does the model open a think block on a fresh turn?
    seed: int
    reasoning_words: int
    answer_words: int
    max_tokens: int
    thinking_token_budget: int | None = None  # None or -1 = unlimited
    stop: tuple[str, ...] = ()
    choice_index: int = 0
    request_seed: int | None = None
    answer_text: str | None = None  # what the answer is instead of words (tool calls, `simulator.toolcalls`)


@dataclass(frozen=True)
class Generation:
    """One finished choice: tokens, their text and their parser phase, plus why it finished."""

    token_ids: tuple[int, ...]
    pieces: tuple[str, ...]
    phases: tuple[Phase, ...]
    finish_reason: str
    stop_reason: str | None
    opened_think: bool  # a think block was active at some point (reasoning is "" rather than None)

    @property
    def reasoning_tokens(self) -> int:
        return sum(1 for p in self.phases if p is Phase.REASONING)

    @property
    def text(self) -> str:
        """Raw detokenized text (what /v1/completions returns)."""
        return "".join(self.pieces)

    def reasoning(self) -> str | None:
        """`message.reasoning` as vLLM's qwen3 parser reports it."""
        if not self.opened_think:
            return None
        return "".join(p for p, ph in zip(self.pieces, self.phases, strict=True) if ph is Phase.REASONING)

    def content(self) -> str | None:
        """`message.content` as vLLM's qwen3 parser reports it (None when empty)."""
        text = "".join(p for p, ph in zip(self.pieces, self.phases, strict=True) if ph is Phase.CONTENT)
        return text or None


def start_state(prompt_ids: Sequence[int]) -> StartState:
    """Classify the prompt the way the model (and vLLM's budget processor) would see it."""
    last_start = _rindex(prompt_ids, THINK_START_ID)
    last_end = _rindex(prompt_ids, THINK_END_ID)
    if last_start > last_end:
        return StartState.IN_THINK
    if last_end >= 0 and last_end > _rindex(prompt_ids, IM_START_ID):
        return StartState.AFTER_THINK_END if prompt_ids[-1] == THINK_END_ID else StartState.ANSWER
    if tuple(prompt_ids[-3:]) == _ASSISTANT_HEADER:
        return StartState.FRESH_TURN
    return StartState.ANSWER


def _rindex(ids: Sequence[int], token: int) -> int:
    for i in range(len(ids) - 1, -1, -1):
        if ids[i] == token:
            return i
    return -1


def compose_text(rng: random.Random, n_words: int) -> str:
    """`n_words` real words in sentences of 5-11 words, capitalized and ending in a period."""
    sentences: list[str] = []
    left = n_words
    while left > 0:
        k = min(left, rng.randint(5, 11))
        words = [rng.choice(WORDS) for _ in range(k)]
        words[0] = words[0].capitalize()
        sentences.append(" ".join(words) + ".")
        left -= k
    return " ".join(sentences)


def _rng(req: GenerationRequest) -> random.Random:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{req.seed}|{req.request_seed}|{req.choice_index}|".encode())
    h.update(",".join(map(str, req.prompt_ids)).encode())
    return random.Random(int.from_bytes(h.digest(), "big"))


def planned_tokens(codec: CodecLike, req: GenerationRequest) -> tuple[list[int], list[int]]:
    """What the model emits when unconstrained, split as (think part incl. </think>, answer tail).

    The tail starts right after `</think>` ("\\n\\n" + answer + `<|im_end|>`) so that a forced
    `</think>` can be followed by it.
    """
    rng = _rng(req)
    reasoning = compose_text(rng, req.reasoning_words)
    answer = req.answer_text if req.answer_text is not None else compose_text(rng, req.answer_words)
    answer_ids = [*codec.encode(answer), IM_END_ID]
    state = start_state(req.prompt_ids)
    tail = [DOUBLE_NEWLINE_ID, *answer_ids]
    if state is StartState.FRESH_TURN and req.thinks:
        return [THINK_START_ID, *codec.encode(f"\n{reasoning}\n"), THINK_END_ID], tail
    if state is StartState.IN_THINK:
        ends_newline = bool(req.prompt_ids) and codec.piece(req.prompt_ids[-1]).endswith("\n")
        body = f"{reasoning}\n" if ends_newline else f"\n{reasoning}\n"
        return [*codec.encode(body), THINK_END_ID], tail
    if state is StartState.AFTER_THINK_END:
        return [], tail
    return [], answer_ids


def generate(codec: CodecLike, req: GenerationRequest) -> Generation:
    """Run the model for one choice and apply budget, EOS, max_tokens and stop strings."""
    think_part, tail = planned_tokens(codec, req)
    in_think = start_state(req.prompt_ids) is StartState.IN_THINK
    opened = in_think
    count = len(req.prompt_ids) - _rindex(req.prompt_ids, THINK_START_ID) - 1 if in_think else 0
    budget = req.thinking_token_budget if req.thinking_token_budget not in (None, -1) else None
    ids: list[int] = []
    phases: list[Phase] = []
    for tok in think_part:
        if budget is not None and in_think and count >= budget and tok != THINK_END_ID:
            tok = THINK_END_ID  # forced by the budget processor
        ids.append(tok)
        if tok == THINK_START_ID:
            in_think = opened = True
            count = 0
            phases.append(Phase.MARKER)
        elif tok == THINK_END_ID:
            phases.append(Phase.MARKER)
            in_think = False
            break
        else:
            phases.append(Phase.REASONING if in_think else Phase.CONTENT)
            count += in_think
    for tok in tail:
        ids.append(tok)
        phases.append(Phase.EOS if tok == IM_END_ID else Phase.CONTENT)
    return _finish(codec, ids, phases, req, opened)


def _finish(
    codec: CodecLike, ids: list[int], phases: list[Phase], req: GenerationRequest, opened: bool
) -> Generation:
    finish = "stop"
    if len(ids) > req.max_tokens:
        ids, phases = ids[: req.max_tokens], phases[: req.max_tokens]
        finish = "length"
    pieces = ["" if ph is Phase.EOS else codec.piece(t) for t, ph in zip(ids, phases, strict=True)]
    stop_reason: str | None = None
    if req.stop:
        cut = _find_stop(pieces, req.stop)
        if cut is not None:
            n_tokens, keep_chars, stop_reason = cut
            ids, phases = ids[:n_tokens], phases[:n_tokens]
            pieces = _trim(pieces[:n_tokens], keep_chars)
            finish = "stop"
    return Generation(tuple(ids), tuple(pieces), tuple(phases), finish, stop_reason, opened)


def _trim(pieces: list[str], total_chars: int) -> list[str]:
    """Cut the concatenation of `pieces` to `total_chars` characters, keeping one piece per token."""
    out: list[str] = []
    left = total_chars
    for piece in pieces:
        out.append(piece[: max(0, left)])
        left -= len(piece)
    return out


def _find_stop(pieces: Sequence[str], stops: Sequence[str]) -> tuple[int, int, str] | None:
    """First token after which a stop string is complete: (tokens kept, text chars kept, stop)."""
    text = ""
    longest = max(len(s) for s in stops)
    for i, piece in enumerate(pieces):
        before = len(text)
        text += piece
        window_start = max(0, before - longest + 1)
        hits = [(pos, s) for s in stops if s and (pos := text.find(s, window_start)) >= 0]
        if hits:
            pos, stop = min(hits)
            return i + 1, pos, stop
    return None
