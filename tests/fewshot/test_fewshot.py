"""The few-shot data, metrics, outputs, tables and stages."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stcg.config import load_section
from stcg.data.dataset import DatasetMeta
from stcg.data.periods import week_key, week_to_period
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.data.writer import dataset_writer
from stcg.fewshot.config import FewshotWeeklyConfig
from stcg.fewshot.dataset import LAND_COVER, build_fewshot, read_fewshot, write_fewshot
from stcg.fewshot.runners import fit_gwr_week
from stcg.fewshot.scoring import FewShotPrediction, evaluate, write_method_outputs
from stcg.metrics import regression_metrics
from stcg.report.fewshot_tables import method_metrics, table2, table3

from ..conftest import REPO

VARS = ("temperature_2m", "total_precipitation_sum", "surface_solar_radiation_downwards_sum")


def _value(cell: np.ndarray, period: np.ndarray, j: int, year: int) -> np.ndarray:
    """Synthetic value of variable j; the test year is far off so leaking it would show."""
    base = 250.0 + 10 * j + cell * 0.5 + period * 0.1
    return base + (1000.0 if year == 2003 else (year - 2001) * 2.0)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory) -> Path:
    """40 cells, train years 2001-2002 (one NaN, one cell missing a whole period), test 2003."""
    out = tmp_path_factory.mktemp("fs") / "c2g"
    lon, lat = np.meshgrid(np.arange(-35.0, 40.0, 10.0), np.arange(-20.0, 30.0, 10.0))
    cells = pd.DataFrame({"cell_id": np.arange(40, dtype=np.int32), "lon": lon.ravel(),
                          "lat": lat.ravel(), "land_cover": (np.arange(40) % 5 + 1).astype(np.int8)})
    meta = DatasetMeta(source="files", variables=VARS, years=(2001, 2002, 2003),
                       train_years=(2001, 2002), test_years=(2003,), resolution=10.0,
                       n_cells=40, has_truth=False)
    with dataset_writer(out, meta) as w:
        w.write_cells(cells)
        for year in meta.years:
            c = np.repeat(np.arange(40), PERIODS_PER_YEAR)
            p = np.tile(np.arange(PERIODS_PER_YEAR), 40)
            df = pd.DataFrame({"cell_id": c, "lon": lon.ravel()[c], "lat": lat.ravel()[c],
                               "period": p, "land_cover": cells["land_cover"].to_numpy()[c]})
            for j, v in enumerate(VARS):
                df[v] = _value(c, p, j, year)
            df["gpp"] = _value(c, p, 3, year) / 100.0
            if year == 2001:  # one missing value: the mean falls back on 2002 alone
                df.loc[(df.cell_id == 3) & (df.period == 5), VARS[0]] = np.nan
            if year in (2001, 2002):  # cell 7 never has GPP at period 9: not eligible
                df.loc[(df.cell_id == 7) & (df.period == 9), "gpp"] = np.nan
            w.write_year(year, df)
    return out


def test_week_is_period_plus_one():
    assert week_to_period(1) == 0 and week_to_period(40) == 39 and week_to_period(46) == 45
    assert week_key(1) == "w01" and week_key(40) == "w40"
    with pytest.raises(ValueError, match="week"):
        week_to_period(0)


def test_climatology_is_the_training_years_mean(handmade):
    fs = build_fewshot(handmade, n_cells=100, test_fraction=0.25, seed=0)
    assert fs.meta["n_complete_cells"] == 39 and fs.n == 39  # cell 7 is incomplete
    assert 7 not in fs.cell_id
    assert fs.features == (*VARS, LAND_COVER)
    c = fs.cell_id[:, None].astype(float)
    p = np.arange(PERIODS_PER_YEAR)[None, :]
    for j in range(3):
        expected = 250.0 + 10 * j + c * 0.5 + p * 0.1 + 1.0  # mean of +0 (2001) and +2 (2002)
        if j == 0:
            i3 = int(np.flatnonzero(fs.cell_id == 3)[0])
            expected[i3, 5] += 1.0  # only 2002 was there
        np.testing.assert_allclose(fs.x[:, :, j], expected, rtol=1e-6)
    np.testing.assert_allclose(fs.y, (250.0 + 30 + c * 0.5 + p * 0.1 + 1.0) / 100.0, rtol=1e-6)
    np.testing.assert_array_equal(fs.x[:, 0, 3], (fs.cell_id % 5 + 1).astype(float))
    assert fs.is_test.sum() == round(39 * 0.25)


def test_sampling_is_seeded_and_uniform_without_replacement(handmade):
    a = build_fewshot(handmade, n_cells=20, test_fraction=0.2, seed=1)
    b = build_fewshot(handmade, n_cells=20, test_fraction=0.2, seed=1)
    c = build_fewshot(handmade, n_cells=20, test_fraction=0.2, seed=2, land_cover=False)
    np.testing.assert_array_equal(a.cell_id, b.cell_id)
    np.testing.assert_array_equal(a.is_test, b.is_test)
    assert len(set(a.cell_id)) == 20 and not np.array_equal(a.cell_id, c.cell_id)
    assert a.is_test.sum() == 4 and c.features == VARS


def test_write_read_roundtrip(handmade, tmp_path):
    fs = build_fewshot(handmade, n_cells=30, test_fraction=0.2, seed=0)
    fs.meta["weeks"] = [1, 40]
    write_fewshot(fs, tmp_path / "fs")
    back = read_fewshot(tmp_path / "fs")
    for name in ("cell_id", "lon", "lat", "land_cover", "is_test", "x", "y"):
        np.testing.assert_array_equal(getattr(back, name), getattr(fs, name))
    assert back.features == fs.features and back.meta["weeks"] == [1, 40]


def test_weekly_stage_names_a_dataset_without_weeks(handmade, tmp_path):
    write_fewshot(build_fewshot(handmade, n_cells=30, test_fraction=0.2, seed=0), tmp_path / "fs")
    with pytest.raises(ValueError, match=r"fs/meta.json has no 'weeks'.*build_fewshot"):
        _stage("fewshot_weekly").main(["--method", "gwr", "--data", str(tmp_path / "fs"),
                                       "--out", str(tmp_path / "o"),
                                       "--metrics", str(tmp_path / "m.json"),
                                       "--params", str(REPO / "params.yaml")])
    assert not (tmp_path / "o").exists() and not (tmp_path / "m.json").exists()


def test_metrics_and_outputs(handmade, tmp_path):
    fs = build_fewshot(handmade, n_cells=30, test_fraction=0.2, seed=0)
    rng = np.random.default_rng(0)
    pred = fs.y + rng.normal(scale=0.1, size=fs.y.shape)
    fp = FewShotPrediction("joint", tuple(range(PERIODS_PER_YEAR)), pred,
                           np.zeros((fs.n, PERIODS_PER_YEAR, 5)),
                           ("intercept", *fs.features), info={"bandwidth": 50.0})
    m = evaluate(fs, fp, (1, 40))
    te = fs.is_test
    y, yh = fs.y[te, 39], pred[te, 39]
    rmse = np.sqrt(np.mean((y - yh) ** 2))
    r2 = 1 - np.sum((y - yh) ** 2) / np.sum((y - y.mean()) ** 2)
    assert m["weeks"]["w40"]["test"]["rmse"] == pytest.approx(rmse, rel=1e-12)
    assert m["weeks"]["w40"]["test"]["r2"] == pytest.approx(r2, rel=1e-12)
    assert m["all"]["train"]["n"] == (~te).sum() * PERIODS_PER_YEAR
    assert m["info"] == {"bandwidth": 50.0}
    assert regression_metrics(np.array([1.0, 2, 3]), np.array([1.0, 2, 3]))["r2"] == 1.0
    weekly = FewShotPrediction("w", (0,), pred[:, :1], None, ())
    assert set(evaluate(fs, weekly, (1, 40))["weeks"]) == {"w01"}
    with pytest.raises(ValueError, match="shape"):
        evaluate(fs, FewShotPrediction("bad", (0, 1), pred[:, :1], None, ()), (1,))
    write_method_outputs(fs, fp, tmp_path / "out")
    df = pd.read_parquet(tmp_path / "out" / "coefficients.parquet")
    assert len(df) == fs.n * PERIODS_PER_YEAR
    assert {"coef_intercept", f"coef_{LAND_COVER}", "pred", "gpp"} <= set(df.columns)


def _write(path: Path, weeks: dict) -> None:
    path.write_text(json.dumps({"weeks": weeks, "all": {}, "info": {}}))


def _write_weekly(path: Path, weeks: dict) -> None:
    """A ``fewshot_weekly`` metrics file: one fit's metrics per week, keyed by week."""
    path.write_text(json.dumps({wk: {"weeks": {wk: v}, "all": {}, "info": {}}
                                for wk, v in weeks.items()}))


def test_tables_show_paper_numbers_and_na_for_absent_methods(tmp_path):
    targets = yaml.safe_load((REPO / "reports" / "paper_targets.yaml").read_text())
    assert targets["table2"]["w01"]["gwr"] == {"rmse": 1.990, "r2": 0.43}
    assert targets["table3"]["stcg"]["gen_gap"] == pytest.approx(0.700 - 0.627)
    d = tmp_path / "m"
    d.mkdir()
    split = {"train": {"rmse": 0.5, "r2": 0.9}, "test": {"rmse": 0.8, "r2": 0.7}}
    _write_weekly(d / "gwr_weekly.json", {"w01": split})
    _write_weekly(d / "gnnwr_weekly.json", {"w40": split})
    _write(d / "gtwr.json", {"w01": split, "w40": split})
    assert method_metrics(d, "gtwr", 40) == split
    assert method_metrics(d, "stcg", 40) is None
    md, df = table2(d, targets, (1, 40), ("gwr", "gnnwr", "gtwr", "stcg"), ("gtnnwr",))
    assert "| Week-01 | 0.800 / 0.70 (paper 1.990 / 0.43) |" in md
    assert "n/a (paper 0.779 / 0.91)" in md and "GTNNWR" not in md
    assert len(df) == 8 and df.loc[(df.week == 40) & (df.method == "gwr"), "rmse"].isna().all()
    md3, df3 = table3(d, targets, 40, ("gnnwr", "stcg"))
    assert "| Gen. Gap | 0.300 | 0.357 | n/a | 0.073 |" in md3
    assert df3.loc[(df3.metric == "Test RMSE") & (df3.method == "gnnwr"), "value"].item() == 0.8


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_stages_end_to_end_on_the_tiny_profile(tiny_dataset, tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "tiny"
    params["fewshot_weekly"]["gnnwr"]["max_epochs"] = 20
    params["fewshot_joint"]["gtnnwr"]["max_epochs"] = 3
    pf = tmp_path / "params.yaml"
    pf.write_text(yaml.safe_dump(params))
    data, m = tmp_path / "fewshot", tmp_path / "metrics"
    _stage("build_fewshot").main(["--data", str(tiny_dataset), "--out", str(data),
                                  "--params", str(pf)])
    fs = read_fewshot(data)
    assert fs.n == min(120, fs.meta["n_complete_cells"]) and fs.meta["weeks"] == [1, 10, 20, 30, 40]
    for method in ("gwr", "gnnwr"):
        _stage("fewshot_weekly").main(["--method", method, "--data", str(data),
                                       "--out", str(tmp_path / f"{method}_weekly"),
                                       "--metrics", str(m / f"{method}_weekly.json"),
                                       "--params", str(pf)])
    for method in ("gtwr", "gtnnwr"):
        _stage("fewshot_joint").main(["--method", method, "--data", str(data),
                                      "--out", str(tmp_path / method),
                                      "--metrics", str(m / f"{method}.json"), "--params", str(pf)])
    # one process fits every week: a metrics entry and a coefficient folder per week
    gwr_weeks = json.loads((m / "gwr_weekly.json").read_text())
    assert set(gwr_weeks) == {"w01", "w10", "w20", "w30", "w40"}
    gwr = gwr_weeks["w01"]
    assert set(gwr["weeks"]) == {"w01"}
    assert gwr["weeks"]["w01"]["test"]["r2"] > 0.5  # GWR predicts held-out cells
    # each week's entry and coefficients are those of that week's fit on its own
    cfg = load_section(FewshotWeeklyConfig, "fewshot_weekly", pf)
    alone = fit_gwr_week(fs, 40, cfg.gwr, cfg.device)
    want = evaluate(fs, alone, tuple(fs.meta["weeks"]))["weeks"]["w40"]["test"]
    got = gwr_weeks["w40"]["weeks"]["w40"]["test"]
    assert got == pytest.approx(want, rel=1e-5)
    w40 = pd.read_parquet(tmp_path / "gwr_weekly" / "w40" / "coefficients.parquet")
    assert set(w40["period"]) == {week_to_period(40)}
    np.testing.assert_array_equal(w40["pred"].to_numpy(), alone.pred[:, 0])
    gtwr = json.loads((m / "gtwr.json").read_text())
    assert set(gtwr["weeks"]) == {"w01", "w10", "w20", "w30", "w40"}
    assert gtwr["all"]["test"]["n"] == fs.is_test.sum() * PERIODS_PER_YEAR
    coefs = pd.read_parquet(tmp_path / "gtwr" / "coefficients.parquet")
    assert len(coefs) == fs.n * PERIODS_PER_YEAR and np.isfinite(coefs["pred"]).all()
    tables = tmp_path / "tables"
    _stage("fewshot_tables").main(["--data", str(data), "--metrics-dir", str(m), "--targets",
                                   str(REPO / "reports" / "paper_targets.yaml"),
                                   "--out-dir", str(tables), "--headline",
                                   str(tables / "head.json"), "--params", str(pf)])
    md2 = (tables / "table2.md").read_text()
    assert "GTNNWR" in md2 and "n/a (paper 0.779 / 0.91)" in md2
    assert pd.read_csv(tables / "table3.csv").shape == (10, 6)
    # GNNWR runs 2 seeds on tiny: the mean and sd over seeds, its n in the column header
    gnnwr = json.loads((m / "gnnwr_weekly.json").read_text())["w01"]
    runs = [r["weeks"]["w01"]["test"]["rmse"] for r in gnnwr["seeds"]["runs"]]
    assert gnnwr["seeds"]["seeds"] == [0, 1] and runs[0] != runs[1]
    assert gnnwr["weeks"]["w01"]["test"]["rmse"] == pytest.approx(np.mean(runs), rel=1e-5)
    assert "GNNWR (n = 2 seeds)" in md2
    assert f"{np.mean(runs):.3f} ± {np.std(runs, ddof=1):.3f}" in md2
    t2 = pd.read_csv(tables / "table2.csv")
    head = json.loads((tables / "head.json").read_text())["rmse_mean_over_weeks"]
    assert head["gtwr"] == pytest.approx(t2[t2.method == "gtwr"].rmse.mean(), rel=1e-5)


@pytest.mark.parametrize(("profile", "n_cells"),
                         [("tiny", 120), ("default", 800), ("paper", 6000)])
def test_params_sections_load_for_every_profile(tmp_path, profile, n_cells):
    from stcg.config import load_section
    from stcg.fewshot.config import BuildFewshotConfig, FewshotJointConfig, FewshotWeeklyConfig
    from stcg.report.config import FewshotTablesConfig

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = profile
    pf = tmp_path / "params.yaml"
    pf.write_text(yaml.safe_dump(params))
    build = load_section(BuildFewshotConfig, "build_fewshot", pf)
    assert build.n_cells == n_cells and build.weeks == (1, 10, 20, 30, 40)
    weekly = load_section(FewshotWeeklyConfig, "fewshot_weekly", pf)
    assert weekly.gwr.kernel == "bisquare" and not weekly.gwr.fixed
    assert weekly.gwr.criterion == "AICc"
    joint = load_section(FewshotJointConfig, "fewshot_joint", pf)
    assert joint.gtwr.workers == -1 and joint.gtwr.cyclic_time
    tables = load_section(FewshotTablesConfig, "fewshot_tables", pf)
    assert tables.table2_methods == ("gwr", "gnnwr", "gtwr", "stcg") and tables.table3_week == 40


def test_bad_params_are_named(tmp_path):
    from stcg.config import ConfigError, load_section
    from stcg.fewshot.config import FewshotJointConfig

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["fewshot_joint"]["gtwr"]["tau_ratio"] = [10.0, 0.1]
    pf = tmp_path / "params.yaml"
    pf.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="tau_ratio"):
        load_section(FewshotJointConfig, "fewshot_joint", pf)
    params["fewshot_joint"]["gtwr"]["tau_ratio"] = [0.1, 10.0]
    params["fewshot_joint"]["gtwr"]["bandwith"] = 5
    pf.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="bandwith"):
        load_section(FewshotJointConfig, "fewshot_joint", pf)
