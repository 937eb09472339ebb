"""Source ``files`` of stage ``build_data``: ingest user files into the Climate2GPP layout.

The input directory (the stage passes ``data/files/``) holds per-year files that use the schema's
column names (:mod:`stcg.data.schema`): ERA5-Land variables under their Earth Engine band names,
``gpp`` in gC m-2 d-1, ``land_cover`` (IGBP 0..16), ``period`` (0..45), and the location.  Every
file under the directory (recursively) with one of these suffixes is read:

* ``.parquet`` -- a long table.
* ``.csv`` / ``.csv.gz`` -- a long table; Earth Engine table exports are understood as they come:
  the bookkeeping column ``system:index`` is dropped, the location is read from the ``.geo``
  column (a GeoJSON point, the cell centre) when there is no ``lon`` / ``lat``, and missing values
  are empty fields.
* ``.nc`` / ``.nc4`` -- NetCDF, read with xarray (CF fill values and scale factors decoded): a
  long table (one dimension) or a grid with dimensions ``lat``/``latitude``, ``lon``/``longitude``
  and ``period`` or ``time`` (dates are mapped to the period that contains them).
* ``.tif`` / ``.tiff`` -- GeoTIFF, read with tifffile: one multi-band image per (year, period),
  as ``stcg gee-export --format geotiff`` writes them (Earth Engine's LZW, pixel-interleaved, and
  tiled ``-RRRRRRRRRR-CCCCCCCCCC.tif`` files).  Geo-referencing comes from the GeoTIFF tags
  (``ModelPixelScale`` + ``ModelTiepoint`` or ``ModelTransformation``, raster type area/point,
  geographic EPSG:4326 required), the no-data value from ``GDAL_NODATA``, the band names from the
  GDAL band descriptions (``GDAL_METADATA``), else from a ``bands.json`` beside the file (written
  by ``stcg gee-export``), else the order ``land_cover, <variables>, gpp``.  Year and period come
  from the file name (``..._2001_p07...``).  Pixels without data in every band are not land.

Location: ``cell_id`` (``schema.cell_id_for`` at ``build_data.resolution``) and/or ``lon`` +
``lat``; ids are derived from coordinates when missing and checked against them when both are
given.  Samples and ``cells.parquet`` carry cell-centre coordinates.  A cell's land cover in
``cells.parquet`` is its most frequent class over all rows (ties: the lower class); the samples
keep each year's class.  Years missing from a file are read from its name (``..._2001.csv`` or a
``year=2001`` directory).

Validation -- on any problem, :class:`IngestError` names the file, the column and what was
expected, and nothing is written (the dataset directory appears only on success):

* required columns, numbers only (row of the first offending value), complete key columns,
  integral ``year``/``period``/``land_cover``/``cell_id``; ``period`` 0..45, ``land_cover``
  0..16, years within ``build_data.splits``, coordinates on the globe;
* plausible ranges per variable (``schema.VARIABLES[...].lo/hi``, ``schema.GPP_RANGE`` after
  ``build_data.files.gpp_scale``), naming the likely unit mistake (degC for K, mm for m, hPa
  for Pa, percent for m3 m-3, W m-2 for J m-2, PML_V2's x100 integers or 8-day sums for GPP);
* the NaN share of every variable and of ``gpp`` per year, over all of the year's files (at most
  ``files.max_nan_share``; the message names the file with the largest share) -- per year, not
  per file, because a year may come as many small GeoTIFF tiles;
* duplicated (cell, year, period) rows, within and across files; every configured year present.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stcg.config import BuildDataConfig
from stcg.data.dataset import DatasetMeta
from stcg.data.schema import (
    GPP_RANGE,
    IGBP_CLASSES,
    PERIODS_PER_YEAR,
    TARGET,
    VARIABLES,
    cell_center,
    cell_id_for,
    grid_shape,
    sample_columns,
)
from stcg.data.writer import dataset_writer

SUFFIXES: dict[str, str] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".tif": "geotiff",
    ".tiff": "geotiff",
}
"""File suffix -> reader."""

EE_INDEX = "system:index"
EE_GEO = ".geo"
BANDS_SIDECAR = "bands.json"
CENTRES_FROM = "stcg_centres_from"
"""``DataFrame.attrs`` key: the column whose points must be exact cell centres (Earth Engine's
``.geo``), so that an export made at another resolution is refused, not silently re-gridded."""
_N_CLASSES = len(IGBP_CLASSES)


class IngestError(ValueError):
    """A user file does not hold what the schema expects.

    Attributes:
        file: the offending file (or directory).
        column: the offending column, if one.
    """

    def __init__(self, file: Path | str, column: str | None, message: str) -> None:
        self.file = Path(file)
        self.column = column
        where = f"{file}: column {column!r}: " if column else f"{file}: "
        super().__init__(where + message)


# ---- discovery ------------------------------------------------------------------------------


def file_kind(path: Path) -> str | None:
    """Reader name of ``path`` from its suffix (None: not a data file)."""
    name = path.name.lower()
    for suffix, kind in sorted(SUFFIXES.items(), key=lambda kv: -len(kv[0])):
        if name.endswith(suffix):
            return kind
    return None


def find_input_files(input_dir: Path) -> list[Path]:
    """Every data file under ``input_dir`` (recursively, hidden files and folders skipped)."""
    if not input_dir.is_dir():
        raise IngestError(input_dir, None, "input directory not found (build_data source 'files' "
                          "reads the exports placed there, see README 'Reproducing with the real "
                          "data')")
    out = []
    for path in sorted(input_dir.rglob("*")):
        rel = path.relative_to(input_dir)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if file_kind(path) is not None:
            out.append(path)
    return out


_TOKEN = re.compile(r"[A-Za-z0-9]+")


def year_from_path(path: Path) -> int | None:
    """The year in a file name (a 4-digit token 1900..2100) or a ``year=YYYY`` folder."""
    tokens = {int(t) for t in _TOKEN.findall(path.name) if len(t) == 4 and t.isdigit()}
    tokens = {t for t in tokens if 1900 <= t <= 2100}
    if len(tokens) == 1:
        return tokens.pop()
    for part in reversed(path.parent.parts):
        m = re.fullmatch(r"year=(\d{4})", part)
        if m:
            return int(m.group(1))
    return None


def period_from_path(path: Path) -> int | None:
    """The period in a file name (token ``pNN``)."""
    hits = {int(t[1:]) for t in _TOKEN.findall(path.name) if re.fullmatch(r"p\d{1,2}", t)}
    return hits.pop() if len(hits) == 1 else None


# ---- readers --------------------------------------------------------------------------------


def read_parquet_file(path: Path) -> pd.DataFrame:
    """A Parquet long table."""
    try:
        return pq.read_table(path).to_pandas()
    except Exception as exc:
        raise IngestError(path, None, f"cannot read as Parquet ({exc})") from exc


_GEO_POINT = (
    r'"coordinates"\s*:\s*\[\s*(?P<lon>[-+0-9.eE]+)\s*,\s*(?P<lat>[-+0-9.eE]+)\s*\]'
)
"""The coordinates of a GeoJSON Point (a Polygon's start with ``[[`` and do not match)."""


def read_csv_file(path: Path) -> pd.DataFrame:
    """A CSV long table, Earth Engine exports included (see module docstring)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        df = pd.read_csv(path, engine="pyarrow")
    except Exception:
        try:  # the C parser gives the more helpful message
            df = pd.read_csv(path, low_memory=False)
        except Exception as exc:
            raise IngestError(path, None, f"cannot read as CSV ({exc})") from exc
    df = df.drop(columns=[EE_INDEX], errors="ignore")
    if EE_GEO in df.columns:
        if not {"lon", "lat"} <= set(df.columns):
            geo = pa.array(df[EE_GEO].astype(object).where(df[EE_GEO].notna(), None),
                           type=pa.string())
            coords = pc.extract_regex(geo, _GEO_POINT)
            point = pc.match_substring_regex(geo, r'"type"\s*:\s*"Point"')
            bad = ~(coords.is_valid().to_numpy(zero_copy_only=False)
                    & point.fill_null(False).to_numpy(zero_copy_only=False))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise IngestError(
                    path, EE_GEO,
                    f"expected a GeoJSON Point (the cell centre) in every row, got "
                    f"{df[EE_GEO].iloc[i]!r} at row {i + 1}; export points (sample with "
                    "geometries=True), not cell polygons",
                )
            df["lon"] = pd.to_numeric(coords.field("lon").to_numpy(zero_copy_only=False))
            df["lat"] = pd.to_numeric(coords.field("lat").to_numpy(zero_copy_only=False))
            df.attrs[CENTRES_FROM] = EE_GEO
        df = df.drop(columns=[EE_GEO])
    return df


_LAT = ("lat", "latitude", "y")
_LON = ("lon", "longitude", "x")


def read_netcdf_file(path: Path) -> pd.DataFrame:
    """NetCDF: a long table or a (period|time, lat, lon) grid, via xarray."""
    import xarray as xr

    try:
        ds = xr.open_dataset(path)
    except Exception as exc:
        raise IngestError(path, None, f"cannot read as NetCDF ({exc})") from exc
    with ds:
        rename = {}
        for names, new in ((_LAT, "lat"), (_LON, "lon")):
            for n in names:
                if n in ds.variables and n != new:
                    rename[n] = new
                    break
        ds = ds.rename(rename)
        gridded = "lat" in ds.dims and "lon" in ds.dims
        try:
            df = _grid_frame(ds) if gridded else ds.to_dataframe().reset_index()
        except ValueError as exc:
            raise IngestError(path, None, str(exc)) from exc
    if "time" in df.columns and "period" not in df.columns:
        times = pd.to_datetime(df["time"], errors="coerce")
        if times.isna().any():
            raise IngestError(path, "time", "expected dates to map to 8-day periods")
        # the period containing each date (periods.period_of, vectorised)
        doy = times.dt.day_of_year.to_numpy()
        df["period"] = np.minimum((doy - 1) // 8, PERIODS_PER_YEAR - 1)
        if "year" not in df.columns:
            df["year"] = times.dt.year.to_numpy()
        df = df.drop(columns=["time"])
    return df


def _grid_frame(ds: Any) -> pd.DataFrame:
    """Gridded dataset -> one row per (step, lat, lon) with any value (ocean pixels dropped).

    Vectorised: every schema variable is broadcast to the grid ``[step?, lat, lon]`` and the
    rows are taken where at least one of them has a value.
    """
    import xarray as xr

    step = next((d for d in ("period", "time") if d in ds.dims), None)
    order = [d for d in (step, "lat", "lon") if d is not None]
    names = [c for c in ds.data_vars if c in VARIABLES or c in (TARGET, "land_cover", "year")]
    if not names:
        return pd.DataFrame()
    extra = sorted({d for c in names for d in ds[c].dims} - set(order))
    if extra:
        raise ValueError(f"unexpected dimension(s) {extra}; expected (period|time, lat, lon)")
    template = xr.DataArray(np.zeros([ds.sizes[d] for d in order], dtype=np.int8), dims=order)
    arrays = {c: ds[c].broadcast_like(template).transpose(*order).values for c in names}
    has = np.zeros(template.shape, dtype=bool)
    for c in names:
        if c != "year":
            has |= np.isfinite(arrays[c])
    idx = np.nonzero(has)
    out = {c: arrays[c][idx] for c in names}
    for d, i in zip(order, idx, strict=True):
        out[d] = ds[d].values[i]
    return pd.DataFrame(out)


def _gdal_metadata(text: str | None) -> tuple[dict[int, str], dict[str, str]]:
    """Band descriptions and dataset items of a GDAL_METADATA XML tag."""
    bands: dict[int, str] = {}
    items: dict[str, str] = {}
    if not text:
        return bands, items
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return bands, items
    for item in root.iter("Item"):
        name = (item.get("name") or "").lower()
        value = (item.text or "").strip()
        sample = item.get("sample")
        if sample is not None and (name == "description" or item.get("role") == "description"):
            bands[int(sample)] = value
        elif sample is None:
            items[name] = value
    return bands, items


def _sidecar_bands(path: Path, root: Path) -> tuple[list[str] | None, float | None]:
    """``bands.json`` in the file's folder or any parent up to ``root``."""
    folder = path.parent
    while True:
        side = folder / BANDS_SIDECAR
        if side.exists():
            try:
                data = json.loads(side.read_text())
                return list(data["bands"]), data.get("nodata")
            except Exception as exc:
                raise IngestError(side, "bands", f"expected {{'bands': [names]}} ({exc})") from exc
        if folder == root or folder == folder.parent:
            return None, None
        folder = folder.parent


def read_geotiff_file(
    path: Path, variables: Sequence[str], resolution: float, root: Path
) -> pd.DataFrame:
    """One multi-band GeoTIFF of one (year, period) -> one row per pixel with data.

    Args:
        path: the file.
        variables: the configured variables (for the default band order).
        resolution: the grid spacing the pixels must have.
        root: the input directory (where ``bands.json`` may be found).

    Returns:
        A long table with ``lon``, ``lat``, ``year``, ``period`` and a column per band.
    """
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            series = tif.series[0]
            data = series.asarray()
            axes = series.axes
            geo = page.geotiff_tags or {}
            tags = {t.name: t.value for t in page.tags.values()}
    except Exception as exc:
        raise IngestError(path, None, f"cannot read as GeoTIFF ({exc})") from exc
    if data.ndim == 2:
        data = data[None]
    elif axes.endswith("S"):
        data = np.moveaxis(data, -1, 0)
    elif data.ndim != 3:
        raise IngestError(path, None, f"expected a multi-band 2-D image, got axes {axes!r}")
    n_bands, n_rows, n_cols = data.shape
    lon, lat = _pixel_centres(path, geo, n_rows, n_cols, resolution)
    descriptions, items = _gdal_metadata(tags.get("GDAL_METADATA"))
    side_bands, side_nodata = _sidecar_bands(path, root)
    if len(descriptions) == n_bands and all(descriptions.values()):
        bands = [descriptions[i] for i in range(n_bands)]
    elif side_bands is not None:
        bands = side_bands
    else:
        bands = ["land_cover", *variables, TARGET]
    if len(bands) != n_bands:
        raise IngestError(
            path, "bands",
            f"the file has {n_bands} band(s) but the band names give {len(bands)} ({bands}); "
            f"name the bands in the GeoTIFF or in {BANDS_SIDECAR} beside it",
        )
    nodata = tags.get("GDAL_NODATA", side_nodata)
    values = data.reshape(n_bands, -1).astype(np.float64)
    if nodata is not None:
        try:
            nd = float(str(nodata).strip().strip("\x00"))
        except ValueError as exc:
            raise IngestError(path, "GDAL_NODATA", f"expected a number, got {nodata!r}") from exc
        values[values == nd] = np.nan
    keep = np.isfinite(values).any(axis=0)
    df = pd.DataFrame({b: values[i, keep] for i, b in enumerate(bands)})
    df["lon"] = np.broadcast_to(lon[None, :], (n_rows, n_cols)).reshape(-1)[keep]
    df["lat"] = np.broadcast_to(lat[:, None], (n_rows, n_cols)).reshape(-1)[keep]
    year = int(items["year"]) if "year" in items else year_from_path(path)
    period = int(items["period"]) if "period" in items else period_from_path(path)
    if "year" not in df.columns:
        if year is None:
            raise IngestError(path, "year", "expected the year in the file name (e.g. _2001_p07)")
        df["year"] = year
    if "period" not in df.columns:
        if period is None:
            raise IngestError(path, "period",
                              "expected the period in the file name (e.g. _2001_p07)")
        df["period"] = period
    return df


def _pixel_centres(
    path: Path, geo: dict, n_rows: int, n_cols: int, resolution: float
) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes ``[n_cols]`` and latitudes ``[n_rows]`` of the pixel centres."""
    if not geo:
        raise IngestError(path, "GeoKeyDirectory", "no GeoTIFF geo-referencing tags")
    if "ProjectedCSTypeGeoKey" in geo or int(geo.get("GTModelTypeGeoKey", 2)) != 2:
        raise IngestError(
            path, "GTModelTypeGeoKey",
            "expected geographic lon/lat EPSG:4326 (export with crs='EPSG:4326'), got a "
            f"projected CRS {geo.get('ProjectedCSTypeGeoKey', '')}",
        )
    epsg = int(geo.get("GeographicTypeGeoKey", 4326))
    if epsg != 4326:
        raise IngestError(path, "GeographicTypeGeoKey", f"expected EPSG:4326, got EPSG:{epsg}")
    is_point = int(geo.get("GTRasterTypeGeoKey", 1)) == 2
    if "ModelTransformation" in geo:
        m = np.asarray(geo["ModelTransformation"], dtype=np.float64).reshape(4, 4)
        if m[0, 1] != 0 or m[1, 0] != 0:
            raise IngestError(path, "ModelTransformation", "expected a north-up grid (no rotation)")
        sx, x0, sy, y0 = m[0, 0], m[0, 3], -m[1, 1], m[1, 3]
    elif "ModelPixelScale" in geo and "ModelTiepoint" in geo:
        sx, sy = (float(v) for v in geo["ModelPixelScale"][:2])
        i, j, _, x, y, _ = (float(v) for v in geo["ModelTiepoint"][:6])
        x0, y0 = x - i * sx, y + j * sy
    else:
        raise IngestError(path, "ModelPixelScale",
                          "expected ModelPixelScale + ModelTiepoint or ModelTransformation")
    if abs(sx - resolution) > 1e-9 * max(1.0, resolution) or abs(sy - resolution) > 1e-9 * max(
        1.0, resolution
    ):
        raise IngestError(
            path, "ModelPixelScale",
            f"pixel size {sx:g} x {sy:g} degrees does not match build_data.resolution "
            f"{resolution:g}",
        )
    half = 0.0 if is_point else 0.5
    lon = x0 + (np.arange(n_cols) + half) * sx
    lat = y0 - (np.arange(n_rows) + half) * sy
    return lon, lat


# ---- normalising and validating one file ----------------------------------------------------


def _numeric(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        raise IngestError(path, col, "expected numbers, got true/false values")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(np.float64)
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna() & (s.astype("string").str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(path, col, f"expected numbers, got {s.iloc[i]!r} at row {i + 1}")
    return out.astype(np.float64)


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _integral(path: Path, col: str, v: np.ndarray) -> None:
    bad = np.isfinite(v) & (v != np.round(v))
    if bad.any():
        raise IngestError(path, col, f"expected integers, got {v[bad][0]!r} at row "
                                     f"{_first_row(bad)}")


def _in_range(path: Path, col: str, v: np.ndarray, lo: float, hi: float, what: str) -> None:
    bad = np.isfinite(v) & ((v < lo) | (v > hi))
    if bad.any():
        raise IngestError(path, col, f"expected {what}, got {v[bad][0]:g} at row "
                                     f"{_first_row(bad)}")


_UNIT_FIXES: dict[str, tuple[tuple[float, float, str], ...]] = {
    # units -> (factor, offset, hint): value * factor + offset would be plausible
    "K": ((1.0, 273.15, "values look like degC; expected K (add 273.15)"),),
    "m": ((1e-3, 0.0, "values look like mm; expected m of water (divide by 1000)"),),
    "Pa": (
        (100.0, 0.0, "values look like hPa; expected Pa (multiply by 100)"),
        (1000.0, 0.0, "values look like kPa; expected Pa (multiply by 1000)"),
    ),
    "m3 m-3": ((0.01, 0.0, "values look like percent; expected a fraction m3 m-3 (divide by "
                           "100)"),),
}
_GPP_FIXES = (
    (0.01, "values look like PML_V2's stored integers (GPP x 100); set "
           "build_data.files.gpp_scale: 0.01"),
    (1.0 / 8.0, "values look like 8-day sums (gC m-2 per 8 days); expected the daily mean "
                "gC m-2 d-1: set build_data.files.gpp_scale: 0.125"),
)
_MIN_PEAK = {"J m-2": 1e5}
"""Smallest plausible largest |value| of a whole file, per unit: real 8-day sums of radiation and
heat fluxes reach 1e6..1e8 J m-2, so a file whose values all stay below 1e5 holds W m-2 (mean
fluxes) or MJ m-2, which the range check alone would let through."""


def _range_hint(units: str, v: np.ndarray, lo: float, hi: float, is_gpp: bool) -> str:
    vmin, vmax = float(np.nanmin(v)), float(np.nanmax(v))
    fixes = (
        [(f, 0.0, h) for f, h in _GPP_FIXES] if is_gpp else list(_UNIT_FIXES.get(units, ()))
    )
    for factor, offset, hint in fixes:
        a, b = sorted((vmin * factor + offset, vmax * factor + offset))
        if lo <= a and b <= hi:
            return "; " + hint
    return ""


def _check_values(path: Path, col: str, v: np.ndarray, max_nan_share: float | None) -> None:
    """NaN share (unless None), plausible range and unit hints of one value column."""
    nan_share = float(np.mean(~np.isfinite(v))) if v.size else 0.0
    if max_nan_share is not None and nan_share > max_nan_share:
        raise IngestError(
            path, col,
            f"{nan_share:.1%} of the values are missing, more than build_data.files."
            f"max_nan_share = {max_nan_share:.1%}",
        )
    if not np.isfinite(v).any():
        return
    if col == TARGET:
        lo, hi = GPP_RANGE
        units = "gC m-2 d-1"
    else:
        spec = VARIABLES[col]
        lo, hi, units = spec.lo, spec.hi, spec.units
    bad = np.isfinite(v) & ((v < lo) | (v > hi))
    if bad.any():
        hint = _range_hint(units, v, lo, hi, col == TARGET)
        raise IngestError(
            path, col,
            f"expected {units} within [{lo:g}, {hi:g}], got {v[bad][0]:g} at row "
            f"{_first_row(bad)} (file min {np.nanmin(v):g}, max {np.nanmax(v):g}){hint}",
        )
    peak = float(np.nanmax(np.abs(v)))
    floor = _MIN_PEAK.get(units)
    if floor is not None and col != TARGET and peak < floor:
        raise IngestError(
            path, col,
            f"the largest |value| is {peak:g}, implausibly small for {units} summed over 8 days; "
            "values look like W m-2 (a mean flux: multiply by 86400 x days) or MJ m-2 "
            "(multiply by 1e6)",
        )


def normalise_frame(
    df: pd.DataFrame,
    path: Path,
    cfg: BuildDataConfig,
    path_year: int | None = None,
    check_nan: bool = True,
) -> pd.DataFrame:
    """Check one file's table and bring it to the samples schema.

    Args:
        df: the table as read.
        path: the file (for messages).
        cfg: the stage config (variables, resolution, splits, files.*).
        path_year: the year from the file name, used when there is no ``year`` column.
        check_nan: check the NaN share of each value column in this table (``build_from_files``
            checks it per year instead, as a year may come in many small files).

    Returns:
        The rows with :func:`stcg.data.schema.sample_columns` (float64 values, cell-centre
        coordinates, ``gpp`` scaled by ``files.gpp_scale``).

    Raises:
        IngestError: naming the file, the column and what was expected.
    """
    df = df.copy()
    if "year" not in df.columns:
        if path_year is None:
            raise IngestError(path, "year", "missing: add a year column or put the year in the "
                                            "file name (e.g. climate2gpp_2001.csv)")
        df["year"] = path_year
    variables = list(cfg.variables)
    required = ["period", "land_cover", *variables, TARGET]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise IngestError(
            path, missing[0],
            f"missing required column(s) {missing}; the file has {sorted(map(str, df.columns))}",
        )
    has_id = "cell_id" in df.columns
    has_ll = "lon" in df.columns and "lat" in df.columns
    if not (has_id or has_ll):
        raise IngestError(path, "lon", "missing location: expected cell_id, or lon and lat "
                                       "(or Earth Engine's .geo column)")
    keys = ["year", "period", "land_cover", *(["cell_id"] if has_id else []),
            *(["lon", "lat"] if has_ll else [])]
    num = {c: _numeric(df, c, path).to_numpy() for c in [*keys, *variables, TARGET]}
    for c in keys:
        miss = ~np.isfinite(num[c])
        if miss.any():
            raise IngestError(path, c, f"{int(miss.sum())} missing value(s), first at row "
                                       f"{_first_row(miss)}; key columns must be complete")
    for c in ("year", "period", "land_cover", *(["cell_id"] if has_id else [])):
        _integral(path, c, num[c])
    _in_range(path, "period", num["period"], 0, PERIODS_PER_YEAR - 1,
              f"an 8-day period 0..{PERIODS_PER_YEAR - 1}")
    _in_range(path, "land_cover", num["land_cover"], 0, _N_CLASSES - 1,
              f"an IGBP class 0..{_N_CLASSES - 1} (MCD12C1 Majority_Land_Cover_Type_1)")
    years = cfg.splits.years
    bad = ~np.isin(num["year"], years)
    if bad.any():
        raise IngestError(
            path, "year",
            f"expected years of build_data.splits (train {cfg.splits.train_years[0]}.."
            f"{cfg.splits.train_years[1]}, test {cfg.splits.test_years[0]}.."
            f"{cfg.splits.test_years[1]}), got {int(num['year'][bad][0])} at row "
            f"{_first_row(bad)}",
        )
    n_lat, n_lon = grid_shape(cfg.resolution)
    if has_ll:
        _in_range(path, "lon", num["lon"], -180.0, 360.0, "longitudes in [-180, 360]")
        _in_range(path, "lat", num["lat"], -90.0, 90.0, "latitudes in [-90, 90]")
        cid = cell_id_for(num["lon"], num["lat"], cfg.resolution)
        if df.attrs.get(CENTRES_FROM):
            c_lon, c_lat = cell_center(cid, cfg.resolution)
            d_lon = np.abs((num["lon"] - c_lon + 180.0) % 360.0 - 180.0)
            off = (d_lon > 1e-6 * cfg.resolution) | (np.abs(num["lat"] - c_lat)
                                                      > 1e-6 * cfg.resolution)
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise IngestError(
                    path, df.attrs[CENTRES_FROM],
                    f"point ({num['lon'][i]:g}, {num['lat'][i]:g}) at row {i + 1} is not a "
                    f"cell centre of the {cfg.resolution:g}-degree grid: was the export made "
                    "at another resolution than build_data.resolution?",
                )
        if has_id:
            given = num["cell_id"].astype(np.int64)
            bad = given != cid
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise IngestError(
                    path, "cell_id",
                    f"cell_id {given[i]} at row {i + 1} does not match its lon/lat "
                    f"({num['lon'][i]:g}, {num['lat'][i]:g}) -> {cid[i]} at resolution "
                    f"{cfg.resolution:g} (schema.cell_id_for)",
                )
    else:
        cid = num["cell_id"].astype(np.int64)
        _in_range(path, "cell_id", num["cell_id"], 0, n_lat * n_lon - 1,
                  f"cell ids of the {cfg.resolution:g}-degree grid (0..{n_lat * n_lon - 1})")
    num[TARGET] = num[TARGET] * cfg.files.gpp_scale
    for c in (*variables, TARGET):
        _check_values(path, c, num[c], cfg.files.max_nan_share if check_nan else None)
    lon, lat = cell_center(cid, cfg.resolution)
    out = pd.DataFrame({
        "cell_id": cid,
        "lon": lon,
        "lat": lat,
        "year": num["year"].astype(np.int64),
        "period": num["period"].astype(np.int64),
        "land_cover": num["land_cover"].astype(np.int64),
        **{c: num[c] for c in (*variables, TARGET)},
    })
    _check_duplicates(out, {0: path}, np.zeros(len(out), dtype=np.int64), cfg.resolution)
    return out[sample_columns(cfg.variables)]


def _check_duplicates(
    df: pd.DataFrame, files: dict[int, Path], file_idx: np.ndarray, resolution: float
) -> None:
    dup = df.duplicated(["cell_id", "year", "period"], keep=False).to_numpy()
    if not dup.any():
        return
    first = df.loc[dup, ["cell_id", "year", "period"]].iloc[0]
    same = ((df["cell_id"] == first["cell_id"]) & (df["year"] == first["year"])
            & (df["period"] == first["period"])).to_numpy()
    where = sorted({str(files[int(k)]) for k in file_idx[same]})
    hint = ("; several points fall into one cell: is build_data.resolution "
            f"({resolution:g}) coarser than the files' grid?") if len(where) == 1 else ""
    raise IngestError(
        where[0], "cell_id",
        f"duplicated (cell_id, year, period) = ({int(first['cell_id'])}, {int(first['year'])}, "
        f"{int(first['period'])}): {int(same.sum())} rows in {', '.join(where)}{hint}",
    )


def read_file(path: Path, cfg: BuildDataConfig, root: Path) -> pd.DataFrame:
    """Read one input file with the reader of its suffix, then :func:`normalise_frame` it."""
    kind = file_kind(path)
    if kind == "parquet":
        df = read_parquet_file(path)
    elif kind == "csv":
        df = read_csv_file(path)
    elif kind == "netcdf":
        df = read_netcdf_file(path)
    elif kind == "geotiff":
        df = read_geotiff_file(path, cfg.variables, cfg.resolution, root)
    else:
        raise IngestError(path, None, f"unsupported file type; expected one of {sorted(SUFFIXES)}")
    if df.empty:
        raise IngestError(path, None, "no rows")
    return normalise_frame(df, path, cfg, year_from_path(path), check_nan=False)


# ---- the whole build ------------------------------------------------------------------------


def build_from_files(input_dir: Path, out: Path, cfg: BuildDataConfig) -> DatasetMeta:
    """Ingest every file under ``input_dir`` into the dataset directory ``out`` (atomically).

    Files are read and checked one by one and staged per year inside the writer's temporary
    directory, then each year is assembled, checked for duplicates across files and written, so
    memory holds one file and one year at a time.

    Args:
        input_dir: the folder with the user's files (``data/files``).
        out: the dataset directory (``build/climate2gpp``).
        cfg: the ``build_data`` config.

    Returns:
        The written dataset's :class:`DatasetMeta`.

    Raises:
        IngestError: on any bad input; ``out`` is then left as it was.
    """
    from tqdm.auto import tqdm

    input_dir = Path(input_dir)
    files = find_input_files(input_dir)
    if not files:
        raise IngestError(input_dir, None,
                          f"no input files (expected {', '.join(sorted(SUFFIXES))})")
    splits = cfg.splits
    meta = DatasetMeta(
        source="files",
        variables=tuple(cfg.variables),
        years=splits.years,
        train_years=tuple(range(splits.train_years[0], splits.train_years[1] + 1)),
        test_years=tuple(range(splits.test_years[0], splits.test_years[1] + 1)),
        resolution=float(cfg.resolution),
        n_cells=0,
        has_truth=False,
    )
    provenance: list[dict] = []
    lc_counts: pd.Series | None = None
    with dataset_writer(out, meta) as writer:
        staging = writer.root / "_staging"
        for k, path in enumerate(tqdm(files, desc="build_data[files]: read", unit="file")):
            df = read_file(path, cfg, input_dir)
            rows_per_year = {}
            values = {c: np.float32 for c in (*cfg.variables, TARGET)}
            for year, part in df.groupby("year", sort=True):
                part = part.astype(values).assign(_file=k)
                _stage(part, staging / f"year={int(year)}" / f"{k:06d}.parquet")
                rows_per_year[str(int(year))] = len(part)
            counts = df.groupby(["cell_id", "land_cover"]).size()
            lc_counts = counts if lc_counts is None else lc_counts.add(counts, fill_value=0)
            provenance.append({
                "file": path.relative_to(input_dir).as_posix(),
                "bytes": path.stat().st_size,
                "rows": rows_per_year,
            })
        file_names = {k: p for k, p in enumerate(files)}
        for year in tqdm(splits.years, desc="build_data[files]: write", unit="year"):
            parts = sorted((staging / f"year={year}").glob("*.parquet"))
            if not parts:
                raise IngestError(
                    input_dir, "year",
                    f"no rows for year {year}; every year of build_data.splits "
                    f"({splits.years[0]}..{splits.years[-1]}) needs data",
                )
            df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
            _check_duplicates(df, file_names, df["_file"].to_numpy(), cfg.resolution)
            _check_nan_shares(df, year, file_names, cfg)
            writer.write_year(year, df.drop(columns=["_file"]))
            del df
        shutil.rmtree(staging)
        cells = _cells_table(lc_counts, cfg.resolution)
        writer.write_cells(cells)
        meta = dataclasses.replace(
            meta,
            n_cells=len(cells),
            extra={"files": provenance, "gpp_scale": cfg.files.gpp_scale},
        )
        writer.meta = meta
    return meta


def _stage(df: pd.DataFrame, path: Path) -> None:
    """A temporary per-(file, year) part (float32 values, as the dataset stores them)."""
    import pyarrow as pa

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="lz4")


def _check_nan_shares(
    df: pd.DataFrame, year: int, files: dict[int, Path], cfg: BuildDataConfig
) -> None:
    """NaN share of every value column over one year; the error names the worst file."""
    limit = cfg.files.max_nan_share
    for c in (*cfg.variables, TARGET):
        miss = df[c].isna()
        share = float(miss.mean())
        if share <= limit:
            continue
        per_file = miss.groupby(df["_file"]).mean().sort_values(ascending=False, kind="stable")
        worst = int(per_file.index[0])
        raise IngestError(
            files[worst], c,
            f"{share:.1%} of year {year}'s values are missing, more than build_data.files."
            f"max_nan_share = {limit:.1%} (this file: {per_file.iloc[0]:.1%} missing)",
        )


def _cells_table(lc_counts: pd.Series | None, resolution: float) -> pd.DataFrame:
    """One row per cell: centre and most frequent land cover (ties: lower class)."""
    assert lc_counts is not None
    counts = lc_counts.rename("n").reset_index()
    counts = counts.sort_values(["cell_id", "n", "land_cover"], ascending=[True, False, True])
    cells = counts.drop_duplicates("cell_id", keep="first")[["cell_id", "land_cover"]]
    cid = cells["cell_id"].to_numpy(np.int64)
    lon, lat = cell_center(cid, resolution)
    return pd.DataFrame({
        "cell_id": cid.astype(np.int32),
        "lon": lon.astype(np.float32),
        "lat": lat.astype(np.float32),
        "land_cover": cells["land_cover"].to_numpy().astype(np.int8),
    })
