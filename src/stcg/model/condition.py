"""Spatiotemporal condition encoder (paper Section 3.2, eqs. 10-13).

Node embeddings ``v_{i,t} = Node2vec(i) + RoPE(t)`` for the K graph nodes and the 46 periods of
the year, learnable, then:

* temporal aggregation, eq. 10: a 1-D convolution over the 46 periods (``conv_kernel`` taps,
  channels mixed as in a standard ``Conv1d``; eq. 12 writes one scalar per tap, a special case).
  Padding is *circular*: period 45 (late December) precedes period 0 (early January);
* spatial aggregation, eqs. 11-12: ``V_sp = ReLU(A_hat V_temp H)`` with
  ``A_hat = D^-1/2 (A o W) D^-1/2``, ``W`` the eq. 8 edge weights and ``D`` the weighted degree.
  ``gcn_impl: dense`` multiplies by ``A_hat`` held as a dense ``[K, K]`` matrix (a sparse COO
  product beyond ``DENSE_GCN_MAX_NODES`` nodes); ``gcn_impl: pyg`` normalises with PyG's
  ``gcn_norm`` and aggregates with PyG's ``GCNConv`` (a scatter over the edges).  Both compute the
  same function with the same parameter ``H`` (``tests/model/test_model.py`` checks them equal);
  which is faster depends on ``K`` and the device (``bench/gcn_impl.py``).  The dense product is
  also deterministic on CUDA, where PyG's scatter sums with atomics in a varying order;
* LSTM over the 46 periods, eq. 13, giving ``V_final [K, 46, D]``.

The encoder runs once per training step (not per sample), in float32 even under autocast (it is
small; this keeps the LSTM and the sparse product off bf16).  ``forward(nodes)`` gives the rows of
some nodes only (what an eager CPU training step asks for, the nodes of its batch): the same
numbers as the whole table's rows, with the graph convolution's rows and the LSTM of those nodes
only.

Decisions where the paper is open (all params):

* time index ``t`` = period of the year (0..45), so the test year 2020 has condition vectors
  (docs/design.md, "Model decisions"); the table is per (node, period), shared by all years;
* ``time_embedding: add`` (default) adds RoPE's sinusoid ``[cos(t theta_i) | sin(t theta_i)]`` to
  the node embedding as the paper writes ``Node2vec(i) + RoPE(t)``; ``rotate`` instead rotates the
  node embedding by RoPE's angle for ``t`` (RoPE's own operation);
* ``gcn_self_loops: true`` (default) uses Kipf & Welling's renormalisation ``A o W + I`` so a
  node keeps its own embedding; eq. 11 literally (neighbours only) is ``gcn_self_loops: false``;
* the initial embeddings are node2vec's, scaled to unit standard deviation (so they and the
  sinusoid are of the same size); if node2vec's dimension differs from ``d_model`` they are
  projected on their leading principal components (fewer dims) or zero-padded (more).

Ablations: ``temporal_conv``, ``gcn`` and ``lstm`` false skip their step (identity).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from stcg.data.schema import PERIODS_PER_YEAR
from stcg.model.attention import rope_angles, rope_rotate, sinusoid_table

DENSE_GCN_MAX_NODES = 4096
"""Up to this many nodes A_hat is a dense matrix (fast, deterministic); beyond, sparse COO."""


def fit_embedding(emb: np.ndarray, dim: int) -> np.ndarray:
    """Node2vec embeddings ``[K, d']`` -> ``[K, dim]`` at unit standard deviation.

    PCA projection when ``d' > dim``, zero padding when ``d' < dim``.
    """
    emb = np.asarray(emb, dtype=np.float64)
    emb = emb - emb.mean(axis=0, keepdims=True)
    if emb.shape[1] > dim:
        _, _, vt = np.linalg.svd(emb, full_matrices=False)
        emb = emb @ vt[:dim].T
    elif emb.shape[1] < dim:
        emb = np.concatenate([emb, np.zeros((emb.shape[0], dim - emb.shape[1]))], axis=1)
    std = emb[:, : min(dim, emb.shape[1])].std()
    return (emb / (std if std > 0 else 1.0)).astype(np.float32)


def normalized_adjacency(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, self_loops: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eq. 11's ``D^-1/2 (A o W) D^-1/2`` as COO triplets (both directions of every edge).

    Returns:
        ``(row, col, value)``; value ``w_ij / sqrt(d_i d_j)`` with ``d`` the weighted degree.
    """
    row = np.concatenate([src, dst]).astype(np.int64)
    col = np.concatenate([dst, src]).astype(np.int64)
    val = np.concatenate([weight, weight]).astype(np.float64)
    if self_loops:
        row = np.concatenate([row, np.arange(n)])
        col = np.concatenate([col, np.arange(n)])
        val = np.concatenate([val, np.ones(n)])
    deg = np.bincount(row, weights=val, minlength=n)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)
    return row, col, val * inv[row] * inv[col]


class GraphConv(nn.Module):
    """Eqs. 11-12: ``ReLU(A_hat V H)`` over ``V [K, P, D]``.

    Args:
        n_nodes: ``K``.
        d_model: ``D``.
        src: ``[E]`` undirected edges (each pair once).
        dst: ``[E]``.
        weight: ``[E]`` eq. 8 weights.
        self_loops: add ``I`` to ``A o W`` before normalising.
        impl: ``dense`` (dense or sparse-COO ``A_hat`` product) or ``pyg`` (PyG's ``GCNConv``).
    """

    def __init__(
        self,
        n_nodes: int,
        d_model: int,
        src: np.ndarray,
        dst: np.ndarray,
        weight: np.ndarray,
        self_loops: bool,
        impl: Literal["dense", "pyg"] = "dense",
    ) -> None:
        super().__init__()
        if impl not in ("dense", "pyg"):
            raise ValueError(f"gcn_impl must be 'dense' or 'pyg', got {impl!r}")
        self.h = nn.Linear(d_model, d_model, bias=False)
        self.n = n_nodes
        self.impl = impl
        self.dense = impl == "dense" and n_nodes <= DENSE_GCN_MAX_NODES
        if impl == "pyg":
            self._init_pyg(src, dst, weight, self_loops)
            return
        row, col, val = normalized_adjacency(n_nodes, src, dst, weight, self_loops)
        if self.dense:
            a = torch.zeros(n_nodes, n_nodes, dtype=torch.float32)
            a.index_put_(
                (torch.from_numpy(row), torch.from_numpy(col)),
                torch.from_numpy(val).float(),
                accumulate=True,
            )
            self.register_buffer("a_hat", a)
        else:
            self.register_buffer("a_idx", torch.from_numpy(np.stack([row, col])))
            self.register_buffer("a_val", torch.from_numpy(val).float())

    def _init_pyg(
        self, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, self_loops: bool
    ) -> None:
        """PyG's ``gcn_norm`` edge list and a ``GCNConv`` that aggregates with it.

        The layer's own linear map is replaced by the identity so that ``H`` stays ``self.h``:
        the same parameter, initialisation and checkpoint keys as the dense path.  Building
        ``GCNConv`` initialises that map, so it runs on a forked RNG (the model's other
        parameters draw the same numbers as with ``dense``).
        """
        from torch_geometric.nn import GCNConv
        from torch_geometric.nn.conv.gcn_conv import gcn_norm

        s = torch.from_numpy(np.asarray(src, dtype=np.int64))
        d = torch.from_numpy(np.asarray(dst, dtype=np.int64))
        w = torch.from_numpy(np.asarray(weight, dtype=np.float64))
        edge_index = torch.stack([torch.cat([s, d]), torch.cat([d, s])])
        edge_index, edge_norm = gcn_norm(
            edge_index, torch.cat([w, w]), num_nodes=self.n, add_self_loops=self_loops,
            dtype=torch.float64,
        )
        self.register_buffer("edge_index", edge_index)
        self.register_buffer("edge_norm", edge_norm.float())
        with torch.random.fork_rng(devices=[]):
            conv = GCNConv(1, 1, normalize=False, add_self_loops=False, bias=False)
        conv.lin = nn.Identity()
        self.conv = conv

    def adjacency(self) -> torch.Tensor:
        """``A_hat`` as a dense ``[K, K]`` tensor (for tests and figures)."""
        if self.impl == "pyg":
            a = torch.zeros(self.n, self.n, dtype=torch.float32, device=self.edge_norm.device)
            # PyG's source_to_target flow: edge (j, i) carries x_j into node i, so A_hat[i, j]
            a.index_put_((self.edge_index[1], self.edge_index[0]), self.edge_norm, accumulate=True)
            return a
        if self.dense:
            return self.a_hat
        a = torch.sparse_coo_tensor(
            self.a_idx, self.a_val, (self.n, self.n), check_invariants=False
        )
        return a.to_dense()

    def forward(self, v: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``v [K, P, D] -> [K, P, D]``, or only the output ``rows`` (``[R]`` node indices) ->
        ``[R, P, D]``.

        With ``rows`` the dense product multiplies only those rows of ``A_hat`` (each output row
        is the same dot products as in the full product); the other implementations compute every
        row and select.
        """
        k, p, d = v.shape
        vh = self.h(v).reshape(k, p * d)
        if self.impl == "pyg":
            out = self.conv(vh, self.edge_index, self.edge_norm)
        elif self.dense:
            a = self.a_hat if rows is None else self.a_hat.index_select(0, rows)
            return torch.relu(a @ vh).view(-1, p, d)
        else:
            a = torch.sparse_coo_tensor(
                self.a_idx, self.a_val, (self.n, self.n), check_invariants=False
            )
            out = torch.sparse.mm(a, vh)
        if rows is not None:
            out = out.index_select(0, rows)
        return torch.relu(out).view(-1, p, d)


class ConditionEncoder(nn.Module):
    """``V_final [K, 46, D]`` from learnable node embeddings (eqs. 10-13, module docstring).

    Args:
        init_embedding: ``[K, D]`` initial node embeddings (see :func:`fit_embedding`).
        edge_src: ``[E]`` undirected edges.
        edge_dst: ``[E]``.
        edge_weight: ``[E]`` eq. 8 weights.
        temporal_conv: use eq. 10.
        conv_kernel: its odd kernel size.
        gcn: use eqs. 11-12.
        gcn_self_loops: add ``I`` to ``A o W``.
        lstm: use eq. 13.
        time_embedding: ``add`` or ``rotate`` (module docstring).
        periods: time steps of the condition (46 periods per year).
        gcn_impl: ``dense`` or ``pyg`` (:class:`GraphConv`).
    """

    def __init__(
        self,
        init_embedding: np.ndarray,
        edge_src: np.ndarray,
        edge_dst: np.ndarray,
        edge_weight: np.ndarray,
        temporal_conv: bool = True,
        conv_kernel: int = 3,
        gcn: bool = True,
        gcn_self_loops: bool = True,
        lstm: bool = True,
        time_embedding: Literal["add", "rotate"] = "add",
        periods: int = PERIODS_PER_YEAR,
        gcn_impl: Literal["dense", "pyg"] = "dense",
    ) -> None:
        super().__init__()
        n, d = init_embedding.shape
        if time_embedding not in ("add", "rotate"):
            raise ValueError(f"time_embedding must be 'add' or 'rotate', got {time_embedding!r}")
        if conv_kernel % 2 != 1 or conv_kernel < 1:
            raise ValueError(f"conv_kernel must be odd and >= 1, got {conv_kernel}")
        self.n_nodes, self.d, self.periods = n, d, periods
        self.time_embedding = time_embedding
        self.node_embedding = nn.Parameter(torch.as_tensor(np.asarray(init_embedding)).float())
        if time_embedding == "add":
            self.register_buffer("time_table", sinusoid_table(periods, d))
        else:
            self.register_buffer("time_angles", rope_angles(torch.arange(periods), d))
        self.conv = (
            nn.Conv1d(d, d, conv_kernel, padding=conv_kernel // 2, padding_mode="circular")
            if temporal_conv
            else None
        )
        self.gcn = (
            GraphConv(n, d, np.asarray(edge_src), np.asarray(edge_dst), np.asarray(edge_weight),
                      gcn_self_loops, impl=gcn_impl)
            if gcn
            else None
        )
        self.lstm = nn.LSTM(d, d, batch_first=True) if lstm else None

    def initial(self) -> torch.Tensor:
        """``v_{i,t} = Node2vec(i) + RoPE(t)``: ``[K, P, D]``."""
        e = self.node_embedding
        if self.time_embedding == "add":
            return e[:, None, :] + self.time_table[None, :, :]
        return rope_rotate(e[:, None, :].expand(-1, self.periods, -1), self.time_angles)

    def forward(self, nodes: torch.Tensor | None = None) -> torch.Tensor:
        """``V_final [K, P, D]`` in float32, or only the rows of ``nodes`` (``[R]`` distinct node
        indices) -> ``[R, P, D]``.

        Every step before the graph convolution is per node and the LSTM runs on each node's
        sequence independently, so the rows of ``nodes`` need the convolution's output rows of
        ``nodes`` only (which read their neighbours' inputs) and the LSTM over those nodes only:
        a training step computes the condition of the nodes of its batch, not of all ``K``.
        """
        dev_type = self.node_embedding.device.type
        with torch.autocast(device_type=dev_type, enabled=False):
            v = self.initial()
            if self.conv is not None:
                v = self.conv(v.transpose(1, 2)).transpose(1, 2)
            if self.gcn is not None:
                v = self.gcn(v, nodes)
            elif nodes is not None:
                v = v.index_select(0, nodes)
            if self.lstm is not None:
                v, _ = self.lstm(v.contiguous())
            return v
