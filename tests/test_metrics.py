import numpy as np
import pytest

from stcg.metrics import aggregate_seeds, format_mean_sd, mean_sd, n_seeds, sd_at, seed_list


def test_mean_sd_matches_numpy_ddof1():
    v = [0.5, 0.7, 0.9]
    m, s = mean_sd(v)
    assert m == pytest.approx(0.7)
    assert s == pytest.approx(np.std(v, ddof=1))
    assert mean_sd([0.3]) == (0.3, None)
    assert mean_sd([None, None]) == (None, None)


def test_aggregate_seeds_means_sd_and_runs():
    runs = [{"test": {"rmse": 1.0, "r2": 0.5, "n": 10}, "name": "a"},
            {"test": {"rmse": 3.0, "r2": None, "n": 10}, "name": "a"}]
    out = aggregate_seeds(runs, [0, 1])
    assert out["test"]["rmse"] == pytest.approx(2.0)
    assert out["test"]["r2"] == pytest.approx(0.5)
    assert out["test"]["n"] == 10 and isinstance(out["test"]["n"], int)
    assert out["name"] == "a"
    assert out["seeds"]["n"] == 2 and out["seeds"]["seeds"] == [0, 1]
    assert sd_at(out, "test", "rmse") == pytest.approx(np.sqrt(2.0))
    assert sd_at(out, "test", "missing") is None
    assert out["seeds"]["runs"] == runs
    assert aggregate_seeds(runs[:1], [0]) == runs[0]
    assert sd_at(runs[0], "test", "rmse") is None


def test_seed_list_and_format():
    assert seed_list(5, 3) == [5, 6, 7]
    with pytest.raises(ValueError, match="seeds"):
        seed_list(0, 0)
    assert format_mean_sd(0.61234, 0.0041, 3) == "0.612 ± 0.004"
    assert format_mean_sd(0.61234, None, 1) == "0.612"
    assert format_mean_sd(None, None) == "-"


def test_format_mean_sd_reads_table_cells_with_nan():
    nan = float("nan")
    assert format_mean_sd(nan, 0.1, 3, missing="n/a") == "n/a"
    assert format_mean_sd(None, 0.1, 3, 2, missing="n/a") == "n/a"
    assert format_mean_sd(0.61234, 0.0041, 3.0, 2) == "0.61 ± 0.00"
    assert format_mean_sd(0.61234, nan, 3) == "0.612"  # sd unknown
    assert format_mean_sd(0.61234, 0.0041, nan) == "0.612"  # n unknown: one seed
    assert format_mean_sd(np.float64(1.5), np.float64(0.25), np.int64(2), 2) == "1.50 ± 0.25"


def test_n_seeds_reads_the_seeds_block():
    runs = [{"test": {"rmse": 1.0}}, {"test": {"rmse": 3.0}}, {"test": {"rmse": 2.0}}]
    assert n_seeds(aggregate_seeds(runs, [0, 1, 2])) == 3
    assert n_seeds(runs[0]) == 1 and n_seeds({}) == 1 and n_seeds(None) == 1
