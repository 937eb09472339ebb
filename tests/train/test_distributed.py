"""Data-parallel training (gloo on CPU): 2 processes equal 1 at the same global batch; resume.

Tolerance: 2 ranks sum their gradients in another order than 1 process does, so gradients
differ by float32 rounding, which AdamW's normalisation amplifies for weights whose gradients are
near 0; after 12 steps every weight agrees within ``ATOL`` (absolute; seen 2.2e-5, while training
moved the weights by ~1e-2) and the epoch losses within ``RTOL`` (relative).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stcg.model.config import ModelConfig
from stcg.model.stcg import STCGModel
from stcg.train import distributed
from stcg.train.bundle import graph_tensors
from stcg.train.config import OptimConfig, TrainStcgConfig
from stcg.train.loop import fit
from stcg.train.run import prepare

ROOT = Path(__file__).resolve().parents[2]
ATOL = 1e-4
RTOL = 1e-5
# 3 epochs of 251 samples at global batch 64: 4 steps each, the last of 59 samples, which
# 2 ranks split 29 / 30 (the uneven case of the loss weighting)
CFG = TrainStcgConfig(
    seed=0, window=4, model=ModelConfig(d_model=16, heads=2, encoder_blocks=1, decoder_layers=1),
    optim=OptimConfig(epochs=3, batch_size=64, samples_per_epoch=251, lr=3e-3, lr_final=3e-4),
    device="cpu", monitor_samples=0, eval_batch_size=1024,
)


class Crash(RuntimeError):
    """Injected after an epoch's checkpoint."""


def train(data_root: Path, graph_path: Path, ckpt: Path | None, crash_after: int | None = None):
    """Train :data:`CFG` in this process (a rank when a process group is up)."""
    p = prepare(data_root, graph_path, CFG)
    torch.manual_seed(CFG.seed)
    model = STCGModel(CFG.model, len(p.dense.variables), graph_tensors(p.graph), p.stats.y_mean,
                      p.stats.y_std)

    def on_epoch_end(epoch: int) -> None:
        if epoch == crash_after:
            raise Crash

    hist = fit(model, p.data, torch.from_numpy(p.train_np), CFG.optim, CFG.seed, ckpt, "fp",
               on_epoch_end=on_epoch_end, progress=False)
    return model.state_dict(), hist


def _rank(rank: int, world: int, store: str, data_root: str, graph_path: str, out: str) -> None:
    """One gloo rank: an uninterrupted run, then a run that crashes after epoch 1 and resumes."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        out_dir = Path(out)
        full, hist = train(Path(data_root), Path(graph_path), out_dir / "full.pt")
        with pytest.raises(Crash):
            train(Path(data_root), Path(graph_path), out_dir / "resumed.pt", crash_after=1)
        resumed, hist_r = train(Path(data_root), Path(graph_path), out_dir / "resumed.pt")
        if rank == 0:
            torch.save({"full": full, "hist": hist, "resumed": resumed, "hist_r": hist_r},
                       out_dir / "rank0.pt")
        else:
            # only rank 0 writes: the other rank's checkpoint path stays as rank 0 left it
            assert (out_dir / "full.pt").exists()
    finally:
        dist.destroy_process_group()


def test_shard_bounds_cover_the_batch() -> None:
    for n in (0, 1, 5, 64, 59):
        for size in (1, 2, 3, 8):
            bounds = [distributed.shard_bounds(n, r, size) for r in range(size)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
            lens = [hi - lo for lo, hi in bounds]
            assert max(lens) - min(lens) <= 1


def test_two_gloo_ranks_equal_one_process_and_resume(toy_data, toy_graph, tmp_path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ref, ref_hist = train(toy_data, toy_graph, None)
    finally:
        torch.set_num_threads(threads)
    mp.spawn(_rank, args=(2, str(tmp_path / "store"), str(toy_data), str(toy_graph),
                          str(tmp_path)), nprocs=2, join=True)
    got = torch.load(tmp_path / "rank0.pt", weights_only=True)
    assert ref.keys() == got["full"].keys()
    worst = max(float((ref[k] - got["full"][k]).abs().max()) for k in ref)
    assert worst <= ATOL, f"2 ranks vs 1 process: max |dw| = {worst:.3g}"
    assert any(not torch.equal(ref[k], torch.zeros_like(ref[k])) for k in ref)
    for a, b in zip(ref_hist, got["hist"], strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=RTOL)
        assert b["loss_dep"] == pytest.approx(a["loss_dep"], rel=RTOL)
    # resumed under DDP after a crash == uninterrupted DDP run, bit for bit
    for k in ref:
        assert torch.equal(got["full"][k], got["resumed"][k]), k
    assert [r["loss"] for r in got["hist"]] == [r["loss"] for r in got["hist_r"]]
    # the training moved the weights (the comparison is not of two initial states)
    torch.manual_seed(CFG.seed)
    p = prepare(toy_data, toy_graph, CFG)
    init = STCGModel(CFG.model, len(p.dense.variables), graph_tensors(p.graph), p.stats.y_mean,
                     p.stats.y_std).state_dict()
    moved = max(float((init[k] - ref[k]).abs().max()) for k in ref)
    assert moved > 50 * worst, f"training moved the weights by {moved:.3g} only"


def test_stage_relaunches_under_torchrun(monkeypatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: seen.append(argv))
    for k in distributed.RANK_ENV:
        monkeypatch.delenv(k, raising=False)
    distributed.relaunch_under_torchrun(1, "stages/train_stcg.py", ["--data", "d"])
    assert seen == []
    distributed.relaunch_under_torchrun(2, "stages/train_stcg.py", ["--data", "d"])
    assert seen == [[sys.executable, "-m", "torch.distributed.run", "--standalone",
                     "--nproc_per_node=2", "--", "stages/train_stcg.py", "--data", "d"]]
    for k, v in zip(distributed.RANK_ENV, ("0", "2", "0"), strict=True):
        monkeypatch.setenv(k, v)
    distributed.relaunch_under_torchrun(2, "stages/train_stcg.py", [])  # already a rank
    assert len(seen) == 1
    with pytest.raises(ValueError, match="distributed.nproc"):
        distributed.relaunch_under_torchrun(0, "x", [])


@pytest.mark.slow
def test_stage_under_torchrun_writes_once_and_matches(toy_data, toy_graph, tmp_path) -> None:
    """The real stage with ``distributed.nproc: 2``: re-exec, 2 gloo ranks, rank 0's outputs."""
    import json

    import yaml

    from stcg.train.run import train_stcg

    cfg = dataclasses.replace(CFG, optim=dataclasses.replace(CFG.optim, epochs=1))
    one = train_stcg(toy_data, toy_graph, cfg, tmp_path / "n1", None, tmp_path / "n1.json", None,
                     progress=False)
    d = tmp_path / "n2"
    d.mkdir()
    section = {**dataclasses.asdict(cfg), "distributed": {"nproc": 2}, "threads": 1}
    (d / "params.yaml").write_text(yaml.safe_dump({"profile": "default", "train_stcg": section}))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(ROOT / "stages" / "train_stcg.py"), "--data", str(toy_data),
           "--graph", str(toy_graph), "--out", str(d / "stcg"), "--checkpoint",
           str(d / "ckpt.pt"), "--metrics", str(d / "m.json"), "--plots", str(d / "plots"),
           "--params", str(d / "params.yaml")]
    r = subprocess.run(cmd, env=env, cwd=d, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "torch.distributed.run" in r.stderr and "--nproc_per_node=2" in r.stderr
    assert r.stdout.count("test RMSE") == 1, r.stdout  # rank 0 alone reports
    assert json.loads((d / "plots" / "metrics.json").read_text())["step"] == 0  # 1 epoch
    assert torch.load(d / "ckpt.pt", weights_only=True)["epoch"] == 1
    two = json.loads((d / "m.json").read_text())
    assert two["test"]["rmse"] == pytest.approx(one["test"]["rmse"], rel=1e-4)
    assert two["test"]["n"] == one["test"]["n"]


@pytest.mark.parametrize("stage", ["train_stcg", "fewshot_stcg"])
def test_stages_relaunch_with_nproc_param(stage, monkeypatch, tmp_path) -> None:
    """``<stage>.distributed.nproc: 3`` re-executes the stage script under torchrun, same args."""
    import importlib.util

    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params[stage]["distributed"] = {"nproc": 3}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))

    class Exec(Exception):
        pass

    def fake_execv(path, argv):
        raise Exec(argv)

    monkeypatch.setattr(os, "execv", fake_execv)
    for k in distributed.RANK_ENV:
        monkeypatch.delenv(k, raising=False)
    spec = importlib.util.spec_from_file_location(stage, ROOT / "stages" / f"{stage}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = ["--data", "d", "--graph", "g", "--out", "o", "--metrics", "m", "--params",
            str(tmp_path / "params.yaml")]
    if stage == "train_stcg":
        args += ["--checkpoint", "c", "--plots", "p"]
    with pytest.raises(Exec) as exc:
        mod.main(args)
    argv = exc.value.args[0]
    assert argv[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc_per_node=3"]
    assert argv[5] == "--" and argv[6].endswith(f"stages/{stage}.py") and argv[7:] == args
