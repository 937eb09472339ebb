"""Location-invariant encoder (paper Section 3.1, eqs. 1-4).

Input: a window of ``L`` periods of ``F`` standardised climate features, ``x [B, L, F]``.

* Linear embedding: every (time, feature) value becomes a token
  ``h[b, l, f] = x[b, l, f] * W_f + b_f`` with a weight and bias per feature (as pytorch-frame's
  ``LinearEncoder`` for numerical columns), so tokens are ``[B, L, F, D]``.
* Land cover (``land_cover: true``): the paper predicts GPP "using global climate and land cover
  data"; the cell's IGBP class is one more feature token per step, a learned class embedding
  (pytorch-frame's ``EmbeddingEncoder`` for categorical columns), so tokens are
  ``[B, L, F + 1, D]``.  It is not one of the F interpretable features of eq. 17.
* Temporal position: RoPE (Su et al. 2024) inside the temporal attention (see
  :mod:`stcg.model.attention`); features carry no position (they are a set, identified by
  their embedding).
* Dual-attention (DA) block, stacked ``encoder_blocks`` times:
  temporal self-attention over the L steps of each feature (eqs. 1-2), residual; then feature
  self-attention over the F features of each step, residual (eq. 3); then a position-wise FFN,
  residual (eq. 4).  Attention is linear with ``phi = ELU + 1`` (eq. 2), or softmax for the
  ablation ``attention: softmax``.

Deviation: eqs. 3-4 show plain residuals; we add pre-LayerNorm before each sub-layer (and one
after the last block), the usual way to keep stacked residual attention stable.
"""

from __future__ import annotations

import torch
from torch import nn

from stcg.model.attention import AttentionKind, FeedForward, MultiHeadAttention


class FeatureEmbedding(nn.Module):
    """Per-feature linear embedding of scalar values: ``[B, L, F] -> [B, L, F, D]``."""

    def __init__(self, n_features: int, d_model: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_features, d_model) * 0.5)
        self.bias = nn.Parameter(torch.randn(n_features, d_model) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed ``x [B, L, F]``."""
        return x[..., None] * self.weight + self.bias


class DualAttentionBlock(nn.Module):
    """One DA block (eqs. 1-4): temporal attention, feature attention, FFN, each residual."""

    def __init__(
        self,
        d_model: int,
        heads: int,
        kind: AttentionKind,
        ffn_mult: int,
        dropout: float,
        eps: float,
    ) -> None:
        super().__init__()
        self.norm_t = nn.LayerNorm(d_model)
        self.attn_t = MultiHeadAttention(d_model, heads, kind, rope=True, eps=eps)
        self.norm_f = nn.LayerNorm(d_model)
        self.attn_f = MultiHeadAttention(d_model, heads, kind, rope=False, eps=eps)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``h [B, L, F, D] -> [B, L, F, D]``."""
        b, seq, nf, d = h.shape
        # temporal attention: one sequence of L steps per (sample, feature)
        t_in = self.norm_t(h).transpose(1, 2).reshape(b * nf, seq, d)
        t_out = self.attn_t(t_in).view(b, nf, seq, d).transpose(1, 2)
        h = h + self.drop(t_out)
        # feature attention: one set of F features per (sample, step)
        f_in = self.norm_f(h).reshape(b * seq, nf, d)
        h = h + self.drop(self.attn_f(f_in).view(b, seq, nf, d))
        return h + self.drop(self.ffn(self.norm_ffn(h)))


class LocationInvariantEncoder(nn.Module):
    """Feature embedding + stacked DA blocks: ``x [B, L, F] -> [B, L, F, D]``."""

    def __init__(
        self,
        n_features: int,
        d_model: int,
        heads: int,
        blocks: int,
        kind: AttentionKind = "linear",
        ffn_mult: int = 2,
        dropout: float = 0.0,
        eps: float = 1e-6,
        n_land_cover: int = 0,
    ) -> None:
        super().__init__()
        self.embed = FeatureEmbedding(n_features, d_model)
        self.land_cover = nn.Embedding(n_land_cover, d_model) if n_land_cover else None
        self.blocks = nn.ModuleList(
            DualAttentionBlock(d_model, heads, kind, ffn_mult, dropout, eps) for _ in range(blocks)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, land_cover: torch.Tensor | None = None) -> torch.Tensor:
        """Encode windows ``x [B, L, F]`` (+ ``land_cover [B]``) -> ``[B, L, F (+1), D]``."""
        h = self.embed(x)
        if self.land_cover is not None:
            if land_cover is None:
                raise ValueError("this model takes the land cover of every sample")
            lc = self.land_cover(land_cover)[:, None, None, :].expand(-1, x.shape[1], 1, -1)
            h = torch.cat([h, lc.to(h.dtype)], dim=2)
        for blk in self.blocks:
            h = blk(h)
        return self.norm(h)
