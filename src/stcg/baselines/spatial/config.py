"""Settings of the GNNWR / GTNNWR estimator (:mod:`stcg.baselines.spatial.gnnwr`), shared by the
few-shot sections ``fewshot_weekly.gnnwr`` and ``fewshot_joint.gtnnwr``
(:class:`stcg.fewshot.config.NNWRFewshotConfig`).

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal


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
