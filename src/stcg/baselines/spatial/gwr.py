"""Batched geographically weighted regression (GWR), numerically equal to mgwr 2.2.1.

Model (Fotheringham, Brunsdon & Charlton 2002; the paper's GWR baseline, Section 4.3)::

    y_i = sum_j beta_j(u_i, v_i) x_ij + eps_i,
    beta(u_i, v_i) = (X^T W_i X)^{-1} X^T W_i y

with kernel weights ``W_i`` of the distance to ``(u_i, v_i)``.  The bandwidth is chosen by
golden-section search on AICc (``AICc = -2 llf + 2 n (tr S + 1) / (n - tr S - 2)``, mgwr's
``get_AICc``), where the hat-matrix trace ``tr S = sum_i S_ii`` comes from the same batched
local solves (:mod:`stcg.baselines.spatial.local`).

Why not mgwr itself: mgwr loops over the n regression points in Python (joblib) and weights all
``n`` points for each, ``O(n^2 p^2)`` per bandwidth; here the regression points are solved in
batches on CPU or GPU, gathering only the neighbours with non-zero (truncated bisquare) weight.
``tests/baselines/spatial/test_gwr.py`` proves the two equal: bandwidths, AICc, coefficients,
standard errors, local R2 and predictions on Georgia (GWR4 files) and on random spherical data.

Deviation (only when asked for): ``ridge > 0``, see :mod:`stcg.baselines.spatial.local`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from stcg.baselines.spatial.local import SingularLocalSystem, golden_section, local_regression
from stcg.baselines.spatial.neighbors import (
    as_f64,
    check_kernel,
    default_chunk_elems,
    kernel_weights,
    pairwise_distance,
    sorted_neighbours,
    truncated_neighbourhood,
)
from stcg.device import resolve_device

CRITERIA = ("AICc", "AIC", "BIC", "CV")


def gaussian_llf(rss: float, n: int) -> float:
    """Gaussian log-likelihood at the ML variance (spglm's ``Gaussian.loglike``)."""
    return -0.5 * n * math.log(rss) - 0.5 * n * (1.0 + math.log(2.0 * math.pi / n))


def information_criteria(rss: float, tr_s: float, n: int) -> dict[str, float]:
    """AIC, AICc, BIC (mgwr's ``get_AIC/get_AICc/get_BIC`` for a Gaussian GWR)."""
    llf = gaussian_llf(rss, n)
    return {
        "llf": llf,
        "aic": -2.0 * llf + 2.0 * (tr_s + 1.0),
        "aicc": -2.0 * llf + 2.0 * n * (tr_s + 1.0) / (n - tr_s - 2.0),
        "bic": -2.0 * llf + (tr_s + 1.0) * math.log(n),
    }


@dataclass
class GWRResults:
    """A fitted GWR at its own data points (numpy arrays).

    Attributes:
        bw: bandwidth (neighbour count if adaptive, distance otherwise).
        params: ``[n, p]`` local coefficients (intercept first when ``constant``).
        predy: ``[n]`` fitted values.
        resid: ``[n]`` residuals.
        influ: ``[n]`` hat-matrix diagonal.
        y: ``[n]`` response.
        tr_S: trace of the hat matrix.
        rss: residual sum of squares.
        llf, aic, aicc, bic, cv, r2: diagnostics as in mgwr.
        tr_STS, sigma2, bse, tvalues, local_r2, adj_r2: only with ``full=True``.
    """

    bw: float
    params: np.ndarray
    predy: np.ndarray
    resid: np.ndarray
    influ: np.ndarray
    y: np.ndarray
    tr_S: float
    rss: float
    llf: float
    aic: float
    aicc: float
    bic: float
    cv: float
    r2: float
    tr_STS: float | None = None
    sigma2: float | None = None
    adj_r2: float | None = None
    bse: np.ndarray | None = None
    tvalues: np.ndarray | None = None
    local_r2: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of observations."""
        return int(self.y.shape[0])

    def criterion(self, name: str) -> float:
        """The bandwidth-selection score ``name`` (one of :data:`CRITERIA`)."""
        return {"AICc": self.aicc, "AIC": self.aic, "BIC": self.bic, "CV": self.cv}[name]


@dataclass
class GWRPrediction:
    """GWR evaluated at new points (mgwr's ``GWR.predict``).

    Attributes:
        predictions: ``[m]`` ``sum_j P_ij beta_j(point_i)``.
        params: ``[m, p]`` local coefficients at the points.
        bse: ``[m, p]`` standard errors (scale of the calibration fit), when requested.
    """

    predictions: np.ndarray
    params: np.ndarray
    bse: np.ndarray | None = None


@dataclass
class BandwidthSearch:
    """Result of a bandwidth search: optimum, its score and every ``(bw, score)`` tried."""

    bw: float
    score: float
    history: list[tuple[float, float]]


class GWR:
    """Batched GWR with mgwr's conventions (kernels, adaptive bandwidths, AICc, search).

    Args:
        coords: ``[n, 2]`` coordinates (projected, or ``(lon, lat)`` degrees if ``spherical``).
        y: ``[n]`` or ``[n, 1]`` response.
        X: ``[n, k]`` covariates without the constant.
        kernel: ``bisquare`` (default), ``gaussian`` or ``exponential``.
        fixed: distance bandwidth (True) or adaptive nearest-neighbour count (False).
        spherical: haversine distances in km for ``(lon, lat)`` coordinates.
        constant: add an intercept column.
        ridge: scale-free ridge (0 = mgwr); see :mod:`stcg.baselines.spatial.local`.
        sigma2_v1: residual variance with ``n - tr S`` (True) or GWR4's
            ``n - 2 tr S + tr S^T S`` (False) in the denominator.
        device: torch device (default: CUDA when available, else CPU).
        chunk_elems: memory bound on ``B * K * p`` per batch (default by device).
    """

    def __init__(
        self,
        coords: np.ndarray,
        y: np.ndarray,
        X: np.ndarray,
        *,
        kernel: str = "bisquare",
        fixed: bool = False,
        spherical: bool = False,
        constant: bool = True,
        ridge: float = 0.0,
        sigma2_v1: bool = False,
        device: str | torch.device | None = None,
        chunk_elems: int | None = None,
    ) -> None:
        check_kernel(kernel)
        coords = np.asarray(coords, dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim == 1:
            X = X[:, None]
        n = y.shape[0]
        if coords.shape != (n, 2) or X.shape[0] != n:
            raise ValueError(
                f"GWR: coords {coords.shape}, X {X.shape} and y {y.shape} must have n={n} rows "
                "(coords with 2 columns)"
            )
        for name, arr in (("coords", coords), ("X", X), ("y", y)):
            if not np.isfinite(arr).all():
                raise ValueError(f"GWR: {name} contains NaN or inf")
        if constant:
            X = np.hstack([np.ones((n, 1)), X])
        self.device = resolve_device(device)
        self.kernel, self.fixed, self.spherical = kernel, fixed, spherical
        self.constant, self.ridge, self.sigma2_v1 = constant, float(ridge), sigma2_v1
        self.chunk_elems = chunk_elems or default_chunk_elems(self.device)
        self.n, self.p = n, X.shape[1]
        self.coords = as_f64(coords, self.device)
        self.X = as_f64(X, self.device)
        self.y = as_f64(y, self.device)
        self._cache: tuple[torch.Tensor, torch.Tensor] | None = None

    # ------------------------------------------------------------------ neighbourhoods
    def _sorted(self, query: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Sorted neighbours of ``query`` (None = the data points, cached) with >= k columns."""
        k = min(k, self.n)
        if query is None:
            if self._cache is None or self._cache[0].shape[1] < k:
                self._cache = sorted_neighbours(self.coords, self.coords, k, self.spherical)
            d, i = self._cache
            return d[:, :k], i[:, :k]
        return sorted_neighbours(query, self.coords, k, self.spherical)

    def neighbourhood(
        self, bw: float, query: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Neighbours with non-zero weight of each regression point.

        Args:
            bw: bandwidth (neighbour count if adaptive).
            query: ``[m, 2]`` regression points (None = the data points).

        Returns:
            ``(dist [m, K], idx [m, K], bandwidth [m])``, see
            :func:`~stcg.baselines.spatial.neighbors.truncated_neighbourhood`.
        """
        return truncated_neighbourhood(
            lambda k: self._sorted(query, k), self.n, bw, self.fixed, self.kernel
        )

    # ------------------------------------------------------------------ fitting
    def fit(self, bw: float, full: bool = False) -> GWRResults:
        """Fit at the data points with bandwidth ``bw``.

        Args:
            bw: bandwidth.
            full: also compute inference (``tr S^T S``, sigma2, standard errors, local R2).
        """
        d, i, band = self.neighbourhood(bw)
        fit = local_regression(
            self.X, self.y, d, i, band, self.kernel, self.X, influence=True, full=full,
            ridge=self.ridge, constant=self.constant, chunk_elems=self.chunk_elems,
        )
        params = fit.params
        predy = (self.X * params).sum(1)
        resid = self.y - predy
        influ = fit.influ
        n = self.n
        rss = float((resid**2).sum())
        tr_s = float(influ.sum())
        tss = float(((self.y - self.y.mean()) ** 2).sum())
        ic = information_criteria(rss, tr_s, n)
        cv = float(((resid / (1.0 - influ)) ** 2).sum()) / n
        res = GWRResults(
            bw=float(bw), params=params.cpu().numpy(), predy=predy.cpu().numpy(),
            resid=resid.cpu().numpy(), influ=influ.cpu().numpy(), y=self.y.cpu().numpy(),
            tr_S=tr_s, rss=rss, llf=ic["llf"], aic=ic["aic"], aicc=ic["aicc"], bic=ic["bic"],
            cv=cv, r2=1.0 - rss / tss,
        )
        if full:
            tr_sts = float(fit.tr_sts.sum())
            if self.sigma2_v1:
                sigma2, enp = rss / (n - tr_s), tr_s
            else:
                sigma2, enp = rss / (n - 2.0 * tr_s + tr_sts), 2.0 * tr_s - tr_sts
            bse = torch.sqrt(fit.cct * sigma2)
            w = kernel_weights(d, band[:, None], self.kernel)
            yg = self.y[i]
            ybar = (w * yg).sum(1, keepdim=True) / w.sum(1, keepdim=True)
            tss_i = (w * (yg - ybar) ** 2).sum(1)
            rss_i = (w * resid[i] ** 2).sum(1)
            res.tr_STS, res.sigma2 = tr_sts, sigma2
            res.adj_r2 = 1.0 - (1.0 - res.r2) * (n - 1) / (n - enp - 1)
            res.bse = bse.cpu().numpy()
            res.tvalues = (params / bse).cpu().numpy()
            res.local_r2 = ((tss_i - rss_i) / tss_i).cpu().numpy()
        return res

    def score(self, bw: float, criterion: str = "AICc") -> float:
        """The selection criterion at ``bw`` (lower is better)."""
        return self.fit(bw).criterion(criterion)

    def search_bounds(self) -> tuple[float, float]:
        """mgwr's initial golden section: ``[40 + 2 p, n]`` adaptive, else ``[min/2, 2 max]``."""
        if not self.fixed:
            return float(40 + 2 * self.p), float(self.n)
        d = pairwise_distance(self.coords, self.coords, self.spherical)
        off = d + torch.diag(torch.full((self.n,), float("inf"), dtype=d.dtype, device=d.device))
        return float(off.min()) / 2.0, float(d.max()) * 2.0

    def select_bandwidth(
        self,
        criterion: str = "AICc",
        bw_min: float | None = None,
        bw_max: float | None = None,
        tol: float = 1.0e-6,
        max_iter: int = 200,
        skip_singular: bool = False,
    ) -> BandwidthSearch:
        """Golden-section bandwidth search (mgwr's ``Sel_BW.search`` semantics).

        Args:
            criterion: one of ``AICc``, ``AIC``, ``BIC``, ``CV``.
            bw_min: lower end (default mgwr's).
            bw_max: upper end (default mgwr's; adaptive values are capped at n).
            tol: stopping tolerance on the score difference.
            max_iter: iteration cap.
            skip_singular: score bandwidths with a singular local system as ``+inf`` instead of
                raising (mgwr raises; only changes runs that mgwr could not do).
        """
        if criterion not in CRITERIA:
            raise ValueError(f"criterion: expected one of {CRITERIA}, got {criterion!r}")
        a, c = self.search_bounds()
        a = a if bw_min is None else float(bw_min)
        c = c if bw_max is None else float(bw_max)
        if not self.fixed:
            c = min(c, float(self.n))
            if a > c:
                raise ValueError(
                    f"GWR: adaptive bandwidth search [{a}, {c}] is empty: n={self.n} points are "
                    f"too few for {self.p} columns (mgwr's lower end is 40 + 2p)"
                )

        def objective(b: float) -> float:
            try:
                return self.score(b, criterion)
            except SingularLocalSystem:
                if not skip_singular:
                    raise
                return math.inf

        bw, score, hist = golden_section(
            a, c, objective, tol=tol, max_iter=max_iter, int_score=not self.fixed
        )
        if not math.isfinite(score):
            raise SingularLocalSystem(
                f"GWR: every bandwidth tried in [{a}, {c}] gave singular local systems"
            )
        return BandwidthSearch(bw=bw, score=score, history=hist)

    # ------------------------------------------------------------------ prediction
    def predict(
        self, points: np.ndarray, P: np.ndarray, bw: float, exog_scale: float | None = None
    ) -> GWRPrediction:
        """Local coefficients and predictions at new points (mgwr's ``GWR.predict``).

        The adaptive bandwidth at a point is its ``bw``-th nearest data point, as in mgwr.

        Args:
            points: ``[m, 2]`` coordinates.
            P: ``[m, k]`` covariates without the constant.
            bw: bandwidth.
            exog_scale: residual variance for standard errors (None: skip them).
        """
        points = np.asarray(points, dtype=np.float64)
        P = np.asarray(P, dtype=np.float64)
        if P.ndim == 1:
            P = P[:, None]
        if points.shape[0] != P.shape[0] or points.shape[1] != 2:
            raise ValueError(f"GWR.predict: points {points.shape} and P {P.shape} disagree")
        if self.constant:
            P = np.hstack([np.ones((P.shape[0], 1)), P])
        if P.shape[1] != self.p:
            raise ValueError(f"GWR.predict: P has {P.shape[1]} columns, the model {self.p}")
        if not (np.isfinite(points).all() and np.isfinite(P).all()):
            raise ValueError("GWR.predict: points or P contain NaN or inf")
        q = as_f64(points, self.device)
        pt = as_f64(P, self.device)
        d, i, band = self.neighbourhood(bw, query=q)
        fit = local_regression(
            self.X, self.y, d, i, band, self.kernel, pt, influence=False,
            full=exog_scale is not None, ridge=self.ridge, constant=self.constant,
            chunk_elems=self.chunk_elems,
        )
        bse = None
        if exog_scale is not None:
            bse = torch.sqrt(fit.cct * exog_scale).cpu().numpy()
        return GWRPrediction(
            predictions=(pt * fit.params).sum(1).cpu().numpy(),
            params=fit.params.cpu().numpy(),
            bse=bse,
        )
