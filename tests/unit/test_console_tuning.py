"""The Tune view's arithmetic (shared with ``thinkgate eval``) and its policy edit, without a server."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from gateway.classifier_artifact import examples_from_text
from gateway.commands import eval as eval_command
from gateway.config import parse_policy_text
from gateway.console.policy_edit import changed_policy
from router.classifier import ClassifierThresholds, Prediction
from router.conversation import ChatView
from router.effort import Effort
from router.evaluation import DEFAULT_BUDGETS
from router.train import DataError, Example
from router.tuning import THINK_GRID, judge, metrics_at, misjudged, sweep

SMALL = Path(__file__).resolve().parents[1] / "browser" / "data" / "labelled_small.jsonl"


def _example(effort: Effort) -> Example:
    return Example(
        view=ChatView(turns=(("user", effort.value),)), think=effort is not Effort.NONE, effort=effort
    )


def _pred(p: float, high: float = 0.2) -> Prediction:
    rest = p - p * high
    return Prediction(
        p_think=p, levels={"none": 1 - p, "low": rest / 2, "medium": rest / 2, "high": p * high}
    )


EXAMPLES = [
    _example(e) for e in (Effort.NONE, Effort.NONE, Effort.LOW, Effort.MEDIUM, Effort.HIGH, Effort.NONE)
]
PREDS = [_pred(0.1), _pred(0.55), _pred(0.4), _pred(0.7, 0.1), _pred(0.9, 0.8), _pred(0.95)]


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all((math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


def test_every_sweep_point_is_the_metrics_at_that_threshold() -> None:
    th = ClassifierThresholds()
    points = sweep(EXAMPLES, PREDS, th, DEFAULT_BUDGETS)
    assert [p["think"] for p in points] == list(THINK_GRID)
    for point in points:
        at = metrics_at(EXAMPLES, PREDS, th.model_copy(update={"think": point["think"]}), DEFAULT_BUDGETS)
        assert _same({k: v for k, v in point.items() if k != "think"}, at.summary())
    assert points[0]["think_share"] == 1.0 and points[-1]["think_share"] == 0.0


def test_misjudged_lists_the_think_mistakes_most_confident_first() -> None:
    th = ClassifierThresholds(think=0.5)
    judged = judge(EXAMPLES, PREDS, th)
    wrong = misjudged(judged, th.think, limit=10)
    assert [j.index for j in wrong] == [5, 2, 1]  # |p - 0.5|: 0.45 (none), 0.10 (low), 0.05 (none)
    summary = metrics_at(EXAMPLES, PREDS, th, DEFAULT_BUDGETS).summary()
    assert summary["accuracy"] == pytest.approx(1 - len(wrong) / len(EXAMPLES))
    assert misjudged(judged, th.think, limit=1) == wrong[:1]


POLICY = """\
# my policy: comments and layout must survive the console's edit
version: 1
backends:
  pool: {family: qwen3, mode: hybrid, model: m, endpoints: ["http://127.0.0.1:9"]}   # one pool
models:
  auto: {thinking: [pool], instruct: [pool]}
budgets: {minimal: 512, low: 1024, medium: 4096, high: 16384}
classifier: {on_error: high}
"""


def test_policy_change_keeps_comments_and_changes_only_what_moved() -> None:
    running = parse_policy_text(POLICY)
    text, diff = changed_policy(
        POLICY, running, ClassifierThresholds(think=0.55), {"low": 2048, "medium": 4096}
    )
    assert "# my policy: comments and layout must survive" in text and "# one pool" in text
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert len(changed) == 4  # budgets line and classifier line, each - and +
    new = parse_policy_text(text)
    assert new.classifier.thresholds.think == 0.55 and new.budgets.low == 2048
    assert new.model_dump(exclude={"classifier", "budgets"}) == running.model_dump(
        exclude={"classifier", "budgets"}
    )
    assert changed_policy(POLICY, running, running.classifier.thresholds, {"low": 1024}) == (POLICY, "")


def test_policy_change_writes_null_budgets_as_null() -> None:
    running = parse_policy_text(POLICY)
    text, _ = changed_policy(POLICY, running, running.classifier.thresholds, {"high": None})
    assert yaml.safe_load(text)["budgets"]["high"] is None and "high: null" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('{"prompt": "a", "effort": "none"}\n\n{oops\n', "upload:3: not valid JSON", id="json"),
        pytest.param('"just a string"\n', "upload:1: each line must be a JSON object", id="not-object"),
        pytest.param(
            '{"prompt": "a", "effort": "none"}\n{"prompt": 3, "effort": "low"}\n', "record 2", id="record"
        ),
    ],
)
def test_uploaded_text_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        examples_from_text(text)


def test_eval_plot_draws_the_tradeoff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tradeoff.png"
    assert eval_command.main(["--data", str(SMALL), "--json", "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"accuracy"' in capsys.readouterr().out  # eval's JSON output is unchanged by --plot
