"""GTWR against mgtwr 2.0.5 and gtwr 1.0.2 (same author; both pure Python, both run here on
numpy 2.4: gtwr declares no numpy pin and its GTWR.fit works), plus checks of what the packages
lack (out-of-sample prediction, cyclic time, the sphere)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gtwr.model import GTWR as OldGTWR
from mgtwr.model import GTWR as RefGTWR
from mgtwr.sel import SearchGTWRParameter

from stcg.baselines.spatial.gtwr import GTWR
from stcg.baselines.spatial.gwr import GWR
from stcg.baselines.spatial.neighbors import EARTH_RADIUS_KM, haversine_km, lonlat_to_xyz_km


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    n = 180
    u, v = rng.uniform(0, 10, n), rng.uniform(0, 10, n)
    t = rng.integers(0, 6, n).astype(float)
    X = rng.normal(size=(n, 2))
    y = 1 + X[:, 0] * (1 + u / 10 + t / 5) + X[:, 1] * (v / 5) + rng.normal(scale=0.2, size=n)
    return np.stack([u, v], 1), t, X, y


@pytest.mark.parametrize(("bw", "tau", "fixed"), [(50, 2.0, False), (90, 0.3, False),
                                                  (3.5, 1.0, True)])
def test_fit_equals_mgtwr(data, bw, tau, fixed):
    coords, t, X, y = data
    ref = RefGTWR(coords, t[:, None], X, y[:, None], bw, tau, kernel="bisquare",
                  fixed=fixed).fit()
    res = GTWR(coords, t, y, X, fixed=fixed).fit(bw, tau)
    np.testing.assert_allclose(res.params, ref.betas, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.predy, ref.predict_value.ravel(), rtol=1e-9)
    np.testing.assert_allclose(res.influ, ref.influ.ravel(), rtol=1e-9)
    assert res.tr_S == pytest.approx(ref.tr_S, rel=1e-10)
    assert res.extra["aicc_mgtwr"] == pytest.approx(ref.aicc, rel=1e-10)
    assert res.r2 == pytest.approx(ref.R2, rel=1e-10)


def test_fit_equals_gtwr_package(data):
    coords, t, X, y = data
    ref = OldGTWR(coords, t[:, None], y[:, None], X, 50, 2.0, kernel="bisquare",
                  fixed=False).fit()
    res = GTWR(coords, t, y, X).fit(50, 2.0)
    np.testing.assert_allclose(res.params, ref.betas, rtol=1e-9, atol=1e-12)
    assert res.extra["aicc_mgtwr"] == pytest.approx(ref.aicc, rel=1e-10)


def test_search_is_at_least_as_good_as_mgtwr(data):
    coords, t, X, y = data
    ref_bw, ref_tau = SearchGTWRParameter(
        coords, t[:, None], X, y[:, None], kernel="bisquare", fixed=False
    ).search(criterion="AICc", tau_max=20)
    model = GTWR(coords, t, y, X)
    sel = model.select(tau_bounds=(0.05, 20.0))
    at_ref = model.fit(ref_bw, ref_tau)
    best = model.fit(sel.bw, sel.tau)
    assert best.aicc == pytest.approx(sel.score, rel=1e-12)
    assert best.aicc <= at_ref.aicc + 1e-9
    assert best.extra["aicc_mgtwr"] <= at_ref.extra["aicc_mgtwr"] + 1e-9


def _brute_force_predict(coords, t, X, y, q_coords, q_t, P, bw, tau):
    """Independent reference: explicit distances, adaptive bisquare, np.linalg.solve."""
    Xc = np.hstack([np.ones((len(y), 1)), X])
    Pc = np.hstack([np.ones((len(P), 1)), P])
    out = []
    for j in range(len(P)):
        d = np.sqrt(((coords - q_coords[j]) ** 2).sum(1) + tau * (t - q_t[j]) ** 2)
        h = np.sort(d)[int(bw) - 1] * 1.0000001
        w = np.where(d < h, (1 - (d / h) ** 2) ** 2, 0.0)
        beta = np.linalg.solve(Xc.T @ (Xc * w[:, None]), Xc.T @ (w * y))
        out.append(Pc[j] @ beta)
    return np.array(out)


def test_out_of_sample_prediction(data):
    coords, t, X, y = data
    rng = np.random.default_rng(11)
    m = 20
    q = rng.uniform(0, 10, (m, 2))
    qt = rng.uniform(0, 5, m)
    P = rng.normal(size=(m, 2))
    model = GTWR(coords, t, y, X)
    pred, params = model.predict(q, qt, P, 60, 1.5)
    ref = _brute_force_predict(coords, t, X, y, q, qt, P, 60, 1.5)
    np.testing.assert_allclose(pred, ref, rtol=1e-9)
    assert params.shape == (m, 3)
    # predicting at the calibration points reproduces the in-sample fit
    again, _ = model.predict(coords, t, X, 60, 1.5)
    np.testing.assert_allclose(again, model.fit(60, 1.5).predy, rtol=1e-12)


def test_tau_zero_is_gwr(data):
    coords, t, X, y = data
    a = GTWR(coords, t, y, X).fit(70, 0.0)
    b = GWR(coords, y, X).fit(70)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
    assert a.aicc == pytest.approx(b.aicc, rel=1e-12)


def test_cyclic_time_wraps_around():
    model = GTWR(np.zeros((3, 2)), np.array([0.0, 45.0, 23.0]), np.arange(3.0),
                 np.zeros((3, 1)), time_period=46)
    e = model.time_embedding(np.array([0.0, 45.0, 23.0, 1.0]))
    d_wrap = np.linalg.norm(e[0] - e[1])
    assert d_wrap == pytest.approx(np.linalg.norm(e[0] - e[3]), rel=1e-12)  # 45 -> 0 is 1 step
    assert d_wrap == pytest.approx(46 / math.pi * math.sin(math.pi / 46), rel=1e-12)
    assert np.linalg.norm(e[0] - e[2]) == pytest.approx(46 / math.pi * math.sin(math.pi * 23 / 46))


def test_chord_is_close_to_great_circle_below_1500_km():
    import torch

    rng = np.random.default_rng(0)
    a = np.stack([rng.uniform(-180, 180, 500), rng.uniform(-80, 80, 500)], 1)
    b = a + rng.uniform(-9, 9, a.shape)
    b[:, 1] = np.clip(b[:, 1], -89, 89)
    chord = np.linalg.norm(lonlat_to_xyz_km(a) - lonlat_to_xyz_km(b), axis=1)
    arc = np.diag(haversine_km(torch.from_numpy(a), torch.from_numpy(b)).numpy())
    np.testing.assert_allclose(chord, 2 * EARTH_RADIUS_KM * np.sin(arc / (2 * EARTH_RADIUS_KM)),
                               rtol=1e-9)
    near = arc < 1500
    assert near.sum() > 100
    assert np.all(np.abs(chord[near] - arc[near]) <= 0.005 * arc[near])


def test_bad_input_is_named(data):
    coords, t, X, y = data
    with pytest.raises(ValueError, match="rows"):
        GTWR(coords, t[:-1], y, X)
    with pytest.raises(ValueError, match="time_period"):
        GTWR(coords, t, y, X, time_period=0)
    with pytest.raises(ValueError, match="tau"):
        GTWR(coords, t, y, X).fit(50, -1.0)
