"""Bench: ``interpret.ig_steps`` (Gauss-Legendre nodes of the model's integrated gradients).

Runs ``stages/interpret.py`` once per value of ``--steps`` on the built default outputs (the
stage's own inputs: ``build/climate2gpp``, ``build/stcg``, LightGBM's TreeSHAP, ``data``), each
in a subprocess on a copy of ``params.yaml`` with only ``interpret.ig_steps`` changed, and records
per value: wall seconds, the completeness check ``checks.model_ig_delta_rms`` (RMS of the sum of
attributions minus the output change; 0 for an exact integral) and, against the largest value,
the largest absolute change of any score in the metrics JSON (the method table, every per-feature
correlation, kappa, accuracy).  A smaller value is acceptable when no score moves in its third
decimal (``max_abs_score_change < 5e-4``).  Writes ``reports/bench/ig_steps_default.json``::

    PYTHONPATH=src python bench/ig_steps.py --steps 32 16 8
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from stcg.io import write_json

ACCEPT = 5e-4  # largest score change that leaves every reported (3-decimal) score unchanged


def score_changes(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """``(path, |a - b|)`` for every number present at the same path of both JSON trees."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() & b.keys():
            yield from score_changes(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from score_changes(x, y, f"{path}[{i}]")
    elif (isinstance(a, (int, float)) and isinstance(b, (int, float))
          and not isinstance(a, bool) and not path.startswith("/checks")):
        yield path, abs(float(a) - float(b))


def run_interpret(steps: int, params_path: Path, tmp: Path) -> tuple[dict[str, Any], float]:
    """The interpret stage's metrics and wall seconds at ``ig_steps = steps``."""
    params = yaml.safe_load(params_path.read_text())
    params["profile"] = "default"
    params["interpret"]["ig_steps"] = steps
    p = tmp / f"params_{steps}.yaml"
    p.write_text(yaml.safe_dump(params, sort_keys=False))
    metrics = tmp / f"metrics_{steps}.json"
    argv = [sys.executable, "stages/interpret.py", "--params", str(p),
            "--data", "build/climate2gpp", "--predictions", "build/stcg/predictions.parquet",
            "--model", "build/stcg/model.pt", "--shap", "build/tabular/LightGBM/shap.parquet",
            "--inputs", "data", "--metrics", str(metrics),
            "--figure", str(tmp / f"maps_{steps}.png"),
            "--headline", str(tmp / f"headline_{steps}.json")]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return json.loads(metrics.read_text()), time.perf_counter() - t0


def main() -> None:
    """Parse arguments, run the stage at each value, write the comparison."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, nargs="+", default=[32, 16, 8])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--out", type=Path, default=Path("reports/bench/ig_steps_default.json"))
    args = ap.parse_args()
    steps = sorted(set(args.steps), reverse=True)
    runs: dict[int, tuple[dict[str, Any], float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for s in steps:
            runs[s] = run_interpret(s, args.params, Path(tmp))
            print(f"ig_steps {s}: {runs[s][1]:.1f} s", file=sys.stderr, flush=True)
    ref = runs[steps[0]][0]
    rows = []
    for s in steps:
        metrics, wall = runs[s]
        changes = sorted(score_changes(ref, metrics), key=lambda c: -c[1])
        worst = changes[0] if changes else ("", 0.0)
        rows.append({"ig_steps": s, "wall_s": round(wall, 1),
                     "model_ig_delta_rms": metrics["checks"]["model_ig_delta_rms"],
                     "max_abs_score_change": worst[1], "where": worst[0],
                     "scores_compared": len(changes), "acceptable": worst[1] < ACCEPT})
        print(f"ig_steps {s}: {wall:.1f} s, delta rms {rows[-1]['model_ig_delta_rms']:.3g}, "
              f"max score change {worst[1]:.2g} ({worst[0]})", flush=True)
    write_json(args.out, {
        "what": __doc__.strip().splitlines()[0],
        "command": "PYTHONPATH=src python bench/ig_steps.py --steps "
                   + " ".join(map(str, steps)),
        "reference": f"ig_steps {steps[0]}",
        "accept": f"max_abs_score_change < {ACCEPT}",
        "runs": rows,
    })


if __name__ == "__main__":
    main()
