"""Speed of the two implementations of the condition encoder's graph convolution (eqs. 11-12).

``train_stcg.model.gcn_impl``: ``dense`` multiplies by ``A_hat`` held as a dense ``[K, K]``
matrix; ``pyg`` normalises with PyG's ``gcn_norm`` and aggregates with its ``GCNConv``.  Both
compute the same function (``tests/model/test_model.py::test_gcn_pyg_equals_dense``).  The
encoder runs once per training step over all ``K`` nodes and 46 periods, so what is timed is one
forward and backward pass of :class:`stcg.model.condition.GraphConv` on ``V [K, 46, D]``, on
spherical-KNN graphs built as ``build_graph`` builds them (K-means-free: random points on the
sphere, ``k`` neighbours).

Prints and writes JSON (``--out``); the median of ``--repeats`` timings after a warm-up.
Timings depend on the machine and its load; nothing asserts on them.

    PYTHONPATH=src python bench/gcn_impl.py --nodes 40 1000 --dims 16 64 --threads 1
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from stcg.data.schema import PERIODS_PER_YEAR
from stcg.device import resolve_device
from stcg.graph.knn import default_mu, edge_weights, knn_edges
from stcg.io import write_json
from stcg.model.condition import GraphConv


def sphere_graph(k: int, knn: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """KNN edges and eq. 8 weights between ``k`` random points on the sphere."""
    xyz = np.random.default_rng(seed).normal(size=(k, 3))
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    edges = knn_edges(xyz, knn)
    return edges.src, edges.dst, edge_weights(edges.dist, 1.0, default_mu(edges))


def time_impl(layer: GraphConv, v: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward + backward pass."""
    times = []
    for i in range(repeats + 2):
        x = v.detach().requires_grad_(True)
        if v.is_cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        layer(x).square().sum().backward()
        if v.is_cuda:
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[40, 1000], help="K (graph nodes)")
    ap.add_argument("--dims", type=int, nargs="+", default=[16, 64], help="d_model")
    ap.add_argument("--knn", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = default)")
    ap.add_argument("--device", default="cpu", help="auto | cpu | cuda")
    ap.add_argument("--out", default="reports/bench/gcn_impl.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    rows = []
    for k in args.nodes:
        src, dst, w = sphere_graph(k, min(args.knn, k - 1), seed=0)
        for d in args.dims:
            v = torch.randn(k, PERIODS_PER_YEAR, d, generator=torch.Generator().manual_seed(0))
            v = v.to(device)
            row: dict = {"nodes": k, "edges": int(len(src)), "d_model": d}
            outs = {}
            for impl in ("dense", "pyg"):
                torch.manual_seed(0)
                layer = GraphConv(k, d, src, dst, w, True, impl=impl).to(device)
                row[f"{impl}_ms"] = 1e3 * time_impl(layer, v, args.repeats)
                with torch.no_grad():
                    outs[impl] = layer(v)
            row["max_abs_diff"] = float((outs["dense"] - outs["pyg"]).abs().max())
            row["pyg_speedup"] = row["dense_ms"] / row["pyg_ms"]
            print(json.dumps(row))
            rows.append(row)
    import torch_geometric

    write_json(Path(args.out), {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
                    "device": str(device), "threads": torch.get_num_threads()},
        "periods": PERIODS_PER_YEAR, "knn": args.knn, "repeats": args.repeats, "runs": rows,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
