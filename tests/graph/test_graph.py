"""Graph construction (eqs. 5-9): invariants, the dateline, bridging, weights, node2vec."""

from __future__ import annotations

import numpy as np
import pytest

from stcg.graph.build import build_graph, graph_metrics, load_graph, save_graph
from stcg.graph.cluster import assign_to_nodes, kmeans_sphere
from stcg.graph.config import BuildGraphConfig, Node2VecConfig
from stcg.graph.knn import connect_components, edge_weights, knn_edges, n_components
from stcg.graph.node2vec import node2vec, random_walks
from stcg.graph.sphere import crosses_dateline, lonlat_to_xyz, xyz_to_lonlat


def land_like_cells(res: float = 5.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic land grid: blobby continents, one of which straddles the dateline."""
    lon = np.arange(-180 + res / 2, 180, res)
    lat = np.arange(-90 + res / 2, 90, res)
    glon, glat = np.meshgrid(lon, lat)
    blobs = [(20, 10, 35), (100, 45, 35), (-100, 40, 30), (-60, -15, 25), (135, -25, 15),
             (180, 65, 20)]  # the last one: Chukotka/Alaska across 180
    mask = np.zeros_like(glon, dtype=bool)
    for lo, la, r in blobs:
        d = np.rad2deg(np.arccos(np.clip(lonlat_to_xyz(glon, glat) @ lonlat_to_xyz(lo, la), -1, 1)))
        mask |= d < r
    lo_, la_ = glon[mask], glat[mask]
    return np.arange(lo_.size) * 7 + 3, lo_, la_


CFG = BuildGraphConfig(
    seed=0, clusters=30, knn=5,
    node2vec=Node2VecConfig(dim=8, walk_length=8, context_size=4, walks_per_node=4, epochs=2),
)


@pytest.fixture(scope="module")
def graph():
    cid, lon, lat = land_like_cells()
    return build_graph(cid, lon, lat, CFG, progress=False)


def test_graph_invariants(graph) -> None:
    src, dst = graph.edge_src, graph.edge_dst
    assert np.all(src < dst), "each undirected edge once, no self loops"
    key = src * graph.n_nodes + dst
    assert np.unique(key).size == key.size
    # the adjacency built from the file is symmetric and has an empty diagonal
    a = np.zeros((graph.n_nodes, graph.n_nodes))
    a[src, dst] = graph.edge_weight
    a = a + a.T
    assert np.allclose(a, a.T) and np.all(np.diag(a) == 0)
    # every node has at least its k nearest neighbours
    assert graph.degree().min() >= CFG.knn
    m = graph_metrics(graph)
    assert m["components"] == 1
    assert m["nodes"] == CFG.clusters and m["edges"] == src.size
    assert m["dateline_edges"] >= 1
    assert m["dateline_edges"] == int(
        crosses_dateline(graph.node_lon[src], graph.node_lon[dst]).sum()
    )
    # weights in (0, 1], decreasing with distance (eq. 8)
    w = graph.edge_weight
    assert np.all(w > 0) and np.all(w <= 1)
    order = np.argsort(graph.edge_dist)
    assert np.all(np.diff(w[order]) <= 1e-12)
    assert graph.mu == pytest.approx(np.median(graph.edge_dist))


def test_knn_is_spherical_and_crosses_dateline() -> None:
    lon = np.array([179.0, -179.0, 0.0, 10.0, -170.0])
    lat = np.zeros(5)
    e = knn_edges(lonlat_to_xyz(lon, lat), k=1)
    pairs = set(zip(e.src.tolist(), e.dst.tolist(), strict=True))
    assert (0, 1) in pairs, "179E and 179W are neighbours on the sphere"
    assert (2, 3) in pairs
    assert (1, 4) in pairs
    assert crosses_dateline(lon[0], lon[1]) and not crosses_dateline(lon[2], lon[3])


def test_kmeans_on_sphere_keeps_dateline_cluster_whole() -> None:
    rng = np.random.default_rng(1)
    lon_a = np.concatenate([rng.uniform(176, 180, 50), rng.uniform(-180, -176, 50)])
    lon_b = rng.uniform(-4, 4, 100)
    lon = np.concatenate([lon_a, lon_b])
    lat = rng.uniform(-3, 3, 200)
    cl = kmeans_sphere(lon, lat, k=2, seed=0)
    assert np.unique(cl.labels[:100]).size == 1
    assert np.unique(cl.labels[100:]).size == 1
    assert cl.labels[0] != cl.labels[150]
    a = cl.labels[0]
    assert abs(abs(cl.center_lon[a]) - 180) < 2  # centre on the dateline, not at lon 0
    # in (lon, lat) degrees the dateline group would be torn in two: eq. 5 literally
    from sklearn.cluster import KMeans

    flat = KMeans(2, n_init=4, random_state=0).fit_predict(np.c_[lon, lat])
    assert np.unique(flat[:100]).size == 2
    # new points go to the nearest centre on the sphere
    assert assign_to_nodes(np.array([179.9]), np.array([0.0]), cl.center_xyz)[0] == a


def test_connect_components_bridges_shortest_pair() -> None:
    # two tight groups far apart: KNN with k=2 leaves two components
    lon = np.array([0, 1, 2, 1, 0.5, 90, 91, 92, 91, 90.5], dtype=float)
    lat = np.array([0, 0, 0, 1, 0.5, 0, 0, 0, 1, 0.5], dtype=float)
    xyz = lonlat_to_xyz(lon, lat)
    e = knn_edges(xyz, k=2)
    assert n_components(10, e)[0] == 2
    e2, added = connect_components(xyz, e)
    assert added == 1 and n_components(10, e2)[0] == 1
    new = set(zip(e2.src.tolist(), e2.dst.tolist(), strict=True)) - set(
        zip(e.src.tolist(), e.dst.tolist(), strict=True)
    )
    assert new == {(2, 5)}, "the bridge is the closest pair (2 at lon 2, 5 at lon 90)"


def test_edge_weight_formula() -> None:
    d = np.array([0.0, 0.1, 0.5, 2.0])
    sigma, mu = 0.7, 0.3
    expect = np.exp(-((1 - np.exp(-d / mu)) ** 2) / (2 * sigma**2))
    assert np.allclose(edge_weights(d, sigma, mu), expect)
    assert edge_weights(np.array([0.0]), 1.0, 1.0)[0] == 1.0
    with pytest.raises(ValueError):
        edge_weights(d, 0.0, 1.0)


def test_sphere_roundtrip() -> None:
    lon = np.array([-179.5, 0.0, 45.0, 179.5])
    lat = np.array([-89.0, 0.0, 30.0, 60.0])
    lo, la = xyz_to_lonlat(lonlat_to_xyz(lon, lat))
    assert np.allclose(lo, lon) and np.allclose(la, lat)


def test_biased_walk_transition_probabilities() -> None:
    # t=0 - v=1; x1=2 is a neighbour of both t and v; x2=3 only of v
    src = np.array([0, 0, 1, 1])
    dst = np.array([1, 2, 2, 3])
    w = np.array([1.0, 1.0, 1.0, 1.0])
    p, q = 0.5, 2.0
    walks = random_walks(4, src, dst, w, 3, 30000, p, q, np.random.default_rng(0))
    sel = (walks[:, 0] == 0) & (walks[:, 1] == 1)
    third = walks[sel, 2]
    freq = np.bincount(third, minlength=4) / third.size
    expect = np.array([1 / p, 0.0, 1.0, 1 / q])
    expect /= expect.sum()
    assert np.allclose(freq, expect, atol=0.015), (freq, expect)
    # first step proportional to the edge weights
    w2 = np.array([1.0, 3.0, 1.0, 1.0])
    walks = random_walks(4, src, dst, w2, 2, 40000, 1.0, 1.0, np.random.default_rng(1))
    first = walks[walks[:, 0] == 0, 1]
    f = np.bincount(first, minlength=4) / first.size
    assert np.allclose(f, [0, 0.25, 0.75, 0], atol=0.015)


def test_node2vec_separates_communities() -> None:
    clique = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    edges = np.array(clique + [(i + 6, j + 6) for i, j in clique] + [(0, 6)])
    emb = node2vec(12, edges[:, 0], edges[:, 1], np.ones(len(edges)), dim=8, walk_length=10,
                   context_size=4, walks_per_node=20, p=1.0, q=1.0, num_negative=1, epochs=3,
                   batch_size=32, lr=0.05, seed=0, progress=False)
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = u @ u.T
    group = np.arange(12) < 6
    same = group[:, None] == group[None, :]
    off = ~np.eye(12, dtype=bool)
    assert cos[same & off].mean() > cos[~same].mean() + 0.5
    again = node2vec(12, edges[:, 0], edges[:, 1], np.ones(len(edges)), dim=8, walk_length=10,
                     context_size=4, walks_per_node=20, p=1.0, q=1.0, num_negative=1, epochs=3,
                     batch_size=32, lr=0.05, seed=0, progress=False)
    assert np.array_equal(emb, again), "deterministic for a seed"


def test_save_load_roundtrip(graph, tmp_path) -> None:
    path = tmp_path / "g.npz"
    save_graph(path, graph)
    back = load_graph(path)
    for name in ("node_xyz", "edge_src", "edge_weight", "embedding", "cell_id", "cell_node"):
        assert np.array_equal(getattr(back, name), getattr(graph, name))
    assert back.mu == graph.mu and back.n_bridges == graph.n_bridges
    assert np.all(np.diff(back.cell_id) > 0)


def test_config_validation() -> None:
    from stcg.config import ConfigError, from_dict

    with pytest.raises(ConfigError, match="knn"):
        from_dict(BuildGraphConfig, {"seed": 0, "clusters": 4, "knn": 4})
    with pytest.raises(ConfigError, match="unknown"):
        from_dict(BuildGraphConfig, {"seed": 0, "clusters": 4, "bogus": 1})


def test_node2vec_bytes_repeat_at_batch_scale() -> None:
    """Large batches accumulate many rows per node in the backward of ``emb[walk]``; the bytes
    must not depend on the order of those float sums (it changes between runs unless the
    deterministic accumulation is on), and the global setting is restored afterwards."""
    import torch

    ring = [(i, (i + 1) % 12) for i in range(12)] + [(i, (i + 5) % 12) for i in range(0, 12, 3)]
    e = np.array(ring)
    runs = [node2vec(12, e[:, 0], e[:, 1], np.ones(len(e)), dim=16, walk_length=20,
                     context_size=10, walks_per_node=5, p=1.0, q=1.0, num_negative=1, epochs=2,
                     batch_size=128, lr=0.01, seed=0, progress=False).tobytes()
            for _ in range(4)]
    assert len(set(runs)) == 1
    assert not torch.are_deterministic_algorithms_enabled()


def test_kmeans_equals_sklearn_with_threaded_blas() -> None:
    """K-means runs its BLAS on one thread; the centres must be the bytes sklearn gives with the
    BLAS threads it picks itself."""
    from sklearn.cluster import KMeans

    _, lon, lat = land_like_cells(2.5)
    cl = kmeans_sphere(lon, lat, 60, seed=3, area_weighted=True, n_init=2)
    km = KMeans(n_clusters=60, n_init=2, random_state=3, algorithm="lloyd")
    km.fit(lonlat_to_xyz(lon, lat), sample_weight=np.cos(np.deg2rad(lat)))
    ref = km.cluster_centers_ / np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True)
    assert np.array_equal(cl.center_xyz, ref)


def test_node2vec_bytes_do_not_depend_on_torch_threads() -> None:
    """node2vec trains on one torch thread; a two-thread run of the same loop gives the same bytes,
    and the caller's thread count is restored."""
    import torch

    from stcg.device import deterministic
    from stcg.graph.node2vec import _train

    _, lon, lat = land_like_cells(5.0)
    xyz = lonlat_to_xyz(lon, lat)[:200]
    e = knn_edges(xyz, 6)
    w = edge_weights(e.dist, 1.0, float(np.median(e.dist)))
    args = (200, e.src, e.dst, w, 32, 20, 10, 4, 1.0, 2.0, 1, 2, 128, 0.01, 0, True, False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with deterministic():
            two = _train(*args)
        one = node2vec(*args[:4], dim=32, walk_length=20, context_size=10, walks_per_node=4,
                       p=1.0, q=2.0, num_negative=1, epochs=2, batch_size=128, lr=0.01, seed=0,
                       progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, two)
