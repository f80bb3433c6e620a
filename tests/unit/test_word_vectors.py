"""Static word vectors as extra classifier signals: training's columns, their fold into per-word numbers,
the version-2 artifact and ``thinkgate train --word-vectors`` (small synthetic data)."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest

import router.classifier as classifier_mod
import router.train as train_mod
from gateway.classifier_artifact import read_artifact, read_examples, read_word_vectors
from gateway.commands import train as train_cmd
from router.classifier import ArtifactError, EffortClassifier
from router.conversation import view_from_messages
from router.features import DENSE_NAMES, TextFeatures, text_features, word_sums, word_tokens
from router.train import TrainConfig, example_from_record, train_artifact
from router.word_vectors import (
    WordVectors,
    WordVectorsError,
    fold_word_vectors,
    mean_word_vector,
    word_weights,
)

DIMS = 5
WORDS = [
    *("tom", "apples", "buys", "gives", "many", "left", "compute", "sum", "remainder", "find", "rewrite"),
    *("sentence", "politely", "report", "translate", "spanish", "library", "opens", "tomorrow", "prove"),
    *("theorem", "hello", "thanks"),
]


def _rows(n: int = 30, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        a, b = rng.randint(2, 90), rng.randint(2, 9)
        src = f"src{i % 3}"
        out += [
            {"prompt": f"Tom has {a} apples and buys {b} more. How many are left?", "effort": "low",
             "source": src, "family": f"fam{i % 4}"},
            {"prompt": f"Compute the sum {a} * {b} and find the remainder mod 7.", "effort": "medium",
             "source": src, "family": f"fam{i % 4}"},
            {"prompt": f"Prove the theorem for n = {a}, step by step.", "effort": "high",
             "source": src, "family": f"fam{i % 4}"},
            {"prompt": f"Rewrite this sentence politely: the report {a} now.", "effort": "none",
             "source": src, "family": f"fam{i % 4}"},
            {"prompt": f"Translate into Spanish: the library opens at {b} tomorrow. Thanks!", "effort": "none",
             "source": src, "family": f"fam{i % 4}"},
        ]  # fmt: skip
    return out


@pytest.fixture(scope="module")
def table() -> WordVectors:
    vectors = np.random.default_rng(15).normal(size=(len(WORDS), DIMS))
    return WordVectors(tuple(WORDS), vectors, source="test")


@pytest.fixture(scope="module")
def examples() -> list[Any]:
    return [example_from_record(r) for r in _rows()]


CONFIG = {"calibration_folds": 3, "min_sources": 2, "fold_split": "hash", "weight_group": "family"}


def test_word_weights_and_mean_vector(table: WordVectors) -> None:
    texts = ["Tom buys apples, apples, apples.", "hello world"]
    w = word_weights(table, texts)
    seen = {"tom": 1, "buys": 1, "apples": 3, "hello": 1}
    for word, n in seen.items():
        assert w[WORDS.index(word)] == pytest.approx(1e-3 / (1e-3 + n / 6))
    assert w[WORDS.index("theorem")] == 1.0  # not seen: full weight
    rows = [WORDS.index(t) for t in word_tokens(texts[0]) if t in WORDS]
    expected = (w[rows] @ table.vectors[rows]) / w[rows].sum()
    assert np.allclose(mean_word_vector(table, w, texts[0]), expected)
    assert not mean_word_vector(table, w, "nothing known here").any()


def test_fold_equals_the_standardised_columns(table: WordVectors) -> None:
    """The folded per-word numbers give what the weights of the standardised mean vector give."""
    rng = np.random.default_rng(3)
    coef, mean, scale = rng.normal(size=(4, DIMS)), rng.normal(size=DIMS) * 0.1, rng.uniform(0.5, 2, DIMS)
    sif = rng.uniform(0.01, 1.0, len(WORDS))
    columns, shift = fold_word_vectors(table, sif, coef, mean, scale)
    folded = {w: tuple(col[i] for col in columns) for i, w in enumerate(WORDS)}
    for text in ("Tom buys apples and apples; how many left?", "Prove the theorem. Thanks", "no words"):
        x = (mean_word_vector(table, sif, text) - mean) / scale
        got = np.array(text_features(text, folded).words) - shift  # "no words": none in the table
        assert np.allclose(got, coef @ x, rtol=2e-3, atol=2e-3)
        assert word_sums({}, folded) == (0.0, 0.0, 0.0, 0.0)


def test_trained_fold_matches_the_unfolded_model(table: WordVectors, examples: list[Any]) -> None:
    """``TrainConfig(word_vectors=...)`` reproduces the family CV's setup: the same recipe trained with the
    mean word vector as plain extra dense columns predicts the same (up to the 4-digit rounding)."""
    folded = EffortClassifier.from_artifact(
        json.loads(json.dumps(train_artifact(examples, TrainConfig(**CONFIG, word_vectors=table))))
    )
    sif = word_weights(table, [ex.view.latest_user for ex in examples])

    def featurise(text: str, words: Any = None) -> TextFeatures:
        f = text_features(text)
        return TextFeatures(f.dense + tuple(mean_word_vector(table, sif, text).tolist()), f.unigrams, f.pairs)

    names = (*DENSE_NAMES, *(f"v{i}" for i in range(DIMS)))
    feats = [featurise(ex.view.latest_user) for ex in examples]
    with (
        mock.patch.object(train_mod, "DENSE_NAMES", names),
        mock.patch.object(classifier_mod, "DENSE_NAMES", names),
    ):
        plain = train_artifact(examples, TrainConfig(**CONFIG), features=feats)
        unfolded = EffortClassifier.from_artifact(plain)
        with mock.patch.object(classifier_mod, "text_features", featurise):
            expected = [unfolded.predict(ex.view) for ex in examples[:40]]
            logits = [unfolded.think_logit(ex.view.latest_user) for ex in examples[:40]]
    got = [folded.predict(ex.view) for ex in examples[:40]]
    folded_logits = [folded.think_logit(ex.view.latest_user) for ex in examples[:40]]
    assert len({round(z, 1) for z in logits}) > 3  # the model is not flat
    assert np.allclose(logits, folded_logits, atol=5e-3)
    for a, b in zip(expected, got, strict=True):
        assert a.p_think == pytest.approx(b.p_think, abs=2e-3)
        assert all(a.levels[k] == pytest.approx(b.levels[k], abs=2e-3) for k in a.levels)


def test_artifact_versions(table: WordVectors, examples: list[Any]) -> None:
    old = train_artifact(examples, TrainConfig(**CONFIG))
    assert old["version"] == 1 and "word_weights" not in old
    assert "word vectors" not in str(EffortClassifier.from_artifact(old).predict(examples[0].view).evidence)
    new = train_artifact(examples, TrainConfig(**CONFIG, word_vectors=table))
    assert new["version"] == 2 and new["word_weights"]["words"] == list(WORDS)
    assert len(new["word_weights"]["columns"]) == 5
    assert new["metadata"]["config"]["word_vectors"] == {
        "words": len(WORDS), "dims": DIMS, "sif_a": 1e-3, "source": "test"
    }  # fmt: skip
    clf = EffortClassifier.from_artifact(json.loads(json.dumps(new)))
    view = view_from_messages([{"role": "user", "content": "Prove the theorem for n = 5."}])
    assert clf.predict(view).p_think != EffortClassifier.from_artifact(old).predict(view).p_think
    missing = {k: v for k, v in new.items() if k != "word_weights"}
    with pytest.raises(ArtifactError, match="word_weights"):
        EffortClassifier.from_artifact(missing)
    short = {**new, "word_weights": {"words": list(WORDS), "columns": new["word_weights"]["columns"][:4]}}
    with pytest.raises(ArtifactError, match="5 lists"):
        EffortClassifier.from_artifact(short)
    with pytest.raises(ArtifactError, match="version 3"):
        EffortClassifier.from_artifact({**new, "version": 3})


def test_bad_tables_are_refused() -> None:
    with pytest.raises(WordVectorsError, match="one non-empty row"):
        WordVectors(("a", "b"), np.zeros((3, 2)))
    with pytest.raises(WordVectorsError, match="twice"):
        WordVectors(("a", "a"), np.zeros((2, 2)))


def test_train_command_word_vectors(tmp_path: Path, table: WordVectors) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _rows(12)) + "\n", encoding="utf-8")
    vec = tmp_path / "vectors.npz"
    np.savez_compressed(vec, words=np.array(WORDS), vectors=table.vectors.astype(np.float32))
    out = tmp_path / "model.json.gz"
    parser = argparse.ArgumentParser()
    train_cmd.add_arguments(parser)
    flags = ["--data", str(data), "--out", str(out), "--min-sources", "2", "--calibration-folds", "3"]
    assert train_cmd.run(parser.parse_args([*flags, "--word-vectors", str(vec)])) == 0
    loaded = read_word_vectors(vec)
    assert loaded.words == tuple(WORDS) and loaded.source.startswith("vectors.npz sha256:")
    expected = train_artifact(read_examples(data), TrainConfig(min_sources=2, calibration_folds=3,
                                                               word_vectors=loaded))  # fmt: skip
    assert read_artifact(out) == json.loads(json.dumps(expected))
    assert train_cmd.run(parser.parse_args([*flags, "--word-vectors", str(tmp_path / "none.npz")])) == 2


def test_think_only_vectors_leave_the_level_head_as_without(table: WordVectors, examples: list[Any]) -> None:
    """``word_vectors_levels=False``: the think model gets the vectors, the level head is the one trained
    without them (same weights, temperature and cut points) and its folded word contributions are zero."""
    plain = train_artifact(examples, TrainConfig(**CONFIG))
    both = train_artifact(examples, TrainConfig(**CONFIG, word_vectors=table))
    think_only = train_artifact(
        examples, TrainConfig(**CONFIG, word_vectors=table, word_vectors_levels=False)
    )
    assert think_only["version"] == 2 and think_only["metadata"]["config"]["word_vectors_levels"] is False
    columns = think_only["word_weights"]["columns"]
    assert any(columns[1]) and not any(any(col) for col in columns[2:])  # think: used; levels: zero
    assert any(any(col) for col in both["word_weights"]["columns"][2:])
    for k in (1, 2, 3):  # the level rows, dense weights and bias
        assert think_only["dense_weights"][k] == pytest.approx(plain["dense_weights"][k], abs=1e-4)
    assert think_only["dense_weights"][0] != pytest.approx(plain["dense_weights"][0], abs=1e-4)
    grams = {g: [col[i] for col in plain["gram_weights"][1:]] for i, g in enumerate(plain["vocab"])}
    for i, g in enumerate(think_only["vocab"]):
        assert [col[i] for col in think_only["gram_weights"][1:]] == pytest.approx(grams.get(g, [0.0] * 3),
                                                                                   abs=1e-4)  # fmt: skip
    cal, cal_plain = think_only["calibration"], plain["calibration"]
    assert cal["levels_temperature"] == cal_plain["levels_temperature"]
    assert cal["level_cuts"] == cal_plain["level_cuts"]
    clf = EffortClassifier.from_artifact(json.loads(json.dumps(think_only)))
    ref = EffortClassifier.from_artifact(plain)
    texts = [ex.view.latest_user for ex in examples[:20]]
    assert not np.allclose(
        [clf.think_logit(t) for t in texts], [ref.think_logit(t) for t in texts], atol=1e-3
    )
    for ex in examples[:20]:  # given thinking, the same level shares
        got, want = clf.predict(ex.view).thinking_share(), ref.predict(ex.view).thinking_share()
        assert all(got[k] == pytest.approx(want[k], abs=1e-3) for k in want)


def test_train_command_think_only_flag(tmp_path: Path, table: WordVectors) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _rows(12)) + "\n", encoding="utf-8")
    vec = tmp_path / "vectors.npz"
    np.savez(vec, words=np.array(WORDS), vectors=table.vectors)
    out = tmp_path / "model.json.gz"
    parser = argparse.ArgumentParser()
    train_cmd.add_arguments(parser)
    flags = ["--data", str(data), "--out", str(out), "--min-sources", "2", "--calibration-folds", "3"]
    assert (
        train_cmd.run(parser.parse_args([*flags, "--word-vectors", str(vec), "--word-vectors-think-only"]))
        == 0
    )
    expected = train_artifact(read_examples(data), TrainConfig(min_sources=2, calibration_folds=3,
                                                               word_vectors=read_word_vectors(vec),
                                                               word_vectors_levels=False))  # fmt: skip
    assert read_artifact(out) == json.loads(json.dumps(expected))
    assert train_cmd.run(parser.parse_args([*flags, "--word-vectors-think-only"])) == 2  # needs the vectors
