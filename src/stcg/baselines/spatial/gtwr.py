"""Geographically and temporally weighted regression (GTWR) with out-of-sample prediction.

Model (Huang, Wu & Barry 2010; Fotheringham, Crespo & Yao 2015)::

    y_i = sum_j beta_j(u_i, v_i, t_i) x_ij + eps_i,
    d_ij^2 = d_s(i, j)^2 + tau * d_t(i, j)^2

a GWR whose kernel runs on the spatiotemporal distance ``d_ij`` (Huang et al.'s
``lambda d_s^2 + mu d_t^2`` with ``tau = mu / lambda``; the overall scale is absorbed by the
bandwidth).  Kernel: adaptive bisquare by default, mgwr's conventions
(:mod:`stcg.baselines.spatial.neighbors`); estimates, hat-matrix trace and AICc as in
:mod:`stcg.baselines.spatial.gwr`.  Prediction at new ``(location, time)`` points uses the same
kernel centred on the point over the calibration data, which the Python packages (mgtwr, gtwr)
do not offer.

Choices and deviations (documented in the few-shot report):

* ``d_s`` is Euclidean for projected coordinates (as mgtwr).  For ``(lon, lat)`` it is the
  *chord* distance between Earth-centred points (km), not the haversine arc: it makes ``d`` a
  Euclidean norm of an embedding ``(x, y, z, sqrt(tau) t)``, so exact k-d-tree neighbour search
  works for hundreds of thousands of observations; the chord is within 0.5 % of the arc below
  1,500 km (neighbourhoods are far smaller).
* ``time_period`` makes time cyclic (period-of-year climatologies: period 45 neighbours period 0):
  ``d_t`` is then the chord of a circle of circumference ``time_period``, ``~|t_i - t_j|`` for
  nearby times.
* ``tau`` and the bandwidth are chosen by AICc with alternating golden-section searches (bandwidth
  with mgwr's integer rules, then ``log tau``), ``rounds`` times, instead of mgtwr's nested
  two-step golden section (``O(iterations^2)`` fits).  The tests check that the optimum is at
  least as good as mgtwr's search on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from stcg.baselines.spatial.gwr import CRITERIA, GWRResults, information_criteria
from stcg.baselines.spatial.local import SingularLocalSystem, golden_section, local_regression
from stcg.baselines.spatial.neighbors import (
    as_f64,
    check_kernel,
    default_chunk_elems,
    lonlat_to_xyz_km,
    truncated_neighbourhood,
)
from stcg.device import resolve_device


@dataclass
class GTWRSearch:
    """Result of the (bandwidth, tau) search.

    Attributes:
        bw: selected bandwidth.
        tau: selected spatiotemporal ratio (space units^2 per time unit^2).
        score: criterion at the optimum.
        history: every ``(bw, tau, score)`` evaluated.
    """

    bw: float
    tau: float
    score: float
    history: list[tuple[float, float, float]]


class GTWR:
    """GTWR with k-d-tree neighbourhoods and batched local solves.

    Args:
        coords: ``[n, 2]`` coordinates (projected, or ``(lon, lat)`` degrees if ``spherical``).
        t: ``[n]`` times (any unit, e.g. 8-day period index).
        y: ``[n]`` response.
        X: ``[n, k]`` covariates without the constant.
        kernel: kernel name (bisquare recommended: only it is truncated and scales).
        fixed: fixed distance bandwidth instead of adaptive neighbour count.
        spherical: ``(lon, lat)`` degrees, chord distances in km.
        time_period: cyclic time with this period (None: linear time).
        constant: add an intercept column.
        ridge: scale-free ridge (0 = exact GTWR), see :mod:`stcg.baselines.spatial.local`.
        device: torch device for the local solves (default CUDA when available).
        query_chunk: regression points per neighbour query (memory bound).
        workers: threads of the k-d-tree queries.
    """

    def __init__(
        self,
        coords: np.ndarray,
        t: np.ndarray,
        y: np.ndarray,
        X: np.ndarray,
        *,
        kernel: str = "bisquare",
        fixed: bool = False,
        spherical: bool = False,
        time_period: float | None = None,
        constant: bool = True,
        ridge: float = 0.0,
        device: str | torch.device | None = None,
        query_chunk: int = 8192,
        workers: int = 1,
    ) -> None:
        check_kernel(kernel)
        coords = np.asarray(coords, dtype=np.float64)
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim == 1:
            X = X[:, None]
        n = y.shape[0]
        if coords.shape != (n, 2) or X.shape[0] != n or t.shape[0] != n:
            raise ValueError(
                f"GTWR: coords {coords.shape}, t {t.shape}, X {X.shape}, y {y.shape} must have "
                f"n={n} rows (coords with 2 columns)"
            )
        for name, arr in (("coords", coords), ("t", t), ("X", X), ("y", y)):
            if not np.isfinite(arr).all():
                raise ValueError(f"GTWR: {name} contains NaN or inf")
        if time_period is not None and time_period <= 0:
            raise ValueError(f"GTWR: time_period must be > 0, got {time_period}")
        if constant:
            X = np.hstack([np.ones((n, 1)), X])
        self.device = resolve_device(device)
        self.kernel, self.fixed, self.spherical = kernel, fixed, spherical
        self.time_period, self.constant, self.ridge = time_period, constant, float(ridge)
        self.query_chunk, self.workers = int(query_chunk), int(workers)
        self.n, self.p = n, X.shape[1]
        self._raw = (coords, t, y, X[:, 1:] if constant else X)
        self._space = self.space_embedding(coords)
        self._time = self.time_embedding(t)
        self.X = as_f64(X, self.device)
        self.y = as_f64(y, self.device)
        self._trees: dict[float, cKDTree] = {}

    # ------------------------------------------------------------------ geometry
    def space_embedding(self, coords: np.ndarray) -> np.ndarray:
        """``[m, 2 or 3]`` Euclidean embedding of locations (chord km on the sphere)."""
        return lonlat_to_xyz_km(coords) if self.spherical else np.asarray(coords, np.float64)

    def time_embedding(self, t: np.ndarray) -> np.ndarray:
        """``[m, 1 or 2]`` Euclidean embedding of times (a circle if cyclic)."""
        t = np.asarray(t, dtype=np.float64).reshape(-1)
        if self.time_period is None:
            return t[:, None]
        r = self.time_period / (2.0 * math.pi)
        ang = t / r
        return r * np.stack([np.cos(ang), np.sin(ang)], axis=1)

    def _embed(self, space: np.ndarray, time: np.ndarray, tau: float) -> np.ndarray:
        if tau < 0 or not math.isfinite(tau):
            raise ValueError(f"GTWR: tau must be finite and >= 0, got {tau}")
        return np.hstack([space, math.sqrt(tau) * time])

    def _tree(self, tau: float) -> cKDTree:
        if tau not in self._trees:
            if len(self._trees) > 4:
                self._trees.clear()
            self._trees[tau] = cKDTree(self._embed(self._space, self._time, tau))
        return self._trees[tau]

    def _sorted(self, tree: cKDTree, q: np.ndarray, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        k = min(k, self.n)
        d, i = tree.query(q, k=k, workers=self.workers)
        d, i = np.asarray(d).reshape(len(q), k), np.asarray(i).reshape(len(q), k)
        return as_f64(d, self.device), torch.from_numpy(i.astype(np.int64)).to(self.device)

    def spatial_scale(self) -> float:
        """Median distance from a location to its nearest *other* location (space units)."""
        uniq = np.unique(self._space, axis=0)
        if len(uniq) < 2:
            return 1.0
        d, _ = cKDTree(uniq).query(uniq, k=2)
        return float(np.median(d[:, 1]))

    def time_scale(self) -> float:
        """Median gap between consecutive distinct times (time units)."""
        ts = np.unique(self._time, axis=0)
        if len(ts) < 2:
            return 1.0
        d, _ = cKDTree(ts).query(ts, k=2)
        return float(np.median(d[:, 1]))

    # ------------------------------------------------------------------ fitting
    def _local(
        self, q_embed: np.ndarray, x0: torch.Tensor, bw: float, tau: float, influence: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        tree = self._tree(tau)
        params, influ = [], []
        for s in range(0, len(q_embed), self.query_chunk):
            q = q_embed[s : s + self.query_chunk]
            d, i, band = truncated_neighbourhood(
                lambda k, q=q: self._sorted(tree, q, k), self.n, bw, self.fixed, self.kernel
            )
            fit = local_regression(
                self.X, self.y, d, i, band, self.kernel, x0[s : s + self.query_chunk],
                influence=influence, ridge=self.ridge, constant=self.constant,
                chunk_elems=default_chunk_elems(self.device),
            )
            params.append(fit.params)
            if influence:
                influ.append(fit.influ)
        return torch.cat(params), (torch.cat(influ) if influence else None)

    def fit(self, bw: float, tau: float) -> GWRResults:
        """Fit at the data points; ``extra`` holds ``tau`` and the mgtwr-form AICc.

        Args:
            bw: bandwidth (neighbour count if adaptive) in the spatiotemporal metric.
            tau: spatiotemporal ratio of ``d^2 = d_s^2 + tau d_t^2``.
        """
        q = self._embed(self._space, self._time, tau)
        params, influ = self._local(q, self.X, bw, tau, influence=True)
        predy = (self.X * params).sum(1)
        resid = self.y - predy
        n = self.n
        rss = float((resid**2).sum())
        tr_s = float(influ.sum())
        tss = float(((self.y - self.y.mean()) ** 2).sum())
        ic = information_criteria(rss, tr_s, n)
        return GWRResults(
            bw=float(bw), params=params.cpu().numpy(), predy=predy.cpu().numpy(),
            resid=resid.cpu().numpy(), influ=influ.cpu().numpy(), y=self.y.cpu().numpy(),
            tr_S=tr_s, rss=rss, llf=ic["llf"], aic=ic["aic"], aicc=ic["aicc"], bic=ic["bic"],
            cv=float(((resid / (1.0 - influ)) ** 2).sum()) / n, r2=1.0 - rss / tss,
            extra={
                "tau": float(tau),
                # mgtwr's AICc form: AIC + 2 trS (trS + 1) / (n - trS - 1)
                "aicc_mgtwr": ic["aic"] + 2.0 * tr_s * (tr_s + 1.0) / (n - tr_s - 1.0),
            },
        )

    def predict(
        self, coords: np.ndarray, t: np.ndarray, P: np.ndarray, bw: float, tau: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-sample prediction at new ``(location, time)`` points.

        Args:
            coords: ``[m, 2]`` locations.
            t: ``[m]`` times.
            P: ``[m, k]`` covariates without the constant.
            bw: bandwidth.
            tau: spatiotemporal ratio.

        Returns:
            ``(predictions [m], params [m, p])``.
        """
        coords = np.asarray(coords, dtype=np.float64)
        P = np.asarray(P, dtype=np.float64)
        if P.ndim == 1:
            P = P[:, None]
        m = P.shape[0]
        if coords.shape != (m, 2) or np.asarray(t).reshape(-1).shape[0] != m:
            raise ValueError(f"GTWR.predict: coords {coords.shape}, t, P {P.shape} disagree")
        if self.constant:
            P = np.hstack([np.ones((m, 1)), P])
        if P.shape[1] != self.p:
            raise ValueError(f"GTWR.predict: P has {P.shape[1]} columns, the model {self.p}")
        if not (np.isfinite(coords).all() and np.isfinite(P).all()):
            raise ValueError("GTWR.predict: coords or P contain NaN or inf")
        q = self._embed(self.space_embedding(coords), self.time_embedding(t), tau)
        pt = as_f64(P, self.device)
        params, _ = self._local(q, pt, bw, tau, influence=False)
        return (pt * params).sum(1).cpu().numpy(), params.cpu().numpy()

    # ------------------------------------------------------------------ selection
    def subset(self, rows: np.ndarray) -> GTWR:
        """The same model on a subset of the calibration rows (boolean mask or indices)."""
        coords, t, y, X = self._raw
        return GTWR(
            coords[rows], t[rows], y[rows], X[rows], kernel=self.kernel, fixed=self.fixed,
            spherical=self.spherical, time_period=self.time_period, constant=self.constant,
            ridge=self.ridge, device=self.device, query_chunk=self.query_chunk,
            workers=self.workers,
        )

    def holdout_rmse(self, holdout: np.ndarray) -> Callable[[float, float], float]:
        """``(bw, tau) -> RMSE`` of a fit without the ``holdout`` rows, predicting them.

        With whole locations held out this scores what the few-shot task asks (prediction at
        unseen cells), which in-sample AICc/CV cannot: a location's own time series is in its
        neighbourhood in-sample but never out-of-sample.
        """
        holdout = np.asarray(holdout, dtype=bool)
        if holdout.shape != (self.n,) or holdout.all() or not holdout.any():
            raise ValueError("GTWR: holdout must mark some, but not all, of the n rows")
        sub = self.subset(~holdout)
        coords, t, y, X = self._raw

        def score(bw: float, tau: float) -> float:
            pred, _ = sub.predict(coords[holdout], t[holdout], X[holdout], bw, tau)
            return float(np.sqrt(np.mean((pred - y[holdout]) ** 2)))

        score.n_fit = sub.n  # type: ignore[attr-defined]
        return score

    def select(
        self,
        criterion: str = "AICc",
        bw_bounds: tuple[float, float] | None = None,
        tau_bounds: tuple[float, float] | None = None,
        tau_init: float | None = None,
        rounds: int = 2,
        tol: float = 1.0e-6,
        tau_tol: float = 1.0e-3,
        max_iter: int = 200,
        progress: Callable[[float, float, float], None] | None = None,
        skip_singular: bool = False,
        holdout: np.ndarray | None = None,
    ) -> GTWRSearch:
        """Choose ``(bw, tau)`` by alternating golden-section searches on ``criterion``.

        Args:
            criterion: one of ``AICc``, ``AIC``, ``BIC``, ``CV`` (in-sample), or ``holdout``:
                the RMSE at the ``holdout`` rows of a fit without them (:meth:`holdout_rmse`).
            bw_bounds: bandwidth section (default mgwr's: ``[40 + 2p, n]`` adaptive).
            tau_bounds: tau section (default ``(s/T)^2 * [1e-2, 1e2]`` with ``s`` the
                median nearest-location distance and ``T`` the median time step).
            tau_init: starting tau (default the geometric mean of ``tau_bounds``).
            rounds: bandwidth-then-tau passes.
            tol: stopping tolerance of the bandwidth searches (mgwr's).
            tau_tol: stopping tolerance on the score of the ``log tau`` searches.
            max_iter: iteration cap of each golden section.
            progress: optional callable ``(bw, tau, score) -> None`` after each evaluation.
            skip_singular: score ``(bw, tau)`` with a singular local system as ``+inf``.
            holdout: ``[n]`` bool rows held out by the ``holdout`` criterion.
        """
        if criterion not in (*CRITERIA, "holdout"):
            raise ValueError(
                f"criterion: expected one of {(*CRITERIA, 'holdout')}, got {criterion!r}"
            )
        if criterion == "holdout":
            if holdout is None:
                raise ValueError("GTWR.select: criterion 'holdout' needs the holdout rows")
            evaluate = self.holdout_rmse(holdout)
            n_fit = evaluate.n_fit
        else:
            def evaluate(bw: float, tau: float) -> float:
                return self.fit(bw, tau).criterion(criterion)

            n_fit = self.n
        if bw_bounds is None:
            if self.fixed:
                raise ValueError("GTWR.select: give bw_bounds for a fixed bandwidth")
            bw_bounds = (float(40 + 2 * self.p), float(self.n))
        lo_bw, hi_bw = float(bw_bounds[0]), float(bw_bounds[1])
        if not self.fixed:
            hi_bw = min(hi_bw, float(n_fit))
        if lo_bw > hi_bw:
            raise ValueError(f"GTWR.select: empty bandwidth section {bw_bounds} for n={self.n}")
        if tau_bounds is None:
            base = (self.spatial_scale() / self.time_scale()) ** 2
            tau_bounds = (base * 1e-2, base * 1e2)
        lo_lt, hi_lt = math.log(tau_bounds[0]), math.log(tau_bounds[1])
        tau = math.exp(0.5 * (lo_lt + hi_lt)) if tau_init is None else float(tau_init)
        history: list[tuple[float, float, float]] = []
        cache: dict[tuple[float, float], float] = {}

        def score(bw: float, tau_: float) -> float:
            key = (float(bw), float(tau_))
            if key not in cache:
                try:
                    cache[key] = evaluate(bw, tau_)
                except SingularLocalSystem:
                    if not skip_singular:
                        raise
                    cache[key] = math.inf
                history.append((key[0], key[1], cache[key]))
                if progress is not None:
                    progress(key[0], key[1], cache[key])
            return cache[key]

        bw = lo_bw
        for _ in range(max(1, rounds)):
            bw, _, _ = golden_section(
                lo_bw, hi_bw, lambda b, tau=tau: score(b, tau), tol=tol, max_iter=max_iter,
                int_score=not self.fixed,
            )
            lt, _, _ = golden_section(
                lo_lt, hi_lt, lambda x, bw=bw: score(bw, math.exp(x)), tol=tau_tol,
                max_iter=max_iter,
            )
            tau = math.exp(lt)
        best = min(history, key=lambda h: h[2])
        if not math.isfinite(best[2]):
            raise SingularLocalSystem("GTWR: every (bw, tau) tried gave singular local systems")
        return GTWRSearch(bw=best[0], tau=best[1], score=best[2], history=history)


def gtwr_search_bounds(
    model: GTWR, tau_ratio: tuple[float, float], bw_min: float | None = None,
    bw_max: float | None = None,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The ``(bw_bounds, tau_bounds)`` sections of :meth:`GTWR.select` from scale-free settings.

    ``tau`` is searched over ``(s / T)^2 * [lo^2, hi^2]`` with ``(lo, hi) = tau_ratio``, ``s`` the
    median distance between neighbouring locations and ``T`` the median time step, so
    ``sqrt(tau) * T / s`` (how many neighbour spacings one time step weighs) lies in
    ``tau_ratio``.  The bandwidth runs from ``bw_min`` (None: mgwr's ``40 + 2 p``) to ``bw_max``
    (None: ``n``), capped at ``n``.
    """
    base = (model.spatial_scale() / model.time_scale()) ** 2
    tau_bounds = (base * tau_ratio[0] ** 2, base * tau_ratio[1] ** 2)
    bw_lo = bw_min if bw_min is not None else float(40 + 2 * model.p)
    bw_hi = min(bw_max if bw_max is not None else float(model.n), float(model.n))
    return (bw_lo, bw_hi), tau_bounds
