"""Distances, kernels and sorted neighbour lists shared by GWR, GTWR and GNNWR.

Spatial distances follow mgwr 2.2.1 (``mgwr.kernels.local_cdist``) exactly: Euclidean for
projected coordinates, haversine great-circle distance in km on a sphere of radius 6371 km for
``(lon, lat)`` in degrees.  Kernels follow ``mgwr.kernels.Kernel``: an adaptive bandwidth of
``k`` neighbours is the distance to the ``k``-th nearest data point (the point itself counts)
times ``1.0000001``; the bisquare kernel is truncated at the bandwidth.

Everything runs in torch float64 on any device (local regressions need double precision to
match the reference packages; the GPU path is the same code on ``cuda``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

EARTH_RADIUS_KM = 6371.0
"""Sphere radius used by mgwr's haversine distance (km)."""

ADAPTIVE_EPS = 1.0000001
"""mgwr / GWR4 factor on the k-th neighbour distance of an adaptive bandwidth."""

KERNELS = ("bisquare", "gaussian", "exponential")
"""Kernel functions supported (names as in mgwr)."""

TRUNCATED = ("bisquare",)
"""Kernels that are exactly zero at and beyond the bandwidth."""


def default_chunk_elems(device: torch.device) -> int:
    """Elements ``B * K * p`` gathered per batch of local regressions: 32 MiB of float64 on CPU
    (cache-friendly), 512 MiB on a GPU (few, large launches)."""
    return 2**26 if device.type == "cuda" else 2**22


def as_f64(a: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """A float64 tensor on ``device``."""
    if isinstance(a, torch.Tensor):
        return a.to(device=device, dtype=torch.float64)
    return torch.from_numpy(np.array(a, dtype=np.float64, copy=True)).to(device)


def haversine_km(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Great-circle distances between ``(lon, lat)`` points in degrees.

    Args:
        a: ``[M, 2]`` query points (lon, lat).
        b: ``[N, 2]`` data points (lon, lat).

    Returns:
        ``[M, N]`` distances in km (mgwr's haversine, R = 6371 km).
    """
    rad = math.pi / 180.0
    lon_a, lat_a = a[:, 0:1] * rad, a[:, 1:2] * rad
    lon_b, lat_b = b[None, :, 0] * rad, b[None, :, 1] * rad
    h = torch.sin((lat_b - lat_a) / 2) ** 2 + torch.cos(lat_b) * torch.cos(lat_a) * torch.sin(
        (lon_b - lon_a) / 2
    ) ** 2
    return 2.0 * EARTH_RADIUS_KM * torch.arcsin(torch.sqrt(h.clamp(0.0, 1.0)))


def euclidean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distances ``[M, N]`` (no matmul shortcut, so ties stay ties)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def pairwise_distance(a: torch.Tensor, b: torch.Tensor, spherical: bool) -> torch.Tensor:
    """Haversine km (``spherical``) or Euclidean distances ``[M, N]``."""
    return haversine_km(a, b) if spherical else euclidean(a, b)


def lonlat_to_xyz_km(lonlat: np.ndarray) -> np.ndarray:
    """Earth-centred Cartesian coordinates in km of ``(lon, lat)`` degrees, ``[N, 2] -> [N, 3]``.

    The Euclidean distance between two such points is the chord length, which is within 0.5 %
    of the great-circle distance below 1,500 km (``2 R sin(d / 2R)`` vs ``d``).
    """
    lon = np.radians(np.asarray(lonlat, dtype=np.float64)[:, 0])
    lat = np.radians(np.asarray(lonlat, dtype=np.float64)[:, 1])
    return EARTH_RADIUS_KM * np.stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1
    )


def kernel_weights(dist: torch.Tensor, bandwidth: torch.Tensor, kernel: str) -> torch.Tensor:
    """Kernel weights of distances ``[B, K]`` for per-row bandwidths ``[B, 1]`` (mgwr's forms).

    Truncated kernels (bisquare) are zero where ``dist >= bandwidth``.
    """
    z = dist / bandwidth
    if kernel == "bisquare":
        w = (1.0 - z**2) ** 2
        return torch.where(dist >= bandwidth, torch.zeros_like(w), w)
    if kernel == "gaussian":
        return torch.exp(-0.5 * z**2)
    if kernel == "exponential":
        return torch.exp(-z)
    raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")


def check_kernel(kernel: str) -> None:
    """Raise a clear error for an unsupported kernel name."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")


def sorted_neighbours(
    query: torch.Tensor,
    data: torch.Tensor,
    k: int,
    spherical: bool,
    max_chunk_elems: int = 2**24,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest data points of every query point, nearest first.

    Args:
        query: ``[M, 2]`` query coordinates.
        data: ``[N, 2]`` data coordinates.
        k: neighbours to return (``1 <= k <= N``).
        spherical: haversine km instead of Euclidean.
        max_chunk_elems: distances computed at once (memory bound).

    Returns:
        ``(dist [M, k], idx [M, k])``, each row ascending by distance.
    """
    n = data.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k={k} neighbours requested from {n} data points")
    rows = max(1, max_chunk_elems // max(n, 1))
    dists, idxs = [], []
    for s in range(0, query.shape[0], rows):
        d = pairwise_distance(query[s : s + rows], data, spherical)
        if k == n:
            dd, ii = torch.sort(d, dim=1, stable=True)
        else:
            dd, ii = torch.topk(d, k, dim=1, largest=False, sorted=True)
        dists.append(dd)
        idxs.append(ii)
    return torch.cat(dists), torch.cat(idxs)


def truncated_neighbourhood(
    sorted_fn: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    n: int,
    bw: float,
    fixed: bool,
    kernel: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Neighbours with non-zero kernel weight of a set of regression points.

    Args:
        sorted_fn: ``k -> (dist [M, k], idx [M, k])``, the ``k`` nearest data points, sorted.
        n: number of data points.
        bw: bandwidth (neighbour count if adaptive, a distance if ``fixed``).
        fixed: fixed-distance (True) or adaptive (False) bandwidth.
        kernel: kernel name; untruncated kernels get all ``n`` neighbours.

    Returns:
        ``(dist [M, K], idx [M, K], bandwidth [M])``.  For a truncated kernel ``K`` is the
        largest number of points strictly inside a row's bandwidth (ties at the adaptive
        bandwidth included, as in mgwr); columns beyond a row's own count weigh zero.
    """
    if not math.isfinite(bw) or bw <= 0:
        raise ValueError(f"bandwidth must be finite and > 0, got {bw}")
    kk = int(bw)
    if not fixed and not 1 <= kk <= n:
        raise ValueError(f"adaptive bandwidth {bw} outside [1, n={n}]")

    def band_of(d: torch.Tensor) -> torch.Tensor:
        if fixed:
            return torch.full((d.shape[0],), float(bw), dtype=d.dtype, device=d.device)
        return d[:, kk - 1] * ADAPTIVE_EPS

    if kernel not in TRUNCATED:
        d, i = sorted_fn(n)
        return d, i, band_of(d)
    k_try = min(n, kk + 16) if not fixed else min(n, 64)
    while True:
        d, i = sorted_fn(k_try)
        band = band_of(d)
        inside = (d < band[:, None]).sum(1)
        if k_try >= n or int(inside.max()) < k_try:
            break
        k_try = min(n, 2 * k_try)
    kmax = max(1, int(inside.max()))
    return d[:, :kmax], i[:, :kmax], band
