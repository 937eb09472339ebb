"""Large-batch schedule vs the paper batch: two trainings of a built dataset, side by side.

    python bench/large_batch.py --profile default --data build/climate2gpp \\
        --graph build/graph/graph.npz --batch-size 4096 --lr-scaling sqrt --warmup-epochs 1

Trains ``train_stcg`` of ``--profile`` twice through :func:`stcg.train.run.train_stcg` (same
seed, epochs and samples per epoch): once as params.yaml says (the paper batch), once with
``optim.batch_size``, ``optim.lr_scaling`` and ``optim.warmup_epochs`` replaced; prints and writes
(``--json``, default ``reports/bench/large_batch_<profile>.json``) both test RMSE / R2, the wall
times and the settings.  ``--epochs`` / ``--samples-per-epoch`` shorten both runs alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from stcg.config import from_dict, read_params, resolve_profile
from stcg.io import write_json
from stcg.train.config import TrainStcgConfig
from stcg.train.run import train_stcg


def main(argv: list[str] | None = None) -> dict:
    """Run both trainings (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profile", default="default", choices=["tiny", "default", "paper"])
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", required=True, help="dataset built with the same profile")
    ap.add_argument("--graph", required=True, help="its graph")
    ap.add_argument("--batch-size", type=int, required=True, help="the large batch")
    ap.add_argument("--lr-scaling", default="sqrt", choices=["none", "linear", "sqrt"])
    ap.add_argument("--warmup-epochs", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=None, help="both runs (default: the profile's)")
    ap.add_argument("--samples-per-epoch", type=int, default=None, help="both runs")
    ap.add_argument("--device", default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    raw = resolve_profile(read_params(args.params)["train_stcg"], args.profile)
    cfg = from_dict(TrainStcgConfig, raw, where="params.yaml: train_stcg")
    over: dict = {}
    if args.epochs:
        over["epochs"] = args.epochs
    if args.samples_per_epoch:
        over["samples_per_epoch"] = args.samples_per_epoch
    base = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, **over),
                               monitor_samples=0, seeds=1,  # one timed run each
                               **({"device": args.device} if args.device else {}))
    big = dataclasses.replace(base, optim=dataclasses.replace(
        base.optim, batch_size=args.batch_size, lr_scaling=args.lr_scaling,
        warmup_epochs=args.warmup_epochs))
    res: dict = {"profile": args.profile, "data": str(args.data)}
    with tempfile.TemporaryDirectory(prefix="stcg-large-batch-") as tmp:
        for name, c in (("paper_batch", base), ("large_batch", big)):
            t0 = time.perf_counter()
            rep = train_stcg(args.data, args.graph, c, Path(tmp) / name, None,
                             Path(tmp) / f"{name}.json", None, progress=False)
            assert rep is not None
            o = c.optim
            res[name] = {
                "batch_size": o.batch_size, "lr_scaling": o.lr_scaling,
                "base_batch_size": o.base_batch_size, "warmup_epochs": o.warmup_epochs,
                "lr": o.lr, "lr_final": o.lr_final, "epochs": o.epochs,
                "samples_per_epoch": o.samples_per_epoch, "wall_s": round(time.perf_counter() - t0, 1),
                "test_rmse": rep["test"]["rmse"], "test_r2": rep["test"]["r2"],
            }
            print(f"{name}: {json.dumps(res[name])}", file=sys.stderr, flush=True)
    res["rmse_ratio_large_over_paper"] = res["large_batch"]["test_rmse"] / \
        res["paper_batch"]["test_rmse"]
    print(json.dumps(res, indent=2))
    write_json(args.json or Path("reports/bench") / f"large_batch_{args.profile}.json", res)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
