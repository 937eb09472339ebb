"""Readers of the input files (Parquet, CSV, NetCDF, GeoTIFF) into raw tables, and the
file discovery.  See :mod:`stcg.data.files` for the formats.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stcg.data.files.validation import CENTRES_FROM, IngestError
from stcg.data.periods import period_of_doy
from stcg.data.schema import (
    TARGET,
    VARIABLES,
)

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
        df["period"] = period_of_doy(times.dt.day_of_year.to_numpy())
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
