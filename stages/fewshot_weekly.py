"""Stage ``fewshot_weekly``: GWR or GNNWR fitted on one week of the few-shot data.

DVC runs it as a matrix over methods (gwr, gnnwr) and the paper's weeks (1, 10, 20, 30, 40);
"week NN" is 8-day period NN - 1.  Writes the metrics JSON and the coefficient estimates.
"""

from __future__ import annotations

from pathlib import Path

from stcg import stage
from stcg.config import load_section
from stcg.fewshot.config import FewshotWeeklyConfig
from stcg.fewshot.dataset import read_fewshot
from stcg.fewshot.runners import fit_gnnwr_week, fit_gwr_week, fit_seeds_with_bar
from stcg.fewshot.scoring import evaluate, write_method_outputs, write_metrics

METHODS = ("gwr", "gnnwr")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, fit one (method, week), write metrics and coefficients."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--week", type=int, required=True, help="paper week 1..46 (period week-1)")
    ap.add_argument("--data", type=Path, required=True, help="few-shot dataset (build_fewshot)")
    ap.add_argument("--out", type=Path, required=True, help="coefficient output directory")
    ap.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    args = ap.parse_args(argv)
    cfg = load_section(FewshotWeeklyConfig, "fewshot_weekly", args.params)
    fs = read_fewshot(args.data)
    weeks = tuple(fs.meta.get("weeks", (args.week,)))
    if args.method == "gwr":  # deterministic: one fit
        pred = fit_gwr_week(fs, args.week, cfg.gwr, cfg.device, progress=print)
        metrics = evaluate(fs, pred, weeks)
    else:
        # n seeds: metrics are their mean and sd; the coefficients are the first seed's
        metrics, pred = fit_seeds_with_bar(
            fs, cfg.gnnwr,
            lambda c, progress: fit_gnnwr_week(fs, args.week, c, cfg.device, progress=progress),
            weeks, f"gnnwr week {args.week}")
    write_method_outputs(fs, pred, args.out)
    write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    stage.run(main)
