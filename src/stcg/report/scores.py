"""Scoring learned attributions against the simulator's ground truth (beyond the paper).

The paper shows its interpretable weights (eqs. 17-18) as maps and curves (Figures 4-5) but cannot
check them: real data has no ground truth.  The simulator writes, per sample, the exact local
sensitivity ``s_j = dGPP / dx_j`` of every input (in the input's published unit) and the limiting
factor (the smallest of the temperature, water and light scalars of its light-use-efficiency
model).  This module compares attributions with that truth; everything here is pure numpy.

Two views, each a ``[N, F]`` array (samples x features) on a common scale:

* **effect** (a sensitivity): the GPP change per one standard deviation of feature ``j``.  The
  STCG weight ``w_j`` multiplies the *standardised* input (``y_interp = w_0 + sum_j w_j z_j``,
  ``z_j = (x_j - mean_j) / std_j``), so it already is a per-std effect; the truth is
  ``s_j * std_j`` (the same training-split ``std_j``).
* **contribution** (an attribution): how much feature ``j`` moves this sample's GPP away from
  the training mean.  STCG: ``w_j z_j``; truth (first order): ``s_j std_j z_j``; LightGBM:
  its TreeSHAP value ``phi_j`` (additive, relative to the mean prediction).  TreeSHAP has no
  effect view (it is not a derivative), so LightGBM is scored on contributions only.

Scores of a learned view ``L`` against the truth's ``R``:

* per-sample Spearman correlation across features (does the sample's ranking of the features
  match?), signed and of absolute values, summarised by mean and median over samples where both
  rows vary;
* per-feature Spearman correlation across samples (does the feature's attribution rise and fall
  where the truth does?), undefined (``None``) for features the truth never uses;
* the dominant group: features are pooled into the truth's factor groups (temperature / water /
  light, a documented mapping in params), a group's importance is ``|sum_j v_j|`` over its
  features (``abs_sum``: correlated features such as the four soil-water layers may split one
  effect between them with either sign) or ``sum_j |v_j|`` (``sum_abs``), and the group with the
  largest importance is the sample's dominant group.  Its accuracy is measured against the
  truth's limiting factor and against the truth's own dominant group (same rule on ``R``), with
  the majority-class rate as the chance baseline and the confusion matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from scipy.stats import rankdata

GroupImportance = Literal["abs_sum", "sum_abs"]


def spearman_along(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """Spearman rank correlation of ``a`` and ``b`` along ``axis`` (average ranks for ties).

    Args:
        a: ``[N, F]`` array.
        b: ``[N, F]`` array of the same shape.
        axis: 1 = one correlation per row (across features), 0 = one per column (across samples).

    Returns:
        ``[N]`` (axis 1) or ``[F]`` (axis 0) correlations; NaN where either side is constant or
        holds a non-finite value.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"expected two equal [N, F] arrays, got {a.shape} and {b.shape}")
    bad = ~(np.isfinite(a) & np.isfinite(b)).all(axis=axis)
    ra = rankdata(np.nan_to_num(a), axis=axis)
    rb = rankdata(np.nan_to_num(b), axis=axis)
    ra -= ra.mean(axis=axis, keepdims=True)
    rb -= rb.mean(axis=axis, keepdims=True)
    num = (ra * rb).sum(axis=axis)
    den = np.sqrt((ra * ra).sum(axis=axis) * (rb * rb).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(den > 1e-12 * np.maximum(1.0, np.abs(num)), num / den, np.nan)
    rho[bad] = np.nan
    return rho


def summarise(values: np.ndarray) -> dict[str, float | int | None]:
    """Mean, median, count and undefined count of a score array (NaN = undefined)."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    n = int(ok.sum())
    return {
        "mean": float(v[ok].mean()) if n else None,
        "median": float(np.median(v[ok])) if n else None,
        "n": n,
        "n_undefined": int(v.size - n),
    }


def group_indices(
    variables: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> dict[str, np.ndarray]:
    """Column indices of each group's features among ``variables`` (features absent are skipped).

    Raises:
        ValueError: if a feature is in two groups, or a group has no feature in ``variables``.
    """
    seen: dict[str, str] = {}
    out: dict[str, np.ndarray] = {}
    pos = {v: i for i, v in enumerate(variables)}
    for g, feats in groups.items():
        for f in feats:
            if f in seen:
                raise ValueError(f"groups: feature {f!r} is in both {seen[f]!r} and {g!r}")
            seen[f] = g
        idx = [pos[f] for f in feats if f in pos]
        if not idx:
            raise ValueError(f"groups.{g}: none of {list(feats)} is among the features")
        out[g] = np.asarray(idx, dtype=np.int64)
    return out


def group_importance(
    values: np.ndarray, groups: Mapping[str, np.ndarray], mode: GroupImportance = "abs_sum"
) -> np.ndarray:
    """``[N, G]`` importance of each group (see module docstring for ``mode``)."""
    v = np.asarray(values, dtype=np.float64)
    cols = []
    for idx in groups.values():
        part = v[:, idx]
        cols.append(np.abs(part.sum(axis=1)) if mode == "abs_sum" else np.abs(part).sum(axis=1))
    return np.stack(cols, axis=1)


def dominant_group(
    values: np.ndarray, groups: Mapping[str, np.ndarray], mode: GroupImportance = "abs_sum"
) -> np.ndarray:
    """``[N]`` index (into ``groups``' order) of the most important group; -1 where all are 0."""
    imp = group_importance(values, groups, mode)
    dom = imp.argmax(axis=1)
    dom[~(imp.max(axis=1) > 0)] = -1
    return dom


def agreement(pred: np.ndarray, truth: np.ndarray, n_classes: int) -> dict:
    """Accuracy of class labels ``pred`` against ``truth`` (rows where both are >= 0).

    Returns:
        ``accuracy``, ``n``, ``majority_baseline`` (the share of the most frequent true class:
        the accuracy of always guessing it) and ``confusion`` (``[truth][pred]`` counts).
    """
    pred = np.asarray(pred, dtype=np.int64)
    truth = np.asarray(truth, dtype=np.int64)
    ok = (pred >= 0) & (truth >= 0)
    n = int(ok.sum())
    conf = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(conf, (truth[ok], pred[ok]), 1)
    return {
        "accuracy": float((pred[ok] == truth[ok]).mean()) if n else None,
        "n": n,
        "majority_baseline": float(conf.sum(axis=1).max() / n) if n else None,
        "confusion": conf.tolist(),
    }


def score_view(
    learned: np.ndarray,
    truth: np.ndarray,
    variables: Sequence[str],
    groups: Mapping[str, np.ndarray],
    limiting: np.ndarray | None,
    mode: GroupImportance = "abs_sum",
) -> dict:
    """Every score of one learned view against the truth's same view (module docstring).

    Args:
        learned: ``[N, F]`` learned effects or contributions.
        truth: ``[N, F]`` the truth's, same scale.
        variables: the F feature names.
        groups: :func:`group_indices` output, ordered as the limiting-factor codes.
        limiting: ``[N]`` truth's limiting factor (index into ``groups``), or None.
        mode: group importance rule.

    Returns:
        A JSON-ready dict: ``per_sample``, ``per_sample_abs``, ``per_feature`` (summary plus
        ``by_feature``), ``dominant`` (``vs_limiting``, ``vs_truth_dominant``).
    """
    learned = np.asarray(learned, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if learned.shape != truth.shape or learned.shape[1] != len(variables):
        raise ValueError(
            f"learned {learned.shape} and truth {truth.shape} must both be [N, {len(variables)}]"
        )
    per_feature = spearman_along(learned, truth, axis=0)
    out: dict = {
        "rows": int(learned.shape[0]),
        "per_sample": summarise(spearman_along(learned, truth, axis=1)),
        "per_sample_abs": summarise(spearman_along(np.abs(learned), np.abs(truth), axis=1)),
        "per_feature": {
            **summarise(per_feature),
            "by_feature": {
                v: (float(r) if np.isfinite(r) else None)
                for v, r in zip(variables, per_feature, strict=True)
            },
        },
    }
    k = len(groups)
    dom = dominant_group(learned, groups, mode)
    dom_true = dominant_group(truth, groups, mode)
    out["dominant"] = {
        "vs_truth_dominant": agreement(dom, dom_true, k),
        "share_undefined": float((dom < 0).mean()) if dom.size else None,
    }
    if limiting is not None:
        out["dominant"]["vs_limiting"] = agreement(dom, np.asarray(limiting), k)
    return out


def truth_reference(
    truth_effect: np.ndarray,
    limiting: np.ndarray,
    groups: Mapping[str, np.ndarray],
    mode: GroupImportance = "abs_sum",
) -> dict:
    """How often the truth's own dominant group (of its effects) is its limiting factor.

    A reference for the learned accuracies: the limiting factor (the smallest scalar) and the
    largest per-std effect are different notions, so even the truth does not reach 1.
    """
    return agreement(dominant_group(truth_effect, groups, mode), np.asarray(limiting), len(groups))
