"""Params of the few-shot baselines: GWR, GTWR, GNNWR and GTNNWR settings, and stages
``fewshot_weekly`` and ``fewshot_joint`` (paper Section 4.3).

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class GWRFewshotConfig:
    """GWR settings (mgwr conventions; ``ridge`` 0 = exactly mgwr's estimator).

    Attributes:
        backend: ``stcg`` (our batched GWR, the default) or ``mgwr`` (mgwr 2.2.1 itself, to
            regenerate Table 2's GWR column with the reference package; needs ``ridge: 0``).
        kernel: bisquare | gaussian | exponential.
        fixed: fixed distance (km) bandwidth instead of an adaptive neighbour count.
        criterion: bandwidth selection criterion.
        bw_min: lower end of the search (None: mgwr's 40 + 2 p).
        bw_max: upper end (None: mgwr's n).
        ridge: scale-free ridge on the local normal equations (collinear ERA5-Land bands).
    """

    kernel: Literal["bisquare", "gaussian", "exponential"] = "bisquare"
    fixed: bool = False
    criterion: Literal["AICc", "AIC", "BIC", "CV"] = "AICc"
    bw_min: float | None = None
    bw_max: float | None = None
    ridge: float = 1.0e-6
    backend: Literal["stcg", "mgwr"] = "stcg"

    def validate(self) -> None:
        """mgwr has no ridge."""
        if self.backend == "mgwr" and self.ridge != 0:
            raise ValueError(
                f"ridge: backend mgwr has no ridge, got ridge {self.ridge}; set ridge: 0 "
                "(or backend: stcg)"
            )


@dataclasses.dataclass(frozen=True)
class GTWRFewshotConfig:
    """GTWR settings.

    Attributes:
        kernel, bw_min, bw_max, ridge: as for GWR (bandwidth in neighbours).
        criterion: AICc | AIC | BIC | CV (in-sample, mgwr's forms) or ``holdout``: RMSE at
            held-out *training cells* (all their periods) of a fit without them.
        holdout_fraction: share of the training cells the ``holdout`` criterion holds out.
        seed: seed of that holdout draw.
        tau_ratio: search range of ``sqrt(tau) * 1 period / s``, with ``s`` the median distance
            between neighbouring sampled cells: how many neighbour spacings one period weighs.
        rounds: bandwidth-then-tau golden-section passes.
        tol: stopping tolerance of each golden section on the criterion (mgwr: 1e-6 for AICc;
            1e-4 is ample for the holdout RMSE in gC m-2 d-1).
        cyclic_time: period 45 neighbours period 0 (climatological year).
        workers: k-d-tree query threads.
    """

    kernel: Literal["bisquare", "gaussian", "exponential"] = "bisquare"
    criterion: Literal["AICc", "AIC", "BIC", "CV", "holdout"] = "holdout"
    holdout_fraction: float = 0.2
    seed: int = 0
    bw_min: float | None = None
    bw_max: float | None = 1500
    tau_ratio: tuple[float, float] = (0.1, 10.0)
    rounds: int = 1
    tol: float = 1.0e-4
    ridge: float = 1.0e-6
    cyclic_time: bool = True
    workers: int = 1

    def validate(self) -> None:
        """The tau range must be positive and increasing."""
        lo, hi = self.tau_ratio
        if not 0 < lo < hi:
            raise ValueError(f"tau_ratio: expected 0 < lo < hi, got {self.tau_ratio}")
        if not 0.0 < self.holdout_fraction < 0.5:
            raise ValueError(f"holdout_fraction: expected in (0, 0.5), got {self.holdout_fraction}")


@dataclasses.dataclass(frozen=True)
class GNNWRSettings:
    """Hyper-parameters of GNNWR / GTNNWR (:mod:`stcg.baselines.spatial.gnnwr`).

    Defaults are ``fewshot_weekly.gnnwr``'s values; ``fewshot_joint.gtnnwr`` sets its own sizes.

    Attributes:
        hidden: SWNN hidden widths; empty = gnnwr's default (powers of two halving from
            ``2^floor(log2 R)`` while larger than the number of coefficients).
        max_hidden: cap on the default widths (keeps the first layer affordable).
        stpnn_hidden: GTNNWR's STPNN hidden widths.
        dropout: dropout after each SWNN hidden layer.
        batch_norm: batch normalisation in the SWNN hidden layers.
        prelu_init: initial slope of the PReLU activations (gnnwr: 0.4).
        optimizer: ``adam``, ``adamw`` or ``adagrad`` (gnnwr's default).
        lr: learning rate.
        weight_decay: weight decay.
        batch_size: mini-batch size.
        max_epochs: epoch cap.
        patience: stop after this many epochs without a better validation loss.
        max_reference: GTNNWR reference points (0 = all training observations).
        ols_ridge: ridge ``lambda`` of the base coefficients, ``(X'X + lambda n I) b = X'y`` on
            the z-scored covariates, intercept unpenalised (0 = OLS, as the gnnwr package).
        seed: seed of initialisation, shuffling, dropout and reference sampling.
        val_smoothing: early stopping on an exponential moving average of the validation
            loss, ``s_e = a s_(e-1) + (1 - a) v_e`` with ``a = val_smoothing`` (0 = the raw loss,
            gnnwr's rule).
        average_last: keep the mean of the weights of the ``average_last`` epochs ending at the
            best (smoothed) validation epoch instead of that epoch's alone (1 = the best alone).
            The code defaults (0, 1) are gnnwr's rule; ``fewshot_weekly.gnnwr`` sets 0.9 and 10,
            which lower GNNWR's seed spread on the few-shot data (week 30, 10 seeds: test RMSE
            sd 0.042 -> 0.025; ``reports/bench/gnnwr_stability*.json``).
    """

    hidden: tuple[int, ...] = ()
    max_hidden: int = 256
    stpnn_hidden: tuple[int, ...] = (3,)
    dropout: float = 0.0
    batch_norm: bool = True
    prelu_init: float = 0.4
    optimizer: Literal["adam", "adamw", "adagrad"] = "adam"
    lr: float = 0.01
    weight_decay: float = 0.001
    batch_size: int = 128
    max_epochs: int = 300
    patience: int = 50
    max_reference: int = 1024
    ols_ridge: float = 0.001
    seed: int = 0
    val_smoothing: float = 0.0
    average_last: int = 1

    def validate(self) -> None:
        """Raise ValueError on an impossible setting."""
        if self.optimizer not in ("adam", "adamw", "adagrad"):
            raise ValueError(f"optimizer: expected adam|adamw|adagrad, got {self.optimizer!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected [0, 1), got {self.dropout}")
        if not 0.0 <= self.val_smoothing < 1.0:
            raise ValueError(f"val_smoothing: expected [0, 1), got {self.val_smoothing}")
        for name in ("batch_size", "max_epochs", "patience", "average_last"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr: expected > 0, got {self.lr}")


@dataclasses.dataclass(frozen=True)
class NNWRFewshotConfig(GNNWRSettings):
    """Sections ``fewshot_weekly.gnnwr`` / ``fewshot_joint.gtnnwr``: :class:`GNNWRSettings` plus
    the share of training cells kept for early stopping (``val_fraction``) and the number of
    seeds (``seeds``: runs with ``seed, seed + 1, ...``; metrics are their mean and sd)."""

    val_fraction: float = 0.1
    seeds: int = 1

    def validate(self) -> None:
        """The settings must be possible and the validation share must leave training cells."""
        super().validate()
        if self.seeds < 1:
            raise ValueError(f"seeds: expected >= 1, got {self.seeds}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction: expected in (0, 0.5), got {self.val_fraction}")


@dataclasses.dataclass(frozen=True)
class FewshotWeeklyConfig:
    """Stage ``fewshot_weekly``: GWR and GNNWR, one model per week (DVC matrix over weeks)."""

    gwr: GWRFewshotConfig
    gnnwr: NNWRFewshotConfig
    device: str = "auto"


@dataclasses.dataclass(frozen=True)
class FewshotJointConfig:
    """Stage ``fewshot_joint``: GTWR (and GTNNWR) on all 46 periods jointly."""

    gtwr: GTWRFewshotConfig
    gtnnwr: NNWRFewshotConfig
    device: str = "auto"
