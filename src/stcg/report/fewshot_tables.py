"""Paper Tables 2 and 3 (Section 4.3) from the few-shot metrics, with the paper's numbers beside.

Inputs: the metrics files of stages ``fewshot_weekly`` / ``fewshot_joint`` (and the STCG
model's few-shot stage), ``<dir>/<method>_weekly.json`` for per-week methods (keyed by week,
``{"wNN": <metrics>}``) and ``<dir>/<method>.json`` for joint ones (metrics schema:
:func:`stcg.fewshot.scoring.evaluate`), and ``reports/paper_targets.yaml`` (keys ``table2`` and
``table3``).  A method whose metrics are absent shows ``n/a``, so the tables build before every
method exists.

Table 2: RMSE / R2 on the held-out cells, per reported week and method.
Table 3: train and test RMSE / R2 and the generalisation gap (test RMSE - train RMSE) of the
chosen methods at one week (the paper's is week 40).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from stcg.data.periods import week_key
from stcg.metrics import format_mean_sd, mean_sd, n_seeds, sd_at
from stcg.report.significance import LEGEND, ordering

NAMES = {"gwr": "GWR", "gnnwr": "GNNWR", "gtwr": "GTWR", "gtnnwr": "GTNNWR",
         "stcg": "Ours (STCG)"}


DETERMINISTIC = frozenset({"gwr"})
"""Methods whose fit has no seed (their seed sd is 0 for the significance rule).  GTWR is not
one: its ``holdout`` criterion draws the held-out cells with ``gtwr.seed``, and it runs once, so
its comparisons read as undecided."""


def method_metrics(metrics_dir: str | Path, method: str, week: int) -> dict | None:
    """``{"train": {...}, "test": {...}}`` of ``method`` at ``week``, or None if absent.

    Looks in the per-week file ``<method>_weekly.json`` (its ``wNN`` entry) first, then in the
    joint ``<method>.json``.
    For a run with several seeds these are the means over seeds (:func:`method_seeds`).
    """
    got = _week_entry(metrics_dir, method, week)
    return got[0] if got else None


def _week_entry(metrics_dir: str | Path, method: str, week: int) -> tuple[dict, dict] | None:
    d, wk = Path(metrics_dir), week_key(week)
    for path, weekly in ((d / f"{method}_weekly.json", True), (d / f"{method}.json", False)):
        if path.exists():
            data = json.loads(path.read_text())
            if weekly:
                data = data.get(wk, {})
            hit = data.get("weeks", {}).get(wk)
            if hit is not None:
                return hit, data
    return None


@dataclass(frozen=True)
class Seeds:
    """The seed spread of one method at one week: ``n`` seeds, the sd of each ``split.metric``
    (``{"test": {"rmse": sd, ...}, ...}``; 0 for a deterministic method, None = unknown) and
    each seed's week metrics."""

    n: int
    sd: dict
    runs: tuple

    def at(self, split: str, key: str) -> float | None:
        """The sd of ``split.key`` (None when unknown)."""
        v = (self.sd.get(split) or {}).get(key)
        return None if v is None else float(v)


def method_seeds(metrics_dir: str | Path, method: str, week: int) -> Seeds | None:
    """:class:`Seeds` of ``method`` at ``week`` (None when its metrics are absent)."""
    got = _week_entry(metrics_dir, method, week)
    if got is None:
        return None
    hit, data = got
    wk = week_key(week)
    if n_seeds(data) > 1:
        sd = {split: {k: sd_at(data, "weeks", wk, split, k) for k in ("rmse", "r2", "mae")}
              for split in ("train", "test")}
        runs = tuple(r.get("weeks", {}).get(wk) or {} for r in data["seeds"].get("runs", []))
        return Seeds(n_seeds(data), sd, runs)
    zero = 0.0 if method in DETERMINISTIC else None
    return Seeds(1, {split: {k: zero for k in ("rmse", "r2", "mae")}
                     for split in ("train", "test")}, (hit,))


def _num(x: float | None, digits: int) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _ms(x: float | None, sd: float | None, n: int, digits: int) -> str:
    """``mean ± sd`` when n > 1 (:func:`stcg.metrics.format_mean_sd`), else the mean."""
    return format_mean_sd(x, sd, n, digits, missing="n/a")


def _pair(rmse: float | None, r2: float | None, sd: Seeds | None = None) -> str:
    if rmse is None:
        return "n/a"
    n = sd.n if sd else 1
    return (f"{_ms(rmse, sd.at('test', 'rmse') if sd else None, n, 3)} / "
            f"{_ms(r2, sd.at('test', 'r2') if sd else None, n, 2)}")


def _label(metrics_dir: str | Path, m: str, weeks: tuple[int, ...]) -> str:
    ns = {sd.n for w in weeks if (sd := method_seeds(metrics_dir, m, w)) is not None}
    n = max(ns, default=1)
    return NAMES.get(m, m) + (f" (n = {n} seeds)" if n > 1 else "")


def table2(
    metrics_dir: str | Path,
    targets: Mapping,
    weeks: tuple[int, ...],
    methods: tuple[str, ...],
    extra: tuple[str, ...] = (),
) -> tuple[str, pd.DataFrame]:
    """Markdown and long-form frame of Table 2 (test RMSE / R2, ours beside the paper's).

    A method run with n > 1 seeds shows ``mean ± sd`` (sample sd over the seeds) and its n in
    the column header; the frame has ``rmse_sd``, ``r2_sd`` and ``n_seeds`` (sd 0 for a
    deterministic method, empty when unknown).  Below the table, each week's methods in order of
    test RMSE, each adjacent pair marked significant or not (:mod:`stcg.report.significance`).
    """
    paper = targets.get("table2", {})
    present_extra = tuple(m for m in extra
                          if any(method_metrics(metrics_dir, m, w) for w in weeks))
    cols = (*methods, *present_extra)
    rows, lines, orders = [], [], []
    head = "| Week | " + " | ".join(_label(metrics_dir, m, weeks) for m in cols) + " |"
    lines += [head, "|" + "---|" * (len(cols) + 1)]
    for w in weeks:
        cells, items = [], []
        for m in cols:
            got = method_metrics(metrics_dir, m, w)
            sd = method_seeds(metrics_dir, m, w)
            test = got["test"] if got else {}
            ref = paper.get(week_key(w), {}).get(m, {})
            rows.append({"week": w, "method": m, "rmse": test.get("rmse"), "r2": test.get("r2"),
                         "rmse_sd": sd.at("test", "rmse") if sd else None,
                         "r2_sd": sd.at("test", "r2") if sd else None,
                         "n_seeds": sd.n if sd else None,
                         "paper_rmse": ref.get("rmse"), "paper_r2": ref.get("r2")})
            cell = _pair(test.get("rmse"), test.get("r2"), sd)
            if ref:
                cell += f" (paper {_pair(ref.get('rmse'), ref.get('r2'))})"
            cells.append(cell)
            if got:
                items.append((NAMES.get(m, m), test.get("rmse"), sd.at("test", "rmse")))
        lines.append(f"| Week-{w:02d} | " + " | ".join(cells) + " |")
        if len(items) > 1:
            orders.append(f"* Week-{w:02d}: {ordering(items)}")
    title = ("**Table 2.** Spatial and spatiotemporal heterogeneity methods on the few-shot "
             "data: test RMSE / R2 (gC m-2 d-1) on held-out cells, ours (paper's in brackets); "
             "mean ± sd over seeds where a method ran n > 1 seeds.")
    text = title + "\n\n" + "\n".join(lines) + "\n"
    if orders:
        text += ("\nOrdering by test RMSE, lowest first. " + LEGEND + "\n\n"
                 + "\n".join(orders) + "\n")
    return text, pd.DataFrame(rows)


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
    sds = {m: method_seeds(metrics_dir, m, week) for m in methods}
    head = "| Metric | " + " | ".join(f"{_label(metrics_dir, m, (week,))} | "
                                      f"{NAMES.get(m, m)} (paper)" for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 * len(methods) + 1)]
    rows = []
    for label, split, key, pkey, digits in TABLE3_ROWS:
        cells = []
        for m in methods:
            val = got[m][split][key] if got[m] else None
            sd = sds[m].at(split, key) if sds[m] else None
            n = sds[m].n if sds[m] else 1
            ref = paper.get(m, {}).get(pkey)
            rows.append({"metric": label, "method": m, "value": val, "sd": sd, "n_seeds": n,
                         "paper": ref})
            cells += [_ms(val, sd, n, digits), _num(ref, digits)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for m in methods:
        gap = got[m]["test"]["rmse"] - got[m]["train"]["rmse"] if got[m] else None
        n = sds[m].n if sds[m] else 1
        sd = None
        if got[m] and n > 1:  # the sd of each seed's own gap
            sd = mean_sd([r["test"]["rmse"] - r["train"]["rmse"] for r in sds[m].runs])[1]
        elif got[m] and m in DETERMINISTIC:
            sd = 0.0
        ref = paper.get(m, {}).get("gen_gap")
        rows.append({"metric": "Gen. Gap", "method": m, "value": gap, "sd": sd, "n_seeds": n,
                     "paper": ref})
        cells += [_ms(gap, sd, n, 3), _num(ref, 3)]
    lines.append("| Gen. Gap | " + " | ".join(cells) + " |")
    title = (f"**Table 3.** Local vs global learning at week {week}: train and test RMSE / R2 "
             "and the generalisation gap (test RMSE - train RMSE), ours beside the paper's; "
             "mean ± sd over seeds where a method ran n > 1 seeds.")
    text = title + "\n\n" + "\n".join(lines) + "\n"
    orders = []
    for label, split in (("Test RMSE", "test"), ("Train RMSE", "train")):
        items = [(NAMES.get(m, m), got[m][split]["rmse"], sds[m].at(split, "rmse"))
                 for m in methods if got[m]]
        if len(items) > 1:
            orders.append(f"* {label}: {ordering(items)}")
    if orders:
        text += "\nOrdering, lowest first. " + LEGEND + "\n\n" + "\n".join(orders) + "\n"
    return text, pd.DataFrame(rows)
