"""The spatiotemporal conditional graph file (paper Section 3.2, eqs. 5-9) and its metrics.

:func:`build_graph` runs the whole construction on the land cells of a dataset:
K-means on the sphere (:mod:`stcg.graph.cluster`, eq. 5), KNN on the sphere, symmetrised and
bridged into one component, log-Gaussian edge weights (:mod:`stcg.graph.knn`, eqs. 6-9), and
node2vec embeddings (:mod:`stcg.graph.node2vec`).  The result is one ``.npz`` file
(:func:`save_graph` / :func:`load_graph`) with these arrays:

=================  ==========  ====================================================
key                shape       meaning
=================  ==========  ====================================================
node_lon/lat       [K]         node (cluster centre) coordinates, degrees
node_xyz           [K, 3]      the same on the unit sphere
edge_src/dst       [E]         undirected edges, each once, ``src < dst``
edge_dist          [E]         chord length on the unit sphere
edge_weight        [E]         eq. 8 weight in (0, 1]
embedding          [K, dim]    node2vec embeddings
cell_id            [C]         dataset cell ids (ascending)
cell_lon/lat       [C]         cell centres
cell_node          [C]         node of each cell
sigma, mu          []          eq. 8 kernel parameters actually used
n_bridges          []          edges added to connect components
=================  ==========  ====================================================
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from stcg.graph.cluster import kmeans_sphere
from stcg.graph.config import BuildGraphConfig
from stcg.graph.knn import (
    Edges,
    connect_components,
    default_mu,
    edge_weights,
    knn_edges,
    n_components,
)
from stcg.graph.node2vec import node2vec
from stcg.graph.sphere import chord_to_km, crosses_dateline
from stcg.io import atomic_path


@dataclass(frozen=True)
class Graph:
    """The spatiotemporal conditional graph (array meanings in the module docstring)."""

    node_lon: np.ndarray
    node_lat: np.ndarray
    node_xyz: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_dist: np.ndarray
    edge_weight: np.ndarray
    embedding: np.ndarray
    cell_id: np.ndarray
    cell_lon: np.ndarray
    cell_lat: np.ndarray
    cell_node: np.ndarray
    sigma: float
    mu: float
    n_bridges: int

    @property
    def n_nodes(self) -> int:
        """K."""
        return int(self.node_lon.size)

    @property
    def n_edges(self) -> int:
        """E (undirected)."""
        return int(self.edge_src.size)

    def degree(self) -> np.ndarray:
        """``[K]`` unweighted node degrees."""
        return np.bincount(
            np.concatenate([self.edge_src, self.edge_dst]), minlength=self.n_nodes
        )


def build_graph(
    cell_id: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    cfg: BuildGraphConfig,
    progress: bool = True,
) -> Graph:
    """Build the graph of a set of land cells.

    Args:
        cell_id: ``[C]`` cell ids.
        lon: ``[C]`` degrees.
        lat: ``[C]`` degrees.
        cfg: the ``build_graph`` params.
        progress: show a tqdm bar for node2vec.

    Returns:
        The :class:`Graph`, with cells sorted by ``cell_id``.
    """
    order = np.argsort(cell_id, kind="stable")
    cell_id, lon, lat = (np.asarray(a)[order] for a in (cell_id, lon, lat))
    if np.unique(cell_id).size != cell_id.size:
        raise ValueError("build_graph: duplicated cell_id in the cells table")
    cl = kmeans_sphere(lon, lat, cfg.clusters, cfg.seed, cfg.area_weighted, cfg.kmeans_init)
    edges = knn_edges(cl.center_xyz, cfg.knn)
    edges, n_bridges = connect_components(cl.center_xyz, edges)
    mu = cfg.mu if cfg.mu is not None else default_mu(edges)
    weight = edge_weights(edges.dist, cfg.sigma, mu)
    n2v = cfg.node2vec
    emb = node2vec(
        cfg.clusters,
        edges.src,
        edges.dst,
        weight,
        dim=n2v.dim,
        walk_length=n2v.walk_length,
        context_size=n2v.context_size,
        walks_per_node=n2v.walks_per_node,
        p=n2v.p,
        q=n2v.q,
        num_negative=n2v.num_negative,
        epochs=n2v.epochs,
        batch_size=n2v.batch_size,
        lr=n2v.lr,
        seed=cfg.seed,
        weighted=n2v.weighted,
        progress=progress,
    )
    return Graph(
        node_lon=cl.center_lon,
        node_lat=cl.center_lat,
        node_xyz=cl.center_xyz,
        edge_src=edges.src,
        edge_dst=edges.dst,
        edge_dist=edges.dist,
        edge_weight=weight,
        embedding=emb,
        cell_id=cell_id.astype(np.int64),
        cell_lon=lon.astype(np.float64),
        cell_lat=lat.astype(np.float64),
        cell_node=cl.labels,
        sigma=float(cfg.sigma),
        mu=float(mu),
        n_bridges=int(n_bridges),
    )


def save_graph(path: str | Path, graph: Graph) -> None:
    """Write the graph as one ``.npz`` atomically."""
    arrays = {f.name: np.asarray(getattr(graph, f.name)) for f in fields(graph)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_graph(path: str | Path) -> Graph:
    """Read a graph written by :func:`save_graph`.

    Raises:
        FileNotFoundError / ValueError: naming the file and the missing keys.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no graph file (run `dvc repro build_graph`)")
    with np.load(path, allow_pickle=False) as z:
        missing = [f.name for f in fields(Graph) if f.name not in z.files]
        if missing:
            raise ValueError(f"{path}: not a stcg graph file, missing arrays {missing}")
        kw = {f.name: z[f.name] for f in fields(Graph)}
    for name in ("sigma", "mu"):
        kw[name] = float(kw[name])
    kw["n_bridges"] = int(kw["n_bridges"])
    return Graph(**kw)


def graph_metrics(graph: Graph) -> dict:
    """``reports/metrics/graph.json``: sizes, degrees, connectivity, dateline edges, weights."""
    deg = graph.degree()
    edges = Edges(graph.edge_src, graph.edge_dst, graph.edge_dist)
    n_comp, _ = n_components(graph.n_nodes, edges)
    km = chord_to_km(graph.edge_dist)
    per_node = np.bincount(graph.cell_node, minlength=graph.n_nodes)
    dateline = crosses_dateline(graph.node_lon[graph.edge_src], graph.node_lon[graph.edge_dst])
    return {
        "nodes": graph.n_nodes,
        "cells": int(graph.cell_id.size),
        "edges": graph.n_edges,
        "components": n_comp,
        "bridges_added": graph.n_bridges,
        "dateline_edges": int(dateline.sum()),
        "degree": {
            "min": int(deg.min()),
            "mean": float(deg.mean()),
            "median": float(np.median(deg)),
            "max": int(deg.max()),
        },
        "cells_per_node": {
            "min": int(per_node.min()),
            "mean": float(per_node.mean()),
            "max": int(per_node.max()),
            "empty_nodes": int((per_node == 0).sum()),
        },
        "edge_km": {
            "min": float(km.min()),
            "median": float(np.median(km)),
            "max": float(km.max()),
        },
        "edge_weight": {
            "min": float(graph.edge_weight.min()),
            "mean": float(graph.edge_weight.mean()),
            "max": float(graph.edge_weight.max()),
        },
        "kernel": {"sigma": graph.sigma, "mu": graph.mu},
        "embedding_dim": int(graph.embedding.shape[1]),
    }
