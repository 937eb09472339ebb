"""Wall and CPU time of the report stages (``interpret``, ``figures``, ``faithfulness``), one
code tree against another, on the same machine and the same inputs.

Runs each stage's command of ``dvc.yaml`` (outputs redirected to a scratch folder, so nothing
tracked is touched) under ``OMP_NUM_THREADS=--threads``, once with ``--new-src`` (this
checkout's ``src``, ``stages`` and ``params.yaml``) and once with ``--old-src`` (e.g. ``git
archive main src stages params.yaml | tar -x -C /tmp/old``) when given, and writes the wall
time and the CPU time of the child process (user + system: the robust measure on a shared
machine) per stage and side, and per JSON output the largest change of a number against the
tracked copy (the committed outputs: ``dvc checkout`` first).

    PYTHONPATH=src python bench/report_speed.py --stages interpret figures \
        --old-src /tmp/old --threads 2 --out reports/bench/report_speed_default.json
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from stcg.io import read_json, write_json


def _outputs_to(cmd: str, scratch: Path) -> list[str]:
    """The stage command with every output argument moved into ``scratch``."""
    outs = {"--metrics", "--figure", "--headline", "--cost", "--fig4", "--fig5", "--fig-curves",
            "--error-maps", "--hexbin", "--by-group", "--csv-lat-band", "--csv-land-cover"}
    argv = shlex.split(cmd)
    for i, a in enumerate(argv[:-1]):
        if a in outs:
            argv[i + 1] = str(scratch / argv[i + 1].replace("/", "__"))
    return argv


def _leaves(obj, prefix: str = "") -> dict[str, float]:
    """Every number of a JSON tree, keyed by its path."""
    if isinstance(obj, dict):
        return {k: v for key, val in obj.items() for k, v in _leaves(val, f"{prefix}/{key}").items()}
    if isinstance(obj, list):
        return {k: v for i, val in enumerate(obj) for k, v in _leaves(val, f"{prefix}/{i}").items()}
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        return {prefix: float(obj)}
    return {}


def json_changes(cmd: str, root: Path, scratch: Path) -> dict:
    """Per JSON output of the stage: the largest |difference| of a number against the tracked
    copy in ``root`` (the committed outputs), and where it is."""
    argv = shlex.split(cmd)
    out = {}
    for tracked in (a for a in argv if a.endswith(".json") and (root / a).exists()):
        new_path = scratch / tracked.replace("/", "__")
        if not new_path.exists():
            continue
        old, new = _leaves(read_json(root / tracked)), _leaves(read_json(new_path))
        diffs = {k: abs(new[k] - old[k]) for k in old.keys() & new.keys()}
        worst = max(diffs, key=diffs.get) if diffs else None
        out[tracked] = {"numbers": len(diffs), "max_abs_diff": diffs.get(worst),
                        "where": worst, "missing_or_new": len(old.keys() ^ new.keys())}
    return out


def time_stage(stage: str, root: Path, src: Path, threads: int, scratch: Path) -> dict:
    """Run ``stage``'s command with the code of ``src`` in ``root``; wall and child CPU time."""
    cmd = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][stage]["cmd"]
    argv = _outputs_to(cmd, scratch)
    argv[1] = str(src / argv[1])
    argv += ["--params", str(src / "params.yaml")]
    env = {**os.environ, "PYTHONPATH": str(src / "src"), "OMP_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{stage} ({src}) failed:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"{stage:>13} {src}: wall {wall:7.1f} s  cpu {cpu:7.1f} s", flush=True)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "load_avg_1min_after":
            round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> dict:
    """Time every stage, new and (when given) old code."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--stages", nargs="+", default=["interpret", "figures", "faithfulness"])
    ap.add_argument("--new-src", type=Path, default=Path("."))
    ap.add_argument("--old-src", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--keep", type=Path, default=None,
                    help="folder for the stages' outputs (default: a deleted scratch folder)")
    args = ap.parse_args(argv)
    root = Path(".").resolve()
    result = read_json(args.out) if args.out.exists() else {}
    result.update(threads=args.threads, cpus=os.cpu_count())
    sides = [("new", args.new_src.resolve())]
    if args.old_src is not None:
        sides.insert(0, ("old", args.old_src.resolve()))
    for stage in args.stages:
        for side, src in sides:
            with tempfile.TemporaryDirectory() as tmp:
                scratch = Path(tmp) if args.keep is None else args.keep.resolve() / side
                scratch.mkdir(parents=True, exist_ok=True)
                res = time_stage(stage, root, src, args.threads, scratch)
                cmd = yaml.safe_load((root / "dvc.yaml").read_text())["stages"][stage]["cmd"]
                res["json_vs_tracked"] = json_changes(cmd, root, scratch)
                result.setdefault(stage, {})[side] = res
            write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
