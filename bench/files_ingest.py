"""Benchmark of the ``files`` source: ingestion of Earth Engine-shaped exports (rows/s, peak RSS).

Generates synthetic exports (random plausible values, ``N`` land cells of the grid, every period
of the requested years) in a temporary folder, shaped like ``stcg gee-export`` writes them --
one CSV per year (``system:index``, ``.geo``, empty fields for missing values) or one LZW GeoTIFF
per period -- then runs :func:`stcg.data.files.build_from_files` in a child process and reports
the ingestion's wall time, rows per second and the child's peak resident memory as JSON.

    PYTHONPATH=src python bench/files_ingest.py --cells 2000 --years 2 --format csv
    PYTHONPATH=src python bench/files_ingest.py --cells 61000 --years 2 --resolution 0.5  # paper

Never asserts timings.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.config import from_dict
from stcg.data.config import BuildDataConfig
from stcg.data.schema import PERIODS_PER_YEAR, TARGET, VARIABLES, cell_center, grid_shape


def _cells(n: int, resolution: float, seed: int) -> np.ndarray:
    n_lat, n_lon = grid_shape(resolution)
    rows = round(150.0 / resolution)  # 90N .. 60S
    pool = rows * n_lon
    if n > pool:
        raise SystemExit(f"--cells {n} exceeds the {pool} cells of the grid north of 60S")
    return np.sort(np.random.default_rng(seed).choice(pool, n, replace=False))


def _year_frame(cells: np.ndarray, year: int, resolution: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed + year)
    n = len(cells)
    cid = np.repeat(cells, PERIODS_PER_YEAR)
    lon, lat = cell_center(cid, resolution)
    df = pd.DataFrame({
        "land_cover": np.repeat(rng.integers(1, 15, n), PERIODS_PER_YEAR),
        "year": year,
        "period": np.tile(np.arange(PERIODS_PER_YEAR), n),
    })
    for v, spec in VARIABLES.items():
        u = rng.uniform(0.35, 0.65, len(df)).astype(np.float32)
        df[v] = spec.lo + u * (spec.hi - spec.lo)
    df[TARGET] = rng.uniform(0.0, 12.0, len(df)).astype(np.float32)
    df.loc[rng.random(len(df)) < 0.05, TARGET] = np.nan
    df["lon"], df["lat"] = lon, lat
    return df


def write_inputs(folder: Path, fmt: str, n_cells: int, years: list[int], resolution: float,
                 seed: int = 0) -> int:
    """Write the synthetic exports; returns the number of rows."""
    cells = _cells(n_cells, resolution, seed)
    rows = 0
    for year in years:
        df = _year_frame(cells, year, resolution, seed)
        rows += len(df)
        if fmt == "csv":
            geo = ('{"type":"Point","coordinates":[' + df["lon"].map(repr) + ","
                   + df["lat"].map(repr) + "]}")
            out = df.drop(columns=["lon", "lat"])
            out.insert(0, "system:index", [f"{p}_{i}" for i, p in enumerate(df["period"])])
            out[".geo"] = geo
            out.to_csv(folder / f"climate2gpp_bench_{year}.csv", index=False, na_rep="")
        elif fmt == "parquet":
            df.to_parquet(folder / f"climate2gpp_bench_{year}.parquet")
        else:
            import tifffile

            bands = ["land_cover", *VARIABLES, TARGET]
            n_lat, n_lon = grid_shape(resolution)
            n_rows = round(150.0 / resolution)
            r, c = np.divmod(cells, n_lon)
            geokeys = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326)
            meta = "".join(f'<Item name="DESCRIPTION" sample="{i}" role="description">{b}</Item>'
                           for i, b in enumerate(bands))
            for p in range(PERIODS_PER_YEAR):
                part = df[df["period"] == p]
                img = np.full((n_rows, n_lon, len(bands)), -9999.0, dtype=np.float32)
                for j, b in enumerate(bands):
                    img[r, c, j] = np.nan_to_num(part[b].to_numpy(np.float32), nan=-9999.0)
                tifffile.imwrite(
                    folder / f"climate2gpp_bench_{year}_p{p:02d}.tif", img,
                    photometric="minisblack", planarconfig="contig", compression="lzw",
                    extratags=[(33550, 12, 3, (resolution, resolution, 0.0), True),
                               (33922, 12, 6, (0, 0, 0, -180.0, 90.0, 0), True),
                               (34735, 3, len(geokeys), geokeys, True),
                               (42112, 2, 0, f"<GDALMetadata>{meta}</GDALMetadata>", True),
                               (42113, 2, 0, "-9999", True)])
    return rows


def _ingest(args: tuple[str, str, dict]) -> float:
    from stcg.data.files import build_from_files

    inp, out, cfg_dict = args
    cfg = from_dict(BuildDataConfig, cfg_dict)
    t0 = time.perf_counter()
    build_from_files(Path(inp), Path(out), cfg)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print and return its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=2000)
    ap.add_argument("--years", type=int, default=2)
    ap.add_argument("--resolution", type=float, default=0.5)
    ap.add_argument("--format", choices=["csv", "parquet", "geotiff"], default="csv")
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    a = ap.parse_args(argv)
    if a.years < 2:
        raise SystemExit("--years must be at least 2 (train years and the test year 2020)")
    years = list(range(2020 - a.years + 1, 2021))
    cfg = {
        "source": "files", "seed": 0, "resolution": a.resolution, "variables": list(VARIABLES),
        "splits": {"train_years": [years[0], 2019], "test_years": [2020, 2020]},
    }
    with tempfile.TemporaryDirectory(prefix="stcg-bench-") as tmp:
        inp = Path(tmp) / "files"
        inp.mkdir()
        t0 = time.perf_counter()
        rows = write_inputs(inp, a.format, a.cells, years, a.resolution)
        gen = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in inp.iterdir())
        ctx = mp.get_context("spawn")
        with ctx.Pool(1) as pool:
            seconds = pool.apply(_ingest, ((str(inp), str(Path(tmp) / "ds"), cfg),))
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "format": a.format, "cells": a.cells, "years": len(years), "resolution": a.resolution,
        "rows": rows, "input_mb": round(size / 2**20, 1), "generate_s": round(gen, 2),
        "ingest_s": round(seconds, 2), "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }
    print(json.dumps(result))
    if a.json is not None:
        a.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
