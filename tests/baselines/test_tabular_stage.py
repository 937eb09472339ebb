"""Stages ``train_tabular`` and ``table1`` end to end on a small dataset (tiny profile)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stcg.baselines.tabular.config import TrainTabularConfig
from stcg.baselines.tabular.registry import build_model
from stcg.config import from_dict, resolve_profile
from stcg.data.dataset import load_dense, read_meta
from stcg.data.splits import test_rows
from stcg.errors import StcgError
from stcg.io import read_json

REPO = Path(__file__).resolve().parents[2]
RUN = ("LightGBM", "KNeighborsUnif", "NeuralNetFastAI", "ResNet")


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def tiny_params(tmp_path_factory) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "tiny"
    params["train_tabular"]["threads"] = 1
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.fixture(scope="module")
def stage_run(tabular_dataset, tiny_params, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("run")
    st = _stage("train_tabular")
    for m in RUN:
        st.main(["--model", m, "--data", str(tabular_dataset), "--out", str(root / "out" / m),
                 "--metrics", str(root / "metrics" / f"{m}.json"), "--params", str(tiny_params),
                 "--cost", str(root / "cost" / f"{m}.json")])
    return root


@pytest.mark.parametrize("profile", ["tiny", "default", "paper"])
def test_every_configured_model_builds(profile):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())["train_tabular"]
    cfg = from_dict(TrainTabularConfig, resolve_profile(raw, profile), where="train_tabular")
    for name, m in cfg.models.items():
        model = build_model(m, cfg.optim, seed=cfg.seed, threads=1, device="cpu")
        assert model.params == dict(m.params), name


@pytest.mark.parametrize("model", RUN)
def test_predictions_cover_exactly_the_test_rows(model, stage_run, tabular_dataset):
    meta = read_meta(tabular_dataset)
    dense = load_dense(tabular_dataset)
    rows = test_rows(dense, meta)
    pred = pd.read_parquet(stage_run / "out" / model / "predictions.parquet")
    assert len(pred) == len(rows)
    np.testing.assert_array_equal(pred["cell_id"], dense.cell_id[rows.cell])
    np.testing.assert_array_equal(pred["period"], dense.period[rows.time])
    assert set(pred["year"]) == set(meta.test_years)
    np.testing.assert_array_equal(pred["gpp"], dense.y[rows.cell, rows.time])
    assert np.all(np.isfinite(pred["pred"]))
    metrics = read_json(stage_run / "metrics" / f"{model}.json")
    # several seeds: the predictions are the first seed's, the metrics the mean over seeds
    first = metrics["seeds"]["runs"][0] if "seeds" in metrics else metrics
    err = pred["pred"].to_numpy(np.float64) - pred["gpp"].to_numpy(np.float64)
    assert first["test"]["rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-4)
    assert first["test"]["mae"] == pytest.approx(np.mean(np.abs(err)), rel=1e-4)
    assert metrics["test"]["n"] == len(rows)
    assert "cost" not in metrics  # timings differ between reruns: kept out of the metrics
    cost = read_json(stage_run / "cost" / f"{model}.json")
    for key in ("fit_seconds", "predict_seconds", "peak_rss_mb", "fit_rss_delta_mb"):
        assert cost[key] >= 0
    assert metrics["test"]["r2"] > 0.3  # all four learn the synthetic GPP
    info = read_json(stage_run / "out" / model / "info.json")
    assert info["model"] == model and info["features"][-1] == "land_cover"


def test_lightgbm_writes_treeshap_that_sums_to_its_predictions(stage_run):
    shap = pd.read_parquet(stage_run / "out" / "LightGBM" / "shap.parquet")
    pred = pd.read_parquet(stage_run / "out" / "LightGBM" / "predictions.parquet")
    cols = [c for c in shap.columns if c.startswith("shap_")]
    assert cols[-1] == "shap_expected_value" and "shap_land_cover" in cols
    np.testing.assert_allclose(shap[cols].sum(axis=1), shap["pred"], rtol=1e-4, atol=1e-4)
    merged = shap.merge(pred, on=["cell_id", "year", "period"], suffixes=("_shap", ""))
    assert len(merged) == len(shap) == int(pred["period"].isin([0, 9, 19, 29]).sum())
    np.testing.assert_allclose(merged["pred_shap"], merged["pred"], rtol=1e-4, atol=1e-4)
    assert not (stage_run / "out" / "KNeighborsUnif" / "shap.parquet").exists()


def test_unknown_model_fails_and_writes_nothing(tabular_dataset, tiny_params, tmp_path):
    with pytest.raises(StcgError, match="'Nope' is not in"):
        _stage("train_tabular").main([
            "--model", "Nope", "--data", str(tabular_dataset), "--out", str(tmp_path / "o"),
            "--metrics", str(tmp_path / "m.json"), "--params", str(tiny_params)])
    assert not (tmp_path / "o").exists() and not (tmp_path / "m.json").exists()


def test_table1_stage(stage_run, tiny_params, tmp_path):
    stcg = tmp_path / "stcg.json"
    stcg.write_text('{"test": {"rmse": 0.9, "r2": 0.91, "mae": 0.5}}')
    md, csv = tmp_path / "t.md", tmp_path / "t.csv"
    _stage("table1").main([
        "--metrics-dir", str(stage_run / "metrics"), "--stcg", str(stcg),
        "--targets", str(REPO / "reports" / "paper_targets.yaml"), "--out-md", str(md),
        "--out-csv", str(csv), "--headline", str(tmp_path / "h.json"),
        "--params", str(tiny_params)])
    text = md.read_text()
    assert "***Tabular Machine Learning***" in text and "***Our Method***" in text
    assert "| Ours (STCG) | 0.900 | 0.910 | 0.500 | 0.836 | 0.932 |" in text
    assert "| TabNet | n/a | n/a | n/a | 0.944 | 0.901 |" in text
    # the MLP runs 2 seeds on tiny: mean ± sd and n; LightGBM ignores its seed: one number
    mlp = read_json(stage_run / "metrics" / "NeuralNetFastAI.json")
    runs = [r["test"]["rmse"] for r in mlp["seeds"]["runs"]]
    assert mlp["seeds"]["seeds"] == [0, 1] and runs[0] != runs[1]
    assert mlp["test"]["rmse"] == pytest.approx(np.mean(runs), rel=1e-5)
    cell = f"{np.mean(runs):.3f} ± {np.std(runs, ddof=1):.3f}"
    assert f"| NeuralNetFastAI (MLP stand-in) (n = 2) | {cell} |" in text
    assert "LightGBM (n =" not in text and "Ordering by test RMSE" in text
    assert "`tiny` profile" in text and "Not yet run: LightGBMLarge" in text
    df = pd.read_csv(csv)
    assert len(df) == 14 and df["key"].iloc[0] == "LightGBMLarge"
    lgbm = read_json(stage_run / "metrics" / "LightGBM.json")
    row = df.set_index("key").loc["LightGBM"]
    assert row["rmse"] == pytest.approx(lgbm["test"]["rmse"], rel=1e-5)
    assert row["paper_rmse"] == 1.108
    # headline: the lowest-RMSE baseline that ran, with its own numbers
    best = df[(df.key != "Ours") & df.rmse.notna()].sort_values("rmse").iloc[0]
    head = read_json(tmp_path / "h.json")["best_baseline"]
    assert head["model"] == best["key"] and head["rmse"] == pytest.approx(best["rmse"], rel=1e-5)


def test_shap_for_chosen_periods_and_config_errors(tabular_dataset):
    import dataclasses

    from stcg.baselines.tabular.config import TabularModelConfig
    from stcg.baselines.tabular.run import run_tabular
    from stcg.config import ConfigError

    raw = yaml.safe_load((REPO / "params.yaml").read_text())["train_tabular"]
    cfg = from_dict(TrainTabularConfig, resolve_profile(raw, "tiny"), where="train_tabular")
    lgbm = dataclasses.replace(cfg.models["LightGBM"], shap_periods=(0, 9), max_rounds=50)
    cfg = dataclasses.replace(cfg, threads=1, models={"LightGBM": lgbm})
    meta = read_meta(tabular_dataset)
    dense = load_dense(tabular_dataset)
    res = run_tabular(dense, meta, "LightGBM", cfg)
    shap = res.contributions
    assert set(shap["period"]) == {0, 9} and set(shap["year"]) == {2020}
    n_expected = int(res.predictions["period"].isin([0, 9]).sum())
    assert len(shap) == n_expected
    with pytest.raises(ConfigError, match="shap: true needs kind lightgbm"):
        from_dict(TabularModelConfig, {"kind": "knn", "source": "x", "shap": True})
    with pytest.raises(ConfigError, match="shap_periods must be in 0..45"):
        from_dict(TabularModelConfig, {"kind": "lightgbm", "source": "x", "shap_periods": [46]})
    with pytest.raises(ConfigError, match="unknown key"):
        from_dict(TabularModelConfig, {"kind": "lightgbm", "source": "x", "max_row": 3})


def test_on_the_simulated_tiny_dataset(tiny_dataset, tiny_params, tmp_path):
    """The tiny profile on the simulator's dataset (26 variables, real land grid): learns GPP."""
    _stage("train_tabular").main([
        "--model", "LightGBM", "--data", str(tiny_dataset), "--out", str(tmp_path / "LightGBM"),
        "--metrics", str(tmp_path / "LightGBM.json"), "--params", str(tiny_params)])
    meta = read_meta(tiny_dataset)
    n_test = len(test_rows(load_dense(tiny_dataset), meta))
    lgbm = read_json(tmp_path / "LightGBM.json")
    assert lgbm["test"]["n"] == n_test and lgbm["train"]["features"] == 27
    assert lgbm["test"]["r2"] > 0.7
    shap = pd.read_parquet(tmp_path / "LightGBM" / "shap.parquet")
    pred = pd.read_parquet(tmp_path / "LightGBM" / "predictions.parquet")
    assert set(shap["period"]) == {0, 9, 19, 29}  # the weeks of the paper's Figure 5
    assert len(shap) == int(pred["period"].isin([0, 9, 19, 29]).sum())
    assert shap.shape[1] == 7 + 27 + 1  # keys + pred, 27 features, expected value


@pytest.mark.parametrize("model", ["LightGBM", "NeuralNetFastAI", "TabNet"])
def test_lagged_features_option(model, tabular_dataset):
    """features.lags = 3: the previous two periods join as columns (NaN before the data start)."""
    import dataclasses

    from stcg.baselines.tabular.config import TabularFeaturesConfig
    from stcg.baselines.tabular.run import run_tabular

    raw = yaml.safe_load((REPO / "params.yaml").read_text())["train_tabular"]
    cfg = from_dict(TrainTabularConfig, resolve_profile(raw, "tiny"), where="train_tabular")
    mcfg = dataclasses.replace(cfg.models[model], shap=False, max_rounds=50, epochs=2)
    cfg = dataclasses.replace(cfg, threads=1, models={model: mcfg},
                              features=TabularFeaturesConfig(lags=3, land_cover=True))
    meta = read_meta(tabular_dataset)
    res = run_tabular(load_dense(tabular_dataset), meta, model, cfg)
    assert res.metrics["train"]["features"] == 5 * 3 + 1
    assert res.info["features"][5] == "temperature_2m_lag1"
    assert np.all(np.isfinite(res.predictions["pred"]))
    assert res.metrics["test"]["r2"] > 0.0


def test_seed_dependence_is_what_the_libraries_do(tabular_dataset):
    """LightGBM without sampling ignores its seed (one run serves every seed); with feature
    sampling (LightGBM Large) the seed changes the model."""
    import dataclasses

    from stcg.baselines.tabular.registry import n_seeds, seed_dependent
    from stcg.baselines.tabular.run import run_tabular

    raw = yaml.safe_load((REPO / "params.yaml").read_text())["train_tabular"]
    cfg = from_dict(TrainTabularConfig, resolve_profile(raw, "default"), where="train_tabular")
    assert {k for k, m in cfg.models.items() if not seed_dependent(m)} == {
        "KNeighborsDist", "KNeighborsUnif", "LightGBM", "XGBoost"}
    assert n_seeds(cfg, "LightGBM") == 1 and n_seeds(cfg, "TabNet") == 2
    assert n_seeds(dataclasses.replace(cfg, seeds=4), "CatBoost") == 4
    models = {k: dataclasses.replace(cfg.models[k], shap=False, max_rounds=20,
                                     max_train_rows=None) for k in ("LightGBM", "LightGBMLarge")}
    cfg = dataclasses.replace(cfg, threads=1, models=models)
    meta = read_meta(tabular_dataset)
    dense = load_dense(tabular_dataset)
    for name, same in (("LightGBM", True), ("LightGBMLarge", False)):
        a, b = (run_tabular(dense, meta, name, cfg, model_seed=s).predictions["pred"].to_numpy()
                for s in (0, 1))
        assert np.array_equal(a, b) == same, name


@pytest.mark.parametrize("model", ["NeuralNetFastAI", "ResNet"])
def test_seeds_in_processes_equal_seeds_one_after_another(model, tabular_dataset):
    """Seeds fitted side by side in forked processes give each seed's fit exactly as fitting
    them one after another at the same thread count."""
    import dataclasses

    from stcg.baselines.tabular.run import run_tabular_seeds, seed_processes

    raw = yaml.safe_load((REPO / "params.yaml").read_text())["train_tabular"]
    cfg = from_dict(TrainTabularConfig, resolve_profile(raw, "tiny"), where="train_tabular")
    mcfg = dataclasses.replace(cfg.models[model], epochs=2, seeds=3)
    cfg = dataclasses.replace(cfg, threads=1, device="cpu", models={model: mcfg})
    meta = read_meta(tabular_dataset)
    dense = load_dense(tabular_dataset)
    one = run_tabular_seeds(dense, meta, model, dataclasses.replace(cfg, seed_procs=1))
    par_cfg = dataclasses.replace(cfg, seed_procs=0)
    assert seed_processes(par_cfg, model, 3) == 3
    assert seed_processes(dataclasses.replace(cfg, seed_procs=2), model, 3) == 2
    par = run_tabular_seeds(dense, meta, model, par_cfg)
    assert one.metrics["cost"]["seed_processes"] == 1
    assert par.metrics["cost"]["seed_processes"] == 3
    rmse = [r["test"]["rmse"] for r in par.metrics["seeds"]["runs"]]
    assert len(set(rmse)) == 3  # three different fits, in seed order
    assert par.metrics["seeds"] == one.metrics["seeds"]
    assert par.metrics["test"] == one.metrics["test"]
    pd.testing.assert_frame_equal(par.predictions, one.predictions)


def test_seeds_share_a_gpu_one_after_another(monkeypatch):
    """Seeds of a model placed on a GPU run in one process; LightGBM stays on the CPU under
    gbdt_device auto (resolve_gbdt_device), so its seeds still run side by side."""
    import dataclasses

    import torch

    from stcg.baselines.tabular.run import seed_processes

    raw = yaml.safe_load((REPO / "params.yaml").read_text())["train_tabular"]
    cfg = from_dict(TrainTabularConfig, resolve_profile(raw, "paper"), where="train_tabular")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    auto = dataclasses.replace(cfg, gbdt_device="auto", device="auto")
    assert seed_processes(auto, "CatBoost", 3) == 1
    assert seed_processes(auto, "TabNet", 3) == 1
    assert seed_processes(auto, "LightGBMLarge", 3) == 3
    assert seed_processes(auto, "RandomForestMSE", 3) == 3
    cpu = dataclasses.replace(cfg, gbdt_device="cpu", device="cpu")
    assert {seed_processes(cpu, k, 3) for k in cpu.models} == {3}
