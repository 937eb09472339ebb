"""The one interface every Table 1 baseline implements, and small shared helpers.

A wrapper is built from its hyperparameters (``params``: the AutoGluon 1.1.1 default for that
model, or the pytorch-frame example configuration, as recorded in ``params.yaml``) plus a seed, a
thread count and budget knobs, then::

    model.fit(x_train, y_train, x_val, y_val, cat_features=(26,), feature_names=names)
    y_hat = model.predict(x_test)          # [N] float64

``x`` are float32 ``[N, F]`` arrays (NaN where missing); ``cat_features`` lists the columns that
hold category codes (the land cover).  The validation rows are the AutoGluon-style hold-out
(:mod:`stcg.baselines.tabular.protocol`); models that early-stop use them, the others ignore them.
After ``fit``, :attr:`TabularModel.info` holds what the fit decided (best iteration, epochs, rows).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from stcg.parallel import available_threads


class TabularModel(ABC):
    """Base class of the Table 1 wrappers.

    Args:
        params: the model's hyperparameters (validated by the subclass).
        seed: random seed; a fit is deterministic for a seed and a thread count.
        threads: CPU threads (0 = all available).
    """

    #: hyperparameter names the wrapper accepts (others are an error naming the key)
    allowed_params: frozenset[str] = frozenset()

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0) -> None:
        unknown = sorted(set(params) - set(self.allowed_params))
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown hyperparameter(s) {unknown}; "
                f"expected some of {sorted(self.allowed_params)}"
            )
        self.params: dict[str, Any] = dict(params)
        self.seed = int(seed)
        self.threads = available_threads(threads)
        self.info: dict[str, Any] = {}
        self._fitted = False

    @abstractmethod
    def _fit(self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
             y_val: np.ndarray, cat_features: tuple[int, ...],
             feature_names: tuple[str, ...]) -> None:
        """Fit on validated inputs."""

    @abstractmethod
    def _predict(self, x: np.ndarray) -> np.ndarray:
        """``[N]`` predictions for validated inputs."""

    def fit(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        cat_features: Sequence[int] = (),
        feature_names: Sequence[str] | None = None,
    ) -> TabularModel:
        """Fit the model.

        Args:
            x_train: ``[N, F]`` float features.
            y_train: ``[N]`` finite targets.
            x_val: ``[M, F]`` validation features (early stopping, epoch selection).
            y_val: ``[M]`` finite validation targets.
            cat_features: columns holding integer category codes (>= 0, NaN = missing).
            feature_names: F column names (default ``f0..``).

        Returns:
            ``self``.
        """
        x_train, y_train = _check_xy(x_train, y_train, "train")
        x_val, y_val = _check_xy(x_val, y_val, "val")
        if x_val.shape[1] != x_train.shape[1]:
            raise ValueError(
                f"x_val has {x_val.shape[1]} columns, x_train has {x_train.shape[1]}"
            )
        n_f = x_train.shape[1]
        cat = tuple(int(c) for c in cat_features)
        bad = [c for c in cat if not 0 <= c < n_f]
        if bad:
            raise ValueError(f"cat_features {bad} out of range for {n_f} columns")
        names = tuple(feature_names) if feature_names is not None else tuple(
            f"f{i}" for i in range(n_f)
        )
        if len(names) != n_f:
            raise ValueError(f"{len(names)} feature_names for {n_f} columns")
        self._n_features = n_f
        self.info = {"train_rows": int(len(y_train)), "val_rows": int(len(y_val))}
        self._fit(x_train, y_train, x_val, y_val, cat, names)
        self._fitted = True
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``[N]`` float64 predictions for ``x [N, F]``."""
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__}: predict() before fit()")
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self._n_features:
            raise ValueError(f"x must be [N, {self._n_features}], got {x.shape}")
        return np.asarray(self._predict(x), dtype=np.float64).reshape(-1)


def _check_xy(x: np.ndarray, y: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).reshape(-1)
    if x.ndim != 2:
        raise ValueError(f"x_{what} must be 2-D [N, F], got shape {x.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x_{what} has {x.shape[0]} rows but y_{what} has {y.shape[0]}")
    if x.shape[0] == 0:
        raise ValueError(f"x_{what} is empty")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"y_{what} holds non-finite values (select rows with a finite target)")
    return x, y


class CategoryCodes:
    """Maps raw category values (e.g. IGBP codes) of one column to codes ``0..K-1``.

    The categories are those seen in training, ordered by descending count then value (the order
    pytorch-frame's ``StatType.COUNT`` uses).  Unseen values and NaN map to -1.
    """

    def __init__(self, values: np.ndarray) -> None:
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        cats, counts = np.unique(v, return_counts=True)
        order = np.lexsort((cats, -counts))
        self.categories: np.ndarray = cats[order]
        self.counts: np.ndarray = counts[order].astype(np.int64)

    def __len__(self) -> int:
        return int(self.categories.shape[0])

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``[N]`` int64 codes (-1 for NaN and unseen categories)."""
        v = np.asarray(values, dtype=np.float64)
        if len(self) == 0:
            return np.full(v.shape, -1, dtype=np.int64)
        sorter = np.argsort(self.categories)
        sorted_cats = self.categories[sorter]
        pos = np.clip(np.searchsorted(sorted_cats, v), 0, len(self) - 1)
        hit = np.isfinite(v) & (sorted_cats[pos] == v)
        return np.where(hit, sorter[pos], -1).astype(np.int64)
