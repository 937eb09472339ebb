"""Interpretability scores (stcg.report.scores) against scipy and constructed cases.

Known answers: the exact truth scored as a model (the oracle) scores 1 on every score; the nulls
(shuffled truth, iid noise, the constant mean truth) score 0 (chance) on the headline scores.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from stcg.report.scores import (
    SCORE_KEYS,
    agreement,
    cohen_kappa,
    dominant_group,
    group_importance,
    group_indices,
    score,
    spearman_along,
    used_features,
    validated_scores,
)

VARS = tuple(f"v{j}" for j in range(9))
GROUPS = {"temperature": ("v0",), "water": ("v1", "v2", "v3", "v4"), "light": ("v5",)}


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
    np.testing.assert_allclose(group_importance(v, g, "abs_sum"), [[2.0, 1.2, 0.4]])
    np.testing.assert_allclose(group_importance(v, g, "sum_abs"), [[2.0, 1.8, 0.4]])
    np.testing.assert_allclose(group_importance(v, g, "abs_sum_norm"), [[2.0, 0.6, 0.4]])
    v2 = np.array([[0.0, 1.0, -1.0, 0.0, 0.0, 0.0, 5, 5, 5], np.zeros(9)])
    np.testing.assert_array_equal(dominant_group(v2, g), [-1, -1])  # cancels; undefined
    np.testing.assert_array_equal(dominant_group(v2, g, "sum_abs"), [1, -1])
    with pytest.raises(ValueError, match="abs_sum_norm"):
        group_importance(v, g, "mean")


def test_no_group_size_bias_under_noise():
    """iid noise picks each group equally often (sizes 1, 4, 1), unlike |sum| or sum |.|."""
    g = group_indices(VARS, GROUPS)
    noise = np.random.default_rng(3).standard_normal((60000, len(VARS)))
    share = np.bincount(dominant_group(noise, g), minlength=3) / len(noise)
    np.testing.assert_allclose(share, 1 / 3, atol=0.01)
    biased = np.bincount(dominant_group(noise, g, "abs_sum"), minlength=3) / len(noise)
    assert biased[1] > 0.45  # the 4-feature group wins far more often


def test_group_indices_errors():
    with pytest.raises(ValueError, match="both"):
        group_indices(VARS, {"a": ("v0",), "b": ("v0",)})
    with pytest.raises(ValueError, match="none of"):
        group_indices(VARS, {"a": ("zz",)})


def test_cohen_kappa():
    assert cohen_kappa([[5, 0], [0, 5]]) == pytest.approx(1.0)
    assert cohen_kappa([[5, 0], [5, 0]]) == pytest.approx(0.0)  # constant prediction
    # textbook case: po = 0.7, pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.5 -> 0.4
    assert cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4)
    assert cohen_kappa(np.zeros((2, 2))) is None


def test_agreement_counts():
    a = agreement(np.array([0, 1, 2, 2, -1]), np.array([0, 1, 1, 2, 0]), 3)
    assert a["accuracy"] == pytest.approx(3 / 4) and a["n"] == 4
    assert a["majority_baseline"] == pytest.approx(2 / 4)
    assert a["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]


def _truth(n: int = 4000, seed: int = 1):
    """Attributions with a global pattern (means, scales) and local variation; 3 unused."""
    rng = np.random.default_rng(seed)
    scale = np.array([3.0, 1.0, 1.0, 0.5, 0.5, 2.0, 0, 0, 0])
    mean = np.array([1.0, -0.5, 0.0, 0.0, 0.2, 2.0, 0, 0, 0])
    truth = mean + scale * rng.standard_gamma(2.0, size=(n, len(VARS)))  # skewed
    return rng, truth


def test_oracle_scores_one_and_nulls_chance():
    _, truth = _truth()
    g = group_indices(VARS, GROUPS)
    s = validated_scores({}, truth, g, VARS)
    assert s["features"] == list(VARS[:6])  # scored over the features the truth uses
    for key in SCORE_KEYS:
        assert s["oracle"][key] == pytest.approx(1.0)
    for name in ("shuffled", "noise", "mean_truth"):
        for key in ("feature_r", "dominant_kappa"):
            assert abs(s["nulls"][name][key]) < 0.05, (name, key)
    # the constant mean truth knows the global ranking: rank_abs_r is not at chance
    assert s["nulls"]["mean_truth"]["rank_abs_r"] > 0.5
    assert s["headline"]["feature_r"] and s["headline"]["dominant_kappa"]
    assert not s["headline"]["rank_abs_r"]


def test_noisy_attribution_is_in_between():
    rng, truth = _truth()
    g = group_indices(VARS, GROUPS)
    learned = truth + rng.normal(0, 1.0, size=truth.shape) * truth.std(axis=0)
    m = validated_scores({"noisy": learned}, truth, g, VARS)["methods"]["noisy"]
    # Spearman of x and x + noise of equal variance: about 0.7
    assert 0.6 < m["feature_r"] < 0.8
    assert 0.2 < m["dominant_kappa"] < 0.9
    assert m["by_feature"]["v0"] == pytest.approx(
        spearmanr(learned[:, 0], truth[:, 0]).statistic, abs=1e-12)


def test_used_features_and_loose_groups():
    _, truth = _truth()
    np.testing.assert_array_equal(used_features(truth), [True] * 6 + [False] * 3)
    with pytest.raises(ValueError, match="v5"):
        validated_scores({}, truth, group_indices(VARS, {"a": ("v0", "v1", "v2", "v3", "v4")}),
                         VARS)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="do not match"):
        score(np.zeros((3, 8)), np.zeros((3, 9)), np.ones(9, bool), group_indices(VARS, GROUPS))
