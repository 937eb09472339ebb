"""Devices of the Table 1 baselines: the GBDTs' GPU params, the device-resident batching of the
neural baselines.  No GPU is needed: the GPU checks are patched, the params are inspected."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stcg.baselines.tabular import gbdt
from stcg.baselines.tabular.config import TabularModelConfig, TrainTabularConfig
from stcg.baselines.tabular.gbdt import (
    CatBoostModel,
    LightGBMModel,
    XGBoostModel,
    resolve_gbdt_device,
)
from stcg.baselines.tabular.protocol import AdaptiveEarlyStopping
from stcg.baselines.tabular.registry import build_model
from stcg.baselines.tabular.torch_common import fit_epochs, predict_batches

CAT = [5]
LGB = {"learning_rate": 0.05, "num_boost_round": 10000}
XGB = {"n_estimators": 10000, "learning_rate": 0.1, "objective": "reg:squarederror",
       "booster": "gbtree", "tree_method": "hist", "proc.max_category_levels": 100}
CB = {"iterations": 10000, "learning_rate": 0.05, "allow_writing_files": False,
      "eval_metric": "RMSE"}


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend a CUDA device is visible and XGBoost's build has CUDA."""
    monkeypatch.setattr(gbdt, "_cuda_available", lambda: True)
    monkeypatch.setattr(gbdt, "_xgboost_has_cuda", lambda: True)


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gbdt, "_cuda_available", lambda: False)


def test_cpu_params_are_the_cpu_protocol(no_gpu):
    # the CPU dicts as the wrappers built them before devices existed: no device key at all
    for device in ("cpu", "auto"):
        assert LightGBMModel(LGB, 0, 2, device=device)._train_params() == {
            "objective": "regression", "metric": "rmse", "verbose": -1, "seed": 0,
            "num_threads": 2, "deterministic": True, "force_col_wise": True,
            "learning_rate": 0.05}
        params, rounds = XGBoostModel(XGB, 0, 2, max_rounds=1000, device=device)._train_params()
        assert rounds == 1000
        assert params == {"objective": "reg:squarederror", "booster": "gbtree",
                          "tree_method": "hist", "eval_metric": "rmse", "seed": 0, "nthread": 2,
                          "verbosity": 0, "learning_rate": 0.1}
        kw, metric = CatBoostModel(CB, 0, 2, max_rounds=1000, device=device)._train_params(500)
        assert metric == "RMSE"
        assert kw == {"iterations": 1000, "eval_metric": "RMSE", "random_seed": 0,
                      "thread_count": 2, "logging_level": "Silent", "learning_rate": 0.05,
                      "allow_writing_files": False}


def test_cuda_params_reach_each_library(gpu):
    lgb = LightGBMModel(LGB, 0, 2, device="cuda:1")._train_params()
    assert (lgb["device_type"], lgb["gpu_device_id"]) == ("gpu", 1)
    params, _ = XGBoostModel(XGB, 0, 2, device="cuda")._train_params()
    assert (params["device"], params["tree_method"]) == ("cuda:0", "hist")
    kw, _ = CatBoostModel(CB, 0, 2, max_rounds=100, device="cuda:2")._train_params(500)
    assert (kw["task_type"], kw["devices"]) == ("GPU", "2")
    # 500 rows: patience 300 at every round (AutoGluon's floor below 10k rows)
    assert (kw["od_type"], kw["od_wait"]) == ("Iter", 300)
    kw, _ = CatBoostModel(CB, 0, 2, device="cuda")._train_params(10**7)
    # 10M rows: floor 20; patience 0.3 * best + 20 reaches 3020 by round 9999
    assert kw["od_wait"] == 3020 == AdaptiveEarlyStopping.for_rows(10**7).longest_patience(10000)


def test_auto_device(gpu, monkeypatch):
    assert resolve_gbdt_device("auto", "lightgbm") is None  # OpenCL only when asked for
    assert resolve_gbdt_device("auto", "catboost") == 0
    assert resolve_gbdt_device("auto", "xgboost") == 0
    monkeypatch.setattr(gbdt, "_xgboost_has_cuda", lambda: False)
    assert resolve_gbdt_device("auto", "xgboost") is None
    monkeypatch.setattr(gbdt, "_cuda_available", lambda: False)
    assert resolve_gbdt_device("auto", "catboost") is None


@pytest.mark.parametrize("cls,params", [(LightGBMModel, LGB), (XGBoostModel, XGB),
                                        (CatBoostModel, CB)])
def test_cuda_without_a_gpu_is_a_one_line_error(no_gpu, cls, params):
    with pytest.raises(RuntimeError, match="train_tabular.gbdt_device: 'cuda' requested") as e:
        cls(params, 0, 1, device="cuda")
    assert "\n" not in str(e.value)
    # the same through the stage's config and registry
    cfg = TabularModelConfig(kind=cls.__name__.removesuffix("Model").lower(), source="t",
                             params=params)
    with pytest.raises(RuntimeError, match="gbdt_device"):
        build_model(cfg, gbdt_device="cuda")


def test_cpu_only_xgboost_build_and_bad_strings(gpu, monkeypatch):
    monkeypatch.setattr(gbdt, "_xgboost_has_cuda", lambda: False)
    with pytest.raises(RuntimeError, match="xgboost-cpu") as e:
        XGBoostModel(XGB, 0, 1, device="cuda")
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="gbdt_device: got 'gpu'"):
        resolve_gbdt_device("gpu", "catboost")
    cfg = TrainTabularConfig(seed=0, features=None, optim=None,  # type: ignore[arg-type]
                             models={"x": TabularModelConfig(kind="lightgbm", source="t")},
                             gbdt_device="tpu")
    with pytest.raises(ValueError, match="gbdt_device must be auto, cpu or cuda"):
        cfg.validate()


def test_lightgbm_gpu_failure_names_the_param(gpu, arrays):
    # this wheel's GPU learner is OpenCL; without an OpenCL device the fit fails in one line
    m = LightGBMModel({"learning_rate": 0.1}, 0, 1, max_rounds=5, device="cuda")
    try:
        m.fit(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"],
              cat_features=CAT)
    except RuntimeError as e:
        assert str(e).startswith("train_tabular.gbdt_device: LightGBM's GPU (OpenCL)")
        assert "\n" not in str(e)
    else:  # an OpenCL device exists here: the GPU learner must fit as well as the CPU one
        cpu = LightGBMModel({"learning_rate": 0.1}, 0, 1, max_rounds=5)
        cpu.fit(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"],
                cat_features=CAT)
        np.testing.assert_allclose(m.predict(arrays["x_test"]), cpu.predict(arrays["x_test"]),
                                   rtol=1e-2, atol=1e-2)


def test_catboost_replayed_stopping_equals_the_callback(arrays):
    # the GPU path (detector + replay) run on CPU against the CPU callback: same decision
    rng = np.random.default_rng(3)
    y = arrays["y_train"] + rng.normal(scale=2.0, size=arrays["y_train"].shape)
    fits = []
    for replay in (False, True):
        m = CatBoostModel({"learning_rate": 0.5, "allow_writing_files": False}, 0, 1,
                          max_rounds=700)
        m.replay_stopping = replay
        m.fit(arrays["x_train"], y, arrays["x_val"], arrays["y_val"], cat_features=CAT)
        fits.append(m)
    cb, rp = fits
    assert cb.info["stopped_early"] and rp.info["stopped_early"]
    for key in ("best_iteration", "rounds_run", "val_rmse"):
        assert cb.info[key] == rp.info[key]
    np.testing.assert_array_equal(cb.predict(arrays["x_test"]), rp.predict(arrays["x_test"]))


class _Lin(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = torch.nn.Linear(3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)


def test_batching_is_the_seeded_permutation_and_predictions_match():
    """fit_epochs' batches are slices of one seeded host permutation per epoch, indexing data
    already on the device; the reference loop does the same by hand on CPU."""
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(50, 3, generator=g), torch.randn(50, generator=g)
    dev = torch.device("cpu")
    seen: list[torch.Tensor] = []

    def batch(idx: torch.Tensor) -> torch.Tensor:
        assert idx.device == x.device
        seen.append(idx.clone())
        return x[idx]

    model = _Lin()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hist = fit_epochs(model, batch, y, lambda: 0.0, opt, epochs=2, batch_size=16, seed=7,
                      device=dev, lr_at=lambda e, s: None, select_best=False)
    ref = _Lin()
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)
    gen = torch.Generator().manual_seed(7)
    batches, losses = [], []
    for _ in range(2):
        perm, total = torch.randperm(50, generator=gen), 0.0
        for s in range(0, 50, 16):
            idx = perm[s:s + 16]
            batches.append(idx)
            loss = torch.nn.functional.mse_loss(ref(x[idx]).reshape(-1), y[idx])
            ref_opt.zero_grad()
            loss.backward()
            ref_opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / 50)
    assert len(seen) == len(batches) == 8
    for a, b in zip(seen, batches, strict=True):
        assert torch.equal(a, b)
    np.testing.assert_allclose(hist.train_loss, losses, rtol=1e-6)
    for p, q in zip(model.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    # batched inference equals one forward over every row
    pred = predict_batches(model, lambda i: x[i], 50, 16, dev)
    with torch.no_grad():
        np.testing.assert_allclose(pred, model(x).reshape(-1).double().numpy(), rtol=1e-6)
