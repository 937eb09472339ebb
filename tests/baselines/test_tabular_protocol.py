"""AutoGluon 1.1.1's hold-out fraction and adaptive early stopping (re-implemented).

Expected values are worked by hand from core/utils/utils.py::default_holdout_frac,
core/models/_utils.py::get_early_stopping_rounds and core/utils/early_stopping.py::AdaptiveES
at tag v1.1.1.
"""

from __future__ import annotations

import numpy as np
import pytest

from stcg.baselines.tabular.protocol import (
    AdaptiveEarlyStopping,
    default_holdout_frac,
    holdout_split,
    simple_patience,
)


@pytest.mark.parametrize(
    ("rows", "frac"),
    [(1000, 0.2), (4000, 0.125), (4999, 500 / 4999), (5000, 0.1), (25_000, 0.1), (50_000, 0.05),
     (250_000, 0.01), (2_100_000, 0.01), (52_000_000, 0.01)],
)
def test_default_holdout_frac(rows, frac):
    assert default_holdout_frac(rows) == pytest.approx(frac)


def test_holdout_split_partitions_rows():
    fit, val = holdout_split(10_000, seed=0)
    assert len(val) == 1000 and len(fit) == 9000
    assert np.intersect1d(fit, val).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), np.arange(10_000))
    fit2, val2 = holdout_split(10_000, seed=0)
    np.testing.assert_array_equal(val, val2)
    assert not np.array_equal(val, holdout_split(10_000, seed=1)[1])


@pytest.mark.parametrize(("rows", "patience"),
                         [(500, 300), (10_000, 300), (20_000, 150), (100_000, 30),
                          (150_000, 20), (2_000_000, 20)])
def test_simple_patience(rows, patience):
    assert simple_patience(rows) == patience


def test_adaptive_patience_grows_with_the_best_round():
    es = AdaptiveEarlyStopping.for_rows(1_000_000)  # min patience 20
    assert es.patience == 20
    # improve until round 100: patience = round(0.3 * 100 + 20) = 50
    for r in range(101):
        assert not es.update(r, 10.0 - r * 0.01)
    assert es.best_round == 100 and es.patience == 50
    stops = [es.update(r, 100.0) for r in range(101, 151)]
    assert stops.index(True) == 49  # stops at round 150 = best + patience
    # the small-data floor of 300 rounds dominates early on
    assert AdaptiveEarlyStopping.for_rows(5_000).patience == 300


def test_min_delta_and_non_finite_scores():
    es = AdaptiveEarlyStopping(min_patience=2, min_delta=0.1)
    es.update(0, 1.0)
    es.update(1, 0.95)  # not better by more than min_delta
    assert es.best_round == 0
    assert es.update(2, float("nan"))
