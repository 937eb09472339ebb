"""Benchmark stage build_data (source sim): wall time, rows/s and peak memory of the process tree.

    python bench/build_data.py --profile paper [--workers 16] [--years 2019 2020] [--out DIR]

Prints a JSON line and writes it to ``reports/bench/build_data_<profile>.json`` (or --json).
Peak memory is the largest sum of the resident set sizes of this process and its workers,
sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

from stcg.config import from_dict, resolve_profile
from stcg.data.config import BuildDataConfig, SplitConfig
from stcg.data.dataset import read_meta
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.data.sim import build_sim
from stcg.io import write_json


def _peak_rss(stop: threading.Event, out: list[int]) -> None:
    me = psutil.Process()
    while not stop.is_set():
        try:
            total = me.memory_info().rss + sum(
                c.memory_info().rss for c in me.children(recursive=True))
        except psutil.Error:
            total = 0
        out[0] = max(out[0], total)
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="default", choices=["tiny", "default", "paper"])
    ap.add_argument("--params", type=Path, default=Path("params.yaml"))
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--workers", type=int, default=0, help="0 = all cores")
    ap.add_argument("--years", type=int, nargs=2, metavar=("FIRST_TRAIN", "TEST"),
                    help="restrict to FIRST_TRAIN..TEST-1 train and TEST test")
    ap.add_argument("--out", type=Path, help="keep the dataset here (default: a temp dir)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    raw = resolve_profile(yaml.safe_load(args.params.read_text())["build_data"], args.profile)
    cfg = from_dict(BuildDataConfig, raw, where="build_data")
    cfg = dataclasses.replace(cfg, sim=dataclasses.replace(cfg.sim, workers=args.workers))
    if args.years:
        cfg = dataclasses.replace(cfg, splits=SplitConfig(
            train_years=(args.years[0], args.years[1] - 1), test_years=(args.years[1], args.years[1])))
    tmp = Path(tempfile.mkdtemp(prefix="stcg-bench-"))
    out = args.out or tmp / "climate2gpp"
    peak = [0]
    stop = threading.Event()
    th = threading.Thread(target=_peak_rss, args=(stop, peak), daemon=True)
    th.start()
    t0 = time.perf_counter()
    build_sim(args.data, out, cfg)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    meta = read_meta(out)
    rows = meta.n_cells * PERIODS_PER_YEAR * len(meta.years)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    res = {
        "profile": args.profile,
        "cells": meta.n_cells,
        "years": len(meta.years),
        "rows": rows,
        "workers": cfg.sim.workers or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "wall_s": round(wall, 2),
        "rows_per_s": round(rows / wall),
        "peak_rss_gb": round(peak[0] / 2**30, 3),
        "dataset_gb": round(size / 2**30, 3),
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(res))
    write_json(args.json or Path("reports/bench") / f"build_data_{args.profile}.json", res)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
