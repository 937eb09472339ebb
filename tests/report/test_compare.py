"""``stcg compare``: changes of headline metrics against the seed noise floor."""

from __future__ import annotations

import json

import pytest

from stcg.cli import main
from stcg.report.compare import NO_FLOOR, classify, format_rows

DIFF = {
    "reports/metrics/headline/train_stcg.json": {
        "test.rmse": {"old": 0.610, "new": 0.600, "diff": -0.010},     # 2 sd = 0.008: beyond
        "test.rmse_sd": {"old": 0.004, "new": 0.003, "diff": -0.001},
        "test.r2": {"old": 0.900, "new": 0.905, "diff": 0.005},        # 2 sd = 0.006: within
        "test.r2_sd": {"old": 0.003, "new": 0.002, "diff": -0.001},
        "test.mae": {"old": 0.40, "new": 0.40, "diff": 0.0},
        "climatology.rmse": {"old": 0.9, "new": 0.8, "diff": -0.1},    # no sd at all
        "n_seeds": {"old": 3, "new": 3, "diff": 0},
    },
    "reports/metrics/headline/table1.json": {
        "best_baseline.model": {"old": "LightGBM", "new": "CatBoost"},
        "best_baseline.rmse": {"old": 0.7, "new": 0.69, "diff": -0.01},
    },
    "reports/metrics/headline/ablations.json": {
        "full.rmse": {"old": 0.50, "new": 0.50, "diff": 0.0},
        "full.rmse_sd": {"old": 0.01, "new": 0.01, "diff": 0.0},
        "delta_rmse.no_gcn": {"old": 0.01, "new": 0.035, "diff": 0.025},   # > 0.02: beyond
        "delta_rmse.no_lstm": {"old": 0.01, "new": 0.02, "diff": 0.01},    # within
        "n_seeds": {"old": 3, "new": 3, "diff": 0},
    },
}


def test_classify_against_the_noise_floor() -> None:
    rows = {(r["file"].rsplit("/", 1)[-1], r["metric"]): r for r in classify(DIFF)}
    rmse = rows["train_stcg.json", "test.rmse"]
    assert rmse["verdict"] == "beyond" and rmse["sd"] == 0.004 and rmse["n_seeds"] == 3
    assert rmse["delta"] == pytest.approx(-0.010)
    assert rows["train_stcg.json", "test.r2"]["verdict"] == "within"
    assert rows["train_stcg.json", "test.mae"]["verdict"] == "unchanged"
    clim = rows["train_stcg.json", "climatology.rmse"]
    assert clim["verdict"] == "no-floor" and "seed-independent" in clim["note"]
    assert clim["sd"] is None
    t1 = rows["table1.json", "best_baseline.rmse"]
    assert t1["verdict"] == "no-floor" and t1["n_seeds"] == 1 and t1["note"] == NO_FLOOR
    assert ("table1.json", "best_baseline.model") not in rows      # not a number
    assert ("train_stcg.json", "test.rmse_sd") not in rows and ("train_stcg.json", "n_seeds") \
        not in rows
    # the ablation deltas use the reference's spread
    assert rows["ablations.json", "delta_rmse.no_gcn"]["verdict"] == "beyond"
    assert rows["ablations.json", "delta_rmse.no_lstm"]["verdict"] == "within"
    # a wider band turns the RMSE change into noise
    wide = {r["metric"]: r for r in classify(DIFF, k=3.0)}
    assert wide["test.rmse"]["verdict"] == "within"


def test_one_sided_metric_and_text() -> None:
    rows = classify({"h.json": {"new_metric": {"old": None, "new": 1.0}}})
    assert rows[0]["verdict"] == "no-floor" and rows[0]["delta"] is None
    text = format_rows(classify(DIFF))
    assert "test.mae" not in text and "beyond" in text and NO_FLOOR in text
    assert "test.mae" in format_rows(classify(DIFF), changed_only=False)


def test_cli_reads_a_saved_diff(tmp_path, capsys) -> None:
    p = tmp_path / "diff.json"
    p.write_text(json.dumps(DIFF))
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--diff-json", str(p)])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "test.rmse" in out and "beyond: |Δ| > 2 sd (0.008)" in out
