"""Data-parallel training: ``torchrun`` + DistributedDataParallel (NCCL on GPUs, gloo on CPU).

How a run is split (:func:`stcg.train.loop.fit`):

* every rank holds the whole dataset on its own device (the dense tensors of
  :mod:`stcg.train.data`; ~5.5 GB at the paper profile) and draws the same epoch order from the
  same seeded generator;
* ``optim.batch_size`` is the **global** batch: step ``s`` takes the same ``batch_size`` sample
  indices on every rank and rank ``r`` of ``W`` gathers the contiguous shard
  ``[r n / W, (r + 1) n / W)`` of them (:func:`shard_bounds`) from its device tensors;
* each rank's mean loss is weighted by ``W n_r / n`` before ``backward``, so DDP's gradient
  average equals the gradient of the global batch's mean loss even when ``n`` is not a multiple
  of ``W`` (the last batch of an epoch); a rank whose shard is empty runs one sample at weight 0
  (DDP needs every rank in every all-reduce);
* gradients are identical on every rank after the all-reduce, so gradient clipping and AdamW
  keep the replicas identical; the result equals a 1-process run at the same global batch up to
  the float rounding of the all-reduce's summation order;
* only rank 0 writes checkpoints, metrics, DVCLive curves, the model and predictions; on resume
  rank 0 reads the checkpoint and broadcasts it to the other ranks (no shared filesystem needed).

Launch: the stage script re-executes itself under ``torchrun --standalone --nproc_per_node N``
when ``train_stcg.distributed.nproc`` is N > 1 and it is not already a rank
(:func:`relaunch_under_torchrun`), so ``dvc repro`` drives it with dvc.yaml's command unchanged.
Started by ``torchrun`` directly (multi-node), the script is a rank already and uses the world
that ``torchrun`` set up.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

RANK_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class World:
    """This process's place in the run.

    Attributes:
        rank: global rank (0 = the writer).
        size: number of processes (1 = no process group).
        local_rank: rank on this node (its GPU index).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process writes the outputs (rank 0)."""
        return self.rank == 0


def is_rank_process() -> bool:
    """Whether this process was started by ``torchrun`` (its rank variables are set)."""
    return all(k in os.environ for k in RANK_ENV)


def world() -> World:
    """The current world: from the initialised process group, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(),
                     int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    return World()


def local_device(name: str) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` on GPUs, else as :func:`resolve_device`.

    Raises:
        RuntimeError: if ``cuda`` is requested without a GPU, or there are fewer GPUs than local
            ranks.
    """
    from stcg.device import resolve_device

    dev = resolve_device(name)
    if dev.type != "cuda" or not is_rank_process():
        return dev
    local = int(os.environ["LOCAL_RANK"])
    if local >= torch.cuda.device_count():
        raise RuntimeError(
            f"train_stcg.distributed: local rank {local} but only {torch.cuda.device_count()} "
            "GPUs on this node; lower distributed.nproc (or torchrun --nproc_per_node)"
        )
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def setup(device: torch.device, timeout_s: float = 1800.0) -> World:
    """Join the process group ``torchrun`` described (NCCL on CUDA, gloo otherwise).

    A process not started by ``torchrun``, or a world of 1, stays a single process.  On CPU
    without an explicit thread count each rank takes its share of the cores.
    """
    if not is_rank_process() or int(os.environ["WORLD_SIZE"]) == 1:
        return World()
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"timeout": datetime.timedelta(seconds=timeout_s)}
        if device.type == "cuda":
            kwargs["device_id"] = device
        dist.init_process_group(backend=backend, **kwargs)
    return world()


def cleanup() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard_bounds(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s contiguous slice ``[lo, hi)`` of ``n`` items split over ``size`` ranks.

    The shards cover ``0..n`` without overlap and differ in length by at most one.
    """
    return n * rank // size, n * (rank + 1) // size


def barrier() -> None:
    """Wait for every rank (no-op for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` of rank ``src`` on every rank (identity for a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum of ``t`` over the ranks, in place (identity for a single process)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def torchrun_argv(script: str, argv: list[str], nproc: int) -> list[str]:
    """The command that runs ``script argv`` as ``nproc`` ranks on this node."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={nproc}", "--", script, *argv]


def relaunch_under_torchrun(nproc: int, script: str, argv: list[str]) -> None:
    """Replace this process by ``torchrun`` running ``nproc`` copies of the stage, if needed.

    Does nothing when ``nproc`` is 1 or this process is already a rank (``torchrun`` started it).

    Raises:
        ValueError: if ``nproc`` < 1.
    """
    if nproc < 1:
        raise ValueError(f"train_stcg.distributed.nproc: must be >= 1, got {nproc}")
    if nproc == 1 or is_rank_process():
        return
    cmd = torchrun_argv(script, argv, nproc)
    print(f"distributed.nproc={nproc}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    os.execv(cmd[0], cmd)
