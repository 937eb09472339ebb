"""Scoring of the few-shot methods: the prediction every method returns, its metrics JSON and
its coefficient output (contract: :mod:`stcg.fewshot`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.data.periods import week_key, week_to_period
from stcg.data.schema import TARGET
from stcg.fewshot.dataset import FewShot
from stcg.io import atomic_path, write_json
from stcg.metrics import regression_metrics


@dataclass
class FewShotPrediction:
    """What a few-shot method returns.

    Attributes:
        method: method name (``gwr``, ``gnnwr``, ``gtwr``, ``gtnnwr``, ``stcg``, ...).
        periods: the periods it covers (one for per-week methods, 46 for joint ones).
        pred: ``[N, P]`` predictions for every cell (train and test) at those periods.
        coef: ``[N, P, 1 + F]`` local coefficients (intercept first, per covariate SD), or None.
        coef_names: ``("intercept", *features)``.
        info: numeric facts about the fit (bandwidth, tau, AICc, epochs, ...).
        scaling: :meth:`stcg.fewshot.runners.Standardizer.to_json` of each fit, keyed by a label.
    """

    method: str
    periods: tuple[int, ...]
    pred: np.ndarray
    coef: np.ndarray | None
    coef_names: tuple[str, ...]
    info: dict[str, float] = field(default_factory=dict)
    scaling: dict = field(default_factory=dict)


def evaluate(fs: FewShot, pred: FewShotPrediction, weeks: tuple[int, ...]) -> dict:
    """Metrics JSON of a prediction (``reports/metrics/fewshot/<run>.json``).

    Schema::

        {"weeks": {"w01": {"train": {"rmse", "mae", "r2", "bias", "n"}, "test": {...}}, ...},
         "all": {"train": {...}, "test": {...}},
         "info": {...numeric facts...}}

    ``weeks`` holds the requested weeks that the prediction covers; ``all`` pools every period
    it covers.  Train = every non-held-out cell (for GNNWR that includes its validation cells).
    """
    if pred.pred.shape != (fs.n, len(pred.periods)):
        raise ValueError(
            f"{pred.method}: pred has shape {pred.pred.shape}, expected ({fs.n}, "
            f"{len(pred.periods)}) = (cells, periods)"
        )
    if not np.isfinite(pred.pred).all():
        raise ValueError(f"{pred.method}: predictions contain NaN or inf")
    cols = list(pred.periods)
    out: dict = {"weeks": {}, "info": dict(pred.info)}
    for week in weeks:
        p = week_to_period(week)
        if p in cols:
            j = cols.index(p)
            out["weeks"][week_key(week)] = {
                split: regression_metrics(fs.y[mask, p], pred.pred[mask, j])
                for split, mask in (("train", fs.train), ("test", fs.is_test))
            }
    out["all"] = {
        split: regression_metrics(fs.y[mask][:, cols], pred.pred[mask])
        for split, mask in (("train", fs.train), ("test", fs.is_test))
    }
    return out


def write_method_outputs(fs: FewShot, pred: FewShotPrediction, out_dir: str | Path) -> None:
    """Write ``out_dir/coefficients.parquet`` (+ ``scaling.json``) atomically.

    One row per (cell, period): ``cell_id, lon, lat, is_test, period, gpp, pred`` and, when the
    method has them, ``coef_<name>`` for the intercept and every covariate.
    """
    cols = np.asarray(pred.periods, dtype=np.int64)
    n, p = fs.n, len(cols)
    frame = {
        "cell_id": np.repeat(fs.cell_id, p).astype(np.int32),
        "lon": np.repeat(fs.lon, p),
        "lat": np.repeat(fs.lat, p),
        "is_test": np.repeat(fs.is_test, p),
        "period": np.tile(cols, n).astype(np.int8),
        TARGET: fs.y[:, cols].reshape(-1),
        "pred": pred.pred.reshape(-1),
    }
    if pred.coef is not None:
        for j, name in enumerate(pred.coef_names):
            frame[f"coef_{name}"] = pred.coef[:, :, j].reshape(-1)
    df = pd.DataFrame(frame)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "coefficients.parquet", index=False, compression="zstd")
        (tmp / "scaling.json").write_text(json.dumps(pred.scaling, indent=2, sort_keys=True)
                                          + "\n")


def write_metrics(path: str | Path, metrics: dict) -> None:
    """Write a metrics JSON (sorted, rounded, atomic)."""
    write_json(path, metrics)
