"""Data card fields (stcg.data.card) against numpy / pandas on the same samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stcg.config import from_dict
from stcg.data.card import RunningStats, data_card
from stcg.data.config import BuildDataConfig
from stcg.data.dataset import read_samples
from stcg.data.files import build_from_files
from stcg.data.schema import TARGET, VARIABLES

from ._ee_fixtures import RES, truth_frame


def test_running_stats_match_numpy() -> None:
    rng = np.random.default_rng(3)
    # large offset and small spread: the naive sum-of-squares formula would lose digits
    chunks = [1e8 + rng.normal(0.0, 1.0, n) for n in (1, 500, 37, 1000)]
    chunks[2][::5] = np.nan
    s = RunningStats()
    for c in chunks:
        s.update(c)
    allv = np.concatenate(chunks)
    ok = allv[np.isfinite(allv)]
    got = s.summary()
    assert got["mean"] == pytest.approx(ok.mean(), rel=1e-15)
    assert got["std"] == pytest.approx(ok.std(), rel=1e-9)
    assert got["min"] == ok.min() and got["max"] == ok.max()
    assert got["nan_share"] == pytest.approx(np.isnan(allv).mean())
    empty = RunningStats()
    empty.update(np.array([np.nan]))
    assert empty.summary() == {"mean": None, "std": None, "min": None, "max": None,
                               "nan_share": 1.0}


def test_card_of_an_ingested_dataset(tmp_path: Path) -> None:
    truth = truth_frame()
    inp = tmp_path / "files"
    inp.mkdir()
    for year in (2019, 2020):
        truth[truth.year == year].to_parquet(inp / f"c_{year}.parquet")
    cfg = from_dict(BuildDataConfig, {
        "source": "files", "seed": 0, "resolution": RES, "variables": list(VARIABLES),
        "splits": {"train_years": [2019, 2019], "test_years": [2020, 2020]},
    })
    build_from_files(inp, tmp_path / "ds", cfg)
    card = data_card(tmp_path / "ds")
    df = read_samples(tmp_path / "ds")
    assert card["source"] == "files" and card["n_cells"] == 6
    assert card["grid"] == {"resolution": RES, "n_lat": 18, "n_lon": 36}
    assert card["samples"] == {"train": 276, "test": 276, "total": 552}
    assert card["samples_with_gpp"]["total"] == int(df[TARGET].notna().sum()) < 552
    assert card["years"] == {"train": {"first": 2019, "last": 2019},
                             "test": {"first": 2020, "last": 2020}}
    assert card["land_cover"]["EBF"] == 2 and sum(card["land_cover"].values()) == 6
    assert set(card["variables"]) == {*VARIABLES, TARGET}
    for c in (*VARIABLES, TARGET):
        v = df[c].to_numpy(np.float64)
        ok = v[np.isfinite(v)]
        got = card["variables"][c]
        assert got["mean"] == pytest.approx(ok.mean(), rel=1e-12), c
        assert got["std"] == pytest.approx(ok.std(), rel=1e-9), c
        assert (got["min"], got["max"]) == (ok.min(), ok.max()), c
        assert got["nan_share"] == pytest.approx(1 - ok.size / v.size), c
    assert card["variables"]["snow_cover"]["nan_share"] > 0
