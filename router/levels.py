"""The effort classifier's level head and its calibration (pure: arrays in, weights and numbers out).

:mod:`router.train` chooses the head (``TrainConfig.level_model``) and the examples it sees; this module
fits it: a multinomial logistic regression or an adjacent-category ordinal head over the same columns, the
temperature of the level logits, and the cut points ``(medium, high)`` of
:func:`router.classifier.choose_effort`. scikit-learn and scipy (optional extra ``train``) are imported
inside the fitting functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from router.classifier import MEDIAN_CUTS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def fit_multinomial(x: Any, levels: IntArray, keep: BoolArray, w: FloatArray, c: float) -> FloatArray:
    """A multinomial level head's weights (3 x (columns + bias)), fitted on the rows ``keep`` selects."""
    from sklearn.linear_model import LogisticRegression

    level_coef = np.zeros((3, x.shape[1] + 1))
    present = sorted(set(levels[keep].tolist()))
    if len(present) >= 2:
        lv = LogisticRegression(C=c, solver="newton-cg", max_iter=500)
        lv.fit(x[keep], levels[keep], sample_weight=w[keep])
        for row, cls in enumerate(lv.classes_.tolist()):
            coef = lv.coef_[row] if len(lv.classes_) > 2 else lv.coef_[0] * (1 if row else -1) / 2
            level_coef[cls, :-1] = coef
            level_coef[cls, -1] = lv.intercept_[row] if len(lv.classes_) > 2 else 0.0
        for cls in set(range(3)) - set(present):
            level_coef[cls, -1] = -10.0
    elif present:
        level_coef[:, -1] = -10.0
        level_coef[present[0], -1] = 0.0
    return level_coef


def fit_ordinal(x: Any, levels: IntArray, keep: BoolArray, w: FloatArray, c: float) -> FloatArray:
    """An adjacent-category ordinal level head (3 x (columns + bias)), fitted on the rows ``keep`` selects.

    One difficulty score ``s = x·β + β0`` is a weighted ridge regression of the level's rank (low 0, medium
    1, high 2; penalty ``1 / levels_c``); the logits of low, medium and high are ``0``, ``a·s + b1`` and
    ``2a·s + b2``, with ``(a, b1, b2)`` the weighted maximum-likelihood fit (a convex problem in three
    numbers). Every level row is a multiple of ``β``, so a higher score always moves probability from low to
    high, and the artifact keeps the multinomial's layout. With fewer than three levels present it falls
    back to :func:`fit_multinomial`.
    """
    from scipy.optimize import minimize
    from sklearn.linear_model import Ridge

    if len(set(levels[keep].tolist())) < 3:
        return fit_multinomial(x, levels, keep, w, c)
    xk, yk, wk = x[keep], levels[keep], w[keep]
    ridge = Ridge(alpha=1.0 / c, solver="sparse_cg").fit(xk, yk, sample_weight=wk)
    beta, beta0 = np.asarray(ridge.coef_, dtype=np.float64), float(ridge.intercept_)
    score = np.asarray(xk @ beta, dtype=np.float64) + beta0
    design = np.stack([np.zeros_like(score), score, 2.0 * score], axis=1)  # d logit / d a, per level
    onehot = np.eye(3)[yk]

    def nll(p: FloatArray) -> tuple[float, FloatArray]:
        z = p[0] * design + np.array([0.0, p[1], p[2]])
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        resid = (np.exp(logp) - onehot) * wk[:, None]  # d nll / d logit
        grad = np.array([float((resid * design).sum()), float(resid[:, 1].sum()), float(resid[:, 2].sum())])
        return -float((wk * logp[np.arange(len(yk)), yk]).sum()), grad

    a, b1, b2 = minimize(nll, np.array([1.0, 0.0, 0.0]), jac=True, method="L-BFGS-B").x.tolist()
    coef = np.zeros((3, x.shape[1] + 1))
    coef[1, :-1], coef[1, -1] = a * beta, a * beta0 + b1
    coef[2, :-1], coef[2, -1] = 2.0 * a * beta, 2.0 * a * beta0 + b2
    return coef


def softmax_t(logits: FloatArray, temp: float) -> FloatArray:
    """Level distributions from level logits at temperature ``temp``."""
    z = logits / temp
    z = np.exp(z - z.max(axis=1, keepdims=True))
    shares: FloatArray = z / z.sum(axis=1, keepdims=True)
    return shares


#: The level temperatures searched (geometric, 0.3 to 12; until 2026-12-07 0.3 to 4.0, which the fit reached).
TEMPERATURES = np.round(np.geomspace(0.3, 12.0, 41), 4)


def fit_temperature(level_logits: FloatArray, lv: FloatArray) -> float:
    """The level temperature on :data:`TEMPERATURES` minimising the log loss of ``lv`` (1.0 without any)."""
    best_t, best_nll = 1.0, math.inf
    if len(lv):
        for t in TEMPERATURES.tolist():
            z = level_logits / t
            z = z - z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            nll = -float(logp[np.arange(len(lv)), lv.astype(np.int64)].mean())
            if nll < best_nll:
                best_t, best_nll = float(t), nll
    return best_t


#: The grid the level cut points are searched on: 0.02, 0.04, ..., 0.98.
CUT_GRID = np.round(np.arange(0.02, 0.99, 0.02), 2)


def fit_level_cuts(shares: FloatArray, labels: FloatArray) -> tuple[float, float]:
    """The cut points ``(medium, high)`` minimising the mean absolute level error (0 low, 1 medium, 2 high).

    ``shares`` are level distributions given thinking (rows low, medium, high), ``labels`` the true levels.
    The rule is :func:`router.classifier.choose_effort`'s: high when ``P(high) >= high``, else medium when
    ``P(medium) + P(high) >= medium``, else low. Ties go to the pair nearest the median (0.5, 0.5).
    """
    if not len(labels):
        return MEDIAN_CUTS
    p_high = shares[:, 2][:, None]
    p_up = (shares[:, 1] + shares[:, 2])[:, None]
    up = p_up >= CUT_GRID[None, :]  # n x grid: medium or higher at each medium cut
    hi = p_high >= CUT_GRID[None, :]  # n x grid: high at each high cut
    best: tuple[float, float, float, float] = (math.inf, math.inf, *MEDIAN_CUTS)
    for j, h in enumerate(CUT_GRID.tolist()):
        # level = 2 where high, else 1 where up, else 0: for every medium cut at once
        level = np.where(hi[:, j : j + 1], 2, up.astype(np.int64))
        errors = np.abs(level - labels[:, None]).mean(axis=0)
        for i, m in enumerate(CUT_GRID.tolist()):
            key = (round(float(errors[i]), 9), abs(m - 0.5) + abs(h - 0.5))
            if key < best[:2]:
                best = (key[0], key[1], m, h)
    return best[2], best[3]
