"""Table 1 seeds side by side: wall time of one model's seeds at ``seed_procs`` 1, 2, ... .

Fits model ``--model``'s seeds on the built dataset (``build/climate2gpp`` of the active
profile) once per value of ``--procs`` (``train_tabular.seed_procs``: 1 = one seed after
another with every core, 0 = one process per seed with its share of the cores), in the same
run, and records the wall seconds, each seed's test RMSE and the speed-up over 1 in
``reports/bench/seed_procs_<model>.json``.

    PYTHONPATH=src python bench/seed_procs.py --model FTTransformer --procs 1 2 0 --seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

from stcg.baselines.tabular.config import TrainTabularConfig
from stcg.baselines.tabular.run import run_tabular_seeds, seed_processes
from stcg.config import load_section, read_params
from stcg.data.dataset import load_dense, read_meta
from stcg.io import write_json


def main(argv: list[str] | None = None) -> dict:
    """Run the comparison (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="FTTransformer", help="key of train_tabular.models")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2, 0],
                    help="train_tabular.seed_procs values to time")
    ap.add_argument("--seeds", type=int, default=None,
                    help="the model's seeds (default: its params.yaml value)")
    ap.add_argument("--data", type=Path, default=Path("build/climate2gpp"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    cfg = load_section(TrainTabularConfig, "train_tabular", args.params)
    if args.seeds is not None:
        model = dataclasses.replace(cfg.models[args.model], seeds=args.seeds)
        cfg = dataclasses.replace(cfg, models={**cfg.models, args.model: model})
    meta = read_meta(args.data)
    years = sorted(set(meta.train_years) | set(meta.test_years))
    dense = load_dense(args.data, years=years)
    runs = []
    for procs in args.procs:
        c = dataclasses.replace(cfg, seed_procs=procs)
        t0 = time.perf_counter()
        res = run_tabular_seeds(dense, meta, args.model, c,
                                log=lambda m: print(m, flush=True))
        wall = time.perf_counter() - t0
        n = res.metrics["cost"]["seeds"]
        runs.append({"seed_procs": procs, "processes": seed_processes(c, args.model, n),
                     "wall_s": round(wall, 2), "seeds": n,
                     "test_rmse_mean": res.metrics["test"]["rmse"],
                     "test_rmse_runs": [r["test"]["rmse"] for r in
                                        res.metrics.get("seeds", {}).get("runs", [res.metrics])]})
        print(json.dumps(runs[-1]), flush=True)
    base = next((r["wall_s"] for r in runs if r["processes"] == 1), None)
    for r in runs:
        r["speedup_vs_one_process"] = round(base / r["wall_s"], 3) if base else None
    out = {
        "what": "wall seconds of one Table 1 model's seeds at each train_tabular.seed_procs, "
                "same data, same run",
        "command": f"PYTHONPATH=src python bench/seed_procs.py --model {args.model} "
                   f"--procs {' '.join(map(str, args.procs))}"
                   + (f" --seeds {args.seeds}" if args.seeds is not None else ""),
        "profile": read_params(args.params).get("profile"),
        "model": args.model,
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "threads_param": cfg.threads,
        "runs": runs,
    }
    tag = f"_{args.seeds}seeds" if args.seeds is not None else ""
    path = args.out or Path(f"reports/bench/seed_procs_{args.model}{tag}.json")
    write_json(path, out)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
