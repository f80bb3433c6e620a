"""Scoring of think/no-think decisions shared by the encoder experiments (``encoder_cv.py``,
``encoder_finetune_report.py``; issue 15): numpy only, so it imports under either venv."""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any  # numpy arrays (the project's mypy run does not cover benchmarks/)


def logit(p: Array) -> Array:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def metrics(pred: Array, y: Array) -> tuple[float, float, float, float]:
    """Accuracy, recall on think, precision on no-think, think-share of boolean decisions ``pred``."""
    acc = float((pred == y).mean())
    rec = float((pred & y).sum() / y.sum()) if y.sum() else float("nan")
    said_no = (~pred).sum()
    prec_f = float(((~pred) & (~y)).sum() / said_no) if said_no else float("nan")
    return acc, rec, prec_f, float(pred.mean())
