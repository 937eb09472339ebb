"""The ablation table (``reports/tables/ablations.md|csv``) from the ``ablate`` stages' metrics.

One row per variant of ``ablate.variants`` (in params order, ``full`` first): what it changes,
test RMSE / MAE / R2 of the target branch on the shared evaluation subset, the change in RMSE
against ``full`` (positive = the removed part helped), the interpretable branch's RMSE, and the
parameter count.  A variant whose metrics file is absent shows ``n/a``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from stcg.config import to_dict
from stcg.train.config import AblationVariant


def describe(variant: AblationVariant) -> str:
    """What a variant changes, e.g. ``model.gcn=false`` or ``clusters=10``; ``-`` for none."""
    parts = [f"model.{k}={json.dumps(v)}" for k, v in to_dict(variant.model).items()]
    if variant.window is not None:
        parts.append(f"window={variant.window}")
    if variant.clusters is not None:
        parts.append(f"clusters={variant.clusters}")
    return ", ".join(parts) or "- (reference)"


def _f(x: float | None, digits: int = 3, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def ablation_table(
    metrics_dir: str | Path, variants: Mapping[str, AblationVariant], budget: str
) -> tuple[str, pd.DataFrame]:
    """Markdown (with a caption naming ``budget``) and the frame of the ablation table."""
    d = Path(metrics_dir)
    found = {n: json.loads((d / f"{n}.json").read_text()) for n in variants
             if (d / f"{n}.json").exists()}
    ref = found.get("full", {}).get("test", {}).get("rmse")
    rows = []
    for name, var in variants.items():
        m = found.get(name, {})
        test = m.get("test", {})
        rmse = test.get("rmse")
        rows.append({
            "variant": name,
            "change": describe(var),
            "rmse": rmse,
            "mae": test.get("mae"),
            "r2": test.get("r2"),
            "delta_rmse": None if rmse is None or ref is None else rmse - ref,
            "interp_rmse": m.get("interp", {}).get("rmse"),
            "parameters": m.get("parameters"),
            "n": test.get("n"),
        })
    df = pd.DataFrame(rows)
    n = next((r["n"] for r in rows if r["n"]), None)
    lines = [
        f"**Ablations.** STCG variants trained with one shared budget ({budget}) and scored on "
        f"the same {n if n else 'n/a'} random test samples; ΔRMSE is against `full` (positive = "
        "the part removed helped).  One seed per variant at a small budget: differences of a "
        "few hundredths are within run-to-run variation; for the full-budget answer run e.g. "
        "`dvc exp run -S train_stcg.model.gcn=false` and `dvc metrics diff`.  Beyond the paper, "
        "which reports no ablation.",
        "",
        "| Variant | Change | RMSE | MAE | R² | ΔRMSE | y_interp RMSE | Parameters |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        params = "n/a" if r["parameters"] is None else f"{int(r['parameters']):,}"
        lines.append(
            f"| {r['variant']} | {r['change']} | {_f(r['rmse'])} | {_f(r['mae'])} | "
            f"{_f(r['r2'])} | {_f(r['delta_rmse'], sign=True)} | {_f(r['interp_rmse'])} | "
            f"{params} |"
        )
    return "\n".join(lines) + "\n", df
