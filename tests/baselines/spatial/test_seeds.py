"""Several seeds of GNNWR / GTNNWR: per-seed results, their mean and sd, and the stabilisers."""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch

from stcg.baselines.spatial.gnnwr import GNNWR, GNNWRSettings, _mean_state
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.fewshot.config import NNWRFewshotConfig
from stcg.fewshot.dataset import FewShot
from stcg.fewshot.runners import fit_gnnwr_week, fit_seeds, seed_processes

CFG = NNWRFewshotConfig(max_epochs=5, patience=3, batch_size=32, seeds=3)


@pytest.fixture(scope="module")
def fs() -> FewShot:
    """60 cells with a spatially varying slope on one covariate, 12 held out."""
    rng = np.random.default_rng(3)
    n = 60
    lon, lat = rng.uniform(-30, 30, n), rng.uniform(0, 50, n)
    x = rng.normal(size=(n, PERIODS_PER_YEAR, 2))
    y = 2 + x[..., 0] * (1 + lat[:, None] / 50) - 0.5 * x[..., 1]
    y = y + rng.normal(scale=0.1, size=y.shape)
    is_test = np.zeros(n, bool)
    is_test[rng.permutation(n)[:12]] = True
    return FewShot(np.arange(n), lon, lat, np.ones(n, np.int8), is_test, x, y, ("a", "b"),
                   {"weeks": [1]})


def _fit(fs: FewShot, cfg: NNWRFewshotConfig):
    return fit_seeds(fs, cfg, lambda c: fit_gnnwr_week(fs, 1, c, "cpu"), (1,))


def test_seeds_change_results_and_a_seed_list_repeats_bit_for_bit(fs):
    torch.set_num_threads(1)
    a, pred_a = _fit(fs, CFG)
    b, pred_b = _fit(fs, CFG)
    assert a["seeds"]["seeds"] == [0, 1, 2] and a["seeds"]["n"] == 3
    assert a == b  # bit for bit, every seed's metrics and the aggregate
    np.testing.assert_array_equal(pred_a.pred, pred_b.pred)
    rmse = [r["weeks"]["w01"]["test"]["rmse"] for r in a["seeds"]["runs"]]
    assert len(set(rmse)) == 3  # each seed gives its own model
    # the aggregate is the mean and the sample sd of the per-seed values
    assert a["weeks"]["w01"]["test"]["rmse"] == pytest.approx(np.mean(rmse), rel=1e-12)
    assert a["seeds"]["sd"]["weeks"]["w01"]["test"]["rmse"] == pytest.approx(
        np.std(rmse, ddof=1), rel=1e-12)
    # the coefficients written are the first seed's: a single-seed run reproduces them
    one, pred_one = _fit(fs, dataclasses.replace(CFG, seeds=1))
    np.testing.assert_array_equal(pred_one.pred, pred_a.pred)
    assert "seeds" not in one and one == a["seeds"]["runs"][0]
    # a shifted start seed shares the overlapping runs
    c, _ = _fit(fs, dataclasses.replace(CFG, seed=1, seeds=2))
    assert c["seeds"]["runs"] == a["seeds"]["runs"][1:]


def test_mean_state_is_the_elementwise_mean():
    s1 = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    s2 = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}
    m = _mean_state([s1, s2])
    torch.testing.assert_close(m["w"], torch.tensor([2.0, 4.0]))
    assert int(m["n"]) == 5  # integer counters: the last state's


def _small():
    rng = np.random.default_rng(5)
    n = 120
    lonlat = np.stack([rng.uniform(-20, 20, n), rng.uniform(30, 60, n)], 1)
    X = rng.normal(size=(n, 2))
    y = 1 + X[:, 0] * (1 + lonlat[:, 1] / 60) - X[:, 1] + rng.normal(scale=0.1, size=n)
    return lonlat, X, y, np.arange(n) % 5 == 0


def test_smoothing_and_averaging_change_the_kept_model_not_the_training():
    lonlat, X, y, val = _small()
    base = GNNWRSettings(ols_ridge=0.0, max_epochs=20, patience=20, batch_size=32,
                         val_smoothing=0.0, average_last=1)
    ref = GNNWR(lonlat, X, y, val, spherical=True, settings=base, device="cpu")
    # the kept epoch is the argmin of the raw validation loss
    assert ref.history.best_epoch == int(np.argmin(ref.history.val_loss))
    ema = GNNWR(lonlat, X, y, val, spherical=True, device="cpu",
                settings=dataclasses.replace(base, val_smoothing=0.5))
    # the same training run: the kept epoch is the argmin of the EMA of the same losses
    assert ema.history.val_loss == ref.history.val_loss
    s, smooth = 0.0, []
    for e, v in enumerate(ref.history.val_loss):
        s = v if e == 0 else 0.5 * s + 0.5 * v
        smooth.append(s)
    assert ema.history.best_epoch == int(np.argmin(smooth))
    avg = GNNWR(lonlat, X, y, val, spherical=True, device="cpu",
                settings=dataclasses.replace(base, average_last=3))
    assert avg.history.val_loss == ref.history.val_loss
    assert not np.array_equal(avg.predict(lonlat, X)[0], ref.predict(lonlat, X)[0])
    with pytest.raises(ValueError, match="val_smoothing"):
        GNNWRSettings(val_smoothing=1.0).validate()
    with pytest.raises(ValueError, match="average_last"):
        GNNWRSettings(average_last=0).validate()
    with pytest.raises(ValueError, match="seeds"):
        NNWRFewshotConfig(seeds=0).validate()


@pytest.mark.skipif(sys.platform != "linux", reason="forked processes: Linux only")
def test_seeds_side_by_side_equal_seeds_one_after_another(fs, monkeypatch):
    # 3 cores shared by 3 processes: one thread each, on any machine; the same for the
    # sequential run
    monkeypatch.setattr("stcg.parallel.available_threads", lambda threads=0: 3)
    torch.set_num_threads(1)
    a, pred_a = _fit(fs, CFG)
    b, pred_b = fit_seeds(fs, CFG, lambda c: fit_gnnwr_week(fs, 1, c, "cpu"), (1,), procs=3)
    assert a == b  # every seed's metrics and the aggregate, bit for bit
    np.testing.assert_array_equal(pred_a.pred, pred_b.pred)
    np.testing.assert_array_equal(pred_a.coef, pred_b.coef)
    assert seed_processes(CFG, "cpu") == 3
    assert seed_processes(dataclasses.replace(CFG, seed_procs=1), "cpu") == 1
