"""Stage ``fewshot_joint``: GTWR or GTNNWR fitted on all 46 periods of the few-shot data at once.

DVC runs it as a matrix over methods.  Writes the metrics JSON (per reported week and pooled)
and the coefficient estimates.  The STCG model in few-shot mode has its own stage on the model
branch and writes the same two outputs (contract: stcg.fewshot).
"""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from stcg import stage
from stcg.config import load_section
from stcg.fewshot.config import FewshotJointConfig
from stcg.fewshot.dataset import read_fewshot
from stcg.fewshot.runners import fit_gtnnwr, fit_gtwr, fit_seeds_with_bar, seed_processes
from stcg.fewshot.scoring import evaluate, write_method_outputs, write_metrics

METHODS = ("gtwr", "gtnnwr")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, fit one joint method, write metrics and coefficients."""
    ap = stage.parser(__doc__.splitlines()[0])
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--data", type=Path, required=True, help="few-shot dataset (build_fewshot)")
    ap.add_argument("--out", type=Path, required=True, help="coefficient output directory")
    ap.add_argument("--metrics", type=Path, required=True, help="metrics JSON to write")
    args = ap.parse_args(argv)
    cfg = load_section(FewshotJointConfig, "fewshot_joint", args.params)
    fs = read_fewshot(args.data)
    weeks = tuple(fs.meta.get("weeks", ()))
    if args.method == "gtwr":  # deterministic: one fit
        bar = tqdm(desc="gtwr: (bandwidth, tau) search", unit="fit")
        t0 = time.perf_counter()

        def progress(bw: float, tau: float, score: float) -> None:
            bar.update(1)
            bar.set_postfix(bw=bw, tau=f"{tau:.4g}", score=f"{score:.5g}",
                            s=f"{time.perf_counter() - t0:.0f}")

        pred = fit_gtwr(fs, cfg.gtwr, cfg.device, progress=progress)
        bar.close()
        metrics = evaluate(fs, pred, weeks)
    else:
        # n seeds: metrics are their mean and sd; the coefficients are the first seed's
        metrics, pred = fit_seeds_with_bar(
            fs, cfg.gtnnwr,
            lambda c, progress: fit_gtnnwr(fs, c, cfg.device, progress=progress),
            weeks, "gtnnwr", procs=seed_processes(cfg.gtnnwr, cfg.device))
    write_method_outputs(fs, pred, args.out)
    write_metrics(args.metrics, metrics)


if __name__ == "__main__":
    stage.run(main)
