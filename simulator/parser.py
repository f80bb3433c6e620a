"""How vLLM's `qwen3` reasoning parser splits one generated choice, per parser generation (PROTOCOLS.md §2.8).

* ≥0.17.0: the phases `generation` assigns (an unclosed think block is reasoning, `<think>` is stripped).
* 0.9.0–0.16.x (`needs_both_tags`): non-streaming, an output lacking `<think>` or `</think>` is returned
  whole as content (tags included). Streaming decides per delta: a lone `<think>`/`</think>` token is
  skipped, text after a `<think>` seen in the output and before its `</think>` is reasoning, everything
  else is content. The simulator streams one token per delta.
"""

from __future__ import annotations

from simulator.generation import Generation, Phase
from simulator.tokenizer import THINK_END_ID, THINK_START_ID


def message_parts(gen: Generation, needs_both_tags: bool) -> tuple[str | None, str | None]:
    """`(reasoning, content)` of a non-streamed chat choice."""
    if needs_both_tags and not (THINK_START_ID in gen.token_ids and THINK_END_ID in gen.token_ids):
        return None, gen.text or None
    return gen.reasoning(), gen.content()


def stream_phase(gen: Generation, step: int, needs_both_tags: bool) -> Phase:
    """Where the streamed delta of token `step` lands (MARKER and EOS carry no text)."""
    phase = gen.phases[step]
    if not needs_both_tags or phase is Phase.EOS:
        return phase
    token = gen.token_ids[step]
    if token in (THINK_START_ID, THINK_END_ID):
        return Phase.MARKER
    before = gen.token_ids[:step]
    if THINK_START_ID in before and THINK_END_ID not in before:
        return Phase.REASONING
    return Phase.CONTENT
