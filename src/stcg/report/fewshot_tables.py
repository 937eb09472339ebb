"""Paper Tables 2 and 3 (Section 4.3) from the few-shot metrics, with the paper's numbers beside.

Inputs: the metrics files of stages ``fewshot_weekly`` / ``fewshot_joint`` (and the STCG
model's few-shot stage), ``<dir>/<method>_wNN.json`` for per-week methods and
``<dir>/<method>.json`` for joint ones (schema: :func:`stcg.baselines.spatial.fewshot.evaluate`),
and ``reports/paper_targets.yaml`` (keys ``table2`` and ``table3``).  A method whose metrics are
absent shows ``n/a``, so the tables build before every method exists.

Table 2: RMSE / R2 on the held-out cells, per reported week and method.
Table 3: train and test RMSE / R2 and the generalisation gap (test RMSE - train RMSE) of the
chosen methods at one week (the paper's is week 40).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from stcg.baselines.spatial.fewshot import week_key

NAMES = {"gwr": "GWR", "gnnwr": "GNNWR", "gtwr": "GTWR", "gtnnwr": "GTNNWR",
         "stcg": "Ours (STCG)"}


def method_metrics(metrics_dir: str | Path, method: str, week: int) -> dict | None:
    """``{"train": {...}, "test": {...}}`` of ``method`` at ``week``, or None if absent.

    Looks for the per-week file ``<method>_wNN.json`` first, then the joint ``<method>.json``.
    """
    d = Path(metrics_dir)
    for path in (d / f"{method}_{week_key(week)}.json", d / f"{method}.json"):
        if path.exists():
            data = json.loads(path.read_text())
            hit = data.get("weeks", {}).get(week_key(week))
            if hit is not None:
                return hit
    return None


def _num(x: float | None, digits: int) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pair(rmse: float | None, r2: float | None) -> str:
    return "n/a" if rmse is None else f"{_num(rmse, 3)} / {_num(r2, 2)}"


def table2(
    metrics_dir: str | Path,
    targets: Mapping,
    weeks: tuple[int, ...],
    methods: tuple[str, ...],
    extra: tuple[str, ...] = (),
) -> tuple[str, pd.DataFrame]:
    """Markdown and long-form frame of Table 2 (test RMSE / R2, ours beside the paper's)."""
    paper = targets.get("table2", {})
    present_extra = tuple(m for m in extra
                          if any(method_metrics(metrics_dir, m, w) for w in weeks))
    cols = (*methods, *present_extra)
    rows, lines = [], []
    head = "| Week | " + " | ".join(NAMES.get(m, m) for m in cols) + " |"
    lines += [head, "|" + "---|" * (len(cols) + 1)]
    for w in weeks:
        cells = []
        for m in cols:
            got = method_metrics(metrics_dir, m, w)
            test = got["test"] if got else {}
            ref = paper.get(week_key(w), {}).get(m, {})
            rows.append({"week": w, "method": m, "rmse": test.get("rmse"), "r2": test.get("r2"),
                         "paper_rmse": ref.get("rmse"), "paper_r2": ref.get("r2")})
            cell = _pair(test.get("rmse"), test.get("r2"))
            if ref:
                cell += f" (paper {_pair(ref.get('rmse'), ref.get('r2'))})"
            cells.append(cell)
        lines.append(f"| Week-{w:02d} | " + " | ".join(cells) + " |")
    title = ("**Table 2.** Spatial and spatiotemporal heterogeneity methods on the few-shot "
             "data: test RMSE / R2 (gC m-2 d-1) on held-out cells, ours (paper's in brackets).")
    return title + "\n\n" + "\n".join(lines) + "\n", pd.DataFrame(rows)


TABLE3_ROWS = (("Train RMSE", "train", "rmse", "train_rmse", 3),
               ("Train R^2", "train", "r2", "train_r2", 3),
               ("Test RMSE", "test", "rmse", "test_rmse", 3),
               ("Test R^2", "test", "r2", "test_r2", 3))


def table3(
    metrics_dir: str | Path, targets: Mapping, week: int, methods: tuple[str, ...]
) -> tuple[str, pd.DataFrame]:
    """Markdown and long-form frame of Table 3 (train/test and generalisation gap at ``week``)."""
    paper = targets.get("table3", {})
    got = {m: method_metrics(metrics_dir, m, week) for m in methods}
    head = "| Metric | " + " | ".join(f"{NAMES.get(m, m)} | {NAMES.get(m, m)} (paper)"
                                      for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 * len(methods) + 1)]
    rows = []
    for label, split, key, pkey, digits in TABLE3_ROWS:
        cells = []
        for m in methods:
            val = got[m][split][key] if got[m] else None
            ref = paper.get(m, {}).get(pkey)
            rows.append({"metric": label, "method": m, "value": val, "paper": ref})
            cells += [_num(val, digits), _num(ref, digits)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for m in methods:
        gap = got[m]["test"]["rmse"] - got[m]["train"]["rmse"] if got[m] else None
        ref = paper.get(m, {}).get("gen_gap")
        rows.append({"metric": "Gen. Gap", "method": m, "value": gap, "paper": ref})
        cells += [_num(gap, 3), _num(ref, 3)]
    lines.append("| Gen. Gap | " + " | ".join(cells) + " |")
    title = (f"**Table 3.** Local vs global learning at week {week}: train and test RMSE / R2 "
             "and the generalisation gap (test RMSE - train RMSE), ours beside the paper's.")
    return title + "\n\n" + "\n".join(lines) + "\n", pd.DataFrame(rows)
