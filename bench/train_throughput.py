"""Training throughput of the STCG model: samples/s and peak memory for a profile and batch size.

Runs real training steps (window gather on the device, forward, backward, AdamW) on synthetic data
of the profile's size (random features, a random spherical KNN graph with the profile's number of
nodes), so it needs no built dataset.  Prints one JSON object and writes it under
``reports/bench/`` (``--out`` to choose the file, ``--no-save`` not to).

Examples::

    PYTHONPATH=src python bench/train_throughput.py --profile default
    PYTHONPATH=src python bench/train_throughput.py --profile paper --batch-size 8192 --device cuda
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from stcg.config import (
    BuildGraphConfig,
    TrainStcgConfig,
    from_dict,
    read_params,
    resolve_profile,
)
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.device import autocast, resolve_device
from stcg.graph.knn import connect_components, edge_weights, knn_edges
from stcg.graph.sphere import lonlat_to_xyz
from stcg.io import write_json
from stcg.model.stcg import GraphTensors, STCGModel, stcg_loss
from stcg.train.data import DeviceData

CELLS = {"tiny": 150, "default": 2400, "paper": 61000}


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


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--profile", default="default", choices=sorted(CELLS))
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--batch-size", type=int, default=None, help="default: the profile's")
    ap.add_argument("--device", default=None, help="auto | cpu | cuda (default: the profile's)")
    ap.add_argument("--cells", type=int, default=None, help="default: the profile's land cells")
    ap.add_argument("--years", type=int, default=2, help="years of synthetic data on the device")
    ap.add_argument("--steps", type=int, default=20, help="timed steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    ap.add_argument("--out", default=None,
                    help="JSON file (default: reports/bench/train_throughput_<profile>_<device>.json)")
    ap.add_argument("--no-save", action="store_true", help="only print")
    args = ap.parse_args(argv)

    params = read_params(args.params)
    cfg = section(params, "train_stcg", TrainStcgConfig, args.profile)
    gcfg = section(params, "build_graph", BuildGraphConfig, args.profile)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device or cfg.device)
    bs = args.batch_size or cfg.optim.batch_size
    cells = args.cells or CELLS[args.profile]
    amp = cfg.amp and not args.no_amp
    data, graph = synthetic(cells, args.years, 26, gcfg.clusters, gcfg.knn, gcfg.node2vec.dim,
                            cfg.window, device)
    torch.manual_seed(0)
    model = STCGModel(cfg.model, 26, graph, 2.0, 3.0).to(device)
    step_model = torch.compile(model) if args.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr,
                            weight_decay=cfg.optim.weight_decay)
    n_flat = cells * args.years * PERIODS_PER_YEAR
    gen = torch.Generator(device=device).manual_seed(0)
    lo = cfg.window - 1

    def step() -> torch.Tensor:
        idx = torch.randint(0, n_flat, (bs,), generator=gen, device=device)
        t = idx.remainder(args.years * PERIODS_PER_YEAR).clamp(min=lo)
        idx = idx - idx.remainder(args.years * PERIODS_PER_YEAR) + t
        b = data.gather(idx)
        with autocast(device, amp):
            out = step_model(b.x, b.node, b.period, land_cover=b.land_cover)
        loss = stcg_loss(out, b.y)[0]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    float(loss.detach())  # sync
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elapsed = time.perf_counter() - t0
    result = {
        "profile": args.profile,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
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
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "steps": args.steps,
        "seconds": elapsed,
        "samples_per_s": args.steps * bs / elapsed,
        "step_ms": 1000 * elapsed / args.steps,
        "peak_memory_mb": peak_memory_mb(device),
        "peak_memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_max_rss",
    }
    print(json.dumps(result, indent=2))
    if not args.no_save:
        out = args.out or f"reports/bench/train_throughput_{args.profile}_{device.type}.json"
        write_json(Path(out), result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
