"""Stage ``figures``: paper Figures 4 and 5 and the STCG training curves as PNG.

Reads ``train_stcg``'s predictions and model file, the dataset (the inputs of the test rows,
for ``w_j z_j``) and the DVCLive folder of ``train_stcg``; writes the three PNGs
(:mod:`stcg.report.figures`).  Params: section ``figures`` (:class:`stcg.config.FiguresConfig`).
"""

from __future__ import annotations

from pathlib import Path

from stcg import stage
from stcg.config import FiguresConfig, load_section
from stcg.data.dataset import read_meta
from stcg.report.attributions import load_attributions
from stcg.report.figures import (
    figure4,
    figure5,
    read_dvclive_tsvs,
    save_figure,
    training_curves,
)
from stcg.report.maps import Grid, land_outline


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load ``figures`` params, draw and write the figures."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="dataset directory (build_data)")
    ap.add_argument("--predictions", type=Path, required=True, help="train_stcg predictions.parquet")
    ap.add_argument("--model", type=Path, required=True, help="train_stcg model.pt")
    ap.add_argument("--curves", type=Path, required=True,
                    help="DVCLive metrics folder of train_stcg (…/plots/metrics)")
    ap.add_argument("--inputs", type=Path, default=None,
                    help="raw inputs folder (data/) for the GLDAS land outline; optional")
    ap.add_argument("--fig4", type=Path, required=True, help="Figure 4 PNG to write")
    ap.add_argument("--fig5", type=Path, required=True, help="Figure 5 PNG to write")
    ap.add_argument("--fig-curves", type=Path, required=True, help="training curves PNG to write")
    args = ap.parse_args(argv)
    cfg = load_section(FiguresConfig, "figures", args.params)

    meta = read_meta(args.data)
    att = load_attributions(args.predictions, args.data, args.model)
    grid = Grid(meta.resolution)
    outline, source = land_outline(args.inputs, att.keys["lon"].to_numpy(),
                                   att.keys["lat"].to_numpy(), meta.resolution)
    save_figure(figure4(att, cfg.regions, cfg.top_features, meta.resolution), args.fig4, cfg.dpi)
    save_figure(figure5(att, cfg.map_variable, cfg.map_weeks, grid, outline,
                        cfg.weight_percentile), args.fig5, cfg.dpi)
    save_figure(training_curves(read_dvclive_tsvs(args.curves)), args.fig_curves, cfg.dpi)
    print(f"{args.fig4}, {args.fig5}, {args.fig_curves} written (outline: {source})")


if __name__ == "__main__":
    stage.run(main)
