"""Headline metrics: a few numbers per stage, for ``dvc exp show`` and ``dvc metrics diff``.

Each stage of interest writes its full metrics JSON (per land cover, per latitude band, per
week, confusion matrices, ...) as a plain output and, beside it, a small headline file under
``reports/metrics/headline/<stage>.json`` that dvc.yaml declares as ``metrics``.  Only the
headline files are DVC metrics, so comparing experiments shows about 30 numbers instead of
hundreds.  Every function here picks numbers from the stage's own results; none computes new
ones.

Noise floor: a stage run with n > 1 seeds (:func:`stcg.metrics.aggregate_seeds`) writes, beside
each headline metric ``m`` (the mean over seeds), its seed spread ``m_sd`` (sample sd) and, at the
top level, ``n_seeds``.  ``stcg compare`` (:mod:`stcg.report.compare`) reads them to tell a change
from run-to-run noise.  A single-seed run has neither key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from stcg.metrics import n_seeds, sd_at


def _num(x: Any) -> float | None:
    """A finite float, or None (missing, NaN)."""
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _clean(d: Mapping[str, Any]) -> dict[str, Any]:
    """``d`` without None values (recursively); empty sub-mappings are dropped too."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            v = _clean(v)
            if not v:
                continue
        if v is None:
            continue
        out[k] = v
    return out


def _pick(m: Mapping[str, Any] | None, keys: Iterable[str]) -> dict[str, float | None]:
    m = m or {}
    return {k: _num(m.get(k)) for k in keys}


def _pick_sd(report: Mapping[str, Any], path: tuple[str, ...],
             keys: Iterable[str]) -> dict[str, float | None]:
    """``_pick`` of ``report[path...]`` plus ``<key>_sd`` (the seed sd) for n > 1 seeds."""
    m: Any = report
    for k in path:
        m = (m or {}).get(k)
    out = _pick(m, keys)
    if n_seeds(report) > 1:
        out.update({f"{k}_sd": sd_at(dict(report), *path, k) for k in keys})
    return out


def stcg_headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """``train_stcg``: test RMSE / R² / MAE (target branch), the interpretable branch's and the
    per-cell climatology's test RMSE; with n > 1 seeds each one's sd and ``n_seeds``."""
    out = {
        "test": _pick_sd(report, ("test",), ("rmse", "r2", "mae")),
        "test_interp": _pick_sd(report, ("test_interp",), ("rmse",)),
        "climatology": _pick((report.get("climatology") or {}).get("test"), ("rmse",)),
    }
    if n_seeds(report) > 1:
        out["n_seeds"] = n_seeds(report)
    return _clean(out)


def table1_headline(table: pd.DataFrame, ours_key: str = "Ours") -> dict[str, Any]:
    """``table1``: the best tabular baseline (lowest test RMSE) and its RMSE / R² / MAE.

    Args:
        table: Table 1's frame (columns ``key``, ``rmse``, ``r2``, ``mae``; one row per model).
        ours_key: the STCG row's key (left out: it is ``train_stcg``'s headline).
    """
    base = table[(table["key"] != ours_key) & table["rmse"].notna()]
    if base.empty:
        return {}
    best = base.loc[base["rmse"].astype(float).idxmin()]
    return _clean({"best_baseline": {"model": str(best["key"]),
                                     **_pick(best.to_dict(), ("rmse", "r2", "mae"))}})


def fewshot_headline(table2: pd.DataFrame) -> dict[str, Any]:
    """``fewshot_tables``: each method's test RMSE averaged over Table 2's weeks.

    Args:
        table2: Table 2's frame (columns ``week``, ``method``, ``rmse``).
    """
    t = table2.dropna(subset=["rmse"])
    mean = t.groupby("method", sort=False)["rmse"].mean()
    return _clean({"rmse_mean_over_weeks": {m: _num(v) for m, v in mean.items()}})


def interpret_headline(scores: Mapping[str, Any]) -> dict[str, Any]:
    """``interpret``: per view (``effect``, ``contribution``, ``contribution_global``), the best
    STCG attribution by ``feature_r`` and that score (empty without simulator truth).

    The oracle, the nulls, TreeSHAP and the other scores of every method stay in the full
    ``interpretability.json``; two numbers per view keep ``dvc metrics diff`` short.
    """
    out: dict[str, Any] = {}
    for view, s in scores.items():
        if not isinstance(s, Mapping) or "oracle" not in s or "methods" not in s:
            continue
        stcg = {k: m for k, m in s["methods"].items() if k != "treeshap"}
        if stcg:
            best = max(stcg, key=lambda k: _num(stcg[k].get("feature_r")) or -math.inf)
            out[view] = {"best": best, "feature_r": _num(stcg[best].get("feature_r"))}
    return _clean(out)


def ablations_headline(table: pd.DataFrame) -> dict[str, Any]:
    """``ablate_table``: the reference variant's test RMSE / R² and every other variant's change
    in RMSE against it (positive = the part removed helped); with n > 1 seeds the reference's
    ``rmse_sd`` / ``r2_sd`` and ``n_seeds``.

    Args:
        table: the ablation frame (columns ``variant``, ``rmse``, ``r2``, ``delta_rmse``,
            ``rmse_sd``, ``r2_sd``, ``n_seeds``).
    """
    rows = {r["variant"]: r for r in table.to_dict("records")}
    full = rows.get("full", {})
    out: dict[str, Any] = {
        "full": _pick(full, ("rmse", "r2")),
        "delta_rmse": {v: _num(r.get("delta_rmse")) for v, r in rows.items() if v != "full"},
    }
    n = _num(full.get("n_seeds"))
    if n is not None and n > 1:
        out["full"].update(_pick(full, ("rmse_sd", "r2_sd")))
        out["n_seeds"] = int(n)
    return _clean(out)
