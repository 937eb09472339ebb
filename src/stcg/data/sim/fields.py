"""Smooth random fields on the sphere and their evolution in time.

A field is a random Fourier feature expansion of an isotropic Gaussian process on the 3-D unit
vectors of the cells: ``z(c) = sqrt(2 / M) sum_m a_m cos(w_m . p_c + b_m)`` with ``w_m ~ N(0, I /
l^2)``, ``b_m ~ U(0, 2 pi)`` and ``a_m ~ N(0, 1)``, so ``z`` has unit variance and a squared
exponential correlation of chordal length scale ``l``.  Working in 3-D makes fields continuous
across the dateline and over the poles.  The frequencies ``(w, b)`` and the coefficients ``a`` are
drawn from the seed alone, never from the cells, so any subset of cells (a chunk processed by one
worker) sees the same field.

Fields that evolve in time have AR(1) coefficients ``a_m(t) = rho a_m(t-1) + sqrt(1 - rho^2) e``.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0


def unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """``[C, 3]`` unit vectors of lon/lat in degrees."""
    lo, la = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


class FourierBasis:
    """The random features ``phi [C, M]`` of one field family for a set of cells."""

    def __init__(self, seed: int, stream: int, length_km: float, n_features: int) -> None:
        rng = np.random.default_rng([seed, 1, stream])
        scale = length_km / EARTH_RADIUS_KM
        self.omega = rng.standard_normal((3, n_features)) / scale
        self.phase = rng.uniform(0.0, 2.0 * np.pi, n_features)
        self.n_features = n_features

    def features(self, xyz: np.ndarray) -> np.ndarray:
        """``phi [C, M]`` for cells with unit vectors ``xyz [C, 3]``."""
        return np.sqrt(2.0 / self.n_features) * np.cos(xyz @ self.omega + self.phase)


def static_field(seed: int, stream: int, length_km: float, xyz: np.ndarray, n_features: int = 512) -> np.ndarray:
    """A unit-variance smooth field ``[C]`` (fixed in time)."""
    basis = FourierBasis(seed, stream, length_km, n_features)
    a = np.random.default_rng([seed, 2, stream]).standard_normal(n_features)
    z = basis.features(xyz) @ a
    return z


class EvolvingField:
    """A smooth field whose Fourier coefficients follow an AR(1) process in time.

    Call :meth:`year` once per year, in order; the coefficient state carries over.
    """

    def __init__(self, seed: int, stream: int, length_km: float, rho: float, xyz: np.ndarray,
                 n_features: int = 256) -> None:
        self.seed, self.stream, self.rho = seed, stream, rho
        self.phi = FourierBasis(seed, stream, length_km, n_features).features(xyz)
        self.state = np.random.default_rng([seed, 3, stream]).standard_normal(n_features)

    def year(self, year: int, n_periods: int) -> np.ndarray:
        """The field for each period of ``year``: ``[C, n_periods]`` with unit variance."""
        rng = np.random.default_rng([self.seed, 4, self.stream, year])
        eps = rng.standard_normal((n_periods, self.state.size))
        coef = np.empty_like(eps)
        s, r = self.state, self.rho
        q = np.sqrt(1.0 - r * r)
        for t in range(n_periods):
            s = r * s + q * eps[t]
            coef[t] = s
        self.state = s
        return self.phi @ coef.T
