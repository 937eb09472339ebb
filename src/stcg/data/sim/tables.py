"""Constants and per-land-cover parameter tables of the simulator.

Values are textbook figures, rounded; each table says where it comes from.  None of them was
chosen by looking at how any model performs on the simulated data.
"""

from __future__ import annotations

import numpy as np

# physical constants
STEFAN_BOLTZMANN = 5.670374e-8  # W m-2 K-4
LATENT_HEAT = 2.45e6  # J kg-1, latent heat of vaporisation near 20 degC (FAO-56)
RHO_CP = 1200.0  # J m-3 K-1, volumetric heat capacity of air
SOLAR_CONSTANT = 0.0820e6 / 60.0  # W m-2: FAO-56 Gsc = 0.0820 MJ m-2 min-1
SECONDS_PER_DAY = 86400.0
PAR_FRACTION = 0.45  # PAR / global shortwave (e.g. Monteith & Unsworth)

# ERA5-Land soil layers: 0-7, 7-28, 28-100, 100-289 cm
LAYER_THICKNESS_MM = np.array([70.0, 210.0, 720.0, 1890.0])
SOIL_TEMP_TAU_PERIODS = np.array([0.7, 2.5, 7.0, 20.0])  # damping time scales (8-day periods)
DRAIN_TAU_DAYS = np.array([2.0, 6.0, 20.0, 60.0])  # drainage time scales above field capacity

# Annual mean CO2 at Mauna Loa (NOAA GML, ppm), used for the CO2 fertilisation trend.
CO2_PPM = {
    1999: 368.54, 2000: 369.71, 2001: 371.32, 2002: 373.45, 2003: 375.98, 2004: 377.70,
    2005: 379.98, 2006: 382.09, 2007: 384.02, 2008: 385.83, 2009: 387.64, 2010: 390.10,
    2011: 391.85, 2012: 394.06, 2013: 396.74, 2014: 398.81, 2015: 401.01, 2016: 404.41,
    2017: 406.76, 2018: 408.72, 2019: 411.66, 2020: 414.24, 2021: 416.45, 2022: 418.56,
    2023: 421.08, 2024: 424.61,
}


def co2_ppm(year: int) -> float:
    """Annual-mean CO2; outside the table, extrapolated by 2.4 ppm per year."""
    if year in CO2_PPM:
        return CO2_PPM[year]
    lo, hi = min(CO2_PPM), max(CO2_PPM)
    if year < lo:
        return CO2_PPM[lo] - 1.6 * (lo - year)
    return CO2_PPM[hi] + 2.4 * (year - hi)


# Per IGBP class 0..16:
# WAT ENF EBF DNF DBF MF CSH OSH WSA SAV GRA WET CRO URB CVM SNO BAR
def _t(*v: float) -> np.ndarray:
    a = np.array(v, dtype=np.float64)
    assert a.shape == (17,)
    return a


# Maximum light-use efficiency, gC per MJ APAR: MOD17 Collection 6 BPLUT LUEmax (rounded);
# classes MOD17 lacks (WET, URB, CVM, SNO, BAR) take a neighbouring class's value.
EPS_MAX = _t(1.0, 0.96, 1.27, 1.09, 1.17, 1.05, 1.28, 0.84, 1.24, 1.21, 0.86, 0.86, 1.04,
             1.0, 1.04, 0.8, 0.8)
# VPD (Pa) where stomata start to close and are fully closed: MOD17 BPLUT VPDmin/VPDmax (rounded).
VPD_OPEN = _t(650, 650, 800, 650, 650, 650, 650, 650, 650, 650, 650, 650, 650, 650, 650, 650, 650)
VPD_CLOSE = _t(4000, 4600, 3900, 4600, 3500, 2900, 4300, 4700, 3200, 3100, 5300, 4000, 4300,
               4000, 4300, 4700, 4700)
# Seasonal maximum LAI (m2 m-2) and evergreen share (LAI_min / LAI_max): typical MODIS LAI values.
LAI_MAX = _t(0.0, 4.5, 5.5, 3.5, 5.0, 4.8, 2.5, 1.2, 2.8, 2.2, 2.4, 2.5, 4.2, 0.8, 3.5, 0.2, 0.15)
EVERGREEN = _t(0.0, 0.7, 0.85, 0.1, 0.1, 0.4, 0.5, 0.3, 0.3, 0.15, 0.1, 0.3, 0.05, 0.2, 0.1,
               0.3, 0.3)
# Share of the LAI in high vegetation (trees): ERA5's high/low vegetation split.
HIGH_VEG = _t(0.0, 0.9, 0.95, 0.85, 0.9, 0.9, 0.3, 0.15, 0.5, 0.25, 0.0, 0.2, 0.0, 0.2, 0.3,
              0.0, 0.0)
# Snow-free surface albedo (broadband).
ALBEDO = _t(0.07, 0.10, 0.13, 0.12, 0.14, 0.13, 0.17, 0.22, 0.16, 0.18, 0.20, 0.14, 0.19,
            0.16, 0.18, 0.7, 0.32)
# Albedo of snow-covered ground as seen from above: trees mask the snow.
SNOW_ALBEDO = _t(0.7, 0.3, 0.3, 0.35, 0.4, 0.35, 0.6, 0.7, 0.5, 0.6, 0.75, 0.7, 0.75, 0.55,
                 0.7, 0.8, 0.8)
# Root fraction in the four soil layers.
_ROOTS_FOREST = (0.15, 0.30, 0.40, 0.15)
_ROOTS_SHRUB = (0.20, 0.35, 0.35, 0.10)
_ROOTS_GRASS = (0.30, 0.45, 0.25, 0.00)
_ROOTS_BARE = (0.50, 0.40, 0.10, 0.00)
ROOTS = np.array(
    [_ROOTS_BARE, _ROOTS_FOREST, _ROOTS_FOREST, _ROOTS_FOREST, _ROOTS_FOREST, _ROOTS_FOREST,
     _ROOTS_SHRUB, _ROOTS_SHRUB, _ROOTS_SHRUB, _ROOTS_SHRUB, _ROOTS_GRASS, _ROOTS_GRASS,
     _ROOTS_GRASS, _ROOTS_GRASS, _ROOTS_GRASS, _ROOTS_BARE, _ROOTS_BARE]
)
# Drought deciduousness: share of the canopy shed under sustained water stress.
DROUGHT_SHED = _t(0.0, 0.15, 0.1, 0.15, 0.2, 0.15, 0.3, 0.4, 0.35, 0.45, 0.5, 0.3, 0.4, 0.3,
                  0.4, 0.5, 0.5)
# Near-surface wind reduction by roughness (forests slow the 10 m wind).
WIND_FACTOR = _t(1.0, 0.6, 0.55, 0.6, 0.6, 0.6, 0.8, 0.9, 0.75, 0.85, 0.95, 0.9, 0.95, 0.7,
                 0.9, 1.0, 1.0)
# Aerodynamic resistance (s m-1) for the skin - air temperature difference.
AERO_RES = _t(100, 30, 30, 30, 30, 30, 50, 60, 45, 55, 70, 60, 70, 50, 65, 80, 80)
