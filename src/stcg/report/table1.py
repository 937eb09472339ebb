"""Table 1 of the paper (Section 4.2): RMSE and R2 of the tabular baselines and of our model on
the test year, in the paper's layout, with the paper's numbers beside ours.

Pure functions: the ``table1`` stage reads the metrics files and writes the outputs.
A missing metrics file gives "n/a" in its row (not an error), so a partial pipeline still
produces a table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stcg.metrics import format_mean_sd, n_seeds, sd_at
from stcg.report.significance import LEGEND, ordering


@dataclass(frozen=True)
class Row:
    """One row of Table 1: group, the key in metrics / paper targets, the label shown."""

    group: str
    key: str
    label: str


TABLE1_ROWS: tuple[Row, ...] = (
    Row("Tabular Machine Learning", "LightGBMLarge", "LightGBM Large"),
    Row("Tabular Machine Learning", "KNeighborsDist", "KNeighborsDist"),
    Row("Tabular Machine Learning", "KNeighborsUnif", "KNeighborsUnif"),
    Row("Tabular Machine Learning", "LightGBM", "LightGBM"),
    Row("Tabular Machine Learning", "XGBoost", "XGBoost"),
    Row("Tabular Machine Learning", "LightGBMXT", "LightGBMXT"),
    Row("Tabular Machine Learning", "NeuralNetFastAI", "NeuralNetFastAI (MLP stand-in)"),
    Row("Tabular Machine Learning", "CatBoost", "CatBoost"),
    Row("Tabular Machine Learning", "RandomForestMSE", "RandomForestMSE"),
    Row("Tabular Deep Learning", "TabNet", "TabNet"),
    Row("Tabular Deep Learning", "ExcelFormer", "ExcelFormer"),
    Row("Tabular Deep Learning", "ResNet", "ResNet"),
    Row("Tabular Deep Learning", "FTTransformer", "FTTransformer"),
    Row("Our Method", "Ours", "Ours (STCG)"),
)
"""The paper's rows, in its order (Table 1)."""

BASELINE_KEYS: tuple[str, ...] = tuple(r.key for r in TABLE1_ROWS if r.key != "Ours")


def _get(d: Mapping[str, Any] | None, *path: str) -> float | None:
    cur: Any = d
    for p in path:
        if not isinstance(cur, Mapping) or p not in cur:
            return None
        cur = cur[p]
    if isinstance(cur, bool) or not isinstance(cur, (int, float)):
        return None
    return float(cur) if math.isfinite(float(cur)) else None


def build_table1(
    metrics: Mapping[str, Mapping[str, Any] | None],
    targets: Mapping[str, Mapping[str, Any]],
    deterministic: frozenset[str] | set[str] = frozenset(),
) -> pd.DataFrame:
    """Table 1 as a frame, one row per method in the paper's order.

    Args:
        metrics: per row key, its metrics dict (``{"test": {"rmse", "r2", "mae"}, "train":
            {"rows"}}``) or None when missing.  Timings are not read: they differ between
            reruns, and the table must not.  Key ``Ours``
            is the main model (``reports/metrics/stcg.json``).
        targets: per row key, the paper's ``{"rmse", "r2"}`` (``paper_targets.yaml: table1``).
        deterministic: row keys whose fit does not depend on a seed (their seed sd is 0).

    Returns:
        Columns ``group, method, key, rmse, r2, mae, paper_rmse, paper_r2, delta_rmse,
        train_rows, rmse_sd, r2_sd, mae_sd, n_seeds`` (NaN where unknown).  A model run with
        n > 1 seeds has the mean over seeds in ``rmse`` ... and the sample sd in ``rmse_sd`` ...
        (:func:`stcg.metrics.aggregate_seeds`); a deterministic one sd 0; a seeded model run
        once an unknown sd.
    """
    unknown = sorted(set(targets) - {r.key for r in TABLE1_ROWS})
    if unknown:
        raise ValueError(f"paper targets for unknown Table 1 rows {unknown}")
    recs = []
    for r in TABLE1_ROWS:
        m = metrics.get(r.key)
        t = targets.get(r.key, {})
        rec = {
            "group": r.group,
            "method": r.label,
            "key": r.key,
            "rmse": _get(m, "test", "rmse"),
            "r2": _get(m, "test", "r2"),
            "mae": _get(m, "test", "mae"),
            "paper_rmse": _get(t, "rmse"),
            "paper_r2": _get(t, "r2"),
            "train_rows": _get(m, "train", "rows"),
        }
        rec["delta_rmse"] = (None if rec["rmse"] is None or rec["paper_rmse"] is None
                             else rec["rmse"] - rec["paper_rmse"])
        n = n_seeds(m) if m is not None else None
        det = r.key in deterministic
        for k in ("rmse", "r2", "mae"):
            sd = sd_at(m, "test", k) if m is not None and n and n > 1 else None
            rec[f"{k}_sd"] = 0.0 if det and m is not None and sd is None else sd
        rec["n_seeds"] = n
        recs.append(rec)
    cols = ["group", "method", "key", "rmse", "r2", "mae", "paper_rmse", "paper_r2",
            "delta_rmse", "train_rows", "rmse_sd", "r2_sd", "mae_sd", "n_seeds"]
    return pd.DataFrame.from_records(recs, columns=cols).astype(
        {c: "float64" for c in cols[3:]}
    )


def _fmt(v: float, digits: int) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _fmt_rows(v: float) -> str:
    if v is None or math.isnan(v):
        return "n/a"
    return f"{v / 1e6:.2f}M" if v >= 1e6 else f"{v / 1e3:.0f}k" if v >= 1e3 else f"{v:.0f}"


def _nan(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _fmt_sd(v: float, sd: float, n: float, digits: int) -> str:
    """``mean ± sd`` where the row ran n > 1 seeds, else the mean (:func:`format_mean_sd`)."""
    return format_mean_sd(v, sd, n, digits, missing="n/a")


def table1_markdown(df: pd.DataFrame, caption: str = "") -> str:
    """Markdown in the paper's layout: group header rows, then methods; ours beside the paper.

    Rows of a model run with n > 1 seeds show ``mean ± sd`` and ``(n = k)`` after its name;
    under the table, the rows in order of test RMSE with each adjacent pair marked significant
    or not (:mod:`stcg.report.significance`).
    """
    lines = []
    if caption:
        lines += [caption, ""]
    lines += [
        "| Method | RMSE | R² | MAE | Paper RMSE | Paper R² | Train rows |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    group = None
    cols = set(df.columns)
    items = []
    for rec in df.itertuples(index=False):
        if rec.group != group:
            group = rec.group
            lines.append(f"| ***{group}*** | | | | | | |")
        n = getattr(rec, "n_seeds", None) if "n_seeds" in cols else None
        sd = {k: getattr(rec, f"{k}_sd", None) for k in ("rmse", "r2", "mae")}
        seeds = _nan(n) is not None and int(n) > 1
        label = f"{rec.method} (n = {int(n)})" if seeds else rec.method
        lines.append(
            f"| {label} | {_fmt_sd(rec.rmse, sd['rmse'], n, 3)} | "
            f"{_fmt_sd(rec.r2, sd['r2'], n, 3)} | {_fmt_sd(rec.mae, sd['mae'], n, 3)} | "
            f"{_fmt(rec.paper_rmse, 3)} | {_fmt(rec.paper_r2, 3)} | {_fmt_rows(rec.train_rows)} |"
        )
        items.append((rec.method, _nan(rec.rmse), _nan(sd["rmse"])))
    text = "\n".join(lines) + "\n"
    if "rmse_sd" in cols and sum(m is not None for _, m, _ in items) > 1:
        text += ("\nOrdering by test RMSE, lowest first (n = seeds; mean ± sd over seeds). "
                 + LEGEND + "\n\n" + ordering(items) + "\n")
    return text


def table1_csv(df: pd.DataFrame) -> str:
    """CSV text (6 significant digits, empty cells for unknown values)."""
    return df.to_csv(index=False, float_format="%.6g", lineterminator="\n")
