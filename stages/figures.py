"""Stage ``figures``: paper Figures 4 and 5, the STCG training curves and its error figures.

Reads ``train_stcg``'s predictions, model file and metrics JSON, the dataset (the inputs of the
test rows, for ``w_j z_j``) and the DVCLive folder of ``train_stcg``; writes the PNGs
(:mod:`stcg.report.figures`, :mod:`stcg.report.errors`: test RMSE and bias maps, observed vs
predicted hexbin, RMSE by latitude band and land cover) and the CSV files of the by-group bars
(DVC bar plots).  ``figures.attribution`` selects what Figures 4-5 show (``weights`` for the
paper's).  Params: section ``figures`` (:class:`stcg.report.config.FiguresConfig`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stcg import stage
from stcg.config import load_section
from stcg.data.dataset import read_meta
from stcg.io import atomic_path, read_json
from stcg.report.attributions import FIGURE_ATTRIBUTIONS, load_attributions, select_attribution
from stcg.report.config import FiguresConfig
from stcg.report.errors import (
    cell_errors,
    error_maps,
    group_rmse_figure,
    group_rmse_tables,
    hexbin_figure,
)
from stcg.report.figures import (
    figure4,
    figure5,
    figure_rows,
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
    ap.add_argument("--stcg", type=Path, required=True, help="train_stcg metrics JSON (stcg.json)")
    ap.add_argument("--error-maps", type=Path, required=True, help="RMSE / bias maps PNG to write")
    ap.add_argument("--hexbin", type=Path, required=True,
                    help="observed-vs-predicted hexbin PNG to write")
    ap.add_argument("--by-group", type=Path, required=True,
                    help="RMSE by latitude band / land cover PNG to write")
    ap.add_argument("--csv-lat-band", type=Path, required=True,
                    help="CSV of the RMSE by latitude band to write (a DVC plot)")
    ap.add_argument("--csv-land-cover", type=Path, required=True,
                    help="CSV of the RMSE by land cover to write (a DVC plot)")
    args = ap.parse_args(argv)
    cfg = load_section(FiguresConfig, "figures", args.params)

    meta = read_meta(args.data)
    att = load_attributions(args.predictions, args.data, args.model)
    grid = Grid(meta.resolution)
    outline, source = land_outline(args.inputs, att.keys["lon"].to_numpy(),
                                   att.keys["lat"].to_numpy(), meta.resolution)
    # the attributions (the target head's gradient: the cost of the stage) of the drawn rows only
    drawn = att.take(figure_rows(att.keys, cfg.regions, cfg.map_weeks))
    shown = select_attribution(drawn, cfg.attribution, args.data, args.model, meta.train_years)
    labels = FIGURE_ATTRIBUTIONS[cfg.attribution]
    save_figure(figure4(shown, cfg.regions, cfg.top_features, meta.resolution, labels=labels),
                args.fig4, cfg.dpi)
    save_figure(figure5(shown, cfg.map_variable, cfg.map_weeks, grid, outline,
                        cfg.weight_percentile, label=labels[0]), args.fig5, cfg.dpi)
    save_figure(training_curves(read_dvclive_tsvs(args.curves)), args.fig_curves, cfg.dpi)

    pred = pd.read_parquet(args.predictions, columns=["cell_id", "lon", "lat", "gpp", "gpp_pred"])
    save_figure(error_maps(cell_errors(pred), grid, outline), args.error_maps, cfg.dpi)
    save_figure(hexbin_figure(pred["gpp"].to_numpy(), pred["gpp_pred"].to_numpy()), args.hexbin,
                cfg.dpi)
    tables = group_rmse_tables(read_json(args.stcg))
    save_figure(group_rmse_figure(tables), args.by_group, cfg.dpi)
    for name, path in (("lat_band", args.csv_lat_band), ("land_cover", args.csv_land_cover)):
        with atomic_path(path) as tmp:
            tables[name].to_csv(tmp, index=False, float_format="%.6g")
    print(f"{args.fig4}, {args.fig5}, {args.fig_curves}, {args.error_maps}, {args.hexbin}, "
          f"{args.by_group} written (outline: {source})")


if __name__ == "__main__":
    stage.run(main)
