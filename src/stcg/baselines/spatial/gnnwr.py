"""GNNWR (Du et al. 2020) and GTNNWR (Wu et al. 2021) in torch.

GNNWR replaces GWR's kernel by a *spatially weighted neural network* (SWNN).  For a location
``i`` the input is the vector of its distances to the ``R`` reference points (the calibration
locations), the output a weight per coefficient, and the prediction multiplies the global OLS
coefficients (Du et al. 2020, eqs. 9-12)::

    w(u_i, v_i) = SWNN([d_i1, ..., d_iR])                     [p]
    beta(u_i, v_i) = w(u_i, v_i) * beta_OLS                   (element-wise)
    y_i = sum_j beta_j(u_i, v_i) x_ij

GTNNWR (Wu et al. 2021, eqs. 7-10) first turns each (spatial, temporal) distance pair into one
spatiotemporal proximity with a small shared network (STPNN) and feeds those ``R`` proximities to
the SWNN.  Layers follow the reference package ``gnnwr`` 0.1.17: ``Linear -> BatchNorm ->
PReLU -> Dropout`` per hidden layer with widths halving from ``2^floor(log2 R)`` down to the
number of coefficients, a plain linear output; STPNN ``Linear -> ReLU`` layers; training on MSE
with early stopping on a validation set and the best validation epoch kept.

Choices and deviations:

* Distances (haversine km for ``(lon, lat)``, Euclidean otherwise, ``|dt|`` or the cyclic
  ``min(|dt|, P - |dt|)`` for time) are divided by their maximum over the training inputs
  (gnnwr min-max scales each reference column separately).  Covariates are z-scored on the training rows (gnnwr
  min-max scales them); coefficients are returned in the units of the given ``X``.
* GTNNWR's reference set is a random subset of at most ``max_reference`` training observations
  (gnnwr uses all of them, which is ``R = n`` inputs per sample: infeasible for the 46-period
  few-shot data).
* GTNNWR's STPNN ends in Softplus instead of ReLU (a ReLU output died at initialisation for some
  seeds, leaving the SWNN a constant input), and its ``R`` proximities are layer-normalised per
  sample before the SWNN (their distribution moves while the STPNN learns, which made the
  BatchNorm running statistics, and so the validation loss, unstable).
* ``ols_ridge > 0`` replaces the OLS base coefficients by ridge ones.  With exactly collinear
  covariates (the simulator's latent heat flux is evaporation times the latent heat) OLS
  coefficients reach +-1e7 and ``w * beta_OLS`` cannot be learnt; the few-shot stage uses a small
  ridge.
* Defaults differ from gnnwr's (Adagrad lr 0.1, batch 32, dropout 0.2, widths up to 2^floor(log2
  R)): Adam lr 1e-2, batch 128, no dropout, widths capped at 256 recover the simulated surfaces
  better and faster (``bench/gnnwr_vs_package.py``, ``tests/.../test_recovery.py``).
* Early stopping can watch an exponential moving average of the validation loss
  (``val_smoothing``) and keep the mean of the weights of the last ``average_last`` epochs up to
  the best one (checkpoint averaging; BatchNorm statistics averaged alike) instead of the best
  epoch's: with ~60 validation cells the raw loss is noisy, and the kept epoch, so the test
  RMSE, jumps with the seed (``bench/gnnwr_stability.py``).  ``0`` / ``1`` are gnnwr's rule.
* Deterministic for a fixed seed (own generators; the global torch RNG is forked, not touched).
  On CUDA the networks run under bf16 autocast; the coefficient product stays in float32.
"""

from __future__ import annotations

import collections
import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from stcg.baselines.spatial.config import GNNWRSettings
from stcg.baselines.spatial.neighbors import pairwise_distance
from stcg.device import autocast, resolve_device


def default_widths(n_in: int, n_out: int, cap: int) -> tuple[int, ...]:
    """gnnwr's default SWNN widths: ``2^floor(log2 n_in)`` halving while ``> n_out``, capped."""
    widths = []
    size = 2 ** int(math.log2(max(n_in, 2)))
    while size > n_out:
        widths.append(min(size, cap))
        size //= 2
    # the cap can repeat a width: keep one of each
    return tuple(dict.fromkeys(widths))


class SWNN(nn.Module):
    """Spatially weighted neural network: ``[B, R] -> [B, p]`` weights."""

    def __init__(
        self, n_in: int, n_out: int, hidden: tuple[int, ...], dropout: float,
        batch_norm: bool, prelu_init: float,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = n_in
        for width in hidden:
            lin = nn.Linear(last, width)
            nn.init.kaiming_uniform_(lin.weight, a=0.0, mode="fan_in")
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.BatchNorm1d(width) if batch_norm else nn.Identity(),
                       nn.PReLU(init=prelu_init),
                       nn.Dropout(dropout) if dropout > 0 else nn.Identity()]
            last = width
        out = nn.Linear(last, n_out)
        nn.init.kaiming_uniform_(out.weight, a=0.0, mode="fan_in")
        nn.init.zeros_(out.bias)
        layers.append(out)
        self.net = nn.Sequential(*layers)

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        """``[B, R]`` scaled distances or proximities -> ``[B, p]`` weights."""
        return self.net(d)


class STPNN(nn.Module):
    """Spatiotemporal proximity network: ``[B, R, 2] -> [B, R]`` (shared over reference points)."""

    def __init__(self, hidden: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        last = 2
        for width in hidden:
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers += [nn.Linear(last, 1), nn.Softplus()]
        self.net = nn.Sequential(*layers)

    def forward(self, dst: torch.Tensor) -> torch.Tensor:
        """``[B, R, 2]`` (spatial, temporal) distances -> ``[B, R]`` proximities."""
        return self.net(dst)[..., 0]


class GNNWRNet(nn.Module):
    """SWNN (optionally after an STPNN) times fixed OLS coefficients."""

    def __init__(self, n_ref: int, beta_ols: torch.Tensor, settings: GNNWRSettings,
                 temporal: bool) -> None:
        super().__init__()
        p = beta_ols.shape[0]
        hidden = settings.hidden or default_widths(n_ref, p, settings.max_hidden)
        self.stpnn = STPNN(settings.stpnn_hidden) if temporal else None
        # proximities move while the STPNN learns: normalise them per sample (no running stats)
        self.norm = nn.LayerNorm(n_ref) if temporal else nn.Identity()
        self.swnn = SWNN(n_ref, p, hidden, settings.dropout, settings.batch_norm,
                         settings.prelu_init)
        self.register_buffer("beta_ols", beta_ols.float())

    def forward(self, feats: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions and weights.

        Args:
            feats: ``[B, R]`` scaled distances (GNNWR) or ``[B, R, 2]`` (GTNNWR).
            x: ``[B, p]`` design rows (intercept first).

        Returns:
            ``(y_hat [B], w [B, p])``.
        """
        with autocast(feats.device):
            z = self.norm(self.stpnn(feats)) if self.stpnn is not None else feats
            w = self.swnn(z)
        w = w.float()
        return (w * self.beta_ols * x).sum(-1), w


@dataclass
class TrainHistory:
    """Per-epoch training and validation MSE, and the epoch kept."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1


def _mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts (floating tensors; others, e.g. counters, from the last)."""
    out = {}
    for key, last in states[-1].items():
        if torch.is_floating_point(last):
            out[key] = torch.stack([st[key] for st in states]).mean(0)
        else:
            out[key] = last.clone()
    return out


class GNNWR:
    """GNNWR (``t`` is None) or GTNNWR (``t`` given) fitted on calibration data.

    Args:
        coords: ``[n, 2]`` calibration coordinates.
        X: ``[n, k]`` covariates without the constant.
        y: ``[n]`` response.
        val_mask: ``[n]`` bool, rows used only for early stopping (not reference points).
        t: ``[n]`` times (GTNNWR), or None (GNNWR).
        spherical: ``(lon, lat)`` degrees, haversine km.
        time_period: cyclic time period (GTNNWR), None for linear time.
        settings: hyper-parameters (None: ``GNNWRSettings()``).
        device: torch device (default CUDA when available).
        progress: optional ``(epoch, train_mse, val_mse) -> None`` after every epoch.
    """

    def __init__(
        self,
        coords: np.ndarray,
        X: np.ndarray,
        y: np.ndarray,
        val_mask: np.ndarray,
        *,
        t: np.ndarray | None = None,
        spherical: bool = False,
        time_period: float | None = None,
        settings: GNNWRSettings | None = None,
        device: str | torch.device | None = None,
        progress: Callable[[int, float, float], None] | None = None,
    ) -> None:
        settings = GNNWRSettings() if settings is None else settings
        settings.validate()
        coords = np.asarray(coords, np.float64)
        X = np.asarray(X, np.float64)
        X = X[:, None] if X.ndim == 1 else X
        y = np.asarray(y, np.float64).reshape(-1)
        val_mask = np.asarray(val_mask, bool).reshape(-1)
        n = y.shape[0]
        if coords.shape != (n, 2) or X.shape[0] != n or val_mask.shape[0] != n:
            raise ValueError(
                f"GNNWR: coords {coords.shape}, X {X.shape}, y {y.shape}, val_mask "
                f"{val_mask.shape} must have n={n} rows"
            )
        if t is not None and np.asarray(t).reshape(-1).shape[0] != n:
            raise ValueError(f"GNNWR: t must have n={n} entries")
        for name, arr in (("coords", coords), ("X", X), ("y", y)):
            if not np.isfinite(arr).all():
                raise ValueError(f"GNNWR: {name} contains NaN or inf")
        if val_mask.all() or not val_mask.any():
            raise ValueError("GNNWR: val_mask must mark some, but not all, rows for validation")
        self.settings, self.spherical, self.time_period = settings, spherical, time_period
        self.temporal = t is not None
        self.device = resolve_device(device)
        tr = ~val_mask
        # covariate scaling (z-score on the training rows) and OLS on the scaled design
        self.x_mean = X[tr].mean(0)
        sd = X[tr].std(0)
        self.x_sd = np.where(sd > 0, sd, 1.0)
        xs = self._design(X)
        if settings.ols_ridge > 0:
            pen = np.full(xs.shape[1], settings.ols_ridge * tr.sum())
            pen[0] = 0.0
            self.beta_ols = np.linalg.solve(xs[tr].T @ xs[tr] + np.diag(pen), xs[tr].T @ y[tr])
        else:
            self.beta_ols = np.linalg.lstsq(xs[tr], y[tr], rcond=None)[0]
        # reference points
        gen = np.random.default_rng(settings.seed)
        ref = np.flatnonzero(tr)
        if self.temporal and settings.max_reference and len(ref) > settings.max_reference:
            ref = np.sort(gen.choice(ref, settings.max_reference, replace=False))
        self.ref_coords = coords[ref]
        self.ref_t = None if t is None else np.asarray(t, np.float64).reshape(-1)[ref]
        t_all = None if t is None else np.asarray(t, np.float64).reshape(-1)
        raw = self._raw_features(coords[tr], None if t_all is None else t_all[tr])
        self.d_scale = float(raw[..., 0].max()) or 1.0
        self.t_scale = (float(raw[..., 1].max()) or 1.0) if self.temporal else 1.0
        self.history = TrainHistory()
        self.net = self._train(
            self._features(coords[tr], None if t_all is None else t_all[tr]), xs[tr], y[tr],
            self._features(coords[val_mask], None if t_all is None else t_all[val_mask]),
            xs[val_mask], y[val_mask], progress,
        )

    # ------------------------------------------------------------------ features
    def _design(self, X: np.ndarray) -> np.ndarray:
        xs = (X - self.x_mean) / self.x_sd
        return np.hstack([np.ones((len(X), 1)), xs])

    def _raw_features(self, coords: np.ndarray, t: np.ndarray | None) -> torch.Tensor:
        """``[m, R, 1 or 2]`` unscaled (spatial, temporal) distances to the reference points."""
        q = torch.from_numpy(np.array(coords, np.float64))
        r = torch.from_numpy(np.array(self.ref_coords, np.float64))
        ds = pairwise_distance(q, r, self.spherical)
        if not self.temporal:
            return ds[..., None]
        dt = (torch.from_numpy(np.array(t, np.float64))[:, None]
              - torch.from_numpy(self.ref_t)[None, :]).abs()
        if self.time_period is not None:
            dt = torch.minimum(dt, self.time_period - dt)
        return torch.stack([ds, dt], -1)

    def _features(self, coords: np.ndarray, t: np.ndarray | None) -> torch.Tensor:
        raw = self._raw_features(coords, t)
        scale = torch.tensor([self.d_scale, self.t_scale][: raw.shape[-1]], dtype=raw.dtype)
        f = (raw / scale).float()
        return f if self.temporal else f[..., 0]

    # ------------------------------------------------------------------ training
    def _train(
        self, f_tr: torch.Tensor, x_tr: np.ndarray, y_tr: np.ndarray,
        f_va: torch.Tensor, x_va: np.ndarray, y_va: np.ndarray,
        progress: Callable[[int, float, float], None] | None = None,
    ) -> GNNWRNet:
        s = self.settings
        dev = self.device
        devices = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(s.seed)
            net = GNNWRNet(f_tr.shape[1], torch.from_numpy(self.beta_ols), s, self.temporal)
            net = net.to(dev)
            opt_cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                       "adagrad": torch.optim.Adagrad}[s.optimizer]
            opt = opt_cls(net.parameters(), lr=s.lr, weight_decay=s.weight_decay)
            f_tr, f_va = f_tr.to(dev), f_va.to(dev)
            xt = torch.from_numpy(x_tr).float().to(dev)
            yt = torch.from_numpy(y_tr).float().to(dev)
            xv = torch.from_numpy(x_va).float().to(dev)
            yv = torch.from_numpy(y_va).float().to(dev)
            gen = torch.Generator().manual_seed(s.seed)
            n = len(yt)
            best, best_state, stale, score = math.inf, None, 0, math.inf
            recent: collections.deque = collections.deque(maxlen=s.average_last)
            for epoch in range(s.max_epochs):
                net.train()
                perm = torch.randperm(n, generator=gen).to(dev)
                total = 0.0
                for b in range(0, n, s.batch_size):
                    ib = perm[b : b + s.batch_size]
                    if len(ib) < 2 and s.batch_norm:
                        continue  # BatchNorm cannot train on a single sample
                    pred, _ = net(f_tr[ib], xt[ib])
                    loss = torch.mean((pred - yt[ib]) ** 2)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(ib)
                net.eval()
                with torch.no_grad():
                    val = float(torch.mean((net(f_va, xv)[0] - yv) ** 2))
                self.history.train_loss.append(total / n)
                self.history.val_loss.append(val)
                if progress is not None:
                    progress(epoch, total / n, val)
                # early stopping on the (optionally exponentially smoothed) validation loss
                a = s.val_smoothing
                score = val if epoch == 0 or a == 0 else a * score + (1.0 - a) * val
                if s.average_last > 1:
                    recent.append(copy.deepcopy(net.state_dict()))
                if score < best:
                    best, stale = score, 0
                    best_state = (_mean_state(list(recent)) if s.average_last > 1
                                  else copy.deepcopy(net.state_dict()))
                    self.history.best_epoch = epoch
                else:
                    stale += 1
                    if stale >= s.patience:
                        break
            net.load_state_dict(best_state)
            net.eval()
        return net

    # ------------------------------------------------------------------ prediction
    def predict(
        self, coords: np.ndarray, X: np.ndarray, t: np.ndarray | None = None,
        batch: int = 4096,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and local coefficients (in the units of ``X``) at any points.

        Args:
            coords: ``[m, 2]`` coordinates.
            X: ``[m, k]`` covariates without the constant.
            t: ``[m]`` times (GTNNWR only).
            batch: rows per forward pass.

        Returns:
            ``(y_hat [m], beta [m, p])`` with ``beta`` intercept first.
        """
        X = np.asarray(X, np.float64)
        X = X[:, None] if X.ndim == 1 else X
        coords = np.asarray(coords, np.float64)
        if self.temporal and t is None:
            raise ValueError("GTNNWR.predict: t is required")
        if coords.shape != (len(X), 2):
            raise ValueError(f"GNNWR.predict: coords {coords.shape} and X {X.shape} disagree")
        xs = self._design(X)
        preds, ws = [], []
        with torch.no_grad():
            for s in range(0, len(X), batch):
                f = self._features(coords[s : s + batch],
                                   None if t is None else np.asarray(t)[s : s + batch])
                xb = torch.from_numpy(xs[s : s + batch]).float().to(self.device)
                pr, w = self.net(f.to(self.device), xb)
                preds.append(pr.cpu().numpy())
                ws.append(w.cpu().numpy())
        yhat = np.concatenate(preds).astype(np.float64)
        beta_s = np.concatenate(ws).astype(np.float64) * self.beta_ols  # scaled units
        beta = beta_s.copy()
        beta[:, 1:] = beta_s[:, 1:] / self.x_sd
        beta[:, 0] = beta_s[:, 0] - (beta_s[:, 1:] * self.x_mean / self.x_sd).sum(1)
        return yhat, beta
