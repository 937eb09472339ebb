"""The dual-branch STCG model (paper Sections 3.1-3.3, Figures 1-2) and its loss (eqs. 16-18).

A sample is a cell ``c`` at time step ``t`` (a year and an 8-day period).  The model sees

* ``x [B, L, F]``: the standardised features of the window of ``L`` periods ending at ``t``
  (across a year boundary when needed);
* ``node [B]``: the graph node of the cell (K-means cluster, eq. 5);
* ``period [B, L]``: the period of the year (0..45) of every window step: the condition time
  index ``t`` of Section 3.2 (docs/design.md, "Model decisions": period of year, so the test year
  has conditions).

and returns the GPP prediction, the interpretable weights ``w [B, F]`` (+ intercept) and
``y_interp`` (eq. 17).  The loss is ``L_dep + L_interp`` (eqs. 16, 18).

Pipeline: :class:`~stcg.model.encoder.LocationInvariantEncoder` -> tokens ``[B, L, F, D]``;
:class:`~stcg.model.condition.ConditionEncoder` -> ``V_final [K, 46, D]`` once per step (in
eager CPU training only the rows of the batch's nodes), gathered at ``(node, period)`` ->
``[B, L, D]``; two :class:`~stcg.model.decoder.ConditionalDecoder`.
Ambiguities and their decisions are documented in those modules.

Ablations (``ModelConfig``), each a different code path:
``condition: false`` (no condition encoder; decoders attend over the data features only),
``gcn/lstm/temporal_conv: false`` (skip that step), ``attention: softmax`` (encoder),
``interp: false`` (no interpretable branch; loss = L_dep).  ``output`` (identity | softplus |
clamp) makes the GPP prediction non-negative (:meth:`STCGModel.gpp_output`); ``y_interp`` stays
the linear ``w_0 + sum_j w_j x_j`` so the weights keep adding up to it.

Interpretable-weight options (beyond the paper, ``ModelConfig``):

* ``interp_source: condition``: the weights and ``w_0`` are decoded from the condition alone (the
  node's condition vectors over the window, the cell's land cover and one learned query per
  feature), never from the inputs: a spatiotemporally varying-coefficient model of GWR's form,
  ``y_interp = w_0(u, t) + sum_j w_j(u, t) z_j``.  With ``data`` (eq. 15, default) the queries
  come from the inputs, so any ``w(x)`` with ``w_0 = y - w.z`` fits L_interp equally well: the
  weights are not identifiable from the loss.
* ``center_inputs: climatology``: the interpretable branch reads ``z - z_ref`` instead of
  ``z``, with ``z_ref`` the cell's mean of the same period over the training years
  (:func:`stcg.train.data.climatology_reference`, passed as ``x_ref``): ``w_0`` becomes the GPP
  of the cell's usual state and ``w_j (z_j - z_ref,j)`` the contribution of today's departure
  from it, instead of a departure from the global training mean.  Only ``y_interp`` changes; the
  target branch is the same.
* ``consistency_weight`` (lambda): adds ``lambda * mean_b ||w_b - stopgrad(dy/dz_b)||^2`` to the
  loss, tying the weights to the target head's sensitivity to the current inputs (both are GPP
  per standard deviation of the input).

``k`` and ``L`` are ``build_graph.clusters`` and ``train_stcg.window``.  ``land_cover`` adds the
cell's IGBP class as an encoder token (see :mod:`stcg.model.encoder`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stcg.data.schema import IGBP_CLASSES, PERIODS_PER_YEAR
from stcg.model.condition import ConditionEncoder, fit_embedding
from stcg.model.config import ModelConfig
from stcg.model.decoder import ConditionalDecoder, memory
from stcg.model.encoder import LocationInvariantEncoder

N_LAND_COVER = len(IGBP_CLASSES) + 1
"""IGBP classes 0..16 plus 17 for any other code (see ``stcg.train.data.land_cover_index``)."""


@dataclass
class STCGOutput:
    """Model outputs for a batch.

    Attributes:
        y: ``[B]`` predicted GPP (target branch, float32).
        y_interp: ``[B]`` ``w_0 + sum_j w_j x_j`` (None without the interpretable branch).
        weights: ``[B, F]`` interpretable weights (None without the branch).
        intercept: ``[B]`` ``w_0`` (None without the branch or the intercept).
        consistency: the weighted consistency penalty of the batch
            (:func:`consistency_penalty`), computed in training mode when
            ``model.consistency_weight > 0``; else None.
    """

    y: torch.Tensor
    y_interp: torch.Tensor | None
    weights: torch.Tensor | None
    intercept: torch.Tensor | None
    consistency: torch.Tensor | None = None


@dataclass(frozen=True)
class GraphTensors:
    """What the model needs of the graph file: edges, weights and node2vec embeddings."""

    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_weight: np.ndarray
    embedding: np.ndarray

    @property
    def n_nodes(self) -> int:
        """K."""
        return int(self.embedding.shape[0])


class STCGModel(nn.Module):
    """The STCG model.

    Args:
        cfg: model params (``train_stcg.model``).
        n_features: F.
        graph: the conditional graph (ignored but for its node count when ``condition`` is off).
        y_mean: training-split GPP mean (output reparametrisation, see decoder module).
        y_std: training-split GPP standard deviation.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        n_features: int,
        graph: GraphTensors,
        y_mean: float = 0.0,
        y_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_features = n_features
        d = cfg.d_model
        self.register_buffer("y_mean", torch.tensor(float(y_mean)))
        self.register_buffer("y_std", torch.tensor(float(y_std)))
        self.encoder = LocationInvariantEncoder(
            n_features, d, cfg.heads, cfg.encoder_blocks, cfg.attention, cfg.ffn_mult,
            cfg.dropout, cfg.eps, n_land_cover=N_LAND_COVER if cfg.land_cover else 0,
        )
        self.condition = (
            ConditionEncoder(
                fit_embedding(graph.embedding, d),
                graph.edge_src,
                graph.edge_dst,
                graph.edge_weight,
                temporal_conv=cfg.temporal_conv,
                conv_kernel=cfg.conv_kernel,
                gcn=cfg.gcn,
                gcn_self_loops=cfg.gcn_self_loops,
                lstm=cfg.lstm,
                time_embedding=cfg.time_embedding,
                periods=PERIODS_PER_YEAR,
                gcn_impl=cfg.gcn_impl,
            )
            if cfg.condition
            else None
        )
        self.target_query = nn.Parameter(torch.zeros(1, 1, d))
        self.target_decoder = ConditionalDecoder(
            d, cfg.heads, cfg.decoder_layers, cfg.target_tokens == "features", cfg.ffn_mult,
            cfg.dropout,
        )
        self.target_head = nn.Linear(d, 1)
        nn.init.zeros_(self.target_head.weight)  # start at y_mean (see decoder module)
        nn.init.zeros_(self.target_head.bias)
        if cfg.interp:
            self.interp_decoder = ConditionalDecoder(
                d, cfg.heads, cfg.decoder_layers, True, cfg.ffn_mult, cfg.dropout
            )
            self.interp_head = nn.Linear(d, 1)
            nn.init.zeros_(self.interp_head.weight)  # start at w = 0, y_interp = y_mean
            nn.init.zeros_(self.interp_head.bias)
            self.intercept_query = (
                nn.Parameter(torch.zeros(1, 1, d)) if cfg.interp_intercept else None
            )
            if cfg.interp_source == "condition":
                # one query per feature (distinct from the start, or every weight is the same)
                self.feature_query = nn.Parameter(0.02 * torch.randn(1, n_features, d))
                self.interp_land_cover = (
                    nn.Embedding(N_LAND_COVER, d) if cfg.land_cover else None
                )
            else:
                self.feature_query = None
                self.interp_land_cover = None
        else:
            self.interp_decoder = None
            self.intercept_query = None
            self.feature_query = None
            self.interp_land_cover = None

    def condition_table(self) -> torch.Tensor | None:
        """``V_final [K, 46, D]`` (float32), or None with the condition branch off."""
        return None if self.condition is None else self.condition()

    def gpp_output(self, z: torch.Tensor) -> torch.Tensor:
        """GPP from the target head's standardised output ``z [B]`` (``model.output``).

        * ``identity``: ``y_mean + y_std z`` (negative GPP possible);
        * ``softplus``: ``y_std softplus(y_mean / y_std + z)``, the identity smoothed at 0:
          positive, and within ``y_std log(1 + exp(-|y| / y_std))`` of the identity's ``y``;
        * ``clamp``: the identity while training (the loss keeps its gradient for negative
          outputs), ``max(0, .)`` in eval mode (predictions).
        """
        if self.cfg.output == "softplus":
            return self.y_std * nn.functional.softplus(self.y_mean / self.y_std + z)
        y = self.y_mean + self.y_std * z
        if self.cfg.output == "clamp" and not self.training:
            return y.clamp_min(0.0)
        return y

    def forward(
        self,
        x: torch.Tensor,
        node: torch.Tensor,
        period: torch.Tensor,
        land_cover: torch.Tensor | None = None,
        cond_table: torch.Tensor | None = None,
        x_ref: torch.Tensor | None = None,
    ) -> STCGOutput:
        """Predict a batch.

        Args:
            x: ``[B, L, F]`` standardised features (no NaN).
            node: ``[B]`` int64 graph node of each sample.
            period: ``[B, L]`` int64 period of year (0..45) of each window step.
            land_cover: ``[B]`` int64 land-cover index (required with ``land_cover: true``).
            cond_table: a precomputed :meth:`condition_table` (evaluation); if None, it is
                computed (on CPU, eagerly: only the rows of the batch's nodes).
            x_ref: ``[B, F]`` the local reference subtracted from the interpretable branch's
                inputs (required with ``center_inputs: climatology``, ignored otherwise).

        Returns:
            :class:`STCGOutput`.
        """
        x_now_leaf = None
        if (self.training and self.cfg.consistency_weight > 0 and self.interp_decoder is not None
                and torch.is_grad_enabled()):
            x_now_leaf = x[:, -1].detach().requires_grad_(True)
            x = torch.cat([x[:, :-1], x_now_leaf[:, None]], dim=1)
        tokens = self.encoder(x, land_cover)  # [B, L, F (+1 land cover), D]
        data_keys = tokens.mean(dim=2)  # [B, L, D]
        cond = None
        if self.condition is not None:
            if cond_table is None and node.device.type == "cpu" and not _compiling():
                # the condition of the batch's nodes only (ConditionEncoder.forward); on CPU,
                # where it is most of a step at 1000 nodes: on CUDA torch.unique would wait for
                # the device every step, and under torch.compile its data-dependent size would
                # break the graph (all K present: uniq is 0..K-1 and row is node)
                uniq, row = torch.unique(node, return_inverse=True)
                table = self.condition(uniq if uniq.numel() < self.condition.n_nodes else None)
            elif cond_table is None:
                table, row = self.condition_table(), node
            else:
                table, row = cond_table, node
            cond = gather_condition(table, row, period).to(data_keys.dtype)  # [B, L, D]
        keys, values = memory(data_keys, cond, self.cfg.cross_attention)
        current = tokens[:, -1, : self.n_features]  # [B, F, D]: the interpretable features
        pooled = data_keys[:, -1:]  # [B, 1, D]

        q = self.target_query + pooled
        if self.cfg.target_tokens == "features":
            q = torch.cat([q, tokens[:, -1]], dim=1)  # + every current-step token
        h = self.target_decoder(q, keys, values)
        y = self.gpp_output(self.target_head(h[:, 0])[:, 0].float())

        if self.interp_decoder is None:
            return STCGOutput(y=y, y_interp=None, weights=None, intercept=None)
        if self.feature_query is not None:
            out = self._condition_weights(cond, land_cover)
        else:
            q = current
            if self.intercept_query is not None:
                q = torch.cat([self.intercept_query.expand(x.shape[0], -1, -1) + pooled, q], dim=1)
            out = self.y_std * self.interp_head(self.interp_decoder(q, keys, values))[..., 0].float()
        x_now = x[:, -1].float()  # [B, F]
        if self.cfg.center_inputs == "climatology":
            if x_ref is None:
                raise ValueError("x_ref (the local reference) is required with "
                                 "model.center_inputs: climatology")
            x_now = x_now - x_ref.float()
        if self.intercept_query is not None:
            w0, w = out[:, 0] + self.y_mean, out[:, 1:]
            y_interp = w0 + (w * x_now).sum(-1)
        else:
            w0, w = None, out
            y_interp = (w * x_now).sum(-1)
        cons = None
        if x_now_leaf is not None:
            (sens,) = torch.autograd.grad(y.sum(), x_now_leaf, retain_graph=True)
            cons = consistency_penalty(w, sens, self.cfg.consistency_weight)
        return STCGOutput(y=y, y_interp=y_interp, weights=w, intercept=w0, consistency=cons)

    def _condition_weights(
        self, cond: torch.Tensor, land_cover: torch.Tensor | None
    ) -> torch.Tensor:
        """``[B, (1 +) F]`` intercept and weights from the condition alone (``interp_source:
        condition``): queries = learned feature queries + the current condition vector (+ the
        land cover's embedding); keys = values = the window's condition vectors."""
        b = cond.shape[0]
        base = cond[:, -1:]
        if self.interp_land_cover is not None:
            if land_cover is None:
                raise ValueError("land_cover is required with model.land_cover: true")
            base = base + self.interp_land_cover(land_cover)[:, None].to(base.dtype)
        q = self.feature_query.expand(b, -1, -1).to(base.dtype) + base
        if self.intercept_query is not None:
            q = torch.cat([self.intercept_query.expand(b, -1, -1).to(base.dtype) + base, q], dim=1)
        return self.y_std * self.interp_head(self.interp_decoder(q, cond, cond))[..., 0].float()


def gather_condition(table: torch.Tensor, row: torch.Tensor, period: torch.Tensor) -> torch.Tensor:
    """``table[row[:, None], period]`` (``table [R, P, D]``, ``row [B]``, ``period [B, L]`` ->
    ``[B, L, D]``) as an embedding lookup of the flattened table: the same values, and a
    backward that adds repeated (row, period) pairs in a fixed order.  The advanced-index form's
    backward (``index_put_`` with accumulation) adds them in an order that changes between runs
    on several CPU threads, which made training not reproducible."""
    r, p, d = table.shape
    flat = row[:, None] * p + period
    return nn.functional.embedding(flat, table.reshape(r * p, d))


def _compiling() -> bool:
    """Inside a ``torch.compile`` trace."""
    return bool(torch.compiler.is_compiling())


def consistency_penalty(w: torch.Tensor, sens: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * mean_b sum_j (w_bj - stopgrad(sens_bj))^2``: ties the interpretable weights to
    the target head's sensitivity ``dy/dz`` (no gradient flows into ``sens``)."""
    return weight * ((w.float() - sens.detach().float()) ** 2).sum(-1).mean()


def stcg_loss(out: STCGOutput, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``L = L_dep + L_interp`` (eqs. 16, 18), MSE on raw GPP.

    Returns:
        ``(total, L_dep, L_interp)``; ``L_interp`` is 0 without the interpretable branch; the
        total includes the model's consistency penalty when it computed one
        (``model.consistency_weight > 0``).
    """
    y = y.float()
    dep = torch.mean((out.y - y) ** 2)
    if out.y_interp is None:
        interp = torch.zeros((), device=y.device)
    else:
        interp = torch.mean((out.y_interp - y) ** 2)
    total = dep + interp
    if out.consistency is not None:
        total = total + out.consistency
    return total, dep, interp
