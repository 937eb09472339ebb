"""The Climate2GPP simulator: 8-day weather, land surface and GPP on the real land grid.

Everything that can be real is real (:mod:`stcg.data.sim.static`): the land grid, land cover,
Koppen zones, elevation, Linke turbidity and the ERA5 monthly climatology of temperature and
precipitation.  Around that climatology the simulator draws weather and runs simple physics:

* **temperature**: climatology + warming trend (stronger in the Arctic) + anomalies that are
  correlated in space (smooth random fields, :mod:`.fields`) and in time (AR(1) at three time
  scales: synoptic, seasonal, interannual), with an amplitude that grows with continentality
  (the local seasonal range), plus the cloud effect (clouds cool summer days, warm winter).
* **precipitation**: 8-day totals with the climatological mean, a dry-period probability from a
  daily wet-day model, gamma-distributed wet amounts, driven by a spatiotemporally correlated
  latent Gaussian (so droughts and wet spells are regional and persist).
* **radiation**: top-of-atmosphere radiation from solar geometry (FAO-56 eq. 21, every day of the
  period), clear-sky transmissivity from elevation (FAO-56 eq. 37) and Linke turbidity, and an
  Angstrom-Prescott cloud factor with cloudiness tied to precipitation.  Longwave: Brutsaert's
  clear-sky emissivity with a cloud correction; net fluxes with land-cover and snow albedo.
* **humidity**: relative humidity from aridity, rain and cold, dewpoint by inverting Magnus.
* **pressure** from elevation (barometric formula) + synoptic anomalies; **wind** from the
  zonal-mean circulation (trades, westerlies) + anomalies, slowed by rough (forest) surfaces.
* **snow**: rain/snow partition by temperature, degree-day melt; snow cover from snow water.
* **soil temperature** at the four ERA5-Land layers: successively damped and lagged air
  temperature, insulated by snow.
* **soil water** at the four layers: a bucket model (rain and melt in, frozen-soil runoff,
  drainage above field capacity, evapotranspiration out by root fraction and water stress).
* **energy balance**: Priestley-Taylor potential evaporation, actual evaporation limited by soil
  water, ground heat from soil-temperature change, sensible heat as the residual (so
  ``Rn = LE + H + G`` holds exactly), skin temperature from the sensible heat flux.
* **LAI**: a climatological phenology (as ERA5-Land's LAI is a climatology) from a growing-season
  index of temperature, photoperiod and moisture, split into high and low vegetation.
* **GPP**: the light-use-efficiency model of :mod:`.gpp`, whose parameters vary in space through
  unobserved smooth fields and in time (CO2 fertilisation, thermal acclimation), plus
  multiplicative observation noise.

Cells are simulated in fixed chunks (``chunk_cells``), each chunk over all years in order, so work
spreads over processes while the bytes written do not depend on the number of workers.

Over 500 lines on purpose: one period's physics is one data flow (each quantity feeds the next),
kept in one file so it reads in the order listed above.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import gammaincinv, ndtr

from stcg.data.config import SimConfig
from stcg.data.periods import period_days, period_start_doy
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.data.sim import tables as tb
from stcg.data.sim.fields import EvolvingField, static_field, unit_vectors
from stcg.data.sim.gpp import GppParams, gpp_with_truth, sat_vapour_pressure, water_scalar

LIMITING_CODES = {"temperature": 0, "water": 1, "light": 2}


# --------------------------------------------------------------------------------------------
# helpers


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def toa_daily(lat_deg: np.ndarray, doy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daily top-of-atmosphere radiation (J m-2 d-1) and day length (h), FAO-56 eqs. 21-25, 34.

    Args:
        lat_deg: ``[C]`` latitude.
        doy: ``[D]`` day of year.

    Returns:
        ``(Ra [C, D], N [C, D])``.
    """
    phi = np.radians(lat_deg)[:, None]
    j = np.asarray(doy, dtype=np.float64)[None, :]
    dr = 1.0 + 0.033 * np.cos(2 * np.pi * j / 365.0)
    delta = 0.409 * np.sin(2 * np.pi * j / 365.0 - 1.39)
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(delta), -1.0, 1.0))
    ra = (
        tb.SECONDS_PER_DAY / np.pi * tb.SOLAR_CONSTANT * dr
        * (ws * np.sin(phi) * np.sin(delta) + np.cos(phi) * np.cos(delta) * np.sin(ws))
    )
    return np.maximum(ra, 0.0), 24.0 * ws / np.pi


def periods_of_year(year: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Days per period ``[46]`` and the day-of-year list of each period."""
    days = np.array([period_days(year, p) for p in range(PERIODS_PER_YEAR)], dtype=np.float64)
    doys = [period_start_doy(p) + np.arange(int(days[p])) for p in range(PERIODS_PER_YEAR)]
    return days, doys


def monthly_to_periods(monthly: np.ndarray) -> np.ndarray:
    """Periodic linear interpolation of ``[C, 12]`` monthly values to the 46 period mid-days."""
    mid_month = (np.arange(12) + 0.5) * 365.0 / 12.0
    mid_period = np.array([period_start_doy(p) - 1 + 4.0 for p in range(PERIODS_PER_YEAR)])
    xp = np.concatenate([mid_month - 365.0, mid_month, mid_month + 365.0])
    fp = np.concatenate([monthly, monthly, monthly], axis=1)
    out = np.empty((monthly.shape[0], PERIODS_PER_YEAR))
    for i in range(monthly.shape[0]):
        out[i] = np.interp(mid_period, xp, fp[i])
    return out


def _circular_smooth(a: np.ndarray, width: int = 3) -> np.ndarray:
    k = np.ones(width) / width
    pad = width // 2
    ap = np.concatenate([a[:, -pad:], a, a[:, :pad]], axis=1)
    return np.stack([np.convolve(row, k, mode="valid") for row in ap])


# --------------------------------------------------------------------------------------------
# a chunk of cells


class ChunkSimulator:
    """Simulates one chunk of cells over consecutive years, carrying its state."""

    def __init__(self, cells: pd.DataFrame, phys: SimConfig, seed: int, chunk: int,
                 variables: tuple[str, ...]) -> None:
        self.phys, self.seed, self.chunk, self.variables = phys, seed, chunk, variables
        self.cells = cells.reset_index(drop=True)
        c = self.cells
        n = len(c)
        self.lat = c["lat"].to_numpy(np.float64)
        self.lon = c["lon"].to_numpy(np.float64)
        self.elev = c["elevation"].to_numpy(np.float64)
        lc = c["land_cover"].to_numpy(np.int64)
        self.lc = lc
        xyz = unit_vectors(self.lon, self.lat)
        t_m = c[[f"t2m_clim_{m:02d}" for m in range(1, 13)]].to_numpy(np.float64)
        p_m = c[[f"tp_clim_{m:02d}" for m in range(1, 13)]].to_numpy(np.float64)
        tl_m = c[[f"linke_{m:02d}" for m in range(1, 13)]].to_numpy(np.float64)
        days_in_month = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

        # climatologies at the 46 period mid-days
        self.t_clim = monthly_to_periods(t_m)  # degC
        self.p_clim_day = np.maximum(monthly_to_periods(p_m / days_in_month), 0.0)  # mm d-1
        self.linke = monthly_to_periods(tl_m)
        self.sigma_t = 0.6 + 0.09 * (t_m.max(1) - t_m.min(1))[:, None]
        self.c_clim = np.clip(0.1 + 0.75 * (1.0 - np.exp(-self.p_clim_day / 3.0)), 0.05, 0.95)
        self.tau_clear = np.clip(0.75 + 2e-5 * self.elev[:, None] - 0.025 * (self.linke - 3.0),
                                 0.5, 0.82)

        # hidden per-cell fields (never written as inputs)
        hl = phys.hidden_length_km
        self.h_eps = static_field(seed, 10, hl, xyz)
        self.h_topt = static_field(seed, 11, hl, xyz)
        self.h_water = static_field(seed, 12, hl, xyz)
        self.h_soil = static_field(seed, 13, hl, xyz)
        self.h_co2 = static_field(seed, 14, hl, xyz)

        # soil hydraulic properties (texture is unobserved: a smooth field)
        self.theta_fc = np.clip(0.30 + 0.05 * self.h_soil, 0.18, 0.42)
        self.theta_wp = np.clip(0.11 + 0.03 * self.h_soil, 0.05, 0.20)
        self.theta_sat = self.theta_fc + 0.13
        self.theta_res = 0.5 * self.theta_wp
        self.water_q = 0.25 + 0.5 * _sigmoid(1.2 * self.h_water)  # water-stress sensitivity
        self.theta_crit = self.theta_wp + self.water_q * (self.theta_fc - self.theta_wp)
        self.roots = tb.ROOTS[lc]

        # optimal temperature acclimated to the growing-season climate
        pos = t_m > 0.0
        t_gs = np.where(pos.any(1), (t_m * pos).sum(1) / np.maximum(pos.sum(1), 1), t_m.max(1))
        self.topt0 = np.clip(12.0 + 0.5 * t_gs + 2.5 * self.h_topt, 8.0, 34.0)
        self.eps0 = tb.EPS_MAX[lc] * np.exp(0.25 * self.h_eps)
        self.co2_beta = phys.co2_beta * np.clip(1.0 + 0.3 * self.h_co2, 0.2, 2.0)

        # aridity from a climatological run of the radiation scheme
        days, doys = periods_of_year(2001)
        self.ra_clim = self._period_toa(days, doys)[0]
        ssrd_clim = self.ra_clim * self.tau_clear * (1 - 0.67 * self.c_clim)
        tc = self.t_clim
        es = sat_vapour_pressure(tc) / 1000.0
        delta = 4098.0 * es / (tc + 237.3) ** 2
        gamma = 0.000665 * 101.3
        self.pet_clim_day = np.maximum(
            1.26 * delta / (delta + gamma) * 0.55 * ssrd_clim / tb.LATENT_HEAT, 0.0)  # mm d-1
        self.aridity = self.p_clim_day.sum(1) / np.maximum(self.pet_clim_day.sum(1), 1e-3)

        # climatological LAI (phenology)
        _, n_day = toa_daily(self.lat, np.array([period_start_doy(p) + 3 for p in range(PERIODS_PER_YEAR)]))
        f_t = np.clip((tc + 2.0) / 12.0, 0, 1)
        f_ph = np.clip(n_day - 10.0, 0, 1)
        win = 7
        p_roll = np.stack([np.roll(self.p_clim_day, k, axis=1) for k in range(win)]).sum(0)
        e_roll = np.stack([np.roll(self.pet_clim_day, k, axis=1) for k in range(win)]).sum(0)
        f_m = np.clip((p_roll / np.maximum(e_roll, 1e-3) - 0.15) / 0.6, 0, 1)
        gsi = _circular_smooth(f_t * f_ph * f_m, 3)
        lai_max = tb.LAI_MAX[lc] * (0.4 + 0.6 * np.minimum(self.aridity / 0.65, 1.0))
        ev = tb.EVERGREEN[lc]
        lai = lai_max[:, None] * (ev[:, None] + (1 - ev[:, None]) * gsi)
        self.lai_high = lai * tb.HIGH_VEG[lc][:, None]
        self.lai_low = lai * (1 - tb.HIGH_VEG[lc][:, None])

        # time-varying fields
        sl, ss, sp = phys.synoptic_length_km, phys.seasonal_length_km, phys.precip_length_km
        self.f_t_syn = EvolvingField(seed, 20, sl, phys.synoptic_rho, xyz)
        self.f_t_sea = EvolvingField(seed, 21, ss, phys.seasonal_rho, xyz)
        self.f_t_ia = EvolvingField(seed, 22, 3000.0, phys.interannual_rho, xyz)
        self.f_p_syn = EvolvingField(seed, 23, sp, 0.2, xyz)
        self.f_p_sea = EvolvingField(seed, 24, ss, phys.seasonal_rho * 0.97, xyz)
        self.f_p_ia = EvolvingField(seed, 25, 3000.0, phys.interannual_rho, xyz)
        self.f_cloud = EvolvingField(seed, 26, 600.0, 0.3, xyz)
        self.f_rh = EvolvingField(seed, 27, sl, 0.4, xyz)
        self.f_u = EvolvingField(seed, 28, 1000.0, 0.3, xyz)
        self.f_v = EvolvingField(seed, 29, 1000.0, 0.3, xyz)
        self.f_ps = EvolvingField(seed, 30, 1500.0, 0.3, xyz)

        # state
        self.swe = np.zeros(n)
        init = self.theta_wp + (self.theta_fc - self.theta_wp) * np.clip(self.aridity, 0.1, 1.0)
        self.theta = np.repeat(init[:, None], 4, axis=1)
        self.t_soil = np.repeat((t_m.mean(1) + 1.0)[:, None], 4, axis=1)
        self.w_ema = np.ones(n)

    # ------------------------------------------------------------------ radiation geometry
    def _period_toa(self, days: np.ndarray, doys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        all_doy = np.arange(1, int(days.sum()) + 1)
        ra, n = toa_daily(self.lat, all_doy)
        ra_p = np.stack([ra[:, d - 1].mean(1) for d in doys], axis=1)
        n_p = np.stack([n[:, d - 1].mean(1) for d in doys], axis=1)
        return ra_p, n_p

    def _trend(self, year: int) -> np.ndarray:
        t_dec = year + (np.arange(PERIODS_PER_YEAR) + 0.5) / PERIODS_PER_YEAR - 2012.5
        amp = 1.0 + self.phys.arctic_amplification * (np.maximum(self.lat, 0.0) / 90.0) ** 2
        return self.phys.warming_k_per_year * amp[:, None] * t_dec[None, :]

    # ------------------------------------------------------------------ one year
    def year(self, year: int, with_truth: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Simulate ``year``; returns the samples frame and (optionally) the truth frame."""
        ph = self.phys
        n, npd = len(self.lat), PERIODS_PER_YEAR
        days, doys = periods_of_year(year)
        ra, _ = self._period_toa(days, doys)  # J m-2 d-1

        # --- weather drivers
        z_ia_t = self.f_t_ia.year(year, 1)
        z_t = 0.7 * self.f_t_syn.year(year, npd) + 0.6 * self.f_t_sea.year(year, npd) + 0.39 * z_ia_t
        z_ps = self.f_p_syn.year(year, npd)
        z_pl = 0.8 * self.f_p_sea.year(year, npd) + 0.6 * self.f_p_ia.year(year, 1)
        z_p = np.sqrt(0.6) * z_ps + np.sqrt(0.4) * z_pl
        z_c = 0.75 * z_p + 0.66 * self.f_cloud.year(year, npd)
        z_rh = self.f_rh.year(year, npd)

        cloud = _sigmoid(_logit(self.c_clim) + 0.9 * z_c)
        ra_ref = 40e6
        t_air = (self.t_clim + self._trend(year) + self.sigma_t * z_t
                 + (cloud - self.c_clim) * (1.5 - 4.0 * ra / ra_ref))  # degC

        # precipitation: dry-period probability from a daily wet-day model, gamma wet amounts
        p_mean = self.p_clim_day * days[None, :]
        wet_day = np.minimum(0.9, self.p_clim_day / (4.0 + 0.8 * self.p_clim_day))
        p_dry = (1.0 - wet_day) ** (0.6 * days[None, :])
        u = ndtr(z_p)
        v = np.clip((u - p_dry) / np.maximum(1.0 - p_dry, 1e-9), 1e-9, 1 - 1e-9)
        k_shape = 1.3
        amount = p_mean / np.maximum(1.0 - p_dry, 1e-9) * gammaincinv(k_shape, v) / k_shape
        precip = np.where(u > p_dry, amount, 0.0)  # mm per period

        ssrd_day = ra * self.tau_clear * (1.0 - 0.67 * cloud)  # J m-2 d-1

        rh = (0.25 + 0.45 * (1 - np.exp(-1.5 * self.aridity))[:, None]
              + 0.2 * (1 - np.exp(-self.p_clim_day / 3.0)) + 0.12 * np.clip(-t_air / 20.0, 0, 1)
              + 0.07 * z_ps + 0.05 * z_rh)
        rh = np.clip(rh, 0.08, 0.98)
        g = np.log(rh) + 17.625 * t_air / (243.04 + t_air)
        t_dew = 243.04 * g / (17.625 - g)

        p_surf = (101325.0 * (1.0 - 2.25577e-5 * self.elev) ** 5.25588)[:, None] + (
            300.0 + 800.0 * np.abs(np.sin(np.radians(self.lat))))[:, None] * self.f_ps.year(year, npd)
        sig_w = (1.5 + 1.5 * np.abs(np.sin(np.radians(self.lat))))[:, None]
        wf = tb.WIND_FACTOR[self.lc][:, None]
        u_mean = (-4.0 * np.cos(3.0 * np.radians(self.lat)))[:, None]
        wind_u = wf * (0.7 * u_mean + sig_w * self.f_u.year(year, npd))
        wind_v = wf * (sig_w * 0.8 * self.f_v.year(year, npd))

        # --- land surface, period by period
        out = {k: np.empty((n, npd)) for k in (
            "snow_cover", "skin", "ts1", "ts2", "ts3", "ts4", "sw1", "sw2", "sw3", "sw4",
            "swnet", "lwdown", "lwnet", "le", "h", "et", "pet")}
        alb0, albs = tb.ALBEDO[self.lc], tb.SNOW_ALBEDO[self.lc]
        ra_res = tb.AERO_RES[self.lc]
        d_mm = tb.LAYER_THICKNESS_MM[None, :]
        alpha_ts = 1.0 - np.exp(-1.0 / tb.SOIL_TEMP_TAU_PERIODS)
        for t in range(npd):
            nd = days[t]
            ta = t_air[:, t]
            # snow
            snow_frac_p = np.clip((1.0 - ta) / 3.0, 0.0, 1.0)
            snowfall = precip[:, t] * snow_frac_p
            rain = precip[:, t] - snowfall
            swe0 = self.swe
            # degree-day melt plus melt by absorbed sunshine (0.3 of it; 3 mm SWE per MJ)
            abs_sw = ssrd_day[:, t] * (1.0 - albs) / 1e6  # MJ m-2 d-1 absorbed by snow
            melt_rate = 2.5 * np.maximum(ta, 0.0) + 0.9 * abs_sw * np.clip((ta + 2.0) / 2.0, 0, 1)
            melt = np.minimum(swe0 + snowfall, melt_rate * nd)
            self.swe = swe0 + snowfall - melt
            sc = 1.0 - np.exp(-0.5 * (swe0 + self.swe) / 10.0)
            out["snow_cover"][:, t] = 100.0 * sc
            # soil temperature: damped, lagged, insulated by snow
            ts_old1 = self.t_soil[:, 0].copy()
            insulation = 0.25 + 0.75 * np.exp(-0.5 * (swe0 + self.swe) / 50.0)
            target = (1.0 - sc) * (ta + 1.0) + sc * np.minimum(ta, 0.0) * insulation
            for k in range(4):
                self.t_soil[:, k] += alpha_ts[k] * (target - self.t_soil[:, k])
                target = self.t_soil[:, k]
            # radiation
            albedo = (1.0 - sc) * alb0 + sc * albs
            sw_down = ssrd_day[:, t] / tb.SECONDS_PER_DAY  # W m-2
            sw_net = sw_down * (1.0 - albedo)
            tk = ta + 273.15
            ea_hpa = rh[:, t] * sat_vapour_pressure(ta) / 100.0
            eps_clear = np.clip(1.24 * (ea_hpa / tk) ** (1.0 / 7.0), 0.5, 1.0)
            eps_a = cloud[:, t] + (1.0 - cloud[:, t]) * eps_clear
            lw_down = eps_a * tb.STEFAN_BOLTZMANN * tk**4
            g_flux = 2.0e6 * 0.3 * (self.t_soil[:, 0] - ts_old1) / (nd * tb.SECONDS_PER_DAY)
            lw_net = 0.97 * (lw_down - tb.STEFAN_BOLTZMANN * tk**4)
            rn = sw_net + lw_net
            # evaporation: Priestley-Taylor demand, soil-water supply
            es = sat_vapour_pressure(ta) / 1000.0
            delta = 4098.0 * es / (ta + 237.3) ** 2
            gamma = 0.000665 * p_surf[:, t] / 1000.0
            pet = 1.26 * delta / (delta + gamma) * np.maximum(rn - g_flux, 0.0) \
                * tb.SECONDS_PER_DAY / tb.LATENT_HEAT * (1.0 - 0.8 * sc)  # mm d-1
            th0 = self.theta.copy()
            theta_et = self.theta_wp + 0.7 * (self.theta_fc - self.theta_wp)
            beta = np.clip((th0 - self.theta_wp[:, None]) / (theta_et - self.theta_wp)[:, None], 0, 1)
            beta = beta * beta * (3.0 - 2.0 * beta)
            frz = np.clip((self.t_soil[:, 0] + 2.0) / 4.0, 0.0, 1.0)
            et_k = pet[:, None] * nd * self.roots * beta * frz[:, None]
            avail = np.maximum(th0 - self.theta_res[:, None], 0.0) * d_mm
            et_k = np.minimum(et_k, 0.9 * avail)
            et = et_k.sum(1)
            # water: infiltration (less into frozen soil), drainage cascade, uptake
            infil = (rain + melt) * np.clip((self.t_soil[:, 0] + 1.0) / 2.0, 0.2, 1.0)
            store = th0 * d_mm
            store[:, 0] += infil
            for k in range(4):
                sat_excess = np.maximum(store[:, k] - self.theta_sat * d_mm[0, k], 0.0)
                store[:, k] -= sat_excess
                drain = np.maximum(store[:, k] - self.theta_fc * d_mm[0, k], 0.0) * (
                    1.0 - np.exp(-nd / tb.DRAIN_TAU_DAYS[k]))
                store[:, k] -= drain
                if k < 3:
                    store[:, k + 1] += drain + sat_excess
            store -= et_k
            self.theta = np.maximum(store / d_mm, self.theta_res[:, None])
            theta_mean = 0.5 * (th0 + self.theta)
            # energy balance closure and skin temperature
            le = tb.LATENT_HEAT * et / (nd * tb.SECONDS_PER_DAY)
            h = rn - g_flux - le
            t_skin = ta + np.clip(h * ra_res / tb.RHO_CP, -8.0, 15.0)
            lw_net = 0.97 * (lw_down - tb.STEFAN_BOLTZMANN * (t_skin + 273.15) ** 4)
            rn = sw_net + lw_net
            h = rn - g_flux - le
            for k in range(4):
                out[f"ts{k + 1}"][:, t] = self.t_soil[:, k]
                out[f"sw{k + 1}"][:, t] = theta_mean[:, k]
            out["skin"][:, t] = t_skin
            out["swnet"][:, t] = sw_net
            out["lwdown"][:, t] = lw_down
            out["lwnet"][:, t] = lw_net
            out["le"][:, t] = le
            out["h"][:, t] = h
            out["et"][:, t] = et
            out["pet"][:, t] = pet * nd

        sec = days[None, :] * tb.SECONDS_PER_DAY
        x = {
            "temperature_2m": t_air + 273.15,
            "dewpoint_temperature_2m": t_dew + 273.15,
            "skin_temperature": out["skin"] + 273.15,
            "soil_temperature_level_1": out["ts1"] + 273.15,
            "soil_temperature_level_2": out["ts2"] + 273.15,
            "soil_temperature_level_3": out["ts3"] + 273.15,
            "soil_temperature_level_4": out["ts4"] + 273.15,
            "volumetric_soil_water_layer_1": out["sw1"],
            "volumetric_soil_water_layer_2": out["sw2"],
            "volumetric_soil_water_layer_3": out["sw3"],
            "volumetric_soil_water_layer_4": out["sw4"],
            "surface_pressure": p_surf,
            "u_component_of_wind_10m": wind_u,
            "v_component_of_wind_10m": wind_v,
            "total_precipitation_sum": precip / 1000.0,
            "surface_solar_radiation_downwards_sum": ssrd_day * days[None, :],
            "surface_net_solar_radiation_sum": out["swnet"] * sec,
            "surface_thermal_radiation_downwards_sum": out["lwdown"] * sec,
            "surface_net_thermal_radiation_sum": out["lwnet"] * sec,
            "surface_latent_heat_flux_sum": -out["le"] * sec,
            "surface_sensible_heat_flux_sum": -out["h"] * sec,
            "total_evaporation_sum": -out["et"] / 1000.0,
            "potential_evaporation_sum": -out["pet"] / 1000.0,
            "snow_cover": out["snow_cover"],
            "leaf_area_index_high_vegetation": self.lai_high,
            "leaf_area_index_low_vegetation": self.lai_low,
        }

        # --- GPP
        co2 = tb.co2_ppm(year) + (tb.co2_ppm(year + 1) - tb.co2_ppm(year)) * (
            np.arange(npd) + 0.5) / npd
        co2_factor = 1.0 + self.co2_beta[:, None] * np.log(co2[None, :] / tb.co2_ppm(2001))
        trend = self._trend(year)
        params = GppParams(
            eps=self.eps0[:, None] * co2_factor,
            topt=self.topt0[:, None] + 0.5 * trend,
            theta_wp=self.theta_wp[:, None],
            theta_crit=self.theta_crit[:, None],
            roots=self.roots,
            vpd_open=tb.VPD_OPEN[self.lc][:, None],
            vpd_close=tb.VPD_CLOSE[self.lc][:, None],
            shed=tb.DROUGHT_SHED[self.lc][:, None],
            w_prev=np.ones((n, npd)),
            days=days[None, :],
        )
        f_w = water_scalar(x, params)
        a = np.exp(-1.0 / 3.0)
        w_prev = np.empty((n, npd))
        for t in range(npd):
            w_prev[:, t] = self.w_ema
            self.w_ema = a * self.w_ema + (1.0 - a) * f_w[:, t]
        params.w_prev = w_prev
        self.last = (x, params)
        if not with_truth:
            return pd.DataFrame(), None
        gpp_true, terms, sens = gpp_with_truth(x, params, self.variables)
        rng = np.random.default_rng([self.seed, 5, year, self.chunk])
        s = ph.gpp_noise
        gpp = gpp_true * np.exp(s * rng.standard_normal((n, npd)) - 0.5 * s * s)

        key = {
            "cell_id": np.repeat(self.cells["cell_id"].to_numpy(np.int32), npd),
            "lon": np.repeat(self.lon, npd),
            "lat": np.repeat(self.lat, npd),
            "year": np.full(n * npd, year, dtype=np.int16),
            "period": np.tile(np.arange(npd, dtype=np.int8), n),
            "land_cover": np.repeat(self.lc, npd).astype(np.int8),
        }
        samples = pd.DataFrame(key)
        for v in self.variables:
            samples[v] = x[v].reshape(-1).astype(np.float32)
        samples["gpp"] = gpp.reshape(-1).astype(np.float32)

        truth = pd.DataFrame({k: key[k] for k in ("cell_id", "period")})
        truth["gpp_true"] = gpp_true.reshape(-1).astype(np.float32)
        for k in ("f_temperature", "f_water", "f_light", "fapar"):
            truth[k] = terms[k].reshape(-1).astype(np.float32)
        truth["limiting"] = terms["limiting"].reshape(-1)
        # the GPP function's per-sample parameters and states, so that the scores can evaluate
        # GPP at other inputs (stcg.report.truth: integrated gradients from a local reference)
        truth["param_eps"] = params.eps.reshape(-1).astype(np.float64)
        truth["param_topt"] = params.topt.reshape(-1).astype(np.float64)
        truth["param_w_prev"] = params.w_prev.reshape(-1).astype(np.float64)
        for v in self.variables:
            truth[f"sens_{v}"] = sens[v].reshape(-1).astype(np.float32)
        return samples, truth

    def hidden_fields(self) -> pd.DataFrame:
        """The unobserved per-cell parameters (ground truth for the interpretability scores)."""
        return pd.DataFrame({
            "cell_id": self.cells["cell_id"].to_numpy(np.int32),
            "eps_max": self.eps0.astype(np.float32),
            "eps_hidden_factor": np.exp(0.25 * self.h_eps).astype(np.float32),
            "topt": self.topt0.astype(np.float32),
            "water_sensitivity": self.water_q.astype(np.float32),
            "theta_wp": self.theta_wp.astype(np.float32),
            "theta_fc": self.theta_fc.astype(np.float32),
            "theta_crit": self.theta_crit.astype(np.float32),
            "co2_beta": self.co2_beta.astype(np.float32),
            "aridity": self.aridity.astype(np.float32),
            **{f"roots_{k + 1}": self.roots[:, k].astype(np.float64) for k in range(4)},
            "vpd_open": tb.VPD_OPEN[self.lc].astype(np.float64),
            "vpd_close": tb.VPD_CLOSE[self.lc].astype(np.float64),
            "shed": tb.DROUGHT_SHED[self.lc].astype(np.float64),
            "theta_wp_f64": self.theta_wp.astype(np.float64),
            "theta_crit_f64": self.theta_crit.astype(np.float64),
        })


# --------------------------------------------------------------------------------------------
# the whole grid


def _run_chunk(args: tuple) -> tuple[int, pd.DataFrame]:
    cells, phys, seed, chunk, variables, years, tmp_root = args
    import torch

    from stcg.data.writer import samples_frame, write_parquet

    torch.set_num_threads(1)

    sim = ChunkSimulator(cells, phys, seed, chunk, variables)
    first = years[0]
    for y in range(first - phys.spinup_years, first):
        sim.year(y, with_truth=False)
    for y in years:
        samples, truth = sim.year(y)
        name = f"part-{chunk:04d}.parquet"
        write_parquet(samples_frame(samples, variables).drop(columns=["year"]),
                      Path(tmp_root) / "samples" / f"year={y}" / name)
        write_parquet(truth, Path(tmp_root) / "truth" / f"year={y}" / name)
    return chunk, sim.hidden_fields()


def simulate(
    cells: pd.DataFrame,
    phys: SimConfig,
    seed: int,
    years: tuple[int, ...],
    variables: tuple[str, ...],
    root: Path,
    progress=None,
) -> pd.DataFrame:
    """Simulate every chunk of ``cells`` over ``years`` and write the parts under ``root``.

    Args:
        cells: the land cells with static layers (:func:`stcg.data.sim.static.build_cells`).
        phys: physics knobs.
        seed: the random seed; the same seed gives the same bytes.
        years: consecutive years to write (spin-up years before them are simulated, not written).
        variables: the published variables.
        root: the (temporary) dataset directory.
        progress: optional callable advanced by one per finished chunk.

    Returns:
        The per-cell hidden fields.
    """
    years = tuple(sorted(years))
    if list(years) != list(range(years[0], years[-1] + 1)):
        raise ValueError(f"years must be consecutive, got {years}")
    n = len(cells)
    size = phys.chunk_cells
    jobs = [
        (cells.iloc[i : i + size], phys, seed, i // size, variables, years, str(root))
        for i in range(0, n, size)
    ]
    workers = phys.workers or os.cpu_count() or 1
    workers = max(1, min(workers, len(jobs)))
    results = []
    if workers == 1:
        for job in jobs:
            results.append(_run_chunk(job))
            if progress:
                progress()
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for res in pool.map(_run_chunk, jobs):
                results.append(res)
                if progress:
                    progress()
    hidden = pd.concat([h for _, h in sorted(results, key=lambda r: r[0])], ignore_index=True)
    return hidden
