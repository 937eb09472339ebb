"""Params of the ``faithfulness`` stage: the identifiable varying-coefficient benchmark
(:mod:`stcg.report.faithfulness`).

A module of its own, not ``report/config.py``: the benchmark fits STCG variants, GWR and GTWR,
so its schema imports theirs, and the other report stages need not depend on them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

from stcg.data.config import SplitConfig
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.fewshot.config import GTWRFewshotConfig, GWRFewshotConfig
from stcg.train.config import AblationVariant, OptimConfig


@dataclasses.dataclass(frozen=True)
class FaithfulnessConfig:
    """Stage ``faithfulness``: coefficient recovery on a varying-coefficient truth.

    Attributes:
        seed: the truth, the inputs, the noise, the graph and the models.
        resolution: grid spacing in degrees of the land grid the data live on.
        splits: training and test (held-out) years.
        score_periods: periods (0..45) of the test year that are scored (GWR fits one per period).
        n_zero: inputs whose coefficient is exactly 0 everywhere (of the 26).
        coef_scale: bound of every non-zero coefficient (GPP per unit of z).
        coef_length_km: correlation length of the coefficient and climatology fields.
        intercept_mean, intercept_amplitude: ``b_0`` = mean + amplitude tanh(field).
        input_mean_sd: amplitude of the inputs' local climatology (z units).
        input_correlation: pairwise correlation of the inputs' anomalies, in [0, 1).
        noise: standard deviation of the observation noise (gC m-2 d-1).
        clusters: graph nodes (K-means clusters); the other graph params are ``build_graph``'s.
        window: the STCG window L.
        optim: every STCG variant's training budget.
        variants: STCG variants: name -> overrides of ``train_stcg.model`` (``model``; ``window``
            and ``clusters`` are not used here).
        gwr: GWR per scored period (bandwidth by ``criterion`` on that period's training rows).
        gtwr: GTWR on ``gtwr_max_rows`` random training rows of all periods.
        gtwr_max_rows: GTWR's calibration rows (its cost grows with rows x bandwidth).
        threads: torch CPU threads (0 = torch's default).
        device: auto | cpu | cuda.
    """

    seed: int
    resolution: float
    splits: SplitConfig
    score_periods: tuple[int, ...]
    variants: Mapping[str, AblationVariant]
    optim: OptimConfig
    n_zero: int = 16
    coef_scale: float = 0.5
    coef_length_km: float = 3000.0
    intercept_mean: float = 20.0
    intercept_amplitude: float = 2.0
    input_mean_sd: float = 1.0
    input_correlation: float = 0.2
    noise: float = 0.5
    clusters: int = 40
    window: int = 2
    gwr: GWRFewshotConfig = GWRFewshotConfig()
    gtwr: GTWRFewshotConfig = GTWRFewshotConfig()
    gtwr_max_rows: int = 20000
    threads: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def validate(self) -> None:
        """Periods in range, at least one variant, sane sizes."""
        from stcg.data.schema import grid_shape

        grid_shape(self.resolution)
        bad = [p for p in self.score_periods if not 0 <= p < PERIODS_PER_YEAR]
        if bad or not self.score_periods:
            raise ValueError(f"score_periods: expected periods in 0..{PERIODS_PER_YEAR - 1}, "
                             f"got {list(self.score_periods)}")
        if not self.variants:
            raise ValueError("variants: name at least one STCG variant")
        if not 0.0 <= self.input_correlation < 1.0:
            raise ValueError(f"input_correlation: must be in [0, 1), got {self.input_correlation}")
        for name in ("coef_scale", "coef_length_km", "noise", "clusters", "gtwr_max_rows"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.n_zero < 0 or self.threads < 0 or not 1 <= self.window <= PERIODS_PER_YEAR:
            raise ValueError("n_zero >= 0, threads >= 0 and window in 1..46")


