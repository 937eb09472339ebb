"""Unit-sphere geometry shared by the graph code (paper Section 3.2, eq. 6).

Every distance in :mod:`stcg.graph` is the *chord* length ``||p_i - p_j||`` between points on the
unit sphere, as in eqs. 7-8; it is a monotone function of the great-circle distance
(``arc = 2 asin(chord / 2)``), so nearest neighbours by chord are nearest neighbours on the globe,
and there is no seam at the dateline.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG), to report edge lengths in km."""


def lonlat_to_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Eq. 6: geographic degrees to 3D unit vectors.

    Args:
        lon: ``[N]`` longitude in degrees.
        lat: ``[N]`` latitude in degrees.

    Returns:
        ``[N, 3]`` float64 ``(cos(lat) cos(lon), cos(lat) sin(lon), sin(lat))``.
    """
    lam = np.deg2rad(np.asarray(lon, dtype=np.float64))
    phi = np.deg2rad(np.asarray(lat, dtype=np.float64))
    return np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)


def xyz_to_lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`lonlat_to_xyz` for any non-zero vectors (normalised first).

    Args:
        xyz: ``[N, 3]``.

    Returns:
        ``(lon, lat)`` in degrees, lon in [-180, 180).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    norm = np.linalg.norm(xyz, axis=-1, keepdims=True)
    if np.any(norm == 0):
        raise ValueError("xyz_to_lonlat: zero vector has no direction")
    u = xyz / norm
    lat = np.rad2deg(np.arcsin(np.clip(u[..., 2], -1.0, 1.0)))
    lon = np.rad2deg(np.arctan2(u[..., 1], u[..., 0]))
    lon = (lon + 180.0) % 360.0 - 180.0
    return lon, lat


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance in km of a chord length on the unit sphere."""
    return 2.0 * np.arcsin(np.clip(np.asarray(chord) / 2.0, 0.0, 1.0)) * EARTH_RADIUS_KM


def crosses_dateline(lon_a: np.ndarray, lon_b: np.ndarray) -> np.ndarray:
    """Whether the shorter arc between two longitudes crosses the antimeridian (180 degrees).

    True when the plain longitude difference exceeds 180 degrees, i.e. the short way round goes
    through +-180 degrees rather than through 0.
    """
    return np.abs(np.asarray(lon_a) - np.asarray(lon_b)) > 180.0
