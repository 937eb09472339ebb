"""Ablations of the STCG model (beyond the paper, which reports none).

Every variant of ``ablate.variants`` overrides the ablations' reference model (``ablate.model``
switches, the window L, or the graph's cluster count k) and is trained with one shared, smaller
budget (``ablate.optim``) on the same data, then scored on one random subset of the test samples
(``ablate.eval_samples``, drawn with ``ablate.seed``: the same rows for every variant and seed);
with ``ablate.seeds`` n > 1 each variant is trained n times (seeds ``seed, seed + 1, ...``) and
its metrics are the mean with a ``"seeds"`` block (sd, per-seed values).  The
``full`` variant, with no overrides, is the reference at that budget, so the table compares like
with like; the main model's own numbers (``train_stcg``, full budget) are in Table 1.  The
reference (``ablate.model``, ``ablate.window``) is a copy of the main model's settings, so an
experiment on ``train_stcg`` leaves the ablations alone.

Each switch is a different code path of :class:`stcg.model.stcg.STCGModel` (checked in
``tests/model/test_model.py``); the cluster-count variant rebuilds the graph (K-means, KNN,
node2vec) with the other ``build_graph`` params unchanged (KNN capped at k - 1 neighbours).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from stcg.config import from_dict, to_dict
from stcg.data.dataset import read_cells
from stcg.graph.build import Graph, build_graph, load_graph
from stcg.graph.config import BuildGraphConfig
from stcg.metrics import aggregate_seeds, regression_metrics, seed_list
from stcg.model.config import ModelConfig
from stcg.model.stcg import STCGModel
from stcg.train.bundle import graph_tensors
from stcg.train.config import AblateConfig, AblationVariant, TrainStcgConfig
from stcg.train.loop import fit, predict
from stcg.train.run import prepare


def variant_config(variant: AblationVariant, ab: AblateConfig) -> TrainStcgConfig:
    """The training settings of one variant: ``ablate.model`` / ``ablate.window`` with the
    variant's overrides, the ablation budget and seed, and no monitoring."""
    model = from_dict(ModelConfig, {**to_dict(ab.model), **dict(variant.model)},
                      where="ablate.variants.model")
    return TrainStcgConfig(
        seed=ab.seed, window=ab.window if variant.window is None else variant.window,
        model=model, optim=ab.optim, device=ab.device, amp=ab.amp, threads=ab.threads,
        eval_batch_size=ab.eval_batch_size, monitor_samples=0,
    )


def variant_graph(data_root: str | Path, graph_path: str | Path, graph_cfg: BuildGraphConfig,
                  variant: AblationVariant, progress: bool = False) -> Graph:
    """The stage's graph, or one rebuilt with the variant's cluster count."""
    if variant.clusters is None:
        return load_graph(graph_path)
    k = variant.clusters
    cfg = dataclasses.replace(graph_cfg, clusters=k, knn=min(graph_cfg.knn, k - 1))
    cells = read_cells(data_root)
    return build_graph(cells["cell_id"].to_numpy(), cells["lon"].to_numpy(),
                       cells["lat"].to_numpy(), cfg, progress=progress)


def run_variant(
    data_root: str | Path,
    graph: Graph,
    cfg: TrainStcgConfig,
    eval_samples: int | None,
    progress: bool = False,
    seeds: int = 1,
) -> dict:
    """Train one variant with ``seeds`` seeds (``cfg.seed, cfg.seed + 1, ...``) and score each
    on the evaluation subset (drawn with ``cfg.seed``: the same rows for every seed).

    Returns:
        ``{"test": {rmse, mae, r2, n}, "interp": {...} (with the branch), "parameters",
        "train_samples", "nodes", "window"}``; with ``seeds`` > 1 the mean over seeds and a
        ``"seeds"`` block (:func:`stcg.metrics.aggregate_seeds`).
    """
    p = prepare(data_root, graph, cfg)
    rng = np.random.default_rng(cfg.seed)
    test_np = p.test_np
    if eval_samples is not None and eval_samples < test_np.size:
        test_np = np.sort(rng.choice(test_np, eval_samples, replace=False))
    c, t = np.divmod(test_np, p.dense.n_times)
    y = p.dense.y[c, t]
    train_idx = torch.from_numpy(p.train_np).to(p.device)
    test_idx = torch.from_numpy(test_np).to(p.device)
    order = seed_list(cfg.seed, seeds)
    runs = []
    for seed in order:
        torch.manual_seed(seed)
        model = STCGModel(cfg.model, len(p.dense.variables), graph_tensors(p.graph),
                          p.stats.y_mean, p.stats.y_std).to(p.device)
        fit(model, p.data, train_idx, cfg.optim, seed, None, "", amp=cfg.amp, progress=progress)
        out = predict(model, p.data, test_idx, cfg.eval_batch_size, cfg.amp, progress=progress)
        report = {
            "test": regression_metrics(y, out["y"]),
            "parameters": int(sum(q.numel() for q in model.parameters())),
            "train_samples": int(min(p.train_np.size, cfg.optim.samples_per_epoch
                                     or p.train_np.size) * cfg.optim.epochs),
            "nodes": int(p.graph.n_nodes),
            "window": int(cfg.window),
        }
        if "y_interp" in out:
            report["interp"] = regression_metrics(y, out["y_interp"])
        runs.append(report)
    return aggregate_seeds(runs, order)
