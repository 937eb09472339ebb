"""Cross-machine drift of STCG: the same seed on 1 vs 2 CPU threads, against the seed spread.

Torch's CPU kernels split float reductions (matrix products, sums) by thread, so the same seed
on another thread count (or another CPU, another torch build) rounds differently, and training
amplifies the difference.  This bench trains ``train_stcg`` (the profile's params) with
``seeds`` seeds on ``--threads-a`` threads, then the first seed again on ``--threads-b``
threads, and records how far the test metrics move against the seed sd (the noise floor).
Prints one JSON object and writes it under ``reports/bench/``.

Example (after ``stcg profile tiny && dvc repro build_graph``)::

    PYTHONPATH=src python bench/thread_drift.py --data build/climate2gpp \\
        --graph build/graph/graph.npz --profile tiny --seeds 3
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import _train_args
import torch

from stcg.io import write_json
from stcg.metrics import sd_at
from stcg.train.config import TrainStcgConfig
from stcg.train.run import train_stcg

KEYS = ("rmse", "mae", "r2", "bias")


def _run(data: Path, graph: Path, cfg: TrainStcgConfig) -> tuple[dict, float]:
    torch.set_num_threads(cfg.threads)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rep = train_stcg(data, graph, cfg, Path(tmp) / "out", None, Path(tmp) / "m.json", None,
                         progress=False)
        return rep, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = _train_args.parser(__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads-a", type=int, default=1)
    ap.add_argument("--threads-b", type=int, default=2)
    args = ap.parse_args(argv)
    base = dataclasses.replace(_train_args.train_config(args), device="cpu", monitor_samples=0)
    a, sec_a = _run(args.data, args.graph,
                    dataclasses.replace(base, seeds=args.seeds, threads=args.threads_a))
    first = a["seeds"]["runs"][0] if "seeds" in a else a
    b, sec_b = _run(args.data, args.graph,
                    dataclasses.replace(base, seeds=1, threads=args.threads_b))
    rows = {}
    for k in KEYS:
        sd = sd_at(a, "test", k)
        drift = b["test"][k] - first["test"][k]
        rows[k] = {f"threads_{args.threads_a}": first["test"][k],
                   f"threads_{args.threads_b}": b["test"][k], "drift": drift,
                   "seed_mean": a["test"][k], "seed_sd": sd,
                   "drift_in_sd": None if not sd else abs(drift) / sd}
    result = {
        "bench": "thread_drift", "profile": args.profile, "seed": base.seed,
        "seeds": args.seeds, "epochs": base.optim.epochs,
        "samples_per_epoch": base.optim.samples_per_epoch,
        "test": rows,
        "seconds": {f"threads_{args.threads_a}_{args.seeds}_seeds": round(sec_a, 1),
                    f"threads_{args.threads_b}_1_seed": round(sec_b, 1)},
        "torch": torch.__version__,
        "command": "PYTHONPATH=src python bench/thread_drift.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
    }
    out = args.out or Path("reports/bench") / f"thread_drift_{args.profile}.json"
    write_json(out, result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
