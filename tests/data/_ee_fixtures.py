"""Fixture files shaped like Earth Engine's exports, and a small truth table behind them.

* :func:`truth_frame` -- a long table in the schema (a few land cells of the 10-degree grid, two
  years, 46 periods) with plausible values for every variable and some missing ones.
* :func:`write_ee_csv` -- Earth Engine's CSV table export as ``stcg gee-export`` requests it
  (selectors ``system:index, land_cover, year, period, <variables>, gpp, .geo``): ``system:index``
  like ``3_12`` (collection of collections, flattened), doubles written either plainly or in
  Java's ``1.2345E8`` notation, missing values as empty fields, ``.geo`` a quoted GeoJSON point.
* :func:`write_ee_geotiff` -- Earth Engine's GeoTIFF image export of one period: float32,
  pixel-interleaved, LZW-compressed, band names as GDAL band descriptions (``GDAL_METADATA``),
  ``GDAL_NODATA`` -9999, geo-referenced by ``ModelPixelScale`` + ``ModelTiepoint`` in EPSG:4326,
  optionally split into tiles named ``<prefix>-RRRRRRRRRR-CCCCCCCCCC.tif``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.config import from_dict
from stcg.data.config import BuildDataConfig
from stcg.data.schema import PERIODS_PER_YEAR, TARGET, VARIABLES, cell_center, cell_id_for

RES = 10.0
"""Grid spacing of the fixtures (18 x 36 cells)."""

# (lon, lat) of a few cell centres of the 10-degree grid, and their land cover
CELLS = [(-115.0, 45.0, 1), (15.0, 45.0, 12), (25.0, 5.0, 2), (135.0, -25.0, 7),
         (-55.0, -5.0, 2), (95.0, 65.0, 10)]
"""Fixture cells: (lon, lat, IGBP class)."""


def make_cfg(**files) -> BuildDataConfig:
    """The build_data config of the fixtures (10-degree grid, train 2019, test 2020)."""
    return from_dict(BuildDataConfig, {
        "source": "files", "seed": 0, "resolution": RES, "variables": list(VARIABLES),
        "splits": {"train_years": [2019, 2019], "test_years": [2020, 2020]},
        "files": files,
    })


def truth_frame(years: tuple[int, ...] = (2019, 2020), seed: int = 0,
                variables: tuple[str, ...] = tuple(VARIABLES)) -> pd.DataFrame:
    """A schema long table with plausible values (mid-range of each variable's span)."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in years:
        for lon, lat, lc in CELLS:
            for p in range(PERIODS_PER_YEAR):
                rows.append((lon, lat, year, p, lc))
    df = pd.DataFrame(rows, columns=["lon", "lat", "year", "period", "land_cover"])
    df.insert(0, "cell_id", cell_id_for(df["lon"].to_numpy(), df["lat"].to_numpy(), RES))
    n = len(df)
    for v in variables:
        spec = VARIABLES[v]
        u = rng.uniform(0.35, 0.65, n)
        df[v] = (spec.lo + u * (spec.hi - spec.lo)).astype(np.float32).astype(np.float64)
    df[TARGET] = rng.uniform(0.0, 12.0, n).astype(np.float32).astype(np.float64)
    # a few missing values, as Earth Engine leaves them (masked pixels)
    df.loc[df.index[::17], TARGET] = np.nan
    df.loc[df.index[5::29], "snow_cover"] = np.nan
    return df


def _num(x: float, java: bool) -> str:
    if not np.isfinite(x):
        return ""
    if java:
        mant, exp = f"{x:.9E}".split("E")
        return f"{mant.rstrip('0').rstrip('.') if '.' in mant else mant}E{int(exp)}"
    return repr(float(x))


def write_ee_csv(path: Path, df: pd.DataFrame, variables: tuple[str, ...] = tuple(VARIABLES),
                 geo_style: str = "plain") -> Path:
    """Write ``df`` as Earth Engine writes a table export (see module docstring)."""
    cols = ["system:index", "land_cover", "year", "period", *variables, TARGET, ".geo"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        inner: dict[int, int] = {}
        for _, r in df.iterrows():
            p = int(r["period"])
            k = inner.get(p, 0)
            inner[p] = k + 1
            if geo_style == "geodesic":
                geo = {"geodesic": False, "type": "Point", "coordinates": [r["lon"], r["lat"]]}
            else:
                geo = {"type": "Point", "coordinates": [r["lon"], r["lat"]]}
            row = [f"{p}_{k}", str(int(r["land_cover"])), str(int(r["year"])), str(p)]
            for v in (*variables, TARGET):
                java = v.endswith("_sum") and not v.startswith(("total_", "potential_"))
                row.append(_num(float(r[v]), java))
            row.append(json.dumps(geo, separators=(",", ":")))
            w.writerow(row)
    return path


def _gdal_metadata(bands: list[str]) -> str:
    items = "".join(
        f'<Item name="DESCRIPTION" sample="{i}" role="description">{b}</Item>'
        for i, b in enumerate(bands)
    )
    return f"<GDALMetadata>{items}</GDALMetadata>"


def grid_image(df: pd.DataFrame, year: int, period: int, bands: list[str],
               min_lat: float = -60.0) -> np.ndarray:
    """``[rows, cols, bands]`` float32 image of one period on the grid, -9999 off the cells."""
    n_rows, n_cols = round((90.0 - min_lat) / RES), round(360.0 / RES)
    img = np.full((n_rows, n_cols, len(bands)), -9999.0, dtype=np.float32)
    sel = df[(df["year"] == year) & (df["period"] == period)]
    rows = np.floor((90.0 - sel["lat"].to_numpy()) / RES).astype(int)
    cols = np.floor((sel["lon"].to_numpy() + 180.0) / RES).astype(int)
    for j, b in enumerate(bands):
        v = sel[b].to_numpy(np.float64)
        img[rows, cols, j] = np.where(np.isfinite(v), v, -9999.0)
    return img


def write_geotiff(path: Path, img: np.ndarray, lon0: float, lat0: float, res: float = RES,
                  bands: list[str] | None = None, epsg: int = 4326, projected: bool = False,
                  nodata: str | None = "-9999", compression: str = "lzw",
                  pixel_is_point: bool = False) -> Path:
    """Write a pixel-interleaved GeoTIFF whose upper-left corner is (lon0, lat0).

    With ``pixel_is_point`` the raster type is PixelIsPoint and the tie point is the centre of
    the first pixel, as such files are written.
    """
    import tifffile

    geokeys = [1, 1, 0, 4,
               1024, 0, 1, 1 if projected else 2,       # GTModelType: projected / geographic
               1025, 0, 1, 2 if pixel_is_point else 1,  # GTRasterType: point / area
               3072 if projected else 2048, 0, 1, epsg,  # ProjectedCSType / GeographicType
               2054, 0, 1, 9102]                        # angular units: degree
    if pixel_is_point:
        lon0, lat0 = lon0 + res / 2, lat0 - res / 2
    extratags = [
        (33550, 12, 3, (res, res, 0.0), True),                 # ModelPixelScale
        (33922, 12, 6, (0.0, 0.0, 0.0, lon0, lat0, 0.0), True),  # ModelTiepoint
        (34735, 3, len(geokeys), tuple(geokeys), True),          # GeoKeyDirectory
    ]
    if bands is not None:
        extratags.append((42112, 2, 0, _gdal_metadata(bands), True))
    if nodata is not None:
        extratags.append((42113, 2, 0, nodata, True))
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, img, photometric="minisblack", planarconfig="contig",
                     compression=compression, extratags=extratags)
    return path


def write_ee_geotiff(folder: Path, prefix: str, df: pd.DataFrame, year: int, period: int,
                     variables: tuple[str, ...] = tuple(VARIABLES), describe: bool = True,
                     tiles: int = 1) -> list[Path]:
    """One period as Earth Engine exports it (split into ``tiles`` column tiles if > 1)."""
    bands = ["land_cover", *variables, TARGET]
    img = grid_image(df, year, period, bands)
    n_cols = img.shape[1]
    if tiles == 1:
        return [write_geotiff(folder / f"{prefix}.tif", img, -180.0, 90.0,
                              bands=bands if describe else None)]
    out = []
    edges = np.linspace(0, n_cols, tiles + 1).astype(int)
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        name = f"{prefix}-{0:010d}-{a:010d}.tif"
        out.append(write_geotiff(folder / name, np.ascontiguousarray(img[:, a:b]),
                                 -180.0 + a * RES, 90.0, bands=bands if describe else None))
    return out


def centres(cell_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres of the fixture grid."""
    return cell_center(cell_id, RES)
