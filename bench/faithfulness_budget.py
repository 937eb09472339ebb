"""STCG variants of the ``faithfulness`` benchmark at a longer training budget than the stage's.

Runs :func:`stcg.report.faithfulness.run_benchmark` on the active profile's data with the chosen
variants and ``--epochs`` x ``--samples-per-epoch`` samples each (optionally without GWR and
GTWR, whose scores do not depend on the budget), and writes the same JSON as the stage.

    PYTHONPATH=src OMP_NUM_THREADS=1 python bench/faithfulness_budget.py --variants condition \\
        --epochs 10 --samples-per-epoch 30000 --threads 1 --no-baselines \\
        --out reports/bench/faithfulness_budget.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from stcg.config import load_section, read_params
from stcg.graph.config import BuildGraphConfig
from stcg.io import write_json
from stcg.report.faithfulness import run_benchmark
from stcg.report.faithfulness_config import FaithfulnessConfig
from stcg.train.config import TrainStcgConfig


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--inputs", default="data")
    ap.add_argument("--variants", nargs="*", default=None, help="default: every variant")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--samples-per-epoch", type=int, required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--work", required=True, help="scratch directory")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    cfg = load_section(FaithfulnessConfig, "faithfulness", args.params)
    variants = {k: v for k, v in cfg.variants.items()
                if args.variants is None or k in args.variants}
    cfg = dataclasses.replace(
        cfg, variants=variants, threads=args.threads,
        optim=dataclasses.replace(cfg.optim, epochs=args.epochs,
                                  samples_per_epoch=args.samples_per_epoch))
    res = run_benchmark(args.inputs, args.work, cfg,
                        load_section(TrainStcgConfig, "train_stcg", args.params),
                        load_section(BuildGraphConfig, "build_graph", args.params),
                        tuple(read_params(args.params)["build_data"]["variables"]),
                        log=lambda m: print(m, file=sys.stderr, flush=True),
                        baselines=not args.no_baselines)
    res["budget"] = {"epochs": args.epochs, "samples_per_epoch": args.samples_per_epoch}
    if args.out:
        write_json(args.out, res)
    print(json.dumps(res["methods"], indent=1))
    return res


if __name__ == "__main__":
    main()
