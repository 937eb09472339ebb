"""Params of the data stage ``build_data`` (:class:`BuildDataConfig`, with its sources'
settings :class:`SimConfig` and :class:`FilesConfig`); the few-shot dataset's ``build_fewshot``
is in :mod:`stcg.fewshot.config`.

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from stcg.config import ConfigError


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Which years train and which test (paper: 2001-2019 / 2020)."""

    train_years: tuple[int, int]
    test_years: tuple[int, int]

    def validate(self) -> None:
        """Each is an inclusive [first, last] range; they must not overlap."""
        for name, (a, b) in (("train_years", self.train_years), ("test_years", self.test_years)):
            if a > b:
                raise ValueError(f"splits.{name}: first year {a} is after last year {b}")
        if not (self.train_years[1] < self.test_years[0] or self.test_years[1] < self.train_years[0]):
            raise ValueError("splits: train_years and test_years overlap")

    @property
    def years(self) -> tuple[int, ...]:
        """Every year of both splits, ascending."""
        ys = set(range(self.train_years[0], self.train_years[1] + 1))
        ys |= set(range(self.test_years[0], self.test_years[1] + 1))
        return tuple(sorted(ys))


@dataclasses.dataclass(frozen=True)
class FilesConfig:
    """Source ``files``: ingestion of user / Earth Engine exports (see stcg.data.files)."""

    max_nan_share: float = 0.2
    max_gpp_nan_share: float = 0.5
    gpp_scale: float = 1.0
    snow_cover_units: Literal["auto", "percent", "fraction"] = "auto"

    def validate(self) -> None:
        """Shares in [0, 1], a positive GPP scale."""
        for name in ("max_nan_share", "max_gpp_nan_share"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"params.yaml: build_data.files.{name} = {v}: expected a "
                                  "share in [0, 1]")
        if not self.gpp_scale > 0:
            raise ConfigError(f"params.yaml: build_data.files.gpp_scale = {self.gpp_scale}: "
                              "expected a positive factor")


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Source ``sim``: the simulator's physics knobs (see stcg.data.sim.simulate)."""

    min_land_fraction: float = 0.5
    spinup_years: int = 2
    hidden_length_km: float = 1500.0
    synoptic_length_km: float = 800.0
    seasonal_length_km: float = 2000.0
    precip_length_km: float = 500.0
    synoptic_rho: float = 0.5
    seasonal_rho: float = 0.93
    interannual_rho: float = 0.3
    warming_k_per_year: float = 0.018
    arctic_amplification: float = 1.5
    co2_beta: float = 0.5
    gpp_noise: float = 0.12
    chunk_cells: int = 2048
    workers: int = 0

    def validate(self) -> None:
        """Positive sizes, correlations in [0, 1)."""
        for name in ("synoptic_rho", "seasonal_rho", "interannual_rho"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"sim.{name} must be in [0, 1)")
        if self.chunk_cells < 1 or self.workers < 0 or self.spinup_years < 0:
            raise ValueError("sim.chunk_cells must be >= 1, workers and spinup_years >= 0")
        if not 0.0 < self.min_land_fraction <= 1.0:
            raise ValueError("sim.min_land_fraction must be in (0, 1]")


@dataclasses.dataclass(frozen=True)
class BuildDataConfig:
    """Stage ``build_data``."""

    source: Literal["sim", "files"]
    seed: int
    resolution: float
    variables: tuple[str, ...]
    splits: SplitConfig
    files: FilesConfig = FilesConfig()
    sim: SimConfig = SimConfig()

    def validate(self) -> None:
        """Variables must be known ERA5-Land bands; the resolution must tile the globe."""
        from stcg.data.schema import check_variables, grid_shape

        check_variables(self.variables)
        if not self.resolution > 0:
            raise ValueError(
                f"resolution: got {self.resolution!r}, expected a positive grid spacing in degrees "
                "that divides 180 and 360 (e.g. 0.5, 2.5, 10)"
            )
        grid_shape(self.resolution)
