"""The simulator's physics and its ground truth.

One 5-degree run (about 540 land cells, 2001-2004 after a spin-up year) feeds every check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from stcg.data.config import SimConfig
from stcg.data.schema import PERIODS_PER_YEAR, VARIABLES
from stcg.data.sim.gpp import GPP_INPUTS, scalars
from stcg.data.sim.simulate import ChunkSimulator, periods_of_year, toa_daily
from stcg.data.sim.static import build_cells

VARS = tuple(VARIABLES)
YEARS = (2001, 2002, 2003, 2004)


@pytest.fixture(scope="module")
def run(data_dir):
    cells = build_cells(data_dir, 5.0)
    sim = ChunkSimulator(cells, SimConfig(), seed=3, chunk=0, variables=VARS)
    sim.year(2000, with_truth=False)
    s, t = zip(*(sim.year(y) for y in YEARS), strict=True)
    samples = pd.concat(s, ignore_index=True)
    truth = pd.concat(t, ignore_index=True)
    cells = cells.set_index("cell_id")
    return samples, truth, cells, sim


def _annual(samples, col):
    return samples.groupby("cell_id")[col].mean()


def test_values_in_plausible_ranges(run):
    samples, *_ = run
    for name, v in VARIABLES.items():
        a = samples[name].to_numpy()
        assert np.isfinite(a).all(), name
        assert a.min() >= v.lo and a.max() <= v.hi, (name, a.min(), a.max())


def test_temperature_falls_with_latitude_and_elevation(run):
    samples, _, cells, _ = run
    t = _annual(samples, "temperature_2m")
    c = cells.loc[t.index]
    design = np.column_stack([np.ones(len(c)), np.abs(c["lat"]), c["elevation"] / 1000.0])
    coef, *_ = np.linalg.lstsq(design, t.to_numpy(), rcond=None)
    assert -1.0 < coef[1] < -0.3  # K per degree latitude (observed ~ -0.5 to -0.7)
    assert -9.0 < coef[2] < -3.0  # K per km (lapse rate ~ -6.5)
    tropics = t[np.abs(c["lat"]) < 15].mean() - 273.15
    arctic = t[c["lat"] > 60].mean() - 273.15
    assert tropics > 20 and arctic < 0


def test_snow_only_where_cold(run):
    samples, *_ = run
    snowy = samples["snow_cover"] > 5.0
    assert snowy.mean() > 0.05
    t_snowy = samples.loc[snowy, "temperature_2m"] - 273.15
    assert t_snowy.quantile(0.9) < 1.0  # snow lies where the period is below freezing
    assert t_snowy.quantile(0.95) < 4.0  # the rest is a melting spring snowpack
    warm = samples["temperature_2m"] > 273.15 + 20.0
    assert samples.loc[warm, "snow_cover"].max() < 1.0
    tropics = samples[(samples["lat"].abs() < 20) & (samples["temperature_2m"] > 290)]
    assert tropics["snow_cover"].max() == 0.0


def test_soil_water_rises_after_rain(run):
    samples, *_ = run
    s = samples[samples["temperature_2m"] > 278.15].sort_values(["cell_id", "year", "period"])
    full = samples.sort_values(["cell_id", "year", "period"])
    d_theta = full.groupby("cell_id")["volumetric_soil_water_layer_1"].diff().loc[s.index]
    rain = s["total_precipitation_sum"] * 1000.0  # mm per period
    ok = d_theta.notna()
    assert d_theta[ok & (rain > 5.0)].mean() > 0.003  # wetting after rain
    assert d_theta[ok & (rain == 0.0)].mean() < -0.003  # drying without it
    # within each cell, rainy periods have wetter topsoil than dry ones
    wet = s[rain > 10.0].groupby("cell_id")["volumetric_soil_water_layer_1"].mean()
    dry = s[rain < 1.0].groupby("cell_id")["volumetric_soil_water_layer_1"].mean()
    both = wet.index.intersection(dry.index)
    assert len(both) > 50 and ((wet[both] - dry[both]) > 0).mean() > 0.9


def test_humidity_radiation_and_pressure(run):
    samples, _, cells, sim = run
    assert (samples["dewpoint_temperature_2m"] <= samples["temperature_2m"] + 1e-3).all()
    ra = np.concatenate([sim._period_toa(*periods_of_year(y))[0] for y in YEARS], axis=1)
    ssrd = samples.sort_values(["cell_id", "year", "period"])  # cells in the simulator's order
    days = np.where(ssrd["period"] == 45, 5.0 + (ssrd["year"] % 4 == 0), 8.0)
    daily = (ssrd["surface_solar_radiation_downwards_sum"] / days).to_numpy()
    assert (daily.reshape(len(sim.lat), -1) <= ra * 0.83 + 1.0).all()  # never above clear sky
    assert (samples["surface_net_solar_radiation_sum"]
            <= samples["surface_solar_radiation_downwards_sum"] + 1.0).all()
    p = _annual(samples, "surface_pressure")
    r = np.corrcoef(cells.loc[p.index, "elevation"], p)[0, 1]
    assert r < -0.9
    # northern mid-latitudes get more sun in July than in January
    mid = samples[(samples["lat"] > 35) & (samples["lat"] < 55)]
    assert (mid[mid["period"] == 23]["surface_solar_radiation_downwards_sum"].mean()
            > 3 * mid[mid["period"] == 0]["surface_solar_radiation_downwards_sum"].mean())


def test_energy_and_water_budgets(run):
    samples, *_ = run
    rn = samples["surface_net_solar_radiation_sum"] + samples["surface_net_thermal_radiation_sum"]
    le, h = samples["surface_latent_heat_flux_sum"], samples["surface_sensible_heat_flux_sum"]
    g = rn + le + h  # ECMWF signs: fluxes positive downwards, so Rn + LE + H = G
    days = np.where(samples["period"] == 45, 5.0 + (samples["year"] % 4 == 0), 8.0)
    assert np.abs(g / (days * 86400.0)).quantile(0.99) < 15.0  # W m-2: ground heat is small
    assert (samples["total_evaporation_sum"] >= samples["potential_evaporation_sum"] - 1e-6).all()
    assert (samples["total_evaporation_sum"] <= 0).all()
    lam = samples["surface_latent_heat_flux_sum"] / (samples["total_evaporation_sum"] * 1000.0)
    ok = samples["total_evaporation_sum"] < -1e-4
    np.testing.assert_allclose(lam[ok], 2.45e6, rtol=1e-3)


def test_soil_temperature_damped_and_lagged(run):
    samples, _, cells, _ = run
    cold = cells.index[(cells["lat"] > 45) & (cells["lat"] < 65)]
    s = samples[samples["cell_id"].isin(cold)].sort_values(["cell_id", "year", "period"])
    stds = [s.groupby("cell_id")[f"soil_temperature_level_{k}"].std().mean() for k in (1, 2, 3, 4)]
    assert stds[0] > stds[1] > stds[2] > stds[3]
    one = s[s["cell_id"] == cold[0]]
    air = one["temperature_2m"].to_numpy() - one["temperature_2m"].mean()
    lags = []
    for k in (1, 4):
        soil = one[f"soil_temperature_level_{k}"].to_numpy()
        soil = soil - soil.mean()
        lags.append(int(np.argmax([np.dot(air[: len(air) - lag], soil[lag:]) for lag in range(20)])))
    assert lags[1] > lags[0]


def test_gpp_distribution(run):
    samples, truth, *_ = run
    gpp = samples["gpp"]
    assert (gpp >= 0).all()
    assert 1.2 < gpp.mean() < 3.5
    assert 2.0 < gpp.std() < 4.0
    assert (gpp < 0.05).mean() > 0.15  # deserts and winters
    ratio = gpp / truth["gpp_true"].where(truth["gpp_true"] > 0.5)
    assert 0.05 < np.log(ratio.dropna()).std() < 0.2  # multiplicative observation noise


def test_sensitivity_matches_finite_difference(run):
    samples, truth, _, sim = run
    x, params = sim.last  # inputs and hidden parameters of the last simulated year
    t_last = truth[(samples["year"] == YEARS[-1]).to_numpy()]
    gpp_true = t_last["gpp_true"].to_numpy().reshape(len(sim.lat), -1)
    np.testing.assert_allclose(
        gpp_true, scalars({k: torch.tensor(x[k]) for k in GPP_INPUTS}, params)["gpp"].numpy(),
        rtol=1e-5, atol=1e-6)
    active = np.argwhere(gpp_true > 1.0)
    picks = active[np.random.default_rng(0).choice(len(active), size=200, replace=False)]
    ci, pi = picks[:, 0], picks[:, 1]
    p = params.take(ci, pi)
    base = {k: x[k][ci, pi][:, None] for k in GPP_INPUTS}
    for v in GPP_INPUTS:
        h = 1e-5 * np.maximum(np.abs(base[v]), 1.0)
        up = {k: torch.tensor(a + h if k == v else a) for k, a in base.items()}
        dn = {k: torch.tensor(a - h if k == v else a) for k, a in base.items()}
        fd = ((scalars(up, p)["gpp"] - scalars(dn, p)["gpp"]).numpy() / (2 * h))[:, 0]
        sens = t_last[f"sens_{v}"].to_numpy().reshape(len(sim.lat), -1)[ci, pi]
        # float32 storage of the sensitivity; kinks (clamps) can sit inside +-h rarely
        close = np.isclose(sens, fd, rtol=2e-3, atol=1e-6 * np.abs(fd).max() + 1e-12)
        assert close.mean() > 0.97, (v, sens[~close][:5], fd[~close][:5])
    assert (t_last["sens_surface_pressure"] == 0).all()
    assert (t_last["sens_temperature_2m"] != 0).mean() > 0.5


def test_limiting_factors_follow_climate(run):
    samples, truth, cells, _ = run
    names = np.array(["temperature", "water", "light"])
    df = samples[["cell_id", "lat"]].assign(lim=names[truth["limiting"].to_numpy()])
    arctic = df[df["lat"] > 60]
    assert arctic["lim"].value_counts(normalize=True).idxmax() == "temperature"
    kz = cells["koppen_name"]
    semi_arid = kz.index[kz.isin(["BSh", "BSk"])]
    grow = df["cell_id"].isin(semi_arid) & (truth["f_temperature"] > 0.5)
    shares = df.loc[grow, "lim"].value_counts(normalize=True)
    assert shares.idxmax() == "water" and shares["water"] > 0.6
    wet_tropics = kz.index[kz.isin(["Af"])]
    sel = df["cell_id"].isin(wet_tropics)
    assert (df.loc[sel, "lim"] == "temperature").mean() < 0.05


def test_lai_phenology(run):
    samples, *_ = run
    boreal = samples[(samples["lat"] > 50) & (samples["lat"] < 65)]
    lai = boreal["leaf_area_index_high_vegetation"] + boreal["leaf_area_index_low_vegetation"]
    summer = lai[boreal["period"].between(22, 26)].mean()
    winter = lai[boreal["period"].between(0, 4)].mean()
    assert summer > 1.5 * winter


def test_toa_radiation_matches_fao56_example():
    # FAO-56 example 8: 20 S on 3 September -> Ra = 32.2 MJ m-2 d-1
    ra, n = toa_daily(np.array([-20.0]), np.array([246]))
    assert ra[0, 0] / 1e6 == pytest.approx(32.2, abs=0.1)
    # FAO-56 example 9: daylight hours at 20 S on 3 September: 11.7 h
    assert n[0, 0] == pytest.approx(11.7, abs=0.1)


def test_periods_cover_the_year():
    for year, total in ((2019, 365), (2020, 366)):
        days, doys = periods_of_year(year)
        assert days.sum() == total and len(days) == PERIODS_PER_YEAR
        assert np.array_equal(np.concatenate(doys), np.arange(1, total + 1))
