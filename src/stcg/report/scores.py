"""Scoring attributions against the simulator's truth, each score validated in the same run.

The paper shows its interpretable weights (eqs. 17-18) as maps and curves (Figures 4-5) but cannot
check them: real data has no ground truth.  The simulator knows, per sample, the exact local
slope of its GPP in every input (an *effect*) and, via :mod:`stcg.report.truth`, the exact
*contribution* of every input to this sample's departure from the cell's usual GPP at this time
of year.  Attributions are ``[N, F]`` arrays (samples x features) on the truth's scale.

A score is only worth reading if it can tell right from wrong.  So every score is computed, next
to each method, for

* the **oracle**: the exact truth scored as if it were a model (what a perfect attribution gets);
* three **nulls**: the truth of another random sample (``shuffled``), iid standard normal noise
  (``noise``) and the constant mean truth (``mean_truth``: the same attribution everywhere, i.e.
  what "light matters most, LAI second" everywhere gets).

A score is a **headline** score when the oracle reaches at least 0.9 and every null stays within
0.1 of 0 (all scores below are 0 at chance).  Scores over the features the truth uses only (the
inputs GPP reads; the 16 others are 0 in the truth and would reward any ranking that puts them
last):

* ``feature_r``: per feature, the Spearman correlation across samples (does the attribution rise
  and fall where the truth does?); the median over features, undefined (a constant column) = 0;
* ``local_rank_r``: each feature's attribution turned into its percentile among the rows, then
  per sample the Spearman correlation of these percentiles across features (which inputs are
  unusually strong or weak in *this* sample, whatever their typical size); the mean over
  samples, undefined = 0.  Percentiles, not raw deviations: skewed columns would otherwise make
  the shuffled truth score above 0;
* ``rank_abs_r``: per sample, the Spearman correlation of ``|values|`` across features (the
  ranking a user reads off Figure 4).  Kept for reference: the mean truth scores high on it,
  so it measures global knowledge as much as local;
* ``dominant_kappa``: features are pooled into groups (params), a group's importance is
  ``|sum_j v_j| / sqrt(size)`` (under iid noise every group then has the same distribution:
  no group-size bias), and the sample's dominant group is compared with the truth's own dominant
  group by the same rule (so a perfect attribution scores 1): Cohen's kappa (0 = chance, for any
  class frequencies), next to the raw accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from scipy.stats import rankdata

GroupImportance = Literal["abs_sum", "sum_abs", "abs_sum_norm"]

HEADLINE_ORACLE = 0.9
HEADLINE_NULL = 0.1
NULL_SEED = 0
"""Seed of the shuffled and noise nulls."""


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
    values: np.ndarray, groups: Mapping[str, np.ndarray], mode: GroupImportance = "abs_sum_norm"
) -> np.ndarray:
    """``[N, G]`` importance of each group.

    ``abs_sum_norm`` (the scores' rule) is ``|sum_j v_j| / sqrt(size)``; ``abs_sum`` and
    ``sum_abs`` (``sum_j |v_j|``) grow with the group's size and favour large groups.
    """
    v = np.asarray(values, dtype=np.float64)
    cols = []
    for idx in groups.values():
        part = v[:, idx]
        if mode == "abs_sum":
            cols.append(np.abs(part.sum(axis=1)))
        elif mode == "abs_sum_norm":
            cols.append(np.abs(part.sum(axis=1)) / np.sqrt(len(idx)))
        elif mode == "sum_abs":
            cols.append(np.abs(part).sum(axis=1))
        else:
            raise ValueError(f"group_importance: expected abs_sum, abs_sum_norm or sum_abs, "
                             f"got {mode!r}")
    return np.stack(cols, axis=1)


def dominant_group(
    values: np.ndarray, groups: Mapping[str, np.ndarray], mode: GroupImportance = "abs_sum_norm"
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
        "kappa": cohen_kappa(conf),
        "confusion": conf.tolist(),
    }


def cohen_kappa(conf: np.ndarray) -> float | None:
    """Cohen's kappa of a ``[truth][pred]`` confusion matrix (0 = chance; 0 for a constant
    prediction; None without rows)."""
    conf = np.asarray(conf, dtype=np.float64)
    n = conf.sum()
    if n == 0:
        return None
    po = np.trace(conf) / n
    pe = float((conf.sum(axis=1) * conf.sum(axis=0)).sum() / (n * n))
    return float((po - pe) / (1.0 - pe)) if pe < 1.0 else 0.0



def used_features(truth: np.ndarray) -> np.ndarray:
    """``[F]`` bool: the features with a non-zero truth in some row (the inputs GPP reads)."""
    t = np.asarray(truth, dtype=np.float64)
    return (np.abs(np.nan_to_num(t)) > 0).any(axis=0)


def _percentile(a: np.ndarray) -> np.ndarray:
    """Each column as centred percentile ranks across rows (average ranks for ties), in
    ``[-0.5, 0.5]``; a constant column (up to rounding) becomes exactly 0."""
    n = a.shape[0]
    p = (rankdata(a, axis=0) - 0.5) / max(n, 1) - 0.5
    flat = a.std(axis=0) <= 1e-9 * np.maximum(np.abs(a).max(axis=0, initial=0.0), 1e-300)
    p[:, flat] = 0.0
    return p


def _mean0(r: np.ndarray) -> float:
    """Mean with undefined (NaN) counted as 0 (no information)."""
    return float(np.nan_to_num(r, nan=0.0).mean()) if r.size else float("nan")


def score(
    learned: np.ndarray,
    truth: np.ndarray,
    used: np.ndarray,
    groups: Mapping[str, np.ndarray],
) -> dict:
    """The scores of one attribution (module docstring) against the truth's same view.

    Args:
        learned: ``[N, F]`` attributions.
        truth: ``[N, F]`` the truth.
        used: ``[F]`` bool, the features scored (:func:`used_features`).
        groups: :func:`group_indices` output.

    Returns:
        ``feature_r``, ``local_rank_r``, ``rank_abs_r``, ``dominant_kappa``,
        ``dominant_accuracy``, ``by_feature`` and ``rows``.
    """
    a = np.asarray(learned, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    if a.shape != t.shape or a.ndim != 2 or used.shape != (a.shape[1],):
        raise ValueError(f"learned {a.shape}, truth {t.shape} and used {used.shape} do not match")
    au, tu = a[:, used], t[:, used]
    per_f = spearman_along(au, tu, axis=0)
    local = spearman_along(_percentile(au), _percentile(tu), axis=1)
    rank_abs = spearman_along(np.abs(au), np.abs(tu), axis=1)
    k = len(groups)
    dom = agreement(dominant_group(a, groups), dominant_group(t, groups), k)
    return {
        "rows": int(a.shape[0]),
        "feature_r": float(np.median(np.nan_to_num(per_f, nan=0.0))),
        "local_rank_r": _mean0(local),
        "rank_abs_r": _mean0(rank_abs),
        "dominant_kappa": dom["kappa"],
        "dominant_accuracy": dom["accuracy"],
        "by_feature": {name: (float(r) if np.isfinite(r) else None)
                       for name, r in zip(np.flatnonzero(used).tolist(), per_f, strict=True)},
    }


SCORE_KEYS = ("feature_r", "local_rank_r", "rank_abs_r", "dominant_kappa")


def nulls(truth: np.ndarray, seed: int = NULL_SEED) -> dict[str, np.ndarray]:
    """The null attributions of ``truth [N, F]``: shuffled rows, iid N(0, 1), the mean truth."""
    t = np.asarray(truth, dtype=np.float64)
    rng = np.random.default_rng(seed)
    return {
        "shuffled": t[rng.permutation(t.shape[0])],
        "noise": rng.standard_normal(t.shape),
        "mean_truth": np.broadcast_to(t.mean(axis=0), t.shape).copy(),
    }


def validated_scores(
    methods: Mapping[str, np.ndarray],
    truth: np.ndarray,
    groups: Mapping[str, np.ndarray],
    variables: Sequence[str],
    seed: int = NULL_SEED,
) -> dict:
    """Every method's scores with the oracle's and the nulls' on the same rows.

    Args:
        methods: name -> ``[N, F]`` attribution.
        truth: ``[N, F]`` the truth.
        groups: :func:`group_indices` output; must cover every feature the truth uses.
        variables: the F feature names.
        seed: seed of the nulls.

    Returns:
        ``{"rows", "features", "oracle", "nulls": {name: scores}, "methods": {name: scores},
        "headline": {score: bool}}``; ``by_feature`` is keyed by feature name.

    Raises:
        ValueError: if a feature the truth uses is in no group.
    """
    used = used_features(truth)
    grouped = {int(j) for idx in groups.values() for j in idx}
    loose = [variables[j] for j in np.flatnonzero(used) if j not in grouped]
    if loose:
        raise ValueError(f"interpret.groups: the truth uses {loose}, which are in no group; "
                         "add them to a group")
    names = [variables[j] for j in np.flatnonzero(used)]

    def run(a: np.ndarray) -> dict:
        s = score(a, truth, used, groups)
        s["by_feature"] = {names[i]: r for i, r in enumerate(s["by_feature"].values())}
        return s

    oracle = run(truth)
    null = {k: run(v) for k, v in nulls(truth, seed).items()}
    headline = {
        key: bool(oracle[key] is not None and oracle[key] >= HEADLINE_ORACLE
                  and all(n[key] is not None and abs(n[key]) <= HEADLINE_NULL
                          for n in null.values()))
        for key in SCORE_KEYS
    }
    return {
        "rows": int(np.asarray(truth).shape[0]),
        "features": names,
        "oracle": oracle,
        "nulls": null,
        "methods": {k: run(v) for k, v in methods.items()},
        "headline": headline,
    }
