"""The data card of a built dataset (``reports/metrics/data.json``).

Streams the dataset year by year, so it stays cheap at the paper's scale (56M rows): per column
mean, std, min, max and NaN share, sample counts per split, the grid and the sources.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from stcg.data.dataset import read_cells, read_meta
from stcg.data.schema import IGBP_SHORT, TARGET


def data_card(root: str | Path) -> dict:
    """Summarise the dataset at ``root`` as a small nested JSON-able dict."""
    root = Path(root)
    meta = read_meta(root)
    cols = [*meta.variables, TARGET]
    acc = {c: np.zeros(5) for c in cols}  # n_finite, sum, sumsq, n_nan, n_total
    lo = {c: np.inf for c in cols}
    hi = {c: -np.inf for c in cols}
    counts = {"train": 0, "test": 0}
    target_counts = {"train": 0, "test": 0}
    for year in meta.years:
        split = "train" if year in meta.train_years else "test" if year in meta.test_years else None
        for f in sorted((root / "samples" / f"year={year}").glob("*.parquet")):
            table = pq.read_table(f, columns=cols)
            for c in cols:
                a = table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                fin = np.isfinite(a)
                v = a[fin]
                acc[c] += [v.size, v.sum(), (v * v).sum(), (~fin).sum(), a.size]
                if v.size:
                    lo[c] = min(lo[c], float(v.min()))
                    hi[c] = max(hi[c], float(v.max()))
            if split is not None:
                counts[split] += table.num_rows
                target_counts[split] += int(np.isfinite(
                    table.column(TARGET).to_numpy(zero_copy_only=False)).sum())
    variables = {}
    for c in cols:
        n, s, ss, n_nan, n_tot = acc[c]
        mean = s / n if n else float("nan")
        var = max(ss / n - mean * mean, 0.0) if n else float("nan")
        variables[c] = {
            "mean": mean,
            "std": float(np.sqrt(var)),
            "min": lo[c],
            "max": hi[c],
            "nan_share": n_nan / n_tot if n_tot else float("nan"),
        }
    cells = read_cells(root)
    lc = cells["land_cover"].value_counts().sort_index()
    return {
        "source": meta.source,
        "sources": meta.extra.get("sources", {}),
        "grid": {
            "resolution_deg": meta.resolution,
            "cells": int(len(cells)),
            "lat_min": float(cells["lat"].min()),
            "lat_max": float(cells["lat"].max()),
            "years": [min(meta.years), max(meta.years)],
            "periods_per_year": 46,
        },
        "samples": {
            "train": counts["train"],
            "test": counts["test"],
            "train_with_target": target_counts["train"],
            "test_with_target": target_counts["test"],
        },
        "land_cover_cells": {IGBP_SHORT[int(k)]: int(v) for k, v in lc.items()},
        "variables": variables,
    }
