"""Paper-profile smoke run: the paper's real shapes through every stage, timed, on CPU.

    python bench/paper_smoke.py [--years 2019 2020] [--steps 300] [--eval-samples 2000]
        [--predict-cells 100] [--eval-batch 1024] [--budget-s 900]

Runs, each in its own process (so each stage's peak RSS is its own):

1. ``build_data`` (stage script, ``profile: paper``: 0.5 degree grid, ~58k land cells) restricted
   to the years ``FIRST..TEST`` (training FIRST..TEST-1, test TEST);
2. ``build_graph`` (stage script: 1000 K-means nodes, Node2vec dim 64);
3. ``train``: the paper model (``train_stcg`` paper profile: d_model 64, window 8) for
   ``--steps`` optimiser steps at the paper batch, with a checkpoint, through
   :func:`stcg.train.loop.fit`;
4. ``evaluate``: :func:`stcg.train.loop.predict` and the evaluation report on
   ``--eval-samples`` random test samples, in batches of ``--eval-batch``;
5. ``predict``: ``stcg predict`` (:func:`stcg.train.predict.predict_dataset`) of the test year for
   ``--predict-cells`` cells of the dataset (a cell subset written in the same schema), in
   batches of ``--eval-batch``.

The defaults fit the whole run in ``--budget-s`` (15 min) on 2 idle CPU cores with room to
spare: ``build_data`` of 2 years ~45 s, ``build_graph`` ~20 s, a training step at the paper
shapes ~1.1 s (2 threads), so 300 steps, 2000 evaluation samples and 100 cells (4600 rows) of
prediction take ~8 min; on cores shared with other jobs every stage takes several times longer.
Evaluation and prediction keep their activations in float32 on CPU, about 0.4-0.75 MB per sample
at d_model 64, so their peak RSS follows ``--eval-batch`` (the paper profile's
``eval_batch_size`` 16384 is a GPU setting: 7-12 GB on CPU); the evaluate stage measures that
slope and projects the memory of the paper's batch.

Each stage's wall time and peak RSS (this stage's process tree, sampled every 0.2 s) are
measured; the training, evaluation and prediction times are projected to the paper protocol
(20 epochs over all training samples of 2001-2019; a full test year; every cell) from their
measured rates, and gathered with the other stages' projections under ``projected_s``.  Writes ``reports/bench/paper_smoke.json`` (``--json``).  The dataset, graph and
model stay in ``--workdir`` (default: a temp dir, removed afterwards).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAPER_TRAIN_YEARS = 19  # 2001-2019
PERIODS = 46


def _watch(proc: psutil.Process, stop: threading.Event, out: list[int]) -> None:
    while not stop.is_set():
        try:
            total = proc.memory_info().rss + sum(
                c.memory_info().rss for c in proc.children(recursive=True))
        except psutil.Error:
            total = 0
        out[0] = max(out[0], total)
        time.sleep(0.2)


def run_stage(name: str, cmd: list[str], env: dict[str, str], timeout: float) -> dict:
    """Run ``cmd``; its wall time, peak RSS of its process tree and the JSON it prints last."""
    print(f"==> {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()
    th = threading.Thread(target=_watch, args=(psutil.Process(proc.pid), stop, peak), daemon=True)
    th.start()
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
        raise RuntimeError(f"paper smoke: stage {name} ran past {timeout:.0f} s") from None
    finally:
        stop.set()
        th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"paper smoke: stage {name} failed with exit code {proc.returncode}")
    info: dict = {}
    for line in stdout.splitlines()[::-1]:
        if line.startswith("{"):
            info = json.loads(line)
            break
    res = {"wall_s": round(wall, 2), "peak_rss_gb": round(peak[0] / 2**30, 3), **info}
    print(f"    {name}: {json.dumps(res)}", file=sys.stderr, flush=True)
    return res


def write_params(path: Path, profile: str, first: int, test: int) -> None:
    """params.yaml with ``profile`` and the years restricted to ``first..test``."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profile"] = profile
    params["build_data"]["splits"] = {"train_years": [first, test - 1], "test_years": [test, test]}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


# ---- the in-process stages (run as `paper_smoke.py --stage NAME`) ----
def stage_train(work: Path, steps: int) -> dict:
    """``steps`` optimiser steps of the paper model on the smoke dataset, with a checkpoint."""
    import torch

    from stcg.config import load_section
    from stcg.model.stcg import STCGModel
    from stcg.train.bundle import graph_tensors, make_bundle, save_bundle
    from stcg.train.config import TrainStcgConfig
    from stcg.train.loop import fit
    from stcg.train.run import prepare

    cfg = load_section(TrainStcgConfig, "train_stcg", work / "params.yaml")
    bs = cfg.optim.batch_size
    t0 = time.perf_counter()
    p = prepare(work / "climate2gpp", work / "graph.npz", cfg)
    t_load = time.perf_counter() - t0
    optim = dataclasses.replace(cfg.optim, epochs=1, samples_per_epoch=steps * bs)
    torch.manual_seed(cfg.seed)
    model = STCGModel(cfg.model, len(p.dense.variables), graph_tensors(p.graph), p.stats.y_mean,
                      p.stats.y_std).to(p.device)
    t1 = time.perf_counter()
    hist = fit(model, p.data, torch.from_numpy(p.train_np).to(p.device), optim, cfg.seed,
               work / "checkpoint.pt", "smoke", amp=cfg.amp, compile_model=cfg.compile,
               progress=False)
    t_fit = time.perf_counter() - t1
    save_bundle(work / "model.pt", make_bundle(model, cfg.model, cfg.window, p.dense.variables,
                                               p.stats, p.graph))
    n_cells = p.dense.n_cells
    full_train = n_cells * PERIODS * PAPER_TRAIN_YEARS
    step_s = t_fit / steps
    return {
        "load_s": round(t_load, 2), "fit_s": round(t_fit, 2), "steps": steps, "batch_size": bs,
        "step_s": round(step_s, 4), "samples_per_s": round(steps * bs / t_fit, 1),
        "loss": hist[-1]["loss"], "cells": n_cells, "train_samples_smoke": int(p.train_np.size),
        "threads": torch.get_num_threads(), "d_model": cfg.model.d_model, "window": cfg.window,
        "nodes": p.graph.n_nodes, "dense_x_gb": round(p.data.x.numel() * 4 / 2**30, 3),
        "paper_train_samples": full_train,
        "projected_paper_protocol_h": round(
            cfg.optim.epochs * (full_train / bs) * step_s / 3600, 1),
    }


def stage_evaluate(work: Path, n_eval: int, batch: int) -> dict:
    """Predict ``n_eval`` random test samples with the smoke model in batches of ``batch``;
    metrics; project a test year and the activation memory of the paper's eval batch."""
    import numpy as np
    import torch

    from stcg.config import load_section
    from stcg.train.bundle import load_bundle
    from stcg.train.config import TrainStcgConfig
    from stcg.train.loop import predict
    from stcg.train.metrics import climatology_table, evaluation_report
    from stcg.train.run import prepare

    cfg = load_section(TrainStcgConfig, "train_stcg", work / "params.yaml")
    p = prepare(work / "climate2gpp", work / "graph.npz", cfg)
    model = load_bundle(work / "model.pt").build_model(p.device)
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(p.test_np.size, min(n_eval, p.test_np.size), replace=False))
    idx = p.test_np[pick]
    # activation memory per sample: the peak RSS rise over the loaded state during an untimed
    # quarter batch, then during the timed run (the peak is reset before each, so loading's own
    # peak does not count); the condition table and other fixed costs are in both, so the
    # difference over the sizes is the per-sample slope
    full = min(batch, idx.size)
    small = max(full // 4, 1)
    rss0 = _reset_peak_rss()
    predict(model, p.data, torch.from_numpy(idx[:small]).to(p.device), small, cfg.amp)
    rise_small = _peak_rss() - rss0
    rss0 = _reset_peak_rss()
    t0 = time.perf_counter()
    pred = predict(model, p.data, torch.from_numpy(idx).to(p.device), batch, cfg.amp)
    t = time.perf_counter() - t0
    rise = _peak_rss() - rss0
    per_sample = (rise - rise_small) / (full - small) if full > small else float("nan")
    clim = climatology_table(p.dense, p.meta.train_years)
    rep = evaluation_report(p.dense, idx, pred, clim, cfg.lat_band)
    year = p.dense.n_cells * PERIODS
    return {"samples": int(idx.size), "batch": batch, "predict_s": round(t, 2),
            "samples_per_s": round(idx.size / t, 1), "test_rmse": rep["test"]["rmse"],
            "projected_test_year_s": round(year / (idx.size / t), 1),
            "rss_rise_gb_at_batch": round(rise / 2**30, 3),
            "activation_mb_per_sample": round(per_sample / 2**20, 3) if per_sample > 0 else None,
            "paper_eval_batch_size": cfg.eval_batch_size,
            "projected_rss_rise_gb_at_paper_eval_batch": round(
                (rise + per_sample * (cfg.eval_batch_size - full)) / 2**30, 2)
            if per_sample > 0 else None}


def _peak_rss() -> int:
    """This process's peak RSS (VmHWM) in bytes since the last :func:`_reset_peak_rss`."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("paper smoke: no VmHWM in /proc/self/status (Linux only)")


def _reset_peak_rss() -> int:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs`` 5); returns the current RSS."""
    Path("/proc/self/clear_refs").write_text("5")
    return psutil.Process().memory_info().rss


def stage_predict(work: Path, n_cells: int, test_year: int, batch: int) -> dict:
    """``stcg predict`` of the test year on ``n_cells`` cells (a subset in the same schema)."""
    import numpy as np
    import pandas as pd

    from stcg.data.dataset import read_meta
    from stcg.train.bundle import load_bundle
    from stcg.train.netcdf import provenance, to_grid, write_netcdf
    from stcg.train.predict import predict_dataset

    src = work / "climate2gpp"
    meta = read_meta(src)
    sub = work / "predict_subset"
    shutil.rmtree(sub, ignore_errors=True)
    shutil.copytree(src, sub, ignore=shutil.ignore_patterns("*.parquet"))
    cells = pd.read_parquet(src / "cells.parquet")
    keep = np.sort(np.random.default_rng(0).choice(len(cells), min(n_cells, len(cells)),
                                                   replace=False))
    cells.iloc[keep].to_parquet(sub / "cells.parquet", index=False)
    ids = set(cells.cell_id.iloc[keep].tolist())
    for f in src.rglob("*.parquet"):
        rel = f.relative_to(src)
        if rel.name == "cells.parquet":
            continue
        df = pd.read_parquet(f)
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        if "cell_id" in df:
            df = df[df.cell_id.isin(ids)]
        df.to_parquet(sub / rel, index=False)
    meta_path = sub / "meta.json"
    m = json.loads(meta_path.read_text())
    m["n_cells"] = int(keep.size)
    meta_path.write_text(json.dumps(m))
    out = work / "predictions"
    t0 = time.perf_counter()
    frame = predict_dataset(work / "model.pt", sub, out, years=[test_year], batch_size=batch,
                            device="cpu", netcdf=False)
    t = time.perf_counter() - t0
    parquet_bytes = (out / "predictions.parquet").stat().st_size
    # the NetCDF is the global grid whatever the number of cells: timed apart, not scaled
    bundle = load_bundle(work / "model.pt")
    t1 = time.perf_counter()
    ds = to_grid(frame, [test_year], meta.resolution, bundle.variables, bundle.stats.mean,
                 bundle.stats.std, provenance=provenance(work / "model.pt", sub))
    write_netcdf(ds, out / "predictions.nc")
    t_nc = time.perf_counter() - t1
    nc_grid_gb = sum(v.nbytes for v in ds.data_vars.values()) / 2**30
    scale = meta.n_cells / keep.size
    return {"cells": int(keep.size), "rows": len(frame), "batch": batch,
            "predict_s": round(t, 2), "netcdf_s": round(t_nc, 2),
            "parquet_mb": round(parquet_bytes / 2**20, 2),
            "netcdf_mb": round((out / "predictions.nc").stat().st_size / 2**20, 2),
            "netcdf_grid_in_memory_gb_per_year": round(nc_grid_gb, 2),
            "projected_all_cells_year_s": round(t * scale + t_nc, 1),
            "projected_parquet_gb_per_year": round(parquet_bytes * scale / 2**30, 2)}


def main(argv: list[str] | None = None) -> dict | None:
    """Drive the stages (module docstring) or run one of them (``--stage``)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--years", type=int, nargs=2, default=[2019, 2020], metavar=("FIRST", "TEST"))
    ap.add_argument("--profile", default="paper", choices=["tiny", "default", "paper"],
                    help="paper (the point); tiny to check the script quickly")
    ap.add_argument("--steps", type=int, default=300, help="training steps at the paper batch")
    ap.add_argument("--eval-samples", type=int, default=2000)
    ap.add_argument("--predict-cells", type=int, default=100)
    ap.add_argument("--eval-batch", type=int, default=1024,
                    help="batch of evaluation and prediction (peak RSS ~0.4-0.75 MB per sample)")
    ap.add_argument("--budget-s", type=float, default=900.0,
                    help="wall-time budget of the whole run; the JSON records whether it held")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--stage-timeout", type=float, default=900.0)
    ap.add_argument("--resume", action="store_true",
                    help="keep the stages --json already records whose outputs are in --workdir "
                         "(continue a run that was stopped)")
    ap.add_argument("--json", type=Path, default=Path("reports/bench/paper_smoke.json"))
    ap.add_argument("--stage", choices=["train", "evaluate", "predict"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.stage:
        import torch

        torch.set_num_threads(args.threads or os.cpu_count() or 1)
        work = args.workdir
        if args.stage == "train":
            res = stage_train(work, args.steps)
        elif args.stage == "evaluate":
            res = stage_evaluate(work, args.eval_samples, args.eval_batch)
        else:
            res = stage_predict(work, args.predict_cells, args.years[1], args.eval_batch)
        print(json.dumps(res))
        return None

    if args.years[0] >= args.years[1]:
        ap.error(f"--years: FIRST {args.years[0]} must be before TEST {args.years[1]}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="stcg-paper-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    done: dict = {}
    if args.resume and args.json.exists():
        done = json.loads(args.json.read_text()).get("stages", {})
    write_params(work / "params.yaml", args.profile, *args.years)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TQDM_DISABLE": "1"}
    py = sys.executable
    common = ["--workdir", str(work), "--steps", str(args.steps), "--threads", str(args.threads),
              "--eval-samples", str(args.eval_samples), "--predict-cells", str(args.predict_cells),
              "--eval-batch", str(args.eval_batch),
              "--years", *map(str, args.years)]
    t_all = time.perf_counter()
    res: dict = {
        "profile": args.profile, "years": list(args.years), "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "memory_total_gb": round(psutil.virtual_memory().total / 2**30, 1), "stages": {},
        "steps": args.steps, "eval_samples": args.eval_samples,
        "predict_cells": args.predict_cells, "eval_batch": args.eval_batch,
        "budget_s": args.budget_s, "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }
    outputs = {"build_data": work / "climate2gpp" / "meta.json", "build_graph": work / "graph.npz",
               "train": work / "model.pt"}
    stages = [
        ("build_data", [py, "stages/build_data.py", "--data", "data", "--out",
                        str(work / "climate2gpp"), "--card", str(work / "data.json"),
                        "--params", str(work / "params.yaml")]),
        ("build_graph", [py, "stages/build_graph.py", "--data", str(work / "climate2gpp"),
                         "--out", str(work / "graph.npz"), "--metrics", str(work / "graph.json"),
                         "--figure", str(work / "graph.png"), "--params",
                         str(work / "params.yaml")]),
        ("train", [py, __file__, "--stage", "train", *common]),
        ("evaluate", [py, __file__, "--stage", "evaluate", *common]),
        ("predict", [py, __file__, "--stage", "predict", *common]),
    ]
    try:
        for name, cmd in stages:
            if args.resume and name in outputs and outputs[name].exists():
                # measured by the stopped run, or (stopped mid-stage) its output only
                res["stages"][name] = {**done.get(name, {"wall_s": None}), "resumed": True}
                continue
            res["stages"][name] = run_stage(name, cmd, env, args.stage_timeout)
            res["wall_s"] = round(time.perf_counter() - t_all, 1)
            write_json_now(args.json, res)
        res["dataset_gb"] = round(sum(f.stat().st_size for f in (work / "climate2gpp").rglob("*")
                                      if f.is_file()) / 2**30, 3)
        n_years = args.years[1] - args.years[0] + 1
        res["projected_dataset_gb_2001_2020"] = round(res["dataset_gb"] * 20 / n_years, 2)
        bd = res["stages"]["build_data"]
        res["projected_build_data_2001_2020_s"] = (
            round(bd["wall_s"] * 20 / n_years, 1) if bd.get("wall_s") else None)
        tr = res["stages"]["train"]
        if tr.get("dense_x_gb"):
            res["projected_dense_x_gb_2001_2020"] = round(tr["dense_x_gb"] * 20 / n_years, 2)
        res["projected_s"] = projections(res["stages"], res["projected_build_data_2001_2020_s"])
        res["ok"] = True
    except RuntimeError as exc:
        res["ok"] = False
        res["error"] = str(exc)
        print(exc, file=sys.stderr)
    res["wall_s"] = round(time.perf_counter() - t_all, 1)
    res["within_budget"] = res["wall_s"] <= args.budget_s
    res["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    write_json_now(args.json, res)
    print(json.dumps(res, indent=2))
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    if not res["ok"]:
        sys.exit(1)
    return res


def projections(stages: dict, build_data_s: float | None) -> dict:
    """Projected wall time of each stage at the paper protocol on this machine (seconds):
    ``build_data`` of 2001-2020, ``build_graph`` as measured (it already runs at full scale),
    20 epochs of training, a full test year's evaluation, ``stcg predict`` of every cell for one
    year (the loading times of the smoke's 2 years not included)."""
    tr, ev, pr = (stages.get(k, {}) for k in ("train", "evaluate", "predict"))
    h = tr.get("projected_paper_protocol_h")
    return {
        "build_data": build_data_s,
        "build_graph": stages.get("build_graph", {}).get("wall_s"),
        "train": round(h * 3600, 0) if h is not None else None,
        "evaluate_test_year": ev.get("projected_test_year_s"),
        "predict_all_cells_year": pr.get("projected_all_cells_year_s"),
    }


def write_json_now(path: Path, res: dict) -> None:
    """Write the results so far (a partial run still leaves its finished stages)."""
    from stcg.io import write_json

    write_json(path, res)


if __name__ == "__main__":
    main(sys.argv[1:])
