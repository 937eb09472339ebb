"""GNNWR / GTNNWR mechanics: layer widths, determinism, units, inputs.

Accuracy is checked in test_recovery.py (known surfaces) and, against the reference package
``gnnwr`` 0.1.17, by ``bench/gnnwr_vs_package.py``: the package needs tensorboard, folium and
branca, so it lives in a separate venv rather than in the project's test dependencies.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stcg.baselines.spatial.gnnwr import GNNWR, GNNWRNet, GNNWRSettings, default_widths

FAST = GNNWRSettings(ols_ridge=0.0, max_epochs=15, patience=5, batch_size=64)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(5)
    n = 160
    lonlat = np.stack([rng.uniform(-20, 20, n), rng.uniform(30, 60, n)], 1)
    X = rng.normal(size=(n, 2))
    y = 1 + X[:, 0] * (1 + lonlat[:, 1] / 60) - X[:, 1] + rng.normal(scale=0.1, size=n)
    val = np.arange(n) % 5 == 0
    return lonlat, X, y, val


def test_default_widths_follow_gnnwr():
    # gnnwr.networks.default_dense_layer(600, 3) -> [512, 256, ..., 4]
    assert default_widths(600, 3, cap=10**6) == (512, 256, 128, 64, 32, 16, 8, 4)
    assert default_widths(600, 3, cap=256) == (256, 128, 64, 32, 16, 8, 4)
    assert default_widths(4, 28, cap=256) == ()


def test_same_seed_same_model_and_global_rng_untouched(small):
    lonlat, X, y, val = small
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = GNNWR(lonlat, X, y, val, spherical=True, settings=FAST, device="cpu")
    after = torch.rand(1)
    b = GNNWR(lonlat, X, y, val, spherical=True, settings=FAST, device="cpu")
    assert torch.equal(before, after)
    np.testing.assert_array_equal(a.predict(lonlat, X)[0], b.predict(lonlat, X)[0])
    c = GNNWR(lonlat, X, y, val, spherical=True,
              settings=GNNWRSettings(ols_ridge=0.0, max_epochs=15, patience=5, batch_size=64, seed=1),
              device="cpu")
    assert not np.array_equal(a.predict(lonlat, X)[0], c.predict(lonlat, X)[0])


def test_coefficients_are_in_the_units_of_x(small):
    lonlat, X, y, val = small
    a = GNNWR(lonlat, X, y, val, spherical=True, settings=FAST, device="cpu")
    scale, shift = np.array([10.0, 0.5]), np.array([3.0, -7.0])
    Xs = X * scale + shift
    b = GNNWR(lonlat, Xs, y, val, spherical=True, settings=FAST, device="cpu")
    ya, ba = a.predict(lonlat, X)
    yb, bb = b.predict(lonlat, Xs)
    np.testing.assert_allclose(ya, yb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bb[:, 1:], ba[:, 1:] / scale, rtol=1e-4, atol=1e-6)
    # the coefficients reproduce the predictions: y_hat = b0 + sum_j b_j x_j
    np.testing.assert_allclose(bb[:, 0] + (bb[:, 1:] * Xs).sum(1), yb, rtol=1e-4, atol=1e-4)


def test_prediction_is_weights_times_ols(small):
    lonlat, X, y, val = small
    m = GNNWR(lonlat, X, y, val, spherical=True, settings=FAST, device="cpu")
    xs = m._design(X)
    f = m._features(lonlat, None)
    with torch.no_grad():
        yhat, w = m.net(f, torch.from_numpy(xs).float())
    np.testing.assert_allclose(
        yhat.numpy(), (w.numpy() * m.beta_ols * xs).sum(1), rtol=1e-4, atol=1e-4
    )
    ols = np.linalg.lstsq(xs[~val], y[~val], rcond=None)[0]
    np.testing.assert_allclose(m.beta_ols, ols, rtol=1e-10)
    assert isinstance(m.net, GNNWRNet)


def test_gtnnwr_uses_at_most_max_reference(small):
    lonlat, X, y, val = small
    t = np.arange(len(y)) % 46
    m = GNNWR(lonlat, X, y, val, t=t, spherical=True, time_period=46,
              settings=GNNWRSettings(ols_ridge=0.0, max_epochs=3, patience=2, max_reference=50), device="cpu")
    assert len(m.ref_coords) == 50
    f = m._raw_features(lonlat[:3], np.array([0.0, 45.0, 23.0]))
    assert f.shape == (3, 50, 2)
    assert float(f[..., 1].max()) <= 23.0  # cyclic |dt| <= period / 2
    with pytest.raises(ValueError, match="t is required"):
        m.predict(lonlat, X)


def test_bad_input_is_named(small):
    lonlat, X, y, val = small
    with pytest.raises(ValueError, match="val_mask"):
        GNNWR(lonlat, X, y, np.zeros(len(y), bool), settings=FAST)
    with pytest.raises(ValueError, match="rows"):
        GNNWR(lonlat[:-1], X, y, val, settings=FAST)
    with pytest.raises(ValueError, match="optimizer"):
        GNNWR(lonlat, X, y, val, settings=GNNWRSettings(optimizer="sgd"))
