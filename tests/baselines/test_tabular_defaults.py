"""params.yaml's Table 1 hyperparameters equal the published defaults they claim to be.

The tables below were read from the sources named beside each entry (AutoGluon at git tag
v1.1.1, paths under tabular/src/autogluon/tabular/; pytorch-frame at git tag 0.2.3).  Budgets
(rows, rounds, trees, epochs) are not hyperparameters and are not checked here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stcg.baselines.tabular.config import TrainTabularConfig
from stcg.config import from_dict, read_params, resolve_profile

REPO = Path(__file__).resolve().parents[2]

AUTOGLUON_1_1_1 = {
    # trainer/model_presets/presets_custom.py ("GBMLarge") ->
    # models/lgb/hyperparameters/parameters.py::get_param_regression_baseline_custom
    # (min_data_in_leaf is 5 for regression; 3 is the multiclass value);
    # num_boost_round: parameters.py::DEFAULT_NUM_BOOST_ROUND
    "LightGBMLarge": {"learning_rate": 0.03, "num_leaves": 128, "feature_fraction": 0.9,
                      "min_data_in_leaf": 5, "num_boost_round": 10000},
    # configs/hyperparameter_configs.py default "GBM": {} ->
    # models/lgb/hyperparameters/parameters.py::get_param_regression_baseline
    "LightGBM": {"learning_rate": 0.05, "num_boost_round": 10000},
    # configs/hyperparameter_configs.py default "GBM": {"extra_trees": True, suffix "XT"}
    "LightGBMXT": {"learning_rate": 0.05, "extra_trees": True, "num_boost_round": 10000},
    # models/xgboost/hyperparameters/parameters.py::get_base_params + regression baseline;
    # tree_method "hist": models/xgboost/xgboost_model.py::_fit
    "XGBoost": {"n_estimators": 10000, "learning_rate": 0.1, "objective": "reg:squarederror",
                "booster": "gbtree", "tree_method": "hist", "proc.max_category_levels": 100},
    # models/catboost/hyperparameters/parameters.py::get_param_regression_baseline;
    # catboost_model.py::_set_default_params (random_seed 0 = train_tabular.seed)
    "CatBoost": {"iterations": 10000, "learning_rate": 0.05, "allow_writing_files": False,
                 "eval_metric": "RMSE"},
    # configs/hyperparameter_configs.py default "KNN"; models/knn/knn_model.py uses
    # sklearn's KNeighborsRegressor, whose n_neighbors default is 5
    "KNeighborsUnif": {"weights": "uniform", "n_neighbors": 5},
    "KNeighborsDist": {"weights": "distance", "n_neighbors": 5},
    # models/rf/rf_model.py::_set_default_params (random_state 0 = train_tabular.seed);
    # configs/hyperparameter_configs.py default "RF" {"criterion": "squared_error"} (MSE)
    "RandomForestMSE": {"n_estimators": 300, "max_leaf_nodes": 15000, "bootstrap": True,
                        "criterion": "squared_error"},
    # models/fastainn/hyperparameters/parameters.py::get_param_multiclass_baseline (shared by
    # regression); layers [200, 100] for regression and epochs 30 ("auto" without a time limit):
    # models/fastainn/tabular_nn_fastai.py::_fit / _get_epochs_number
    "NeuralNetFastAI": {"layers": [200, 100], "emb_drop": 0.1, "ps": 0.1, "bs": "auto",
                        "lr": 0.01, "epochs": 30, "early.stopping.min_delta": 0.0001,
                        "early.stopping.patience": 20},
}

PYTORCH_FRAME_0_2_3 = {
    # examples/tabnet.py argparse defaults
    "TabNet": {"num_layers": 6, "split_feat_channels": 128, "split_attn_channels": 128,
               "gamma": 1.2},
    # examples/excelformer.py argparse defaults and its ExcelFormer(...) call
    "ExcelFormer": {"channels": 256, "num_layers": 5, "num_heads": 4, "diam_dropout": 0.3,
                    "aium_dropout": 0.0, "residual_dropout": 0.0},
    # examples/revisiting.py argparse defaults
    "ResNet": {"channels": 256, "num_layers": 4},
    "FTTransformer": {"channels": 256, "num_layers": 4},
}

# paper Section 4.1: AdamW, batch 256, lr 1e-3 decayed to 1e-4 after 10 of 20 epochs
PAPER_OPTIM = {"lr": 0.001, "lr_final": 0.0001, "decay_fraction": 0.5, "batch_size": 256,
               "epochs": 20}


def _section(profile: str) -> TrainTabularConfig:
    raw = read_params(REPO / "params.yaml")["train_tabular"]
    return from_dict(TrainTabularConfig, resolve_profile(raw, profile), where="train_tabular")


def test_the_13_models_of_table_1_are_configured():
    cfg = _section("default")
    assert set(cfg.models) == set(AUTOGLUON_1_1_1) | set(PYTORCH_FRAME_0_2_3)
    assert len(cfg.models) == 13


@pytest.mark.parametrize("name", sorted(AUTOGLUON_1_1_1))
@pytest.mark.parametrize("profile", ["tiny", "default", "paper"])
def test_autogluon_defaults(name, profile):
    m = _section(profile).models[name]
    assert dict(m.params) == AUTOGLUON_1_1_1[name]
    assert "AutoGluon 1.1.1" in m.source


@pytest.mark.parametrize("name", sorted(PYTORCH_FRAME_0_2_3))
def test_pytorch_frame_example_settings_on_the_paper_profile(name):
    m = _section("paper").models[name]
    assert dict(m.params) == PYTORCH_FRAME_0_2_3[name]
    assert "pytorch-frame 0.2.3" in m.source
    assert m.epochs in (None, PAPER_OPTIM["epochs"])


def test_paper_optimiser_on_every_profile():
    for profile in ("tiny", "default", "paper"):
        o = _section(profile).optim
        assert {k: getattr(o, k) for k in PAPER_OPTIM if k != "epochs"} == {
            k: v for k, v in PAPER_OPTIM.items() if k != "epochs"}
    assert _section("paper").optim.epochs == PAPER_OPTIM["epochs"]


def test_paper_profile_uses_all_rows_where_the_model_can():
    models = _section("paper").models
    for name, m in models.items():
        if m.kind in ("knn", "random_forest"):
            continue  # exact KNN and a 300-tree forest over 52M rows: subsampled as AutoGluon
        assert m.max_train_rows is None, name
        assert m.max_rounds is None, name
