"""Training throughput: STCG vs pytorch-frame TabNet and ResNet, same synthetic data, same run.

Runs real training steps of each model on the same synthetic data of the profile's size (random
features, a random spherical KNN graph with the profile's nodes), so it needs no built dataset:

* **STCG** (``train_stcg`` of ``--profile``): window gather on the device, forward, backward,
  gradient clipping, AdamW; eager and, with ``--compile`` / ``--compile-compare``,
  ``torch.compile``d;
* **TabNet / ResNet** (``train_tabular.models`` of the profile, pytorch-frame): the same samples
  as one table row each (the 26 features of the target period + land cover as a category), a
  :class:`torch_frame.TensorFrame` on the device indexed per batch, forward, backward, AdamW.

On CUDA the data live on the device and every model runs under bf16 autocast (``--no-amp``:
float32).  Prints, per model, samples/s, peak memory (CUDA: max allocated; CPU: the process's
peak RSS, cumulative, so the first model's figure is its own and later ones are upper bounds) and
the projected wall time of the paper protocol (20 epochs x ~52M samples), plus the ratio
STCG / TabNet; writes the JSON under ``reports/bench/`` (``--out``; ``--no-save`` not to).

``--nproc N`` (N > 1) runs the STCG part as N data-parallel ranks (DDP; NCCL on GPUs, gloo on
CPU) through ``torchrun``, at the same global batch: the bench re-executes itself under
``torchrun --standalone --nproc_per_node N``; rank 0 reports.

``--old-vs-new`` (CPU, float32) times the training step's previous formulation (the whole
condition table of all K nodes computed every step) against the current one (the condition rows
of the batch's nodes only; ``stcg.model.condition``), alternating ``--repeats`` times, per profile
of ``--compare-profiles`` and thread count of ``--compare-threads``; it records samples per wall
second and per CPU second (``time.process_time``: less disturbed by other jobs on a shared
machine) and their ratios in ``reports/bench/cpu_step_speed.json``.

Examples::

    PYTHONPATH=src python bench/train_throughput.py --profile tiny --device cpu
    PYTHONPATH=src python bench/train_throughput.py --profile default --compile-compare
    PYTHONPATH=src python bench/train_throughput.py --profile paper --batch-size 4096 --device cuda
    PYTHONPATH=src python bench/train_throughput.py --profile paper --batch-size 4096 \\
        --device cuda --compile --nproc 8 --tabular none
    PYTHONPATH=src python bench/train_throughput.py --old-vs-new --cells 3000 --steps 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from stcg.config import from_dict, read_params, resolve_profile
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.device import autocast, resolve_device
from stcg.graph.config import BuildGraphConfig
from stcg.graph.knn import connect_components, edge_weights, knn_edges
from stcg.graph.sphere import lonlat_to_xyz
from stcg.io import write_json
from stcg.model.stcg import GraphTensors, STCGModel, stcg_loss
from stcg.train import distributed
from stcg.train.config import TrainStcgConfig
from stcg.train.data import DeviceData

CELLS = {"tiny": 150, "default": 2400, "paper": 61000}
PAPER_EPOCHS = 20
PAPER_SAMPLES = 52_000_000  # ~58k land cells x 46 periods x 19 training years
TABULAR = {"tabnet": "TabNet", "resnet": "ResNet"}


def section(params: dict, name: str, cls: type, profile: str):
    """A params section for an explicit profile (bench only; stages use load_section)."""
    return from_dict(cls, resolve_profile(params[name], profile), where=f"params.yaml: {name}")


def synthetic(cells: int, years: int, features: int, nodes: int, knn: int, dim: int,
              window: int, device: torch.device, seed: int = 0):
    """Random device data and graph of the given sizes."""
    g = torch.Generator().manual_seed(seed)
    t_all = years * PERIODS_PER_YEAR
    x = torch.randn(cells, t_all, features, generator=g).to(device)
    y = (torch.rand(cells, t_all, generator=g) * 10).to(device)
    period = torch.arange(t_all).remainder(PERIODS_PER_YEAR).to(device)
    node = torch.randint(0, nodes, (cells,), generator=g).to(device)
    lc = torch.randint(0, 17, (cells,), generator=g).to(device)
    data = DeviceData(x=x, y=y, period=period, node=node, window=window, land_cover=lc)
    rng = np.random.default_rng(seed)
    xyz = lonlat_to_xyz(rng.uniform(-180, 180, nodes), np.rad2deg(np.arcsin(rng.uniform(-1, 1, nodes))))
    edges, _ = connect_components(xyz, knn_edges(xyz, min(knn, nodes - 1)))
    w = edge_weights(edges.dist, 1.0, float(np.median(edges.dist)))
    graph = GraphTensors(edges.src, edges.dst, w, rng.normal(size=(nodes, dim)).astype(np.float32))
    return data, graph


def peak_memory_mb(device: torch.device) -> float:
    """Peak device memory (CUDA) or peak resident set size of the process (CPU), MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(step: Callable[[], torch.Tensor], steps: int, warmup: int, bs: int,
          device: torch.device) -> dict:
    """Run ``warmup`` then ``steps`` timed calls of ``step``; samples/s, peak memory, projection.

    ``warmup_seconds`` is the wall time of the warm-up steps: with ``torch.compile`` it holds the
    first compilation (later recompilations for new shapes fall in the timed steps).
    """
    w0 = time.perf_counter()
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    distributed.barrier()
    warmup_s = time.perf_counter() - w0
    t0, c0 = time.perf_counter(), time.process_time()
    loss = torch.zeros(())
    for _ in range(steps):
        loss = step()
    float(loss.detach())  # sync
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    distributed.barrier()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    sps = steps * bs / elapsed
    return {
        "steps": steps,
        "batch_size": bs,
        "warmup_steps": warmup,
        "warmup_seconds": warmup_s,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "samples_per_s": sps,
        "samples_per_cpu_s": steps * bs / max(cpu, 1e-9),
        "step_ms": 1000 * elapsed / steps,
        "peak_memory_mb": peak_memory_mb(device),
        "projected_paper_protocol_h": PAPER_EPOCHS * PAPER_SAMPLES / sps / 3600,
        "loss": float(loss.detach()),
    }


def sample_batch(gen: torch.Generator, n_flat: int, t_all: int, lo: int, bs: int,
                 device: torch.device) -> torch.Tensor:
    """``bs`` random flat sample indices whose windows lie inside the data."""
    idx = torch.randint(0, n_flat, (bs,), generator=gen, device=device)
    t = idx.remainder(t_all).clamp(min=lo)
    return idx - idx.remainder(t_all) + t


def bench_stcg(cfg: TrainStcgConfig, data: DeviceData, graph: GraphTensors, bs: int,
               device: torch.device, amp: bool, compile_model: bool, steps: int,
               warmup: int, full_condition: bool = False) -> dict:
    """Time the STCG training step (DDP over the ranks when a process group is up).

    ``full_condition``: the previous formulation of the step, the whole ``V_final`` table of all
    K nodes computed each step and gathered (``cond_table=model.condition_table()``), instead of
    the rows of the batch's nodes only (the model's default)."""
    wd = distributed.world()
    torch.manual_seed(0)
    model = STCGModel(cfg.model, data.x.shape[-1], graph, 2.0, 3.0).to(device)
    step_model: torch.nn.Module = model
    if wd.size > 1:
        step_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if compile_model:
        step_model = torch.compile(step_model)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr,
                            weight_decay=cfg.optim.weight_decay)
    cells, t_all = data.x.shape[0], data.x.shape[1]
    gen = torch.Generator(device=device).manual_seed(0)
    lo, hi = distributed.shard_bounds(bs, wd.rank, wd.size)

    def step() -> torch.Tensor:
        idx = sample_batch(gen, cells * t_all, t_all, cfg.window - 1, bs, device)[lo:hi]
        b = data.gather(idx)
        with autocast(device, amp):
            table = model.condition_table() if full_condition else None
            out = step_model(b.x, b.node, b.period, land_cover=b.land_cover, cond_table=table)
        loss = stcg_loss(out, b.y)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt.step()
        return loss

    res = timed(step, steps, warmup, bs, device)
    res.update(parameters=int(sum(p.numel() for p in model.parameters())),
               compile=bool(compile_model), ranks=wd.size)
    return res


def old_vs_new(args, params: dict, device: torch.device, save: Path | None = None) -> dict:
    """The training step before and after its CPU speed-ups, same data, same run (module
    docstring, ``--old-vs-new``): for each profile and thread count, ``--repeats`` alternating
    timings of each; medians of samples per wall second and per CPU second
    (``time.process_time``, which a machine shared with other jobs disturbs less)."""
    out: dict = {"device": platform.processor() or "cpu", "torch": torch.__version__,
                 "cpu_count": os.cpu_count(), "steps": args.steps, "repeats": args.repeats,
                 "old": "whole V_final table of all K nodes computed each step",
                 "new": "condition rows of the batch's nodes only", "profiles": {}}
    if args.merge and save is not None and save.exists():  # add to an earlier run's results
        out["profiles"] = json.loads(save.read_text()).get("profiles", {})
    for profile in args.compare_profiles:
        cfg = section(params, "train_stcg", TrainStcgConfig, profile)
        gcfg = section(params, "build_graph", BuildGraphConfig, profile)
        bs = args.batch_size or cfg.optim.batch_size
        cells = args.cells or CELLS[profile]
        data, graph = synthetic(cells, args.years, 26, gcfg.clusters, gcfg.knn,
                                gcfg.node2vec.dim, cfg.window, device)
        prof: dict = {"batch_size": bs, "window": cfg.window, "nodes": gcfg.clusters,
                      "d_model": cfg.model.d_model, "encoder_blocks": cfg.model.encoder_blocks,
                      "decoder_layers": cfg.model.decoder_layers, "cells": cells,
                      "threads": dict(out["profiles"].get(profile, {}).get("threads", {}))}
        for threads in args.compare_threads:
            torch.set_num_threads(threads)
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            for _ in range(args.repeats):
                for name in ("old", "new"):
                    runs[name].append(bench_stcg(cfg, data, graph, bs, device, False, False,
                                                 args.steps, args.warmup, name == "old"))
            res: dict = {}
            for name, rs in runs.items():
                res[name] = {
                    "samples_per_s": float(np.median([r["samples_per_s"] for r in rs])),
                    "samples_per_cpu_s": float(np.median([r["samples_per_cpu_s"] for r in rs])),
                    "step_ms": float(np.median([r["step_ms"] for r in rs])),
                    "cpu_step_ms": float(np.median([1000 * r["cpu_seconds"] / r["steps"]
                                                    for r in rs])),
                    "all_samples_per_s": [round(r["samples_per_s"], 1) for r in rs],
                    "all_samples_per_cpu_s": [round(r["samples_per_cpu_s"], 1) for r in rs],
                    "final_loss": rs[-1]["loss"],
                }
            res["ratio_wall"] = res["new"]["samples_per_s"] / res["old"]["samples_per_s"]
            res["ratio_cpu"] = res["new"]["samples_per_cpu_s"] / res["old"]["samples_per_cpu_s"]
            prof["threads"][str(threads)] = res
            print(f"{profile:<8} threads {threads}: old {res['old']['samples_per_s']:.0f} "
                  f"new {res['new']['samples_per_s']:.0f} samples/s (x{res['ratio_wall']:.2f}); "
                  f"per CPU s old {res['old']['samples_per_cpu_s']:.0f} "
                  f"new {res['new']['samples_per_cpu_s']:.0f} (x{res['ratio_cpu']:.2f})",
                  file=sys.stderr, flush=True)
            out["profiles"][profile] = prof
            if save is not None:  # after every measurement: a stopped run keeps what it timed
                write_json(save, out)
    return out


def bench_frame(arch: str, params: dict, data: DeviceData, bs: int, device: torch.device,
                amp: bool, lr: float, steps: int, warmup: int) -> dict:
    """Time a pytorch-frame model on the same samples as one row each (module docstring)."""
    import torch_frame
    from torch_frame.data.stats import StatType
    from torch_frame.nn import ResNet, TabNet

    cells, t_all, f = data.x.shape
    x = data.x.reshape(cells * t_all, f)
    lc = data.land_cover.repeat_interleave(t_all)[:, None]
    names = {torch_frame.numerical: [f"v{j}" for j in range(f)],
             torch_frame.categorical: ["land_cover"]}
    tf = torch_frame.TensorFrame(feat_dict={torch_frame.numerical: x,
                                            torch_frame.categorical: lc},
                                 col_names_dict=names, y=data.y.reshape(-1))
    xs = x[: min(x.shape[0], 100_000)].float().cpu().numpy()
    col_stats: dict = {}
    for j, name in enumerate(names[torch_frame.numerical]):
        col = xs[:, j].astype(np.float64)
        col_stats[name] = {StatType.MEAN: float(col.mean()), StatType.STD: float(col.std()),
                           StatType.QUANTILES: np.quantile(col, [0, .25, .5, .75, 1]).tolist()}
    counts = torch.bincount(data.land_cover.cpu(), minlength=17).tolist()
    col_stats["land_cover"] = {StatType.COUNT: (list(range(17)), counts)}
    torch.manual_seed(0)
    cls = {"tabnet": TabNet, "resnet": ResNet}[arch]
    model = cls(out_channels=1, col_stats=col_stats, col_names_dict=names, **params).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    gen = torch.Generator(device=device).manual_seed(0)
    n = cells * t_all

    def step() -> torch.Tensor:
        idx = torch.randint(0, n, (bs,), generator=gen, device=device)
        batch = tf[idx]
        with autocast(device, amp):
            pred = model(batch)
        loss = torch.mean((pred.float().view(-1) - batch.y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    res = timed(step, steps, warmup, bs, device)
    res.update(parameters=int(sum(p.numel() for p in model.parameters())), params=params)
    return res


def main(argv: list[str] | None = None) -> dict | None:
    """Run the benchmark (see module docstring); the result on rank 0, else None."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profile", default="default", choices=sorted(CELLS))
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the profile's")
    ap.add_argument("--tabular-batch-size", type=int, default=None,
                    help="TabNet/ResNet batch (default: --batch-size)")
    ap.add_argument("--device", default=None, help="auto | cpu | cuda (default: the profile's)")
    ap.add_argument("--cells", type=int, default=None, help="default: the profile's land cells")
    ap.add_argument("--years", type=int, default=2, help="years of synthetic data on the device")
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile STCG (only)")
    ap.add_argument("--compile-compare", action="store_true",
                    help="time STCG eager and compiled; report the ratio")
    ap.add_argument("--tabular", nargs="+", default=["tabnet", "resnet"],
                    choices=[*TABULAR, "none"], help="pytorch-frame models to time alongside")
    ap.add_argument("--nproc", type=int, default=1,
                    help="data-parallel ranks for STCG via torchrun (global batch unchanged)")
    ap.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    ap.add_argument("--out", default=None,
                    help="JSON file (default: reports/bench/train_throughput_<profile>_<device>.json)")
    ap.add_argument("--no-save", action="store_true", help="only print")
    ap.add_argument("--old-vs-new", action="store_true",
                    help="time the training step's previous formulation against the current "
                         "one (CPU, float32) for --compare-profiles x --compare-threads; writes "
                         "reports/bench/cpu_step_speed.json (--out)")
    ap.add_argument("--compare-profiles", nargs="+", default=["default", "paper"],
                    choices=sorted(CELLS))
    ap.add_argument("--compare-threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3, help="--old-vs-new: timings of each")
    ap.add_argument("--merge", action="store_true",
                    help="--old-vs-new: keep the other profiles/threads already in --out")
    args = ap.parse_args(argv)
    if args.old_vs_new:
        save = None if args.no_save else Path(args.out or "reports/bench/cpu_step_speed.json")
        res = old_vs_new(args, read_params(args.params), resolve_device(args.device or "cpu"),
                         save)
        print(json.dumps(res, indent=2))
        return res
    distributed.relaunch_under_torchrun(args.nproc, __file__,
                                        sys.argv[1:] if argv is None else list(argv))

    params = read_params(args.params)
    cfg = section(params, "train_stcg", TrainStcgConfig, args.profile)
    gcfg = section(params, "build_graph", BuildGraphConfig, args.profile)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = distributed.local_device(args.device or cfg.device) if distributed.is_rank_process() \
        else resolve_device(args.device or cfg.device)
    wd = distributed.setup(device)
    try:
        return _run(args, params, cfg, gcfg, device, wd)
    finally:
        distributed.cleanup()


def _run(args, params: dict, cfg: TrainStcgConfig, gcfg: BuildGraphConfig, device: torch.device,
         wd: distributed.World) -> dict | None:
    bs = args.batch_size or cfg.optim.batch_size
    cells = args.cells or CELLS[args.profile]
    amp = cfg.amp and not args.no_amp
    data, graph = synthetic(cells, args.years, 26, gcfg.clusters, gcfg.knn, gcfg.node2vec.dim,
                            cfg.window, device)
    runs = [False, True] if args.compile_compare else [bool(args.compile)]
    stcg = {("compiled" if c else "eager"): bench_stcg(cfg, data, graph, bs, device, amp, c,
                                                       args.steps, args.warmup) for c in runs}
    tab: dict[str, dict] = {}
    if wd.size == 1:  # the tabular models are single-process
        tab_bs = args.tabular_batch_size or bs
        models = resolve_profile(params["train_tabular"]["models"], args.profile)
        for arch in [a for a in args.tabular if a != "none"]:
            tab[arch] = bench_frame(arch, dict(models[TABULAR[arch]]["params"]), data, tab_bs,
                                    device, amp, cfg.optim.lr, args.steps, args.warmup)
    if not wd.is_main:
        return None
    main_run = stcg["compiled" if args.compile else "eager"]
    result = {
        "profile": args.profile,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "ranks": wd.size,
        "batch_size": bs,
        "window": cfg.window,
        "nodes": gcfg.clusters,
        "cells": cells,
        "d_model": cfg.model.d_model,
        "encoder_blocks": cfg.model.encoder_blocks,
        "decoder_layers": cfg.model.decoder_layers,
        "attention": cfg.model.attention,
        "amp_bf16": bool(amp and device.type == "cuda"),
        "compile": bool(args.compile),
        "parameters": main_run["parameters"],
        "steps": args.steps,
        "seconds": main_run["seconds"],
        "samples_per_s": main_run["samples_per_s"],
        "step_ms": main_run["step_ms"],
        "peak_memory_mb": main_run["peak_memory_mb"],
        "peak_memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_max_rss",
        "projected_paper_protocol_h": main_run["projected_paper_protocol_h"],
        "paper_protocol": f"{PAPER_EPOCHS} epochs x {PAPER_SAMPLES} samples",
        "stcg": stcg,
        "tabular": tab,
    }
    if "compiled" in stcg and "eager" in stcg:
        result["compiled_over_eager"] = stcg["compiled"]["samples_per_s"] / \
            stcg["eager"]["samples_per_s"]
    if "tabnet" in tab:
        result["stcg_over_tabnet"] = main_run["samples_per_s"] / tab["tabnet"]["samples_per_s"]
    print(json.dumps(result, indent=2))
    lines = [f"{'model':<16}{'samples/s':>12}{'peak MiB':>10}{'paper 20x52M h':>16}"]
    for name, r in [*((f"stcg {k}", v) for k, v in stcg.items()), *tab.items()]:
        lines.append(f"{name:<16}{r['samples_per_s']:>12.0f}{r['peak_memory_mb']:>10.0f}"
                     f"{r['projected_paper_protocol_h']:>16.1f}")
    if "stcg_over_tabnet" in result:
        lines.append(f"STCG / TabNet samples/s: {result['stcg_over_tabnet']:.2f}")
    if "compiled_over_eager" in result:
        lines.append(f"STCG compiled / eager samples/s: {result['compiled_over_eager']:.2f}")
    print("\n".join(lines), file=sys.stderr)
    if not args.no_save:
        out = args.out or f"reports/bench/train_throughput_{args.profile}_{device.type}.json"
        write_json(Path(out), result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
