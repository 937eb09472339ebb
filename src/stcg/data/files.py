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

Validation -- on any problem, :class:`IngestError` (a :class:`stcg.errors.StcgError`) names in
one line the file, the column, the value seen, what was expected and the fix, and nothing is
written (the dataset directory appears only on success):

* required columns, numbers only (row of the first offending value), complete and finite key
  columns, integral ``year``/``period``/``land_cover``/``cell_id``; ``period`` 0..45,
  ``land_cover`` 0..16, years within ``build_data.splits``, coordinates on the globe and on cell
  centres (within ``schema.CENTRE_TOLERANCE`` of a cell; corner or edge coordinates are named as
  such, as they would shift the grid by one cell);
* plausible ranges per variable (``schema.VARIABLES[...].lo/hi``, ``schema.GPP_RANGE`` after
  ``build_data.files.gpp_scale``), naming the likely unit mistake (degC for K, mm for m, hPa
  for Pa, percent for m3 m-3, W m-2 for J m-2); for GPP also the bulk of each year's values
  (99th percentile of the positive ones at least ``schema.GPP_Q99_MIN``), the hint naming the
  likeliest scale slip (x100 integers, 8-day sums, x1000, /100, /1000) and the ``gpp_scale``
  that fixes it;
* the missing share (NaN or +-inf) of every variable per year, over all of the year's files (at
  most ``files.max_nan_share``; the message names the file with the largest share) -- per year,
  not per file, because a year may come as many small GeoTIFF tiles -- and of ``gpp`` (at most
  ``files.max_gpp_nan_share``);
* duplicated (cell, year, period) rows, within and across files; every configured year present;
  with ``require_target`` (stage ``build_data``) observed GPP in every year.

Changes to the values, each counted in :class:`IngestReport` (``meta.json`` ``extra.ingest``,
then the data card) and logged as a warning:

* small negative sums of non-negative flow bands (GRIB packing noise, down to
  ``schema.negative_tolerance``) are set to 0; larger negatives are errors;
* +-inf in a value column is read as missing (and counts toward the missing share);
* ``snow_cover`` is stored in %; a fraction (0-1) is detected over all files (or set with
  ``files.snow_cover_units``) and multiplied by 100;
* masked GPP (PML_V2 has no value over some deserts and winters) stays a missing target: the
  sample is kept as model input, and training and metrics skip it;
* a file without a ``gpp`` column gets ``gpp`` missing throughout (inputs to predict from).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stcg.data.config import BuildDataConfig
from stcg.data.dataset import DatasetMeta
from stcg.data.schema import (
    CENTRE_TOLERANCE,
    GPP_MIN_POSITIVE,
    GPP_Q99_MIN,
    GPP_Q99_REFERENCE,
    GPP_RANGE,
    IGBP_CLASSES,
    PERIODS_PER_YEAR,
    SNOW_COVER,
    TARGET,
    VARIABLES,
    cell_center,
    cell_id_for,
    grid_shape,
    negative_tolerance,
    sample_columns,
)
from stcg.data.writer import dataset_writer
from stcg.errors import StcgError

logger = logging.getLogger(__name__)

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


class IngestError(StcgError):
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


@dataclasses.dataclass
class IngestReport:
    """What ingestion changed in the values: it goes to ``meta.json`` (``extra.ingest``) and from
    there to the data card, and each kind of change is logged once as a warning.

    Attributes:
        clipped_negative: per non-negative flow band, how many small negative values (packing
            noise, within ``schema.negative_tolerance``) were set to 0.
        clipped_min: per such band, the most negative value clipped.
        inf_to_nan: per value column, how many +-inf values were read as missing.
        gpp_absent: files without a ``gpp`` column (their ``gpp`` is all missing).
        snow_cover: the snow-cover convention seen and the conversion applied.
        gpp_missing_share: per year, the share of samples without GPP (masked PML_V2 pixels).
        warnings: the warnings, in the order they were given.
    """

    clipped_negative: dict[str, int] = dataclasses.field(default_factory=dict)
    clipped_min: dict[str, float] = dataclasses.field(default_factory=dict)
    inf_to_nan: dict[str, int] = dataclasses.field(default_factory=dict)
    gpp_absent: list[str] = dataclasses.field(default_factory=list)
    snow_cover: dict[str, Any] = dataclasses.field(default_factory=dict)
    gpp_missing_share: dict[str, float] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    _first_file: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def warn(self, message: str) -> None:
        """Record and log one warning."""
        self.warnings.append(message)
        logger.warning(message)

    def count(self, kind: str, column: str, n: int, path: Path) -> None:
        """Add ``n`` changed values of ``column`` (``kind``: ``clipped_negative`` or
        ``inf_to_nan``); the first file is kept for the summary warning."""
        table = getattr(self, kind)
        table[column] = table.get(column, 0) + int(n)
        self._first_file.setdefault(f"{kind}:{column}", str(path))

    def summarise(self) -> None:
        """One warning per changed column (called once, after every file is read)."""
        for col, n in self.clipped_negative.items():
            self.warn(
                f"{col}: {n} small negative value(s) (down to {self.clipped_min[col]:.3g}, "
                f"within the tolerance {-negative_tolerance(col):g}) clipped to 0, first in "
                f"{self._first_file[f'clipped_negative:{col}']}: ERA5-Land flow sums carry "
                "packing noise around 0"
            )
        for col, n in self.inf_to_nan.items():
            self.warn(
                f"{col}: {n} infinite value(s) read as missing (they count toward the missing "
                f"share), first in {self._first_file[f'inf_to_nan:{col}']}"
            )

    def to_json(self) -> dict[str, Any]:
        """The ``ingest`` entry of ``meta.json`` and of the data card."""
        return {
            "clipped_negative": dict(sorted(self.clipped_negative.items())),
            "clipped_min": dict(sorted(self.clipped_min.items())),
            "inf_to_nan": dict(sorted(self.inf_to_nan.items())),
            "gpp_absent": list(self.gpp_absent),
            "snow_cover": dict(self.snow_cover),
            "gpp_missing_share": dict(self.gpp_missing_share),
            "warnings": list(self.warnings),
        }


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
_GPP_FIXES: tuple[tuple[float, str], ...] = (
    # factor that makes the values gC m-2 d-1, and what the values then look like
    (0.01, "PML_V2's stored integers (GPP x 100)"),
    (0.125, "8-day sums (gC m-2 per 8 days) where the daily mean gC m-2 d-1 is expected"),
    (0.001, "GPP x 1000 (mgC m-2 d-1?)"),
    (100.0, "GPP / 100"),
    (1000.0, "GPP / 1000 (kgC m-2 d-1?)"),
)
"""Plausible GPP scale mistakes; ingestion names the one whose corrected 99th percentile of the
positive values is nearest (in log) to ``schema.GPP_Q99_REFERENCE``."""


def _gpp_scale_hint(v: np.ndarray, gpp_scale: float, too_high: bool) -> str:
    """The likeliest scale mistake of GPP values ``v`` (after ``gpp_scale``), as a hint."""
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size == 0:
        return ""
    q99 = float(np.quantile(pos, 0.99))
    vmax = float(pos.max())
    # a slip must explain the bulk better than no slip (a lone outlier is not a scale mistake)
    best: tuple[float, float, str] | None = (abs(np.log10(q99 / GPP_Q99_REFERENCE)), 1.0, "")
    for factor, what in _GPP_FIXES:
        if (factor < 1.0) != too_high or vmax * factor > GPP_RANGE[1]:
            continue
        dist = abs(np.log10(q99 * factor / GPP_Q99_REFERENCE))
        if best is None or dist < best[0]:
            best = (dist, factor, what)
    assert best is not None
    _, factor, what = best
    if factor == 1.0:
        return ""
    return (f"; the values look like {what}: set build_data.files.gpp_scale: "
            f"{gpp_scale * factor:g} (now {gpp_scale:g})")


def check_gpp_distribution(path: Path, v: np.ndarray, gpp_scale: float, where: str) -> None:
    """Refuse GPP values (after ``gpp_scale``) whose bulk is implausibly small.

    The range check sees values too large; values divided by 100 or 1000 stay inside the range,
    so the 99th percentile of the positive values must reach ``schema.GPP_Q99_MIN`` (judged
    once there are ``schema.GPP_MIN_POSITIVE`` positive values).
    """
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size < GPP_MIN_POSITIVE:
        return
    q99 = float(np.quantile(pos, 0.99))
    if q99 < GPP_Q99_MIN:
        raise IngestError(
            path, TARGET,
            f"the 99th percentile of {where}'s positive values is {q99:.3g}, expected at least "
            f"{GPP_Q99_MIN:g} gC m-2 d-1 (PML_V2 8-day means reach about "
            f"{GPP_Q99_REFERENCE:g}){_gpp_scale_hint(v, gpp_scale, too_high=False)}",
        )


_MIN_PEAK = {"J m-2": 1e5}
"""Smallest plausible largest |value| of a whole file, per unit: real 8-day sums of radiation and
heat fluxes reach 1e6..1e8 J m-2, so a file whose values all stay below 1e5 holds W m-2 (mean
fluxes) or MJ m-2, which the range check alone would let through."""


def _range_hint(units: str, v: np.ndarray, lo: float, hi: float) -> str:
    vmin, vmax = float(np.nanmin(v)), float(np.nanmax(v))
    for factor, offset, hint in _UNIT_FIXES.get(units, ()):
        a, b = sorted((vmin * factor + offset, vmax * factor + offset))
        if lo <= a and b <= hi:
            return "; " + hint
    return ""


def _check_values(
    path: Path, col: str, v: np.ndarray, max_nan_share: float | None, gpp_scale: float = 1.0
) -> None:
    """NaN share (unless None), plausible range and unit hints of one value column."""
    nan_share = float(np.mean(~np.isfinite(v))) if v.size else 0.0
    if max_nan_share is not None and nan_share > max_nan_share:
        param = "max_gpp_nan_share" if col == TARGET else "max_nan_share"
        raise IngestError(
            path, col,
            f"{nan_share:.1%} of the values are missing, more than build_data.files."
            f"{param} = {max_nan_share:.1%}",
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
        if col == TARGET:
            hint = _gpp_scale_hint(v, gpp_scale, too_high=bool(np.nanmax(v) > hi))
        else:
            hint = _range_hint(units, v, lo, hi)
            tol = negative_tolerance(col)
            if tol and np.nanmin(v) < 0:
                hint += (f"; negatives down to {-tol:g} are clipped to 0 as packing noise, "
                         "larger ones are not")
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
    report: IngestReport | None = None,
) -> pd.DataFrame:
    """Check one file's table and bring it to the samples schema.

    Args:
        df: the table as read.
        path: the file (for messages).
        cfg: the stage config (variables, resolution, splits, files.*).
        path_year: the year from the file name, used when there is no ``year`` column.
        check_nan: check the NaN share of each value column in this table (``build_from_files``
            checks it per year instead, as a year may come in many small files).
        report: where clipped negatives, infinite values and a missing ``gpp`` column are
            counted (None: a fresh one, whose warnings are only logged).

    Returns:
        The rows with :func:`stcg.data.schema.sample_columns` (float64 values, cell-centre
        coordinates, ``gpp`` scaled by ``files.gpp_scale`` and all missing when the file has no
        ``gpp`` column, +-inf read as missing, small negative flow sums clipped to 0).

    Raises:
        IngestError: naming the file, the column and what was expected.
    """
    df = df.copy()
    report = report if report is not None else IngestReport()
    if "year" not in df.columns:
        if path_year is None:
            raise IngestError(path, "year", "missing: add a year column or put the year in the "
                                            "file name (e.g. climate2gpp_2001.csv)")
        df["year"] = path_year
    variables = list(cfg.variables)
    required = ["period", "land_cover", *variables]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise IngestError(
            path, missing[0],
            f"missing required column(s) {missing}; the file has {sorted(map(str, df.columns))}",
        )
    if TARGET not in df.columns:
        # inputs to predict from need no observed GPP; build_from_files decides whether the
        # dataset needs it (a training set does)
        df[TARGET] = np.nan
        report.gpp_absent.append(str(path))
        logger.warning("%s: no %r column: gpp is missing for its %d rows (fine for prediction; "
                       "a training set needs it)", path, TARGET, len(df))
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
            what = "infinite" if np.isinf(num[c][miss]).all() else "missing"
            raise IngestError(path, c, f"{int(miss.sum())} {what} value(s), first at row "
                                       f"{_first_row(miss)}; key columns must be complete "
                                       "finite numbers")
    for c in (*variables, TARGET):
        inf = np.isinf(num[c])
        if inf.any():
            num[c] = np.where(inf, np.nan, num[c])
            report.count("inf_to_nan", c, int(inf.sum()), path)
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
        _check_centres(path, num["lon"], num["lat"], cfg.resolution,
                       df.attrs.get(CENTRES_FROM))
        cid = cell_id_for(num["lon"], num["lat"], cfg.resolution)
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
    for c in variables:
        tol = negative_tolerance(c)
        small = (num[c] < 0.0) & (num[c] >= -tol)
        if small.any():
            report.clipped_min[c] = min(report.clipped_min.get(c, 0.0),
                                        float(num[c][small].min()))
            report.count("clipped_negative", c, int(small.sum()), path)
            num[c] = np.where(small, 0.0, num[c])
    for c in (*variables, TARGET):
        limit = None
        if check_nan and not (c == TARGET and str(path) in report.gpp_absent):
            limit = cfg.files.max_gpp_nan_share if c == TARGET else cfg.files.max_nan_share
        _check_values(path, c, num[c], limit, cfg.files.gpp_scale)
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


def _check_centres(
    path: Path, lon: np.ndarray, lat: np.ndarray, resolution: float, column: str | None
) -> None:
    """Coordinates must be cell centres (within ``schema.CENTRE_TOLERANCE`` of a cell).

    Corner or edge coordinates would silently shift the grid by one cell, so they are refused
    with the convention seen: points on the grid lines in both directions are cell corners (NW,
    SE or any other: the four cannot be told apart point by point).
    """
    fx = ((lon + 180.0) / resolution) % 1.0
    fy = ((90.0 - lat) / resolution) % 1.0
    dx, dy = fx - 0.5, fy - 0.5
    off = (np.abs(dx) > CENTRE_TOLERANCE) | (np.abs(dy) > CENTRE_TOLERANCE)
    if not off.any():
        return
    i = int(np.flatnonzero(off)[0])
    on_x = np.abs(np.abs(dx[off]) - 0.5) <= CENTRE_TOLERANCE
    on_y = np.abs(np.abs(dy[off]) - 0.5) <= CENTRE_TOLERANCE
    if on_x.all() and on_y.all():
        seen = ("all such points lie on grid-line crossings: cell corners (e.g. NW or SE), "
                f"not centres; shift them by half a cell ({resolution / 2:g} degrees) to the "
                "centres")
    elif on_x.all() or on_y.all():
        seen = (f"the {'longitudes' if on_x.all() else 'latitudes'} lie on grid lines (cell "
                f"edges), not centres; shift them by half a cell ({resolution / 2:g} degrees)")
    else:
        seen = (f"offset {dx[i]:+.3g}, {-dy[i]:+.3g} cells from the nearest centre: was the "
                f"file made at another resolution than build_data.resolution ({resolution:g})?")
    col = column or ("lon" if np.abs(dx[i]) > CENTRE_TOLERANCE else "lat")
    raise IngestError(
        path, col,
        f"point ({lon[i]:g}, {lat[i]:g}) at row {i + 1} is not a cell centre of the "
        f"{resolution:g}-degree grid (expected within {CENTRE_TOLERANCE:g} of a cell): {seen}",
    )


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


def read_file(
    path: Path, cfg: BuildDataConfig, root: Path, report: IngestReport | None = None
) -> pd.DataFrame:
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
    return normalise_frame(df, path, cfg, year_from_path(path), check_nan=False, report=report)


# ---- the whole build ------------------------------------------------------------------------


def build_from_files(
    input_dir: Path, out: Path, cfg: BuildDataConfig, require_target: bool = True
) -> DatasetMeta:
    """Ingest every file under ``input_dir`` into the dataset directory ``out`` (atomically).

    Files are read and checked one by one and staged per year inside the writer's temporary
    directory, then each year is assembled, checked for duplicates across files and written, so
    memory holds one file and one year at a time.  Between the two passes the snow-cover
    convention is decided over all files (:func:`snow_cover_factor`).

    Args:
        input_dir: the folder with the user's files (``data/files``).
        out: the dataset directory (``build/climate2gpp``).
        cfg: the ``build_data`` config.
        require_target: every year needs observed GPP (stage ``build_data``: the dataset
            trains and evaluates the models) and at most ``files.max_gpp_nan_share`` of it
            missing.  False ingests inputs to predict from: ``gpp`` may be absent or missing.

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
    report = IngestReport()
    with dataset_writer(out, meta) as writer:
        staging = writer.root / "_staging"
        for k, path in enumerate(tqdm(files, desc="build_data[files]: read", unit="file")):
            df = read_file(path, cfg, input_dir, report)
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
        report.summarise()
        snow = (snow_cover_factor(staging, cfg, report, input_dir)
                if SNOW_COVER in cfg.variables else 1.0)
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
            if snow != 1.0:
                df[SNOW_COVER] = (df[SNOW_COVER].to_numpy(np.float64) * snow).astype(np.float32)
            gpp = df[TARGET].to_numpy(np.float64)
            share = float(np.mean(~np.isfinite(gpp)))
            report.gpp_missing_share[str(year)] = share
            if require_target:
                _check_target(df, year, file_names, input_dir, report)
            _check_nan_shares(df, year, file_names, cfg, require_target)
            check_gpp_distribution(_worst_file(df, file_names), gpp, cfg.files.gpp_scale,
                                   f"year {year}")
            writer.write_year(year, df.drop(columns=["_file"]))
            del df
        shutil.rmtree(staging)
        cells = _cells_table(lc_counts, cfg.resolution)
        writer.write_cells(cells)
        meta = dataclasses.replace(
            meta,
            n_cells=len(cells),
            extra={"files": provenance, "gpp_scale": cfg.files.gpp_scale,
                   "ingest": report.to_json()},
        )
        writer.meta = meta
    return meta


def _stage(df: pd.DataFrame, path: Path) -> None:
    """A temporary per-(file, year) part (float32 values, as the dataset stores them)."""
    import pyarrow as pa

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="lz4")


def _worst_file(df: pd.DataFrame, files: dict[int, Path]) -> Path:
    """The file with the most rows of a year (named by year-level value checks)."""
    return files[int(df["_file"].value_counts().sort_index().idxmax())]


def _check_target(
    df: pd.DataFrame, year: int, files: dict[int, Path], input_dir: Path, report: IngestReport
) -> None:
    """A training / evaluation dataset needs observed GPP in every year."""
    if np.isfinite(df[TARGET].to_numpy(np.float64)).any():
        return
    absent = [files[k] for k in sorted(df["_file"].unique()) if str(files[k]) in report.gpp_absent]
    why = (f"{len(absent)} file(s) have no gpp column, e.g. {absent[0]}" if absent
           else "every gpp value is missing (masked)")
    raise IngestError(
        absent[0] if absent else input_dir, TARGET,
        f"no observed GPP in year {year} ({why}); stage build_data builds the dataset the "
        "models train and are evaluated on, so every year needs gpp (PML_V2, gC m-2 d-1); to "
        "ingest inputs only to predict from, use `stcg ingest`",
    )


def snow_cover_factor(
    staging: Path, cfg: BuildDataConfig, report: IngestReport, where: Path
) -> float:
    """The factor that brings ``snow_cover`` to % (1 or 100), decided over every file.

    ``files.snow_cover_units: auto`` reads the column as a fraction (the Earth Engine catalog's
    current convention) when its largest value over all files is at most 1, else as %;
    ``percent`` or ``fraction`` say it outright.  The choice goes to the data card, and a
    conversion is also a warning.
    """
    vmax = -np.inf
    for part in sorted(staging.glob("year=*/*.parquet")):
        v = pq.read_table(part, columns=[SNOW_COVER]).column(0).to_numpy(zero_copy_only=False)
        v = np.asarray(v, dtype=np.float64)
        if np.isfinite(v).any():
            vmax = max(vmax, float(np.nanmax(v)))
    setting = cfg.files.snow_cover_units
    if setting == "auto":
        seen = "fraction" if vmax <= 1.0 else "percent"
    else:
        seen = setting
        if setting == "fraction" and vmax > 1.0:
            raise IngestError(
                where, SNOW_COVER,
                f"build_data.files.snow_cover_units is fraction but the largest value is "
                f"{vmax:g}, expected at most 1: the files hold %, set snow_cover_units: percent "
                "(or auto)",
            )
    factor = 100.0 if seen == "fraction" else 1.0
    report.snow_cover = {
        "setting": setting, "seen": seen, "max_seen": vmax if np.isfinite(vmax) else None,
        "stored": "percent", "factor": factor,
    }
    if factor != 1.0:
        report.warn(
            f"{SNOW_COVER}: largest value {vmax:g} over all files <= 1, read as a fraction (0-1) "
            f"and converted to % (x100){' (auto)' if setting == 'auto' else ''}; set "
            "build_data.files.snow_cover_units: percent if the files hold % of a snow-poor region"
        )
    return factor


def _check_nan_shares(
    df: pd.DataFrame, year: int, files: dict[int, Path], cfg: BuildDataConfig,
    check_target: bool = True,
) -> None:
    """Missing share of every value column over one year; the error names the worst file.

    Features are held to ``files.max_nan_share``; ``gpp`` (masked PML_V2 pixels: a NaN target,
    the sample kept as model input) to ``files.max_gpp_nan_share``, unless ``check_target`` is
    off (inputs to predict from).
    """
    for c in (*cfg.variables, *([TARGET] if check_target else [])):
        limit = cfg.files.max_gpp_nan_share if c == TARGET else cfg.files.max_nan_share
        param = "max_gpp_nan_share" if c == TARGET else "max_nan_share"
        miss = df[c].isna()
        share = float(miss.mean())
        if share <= limit:
            continue
        per_file = miss.groupby(df["_file"]).mean().sort_values(ascending=False, kind="stable")
        worst = int(per_file.index[0])
        raise IngestError(
            files[worst], c,
            f"{share:.1%} of year {year}'s values are missing, more than build_data.files."
            f"{param} = {limit:.1%} (this file: {per_file.iloc[0]:.1%} missing)",
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
