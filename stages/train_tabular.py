"""Stage ``train_tabular``: fit one Table 1 baseline and score it on the test year.

One DVC matrix entry per model (``--model``).  Writes the output directory atomically::

    <out>/predictions.parquet   cell_id, lon, lat, year, period, land_cover, gpp, pred
    <out>/shap.parquet          LightGBM TreeSHAP of the test rows (models with ``shap: true``)
    <out>/info.json             model kind, source of its defaults, features, fit decisions

the metrics JSON (RMSE, MAE, R2) for ``dvc metrics``, and with ``--cost`` the fit / predict
seconds and memory (they change on every rerun: not a DVC output, read by no stage).  A model
with n > 1 seeds (``train_tabular.seeds`` or its own ``seeds``) is fitted once per seed: the
metrics are the mean over seeds plus a ``seeds`` block (each seed's values, sd); predictions,
SHAP and info come from the first seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stcg import stage
from stcg.baselines.tabular.config import TrainTabularConfig
from stcg.baselines.tabular.run import run_tabular_seeds
from stcg.config import load_section, to_dict
from stcg.data.dataset import load_dense, read_meta
from stcg.data.writer import write_parquet
from stcg.errors import StcgError
from stcg.io import atomic_path, write_json


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, fit the model, write predictions, SHAP, info and metrics."""
    ap = stage.parser(__doc__)
    ap.add_argument("--model", required=True, help="key of train_tabular.models")
    ap.add_argument("--data", type=Path, required=True, help="dataset directory (build_data)")
    ap.add_argument("--out", type=Path, required=True, help="output directory to write")
    ap.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    ap.add_argument("--cost", type=Path, help="JSON of timings and memory to write")
    args = ap.parse_args(argv)
    cfg = load_section(TrainTabularConfig, "train_tabular", args.params)
    if args.model not in cfg.models:
        raise StcgError(f"--model {args.model!r} is not in {args.params}: "
                 f"train_tabular.models (known: {', '.join(sorted(cfg.models))})")

    def log(msg: str) -> None:
        print(f"train_tabular: {msg}", file=sys.stderr, flush=True)

    meta = read_meta(args.data)
    years = sorted(set(meta.train_years) | set(meta.test_years))
    log(f"loading {args.data} years {years[0]}-{years[-1]}")
    dense = load_dense(args.data, years=years)
    res = run_tabular_seeds(dense, meta, args.model, cfg, log=log)
    res.info["config"] = to_dict(cfg.models[args.model])
    res.info["features_config"] = to_dict(cfg.features)

    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        write_parquet(res.predictions, tmp / "predictions.parquet")
        if res.contributions is not None:
            write_parquet(res.contributions, tmp / "shap.parquet")
        write_json(tmp / "info.json", res.info)
    cost = res.metrics.pop("cost")
    write_json(args.metrics, res.metrics)
    if args.cost is not None:
        write_json(args.cost, cost)


if __name__ == "__main__":
    stage.run(main)
