"""Reading a built Climate2GPP dataset (the output of stage ``build_data``).

Layout of a dataset directory (every source writes the same)::

    meta.json                 DatasetMeta: source, variables, years, splits, grid
    cells.parquet             one row per land cell: cell_id, lon, lat, land_cover, static layers
    samples/year=YYYY/*.parquet   the long table (schema.py), sorted by (cell_id, period)
    truth/year=YYYY/*.parquet     simulator only: per-sample sensitivities and limiting factor
    truth_cells.parquet           simulator only: the unobserved per-cell parameter fields

Models never read ``truth*``: only the interpretability scores do.

:func:`load_dense` turns the long table into dense arrays ``x [C, T, F]``, ``y [C, T]`` once, so
that training gathers windows by index (no per-sample Python, no DataLoader).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from stcg.data.schema import PERIODS_PER_YEAR, TARGET
from stcg.errors import StcgError


class DatasetError(StcgError):
    """A built dataset does not hold what its ``meta.json`` says (rebuild it)."""


def read_columns(path: str | Path, columns: list[str]) -> pa.Table:
    """Read ``columns`` of one samples Parquet file, naming any the file lacks.

    Raises:
        DatasetError: one line naming the file and the missing columns, instead of Arrow's
            schema dump.
    """
    path = Path(path)
    try:
        names = set(pq.read_schema(path).names)
    except Exception as exc:  # Arrow raises several types for a damaged file
        raise DatasetError(f"{path}: cannot read as Parquet ({type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}); rebuild the "
                           "dataset (dvc repro build_data)") from exc
    missing = [c for c in columns if c not in names]
    if missing:
        raise DatasetError(
            f"{path}: column(s) {missing} listed in meta.json (or requested) are missing from "
            f"this Parquet file, which has {sorted(names)}; rebuild the dataset (dvc repro "
            "build_data) or drop them from the variables"
        )
    return pq.read_table(path, columns=columns)


@dataclass(frozen=True)
class DatasetMeta:
    """What ``meta.json`` records about a built dataset."""

    source: str
    variables: tuple[str, ...]
    years: tuple[int, ...]
    train_years: tuple[int, ...]
    test_years: tuple[int, ...]
    resolution: float
    n_cells: int
    has_truth: bool
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> DatasetMeta:
        """Build from the parsed ``meta.json``."""
        return cls(
            source=data["source"],
            variables=tuple(data["variables"]),
            years=tuple(int(y) for y in data["years"]),
            train_years=tuple(int(y) for y in data["train_years"]),
            test_years=tuple(int(y) for y in data["test_years"]),
            resolution=float(data["resolution"]),
            n_cells=int(data["n_cells"]),
            has_truth=bool(data["has_truth"]),
            extra=dict(data.get("extra", {})),
        )

    def to_json(self) -> dict:
        """The ``meta.json`` content."""
        return {
            "source": self.source,
            "variables": list(self.variables),
            "years": list(self.years),
            "train_years": list(self.train_years),
            "test_years": list(self.test_years),
            "resolution": self.resolution,
            "n_cells": self.n_cells,
            "has_truth": self.has_truth,
            "extra": self.extra,
        }


def read_meta(root: str | Path) -> DatasetMeta:
    """Read ``<root>/meta.json``."""
    path = Path(root) / "meta.json"
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a Climate2GPP dataset (run `dvc repro build_data`)")
    return DatasetMeta.from_json(json.loads(path.read_text()))


def read_cells(root: str | Path) -> pd.DataFrame:
    """The cells table, sorted by ``cell_id``."""
    return pd.read_parquet(Path(root) / "cells.parquet").sort_values("cell_id", ignore_index=True)


def _read_partitioned(
    root: Path, years: list[int] | tuple[int, ...] | None, columns: list[str] | None
) -> pd.DataFrame:
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such partitioned table")
    ds = pads.dataset(root, format="parquet", partitioning="hive")
    if columns is not None:
        missing = [c for c in columns if c not in ds.schema.names]
        if missing:
            raise DatasetError(
                f"{root}: column(s) {missing} are missing from its Parquet files, which have "
                f"{sorted(ds.schema.names)}; rebuild the dataset (dvc repro build_data)"
            )
    filt = None if years is None else pads.field("year").isin([int(y) for y in years])
    table = ds.to_table(columns=columns, filter=filt)
    if table.num_rows == 0:
        raise FileNotFoundError(f"{root}: no rows for years {years}")
    return table.to_pandas()


def read_samples(
    root: str | Path,
    years: list[int] | tuple[int, ...] | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read the samples table (optionally some years / columns)."""
    return _read_partitioned(Path(root) / "samples", years, columns)


def read_truth(
    root: str | Path,
    years: list[int] | tuple[int, ...] | None = None,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Read the simulator's per-sample ground truth."""
    path = Path(root) / "truth"
    if not path.exists():
        raise FileNotFoundError(f"{path}: this dataset has no ground truth (source is not 'sim')")
    return _read_partitioned(path, years, columns)


@dataclass
class Dense:
    """A dataset as dense arrays, indexed [cell, time, feature].

    Attributes:
        x: inputs, float32 ``[C, T, F]`` (NaN where missing).
        y: target GPP, float32 ``[C, T]`` (NaN where missing).
        cell_id: ``[C]`` cell ids, ascending.
        lon: ``[C]`` cell-centre longitude.
        lat: ``[C]`` cell-centre latitude.
        land_cover: ``[C]`` IGBP class (int).
        year: ``[T]`` calendar year of each time step.
        period: ``[T]`` 8-day period of the year (0..45) of each time step.
        variables: the F feature names.
    """

    x: np.ndarray
    y: np.ndarray
    cell_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    land_cover: np.ndarray
    year: np.ndarray
    period: np.ndarray
    variables: tuple[str, ...]

    @property
    def n_cells(self) -> int:
        """C."""
        return int(self.x.shape[0])

    @property
    def n_times(self) -> int:
        """T."""
        return int(self.x.shape[1])

    def time_index(self, year: int, period: int) -> int:
        """Index along T of (year, period)."""
        hit = np.flatnonzero((self.year == year) & (self.period == period))
        if hit.size == 0:
            raise KeyError(f"({year}, {period}) is not in this dataset")
        return int(hit[0])


def load_dense(
    root: str | Path,
    years: list[int] | tuple[int, ...] | None = None,
    variables: list[str] | tuple[str, ...] | None = None,
) -> Dense:
    """Load the samples of ``years`` into dense ``[C, T, F]`` arrays.

    Time runs over every (year, period) of the requested years, 46 per year, so that a window of
    L periods ending at any time step is ``x[c, t-L+1 : t+1]``, across year boundaries.

    Args:
        root: dataset directory.
        years: years to load (default: all the dataset has).
        variables: feature columns (default: ``meta.variables``).

    Returns:
        A :class:`Dense`.
    """
    root = Path(root)
    meta = read_meta(root)
    years = tuple(sorted(years if years is not None else meta.years))
    missing = sorted(set(years) - set(meta.years))
    if missing:
        raise ValueError(f"{root}: years {missing} are not in the dataset ({meta.years})")
    variables = tuple(variables if variables is not None else meta.variables)
    cells = read_cells(root)
    cell_ids = cells["cell_id"].to_numpy()
    n_c, n_t, n_f = len(cell_ids), len(years) * PERIODS_PER_YEAR, len(variables)
    x = np.full((n_c, n_t, n_f), np.nan, dtype=np.float32)
    y = np.full((n_c, n_t), np.nan, dtype=np.float32)
    for iy, year in enumerate(years):
        files = sorted((root / "samples" / f"year={year}").glob("*.parquet"))
        if not files:
            raise FileNotFoundError(f"{root}/samples/year={year}: no parquet files")
        for f in files:
            table = read_columns(f, ["cell_id", "period", *variables, TARGET])
            cid = table.column("cell_id").to_numpy()
            per = table.column("period").to_numpy().astype(np.int64)
            ci = np.searchsorted(cell_ids, cid)
            if np.any(ci >= n_c) or np.any(cell_ids[np.minimum(ci, n_c - 1)] != cid):
                raise ValueError(f"{f}: cell_id not in cells.parquet")
            ti = iy * PERIODS_PER_YEAR + per
            feats = np.stack(
                [table.column(v).to_numpy(zero_copy_only=False) for v in variables], axis=1
            )
            x[ci, ti] = feats.astype(np.float32)
            y[ci, ti] = table.column(TARGET).to_numpy(zero_copy_only=False).astype(np.float32)
    year_arr = np.repeat(np.asarray(years, dtype=np.int32), PERIODS_PER_YEAR)
    period_arr = np.tile(np.arange(PERIODS_PER_YEAR, dtype=np.int32), len(years))
    return Dense(
        x=x,
        y=y,
        cell_id=cell_ids,
        lon=cells["lon"].to_numpy(np.float64),
        lat=cells["lat"].to_numpy(np.float64),
        land_cover=cells["land_cover"].to_numpy(np.int64),
        year=year_arr,
        period=period_arr,
        variables=variables,
    )
