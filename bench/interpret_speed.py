"""How far the ``interpret`` scores move when the model's integrated gradients use fewer nodes,
against their own sampling noise.

Computes, on the rows the stage scores, every attribution and the simulator's truth as
``stages/interpret.py`` does, the model's integrated gradients once with ``--old-steps`` and once
with ``--new-steps`` Gauss-Legendre nodes, and scores both
(:func:`stcg.report.interpret.interpretability_scores`: every method, the oracle and the nulls).
The sampling noise of each score is its bootstrap sd over the scored rows (``--boot``
resamples of the new run).  Writes per view, attribution and score: old, new, delta, sd and
|delta| / sd, and the largest |delta| / sd.

    PYTHONPATH=src python bench/interpret_speed.py --out reports/bench/interpret_speed_default.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stcg.baselines.spatial.fewshot import week_to_period
from stcg.config import load_section
from stcg.data.dataset import read_meta
from stcg.io import write_json
from stcg.report.attributions import join_shap, load_attributions, load_truth, model_attributions
from stcg.report.config import InterpretConfig
from stcg.report.interpret import (
    MAP_ATTRIBUTIONS,
    VIEWS,
    interpretability_scores,
    local_reference_z,
    method_arrays,
    ordered_groups,
)
from stcg.report.scores import SCORE_KEYS, validated_scores
from stcg.report.truth import load_local_truth, local_inputs
from stcg.train.bundle import load_bundle

FACTORS = ("temperature", "water", "light")


def _flat(scores: dict) -> dict[tuple[str, str, str], float]:
    out = {}
    for view in VIEWS:
        s = scores.get(view)
        if not s:
            continue
        entries = {"oracle": s["oracle"], **{f"null:{k}": v for k, v in s["nulls"].items()},
                   **s["methods"]}
        for name, m in entries.items():
            for k in SCORE_KEYS:
                if m[k] is not None:
                    out[(view, name, k)] = float(m[k])
    return out


def main(argv: list[str] | None = None) -> dict:
    """Score both settings and bootstrap the new one (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("build/climate2gpp"))
    ap.add_argument("--predictions", type=Path, default=Path("build/stcg/predictions.parquet"))
    ap.add_argument("--model", type=Path, default=Path("build/stcg/model.pt"))
    ap.add_argument("--shap", type=Path, default=Path("build/tabular/LightGBM/shap.parquet"))
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--old-steps", type=int, default=32)
    ap.add_argument("--new-steps", type=int, default=16)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_section(InterpretConfig, "interpret", args.params)
    meta = read_meta(args.data)
    att = load_attributions(args.predictions, args.data, args.model)
    att = att.take(np.isin(att.keys["period"].to_numpy(),
                           [week_to_period(w) for w in cfg.map_weeks]))
    mask, shap = join_shap(att.keys, pd.read_parquet(args.shap), att.variables)
    att = att.take(mask)
    factors = tuple(meta.extra.get("limiting_factors", FACTORS))
    x, x_ref = local_inputs(args.data, att.keys, att.variables, meta.train_years)
    z_ref = local_reference_z(att, {"x": x, "x_ref": x_ref})
    sens, limiting, gpp_true = load_truth(args.data, att.keys, att.variables)
    active = gpp_true >= cfg.min_gpp_true
    local = load_local_truth(args.data, att.keys, att.variables, x, x_ref, cfg.truth_ig_steps,
                             x_global=load_bundle(args.model).stats.mean)
    runs, cost = {}, {}
    for side, steps in (("old", args.old_steps), ("new", args.new_steps)):
        t0, c0 = time.perf_counter(), time.process_time()
        model = model_attributions(args.model, args.data, att.keys, z_ref, steps,
                                   global_reference=True, ig_rows=active, ig_batch=cfg.ig_batch)
        cost[side] = {"ig_steps": steps, "wall_s": round(time.perf_counter() - t0, 1),
                      "cpu_s": round(time.process_time() - c0, 1)}
        runs[side] = (model, interpretability_scores(att, sens, limiting, gpp_true, local,
                                                     cfg.groups, factors, cfg.min_gpp_true,
                                                     model, shap))
        print(side, cost[side], flush=True)

    # bootstrap of the new run over the scored rows
    gidx = ordered_groups(cfg.groups, factors, att.variables)
    methods = {k: a[active] for k, a in method_arrays(att, z_ref, runs["new"][0], shap).items()}
    truths = {"effect": (sens * att.x_std)[active], "contribution": local["ig"][active],
              "contribution_global": local["ig_global"][active]}
    rng = np.random.default_rng(0)
    n = int(active.sum())
    draws: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(args.boot):
        i = rng.integers(0, n, n)
        for view, t in truths.items():
            ms = {k: a[i] for k, a in methods.items() if MAP_ATTRIBUTIONS[k][0] == view}
            flat = _flat({view: validated_scores(ms, t[i], gidx, att.variables)})
            for key, val in flat.items():
                draws.setdefault(key, []).append(val)
    old, new = _flat(runs["old"][1]), _flat(runs["new"][1])
    table = []
    for key in sorted(new):
        sd = float(np.std(draws.get(key, [np.nan]), ddof=1))
        d = new[key] - old[key]
        table.append({"view": key[0], "attribution": key[1], "score": key[2],
                      "old": round(old[key], 5), "new": round(new[key], 5),
                      "delta": round(d, 6), "boot_sd": round(sd, 5),
                      "abs_delta_over_sd": round(abs(d) / sd, 4) if sd > 0 else None})
    ratios = [r["abs_delta_over_sd"] for r in table if r["abs_delta_over_sd"] is not None]
    result = {
        "rows_scored": n, "boot": args.boot, "threads": args.threads,
        "model_ig": cost,
        "max_abs_delta_over_sd": max(ratios),
        "max_abs_delta": max(abs(r["delta"]) for r in table),
        "model_ig_delta_rms": {s: runs[s][1]["checks"]["model_ig_delta_rms"] for s in runs},
        "scores": table,
    }
    write_json(args.out, result)
    print(f"max |delta| / sd = {result['max_abs_delta_over_sd']}, "
          f"max |delta| = {result['max_abs_delta']}")
    return result


if __name__ == "__main__":
    main()
