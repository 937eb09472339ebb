"""Fit one Table 1 baseline on the training years and score it on the test year (no file I/O).

Protocol (paper Section 4.2 with AutoGluon 1.1.1's defaults, see :mod:`.protocol`):

1. rows: :func:`stcg.data.splits.train_rows` / :func:`stcg.data.splits.test_rows`, the very
   samples ``train_stcg`` uses;
2. an AutoGluon-style random hold-out of the training rows (``default_holdout_frac``) for early
   stopping, identical for every model (same seed);
3. the remaining rows, uniformly subsampled to the model's ``max_train_rows`` budget;
4. features from :func:`.features.design_matrix` (current period + land cover, optional lags);
5. fit, predict the test rows, RMSE / MAE / R2, wall-clock fit and predict seconds, memory.

Memory: ``peak_rss_mb`` is the process's high-water resident set (``getrusage``; it includes the
loaded dataset), ``fit_rss_delta_mb`` the sampled peak during ``fit`` above the resident set just
before it, and ``cuda_peak_mb`` the CUDA allocator's peak when a GPU is used.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stcg.baselines.tabular.config import TrainTabularConfig
from stcg.baselines.tabular.features import design_matrix, targets
from stcg.baselines.tabular.gbdt import resolve_gbdt_device
from stcg.baselines.tabular.protocol import holdout_split
from stcg.baselines.tabular.registry import build_model, n_seeds, seed_dependent
from stcg.data.dataset import DatasetMeta, Dense
from stcg.data.splits import RowIndex, test_rows, train_rows
from stcg.metrics import aggregate_seeds, regression_metrics, seed_list
from stcg.parallel import fork_map, side_by_side, threads_per_process

_PAGE = 4096


def rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux ``/proc``; else the peak)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * _PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """High-water resident set size of this process in MiB."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 2**20 if sys.platform == "darwin" else r / 2**10


class MemorySampler:
    """Context manager sampling :func:`rss_mb` in a thread; ``peak_mb`` and ``start_mb`` after."""

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.start_mb = 0.0
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def __enter__(self) -> MemorySampler:
        self.start_mb = self.peak_mb = rss_mb()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


@dataclass
class TabularResult:
    """Outputs of :func:`run_tabular`.

    Attributes:
        predictions: one row per test sample: keys, observed ``gpp``, predicted ``pred``.
        metrics: small nested numeric dict for ``reports/metrics/tabular/<model>.json``.
        info: what the fit decided (iterations, epochs, ...), JSON-able.
        contributions: TreeSHAP table (LightGBM with ``shap: true``), else None.
    """

    predictions: pd.DataFrame
    metrics: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    contributions: pd.DataFrame | None = None


def _keys(dense: Dense, rows: RowIndex) -> pd.DataFrame:
    return pd.DataFrame({
        "cell_id": dense.cell_id[rows.cell].astype(np.int32),
        "lon": dense.lon[rows.cell].astype(np.float32),
        "lat": dense.lat[rows.cell].astype(np.float32),
        "year": dense.year[rows.time].astype(np.int16),
        "period": dense.period[rows.time].astype(np.int8),
        "land_cover": dense.land_cover[rows.cell].astype(np.int8),
    })


def _may_use_gpu(cfg: TrainTabularConfig, name: str) -> bool:
    """Whether model ``name`` runs on a GPU: the boosted trees as
    :func:`.gbdt.resolve_gbdt_device` places them, the neural models as
    :func:`stcg.device.resolve_device` does."""
    kind = cfg.models[name].kind
    if kind in ("lightgbm", "xgboost", "catboost"):
        return resolve_gbdt_device(cfg.gbdt_device, kind) is not None
    if kind in ("knn", "random_forest"):
        return False
    from stcg.device import resolve_device

    return resolve_device(cfg.device).type == "cuda"


def seed_processes(cfg: TrainTabularConfig, name: str, n: int) -> int:
    """How many processes fit the ``n`` seeds of model ``name`` side by side
    (:func:`stcg.parallel.side_by_side` of ``cfg.seed_procs``; one where the model may use a
    GPU)."""
    return side_by_side(cfg.seed_procs, n, _may_use_gpu(cfg, name))


def run_tabular_seeds(dense: Dense, meta: DatasetMeta, name: str, cfg: TrainTabularConfig,
                      log: Any = None) -> TabularResult:
    """:func:`run_tabular` once per model seed (:func:`.registry.n_seeds`: ``cfg.seed, cfg.seed
    + 1, ...``; the rows are the same for every seed).

    The seeds run in :func:`seed_processes` forked processes side by side; with ``threads: 0``
    each takes ``cores // processes`` threads (at least one).  A fit is deterministic for its
    seed and thread count, so the result equals fitting the seeds one after another at that
    thread count.

    ``metrics`` is :func:`stcg.metrics.aggregate_seeds` of the runs (the mean in the usual keys,
    each seed's values and the sd under ``"seeds"``; one seed: that run unchanged) with
    ``cost`` summed over the seeds and ``seed_dependent`` (false: one run stands for every
    seed, its seed sd is 0); predictions, SHAP and info are the first seed's.
    """
    seeds = seed_list(cfg.seed, n_seeds(cfg, name))
    procs = seed_processes(cfg, name, len(seeds))
    if procs == 1:
        results = [run_tabular(dense, meta, name, cfg, log=log, model_seed=s) for s in seeds]
    else:
        threads = threads_per_process(procs, cfg.threads)
        if log:
            log(f"{name}: seeds {seeds} in {procs} processes of {threads} thread(s)")
        child_cfg = dataclasses.replace(cfg, threads=threads)

        def fit_seed(seed: int) -> TabularResult:
            from stcg.baselines.tabular import torch_common

            torch_common.PROGRESS = False  # one progress bar per process would interleave
            return run_tabular(dense, meta, name, child_cfg, log=log, model_seed=seed)

        results = fork_map(fit_seed, seeds, procs)
    costs, runs = [], []
    for res in results:
        costs.append(res.metrics.pop("cost"))
        runs.append(res.metrics)
    first = results[0]
    cost = dict(costs[0])
    for key in ("fit_seconds", "predict_seconds"):
        cost[key] = float(sum(c[key] for c in costs))
    for key in ("peak_rss_mb", "fit_rss_delta_mb", "cuda_peak_mb"):
        if key in cost:
            cost[key] = float(max(c[key] for c in costs))
    cost["seeds"] = len(seeds)
    cost["seed_processes"] = procs
    first.metrics = {**aggregate_seeds(runs, seeds), "cost": cost,
                     "seed_dependent": seed_dependent(cfg.models[name])}
    first.info["seeds"] = seeds
    return first


def run_tabular(dense: Dense, meta: DatasetMeta, name: str, cfg: TrainTabularConfig,
                log: Any = None, model_seed: int | None = None) -> TabularResult:
    """Fit model ``name`` of ``cfg.models`` and score it on the test year.

    Args:
        dense: the dataset, loaded over the training and test years.
        meta: its metadata (the split).
        name: key in ``cfg.models``.
        cfg: the ``train_tabular`` config.
        log: optional ``str -> None`` progress callback.
        model_seed: the model's seed (None = ``cfg.seed``); the hold-out split and the row
            subsample always use ``cfg.seed``.

    Returns:
        A :class:`TabularResult`.
    """
    say = log or (lambda _m: None)
    if name not in cfg.models:
        raise KeyError(f"train_tabular.models has no {name!r}; known: {sorted(cfg.models)}")
    mcfg = cfg.models[name]
    lags, lc = cfg.features.lags, cfg.features.land_cover

    tr, te = train_rows(dense, meta), test_rows(dense, meta)
    if len(tr) < 2 or len(te) == 0:
        raise ValueError(f"{name}: {len(tr)} training and {len(te)} test rows; need both")
    fit_pos, val_pos = holdout_split(len(tr), cfg.seed)
    fit_all = tr.take(fit_pos)
    fit = fit_all.subsample(mcfg.max_train_rows, cfg.seed + 1)
    val = tr.take(val_pos)
    say(f"{name}: {len(fit)}/{len(fit_all)} fit rows, {len(val)} validation rows, "
        f"{len(te)} test rows, lags={lags}")
    xf, xv, xt = (design_matrix(dense, r, lags, lc) for r in (fit, val, te))
    yf, yv, yt = (targets(dense, r) for r in (fit, val, te))

    model_seed = cfg.seed if model_seed is None else model_seed
    model = build_model(mcfg, cfg.optim, seed=model_seed, threads=cfg.threads, device=cfg.device,
                        standardize_target=cfg.nn_standardize_target,
                        gbdt_device=cfg.gbdt_device)
    cuda = _cuda_reset(getattr(model, "device", None))
    with MemorySampler() as mem:
        t0 = time.perf_counter()
        model.fit(xf.x, yf, xv.x, yv, cat_features=xf.cat_features, feature_names=xf.names)
        fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(xt.x)
    predict_s = time.perf_counter() - t0
    val_pred = model.predict(xv.x)

    test_m = regression_metrics(yt, pred)
    val_m = regression_metrics(yv, val_pred)
    say(f"{name} seed {model_seed}: test RMSE {test_m['rmse']:.4f}, R2 {test_m['r2']:.4f}, "
        f"fit {fit_s:.1f} s")
    # a few fit decisions for `dvc metrics`; everything else goes to info.json
    fit_keys = ("best_iteration", "rounds_run", "epochs", "best_epoch", "n_estimators")
    metrics: dict[str, Any] = {
        "test": test_m,
        "val": {"rmse": val_m["rmse"], "r2": val_m["r2"]},
        "train": {"rows": len(fit), "features": len(xf.names)},
        "cost": {
            "fit_seconds": fit_s,
            "predict_seconds": predict_s,
            "peak_rss_mb": peak_rss_mb(),
            "fit_rss_delta_mb": max(0.0, mem.peak_mb - mem.start_mb),
        },
        "fit": {k: model.info[k] for k in fit_keys if k in model.info},
    }
    if cuda:
        import torch

        metrics["cost"]["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20

    predictions = _keys(dense, te).assign(gpp=yt, pred=pred.astype(np.float32))
    contributions = None
    if mcfg.shap:
        contributions = shap_table(model, dense, te, xt.x, xt.names, mcfg.shap_max_rows,
                                   cfg.seed, periods=mcfg.shap_periods)
        say(f"{name}: TreeSHAP of {len(contributions)} test rows")
    info = {"model": name, "kind": mcfg.kind, "source": mcfg.source, "features": list(xf.names),
            "rows": {"train_available": len(fit_all), "train_used": len(fit), "val": len(val),
                     "test": len(te)},
            "fit": model.info, "threads": getattr(model, "threads", None)}
    return TabularResult(predictions=predictions, metrics=metrics, info=info,
                         contributions=contributions)


def shap_table(model: Any, dense: Dense, rows: RowIndex, x: np.ndarray, names: tuple[str, ...],
               max_rows: int | None, seed: int,
               periods: tuple[int, ...] | None = None) -> pd.DataFrame:
    """TreeSHAP contributions of the test rows of ``periods``, then a uniform subsample.

    Columns: the sample keys, ``pred``, one ``shap_<feature>`` per feature and
    ``shap_expected_value``; each row's contributions sum to ``pred``.
    """
    if not hasattr(model, "contributions"):
        raise TypeError(f"{type(model).__name__} has no TreeSHAP contributions")
    pos = np.arange(len(rows))
    if periods is not None:
        pos = pos[np.isin(dense.period[rows.time], np.asarray(periods))]
    if max_rows is not None and max_rows < len(pos):
        pick = np.random.default_rng(seed + 2).choice(len(pos), max_rows, replace=False)
        pos = pos[np.sort(pick)]
    contrib = model.contributions(x[pos])  # [N, F + 1]
    out = _keys(dense, rows.take(pos))
    out["pred"] = contrib.sum(axis=1).astype(np.float32)
    cols = {f"shap_{n}": contrib[:, j].astype(np.float32) for j, n in enumerate(names)}
    cols["shap_expected_value"] = contrib[:, -1].astype(np.float32)
    return pd.concat([out, pd.DataFrame(cols)], axis=1)


def _cuda_reset(device: Any) -> bool:
    if device is None or getattr(device, "type", "cpu") != "cuda":
        return False
    import torch

    torch.cuda.reset_peak_memory_stats(device)
    return True
