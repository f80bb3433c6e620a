"""Training, metrics and the classifier commands on small synthetic data (plus one real-data check)."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.classifier_artifact import load_classifier, read_artifact, read_examples, write_artifact
from gateway.commands import calibrate as calibrate_cmd
from gateway.commands import eval as eval_cmd
from gateway.commands import train as train_cmd
from router.classifier import ClassifierThresholds, EffortClassifier, choose_effort
from router.conversation import ChatView
from router.effort import Effort
from router.evaluation import Metrics, loso_predictions, score_predictions
from router.features import DENSE_NAMES
from router.levels import fit_level_cuts
from router.train import (
    LENGTH_SIGNALS,
    NGRAMS,
    DataError,
    Example,
    TrainConfig,
    calibration_split,
    example_from_record,
    sample_weights,
    signal_list,
    train_artifact,
)

REAL_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "effort_train.jsonl"


def _synthetic(n: int = 40, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        a, b, c = rng.randint(2, 90), rng.randint(2, 90), rng.randint(2, 9)
        src = f"src{i % 3}"
        rows.append(
            {
                "prompt": f"Tom has {a} apples and buys {b} more, then gives away {c}. How many are left?",
                "effort": "low",
                "think": True,
                "source": src,
            }
        )
        rows.append(
            {
                "prompt": f"Compute the sum of {a} * {b} + {c} and find the remainder mod 7.",
                "effort": "medium",
                "source": src,
            }
        )
        rows.append(
            {
                "prompt": f"Rewrite this sentence politely: give me the report {a} now.",
                "effort": "none",
                "source": src,
            }
        )
        rows.append(
            {
                "prompt": f"Translate into Spanish: the library opens at {c} tomorrow.",
                "effort": "none",
                "source": src,
            }
        )
    return rows


@pytest.fixture(scope="module")
def small_artifact() -> dict[str, Any]:
    examples = [example_from_record(r) for r in _synthetic()]
    return train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2))


def test_trained_artifact_round_trips_and_separates(small_artifact: dict[str, Any]) -> None:
    clf = EffortClassifier.from_artifact(json.loads(json.dumps(small_artifact)))
    from router.conversation import view_from_messages

    think = clf.predict(
        view_from_messages([{"role": "user", "content": "Sam has 12 pens and buys 30 more. How many?"}])
    )
    plain = clf.predict(
        view_from_messages([{"role": "user", "content": "Rewrite this sentence politely: go away."}])
    )
    assert think.p_think > plain.p_think
    assert small_artifact["metadata"]["examples"] == 160


def test_level_cuts_are_fitted_unless_median(small_artifact: dict[str, Any]) -> None:
    cuts = small_artifact["calibration"]["level_cuts"]
    assert set(cuts) == {"medium", "high"} and all(0.0 < c < 1.0 for c in cuts.values())
    assert EffortClassifier.from_artifact(small_artifact).level_cuts == (cuts["medium"], cuts["high"])
    examples = [example_from_record(r) for r in _synthetic()]
    cfg = TrainConfig(calibration_folds=3, min_sources=2, fit_level_cuts=False)
    assert train_artifact(examples, cfg)["calibration"]["level_cuts"] == {"medium": 0.5, "high": 0.5}


def test_level_cuts_on_source_folds_and_all_candidates() -> None:
    examples = [example_from_record(r) for r in _synthetic()]
    both = train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2, all_level_cuts=True))
    cands = both["metadata"]["level_cut_candidates"]
    assert set(cands) == {"median", "family", "source"} and cands["median"] == [0.5, 0.5]
    assert both["metadata"]["level_cut_rule"] == "source"  # the default since the fourth round
    assert list(both["calibration"]["level_cuts"].values()) == cands["source"]
    by_family = train_artifact(
        examples, TrainConfig(calibration_folds=3, min_sources=2, level_cut_group="family")
    )
    assert by_family["metadata"]["level_cut_rule"] == "family"
    assert set(by_family["metadata"]["level_cut_candidates"]) == {"median", "family"}
    assert list(by_family["calibration"]["level_cuts"].values()) == cands["family"]
    with pytest.raises(DataError, match="level_cut_group"):
        train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2, level_cut_group="task"))


def test_fit_level_cuts_follows_a_flat_distribution() -> None:
    # flat distributions whose largest entry is the label: the median says medium for every row, the
    # fitted cuts recover all three levels
    shares = np.array([[0.40, 0.33, 0.27]] * 30 + [[0.30, 0.40, 0.30]] * 30 + [[0.27, 0.33, 0.40]] * 30)
    labels = np.array([0.0] * 30 + [1.0] * 30 + [2.0] * 30)
    medium, high = fit_level_cuts(shares, labels)
    chosen = [2 if row[2] >= high else 1 if row[1] + row[2] >= medium else 0 for row in shares.tolist()]
    assert chosen == labels.astype(int).tolist()
    assert 0.60 < medium <= 0.70 and 0.30 < high <= 0.40
    # sharp distributions keep the median (ties go to 0.5)
    sharp = np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    assert fit_level_cuts(sharp, np.array([0.0, 1.0, 2.0])) == (0.5, 0.5)
    assert fit_level_cuts(np.zeros((0, 3)), np.zeros(0)) == (0.5, 0.5)


def _fold_members(groups: list[str], folds: list[list[int]]) -> set[frozenset[str]]:
    return {frozenset(groups[i] for i in fold) for fold in folds}


def test_hash_calibration_split_does_not_depend_on_the_other_groups() -> None:
    sizes = {"word_math": 800, "small_talk": 430, "proof": 200, "riddle": 120, "code_task": 126, "few": 40}
    groups = [g for g, n in sizes.items() for _ in range(n)]
    folds = calibration_split(groups, 5, "hash")
    assert sorted(i for fold in folds for i in fold) == list(range(len(groups)))  # every example once
    members = _fold_members(groups, folds)
    assert all(fold for fold in folds) and len(members) == len(folds)  # whole groups, no empty fold
    # one group left out (as the family CV does) and one added: every other group keeps its fold partners
    fewer = [g for g in groups if g != "word_math"] + ["date_time"] * 80
    kept = {m - {"word_math"} for m in members} - {frozenset()}
    assert {m - {"date_time"} for m in _fold_members(fewer, calibration_split(fewer, 5, "hash"))} - {
        frozenset()
    } == kept
    # the greedy split balances by size, so leaving out the largest group reshuffles the others
    greedy = _fold_members(groups, calibration_split(groups, 3, "greedy"))
    greedy_fewer = [g for g in groups if g != "word_math"]
    assert {m - {"word_math"} for m in greedy} - {frozenset()} != _fold_members(
        greedy_fewer, calibration_split(greedy_fewer, 3, "greedy")
    )
    with pytest.raises(DataError, match="fold_split"):
        calibration_split(groups, 5, "random")


def test_training_with_hash_folds() -> None:
    examples = [example_from_record(r) for r in _synthetic()]
    cfg = TrainConfig(calibration_folds=5, fold_split="hash", min_sources=2)
    artifact = train_artifact(examples, cfg)
    assert artifact["metadata"]["config"]["fold_split"] == "hash"
    assert train_artifact(examples, cfg) == artifact  # deterministic
    assert EffortClassifier.from_artifact(artifact).predict(examples[0].view).p_think > 0.5
    with pytest.raises(DataError, match="fold_split"):
        train_artifact(examples, TrainConfig(fold_split="random", min_sources=2))


def test_training_is_deterministic(small_artifact: dict[str, Any]) -> None:
    examples = [example_from_record(r) for r in _synthetic()]
    assert train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2)) == small_artifact


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"effort": "none"}, "needs 'prompt'"),
        ({"prompt": "x"}, "needs 'effort'"),
        ({"prompt": "x", "effort": "huge"}, "unknown effort"),
        ({"prompt": "x", "effort": "xhigh"}, "not a classifier level"),
        ({"prompt": "x", "effort": "low", "think": "yes"}, "'think' must be"),
        ("not a mapping", "JSON object"),
    ],
)
def test_bad_records(record: Any, message: str) -> None:
    with pytest.raises(DataError, match=message):
        example_from_record(record)


def test_record_defaults_and_messages() -> None:
    ex = example_from_record({"messages": [{"role": "user", "content": "hi"}], "effort": "medium"})
    assert ex.think is True and ex.effort is Effort.MEDIUM and ex.source == "unknown"
    assert ex.view.latest_user == "hi"
    assert example_from_record({"prompt": "x", "effort": "none"}).think is False


def test_training_needs_both_classes() -> None:
    rows = [r for r in _synthetic() if r["effort"] == "none"]
    with pytest.raises(DataError, match="both"):
        train_artifact([example_from_record(r) for r in rows])


def test_metrics() -> None:
    m = Metrics()
    budgets = {"none": 0, "low": 1024, "medium": 4096, "high": 16384}
    m.add(True, Effort.MEDIUM, Effort.MEDIUM, budgets)
    m.add(True, Effort.HIGH, Effort.NONE, budgets)
    m.add(False, Effort.NONE, Effort.NONE, budgets)
    m.add(False, Effort.NONE, Effort.LOW, budgets)
    s = m.summary()
    assert s["accuracy"] == 0.5
    assert s["recall_think"] == 0.5
    assert s["precision_nothink"] == 0.5
    assert s["think_share"] == 0.5
    assert s["ordinal_error"] == (0 + 3 + 0 + 1) / 4
    assert s["effort_error_think"] == (0 + 3) / 2  # over the think=true labels only
    assert s["budget_per_request"] == (4096 + 1024) / 4
    assert m.confusion[3][0] == 1
    assert math.isnan(Metrics().summary()["accuracy"])


def test_propose_think_threshold() -> None:
    scores = [0.1, 0.2, 0.3, 0.8, 0.9]
    t = calibrate_cmd.propose_think_threshold(scores, 0.4)
    assert sum(s >= t for s in scores) == 2
    with pytest.raises(ValueError):
        calibrate_cmd.propose_think_threshold(scores, 1.0)


def _run(module: Any, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    result: int = module.run(parser.parse_args(argv))
    return result


def test_commands_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _synthetic(20)) + "\n", encoding="utf-8")
    out = tmp_path / "model.json.gz"
    assert _run(train_cmd, ["--data", str(data), "--out", str(out), "--min-sources", "2"]) == 0
    assert read_artifact(out)["metadata"]["examples"] == 80

    policy = tmp_path / "policy.yaml"
    policy.write_text("budgets: {low: 100, medium: 200, high: 300}\nclassifier: {thresholds: {think: 0.5}}\n")
    capsys.readouterr()
    assert (
        _run(eval_cmd, ["--data", str(data), "--artifact", str(out), "--policy", str(policy), "--json"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["thresholds"]["think"] == 0.5
    assert report["budgets"]["medium"] == 200
    assert report["summary"]["n"] == 80
    assert sum(map(sum, report["confusion"])) == 80

    plot = tmp_path / "sweep.png"
    assert _run(eval_cmd, ["--data", str(data), "--artifact", str(out), "--plot", str(plot)]) == 0
    assert "confusion" in capsys.readouterr().out
    assert plot.stat().st_size > 0

    assert (
        _run(calibrate_cmd, ["--data", str(data), "--artifact", str(out), "--target-think-share", "0.5"]) == 0
    )
    assert "thresholds:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json\n", "not valid JSON"), ('{"prompt": "x"}\n', "record 1"), ("[1]\n", "JSON object")],
)
def test_commands_reject_bad_files(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text(content, encoding="utf-8")
    assert _run(train_cmd, ["--data", str(data), "--out", str(tmp_path / "x.json")]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(DataError):
        read_examples(data)


def test_train_command_passes_the_recipe_flags(tmp_path: Path) -> None:
    """The shipped recipe's settings given as flags give the artifact ``train_artifact`` gives for that config."""
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _synthetic(20)) + "\n", encoding="utf-8")
    out = tmp_path / "model.json.gz"
    flags = ["--calibration-folds", "2", "--fold-split", "hash", "--think-weight-share", "0.6"]
    flags += ["--calibration-think-share", "0.4", "--weight-group", "family", "--median-level-cuts"]
    assert _run(train_cmd, ["--data", str(data), "--out", str(out), "--min-sources", "2", *flags]) == 0
    config = TrainConfig(
        min_sources=2,
        calibration_folds=2,
        fold_split="hash",
        think_weight_share=0.6,
        calibration_think_share=0.4,
        weight_group="family",
        fit_level_cuts=False,
    )
    expected = train_artifact(read_examples(data), config)
    assert read_artifact(out) == json.loads(json.dumps(expected))
    default = train_artifact(read_examples(data), TrainConfig(min_sources=2))
    assert read_artifact(out)["calibration"] != json.loads(json.dumps(default))["calibration"]


def test_train_command_refuses_a_bad_share(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _synthetic(10)) + "\n", encoding="utf-8")
    argv = ["--data", str(data), "--out", str(tmp_path / "x.json"), "--think-weight-share", "1"]
    assert _run(train_cmd, argv) == 2
    assert "share" in capsys.readouterr().err


def test_bad_policy_thresholds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _synthetic(3)) + "\n", encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text("classifier: {thresholds: {think: 3}}\n")
    assert _run(eval_cmd, ["--data", str(data), "--policy", str(policy)]) == 2
    assert "thresholds" in capsys.readouterr().err


def test_write_plain_json(tmp_path: Path, small_artifact: dict[str, Any]) -> None:
    path = tmp_path / "a.json"
    write_artifact(small_artifact, path)
    assert path.read_bytes()[:1] == b"{"
    assert load_classifier(path).predict(example_from_record({"prompt": "hi", "effort": "none"}).view)


@pytest.mark.skipif(not REAL_DATA.exists(), reason="labelled data not present (../shared/data)")
def test_held_out_source_on_real_data() -> None:
    """Train on a small subset of the other sources; a never-seen source must still be classified."""
    examples = read_examples(REAL_DATA)
    rng = random.Random(0)
    train: list[Example] = [ex for ex in examples if ex.source not in ("svamp", "awesome_prompts")]
    train = rng.sample(train, 600)
    clf = EffortClassifier.from_artifact(train_artifact(train, TrainConfig(calibration_folds=3)))
    th = ClassifierThresholds()
    for source, thinks, floor in (("svamp", True, 0.9), ("awesome_prompts", False, 0.6)):
        held = [ex for ex in examples if ex.source == source][:60]
        right = sum(choose_effort(clf.predict(ex.view), th)[0].thinks is thinks for ex in held)
        assert right / len(held) >= floor, source


@pytest.mark.parametrize(("power", "ratio"), [(1.0, 1.0), (0.5, 2.0), (0.0, 4.0)])
def test_sample_weights_balance_sources(power: float, ratio: float) -> None:
    """A source 4x larger weighs 1x (power 1), 2x (power 0.5) or 4x (power 0) as much in total."""
    big = [Example(view=ChatView(turns=(("user", "b"),)), think=False, effort=Effort.NONE, source="big")]
    examples = (
        big * 8
        + [Example(view=ChatView(turns=(("user", "s"),)), think=False, effort=Effort.NONE, source="small")]
        * 2
    )
    w = sample_weights(examples, TrainConfig(source_power=power))
    assert w.mean() == pytest.approx(1.0)
    assert w[:8].sum() / w[8:].sum() == pytest.approx(ratio)


def test_sample_weights_favour_thinking_prompts() -> None:
    view = ChatView(turns=(("user", "x"),))
    examples = [
        Example(view=view, think=True, effort=Effort.LOW, source="a"),
        Example(view=view, think=False, effort=Effort.NONE, source="a"),
    ]
    w = sample_weights(examples, TrainConfig(think_weight=3.0))
    assert w[0] == pytest.approx(3.0 * w[1])


def test_think_weight_share_pins_the_class_totals() -> None:
    """Whatever the sources and think_weight give, the think rows hold the pinned share of the weight; the
    shares inside a class (here: a source 3x larger weighs the same in total) are kept."""
    view = ChatView(turns=(("user", "x"),))
    examples = (
        [Example(view=view, think=True, effort=Effort.LOW, source="t1")] * 6
        + [Example(view=view, think=True, effort=Effort.LOW, source="t2")] * 2
        + [Example(view=view, think=False, effort=Effort.NONE, source="n1")] * 4
    )
    think = np.array([ex.think for ex in examples])
    plain = sample_weights(examples, TrainConfig())
    assert plain[think].sum() / plain.sum() == pytest.approx(3.0 / 4.0)  # two think sources x1.5, one not
    for share in (0.3, 0.5, 0.7367):
        w = sample_weights(examples, TrainConfig(think_weight_share=share))
        assert w.mean() == pytest.approx(1.0)
        assert w[think].sum() / w.sum() == pytest.approx(share)
        assert w[:6].sum() == pytest.approx(w[6:8].sum())
    one_class = examples[:8]
    assert sample_weights(one_class, TrainConfig(think_weight_share=0.5)) == pytest.approx(
        sample_weights(one_class, TrainConfig())
    )
    with pytest.raises(DataError, match="share"):
        sample_weights(examples, TrainConfig(think_weight_share=1.0))


def test_calibration_think_share_moves_p_think() -> None:
    """The Platt fit weighted to a smaller think share gives every prompt a smaller p_think (same ranking
    model); unset, the artifact is the shipped recipe's, byte for byte."""
    examples = [example_from_record(r) for r in _synthetic()]
    base = TrainConfig(calibration_folds=3, min_sources=2)
    plain = train_artifact(examples, base)
    assert plain == train_artifact(
        examples, TrainConfig(calibration_folds=3, min_sources=2, think_weight_share=None)
    )
    low = train_artifact(
        examples, TrainConfig(calibration_folds=3, min_sources=2, calibration_think_share=0.2)
    )
    high = train_artifact(
        examples, TrainConfig(calibration_folds=3, min_sources=2, calibration_think_share=0.8)
    )
    assert low["gram_weights"] == plain["gram_weights"] == high["gram_weights"]
    views = [ex.view for ex in examples[:8]]
    p = {
        name: [EffortClassifier.from_artifact(a).predict(v).p_think for v in views]
        for name, a in (("low", low), ("high", high))
    }
    assert all(lo < hi for lo, hi in zip(p["low"], p["high"], strict=True))
    assert low["metadata"]["config"]["calibration_think_share"] == 0.2


def test_train_command_passes_source_power(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _synthetic(10)) + "\n", encoding="utf-8")
    out = tmp_path / "m.json"
    argv = ["--data", str(data), "--out", str(out), "--min-sources", "2", "--source-power", "0.25"]
    assert _run(train_cmd, argv) == 0
    assert read_artifact(out)["metadata"]["config"]["source_power"] == 0.25


def test_priors_move_the_think_logit_by_their_value() -> None:
    """A hand-set prior on a binary signal shifts the logit of texts with it on by exactly that much."""
    examples = [example_from_record(r) for r in _synthetic()]
    examples.append(
        example_from_record(
            {"prompt": "Does the review sound happy? Yes or No?", "effort": "none", "source": "src0"}
        )
    )
    text_on = "Is the tone of the letter warm or cold?"
    text_off = "Describe the tone of the letter."
    logits = {}
    for shift in (0.0, -2.0):
        cfg = TrainConfig(calibration_folds=3, min_sources=2, priors=(("read_off", shift),))
        clf = EffortClassifier.from_artifact(train_artifact(examples, cfg))
        logits[shift] = clf.think_logit(text_on) - clf.think_logit(text_off)
    assert logits[-2.0] - logits[0.0] == pytest.approx(-2.0, abs=0.01)


def test_unknown_prior_signal_is_rejected() -> None:
    examples = [example_from_record(r) for r in _synthetic()]
    with pytest.raises(DataError, match="unknown signal"):
        train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2, priors=(("nope", 1.0),)))


def test_loso_predictions_hold_out_each_source() -> None:
    """Every example gets exactly one prediction, from a model that never saw its source; the scores pool
    them per source and overall, and a lower think threshold never lowers recall."""
    examples = [example_from_record(r) for r in _synthetic(24)]
    pairs = loso_predictions(examples, TrainConfig(calibration_folds=2))
    assert sorted(id(ex) for ex, _ in pairs) == sorted(id(ex) for ex in examples)
    low = score_predictions(pairs, ClassifierThresholds(think=0.1))
    high = score_predictions(pairs, ClassifierThresholds(think=0.9))
    assert set(low) == {"src0", "src1", "src2", "overall"}
    assert low["overall"]["n"] == len(examples) == sum(low[s]["n"] for s in ("src0", "src1", "src2"))
    assert low["overall"]["recall_think"] >= high["overall"]["recall_think"]
    assert low["overall"]["think_share"] >= high["overall"]["think_share"]


def test_loso_predictions_split_into_parts_give_the_whole() -> None:
    """``only`` holds out a subset of the groups, each model still trained on all the others: the parts'
    predictions, concatenated in group order, are the whole run's."""
    examples = [example_from_record(r) for r in _synthetic(24)]
    config = TrainConfig(calibration_folds=2)
    whole = loso_predictions(examples, config)
    held: list[str] = []
    parts = [
        loso_predictions(examples, config, only={"src0", "src1"}, progress=held.append),
        loso_predictions(examples, config, only={"src2"}, progress=held.append),
    ]
    assert held == ["src0", "src1", "src2"]
    joined = [*parts[0], *parts[1]]
    assert [id(ex) for ex, _ in joined] == [id(ex) for ex, _ in whole]
    assert [pred for _, pred in joined] == [pred for _, pred in whole]
    assert loso_predictions(examples, config, only=set()) == []


def test_family_groups_and_falls_back_to_the_source() -> None:
    rec = {"prompt": "2+2?", "effort": "low", "source": "svamp", "family": "word_math"}
    assert example_from_record(rec).group("family") == "word_math"
    assert example_from_record(rec).group("source") == "svamp"
    assert example_from_record({**rec, "family": ""}).group("family") == "svamp"


def test_leave_one_family_out_holds_out_whole_families() -> None:
    """With ``group="family"`` a family of two sources is held out at once and scored as one group."""
    rows = _synthetic(24)
    for r in rows:
        r["family"] = "fam_b" if r["source"] == "src2" else "fam_a"
    examples = [example_from_record(r) for r in rows]
    held: list[str] = []
    pairs = loso_predictions(examples, TrainConfig(calibration_folds=2), group="family", progress=held.append)
    assert held == ["fam_a", "fam_b"]
    assert sorted(id(ex) for ex, _ in pairs) == sorted(id(ex) for ex in examples)
    scores = score_predictions(pairs, ClassifierThresholds(), group="family")
    assert set(scores) == {"fam_a", "fam_b", "overall"}
    assert scores["fam_a"]["n"] == 2 * scores["fam_b"]["n"]


def _three_levels(n: int = 30) -> list[dict[str, Any]]:
    rng = random.Random(1)
    rows = _synthetic(n)
    for i in range(n):
        a = rng.randint(3, 90)
        rows.append(
            {
                "prompt": f"Prove that for every integer n > {a} the polynomial n^4 + 4 is composite; "
                "justify each step of the proof by induction.",
                "effort": "high",
                "source": f"src{i % 3}",
            }
        )
    return rows


def test_ordinal_level_head_is_one_score() -> None:
    """``level_model="ordinal"``: the low row is zero and the high row's weights are twice the medium row's
    (adjacent-category logits 0, a·s + b1, 2a·s + b2), so the expected level follows one score."""
    examples = [example_from_record(r) for r in _three_levels()]
    art = train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2, level_model="ordinal"))
    low, medium, high = art["dense_weights"][1:]
    assert low == [0.0] * len(low)
    assert high[:-1] == pytest.approx([2 * v for v in medium[:-1]], abs=2e-5)
    assert art["gram_weights"][1] == [0.0] * len(art["vocab"])
    assert art["gram_weights"][3] == pytest.approx([2 * v for v in art["gram_weights"][2]], abs=2e-5)
    assert art["metadata"]["config"]["level_model"] == "ordinal"
    clf = EffortClassifier.from_artifact(json.loads(json.dumps(art)))
    from router.conversation import view_from_messages

    def expected_level(text: str) -> float:
        shares = clf.predict(view_from_messages([{"role": "user", "content": text}])).levels
        return (shares["medium"] + 2 * shares["high"]) / (shares["low"] + shares["medium"] + shares["high"])

    easy = expected_level("Tom has 5 apples and buys 7 more, then gives away 2. How many are left?")
    hard = expected_level("Prove that for every integer n > 9 the polynomial n^4 + 4 is composite.")
    assert easy < hard


def test_ordinal_level_head_falls_back_with_two_levels() -> None:
    examples = [example_from_record(r) for r in _synthetic()]
    ordinal = train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2, level_model="ordinal"))
    plain = train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2))
    assert ordinal["dense_weights"] == plain["dense_weights"]
    with pytest.raises(DataError, match="level_model"):
        train_artifact(examples, TrainConfig(calibration_folds=3, min_sources=2, level_model="tree"))


def test_train_command_passes_the_level_model(tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _three_levels(12)) + "\n", encoding="utf-8")
    out = tmp_path / "model.json.gz"
    argv = ["--data", str(data), "--out", str(out), "--min-sources", "2", "--calibration-folds", "2"]
    assert _run(train_cmd, [*argv, "--level-model", "ordinal"]) == 0
    config = TrainConfig(min_sources=2, calibration_folds=2, level_model="ordinal")
    assert read_artifact(out) == json.loads(json.dumps(train_artifact(read_examples(data), config)))


def test_level_temperature_on_source_folds(monkeypatch: pytest.MonkeyPatch) -> None:
    """``level_temperature_group="source"`` changes the level temperature only, fitted on the level head's
    source-fold predictions (here turned upside down, so the fit must flatten them: the grid's top, 12); the weights
    and the think calibration are the family recipe's, and an unknown grouping is refused."""
    import router.train as train_mod

    examples = [example_from_record(r) for r in _three_levels()]
    base: dict[str, Any] = {"calibration_folds": 3, "min_sources": 2, "fit_level_cuts": False}
    family = train_artifact(examples, TrainConfig(**base))
    by_source = train_mod._oof_levels_by_source
    monkeypatch.setattr(train_mod, "_oof_levels_by_source", lambda *a: -by_source(*a))
    source = train_artifact(examples, TrainConfig(**base, level_temperature_group="source"))
    assert source["dense_weights"] == family["dense_weights"]
    assert source["gram_weights"] == family["gram_weights"]
    assert (source["calibration"]["a"], source["calibration"]["b"]) == (
        family["calibration"]["a"],
        family["calibration"]["b"],
    )
    assert source["calibration"]["level_cuts"] == {"medium": 0.5, "high": 0.5}
    assert family["calibration"]["levels_temperature"] < 12.0
    assert source["calibration"]["levels_temperature"] == 12.0
    assert source["metadata"]["config"]["level_temperature_group"] == "source"
    with pytest.raises(DataError, match="level_temperature_group"):
        train_artifact(examples, TrainConfig(**base, level_temperature_group="prompt"))


def test_level_head_without_length_signals(tmp_path: Path) -> None:
    """``level_without``: the level head's weights on those signals are zero (it is fitted without them) and
    differ elsewhere, while the think row, the Platt fit and so every binary decision stay the recipe's; the
    train command's ``--level-without length`` is :data:`LENGTH_SIGNALS`; an unknown name is refused."""
    examples = [example_from_record(r) for r in _three_levels()]
    base: dict[str, Any] = {"calibration_folds": 3, "min_sources": 2, "level_model": "ordinal"}
    plain = train_artifact(examples, TrainConfig(**base))
    blind = train_artifact(examples, TrainConfig(**base, level_without=LENGTH_SIGNALS))
    hidden = [DENSE_NAMES.index(name) for name in LENGTH_SIGNALS]
    assert plain["dense_weights"][0] == blind["dense_weights"][0]
    assert plain["gram_weights"][0] == blind["gram_weights"][0]
    assert (plain["calibration"]["a"], plain["calibration"]["b"]) == (
        blind["calibration"]["a"],
        blind["calibration"]["b"],
    )
    for row in blind["dense_weights"][2:]:
        assert [row[i] for i in hidden] == [0.0] * len(hidden)
    assert any(plain["dense_weights"][3][i] != 0.0 for i in hidden)
    assert blind["metadata"]["config"]["level_without"] == LENGTH_SIGNALS
    assert signal_list("length, numbers,len_chars") == (*LENGTH_SIGNALS, "numbers")
    no_grams = train_artifact(examples, TrainConfig(**base, level_without=(*LENGTH_SIGNALS, NGRAMS)))
    assert no_grams["dense_weights"][0] == plain["dense_weights"][0]
    assert all(v == 0.0 for row in no_grams["gram_weights"][1:] for v in row)
    assert any(v != 0.0 for v in no_grams["dense_weights"][3][:-1])
    assert signal_list("length,ngrams") == (*LENGTH_SIGNALS, NGRAMS)
    with pytest.raises(DataError, match="unknown signal"):
        signal_list("len_chars,height")
    with pytest.raises(DataError, match="level_without"):
        train_artifact(examples, TrainConfig(**base, level_without=("height",)))
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in _three_levels(12)) + "\n", encoding="utf-8")
    out = tmp_path / "model.json.gz"
    argv = ["--data", str(data), "--out", str(out), "--min-sources", "2", "--calibration-folds", "2"]
    assert _run(train_cmd, [*argv, "--level-model", "ordinal", "--level-without", "length"]) == 0
    config = TrainConfig(
        min_sources=2, calibration_folds=2, level_model="ordinal", level_without=LENGTH_SIGNALS
    )
    assert read_artifact(out) == json.loads(json.dumps(train_artifact(read_examples(data), config)))
