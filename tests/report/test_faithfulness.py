"""The varying-coefficient benchmark: its truth, its scores (oracle and nulls) and the stage's
library function end to end on a tiny grid."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from stcg.config import (
    PROFILES,
    from_dict,
    resolve_profile,
)
from stcg.data.config import SplitConfig
from stcg.data.dataset import read_cells
from stcg.graph.config import BuildGraphConfig
from stcg.report.faithfulness import (
    draw_year,
    input_climatology,
    land_cells,
    make_truth,
    reference_scores,
    run_benchmark,
    score_coefficients,
    to_z_units,
)
from stcg.report.faithfulness_config import FaithfulnessConfig
from stcg.train.config import OptimConfig, TrainStcgConfig

REPO = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((REPO / "params.yaml").read_text())
VARIABLES = tuple(RAW["build_data"]["variables"])


def _cfg(**kw) -> FaithfulnessConfig:
    raw = resolve_profile(RAW["faithfulness"], "tiny")
    return dataclasses.replace(from_dict(FaithfulnessConfig, raw, "faithfulness"), **kw)


@pytest.fixture(scope="module")
def grid(data_dir):
    """The 10-degree land cells and the generator's truth on them."""
    cells = land_cells(data_dir, 10.0)
    cfg = _cfg()
    return cells, make_truth(cells, VARIABLES, cfg), cfg


@pytest.mark.parametrize("profile", PROFILES)
def test_params_load(profile):
    cfg = from_dict(FaithfulnessConfig, resolve_profile(RAW["faithfulness"], profile),
                    "faithfulness")
    assert {"data", "condition", "condition_centered"} <= set(cfg.variants)
    assert cfg.variants["data"].model == {"interp_source": "data"}


def test_land_cells_are_the_simulators(grid, tiny_dataset):
    cells, _, _ = grid
    sim = read_cells(tiny_dataset)
    assert np.array_equal(cells["cell_id"].to_numpy(), sim["cell_id"].to_numpy())
    assert np.array_equal(cells["land_cover"].to_numpy(), sim["land_cover"].to_numpy())


def test_declared_zero_coefficients_are_exactly_zero_and_the_others_smooth(grid):
    cells, truth, cfg = grid
    assert truth.nonzero.sum() == len(VARIABLES) - cfg.n_zero
    b = truth.coef[..., 1:]
    assert np.all(b[..., ~truth.nonzero] == 0.0)
    assert np.all(np.abs(b[..., truth.nonzero]).min(axis=(0, 1)) >= 0)
    assert np.all(b[..., truth.nonzero].std(axis=(0, 1)) > 0.05)
    assert np.abs(b).max() <= cfg.coef_scale
    # season: adjacent periods nearly equal (r over cells and inputs)
    nz = b[..., truth.nonzero]
    r_t = np.corrcoef(nz[:, :-1].ravel(), nz[:, 1:].ravel())[0, 1]
    assert r_t > 0.95
    # space: each cell against its nearest other cell, per coefficient
    xyz = np.stack([np.cos(np.radians(cells.lat)) * np.cos(np.radians(cells.lon)),
                    np.cos(np.radians(cells.lat)) * np.sin(np.radians(cells.lon)),
                    np.sin(np.radians(cells.lat))], axis=1)
    d = ((xyz[:, None] - xyz[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nn = d.argmin(1)
    rs = [np.corrcoef(nz[:, 10, j], nz[nn, 10, j])[0, 1] for j in range(nz.shape[-1])]
    assert np.median(rs) > 0.8
    # ...while an unrelated pairing of cells is not correlated
    perm = np.random.default_rng(0).permutation(len(cells))
    rs0 = [np.corrcoef(nz[:, 10, j], nz[perm, 10, j])[0, 1] for j in range(nz.shape[-1])]
    assert abs(np.median(rs0)) < 0.3


def test_inputs_are_weakly_correlated_and_noise_is_known(grid):
    _, truth, cfg = grid
    clim = input_climatology(truth, cfg)
    z, y_true, y = draw_year(truth, clim, 2020, cfg)
    anom = (z - clim).reshape(-1, z.shape[-1])
    c = np.corrcoef(anom.T)
    off = c[~np.eye(len(c), dtype=bool)]
    assert abs(off.mean() - cfg.input_correlation) < 0.02 and off.max() < 0.3
    assert np.std(y - y_true) == pytest.approx(cfg.noise, rel=0.03)
    assert np.allclose(y_true, truth.coef[..., 0] + (truth.coef[..., 1:] * z).sum(-1))


def test_oracle_scores_one_and_nulls_chance(grid):
    _, truth, cfg = grid
    clim = input_climatology(truth, cfg)
    z, _, y = draw_year(truth, clim, 2020, cfg)
    coef = truth.coef.reshape(-1, truth.coef.shape[-1])
    ref = reference_scores(coef, z.reshape(-1, z.shape[-1]), truth.nonzero, y.reshape(-1), 0)
    o = ref["oracle"]
    assert o["coef_r_median"] == pytest.approx(1.0)
    assert o["zero_coef_rmse"] == 0.0 and o["intercept_rmse"] == 0.0
    assert o["y_rmse"] == pytest.approx(cfg.noise, rel=0.03)
    for name in ("shuffled", "noise", "constant"):
        assert abs(ref["nulls"][name]["coef_r_median"]) < 0.05, name
    assert ref["nulls"]["noise"]["zero_coef_rmse"] > 0.1
    # a partly right answer lands between: the truth plus noise of its own size
    noisy = coef + np.random.default_rng(1).standard_normal(coef.shape) * coef[:, 1:].std()
    mid = score_coefficients(noisy, y.reshape(-1), coef, truth.nonzero, y.reshape(-1))
    assert 0.3 < mid["coef_r_median"] < 0.95


def test_raw_coefficients_map_back_to_z_units(grid):
    _, truth, _ = grid
    rng = np.random.default_rng(2)
    b = rng.standard_normal((5, 1 + len(VARIABLES)))
    z = rng.standard_normal((5, len(VARIABLES)))
    x = truth.loc + truth.scale * z
    c = b[:, 1:] / truth.scale                     # raw-unit slopes
    c0 = b[:, 0] - (c * truth.loc).sum(1)          # raw-unit intercept
    assert np.allclose(c0 + (c * x).sum(1), b[:, 0] + (b[:, 1:] * z).sum(1))
    assert np.allclose(to_z_units(c0, c, truth), b)


def test_run_benchmark_end_to_end(data_dir, tmp_path):
    """Generator -> files ingestion -> graph -> STCG, GWR, GTWR -> scores, in seconds."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    stcg = from_dict(TrainStcgConfig, resolve_profile(params["train_stcg"], "tiny"), "train_stcg")
    graph = from_dict(BuildGraphConfig, resolve_profile(params["build_graph"], "tiny"),
                      "build_graph")
    graph = dataclasses.replace(graph, node2vec=dataclasses.replace(graph.node2vec, epochs=1,
                                                                    walks_per_node=2))
    raw = resolve_profile(params["faithfulness"], "tiny")
    raw["variants"] = {k: raw["variants"][k] for k in ("condition", "condition_centered")}
    cfg = dataclasses.replace(
        from_dict(FaithfulnessConfig, raw, "faithfulness"),
        splits=SplitConfig(train_years=(2019, 2019), test_years=(2020, 2020)),
        score_periods=(10, 30), gtwr_max_rows=600, threads=1, device="cpu",
        optim=OptimConfig(epochs=1, batch_size=256, samples_per_epoch=512))
    cfg = dataclasses.replace(cfg, gtwr=dataclasses.replace(cfg.gtwr, bw_max=200))
    res = run_benchmark(data_dir, tmp_path, cfg, stcg, graph, VARIABLES, log=lambda m: None)
    assert set(res["methods"]) == {"stcg_condition", "stcg_condition_centered", "gwr", "gtwr"}
    for m in ("stcg_condition", "stcg_condition_centered"):  # raw-unit coefficients are right
        assert res["methods"][m]["reconstruction_max_abs"] < 2e-3 * cfg.intercept_mean
    assert res["setup"]["scored_rows"] == 2 * res["setup"]["cells"]
    o = res["reference"]["oracle"]
    assert o["coef_r_median"] == pytest.approx(1.0) and o["zero_coef_rmse"] == 0.0
    # the oracle's y error is the noise: the ingested data are the generated data
    assert o["y_rmse"] == pytest.approx(cfg.noise, rel=0.15)
    for m in res["methods"].values():
        for k in ("coef_r_median", "zero_coef_rmse", "intercept_rmse", "y_rmse"):
            assert np.isfinite(m[k])
    # the local regressions recover the coefficient surfaces (well above every null)
    assert res["methods"]["gtwr"]["coef_r_median"] > 0.4
    assert res["methods"]["gwr"]["coef_r_median"] > 0.2
    assert max(abs(n["coef_r_median"]) for n in res["reference"]["nulls"].values()) < 0.15

    # `stcg predict` applies a centred model's stored reference: it reproduces the run's own
    # test predictions, interpretable branch included
    import pandas as pd

    from stcg.train.predict import predict_dataset

    run = tmp_path / "stcg" / "condition_centered"
    got = predict_dataset(run / "model.pt", tmp_path / "climate2gpp", tmp_path / "pred",
                          years=[2020], netcdf=False)
    want = pd.read_parquet(run / "predictions.parquet")
    m = want.merge(got, on=["cell_id", "year", "period"], suffixes=("", "_p"))
    assert len(m) == len(want)
    assert np.allclose(m["gpp_interp"], m["gpp_interp_p"], atol=1e-3)
    assert np.allclose(m["w_intercept"], m["w_intercept_p"], atol=1e-3)
