"""Gradient-boosted trees of Table 1 (paper Section 4.2): LightGBM (three variants), XGBoost,
CatBoost, with AutoGluon 1.1.1's default hyperparameters and fit protocol.

The libraries are called directly (AutoGluon is not a dependency).  What each wrapper takes from
AutoGluon 1.1.1 (file paths under ``tabular/src/autogluon/tabular/models/``):

* **LightGBM** (``lgb/lgb_model.py``): ``objective="regression"``, ``verbose=-1``, seed 0, up to
  ``num_boost_round = 10000`` (``lgb/hyperparameters/parameters.py``), the land cover as a native
  categorical, RMSE on the hold-out with adaptive early stopping, prediction at the best round.
  ``LightGBM``: ``learning_rate=0.05``; ``LightGBMXT``: plus ``extra_trees=True``
  (``configs/hyperparameter_configs.py``); ``LightGBMLarge``: the ``GBMLarge`` preset
  (``get_param_regression_baseline_custom``: lr 0.03, 128 leaves, feature_fraction 0.9,
  min_data_in_leaf 5 for regression; 3 is its multiclass value).
* **XGBoost** (``xgboost/xgboost_model.py``): ``n_estimators=10000``, ``learning_rate=0.1``,
  ``objective="reg:squarederror"``, ``booster="gbtree"``, ``tree_method="hist"``, categoricals
  one-hot encoded (at most ``proc.max_category_levels = 100`` levels), RMSE early stopping with
  ``min_delta = 2e-6`` (``xgboost/callbacks.py``).
* **CatBoost** (``catboost/catboost_model.py``): ``iterations=10000``, ``learning_rate=0.05``,
  ``random_seed=0``, ``allow_writing_files=False``, ``eval_metric="RMSE"``, native categoricals,
  adaptive early stopping, ``use_best_model=True``.

Budgets (not hyperparameters): ``max_rounds`` caps the number of rounds per profile, the way
AutoGluon's time limit cuts boosting short; ``None`` keeps AutoGluon's 10000.

Reproducibility settings we add: LightGBM ``deterministic=True`` with ``force_col_wise=True``
(the same rows, seed and thread count give the same model).

**Devices** (``train_tabular.gbdt_device``: ``cpu`` | ``cuda[:N]`` | ``auto``; see
:func:`resolve_gbdt_device`).  On a GPU, XGBoost trains with ``device="cuda:N"`` and
``tree_method="hist"`` (it needs the CUDA build of the ``xgboost`` wheel; ``xgboost-cpu`` has
none), CatBoost with ``task_type="GPU"`` and ``devices="N"``, and LightGBM with
``device_type="gpu"``: the PyPI wheel's GPU learner is the OpenCL one (it needs an OpenCL
runtime, which NVIDIA's driver provides); its CUDA learner (``device_type="cuda"``) exists only in
a build from source.  CatBoost's GPU trainer accepts no Python callbacks, so there the adaptive
early stopping is replayed on the validation curve after the fit: CatBoost's own detector
(``od_type="Iter"``) runs with a wait no shorter than any patience the adaptive rule can reach,
so it never stops before that rule would, and the model is then cut to the rule's best round.
GPU fits use the libraries' GPU defaults (CatBoost: 128 borders, not 254; LightGBM:
single-precision histograms) and are not bit-reproducible, so their scores differ slightly from
CPU fits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stcg.baselines.tabular.base import CategoryCodes, TabularModel
from stcg.baselines.tabular.protocol import AdaptiveEarlyStopping

GBDT_DEVICE_PARAM = "train_tabular.gbdt_device"


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _xgboost_has_cuda() -> bool:
    import xgboost as xgb

    return bool(xgb.build_info().get("USE_CUDA", False))


def resolve_gbdt_device(device: str, library: str) -> int | None:
    """The GPU ordinal a gradient-boosting library trains on, or None for the CPU.

    Args:
        device: ``cpu``; ``cuda`` or ``cuda:N`` (the GPU, an error when it cannot be used);
            ``auto`` (XGBoost and CatBoost on GPU 0 when torch sees a CUDA device and, for
            XGBoost, its build has CUDA; else CPU.  LightGBM stays on the CPU under ``auto``:
            its wheel's GPU learner is OpenCL, asked for explicitly with ``cuda``).
        library: ``lightgbm`` | ``xgboost`` | ``catboost``.

    Raises:
        ValueError: an unknown device string.
        RuntimeError: a GPU is named but none is visible, or XGBoost's build has no CUDA.
    """
    if device == "cpu":
        return None
    if device == "auto":
        if library == "lightgbm" or not _cuda_available():
            return None
        if library == "xgboost" and not _xgboost_has_cuda():
            return None
        return 0
    head, _, ordinal = device.partition(":")
    if head != "cuda" or (ordinal and not ordinal.isdigit()):
        raise ValueError(f"{GBDT_DEVICE_PARAM}: got {device!r}, expected auto, cpu or cuda[:N]")
    if not _cuda_available():
        raise RuntimeError(
            f"{GBDT_DEVICE_PARAM}: {device!r} requested for {library} but no CUDA device is "
            "available; set it to 'cpu' or 'auto'"
        )
    if library == "xgboost" and not _xgboost_has_cuda():
        raise RuntimeError(
            f"{GBDT_DEVICE_PARAM}: {device!r} needs XGBoost built with CUDA, and the installed "
            "one has none (xgboost-cpu); install the 'xgboost' wheel of the same version in its "
            "place, or set it to 'cpu'"
        )
    return int(ordinal or 0)


def _rounds(default: int, max_rounds: int | None) -> int:
    if max_rounds is None:
        return default
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be >= 1 or None, got {max_rounds}")
    return min(default, max_rounds)


class LightGBMModel(TabularModel):
    """LightGBM with AutoGluon's protocol (``LightGBM``, ``LightGBMXT``, ``LightGBMLarge``).

    Args:
        params: LightGBM parameters (``learning_rate``, ``num_leaves``, ``feature_fraction``,
            ``min_data_in_leaf``, ``extra_trees``, ``num_boost_round``, ...).
        seed: LightGBM ``seed``.
        threads: ``num_threads``.
        max_rounds: budget cap on ``num_boost_round``.
        device: ``cpu`` | ``cuda[:N]`` | ``auto`` (:func:`resolve_gbdt_device`).
    """

    allowed_params = frozenset({
        "learning_rate", "num_leaves", "feature_fraction", "min_data_in_leaf", "extra_trees",
        "num_boost_round", "max_bin", "lambda_l1", "lambda_l2", "bagging_fraction",
        "bagging_freq", "max_depth", "min_sum_hessian_in_leaf",
    })

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0,
                 max_rounds: int | None = None, device: str = "cpu") -> None:
        super().__init__(params, seed, threads)
        self.max_rounds = max_rounds
        self.gpu = resolve_gbdt_device(device, "lightgbm")
        self.booster: Any = None

    def _train_params(self) -> dict[str, Any]:
        p = dict(self.params)
        p.pop("num_boost_round", None)
        gpu = {} if self.gpu is None else {"device_type": "gpu", "gpu_device_id": self.gpu}
        return {
            "objective": "regression",
            "metric": "rmse",
            "verbose": -1,
            "seed": self.seed,
            "num_threads": self.threads,
            "deterministic": True,
            "force_col_wise": True,
            **gpu,
            **p,
        }

    def _fit(self, x_train, y_train, x_val, y_val, cat_features, feature_names) -> None:
        import lightgbm as lgb

        rounds = _rounds(int(self.params.get("num_boost_round", 10000)), self.max_rounds)
        names = [_lgb_safe(n) for n in feature_names]
        dtrain = lgb.Dataset(x_train, label=y_train, feature_name=names,
                             categorical_feature=list(cat_features), free_raw_data=True)
        dval = lgb.Dataset(x_val, label=y_val, reference=dtrain)
        stopper = AdaptiveEarlyStopping.for_rows(len(y_train))
        ran = [0]

        def early_stop(env: Any) -> None:
            (_, _, score, _), = [r for r in env.evaluation_result_list if r[0] == "valid_set"]
            ran[0] = env.iteration + 1
            if stopper.update(env.iteration, score):
                raise lgb.callback.EarlyStopException(stopper.best_round,
                                                      env.evaluation_result_list)

        early_stop.order = 30  # type: ignore[attr-defined]
        try:
            self.booster = lgb.train(self._train_params(), dtrain, num_boost_round=rounds,
                                     valid_sets=[dval], valid_names=["valid_set"],
                                     callbacks=[early_stop])
        except lgb.basic.LightGBMError as e:
            if self.gpu is None:
                raise
            raise RuntimeError(
                f"{GBDT_DEVICE_PARAM}: LightGBM's GPU (OpenCL) learner failed: "
                f"{str(e).strip()}; it needs an OpenCL runtime for the GPU, or set it to 'cpu'"
            ) from e
        self.best_iteration = stopper.best_round + 1
        self.info.update(best_iteration=self.best_iteration, rounds_run=ran[0],
                         rounds_cap=rounds, val_rmse=stopper.best_score,
                         stopped_early=ran[0] < rounds)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(x, num_iteration=self.best_iteration,
                                    num_threads=self.threads)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions ``[N, F + 1]`` (last column: the expected value).

        Each row sums to the prediction (LightGBM ``pred_contrib=True``).
        """
        if not self._fitted:
            raise RuntimeError("contributions() before fit()")
        x = np.asarray(x, dtype=np.float32)
        return self.booster.predict(x, num_iteration=self.best_iteration, pred_contrib=True,
                                    num_threads=self.threads)


def _lgb_safe(name: str) -> str:
    """LightGBM rejects some JSON characters in feature names (as AutoGluon strips them)."""
    return "".join(ch for ch in name if ch not in '",:{}[]')


class XGBoostModel(TabularModel):
    """XGBoost (``xgboost-cpu``) with AutoGluon's protocol.

    Args:
        params: ``n_estimators``, ``learning_rate``, ``objective``, ``booster``,
            ``tree_method``, ``proc.max_category_levels`` and other XGBoost parameters.
        seed: XGBoost ``seed``.
        threads: ``nthread``.
        max_rounds: budget cap on ``n_estimators``.
        device: ``cpu`` | ``cuda[:N]`` | ``auto`` (:func:`resolve_gbdt_device`).
    """

    allowed_params = frozenset({
        "n_estimators", "learning_rate", "objective", "booster", "tree_method",
        "proc.max_category_levels", "max_depth", "min_child_weight", "subsample",
        "colsample_bytree", "reg_lambda", "reg_alpha", "max_bin",
    })

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0,
                 max_rounds: int | None = None, device: str = "cpu") -> None:
        super().__init__(params, seed, threads)
        self.max_rounds = max_rounds
        self.gpu = resolve_gbdt_device(device, "xgboost")
        self.booster: Any = None
        self._codes: dict[int, CategoryCodes] = {}

    def _train_params(self) -> tuple[dict[str, Any], int]:
        """``(xgb.train params, rounds)``; sets the one-hot level cap."""
        p = dict(self.params)
        rounds = _rounds(int(p.pop("n_estimators", 10000)), self.max_rounds)
        self._max_levels = int(p.pop("proc.max_category_levels", 100))
        gpu = {} if self.gpu is None else {"device": f"cuda:{self.gpu}"}
        params = {"objective": "reg:squarederror", "booster": "gbtree", "tree_method": "hist",
                  "eval_metric": "rmse", "seed": self.seed, "nthread": self.threads,
                  "verbosity": 0, **gpu, **p}
        return params, rounds

    def _one_hot(self, x: np.ndarray) -> np.ndarray:
        """Numerical columns, then one 0/1 column per kept category of each categorical."""
        num = [i for i in range(x.shape[1]) if i not in self._codes]
        blocks = [x[:, num]]
        for col, codes in self._codes.items():
            c = codes.transform(x[:, col])
            k = min(len(codes), self._max_levels)
            onehot = np.zeros((x.shape[0], k), dtype=np.float32)
            ok = (c >= 0) & (c < k)
            onehot[np.flatnonzero(ok), c[ok]] = 1.0
            blocks.append(onehot)
        return np.concatenate(blocks, axis=1)

    def _fit(self, x_train, y_train, x_val, y_val, cat_features, feature_names) -> None:
        import xgboost as xgb

        params, rounds = self._train_params()
        self._codes = {c: CategoryCodes(x_train[:, c]) for c in cat_features}
        dtrain = xgb.DMatrix(self._one_hot(x_train), label=y_train, nthread=self.threads)
        dval = xgb.DMatrix(self._one_hot(x_val), label=y_val, nthread=self.threads)
        stopper = AdaptiveEarlyStopping.for_rows(len(y_train), min_delta=2e-6)

        ran = [0]

        class _Stop(xgb.callback.TrainingCallback):
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                ran[0] = epoch + 1
                return stopper.update(epoch, float(evals_log["valid_set"]["rmse"][-1]))

        self.booster = xgb.train(params, dtrain, num_boost_round=rounds,
                                 evals=[(dval, "valid_set")], callbacks=[_Stop()],
                                 verbose_eval=False)
        self.best_iteration = stopper.best_round + 1
        self.info.update(best_iteration=self.best_iteration, rounds_run=ran[0],
                         rounds_cap=rounds, val_rmse=stopper.best_score,
                         stopped_early=ran[0] < rounds)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        d = xgb.DMatrix(self._one_hot(x), nthread=self.threads)
        return self.booster.predict(d, iteration_range=(0, self.best_iteration))


class CatBoostModel(TabularModel):
    """CatBoost with AutoGluon's protocol.

    Args:
        params: ``iterations``, ``learning_rate``, ``allow_writing_files``, ``eval_metric`` and
            other CatBoost parameters.
        seed: CatBoost ``random_seed``.
        threads: ``thread_count``.
        max_rounds: budget cap on ``iterations``.
        device: ``cpu`` | ``cuda[:N]`` | ``auto`` (:func:`resolve_gbdt_device`).
    """

    allowed_params = frozenset({
        "iterations", "learning_rate", "allow_writing_files", "eval_metric", "depth",
        "l2_leaf_reg", "border_count", "one_hot_max_size",
    })

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0,
                 max_rounds: int | None = None, device: str = "cpu") -> None:
        super().__init__(params, seed, threads)
        self.max_rounds = max_rounds
        self.gpu = resolve_gbdt_device(device, "catboost")
        # GPU: no callbacks, the adaptive rule is replayed after the fit (CPU: a callback)
        self.replay_stopping = self.gpu is not None
        self.model: Any = None

    def _train_params(self, n_train: int) -> tuple[dict[str, Any], str]:
        """``(CatBoostRegressor kwargs, eval metric)`` for ``n_train`` fit rows."""
        p = dict(self.params)
        rounds = _rounds(int(p.pop("iterations", 10000)), self.max_rounds)
        eval_metric = p.pop("eval_metric", "RMSE")
        kw: dict[str, Any] = {"iterations": rounds, "eval_metric": eval_metric,
                              "random_seed": self.seed, "thread_count": self.threads,
                              "logging_level": "Silent"}
        if self.gpu is not None:
            kw.update(task_type="GPU", devices=str(self.gpu))
        if self.replay_stopping:
            # CatBoost's detector waits at least as long as the adaptive rule could, which is
            # then replayed on the validation curve
            wait = AdaptiveEarlyStopping.for_rows(n_train).longest_patience(rounds)
            kw.update(od_type="Iter", od_wait=wait)
        return {**kw, **p}, eval_metric

    def _frame(self, x: np.ndarray) -> Any:
        import pandas as pd

        df = pd.DataFrame(x, columns=self._names, copy=False)
        for c in self._cat:
            # CatBoost needs integer or string categories; NaN becomes its own level
            df[self._names[c]] = np.where(np.isfinite(x[:, c]), x[:, c], -1).astype(np.int64)
        return df

    def _fit(self, x_train, y_train, x_val, y_val, cat_features, feature_names) -> None:
        from catboost import CatBoostRegressor, Pool

        kw, eval_metric = self._train_params(len(y_train))
        rounds = int(kw["iterations"])
        self._names = list(feature_names)
        self._cat = list(cat_features)
        train = Pool(self._frame(x_train), label=y_train, cat_features=self._cat or None)
        val = Pool(self._frame(x_val), label=y_val, cat_features=self._cat or None)
        stopper = AdaptiveEarlyStopping.for_rows(len(y_train))

        class _Stop:
            def __init__(self) -> None:
                self.round = -1

            def after_iteration(self, info: Any) -> bool:
                self.round += 1
                score = float(info.metrics["validation"][eval_metric][-1])
                return not stopper.update(self.round, score)

        self.model = CatBoostRegressor(**kw)
        if not self.replay_stopping:
            stop = _Stop()
            self.model.fit(train, eval_set=val, use_best_model=True, callbacks=[stop])
            ran = stop.round + 1
        else:
            self.model.fit(train, eval_set=val, use_best_model=False)
            curve = self.model.get_evals_result()["validation"][eval_metric]
            ran = len(curve)
            for r, score in enumerate(curve):
                if stopper.update(r, float(score)):
                    ran = r + 1
                    break
            self.model.shrink(ntree_end=stopper.best_round + 1)
        self.info.update(best_iteration=int(self.model.tree_count_), rounds_run=ran,
                         rounds_cap=rounds, val_rmse=stopper.best_score,
                         stopped_early=ran < rounds)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(self._frame(x), thread_count=self.threads)
