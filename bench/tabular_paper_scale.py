"""Bench: projected fit time of every Table 1 baseline at the paper profile's full scale.

Each model of ``train_tabular.models`` runs with its **paper** hyperparameters (widths, leaves,
learning rates) on a small fraction of the rows of a built dataset (the default profile's has the
same 27 features), at a capped number of rounds, trees or epochs.  A scaling law in the number of
fit rows n is fitted to the timings and evaluated at the paper profile's rows and budgets:

* LightGBM, XGBoost, CatBoost: two fits per n (``--rounds R1 R2``); time per round
  ``(t2 - t1) / (R2 - R1)`` and setup ``t1 - R1 * per_round``, both linear in n (histogram
  boosting costs O(n) a round); projected at the round cap (10000 at paper: an upper bound,
  early stopping ends sooner);
* random forest: time per tree ``c * n log2 n`` (sorting splitter); projected at
  ``n_estimators`` trees;
* KNN: tree build ``c * n log2 n``; time per query ``c * n ** p`` fitted in log-log (a KD-tree
  in 27 dimensions is far from its log n ideal); projected for the validation and test queries;
* neural models (pytorch-frame, the MLP stand-in): one epoch at two n, ``t = a + b n``
  (fixed-size minibatches: an epoch is O(n)); projected as ``a + epochs * b * n``.

The validation rows are 1 % of the fit rows, AutoGluon's hold-out fraction at paper scale, so
the per-row costs include the per-round / per-epoch validation.  Projections are fit times only
(no prediction of the test year, no data loading), times the paper's seeds for seed-dependent
models.  Timings are the process's CPU seconds, so a shared machine's waits do not count: one
thread's CPU time is its wall time on an idle core.  The all-core figure runs the largest n once
more with every thread and divides the 1-thread projection by the wall-clock speed-up of that
fit over the 1-thread one (clipped to [1, cores]; noisy when others share the machine).  Every
model first runs one untimed warm-up fit (imports, torch's first calls).  The projections are extrapolations over two to three orders of
magnitude in n: read them as sizes, not promises.

    PYTHONPATH=src python bench/tabular_paper_scale.py --data build/climate2gpp \
        --out reports/bench/tabular_paper_scale.json

With ``--device cuda`` / ``--gbdt-device cuda`` the same timings run on a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

GBDT = ("lightgbm", "xgboost", "catboost")
NEURAL = ("fastai_mlp", "tabnet", "excelformer", "resnet", "ft_transformer")
PAPER_TRAIN_SAMPLES = 50_573_136  # 57,864 land cells x 19 years x 46 periods (paper profile)
PAPER_TEST_SAMPLES = 57_864 * 46


def _lin(n: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """Least-squares ``t = a + b n`` with ``a, b >= 0`` (else the line through the origin)."""
    b, a = np.polyfit(n.astype(float), t.astype(float), 1)
    if a < 0 or b < 0:
        return 0.0, max(float(np.dot(n, t) / np.dot(n, n)), 0.0)
    return float(a), float(b)


def _nlogn(n: np.ndarray, t: np.ndarray) -> float:
    """Least-squares ``t = c n log2 n`` through the origin."""
    f = n * np.log2(n)
    return float(np.dot(f, t) / np.dot(f, f))


def _power(n: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """``t = c n ** p`` fitted in log-log."""
    p, logc = np.polyfit(np.log(n.astype(float)), np.log(t.astype(float)), 1)
    return float(math.exp(logc)), float(p)


def _speedup(wall_1: float, wall_all: float) -> float:
    """Wall-clock speed-up of every core over one, clipped to ``[1, cores]``."""
    return min(float(os.cpu_count() or 1), max(1.0, wall_1 / wall_all))


class Bench:
    """Row sampling, design matrices and timed fits on one dataset."""

    def __init__(self, data: Path, cfg: Any, seed: int = 0, queries: int = 2000) -> None:
        from stcg.data.dataset import load_dense, read_meta
        from stcg.data.splits import test_rows, train_rows

        meta = read_meta(data)
        self.dense = load_dense(data, years=sorted({*meta.train_years, *meta.test_years}))
        self.cfg = cfg
        self.train = train_rows(self.dense, meta)
        self.perm = np.random.default_rng(seed).permutation(len(self.train))
        te = test_rows(self.dense, meta)
        self.queries = te.subsample(queries, seed)

    def matrices(self, n: int) -> tuple[Any, np.ndarray, Any, np.ndarray]:
        """Fit rows ``n`` and validation rows ``max(1, n / 100)``, disjoint, uniform."""
        from stcg.baselines.tabular.features import design_matrix, targets

        m = max(1, round(0.01 * n))
        if n + m > len(self.train):
            raise ValueError(f"--rows {n}: the dataset has {len(self.train)} training rows")
        fit = self.train.take(np.sort(self.perm[:n]))
        val = self.train.take(np.sort(self.perm[-m:]))
        f = self.cfg.features
        xf, xv = (design_matrix(self.dense, r, f.lags, f.land_cover) for r in (fit, val))
        return xf, targets(self.dense, fit), xv, targets(self.dense, val)

    def fit(self, mcfg: Any, n: int, threads: int, device: str, gbdt_device: str,
            predict: Any = None) -> tuple[float, float]:
        """``(fit, predict of the query rows or 0)`` CPU seconds of one model on n rows.

        CPU time of the process (every thread), not wall time: on a shared machine the wall
        clock counts the waits for a core; ``wall_s`` keeps the fit's wall time.
        """
        from stcg.baselines.tabular.features import design_matrix
        from stcg.baselines.tabular.registry import build_model

        xf, yf, xv, yv = self.matrices(n)
        model = build_model(mcfg, self.cfg.optim, seed=self.cfg.seed, threads=threads,
                            device=device, standardize_target=self.cfg.nn_standardize_target,
                            gbdt_device=gbdt_device)
        c0, w0 = time.process_time(), time.perf_counter()
        model.fit(xf.x, yf, xv.x, yv, cat_features=xf.cat_features, feature_names=xf.names)
        fit_s, self.wall_s = time.process_time() - c0, time.perf_counter() - w0
        pred_s = self.predict_wall_s = 0.0
        if predict:
            f = self.cfg.features
            xq = design_matrix(self.dense, self.queries, f.lags, f.land_cover).x
            c0, w0 = time.process_time(), time.perf_counter()
            model.predict(xq)
            pred_s, self.predict_wall_s = time.process_time() - c0, time.perf_counter() - w0
        return fit_s, pred_s


def measure(bench: Bench, name: str, mcfg: Any, paper: Any, args: argparse.Namespace,
            n_fit: int, n_val: int, seeds: int) -> dict[str, Any]:
    """Timings, fitted law and projection of one model."""
    kind = mcfg.kind
    rep = dataclasses.replace
    rows_used = n_fit if mcfg.max_train_rows is None else min(n_fit, mcfg.max_train_rows)
    out: dict[str, Any] = {"kind": kind, "paper_fit_rows": rows_used, "seeds": seeds}
    fit = bench.fit
    one = dict(threads=1, device=args.device, gbdt_device=args.gbdt_device)
    allc = dict(threads=0, device=args.device, gbdt_device=args.gbdt_device)

    if kind in GBDT:
        r1, r2 = args.rounds
        fit(rep(mcfg, max_rounds=r1), int(args.rows[0]), **one)  # warm-up
        cap = 10000 if mcfg.max_rounds is None else min(10000, mcfg.max_rounds)
        n = np.array(args.rows)
        t1 = np.array([fit(rep(mcfg, max_rounds=r1), int(k), **one)[0] for k in n])
        t2 = np.array([fit(rep(mcfg, max_rounds=r2), int(k), **one)[0] for k in n])
        wall_1 = bench.wall_s
        per = (t2 - t1) / (r2 - r1)
        setup = np.maximum(t1 - r1 * per, 0.0)
        a, b = _lin(n, per)
        sa, sb = _lin(n, setup)
        proj = sa + sb * rows_used + cap * (a + b * rows_used)
        fit(rep(mcfg, max_rounds=r2), int(n[-1]), **allc)
        out.update(unit="round", units=cap, law="linear: per_round = a + b n, setup linear",
                   rows=n.tolist(), seconds_r1=t1.tolist(), seconds_r2=t2.tolist(),
                   rounds=[r1, r2], per_unit_s=per.tolist(), setup_s=setup.tolist(),
                   coef={"a": a, "b": b, "setup_a": sa, "setup_b": sb},
                   per_unit_at_paper_s=a + b * rows_used,
                   speedup_all_cores=_speedup(wall_1, bench.wall_s))
    elif kind == "random_forest":
        k = args.rf_trees
        n = np.array(args.rows)
        fit(rep(mcfg, n_estimators_cap=1), int(n[0]), **one)  # warm-up
        t = np.array([fit(rep(mcfg, n_estimators_cap=k), int(r), **one)[0] for r in n])
        wall_1 = bench.wall_s
        c = _nlogn(n, t / k)
        trees = int(mcfg.params.get("n_estimators", 100))
        if mcfg.n_estimators_cap is not None:
            trees = min(trees, mcfg.n_estimators_cap)
        proj = trees * c * rows_used * math.log2(rows_used)
        fit(rep(mcfg, n_estimators_cap=k), int(n[-1]), **allc)
        out.update(unit="tree", units=trees, law="n log n: per_tree = c n log2 n",
                   rows=n.tolist(), seconds=t.tolist(), trees_timed=k, coef={"c": c},
                   per_unit_at_paper_s=c * rows_used * math.log2(rows_used),
                   speedup_all_cores=_speedup(wall_1, bench.wall_s))
    elif kind == "knn":
        n = np.array(args.rows)
        q = len(bench.queries)
        fit(mcfg, int(n[0]), predict=True, **one)  # warm-up
        res = [fit(mcfg, int(r), predict=True, **one) for r in n]
        wall_1 = bench.wall_s + bench.predict_wall_s
        tb = np.array([r[0] for r in res])
        tq = np.array([r[1] for r in res]) / q
        cb = _nlogn(n, tb)
        cq, p = _power(n, tq)
        queries = n_val + PAPER_TEST_SAMPLES
        per_q = cq * rows_used ** p
        proj = cb * rows_used * math.log2(rows_used) + queries * per_q
        fit(mcfg, int(n[-1]), predict=True, **allc)
        out.update(unit="query", units=queries,
                   law="build c n log2 n; per_query = c n ** p (log-log fit)",
                   rows=n.tolist(), build_s=tb.tolist(), per_query_s=tq.tolist(),
                   queries_timed=q, coef={"build_c": cb, "query_c": cq, "query_p": p},
                   per_unit_at_paper_s=per_q,
                   speedup_all_cores=_speedup(wall_1, bench.wall_s + bench.predict_wall_s))
    elif kind in NEURAL:
        n = np.array(args.nn_rows)
        if kind == "fastai_mlp":
            epochs = int(mcfg.params.get("epochs", 30))
            if mcfg.epochs is not None:
                epochs = min(epochs, mcfg.epochs)
            # bs "auto" is 512 from 200k rows on: the paper's batch, forced on the small fits
            one_epoch = rep(mcfg, epochs=1, params={**mcfg.params, "bs": 512})
        else:
            epochs = mcfg.epochs if mcfg.epochs is not None else paper.optim.epochs
            one_epoch = rep(mcfg, epochs=1)
        fit(one_epoch, int(n[0]), **one)  # warm-up
        t = np.array([fit(one_epoch, int(r), **one)[0] for r in n])
        wall_1 = bench.wall_s
        a, b = _lin(n, t)
        proj = a + epochs * b * rows_used
        fit(one_epoch, int(n[-1]), **allc)
        out.update(unit="epoch", units=epochs, law="linear: epoch = a + b n",
                   rows=n.tolist(), seconds=t.tolist(), coef={"a": a, "b": b},
                   per_unit_at_paper_s=b * rows_used,
                   speedup_all_cores=_speedup(wall_1, bench.wall_s))
    else:
        raise ValueError(f"{name}: no timing plan for kind {kind!r}")
    out["projected_fit_h_1thread"] = proj / 3600
    out["projected_protocol_h_1thread"] = seeds * proj / 3600
    out["projected_protocol_h_all_cores"] = seeds * proj / out["speedup_all_cores"] / 3600
    return out


def main() -> None:
    """Parse arguments, time every model, print a table and write JSON."""
    from stcg.baselines.tabular.config import TrainTabularConfig
    from stcg.baselines.tabular.protocol import default_holdout_frac
    from stcg.baselines.tabular.registry import n_seeds
    from stcg.config import from_dict, resolve_profile

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("build/climate2gpp"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--models", nargs="+", default=None, help="default: every Table 1 model")
    ap.add_argument("--rows", nargs="+", type=int, default=[20000, 50000, 100000],
                    help="fit rows of the trees and KNN")
    ap.add_argument("--nn-rows", nargs="+", type=int, default=[1024, 3072],
                    help="fit rows of the neural models (one epoch each)")
    ap.add_argument("--rounds", nargs=2, type=int, default=[5, 25], help="GBDT round caps")
    ap.add_argument("--rf-trees", type=int, default=3)
    ap.add_argument("--knn-queries", type=int, default=2000)
    ap.add_argument("--device", default="cpu", help="neural models: cpu | cuda")
    ap.add_argument("--gbdt-device", default="cpu", help="LightGBM/XGBoost/CatBoost device")
    ap.add_argument("--paper-smoke", type=Path, default=Path("reports/bench/paper_smoke.json"),
                    help="read the paper profile's training samples from here when present")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.rounds[1] <= args.rounds[0] or min(args.rows + args.nn_rows) < 2:
        ap.error("--rounds needs R1 < R2; --rows and --nn-rows need at least 2 rows each")

    params = yaml.safe_load(args.params.read_text())
    paper = from_dict(TrainTabularConfig, resolve_profile(params["train_tabular"], "paper"),
                      where="train_tabular")
    n_train = PAPER_TRAIN_SAMPLES
    if args.paper_smoke.is_file():
        smoke = json.loads(args.paper_smoke.read_text())
        n_train = int(smoke["stages"]["train"].get("paper_train_samples", n_train))
    n_val = max(1, round(default_holdout_frac(n_train) * n_train))
    n_fit = n_train - n_val

    import torch

    torch.set_num_threads(1)
    bench = Bench(args.data, paper, seed=paper.seed, queries=args.knn_queries)
    names = args.models or list(paper.models)
    results: dict[str, Any] = {}
    t_all = time.perf_counter()
    cpu0 = time.process_time()
    for name in names:
        if name not in paper.models:
            raise SystemExit(f"--models: {name!r} is not in train_tabular.models "
                             f"({sorted(paper.models)})")
        t0 = time.perf_counter()
        results[name] = measure(bench, name, paper.models[name], paper, args, n_fit, n_val,
                                n_seeds(paper, name))
        results[name]["bench_s"] = time.perf_counter() - t0
        print(f"{name}: {results[name]['bench_s']:.1f} s", file=sys.stderr, flush=True)

    out = {
        "what": "projected fit time of the Table 1 baselines at the paper profile's scale, "
                "extrapolated from timed fits on a fraction of the rows (see the bench's "
                "docstring for the laws)",
        "data": str(args.data),
        "paper_train_samples": n_train,
        "paper_fit_rows": n_fit,
        "paper_val_rows": n_val,
        "paper_test_rows": PAPER_TEST_SAMPLES,
        "device": args.device,
        "gbdt_device": args.gbdt_device,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                    platform.machine(), "torch": torch.__version__},
        "bench_wall_s": time.perf_counter() - t_all,
        "bench_cpu_s": time.process_time() - cpu0,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "models": results,
    }
    head = (f"{'model':<16} {'unit':>6} {'units':>7} {'rows':>11} {'s/unit@paper':>13} "
            f"{'seeds':>5} {'h 1 thread':>11} {'h all cores':>12}")
    print(head)
    for name, r in results.items():
        print(f"{name:<16} {r['unit']:>6} {r['units']:>7} {r['paper_fit_rows']:>11,} "
              f"{r['per_unit_at_paper_s']:>13.4g} {r['seeds']:>5} "
              f"{r['projected_protocol_h_1thread']:>11.1f} "
              f"{r['projected_protocol_h_all_cores']:>12.1f}")
    print(f"bench: {out['bench_wall_s']:.0f} s wall, {out['bench_cpu_s']:.0f} s CPU")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(out, indent=2) + "\n")
        tmp.replace(args.out)


if __name__ == "__main__":
    main()
