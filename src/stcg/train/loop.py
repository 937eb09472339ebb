"""The training loop: the paper's protocol, checkpoints every epoch, exact resume.

Protocol (paper Section 4.1): AdamW, learning rate ``lr`` (1e-3) for the first
``round(lr_drop_at * epochs)`` epochs, then ``lr_final`` (1e-4); batch size and epochs per
profile; loss ``L_dep + L_interp``.  Large batches: both rates scaled linearly or by the square
root of ``batch_size / base_batch_size``, with an optional linear warm-up (:func:`step_lr`).  Gradients are clipped at ``grad_clip`` (not in the paper;
``null`` disables it).

Device: CUDA when available (``device: auto``), with bf16 autocast when ``amp``; else CPU.

Determinism: parameters are initialised after ``torch.manual_seed(seed)``; epoch ``e`` draws its
samples from a generator seeded with ``(seed, e)`` and re-seeds torch's global RNG (dropout) with
``(seed, e)``.  So an epoch depends only on the weights and optimiser state at its start, which
the checkpoint holds, and a run resumed after a crash ends with the same weights as an
uninterrupted one (on the same device and thread count).

Data parallel: under ``torchrun`` (an initialised process group) the model is wrapped in
DistributedDataParallel and each rank trains on its shard of every global batch; see
:mod:`stcg.train.distributed` for the split, the loss weighting and who writes what.

Checkpoints: after every epoch ``{model, optimiser, epoch, history, fingerprint}`` is written
atomically (temp file + rename) and loaded with ``torch.load(..., weights_only=True)``.  Only an
interrupted run is resumed; training starts over, with a warning, when the checkpoint

* is of a finished run (its epoch is the last one): a rerun that DVC or ``--force`` starts is a
  new run, never the old weights;
* has another fingerprint: a hash of every setting that changes the trajectory and of the code
  that shapes training (:func:`code_fingerprint`), so editing the model makes a fresh start;
* cannot be read (empty, truncated, corrupt): it is moved aside to ``<name>.unreadable``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from stcg.device import autocast
from stcg.errors import StcgError
from stcg.io import load_torch, save_torch
from stcg.model.stcg import STCGModel, stcg_loss
from stcg.train import distributed
from stcg.train.config import OptimConfig
from stcg.train.data import DeviceData

CKPT_FORMAT = "stcg-checkpoint-v1"

TIMING_KEYS: tuple[str, ...] = ("samples_per_s",)
"""Epoch-record keys that measure the machine, not the run: never stored in a checkpoint, so the
same run gives the same checkpoint bytes."""


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch ``epoch``'s sampling and dropout."""
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 17) % (2**63 - 1)


def lr_at(epoch: int, optim: OptimConfig) -> float:
    """Learning rate of ``epoch`` (0-based): ``lr`` before the drop, ``lr_final`` after."""
    drop = int(round(optim.lr_drop_at * optim.epochs))
    return optim.lr if epoch < drop else optim.lr_final


def lr_scale(optim: OptimConfig) -> float:
    """The large-batch multiplier of both rates: 1, ``B / B0`` (linear) or ``sqrt(B / B0)``."""
    ratio = optim.batch_size / optim.base_batch_size
    return {"none": 1.0, "linear": ratio, "sqrt": ratio**0.5}[optim.lr_scaling]


def step_lr(epoch: int, step: int, steps_per_epoch: int, optim: OptimConfig) -> float:
    """Learning rate of ``step`` (0-based) of ``epoch``: :func:`lr_at` x :func:`lr_scale`, ramped
    linearly over the first ``round(warmup_epochs * steps_per_epoch)`` steps of the run."""
    lr = lr_at(epoch, optim) * lr_scale(optim)
    warm = int(round(optim.warmup_epochs * steps_per_epoch))
    k = epoch * steps_per_epoch + step
    return lr * (k + 1) / warm if k < warm else lr


def fingerprint(payload: Any) -> str:
    """A short stable hash of JSON-able ``payload``."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


CODE_PACKAGES: tuple[str, ...] = ("stcg.model", "stcg.train", "stcg.graph")
"""The packages whose source shapes a training run (hashed into the checkpoint fingerprint)."""


def code_fingerprint(packages: tuple[str, ...] = CODE_PACKAGES) -> str:
    """A hash of the ``stcg`` version and of every ``.py`` source of ``packages``."""
    h = hashlib.sha256()
    try:
        h.update(importlib.metadata.version("stcg").encode())
    except importlib.metadata.PackageNotFoundError:
        h.update(b"unknown")
    for name in packages:
        root = Path(importlib.import_module(name).__file__).parent
        for f in sorted(root.rglob("*.py")):
            h.update(f"{name}/{f.relative_to(root).as_posix()}\0".encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a checkpoint atomically (never half-written), with reproducible bytes."""
    save_torch(path, state)


def move_aside(path: Path) -> Path:
    """Rename an unreadable file to ``<name>.unreadable`` (replacing an older one); return it."""
    dest = path.with_name(path.name + ".unreadable")
    path.replace(dest)
    return dest


def load_checkpoint(path: str | Path, fp: str, epochs: int | None = None) -> dict[str, Any] | None:
    """The checkpoint at ``path`` if it is an interrupted run of fingerprint ``fp``, else None.

    Args:
        path: the checkpoint file.
        fp: the run's fingerprint.
        epochs: the run's number of epochs: a checkpoint at that epoch is of a finished run and
            is not reused (None: no such check).

    An unreadable checkpoint is moved aside (:func:`move_aside`); every ignored checkpoint is
    reported by a warning naming the path and the reason.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_torch(path, "checkpoint", "")
    except StcgError as exc:
        dest = move_aside(path)
        warnings.warn(f"{exc}; moved to {dest}, training from scratch", stacklevel=2)
        return None
    if not isinstance(state, dict) or state.get("format") != CKPT_FORMAT:
        dest = move_aside(path)
        warnings.warn(f"{path}: not a {CKPT_FORMAT} checkpoint; moved to {dest}, training "
                      "from scratch", stacklevel=2)
        return None
    if state.get("fingerprint") != fp:
        warnings.warn(
            f"{path}: checkpoint of another configuration or code (fingerprint "
            f"{state.get('fingerprint')} != {fp}); training from scratch",
            stacklevel=2,
        )
        return None
    if epochs is not None and int(state.get("epoch", 0)) >= epochs:
        warnings.warn(
            f"{path}: checkpoint of a finished run (epoch {state.get('epoch')} of {epochs}); "
            "a rerun trains from scratch",
            stacklevel=2,
        )
        return None
    return state


class EpochLogger:
    """Receives one record per epoch (DVCLive in the stage, a list in tests)."""

    def log(self, record: dict[str, float]) -> None:  # pragma: no cover - interface
        """Log one epoch's record."""


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class EpochLine(EpochLogger):
    """One line per epoch on stderr, flushed, so it reaches logs that are not terminals (``dvc
    repro`` output redirected to a file): loss, monitored test RMSE, lr, samples/s and the ETA.

    The ETA is the remaining epochs times the epoch's training time, ``samples_per_epoch /
    samples_per_s`` when the epoch size is known (records replayed from a checkpoint then give
    the ETA they had), else the mean wall time between this logger's epochs.  Every record is
    passed on to ``inner`` (e.g. DVCLive).

    Args:
        name: the line's prefix (the stage).
        epochs: the run's number of epochs.
        samples_per_epoch: training samples per epoch (None: unknown).
        inner: another logger that receives every record.
        stream: where lines go (default: ``sys.stderr`` at the time of each line).
    """

    def __init__(self, name: str, epochs: int, samples_per_epoch: int | None = None,
                 inner: EpochLogger | None = None, stream: Any = None) -> None:
        self.name, self.epochs, self.samples = name, int(epochs), samples_per_epoch
        self.inner, self.stream = inner, stream
        self._last = time.perf_counter()
        self._walls: list[float] = []

    def line(self, record: dict[str, float]) -> str:
        """The text of ``record``'s line (without the ETA's wall-clock fallback state)."""
        epoch = int(record["epoch"])
        parts = [f"{self.name} epoch {epoch}/{self.epochs}: loss {record['loss']:.4g}"]
        if "loss_dep" in record and "loss_interp" in record:
            parts[0] += f" (dep {record['loss_dep']:.4g}, interp {record['loss_interp']:.4g})"
        if "monitor_rmse" in record:
            parts.append(f"monitor RMSE {record['monitor_rmse']:.4g}")
        if "lr" in record:
            parts.append(f"lr {record['lr']:.3g}")
        rate = float(record.get("samples_per_s", 0.0))
        parts.append(f"{rate:,.0f} samples/s")
        left = self.epochs - epoch
        if self.samples is not None and rate > 0:
            epoch_s = self.samples / rate
        elif self._walls:
            epoch_s = sum(self._walls) / len(self._walls)
        else:
            epoch_s = None
        if epoch_s is not None:
            parts.append(f"ETA {_duration(left * epoch_s)}")
        return ", ".join(parts)

    def log(self, record: dict[str, float]) -> None:
        """Print the epoch's line, then pass the record on."""
        now = time.perf_counter()
        self._walls.append(now - self._last)
        self._last = now
        print(self.line(record), file=self.stream or sys.stderr, flush=True)
        if self.inner is not None:
            self.inner.log(record)

    def close(self) -> None:
        """Close ``inner`` when it can be closed."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def fit(
    model: STCGModel,
    data: DeviceData,
    train_idx: torch.Tensor,
    optim_cfg: OptimConfig,
    seed: int,
    ckpt_path: str | Path | None,
    fp: str,
    amp: bool = True,
    compile_model: bool = False,
    monitor_idx: torch.Tensor | None = None,
    logger: EpochLogger | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` in place (module docstring), resuming from ``ckpt_path`` if it matches.

    Args:
        model: the model, on the data's device.
        data: the dataset on the device.
        train_idx: ``[N]`` int64 flat training sample indices on the device.
        optim_cfg: the optimiser params.
        seed: the run's seed.
        ckpt_path: checkpoint file (None: no checkpoints).
        fp: the run's fingerprint (see :func:`fingerprint`).
        amp: bf16 autocast on CUDA.
        compile_model: wrap the model in ``torch.compile`` for the training steps.
        monitor_idx: test samples whose RMSE is logged each epoch (None: none).
        logger: receives each epoch's record (replayed from the checkpoint on resume).
        on_epoch_end: called with the number of finished epochs after the checkpoint is written
            (tests inject crashes here).
        progress: tqdm bars.

    Returns:
        The history: one record per epoch.
    """
    device = data.x.device
    wd = distributed.world()
    opt = torch.optim.AdamW(
        model.parameters(), lr=optim_cfg.lr, weight_decay=optim_cfg.weight_decay
    )
    history: list[dict[str, float]] = []
    start = 0
    state = None
    if ckpt_path is not None:
        state = load_checkpoint(ckpt_path, fp, optim_cfg.epochs) if wd.is_main else None
        state = distributed.broadcast_object(state)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        history = [dict(r) for r in state["history"]]
        start = int(state["epoch"])
        if wd.is_main:
            print(f"{ckpt_path}: resuming after epoch {start} of {optim_cfg.epochs}",
                  file=sys.stderr)
    if logger is not None:
        for rec in history:
            logger.log(rec)
    step_model: torch.nn.Module = model
    if wd.size > 1:
        step_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if compile_model:
        step_model = torch.compile(step_model)
    n_train = int(train_idx.numel())
    if n_train == 0:
        raise ValueError("no training samples (check the split years and the window)")
    per_epoch = n_train if optim_cfg.samples_per_epoch is None else min(
        optim_cfg.samples_per_epoch, n_train
    )
    bs = optim_cfg.batch_size
    for epoch in range(start, optim_cfg.epochs):
        es = epoch_seed(seed, epoch)
        torch.manual_seed(es + wd.rank)  # dropout: its own stream per rank
        gen = torch.Generator(device=device).manual_seed(es)
        order = torch.randperm(n_train, generator=gen, device=device)[:per_epoch]
        model.train()
        sums = torch.zeros(3, device=device, dtype=torch.float64)
        n_steps = (per_epoch + bs - 1) // bs
        warm = epoch * n_steps < optim_cfg.warmup_epochs * n_steps + 1
        t0 = time.perf_counter()
        bar = tqdm(range(n_steps), desc=f"epoch {epoch + 1}/{optim_cfg.epochs}",
                   disable=not progress or not wd.is_main, leave=False)
        for step in bar:
            glob = order[step * bs : (step + 1) * bs]
            if warm or step == 0:
                for g in opt.param_groups:
                    g["lr"] = step_lr(epoch, step, n_steps, optim_cfg)
            mine, share = _rank_shard(glob, wd)
            b = data.gather(train_idx[mine])
            with autocast(device, amp):
                out = step_model(b.x, b.node, b.period, land_cover=b.land_cover, x_ref=b.x_ref)
            loss, dep, interp = stcg_loss(out, b.y)
            opt.zero_grad(set_to_none=True)
            (loss * (share * wd.size) if wd.size > 1 else loss).backward()
            if optim_cfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), optim_cfg.grad_clip)
            opt.step()
            parts = torch.stack([loss.detach(), dep.detach(), interp.detach()]).double()
            sums += parts * share if wd.size > 1 else parts
            if progress and wd.is_main and step % 50 == 0:
                bar.set_postfix(loss=f"{loss.detach().item():.4f}")
        distributed.all_reduce_sum(sums)  # -> the global batches' mean losses
        sums = (sums / n_steps).cpu().numpy()
        if not np.isfinite(sums[0]):
            raise FloatingPointError(f"epoch {epoch + 1}: training loss is not finite")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - t0
        rec = {
            "epoch": float(epoch + 1),
            "lr": float(opt.param_groups[0]["lr"]),
            "loss": float(sums[0]),
            "loss_dep": float(sums[1]),
            "loss_interp": float(sums[2]),
            "samples_per_s": per_epoch / max(elapsed, 1e-9),
        }
        if monitor_idx is not None and monitor_idx.numel() and wd.is_main:
            pred = predict(model, data, monitor_idx, 4096, amp)
            ym = data.y.reshape(-1)[monitor_idx].cpu().numpy()
            rec["monitor_rmse"] = float(np.sqrt(np.mean((pred["y"] - ym) ** 2)))
        history.append(rec)
        if logger is not None:
            logger.log(rec)
        if ckpt_path is not None and wd.is_main:
            save_checkpoint(
                ckpt_path,
                {
                    "format": CKPT_FORMAT,
                    "fingerprint": fp,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optim": opt.state_dict(),
                    "history": [{k: v for k, v in r.items() if k not in TIMING_KEYS}
                                for r in history],
                },
            )
        distributed.barrier()  # the checkpoint is on disk before any rank goes on
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
    return history


def _rank_shard(glob: torch.Tensor, wd: distributed.World) -> tuple[torch.Tensor, float]:
    """This rank's positions of global batch ``glob`` and its share ``n_r / n`` of the batch.

    A rank with an empty shard gets the batch's first sample at share 0 (it still joins DDP's
    gradient all-reduce, contributing nothing).
    """
    if wd.size == 1:
        return glob, 1.0
    n = int(glob.numel())
    lo, hi = distributed.shard_bounds(n, wd.rank, wd.size)
    if hi == lo:
        return glob[:1], 0.0
    return glob[lo:hi], (hi - lo) / n


@torch.no_grad()
def predict(
    model: STCGModel,
    data: DeviceData,
    idx: torch.Tensor,
    batch_size: int,
    amp: bool = True,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Predict the samples ``idx`` (eval mode; the condition table is computed once).

    Returns:
        ``{"y": [N], "y_interp": [N], "weights": [N, F], "intercept": [N]}`` float32 numpy arrays
        (the last three only with the interpretable branch / intercept).
    """
    was_training = model.training
    model.eval()
    device = data.x.device
    out: dict[str, list[np.ndarray]] = {"y": [], "y_interp": [], "weights": [], "intercept": []}
    with autocast(device, amp):
        table = model.condition_table()
    n = int(idx.numel())
    for b in tqdm(range(0, n, batch_size), desc="predict", disable=not progress, leave=False):
        bt = data.gather(idx[b : b + batch_size])
        with autocast(device, amp):
            o = model(bt.x, bt.node, bt.period, land_cover=bt.land_cover, cond_table=table,
                      x_ref=bt.x_ref)
        out["y"].append(o.y.float().cpu().numpy())
        if o.y_interp is not None:
            out["y_interp"].append(o.y_interp.float().cpu().numpy())
            out["weights"].append(o.weights.float().cpu().numpy())
        if o.intercept is not None:
            out["intercept"].append(o.intercept.float().cpu().numpy())
    model.train(was_training)
    res = {k: np.concatenate(v) for k, v in out.items() if v}
    if n == 0:
        res["y"] = np.zeros(0, dtype=np.float32)
    return res
