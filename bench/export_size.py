"""Size of ``stcg gee-export`` outputs: bytes per row of the CSV, full precision and rounded
(``--digits``), and bytes per period of the GeoTIFF, projected to a year and to the paper's span.

The land cells are those of the 0.5-degree grid north of 60S where the pinned GLDAS land mask
(``data/gldas``, 0.25 degree) has land in at least half of the four sub-cells.  Values are random
plausible doubles (``schema.VARIABLES`` ranges, 5 % of gpp missing), printed as shortest
round-trip decimals as Earth Engine's CSV writer prints doubles; ``--digits`` rounds them as the
export does (:func:`stcg.data.gee.round_values`).  A sample of ``--sample-cells`` cells is
written and measured; sizes are projected linearly in rows.  GeoTIFFs: one period, LZW float32
(Earth Engine's export format), of every land cell.

    PYTHONPATH=src python bench/export_size.py --json reports/bench/export_size.json

Random values compress worse than real fields, so the GeoTIFF figure is an upper bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.data.gee import ExportRecipe, round_values
from stcg.data.schema import PERIODS_PER_YEAR, TARGET, VARIABLES, grid_shape

RES = 0.5


def land_cells(data: Path) -> np.ndarray:
    """Cell ids of the 0.5-degree land cells north of 60S (GLDAS land mask)."""
    import xarray as xr

    with xr.open_dataset(data / "gldas" / "GLDASp4_landmask_025d.nc4") as ds:
        da = ds["GLDAS_mask"].squeeze(drop=True)
        lat = da["lat"].to_numpy()
        lon = da["lon"].to_numpy()
        mask = np.nan_to_num(da.to_numpy().astype(np.float64)) > 0
    n_lat, n_lon = grid_shape(RES)
    frac = np.zeros((n_lat, n_lon))
    count = np.zeros((n_lat, n_lon))
    rows = np.clip(np.floor((90.0 - lat) / RES).astype(int), 0, n_lat - 1)
    cols = np.clip(np.floor(((lon + 180.0) % 360.0) / RES).astype(int), 0, n_lon - 1)
    np.add.at(frac, (rows[:, None], cols[None, :]), mask)
    np.add.at(count, (rows[:, None], cols[None, :]), 1.0)
    land = (frac >= 2.0) & (np.arange(n_lat)[:, None] < round(150.0 / RES))
    return np.flatnonzero(land.ravel())


def values(n: int, seed: int) -> pd.DataFrame:
    """Random plausible doubles of every band (as Earth Engine's means are doubles)."""
    rng = np.random.default_rng(seed)
    out = {v: spec.lo + rng.uniform(0.35, 0.65, n) * (spec.hi - spec.lo)
           for v, spec in VARIABLES.items()}
    gpp = rng.uniform(0.0, 12.0, n)
    gpp[rng.random(n) < 0.05] = np.nan
    out[TARGET] = gpp
    return pd.DataFrame(out)


def csv_bytes(cells: np.ndarray, digits: int | None, seed: int = 0) -> tuple[int, int]:
    """(bytes, rows) of one year's CSV of ``cells`` as ``stcg gee-export`` writes it."""
    from stcg.data.schema import cell_center

    cid = np.repeat(cells, PERIODS_PER_YEAR)
    period = np.tile(np.arange(PERIODS_PER_YEAR), len(cells))
    df = values(len(cid), seed)
    if digits is not None:
        recipe = ExportRecipe(digits=digits)
        cols = [*recipe.variables, TARGET]
        df[cols] = round_values(df[cols].to_numpy(), recipe)
    lon, lat = cell_center(cid, RES)
    geo = ('{"type":"Point","coordinates":[' + pd.Series(lon).map(repr) + ","
           + pd.Series(lat).map(repr) + "]}")
    out = pd.concat([
        pd.DataFrame({"system:index": [f"{p}_{i}" for i, p in enumerate(period)],
                      "land_cover": 10, "year": 2001, "period": period}),
        df, pd.DataFrame({".geo": geo})], axis=1)
    text = out.to_csv(index=False, na_rep="", float_format=None)
    return len(text.encode()), len(out)


def geotiff_bytes(cells: np.ndarray, digits: int | None, folder: Path, seed: int = 0) -> int:
    """Bytes of one period's LZW float32 GeoTIFF of every land cell."""
    import tifffile

    n_lat, n_lon = grid_shape(RES)
    n_rows = round(150.0 / RES)
    bands = ["land_cover", *VARIABLES, TARGET]
    img = np.full((n_rows, n_lon, len(bands)), -9999.0, dtype=np.float32)
    df = values(len(cells), seed)
    if digits is not None:
        recipe = ExportRecipe(digits=digits)
        df[[*recipe.variables, TARGET]] = round_values(df.to_numpy(), recipe)
    r, c = np.divmod(cells, n_lon)
    img[r, c, 0] = 10.0
    for j, b in enumerate(bands[1:], start=1):
        img[r, c, j] = np.nan_to_num(df[b].to_numpy(np.float32), nan=-9999.0)
    path = folder / f"p_{digits}.tif"
    tifffile.imwrite(path, img, photometric="minisblack", planarconfig="contig",
                     compression="lzw")
    return path.stat().st_size


def main(argv: list[str] | None = None) -> dict:
    """Measure, project, print (and optionally write) the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--sample-cells", type=int, default=2000)
    ap.add_argument("--digits", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    cells = land_cells(a.data)
    sample = cells[np.linspace(0, len(cells) - 1, min(a.sample_cells, len(cells))).astype(int)]
    periods_total = len(ExportRecipe().periods)  # the paper's span: 918 periods
    rows_year = len(cells) * PERIODS_PER_YEAR
    rows_span = len(cells) * periods_total
    result: dict = {"resolution": RES, "land_cells": int(len(cells)), "rows_per_year": rows_year,
                    "rows_2001_2020": rows_span, "csv": {}, "geotiff": {}}
    with tempfile.TemporaryDirectory(prefix="stcg-size-") as tmp:
        for digits in (None, a.digits):
            key = "full" if digits is None else f"digits_{digits}"
            size, rows = csv_bytes(sample, digits)
            per_row = size / rows
            result["csv"][key] = {
                "bytes_per_row": round(per_row, 1),
                "gb_per_year": round(per_row * rows_year / 1e9, 2),
                "gb_2001_2020": round(per_row * rows_span / 1e9, 1),
            }
            tif = geotiff_bytes(cells, digits, Path(tmp))
            result["geotiff"][key] = {
                "mb_per_period": round(tif / 1e6, 1),
                "gb_per_year": round(tif * PERIODS_PER_YEAR / 1e9, 2),
                "gb_2001_2020": round(tif * periods_total / 1e9, 1),
            }
    print(json.dumps(result, indent=2))
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
