"""The classifier's fast scoring equals the plain formulas, to the last bit (issue 18, session 12).

``EffortClassifier._score`` is written for speed (C-level maps, one lookup per n-gram, sorts for the
evidence). The reference below is the loop it replaced, written plainly: the same sums in the same order, so
every score and every piece of evidence must be *equal* (``==`` on floats), not close. Both run in this
process, so the n-gram sets iterate in the same order (that order, and so the last bit of a sum, depends on
the process's string hash seed).
"""

from __future__ import annotations

import heapq
import itertools
import math
import operator

import pytest

from gateway.classifier_artifact import load_classifier
from router.classifier import CLIP, EffortClassifier
from router.features import DENSE_NAMES, TextFeatures, text_features

PROMPTS = (
    "",
    "   ",
    "?",
    "hi",
    "thanks!",
    "What is the capital of Australia?",
    "Rewrite this sentence in plain English: the aforementioned parties shall convene forthwith.",
    "A baker made 48 muffins in the morning and half as many in the afternoon. She sold 3/4 of all the "
    "muffins. How many muffins does she have left?",
    "Prove that the square root of 2 is irrational.",
    "Let $f(x) = x^2 + 3x - 7$ and compute f(12) + f(-3) = ? Then solve 4x + 9 = 41 for x.",
    "Write a Python function that returns the n-th Fibonacci number in O(log n) time.",
    "def total(items):\n    s = 0\n    for x in items:\n        s += x * 2 - 1\n    return s\n\nWhy is this slow?",
    "Which is larger?\nA) 3/7\nB) 0.43\nC) 5/12\nD) 0.4\nAnswer with the letter.",
    "I want you to act as a travel guide. I will tell you where I am and you suggest places to visit.",
    "用辛普森方法计算积分，并解释每一步。",
    "Доработай код бота, чтобы он отвечал на команды.",
    "now do it for n = 7",
    "The committee reviewed the quarterly figures and noted that revenue grew in every region. " * 40,
    "x" * 5000,
)


def _plain_score(
    clf: EffortClassifier, feats: TextFeatures
) -> tuple[float, tuple[float, ...], tuple[object, ...]]:
    """The scoring loop as it was before it was written for speed (``router/classifier.py`` at e904d2f)."""
    x = [
        min(CLIP, max(-CLIP, (v - m) / s)) for v, m, s in zip(feats.dense, clf._mean, clf._scale, strict=True)
    ]
    out = [row[-1] + sum(map(operator.mul, row, x)) for row in clf._dense_w]
    for k, v in enumerate(feats.words):
        out[k] += v
    uni = feats.unigrams & clf._uni_keys
    pairs = feats.pairs & clf._pair_keys
    present = len(uni) + len(pairs)
    norm = 1.0 / math.sqrt(present) if present else 0.0
    for k in range(4):
        found = sum(clf._uni_w[g][k] for g in uni)
        out[k] += norm * (found + sum(clf._pair_w[p][k] for p in pairs))
    dense = itertools.chain(
        ((name, clf._dense_w[0][i] * x[i], i) for i, name in enumerate(DENSE_NAMES)),
        (("word vectors", v, -2) for v in feats.words[:1]),
    )
    top_uni = heapq.nlargest(6, uni, key=lambda g: abs(clf._uni_w[g][0]))
    top_pairs = heapq.nlargest(6, pairs, key=lambda p: abs(clf._pair_w[p][0]))
    grams = itertools.chain(
        ((g, clf._uni_w[g][0] * norm, -1) for g in top_uni),
        ((" ".join(p), clf._pair_w[p][0] * norm, -1) for p in top_pairs),
    )
    top = heapq.nlargest(6, itertools.chain(dense, grams), key=lambda item: abs(item[1]))
    evidence = tuple(
        (name if i == -2 else f'"{name}"' if i < 0 else name if x[i] >= 0 else f"low {name}", round(value, 3))
        for name, value, i in top
    )
    return out[0], tuple(out[1:]), evidence


@pytest.fixture(scope="module")
def clf() -> EffortClassifier:
    return load_classifier()


@pytest.mark.parametrize("text", PROMPTS)
def test_fast_scores_equal_the_plain_formulas(clf: EffortClassifier, text: str) -> None:
    feats = text_features(text, clf._words)
    fast = clf._score(feats, explain=True)
    assert (fast.think, fast.levels, fast.contributions) == _plain_score(clf, feats)
    assert clf._score(feats, explain=False).levels == fast.levels


def test_the_reference_sees_a_change() -> None:
    """The comparison is sharp: one weight moved by 1e-12 changes the score."""
    clf = load_classifier()
    feats = text_features(PROMPTS[7], clf._words)
    gram = next(iter(feats.unigrams & clf._uni_keys))
    before = _plain_score(clf, feats)
    w = clf._uni_w[gram]
    clf._uni_w[gram] = (w[0] + 1e-12, *w[1:])
    assert clf._score(feats, explain=True).think != before[0]
