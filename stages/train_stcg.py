"""Stage ``train_stcg``: train the STCG model on the training years, evaluate on the test years.

Writes ``<out>/model.pt`` and ``<out>/predictions.parquet``, the metrics JSON, DVCLive curves and
a resumable checkpoint.  Params: section ``train_stcg`` (:class:`stcg.train.config.TrainStcgConfig`).

With ``train_stcg.distributed.nproc`` N > 1 the script re-executes itself under
``torchrun --standalone --nproc_per_node N`` (same arguments), so dvc.yaml's command stays the
same for any N; started by ``torchrun`` directly (e.g. multi-node) it runs as the rank it is.
"""

from __future__ import annotations

import sys

from stcg import stage
from stcg.config import load_section
from stcg.io import write_json
from stcg.report.headline import stcg_headline
from stcg.train.config import TrainStcgConfig
from stcg.train.distributed import relaunch_under_torchrun
from stcg.train.run import train_stcg


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load ``train_stcg`` params and run :func:`stcg.train.run.train_stcg`."""
    ap = stage.parser(__doc__)
    ap.add_argument("--data", required=True, help="dataset directory (stage build_data)")
    ap.add_argument("--graph", required=True, help="graph .npz (stage build_graph)")
    ap.add_argument("--out", required=True, help="output directory (model.pt, predictions)")
    ap.add_argument("--checkpoint", required=True, help="checkpoint file (resumed if present)")
    ap.add_argument("--metrics", required=True, help="metrics JSON to write")
    ap.add_argument("--plots", required=True, help="DVCLive directory")
    ap.add_argument("--headline", default=None, help="headline metrics JSON to write (optional)")
    ap.add_argument("--cost", help="JSON of timings to write (not a DVC output; no stage reads it)")
    args = ap.parse_args(argv)
    cfg = load_section(TrainStcgConfig, "train_stcg", args.params)
    relaunch_under_torchrun(cfg.distributed.nproc, __file__,
                            sys.argv[1:] if argv is None else list(argv))
    report = train_stcg(
        args.data, args.graph, cfg, args.out, args.checkpoint, args.metrics, args.plots,
        cost_path=args.cost,
    )
    if report is None:  # not rank 0
        return
    if args.headline:
        write_json(args.headline, stcg_headline(report))
    t, c = report["test"], report["climatology"]["test"]
    print(f"test RMSE {t['rmse']:.4f} R2 {t['r2']:.4f} | climatology RMSE {c['rmse']:.4f}")


if __name__ == "__main__":
    stage.run(main)
