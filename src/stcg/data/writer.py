"""Writing a Climate2GPP dataset directory atomically (layout: :mod:`stcg.data.dataset`).

Every source (simulator, file ingestion) goes through :func:`dataset_writer`, which writes into a
temporary sibling directory and renames it onto the output only when the source finished without
error, so a failed build never leaves a partial dataset.  Parquet files are written with fixed
settings (zstd, no timestamps), so the same rows give the same bytes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stcg.data.dataset import DatasetMeta
from stcg.data.schema import KEY_COLUMNS, TARGET, sample_columns
from stcg.io import atomic_path

_KEY_DTYPES = {
    "cell_id": np.int32,
    "lon": np.float32,
    "lat": np.float32,
    "year": np.int16,
    "period": np.int8,
    "land_cover": np.int8,
}


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` (no index, zstd, statistics on; deterministic bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd", compression_level=3, write_statistics=True)


def samples_frame(df: pd.DataFrame, variables: tuple[str, ...]) -> pd.DataFrame:
    """Order, type and sort a samples frame as the schema says (float32 features)."""
    cols = sample_columns(variables)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"samples frame lacks columns {missing}")
    out = df[cols].copy()
    for c in KEY_COLUMNS:
        out[c] = out[c].astype(_KEY_DTYPES[c])
    for c in (*variables, TARGET):
        out[c] = out[c].astype(np.float32)
    return out.sort_values(["cell_id", "period"], ignore_index=True, kind="stable")


class DatasetWriter:
    """Writes the parts of one dataset into a (temporary) directory."""

    def __init__(self, root: Path, meta: DatasetMeta) -> None:
        self.root = root
        self.meta = meta
        self._years: list[int] = []

    def write_cells(self, cells: pd.DataFrame) -> None:
        """Write ``cells.parquet`` (must hold cell_id, lon, lat, land_cover)."""
        need = ["cell_id", "lon", "lat", "land_cover"]
        missing = [c for c in need if c not in cells.columns]
        if missing:
            raise ValueError(f"cells table lacks columns {missing}")
        write_parquet(cells.sort_values("cell_id", ignore_index=True), self.root / "cells.parquet")

    def write_year(
        self, year: int, samples: pd.DataFrame, truth: pd.DataFrame | None = None
    ) -> None:
        """Write one year of samples (and, for the simulator, its ground truth)."""
        df = samples_frame(samples.drop(columns=["year"], errors="ignore").assign(year=year),
                           self.meta.variables)
        write_parquet(df.drop(columns=["year"]), self.root / "samples" / f"year={year}" / "part-0.parquet")
        if truth is not None:
            t = truth.sort_values(["cell_id", "period"], ignore_index=True, kind="stable")
            write_parquet(t.drop(columns=["year"], errors="ignore"),
                          self.root / "truth" / f"year={year}" / "part-0.parquet")
        self._years.append(int(year))

    def mark_written(self, years: tuple[int, ...] | list[int]) -> None:
        """Record years whose parts were written directly under ``root`` (parallel writers)."""
        for y in years:
            if not any((self.root / "samples" / f"year={y}").glob("*.parquet")):
                raise ValueError(f"year {y}: no samples parts under {self.root}")
            self._years.append(int(y))

    def write_truth_cells(self, df: pd.DataFrame) -> None:
        """Write the simulator's per-cell unobserved fields."""
        write_parquet(df.sort_values("cell_id", ignore_index=True), self.root / "truth_cells.parquet")

    def close(self) -> None:
        """Write ``meta.json`` last; check every declared year was written."""
        missing = sorted(set(self.meta.years) - set(self._years))
        if missing:
            raise ValueError(f"years {missing} were declared but not written")
        (self.root / "meta.json").write_text(json.dumps(self.meta.to_json(), indent=2, sort_keys=True) + "\n")


@contextlib.contextmanager
def dataset_writer(out: str | Path, meta: DatasetMeta) -> Iterator[DatasetWriter]:
    """Context manager: a :class:`DatasetWriter` whose output appears at ``out`` only on success."""
    with atomic_path(out) as tmp:
        tmp.mkdir()
        writer = DatasetWriter(tmp, meta)
        yield writer
        writer.close()
