"""Row selection shared by STCG and the Table 1 baselines (stcg.data.splits)."""

from __future__ import annotations

import numpy as np
import pytest

from stcg.data.dataset import DatasetMeta, Dense
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.data.splits import RowIndex, rows_for_years, test_rows, train_rows


def small_dense(years=(2018, 2019, 2020), n_cells=3, seed=0) -> tuple[Dense, DatasetMeta]:
    rng = np.random.default_rng(seed)
    n_t = len(years) * PERIODS_PER_YEAR
    x = rng.normal(size=(n_cells, n_t, 2)).astype(np.float32)
    y = rng.normal(size=(n_cells, n_t)).astype(np.float32)
    y[0, 5] = np.nan          # a 2018 gap
    y[1, -1] = np.nan         # last test period of cell 1
    y[2, n_t - 46 : n_t - 40] = np.nan  # first six test periods of cell 2
    dense = Dense(
        x=x, y=y, cell_id=np.array([7, 9, 30]), lon=np.zeros(n_cells), lat=np.zeros(n_cells),
        land_cover=np.array([1, 2, 3]),
        year=np.repeat(np.asarray(years, dtype=np.int32), PERIODS_PER_YEAR),
        period=np.tile(np.arange(PERIODS_PER_YEAR, dtype=np.int32), len(years)),
        variables=("a", "b"),
    )
    meta = DatasetMeta(source="test", variables=("a", "b"), years=tuple(years),
                       train_years=tuple(years[:-1]), test_years=(years[-1],), resolution=1.0,
                       n_cells=n_cells, has_truth=False)
    return dense, meta


def test_test_rows_are_every_finite_target_of_the_test_year():
    dense, meta = small_dense()
    rows = test_rows(dense, meta)
    assert len(rows) == 3 * 46 - 1 - 6
    assert np.all(dense.year[rows.time] == 2020)
    assert np.all(np.isfinite(dense.y[rows.cell, rows.time]))
    # sorted by cell, then time: the samples table's order
    key = rows.cell * 10_000 + rows.time
    assert np.all(np.diff(key) > 0)
    # cell 2 starts at its 7th test period
    first_c2 = rows.time[rows.cell == 2][0]
    assert dense.period[first_c2] == 6


def test_train_rows_cover_the_training_years_only():
    dense, meta = small_dense()
    rows = train_rows(dense, meta)
    assert len(rows) == 3 * 92 - 1
    assert set(np.unique(dense.year[rows.time])) == {2018, 2019}
    assert not np.any((rows.cell == 0) & (rows.time == 5))


def test_unloaded_year_is_an_error():
    dense, _ = small_dense()
    with pytest.raises(ValueError, match=r"years \[2021\] are not loaded"):
        rows_for_years(dense, [2021])


def test_subsample_is_sorted_deterministic_and_a_subset():
    dense, meta = small_dense()
    rows = train_rows(dense, meta)
    a, b = rows.subsample(50, seed=3), rows.subsample(50, seed=3)
    assert len(a) == 50
    np.testing.assert_array_equal(a.cell, b.cell)
    np.testing.assert_array_equal(a.time, b.time)
    full = set(zip(rows.cell.tolist(), rows.time.tolist(), strict=True))
    assert set(zip(a.cell.tolist(), a.time.tolist(), strict=True)) <= full
    assert rows.subsample(None, 0) is rows and rows.subsample(10**6, 0) is rows
    with pytest.raises(ValueError):
        RowIndex(cell=np.zeros(3, np.int64), time=np.zeros(2, np.int64))
