"""Params of the report stages: ``interpret``, ``figures``, ``report`` and
``fewshot_tables``.

Loaded by :func:`stcg.config.load_section` (strict keys, profiles); see ``stcg.config``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

from stcg.data.schema import PERIODS_PER_YEAR


@dataclasses.dataclass(frozen=True)
class InterpretConfig:
    """Stage ``interpret``: score attributions against the simulator's truth (oracle and nulls).

    Attributes:
        groups: group -> input features pooled into it for the dominant-group score; must cover
            every input the simulator's GPP reads and hold a group per limiting factor.
        min_gpp_true: samples with a smaller noise-free GPP (gC m-2 d-1) are not scored.
        map_weeks: weeks of the scored rows and the maps ("Week NN" = period NN - 1).
        map_attribution: the STCG attribution of the maps (``stcg.report.interpret``
            ``MAP_ATTRIBUTIONS``: weights, weights_z, weights_local, gradient, gradient_z,
            gradient_local, integrated_gradients, integrated_gradients_global).
        ig_steps: Gauss-Legendre nodes of the model's integrated gradients.
        ig_batch: path points (rows x nodes) per forward and backward pass of the model's
            integrated gradients (Captum's ``internal_batch_size``; speed only).
        truth_ig_steps: midpoint nodes of the simulator's integrated gradients.
        dpi: PNG resolution.
    """

    groups: Mapping[str, tuple[str, ...]]
    min_gpp_true: float = 0.5
    map_weeks: tuple[int, ...] = (1, 10, 20, 30)
    map_attribution: Literal["weights", "weights_z", "weights_local", "gradient", "gradient_z",
                             "gradient_local", "integrated_gradients",
                             "integrated_gradients_global"] = "gradient_local"
    ig_steps: int = 32
    ig_batch: int = 256
    truth_ig_steps: int = 64
    dpi: int = 110

    def validate(self) -> None:
        """Known features, weeks in 1..46."""
        from stcg.data.schema import VARIABLES

        unknown = sorted({f for fs in self.groups.values() for f in fs} - set(VARIABLES))
        if unknown:
            raise ValueError(f"groups: unknown feature(s) {unknown}")
        bad = [w for w in self.map_weeks if not 1 <= w <= PERIODS_PER_YEAR]
        if bad:
            raise ValueError(f"map_weeks: expected values in 1..{PERIODS_PER_YEAR}, got {bad}")
        if self.dpi < 30:
            raise ValueError(f"dpi: expected >= 30, got {self.dpi}")
        if self.ig_batch < 1:
            raise ValueError(f"ig_batch: expected >= 1, got {self.ig_batch}")
        for name in ("ig_steps", "truth_ig_steps"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name}: expected >= 2, got {getattr(self, name)}")


@dataclasses.dataclass(frozen=True)
class RegionConfig:
    """One Figure 4 region: a lon/lat box (degrees; ``lon[0] > lon[1]`` wraps the dateline),
    optionally restricted to some IGBP classes (short names such as ``EBF``; empty = all)."""

    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]
    land_cover: tuple[str, ...] = ()

    def validate(self) -> None:
        """Box inside the globe, known classes."""
        from stcg.data.schema import IGBP_SHORT

        if not (-180 <= self.lon[0] <= 180 and -180 <= self.lon[1] <= 180):
            raise ValueError(f"{self.name}: lon must be within -180..180, got {list(self.lon)}")
        if not -90 <= self.lat[0] < self.lat[1] <= 90:
            raise ValueError(f"{self.name}: lat must be ascending within -90..90, got {list(self.lat)}")
        unknown = [c for c in self.land_cover if c not in IGBP_SHORT]
        if unknown:
            raise ValueError(f"{self.name}: unknown IGBP class(es) {unknown}")


@dataclasses.dataclass(frozen=True)
class FiguresConfig:
    """Stage ``figures``: paper Figures 4-5 and the training curves.

    Attributes:
        regions: Figure 4's regions (paper: six climate-vegetation zones).
        top_features: features drawn per region (largest mean |w z|).
        map_variable: Figure 5's weight map (paper: temperature_2m).
        map_weeks: Figure 5's weeks (paper: 01, 10, 20, 30; "Week NN" = period NN - 1).
        weight_percentile: the weight colour scale is symmetric, +-this percentile of |w|.
        attribution: what Figures 4-5 show (``stcg.report.attributions.FIGURE_ATTRIBUTIONS``):
            ``weights`` (the paper's w and w z), ``weights_local`` (w and w (z - z_ref)),
            ``gradient`` / ``gradient_local`` (the target head's dy/dz instead of w).
        dpi: PNG resolution.
    """

    regions: tuple[RegionConfig, ...]
    top_features: int = 5
    map_variable: str = "temperature_2m"
    map_weeks: tuple[int, ...] = (1, 10, 20, 30)
    weight_percentile: float = 98.0
    attribution: Literal["weights", "weights_local", "gradient", "gradient_local"] = "gradient_local"
    dpi: int = 110

    def validate(self) -> None:
        """Sizes and weeks."""
        from stcg.data.schema import VARIABLES

        if not self.regions:
            raise ValueError("regions: at least one region is needed")
        if self.top_features < 1:
            raise ValueError(f"top_features: expected >= 1, got {self.top_features}")
        if self.map_variable not in VARIABLES:
            raise ValueError(f"map_variable: unknown feature {self.map_variable!r}")
        bad = [w for w in self.map_weeks if not 1 <= w <= PERIODS_PER_YEAR]
        if bad or not self.map_weeks:
            raise ValueError(f"map_weeks: expected values in 1..{PERIODS_PER_YEAR}, got {list(self.map_weeks)}")
        if not 50.0 <= self.weight_percentile <= 100.0:
            raise ValueError(f"weight_percentile: expected 50..100, got {self.weight_percentile}")
        if self.dpi < 30:
            raise ValueError(f"dpi: expected >= 30, got {self.dpi}")


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """Stage ``report``: ``reports/REPORT.md`` and the per-week few-shot RMSE plot data.

    Attributes:
        fewshot_methods: columns of ``fewshot_rmse.csv`` (and its DVC plot), in order.
    """

    fewshot_methods: tuple[str, ...] = ("gwr", "gnnwr", "gtwr", "gtnnwr", "stcg")


@dataclasses.dataclass(frozen=True)
class FewshotTablesConfig:
    """Stage ``fewshot_tables``: paper Tables 2 and 3 with the paper's numbers beside ours.

    Attributes:
        table2_methods: Table 2 columns in order (the paper's: gwr, gnnwr, gtwr, stcg).
        extra_methods: further columns shown after them when their metrics exist.
        table3_methods: Table 3 columns (paper: gnnwr vs stcg).
        table3_week: the week Table 3 reports (its test numbers are Table 2's week 40).
    """

    table2_methods: tuple[str, ...] = ("gwr", "gnnwr", "gtwr", "stcg")
    extra_methods: tuple[str, ...] = ("gtnnwr",)
    table3_methods: tuple[str, ...] = ("gnnwr", "stcg")
    table3_week: int = 40
