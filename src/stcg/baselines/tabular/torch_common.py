"""Shared PyTorch plumbing of the neural baselines: device, seeding, scaling, the epoch loop.

Device-agnostic: everything runs on CPU here; on CUDA the forward pass runs under bf16 autocast
and the loss in float32.  Works on torch >= 2.4.

Device residency: the callers move their data to the device once (a ``TensorFrame`` or tensors);
each epoch's permutation is drawn on the host (so a seed gives the same batches on every device),
copied to the device once per epoch, and every batch is an index into device memory.  Nothing
goes back to the host per training step (the epoch loss is summed on the device).

Determinism: for a seed, batches come from a ``torch.Generator`` seeded with it and the model is
initialised under ``torch.manual_seed(seed)``, so a CPU fit is repeatable for a thread count.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from stcg.device import autocast

#: per-epoch progress bars (off in the processes that fit seeds side by side)
PROGRESS = True


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count."""
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


class Standardizer:
    """Column-wise (x - mean) / std fitted on finite training values; NaN becomes 0 (the mean).

    Mirrors AutoGluon's NeuralNetFastAI preprocessing (mean fill, then normalisation).
    """

    def __init__(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        finite = np.isfinite(x)
        cnt = finite.sum(axis=0)
        s = np.where(finite, x, 0.0).sum(axis=0)
        self.mean = np.divide(s, cnt, out=np.zeros_like(s), where=cnt > 0)
        d = np.where(finite, x - self.mean, 0.0)
        var = np.divide((d * d).sum(axis=0), cnt, out=np.zeros_like(s), where=cnt > 0)
        std = np.sqrt(var)
        self.std = np.where(std > 0, std, 1.0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``[N, F]`` float32 standardised values, NaN -> 0."""
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.std
        return np.where(np.isfinite(z), z, 0.0).astype(np.float32)


def fill_nan_with_mean(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``x`` with NaN in column j replaced by ``mean[j]`` (float32)."""
    x = np.asarray(x, dtype=np.float32)
    if not np.isnan(x).any():
        return x
    return np.where(np.isnan(x), mean[None, :].astype(np.float32), x)


@dataclass
class FitHistory:
    """What the epoch loop did.

    Attributes:
        train_loss: mean training loss per epoch.
        val_rmse: validation RMSE per epoch (in the model's target units).
        lr: learning rate at the start of each epoch.
        best_epoch: 0-based epoch whose weights were kept.
    """

    train_loss: list[float] = field(default_factory=list)
    val_rmse: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = -1


def fit_epochs(
    model: torch.nn.Module,
    batch: Callable[[torch.Tensor], Any],
    y_train: torch.Tensor,
    evaluate: Callable[[], float],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    lr_at: Callable[[int, int], float | None],
    after_step: Callable[[], None] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    select_best: bool = True,
    desc: str = "train",
) -> FitHistory:
    """Mini-batch MSE training with per-epoch validation and best-epoch selection.

    Args:
        model: maps ``batch(idx)`` to predictions ``[B]`` or ``[B, 1]``.
        batch: builds the model input for index tensor ``idx [B]`` (on ``device``).
        y_train: ``[N]`` float32 targets on ``device``.
        evaluate: validation RMSE of the current weights (model in eval mode).
        optimizer: the optimiser.
        epochs: number of epochs.
        batch_size: rows per step (the last, smaller batch is kept).
        seed: seeds the shuffling generator.
        device: where the data lives.
        lr_at: ``(epoch, step_in_epoch) -> lr`` or None to leave the optimiser's lr alone.
        after_step: called after every optimiser step (e.g. a per-batch scheduler).
        patience: stop after this many epochs without improving by ``min_delta`` (None = never).
        min_delta: improvement threshold for ``patience`` and best-epoch selection.
        select_best: restore the weights of the best validation epoch at the end.
        desc: progress-bar label.

    Returns:
        A :class:`FitHistory`.
    """
    n = int(y_train.shape[0])
    steps = math.ceil(n / batch_size)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    hist = FitHistory()
    best, best_state, since = math.inf, None, 0
    for epoch in tqdm(range(epochs), desc=desc, leave=False, mininterval=5.0,
                      disable=not PROGRESS):
        model.train()
        perm = torch.randperm(n, generator=gen).to(device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for s in range(steps):
            lr = lr_at(epoch, s)
            if lr is not None:
                for g in optimizer.param_groups:
                    g["lr"] = lr
            if s == 0:
                hist.lr.append(float(optimizer.param_groups[0]["lr"]))
            idx = perm[s * batch_size : (s + 1) * batch_size]
            with autocast(device):
                pred = model(batch(idx))
            pred = pred.float().reshape(-1)
            loss = torch.nn.functional.mse_loss(pred, y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step()
            total += loss.detach().double() * idx.shape[0]
        hist.train_loss.append(float(total) / n)
        model.eval()
        with torch.no_grad():
            val = float(evaluate())
        hist.val_rmse.append(val)
        if val < best - min_delta or hist.best_epoch < 0:
            best, hist.best_epoch, since = val, epoch, 0
            if select_best:
                best_state = copy.deepcopy(model.state_dict())
        else:
            since += 1
            if patience is not None and since >= patience:
                break
        if not math.isfinite(val):
            break
    if select_best and best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return hist


@torch.no_grad()
def predict_batches(model: torch.nn.Module, batch: Callable[[torch.Tensor], Any], n: int,
                    batch_size: int, device: torch.device) -> np.ndarray:
    """``[n]`` float64 predictions of ``model`` over rows ``0..n-1`` in batches.

    The batches stay on ``device``; the predictions come back to the host in one copy.
    """
    model.eval()
    out = []
    for s in range(0, n, batch_size):
        idx = torch.arange(s, min(n, s + batch_size), device=device)
        with autocast(device):
            pred = model(batch(idx))
        out.append(pred.float().reshape(-1))
    return torch.cat(out).cpu().double().numpy() if out else np.zeros(0)


def step_lr(lr: float, lr_final: float, decay_epoch: int) -> Callable[[int, int], float]:
    """The paper's schedule: ``lr`` until ``decay_epoch``, then ``lr_final`` (per epoch)."""
    return lambda epoch, step: lr if epoch < decay_epoch else lr_final
