"""Paper vs ours: every number the paper reports beside our value and the difference.

The paper's numbers live in ``reports/paper_targets.yaml``: Tables 1-3 under ``table1``,
``table2``, ``table3`` (their own stages' layout) and every other number under ``text``,
``data``, ``training``, ``fewshot`` and ``figures``, one entry per number::

    id: {value: 0.836, unit: ..., where: "Abstract; Sec. 4.2", what: "..."}

:data:`OURS` says, per id, where our value comes from (a metrics file, a params value, a
package version); ids without an entry show "n/a".  Differences are ``ours - paper`` where both
are numbers.  Pure functions: the ``report`` stage reads the files into :class:`Context`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from stcg.data.periods import week_key
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.report.fewshot_tables import NAMES
from stcg.report.table1 import TABLE1_ROWS

TEXT_SECTIONS = ("text", "data", "training", "fewshot", "figures")
"""The keys of ``paper_targets.yaml`` holding single numbers (Tables 1-3 have their own)."""


@dataclass
class Context:
    """Everything our values come from (read by the ``report`` stage).

    Attributes:
        stcg: ``reports/metrics/stcg.json`` or None.
        tabular: Table 1 model key -> its metrics JSON (None when missing).
        fewshot: method -> week -> ``{"train": {...}, "test": {...}}`` (missing weeks absent).
        data_card: ``reports/metrics/data.json`` or None.
        params: the resolved params (dataclasses) of build_data, train_stcg, build_fewshot,
            figures (section name -> config object).
        versions: package name -> installed version.
        profile: the active profile.
    """

    stcg: Mapping[str, Any] | None = None
    tabular: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    fewshot: Mapping[str, Mapping[int, Mapping[str, Any]]] = field(default_factory=dict)
    data_card: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, str] = field(default_factory=dict)
    profile: str = "default"


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, Mapping) or p not in d:
            return None
        d = d[p]
    return d


def _param(ctx: Context, section: str, *path: str) -> Any:
    obj = ctx.params.get(section)
    for p in path:
        if obj is None:
            return None
        obj = getattr(obj, p, None)
    return obj


def pooled_rmse(ctx: Context, method: str) -> float | None:
    """Test RMSE of ``method`` pooled over its few-shot weeks (``sqrt(sum n mse / sum n)``)."""
    num = den = 0.0
    for got in ctx.fewshot.get(method, {}).values():
        rmse, n = _get(got, "test", "rmse"), _get(got, "test", "n")
        if rmse is None or not n:
            continue
        num += n * rmse * rmse
        den += n
    return math.sqrt(num / den) if den else None


def _lr_drop_epoch(ctx: Context) -> float | None:
    o = _param(ctx, "train_stcg", "optim")
    return None if o is None else o.lr_drop_at * o.epochs


def _years(ctx: Context, which: str) -> Any:
    s = _param(ctx, "build_data", "splits", which)
    if s is None:
        return None
    return s[0] if s[0] == s[1] else f"{s[0]}-{s[1]}"


Getter = Callable[[Context], Any]
OURS: dict[str, tuple[Getter, str]] = {
    # text: the headline numbers
    "text.ours_rmse": (lambda c: _get(c.stcg, "test", "rmse"), "reports/metrics/stcg.json test.rmse"),
    "text.ours_r2": (lambda c: _get(c.stcg, "test", "r2"), "reports/metrics/stcg.json test.r2"),
    "text.lightgbm_large_rmse": (lambda c: _get(c.tabular.get("LightGBMLarge"), "test", "rmse"),
                                 "reports/metrics/tabular/LightGBMLarge.json test.rmse"),
    "text.tabnet_rmse": (lambda c: _get(c.tabular.get("TabNet"), "test", "rmse"),
                         "reports/metrics/tabular/TabNet.json test.rmse"),
    "text.gwr_rmse": (lambda c: pooled_rmse(c, "gwr"),
                      "few-shot GWR test RMSE pooled over the reported weeks"),
    # data
    "data.train_samples_approx": (lambda c: _get(c.data_card, "samples", "train"),
                                  "reports/metrics/data.json samples.train"),
    "data.train_samples": (lambda c: _get(c.data_card, "samples", "train"),
                           "reports/metrics/data.json samples.train"),
    "data.test_samples": (lambda c: _get(c.data_card, "samples", "test"),
                          "reports/metrics/data.json samples.test"),
    "data.n_variables": (lambda c: (len(v) if (v := _param(c, "build_data", "variables")) else None),
                         "params build_data.variables"),
    "data.period_days": (lambda c: 8, "stcg.data.schema (8-day periods)"),
    "data.periods_per_year": (lambda c: PERIODS_PER_YEAR, "stcg.data.schema.PERIODS_PER_YEAR"),
    "data.first_year": (lambda c: (s[0] if (s := _param(c, "build_data", "splits", "train_years"))
                                   else None), "params build_data.splits.train_years"),
    "data.last_date": (lambda c: (f"{s[1]}-12-31" if (s := _param(c, "build_data", "splits",
                                                                  "test_years")) else None),
                       "end of the last period of params build_data.splits.test_years"),
    "data.train_years": (lambda c: _years(c, "train_years"), "params build_data.splits.train_years"),
    "data.test_year": (lambda c: _years(c, "test_years"), "params build_data.splits.test_years"),
    "data.land_cover_resolution_deg": (
        lambda c: (0.05 if any(str(k).startswith("mcd12c1/") for k in
                               (_get(c.data_card, "sources") or {})) else None),
        "MCD12C1 v006 2019, 0.05 deg (data card sources)"),
    "data.grid_resolution_deg": (lambda c: _get(c.data_card, "grid", "resolution"),
                                 "reports/metrics/data.json grid.resolution"),
    "data.land_cells": (lambda c: _get(c.data_card, "n_cells"), "reports/metrics/data.json n_cells"),
    "data.source": (lambda c: _get(c.data_card, "source"), "reports/metrics/data.json source"),
    # training
    "training.optimizer": (lambda c: "AdamW", "stcg.train.loop"),
    "training.batch_size": (lambda c: _param(c, "train_stcg", "optim", "batch_size"),
                            "params train_stcg.optim.batch_size"),
    "training.lr": (lambda c: _param(c, "train_stcg", "optim", "lr"), "params train_stcg.optim.lr"),
    "training.lr_final": (lambda c: _param(c, "train_stcg", "optim", "lr_final"),
                          "params train_stcg.optim.lr_final"),
    "training.lr_decay_epoch": (_lr_drop_epoch,
                                "params train_stcg.optim.lr_drop_at x epochs"),
    "training.epochs": (lambda c: _param(c, "train_stcg", "optim", "epochs"),
                        "params train_stcg.optim.epochs"),
    "training.pytorch": (lambda c: c.versions.get("torch"), "installed torch"),
    "training.autogluon": (lambda c: "not used (its 1.1.1 defaults re-implemented)",
                           "stcg.baselines.tabular"),
    "training.pytorch_frame": (lambda c: c.versions.get("pytorch-frame"), "installed pytorch-frame"),
    # few-shot
    "fewshot.cells": (lambda c: _param(c, "build_fewshot", "n_cells"), "params build_fewshot.n_cells"),
    "fewshot.test_fraction": (lambda c: _param(c, "build_fewshot", "test_fraction"),
                              "params build_fewshot.test_fraction"),
    "fewshot.years_averaged": (
        lambda c: (s[1] - s[0] + 1 if (s := _param(c, "build_data", "splits", "train_years"))
                   else None), "training years (params build_data.splits.train_years)"),
    "fewshot.weeks": (lambda c: _param(c, "build_fewshot", "weeks"), "params build_fewshot.weeks"),
    # figures
    "figures.fig4_regions": (lambda c: (len(r) if (r := _param(c, "figures", "regions")) else None),
                             "params figures.regions"),
    "figures.fig5_weeks": (lambda c: _param(c, "figures", "map_weeks"), "params figures.map_weeks"),
    "figures.fig5_variable": (lambda c: _param(c, "figures", "map_variable"),
                              "params figures.map_variable"),
}


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(float(x)) else None


def _row(section: str, ident: str, what: str, where: str, unit: str, paper: Any, ours: Any,
         source: str) -> dict:
    p, o = _num(paper), _num(ours)
    return {"section": section, "id": ident, "what": what, "where": where, "unit": unit,
            "paper": paper, "ours": ours, "diff": (o - p) if p is not None and o is not None
            else None, "ratio": (o / p) if p and o is not None else None, "source": source}


def paper_vs_ours(targets: Mapping[str, Any], ctx: Context) -> pd.DataFrame:
    """One row per number of ``paper_targets.yaml`` with ours beside it.

    Returns:
        Columns ``section, id, what, where, unit, paper, ours, diff, ratio, source``.

    Raises:
        ValueError: naming an entry of a text section without ``value``.
    """
    rows = []
    for section in TEXT_SECTIONS:
        for ident, entry in (targets.get(section) or {}).items():
            if not isinstance(entry, Mapping) or "value" not in entry:
                raise ValueError(f"paper_targets.yaml: {section}.{ident}: expected a mapping "
                                 "with a 'value'")
            key = f"{section}.{ident}"
            getter, source = OURS.get(key, (lambda c: None, "n/a"))
            rows.append(_row(section, key, entry.get("what", ""), entry.get("where", ""),
                             entry.get("unit", ""), entry["value"], getter(ctx), source))
    for r in TABLE1_ROWS:
        t = (targets.get("table1") or {}).get(r.key)
        if not t:
            continue
        m = ctx.stcg if r.key == "Ours" else ctx.tabular.get(r.key)
        src = ("reports/metrics/stcg.json" if r.key == "Ours"
               else f"reports/metrics/tabular/{r.key}.json")
        for metric in ("rmse", "r2"):
            if metric in t:
                rows.append(_row("table1", f"table1.{r.key}.{metric}", f"{r.label} test {metric}",
                                 "Table 1", "gC m-2 d-1" if metric == "rmse" else "",
                                 t[metric], _get(m, "test", metric), src))
    for wk, methods in (targets.get("table2") or {}).items():
        week = int(str(wk).lstrip("w"))
        for method, vals in methods.items():
            got = ctx.fewshot.get(method, {}).get(week)
            for metric in ("rmse", "r2"):
                if metric in vals:
                    rows.append(_row("table2", f"table2.{wk}.{method}.{metric}",
                                     f"{NAMES.get(method, method)} week {week:02d} test {metric}", "Table 2", "",
                                     vals[metric], _get(got, "test", metric),
                                     f"reports/metrics/fewshot ({method}, {week_key(week)})"))
    t3 = targets.get("table3") or {}
    week = int(t3.get("week", 40))
    for method, vals in t3.items():
        if method == "week" or not isinstance(vals, Mapping):
            continue
        got = ctx.fewshot.get(method, {}).get(week)
        for key, val in vals.items():
            split, _, metric = key.partition("_")
            if key == "gen_gap":
                a, b = _get(got, "test", "rmse"), _get(got, "train", "rmse")
                ours = a - b if a is not None and b is not None else None
            else:
                ours = _get(got, split, metric)
            rows.append(_row("table3", f"table3.{method}.{key}",
                             f"{NAMES.get(method, method)} week {week} {key}",
                             "Table 3", "", val, ours,
                             f"reports/metrics/fewshot ({method}, {week_key(week)})"))
    return pd.DataFrame(rows, columns=["section", "id", "what", "where", "unit", "paper", "ours",
                                       "diff", "ratio", "source"])


def _fmt(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10000 else str(x)
    if isinstance(x, float):
        if abs(x) >= 1e5:
            return f"{x / 1e6:.3g}M"
        return f"{x:.4g}"
    if isinstance(x, (list, tuple)):
        return ", ".join(_fmt(v) for v in x)
    return str(x)


def _fmt_diff(x: Any, ratio: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if abs(x) >= 1e5:
        s = f"{x / 1e6:+.3g}M"
    elif abs(x) >= 1e3:
        s = f"{x:+,.0f}"
    else:
        s = f"{x:+.3g}"
    if ratio is not None and not (isinstance(ratio, float) and math.isnan(ratio)) and abs(x) >= 1e3:
        s += f" (x{ratio:.3g})"
    return s


SECTION_TITLES = {
    "text": "Headline numbers (Abstract, Introduction, Conclusion)",
    "data": "Dataset (Section 4.1)",
    "training": "Training setup (Section 4.1)",
    "fewshot": "Few-shot protocol (Section 4.3)",
    "figures": "Figures (Section 4.4)",
    "table1": "Table 1 (Section 4.2)",
    "table2": "Table 2 (Section 4.3)",
    "table3": "Table 3 (Section 4.3)",
}


def paper_vs_ours_markdown(df: pd.DataFrame) -> str:
    """Markdown: one sub-table per section (what, where, paper, ours, ours - paper, source)."""
    out = []
    for section in df["section"].drop_duplicates():
        part = df[df["section"] == section]
        out += [f"#### {SECTION_TITLES.get(section, section)}", "",
                "| What | Where | Paper | Ours | Ours − paper | Our source |",
                "|---|---|---:|---:|---:|---|"]
        for r in part.itertuples(index=False):
            unit = f" {r.unit}" if r.unit and _num(r.paper) is not None else ""
            out.append(f"| {r.what} | {r.where} | {_fmt(r.paper)}{unit} | {_fmt(r.ours)} | "
                       f"{_fmt_diff(r.diff, r.ratio)} | {r.source} |")
        out.append("")
    return "\n".join(out)
