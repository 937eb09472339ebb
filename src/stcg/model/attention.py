"""Attention primitives: linear attention (paper eq. 2), softmax attention (eq. 15) and RoPE.

Linear attention (Katharopoulos et al. 2020), eq. 2 of the paper, per head::

    Attn(Q, K, V)_i = phi(q_i)^T (sum_j phi(k_j) v_j^T) / (phi(q_i)^T sum_j phi(k_j) + eps)

with ``phi(x) = ELU(x) + 1``: cost linear in the sequence length.

RoPE (Su et al. 2024) gives the temporal position.  With linear attention we follow RoFormer's
eq. 19: the rotation is applied to ``phi(q)`` and ``phi(k)`` in the numerator only, the denominator
keeps the unrotated (positive) features so it cannot vanish::

    num_i = sum_j (R_i phi(q_i))^T (R_j phi(k_j)) v_j,    den_i = sum_j phi(q_i)^T phi(k_j) + eps

Without positions this is exactly eq. 2.  With softmax attention RoPE rotates q and k as usual.

The linear-attention core runs in float32 even under bf16 autocast (its sums and the division
are where bf16 would lose accuracy); the projections around it follow autocast.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

AttentionKind = Literal["linear", "softmax"]


def rope_angles(positions: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """RoPE angles ``positions * theta_i`` with ``theta_i = base^(-2i/dim)``.

    Args:
        positions: ``[...]`` positions (float or int).
        dim: the (even) rotated dimension.
        base: RoPE base.

    Returns:
        ``[..., dim/2]`` float32 angles.
    """
    if dim % 2:
        raise ValueError(f"RoPE needs an even dimension, got {dim}")
    inv = base ** (-torch.arange(0, dim, 2, dtype=torch.float32, device=positions.device) / dim)
    return positions.to(torch.float32)[..., None] * inv


def rope_rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate pairs ``(x[..., i], x[..., i + dim/2])`` by ``angles[..., i]`` (half-split RoPE).

    Args:
        x: ``[..., S, dim]``.
        angles: broadcastable to ``[..., S, dim/2]``.

    Returns:
        The rotated ``x`` (same shape and dtype).
    """
    half = x.shape[-1] // 2
    cos, sin = torch.cos(angles), torch.sin(angles)
    # x * [cos, cos] + [x2, x1] * [-sin, sin]: one copy and a fused multiply-add
    cos_full = torch.cat([cos, cos], dim=-1).to(x.dtype)
    sin_full = torch.cat([-sin, sin], dim=-1).to(x.dtype)
    swapped = torch.cat([x[..., half:], x[..., :half]], dim=-1)
    return torch.addcmul(x * cos_full, swapped, sin_full)


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """``phi(x) = ELU(x) + 1`` (eq. 2), strictly positive."""
    return F.elu(x) + 1.0


def linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    eps: float = 1e-6,
    q_angles: torch.Tensor | None = None,
    k_angles: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 2 (with optional RoPE, RoFormer eq. 19), in float32.

    Layout ``[N, S, H, d]`` (sequence before heads), so that the projections' output is used
    without a transpose and the result reshapes straight back to ``[N, S, H * e]``.

    Args:
        q: ``[N, Sq, H, d]``.
        k: ``[N, Sk, H, d]``.
        v: ``[N, Sk, H, e]``.
        eps: the denominator's epsilon.
        q_angles: ``[Sq, d/2]`` RoPE angles of the queries, or None.
        k_angles: ``[Sk, d/2]`` RoPE angles of the keys, or None.

    Returns:
        ``[N, Sq, H, e]`` in ``v``'s dtype.
    """
    out_dtype = v.dtype
    pq, pk, vf = elu_feature_map(q.float()), elu_feature_map(k.float()), v.float()
    den = torch.einsum("nshd,nhd->nsh", pq, pk.sum(dim=1)) + eps
    if q_angles is not None:
        pq = rope_rotate(pq, q_angles[:, None, :])
    if k_angles is not None:
        pk = rope_rotate(pk, k_angles[:, None, :])
    kv = torch.einsum("nshd,nshe->nhde", pk, vf)
    num = torch.einsum("nshd,nhde->nshe", pq, kv)
    return (num / den[..., None]).to(out_dtype)


def _linear_self_attention(
    qkv: torch.Tensor, eps: float, angles: torch.Tensor | None
) -> torch.Tensor:
    """:func:`linear_attention` for fused projections ``qkv [N, S, 3, H, d]`` (same result).

    ``phi`` and the rotation run once over the contiguous ``[N, S, 2, H, d]`` block of queries and
    keys together, which is markedly faster on CPU than on the strided q and k separately.
    """
    # split/unbind (not indexing): their backward is a concatenation, not zero-fill + copy
    qk, v = qkv.split([2, 1], dim=2)
    v = v.squeeze(2)
    pqk = elu_feature_map(qk.float())  # [N, S, 2, H, d], contiguous
    pq, pk = pqk.unbind(2)
    den = torch.einsum("nshd,nhd->nsh", pq, pk.sum(dim=1)) + eps
    if angles is not None:
        pq, pk = rope_rotate(pqk, angles[:, None, None, :]).unbind(2)
    kv = torch.einsum("nshd,nshe->nhde", pk, v.float())
    num = torch.einsum("nshd,nhde->nshe", pq, kv)
    return (num / den[..., None]).to(v.dtype)


def softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    q_angles: torch.Tensor | None = None,
    k_angles: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 15: ``softmax(Q K^T / sqrt(d)) V`` (fused SDPA kernel), optional RoPE on q and k.

    Shapes and layout as :func:`linear_attention`.
    """
    if q_angles is not None:
        q = rope_rotate(q, q_angles[:, None, :])
    if k_angles is not None:
        k = rope_rotate(k, k_angles[:, None, :])
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return out.transpose(1, 2)


class MultiHeadAttention(nn.Module):
    """Multi-head attention over the second-to-last axis, linear (eq. 2) or softmax (eq. 15).

    Args:
        d_model: model width D.
        heads: number of heads (D must divide).
        kind: ``"linear"`` or ``"softmax"``.
        rope: rotate queries and keys by their positions.
        eps: linear attention's epsilon.
        cross: cross-attention (separate Q, K, V inputs); self-attention uses one fused
            ``D -> 3D`` projection.
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        kind: AttentionKind = "linear",
        rope: bool = False,
        eps: float = 1e-6,
        cross: bool = False,
    ) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} is not divisible by heads {heads}")
        self.heads, self.dh = heads, d_model // heads
        if rope and self.dh % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {self.dh}")
        if kind not in ("linear", "softmax"):
            raise ValueError(f"attention kind must be 'linear' or 'softmax', got {kind!r}")
        self.kind, self.rope, self.eps, self.cross = kind, rope, eps, cross
        if cross:
            self.wq = nn.Linear(d_model, d_model)
            self.wk = nn.Linear(d_model, d_model)
            self.wv = nn.Linear(d_model, d_model)
        else:
            self.wqkv = nn.Linear(d_model, 3 * d_model)
        self.wo = nn.Linear(d_model, d_model)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        q_pos: torch.Tensor | None = None,
        k_pos: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend.

        Args:
            query: ``[N, Sq, D]``.
            key: ``[N, Sk, D]`` (cross-attention only).
            value: ``[N, Sk, D]`` (cross-attention only; default ``key``).
            q_pos: ``[Sq]`` query positions for RoPE (default ``0..Sq-1``).
            k_pos: ``[Sk]`` key positions for RoPE (default ``0..Sk-1``).

        Returns:
            ``[N, Sq, D]``.
        """
        n, sq, _ = query.shape
        h, dh = self.heads, self.dh
        if not self.cross and self.kind == "linear":
            if key is not None or value is not None:
                raise ValueError("self-attention takes no key/value tensors")
            qkv = self.wqkv(query).view(n, sq, 3, h, dh)
            angles = None
            if self.rope:
                pos = torch.arange(sq, device=query.device) if q_pos is None else q_pos
                angles = rope_angles(pos, dh)
            out = _linear_self_attention(qkv, self.eps, angles)
            return self.wo(out.reshape(n, sq, h * dh))
        if self.cross:
            if key is None:
                raise ValueError("cross-attention needs a key tensor")
            value = key if value is None else value
            sk = key.shape[1]
            q = self.wq(query).view(n, sq, h, dh)
            k = self.wk(key).view(n, sk, h, dh)
            v = self.wv(value).view(n, sk, h, dh)
        else:
            if key is not None or value is not None:
                raise ValueError("self-attention takes no key/value tensors")
            sk = sq
            q, k, v = self.wqkv(query).view(n, sq, 3, h, dh).unbind(2)
        qa = ka = None
        if self.rope:
            dev = query.device
            q_pos = torch.arange(sq, device=dev) if q_pos is None else q_pos
            k_pos = torch.arange(sk, device=dev) if k_pos is None else k_pos
            qa, ka = rope_angles(q_pos, dh), rope_angles(k_pos, dh)
        if self.kind == "linear":
            out = linear_attention(q, k, v, self.eps, qa, ka)
        else:
            out = softmax_attention(q, k, v, qa, ka)
        return self.wo(out.reshape(n, sq, h * dh))


class FeedForward(nn.Module):
    """Position-wise FFN of eq. 4: ``Linear -> GELU -> dropout -> Linear``."""

    def __init__(self, d_model: int, mult: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model, mult * d_model),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mult * d_model, d_model),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., D] -> [..., D]``."""
        return self.net(x)


def sinusoid_table(n_pos: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """``[n_pos, dim]`` ``[cos(t theta_i) | sin(t theta_i)]`` with RoPE's frequencies.

    This is RoPE's rotation read as a vector (the image of ``(1, 0)`` pairs), used where the paper
    *adds* "RoPE(t)" to a node embedding (Section 3.2).
    """
    ang = rope_angles(torch.arange(n_pos), dim, base)
    return torch.cat([torch.cos(ang), torch.sin(ang)], dim=-1)
