"""Bench: fit / predict time, memory and test RMSE of Table 1 baselines on a built dataset.

Runs :func:`stcg.baselines.tabular.run.run_tabular` for the chosen models under the active (or
given) profile of ``params.yaml``, optionally overriding the training-row budget, and prints and
writes JSON.  Use it to size the per-profile budgets (`train_tabular.models.*.max_train_rows`,
`max_rounds`, `epochs`); run it on an otherwise idle machine for numbers worth reporting.

    PYTHONPATH=src python bench/tabular_models.py --data build/climate2gpp \
        --models LightGBM KNeighborsUnif --profile default --out bench_tabular.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import yaml


def main() -> None:
    """Parse arguments, run the models one after another, print and write JSON."""
    from stcg.baselines.tabular.config import TrainTabularConfig
    from stcg.baselines.tabular.run import run_tabular
    from stcg.config import from_dict, resolve_profile
    from stcg.data.dataset import load_dense, read_meta

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("build/climate2gpp"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--profile", default=None, help="tiny | default | paper (default: active)")
    ap.add_argument("--models", nargs="+", default=None, help="default: all")
    ap.add_argument("--max-train-rows", type=int, default=None, help="override every budget")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    params = yaml.safe_load(args.params.read_text())
    profile = args.profile or params.get("profile", "default")
    cfg = from_dict(TrainTabularConfig, resolve_profile(params["train_tabular"], profile),
                    where="train_tabular")
    if args.threads is not None:
        cfg = dataclasses.replace(cfg, threads=args.threads)
    meta = read_meta(args.data)
    dense = load_dense(args.data, years=sorted({*meta.train_years, *meta.test_years}))
    results = {}
    for name in args.models or list(cfg.models):
        mcfg = cfg.models[name]
        if args.max_train_rows is not None:
            mcfg = dataclasses.replace(mcfg, max_train_rows=args.max_train_rows)
        run_cfg = dataclasses.replace(cfg, models={**cfg.models, name: mcfg})
        res = run_tabular(dense, meta, name, run_cfg,
                          log=lambda m: print(m, file=sys.stderr, flush=True))
        results[name] = {"test": res.metrics["test"], "cost": res.metrics["cost"],
                         "train_rows": res.metrics["train"]["rows"], "fit": res.metrics["fit"]}
    out = {"profile": profile, "data": str(args.data), "models": results}
    print(json.dumps(out, indent=2))
    if args.out:
        from stcg.io import write_json

        write_json(args.out, out)


if __name__ == "__main__":
    main()
