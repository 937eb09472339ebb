"""The MLP that stands in for AutoGluon's NeuralNetFastAI in Table 1 (paper Section 4.2).

fastai is not a dependency of this project, so this is a plain-PyTorch re-implementation of what
AutoGluon 1.1.1's ``NNFastAiTabularModel`` (``models/fastainn/tabular_nn_fastai.py``) trains with
its defaults (``fastainn/hyperparameters/parameters.py``) for regression:

* inputs: continuous columns mean-filled and standardised (training mean/std); the land cover
  as a categorical with an embedding of fastai's size ``min(600, round(1.6 * n ** 0.56))`` where
  ``n`` counts the categories plus fastai's ``#na#``; embedding dropout ``emb_drop = 0.1``;
  ``BatchNorm1d`` on the continuous block (fastai ``bn_cont``);
* body: ``layers = [200, 100]`` (regression), each ``Linear(bias=False) -> ReLU -> BatchNorm1d
  -> Dropout(ps = 0.1)`` (fastai ``LinBnDrop(lin_first=True)``), then ``Linear(100, 1)``;
* target: clipped to the training range widened by 0.05 std and standardised (AutoGluon's
  ``y_scaler`` + ``clipping``), predictions mapped back and clipped to that range;
* fit: fastai's ``fit_one_cycle(epochs, lr_max = 1e-2)`` (cosine one-cycle, ``pct_start 0.25``,
  ``div 25``, ``div_final 1e5``, beta1 cycling 0.95 -> 0.85 -> 0.95) with fastai's Adam
  (``betas (0.9, 0.99)``, ``eps 1e-5``, decoupled weight decay 0.01, none on BatchNorm and bias);
  batch size ``"auto"`` = 512 from 200k rows on, else 256; ``epochs = 30``; early stopping with
  patience 20 and ``min_delta 1e-4`` on validation RMSE; the best epoch's weights are kept.

Deviations: the epoch count is a per-profile budget (AutoGluon also cuts epochs to its time
limit); initialisation and data order follow PyTorch, not fastai, so numbers differ from a real
NeuralNetFastAI run.  Table 1 labels the row "NeuralNetFastAI (MLP stand-in)".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from stcg.baselines.tabular.base import CategoryCodes, TabularModel
from stcg.baselines.tabular.torch_common import (
    Standardizer,
    fit_epochs,
    predict_batches,
    torch_threads,
)
from stcg.device import resolve_device


def fastai_emb_size(n_cat: int) -> int:
    """fastai's ``emb_sz_rule``: embedding width for ``n_cat`` levels (incl. ``#na#``)."""
    return min(600, round(1.6 * n_cat**0.56))


class FastAITabularNet(nn.Module):
    """fastai's ``TabularModel`` for one regression output.

    Args:
        n_cont: number of continuous inputs.
        cat_levels: levels of each categorical (codes ``0..K-1``; code ``K`` = ``#na#``).
        layers: hidden widths.
        ps: dropout after each hidden layer.
        emb_drop: dropout on the concatenated embeddings.
    """

    def __init__(self, n_cont: int, cat_levels: list[int], layers: list[int], ps: float,
                 emb_drop: float) -> None:
        super().__init__()
        self.embeds = nn.ModuleList(
            nn.Embedding(k + 1, fastai_emb_size(k + 1)) for k in cat_levels
        )
        n_emb = sum(e.embedding_dim for e in self.embeds)
        self.emb_drop = nn.Dropout(emb_drop)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont else None
        sizes = [n_emb + n_cont, *layers]
        body: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            body += [nn.Linear(a, b, bias=False), nn.ReLU(inplace=True), nn.BatchNorm1d(b)]
            if ps:
                body.append(nn.Dropout(ps))
        body.append(nn.Linear(sizes[-1], 1))
        self.layers = nn.Sequential(*body)

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``inputs = (x_cont [B, n_cont], x_cat [B, n_cat] long)`` -> ``[B, 1]``."""
        x_cont, x_cat = inputs
        parts = []
        if len(self.embeds):
            emb = torch.cat([e(x_cat[:, i]) for i, e in enumerate(self.embeds)], dim=1)
            parts.append(self.emb_drop(emb))
        if self.bn_cont is not None:
            parts.append(self.bn_cont(x_cont))
        return self.layers(torch.cat(parts, dim=1))


class FastAIMLPModel(TabularModel):
    """NeuralNetFastAI stand-in (see module docstring).

    Args:
        params: ``layers``, ``emb_drop``, ``ps``, ``bs``, ``lr``, ``epochs``,
            ``early.stopping.min_delta``, ``early.stopping.patience``, ``wd``, ``clipping``,
            ``y_range_extend``.
        seed: torch seed.
        threads: torch intra-op threads.
        device: ``auto`` | ``cpu`` | ``cuda``.
        epochs_cap: budget cap on ``epochs``.
    """

    allowed_params = frozenset({
        "layers", "emb_drop", "ps", "bs", "lr", "epochs", "early.stopping.min_delta",
        "early.stopping.patience", "wd", "clipping", "y_range_extend", "smoothing",
    })

    def __init__(self, params: Mapping[str, Any], seed: int = 0, threads: int = 0,
                 device: str = "auto", epochs_cap: int | None = None) -> None:
        super().__init__(params, seed, threads)
        self.device = resolve_device(device)
        self.epochs_cap = epochs_cap

    def _inputs(self, x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        cont = self._scaler.transform(x[:, self._cont])
        cat = np.stack(
            [np.where((c := codes.transform(x[:, i])) >= 0, c, len(codes))
             for i, codes in self._codes.items()], axis=1,
        ) if self._codes else np.zeros((x.shape[0], 0), dtype=np.int64)
        return (torch.from_numpy(cont).to(self.device),
                torch.from_numpy(cat.astype(np.int64)).to(self.device))

    def _fit(self, x_train, y_train, x_val, y_val, cat_features, feature_names) -> None:
        p = self.params
        layers = list(p.get("layers") or [200, 100])
        epochs = int(p.get("epochs", 30))
        if self.epochs_cap is not None:
            epochs = min(epochs, self.epochs_cap)
        bs = p.get("bs", "auto")
        bs = (512 if len(y_train) >= 200_000 else 256) if bs == "auto" else int(bs)
        bs = bs if len(y_train) > bs else 32
        self._cont = [i for i in range(x_train.shape[1]) if i not in set(cat_features)]
        self._codes = {c: CategoryCodes(x_train[:, c]) for c in cat_features}
        self._scaler = Standardizer(x_train[:, self._cont])
        # target clipping + standardisation (AutoGluon y_scaler with clipping)
        ext = float(p.get("y_range_extend", 0.05)) * float(np.std(y_train))
        lo, hi = float(y_train.min()), float(y_train.max())
        lo = max(0.0, lo - ext) if lo >= 0 else lo - ext
        hi = min(0.0, hi + ext) if hi <= 0 else hi + ext
        self._clip = (lo, hi) if p.get("clipping", True) else (-np.inf, np.inf)
        yc = np.clip(y_train, *self._clip)
        self._y_mean, self._y_std = float(yc.mean()), float(yc.std()) or 1.0

        with torch_threads(self.threads):
            torch.manual_seed(self.seed)
            self.net = FastAITabularNet(
                len(self._cont), [len(c) for c in self._codes.values()], layers,
                ps=float(p.get("ps", 0.1)), emb_drop=float(p.get("emb_drop", 0.1)),
            ).to(self.device)
            xt, xv = self._inputs(x_train), self._inputs(x_val)
            yt = torch.from_numpy(((yc - self._y_mean) / self._y_std).astype(np.float32))
            yt = yt.to(self.device)
            yv = (np.clip(y_val, *self._clip) - self._y_mean) / self._y_std
            decay, no_decay = [], []
            for m in self.net.modules():
                for name, prm in m.named_parameters(recurse=False):
                    is_plain = isinstance(m, nn.BatchNorm1d) or name == "bias"
                    (no_decay if is_plain else decay).append(prm)
            wd = float(p.get("wd", 0.01))
            opt = torch.optim.AdamW(
                [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                lr=float(p.get("lr", 1e-2)), betas=(0.9, 0.99), eps=1e-5,
            )
            steps = -(-len(yt) // bs)
            sched = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=float(p.get("lr", 1e-2)), total_steps=max(2, epochs * steps),
                pct_start=0.25, anneal_strategy="cos", div_factor=25.0,
                final_div_factor=1e5 / 25.0, cycle_momentum=True, base_momentum=0.85,
                max_momentum=0.95,
            )

            def evaluate() -> float:
                pred = predict_batches(self.net, lambda i: (xv[0][i], xv[1][i]),
                                       len(yv), 8192, self.device)
                return float(np.sqrt(np.mean((pred - yv) ** 2)))

            hist = fit_epochs(
                self.net, lambda i: (xt[0][i], xt[1][i]), yt, evaluate, opt, epochs, bs,
                self.seed, self.device, lr_at=lambda e, s: None, after_step=sched.step,
                patience=int(p.get("early.stopping.patience", 20)),
                min_delta=float(p.get("early.stopping.min_delta", 1e-4)), desc="NeuralNetFastAI",
            )
        self.info.update(epochs=len(hist.val_rmse), epochs_cap=epochs, best_epoch=hist.best_epoch,
                         batch_size=bs, val_rmse_scaled=min(hist.val_rmse))

    def _predict(self, x: np.ndarray) -> np.ndarray:
        with torch_threads(self.threads):
            xs = self._inputs(x)
            z = predict_batches(self.net, lambda i: (xs[0][i], xs[1][i]), x.shape[0], 8192,
                                self.device)
        return np.clip(z * self._y_std + self._y_mean, *self._clip)
