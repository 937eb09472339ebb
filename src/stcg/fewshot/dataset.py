"""The few-shot dataset of paper Section 4.3 (Tables 2 and 3): stage ``build_fewshot``.

``n_cells`` cells drawn uniformly at random, without replacement, from the land cells whose
climatology is complete; for each cell and each of the 46 8-day periods the mean over the
*training* years of the 26 ERA5-Land variables and of GPP (the paper's "average data from every
8 days over 19 years"); IGBP land cover (static, from the cells table) as a 27th covariate unless
switched off; a random cell split, ``test_fraction`` held out.

The paper's "Week NN" is period ``NN - 1``: :func:`stcg.data.periods.week_to_period`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stcg.data.dataset import read_cells, read_meta
from stcg.data.schema import PERIODS_PER_YEAR, TARGET
from stcg.io import atomic_path

LAND_COVER = "land_cover"


@dataclass
class FewShot:
    """The few-shot dataset.

    Attributes:
        cell_id, lon, lat, land_cover: ``[N]`` per cell.
        is_test: ``[N]`` held-out cells.
        x: ``[N, 46, F]`` float64 climatological covariates.
        y: ``[N, 46]`` float64 climatological GPP.
        features: the F covariate names.
        meta: provenance (years, seed, counts).
    """

    cell_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    land_cover: np.ndarray
    is_test: np.ndarray
    x: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of cells."""
        return int(self.cell_id.shape[0])

    @property
    def coords(self) -> np.ndarray:
        """``[N, 2]`` (lon, lat) in degrees."""
        return np.stack([self.lon, self.lat], axis=1)

    @property
    def train(self) -> np.ndarray:
        """``[N]`` training cells."""
        return ~self.is_test


def climatology(
    root: str | Path,
    years: tuple[int, ...],
    variables: tuple[str, ...],
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per-cell, per-period means over ``years`` of the variables and of GPP.

    Reads one year at a time (memory ``O(cells x 46 x F)``); NaNs are skipped, so a mean is NaN
    only when every year is missing.

    Returns:
        ``(cells, x [C, 46, F], y [C, 46])`` with ``cells`` the dataset's cells table.
    """
    root = Path(root)
    cells = read_cells(root)
    ids = cells["cell_id"].to_numpy()
    c, f = len(ids), len(variables)
    sx = np.zeros((c, PERIODS_PER_YEAR, f))
    nx = np.zeros((c, PERIODS_PER_YEAR, f))
    sy = np.zeros((c, PERIODS_PER_YEAR))
    ny = np.zeros((c, PERIODS_PER_YEAR))
    for k, year in enumerate(years):
        files = sorted((root / "samples" / f"year={year}").glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"{root}/samples/year={year}: no parquet files")
        for path in files:
            cols = ["cell_id", "period", *variables, TARGET]
            schema = pq.read_schema(path)
            missing = [col for col in cols if col not in schema.names]
            if missing:
                raise ValueError(f"{path}: missing columns {missing}")
            t = pq.read_table(path, columns=cols)
            ci = np.searchsorted(ids, t.column("cell_id").to_numpy())
            if np.any(ci >= c) or np.any(ids[np.minimum(ci, c - 1)] != t.column("cell_id").to_numpy()):
                raise ValueError(f"{path}: cell_id not in cells.parquet")
            pi = t.column("period").to_numpy().astype(np.int64)
            xv = np.stack([t.column(v).to_numpy(zero_copy_only=False) for v in variables], 1)
            xv = xv.astype(np.float64)
            yv = t.column(TARGET).to_numpy(zero_copy_only=False).astype(np.float64)
            okx, oky = np.isfinite(xv), np.isfinite(yv)
            np.add.at(sx, (ci, pi), np.where(okx, xv, 0.0))
            np.add.at(nx, (ci, pi), okx)
            np.add.at(sy, (ci, pi), np.where(oky, yv, 0.0))
            np.add.at(ny, (ci, pi), oky)
        if progress is not None:
            progress(k + 1, len(years))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cells, sx / nx, sy / ny


def build_fewshot(
    root: str | Path,
    n_cells: int,
    test_fraction: float,
    seed: int,
    land_cover: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> FewShot:
    """Build the few-shot dataset from a Climate2GPP dataset (module docstring).

    Args:
        root: the dataset directory (stage ``build_data``'s output).
        n_cells: cells to sample (all complete cells if there are fewer).
        test_fraction: share of the sampled cells held out.
        seed: sampling and split seed.
        land_cover: append the IGBP land-cover code as a covariate.
        progress: ``(years_done, years_total)`` callback.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if n_cells < 2:
        raise ValueError(f"n_cells must be >= 2, got {n_cells}")
    meta = read_meta(root)
    years = tuple(meta.train_years)
    cells, x, y = climatology(root, years, tuple(meta.variables), progress)
    complete = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(y).all(axis=1)
    eligible = np.flatnonzero(complete)
    n = min(int(n_cells), len(eligible))
    if n < 2:
        raise ValueError(f"{root}: only {len(eligible)} cells have a complete climatology")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(eligible, size=n, replace=False))
    n_test = max(1, min(n - 1, int(round(n * test_fraction))))
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.permutation(n)[:n_test]] = True
    features = tuple(meta.variables)
    xs = x[chosen]
    lc = cells["land_cover"].to_numpy()[chosen].astype(np.int64)
    if land_cover:
        features = (*features, LAND_COVER)
        xs = np.concatenate([xs, np.broadcast_to(lc[:, None, None].astype(np.float64),
                                                 (n, PERIODS_PER_YEAR, 1))], axis=2)
    return FewShot(
        cell_id=cells["cell_id"].to_numpy()[chosen].astype(np.int64),
        lon=cells["lon"].to_numpy(np.float64)[chosen],
        lat=cells["lat"].to_numpy(np.float64)[chosen],
        land_cover=lc,
        is_test=is_test,
        x=xs,
        y=y[chosen],
        features=features,
        meta={
            "train_years": list(years),
            "n_cells_requested": int(n_cells),
            "n_cells": n,
            "n_complete_cells": int(len(eligible)),
            "n_land_cells": int(len(cells)),
            "n_test": int(n_test),
            "n_train": int(n - n_test),
            "test_fraction": float(test_fraction),
            "seed": int(seed),
            "source": meta.source,
            "resolution": meta.resolution,
        },
    )


def write_fewshot(fs: FewShot, out: str | Path) -> None:
    """Write ``out/samples.parquet`` (one row per cell and period) and ``out/meta.json``."""
    n = fs.n
    frame = {
        "cell_id": np.repeat(fs.cell_id, PERIODS_PER_YEAR).astype(np.int32),
        "lon": np.repeat(fs.lon, PERIODS_PER_YEAR),
        "lat": np.repeat(fs.lat, PERIODS_PER_YEAR),
        "land_cover": np.repeat(fs.land_cover, PERIODS_PER_YEAR).astype(np.int8),
        "is_test": np.repeat(fs.is_test, PERIODS_PER_YEAR),
        "period": np.tile(np.arange(PERIODS_PER_YEAR, dtype=np.int8), n),
    }
    for j, name in enumerate(fs.features):
        frame[f"x_{name}"] = fs.x[:, :, j].reshape(-1)
    frame[TARGET] = fs.y.reshape(-1)
    df = pd.DataFrame(frame)
    meta = {**fs.meta, "features": list(fs.features)}
    with atomic_path(out) as tmp:
        tmp.mkdir()
        table = pa.Table.from_pandas(df, preserve_index=False)
        pq.write_table(table.replace_schema_metadata(None), tmp / "samples.parquet",
                       compression="zstd")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_fewshot_meta(root: str | Path) -> dict:
    """The ``meta.json`` of a few-shot dataset (features, weeks, counts, provenance)."""
    path = Path(root) / "meta.json"
    if not path.exists():
        raise FileNotFoundError(f"{Path(root)}: not a few-shot dataset (run `dvc repro build_fewshot`)")
    return json.loads(path.read_text())


def read_fewshot(root: str | Path) -> FewShot:
    """Read a few-shot dataset written by :func:`write_fewshot`."""
    root = Path(root)
    meta = read_fewshot_meta(root)
    features = tuple(meta.pop("features"))
    df = pd.read_parquet(root / "samples.parquet").sort_values(["cell_id", "period"])
    n = len(df) // PERIODS_PER_YEAR
    if n * PERIODS_PER_YEAR != len(df):
        raise ValueError(f"{root}/samples.parquet: {len(df)} rows is not {PERIODS_PER_YEAR} per cell")
    first = df.iloc[::PERIODS_PER_YEAR]
    x = np.stack([df[f"x_{f}"].to_numpy(np.float64) for f in features], 1)
    return FewShot(
        cell_id=first["cell_id"].to_numpy(np.int64),
        lon=first["lon"].to_numpy(np.float64),
        lat=first["lat"].to_numpy(np.float64),
        land_cover=first["land_cover"].to_numpy(np.int64),
        is_test=first["is_test"].to_numpy(bool),
        x=x.reshape(n, PERIODS_PER_YEAR, len(features)),
        y=df[TARGET].to_numpy(np.float64).reshape(n, PERIODS_PER_YEAR),
        features=features,
        meta=meta,
    )
