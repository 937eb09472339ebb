"""Tables 1-3 with several seeds: ``mean ± sd`` only where n > 1, and the significance rule."""

from __future__ import annotations

import json
import math

import pytest

from stcg.metrics import aggregate_seeds
from stcg.report.fewshot_tables import table2, table3
from stcg.report.significance import ordering, significant
from stcg.report.table1 import build_table1, table1_csv, table1_markdown


def test_significance_rule_on_constructed_numbers():
    # |a - b| against 2 sqrt(sa^2 + sb^2) = 2 sqrt(0.02) = 0.2828...
    assert significant(1.0, 0.1, 1.29, 0.1) is True
    assert significant(1.0, 0.1, 1.28, 0.1) is False
    assert significant(1.28, 0.1, 1.0, 0.1) is False  # symmetric
    # a deterministic pair (sd 0): any difference is beyond seed noise
    assert significant(0.5, 0.0, 0.5001, 0.0) is True and significant(0.5, 0.0, 0.5, 0.0) is False
    # one side deterministic: 2 * 0.05 = 0.1
    assert significant(0.5, 0.0, 0.61, 0.05) is True and significant(0.5, 0.0, 0.59, 0.05) is False
    # a seeded method run once (sd unknown): undecided
    assert significant(0.5, None, 0.9, 0.0) is None and significant(None, 0.1, 0.9, 0.1) is None
    got = ordering([("B", 1.29, 0.1), ("A", 1.0, 0.1), ("C", 1.3, 0.0), ("D", 2.0, None),
                    ("E", None, 0.1)])
    assert got == "A 1.000 < B 1.290 ≈ C 1.300 ? D 2.000"


def _seeded(values: list[float], r2: list[float], week: str = "w30") -> dict:
    runs = [{"weeks": {week: {"test": {"rmse": v, "r2": q, "n": 160},
                              "train": {"rmse": v / 2, "r2": q, "n": 640}}}}
            for v, q in zip(values, r2, strict=True)]
    return aggregate_seeds(runs, list(range(len(values))))


def test_table2_and_3_print_mean_sd_only_for_several_seeds(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    # GNNWR 3 seeds: RMSE 0.4, 0.5, 0.6 -> 0.500 ± 0.100; R2 0.9, 0.92, 0.94 -> 0.92 ± 0.02
    (d / "gnnwr_weekly.json").write_text(
        json.dumps({"w30": _seeded([0.4, 0.5, 0.6], [0.9, 0.92, 0.94])}))
    # GWR: deterministic, one run
    (d / "gwr_weekly.json").write_text(json.dumps({"w30": _seeded([0.2], [0.97])}))
    # STCG: a seeded method with one seed
    (d / "stcg.json").write_text(json.dumps(_seeded([0.45], [0.95])))
    md, df = table2(d, {}, (30,), ("gwr", "gnnwr", "gtwr", "stcg"))
    assert "| Week | GWR | GNNWR (n = 3 seeds) | GTWR | Ours (STCG) |" in md
    assert "| Week-30 | 0.200 / 0.97 | 0.500 ± 0.100 / 0.92 ± 0.02 | n/a | 0.450 / 0.95 |" in md
    # STCG's sd is unknown: its comparisons are undecided
    assert "* Week-30: GWR 0.200 ? Ours (STCG) 0.450 ? GNNWR 0.500" in md
    # GWR 0.2 (sd 0) vs GNNWR 0.5 ± 0.1: 0.3 > 2 * 0.1
    assert "* Week-30: GWR 0.200 < GNNWR 0.500" in table2(d, {}, (30,), ("gwr", "gnnwr"))[0]
    row = df.set_index("method").loc["gnnwr"]
    assert row["rmse"] == pytest.approx(0.5) and row["rmse_sd"] == pytest.approx(0.1)
    assert row["n_seeds"] == 3 and df.set_index("method").loc["gwr", "rmse_sd"] == 0.0
    assert math.isnan(df.set_index("method").loc["stcg", "rmse_sd"])
    md3, df3 = table3(d, {}, 30, ("gnnwr", "stcg"))
    # train RMSE = test / 2 per seed: 0.250 ± 0.050; gap per seed 0.2, 0.25, 0.3 -> 0.250 ± 0.050
    assert "| Train RMSE | 0.250 ± 0.050 | n/a | 0.225 | n/a |" in md3
    assert "| Gen. Gap | 0.250 ± 0.050 | n/a | 0.225 | n/a |" in md3
    assert "GNNWR (n = 3 seeds)" in md3


def test_table1_prints_mean_sd_only_for_several_seeds():
    runs = [{"test": {"rmse": v, "r2": 0.9, "mae": 0.3}, "train": {"rows": 1000}}
            for v in (0.7, 0.8, 0.9)]
    metrics = {"TabNet": aggregate_seeds(runs, [0, 1, 2]),
               "LightGBM": {"test": {"rmse": 0.6, "r2": 0.95, "mae": 0.25},
                            "train": {"rows": 1000}},
               "ResNet": {"test": {"rmse": 0.85, "r2": 0.9, "mae": 0.3}, "train": {"rows": 1000}}}
    df = build_table1(metrics, {}, deterministic={"LightGBM"})
    md = table1_markdown(df)
    assert "| TabNet (n = 3) | 0.800 ± 0.100 | 0.900 ± 0.000 | 0.300 ± 0.000 |" in md
    assert "| LightGBM | 0.600 | 0.950 | 0.250 |" in md
    # LightGBM (sd 0) vs TabNet 0.8 ± 0.1: 0.2 ≤ 2 * 0.1; ResNet ran once: undecided
    assert "LightGBM 0.600 ≈ TabNet 0.800 ? ResNet 0.850" in md
    csv = table1_csv(df).splitlines()
    assert csv[0].endswith("rmse_sd,r2_sd,mae_sd,n_seeds")
    tab = df.set_index("key")
    assert tab.loc["TabNet", "rmse_sd"] == pytest.approx(0.1) and tab.loc["TabNet", "n_seeds"] == 3
    assert tab.loc["LightGBM", "rmse_sd"] == 0.0 and math.isnan(tab.loc["ResNet", "rmse_sd"])
