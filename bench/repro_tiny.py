"""Time `just repro-tiny` (CI's tiny `dvc repro --force`): wall, and CPU seconds per stage and DVC's own.

    python bench/repro_tiny.py [--out reports/bench/repro_tiny_timing.json] [-- COMMAND ...]

Runs COMMAND (default ``just repro-tiny``; it switches params.yaml to the tiny profile: set it back
with ``stcg profile default``) with a ``sitecustomize`` on ``PYTHONPATH`` that logs, at the exit of
every Python process, its command line and its own CPU seconds (``getrusage(RUSAGE_SELF)``).
Each stage's process is found by its command, as DVC prints it (``> python stages/...``); Python
processes started by a stage count for that stage.  What no stage accounts for is DVC's own work
(the ``dvc`` process: reading dvc.yaml / params.yaml / dvc.lock, hashing, caching, writing
dvc.lock after each stage) and the recipe's other commands (``stcg inputs fetch``, ``stcg
profile``, the final ``dvc status``).  On a shared machine wall time is inflated by the load
(``uptime`` before and after is recorded); CPU seconds are not, and on an idle 2-core machine the
stages run one after another, so the idle wall time is about the CPU total (less where a stage
uses both cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOOK = '''\
import atexit, json, os, resource, sys, time

def _stcg_bench_log():
    r = resource.getrusage(resource.RUSAGE_SELF)
    rec = {"pid": os.getpid(), "ppid": os.getppid(), "argv": sys.argv, "end": time.time(),
           "cpu_s": r.ru_utime + r.ru_stime}
    with open(os.environ["STCG_BENCH_PROC_LOG"], "a") as f:
        f.write(json.dumps(rec) + "\\n")

atexit.register(_stcg_bench_log)
'''


def uptime() -> str:
    """The load averages, as ``uptime`` prints them."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def stage_commands(log: str) -> dict[str, str]:
    """``{normalised command: stage name}`` from DVC's ``Running stage 'X':`` / ``> cmd`` lines."""
    out: dict[str, str] = {}
    name = None
    for line in log.splitlines():
        m = re.match(r"Running stage '(.+)':", line)
        if m:
            name = m.group(1)
        elif name is not None and line.startswith("> "):
            out[" ".join(line[2:].split()[1:])] = name  # without the leading `python`
            name = None
    return out


def breakdown(records: list[dict], log: str) -> tuple[list[dict], float, float]:
    """Per-stage CPU seconds (stage order), DVC's own CPU seconds and the rest's."""
    cmds = stage_commands(log)
    by_pid = {r["pid"]: r for r in records}

    def stage_of(r: dict) -> str | None:
        seen = set()
        while r is not None and r["pid"] not in seen:
            seen.add(r["pid"])
            name = cmds.get(" ".join(" ".join(r["argv"]).split()))
            if name is not None:
                return name
            r = by_pid.get(r["ppid"])
        return None

    cpu: dict[str, float] = {name: 0.0 for name in cmds.values()}
    dvc = other = 0.0
    for r in records:
        name = stage_of(r)
        if name is not None:
            cpu[name] += r["cpu_s"]
        elif Path(r["argv"][0]).name == "dvc":
            dvc += r["cpu_s"]
        else:
            other += r["cpu_s"]
    return [{"stage": k, "cpu_s": round(v, 2)} for k, v in cpu.items()], dvc, other


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("reports/bench/repro_tiny_timing.json"))
    ap.add_argument("command", nargs="*", default=["just", "repro-tiny"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "sitecustomize.py").write_text(HOOK)
        log_path = Path(tmp, "procs.jsonl")
        env = dict(os.environ, STCG_BENCH_PROC_LOG=str(log_path),
                   PYTHONPATH=os.pathsep.join(p for p in (tmp, os.environ.get("PYTHONPATH")) if p))
        load_before = uptime()
        t0 = time.perf_counter()
        proc = subprocess.run(args.command, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        wall = time.perf_counter() - t0
        load_after = uptime()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        records = [json.loads(x) for x in log_path.read_text().splitlines()] \
            if log_path.exists() else []
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.exit(f"repro_tiny: {' '.join(args.command)} failed (exit {proc.returncode})")
    stages, dvc, other = breakdown(records, proc.stdout)
    total = usage.ru_utime + usage.ru_stime
    result = {
        "what": "CPU seconds per stage of the tiny profile's `dvc repro --force` (main pipeline), "
                "DVC's own CPU seconds, and wall time under the machine's load",
        "command": "python bench/repro_tiny.py -- " + " ".join(args.command),
        "load_before": load_before,
        "load_after": load_after,
        "wall_s": round(wall, 1),
        "cpu_s_total": round(total, 1),
        "cpu_s_stages": round(sum(s["cpu_s"] for s in stages), 1),
        "cpu_s_dvc_itself": round(dvc, 1),
        "cpu_s_other": round(total - dvc - sum(s["cpu_s"] for s in stages), 1),
        "n_stages": len(stages),
        "stages": stages,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "stages"}, indent=1))


if __name__ == "__main__":
    main()
