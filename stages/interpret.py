"""Stage ``interpret``: score the interpretable weights against the simulator's truth.

Reads ``train_stcg``'s predictions and model file, the dataset (inputs of the test rows, and on
a simulated dataset its ``truth/``), optionally LightGBM's TreeSHAP table, and writes
``interpretability.json`` (:mod:`stcg.report.interpret`) and the limiting-factor maps.  A dataset
without truth (source ``files``) gets the learned map only and a JSON that says why it has no
scores.  Params: section ``interpret`` (:class:`stcg.config.InterpretConfig`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stcg import stage
from stcg.config import InterpretConfig, load_section
from stcg.data.dataset import read_meta
from stcg.io import write_json
from stcg.report.attributions import join_shap, load_attributions, load_truth
from stcg.report.figures import limiting_factor_maps, save_figure
from stcg.report.interpret import interpretability_scores, map_columns
from stcg.report.maps import Grid, land_outline

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
    ap.add_argument("--figure", type=Path, required=True, help="limiting-factor maps PNG to write")
    args = ap.parse_args(argv)
    cfg = load_section(InterpretConfig, "interpret", args.params)

    meta = read_meta(args.data)
    att = load_attributions(args.predictions, args.data, args.model)
    factors = tuple(meta.extra.get("limiting_factors", DEFAULT_FACTORS))
    shap = None
    if args.shap is not None and args.shap.exists():
        shap = join_shap(att.keys, pd.read_parquet(args.shap), att.variables)
        if not shap[0].any():
            print(f"{args.shap}: no row in common with the STCG predictions; SHAP not scored")
            shap = None
    elif args.shap is not None:
        print(f"{args.shap}: not found; LightGBM TreeSHAP not scored")

    truth = None
    if not meta.has_truth:
        scores = {"truth": False,
                  "note": f"dataset source {meta.source!r} has no ground truth: only the "
                          "simulator (source sim) writes the sensitivities and limiting factors "
                          "that the scores need",
                  "rows": {"test": len(att.keys)}}
    elif att.w is None:
        scores = {"truth": True, "note": "no interpretable weights (train_stcg.model.interp: "
                  "false): nothing to score", "rows": {"test": len(att.keys)}}
    else:
        sens, limiting, gpp_true = load_truth(args.data, att.keys, att.variables)
        truth = (limiting, gpp_true)
        scores = interpretability_scores(
            att, sens, limiting, gpp_true, cfg.groups, factors, cfg.group_importance,
            cfg.min_gpp_true, cfg.map_weeks, shap)
    write_json(args.metrics, scores)

    grid = Grid(meta.resolution)
    outline, _ = land_outline(args.inputs, att.keys["lon"].to_numpy(), att.keys["lat"].to_numpy(),
                              meta.resolution)
    cols = map_columns(att, cfg.groups, factors, cfg.group_importance, cfg.map_weeks, truth,
                       cfg.min_gpp_true, shap)
    grey = (f"not scored (true GPP < {cfg.min_gpp_true:g} gC m⁻² d⁻¹) or no attribution"
            if truth is not None else "no attribution (all zero)")
    fig = limiting_factor_maps(att.keys, cols, factors, cfg.map_weeks, grid, outline,
                               grey_label=grey)
    save_figure(fig, args.figure, cfg.dpi)
    if scores.get("stcg"):
        acc = scores["stcg"]["effect"]["dominant"]["vs_limiting"]["accuracy"]
        rho = scores["stcg"]["effect"]["per_sample"]["median"]
        print(f"{args.metrics}: STCG weights vs truth: median per-sample Spearman {rho:.3f}, "
              f"limiting-factor accuracy {acc:.3f}")
    else:
        print(f"{args.metrics}: {scores['note']}")


if __name__ == "__main__":
    stage.run(main)
