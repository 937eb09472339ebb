"""Bench: Table 1 baselines' test RMSE and cost at two budgets on the default profile.

For each model, fits :func:`stcg.baselines.tabular.run.run_tabular_seeds` (every seed of the
model) once per budget of ``BUDGETS`` (``old``: the budget before the trim, ``new``: after it),
with one CPU thread, and records the test RMSE (mean, sd and each seed's), the fit and predict
wall seconds and the process CPU seconds (``time.process_time``).  A trim is kept when the mean
test RMSE moves by at most ``max(old seed sd, 1 % of the old RMSE)``; the verdict is written
beside the numbers.  ``reference_last_default_run`` holds the last full default run's metrics
(``reports/metrics/tabular/<model>.json``, two threads); the verdict compares against it when
the old budget was not rerun here.

Results are merged into ``--out`` (one entry per model and budget), so models can be measured in
separate runs.  Run on the default profile's dataset (``build/climate2gpp``):

    PYTHONPATH=src OMP_NUM_THREADS=1 python bench/default_budgets.py --models ResNet TabNet \
        --budgets old new --out reports/bench/default_budgets.json
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

# model -> budget name -> overrides of train_tabular.models.<model> (default profile)
BUDGETS: dict[str, dict[str, dict[str, Any]]] = {
    "FTTransformer": {"old": {"max_train_rows": 40000, "epochs": 4},
                      "new": {"max_train_rows": 20000, "epochs": 3}},
    "ExcelFormer": {"old": {"max_train_rows": 40000, "epochs": 4},
                    "new": {"max_train_rows": 20000, "epochs": 3}},
    "ResNet": {"old": {"max_train_rows": 100000, "epochs": 6},
               "new": {"max_train_rows": 50000, "epochs": 4}},
    "TabNet": {"old": {"max_train_rows": 100000, "epochs": 6},
               "new": {"max_train_rows": 50000, "epochs": 4}},
    "NeuralNetFastAI": {"old": {"max_train_rows": 400000, "epochs": 8},
                        "new": {"max_train_rows": 200000, "epochs": 6}},
    "LightGBM": {"old": {"max_train_rows": 400000, "max_rounds": 2000},
                 "new": {"max_train_rows": 400000, "max_rounds": 1000}},
    "LightGBMLarge": {"old": {"max_train_rows": 400000, "max_rounds": 2000},
                      "new": {"max_train_rows": 400000, "max_rounds": 1000}},
    "LightGBMXT": {"old": {"max_train_rows": 400000, "max_rounds": 2000},
                   "new": {"max_train_rows": 400000, "max_rounds": 1000}},
    "CatBoost": {"old": {"max_train_rows": 200000, "max_rounds": 1000},
                 "new": {"max_train_rows": 100000, "max_rounds": 1000}},
    "XGBoost": {"old": {"max_train_rows": 400000, "max_rounds": 1000},
                "new": {"max_train_rows": 200000, "max_rounds": 1000}},
}

# few-shot methods: stage command (run as a subprocess on a copy of params.yaml with the
# overrides, dotted keys, written into it) -> budget name -> overrides (default profile)
FEWSHOT: dict[str, dict[str, Any]] = {
    "gnnwr": {
        "cmd": [["stages/fewshot_weekly.py", "--method", "gnnwr"]],
        "old": {"fewshot_weekly.gnnwr.max_epochs": 300, "fewshot_weekly.gnnwr.patience": 50},
        "new": {"fewshot_weekly.gnnwr.max_epochs": 150, "fewshot_weekly.gnnwr.patience": 30},
    },
    "gtnnwr": {
        "cmd": [["stages/fewshot_joint.py", "--method", "gtnnwr"]],
        "old": {"fewshot_joint.gtnnwr.max_epochs": 60, "fewshot_joint.gtnnwr.patience": 10},
        "new": {"fewshot_joint.gtnnwr.max_epochs": 40, "fewshot_joint.gtnnwr.patience": 6},
    },
    "stcg": {
        "cmd": [["stages/fewshot_stcg.py", "--graph", "build/graph/graph.npz"]],
        "old": {"fewshot_stcg.optim.epochs": 20},
        "new": {"fewshot_stcg.optim.epochs": 10},
    },
}

TOLERANCE = 0.01   # relative RMSE change accepted when it exceeds the seed sd


def _rmse_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    seeds = metrics.get("seeds")
    if isinstance(seeds, dict) and seeds.get("runs"):
        runs = [float(r["test"]["rmse"]) for r in seeds["runs"]]
    else:
        runs = [float(metrics["test"]["rmse"])]
    sd = statistics.stdev(runs) if len(runs) > 1 else 0.0
    return {"mean": statistics.fmean(runs), "sd": sd, "runs": runs}


def verdict(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Whether ``new``'s mean RMSE is within ``max(old sd, TOLERANCE * old mean)`` of ``old``'s."""
    delta = new["mean"] - old["mean"]
    allowed = max(old["sd"], TOLERANCE * old["mean"])
    return {"delta": delta, "relative": delta / old["mean"], "allowed": allowed,
            "within": delta <= allowed}


def _merge(out: Path, model: str, budget: str, entry: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(out.read_text()) if out.exists() else {}
        doc.setdefault("what", __doc__.strip().splitlines()[0])
        doc.setdefault("command", "PYTHONPATH=src OMP_NUM_THREADS=1 python "
                       "bench/default_budgets.py --models ... --budgets old new")
        doc.setdefault("tolerance", f"max(old seed sd, {TOLERANCE:.0%} of old mean RMSE)")
        m = doc.setdefault("models", {}).setdefault(model, {})
        m[budget] = entry
        _verdicts(m)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, out)


def _verdicts(m: dict[str, Any]) -> None:
    """Add ``verdict`` (and ``cpu_ratio`` when both budgets ran here) to a model's entry."""
    base = m.get("old", m.get("reference_last_default_run"))
    if base is not None and "new" in m:
        m["verdict"] = {"against": "old" if "old" in m else "reference_last_default_run",
                        **verdict(base["rmse"], m["new"]["rmse"])}
    if "old" in m and "new" in m:
        m["cpu_ratio"] = m["new"]["cpu_s"] / max(m["old"]["cpu_s"], 1e-9)


def _set(params: dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    node = params
    for key in path:
        node = node[key]
    node[last] = value


def _fewshot_rmse(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over the fits (weeks) of each seed's test RMSE, then mean and sd over seeds."""
    per_seed: list[list[float]] = []
    for m in metrics:
        seeds = m.get("seeds")
        runs = ([float(r["all"]["test"]["rmse"]) for r in seeds["runs"]]
                if isinstance(seeds, dict) and seeds.get("runs")
                else [float(m["all"]["test"]["rmse"])])
        per_seed.append(runs)
    n = min(len(r) for r in per_seed)
    runs = [statistics.fmean(r[i] for r in per_seed) for i in range(n)]
    sd = statistics.stdev(runs) if len(runs) > 1 else 0.0
    return {"mean": statistics.fmean(runs), "sd": sd, "runs": runs,
            "per_stage": [statistics.fmean(r) for r in per_seed]}


def fewshot(method: str, budget: str, params_path: Path, data: Path, out: Path,
            reference: Path) -> None:
    """Run ``method``'s stage command(s) at ``budget`` in a scratch directory; merge results."""
    import subprocess
    import tempfile

    spec = FEWSHOT[method]
    params = yaml.safe_load(params_path.read_text())
    params["profile"] = "default"
    for key, value in spec[budget].items():
        _set(params, key, value)
    metrics, wall, cpu = [], 0.0, 0.0
    refs = []
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "params.yaml"
        p.write_text(yaml.safe_dump(params, sort_keys=False))
        for i, cmd in enumerate(spec["cmd"]):
            mfile = Path(tmp) / f"metrics{i}.json"
            argv = [sys.executable, *cmd, "--data", str(data), "--out", str(Path(tmp) / f"o{i}"),
                    "--metrics", str(mfile), "--params", str(p)]
            w0 = time.perf_counter()
            r0 = os.times()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            r1 = os.times()
            wall += time.perf_counter() - w0
            cpu += (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
            # fewshot_weekly writes one fit's metrics per week, keyed by week
            weekly = cmd[0] == "stages/fewshot_weekly.py"
            got = json.loads(mfile.read_text())
            metrics.extend(got.values() if weekly else [got])
            ref = reference / (f"{method}_weekly.json" if weekly else f"{method}.json")
            if ref.exists():
                got = json.loads(ref.read_text())
                refs.extend(got.values() if weekly else [got])
    if len(refs) == len(metrics):
        _merge(out, f"fewshot:{method}", "reference_last_default_run",
               {"rmse": _fewshot_rmse(refs), "threads": 2})
    entry = {"budget": spec[budget], "rmse": _fewshot_rmse(metrics), "wall_s": wall,
             "cpu_s": cpu, "stages": len(metrics), "threads": int(os.environ.get(
                 "OMP_NUM_THREADS", "0")), "load": os.getloadavg(),
             "info": [m.get("info", {}) for m in metrics]}
    print(f"{method} {budget}: RMSE {entry['rmse']['mean']:.4f} ± {entry['rmse']['sd']:.4f}, "
          f"{wall:.0f} s wall, {cpu:.0f} s CPU", file=sys.stderr, flush=True)
    _merge(out, f"fewshot:{method}", budget, entry)


def main() -> None:
    """Parse arguments and measure every (model, budget) pair; merge into ``--out``."""
    from stcg.baselines.tabular.config import TrainTabularConfig
    from stcg.baselines.tabular.run import run_tabular_seeds
    from stcg.config import from_dict, resolve_profile
    from stcg.data.dataset import load_dense, read_meta

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("build/climate2gpp"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--models", nargs="*", default=list(BUDGETS))
    ap.add_argument("--budgets", nargs="+", default=["old", "new"])
    ap.add_argument("--reference", type=Path, default=Path("reports/metrics/tabular"),
                    help="directory of the last default run's metrics (recorded as reference)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("reports/bench/default_budgets.json"))
    ap.add_argument("--fewshot", nargs="*", default=[], choices=list(FEWSHOT),
                    help="few-shot methods to measure (their stages, one subprocess each)")
    ap.add_argument("--fewshot-data", type=Path, default=Path("build/fewshot/data"))
    ap.add_argument("--fewshot-reference", type=Path, default=Path("reports/metrics/fewshot"))
    args = ap.parse_args()

    for method in args.fewshot:
        for budget in args.budgets:
            fewshot(method, budget, args.params, args.fewshot_data, args.out,
                    args.fewshot_reference)
    if not args.models:
        return
    params = yaml.safe_load(args.params.read_text())
    cfg = from_dict(TrainTabularConfig, resolve_profile(params["train_tabular"], "default"),
                    where="train_tabular")
    cfg = dataclasses.replace(cfg, threads=args.threads, device="cpu")
    meta = read_meta(args.data)
    dense = load_dense(args.data, years=sorted({*meta.train_years, *meta.test_years}))
    for name in args.models:
        ref = args.reference / f"{name}.json"
        if ref.exists():
            _merge(args.out, name, "reference_last_default_run",
                   {"rmse": _rmse_summary(json.loads(ref.read_text())), "threads": 2})
        for budget in args.budgets:
            over = BUDGETS[name][budget]
            mcfg = dataclasses.replace(cfg.models[name], **over)
            run_cfg = dataclasses.replace(cfg, models={**cfg.models, name: mcfg})
            w0, c0 = time.perf_counter(), time.process_time()
            res = run_tabular_seeds(dense, meta, name, run_cfg,
                                    log=lambda m: print(m, file=sys.stderr, flush=True))
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            entry = {"budget": over, "seeds": res.info["seeds"], "rmse": _rmse_summary(res.metrics),
                     "wall_s": wall, "cpu_s": cpu,
                     "fit_s": res.metrics["cost"]["fit_seconds"],
                     "predict_s": res.metrics["cost"]["predict_seconds"],
                     "fit": res.metrics["fit"], "threads": args.threads,
                     "load": os.getloadavg()}
            print(f"{name} {budget} {over}: RMSE {entry['rmse']['mean']:.4f} "
                  f"± {entry['rmse']['sd']:.4f}, {wall:.0f} s wall, {cpu:.0f} s CPU",
                  file=sys.stderr, flush=True)
            _merge(args.out, name, budget, entry)


if __name__ == "__main__":
    main()
