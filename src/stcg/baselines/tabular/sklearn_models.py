"""KNeighborsUnif / KNeighborsDist and RandomForestMSE of Table 1 (scikit-learn), as AutoGluon
1.1.1 builds them (paper Section 4.2).

* **KNN** (``models/knn/knn_model.py``): ``KNeighborsRegressor`` with ``weights="uniform"`` or
  ``"distance"`` and scikit-learn's ``n_neighbors=5``; only int/float features (the categorical
  land cover is dropped), NaN filled with 0, float32, **no scaling** (AutoGluon's own
  ``# TODO: Normalize data!``), so distances are dominated by the large-valued variables.
  On large data AutoGluon fits on growing random subsamples (10k, 20k, 40k, ... rows) until its
  time limit; here the subsample size is a per-profile budget (``max_train_rows``), drawn
  uniformly and deterministically by the runner.
* **RandomForestMSE** (``models/rf/rf_model.py``): ``RandomForestRegressor`` with
  ``n_estimators=300``, ``max_leaf_nodes=15000``, ``bootstrap=True``, ``random_state=0``,
  ``criterion="squared_error"``; categoricals label-encoded, NaN filled with 0.  AutoGluon cuts
  ``n_estimators`` when time or memory run short (never below 40); the per-profile budget
  ``n_estimators_cap`` does the same deterministically.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from stcg.baselines.tabular.base import CategoryCodes, TabularModel


class KNNModel(TabularModel):
    """AutoGluon's ``KNNModel`` for regression (KNeighborsUnif / KNeighborsDist).

    Args:
        params: ``weights`` (``uniform`` | ``distance``), ``n_neighbors`` and other
            ``KNeighborsRegressor`` arguments.
        seed: unused (the fit is exact).
        threads: ``n_jobs``.
    """

    allowed_params = frozenset({"weights", "n_neighbors", "p", "algorithm", "leaf_size"})

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0) -> None:
        super().__init__(params, seed, threads)
        self.model: Any = None

    def _prep(self, x: np.ndarray) -> np.ndarray:
        x = x[:, self._keep]
        return np.where(np.isfinite(x), x, 0.0).astype(np.float32)

    def _fit(self, x_train, y_train, x_val, y_val, cat_features, feature_names) -> None:
        from sklearn.neighbors import KNeighborsRegressor

        self._keep = [i for i in range(x_train.shape[1]) if i not in set(cat_features)]
        self.model = KNeighborsRegressor(n_jobs=self.threads, **self.params)
        self.model.fit(self._prep(x_train), y_train)
        self.info.update(features_used=len(self._keep))

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(self._prep(x))


class RandomForestModel(TabularModel):
    """AutoGluon's ``RFModel`` for regression (RandomForestMSE).

    Args:
        params: ``RandomForestRegressor`` arguments (``n_estimators``, ``max_leaf_nodes``,
            ``bootstrap``, ``criterion``, ...).
        seed: ``random_state``.
        threads: ``n_jobs``.
        n_estimators_cap: budget cap on ``n_estimators`` (None = no cap).
    """

    allowed_params = frozenset({
        "n_estimators", "max_leaf_nodes", "bootstrap", "criterion", "max_features",
        "min_samples_leaf", "max_depth", "max_samples",
    })

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0,
                 n_estimators_cap: int | None = None) -> None:
        super().__init__(params, seed, threads)
        if n_estimators_cap is not None and n_estimators_cap < 1:
            raise ValueError(f"n_estimators_cap must be >= 1 or None, got {n_estimators_cap}")
        self.n_estimators_cap = n_estimators_cap
        self.model: Any = None

    def _prep(self, x: np.ndarray) -> np.ndarray:
        x = x.copy()
        for col, codes in self._codes.items():
            c = codes.transform(x[:, col]).astype(np.float32)
            x[:, col] = np.where(c >= 0, c, np.nan)
        return np.where(np.isfinite(x), x, 0.0).astype(np.float32)

    def _fit(self, x_train, y_train, x_val, y_val, cat_features, feature_names) -> None:
        from sklearn.ensemble import RandomForestRegressor

        p = dict(self.params)
        n_est = int(p.pop("n_estimators", 100))
        if self.n_estimators_cap is not None:
            n_est = min(n_est, self.n_estimators_cap)
        # label encoding: codes in sorted category order, as AutoGluon's LabelEncoder does
        self._codes = {}
        for c in cat_features:
            codes = CategoryCodes(x_train[:, c])
            order = np.argsort(codes.categories)
            codes.categories, codes.counts = codes.categories[order], codes.counts[order]
            self._codes[c] = codes
        self.model = RandomForestRegressor(n_estimators=n_est, random_state=self.seed,
                                           n_jobs=self.threads, **p)
        self.model.fit(self._prep(x_train), y_train)
        self.info.update(n_estimators=n_est)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(self._prep(x))
