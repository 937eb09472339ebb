"""Graph node generation: K-means on the land grid (paper Section 3.2, eq. 5).

Eq. 5 minimises squared distances between the land points ``(lambda_p, phi_p)`` and the cluster
centres.  We run it on the 3D unit-sphere coordinates of eq. 6 instead of on (lon, lat) degrees:

* (lon, lat) has a seam at the dateline: cells at 179.75E and 179.75W are 359.5 "degrees" apart,
  so a cluster could never span Chukotka and Alaska's west coast or Fiji's two sides;
* a degree of longitude shrinks with cos(latitude), so Euclidean distance in degrees stretches
  high-latitude clusters east-west (Siberia, Canada) and squeezes tropical ones;
* the graph (eqs. 6-9) is built on the sphere anyway, so both steps then share one metric.

The centres are the (area-weighted) means of their members' unit vectors, projected back onto
the sphere (spherical K-means); every cell is then assigned to the nearest projected centre.

Deviation (param ``area_weighted``, default on): equirectangular cells shrink with cos(latitude),
so unweighted K-means would spend nodes on the many small high-latitude cells.  Weighting each
cell by its area makes nodes cover comparable land areas.  ``area_weighted: false`` gives eq. 5
with equal point weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stcg.graph.sphere import lonlat_to_xyz, xyz_to_lonlat


@dataclass(frozen=True)
class Clustering:
    """K-means result.

    Attributes:
        center_xyz: ``[K, 3]`` node centres on the unit sphere.
        center_lon: ``[K]`` degrees.
        center_lat: ``[K]`` degrees.
        labels: ``[C]`` node index of each cell.
    """

    center_xyz: np.ndarray
    center_lon: np.ndarray
    center_lat: np.ndarray
    labels: np.ndarray


def kmeans_sphere(
    lon: np.ndarray,
    lat: np.ndarray,
    k: int,
    seed: int,
    area_weighted: bool = True,
    n_init: int = 4,
) -> Clustering:
    """Cluster land cells on the unit sphere (eq. 5 in 3D coordinates, see module docstring).

    Args:
        lon: ``[C]`` cell-centre longitudes (degrees).
        lat: ``[C]`` cell-centre latitudes (degrees).
        k: number of clusters (graph nodes).
        seed: K-means seed (sklearn ``random_state``).
        area_weighted: weight cells by cos(latitude).
        n_init: K-means restarts.

    Returns:
        The :class:`Clustering`; node order is sklearn's (deterministic for a seed).

    Raises:
        ValueError: if there are fewer distinct cells than ``k``.
    """
    from sklearn.cluster import KMeans  # here: the stages that only assign cells skip sklearn
    from threadpoolctl import threadpool_limits

    xyz = lonlat_to_xyz(lon, lat)
    n_distinct = len(np.unique(np.round(xyz, 12), axis=0))
    if n_distinct < k:
        raise ValueError(f"clusters: {k} nodes asked for, but the grid has {n_distinct} land cells")
    weight = np.cos(np.deg2rad(np.asarray(lat, dtype=np.float64))) if area_weighted else None
    km = KMeans(n_clusters=k, n_init=n_init, random_state=seed, algorithm="lloyd")
    # k-means++ seeding makes k BLAS calls of [candidates, 3] x [3, C] per restart, each far too
    # small to share among threads: with a threaded BLAS on busy cores they wait on each other
    # (150 s instead of 30 s at 1000 nodes on 58k cells).  Single-threaded BLAS gives the same
    # bytes (a product with 3 inner terms is never split); Lloyd's own OpenMP threads are kept.
    with threadpool_limits(limits=1, user_api="blas"):
        km.fit(xyz, sample_weight=weight)
    centers = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
    # nearest projected centre = largest dot product; ties go to the lower node index
    labels = np.argmax(xyz @ centers.T, axis=1).astype(np.int64)
    c_lon, c_lat = xyz_to_lonlat(centers)
    return Clustering(center_xyz=centers, center_lon=c_lon, center_lat=c_lat, labels=labels)


def assign_to_nodes(lon: np.ndarray, lat: np.ndarray, center_xyz: np.ndarray) -> np.ndarray:
    """Nearest node (on the sphere) of arbitrary points, e.g. cells of another dataset.

    Args:
        lon: ``[C]`` degrees.
        lat: ``[C]`` degrees.
        center_xyz: ``[K, 3]`` node centres.

    Returns:
        ``[C]`` int64 node indices.
    """
    return np.argmax(lonlat_to_xyz(lon, lat) @ np.asarray(center_xyz).T, axis=1).astype(np.int64)
