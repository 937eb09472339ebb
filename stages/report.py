"""Stage ``report``: ``reports/REPORT.md`` and the per-week few-shot RMSE plot data.

Reads the tables, metrics and figures of the other stages (each optional: a missing one is named
in the report) and ``reports/paper_targets.yaml``, and writes the report
(:mod:`stcg.report.report`, :mod:`stcg.report.paper`) and ``fewshot_rmse.csv`` (one column per
few-shot method, for ``dvc plots``).  Params: section ``report``; our side of the paper-vs-ours
table also reads ``build_data``, ``train_stcg``, ``build_fewshot`` and ``figures``.

``--ablations`` (``reports/tables/ablations.md``, committed) comes from the separate pipeline
``ablations/dvc.yaml`` and is deliberately not a DVC dependency of this stage: a dependency
would pull the ablations into every ``dvc repro`` / ``dvc exp run`` of the main pipeline.
``./run ablate`` reruns this stage after the ablations.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import yaml

from stcg import stage
from stcg.config import active_profile, load_section, read_params
from stcg.data.config import BuildDataConfig
from stcg.fewshot.config import BuildFewshotConfig
from stcg.io import atomic_path, read_json, write_text
from stcg.report.config import FiguresConfig, ReportConfig
from stcg.report.paper import Context, paper_vs_ours, paper_vs_ours_markdown
from stcg.report.report import (
    ReportInputs,
    fewshot_results,
    fewshot_rmse_frame,
    figure_captions,
    relative,
    render_report,
)
from stcg.report.table1 import BASELINE_KEYS
from stcg.train.config import TrainStcgConfig


def _json(path: Path | None) -> dict | None:
    return read_json(path) if path is not None and path.exists() else None


def _text(path: Path | None) -> str | None:
    return path.read_text() if path is not None and path.exists() else None


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, collect the inputs, write the report and the plot data."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--targets", type=Path, required=True, help="reports/paper_targets.yaml")
    ap.add_argument("--data-card", type=Path, required=True, help="build_data's data.json")
    ap.add_argument("--stcg", type=Path, required=True, help="train_stcg's metrics JSON")
    ap.add_argument("--tabular-dir", type=Path, required=True, help="train_tabular metrics folder")
    ap.add_argument("--fewshot-dir", type=Path, required=True, help="few-shot metrics folder")
    ap.add_argument("--interpretability", type=Path, required=True, help="interpret's JSON")
    ap.add_argument("--table1", type=Path, required=True)
    ap.add_argument("--table2", type=Path, required=True)
    ap.add_argument("--table3", type=Path, required=True)
    ap.add_argument("--ablations", type=Path, default=None, help="ablations.md (optional)")
    ap.add_argument("--figures", type=Path, nargs="*", default=[], help="PNGs to show, in order")
    ap.add_argument("--out", type=Path, required=True, help="REPORT.md to write")
    ap.add_argument("--fewshot-csv", type=Path, required=True, help="per-week RMSE CSV to write")
    args = ap.parse_args(argv)

    cfg = load_section(ReportConfig, "report", args.params)
    profile = active_profile(read_params(args.params))
    params = {
        "build_data": load_section(BuildDataConfig, "build_data", args.params),
        "train_stcg": load_section(TrainStcgConfig, "train_stcg", args.params),
        "build_fewshot": load_section(BuildFewshotConfig, "build_fewshot", args.params),
        "figures": load_section(FiguresConfig, "figures", args.params),
    }
    targets = yaml.safe_load(args.targets.read_text()) or {}
    weeks = params["build_fewshot"].weeks
    methods = tuple(dict.fromkeys([*cfg.fewshot_methods,
                                   *[m for v in (targets.get("table2") or {}).values() for m in v],
                                   *[m for m in (targets.get("table3") or {}) if m != "week"]]))
    fewshot = fewshot_results(args.fewshot_dir, methods,
                              sorted({*weeks, int((targets.get("table3") or {}).get("week", 40))}))
    ctx = Context(
        stcg=_json(args.stcg),
        tabular={k: _json(args.tabular_dir / f"{k}.json") for k in BASELINE_KEYS},
        fewshot=fewshot,
        data_card=_json(args.data_card),
        params=params,
        versions={n: v for n in ("torch", "pytorch-frame") if (v := _version(n))},
        profile=profile,
    )
    paper_md = paper_vs_ours_markdown(paper_vs_ours(targets, ctx))

    frame = fewshot_rmse_frame(fewshot, cfg.fewshot_methods, weeks)
    with atomic_path(args.fewshot_csv) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")

    base = args.out.parent
    inputs = ReportInputs(
        profile=profile,
        data_card=ctx.data_card,
        stcg=ctx.stcg,
        tables={n: _text(p) for n, p in (("table1", args.table1), ("table2", args.table2),
                                         ("table3", args.table3))},
        ablations=_text(args.ablations),
        figures=[(p.stem, relative(p, base)) for p in args.figures if p.exists()],
        missing_figures=[p.stem for p in args.figures if not p.exists()],
        interpretability=_json(args.interpretability),
        paper_markdown=paper_md,
        fewshot_csv=relative(args.fewshot_csv, base),
        captions=figure_captions(len(params["figures"].regions), params["figures"].map_weeks,
                                 params["figures"].map_variable),
    )
    write_text(args.out, render_report(inputs))
    print(f"{args.out} and {args.fewshot_csv} written")


if __name__ == "__main__":
    stage.run(main)
