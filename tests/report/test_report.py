"""REPORT.md, the paper-vs-ours table and the few-shot plot data."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from stcg.report.paper import OURS, TEXT_SECTIONS, Context, paper_vs_ours
from stcg.report.report import ReportInputs, fewshot_rmse_frame, render_report

from .helpers import load_stage

REPO = Path(__file__).resolve().parents[2]
TARGETS = yaml.safe_load((REPO / "reports" / "paper_targets.yaml").read_text())


def test_paper_targets_hold_every_number_of_the_text():
    flat = {f"{s}.{k}": v["value"] for s in TEXT_SECTIONS for k, v in TARGETS[s].items()}
    assert flat["text.ours_rmse"] == 0.836 and flat["text.ours_r2"] == 0.932
    assert flat["text.lightgbm_large_rmse"] == 1.063 and flat["text.tabnet_rmse"] == 0.944
    assert flat["text.gwr_rmse"] == 1.937
    assert flat["data.train_samples_approx"] == 50_000_000
    assert flat["data.train_samples"] == 52_000_000 and flat["data.test_samples"] == 2_800_000
    assert flat["data.n_variables"] == 26 and flat["data.periods_per_year"] == 46
    assert flat["training.batch_size"] == 256 and flat["training.lr"] == 0.001
    assert flat["training.lr_final"] == 0.0001 and flat["training.lr_decay_epoch"] == 10
    assert flat["training.epochs"] == 20
    assert flat["fewshot.cells"] == 6000 and flat["fewshot.weeks"] == [1, 10, 20, 30, 40]
    assert flat["figures.fig5_weeks"] == [1, 10, 20, 30]
    # every text entry is described, and every OURS id exists in the targets
    for s in TEXT_SECTIONS:
        for k, v in TARGETS[s].items():
            assert v.get("what") and v.get("where"), f"{s}.{k}"
    assert set(OURS) <= set(flat)


def _ctx(params: bool = True) -> Context:
    from stcg.config import load_section
    from stcg.data.config import BuildDataConfig
    from stcg.fewshot.config import BuildFewshotConfig
    from stcg.report.config import FiguresConfig
    from stcg.train.config import TrainStcgConfig

    p = REPO / "params.yaml"
    return Context(
        stcg={"test": {"rmse": 0.7, "r2": 0.95, "n": 100}, "train": {"samples": 1000}},
        tabular={"LightGBMLarge": {"test": {"rmse": 0.6, "r2": 0.96}}, "TabNet": None},
        fewshot={"gwr": {1: {"test": {"rmse": 3.0, "n": 10}}, 10: {"test": {"rmse": 4.0, "n": 30}}},
                 "gnnwr": {40: {"train": {"rmse": 0.3, "r2": 0.9}, "test": {"rmse": 0.5, "r2": 0.8}}}},
        data_card={"samples": {"train": 2_000_000, "test": 100_000}, "grid": {"resolution": 2.5},
                   "sources": {"mcd12c1/x.tif": {}}},
        params={"build_data": load_section(BuildDataConfig, "build_data", p),
                "train_stcg": load_section(TrainStcgConfig, "train_stcg", p),
                "build_fewshot": load_section(BuildFewshotConfig, "build_fewshot", p),
                "figures": load_section(FiguresConfig, "figures", p)} if params else {},
    )


def test_paper_vs_ours_values_and_differences():
    df = paper_vs_ours(TARGETS, _ctx()).set_index("id")
    assert df.loc["text.ours_rmse", "ours"] == 0.7
    assert df.loc["text.ours_rmse", "diff"] == pytest.approx(0.7 - 0.836)
    assert df.loc["table1.Ours.rmse", "diff"] == pytest.approx(0.7 - 0.836)
    assert df.loc["text.lightgbm_large_rmse", "diff"] == pytest.approx(0.6 - 1.063)
    assert df.loc["text.tabnet_rmse", "ours"] is None  # missing metrics: n/a, not an error
    # GWR pooled over weeks: sqrt((10 * 9 + 30 * 16) / 40)
    assert df.loc["text.gwr_rmse", "ours"] == pytest.approx(math.sqrt((90 + 480) / 40))
    assert df.loc["data.test_samples", "ratio"] == pytest.approx(100_000 / 2_800_000)
    assert df.loc["table3.gnnwr.gen_gap", "ours"] == pytest.approx(0.2)
    assert df.loc["table2.w01.gnnwr.rmse", "ours"] is None
    # every paper number is a row: text sections, 14 x 2 Table 1, 5 x 4 x 2 Table 2, 2 x 5 Table 3
    n_text = sum(len(TARGETS[s]) for s in TEXT_SECTIONS)
    assert len(df) == n_text + 28 + 40 + 10


def test_bad_target_entry_is_named():
    with pytest.raises(ValueError, match="data.broken"):
        paper_vs_ours({"data": {"broken": 3}}, Context())


def test_fewshot_rmse_frame_is_wide_with_gaps():
    df = fewshot_rmse_frame({"gwr": {1: {"test": {"rmse": 0.5}}}}, ("gwr", "stcg"), (1, 10))
    assert list(df.columns) == ["week", "gwr", "stcg"]
    assert df["gwr"].iloc[0] == 0.5 and math.isnan(df["gwr"].iloc[1])
    assert df["stcg"].isna().all()


def test_render_with_and_without_optional_inputs():
    bare = render_report(ReportInputs(profile="tiny"))
    for heading in ("## 1. Data card", "## 2. Table 1", "## 3. Tables 2-3", "## 4. Ablations",
                    "## 5. Figures", "## 6. Interpretability", "## 7. Paper vs ours"):
        assert heading in bare
    assert "Not run" in bare and "stage `table1`" in bare and "stage `interpret`" in bare
    assert "simulated" in bare  # the simulator warning

    full = render_report(ReportInputs(
        profile="default",
        data_card={"source": "sim", "n_cells": 2302, "grid": {"resolution": 2.5},
                   "samples": {"train": 10, "test": 5, "total": 15},
                   "land_cover": {"GRA": 3, "EBF": 0}},
        stcg={"test": {"rmse": 0.6, "r2": 0.9, "n": 5}},
        tables={"table1": "**Table 1.** T1\n", "table2": "**Table 2.** T2\n",
                "table3": "**Table 3.** T3\n"},
        ablations="| variant | RMSE |\n|---|---|\n| no_gcn | 0.7 |\n",
        figures=[("fig4_feature_importance", "figures/fig4_feature_importance.png")],
        missing_figures=["fig5_maps"],
        interpretability=_interp_scores(),
        paper_markdown="#### Table 1 (Section 4.2)\n\nPVO\n",
        fewshot_csv="plots/fewshot_rmse.csv",
    ))
    assert "**Table 1.** T1" in full and "**Table 3.** T3" in full and "no_gcn" in full
    assert "![fig4_feature_importance](figures/fig4_feature_importance.png)" in full
    assert "`fig5_maps.png`" in full and "PVO" in full and "GRA 3" in full and "EBF" not in full
    assert "| effect | STCG weights w | 0.800 | 0.200 | 0.700 | 0.500 |" in full
    assert "| effect | *null: noise* | 0.000 |" in full and "(headline)" in full
    assert "Not run" not in full


def _interp_scores() -> dict:
    row = {"feature_r": 0.8, "local_rank_r": 0.2, "rank_abs_r": 0.7, "dominant_kappa": 0.5}
    table = [{"view": "effect", "attribution": "STCG weights w", "rows": 100, **row},
             {"view": "effect", "attribution": "null: noise", "rows": 100,
              **{k: 0.0 for k in row}}]
    return {"truth": True, "rows": {"test": 200, "scored": 100, "min_gpp_true": 0.5,
                                    "weeks": [1, 10]},
            "groups": {"temperature": ["temperature_2m"]},
            "effect": {"headline": {"feature_r": True, "dominant_kappa": True}},
            "table": table,
            "limiting_factor": {"truth_dominant_group_vs_limiting": {"accuracy": 0.6,
                                                                     "kappa": 0.4}}}


def test_report_stage_end_to_end(tmp_path):
    main = load_stage("report").main
    rep = REPO / "reports"
    out = tmp_path / "reports"
    main(["--targets", str(rep / "paper_targets.yaml"), "--data-card", str(rep / "metrics/data.json"),
          "--stcg", str(rep / "metrics/stcg.json"), "--tabular-dir", str(rep / "metrics/tabular"),
          "--fewshot-dir", str(rep / "metrics/fewshot"),
          "--interpretability", str(tmp_path / "absent.json"),
          "--table1", str(rep / "tables/table1.md"), "--table2", str(rep / "tables/table2.md"),
          "--table3", str(tmp_path / "absent.md"), "--ablations", str(tmp_path / "absent2.md"),
          "--figures", str(rep / "figures/graph_globe.png"), str(tmp_path / "nofig.png"),
          "--out", str(out / "REPORT.md"), "--fewshot-csv", str(out / "plots/fewshot_rmse.csv"),
          "--params", str(REPO / "params.yaml")])
    text = (out / "REPORT.md").read_text()
    assert "graph_globe" in text and "`nofig.png`" in text
    assert "table3: not available" in text and "Not run" in text
    rows = list(csv.DictReader((out / "plots/fewshot_rmse.csv").open()))
    assert [r["week"] for r in rows] == ["1", "10", "20", "30", "40"]
    assert set(rows[0]) == {"week", "gwr", "gnnwr", "gtwr", "gtnnwr", "stcg"}
    gwr = json.loads((rep / "metrics/fewshot/gwr_weekly.json").read_text())["w01"]
    assert float(rows[0]["gwr"]) == pytest.approx(gwr["weeks"]["w01"]["test"]["rmse"], rel=1e-5)
