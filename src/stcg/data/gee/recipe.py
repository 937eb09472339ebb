"""The export recipe in pure Python: the collections, :class:`ExportRecipe`, the plan of export
units, the coarsening steps, and numpy references of the temporal aggregation and the rounding.
See :mod:`stcg.data.gee`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from stcg.data.periods import period_bounds, period_of, periods_between
from stcg.data.schema import (
    GPP_RANGE,
    PERIODS_PER_YEAR,
    TARGET,
    VARIABLES,
    check_variables,
    grid_shape,
)

ERA5_LAND_DAILY = "ECMWF/ERA5_LAND/DAILY_AGGR"
"""ERA5-Land daily aggregates (``*_sum`` bands: daily totals; others: daily means)."""
ERA5_LAND_RES = 0.1
"""Native ERA5-Land grid spacing in degrees."""

MCD12C1 = "MODIS/061/MCD12C1"
"""MODIS land cover, version 6.1, yearly climate-modelling grid."""
MCD12C1_BAND = "Majority_Land_Cover_Type_1"
"""IGBP majority class (0..16)."""
MCD12C1_RES = 0.05
MCD12C1_YEARS = (2001, 2022)
"""Years the catalog lists for MCD12C1.061."""

PML_RES = 1.0 / 240.0
"""PML_V2's grid spacing (~500 m) in degrees."""


@dataclasses.dataclass(frozen=True)
class PmlVersion:
    """One PML_V2 collection on Earth Engine.

    Attributes:
        key: short name used by ``--pml``.
        collection: Earth Engine ImageCollection ID.
        version: PML_V2 version string.
        gpp_scale: factor from the stored ``GPP`` values to gC m-2 d-1.
        first: first image date in the catalog.
        last: last image date in the catalog.
        status: catalog status.
    """

    key: str
    collection: str
    version: str
    gpp_scale: float
    first: str
    last: str
    status: str


PML_VERSIONS: dict[str, PmlVersion] = {
    p.key: p
    for p in (
        PmlVersion("v017", "CAS/IGSNRR/PML/V2_v017", "0.1.7", 1.0, "2000-02-26", "2020-12-26",
                   "deprecated (the paper's version)"),
        PmlVersion("v018", "CAS/IGSNRR/PML/V2_v018", "2.1.8 (was 0.1.8)", 1.0, "2000-02-26",
                   "2023-12-27", "deprecated, superseded by v22a"),
        PmlVersion("v22a", "projects/pml_evapotranspiration/PML/OUTPUT/PML_V22a", "2.2a", 0.01,
                   "2000-03-05", "2024-12-26", "beta (publisher dataset)"),
    )
}
"""The PML_V2 GPP collections; ``v017`` is the paper's."""

PML_BAND = "GPP"
LAND_COVER = "land_cover"
NODATA = -9999.0
"""No-data value of GeoTIFF exports."""
MAX_STEP = 12
"""Most input pixels per side that one ``reduceResolution`` step combines (144 per output
pixel)."""
MAX_PIXELS = (MAX_STEP + 1) ** 2
"""Largest ``maxPixels`` of any ``reduceResolution`` step: ``MAX_STEP`` squared plus a pixel of
margin per side (input pixels that touch an output pixel's edge)."""
_GRID_STEPS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


def agg_rule(band: str) -> Literal["sum", "mean"]:
    """How an ERA5-Land DAILY_AGGR band is aggregated to 8 days: ``*_sum`` summed, else mean."""
    return "sum" if band.endswith("_sum") else "mean"


@dataclasses.dataclass(frozen=True)
class ExportRecipe:
    """Everything that defines an export; the data-defining part is hashed into task names.

    Attributes:
        start: first day (inclusive).
        end: last day (inclusive); only complete periods inside ``[start, end]`` are exported.
        resolution: grid spacing in degrees (must divide 180 and 360).
        variables: ERA5-Land bands to export, in order.
        pml: key of :data:`PML_VERSIONS`.
        gpp_scale: factor applied to PML_V2's ``GPP`` (None: the catalog's, see ``PML_VERSIONS``).
        exclude_land_cover: IGBP classes that are not land cells.
        mask_year: year whose land cover defines the land cells (None: the first year).
        min_lat: southern edge of the grid (PML_V2 covers 60S..90N).
        file_format: ``csv`` (one table per year) or ``geotiff`` (one image per period).
        destination: ``drive`` (a Google Drive folder) or ``gcs`` (a Cloud Storage bucket).
        folder: the Drive folder, or the bucket for ``gcs``.
        prefix: file-name prefix.
        years: export only these years (None: every year of the span).
        tile_scale: Earth Engine ``tileScale`` of the table reduction (1..16; raise on memory
            errors: smaller tiles, more of them).
        periods_per_task: CSV only: periods per export task (None: a whole year per task).
        digits: round every value to this many significant digits of its band's plausible range
            (None: full precision); changes the numbers, so it is hashed into the names.
    """

    start: dt.date = dt.date(2001, 1, 1)
    end: dt.date = dt.date(2020, 12, 17)
    resolution: float = 0.5
    variables: tuple[str, ...] = tuple(VARIABLES)
    pml: str = "v017"
    gpp_scale: float | None = None
    exclude_land_cover: tuple[int, ...] = (0, 15)
    mask_year: int | None = None
    min_lat: float = -60.0
    file_format: Literal["csv", "geotiff"] = "csv"
    destination: Literal["drive", "gcs"] = "drive"
    folder: str = "stcg_climate2gpp"
    prefix: str = "climate2gpp"
    years: tuple[int, ...] | None = None
    tile_scale: int = 4
    periods_per_task: int | None = None
    digits: int | None = None

    def __post_init__(self) -> None:
        check_variables(self.variables)
        grid_shape(self.resolution)
        if self.pml not in PML_VERSIONS:
            raise ValueError(f"pml: expected one of {sorted(PML_VERSIONS)}, got {self.pml!r}")
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if not self.periods:
            raise ValueError(f"no complete 8-day period between {self.start} and {self.end}")
        rows = (90.0 - self.min_lat) / self.resolution
        if not -90.0 <= self.min_lat < 90.0 or abs(rows - round(rows)) > 1e-9:
            raise ValueError(
                f"min_lat {self.min_lat} must lie on the {self.resolution}-degree grid in [-90, 90)"
            )
        if self.file_format not in ("csv", "geotiff"):
            raise ValueError(f"file_format: expected csv or geotiff, got {self.file_format!r}")
        if self.destination not in ("drive", "gcs"):
            raise ValueError(f"destination: expected drive or gcs, got {self.destination!r}")
        if self.years is not None:
            bad = sorted(set(self.years) - set(self.all_years))
            if bad:
                raise ValueError(f"years {bad} are outside {self.start} .. {self.end}")
        if not self.prefix or any(c in self.prefix for c in "/\\ "):
            raise ValueError(f"prefix must be a plain file-name prefix, got {self.prefix!r}")
        if self.gpp_scale is not None and not self.gpp_scale > 0:
            raise ValueError(f"gpp_scale must be positive, got {self.gpp_scale}")
        if not 1 <= self.tile_scale <= 16:
            raise ValueError(f"tile_scale: expected 1..16 (Earth Engine's range), got "
                             f"{self.tile_scale}")
        if self.periods_per_task is not None:
            if self.file_format != "csv":
                raise ValueError("periods_per_task splits CSV exports only (GeoTIFF exports "
                                 "are one task per period already)")
            if not 1 <= self.periods_per_task <= PERIODS_PER_YEAR:
                raise ValueError(f"periods_per_task: expected 1..{PERIODS_PER_YEAR}, got "
                                 f"{self.periods_per_task}")
        if self.digits is not None and not 2 <= self.digits <= 15:
            raise ValueError(f"digits: expected 2..15 significant digits, got {self.digits}")

    @property
    def periods(self) -> list[tuple[int, int]]:
        """Complete (year, period) pairs in ``[start, end]``."""
        return periods_between(self.start, self.end)

    @property
    def all_years(self) -> tuple[int, ...]:
        """Every year that has at least one complete period."""
        return tuple(sorted({y for y, _ in self.periods}))

    @property
    def export_years(self) -> tuple[int, ...]:
        """The years this run exports."""
        return tuple(sorted(self.years)) if self.years is not None else self.all_years

    @property
    def pml_version(self) -> PmlVersion:
        """The chosen PML_V2 collection."""
        return PML_VERSIONS[self.pml]

    @property
    def effective_gpp_scale(self) -> float:
        """The factor applied to PML_V2 ``GPP``."""
        return self.pml_version.gpp_scale if self.gpp_scale is None else float(self.gpp_scale)

    @property
    def effective_mask_year(self) -> int:
        """Year whose land cover selects the land cells."""
        return self.mask_year if self.mask_year is not None else self.all_years[0]

    @property
    def bands(self) -> list[str]:
        """Exported value columns / GeoTIFF bands, in order."""
        return [LAND_COVER, *self.variables, TARGET]

    @property
    def grid_rows(self) -> int:
        """Grid rows from 90N down to ``min_lat``."""
        return round((90.0 - self.min_lat) / self.resolution)

    def periods_of(self, year: int) -> list[int]:
        """Complete periods of ``year`` within the span."""
        return [p for y, p in self.periods if y == year]

    def data_fields(self) -> dict[str, Any]:
        """The fields that change the exported numbers (hashed into names)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "resolution": self.resolution,
            "variables": list(self.variables),
            "pml": self.pml_version.collection,
            "gpp_scale": self.effective_gpp_scale,
            "exclude_land_cover": list(self.exclude_land_cover),
            "mask_year": self.effective_mask_year,
            "min_lat": self.min_lat,
            "file_format": self.file_format,
            **({"digits": self.digits} if self.digits is not None else {}),
        }

    @property
    def digest(self) -> str:
        """8 hex digits identifying :meth:`data_fields`."""
        text = json.dumps(self.data_fields(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    def to_json(self) -> dict[str, Any]:
        """Plain-data description of the recipe (for the manifest and ``--dry-run``)."""
        pml = self.pml_version
        return {
            **self.data_fields(),
            "digest": self.digest,
            "collections": {
                "era5_land": ERA5_LAND_DAILY,
                "land_cover": f"{MCD12C1}:{MCD12C1_BAND}",
                "gpp": f"{pml.collection}:{PML_BAND} (PML_V2 {pml.version}, {pml.status})",
            },
            "aggregation": {v: agg_rule(v) for v in self.variables},
            "destination": self.destination,
            "folder": self.folder,
            "prefix": self.prefix,
            "tile_scale": self.tile_scale,
            "periods_per_task": self.periods_per_task,
        }


def resolution_tag(resolution: float) -> str:
    """``0.5 -> 'r0p5'``, ``2.5 -> 'r2p5'``, ``10.0 -> 'r10'`` (safe in file and task names)."""
    text = f"{resolution:g}".replace(".", "p")
    return f"r{text}"


@dataclasses.dataclass(frozen=True)
class ExportUnit:
    """One Earth Engine export task.

    Attributes:
        year: calendar year.
        periods: the periods it holds (a whole year for CSV, one period for GeoTIFF).
        description: the task description (unique per recipe digest and unit).
        file_prefix: output file-name prefix (Earth Engine appends ``.csv`` / ``.tif`` or
            ``-<row>-<col>.tif`` tiles).
    """

    year: int
    periods: tuple[int, ...]
    description: str
    file_prefix: str

    @property
    def key(self) -> str:
        """Manifest key."""
        return self.description


def plan_units(recipe: ExportRecipe) -> list[ExportUnit]:
    """The export tasks of ``recipe``, in time order."""
    tag = f"{resolution_tag(recipe.resolution)}_{recipe.digest}"
    units = []
    for year in recipe.export_years:
        periods = recipe.periods_of(year)
        if recipe.file_format == "csv" and recipe.periods_per_task is None:
            units.append(ExportUnit(year, tuple(periods), f"stcg_{tag}_{year}",
                                    f"{recipe.prefix}_{tag}_{year}"))
        elif recipe.file_format == "csv":
            n = recipe.periods_per_task
            for i in range(0, len(periods), n):
                block = tuple(periods[i:i + n])
                name = f"{year}_p{block[0]:02d}-p{block[-1]:02d}"
                units.append(ExportUnit(year, block, f"stcg_{tag}_{name}",
                                        f"{recipe.prefix}_{tag}_{name}"))
        else:
            for p in periods:
                units.append(ExportUnit(year, (p,), f"stcg_{tag}_{year}_p{p:02d}",
                                        f"{recipe.prefix}_{tag}_{year}_p{p:02d}"))
    return units


def coarsening_steps(native: float, target: float, max_step: int = MAX_STEP) -> list[float]:
    """Grid spacings to pass through from ``native`` to ``target`` degrees.

    Each step combines at most ``max_step`` input pixels per side; intermediate spacings are
    standard ones that divide ``target``, so every step stays on the global grid.
    """
    steps: list[float] = []
    current = native
    while target / current > max_step + 1e-9:
        options = [g for g in _GRID_STEPS if current < g <= current * max_step * (1 + 1e-9)
                   and abs(target / g - round(target / g)) < 1e-9]
        if not options:
            raise ValueError(f"cannot coarsen {native} to {target} degrees in steps of {max_step}")
        current = max(options)
        steps.append(current)
    steps.append(target)
    return steps


def max_pixels(native: float, target: float) -> int:
    """``maxPixels`` for one ``reduceResolution`` step (input pixels touching one output pixel).

    ``ratio + 1`` pixels per side (a whole ratio taken as exact despite floating point, so
    1/240 -> 0.05 degree is 13 x 13 = 169, not 14 x 14).
    """
    ratio = target / native
    if abs(ratio - round(ratio)) < 1e-6:
        ratio = float(round(ratio))
    return int((math.ceil(ratio) + 1) ** 2)


def aggregate_daily(
    dates: Sequence[dt.date], values: np.ndarray, bands: Sequence[str]
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """What the recipe computes from daily ERA5-Land values, in numpy (reference and tests).

    Args:
        dates: ``[D]`` consecutive days.
        values: ``[D, B]`` daily values of ``bands``.
        bands: band names; ``*_sum`` bands are summed over each period, others averaged.

    Returns:
        ``(keys, out)``: the complete periods ``[(year, period)]`` covered by ``dates`` and their
        aggregates ``out [P, B]``.  Periods only partly covered are left out.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape != (len(dates), len(bands)):
        raise ValueError(f"values must be [D={len(dates)}, B={len(bands)}], got {values.shape}")
    keys = [period_of(d) for d in dates]
    is_sum = np.array([agg_rule(b) == "sum" for b in bands])
    out_keys: list[tuple[int, int]] = []
    rows = []
    for key in dict.fromkeys(keys):
        first, stop = period_bounds(*key)
        idx = [i for i, k in enumerate(keys) if k == key]
        if len(idx) != (stop - first).days:
            continue
        chunk = values[idx]
        rows.append(np.where(is_sum, chunk.sum(axis=0), chunk.mean(axis=0)))
        out_keys.append(key)
    return out_keys, np.array(rows).reshape(len(rows), len(bands))


def rounding_quanta(recipe: ExportRecipe) -> list[float]:
    """The rounding step of each value band (``variables`` then ``gpp``) for ``recipe.digits``:
    ``10 ** (floor(log10(max |lo|, |hi|)) - digits + 1)`` of the band's plausible range, so
    K keeps 0.01 and J m-2 sums 1e4 at 5 digits."""
    if recipe.digits is None:
        raise ValueError("rounding_quanta needs recipe.digits")
    spans = [max(abs(VARIABLES[v].lo), abs(VARIABLES[v].hi)) for v in recipe.variables]
    spans.append(max(abs(x) for x in GPP_RANGE))
    return [10.0 ** (math.floor(math.log10(s)) - recipe.digits + 1) for s in spans]


def rounding_factors(recipe: ExportRecipe) -> tuple[list[float], list[float]]:
    """``(up, down)`` per value band: a value ``v`` is rounded as
    ``round(v * up / down) * down / up`` with whole ``up`` (steps below 1) or whole ``down``
    (steps of 1 and more), so the result is the double nearest a short decimal and prints short.
    """
    up = [round(1.0 / q) if q < 1 else 1.0 for q in rounding_quanta(recipe)]
    down = [1.0 if q < 1 else q for q in rounding_quanta(recipe)]
    return [float(u) for u in up], down


def round_values(values: np.ndarray, recipe: ExportRecipe) -> np.ndarray:
    """What :func:`period_image` computes on Earth Engine, in numpy: ``values [N, B]`` of the
    value bands rounded to ``recipe.digits`` (reference for tests and the size benchmark)."""
    up, down = (np.asarray(x) for x in rounding_factors(recipe))
    return np.round(np.asarray(values, dtype=np.float64) * up / down) * down / up
