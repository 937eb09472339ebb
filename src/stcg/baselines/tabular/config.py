"""Params of stage ``train_tabular``: the Table 1 baselines (paper Section 4.2).

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from stcg.data.schema import PERIODS_PER_YEAR

TabularKind = Literal[
    "lightgbm", "xgboost", "catboost", "knn", "random_forest", "fastai_mlp",
    "tabnet", "excelformer", "resnet", "ft_transformer",
]


@dataclasses.dataclass(frozen=True)
class TabularFeaturesConfig:
    """Design matrix of the Table 1 baselines (stcg.baselines.tabular.features).

    ``lags = 1`` is the paper's setting (the current period); ``L > 1`` appends the previous
    L-1 periods of every variable, the windowed STCG encoder's view.
    """

    lags: int = 1
    land_cover: bool = True

    def validate(self) -> None:
        """At least the current period."""
        if self.lags < 1:
            raise ValueError(f"features.lags must be >= 1, got {self.lags}")


@dataclasses.dataclass(frozen=True)
class TabularOptimConfig:
    """The main model's optimiser, used by the pytorch-frame baselines (paper Section 4.1)."""

    lr: float = 1e-3
    lr_final: float = 1e-4
    decay_fraction: float = 0.5
    weight_decay: float = 0.01
    batch_size: int = 256
    epochs: int = 20

    def validate(self) -> None:
        """Positive sizes, a decay point inside the run."""
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError("optim.batch_size and optim.epochs must be >= 1")
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ValueError(f"optim.decay_fraction must be in (0, 1], got {self.decay_fraction}")


@dataclasses.dataclass(frozen=True)
class TabularModelConfig:
    """One Table 1 baseline: its hyperparameters with their source, and its budget.

    Attributes:
        kind: which wrapper (stcg.baselines.tabular.registry).
        source: where ``params`` come from (AutoGluon 1.1.1 / pytorch-frame file).
        params: the model's hyperparameters, passed to the wrapper unchanged.
        max_train_rows: uniform subsample of the fit rows (None = all).
        max_rounds: boosting-round cap (GBDTs; None = AutoGluon's 10000).
        n_estimators_cap: tree cap (random forest; None = params.n_estimators).
        epochs: epochs (neural models; None = the model's default / optim.epochs).
        shap: also write TreeSHAP contributions of the test rows (LightGBM only).
        shap_periods: periods (0..45) of the test year to explain (None = all), e.g. the
            weeks of the paper's Figure 5 maps.
        shap_max_rows: then a uniform subsample of those rows (None = all).
        seeds: runs with model seeds ``seed, seed + 1, ...`` (None = ``train_tabular.seeds``);
            a model whose fit does not depend on its seed runs once
            (:func:`stcg.baselines.tabular.registry.seed_dependent`).
    """

    kind: TabularKind
    source: str
    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    max_train_rows: int | None = None
    max_rounds: int | None = None
    n_estimators_cap: int | None = None
    epochs: int | None = None
    shap: bool = False
    shap_periods: tuple[int, ...] | None = None
    shap_max_rows: int | None = None
    seeds: int | None = None

    def validate(self) -> None:
        """Budgets are positive; SHAP only for LightGBM."""
        for name in ("max_train_rows", "max_rounds", "n_estimators_cap", "epochs",
                     "shap_max_rows", "seeds"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be >= 1 or null, got {v}")

        if self.shap_periods is not None and not all(
            0 <= p < PERIODS_PER_YEAR for p in self.shap_periods
        ):
            raise ValueError(f"shap_periods must be in 0..45, got {list(self.shap_periods)}")
        if self.shap and self.kind != "lightgbm":
            raise ValueError(f"shap: true needs kind lightgbm, got {self.kind!r}")


@dataclasses.dataclass(frozen=True)
class TrainTabularConfig:
    """Stage ``train_tabular`` (one DVC matrix entry per model; paper Table 1).

    ``device`` places the neural models, ``gbdt_device`` LightGBM, XGBoost and CatBoost
    (:func:`stcg.baselines.tabular.gbdt.resolve_gbdt_device`).

    ``seed`` seeds the hold-out split and the row subsamples (the same rows for every model and
    seed) and the first model seed; ``seeds`` is the number of model seeds ``seed, seed + 1,
    ...`` of each seed-dependent model (a model's own ``seeds`` overrides it).

    ``seed_procs``: processes that fit a model's seeds side by side on CPU
    (:func:`stcg.baselines.tabular.run.seed_processes`); 0 = one per seed, 1 = one seed after
    another.  With ``threads: 0`` each process gets its share of the cores.
    """

    seed: int
    features: TabularFeaturesConfig
    optim: TabularOptimConfig
    models: dict[str, TabularModelConfig]
    threads: int = 0
    device: str = "auto"
    gbdt_device: str = "cpu"
    nn_standardize_target: bool = False
    seeds: int = 1
    seed_procs: int = 0

    def validate(self) -> None:
        """At least one model, at least one seed; a known device string."""
        if self.seeds < 1:
            raise ValueError(f"seeds: expected >= 1, got {self.seeds}")
        if self.seed_procs < 0:
            raise ValueError(f"seed_procs: expected >= 0 (0 = one per seed), got {self.seed_procs}")
        if not self.models:
            raise ValueError("models: at least one model is needed")
        for name in ("device", "gbdt_device"):
            v = getattr(self, name)
            if v not in ("auto", "cpu", "cuda") and not v.startswith("cuda:"):
                raise ValueError(f"{name} must be auto, cpu or cuda[:N], got {v!r}")
