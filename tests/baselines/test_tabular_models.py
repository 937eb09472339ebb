"""Each Table 1 wrapper fits and predicts on tiny data, beats a constant, and is deterministic.

Hyperparameters here are small versions of the params.yaml ones (the defaults themselves are
checked in test_tabular_defaults.py); where a wrapper is a thin layer over a library, its
predictions are compared with the library called directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from stcg.baselines.tabular.base import CategoryCodes
from stcg.baselines.tabular.frame import FrameModel, column_stats, tensor_frame
from stcg.baselines.tabular.gbdt import CatBoostModel, LightGBMModel, XGBoostModel
from stcg.baselines.tabular.mlp import FastAIMLPModel, fastai_emb_size
from stcg.baselines.tabular.sklearn_models import KNNModel, RandomForestModel

CAT = (5,)
SMALL_FRAME = dict(epochs=8, batch_size=64, lr=1e-2, lr_final=1e-3, threads=1, device="cpu")

WRAPPERS = {
    "LightGBM": lambda s: LightGBMModel({"learning_rate": 0.05}, s, 1, max_rounds=400),
    "LightGBMXT": lambda s: LightGBMModel({"learning_rate": 0.05, "extra_trees": True}, s, 1,
                                          max_rounds=400),
    "LightGBMLarge": lambda s: LightGBMModel(
        {"learning_rate": 0.03, "num_leaves": 128, "feature_fraction": 0.9,
         "min_data_in_leaf": 5}, s, 1, max_rounds=400),
    "XGBoost": lambda s: XGBoostModel(
        {"n_estimators": 10000, "learning_rate": 0.1, "objective": "reg:squarederror",
         "booster": "gbtree", "tree_method": "hist", "proc.max_category_levels": 100}, s, 1,
        max_rounds=300),
    "CatBoost": lambda s: CatBoostModel(
        {"iterations": 10000, "learning_rate": 0.05, "allow_writing_files": False,
         "eval_metric": "RMSE"}, s, 1, max_rounds=300),
    "KNeighborsUnif": lambda s: KNNModel({"weights": "uniform", "n_neighbors": 5}, s, 1),
    "KNeighborsDist": lambda s: KNNModel({"weights": "distance", "n_neighbors": 5}, s, 1),
    "RandomForestMSE": lambda s: RandomForestModel(
        {"n_estimators": 300, "max_leaf_nodes": 15000, "bootstrap": True,
         "criterion": "squared_error"}, s, 1, n_estimators_cap=20),
    "NeuralNetFastAI": lambda s: FastAIMLPModel(
        {"layers": [200, 100], "emb_drop": 0.1, "ps": 0.1, "bs": "auto", "lr": 0.01,
         "epochs": 30}, s, 1, device="cpu", epochs_cap=12),
    "TabNet": lambda s: FrameModel("tabnet", {"num_layers": 2, "split_feat_channels": 16,
                                              "split_attn_channels": 16, "gamma": 1.2},
                                   seed=s, **SMALL_FRAME),
    "ExcelFormer": lambda s: FrameModel("excelformer", {"channels": 16, "num_layers": 2,
                                                        "num_heads": 2, "diam_dropout": 0.3},
                                        seed=s, **SMALL_FRAME),
    "ResNet": lambda s: FrameModel("resnet", {"channels": 32, "num_layers": 2}, seed=s,
                                   **SMALL_FRAME),
    "FTTransformer": lambda s: FrameModel("ft_transformer", {"channels": 16, "num_layers": 2},
                                          seed=s, **SMALL_FRAME),
}


def _fit(make, arrays, seed=0):
    m = make(seed)
    m.fit(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"],
          cat_features=CAT)
    return m


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, float) - np.asarray(b, float)) ** 2)))


@pytest.fixture(scope="module")
def fitted(arrays):
    """Every wrapper fitted once (seed 0), with its test predictions."""
    out = {}
    for name, make in WRAPPERS.items():
        m = _fit(make, arrays)
        out[name] = (m, m.predict(arrays["x_test"]))
    return out


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_fits_predicts_and_beats_a_constant(name, fitted, arrays):
    model, pred = fitted[name]
    y = arrays["y_test"]
    assert pred.shape == y.shape and pred.dtype == np.float64
    assert np.all(np.isfinite(pred))
    const = _rmse(np.full_like(y, arrays["y_train"].mean()), y)
    # the signal explains > 90 % of the variance; every model must capture most of it
    limit = 0.75 if name.startswith("KNeighbors") else 0.6
    assert _rmse(pred, y) < limit * const, (name, _rmse(pred, y), const)
    assert model.info["train_rows"] == len(arrays["y_train"])


@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_deterministic_for_a_seed(name, fitted, arrays):
    again = _fit(WRAPPERS[name], arrays).predict(arrays["x_test"])
    np.testing.assert_allclose(again, fitted[name][1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["TabNet", "ExcelFormer", "ResNet", "FTTransformer"])
def test_frame_predictions_do_not_depend_on_the_inference_batch(name, fitted, arrays):
    model, pred = fitted[name]
    assert model.eval_batch_size == 1024  # the CPU default
    x = arrays["x_test"]
    try:
        for bs in (7, 8192):
            model.eval_batch_size = bs
            np.testing.assert_allclose(model.predict(x), pred, rtol=0, atol=1e-5)
    finally:
        model.eval_batch_size = 1024


@pytest.mark.parametrize("name", ["LightGBMLarge", "CatBoost", "RandomForestMSE", "TabNet"])
def test_another_seed_changes_a_randomised_model(name, fitted, arrays):
    # (LightGBM and XGBoost defaults sample no rows or columns: their seed has no effect)
    other = _fit(WRAPPERS[name], arrays, seed=1).predict(arrays["x_test"])
    assert not np.allclose(other, fitted[name][1])


def test_gbdts_early_stop_on_the_validation_split(arrays):
    # noisy target: the validation RMSE bottoms out long before 10000 rounds
    rng = np.random.default_rng(1)
    y_noisy = arrays["y_train"] + rng.normal(scale=2.0, size=arrays["y_train"].shape)
    m = LightGBMModel({"learning_rate": 0.3}, 0, 1)
    m.fit(arrays["x_train"], y_noisy, arrays["x_val"], arrays["y_val"], cat_features=CAT)
    assert m.info["stopped_early"]
    # patience 300 (fewer than 10k rows): stops exactly best + 300 rounds later
    assert m.info["rounds_run"] == m.info["best_iteration"] + 300
    x = XGBoostModel({"learning_rate": 0.3}, 0, 1)
    x.fit(arrays["x_train"], y_noisy, arrays["x_val"], arrays["y_val"], cat_features=CAT)
    assert x.info["stopped_early"]
    assert x.info["rounds_run"] == x.info["best_iteration"] + 300


def test_lightgbm_treeshap_sums_to_the_prediction(fitted, arrays):
    model, pred = fitted["LightGBM"]
    contrib = model.contributions(arrays["x_test"])
    assert contrib.shape == (len(pred), arrays["x_test"].shape[1] + 1)
    np.testing.assert_allclose(contrib.sum(axis=1), pred, rtol=1e-6, atol=1e-6)


def test_lightgbm_equals_the_library_called_directly(fitted, arrays):
    import lightgbm as lgb

    model, pred = fitted["LightGBM"]
    ds = lgb.Dataset(arrays["x_train"], arrays["y_train"], categorical_feature=list(CAT))
    booster = lgb.train({"objective": "regression", "learning_rate": 0.05, "verbose": -1,
                         "seed": 0, "num_threads": 1, "deterministic": True,
                         "force_col_wise": True}, ds, num_boost_round=model.best_iteration)
    np.testing.assert_allclose(booster.predict(arrays["x_test"]), pred, rtol=1e-6, atol=1e-6)


def test_knn_is_sklearn_on_the_numerical_columns_filled_with_zero(fitted, arrays):
    from sklearn.neighbors import KNeighborsRegressor

    def prep(x):
        return np.nan_to_num(x[:, :5], nan=0.0)

    ref = KNeighborsRegressor(weights="distance").fit(prep(arrays["x_train"]), arrays["y_train"])
    np.testing.assert_allclose(fitted["KNeighborsDist"][1], ref.predict(prep(arrays["x_test"])),
                               rtol=1e-6)
    # the categorical column is ignored, as AutoGluon's KNN does
    x = arrays["x_test"].copy()
    x[:, 5] = 99
    np.testing.assert_array_equal(fitted["KNeighborsDist"][0].predict(x),
                                  fitted["KNeighborsDist"][1])


def test_random_forest_is_sklearn_with_label_encoding(fitted, arrays):
    from sklearn.ensemble import RandomForestRegressor

    ref = RandomForestRegressor(n_estimators=20, max_leaf_nodes=15000, random_state=0,
                                n_jobs=1).fit(np.nan_to_num(arrays["x_train"]), arrays["y_train"])
    # categories 0..5 are already their own label codes
    np.testing.assert_allclose(fitted["RandomForestMSE"][1],
                               ref.predict(np.nan_to_num(arrays["x_test"])), rtol=1e-6)


def test_xgboost_one_hot_ignores_unseen_categories(fitted, arrays):
    model, _ = fitted["XGBoost"]
    x = arrays["x_test"][:5].copy()
    x[:, 5] = 42  # never seen: all one-hot columns zero
    assert np.all(np.isfinite(model.predict(x)))
    assert model._one_hot(x)[:, 5:].sum() == 0


def test_mlp_predictions_stay_in_the_clipped_target_range(fitted, arrays):
    model, pred = fitted["NeuralNetFastAI"]
    lo, hi = model._clip
    y = arrays["y_train"]
    assert lo == pytest.approx(y.min() - 0.05 * y.std(), rel=1e-5)
    assert pred.min() >= lo and pred.max() <= hi
    x = arrays["x_test"][:3] * 100  # far outside the training range
    out = model.predict(x)
    assert np.all((out >= lo) & (out <= hi))


def test_fastai_embedding_rule():
    # fastai.tabular.model.emb_sz_rule: min(600, round(1.6 * n ** 0.56))
    assert [fastai_emb_size(n) for n in (2, 3, 7, 18, 10**6)] == [2, 3, 5, 8, 600]


def test_unknown_hyperparameter_is_an_error():
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['num_leafs'\]"):
        LightGBMModel({"num_leafs": 3})
    with pytest.raises(ValueError, match="unknown pytorch-frame architecture"):
        FrameModel("saint", {})


def test_bad_inputs_name_the_problem(arrays):
    m = KNNModel({"weights": "uniform"})
    y = arrays["y_train"].copy()
    y[0] = np.nan
    with pytest.raises(ValueError, match="y_train holds non-finite"):
        m.fit(arrays["x_train"], y, arrays["x_val"], arrays["y_val"])
    with pytest.raises(RuntimeError, match="before fit"):
        m.predict(arrays["x_test"])
    with pytest.raises(ValueError, match="cat_features"):
        m.fit(arrays["x_train"], arrays["y_train"], arrays["x_val"], arrays["y_val"],
              cat_features=(9,))


def test_tensor_frame_equals_pytorch_frame_materialize():
    """The direct TensorFrame + numpy col_stats match Dataset.materialize on the same data."""
    import pandas as pd
    import torch
    import torch_frame
    from torch_frame.data import Dataset
    from torch_frame.data.stats import StatType

    rng = np.random.default_rng(0)
    n = 500
    num = rng.normal(size=(n, 3)).astype(np.float32)
    num[::17, 1] = np.nan
    # distinct counts per category so the COUNT order is unambiguous
    cat = np.repeat([4.0, 1.0, 12.0, 8.0], [200, 150, 100, 50])
    cat[7] = np.nan
    y = rng.normal(size=n).astype(np.float32)
    df = pd.DataFrame({"a": num[:, 0], "b": num[:, 1], "c": num[:, 2], "lc": cat, "y": y})
    ds = Dataset(df, col_to_stype={"a": torch_frame.numerical, "b": torch_frame.numerical,
                                   "c": torch_frame.numerical, "lc": torch_frame.categorical,
                                   "y": torch_frame.numerical}, target_col="y")
    ds.materialize()
    codes = CategoryCodes(cat)
    stats = column_stats(num, ["a", "b", "c"], {"lc": codes})
    tf = tensor_frame(num, ["a", "b", "c"], codes.transform(cat)[:, None], ["lc"], y)
    for col in ("a", "b", "c"):
        for st in (StatType.MEAN, StatType.STD):
            # pytorch-frame accumulates in float32, we in float64
            assert stats[col][st] == pytest.approx(ds.col_stats[col][st], rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(stats[col][StatType.QUANTILES],
                                   ds.col_stats[col][StatType.QUANTILES], rtol=1e-6)
    cats_ref, counts_ref = ds.col_stats["lc"][StatType.COUNT]
    assert [float(c) for c in stats["lc"][StatType.COUNT][0]] == [float(c) for c in cats_ref]
    assert stats["lc"][StatType.COUNT][1] == list(counts_ref)
    ref = ds.tensor_frame
    torch.testing.assert_close(tf.feat_dict[torch_frame.numerical],
                               ref.feat_dict[torch_frame.numerical], equal_nan=True)
    torch.testing.assert_close(tf.feat_dict[torch_frame.categorical],
                               ref.feat_dict[torch_frame.categorical])
    torch.testing.assert_close(tf.y, ref.y)


@pytest.mark.parametrize("name", ["NeuralNetFastAI", "TabNet", "ExcelFormer", "ResNet",
                                  "FTTransformer"])
def test_mixed_precision_path_runs(name, arrays, monkeypatch):
    """The CUDA path trains under bf16 autocast; emulate it with CPU autocast (no GPU here)."""
    import torch

    import stcg.baselines.tabular.torch_common as tc

    monkeypatch.setattr(tc, "autocast",
                        lambda device: torch.autocast(device_type="cpu", dtype=torch.bfloat16))
    m = WRAPPERS[name](0)
    if isinstance(m, FrameModel):
        m.epochs = 1
    else:
        m.epochs_cap = 1
    n = 300
    m.fit(arrays["x_train"][:n], arrays["y_train"][:n], arrays["x_val"][:50],
          arrays["y_val"][:50], cat_features=CAT)
    pred = m.predict(arrays["x_test"][:50])
    assert pred.dtype == np.float64 and np.all(np.isfinite(pred))
