"""The data card of a built Climate2GPP dataset (``reports/metrics/data.json``).

:func:`data_card` computes, from any dataset directory (every source writes the same layout), the
fields that do not depend on the simulator: grid, cell count, years and sample counts per split,
cells per IGBP class, and per-variable (and ``gpp``) mean / std / min / max / NaN share over all
samples.  Stage ``build_data`` adds the source's provenance (package versions, collection IDs)
and writes the card with :func:`stcg.io.write_json`.

The statistics are streamed year by year (Chan et al.'s pairwise update of mean and sum of
squares, in float64), so the paper-scale dataset never sits in memory at once.  ``std`` is the
population standard deviation (ddof 0) of the non-missing values; ``nan_share`` counts missing
values among all samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from stcg.data.dataset import read_cells, read_meta
from stcg.data.schema import IGBP_SHORT, TARGET, grid_shape


@dataclass
class RunningStats:
    """Streaming count / mean / M2 / min / max / missing count of one column."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = float("inf")
    hi: float = float("-inf")
    missing: int = 0

    def update(self, values: np.ndarray) -> None:
        """Add a chunk of values (NaN / inf count as missing)."""
        v = np.asarray(values, dtype=np.float64).ravel()
        ok = np.isfinite(v)
        self.missing += int(v.size - ok.sum())
        v = v[ok]
        if v.size == 0:
            return
        n_b = int(v.size)
        mean_b = float(v.mean())
        m2_b = float(((v - mean_b) ** 2).sum())
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n
        self.lo = min(self.lo, float(v.min()))
        self.hi = max(self.hi, float(v.max()))

    def summary(self) -> dict[str, float | None]:
        """``mean, std, min, max, nan_share`` (None where there is no value)."""
        total = self.n + self.missing
        if self.n == 0:
            return {"mean": None, "std": None, "min": None, "max": None,
                    "nan_share": 1.0 if total else None}
        return {
            "mean": self.mean,
            "std": float(np.sqrt(self.m2 / self.n)),
            "min": self.lo,
            "max": self.hi,
            "nan_share": self.missing / total,
        }


def data_card(root: str | Path) -> dict[str, Any]:
    """The simulator-independent data-card fields of the dataset at ``root``.

    Args:
        root: a dataset directory (``build/climate2gpp``).

    Returns:
        ``{"source", "grid": {resolution, n_lat, n_lon}, "n_cells", "years": {split: {first,
        last}}, "samples": {train, test, total}, "samples_with_gpp": {...}, "land_cover":
        {class: n_cells}, "variables": {name: {mean, std, min, max, nan_share}}}`` with ``gpp``
        among the variables (units: those of ``schema.VARIABLES``; gpp in gC m-2 d-1).
    """
    root = Path(root)
    meta = read_meta(root)
    cells = read_cells(root)
    columns = [*meta.variables, TARGET]
    stats = {c: RunningStats() for c in columns}
    samples = {"train": 0, "test": 0}
    with_gpp = {"train": 0, "test": 0}
    for year in meta.years:
        split = "test" if year in meta.test_years else "train"
        for f in sorted((root / "samples" / f"year={year}").glob("*.parquet")):
            table = pq.read_table(f, columns=columns)
            samples[split] += table.num_rows
            for c in columns:
                v = table.column(c).to_numpy(zero_copy_only=False)
                stats[c].update(v)
                if c == TARGET:
                    with_gpp[split] += int(np.isfinite(np.asarray(v, dtype=np.float64)).sum())
    n_lat, n_lon = grid_shape(meta.resolution)
    lc = cells["land_cover"].to_numpy(np.int64)
    variables = {c: stats[c].summary() for c in columns}
    return {
        "source": meta.source,
        "grid": {"resolution": meta.resolution, "n_lat": n_lat, "n_lon": n_lon},
        "n_cells": int(len(cells)),
        "years": {
            "train": {"first": min(meta.train_years), "last": max(meta.train_years)},
            "test": {"first": min(meta.test_years), "last": max(meta.test_years)},
        },
        "samples": {**samples, "total": samples["train"] + samples["test"]},
        "samples_with_gpp": {**with_gpp, "total": with_gpp["train"] + with_gpp["test"]},
        "land_cover": {IGBP_SHORT[k]: int((lc == k).sum()) for k in range(len(IGBP_SHORT))},
        "variables": variables,
    }
