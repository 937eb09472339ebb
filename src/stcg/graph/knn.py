"""Cyclic graph construction and edge weights (paper Section 3.2, eqs. 6-9).

* Eq. 7: every node links to its ``k`` nearest other nodes by chord distance on the unit sphere
  (so the graph wraps around the dateline and over the poles).  KNN is not symmetric; we take the
  union ``A = A_knn OR A_knn^T`` (an undirected graph, as the GCN's symmetric normalisation
  ``D^-1/2 A D^-1/2`` of eq. 11 presumes) and drop self loops.
* Connectivity (not in the paper): KNN on clustered land can leave islands (e.g. New Zealand,
  Hawaii, Antarctica at coarse resolution) as separate components, which would never exchange
  information through the GCN.  :func:`connect_components` bridges them deterministically: while
  there is more than one component, take the smallest component (ties: the one holding the lowest
  node index) and add the single shortest edge from it to any node outside it (ties: lowest
  node indices).  Each bridge merges two components, so this ends with one.
* Eq. 8: ``w_ij = exp(-(1 - exp(-d_ij / mu))^2 / (2 sigma^2))`` on edges, 0 elsewhere, with
  ``d_ij`` the chord length.  ``w`` lies in (0, 1] and decreases with distance.  ``mu`` defaults to
  the median edge length (docs/design.md, "Graph").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Edges:
    """Undirected edges, each stored once with ``src < dst``, sorted by (src, dst).

    Attributes:
        src: ``[E]`` int64.
        dst: ``[E]`` int64.
        dist: ``[E]`` chord length on the unit sphere.
    """

    src: np.ndarray
    dst: np.ndarray
    dist: np.ndarray

    @property
    def n_edges(self) -> int:
        """E (undirected)."""
        return int(self.src.size)


def knn_edges(xyz: np.ndarray, k: int) -> Edges:
    """Eq. 7 on the unit sphere, symmetrised, without self loops.

    Args:
        xyz: ``[N, 3]`` unit vectors.
        k: neighbours per node (``1 <= k < N``).

    Returns:
        The undirected :class:`Edges`.
    """
    from scipy.spatial import cKDTree  # here: the stages that only load a graph skip scipy

    xyz = np.asarray(xyz, dtype=np.float64)
    n = len(xyz)
    if not 1 <= k < n:
        raise ValueError(f"knn: k must be in 1..{n - 1} for {n} nodes, got {k}")
    tree = cKDTree(xyz)
    # ask for k+1 to skip the point itself
    _, idx = tree.query(xyz, k=k + 1)
    src = np.repeat(np.arange(n), k + 1)
    dst = idx.reshape(-1)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    return _make_edges(xyz, src, dst)


def _make_edges(xyz: np.ndarray, a: np.ndarray, b: np.ndarray) -> Edges:
    n = len(xyz)
    key = np.unique(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
    src, dst = np.divmod(key, n)
    if np.any(src == dst):
        raise ValueError("self loop in edge list")
    dist = np.linalg.norm(xyz[src] - xyz[dst], axis=1)
    return Edges(src=src, dst=dst, dist=dist)


def n_components(n: int, edges: Edges) -> tuple[int, np.ndarray]:
    """Connected components of the undirected graph.

    Returns:
        ``(count, labels [N])``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    adj = coo_matrix((np.ones(edges.n_edges), (edges.src, edges.dst)), shape=(n, n))
    count, labels = connected_components(adj, directed=False)
    return int(count), labels


def connect_components(xyz: np.ndarray, edges: Edges) -> tuple[Edges, int]:
    """Bridge components until the graph is connected (rule in the module docstring).

    Args:
        xyz: ``[N, 3]`` unit vectors.
        edges: the KNN edges.

    Returns:
        ``(edges with bridges, number of bridges added)``.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    n = len(xyz)
    src, dst = list(edges.src), list(edges.dst)
    added = 0
    while True:
        cur = _make_edges(xyz, np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64))
        count, labels = n_components(n, cur)
        if count <= 1:
            return cur, added
        sizes = np.bincount(labels)
        first = np.array([np.flatnonzero(labels == c)[0] for c in range(count)])
        comp = min(range(count), key=lambda c: (sizes[c], first[c]))
        inside = np.flatnonzero(labels == comp)
        outside = np.flatnonzero(labels != comp)
        d = np.linalg.norm(xyz[inside][:, None, :] - xyz[outside][None, :, :], axis=-1)
        i, j = np.unravel_index(np.argmin(d), d.shape)  # argmin: first = lowest indices
        src.append(int(inside[i]))
        dst.append(int(outside[j]))
        added += 1


def default_mu(edges: Edges) -> float:
    """The median edge (chord) length: the default ``mu`` of eq. 8."""
    if edges.n_edges == 0:
        raise ValueError("no edges: cannot take the median edge length")
    return float(np.median(edges.dist))


def edge_weights(dist: np.ndarray, sigma: float, mu: float) -> np.ndarray:
    """Eq. 8: the log-Gaussian kernel of chord distances.

    Args:
        dist: chord lengths (>= 0).
        sigma: kernel width (> 0).
        mu: distance scale (> 0).

    Returns:
        Weights in (0, 1], decreasing in ``dist``.
    """
    if sigma <= 0 or mu <= 0:
        raise ValueError(f"edge_weights: sigma and mu must be > 0, got {sigma}, {mu}")
    s = 1.0 - np.exp(-np.asarray(dist, dtype=np.float64) / mu)
    return np.exp(-(s**2) / (2.0 * sigma**2))
