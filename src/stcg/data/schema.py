"""Climate2GPP schema: one long table for every source (paper Section 4.1; docs/design.md, "Data").

One row per (cell, year, period) with period the 8-day period of the year (0..45, period ``p``
starts on day of year ``8 p + 1``; the last one is 5 or 6 days long).  Columns:

``cell_id, lon, lat, year, period, land_cover`` (IGBP 0..16), the chosen ERA5-Land variables under
their Earth Engine ``ECMWF/ERA5_LAND/DAILY_AGGR`` band names, and ``gpp``.

Units are those of the Earth Engine bands, aggregated over the period: ``*_sum`` bands (radiation,
heat fluxes, evaporation, precipitation) are *summed* over the days of the period, every other band
is *averaged* (paper Section 4.1).  ECMWF's sign convention holds: vertical fluxes are positive
downwards, so evaporation and the latent heat flux are negative where water leaves the surface.
``gpp`` is PML_V2's unit, gC m-2 d-1, as the mean over the period (the paper sums it over the 8
days; a daily mean keeps the 5- and 6-day last periods comparable with the others).  ``snow_cover``
is stored in % (0-100); ingestion converts a fraction (0-1) and says so.

The plausible ranges below are deliberately wide: they catch unit mistakes (degC for K, mm for m,
W m-2 for J m-2, a missing scale factor) and not weather extremes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PERIODS_PER_YEAR = 46
"""8-day periods per year (MODIS/PML_V2 convention)."""

KEY_COLUMNS: tuple[str, ...] = ("cell_id", "lon", "lat", "year", "period", "land_cover")
TARGET = "gpp"

IGBP_CLASSES: tuple[str, ...] = (
    "Water",
    "Evergreen Needleleaf Forest",
    "Evergreen Broadleaf Forest",
    "Deciduous Needleleaf Forest",
    "Deciduous Broadleaf Forest",
    "Mixed Forest",
    "Closed Shrublands",
    "Open Shrublands",
    "Woody Savannas",
    "Savannas",
    "Grasslands",
    "Permanent Wetlands",
    "Croplands",
    "Urban and Built-up",
    "Cropland/Natural Vegetation Mosaic",
    "Snow and Ice",
    "Barren",
)
"""MCD12C1 ``Majority_Land_Cover_Type_1`` (IGBP) class names, index = class code."""

IGBP_SHORT: tuple[str, ...] = (
    "WAT", "ENF", "EBF", "DNF", "DBF", "MF", "CSH", "OSH", "WSA", "SAV", "GRA", "WET", "CRO",
    "URB", "CVM", "SNO", "BAR",
)


@dataclass(frozen=True)
class Variable:
    """One ERA5-Land input band.

    Attributes:
        name: Earth Engine band name (``ECMWF/ERA5_LAND/DAILY_AGGR``).
        units: units after 8-day aggregation.
        agg: ``"sum"`` over the days of the period, or ``"mean"``.
        lo: lowest plausible value.
        hi: highest plausible value.
        group: physical group, used in figures and for the limiting-factor score.
    """

    name: str
    units: str
    agg: Literal["sum", "mean"]
    lo: float
    hi: float
    group: Literal["temperature", "water", "radiation", "energy", "other", "canopy"]


_DAY_J = 86400.0
VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        Variable("temperature_2m", "K", "mean", 180.0, 340.0, "temperature"),
        Variable("dewpoint_temperature_2m", "K", "mean", 170.0, 320.0, "water"),
        Variable("skin_temperature", "K", "mean", 180.0, 350.0, "temperature"),
        Variable("soil_temperature_level_1", "K", "mean", 190.0, 345.0, "temperature"),
        Variable("soil_temperature_level_2", "K", "mean", 190.0, 345.0, "temperature"),
        Variable("soil_temperature_level_3", "K", "mean", 190.0, 345.0, "temperature"),
        Variable("soil_temperature_level_4", "K", "mean", 190.0, 345.0, "temperature"),
        Variable("volumetric_soil_water_layer_1", "m3 m-3", "mean", 0.0, 0.8, "water"),
        Variable("volumetric_soil_water_layer_2", "m3 m-3", "mean", 0.0, 0.8, "water"),
        Variable("volumetric_soil_water_layer_3", "m3 m-3", "mean", 0.0, 0.8, "water"),
        Variable("volumetric_soil_water_layer_4", "m3 m-3", "mean", 0.0, 0.8, "water"),
        Variable("surface_pressure", "Pa", "mean", 4.0e4, 1.1e5, "other"),
        Variable("u_component_of_wind_10m", "m s-1", "mean", -40.0, 40.0, "other"),
        Variable("v_component_of_wind_10m", "m s-1", "mean", -40.0, 40.0, "other"),
        Variable("total_precipitation_sum", "m", "sum", 0.0, 2.5, "water"),
        Variable(
            "surface_solar_radiation_downwards_sum", "J m-2", "sum", 0.0, 8 * 5.0e7, "radiation"
        ),
        Variable("surface_net_solar_radiation_sum", "J m-2", "sum", 0.0, 8 * 5.0e7, "radiation"),
        Variable(
            "surface_thermal_radiation_downwards_sum", "J m-2", "sum", 0.0, 8 * 600 * _DAY_J,
            "radiation",
        ),
        Variable(
            "surface_net_thermal_radiation_sum", "J m-2", "sum", -8 * 300 * _DAY_J,
            8 * 100 * _DAY_J, "radiation",
        ),
        Variable(
            "surface_latent_heat_flux_sum", "J m-2", "sum", -8 * 500 * _DAY_J, 8 * 150 * _DAY_J,
            "energy",
        ),
        Variable(
            "surface_sensible_heat_flux_sum", "J m-2", "sum", -8 * 400 * _DAY_J,
            8 * 300 * _DAY_J, "energy",
        ),
        Variable("total_evaporation_sum", "m", "sum", -0.15, 0.03, "water"),
        Variable("potential_evaporation_sum", "m", "sum", -0.3, 0.05, "water"),
        Variable("snow_cover", "%", "mean", 0.0, 100.0, "temperature"),
        Variable("leaf_area_index_high_vegetation", "m2 m-2", "mean", 0.0, 12.0, "canopy"),
        Variable("leaf_area_index_low_vegetation", "m2 m-2", "mean", 0.0, 12.0, "canopy"),
    ]
}
"""Every band the project knows; params.yaml ``build_data.variables`` picks from these."""

GPP_RANGE = (0.0, 40.0)
"""Plausible GPP range in gC m-2 d-1 (PML_V2 after its 0.01 scale factor)."""

GPP_Q99_REFERENCE = 10.0
"""Typical 99th percentile of the positive 8-day mean GPP values of a year of land cells, in
gC m-2 d-1 (PML_V2: tropical forests and crop peaks reach 8..20): the reference against which
ingestion picks the likeliest scale mistake (x100, x8, x1000, /100, /1000)."""
GPP_Q99_MIN = 0.3
"""Smallest plausible 99th percentile of a year's positive GPP values (gC m-2 d-1); below it the
values were divided by 100 or 1000 somewhere (the largest value alone does not show it)."""
GPP_MIN_POSITIVE = 100
"""Positive GPP values a year needs before its distribution is judged."""

SNOW_COVER = "snow_cover"
"""The band stored in % whose Earth Engine catalog entry now documents a fraction (0-1)."""

NEGATIVE_TOLERANCE = 1e-3
"""Non-negative ERA5-Land flow sums (``*_sum`` bands whose ``lo`` is 0: precipitation, the solar
and the downward thermal radiation) may come slightly negative from GRIB packing; values down to
``-NEGATIVE_TOLERANCE x hi`` (the band's plausible maximum) are clipped to 0, larger negatives
are errors."""

CENTRE_TOLERANCE = 0.01
"""Coordinates must lie within this fraction of a cell from a cell centre."""


def negative_tolerance(name: str) -> float:
    """Magnitude of the negative values of band ``name`` clipped to 0 (0: none are)."""
    spec = VARIABLES.get(name)
    if spec is None or spec.agg != "sum" or spec.lo != 0.0:
        return 0.0
    return NEGATIVE_TOLERANCE * spec.hi


def sample_columns(variables: tuple[str, ...] | list[str]) -> list[str]:
    """The ordered column list of the samples table for the chosen variables."""
    return [*KEY_COLUMNS, *variables, TARGET]


def check_variables(variables: tuple[str, ...] | list[str]) -> None:
    """Raise ``ValueError`` naming any unknown or duplicated variable."""
    unknown = [v for v in variables if v not in VARIABLES]
    if unknown:
        raise ValueError(f"unknown variable(s) {unknown}; known: {sorted(VARIABLES)}")
    dup = sorted({v for v in variables if list(variables).count(v) > 1})
    if dup:
        raise ValueError(f"duplicated variable(s) {dup}")


def grid_shape(resolution: float) -> tuple[int, int]:
    """(rows, cols) of the global equirectangular grid at ``resolution`` degrees."""
    n_lat = round(180.0 / resolution)
    n_lon = round(360.0 / resolution)
    if abs(n_lat * resolution - 180.0) > 1e-6 or abs(n_lon * resolution - 360.0) > 1e-6:
        raise ValueError(f"resolution {resolution} does not divide 180 and 360 degrees")
    return n_lat, n_lon


def cell_id_for(lon, lat, resolution: float):
    """Cell id of points on the global grid: ``row * n_lon + col``, row 0 at 90N, col 0 at 180W.

    Every source uses this convention, so cell ids of one resolution agree across sources.
    Accepts scalars or numpy arrays (longitudes in [-180, 360) are wrapped).
    """
    import numpy as np

    n_lat, n_lon = grid_shape(resolution)
    lon = (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0
    lat = np.asarray(lat, dtype=np.float64)
    row = np.clip(np.floor((90.0 - lat) / resolution), 0, n_lat - 1).astype(np.int64)
    col = np.clip(np.floor(lon / resolution), 0, n_lon - 1).astype(np.int64)
    return row * n_lon + col


def cell_center(cell_id, resolution: float):
    """(lon, lat) of the centre of ``cell_id`` (inverse of :func:`cell_id_for`)."""
    import numpy as np

    _, n_lon = grid_shape(resolution)
    cid = np.asarray(cell_id, dtype=np.int64)
    row, col = np.divmod(cid, n_lon)
    return -180.0 + (col + 0.5) * resolution, 90.0 - (row + 0.5) * resolution
