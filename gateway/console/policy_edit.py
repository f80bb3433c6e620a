"""The Tune view's policy change: the running policy's YAML with new thresholds and budgets, and its diff.

Edited with ruamel.yaml's round-trip mode, so the operator's comments, key order and flow style survive and
the diff shows only the lines that change. Only values that differ from the running policy are written.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from gateway.errors import BadRequest
from router.classifier import ClassifierThresholds
from router.policy import Policy

#: the budget levels the Tune view edits (those ``thinkgate eval`` reads)
BUDGET_LEVELS = ("low", "medium", "high")


def _null(representer: Any, _: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _section(parent: Any, key: str) -> Any:
    child = parent.get(key)
    if child is None:
        child = CommentedMap()
        parent[key] = child
    if not isinstance(child, Mapping):
        raise BadRequest(f"the running policy's '{key}' is not a mapping; edit the file by hand")
    return child


def changed_policy(
    text: str, running: Policy, thresholds: ClassifierThresholds, budgets: Mapping[str, int | None]
) -> tuple[str, str]:
    """The policy text with ``thresholds`` and ``budgets`` written in, and the unified diff from ``text``."""
    yaml = YAML()  # round-trip
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.representer.add_representer(type(None), _null)  # keep ``null`` as written (ruamel prints nothing)
    try:
        data = yaml.load(text)
    except YAMLError as exc:
        raise BadRequest(f"the running policy's text cannot be edited as YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise BadRequest("the running policy's text is not a YAML mapping")
    old_th = running.classifier.thresholds
    th_changes = {k: v for k, v in thresholds.model_dump().items() if getattr(old_th, k) != v}
    if th_changes:
        section = _section(_section(data, "classifier"), "thresholds")
        for key, value in th_changes.items():
            section[key] = value
    budget_changes = {
        k: budgets[k] for k in BUDGET_LEVELS if k in budgets and getattr(running.budgets, k) != budgets[k]
    }
    if budget_changes:
        section = _section(data, "budgets")
        for key, value in budget_changes.items():
            section[key] = value
    if not th_changes and not budget_changes:
        return text, ""
    out = io.StringIO()
    yaml.dump(data, out)
    new = out.getvalue()
    diff = difflib.unified_diff(
        text.splitlines(keepends=True), new.splitlines(keepends=True), "running policy", "proposed policy"
    )
    return new, "".join(diff)
