"""Non-negative GPP: ``train_stcg.model.output`` identity vs softplus vs clamp, side by side.

Trains the main model once per (output, seed) on a built dataset with the profile's
``train_stcg`` params (``--epochs`` / ``--samples-per-epoch`` override the budget), one thread
each, sequentially, and records the test RMSE, R2 and the share of negative ``gpp_pred`` values.
Prints one JSON object and writes it under ``reports/bench/``.

Example (after ``stcg profile tiny && dvc repro build_graph``)::

    PYTHONPATH=src python bench/output_head.py --data build/climate2gpp \\
        --graph build/graph/graph.npz --profile tiny --epochs 10 --seeds 0 1
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import _train_args
import numpy as np
import pandas as pd
import torch

from stcg.io import write_json
from stcg.train.run import train_stcg


def main(argv: list[str] | None = None) -> dict:
    ap = _train_args.parser(__doc__)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--samples-per-epoch", type=int, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--outputs", nargs="+", default=["identity", "softplus", "clamp"])
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    base = _train_args.train_config(args)
    optim = base.optim
    if args.epochs is not None:
        optim = dataclasses.replace(optim, epochs=args.epochs)
    if args.samples_per_epoch is not None:
        optim = dataclasses.replace(optim, samples_per_epoch=args.samples_per_epoch)
    runs = []
    for output in args.outputs:
        for seed in args.seeds:
            cfg = dataclasses.replace(base, seed=seed, seeds=1, optim=optim, threads=1, device="cpu",
                                      model=dataclasses.replace(base.model, output=output))
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                rep = train_stcg(args.data, args.graph, cfg, Path(tmp) / "out", None,
                                 Path(tmp) / "m.json", None, progress=False)
                seconds = time.perf_counter() - t0
                pred = pd.read_parquet(Path(tmp) / "out" / "predictions.parquet")
            g = pred["gpp_pred"].to_numpy()
            run = {"output": output, "seed": seed, "test_rmse": rep["test"]["rmse"],
                   "test_r2": rep["test"]["r2"], "test_mae": rep["test"]["mae"],
                   "negative_share": float(np.mean(g < 0)), "min_pred": float(g.min()),
                   "climatology_rmse": rep["climatology"]["test"]["rmse"],
                   "seconds": round(seconds, 1)}
            print(json.dumps(run), file=sys.stderr, flush=True)
            runs.append(run)
    summary = {}
    for output in args.outputs:
        r = [x for x in runs if x["output"] == output]
        rmse = np.array([x["test_rmse"] for x in r])
        summary[output] = {"test_rmse_mean": float(rmse.mean()),
                           "test_rmse_sd": float(rmse.std(ddof=1)) if rmse.size > 1 else None,
                           "negative_share_mean": float(np.mean([x["negative_share"]
                                                                 for x in r]))}
    result = {"profile": args.profile, "epochs": optim.epochs,
              "samples_per_epoch": optim.samples_per_epoch, "seeds": args.seeds, "threads": 1,
              "torch": torch.__version__, "runs": runs, "summary": summary}
    print(json.dumps(result, indent=1))
    out = args.out or Path("reports/bench") / f"output_head_{args.profile}.json"
    write_json(out, result)
    return result


if __name__ == "__main__":
    main()
