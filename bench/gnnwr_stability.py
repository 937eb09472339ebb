"""Seed spread of GNNWR on the few-shot data at one week, under several early-stopping rules.

GNNWR keeps the epoch with the lowest validation loss on ``val_fraction`` of the training cells
(patience ``patience``).  With 64 validation cells that loss is noisy, and the kept epoch, so
the test RMSE, changes with the seed.  This bench fits ``--seeds`` seeds per variant (seed ``i``
draws the validation cells, the initialisation and the batches, as ``fewshot_weekly.gnnwr.seeds``)
and reports, per variant, the test RMSE of every seed, its mean and sample sd, and the kept
epochs:

* ``current``: gnnwr's rule (the raw validation loss, the best epoch's weights), the other
  settings from params.yaml's active profile;
* ``val_0.2``: a larger validation share (20 % of the training cells);
* ``ema_0.9``: early stopping on an exponential moving average of the validation loss;
* ``avg_last_10``: the mean of the weights of the 10 epochs ending at the best one;
* ``ema_0.9+avg_last_10``: both.

Usage (after ``build_fewshot`` on the profile to measure; ``stcg profile default``)::

    python bench/gnnwr_stability.py --data build/fewshot/data --week 30 --seeds 5 \\
        --out reports/bench/gnnwr_stability.json
    python bench/gnnwr_stability.py --seeds 10 --variants current ema_0.9+avg_last_10 \\
        --out reports/bench/gnnwr_stability_10seeds.json

Prints a table and writes JSON (atomically).  No timed asserts; CPU, one torch thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from stcg.config import active_profile, load_section, read_params
from stcg.data.periods import week_key
from stcg.fewshot.config import FewshotWeeklyConfig
from stcg.fewshot.dataset import read_fewshot
from stcg.fewshot.runners import fit_gnnwr_week, fit_seeds
from stcg.io import write_json
from stcg.metrics import mean_sd

VARIANTS: dict[str, dict] = {
    "current": {"val_fraction": 0.1, "val_smoothing": 0.0, "average_last": 1},
    "val_0.2": {"val_fraction": 0.2, "val_smoothing": 0.0, "average_last": 1},
    "ema_0.9": {"val_fraction": 0.1, "val_smoothing": 0.9, "average_last": 1},
    "avg_last_10": {"val_fraction": 0.1, "val_smoothing": 0.0, "average_last": 10},
    "ema_0.9+avg_last_10": {"val_fraction": 0.1, "val_smoothing": 0.9, "average_last": 10},
}


def main(argv: list[str] | None = None) -> None:
    """Fit every variant on every seed, print and write the comparison."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("build/fewshot/data"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--week", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out", type=Path, default=Path("reports/bench/gnnwr_stability.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    cfg = load_section(FewshotWeeklyConfig, "fewshot_weekly", args.params)
    fs = read_fewshot(args.data)
    wk = week_key(args.week)
    res: dict = {
        "profile": active_profile(read_params(args.params)),
        "data": {"cells": fs.n, "train_cells": int(fs.train.sum()),
                 "test_cells": int(fs.is_test.sum())},
        "week": args.week, "seeds": args.seeds,
        "settings": {k: v for k, v in dataclasses.asdict(cfg.gnnwr).items()
                     if k in ("max_epochs", "patience", "lr", "batch_size", "seed")},
        "variants": {},
    }
    print(f"{'variant':22s} {'test RMSE mean':>14s} {'sd':>7s} {'best epoch':>12s}  seconds")
    for name in args.variants:
        vcfg = dataclasses.replace(cfg.gnnwr, seeds=args.seeds, **VARIANTS[name])
        t0 = time.perf_counter()
        metrics, _ = fit_seeds(fs, vcfg, lambda c: fit_gnnwr_week(fs, args.week, c, "cpu"),
                               (args.week,))
        secs = time.perf_counter() - t0
        runs = metrics["seeds"]["runs"] if "seeds" in metrics else [metrics]
        rmse = [r["weeks"][wk]["test"]["rmse"] for r in runs]
        epochs = [r["info"]["best_epoch"] for r in runs]
        m, sd = mean_sd(rmse)
        em, esd = mean_sd(epochs)
        res["variants"][name] = {
            "settings": VARIANTS[name], "test_rmse": rmse, "test_rmse_mean": m,
            "test_rmse_sd": sd, "best_epoch": epochs, "best_epoch_mean": em,
            "best_epoch_sd": esd, "seconds": secs,
        }
        print(f"{name:22s} {m:14.4f} {sd or 0:7.4f} {em:6.0f} ± {esd or 0:3.0f}  {secs:7.1f}",
              flush=True)
    write_json(args.out, res)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
