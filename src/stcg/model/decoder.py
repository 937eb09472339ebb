"""Conditional decoders (paper Section 3.3, eqs. 14-18).

Two Transformer decoders (Vaswani 2017) read the encoder's data features and the spatiotemporal
condition: the target branch predicts GPP (eq. 16), the interpretable branch predicts one weight
per input feature (eqs. 17-18).

Eq. 15 and what it leaves open.  The paper takes Q and K from the data features and V from
``V_final``.  If V were one condition vector per sample, ``softmax(Q K^T) V`` would be that one
vector whatever the attention weights, and Q, K would be useless.  We therefore attend over the
``L`` periods of the input window (``cross_attention: data_keys``, default):

* keys ``K_l``: the data features of window step ``l`` (the encoder tokens of step ``l`` averaged
  over the F features), ``l = 0..L-1``;
* values ``V_l``: the condition vector ``V_final[node, period(l)]`` of the sample's node at the
  period of step ``l``;
* queries: decoder tokens built from the data features of the current (last) step.

So the data decide, per sample, which periods' conditions matter, and the output varies with
both.  RoPE gives queries (position ``L-1``) and keys (``0..L-1``) their place in the window.
The alternative ``cross_attention: condition_keys`` is the textbook decoder (K = V = condition).
With the condition branch off (ablation ``condition: false``) K = V = the data features.

Decoder tokens.  Target branch: a query token (a learned embedding + the pooled current-step
features) followed, with ``target_tokens: features`` (default), by every current-step encoder
token, read out at the query token (as a [CLS] token); ``target_tokens: query`` decodes the query
token alone.  Interpretable branch: one token per input feature (that feature's current-step
encoder token) plus, with ``interp_intercept``, an intercept token.  With several tokens softmax
self-attention among them precedes the cross-attention (a standard decoder layer).  Each layer is pre-LN:
``[self-attn] -> cross-attn (eq. 15) -> FFN``, residual around each; ``decoder_layers`` layers per
branch (the paper does not say how many; docs/design.md, "Model decisions": 2 at the paper's
scale).

Heads.  GPP is not normalised (paper Section 4.1): the target head outputs
``y_mean + y_std * Linear(h)``, a fixed affine reparametrisation of the last layer with the
training split's mean and std, so that the loss is the MSE on raw GPP from the first step.
The interpretable weights are ``w_j = y_std * Linear(h_j)`` (GPP per standard deviation of
feature ``j``) and ``y_interp = w_0 + sum_j w_j x_j`` on the standardised current-period features
(eq. 17), where ``w_0 = y_mean + y_std * Linear(h_0)`` is a GWR-like intercept (not in eq. 17;
``interp_intercept: false`` drops it).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from stcg.model.attention import FeedForward, MultiHeadAttention


class DecoderLayer(nn.Module):
    """Pre-LN decoder layer: optional self-attention, cross-attention (eq. 15), FFN."""

    def __init__(
        self, d_model: int, heads: int, self_attention: bool, ffn_mult: int, dropout: float
    ) -> None:
        super().__init__()
        self.self_attn = (
            MultiHeadAttention(d_model, heads, "softmax", rope=False) if self_attention else None
        )
        self.norm_s = nn.LayerNorm(d_model) if self_attention else None
        self.norm_q = nn.LayerNorm(d_model)
        self.cross = MultiHeadAttention(d_model, heads, "softmax", rope=True, cross=True)
        self.norm_ffn = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, ffn_mult, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(
        self,
        h: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        q_pos: torch.Tensor,
        k_pos: torch.Tensor,
    ) -> torch.Tensor:
        """``h [B, Q, D]``, ``keys``/``values [B, L, D]`` (already normalised) -> ``[B, Q, D]``."""
        if self.self_attn is not None:
            h = h + self.drop(self.self_attn(self.norm_s(h)))
        q = self.norm_q(h)
        h = h + self.drop(self.cross(q, keys, values, q_pos.expand(q.shape[1]), k_pos))
        return h + self.drop(self.ffn(self.norm_ffn(h)))


class ConditionalDecoder(nn.Module):
    """A stack of :class:`DecoderLayer` sharing one memory (keys/values over the window)."""

    def __init__(
        self, d_model: int, heads: int, layers: int, self_attention: bool, ffn_mult: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DecoderLayer(d_model, heads, self_attention, ffn_mult, dropout) for _ in range(layers)
        )
        self.norm_k = nn.LayerNorm(d_model)
        self.norm_v = nn.LayerNorm(d_model)
        self.norm_out = nn.LayerNorm(d_model)

    def forward(self, h: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Decode query tokens ``h [B, Q, D]`` against ``keys``/``values [B, L, D]``."""
        seq = keys.shape[1]
        k_pos = torch.arange(seq, device=h.device)
        q_pos = k_pos[-1:]
        keys, values = self.norm_k(keys), self.norm_v(values)
        for layer in self.layers:
            h = layer(h, keys, values, q_pos, k_pos)
        return self.norm_out(h)


def memory(
    data_keys: torch.Tensor,
    condition: torch.Tensor | None,
    mode: Literal["data_keys", "condition_keys"],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keys and values of eq. 15 (module docstring).

    Args:
        data_keys: ``[B, L, D]`` pooled data features per window step.
        condition: ``[B, L, D]`` condition vectors of the window's periods, or None (ablation).
        mode: ``data_keys`` (Q, K from data, V from the condition) or ``condition_keys``.

    Returns:
        ``(keys, values)``.
    """
    if condition is None:
        return data_keys, data_keys
    if mode == "data_keys":
        return data_keys, condition
    if mode == "condition_keys":
        return condition, condition
    raise ValueError(f"cross_attention must be 'data_keys' or 'condition_keys', got {mode!r}")
