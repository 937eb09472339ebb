"""The one regression scorer of the project (Tables 1-3, ablations, benches).

numpy only, so every scorer (the main model, the tabular baselines, the few-shot methods) imports it
without pulling torch or a baseline's dependencies.

Convention: a metric that is undefined is ``None``, never NaN, so the JSON it goes into is valid
and a reader sees "undefined" rather than a number: R2 when the observations are constant
(SST = 0), and every metric of an empty selection (``n = 0``).
"""

from __future__ import annotations

import numpy as np


def regression_metrics(y: np.ndarray, yhat: np.ndarray) -> dict[str, float | int | None]:
    """``{"rmse", "mae", "r2", "bias", "n"}`` of predictions ``yhat`` against observations ``y``.

    ``r2 = 1 - SSE / SST`` around the observed mean (None when SST is 0), ``bias`` the mean of
    ``yhat - y``.  Arrays of any (equal) shape are scored over all their elements.

    Raises:
        ValueError: when the shapes differ.
    """
    y = np.asarray(y, dtype=np.float64)
    yhat = np.asarray(yhat, dtype=np.float64)
    if y.shape != yhat.shape:
        raise ValueError(f"regression_metrics: shape mismatch, y {y.shape} vs yhat {yhat.shape}")
    n = int(y.size)
    if n == 0:
        return {"rmse": None, "mae": None, "r2": None, "bias": None, "n": 0}
    err = yhat - y
    sse = float((err**2).sum())
    sst = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt(sse / n)),
        "mae": float(np.abs(err).mean()),
        "r2": (1.0 - sse / sst) if sst > 0 else None,
        "bias": float(err.mean()),
        "n": n,
    }
