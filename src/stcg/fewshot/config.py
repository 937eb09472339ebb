"""Params of the few-shot comparison (paper Section 4.3, Tables 2-3): stages ``build_fewshot``,
``fewshot_weekly`` (GWR, GNNWR) and ``fewshot_joint`` (GTWR, GTNNWR).  The STCG model's own
few-shot section, ``fewshot_stcg``, is in :mod:`stcg.train.config`.

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from stcg.baselines.spatial.config import GNNWRSettings
from stcg.data.schema import PERIODS_PER_YEAR


@dataclasses.dataclass(frozen=True)
class BuildFewshotConfig:
    """Stage ``build_fewshot``: the few-shot dataset (:mod:`stcg.fewshot.dataset`).

    Attributes:
        n_cells: cells sampled uniformly from the land grid (paper: 6000).
        test_fraction: share of the sampled cells held out (paper: 20 %).
        seed: sampling and split seed.
        land_cover: append the IGBP land-cover code as a 27th covariate.
        weeks: the paper's reported weeks ("Week NN" = period NN - 1), used in every metrics file.
    """

    n_cells: int
    test_fraction: float = 0.2
    seed: int = 0
    land_cover: bool = True
    weeks: tuple[int, ...] = (1, 10, 20, 30, 40)

    def validate(self) -> None:
        """Sizes and weeks must make sense."""
        if self.n_cells < 2:
            raise ValueError(f"n_cells: expected >= 2, got {self.n_cells}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction: expected in (0, 1), got {self.test_fraction}")
        bad = [w for w in self.weeks if not 1 <= w <= PERIODS_PER_YEAR]
        if bad:
            raise ValueError(f"weeks: expected values in 1..{PERIODS_PER_YEAR}, got {bad}")


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
        workers: k-d-tree query threads (-1 = every core).
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
class NNWRFewshotConfig(GNNWRSettings):
    """Sections ``fewshot_weekly.gnnwr`` / ``fewshot_joint.gtnnwr``: :class:`GNNWRSettings` plus
    the share of training cells kept for early stopping (``val_fraction``), the number of
    seeds (``seeds``: runs with ``seed, seed + 1, ...``; metrics are their mean and sd) and how
    many processes fit them side by side on CPU (``seed_procs``: 0 = one per seed, 1 = one after
    another; :func:`stcg.parallel.side_by_side`)."""

    val_fraction: float = 0.1
    seeds: int = 1
    seed_procs: int = 0

    def validate(self) -> None:
        """The settings must be possible and the validation share must leave training cells."""
        super().validate()
        if self.seeds < 1:
            raise ValueError(f"seeds: expected >= 1, got {self.seeds}")
        if self.seed_procs < 0:
            raise ValueError(f"seed_procs: expected >= 0 (0 = one per seed), got {self.seed_procs}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"val_fraction: expected in (0, 0.5), got {self.val_fraction}")


@dataclasses.dataclass(frozen=True)
class FewshotWeeklyConfig:
    """Stage ``fewshot_weekly``: GWR and GNNWR, one model per week (DVC matrix over methods)."""

    gwr: GWRFewshotConfig
    gnnwr: NNWRFewshotConfig
    device: str = "auto"


@dataclasses.dataclass(frozen=True)
class FewshotJointConfig:
    """Stage ``fewshot_joint``: GTWR (and GTNNWR) on all 46 periods jointly."""

    gtwr: GTWRFewshotConfig
    gtnnwr: NNWRFewshotConfig
    device: str = "auto"
