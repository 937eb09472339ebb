"""``reports/REPORT.md``: every table, figure and score of the pipeline in one page.

Sections: a warning that our numbers are on the simulator, the data card, Table 1, Tables 2-3,
the ablations, the figures, the interpretability scores against the truth, the training
summary and the paper-vs-ours table of every number the paper reports (:mod:`stcg.report.paper`).
Each input is optional: a missing one gives a line saying which stage produces it, so the report
renders at any point of the pipeline.  Also the per-week few-shot RMSE table behind the DVC plot
``reports/plots/fewshot_rmse.csv`` (one column per method, the layout ``dvc plots`` draws as one
line per column).

Pure functions of already-read inputs (:class:`ReportInputs`); the ``report`` stage reads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from stcg.report.fewshot_tables import method_metrics


def figure_captions(regions: int = 6, weeks: Sequence[int] = (1, 10, 20, 30),
                    variable: str = "temperature_2m") -> dict[str, str]:
    """Captions of the known figures (by file stem), from the ``figures`` params."""
    wk = ", ".join(f"{w:02d}" for w in weeks)
    return {
        "graph_globe": "The spatiotemporal conditional graph: K-means nodes and spherical KNN "
                       "edges (Section 3.2, eqs. 5-9).",
        "fig4_feature_importance": f"Figure 4. Interpretable weights w_j (left) and contributions "
                                   f"w_j·z_j (right) over the 46 periods of the test year in "
                                   f"{regions} regions (Section 4.4).",
        "fig5_maps": f"Figure 5. The {variable} weight (diverging colours centred on 0) and the "
                     f"predicted GPP at weeks {wk} (Section 4.4).",
        "limiting_factor_maps": "Beyond the paper: the simulator's limiting factor beside the "
                                "dominant factor group of the STCG weights and of LightGBM's "
                                "TreeSHAP.",
        "training_curves": "STCG training curves (DVCLive; `dvc plots diff` compares them "
                           "across commits).",
        "error_maps": "STCG test-year RMSE (top) and bias (bottom, predicted - observed) per "
                      "grid cell: dark top-map cells are where the model errs most, and red or "
                      "blue regions in the bottom map are systematic over- or underestimates "
                      "rather than noise.",
        "obs_vs_pred": "Observed vs predicted GPP of every test sample (hexbin, log counts): "
                       "points along the red 1:1 line are right; a fan below it at high "
                       "observed GPP means the peaks of the growing season are underestimated.",
        "rmse_by_group": "Test RMSE by latitude band and by IGBP land cover (the numbers of "
                         "`reports/metrics/stcg.json`; grey: the per-cell climatology): where "
                         "a blue bar is not below its grey one, the model adds nothing over the "
                         "seasonal cycle for that group.",
    }


@dataclass
class ReportInputs:
    """What the report is made of; None / empty = not available.

    Attributes:
        profile: the active params profile.
        data_card: ``reports/metrics/data.json``.
        stcg: ``reports/metrics/stcg.json``.
        tables: name (table1, table2, table3) -> markdown text.
        ablations: ``reports/tables/ablations.md`` text.
        figures: (file stem, path relative to the report) of each figure that exists.
        missing_figures: file stems of the figures that do not exist (yet).
        interpretability: ``reports/metrics/interpretability.json``.
        paper_markdown: the paper-vs-ours section (:func:`stcg.report.paper.paper_vs_ours_markdown`).
        fewshot_csv: path of the per-week RMSE plot data, relative to the report.
        captions: figure captions by file stem (:func:`figure_captions`).
    """

    profile: str
    data_card: Mapping[str, Any] | None = None
    stcg: Mapping[str, Any] | None = None
    tables: Mapping[str, str | None] = field(default_factory=dict)
    ablations: str | None = None
    figures: Sequence[tuple[str, str]] = ()
    missing_figures: Sequence[str] = ()
    interpretability: Mapping[str, Any] | None = None
    paper_markdown: str = ""
    fewshot_csv: str | None = None
    captions: Mapping[str, str] = field(default_factory=figure_captions)


# ------------------------------------------------------------------------ few-shot RMSE
def fewshot_results(metrics_dir: str | Path, methods: Sequence[str],
                    weeks: Sequence[int]) -> dict[str, dict[int, dict]]:
    """method -> week -> ``{"train": .., "test": ..}`` for every metrics file that exists."""
    out: dict[str, dict[int, dict]] = {}
    for m in methods:
        for w in weeks:
            got = method_metrics(metrics_dir, m, w)
            if got is not None:
                out.setdefault(m, {})[int(w)] = got
    return out


def fewshot_rmse_frame(results: Mapping[str, Mapping[int, Mapping]], methods: Sequence[str],
                       weeks: Sequence[int]) -> pd.DataFrame:
    """Wide table ``week, <method>...`` of test RMSE (NaN where a method has no result)."""
    data: dict[str, list] = {"week": [int(w) for w in weeks]}
    for m in methods:
        data[m] = [(results.get(m, {}).get(int(w)) or {}).get("test", {}).get("rmse", math.nan)
                   for w in weeks]
    return pd.DataFrame(data)


# ------------------------------------------------------------------------------ pieces
def _f(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    return f"{x:.{digits}f}"


def data_card_markdown(card: Mapping[str, Any]) -> str:
    """The data card (``build_data``'s ``data.json``) as a short summary and tables."""
    grid = card.get("grid", {})
    samples = card.get("samples", {})
    lc = {k: v for k, v in (card.get("land_cover") or {}).items() if v}
    lines = [
        f"* source: **{card.get('source', 'n/a')}**; grid {grid.get('resolution', 'n/a')}° "
        f"({grid.get('n_lat', '?')} x {grid.get('n_lon', '?')}), "
        f"{_f(card.get('n_cells'))} land cells",
        f"* samples: {_f(samples.get('train'))} train, {_f(samples.get('test'))} test, "
        f"{_f(samples.get('total'))} in all",
    ]
    if lc:
        lines.append("* land cover (cells): " + ", ".join(
            f"{k} {v}" for k, v in sorted(lc.items(), key=lambda kv: -kv[1])))
    sources = card.get("sources") or {}
    if sources:
        lines += ["", "| Input | Package | Version | What |", "|---|---|---|---|"]
        for path, s in sources.items():
            lines.append(f"| `{path}` | {s.get('package', '')} | {s.get('version', '')} | "
                         f"{s.get('what', '')} |")
    variables = card.get("variables") or {}
    if variables:
        lines += ["", "<details><summary>Per-variable statistics (all samples)</summary>", "",
                  "| Variable | Mean | Std | Min | Max | NaN share |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, s in variables.items():
            lines.append(f"| {name} | {s.get('mean', math.nan):.4g} | {s.get('std', math.nan):.4g}"
                         f" | {s.get('min', math.nan):.4g} | {s.get('max', math.nan):.4g} | "
                         f"{s.get('nan_share', math.nan):.3g} |")
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def interpretability_markdown(scores: Mapping[str, Any]) -> str:
    """The scores of ``interpretability.json`` (:func:`stcg.report.interpret.scores_markdown`)."""
    from stcg.report.interpret import scores_markdown

    return scores_markdown(scores)


def _stcg_summary(m: Mapping[str, Any]) -> str:
    t, c, i = m.get("test", {}), m.get("climatology", {}).get("test", {}), m.get("test_interp", {})
    tr = m.get("train", {})
    return (f"STCG on the test year: RMSE {_f(t.get('rmse'))}, R² {_f(t.get('r2'))} "
            f"({_f(t.get('n'))} samples); its interpretable branch y_interp alone: RMSE "
            f"{_f(i.get('rmse'))}, R² {_f(i.get('r2'))}; per-cell climatology of the training "
            f"years: RMSE {_f(c.get('rmse'))}, R² {_f(c.get('r2'))}.  "
            f"{_f(tr.get('parameters'))} parameters, {_f(tr.get('samples'))} training samples.\n")


# ------------------------------------------------------------------------------ report
def render_report(inp: ReportInputs) -> str:
    """The whole ``REPORT.md``."""
    src = (inp.data_card or {}).get("source", "sim")
    out = [
        f"# stcg results report: `{inp.profile}` profile",
        "",
        "Generated by the `report` stage (`dvc repro report`) from the pipeline's outputs; do not "
        "edit by hand.",
        "",
    ]
    if src == "sim":
        out += [
            f"> **Read this first.** Every \"ours\" number below comes from the `{inp.profile}` "
            "profile on the **simulated** Climate2GPP dataset (source `sim`: real land grid, "
            "land cover, terrain and climatology, simulated weather and a light-use-efficiency "
            "GPP), on a coarser grid and smaller budgets than the paper's, not from ERA5-Land / "
            "PML_V2 at 0.5°.  The paper's numbers are printed beside ours for reference: "
            "differences are expected and are not a verdict on the paper.",
            "",
        ]
    else:
        out += [f"> Dataset source `{src}`, profile `{inp.profile}`; the paper's numbers are "
                "printed beside ours for reference.", ""]
    out += ["## Contents", "",
            "1. [Data card](#1-data-card)",
            "2. [Table 1: tabular baselines and STCG](#2-table-1-tabular-baselines-and-stcg)",
            "3. [Tables 2-3: few-shot spatial methods](#3-tables-2-3-few-shot-spatial-methods)",
            "4. [Ablations](#4-ablations)",
            "5. [Figures](#5-figures)",
            "6. [Interpretability against the truth](#6-interpretability-against-the-truth)",
            "7. [Paper vs ours](#7-paper-vs-ours)", ""]

    out += ["## 1. Data card", ""]
    out.append(data_card_markdown(inp.data_card) if inp.data_card
               else "Not available (stage `build_data` writes `reports/metrics/data.json`).\n")

    out += ["## 2. Table 1: tabular baselines and STCG", ""]
    if inp.stcg:
        out.append(_stcg_summary(inp.stcg))
    out.append(inp.tables.get("table1") or "Not available (stage `table1`).\n")

    out += ["## 3. Tables 2-3: few-shot spatial methods", ""]
    for name, stage in (("table2", "fewshot_tables"), ("table3", "fewshot_tables")):
        out.append(inp.tables.get(name) or f"{name}: not available (stage `{stage}`).\n")
    if inp.fewshot_csv:
        out.append(f"Per-week test RMSE of every method: [`{inp.fewshot_csv}`]({inp.fewshot_csv})"
                   " (`dvc plots show` / `dvc plots diff` draw it).\n")

    out += ["## 4. Ablations", ""]
    out.append(inp.ablations or "Not run (`./run ablate`: the pipeline `ablations/dvc.yaml` "
               "writes `reports/tables/ablations.md` and `reports/metrics/ablations/<variant>.json`"
               ").\n")

    out += ["## 5. Figures", ""]
    for stem, rel in inp.figures:
        out += [f"**{inp.captions.get(stem, stem)}**", "", f"![{stem}]({rel})", ""]
    if inp.missing_figures:
        out.append("Not available yet: " + ", ".join(f"`{s}.png`" for s in inp.missing_figures)
                   + ".\n")

    out += ["## 6. Interpretability against the truth", "",
            "Beyond the paper: on the simulator every sample's exact local slope dGPP/dx_j and "
            "exact contributions are known, so the attributions can be scored, each score next "
            "to its oracle and nulls (`reports/metrics/interpretability.json`, "
            "`stcg.report.scores`).", ""]
    out.append(interpretability_markdown(inp.interpretability) if inp.interpretability
               else "Not available (stage `interpret`).\n")

    out += ["## 7. Paper vs ours", "",
            "Every number the paper reports (`reports/paper_targets.yaml`) beside ours; "
            "\"n/a\" where we have no counterpart.  Differences are ours − paper.", ""]
    out.append(inp.paper_markdown or "Not available.\n")
    return "\n".join(out).rstrip() + "\n"


def relative(path: str | Path, start: str | Path) -> str:
    """``path`` relative to the folder ``start`` (POSIX separators, for markdown links)."""
    import os

    return Path(os.path.relpath(Path(path), Path(start))).as_posix()


