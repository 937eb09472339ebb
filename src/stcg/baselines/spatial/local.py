"""Batched local weighted least squares: the computational core of GWR and GTWR.

For every regression point ``i`` with neighbour set ``N(i)`` (sorted, padded to ``K`` columns)
and kernel weights ``w_ik`` the local estimate is (Fotheringham et al. 2002, eq. 2.4)::

    A_i = X_N(i)^T W_i X_N(i)              [p, p]
    beta_i = A_i^{-1} X_N(i)^T W_i y_N(i)  [p]
    S_ii = w_ii x_i^T A_i^{-1} x_i          (hat-matrix diagonal, "influence")

All ``i`` of a chunk are solved at once by LU with partial pivoting on ``[B, p, p]`` systems
(LAPACK ``getrf/getrs``, what ``scipy.linalg.solve`` calls in mgwr), in float64.
Only the neighbours with non-zero weight are gathered, so a truncated kernel costs
``O(n K p^2)`` instead of mgwr's ``O(n^2 p^2)``.

Deviation available on request only: ``ridge > 0`` adds ``ridge * sum_k(w_ik)`` to the diagonal
of ``A_i`` except for the intercept (a scale-free ridge on standardised covariates).  It is 0 in
every comparison with mgwr/mgtwr; the few-shot stage uses a tiny value because the 26 ERA5-Land
variables are nearly collinear inside a neighbourhood and some are locally constant (snow cover
in the tropics), which makes ``A_i`` exactly singular.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stcg.baselines.spatial.neighbors import kernel_weights

SINGULAR_PIVOT_RATIO = 1e-12
"""A local system counts as singular when the smallest LU pivot of its unit-diagonal scaled
matrix is below this fraction of the largest (exact singularity shows up as ~1e-16 after
rounding, never as an exact zero)."""


class SingularLocalSystem(ValueError):
    """A local ``X^T W X`` could not be inverted."""


def _pivot_ratio(a: torch.Tensor) -> torch.Tensor:
    """``min |U_jj| / max |U_jj|`` of the LU factors of ``D A D``, ``D = diag(A)^{-1/2}``: ``[B]``."""
    dg = torch.diagonal(a, dim1=-2, dim2=-1).clamp_min(torch.finfo(a.dtype).tiny).rsqrt()
    lu, _, _ = torch.linalg.lu_factor_ex(a * dg[:, :, None] * dg[:, None, :])
    u = torch.diagonal(lu, dim1=-2, dim2=-1).abs()
    return u.min(-1).values / u.max(-1).values.clamp_min(torch.finfo(a.dtype).tiny)


@dataclass
class LocalFit:
    """Outputs of :func:`local_regression` for ``M`` regression points (torch, float64).

    Attributes:
        params: ``[M, p]`` local coefficients.
        influ: ``[M]`` hat-matrix diagonal ``S_ii`` (only when the points are the data points).
        cct: ``[M, p]`` ``diag(C C^T)`` with ``C = A^{-1} X^T W``, for standard errors.
        tr_sts: ``[M]`` squared norm of the hat-matrix row ``S_i`` (sums to ``tr(S^T S)``).
    """

    params: torch.Tensor
    influ: torch.Tensor | None = None
    cct: torch.Tensor | None = None
    tr_sts: torch.Tensor | None = None


def local_regression(
    X: torch.Tensor,
    y: torch.Tensor,
    dist: torch.Tensor,
    idx: torch.Tensor,
    bandwidth: torch.Tensor,
    kernel: str,
    x0: torch.Tensor,
    *,
    influence: bool,
    full: bool = False,
    ridge: float = 0.0,
    constant: bool = True,
    chunk_elems: int = 2**22,
) -> LocalFit:
    """Solve all local weighted regressions, chunk by chunk.

    Args:
        X: ``[N, p]`` design matrix of the data (intercept column first when ``constant``).
        y: ``[N]`` response.
        dist: ``[M, K]`` distances of each regression point to its neighbours.
        idx: ``[M, K]`` indices into ``X`` of those neighbours.
        bandwidth: ``[M]`` kernel bandwidth of each regression point.
        kernel: kernel name (see :mod:`stcg.baselines.spatial.neighbors`).
        x0: ``[M, p]`` design row at each regression point.
        influence: compute ``S_ii`` (the regression points are the data points themselves, so
            each point's own kernel weight is ``kernel(0) = 1``).
        full: also compute ``cct`` and ``tr_sts`` (inference; one more ``[B, p, K]`` solve).
        ridge: scale-free ridge (module docstring); 0 reproduces mgwr.
        constant: whether column 0 is the (unpenalised) intercept.
        chunk_elems: bound on ``B * K * p`` per chunk (memory).

    Returns:
        A :class:`LocalFit`.

    Raises:
        SingularLocalSystem: naming how many local systems were singular.
    """
    m, k = dist.shape
    p = X.shape[1]
    rows = max(1, chunk_elems // max(1, k * p))
    penalty = torch.ones(p, dtype=X.dtype, device=X.device)
    if constant:
        penalty[0] = 0.0
    out_params, out_influ, out_cct, out_sts = [], [], [], []
    for s in range(0, m, rows):
        d, ii, bw = dist[s : s + rows], idx[s : s + rows], bandwidth[s : s + rows]
        w = kernel_weights(d, bw[:, None], kernel)  # [B, K]
        xg = X[ii]  # [B, K, p]
        yg = y[ii]  # [B, K]
        xw_t = (xg * w[..., None]).transpose(1, 2)  # [B, p, K]
        a = xw_t @ xg  # [B, p, p]
        if ridge > 0.0:
            a = a + torch.diag_embed(ridge * w.sum(1, keepdim=True) * penalty)
        xi = x0[s : s + rows]
        rhs = torch.stack([(xw_t @ yg[..., None])[..., 0], xi], dim=-1)  # [B, p, 2]
        lu, piv, info = torch.linalg.lu_factor_ex(a)
        sol = torch.linalg.lu_solve(lu, piv, rhs)
        bad = int(((info != 0) | (_pivot_ratio(a) < SINGULAR_PIVOT_RATIO)).sum())
        if bad or not torch.isfinite(sol).all():
            raise SingularLocalSystem(
                f"{bad or 'some'} of {a.shape[0]} local X^T W X systems are singular (kernel "
                f"{kernel!r}, {k} neighbours, {p} columns): widen the bandwidth, drop collinear "
                "covariates or set ridge > 0"
            )
        out_params.append(sol[..., 0])
        if influence:
            out_influ.append((xi * sol[..., 1]).sum(-1))
        if full:
            c = torch.linalg.lu_solve(lu, piv, xw_t)  # [B, p, K]
            out_cct.append((c**2).sum(-1))
            srow = (xi[..., None] * c).sum(1)  # [B, K]
            out_sts.append((srow**2).sum(-1))
    return LocalFit(
        params=torch.cat(out_params),
        influ=torch.cat(out_influ) if influence else None,
        cct=torch.cat(out_cct) if full else None,
        tr_sts=torch.cat(out_sts) if full else None,
    )


def golden_section(
    a: float,
    c: float,
    function,
    tol: float = 1.0e-6,
    max_iter: int = 200,
    int_score: bool = False,
) -> tuple[float, float, list[tuple[float, float]]]:
    """Golden-section minimisation with mgwr's exact rules (Fotheringham et al. 2002, p. 212).

    The same bracketing, integer rounding of candidates, score caching, stopping rule
    (``|score(b) - score(d)| <= tol``) and 2-decimal rounding of the optimum as
    ``mgwr.search.golden_section``, so the selected bandwidths are identical to mgwr's.

    Args:
        a: lower end of the section.
        c: upper end.
        function: ``bw -> score`` (lower is better).
        tol: stopping tolerance on the score difference.
        max_iter: iteration cap.
        int_score: round candidates to integers (adaptive bandwidths).

    Returns:
        ``(optimum, score, history)`` with history the ``(bw, score)`` of every evaluation.
    """
    delta = 0.38197
    b = a + delta * abs(c - a)
    d = c - delta * abs(c - a)
    cache: dict[float, float] = {}
    history: list[tuple[float, float]] = []

    def score(x: float) -> float:
        if x not in cache:
            cache[x] = float(function(x))
            history.append((x, cache[x]))
        return cache[x]

    opt_val, opt_score = b, float("inf")
    diff, iters = 1.0e9, 0
    while abs(diff) > tol and iters < max_iter:
        iters += 1
        if int_score:
            b, d = float(np.round(b)), float(np.round(d))
        score_b, score_d = score(b), score(d)
        if score_b <= score_d:
            opt_val, opt_score = b, score_b
            c, d = d, b
            b = a + delta * abs(c - a)
        else:
            opt_val, opt_score = d, score_d
            a, b = b, d
            d = c - delta * abs(c - a)
        opt_val = float(np.round(opt_val, 2))
        diff = score_b - score_d
    return opt_val, opt_score, history
