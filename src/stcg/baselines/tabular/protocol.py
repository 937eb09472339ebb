"""AutoGluon 1.1.1's fit protocol, re-implemented for single models (paper Section 4.1).

The paper trains its machine-learning baselines with ``TabularPredictor.fit`` of AutoGluon 1.1.1
and default settings (no bagging, no stacking).  What that protocol does to each model, and what
this module reproduces without depending on AutoGluon:

* **Validation split** (``core/utils/utils.py::default_holdout_frac`` and
  ``generate_train_test_split``): a random, unstratified hold-out of the training rows, of
  fraction ``max(0.1, min(0.2, 500 / n))`` below 5000 rows, else ``max(0.01, min(0.1, 2500 / n))``.
  Every model fits on the rest and uses the hold-out for early stopping.
* **Early stopping** (``core/models/_utils.py::get_early_stopping_rounds`` with strategy
  ``"adaptive"``, and ``core/utils/early_stopping.py::AdaptiveES``): the patience grows with the
  best round, ``patience = min(10000, max(p0, round(0.3 * best_round + 20)))`` with
  ``p0 = max(round(300 * min(1, 10000 / n_train)), 20)``.

Deviation: AutoGluon draws the hold-out with scikit-learn's ``train_test_split(random_state=0)``;
we draw it with numpy's ``default_rng(seed)``: the same protocol, not the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def default_holdout_frac(num_train_rows: int) -> float:
    """AutoGluon 1.1.1's default validation fraction for ``num_train_rows`` rows."""
    if num_train_rows <= 0:
        raise ValueError(f"num_train_rows must be positive, got {num_train_rows}")
    if num_train_rows < 5000:
        return max(0.1, min(0.2, 500.0 / num_train_rows))
    return max(0.01, min(0.1, 2500.0 / num_train_rows))


def holdout_split(n: int, seed: int, frac: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n)`` into (fit, validation) positions, both sorted.

    Args:
        n: number of training rows.
        seed: random seed.
        frac: validation fraction (default: :func:`default_holdout_frac`).

    Returns:
        ``(fit_idx [n - m], val_idx [m])`` int64 arrays, ``m = max(1, round(frac * n))``.
    """
    if n < 2:
        raise ValueError(f"cannot carve a validation split from {n} row(s)")
    frac = default_holdout_frac(n) if frac is None else frac
    if not 0.0 < frac < 1.0:
        raise ValueError(f"holdout fraction must be in (0, 1), got {frac}")
    m = min(n - 1, max(1, round(frac * n)))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[m:]).astype(np.int64), np.sort(perm[:m]).astype(np.int64)


def simple_patience(num_rows_train: int, min_patience: int = 20, max_patience: int = 300,
                    min_rows: int = 10000) -> int:
    """AutoGluon's ``"simple"`` early-stopping rounds (also the adaptive minimum patience)."""
    modifier = 1.0 if num_rows_train <= min_rows else min_rows / num_rows_train
    return max(round(modifier * max_patience), min_patience)


@dataclass
class AdaptiveEarlyStopping:
    """AutoGluon's adaptive early stopping (``AdaptiveES``) with its GBM defaults.

    Call :meth:`update` once per round with the validation score (lower is better).

    Attributes:
        min_patience: floor of the patience (AutoGluon: :func:`simple_patience`).
        adaptive_rate: patience growth per best round (0.3).
        adaptive_offset: patience at round 0 (20 for the GBMs).
        max_patience: ceiling of the patience (10000).
        min_delta: an improvement must exceed this (0 for LightGBM/CatBoost, 2e-6 for XGBoost).
    """

    min_patience: int
    adaptive_rate: float = 0.3
    adaptive_offset: int = 20
    max_patience: int = 10000
    min_delta: float = 0.0
    best_round: int = -1
    best_score: float = float("inf")

    @classmethod
    def for_rows(cls, num_rows_train: int, min_delta: float = 0.0) -> AdaptiveEarlyStopping:
        """The stopper AutoGluon 1.1.1 builds for a GBM trained on ``num_rows_train`` rows."""
        return cls(min_patience=simple_patience(num_rows_train), min_delta=min_delta)

    @property
    def patience(self) -> int:
        """Current patience, from the best round so far."""
        best = max(self.best_round, 0)
        grown = round(best * self.adaptive_rate + self.adaptive_offset)
        return min(self.max_patience, max(self.min_patience, grown))

    def longest_patience(self, rounds: int) -> int:
        """The largest patience this rule can reach in a run of ``rounds`` rounds."""
        grown = round(max(rounds - 1, 0) * self.adaptive_rate + self.adaptive_offset)
        return min(self.max_patience, max(self.min_patience, grown))

    def update(self, cur_round: int, score: float) -> bool:
        """Record round ``cur_round`` (0-based) with validation ``score``; True = stop now."""
        if not np.isfinite(score):
            return True
        if self.best_round < 0 or score < self.best_score - self.min_delta:
            self.best_round, self.best_score = cur_round, float(score)
            return False
        return cur_round - self.best_round >= self.patience
