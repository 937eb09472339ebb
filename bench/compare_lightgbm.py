"""Reference point for the STCG model: a default LightGBM on exactly the STCG rows and features.

Trains ``lightgbm.LGBMRegressor()`` (library defaults, fixed seed) on the STCG training samples
(training years, finite GPP, full window) with the current period's features and, unless
``--no-land-cover``, the cell's IGBP class as a categorical feature (as the STCG model's
``land_cover`` token and the tabular baselines), and scores it on
the STCG test samples, next to the per-cell climatology.  With ``--stcg-metrics`` the STCG numbers
of a finished ``train_stcg`` run are put beside them.  Prints JSON; ``--out`` also writes it.

    PYTHONPATH=src python bench/compare_lightgbm.py --data build/climate2gpp --window 8 \
        --stcg-metrics reports/metrics/stcg.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.data.dataset import load_dense, read_meta
from stcg.io import read_json, write_json
from stcg.metrics import regression_metrics
from stcg.train.data import sample_indices
from stcg.train.metrics import climatology_table


def main(argv: list[str] | None = None) -> dict:
    """Run the comparison (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="dataset directory")
    ap.add_argument("--window", type=int, default=8, help="the STCG window L (training rows)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-land-cover", action="store_true", help="only the 26 climate features")
    ap.add_argument("--stcg-metrics", default=None, help="reports/metrics/stcg.json to compare")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import lightgbm as lgb

    meta = read_meta(args.data)
    dense = load_dense(args.data, years=meta.years)
    tr = sample_indices(dense, meta.train_years, args.window, full_window=True)
    te = sample_indices(dense, meta.test_years, args.window, full_window=False)
    yf = dense.y.reshape(-1)

    def features(idx: np.ndarray) -> pd.DataFrame:
        c, t = np.divmod(idx, dense.n_times)
        df = pd.DataFrame(dense.x[c, t], columns=list(dense.variables))
        if not args.no_land_cover:
            df["land_cover"] = pd.Categorical(dense.land_cover[c], categories=range(18))
        return df

    t0 = time.perf_counter()
    model = lgb.LGBMRegressor(random_state=0, n_jobs=args.threads, verbose=-1)
    model.fit(features(tr), yf[tr])
    fit_s = time.perf_counter() - t0
    pred = model.predict(features(te))
    c, t = np.divmod(te, dense.n_times)
    clim = climatology_table(dense, meta.train_years)[c, dense.period[t]]
    result = {
        "rows": {"train": int(tr.size), "test": int(te.size)},
        "features": len(dense.variables) + (0 if args.no_land_cover else 1),
        "lightgbm_default": {**regression_metrics(yf[te], pred), "fit_seconds": fit_s},
        "climatology": regression_metrics(yf[te], clim),
    }
    if args.stcg_metrics:
        rep = read_json(args.stcg_metrics)
        result["stcg"] = rep["test"]
        result["stcg_interp"] = rep.get("test_interp")
    print(json.dumps(result, indent=2))
    if args.out:
        write_json(Path(args.out), result)
    return result


if __name__ == "__main__":
    main()
