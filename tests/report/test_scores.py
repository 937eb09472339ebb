"""Interpretability scores (stcg.report.scores) against scipy and constructed cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from stcg.report.scores import (
    agreement,
    dominant_group,
    group_importance,
    group_indices,
    score_view,
    spearman_along,
)

VARS = tuple(f"v{j}" for j in range(9))
GROUPS = {"temperature": ("v0", "v1"), "water": ("v2", "v3", "v4"), "light": ("v5",)}


def test_spearman_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(30, 9)).astype(float)  # many ties
    b = a + rng.normal(0, 1.5, size=a.shape)
    rows = spearman_along(a, b, axis=1)
    cols = spearman_along(a, b, axis=0)
    for i in range(30):
        assert rows[i] == pytest.approx(spearmanr(a[i], b[i]).statistic, abs=1e-12)
    for j in range(9):
        assert cols[j] == pytest.approx(spearmanr(a[:, j], b[:, j]).statistic, abs=1e-12)


def test_spearman_constant_and_nonfinite_are_undefined():
    a = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, np.nan, 2.0]])
    b = np.array([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    r = spearman_along(a, b, axis=1)
    assert r[0] == pytest.approx(-1.0)
    assert np.isnan(r[1]) and np.isnan(r[2])


def test_group_importance_rules():
    g = group_indices(VARS, GROUPS)
    v = np.array([[2.0, -1.5, 0.1, 0.1, 0.1, 0.4, 9, 9, 9]])
    # abs_sum: |2 - 1.5| = 0.5, 0.3, 0.4 -> temperature; sum_abs: 3.5, 0.3, 0.4 -> temperature
    np.testing.assert_allclose(group_importance(v, g, "abs_sum"), [[0.5, 0.3, 0.4]])
    np.testing.assert_allclose(group_importance(v, g, "sum_abs"), [[3.5, 0.3, 0.4]])
    v2 = np.array([[1.0, -1.0, 0.1, 0.1, 0.1, 0.2, 0, 0, 0], np.zeros(9)])
    np.testing.assert_array_equal(dominant_group(v2, g, "abs_sum"), [1, -1])  # cancels; undefined
    np.testing.assert_array_equal(dominant_group(v2, g, "sum_abs"), [0, -1])


def test_group_indices_errors():
    with pytest.raises(ValueError, match="both"):
        group_indices(VARS, {"a": ("v0",), "b": ("v0",)})
    with pytest.raises(ValueError, match="none of"):
        group_indices(VARS, {"a": ("zz",)})


def test_agreement_counts():
    a = agreement(np.array([0, 1, 2, 2, -1]), np.array([0, 1, 1, 2, 0]), 3)
    assert a["accuracy"] == pytest.approx(3 / 4) and a["n"] == 4
    assert a["majority_baseline"] == pytest.approx(2 / 4)
    assert a["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def _truth(n: int = 4000, seed: int = 1):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, len(VARS)))
    truth[:, 6:] = 0.0  # features the truth never uses
    limiting = dominant_group(truth, group_indices(VARS, GROUPS))
    return rng, truth, limiting


def test_perfect_attribution_scores_one():
    _, truth, limiting = _truth()
    s = score_view(truth, truth, VARS, group_indices(VARS, GROUPS), limiting)
    assert s["per_sample"]["median"] == pytest.approx(1.0)
    assert s["per_sample"]["mean"] == pytest.approx(1.0)
    assert s["per_feature"]["mean"] == pytest.approx(1.0)
    assert s["per_feature"]["by_feature"]["v7"] is None  # truth constant: undefined
    assert s["per_feature"]["n"] == 6
    assert s["dominant"]["vs_truth_dominant"]["accuracy"] == 1.0
    assert s["dominant"]["vs_limiting"]["accuracy"] == 1.0


def test_shuffled_attribution_scores_near_zero():
    rng, truth, limiting = _truth()
    learned = truth[rng.permutation(len(truth))]
    s = score_view(learned, truth, VARS, group_indices(VARS, GROUPS), limiting)
    assert abs(s["per_feature"]["mean"]) < 0.05
    assert abs(s["per_sample"]["median"]) < 0.1
    acc = s["dominant"]["vs_truth_dominant"]
    assert acc["accuracy"] < acc["majority_baseline"] + 0.05  # chance level


def test_noisy_attribution_is_in_between():
    rng, truth, limiting = _truth()
    learned = truth + rng.normal(0, 1.0, size=truth.shape)
    s = score_view(learned, truth, VARS, group_indices(VARS, GROUPS), limiting)
    assert 0.4 < s["per_feature"]["mean"] < 0.9
    assert 0.5 < s["dominant"]["vs_limiting"]["accuracy"] < 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"\[N, 9\]"):
        score_view(np.zeros((3, 8)), np.zeros((3, 8)), VARS, group_indices(VARS, GROUPS), None)
