"""The interpretability scores of ``reports/metrics/interpretability.json`` (beyond the paper).

Every attribution method is scored on the same rows (the test rows of the map weeks, which are
also the rows with LightGBM's TreeSHAP, whose true GPP is at least ``min_gpp_true``: where GPP is
~0 every attribution is ~0 and a ranking of them is noise), next to the oracle and the nulls of
:func:`stcg.report.scores.validated_scores`.  Two views, each against its own truth:

* **effect** (GPP per standard deviation of the input, a local slope): the STCG weights ``w``
  and the target head's gradient ``dy/dz``, against ``s_j std_j`` (the simulator's slope);
* **contribution** (how much each input moved this sample's GPP from the cell's usual value at
  this time of year, gC m-2 d-1): against the simulator's integrated gradients from the cell's
  training-years climatology (:mod:`stcg.report.truth`).  Methods: ``w (z - z_ref)`` and
  ``dy/dz (z - z_ref)`` (about the same local reference as the truth) and Captum's integrated
  gradients of the target head from ``z_ref``;
* **contribution_global** (the same about the training mean, ``z = 0``: the reference of the
  paper's ``w z`` and, nearly, of TreeSHAP, whose reference is the mean prediction): against the
  simulator's integrated gradients from the training mean.  Methods: ``w z``, ``dy/dz z``,
  integrated gradients from ``z = 0`` and LightGBM's TreeSHAP.  Each method is scored against
  the truth about its own reference.

The simulator's limiting factor (the smallest of its temperature, water and light scalars) is
not a term of GPP (GPP is linear in PAR, so light never "limits" in the sense of a share of the
change), so no attribution can be scored against it: it is drawn as a map only, and the JSON
records how often the truth's own dominant group coincides with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stcg.data.periods import week_to_period
from stcg.report.attributions import Attributions
from stcg.report.scores import (
    HEADLINE_NULL,
    HEADLINE_ORACLE,
    SCORE_KEYS,
    agreement,
    dominant_group,
    group_indices,
    validated_scores,
)

EFFECT_METHODS = {"weights": "STCG weights w", "gradient": "STCG target-head gradient dy/dz"}
CONTRIBUTION_METHODS = {
    "weights_local": "STCG w·(z − z_ref)",
    "gradient_local": "STCG dy/dz·(z − z_ref)",
    "integrated_gradients": "STCG integrated gradients (Captum) from z_ref",
}
GLOBAL_METHODS = {
    "weights_z": "STCG w·z (the paper's)",
    "gradient_z": "STCG dy/dz·z",
    "integrated_gradients_global": "STCG integrated gradients (Captum) from z = 0",
    "treeshap": "LightGBM TreeSHAP",
}
VIEWS = ("effect", "contribution", "contribution_global")
MAP_ATTRIBUTIONS = {**{k: ("effect", v) for k, v in EFFECT_METHODS.items()},
                    **{k: ("contribution", v) for k, v in CONTRIBUTION_METHODS.items()},
                    **{k: ("contribution_global", v) for k, v in GLOBAL_METHODS.items()}}
"""``interpret.map_attribution`` choices: key -> (view, label)."""


def ordered_groups(
    groups: Mapping[str, Sequence[str]], factors: Sequence[str], variables: Sequence[str]
) -> dict[str, np.ndarray]:
    """Group column indices, the limiting factors' groups first in their code order.

    Raises:
        ValueError: if a limiting factor has no group of its name.
    """
    absent = [f for f in factors if f not in groups]
    if absent:
        raise ValueError(f"interpret.groups: no group for the limiting factor(s) {absent}; "
                         f"expected groups named {list(factors)} (and any others)")
    order = list(factors) + [g for g in groups if g not in factors]
    return group_indices(variables, {g: tuple(groups[g]) for g in order})


def _week_agreement(labels: np.ndarray, truth: np.ndarray, periods: np.ndarray,
                    weeks: Sequence[int], k: int) -> dict[int, float | None]:
    return {w: agreement(labels[periods == week_to_period(w)],
                         truth[periods == week_to_period(w)], k)["accuracy"] for w in weeks}


def method_arrays(
    att: Attributions, z_ref: np.ndarray, model: Mapping[str, np.ndarray] | None,
    shap: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Every available attribution of the rows of ``att`` (keys of :data:`MAP_ATTRIBUTIONS`)."""
    out: dict[str, np.ndarray] = {}
    dz = att.z - z_ref
    if att.w is not None:
        out.update(weights=att.w, weights_z=att.w * att.z, weights_local=att.w * dz)
    if model is not None:
        out.update(gradient=model["grad"], gradient_local=model["grad"] * dz,
                   gradient_z=model["grad"] * att.z, integrated_gradients=model["ig"])
        if "ig_global" in model:
            out["integrated_gradients_global"] = model["ig_global"]
    if shap is not None:
        out["treeshap"] = shap
    return out


def interpretability_scores(
    att: Attributions,
    sens: np.ndarray,
    limiting: np.ndarray,
    gpp_true: np.ndarray,
    local: Mapping[str, np.ndarray],
    groups: Mapping[str, Sequence[str]],
    factors: Sequence[str],
    min_gpp_true: float,
    model: Mapping[str, np.ndarray] | None = None,
    shap: np.ndarray | None = None,
) -> dict:
    """Every score (module docstring) as a JSON-ready dict.

    Args:
        att: the STCG attributions of the rows (weights may be None).
        sens: ``[N, F]`` true ``dGPP / dx_j`` (published units), rows as ``att``.
        limiting: ``[N]`` true limiting factor (index into ``factors``).
        gpp_true: ``[N]`` noise-free GPP.
        local: :func:`stcg.report.truth.load_local_truth` of the rows (``x``, ``x_ref``,
            ``ig``, ``ig_error``, ``gpp_check`` and, with a global reference, ``ig_global``).
        groups: group -> feature names (must cover every input GPP reads).
        factors: limiting-factor names in code order (``meta.extra.limiting_factors``).
        min_gpp_true: rows with a smaller true GPP are not scored.
        model: :func:`stcg.report.attributions.model_attributions` of the rows, or None.
        shap: ``[N, F]`` TreeSHAP of the rows, or None.

    Raises:
        ValueError: on misaligned arrays.
    """
    n = len(att.keys)
    if sens.shape != att.z.shape or limiting.shape != (n,) or gpp_true.shape != (n,):
        raise ValueError(f"truth arrays do not match the {n} x {len(att.variables)} attributions")
    gidx = ordered_groups(groups, factors, att.variables)
    v = att.variables
    active = np.asarray(gpp_true >= min_gpp_true)
    z_ref = local_reference_z(att, local)
    eff_true = sens * att.x_std
    con_true = local["ig"]
    methods = method_arrays(att, z_ref, model, shap)
    eff = {k: a[active] for k, a in methods.items() if MAP_ATTRIBUTIONS[k][0] == "effect"}
    con = {k: a[active] for k, a in methods.items() if MAP_ATTRIBUTIONS[k][0] == "contribution"}
    glob = {k: a[active] for k, a in methods.items()
            if MAP_ATTRIBUTIONS[k][0] == "contribution_global"}
    lim_vs_dom = agreement(dominant_group(con_true[active], gidx), limiting[active], len(gidx))
    out: dict = {
        "truth": True,
        "rows": {"test": n, "scored": int(active.sum()), "min_gpp_true": min_gpp_true,
                 "weeks": sorted({int(p) + 1 for p in att.keys["period"]})},
        "groups": {g: [v[j] for j in idx] for g, idx in gidx.items()},
        "group_importance": "abs_sum_norm",
        "headline_rule": f"oracle >= {HEADLINE_ORACLE} and every null within ±{HEADLINE_NULL} of 0",
        "labels": {k: lab for k, (_, lab) in MAP_ATTRIBUTIONS.items()},
        "checks": {
            "interp_reconstruction_rel_rmse": att.interp_rel_rmse,
            "truth_ig_completeness_max_abs": float(np.abs(local["ig_error"]).max(initial=0.0)),
            "truth_gpp_recomputed_max_abs": float(np.abs(local["gpp_check"]).max(initial=0.0)),
            "model_ig_delta_rms": (None if model is None or "ig_delta" not in model
                                   else float(np.sqrt(np.mean(model["ig_delta"][active] ** 2)))),
        },
        "effect": validated_scores(eff, eff_true[active], gidx, v),
        "contribution": validated_scores(con, con_true[active], gidx, v),
        "limiting_factor": {
            "factors": list(factors),
            "truth_dominant_group_vs_limiting": {k: lim_vs_dom[k] for k in
                                                 ("accuracy", "kappa", "majority_baseline")},
        },
    }
    if "ig_global" in local:
        out["contribution_global"] = validated_scores(glob, local["ig_global"][active], gidx, v)
        out["checks"]["truth_ig_global_completeness_max_abs"] = float(
            np.abs(local["ig_global_error"]).max(initial=0.0))
    return out


def local_reference_z(att: Attributions, local: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[N, F]`` the standardised local reference: ``z - (x - x_ref) / std``."""
    return att.z - (local["x"] - local["x_ref"]) / att.x_std


def headline_table(scores: Mapping) -> list[dict]:
    """One row per method, oracle and null of both views: the headline scores (JSON table)."""
    rows = []
    for view in VIEWS:
        s = scores.get(view)
        if not s:
            continue
        entries = [("oracle (exact truth)", s["oracle"])]
        entries += [(MAP_ATTRIBUTIONS[k][1], m) for k, m in s["methods"].items()]
        entries += [(f"null: {k.replace('_', ' ')}", m) for k, m in s["nulls"].items()]
        for name, m in entries:
            rows.append({"view": view, "attribution": name, "rows": m["rows"],
                         **{k: m[k] for k in SCORE_KEYS}})
    return rows


def map_columns(
    att: Attributions,
    groups: Mapping[str, Sequence[str]],
    factors: Sequence[str],
    weeks: Sequence[int],
    methods: Mapping[str, np.ndarray],
    attribution: str,
    truth: tuple[np.ndarray, np.ndarray, Mapping[str, np.ndarray]] | None = None,
    min_gpp_true: float = 0.0,
) -> dict[str, tuple[np.ndarray, np.ndarray, dict[int, float | None] | None]]:
    """The columns of :func:`stcg.report.figures.limiting_factor_maps`.

    The simulator's limiting factor (a map only), the dominant group of the truth in the chosen
    attribution's view, and the dominant group of the chosen STCG attribution and of TreeSHAP,
    each panel titled with its agreement with the truth's dominant group of its own view.  Rows below
    ``min_gpp_true`` (when the truth is known) are drawn as not scored (-1).

    Args:
        methods: :func:`method_arrays` of the rows of ``att``.
        attribution: the STCG attribution drawn (a key of :data:`MAP_ATTRIBUTIONS`).
        truth: ``(limiting [N], gpp_true [N], {view: truth [N, F]})`` or None (views of
            :data:`VIEWS`).

    Raises:
        ValueError: for an unknown or unavailable ``attribution``.
    """
    if attribution not in MAP_ATTRIBUTIONS or attribution == "treeshap":
        raise ValueError(f"interpret.map_attribution: expected one of "
                         f"{[k for k in MAP_ATTRIBUTIONS if k != 'treeshap']}, got {attribution!r}")
    gidx = ordered_groups(groups, factors, att.variables)
    k = len(gidx)
    n = len(att.keys)
    periods = att.keys["period"].to_numpy()
    everywhere = np.ones(n, dtype=bool)
    cols: dict = {}
    active = everywhere
    targets: dict[str, np.ndarray] = {}
    if truth is not None:
        limiting, gpp_true, by_view = truth
        active = gpp_true >= min_gpp_true
        cols["Simulator: limiting factor (map only)"] = (
            everywhere, np.where(active, limiting, -1), None)
        targets = {view: np.where(active, dominant_group(t, gidx), -1)
                   for view, t in by_view.items()}
        view = MAP_ATTRIBUTIONS[attribution][0]
        if view in targets:
            cols[f"Simulator: dominant group of the exact {view.replace('_', ' ')}"] = (
                everywhere, targets[view], None)
    shown = [(attribution, "STCG")] + ([("treeshap", "LightGBM")] if "treeshap" in methods else [])
    for key, who in shown:
        if key not in methods:
            if key == attribution:
                raise ValueError(f"interpret.map_attribution: {attribution!r} is not available "
                                 f"for this model (available: {sorted(methods)})")
            continue
        lab = np.where(active, dominant_group(methods[key], gidx), -1)
        target = targets.get(MAP_ATTRIBUTIONS[key][0])
        acc = (None if target is None
               else _week_agreement(lab[active], target[active], periods[active], weeks, k))
        label = MAP_ATTRIBUTIONS[key][1]
        cols[f"{label}: dominant group" if label.startswith(who) else f"{who}: {label}"] = (
            everywhere, lab, acc)
    return cols


SCORE_TITLES = {
    "feature_r": "ρ per input across samples",
    "local_rank_r": "ρ of percentiles per sample",
    "rank_abs_r": "ρ of \\|·\\| per sample",
    "dominant_kappa": "dominant group κ",
}


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def scores_markdown(scores: Mapping) -> str:
    """``interpretability.json`` as the report's table and its plain-words reading."""
    if not scores.get("truth") or "table" not in scores:
        return f"Not scored: {scores.get('note', 'no ground truth')}.\n"
    rows = scores["rows"]
    head = {v: scores[v]["headline"] for v in VIEWS if v in scores}
    lines = [
        f"Scored rows: {rows['scored']} test samples of weeks "
        f"{', '.join(map(str, rows['weeks']))} (the rows with LightGBM's TreeSHAP; true GPP >= "
        f"{rows['min_gpp_true']} gC m⁻² d⁻¹), every method on the same rows.  Scored inputs: "
        "the ones the simulator's GPP reads.  Groups: "
        + "; ".join(f"**{g}**: {', '.join(v)}" for g, v in scores["groups"].items()) + ".",
        "",
        "| View | Attribution | " + " | ".join(
            SCORE_TITLES[k] + (" (headline)" if any(h.get(k) for h in head.values()) else "")
            for k in SCORE_KEYS) + " |",
        "|---|---|" + "---:|" * len(SCORE_KEYS),
    ]
    for r in scores["table"]:
        name = r["attribution"]
        name = f"*{name}*" if name.startswith(("oracle", "null")) else name
        lines.append(f"| {r['view']} | {name} | "
                     + " | ".join(_fmt(r[k]) for k in SCORE_KEYS) + " |")
    lim = scores.get("limiting_factor", {}).get("truth_dominant_group_vs_limiting", {})
    lines += [
        "",
        "How to read it.  Each row scores one way of explaining the model's prediction against "
        "the simulator's exact answer.  The *oracle* is that exact answer scored as if a model "
        "had produced it: it shows the best a score can give (1).  The *nulls* are explanations "
        "that know nothing about the sample: the truth of another random sample, random noise, "
        "and the same average explanation everywhere.  A score is a headline score (marked) "
        f"when the oracle reaches {HEADLINE_ORACLE} and every null stays within "
        f"±{HEADLINE_NULL} of 0; only those separate right from wrong.  All scores are 0 at "
        "chance and 1 at best.",
        "",
        "* *effect* rows compare a local slope (how much GPP would change per standard deviation "
        "of an input, here and now) with the simulator's slope; *contribution* rows compare how "
        "much each input moved this sample's GPP away from the cell's usual GPP at this time of "
        "year (training-years climatology) with the simulator's exact split of that change "
        "(integrated gradients of the simulator's own GPP function); *contribution_global* rows "
        "do the same about the training mean, the reference of the paper's w·z and of TreeSHAP.",
        "* ρ per input: does the explanation of an input rise and fall across places and seasons "
        "where the truth does?  κ: is the input group that matters most in a sample the one "
        "that truly matters most, beyond what guessing with the same frequencies would get?",
        "* The per-sample ranking of |values| is not a headline score: the same average ranking "
        "everywhere already scores high on it, because the simulator's inputs matter in much "
        "the same order almost everywhere.",
        "",
        "What a user may read from the maps and Figures 4-5: where an attribution method scores "
        "well above its nulls, broad patterns of which input group drives the *change* of GPP "
        "against the local usual state.  What a user may not read: that a large weight means "
        "that input *limits* growth there (the simulator's limiting factor is the smallest of "
        "its stress scalars, a different notion: the truth's own dominant group matches it in "
        f"{_fmt(lim.get('accuracy'))} of the rows, κ {_fmt(lim.get('kappa'))}), that an input "
        "the simulator never reads matters because the model weights it (correlated inputs "
        "share weight), or that a method with scores near its nulls explains anything.  On "
        "real data there is no truth and no oracle: these scores are the only evidence of how "
        "far the explanations can be trusted.",
    ]
    return "\n".join(lines) + "\n"
