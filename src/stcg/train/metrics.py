"""Test metrics: RMSE, MAE, R2 overall, by land cover and by latitude band; climatology baseline.

The per-cell climatology baseline predicts, for a test sample at cell ``c`` and period ``p``, the
mean GPP of ``(c, p)`` over the training years (falling back to the cell's mean over all training
samples, then to the global training mean, where that is missing).  It is evaluated on exactly the
model's test rows.
"""

from __future__ import annotations

import numpy as np

from stcg.data.dataset import Dense
from stcg.data.schema import IGBP_SHORT, PERIODS_PER_YEAR
from stcg.metrics import regression_metrics


def lat_band_labels(lat: np.ndarray, width: float) -> np.ndarray:
    """Band label ``"lo_hi"`` (degrees, lower bound inclusive) of each latitude."""
    lo = np.floor((np.asarray(lat, dtype=np.float64) + 90.0) / width) * width - 90.0
    lo = np.minimum(lo, 90.0 - width)
    return np.array([f"{a:g}_{a + width:g}" for a in lo])


def grouped_metrics(
    y: np.ndarray, yhat: np.ndarray, groups: np.ndarray
) -> dict[str, dict[str, float | int | None]]:
    """:func:`regression_metrics` per distinct value of ``groups`` (sorted keys)."""
    return {
        str(g): regression_metrics(y[groups == g], yhat[groups == g]) for g in np.unique(groups)
    }


def climatology_table(dense: Dense, train_years: tuple[int, ...]) -> np.ndarray:
    """``[C, 46]`` mean GPP per (cell, period) over ``train_years`` with the documented fallbacks."""
    sel = np.isin(dense.year, np.asarray(train_years))
    y = dense.y[:, sel].astype(np.float64)
    per = dense.period[sel]
    table = np.full((dense.n_cells, PERIODS_PER_YEAR), np.nan)
    for p in range(PERIODS_PER_YEAR):
        block = y[:, per == p]
        cnt = np.isfinite(block).sum(1)
        s = np.where(np.isfinite(block), block, 0.0).sum(1)
        table[:, p] = np.where(cnt > 0, s / np.maximum(cnt, 1), np.nan)
    finite = np.isfinite(y)
    cnt = finite.sum(1)
    cell_mean = np.where(cnt > 0, np.where(finite, y, 0.0).sum(1) / np.maximum(cnt, 1), np.nan)
    global_mean = float(np.nanmean(y)) if finite.any() else 0.0
    cell_mean = np.where(np.isfinite(cell_mean), cell_mean, global_mean)
    return np.where(np.isfinite(table), table, cell_mean[:, None])


def evaluation_report(
    dense: Dense,
    idx: np.ndarray,
    pred: dict[str, np.ndarray],
    climatology: np.ndarray,
    lat_band: float,
) -> dict:
    """The ``reports/metrics/stcg.json`` content for test samples ``idx`` (flat ``c * T + t``).

    Keys: ``test`` (target branch), ``test_interp`` (``y_interp`` of eq. 17, if present),
    ``by_land_cover`` and ``by_lat_band`` (target branch), ``climatology`` (the baseline on the
    same rows, overall and by land cover).
    """
    c, t = np.divmod(idx, dense.n_times)
    y = dense.y[c, t].astype(np.float64)
    yhat = pred["y"].astype(np.float64)
    clim = climatology[c, dense.period[t]]
    lc = np.array([IGBP_SHORT[int(v)] if 0 <= v < len(IGBP_SHORT) else str(v)
                   for v in dense.land_cover[c]])
    bands = lat_band_labels(dense.lat[c], lat_band)
    report: dict = {
        "test": regression_metrics(y, yhat),
        "by_land_cover": grouped_metrics(y, yhat, lc),
        "by_lat_band": grouped_metrics(y, yhat, bands),
        "climatology": {
            "test": regression_metrics(y, clim),
            "by_land_cover": grouped_metrics(y, clim, lc),
        },
    }
    if "y_interp" in pred:
        report["test_interp"] = regression_metrics(y, pred["y_interp"])
    return report
