"""Table 1 layout and values (stcg.report.table1)."""

from __future__ import annotations

import math

import pytest
import yaml

from stcg.report.table1 import TABLE1_ROWS, build_table1, table1_csv, table1_markdown


def test_rows_are_the_papers_in_order():
    assert [r.key for r in TABLE1_ROWS] == [
        "LightGBMLarge", "KNeighborsDist", "KNeighborsUnif", "LightGBM", "XGBoost", "LightGBMXT",
        "NeuralNetFastAI", "CatBoost", "RandomForestMSE", "TabNet", "ExcelFormer", "ResNet",
        "FTTransformer", "Ours"]
    assert {r.group for r in TABLE1_ROWS} == {
        "Tabular Machine Learning", "Tabular Deep Learning", "Our Method"}


def test_paper_targets_file_has_every_row():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "reports" / "paper_targets.yaml"
    rows = yaml.safe_load(path.read_text())["table1"]
    assert set(rows) == {r.key for r in TABLE1_ROWS}
    assert rows["LightGBMLarge"] == {"rmse": 1.063, "r2": 0.886}
    assert rows["TabNet"] == {"rmse": 0.944, "r2": 0.901}
    assert rows["Ours"] == {"rmse": 0.836, "r2": 0.932}


def test_values_missing_and_delta():
    metrics = {"LightGBM": {"test": {"rmse": 1.2, "r2": 0.8, "mae": 0.7},
                            "cost": {"fit_seconds": 3.0}, "train": {"rows": 400000}},
               "Ours": None}
    df = build_table1(metrics, {"LightGBM": {"rmse": 1.108, "r2": 0.876}})
    row = df.set_index("key").loc["LightGBM"]
    assert row["rmse"] == 1.2 and row["delta_rmse"] == pytest.approx(1.2 - 1.108)
    assert math.isnan(df.set_index("key").loc["TabNet", "rmse"])
    md = table1_markdown(df)
    assert "| LightGBM | 1.200 | 0.800 | 0.700 | 1.108 | 0.876 | 400k |" in md
    assert "fit_seconds" not in table1_csv(df) and "Fit (s)" not in md  # no timings
    assert md.count("***") == 6  # three group headers
    assert table1_csv(df).splitlines()[0].startswith("group,method,key,rmse,r2")
    with pytest.raises(ValueError, match="unknown Table 1 rows"):
        build_table1({}, {"SVM": {"rmse": 1.0}})
