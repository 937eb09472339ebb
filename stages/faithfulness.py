"""Stage ``faithfulness``: coefficient recovery on a varying-coefficient truth (an identifiable
benchmark for interpretable weights; :mod:`stcg.report.faithfulness`).

Generates ``y = b_0(u, t) + sum_j b_j(u, t) z_j + eps`` on the simulator's land grid, ingests it
through ``build_data``'s ``files`` source, fits the STCG variants of ``faithfulness.variants``,
GWR per period and GTWR, and writes every method's ``coef_r_median``, ``zero_coef_rmse``,
``intercept_rmse`` and ``y_rmse`` on the held-out year next to the oracle and the nulls.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from stcg import stage
from stcg.config import load_section, read_params
from stcg.graph.config import BuildGraphConfig
from stcg.io import write_json
from stcg.report.faithfulness import faithfulness_headline, run_benchmark
from stcg.report.faithfulness_config import FaithfulnessConfig
from stcg.train.config import TrainStcgConfig


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the benchmark, write the scores and the headline."""
    ap = stage.parser(__doc__)
    ap.add_argument("--inputs", type=Path, required=True,
                    help="raw-input directory (data/: land mask and land cover)")
    ap.add_argument("--metrics", type=Path, required=True, help="faithfulness.json to write")
    ap.add_argument("--headline", type=Path, default=None, help="headline metrics JSON")
    ap.add_argument("--cost", type=Path, default=None,
                    help="seconds per method (machine facts, read by no stage)")
    ap.add_argument("--work", type=Path, default=None,
                    help="keep the generated files, dataset and models here (default: a "
                    "temporary directory, removed)")
    args = ap.parse_args(argv)
    cfg = load_section(FaithfulnessConfig, "faithfulness", args.params)
    stcg_cfg = load_section(TrainStcgConfig, "train_stcg", args.params)
    graph_cfg = load_section(BuildGraphConfig, "build_graph", args.params)
    variables = tuple(read_params(args.params)["build_data"]["variables"])

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    tmp = None
    work = args.work
    if work is None:
        tmp = tempfile.mkdtemp(prefix="stcg_faithfulness_")
        work = Path(tmp)
    try:
        result = run_benchmark(args.inputs, work, cfg, stcg_cfg, graph_cfg, variables, log=log)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    seconds = result.pop("seconds")
    if args.cost is not None:
        write_json(args.cost, {"seconds": seconds})
    write_json(args.metrics, result)
    if args.headline is not None:
        write_json(args.headline, faithfulness_headline(result))


if __name__ == "__main__":
    stage.run(main)
