"""Which (cell, time) samples train and which test: one definition for every model.

Paper Section 4.1: data from 2001-2019 train (52M samples), 2020 tests (2.8M samples).  The
years come from ``meta.json`` (``train_years`` / ``test_years``, set by ``build_data.splits``).

A *sample* is a (cell, time step) of a :class:`stcg.data.dataset.Dense` whose target is finite;
the features may hold NaN (models decide how to treat them).  Rows are returned sorted by cell,
then time, which is the order of the samples table (``cell_id, period``) year by year.

The STCG trainer and every Table 1 baseline call :func:`test_rows` (and :func:`train_rows`), so
all of them are scored on exactly the same samples.  A model with an input window of ``L``
periods reads ``x[c, t-L+1 : t+1]``: windows of the first test periods reach back into the last
training year, which :func:`stcg.data.dataset.load_dense` keeps contiguous in time when both are
loaded.  Windows that reach before the first loaded period are the model's business (the tabular
baselines give them NaN lags); they do not change which rows are scored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from stcg.data.dataset import DatasetMeta, Dense


@dataclass(frozen=True)
class RowIndex:
    """Samples as parallel index arrays into a :class:`Dense`.

    Attributes:
        cell: ``[N]`` int64 index along C (not the cell id).
        time: ``[N]`` int64 index along T.
    """

    cell: np.ndarray
    time: np.ndarray

    def __post_init__(self) -> None:
        if self.cell.shape != self.time.shape or self.cell.ndim != 1:
            raise ValueError(
                f"RowIndex: cell {self.cell.shape} and time {self.time.shape} must be equal 1-D"
            )

    def __len__(self) -> int:
        return int(self.cell.shape[0])

    def take(self, idx: np.ndarray) -> RowIndex:
        """The rows at positions ``idx`` (in that order)."""
        return RowIndex(cell=self.cell[idx], time=self.time[idx])

    def subsample(self, max_rows: int | None, seed: int) -> RowIndex:
        """At most ``max_rows`` rows drawn uniformly without replacement, kept in sorted order.

        ``None`` (or a budget at least as large as the rows) returns ``self`` unchanged.
        """
        n = len(self)
        if max_rows is None or max_rows >= n:
            return self
        if max_rows <= 0:
            raise ValueError(f"max_rows must be positive or None, got {max_rows}")
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=max_rows, replace=False))
        return self.take(idx)


def rows_for_years(dense: Dense, years: Iterable[int]) -> RowIndex:
    """Every (cell, time) of ``years`` with a finite target, sorted by cell then time.

    Args:
        dense: the loaded dataset.
        years: calendar years to select; each must be loaded in ``dense``.

    Returns:
        A :class:`RowIndex`.

    Raises:
        ValueError: if a year is not part of ``dense``.
    """
    years = sorted({int(y) for y in years})
    loaded = set(np.unique(dense.year).tolist())
    missing = [y for y in years if y not in loaded]
    if missing:
        raise ValueError(
            f"years {missing} are not loaded (Dense holds {sorted(loaded)}); "
            "load them with load_dense(root, years=...)"
        )
    in_years = np.isin(dense.year, np.asarray(years, dtype=dense.year.dtype))  # [T]
    mask = np.isfinite(dense.y) & in_years[None, :]  # [C, T]
    cell, time = np.nonzero(mask)  # row-major: sorted by cell, then time
    return RowIndex(cell=cell.astype(np.int64), time=time.astype(np.int64))


def train_rows(dense: Dense, meta: DatasetMeta) -> RowIndex:
    """The training samples: every (cell, period) of ``meta.train_years`` with a finite target."""
    return rows_for_years(dense, meta.train_years)


def test_rows(dense: Dense, meta: DatasetMeta) -> RowIndex:
    """The test samples: every (cell, period) of ``meta.test_years`` with a finite target.

    This is the one definition of the test set that Table 1 and the STCG model share.
    """
    return rows_for_years(dense, meta.test_years)


# pytest collects module-level callables named ``test_*`` that a test file imports; this is a
# library function, not a test.
test_rows.__test__ = False  # type: ignore[attr-defined]
