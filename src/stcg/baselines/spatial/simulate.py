"""Simulated data with known coefficient surfaces, to score coefficient recovery.

* :func:`mgwr_design`: the 25 x 25 design of the MGWR paper (Fotheringham, Yang & Kang 2017,
  Section 4): ``beta0 = 3``, ``beta1 = 1 + (u + v) / 12``,
  ``beta2 = 1 + (36 - (6 - u/2)^2)(36 - (6 - v/2)^2) / 324``, ``x ~ N(0, 1)``,
  ``eps ~ N(0, 0.5^2)``, ``(u, v)`` the grid indices 0..24.
* :func:`gtwr_design`: the same surfaces on a smaller grid, repeated over ``T`` times with a
  smooth temporal drift, so the coefficients vary in space *and* time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SimData:
    """Simulated regression data.

    Attributes:
        coords: ``[n, 2]`` grid coordinates ``(u, v)``.
        t: ``[n]`` times (zeros for the purely spatial design).
        X: ``[n, 2]`` covariates (no constant).
        y: ``[n]`` response.
        beta: ``[n, 3]`` true coefficients (intercept first).
    """

    coords: np.ndarray
    t: np.ndarray
    X: np.ndarray
    y: np.ndarray
    beta: np.ndarray


def _surfaces(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    b0 = np.full_like(u, 3.0)
    b1 = 1.0 + (u + v) / 12.0
    b2 = 1.0 + (36.0 - (6.0 - u / 2.0) ** 2) * (36.0 - (6.0 - v / 2.0) ** 2) / 324.0
    return np.stack([b0, b1, b2], axis=1)


def mgwr_design(size: int = 25, noise: float = 0.5, seed: int = 0) -> SimData:
    """The MGWR paper's design on a ``size x size`` grid (module docstring)."""
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.arange(size, dtype=float), np.arange(size, dtype=float), indexing="ij")
    u, v = u.ravel(), v.ravel()
    beta = _surfaces(u, v)
    X = rng.normal(size=(u.size, 2))
    y = beta[:, 0] + (beta[:, 1:] * X).sum(1) + rng.normal(scale=noise, size=u.size)
    return SimData(np.stack([u, v], 1), np.zeros(u.size), X, y, beta)


def gtwr_design(size: int = 15, times: int = 6, noise: float = 0.5, seed: int = 0) -> SimData:
    """Spatiotemporal design: the MGWR surfaces (grid rescaled to 0..24) with a time drift.

    ``beta1(u, v, t) = 1 + (u + v) / 12 + t / (times - 1)`` (a linear trend of +1 over the
    period) and ``beta2(u, v, t) = beta2(u, v) * (1 + 0.5 sin(2 pi t / times))``.
    """
    rng = np.random.default_rng(seed)
    g = np.arange(size, dtype=float) * 24.0 / max(size - 1, 1)
    u, v, t = np.meshgrid(g, g, np.arange(times, dtype=float), indexing="ij")
    u, v, t = u.ravel(), v.ravel(), t.ravel()
    beta = _surfaces(u, v)
    beta[:, 1] += t / max(times - 1, 1)
    beta[:, 2] *= 1.0 + 0.5 * np.sin(2 * np.pi * t / times)
    X = rng.normal(size=(u.size, 2))
    y = beta[:, 0] + (beta[:, 1:] * X).sum(1) + rng.normal(scale=noise, size=u.size)
    return SimData(np.stack([u, v], 1), t, X, y, beta)
