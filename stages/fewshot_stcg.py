"""Stage ``fewshot_stcg``: the STCG model on all 46 periods of the few-shot data ("Ours").

Architecture and window from ``train_stcg`` (``model``, ``window``), the optimiser budget from
``fewshot_stcg`` (:class:`stcg.train.config.FewshotStcgConfig`); the graph from ``build_graph``.
Writes the metrics JSON (per reported week and pooled, as every few-shot method) and the
coefficients (interpretable weights per covariate SD) to ``<out>/coefficients.parquet``.
``fewshot_stcg.seeds`` n > 1: the model is fitted n times (seeds ``seed, seed + 1, ...``); the
metrics are their mean with a ``"seeds"`` block (:func:`stcg.metrics.aggregate_seeds`), the
coefficients those of the first seed.
``fewshot_stcg.distributed.nproc`` > 1: the script re-executes itself under ``torchrun`` (as
``train_stcg``); every rank trains its share of each global batch, rank 0 writes.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from stcg import stage
from stcg.config import load_section
from stcg.fewshot.dataset import read_fewshot
from stcg.fewshot.scoring import evaluate, write_method_outputs, write_metrics
from stcg.graph.build import load_graph
from stcg.graph.cluster import assign_to_nodes
from stcg.metrics import aggregate_seeds, sd_at, seed_list
from stcg.train import distributed
from stcg.train.bundle import graph_tensors
from stcg.train.config import FewshotStcgConfig, TrainStcgConfig
from stcg.train.fewshot import fit_stcg_fewshot
from stcg.train.loop import EpochLine


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, fit the model, write metrics and coefficients."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="few-shot dataset (build_fewshot)")
    ap.add_argument("--graph", type=Path, required=True, help="graph .npz (build_graph)")
    ap.add_argument("--out", type=Path, required=True, help="coefficient output directory")
    ap.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    args = ap.parse_args(argv)
    cfg = load_section(FewshotStcgConfig, "fewshot_stcg", args.params)
    main_cfg = load_section(TrainStcgConfig, "train_stcg", args.params)
    distributed.relaunch_under_torchrun(cfg.distributed.nproc, __file__,
                                        sys.argv[1:] if argv is None else list(argv))
    wd = distributed.setup(distributed.local_device(cfg.device))
    try:
        run(args, cfg, main_cfg, wd)
    finally:
        distributed.cleanup()


def run(args: argparse.Namespace, cfg: FewshotStcgConfig, main_cfg: TrainStcgConfig,
        wd: distributed.World) -> None:
    """Fit (every rank), then evaluate and write (rank 0)."""
    fs = read_fewshot(args.data)
    graph = load_graph(args.graph)
    model_cfg = main_cfg.model
    if model_cfg.center_inputs != "none":
        # held-out few-shot cells have no training years, hence no climatology to centre on
        print(f"fewshot_stcg: train_stcg.model.center_inputs = {model_cfg.center_inputs!r} does "
              "not apply to the few-shot task (no climatology for held-out cells); fitting "
              "with center_inputs: none", file=sys.stderr)
        model_cfg = dataclasses.replace(model_cfg, center_inputs="none")
    nodes = assign_to_nodes(fs.lon, fs.lat, graph.node_xyz)
    t0 = time.perf_counter()
    seeds = seed_list(cfg.seed, cfg.seeds)
    weeks = tuple(fs.meta.get("weeks", ()))
    runs, first = [], None
    for s in seeds:
        name = "fewshot_stcg" if len(seeds) == 1 else f"fewshot_stcg seed {s}"
        pred, _ = fit_stcg_fewshot(fs, graph_tensors(graph), nodes, model_cfg,
                                   main_cfg.window, dataclasses.replace(cfg, seed=s),
                                   logger=EpochLine(name, cfg.optim.epochs) if wd.is_main else None,
                                   progress=sys.stderr.isatty() and wd.is_main)
        if wd.is_main:
            runs.append(evaluate(fs, pred, weeks))
            first = pred if first is None else first
    if not wd.is_main:
        return
    metrics = aggregate_seeds(runs, seeds)
    write_method_outputs(fs, first, args.out)
    write_metrics(args.metrics, metrics)
    t = metrics["all"]
    spread = sd_at(metrics, "all", "test", "rmse")
    print(f"fewshot stcg: train RMSE {t['train']['rmse']:.4f}, test RMSE {t['test']['rmse']:.4f}"
          + (f" ± {spread:.4f} over {len(seeds)} seeds" if spread is not None else "")
          + f" ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    stage.run(main)
