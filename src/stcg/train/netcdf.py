"""CF-1.10 NetCDF of ``stcg predict``: predictions on the global lon/lat grid.

Layout (``(time, lat, lon)``, one chunk per time step, zlib-compressed, NetCDF4 via h5netcdf):

* ``time``: the first day of each 8-day period (``days since 1970-01-01``, standard calendar) with
  ``time_bnds`` = ``[first day, day after the last day)``: 8 days, except period 45, which lasts 5
  days (6 in leap years, :func:`stcg.data.periods.period_bounds`); ``year`` and ``period`` are
  auxiliary coordinates on ``time``.
* ``lat`` / ``lon``: cell centres with ``lat_bnds`` / ``lon_bnds`` (the cell edges); ``crs``:
  a ``latitude_longitude`` grid mapping (WGS 84), named by every data variable's ``grid_mapping``.
* GPP variables (``gpp``, ``gpp_pred``, ``gpp_interp``, ``gpp_climatology`` when present): CF
  standard name ``gross_primary_productivity_of_biomass_expressed_as_carbon``, in ``g m-2 d-1``
  (grams of carbon per square metre per day, the 8-day mean; convertible to the standard name's
  canonical ``kg m-2 s-1``), ``cell_methods = "time: mean"``.
* ``w_intercept`` and ``w_<feature>``: the interpretable weights (no standard name exists).  The
  model standardises its inputs, so ``w_<feature>`` is the GPP change per standard deviation of the
  feature, in ``g m-2 d-1``; the attributes ``feature_mean``, ``feature_std`` and
  ``feature_units`` (training-split statistics) turn it into physical units:
  ``w_<feature> / feature_std`` in ``g m-2 d-1`` per ``feature_units``, and
  ``gpp_interp = w_intercept + sum_j w_j (x_j - feature_mean_j) / feature_std_j``.

Global attributes carry the provenance: the model file, its SHA-256, the stcg version and the git
commit of the stcg sources (when they are a git checkout).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from stcg.data.periods import period_bounds
from stcg.data.schema import PERIODS_PER_YEAR, VARIABLES, grid_shape

CONVENTIONS = "CF-1.10"
GPP_STANDARD_NAME = "gross_primary_productivity_of_biomass_expressed_as_carbon"
GPP_UNITS = "g m-2 d-1"
TIME_UNITS = "days since 1970-01-01 00:00:00"
CALENDAR = "standard"

_GPP_LONG_NAMES = {
    "gpp": "observed gross primary productivity of carbon (8-day mean)",
    "gpp_pred": "predicted gross primary productivity of carbon (8-day mean)",
    "gpp_interp": "gross primary productivity of carbon from the interpretable weights "
                  "(w_intercept + sum_j w_j x_j)",
    "gpp_climatology": "per-cell training-year climatology of gross primary productivity "
                       "of carbon",
}


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(directory: str | Path | None = None) -> str | None:
    """The commit of the git checkout holding ``directory`` (default: the stcg sources).

    ``-dirty`` is appended when tracked files differ from it; None outside a checkout or
    without git.
    """
    directory = Path(directory) if directory is not None else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(directory), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(directory), "diff", "--quiet", "HEAD", "--"],
                               capture_output=True, timeout=10).returncode == 1
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")


def stcg_version() -> str:
    """The installed stcg distribution's version ("unknown" when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stcg")
    except PackageNotFoundError:
        return "unknown"


def period_time_bounds(years: Sequence[int]) -> np.ndarray:
    """``[n_years * 46, 2]`` datetime64[D]: each period's first day and the day after its last."""
    out = [period_bounds(int(y), p) for y in years for p in range(PERIODS_PER_YEAR)]
    return np.array(out, dtype="datetime64[D]").reshape(-1, 2)


def _cell_bounds(centres: np.ndarray, resolution: float) -> np.ndarray:
    half = resolution / 2.0
    return np.stack([centres - half, centres + half], axis=1)


def to_grid(
    frame: pd.DataFrame,
    years: Sequence[int],
    resolution: float,
    variables: Sequence[str],
    feature_mean: np.ndarray,
    feature_std: np.ndarray,
    provenance: dict[str, str] | None = None,
) -> xr.Dataset:
    """Predictions on the global ``resolution``-degree grid as a CF-1.10 dataset.

    Args:
        frame: one row per (cell, year, period): ``lon``, ``lat``, ``year``, ``period`` and the
            value columns (``gpp``, ``gpp_*``, ``w_*``).
        years: the years of the time axis (46 periods each).
        resolution: grid spacing in degrees.
        variables: the model's features, in the order of ``feature_mean`` / ``feature_std``.
        feature_mean: ``[F]`` training-split feature means.
        feature_std: ``[F]`` training-split feature standard deviations.
        provenance: extra global attributes (model file, checksums, history).

    Returns:
        The dataset; write it with :func:`write_netcdf` (which sets the CF time encoding).
    """
    years = [int(y) for y in years]
    n_lat, n_lon = grid_shape(resolution)
    lat = 90.0 - (np.arange(n_lat) + 0.5) * resolution
    lon = -180.0 + (np.arange(n_lon) + 0.5) * resolution
    row = np.clip(np.floor((90.0 - frame["lat"].to_numpy(np.float64)) / resolution), 0, n_lat - 1)
    col = np.clip(np.floor((frame["lon"].to_numpy(np.float64) + 180.0) / resolution), 0, n_lon - 1)
    t_year = np.repeat(np.asarray(years), PERIODS_PER_YEAR)
    t_period = np.tile(np.arange(PERIODS_PER_YEAR), len(years))
    ti = (np.searchsorted(np.asarray(years), frame["year"].to_numpy()) * PERIODS_PER_YEAR
          + frame["period"].to_numpy().astype(np.int64))
    names = [c for c in frame.columns if c == "gpp" or c.startswith(("gpp_", "w_"))]
    bounds = period_time_bounds(years)
    grid_mapping = {"grid_mapping": "crs"}
    data_vars: dict[str, tuple] = {}
    for name in names:
        arr = np.full((t_year.size, n_lat, n_lon), np.nan, dtype=np.float32)
        arr[ti, row.astype(np.int64), col.astype(np.int64)] = frame[name].to_numpy(np.float32)
        data_vars[name] = (("time", "lat", "lon"), arr, _var_attrs(
            name, variables, feature_mean, feature_std) | grid_mapping)
    data_vars["crs"] = ((), np.int32(0), {
        "grid_mapping_name": "latitude_longitude",
        "longitude_of_prime_meridian": 0.0,
        "semi_major_axis": 6378137.0,
        "inverse_flattening": 298.257223563,
        "long_name": "WGS 84 latitude-longitude grid",
    })
    coords = {
        "time": ("time", bounds[:, 0].astype("datetime64[ns]"),
                 {"standard_name": "time", "long_name": "first day of the 8-day period",
                  "axis": "T", "bounds": "time_bnds"}),
        "lat": ("lat", lat, {"standard_name": "latitude", "long_name": "latitude of the cell centre",
                             "units": "degrees_north", "axis": "Y", "bounds": "lat_bnds"}),
        "lon": ("lon", lon, {"standard_name": "longitude",
                             "long_name": "longitude of the cell centre",
                             "units": "degrees_east", "axis": "X", "bounds": "lon_bnds"}),
        "time_bnds": (("time", "bnds"), bounds.astype("datetime64[ns]")),
        "lat_bnds": (("lat", "bnds"), _cell_bounds(lat, resolution)),
        "lon_bnds": (("lon", "bnds"), _cell_bounds(lon, resolution)),
        "year": ("time", t_year.astype(np.int32), {"long_name": "calendar year of the period"}),
        "period": ("time", t_period.astype(np.int32),
                   {"long_name": "8-day period of the year (0-45; period p starts on day of year "
                                 "8 p + 1)"}),
    }
    attrs = {
        "Conventions": CONVENTIONS,
        "title": "STCG predictions: gross primary productivity and interpretable per-feature "
                 "weights",
        "institution": "stcg (spatiotemporal conditional graph model of global GPP)",
        "source": f"stcg {stcg_version()} STCG model (stcg predict)",
        "history": f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} stcg predict",
        "references": "Climate2GPP schema; 8-day periods of MODIS / PML_V2",
        "comment": "Cells without data are missing (NaN).  w_<feature> is the GPP change per "
                   "standard deviation of the feature; divide by its feature_std attribute for "
                   "g m-2 d-1 per feature_units.",
        "stcg_version": stcg_version(),
    }
    attrs.update(provenance or {})
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _var_attrs(name: str, variables: Sequence[str], mean: np.ndarray,
               std: np.ndarray) -> dict[str, object]:
    if name == "gpp" or name.startswith("gpp_"):
        return {"standard_name": GPP_STANDARD_NAME, "units": GPP_UNITS,
                "long_name": _GPP_LONG_NAMES.get(name, f"{name}: gross primary productivity "
                                                       "of carbon"),
                "cell_methods": "time: mean"}
    if name == "w_intercept":
        return {"long_name": "interpretable intercept w_0 (GPP of carbon at the training-mean "
                             "features)", "units": GPP_UNITS}
    feature = name[2:]
    attrs: dict[str, object] = {
        "long_name": f"interpretable weight of {feature}: change of gross primary productivity "
                     f"of carbon per standard deviation of {feature}",
        "units": GPP_UNITS,
        "feature": feature,
    }
    if feature in variables:
        j = list(variables).index(feature)
        attrs["feature_mean"] = float(mean[j])
        attrs["feature_std"] = float(std[j])
        if feature in VARIABLES:
            attrs["feature_units"] = VARIABLES[feature].units
    return attrs


def write_netcdf(ds: xr.Dataset, path: str | Path) -> None:
    """Write ``ds`` (from :func:`to_grid`) to ``path``: CF time encoding, no ``_FillValue`` on
    coordinates or bounds, zlib-compressed data variables chunked per time step."""
    enc: dict[str, dict] = {
        "time": {"units": TIME_UNITS, "calendar": CALENDAR, "dtype": "float64",
                 "_FillValue": None},
        "time_bnds": {"units": TIME_UNITS, "calendar": CALENDAR, "dtype": "float64",
                      "_FillValue": None},
    }
    for v in ("lat", "lon", "lat_bnds", "lon_bnds", "year", "period", "crs"):
        enc[v] = {"_FillValue": None}
    for v, da in ds.data_vars.items():
        if da.dims == ("time", "lat", "lon"):
            enc[v] = {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan),
                      "chunksizes": (1, ds.sizes["lat"], ds.sizes["lon"])}
    ds.to_netcdf(path, engine="h5netcdf", encoding=enc)


def provenance(model_path: str | Path, data_root: str | Path) -> dict[str, str]:
    """Global attributes naming the model file (path, SHA-256), the input dataset and the git
    commit of the stcg sources (left out when they are not a git checkout)."""
    model_path = Path(model_path).resolve()
    out = {
        "model_file": str(model_path),
        "model_sha256": sha256_of(model_path),
        "input_dataset": str(Path(data_root).resolve()),
        "history": f"{dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} stcg predict "
                   f"{model_path} {Path(data_root).resolve()}",
    }
    commit = git_commit()
    if commit is not None:
        out["git_commit"] = commit
    return out
