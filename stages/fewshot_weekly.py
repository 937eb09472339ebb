"""Stage ``fewshot_weekly``: GWR or GNNWR, one model per reported week of the few-shot data.

DVC runs it as a matrix over methods (gwr, gnnwr); one process fits every week of the dataset's
``weeks`` (``build_fewshot.weeks``: 1, 10, 20, 30, 40; "week NN" is 8-day period NN - 1).
Writes one metrics JSON keyed by week (``{"w01": <metrics of week 1>, ...}``, each value the
schema of :func:`stcg.fewshot.scoring.evaluate`) and the coefficient estimates of each week in
``<out>/wNN/``.
"""

from __future__ import annotations

from pathlib import Path

from stcg import stage
from stcg.config import load_section
from stcg.data.periods import week_key
from stcg.fewshot.config import FewshotWeeklyConfig
from stcg.fewshot.dataset import read_fewshot
from stcg.fewshot.runners import (
    fit_gnnwr_week,
    fit_gwr_week,
    fit_seeds_with_bar,
    seed_processes,
)
from stcg.fewshot.scoring import evaluate, write_method_outputs, write_metrics
from stcg.io import atomic_path

METHODS = ("gwr", "gnnwr")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, fit each week, write metrics and coefficients."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--data", type=Path, required=True, help="few-shot dataset (build_fewshot)")
    ap.add_argument("--out", type=Path, required=True,
                    help="output directory: one coefficient directory wNN per week")
    ap.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    args = ap.parse_args(argv)
    cfg = load_section(FewshotWeeklyConfig, "fewshot_weekly", args.params)
    fs = read_fewshot(args.data)
    if not fs.meta.get("weeks"):
        raise ValueError(f"{args.data / 'meta.json'} has no 'weeks' list (the weeks to fit); "
                         "rebuild it with stage build_fewshot")
    weeks = tuple(int(w) for w in fs.meta["weeks"])
    metrics, preds = {}, {}
    for i, week in enumerate(weeks, 1):
        wk = week_key(week)
        print(f"fewshot_weekly: {args.method} {wk} ({i}/{len(weeks)})", flush=True)
        if args.method == "gwr":  # deterministic: one fit
            pred = fit_gwr_week(fs, week, cfg.gwr, cfg.device, progress=print)
            metrics[wk] = evaluate(fs, pred, weeks)
        else:
            # n seeds: metrics are their mean and sd; the coefficients are the first seed's
            metrics[wk], pred = fit_seeds_with_bar(
                fs, cfg.gnnwr,
                lambda c, progress, week=week: fit_gnnwr_week(fs, week, c, cfg.device,
                                                              progress=progress),
                weeks, f"gnnwr week {week}", procs=seed_processes(cfg.gnnwr, cfg.device))
        preds[wk] = pred
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        for wk, pred in preds.items():
            write_method_outputs(fs, pred, tmp / wk)
    write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    stage.run(main)
