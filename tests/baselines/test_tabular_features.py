"""Design matrices of the Table 1 baselines (current period, lags, land cover)."""

from __future__ import annotations

import numpy as np
import pytest

from stcg.baselines.tabular.features import design_matrix, feature_names, targets
from stcg.data.dataset import load_dense, read_meta
from stcg.data.splits import test_rows, train_rows


def test_names_order():
    assert feature_names(("a", "b"), 3, True) == (
        "a", "b", "a_lag1", "b_lag1", "a_lag2", "b_lag2", "land_cover")
    with pytest.raises(ValueError, match="lags must be >= 1"):
        feature_names(("a",), 0, False)


def test_current_period_and_land_cover_match_the_long_table(tabular_dataset):
    from stcg.data.dataset import read_samples

    meta = read_meta(tabular_dataset)
    dense = load_dense(tabular_dataset)
    rows = test_rows(dense, meta)
    dm = design_matrix(dense, rows, lags=1, land_cover=True)
    df = read_samples(tabular_dataset, years=[2020]).dropna(subset=["gpp"])
    df = df.sort_values(["cell_id", "period"], ignore_index=True)
    assert len(df) == len(rows) == dm.x.shape[0]
    np.testing.assert_array_equal(dm.x[:, : len(meta.variables)],
                                  df[list(meta.variables)].to_numpy(np.float32))
    np.testing.assert_array_equal(dm.x[:, -1], df["land_cover"].to_numpy(np.float32))
    np.testing.assert_array_equal(targets(dense, rows), df["gpp"].to_numpy(np.float32))
    assert dm.cat_features == (len(dm.names) - 1,)


def test_lags_reach_back_into_the_previous_year(tabular_dataset):
    meta = read_meta(tabular_dataset)
    dense = load_dense(tabular_dataset)
    rows = test_rows(dense, meta)
    f = len(meta.variables)
    dm = design_matrix(dense, rows, lags=3, land_cover=False)
    # the first test period's lag 2 is period 44 of 2019
    i = int(np.flatnonzero(dense.period[rows.time] == 0)[0])
    t19 = dense.time_index(2019, 44)
    np.testing.assert_array_equal(dm.x[i, 2 * f : 3 * f], dense.x[rows.cell[i], t19])
    # lags before the first loaded period are NaN
    tr = train_rows(dense, meta)
    j = int(np.flatnonzero(tr.time == 0)[0])
    dmt = design_matrix(dense, tr, lags=2, land_cover=False)
    assert np.all(np.isnan(dmt.x[j, f:])) and np.all(np.isfinite(dmt.x[j, :f]))
