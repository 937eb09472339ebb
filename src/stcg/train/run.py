"""Stage ``train_stcg`` end to end: load, train (resumable), evaluate, write outputs.

Outputs (paths from the stage's command line):

* ``<out>/model.pt``: the trained model (:mod:`stcg.train.bundle`), for ``stcg predict``;
* ``<out>/predictions.parquet``: one row per test sample: keys, ``gpp``, ``gpp_pred``,
  ``gpp_interp``, ``gpp_climatology``, ``w_intercept`` and ``w_<feature>`` (interpretable weights);
* ``<metrics>``: :func:`stcg.train.metrics.evaluation_report` as JSON;
* ``<plots>/``: DVCLive curves (one step per epoch; no timings, so a rerun gives the same bytes);
* ``<cost>`` (optional): samples per second of every epoch, the device and thread count.  These
  are machine facts, not results: they change on every rerun, so they stay out of the metrics,
  the curves, ``<out>`` (a DVC output) and the report, in a file no stage reads;
* ``<checkpoint>``: the last epoch's checkpoint (a persistent DVC output, so a re-run after a
  crash resumes; see :mod:`stcg.train.loop`).

Several seeds (``seeds`` n > 1): the run trains n models with seeds ``seed, seed + 1, ...``
(:func:`stcg.metrics.seed_list`) on the same data.  The extra seeds only score: the metrics
JSON is :func:`stcg.metrics.aggregate_seeds` of the n evaluation reports (means in the usual keys,
a ``"seeds"`` block with the sd and every seed's report), while the model, the predictions, the
curves and ``<checkpoint>`` are those of ``seed``.  The extra seeds are trained first, each with
its own checkpoint beside ``<checkpoint>`` (``<stem>.seed<S><suffix>``); a finished one leaves its
report there (``<stem>.seed<S>.json``, with the run's fingerprint), so a run resumed after a crash
retrains no finished seed.  Those files are removed when the run completes: a later rerun
starts every seed afresh, as a single-seed run does.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stcg.config import to_dict
from stcg.data.dataset import DatasetMeta, Dense, load_dense, read_meta
from stcg.data.writer import write_parquet
from stcg.graph.build import Graph, load_graph
from stcg.graph.cluster import assign_to_nodes
from stcg.io import atomic_path, read_json, write_json
from stcg.metrics import aggregate_seeds, seed_list
from stcg.model.stcg import STCGModel
from stcg.train import distributed
from stcg.train.bundle import graph_tensors, make_bundle, save_bundle
from stcg.train.config import TrainStcgConfig
from stcg.train.data import (
    DeviceData,
    FeatureStats,
    climatology_reference,
    feature_stats,
    sample_indices,
    to_device,
)
from stcg.train.loop import (
    TIMING_KEYS,
    EpochLine,
    EpochLogger,
    code_fingerprint,
    fingerprint,
    fit,
    predict,
)
from stcg.train.metrics import climatology_table, evaluation_report

COST_KEYS: tuple[str, ...] = TIMING_KEYS
"""Epoch-record keys that measure the machine, not the model (written to ``cost.json``; epochs
resumed from a checkpoint have none)."""


class LiveLogger(EpochLogger):
    """Epoch records to DVCLive (``Live(dir, dvcyaml=None)``), one step per epoch.

    Timings (:data:`COST_KEYS`) are left out: they differ between reruns of the same run.
    """

    def __init__(self, directory: str | Path) -> None:
        from dvclive import Live

        self.live = Live(str(directory), dvcyaml=None, save_dvc_exp=False, report=None)

    def log(self, record: dict[str, float]) -> None:
        """Log every value except the epoch counter under ``train/`` and advance a step."""
        for k, v in record.items():
            if k != "epoch" and k not in COST_KEYS:
                self.live.log_metric(f"train/{k}", float(v))
        self.live.next_step()

    def close(self) -> None:
        """Finish the DVCLive run."""
        self.live.end()


def cell_nodes(dense: Dense, graph: Graph) -> np.ndarray:
    """Node of each dataset cell: the nearest node centre on the sphere.

    For the cells the graph was built on this is exactly the K-means assignment (checked).
    """
    nodes = assign_to_nodes(dense.lon, dense.lat, graph.node_xyz)
    common, i_d, i_g = np.intersect1d(dense.cell_id, graph.cell_id, return_indices=True)
    if common.size and not np.array_equal(nodes[i_d], graph.cell_node[i_g]):
        raise ValueError("graph file and dataset disagree on the cell-to-node map (rebuild graph)")
    return nodes


def prediction_frame(
    dense: Dense,
    idx: np.ndarray,
    pred: dict[str, np.ndarray],
    climatology: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per sample ``idx`` (flat ``c * T + t``) with predictions and weights."""
    c, t = np.divmod(idx, dense.n_times)
    df = pd.DataFrame(
        {
            "cell_id": dense.cell_id[c].astype(np.int32),
            "lon": dense.lon[c].astype(np.float32),
            "lat": dense.lat[c].astype(np.float32),
            "year": dense.year[t].astype(np.int16),
            "period": dense.period[t].astype(np.int8),
            "land_cover": dense.land_cover[c].astype(np.int8),
            "gpp": dense.y[c, t].astype(np.float32),
            "gpp_pred": pred["y"].astype(np.float32),
        }
    )
    if "y_interp" in pred:
        df["gpp_interp"] = pred["y_interp"].astype(np.float32)
    if climatology is not None:
        df["gpp_climatology"] = climatology[c, dense.period[t]].astype(np.float32)
    if "intercept" in pred:
        df["w_intercept"] = pred["intercept"].astype(np.float32)
    if "weights" in pred:
        for j, v in enumerate(dense.variables):
            df[f"w_{v}"] = pred["weights"][:, j].astype(np.float32)
    return df


def run_fingerprint(cfg: TrainStcgConfig, dense: Dense, graph: Graph, n_train: int, device: str) -> str:
    """Hash of everything that changes the training trajectory (see :mod:`stcg.train.loop`):
    the params, the data, the graph, the device and the code (:func:`code_fingerprint`)."""
    c = to_dict(cfg)
    for k in ("eval_batch_size", "lat_band", "threads", "monitor_samples", "seeds"):
        c.pop(k, None)
    return fingerprint(
        {
            "cfg": c,
            "shape": list(dense.x.shape),
            "variables": list(dense.variables),
            "n_train": n_train,
            "x_sum": float(np.nansum(dense.x[:, :: max(1, dense.n_times // 50)], dtype=np.float64)),
            "graph": [graph.n_nodes, graph.n_edges, float(graph.edge_weight.sum()),
                      float(np.abs(graph.embedding).sum())],
            "device": device,
            "code": code_fingerprint(),
        }
    )


@dataclass
class Prepared:
    """A dataset, its graph and its samples, ready for training (:func:`prepare`).

    Attributes:
        meta: the dataset's metadata.
        dense: the loaded dataset.
        graph: the conditional graph.
        stats: training-split standardisation statistics.
        device: the torch device.
        data: ``dense`` standardised on the device.
        train_np: ``[N]`` flat training sample indices (full windows).
        test_np: ``[M]`` flat test sample indices.
    """

    meta: DatasetMeta
    dense: Dense
    graph: Graph
    stats: FeatureStats
    device: torch.device
    data: DeviceData
    train_np: np.ndarray
    test_np: np.ndarray


def prepare(data_root: str | Path, graph_path: str | Path | Graph, cfg: TrainStcgConfig) -> Prepared:
    """Load the dataset and the graph, standardise, move to the device, pick the samples.

    ``graph_path`` may also be a :class:`~stcg.graph.build.Graph` already in memory.

    Raises:
        ValueError: if the test years hold no sample with a finite target.
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    meta = read_meta(data_root)
    dense = load_dense(data_root, years=meta.years)
    graph = graph_path if isinstance(graph_path, Graph) else load_graph(graph_path)
    nodes = cell_nodes(dense, graph)
    stats = feature_stats(dense, meta.train_years)
    device = distributed.local_device(cfg.device)
    x_ref = (climatology_reference(dense, meta.train_years, stats)
             if cfg.model.center_inputs == "climatology" else None)
    data = to_device(dense, stats, nodes, cfg.window, device, x_ref=x_ref)
    train_np = sample_indices(dense, meta.train_years, cfg.window, full_window=True)
    test_np = sample_indices(dense, meta.test_years, cfg.window, full_window=False)
    if test_np.size == 0:
        raise ValueError(f"{data_root}: no test samples with a finite gpp in {meta.test_years}")
    return Prepared(meta, dense, graph, stats, device, data, train_np, test_np)


def train_stcg(
    data_root: str | Path,
    graph_path: str | Path,
    cfg: TrainStcgConfig,
    out_dir: str | Path,
    checkpoint: str | Path | None,
    metrics_path: str | Path,
    plots_dir: str | Path | None,
    on_epoch_end: Callable[[int], None] | None = None,
    progress: bool | None = None,
    cost_path: str | Path | None = None,
) -> dict | None:
    """Train and evaluate the STCG model (see module docstring for the outputs).

    Under ``torchrun`` (:mod:`stcg.train.distributed`) every rank trains its shard of each batch
    and rank 0 alone evaluates and writes the outputs.

    Returns:
        The metrics dict written to ``metrics_path`` (rank 0); None on the other ranks.
    """
    progress = sys.stderr.isatty() if progress is None else progress
    wd = distributed.setup(distributed.local_device(cfg.device))
    try:
        return _train_stcg(data_root, graph_path, cfg, out_dir, checkpoint, metrics_path,
                           plots_dir, on_epoch_end, progress, wd, cost_path)
    finally:
        distributed.cleanup()


def _train_stcg(
    data_root: str | Path,
    graph_path: str | Path,
    cfg: TrainStcgConfig,
    out_dir: str | Path,
    checkpoint: str | Path | None,
    metrics_path: str | Path,
    plots_dir: str | Path | None,
    on_epoch_end: Callable[[int], None] | None,
    progress: bool,
    wd: distributed.World,
    cost_path: str | Path | None = None,
) -> dict | None:
    """:func:`train_stcg` inside the process group (if any)."""
    if wd.size > 1 and cfg.device != "cuda" and not cfg.threads:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get(
            "LOCAL_WORLD_SIZE", wd.size))))
    p = prepare(data_root, graph_path, cfg)
    dense, graph, stats, device, data = p.dense, p.graph, p.stats, p.device, p.data
    train_np, test_np = p.train_np, p.test_np
    train_idx = torch.from_numpy(train_np).to(device)
    test_idx = torch.from_numpy(test_np).to(device)
    clim = climatology_table(dense, p.meta.train_years) if wd.is_main else None
    per_epoch = int(train_np.size) if cfg.optim.samples_per_epoch is None else min(
        cfg.optim.samples_per_epoch, int(train_np.size))
    seeds = seed_list(cfg.seed, cfg.seeds)
    seconds: dict[str, float] = {}

    def new_model(seed: int) -> STCGModel:
        torch.manual_seed(seed)
        return STCGModel(cfg.model, len(dense.variables), graph_tensors(graph), stats.y_mean,
                         stats.y_std).to(device)

    def score(model: STCGModel) -> tuple[dict, dict[str, np.ndarray]]:
        pred = predict(model, data, test_idx, cfg.eval_batch_size, cfg.amp, progress=progress)
        report = evaluation_report(dense, test_np, pred, clim, cfg.lat_band)
        report["train"] = {"samples": int(train_np.size), "test_samples": int(test_np.size),
                           "parameters": int(sum(q.numel() for q in model.parameters()))}
        return report, pred

    # the extra seeds first: they only score, and a finished one is kept across a crash
    extra: list[dict] = []
    for s in seeds[1:]:
        scfg = dataclasses.replace(cfg, seed=s)
        ckpt_s, done_s = seed_files(checkpoint, s)
        fp_s = run_fingerprint(scfg, dense, graph, int(train_np.size), device.type)
        rep = finished_seed(done_s, fp_s) if wd.is_main else None
        rep = distributed.broadcast_object(rep)
        if rep is None:
            t0 = time.perf_counter()
            model_s = new_model(s)
            logger_s = EpochLine(f"train_stcg seed {s}", cfg.optim.epochs, per_epoch) \
                if wd.is_main else None
            fit(model_s, data, train_idx, cfg.optim, s, ckpt_s, fp_s, amp=cfg.amp,
                compile_model=cfg.compile, logger=logger_s, on_epoch_end=on_epoch_end,
                progress=progress)
            if wd.is_main:
                rep, _ = score(model_s)
                if done_s is not None:
                    write_json(done_s, {"fingerprint": fp_s, "seed": s, "report": rep},
                               ndigits=None)
                    ckpt_s.unlink(missing_ok=True)
            seconds[str(s)] = time.perf_counter() - t0
        extra.append(rep)

    t0 = time.perf_counter()
    monitor = None
    if cfg.monitor_samples:
        rng = np.random.default_rng(cfg.seed)
        pick = np.sort(rng.choice(test_np.size, min(cfg.monitor_samples, test_np.size), replace=False))
        monitor = test_idx[torch.from_numpy(pick).to(device)]
    model = new_model(cfg.seed)
    fp = run_fingerprint(cfg, dense, graph, int(train_np.size), device.type)
    logger = None
    if wd.is_main:
        logger = EpochLine("train_stcg", cfg.optim.epochs, per_epoch,
                           inner=LiveLogger(plots_dir) if plots_dir is not None else None)
    try:
        history = fit(
            model, data, train_idx, cfg.optim, cfg.seed, checkpoint, fp, amp=cfg.amp,
            compile_model=cfg.compile, monitor_idx=monitor, logger=logger,
            on_epoch_end=on_epoch_end, progress=progress,
        )
    finally:
        if logger is not None:
            logger.close()
    if not wd.is_main:
        return None

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_bundle(out_dir / "model.pt",
                make_bundle(model, cfg.model, cfg.window, dense.variables, stats, graph,
                            None if data.x_ref is None
                            else (dense.cell_id, data.x_ref.cpu().numpy())))
    first, pred = score(model)
    frame = prediction_frame(dense, test_np, pred, clim)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        write_parquet(frame, tmp)
    seconds[str(cfg.seed)] = time.perf_counter() - t0
    if cost_path is not None:
        write_json(cost_path, {
            "device": device.type, "threads": torch.get_num_threads(),
            "epochs": [{"epoch": r["epoch"], **{k: r[k] for k in COST_KEYS if k in r}}
                       for r in history],
            "seconds_per_seed": seconds,
        })
    report = aggregate_seeds([first, *extra], seeds)
    write_json(metrics_path, report)
    for s in seeds[1:]:
        done_s = seed_files(checkpoint, s)[1]
        if done_s is not None:
            done_s.unlink(missing_ok=True)
    return report


def seed_files(checkpoint: str | Path | None, seed: int) -> tuple[Path | None, Path | None]:
    """The checkpoint and the finished-run report of extra seed ``seed`` beside ``checkpoint``:
    ``<stem>.seed<S><suffix>`` and ``<stem>.seed<S>.json`` (None, None without a checkpoint)."""
    if checkpoint is None:
        return None, None
    c = Path(checkpoint)
    return c.with_name(f"{c.stem}.seed{seed}{c.suffix}"), c.with_name(f"{c.stem}.seed{seed}.json")


def finished_seed(done: Path | None, fp: str) -> dict | None:
    """The evaluation report a finished extra seed left at ``done``, if it is of fingerprint
    ``fp`` (same params, data, graph, device and code); else None (that seed is retrained)."""
    if done is None or not done.exists():
        return None
    try:
        state = read_json(done)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("fingerprint") != fp:
        return None
    return state.get("report")
