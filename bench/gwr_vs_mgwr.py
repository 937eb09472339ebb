"""Side-by-side timing of our batched GWR against mgwr 2.2.1 on the same data.

Each run does what the few-shot stage does for one week: AICc golden-section bandwidth search
(adaptive bisquare, haversine distances on ``(lon, lat)``) and the final fit, with both
implementations, and records whether they agree (same bandwidth, largest coefficient
difference).  With ``--fewshot`` ours runs with the stage's ridge (1e-6: ERA5-Land bands are
collinear) and mgwr, which has no ridge, is skipped.  Data:
synthetic, few-shot shaped (``n`` cells scattered over the land latitudes, ``k`` collinear-free
covariates, smoothly varying coefficients), or one week of a built few-shot dataset
(``--fewshot build/fewshot/data --week 1``).

Prints and writes JSON (``--out``).  Timings depend on the machine and its load; nothing asserts
on them.  mgwr runs its local fits through joblib with ``--mgwr-jobs`` workers (its default -1 is
every core); ours uses torch's intra-op threads (``--threads``) on CPU, or CUDA if present.

    PYTHONPATH=src python bench/gwr_vs_mgwr.py --n 640 1600 --k 27
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from stcg.baselines.spatial.gwr import GWR
from stcg.device import resolve_device
from stcg.io import write_json


def synthetic(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points, ``k`` covariates, coefficients varying smoothly with position."""
    rng = np.random.default_rng(seed)
    lonlat = np.stack([rng.uniform(-180, 180, n), rng.uniform(-55, 75, n)], 1)
    X = rng.normal(size=(n, k))
    phase = rng.uniform(0, 2 * np.pi, k)
    beta = np.sin(np.radians(lonlat[:, :1]) + phase) * np.cos(np.radians(lonlat[:, 1:]))
    y = 1.0 + (X * beta).sum(1) + rng.normal(scale=0.3, size=n)
    return lonlat, X, y


def fewshot_week(root: Path, week: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training cells of one week of a few-shot dataset, z-scored as the stage does."""
    from stcg.data.periods import week_to_period
    from stcg.fewshot.dataset import read_fewshot
    from stcg.fewshot.runners import Standardizer

    fs = read_fewshot(root)
    p = week_to_period(week)
    tr = fs.train
    std = Standardizer.fit(fs.x[tr, p])
    return fs.coords[tr], std.transform(fs.x[tr, p]), fs.y[tr, p]


def run_ours(lonlat, X, y, device: str, ridge: float) -> dict:
    t0 = time.perf_counter()
    model = GWR(lonlat, y, X, spherical=True, ridge=ridge, device=device)
    sel = model.select_bandwidth("AICc")
    t1 = time.perf_counter()
    res = model.fit(sel.bw)
    t2 = time.perf_counter()
    return {"bw": sel.bw, "aicc": res.aicc, "fits": len(sel.history), "search_s": t1 - t0,
            "fit_s": t2 - t1, "total_s": t2 - t0, "params": res.params}


def run_mgwr(lonlat, X, y, jobs: int) -> dict:
    from mgwr.gwr import GWR as MGWR
    from mgwr.sel_bw import Sel_BW

    t0 = time.perf_counter()
    sel = Sel_BW(lonlat, y[:, None], X, kernel="bisquare", fixed=False, spherical=True,
                 n_jobs=jobs)
    bw = sel.search(criterion="AICc")
    t1 = time.perf_counter()
    res = MGWR(lonlat, y[:, None], X, bw, kernel="bisquare", fixed=False, spherical=True,
               n_jobs=jobs).fit()
    t2 = time.perf_counter()
    return {"bw": float(bw), "aicc": float(res.aicc), "fits": len(sel.sel_hist),
            "search_s": t1 - t0, "fit_s": t2 - t1, "total_s": t2 - t0, "params": res.params}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[640, 1600], help="synthetic sizes")
    ap.add_argument("--k", type=int, default=27, help="synthetic covariates (+ intercept)")
    ap.add_argument("--fewshot", type=Path, default=None, help="few-shot dataset instead")
    ap.add_argument("--week", type=int, default=1)
    ap.add_argument("--device", default="auto", help="auto (CUDA when available) | cpu | cuda")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads for ours")
    ap.add_argument("--mgwr-jobs", type=int, default=1, help="joblib workers for mgwr")
    ap.add_argument("--skip-mgwr-above", type=int, default=5000, help="n beyond which mgwr is skipped")
    ap.add_argument("--out", type=Path, default=Path("reports/bench/gwr_vs_mgwr.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = ([("fewshot", *fewshot_week(args.fewshot, args.week))] if args.fewshot else
             [(f"synthetic_n{n}", *synthetic(n, args.k)) for n in args.n])
    out = {"machine": {"cpu": platform.processor() or platform.machine(),
                       "torch": torch.__version__, "device": str(resolve_device(args.device)),
                       "threads": args.threads, "mgwr_jobs": args.mgwr_jobs},
           "runs": {}}
    for name, lonlat, X, y in cases:
        ridge = 1e-6 if args.fewshot else 0.0
        ours = run_ours(lonlat, X, y, args.device, ridge)
        row = {"n": len(y), "p": X.shape[1] + 1, "ours": {k: v for k, v in ours.items()
                                                          if k != "params"}}
        if len(y) <= args.skip_mgwr_above and ridge == 0.0:
            ref = run_mgwr(lonlat, X, y, args.mgwr_jobs)
            row["mgwr"] = {k: v for k, v in ref.items() if k != "params"}
            row["same_bandwidth"] = ref["bw"] == ours["bw"]
            if row["same_bandwidth"]:
                row["max_abs_param_diff"] = float(np.abs(ref["params"] - ours["params"]).max())
            row["speedup_total"] = ref["total_s"] / ours["total_s"]
        out["runs"][name] = row
        print(json.dumps({name: row}, indent=2, default=float))
    write_json(args.out, out)


if __name__ == "__main__":
    main()
