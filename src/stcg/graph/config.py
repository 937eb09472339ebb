"""Params of stage ``build_graph`` (:class:`BuildGraphConfig`, paper Section 3.2).

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Node2VecConfig:
    """Node2vec (Grover & Leskovec 2016): biased random walks + skip-gram, negative sampling.

    ``walk_length`` and ``context_size`` follow PyG's ``Node2Vec`` meaning: every walk of
    ``walk_length`` nodes is cut into sub-walks of ``context_size`` nodes, and the first node of a
    sub-walk is trained against the others (positives) and ``num_negative`` random walks of
    uniformly drawn nodes (negatives).
    """

    dim: int = 16
    walk_length: int = 20
    context_size: int = 10
    walks_per_node: int = 10
    p: float = 1.0
    q: float = 1.0
    num_negative: int = 1
    weighted: bool = True
    epochs: int = 5
    batch_size: int = 128
    lr: float = 0.01

    def validate(self) -> None:
        """Sizes must be positive, the context no longer than a walk, p and q positive."""
        for name in ("dim", "walk_length", "context_size", "walks_per_node", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"node2vec.{name}: must be >= 1, got {getattr(self, name)}")
        if self.context_size < 2 or self.context_size > self.walk_length:
            raise ValueError(
                f"node2vec.context_size: must be in 2..walk_length ({self.walk_length}), "
                f"got {self.context_size}"
            )
        if self.p <= 0 or self.q <= 0:
            raise ValueError(f"node2vec.p/q: must be > 0, got p={self.p}, q={self.q}")
        if self.num_negative < 0:
            raise ValueError(f"node2vec.num_negative: must be >= 0, got {self.num_negative}")


@dataclasses.dataclass(frozen=True)
class BuildGraphConfig:
    """Stage ``build_graph``: the spatiotemporal conditional graph (paper Section 3.2, eqs. 5-9).

    Attributes:
        seed: seeds K-means, the random walks and the skip-gram training.
        clusters: K-means clusters = graph nodes (paper: 1000 at 0.5 degree).
        area_weighted: weight each land cell by its area (cos latitude) in K-means, so that nodes
            cover similar areas rather than similar numbers of equirectangular cells.
        kmeans_init: K-means restarts (sklearn ``n_init``).
        knn: neighbours per node on the unit sphere (eq. 7), before symmetrisation.
        sigma: the log-Gaussian kernel's sigma (eq. 8).
        mu: the kernel's distance scale (eq. 8, chord length on the unit sphere); ``null`` = the
            median edge length.
        node2vec: the initial node embeddings.
    """

    seed: int
    clusters: int
    knn: int = 8
    area_weighted: bool = True
    kmeans_init: int = 4
    sigma: float = 1.0
    mu: float | None = None
    node2vec: Node2VecConfig = Node2VecConfig()

    def validate(self) -> None:
        """Clusters >= 2, 1 <= knn < clusters, sigma and mu positive."""
        if self.clusters < 2:
            raise ValueError(f"clusters: must be >= 2, got {self.clusters}")
        if not 1 <= self.knn < self.clusters:
            raise ValueError(f"knn: must be in 1..clusters-1 ({self.clusters - 1}), got {self.knn}")
        if self.kmeans_init < 1:
            raise ValueError(f"kmeans_init: must be >= 1, got {self.kmeans_init}")
        if self.sigma <= 0:
            raise ValueError(f"sigma: must be > 0, got {self.sigma}")
        if self.mu is not None and self.mu <= 0:
            raise ValueError(f"mu: must be > 0 or null, got {self.mu}")
