"""The Tune view: score an uploaded labelled JSONL set once, then its metrics at any operating point.

Uploads are parsed by the same reader as ``thinkgate eval`` (``examples_from_text``) and scored by the
classifier artifact of the running policy; metrics, sweep and misjudgements come from :mod:`router.tuning`,
as in ``thinkgate eval``. A scored set lives in this process's memory only (a few at a time, the oldest
dropped first) and is never logged or written anywhere.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from gateway.classifier_artifact import examples_from_text, load_classifier
from gateway.console.access import require_bearer
from gateway.console.policy_edit import BUDGET_LEVELS, changed_policy
from gateway.errors import BadRequest, NotFound
from gateway.pipeline.prologue import gateway_state, read_body
from gateway.protocol import parse_json_object
from gateway.reload import validate
from gateway.wiring import SharedState
from router.classifier import ArtifactError, ClassifierThresholds, EffortClassifier, Prediction
from router.effort import CLASSIFIER_LEVELS
from router.policy import Policy
from router.train import DataError, Example
from router.tuning import judge, metrics_at, misjudged, sweep

router = APIRouter()

MAX_EXAMPLES = 20_000
MAX_SETS = 4
MISJUDGED_SHOWN = 50


@dataclass(frozen=True, slots=True)
class Dataset:
    """A scored upload: the labelled examples and the classifier's prediction for each."""

    examples: list[Example]
    preds: list[Prediction]


class DatasetStore:
    """The scored uploads of this process (newest ``MAX_SETS``), and the classifiers that scored them."""

    def __init__(self) -> None:
        self._sets: OrderedDict[str, Dataset] = OrderedDict()
        self._classifiers: dict[str | None, EffortClassifier] = {}

    def add(self, data: Dataset) -> str:
        key = secrets.token_urlsafe(12)
        self._sets[key] = data
        while len(self._sets) > MAX_SETS:
            self._sets.popitem(last=False)
        return key

    def get(self, key: str) -> Dataset:
        data = self._sets.get(key)
        if data is None:
            raise NotFound("no such dataset (uploads are kept in memory, a few at a time): upload it again")
        self._sets.move_to_end(key)
        return data

    def remove(self, key: str) -> None:
        self.get(key)
        del self._sets[key]

    async def classifier(self, artifact: str | None) -> EffortClassifier:
        clf = self._classifiers.get(artifact)
        if clf is None:
            clf = await asyncio.to_thread(load_classifier, artifact)
            self._classifiers[artifact] = clf
        return clf


def _store(request: Request) -> DatasetStore:
    store: DatasetStore = request.app.state.console_datasets
    return store


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


def policy_budgets(policy: Policy) -> dict[str, int | None]:
    """The budgets ``thinkgate eval --policy`` reads from the same policy (``none`` is 0)."""
    return {"none": 0, **{k: getattr(policy.budgets, k) for k in BUDGET_LEVELS}}


def _operating_point(
    policy: Policy, raw: Mapping[str, Any]
) -> tuple[ClassifierThresholds, dict[str, int | None]]:
    base = policy.classifier.thresholds.model_dump()
    given = raw.get("thresholds") or {}
    if not isinstance(given, Mapping):
        raise BadRequest("'thresholds' must be an object {think, medium, high}", param="thresholds")
    try:
        thresholds = ClassifierThresholds.model_validate({**base, **given})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(f"thresholds.{where}: {first['msg']}", param="thresholds") from None
    budgets = policy_budgets(policy)
    given_b = raw.get("budgets") or {}
    if not isinstance(given_b, Mapping):
        raise BadRequest("'budgets' must be an object {low, medium, high}", param="budgets")
    for key, value in given_b.items():
        if key not in BUDGET_LEVELS:
            raise BadRequest(f"budgets.{key}: expected one of {', '.join(BUDGET_LEVELS)}", param="budgets")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise BadRequest(f"budgets.{key} must be a positive integer or null", param="budgets")
        budgets[key] = value
    return thresholds, budgets


def _excerpt(ex: Example, limit: int = 240) -> str:
    text = ex.view.latest_user or (ex.view.turns[-1][1] if ex.view.turns else "")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evaluation(
    data: Dataset, thresholds: ClassifierThresholds, budgets: Mapping[str, int | None]
) -> dict[str, Any]:
    """Everything the Tune view shows for one operating point (the sweep included)."""
    metrics = metrics_at(data.examples, data.preds, thresholds, budgets)
    judged = judge(data.examples, data.preds, thresholds)
    wrong = misjudged(judged, thresholds.think, MISJUDGED_SHOWN)
    return {
        "n": len(data.examples),
        "thresholds": thresholds.model_dump(),
        "budgets": dict(budgets),
        "levels": [e.value for e in CLASSIFIER_LEVELS],
        "summary": metrics.summary(),
        "confusion": metrics.confusion,
        "misjudged_total": sum(j.wrong for j in judged),
        "misjudged": [
            {
                "index": j.index + 1,
                "prompt": _excerpt(data.examples[j.index]),
                "label": j.label.value,
                "think": j.think,
                "chosen": j.chosen.value,
                "p_think": round(j.p_think, 4),
                "reason": j.reason,
            }
            for j in wrong
        ],
        "sweep": sweep(data.examples, data.preds, thresholds, budgets),
    }


@router.post("/console/api/datasets", include_in_schema=False)
async def upload(request: Request) -> Response:
    """Body: labelled JSONL (``thinkgate eval``'s format). Scores it; 400 names the first bad line."""
    require_bearer(request)
    state = gateway_state(request)
    raw = await read_body(request, state.settings.max_body_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the upload must be UTF-8 JSONL text", code="invalid_dataset") from None
    try:
        examples = examples_from_text(text, "upload")
    except DataError as exc:
        raise BadRequest(f"not a labelled JSONL file: {exc}", code="invalid_dataset") from None
    if not examples:
        raise BadRequest("the upload has no records (one JSON object per line)", code="invalid_dataset")
    if len(examples) > MAX_EXAMPLES:
        raise BadRequest(
            f"the upload has {len(examples)} records; the console takes up to {MAX_EXAMPLES}",
            code="invalid_dataset",
        )
    policy = state.policy
    store = _store(request)
    try:
        clf = await store.classifier(policy.classifier.artifact)
    except ArtifactError as exc:
        raise BadRequest(
            f"the policy's classifier artifact cannot be loaded: {exc}", code="invalid_dataset"
        ) from None
    preds = await asyncio.to_thread(lambda: [clf.predict(ex.view) for ex in examples])
    data = Dataset(examples, preds)
    key = store.add(data)
    thresholds, budgets = policy.classifier.thresholds, policy_budgets(policy)
    result = await asyncio.to_thread(evaluation, data, thresholds, budgets)
    return _json({"id": key, **result}, status=201)


@router.post("/console/api/datasets/{key}/evaluate", include_in_schema=False)
async def evaluate(request: Request, key: str) -> Response:
    """Body ``{"thresholds"?: {think, medium, high}, "budgets"?: {low, medium, high}}`` (default: policy)."""
    require_bearer(request)
    state = gateway_state(request)
    data = _store(request).get(key)
    raw = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    thresholds, budgets = _operating_point(state.policy, raw)
    return _json(await asyncio.to_thread(evaluation, data, thresholds, budgets))


@router.delete("/console/api/datasets/{key}", include_in_schema=False)
async def forget(request: Request, key: str) -> Response:
    require_bearer(request)
    _store(request).remove(key)
    return Response(status_code=204)


@router.post("/console/api/policy-change", include_in_schema=False)
async def policy_change(request: Request) -> Response:
    """The running policy with the given thresholds/budgets: ``{base_version, text, diff}``, validated like
    ``PUT /admin/policy`` (which the page then calls to apply it)."""
    require_bearer(request)
    state = gateway_state(request)
    raw = parse_json_object(await read_body(request, state.settings.max_body_bytes))
    shared: SharedState = request.app.state.shared
    current = shared.policies.current
    thresholds, budgets = _operating_point(current.policy, raw)
    text, diff = changed_policy(current.text, current.policy, thresholds, budgets)
    if diff:
        validate(text, "console", current.policy)
    return _json({"base_version": current.version, "text": text, "diff": diff})
