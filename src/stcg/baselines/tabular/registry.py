"""Building a Table 1 wrapper from its ``params.yaml`` entry (``train_tabular.models.<name>``)."""

from __future__ import annotations

from stcg.baselines.tabular.base import TabularModel
from stcg.baselines.tabular.config import (
    TabularModelConfig,
    TabularOptimConfig,
    TrainTabularConfig,
)

FRAME_KINDS = ("tabnet", "excelformer", "resnet", "ft_transformer")


def build_model(
    cfg: TabularModelConfig,
    optim: TabularOptimConfig | None = None,
    seed: int = 0,
    threads: int = 0,
    device: str = "auto",
    standardize_target: bool = False,
    gbdt_device: str = "cpu",
) -> TabularModel:
    """The wrapper for ``cfg.kind`` with ``cfg.params`` and its budget.

    Args:
        cfg: the model's config.
        optim: the shared optimiser of the pytorch-frame models (default: the paper's).
        seed: random seed.
        threads: CPU threads (0 = all).
        device: torch device for the neural models.
        standardize_target: pytorch-frame models train on the standardised target.
        gbdt_device: device of LightGBM, XGBoost and CatBoost (``cpu`` | ``cuda[:N]`` |
            ``auto``).

    Returns:
        An unfitted :class:`TabularModel`.
    """
    params = dict(cfg.params)
    kind = cfg.kind
    if kind == "lightgbm":
        from stcg.baselines.tabular.gbdt import LightGBMModel

        return LightGBMModel(params, seed, threads, max_rounds=cfg.max_rounds,
                             device=gbdt_device)
    if kind == "xgboost":
        from stcg.baselines.tabular.gbdt import XGBoostModel

        return XGBoostModel(params, seed, threads, max_rounds=cfg.max_rounds,
                             device=gbdt_device)
    if kind == "catboost":
        from stcg.baselines.tabular.gbdt import CatBoostModel

        return CatBoostModel(params, seed, threads, max_rounds=cfg.max_rounds,
                             device=gbdt_device)
    if kind == "knn":
        from stcg.baselines.tabular.sklearn_models import KNNModel

        return KNNModel(params, seed, threads)
    if kind == "random_forest":
        from stcg.baselines.tabular.sklearn_models import RandomForestModel

        return RandomForestModel(params, seed, threads, n_estimators_cap=cfg.n_estimators_cap)
    if kind == "fastai_mlp":
        from stcg.baselines.tabular.mlp import FastAIMLPModel

        return FastAIMLPModel(params, seed, threads, device=device, epochs_cap=cfg.epochs)
    if kind in FRAME_KINDS:
        from stcg.baselines.tabular.frame import FrameModel

        o = optim or TabularOptimConfig()
        return FrameModel(kind, params, seed, threads, device=device,
                          epochs=cfg.epochs if cfg.epochs is not None else o.epochs,
                          batch_size=o.batch_size, lr=o.lr, lr_final=o.lr_final,
                          decay_fraction=o.decay_fraction, weight_decay=o.weight_decay,
                          standardize_target=standardize_target)
    raise ValueError(f"unknown tabular model kind {kind!r}")


def seed_dependent(cfg: TabularModelConfig) -> bool:
    """Whether the fit of ``cfg`` changes with its seed (else one run is every seed's run).

    KNN is exact; LightGBM (``deterministic: true``) and XGBoost (``hist``) draw random numbers
    only to subsample rows or features, so with every sampling fraction at 1 and no extra trees
    they give the same model for any seed.  CatBoost (random strength, MVS bootstrap), the
    random forest (bootstrap, feature draws) and the neural models always depend on it.
    """
    p = cfg.params
    if cfg.kind == "knn":
        return False
    if cfg.kind == "lightgbm":
        bagging = float(p.get("bagging_fraction", 1.0)) < 1 and int(p.get("bagging_freq", 0)) > 0
        return (bool(p.get("extra_trees", False)) or bagging
                or float(p.get("feature_fraction", 1.0)) < 1
                or float(p.get("feature_fraction_bynode", 1.0)) < 1)
    if cfg.kind == "xgboost":
        return any(float(p.get(k, 1.0)) < 1 for k in
                   ("subsample", "colsample_bytree", "colsample_bylevel", "colsample_bynode"))
    return True


def n_seeds(cfg: TrainTabularConfig, name: str) -> int:
    """How many seeds model ``name`` runs: 1 when its fit ignores the seed, else its ``seeds``
    (or ``train_tabular.seeds``)."""
    m = cfg.models[name]
    if not seed_dependent(m):
        return 1
    return m.seeds if m.seeds is not None else cfg.seeds
