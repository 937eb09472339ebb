"""Several seeds of STCG: train_stcg (n = 2), resume across seeds, the ablations' n-seed path."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stcg.graph.build import load_graph
from stcg.metrics import sd_at
from stcg.model.config import ModelConfig
from stcg.report.headline import stcg_headline
from stcg.train.ablate import run_variant
from stcg.train.bundle import load_bundle
from stcg.train.config import OptimConfig, TrainStcgConfig
from stcg.train.run import seed_files, train_stcg

REPO = Path(__file__).resolve().parents[2]
SMALL = ModelConfig(d_model=8, heads=2, encoder_blocks=1, decoder_layers=1)


def _cfg(seeds: int, epochs: int = 2) -> TrainStcgConfig:
    return TrainStcgConfig(
        seed=3, seeds=seeds, window=4, model=SMALL, device="cpu", monitor_samples=64,
        eval_batch_size=1024, threads=1,
        optim=OptimConfig(epochs=epochs, batch_size=64, samples_per_epoch=256, lr=3e-3,
                          lr_final=3e-4))


def _train(toy_data, toy_graph, d: Path, cfg: TrainStcgConfig, **kw) -> dict:
    return train_stcg(toy_data, toy_graph, cfg, d / "out", d / "ckpt" / "last.pt",
                      d / "m.json", d / "plots", progress=False, **kw)


def test_two_seeds_mean_sd_and_first_seed_outputs(toy_data, toy_graph, tmp_path) -> None:
    one = _train(toy_data, toy_graph, tmp_path / "one", _cfg(1))
    two = _train(toy_data, toy_graph, tmp_path / "two", _cfg(2))
    written = json.loads((tmp_path / "two" / "m.json").read_text())
    s = written["seeds"]
    assert s["n"] == 2 and s["seeds"] == [3, 4]
    r3, r4 = s["runs"]
    # the first seed is the single-seed run: same metrics, same model file
    assert r3["test"] == pytest.approx(one["test"], rel=1e-5)  # JSON: 6 digits
    a = load_bundle(tmp_path / "one" / "out" / "model.pt").state_dict
    b = load_bundle(tmp_path / "two" / "out" / "model.pt").state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)
    # different seeds train different models
    assert abs(r3["test"]["rmse"] - r4["test"]["rmse"]) > 1e-4
    # the aggregate is the mean and the sample sd of the per-seed values
    for key in ("rmse", "mae", "r2", "bias"):
        vals = np.array([r3["test"][key], r4["test"][key]])
        # the JSON keeps 6 significant digits of each run: a mean of values of opposite sign
        # (bias) is only known to that precision of the larger value
        tol = 1e-5 * float(np.abs(vals).max()) + 1e-7
        assert written["test"][key] == pytest.approx(vals.mean(), rel=1e-5, abs=tol)
        assert s["sd"]["test"][key] == pytest.approx(vals.std(ddof=1), rel=1e-4, abs=tol)
    assert written["test"]["n"] == one["test"]["n"]
    assert two["test"]["rmse"] == pytest.approx(written["test"]["rmse"], rel=1e-5)
    # climatology does not depend on the seed: no spread
    assert sd_at(written, "climatology", "test", "rmse") == 0.0
    # the headline carries the noise floor
    head = stcg_headline(two)
    assert head["n_seeds"] == 2
    assert head["test"]["rmse_sd"] == pytest.approx(sd_at(two, "test", "rmse"))
    assert "rmse_sd" not in stcg_headline(one)["test"] and "n_seeds" not in stcg_headline(one)
    # nothing of the extra seed is left beside the checkpoint once the run completed
    ckpt = tmp_path / "two" / "ckpt" / "last.pt"
    assert ckpt.exists() and not any(p.exists() for p in seed_files(ckpt, 4))


def test_resume_skips_a_finished_extra_seed(toy_data, toy_graph, tmp_path) -> None:
    cfg = _cfg(2)

    class Crash(RuntimeError):
        pass

    calls: list[int] = []

    def crash_in_main_seed(epoch: int) -> None:
        calls.append(epoch)
        if len(calls) == 3:  # seed 4's two epochs, then the main seed's first
            raise Crash

    with pytest.raises(Crash):
        _train(toy_data, toy_graph, tmp_path, cfg, on_epoch_end=crash_in_main_seed)
    done = seed_files(tmp_path / "ckpt" / "last.pt", 4)[1]
    assert done.exists() and not (tmp_path / "m.json").exists()
    seen: list[int] = []
    res = _train(toy_data, toy_graph, tmp_path, cfg, on_epoch_end=seen.append)
    assert seen == [2], "seed 4 not retrained, the main seed resumed after epoch 1"
    ref = _train(toy_data, toy_graph, tmp_path / "ref", cfg)
    assert res["test"] == pytest.approx(ref["test"], rel=1e-6)
    assert res["seeds"]["sd"]["test"]["rmse"] == pytest.approx(ref["seeds"]["sd"]["test"]["rmse"])
    assert not done.exists()
    # another configuration does not reuse a finished seed's report
    cfg_b = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=1e-3))
    calls.clear()
    with pytest.raises(Crash), pytest.warns(UserWarning, match="another configuration"):
        _train(toy_data, toy_graph, tmp_path, cfg_b, on_epoch_end=crash_in_main_seed)
    seen.clear()
    with pytest.warns(UserWarning, match="another configuration"):
        _train(toy_data, toy_graph, tmp_path, cfg, on_epoch_end=seen.append)
    assert seen == [1, 2, 1, 2], "both seeds retrained"


def test_ablation_variant_with_two_seeds(toy_data, toy_graph) -> None:
    cfg = dataclasses.replace(_cfg(1, epochs=1), monitor_samples=0)
    graph = load_graph(toy_graph)
    one = run_variant(toy_data, graph, cfg, 200)
    two = run_variant(toy_data, graph, cfg, 200, seeds=2)
    r3, r4 = two["seeds"]["runs"]
    assert r3["test"] == pytest.approx(one["test"])
    assert r3["test"]["n"] == r4["test"]["n"] == two["test"]["n"] == 200  # same rows
    assert r3["test"]["rmse"] != r4["test"]["rmse"]
    assert two["test"]["rmse"] == pytest.approx((r3["test"]["rmse"] + r4["test"]["rmse"]) / 2)
    assert two["parameters"] == one["parameters"]


def test_fewshot_stage_with_two_seeds(tmp_path) -> None:
    from stcg.fewshot.dataset import write_fewshot
    from stcg.graph.build import build_graph, save_graph
    from stcg.graph.config import BuildGraphConfig, Node2VecConfig

    from .test_fewshot_stcg import _fewshot

    fs, _ = _fewshot(size=8)
    write_fewshot(fs, tmp_path / "fs")
    g = build_graph(fs.cell_id, fs.lon, fs.lat,
                    BuildGraphConfig(seed=0, clusters=10, knn=4,
                                     node2vec=Node2VecConfig(dim=8, walks_per_node=2, epochs=1)),
                    progress=False)
    save_graph(tmp_path / "g.npz", g)
    spec = importlib.util.spec_from_file_location("fewshot_stcg", REPO / "stages/fewshot_stcg.py")
    stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stage)
    out = {}
    for n in (1, 2):
        params = tmp_path / f"p{n}.yaml"
        params.write_text(
            "profile: tiny\n"
            "train_stcg:\n  seed: 0\n  window: 3\n"
            "  model: {d_model: 8, heads: 2, encoder_blocks: 1, decoder_layers: 1}\n"
            "  optim: {epochs: 1, batch_size: 64}\n"
            f"fewshot_stcg:\n  seed: 0\n  seeds: {n}\n  device: cpu\n  threads: 1\n"
            "  optim: {epochs: 1, batch_size: 256}\n")
        stage.main(["--data", str(tmp_path / "fs"), "--graph", str(tmp_path / "g.npz"),
                    "--out", str(tmp_path / f"out{n}"), "--metrics", str(tmp_path / f"m{n}.json"),
                    "--params", str(params)])
        out[n] = json.loads((tmp_path / f"m{n}.json").read_text())
    runs = out[2]["seeds"]["runs"]
    assert out[2]["seeds"]["seeds"] == [0, 1] and "seeds" not in out[1]
    assert runs[0]["all"]["test"]["rmse"] == pytest.approx(out[1]["all"]["test"]["rmse"])
    assert runs[0]["all"]["test"]["rmse"] != runs[1]["all"]["test"]["rmse"]
    assert out[2]["weeks"]["w10"]["test"]["rmse"] == pytest.approx(
        np.mean([r["weeks"]["w10"]["test"]["rmse"] for r in runs]), rel=1e-5)
    # the coefficients are the first seed's
    import pandas as pd

    a = pd.read_parquet(tmp_path / "out1" / "coefficients.parquet")
    b = pd.read_parquet(tmp_path / "out2" / "coefficients.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_seeds_below_one_are_named() -> None:
    from stcg.config import ConfigError, from_dict
    from stcg.train.config import AblateConfig, FewshotStcgConfig

    base = {"seed": 0, "window": 4, "model": {}, "optim": {"epochs": 1, "batch_size": 8}}
    with pytest.raises(ConfigError, match=r"train_stcg: seeds: must be >= 1 .* got 0"):
        from_dict(TrainStcgConfig, {**base, "seeds": 0}, where="train_stcg")
    with pytest.raises(ConfigError, match="seeds: must be >= 1"):
        from_dict(FewshotStcgConfig, {"seed": 0, "seeds": -1, "optim": base["optim"]})
    with pytest.raises(ConfigError, match="seeds: must be >= 1"):
        from_dict(AblateConfig, {**base, "seeds": 0, "variants": {"full": {}}})
