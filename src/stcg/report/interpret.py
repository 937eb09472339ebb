"""The interpretability scores of ``reports/metrics/interpretability.json`` (beyond the paper).

Puts :mod:`stcg.report.scores` together for the STCG weights and LightGBM's TreeSHAP:

* rows: the test samples whose true (noise-free) GPP is at least ``min_gpp_true``.  Where GPP is
  ~0 (winter, deserts) every true sensitivity is ~0 and a ranking of them is noise;
* ``stcg.effect``: ``w_j`` vs ``s_j std_j``; ``stcg.contribution``: ``w_j z_j`` vs
  ``s_j std_j z_j`` (module docstring of :mod:`stcg.report.scores`);
* ``lightgbm_shap.contribution``: TreeSHAP ``phi_j`` vs ``s_j std_j z_j`` on the rows that have
  SHAP values (the Figure-5 weeks on the default profile), and ``stcg_on_shap_rows`` the STCG
  scores on exactly those rows, for a like-for-like comparison;
* ``truth_reference``: how often the truth's own dominant effect group is its limiting factor,
  and the scores of the truth of *another* random sample (``shuffled_truth``, a fixed
  permutation): what a location-invariant attribution that knows only which features matter in
  general reaches.  The per-sample correlation has a high floor there (most features never
  matter, light always does), so read the per-sample scores against it;
* ``by_week``: dominant-group agreement with the limiting factor per map week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stcg.baselines.spatial.fewshot import week_key, week_to_period
from stcg.report.attributions import Attributions
from stcg.report.scores import (
    GroupImportance,
    agreement,
    dominant_group,
    group_indices,
    score_view,
    truth_reference,
)

SHUFFLE_SEED = 0
"""Seed of the permutation of ``truth_reference.shuffled_truth``."""


def _without_by_feature(scores: dict) -> dict:
    scores["per_feature"].pop("by_feature", None)
    return scores


def ordered_groups(
    groups: Mapping[str, Sequence[str]], factors: Sequence[str], variables: Sequence[str]
) -> dict[str, np.ndarray]:
    """Group column indices ordered as the limiting-factor codes ``factors``.

    Raises:
        ValueError: if the groups' names are not exactly the factors.
    """
    if set(groups) != set(factors):
        raise ValueError(
            f"interpret.groups: expected exactly the limiting factors {list(factors)}, "
            f"got {sorted(groups)}"
        )
    return group_indices(variables, {f: tuple(groups[f]) for f in factors})


def _week_agreement(labels: np.ndarray, truth: np.ndarray, periods: np.ndarray,
                    weeks: Sequence[int], k: int) -> dict[int, float | None]:
    return {w: agreement(labels[periods == week_to_period(w)],
                         truth[periods == week_to_period(w)], k)["accuracy"] for w in weeks}


def interpretability_scores(
    att: Attributions,
    sens: np.ndarray,
    limiting: np.ndarray,
    gpp_true: np.ndarray,
    groups: Mapping[str, Sequence[str]],
    factors: Sequence[str],
    mode: GroupImportance,
    min_gpp_true: float,
    weeks: Sequence[int],
    shap: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict:
    """Every score (module docstring) as a JSON-ready dict.

    Args:
        att: the STCG attributions of the test rows (must have weights).
        sens: ``[N, F]`` true ``dGPP / dx_j`` (published units), rows as ``att``.
        limiting: ``[N]`` true limiting factor (index into ``factors``).
        gpp_true: ``[N]`` noise-free GPP.
        groups: factor -> feature names.
        factors: limiting-factor names in code order (``meta.extra.limiting_factors``).
        mode: group importance rule.
        min_gpp_true: rows with a smaller true GPP are not scored.
        weeks: weeks of the per-week agreement.
        shap: ``(mask [N], phi [M, F])`` from :func:`stcg.report.attributions.join_shap`.

    Raises:
        ValueError: without weights, or on misaligned arrays.
    """
    if att.w is None:
        raise ValueError("the model has no interpretable weights (train_stcg.model.interp: false)")
    n = len(att.keys)
    if sens.shape != att.w.shape or limiting.shape != (n,) or gpp_true.shape != (n,):
        raise ValueError(f"truth arrays do not match the {n} x {len(att.variables)} attributions")
    gidx = ordered_groups(groups, factors, att.variables)
    k = len(factors)
    active = np.asarray(gpp_true >= min_gpp_true)
    eff_true = sens * att.x_std
    con_true = eff_true * att.z
    w, con = att.w, att.contribution
    periods = att.keys["period"].to_numpy()
    v = att.variables
    perm = np.random.default_rng(SHUFFLE_SEED).permutation(int(active.sum()))
    out: dict = {
        "truth": True,
        "rows": {"test": n, "scored": int(active.sum()), "min_gpp_true": min_gpp_true},
        "groups": {f: [v[j] for j in gidx[f]] for f in factors},
        "group_importance": mode,
        "factors": list(factors),
        "interp_reconstruction_rel_rmse": att.interp_rel_rmse,
        "truth_reference": {
            "dominant_effect_vs_limiting": truth_reference(eff_true[active], limiting[active],
                                                           gidx, mode),
            "shuffled_truth": {
                name: _without_by_feature(score_view(t[active][perm], t[active], v, gidx,
                                                     limiting[active], mode))
                for name, t in (("effect", eff_true), ("contribution", con_true))
            },
        },
        "stcg": {
            "effect": score_view(w[active], eff_true[active], v, gidx, limiting[active], mode),
            "contribution": score_view(con[active], con_true[active], v, gidx, limiting[active],
                                       mode),
        },
    }
    lab = dominant_group(w, gidx, mode)
    by_week = {"stcg_effect": _week_agreement(lab[active], limiting[active], periods[active],
                                              weeks, k)}
    if shap is not None:
        smask, phi = shap
        rows = np.flatnonzero(smask)
        sact = active[rows]
        r = rows[sact]
        out["rows"]["shap"] = int(rows.size)
        out["rows"]["shap_scored"] = int(r.size)
        out["rows"]["shap_weeks"] = sorted({int(p) + 1 for p in periods[rows]})
        if r.size:
            out["lightgbm_shap"] = {"contribution": score_view(
                phi[sact], con_true[r], v, gidx, limiting[r], mode)}
            out["stcg_on_shap_rows"] = {
                "effect": score_view(w[r], eff_true[r], v, gidx, limiting[r], mode),
                "contribution": score_view(con[r], con_true[r], v, gidx, limiting[r], mode),
            }
            slab = dominant_group(phi[sact], gidx, mode)
            by_week["lightgbm_shap"] = _week_agreement(slab, limiting[r], periods[r], weeks, k)
    out["by_week"] = {name: {week_key(wk): a for wk, a in acc.items()}
                      for name, acc in by_week.items()}
    return out


def map_columns(
    att: Attributions,
    groups: Mapping[str, Sequence[str]],
    factors: Sequence[str],
    mode: GroupImportance,
    weeks: Sequence[int],
    truth: tuple[np.ndarray, np.ndarray] | None = None,
    min_gpp_true: float = 0.0,
    shap: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray, dict[int, float | None] | None]]:
    """The columns of :func:`stcg.report.figures.limiting_factor_maps`.

    Rows below ``min_gpp_true`` (when the truth is known) are shown as not scored (-1), so each
    panel's agreement is the one of ``interpretability.json``'s ``by_week``.

    Args:
        truth: ``(limiting [N], gpp_true [N])`` or None (a dataset without truth).
    """
    gidx = ordered_groups(groups, factors, att.variables)
    k = len(factors)
    n = len(att.keys)
    periods = att.keys["period"].to_numpy()
    cols: dict = {}
    active = np.ones(n, dtype=bool)
    limiting = None
    if truth is not None:
        limiting, gpp_true = truth
        active = gpp_true >= min_gpp_true
        cols["Simulator truth: limiting factor"] = (
            np.ones(n, dtype=bool), np.where(active, limiting, -1), None)
    if att.w is not None:
        lab = np.where(active, dominant_group(att.w, gidx, mode), -1)
        acc = (None if limiting is None
               else _week_agreement(lab[active], limiting[active], periods[active], weeks, k))
        cols["STCG: dominant group of the weights w"] = (np.ones(n, dtype=bool), lab, acc)
    if shap is not None:
        smask, phi = shap
        rows = np.flatnonzero(smask)
        lab = np.where(active[rows], dominant_group(phi, gidx, mode), -1)
        acc = None
        if limiting is not None:
            a = active[rows]
            acc = _week_agreement(lab[a], limiting[rows][a], periods[rows][a], weeks, k)
        cols["LightGBM: dominant group of TreeSHAP"] = (smask, lab, acc)
    return cols
