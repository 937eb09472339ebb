"""Ablations (stages ``ablate@<variant>`` and ``ablate_table``): params, variants, table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from stcg.config import PROFILES, ConfigError, from_dict, load_section
from stcg.errors import StcgError
from stcg.graph.config import BuildGraphConfig
from stcg.report.ablations import ablation_table, describe
from stcg.train.ablate import variant_config
from stcg.train.config import AblateConfig, AblationVariant, FewshotStcgConfig, TrainStcgConfig

REPO = Path(__file__).resolve().parents[2]


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_ablate_and_fewshot_stcg_params_load_on_every_profile(tmp_path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for profile in PROFILES:
        params["profile"] = profile
        p = tmp_path / f"{profile}.yaml"
        p.write_text(yaml.safe_dump(params, sort_keys=False))
        ab = load_section(AblateConfig, "ablate", p)
        base = load_section(TrainStcgConfig, "train_stcg", p)
        load_section(FewshotStcgConfig, "fewshot_stcg", p)
        assert list(ab.variants)[0] == "full"
        # the ablations' own reference is, as committed, the main model
        assert ab.model == base.model and ab.window == base.window, profile
        assert variant_config(ab.variants["full"], ab).model == base.model
        for name, var in ab.variants.items():
            cfg = variant_config(var, ab)
            assert cfg.optim == ab.optim and cfg.seed == ab.seed, name
            if var.clusters is not None:
                assert var.clusters < load_section(BuildGraphConfig, "build_graph", p).clusters
    # every model switch of the paper's architecture has a variant
    ab = load_section(AblateConfig, "ablate", tmp_path / "default.yaml")
    changed = {k for v in ab.variants.values() for k in v.model}
    assert {"condition", "gcn", "lstm", "temporal_conv", "attention", "interp",
            "interp_source", "consistency_weight"} <= changed
    assert any(v.window for v in ab.variants.values())
    assert any(v.clusters for v in ab.variants.values())


def test_variant_overrides_apply_and_bad_ones_are_named() -> None:
    ref = {"window": 8, "model": {"d_model": 16, "heads": 2}}
    ab = from_dict(AblateConfig, {"optim": {"epochs": 1, "batch_size": 32}, "seed": 7, **ref,
                                  "variants": {"full": {}, "x": {"model": {"gcn": False},
                                                                 "window": 2}}})
    cfg = variant_config(ab.variants["x"], ab)
    assert cfg.model.gcn is False and cfg.model.d_model == 16 and cfg.window == 2
    assert cfg.optim.epochs == 1 and cfg.seed == 7 and cfg.monitor_samples == 0
    full = variant_config(ab.variants["full"], ab)
    assert full.model == ab.model and full.model.gcn is True and full.window == 8
    with pytest.raises(ConfigError, match="gcnn"):
        from_dict(AblateConfig, {"optim": {"epochs": 1, "batch_size": 1}, **ref,
                                 "variants": {"full": {}, "x": {"model": {"gcnn": False}}}},
                  where="ablate")
    with pytest.raises(ConfigError, match="full"):
        from_dict(AblateConfig, {"optim": {"epochs": 1, "batch_size": 1}, **ref,
                                 "variants": {"x": {"window": 2}}}, where="ablate")
    with pytest.raises(ConfigError, match="window"):
        from_dict(AblateConfig, {"optim": {"epochs": 1, "batch_size": 1}, **ref,
                                 "variants": {"full": {}, "x": {"window": 50}}}, where="ablate")
    assert describe(AblationVariant(model={"gcn": False})) == "model.gcn=false"
    assert describe(AblationVariant(clusters=10, window=2)) == "window=2, clusters=10"


def test_table_deltas_against_full(tmp_path) -> None:
    variants = {"full": AblationVariant(), "no_gcn": AblationVariant(model={"gcn": False}),
                "missing": AblationVariant(window=2)}
    for name, rmse in (("full", 0.5), ("no_gcn", 0.62)):
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"test": {"rmse": rmse, "mae": 0.3, "r2": 0.9, "n": 100}, "parameters": 1234}))
    md, df = ablation_table(tmp_path, variants, "1 epoch")
    assert list(df.variant) == ["full", "no_gcn", "missing"]
    assert df.delta_rmse[1] == pytest.approx(0.12) and df.delta_rmse[0] == 0.0
    assert "| no_gcn | model.gcn=false | 0.620 |" in md and "+0.120" in md
    assert "| missing | window=2 | n/a |" in md and "1,234" in md and "100 random" in md


def test_stages_on_the_toy_dataset(toy_data, toy_graph, tmp_path) -> None:
    params = {
        "profile": "tiny",
        "build_graph": {"seed": 0, "clusters": 8, "knn": 3,
                        "node2vec": {"dim": 8, "walk_length": 6, "context_size": 3,
                                     "walks_per_node": 2, "epochs": 1}},
        "train_stcg": {"seed": 0, "window": 4, "device": "cpu",
                       "model": {"d_model": 8, "heads": 2, "encoder_blocks": 1,
                                 "decoder_layers": 1},
                       "optim": {"epochs": 9, "batch_size": 64}},
        "ablate": {"seed": 0, "eval_samples": 300, "window": 4, "device": "cpu",
                   "model": {"d_model": 8, "heads": 2, "encoder_blocks": 1, "decoder_layers": 1},
                   "optim": {"epochs": 1, "batch_size": 64, "samples_per_epoch": 256},
                   "variants": {"full": {}, "no_condition": {"model": {"condition": False,
                                                                   "interp_source": "data"}},
                                "k4": {"clusters": 4}}},
    }
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))
    for name in ("full", "no_condition", "k4"):
        _stage("ablate").main(["--variant", name, "--data", str(toy_data), "--graph",
                               str(toy_graph), "--metrics", str(tmp_path / "m" / f"{name}.json"),
                               "--params", str(pfile)])
    m = {n: json.loads((tmp_path / "m" / f"{n}.json").read_text()) for n in ("full", "k4",
                                                                          "no_condition")}
    assert m["full"]["test"]["n"] == 300 and m["full"]["train_samples"] == 256
    assert m["full"]["nodes"] == 8 and m["k4"]["nodes"] == 4
    assert m["no_condition"]["parameters"] < m["full"]["parameters"]
    assert m["full"]["test"]["rmse"] != m["no_condition"]["test"]["rmse"]
    with pytest.raises(StcgError, match="nope"):
        _stage("ablate").main(["--variant", "nope", "--data", str(toy_data), "--graph",
                               str(toy_graph), "--metrics", str(tmp_path / "x.json"),
                               "--params", str(pfile)])
    _stage("ablate_table").main(["--metrics-dir", str(tmp_path / "m"), "--out",
                                 str(tmp_path / "ab.md"), "--csv", str(tmp_path / "ab.csv"),
                                 "--headline", str(tmp_path / "h.json"), "--params", str(pfile)])
    df = pd.read_csv(tmp_path / "ab.csv")
    assert df.rmse.notna().all() and len(df) == 3
    head = json.loads((tmp_path / "h.json").read_text())
    assert head["full"]["rmse"] == pytest.approx(m["full"]["test"]["rmse"], rel=1e-5)
    assert head["delta_rmse"]["k4"] == pytest.approx(
        m["k4"]["test"]["rmse"] - m["full"]["test"]["rmse"], abs=1e-5)
    assert "1 epochs x 256 samples" in (tmp_path / "ab.md").read_text()


def _seeded(tmp_path: Path, name: str, rmses: list[float]) -> None:
    from stcg.metrics import aggregate_seeds

    runs = [{"test": {"rmse": r, "mae": r / 2, "r2": 1 - r, "n": 100}, "parameters": 10}
            for r in rmses]
    (tmp_path / f"{name}.json").write_text(json.dumps(aggregate_seeds(runs, [0, 1, 2][:len(runs)])))


def test_table_marks_differences_beyond_two_sd_of_full(tmp_path) -> None:
    # full: mean 0.50, sd 0.01 -> the threshold is |delta| > 0.02
    _seeded(tmp_path, "full", [0.49, 0.50, 0.51])
    _seeded(tmp_path, "worse", [0.53, 0.53, 0.53])        # +0.030: beyond
    _seeded(tmp_path, "noise", [0.505, 0.515, 0.51])      # +0.010: within
    _seeded(tmp_path, "better", [0.47, 0.47, 0.47])       # -0.030: beyond
    _seeded(tmp_path, "edge", [0.519, 0.519, 0.519])      # +0.019: within
    variants = {n: AblationVariant() if n == "full" else AblationVariant(window=2)
                for n in ("full", "worse", "noise", "better", "edge")}
    md, df = ablation_table(tmp_path, variants, "1 epoch")
    by = df.set_index("variant")
    assert by.loc["full", "rmse_sd"] == pytest.approx(0.01)
    assert by.loc["full", "n_seeds"] == 3
    assert by.loc["worse", "beyond_2sd"] is True and by.loc["better", "beyond_2sd"] is True
    assert by.loc["noise", "beyond_2sd"] is False and by.loc["edge", "beyond_2sd"] is False
    assert by.loc["full", "beyond_2sd"] is None
    assert "| worse | window=2 | 0.530 ± 0.000 |" in md and "| +0.030 * |" in md
    assert "| -0.030 * |" in md and "| +0.010 |" in md and "| +0.019 |" in md
    assert "| full | - (reference) | 0.500 ± 0.010 |" in md and "| Seeds |" in md
    assert "2 sd of `full`'s seed spread" in md and "2 × 0.0100" in md
    verdict = md.split("**Significance**")[1]
    assert "Worse than `full`: `worse` (+0.030)." in verdict
    assert "Better than `full`: `better` (-0.030)." in verdict
    assert "Within the noise of `full`" in verdict and "`edge` (+0.019), `noise` (+0.010)" in verdict


def test_table_with_one_seed_marks_nothing(tmp_path) -> None:
    _seeded(tmp_path, "full", [0.5])
    _seeded(tmp_path, "other", [0.9])
    md, df = ablation_table(tmp_path, {"full": AblationVariant(),
                                       "other": AblationVariant(window=2)}, "1 epoch")
    assert df.beyond_2sd.isna().all() and "*" not in md.split("\n", 1)[1]
    assert "Significance" not in md and "Seeds |" not in md and "ablate.seeds=3" in md
    assert "| other | window=2 | 0.900 | 0.450 |" in md


def test_ablations_headline_noise_floor(tmp_path) -> None:
    from stcg.report.headline import ablations_headline

    _seeded(tmp_path, "full", [0.49, 0.50, 0.51])
    _seeded(tmp_path, "x", [0.6, 0.6, 0.6])
    _, df = ablation_table(tmp_path, {"full": AblationVariant(),
                                      "x": AblationVariant(window=2)}, "1 epoch")
    h = ablations_headline(df)
    assert h["n_seeds"] == 3 and h["full"]["rmse_sd"] == pytest.approx(0.01)
    assert h["delta_rmse"]["x"] == pytest.approx(0.1)
