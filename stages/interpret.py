"""Stage ``interpret``: score every attribution method against the simulator's truth.

Reads ``train_stcg``'s predictions and model file, the dataset (inputs of the test rows, the
training years for the local reference, and on a simulated dataset its ``truth/``), optionally
LightGBM's TreeSHAP table, and writes ``interpretability.json`` (:mod:`stcg.report.interpret`:
each method's scores next to the oracle and the nulls, on the same rows) and the dominant-group
maps.  A dataset without truth (source ``files``) gets the learned maps only and a JSON that says
why it has no scores.  Params: section ``interpret`` (:class:`stcg.report.config.InterpretConfig`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stcg import stage
from stcg.config import load_section
from stcg.data.dataset import read_meta
from stcg.data.periods import week_to_period
from stcg.io import write_json
from stcg.report.attributions import join_shap, load_attributions, load_truth, model_attributions
from stcg.report.config import InterpretConfig
from stcg.report.figures import limiting_factor_maps, save_figure
from stcg.report.headline import interpret_headline
from stcg.report.interpret import (
    MAP_ATTRIBUTIONS,
    headline_table,
    interpretability_scores,
    local_reference_z,
    map_columns,
    method_arrays,
)
from stcg.report.maps import Grid, land_outline
from stcg.report.truth import load_local_truth, local_inputs
from stcg.train.bundle import load_bundle

DEFAULT_FACTORS = ("temperature", "water", "light")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load ``interpret`` params, score, write the JSON and the maps."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset directory (build_data)")
    ap.add_argument("--predictions", type=Path, required=True, help="train_stcg predictions.parquet")
    ap.add_argument("--model", type=Path, required=True, help="train_stcg model.pt")
    ap.add_argument("--shap", type=Path, default=None,
                    help="LightGBM shap.parquet (train_tabular); skipped when absent")
    ap.add_argument("--inputs", type=Path, default=None,
                    help="raw inputs folder (data/) for the GLDAS land outline; optional")
    ap.add_argument("--metrics", type=Path, required=True, help="interpretability JSON to write")
    ap.add_argument("--figure", type=Path, required=True, help="dominant-group maps PNG to write")
    ap.add_argument("--headline", type=Path, default=None,
                    help="headline metrics JSON to write (dominant-factor accuracies; optional)")
    args = ap.parse_args(argv)
    cfg = load_section(InterpretConfig, "interpret", args.params)

    meta = read_meta(args.data)
    att = load_attributions(args.predictions, args.data, args.model)
    periods = att.keys["period"].to_numpy()
    att = att.take(np.isin(periods, [week_to_period(w) for w in cfg.map_weeks]))
    if not len(att.keys):
        raise ValueError(f"interpret.map_weeks {list(cfg.map_weeks)}: no test rows in them")
    factors = tuple(meta.extra.get("limiting_factors", DEFAULT_FACTORS))
    shap = None
    if args.shap is not None and args.shap.exists():
        mask, phi = join_shap(att.keys, pd.read_parquet(args.shap), att.variables)
        if not mask.any():
            print(f"{args.shap}: no row in common with the STCG predictions; SHAP not scored")
        else:
            att = att.take(mask)
            shap = phi
    elif args.shap is not None:
        print(f"{args.shap}: not found; LightGBM TreeSHAP not scored")

    x, x_ref = local_inputs(args.data, att.keys, att.variables, meta.train_years)
    z_ref = local_reference_z(att, {"x": x, "x_ref": x_ref})
    known = load_truth(args.data, att.keys, att.variables) if meta.has_truth else None
    # integrated gradients (the cost of the stage) only where they are scored and mapped
    ig_rows = None if known is None else known[2] >= cfg.min_gpp_true
    model = model_attributions(args.model, args.data, att.keys, z_ref, cfg.ig_steps,
                               global_reference=True, ig_rows=ig_rows, ig_batch=cfg.ig_batch)
    methods = method_arrays(att, z_ref, model, shap)

    truth = None
    if not meta.has_truth:
        scores = {"truth": False,
                  "note": f"dataset source {meta.source!r} has no ground truth: only the "
                          "simulator (source sim) writes the GPP function's parameters that the "
                          "scores need",
                  "rows": {"test": len(att.keys)}}
    else:
        sens, limiting, gpp_true = known
        local = load_local_truth(args.data, att.keys, att.variables, x, x_ref, cfg.truth_ig_steps,
                                 x_global=load_bundle(args.model).stats.mean)
        truth = (limiting, gpp_true, {"effect": sens * att.x_std, "contribution": local["ig"],
                                      "contribution_global": local["ig_global"]})
        scores = interpretability_scores(att, sens, limiting, gpp_true, local, cfg.groups,
                                         factors, cfg.min_gpp_true, model, shap)
        scores["table"] = headline_table(scores)
    scores["map_attribution"] = cfg.map_attribution
    write_json(args.metrics, scores)
    if args.headline:
        write_json(args.headline, interpret_headline(scores))

    grid = Grid(meta.resolution)
    outline, _ = land_outline(args.inputs, att.keys["lon"].to_numpy(), att.keys["lat"].to_numpy(),
                              meta.resolution)
    cols = map_columns(att, cfg.groups, factors, cfg.map_weeks, methods, cfg.map_attribution,
                       truth, cfg.min_gpp_true)
    grey = (f"not scored (true GPP < {cfg.min_gpp_true:g} gC m⁻² d⁻¹) or no attribution"
            if truth is not None else "no attribution (all zero)")
    groups = list(factors) + [g for g in cfg.groups if g not in factors]
    fig = limiting_factor_maps(
        att.keys, cols, groups, cfg.map_weeks, grid, outline, grey_label=grey,
        title=f"Dominant input group: simulator truth vs {MAP_ATTRIBUTIONS[cfg.map_attribution][1]}"
              " (interpret.map_attribution)")
    save_figure(fig, args.figure, cfg.dpi)
    if truth is not None:
        for row in scores["table"]:
            print(f"{row['view']:>12} {row['attribution']:<48} " + " ".join(
                f"{k}={row[k]:.3f}" for k in ("feature_r", "local_rank_r", "rank_abs_r",
                                              "dominant_kappa") if row[k] is not None))
    else:
        print(f"{args.metrics}: {scores['note']}")


if __name__ == "__main__":
    stage.run(main)
