"""Coefficient recovery on simulations with known surfaces.

Designs (:mod:`stcg.baselines.spatial.simulate`): the MGWR paper's 25 x 25 grid
(``beta0 = 3``, ``beta1 = 1 + (u + v) / 12``,
``beta2 = 1 + (36 - (6 - u/2)^2)(36 - (6 - v/2)^2) / 324``, noise sd 0.5) and its
spatiotemporal variant (15 x 15 grid x 6 times, ``beta1`` with a linear time trend, ``beta2``
with a seasonal amplitude).  Score: RMSE over all observations of each estimated coefficient
against the truth.  Documented error bounds (measured on this seed; bounds leave ~1.5-2x room):

=========  ==========  ========================  ========================
method     design      measured RMSE b0/b1/b2    asserted bound
=========  ==========  ========================  ========================
GWR        25 x 25     0.120 / 0.136 / 0.316     0.20 / 0.25 / 0.45
GNNWR      25 x 25     0.114 / 0.134 / 0.144     0.25 / 0.30 / 0.35
GTWR       15x15x6     0.182 / 0.188 / 0.405     0.30 / 0.30 / 0.60
GTNNWR     15x15x6     0.135 / 0.179 / 0.250     0.30 / 0.35 / 0.45
=========  ==========  ========================  ========================

The STCG model's few-shot recovery is tested in ``tests/train/test_fewshot_stcg.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from stcg.baselines.spatial.gnnwr import GNNWR, GNNWRSettings
from stcg.baselines.spatial.gtwr import GTWR
from stcg.baselines.spatial.gwr import GWR
from stcg.baselines.spatial.simulate import gtwr_design, mgwr_design


def _beta_rmse(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.sqrt(((est - truth) ** 2).mean(0))


@pytest.fixture(scope="module")
def spatial():
    return mgwr_design(seed=0)


@pytest.fixture(scope="module")
def spatiotemporal():
    return gtwr_design(seed=0)


def test_gwr_recovers_surfaces(spatial):
    model = GWR(spatial.coords, spatial.y, spatial.X)
    sel = model.select_bandwidth()
    err = _beta_rmse(model.fit(sel.bw).params, spatial.beta)
    assert np.all(err < [0.20, 0.25, 0.45]), err


def test_gnnwr_recovers_surfaces(spatial):
    val = np.random.default_rng(0).random(len(spatial.y)) < 0.2
    model = GNNWR(spatial.coords, spatial.X, spatial.y, val,
                  settings=GNNWRSettings(ols_ridge=0.0, max_epochs=150, patience=30), device="cpu")
    yhat, beta = model.predict(spatial.coords, spatial.X)
    err = _beta_rmse(beta, spatial.beta)
    assert np.all(err < [0.25, 0.30, 0.35]), err
    assert np.sqrt(np.mean((yhat - spatial.y)[val] ** 2)) < 0.65  # noise sd 0.5


@pytest.mark.slow
def test_gtwr_recovers_surfaces_and_beats_gwr(spatiotemporal):
    s = spatiotemporal
    model = GTWR(s.coords, s.t, s.y, s.X)
    sel = model.select()
    err = _beta_rmse(model.fit(sel.bw, sel.tau).params, s.beta)
    assert np.all(err < [0.30, 0.30, 0.60]), err
    gwr = GWR(s.coords, s.y, s.X)
    err_gwr = _beta_rmse(gwr.fit(gwr.select_bandwidth().bw).params, s.beta)
    assert np.all(err[1:] < 0.6 * err_gwr[1:]), (err, err_gwr)  # time matters for b1, b2


@pytest.mark.slow
def test_gtnnwr_recovers_surfaces(spatiotemporal):
    s = spatiotemporal
    val = np.random.default_rng(0).random(len(s.y)) < 0.2
    model = GNNWR(s.coords, s.X, s.y, val, t=s.t,
                  settings=GNNWRSettings(ols_ridge=0.0, max_epochs=120, patience=30, max_reference=512),
                  device="cpu")
    _, beta = model.predict(s.coords, s.X, s.t)
    err = _beta_rmse(beta, s.beta)
    assert np.all(err < [0.30, 0.35, 0.45]), err
