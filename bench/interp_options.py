"""Interpretable-weight options of the STCG model, measured on one dataset: accuracy and
faithfulness side by side.

Trains one ``train_stcg`` model per variant (``train_stcg`` params with the variant's model
overrides and ``--epochs`` epochs), runs the ``interpret`` stage on each (same rows, TreeSHAP
beside them when ``--shap`` exists) and prints / writes one JSON: per variant the test RMSE of
the target and of the interpretable branch, and the headline scores of every attribution.

    PYTHONPATH=src python bench/interp_options.py --data build/climate2gpp \
        --graph build/graph/graph.npz --shap build/tabular/LightGBM/shap.parquet \
        --epochs 16 --out reports/bench/interp_options_tiny.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from stcg.config import load_section
from stcg.io import read_json, write_json
from stcg.train.config import TrainStcgConfig
from stcg.train.run import train_stcg

VARIANTS = {
    "data (default)": {},
    "condition": {"interp_source": "condition"},
    "data + consistency 1.0": {"consistency_weight": 1.0},
    "condition + consistency 1.0": {"interp_source": "condition", "consistency_weight": 1.0},
}
SCORES = ("feature_r", "local_rank_r", "dominant_kappa")


def main(argv: list[str] | None = None) -> dict:
    """Run every variant (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--graph", required=True)
    ap.add_argument("--shap", default=None)
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--work", default="build/bench_interp")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import importlib.util

    spec = importlib.util.spec_from_file_location("stage_interpret", "stages/interpret.py")
    interpret = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(interpret)

    base = load_section(TrainStcgConfig, "train_stcg", args.params)
    result: dict = {"data": args.data, "epochs": args.epochs,
                    "samples_per_epoch": base.optim.samples_per_epoch, "variants": {}}
    for name in args.variants:
        cfg = dataclasses.replace(
            base, model=dataclasses.replace(base.model, **VARIANTS[name]), seeds=1,
            optim=dataclasses.replace(base.optim, epochs=args.epochs))
        work = Path(args.work) / name.replace(" ", "_").replace("(", "").replace(")", "")
        t0 = time.perf_counter()
        rep = train_stcg(args.data, args.graph, cfg, work, None, work / "metrics.json", None,
                         progress=False)
        train_s = time.perf_counter() - t0
        iargs = ["--data", args.data, "--predictions", str(work / "predictions.parquet"),
                 "--model", str(work / "model.pt"), "--metrics", str(work / "interp.json"),
                 "--figure", str(work / "maps.png"), "--params", args.params]
        if args.shap:
            iargs += ["--shap", args.shap]
        interpret.main(iargs)
        s = read_json(work / "interp.json")
        row = {"overrides": VARIANTS[name], "train_s": round(train_s, 1),
               "test_rmse": rep["test"]["rmse"],
               "interp_rmse": rep.get("test_interp", {}).get("rmse"),
               "climatology_rmse": rep["climatology"]["test"]["rmse"]}
        for view in ("effect", "contribution"):
            row[view] = {m: {k: v[k] for k in SCORES} for m, v in s[view]["methods"].items()}
        result["variants"][name] = row
        result["reference"] = {view: {"oracle": {k: s[view]["oracle"][k] for k in SCORES},
                                      **{f"null {n}": {k: v[k] for k in SCORES}
                                         for n, v in s[view]["nulls"].items()}}
                               for view in ("effect", "contribution")}
        result["headline"] = {view: s[view]["headline"] for view in ("effect", "contribution")}
        result["rows"] = s["rows"]
        if args.out:  # after every variant: a long run leaves what it finished
            write_json(args.out, result)
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
