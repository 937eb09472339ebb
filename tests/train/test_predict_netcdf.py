"""``stcg predict``'s NetCDF: CF-1.10 compliance (IOOS compliance-checker), decoded time bounds."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stcg.model.config import ModelConfig
from stcg.train.config import OptimConfig, TrainStcgConfig
from stcg.train.predict import predict_dataset
from stcg.train.run import train_stcg


def _cfg() -> TrainStcgConfig:
    model = ModelConfig(d_model=8, heads=2, encoder_blocks=1, decoder_layers=1)
    optim = OptimConfig(epochs=1, batch_size=64, samples_per_epoch=128, lr=3e-3, lr_final=3e-4)
    return TrainStcgConfig(seed=0, window=2, model=model, optim=optim, device="cpu",
                           monitor_samples=64, eval_batch_size=1024)


@pytest.fixture(scope="module")
def predicted(toy_data, toy_graph, tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """(model file, predictions.nc, predictions frame) of all toy years (2018-2020)."""
    d = tmp_path_factory.mktemp("nc")
    train_stcg(toy_data, toy_graph, _cfg(), d / "run", d / "run.ckpt", d / "run.json", None,
               progress=False)
    frame = predict_dataset(d / "run" / "model.pt", toy_data, d / "pred", device="cpu")
    return d / "run" / "model.pt", d / "pred" / "predictions.nc", frame


def test_cf_checker_passes(predicted, tmp_path) -> None:
    """The IOOS compliance checker (CF 1.10, strict) reports no issue at any priority."""
    import json

    from compliance_checker.runner import CheckSuite, ComplianceChecker

    _, nc, _ = predicted
    CheckSuite.load_all_available_checkers()
    report = tmp_path / "cf.json"
    passed, errors = ComplianceChecker.run_checker(
        str(nc), ["cf:1.10"], verbose=0, criteria="strict", output_filename=str(report),
        output_format="json")
    res = json.loads(report.read_text())["cf:1.10"]
    issues = [(p, r["name"], r["msgs"]) for p in ("high_priorities", "medium_priorities",
                                                  "low_priorities")
              for r in res[p] if r["value"][0] < r["value"][1]]
    assert not errors and passed, issues
    assert issues == []
    assert res["scored_points"] == res["possible_points"] > 0


def test_bad_units_fail_the_checker(predicted, tmp_path) -> None:
    """The checker is live: the former unit string ``gC m-2 d-1`` is not UDUNITS."""
    import shutil

    import netCDF4
    from compliance_checker.runner import CheckSuite, ComplianceChecker

    _, nc, _ = predicted
    bad = tmp_path / "bad.nc"
    shutil.copy(nc, bad)
    with netCDF4.Dataset(bad, "a") as ds:
        ds["gpp_pred"].units = "gC m-2 d-1"
    CheckSuite.load_all_available_checkers()
    passed, _ = ComplianceChecker.run_checker(
        str(bad), ["cf:1.10"], verbose=0, criteria="strict",
        output_filename=str(tmp_path / "bad.json"), output_format="json")
    assert not passed


def test_time_bounds_decode_to_the_8_day_periods(predicted) -> None:
    """xarray (decode_cf) reads each period's first day and the day after its last: 8 days, the
    last period 5 days (2018, 2019) or 6 (leap 2020), contiguous from 1 Jan 2018 to 1 Jan 2021."""
    import xarray as xr

    _, nc, _ = predicted
    with xr.open_dataset(nc, engine="h5netcdf", decode_cf=True) as ds:
        bnds = ds["time_bnds"].values
        time = ds["time"].values
        assert ds["time"].attrs["bounds"] == "time_bnds"
        assert ds["time"].encoding["calendar"] == "standard"
        assert ds["time"].encoding["units"].startswith("days since 1970-01-01")
        year, period = ds["year"].values, ds["period"].values
    assert bnds.dtype.kind == "M" and bnds.shape == (3 * 46, 2)
    for t in range(bnds.shape[0]):
        y, p = int(year[t]), int(period[t])
        first = np.datetime64(dt.date(y, 1, 1)) + np.timedelta64(8 * p, "D")
        days = 8 if p < 45 else (6 if y % 4 == 0 else 5)
        assert bnds[t, 0] == first and time[t] == first
        assert (bnds[t, 1] - bnds[t, 0]) == np.timedelta64(days, "D"), (y, p)
    assert (bnds[1:, 0] == bnds[:-1, 1]).all()
    assert bnds[0, 0] == np.datetime64("2018-01-01") and bnds[-1, 1] == np.datetime64("2021-01-01")


def test_cf_metadata_and_provenance(predicted, toy_data) -> None:
    """No _FillValue on coordinates, a grid mapping on every data variable, the model file's
    checksum, and feature statistics that turn the weights into physical units."""
    import netCDF4
    import xarray as xr

    from stcg.data.dataset import load_dense
    from stcg.train.bundle import load_bundle

    model, nc, frame = predicted
    with netCDF4.Dataset(nc) as raw:
        assert raw.Conventions == "CF-1.10"
        for name in ("title", "institution", "source", "history", "stcg_version"):
            assert getattr(raw, name)
        assert raw.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
        assert raw.model_file == str(model.resolve())
        for name in ("time", "lat", "lon", "time_bnds", "lat_bnds", "lon_bnds", "year", "period"):
            assert "_FillValue" not in raw[name].ncattrs(), name
        assert raw["crs"].grid_mapping_name == "latitude_longitude"
        grids = [v for v in raw.variables.values() if v.dimensions == ("time", "lat", "lon")]
        assert grids and all(v.grid_mapping == "crs" for v in grids)
        assert raw["gpp_pred"].standard_name == (
            "gross_primary_productivity_of_biomass_expressed_as_carbon")
        assert raw["lat"].bounds == "lat_bnds" and raw["lon"].bounds == "lon_bnds"
        lat, lat_b = raw["lat"][:], raw["lat_bnds"][:]
        assert np.allclose(lat_b.mean(axis=1), lat) and np.allclose(np.diff(lat_b, axis=1), 15.0)
    bundle = load_bundle(model)
    dense = load_dense(toy_data)
    with xr.open_dataset(nc, engine="h5netcdf") as ds:
        for j, v in enumerate(bundle.variables):
            assert ds[f"w_{v}"].attrs["feature_std"] == pytest.approx(bundle.stats.std[j])
            assert ds[f"w_{v}"].attrs["feature_mean"] == pytest.approx(bundle.stats.mean[j])
        # gpp_interp = w_intercept + sum_j w_j (x_j - feature_mean_j) / feature_std_j (raw x)
        c, t = 7, int(np.flatnonzero((dense.year == 2019) & (dense.period == 30))[0])
        cell = ds.sel(lat=dense.lat[c], lon=dense.lon[c], method="nearest").isel(time=t)
        x = dense.x[c, t].astype(np.float64)
        rebuilt = float(cell["w_intercept"]) + sum(
            float(cell[f"w_{v}"]) * (x[j] - ds[f"w_{v}"].attrs["feature_mean"])
            / ds[f"w_{v}"].attrs["feature_std"] for j, v in enumerate(bundle.variables))
        assert rebuilt == pytest.approx(float(cell["gpp_interp"]), rel=1e-3, abs=1e-4)
    assert len(frame) == dense.n_cells * dense.n_times
