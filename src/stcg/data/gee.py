"""The paper's Climate2GPP recipe on Google Earth Engine: ``stcg gee-export``.

Paper Section 4.1 builds Climate2GPP on Earth Engine from 2001-01-01 to 2020-12-17 with an 8-day
step.  This module rebuilds that recipe, exports it per year, and keeps track of the export so a
second run only does what is missing.  The exports are ingested by the ``files`` source of stage
``build_data`` (:mod:`stcg.data.files`).

Collections (exact Earth Engine IDs; catalog facts checked against the public catalog sources,
``google/earthengine-catalog``):

* ``ECMWF/ERA5_LAND/DAILY_AGGR`` -- ERA5-Land daily aggregates (catalog version 1.0.0, 0.1 degree,
  1950-01-02 onwards).  The 26 bands of ``params.yaml: build_data.variables``.  Flow bands carry
  the suffix ``_sum`` and hold the daily total; they are **summed** over the days of each 8-day
  period (radiation, heat fluxes, evaporation, precipitation).  Every other band is a daily mean
  and is **averaged** over the period (paper Section 4.1; ``schema.VARIABLES[...].agg``).  The last
  period of a year has 5 or 6 days and its sums cover only those days.
* ``MODIS/061/MCD12C1`` -- MCD12C1 version 6.1, yearly, 0.05 degree, 2001-2022, band
  ``Majority_Land_Cover_Type_1`` (IGBP 0..16).  Coarsened by majority (mode).  A year outside the
  collection's years takes its nearest year (recorded in the manifest).
* PML_V2 8-day GPP, band ``GPP``, gC m-2 d-1, one image per 8-day period stamped with the period's
  first day.  The paper used PML_V2 **0.1.7**; three versions are on Earth Engine
  (:data:`PML_VERSIONS`, option ``--pml``):

  - ``v017`` (default, the paper's): ``CAS/IGSNRR/PML/V2_v017``, 2000-02-26 .. 2020-12-26,
    status *deprecated* in the catalog (still listed; Earth Engine may remove deprecated assets).
    GPP is stored in physical units: scale 1.
  - ``v018``: ``CAS/IGSNRR/PML/V2_v018`` (PML-V2.1.8, renamed from 0.1.8), 2000-02-26 ..
    2023-12-27, deprecated, superseded by V2.2a.  Scale 1.
  - ``v22a``: ``projects/pml_evapotranspiration/PML/OUTPUT/PML_V22a`` (PML-V2.2a, a publisher
    dataset of the Large Scale Hydrology Lab, status beta), 2000-03-05 .. 2024-12-26.  GPP is
    stored as integers x 100: scale **0.01**.

  The scale is applied on Earth Engine before export, so every export holds gC m-2 d-1 and
  ``build_data.files.gpp_scale`` stays 1.0.  ``--gpp-scale`` overrides it should a catalog entry
  change; ingestion's range check (GPP above 40) names a forgotten factor.

Spatial reduction: everything is reduced to the global equirectangular grid of the chosen
resolution (``EPSG:4326``, origin 180W / 90N, the grid of ``schema.cell_id_for``) with
``reduceResolution`` -- mean for ERA5-Land and GPP, mode for land cover -- in steps of at most 128
native pixels per side (PML_V2's ~500 m pixels go through 0.5 degree first).  Note the classic
pitfall this handles: a temporal composite loses its native projection, so it is given back
(``setDefaultProjection``) before ``reduceResolution``.

Land grid: a cell is kept when its majority land cover in ``mask_year`` (default the first year)
is not one of ``exclude_land_cover`` (default water 0 and permanent snow / ice 15), ERA5-Land has
data there, and it lies north of ``min_lat`` (PML_V2 covers 60S..90N).  The cell set is fixed
for all years; each row carries the land cover of its own year.

Outputs (per year, to Google Drive folder or Cloud Storage bucket):

* ``csv`` (default): one table per year, one row per (land cell, period), columns
  ``system:index, land_cover, year, period, <variables>, gpp, .geo`` (``.geo`` is the cell centre
  as a GeoJSON point; missing values are empty fields).  One task per year.
* ``geotiff``: one multi-band GeoTIFF per (year, period), bands ``land_cover, <variables>, gpp``,
  float32, no-data -9999, on the grid itself.  46 tasks per year.

Idempotent and resumable: every unit of work (a year, or a year-period for GeoTIFF) has an
Earth Engine task description and a file prefix that contain a digest of the recipe.  A unit is
skipped when its files are already in the local directory (``data/files/`` by default), when the
local manifest (``gee_manifest.json``) records it as completed, or when Earth Engine lists a
completed or running task of that description.  Failed and cancelled units are resubmitted.

Authentication (one of):

* ``earthengine authenticate`` once (browser OAuth; stores credentials in
  ``~/.config/earthengine/``), then ``stcg gee-export --project MY-CLOUD-PROJECT``: a Google Cloud
  project registered for Earth Engine is required (also read from ``EE_PROJECT``);
* a service account: ``--service-account NAME@PROJECT.iam.gserviceaccount.com --key-file
  key.json`` (the account must be registered for Earth Engine and, for ``--destination gcs``,
  may write to the bucket).

``earthengine-api`` is the optional extra ``gee`` (``pip install -e '.[gee]'``); it is imported
lazily, so nothing else in ``stcg`` needs it.

Deviations: the paper does not say how it reduced to its grid nor which cells count as land; the
choices above are ours.  Its end date 2020-12-17 drops 2020's last two periods
(:mod:`stcg.data.periods`); ``--end 2020-12-31`` keeps them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from stcg.data.periods import period_bounds, period_of, periods_between
from stcg.data.schema import TARGET, VARIABLES, check_variables, grid_shape
from stcg.io import read_json, write_json

# ---- collections ---------------------------------------------------------------------------

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
MAX_STEP = 128
"""Most native pixels per side that one ``reduceResolution`` step combines."""
_GRID_STEPS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


class GeeUnavailable(RuntimeError):
    """``earthengine-api`` is not installed or Earth Engine cannot be initialised."""


def agg_rule(band: str) -> Literal["sum", "mean"]:
    """How an ERA5-Land DAILY_AGGR band is aggregated to 8 days: ``*_sum`` summed, else mean."""
    return "sum" if band.endswith("_sum") else "mean"


# ---- the recipe (pure Python) ---------------------------------------------------------------


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
        tile_scale: Earth Engine ``tileScale`` of the table reduction (raise on memory errors).
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
        if recipe.file_format == "csv":
            units.append(ExportUnit(year, tuple(periods), f"stcg_{tag}_{year}",
                                    f"{recipe.prefix}_{tag}_{year}"))
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
        options = [g for g in _GRID_STEPS if current < g <= current * max_step
                   and abs(target / g - round(target / g)) < 1e-9]
        if not options:
            raise ValueError(f"cannot coarsen {native} to {target} degrees in steps of {max_step}")
        current = max(options)
        steps.append(current)
    steps.append(target)
    return steps


def max_pixels(native: float, target: float) -> int:
    """``maxPixels`` for one ``reduceResolution`` step (input pixels touching one output pixel)."""
    return int(math.ceil(target / native + 1.0) ** 2)


# ---- the numpy reference of the temporal aggregation ----------------------------------------


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


# ---- Earth Engine graph (needs `ee`, but no server call) ------------------------------------


def import_ee() -> Any:
    """Import ``ee`` lazily with a clear error when the optional extra is missing."""
    try:
        import ee
    except ImportError as exc:
        raise GeeUnavailable(
            "stcg gee-export needs the Earth Engine Python API: pip install -e '.[gee]' "
            "(package earthengine-api)"
        ) from exc
    return ee


def grid_projection(ee: Any, resolution: float) -> Any:
    """The global grid as an ``ee.Projection`` (EPSG:4326, origin 180W / 90N)."""
    return ee.Projection("EPSG:4326", grid_transform(resolution))


def grid_transform(resolution: float) -> list[float]:
    """Affine ``crsTransform`` of the grid."""
    return [resolution, 0, -180, 0, -resolution, 90]


def coarsen(ee: Any, image: Any, reducer: Any, native: float, resolution: float) -> Any:
    """Reduce ``image`` (in its native projection) to the grid, step by step."""
    prev = native
    for step in coarsening_steps(native, resolution):
        image = image.reduceResolution(reducer=reducer, maxPixels=max_pixels(prev, step))
        image = image.reproject(grid_projection(ee, step))
        prev = step
    return image


def era5_period(ee: Any, recipe: ExportRecipe, year: int, period: int) -> Any:
    """ERA5-Land 8-day aggregate of one period on the grid (bands = ``recipe.variables``)."""
    start, stop = period_bounds(year, period)
    days = ee.ImageCollection(ERA5_LAND_DAILY).filterDate(start.isoformat(), stop.isoformat())
    sums = [v for v in recipe.variables if agg_rule(v) == "sum"]
    means = [v for v in recipe.variables if agg_rule(v) == "mean"]
    parts = []
    if sums:
        parts.append(days.select(sums).sum())
    if means:
        parts.append(days.select(means).mean())
    image = ee.Image.cat(parts).select(list(recipe.variables))
    image = image.setDefaultProjection(days.first().projection())
    return coarsen(ee, image, ee.Reducer.mean(), ERA5_LAND_RES, recipe.resolution)


def gpp_period(ee: Any, recipe: ExportRecipe, year: int, period: int) -> Any:
    """PML_V2 GPP (gC m-2 d-1) of one period on the grid, masked where PML_V2 has no image."""
    start, stop = period_bounds(year, period)
    pml = recipe.pml_version
    coll = ee.ImageCollection(pml.collection)
    empty = ee.Image.constant(0).toFloat().rename(PML_BAND).updateMask(ee.Image.constant(0))
    image = (
        coll.filterDate(start.isoformat(), stop.isoformat())
        .select([PML_BAND])
        .merge(ee.ImageCollection([empty]))
        .mean()
    )
    scale = recipe.effective_gpp_scale
    if scale != 1.0:
        image = image.multiply(scale)
    image = image.rename(TARGET).setDefaultProjection(coll.first().select(PML_BAND).projection())
    return coarsen(ee, image, ee.Reducer.mean(), PML_RES, recipe.resolution)


def land_cover_year(year: int) -> int:
    """The MCD12C1 year used for ``year`` (nearest available)."""
    return min(max(year, MCD12C1_YEARS[0]), MCD12C1_YEARS[1])


def land_cover(ee: Any, recipe: ExportRecipe, year: int) -> Any:
    """MCD12C1 majority IGBP class of ``year`` on the grid (band ``land_cover``)."""
    y = land_cover_year(year)
    image = (
        ee.ImageCollection(MCD12C1)
        .filterDate(f"{y}-01-01", f"{y + 1}-01-01")
        .first()
        .select(MCD12C1_BAND)
        .rename(LAND_COVER)
    )
    return coarsen(ee, image, ee.Reducer.mode(), MCD12C1_RES, recipe.resolution)


def cell_mask(ee: Any, recipe: ExportRecipe) -> Any:
    """1 on the land cells (band ``cell``), masked elsewhere."""
    lc = land_cover(ee, recipe, recipe.effective_mask_year)
    classes = list(recipe.exclude_land_cover)
    keep = lc.remap(classes, [0] * len(classes), 1) if classes else lc.gte(0)
    first, stop = period_bounds(recipe.effective_mask_year, 0)
    t2m = (
        ee.ImageCollection(ERA5_LAND_DAILY)
        .filterDate(first.isoformat(), stop.isoformat())
        .first()
        .select("temperature_2m")
    )
    era5_ok = coarsen(ee, t2m, ee.Reducer.mean(), ERA5_LAND_RES, recipe.resolution).mask().gt(0)
    return keep.eq(1).And(era5_ok).selfMask().rename("cell")


def grid_region(ee: Any, recipe: ExportRecipe) -> Any:
    """The grid's extent as a planar rectangle."""
    return ee.Geometry.Rectangle([-180, recipe.min_lat, 180, 90], None, False)


def period_image(ee: Any, recipe: ExportRecipe, year: int, period: int, lc: Any) -> Any:
    """Bands ``land_cover, <variables>, gpp`` of one period on the grid."""
    return ee.Image.cat([lc, era5_period(ee, recipe, year, period),
                         gpp_period(ee, recipe, year, period)])


def year_table(ee: Any, recipe: ExportRecipe, year: int, periods: Iterable[int]) -> Any:
    """FeatureCollection of one year: a point per (land cell, period) with every band."""
    cells = cell_mask(ee, recipe).sample(
        region=grid_region(ee, recipe),
        projection=grid_projection(ee, recipe.resolution),
        geometries=True,
        dropNulls=True,
        tileScale=recipe.tile_scale,
    )
    lc = land_cover(ee, recipe, year)
    tables = []
    for p in periods:
        fc = period_image(ee, recipe, year, p, lc).reduceRegions(
            collection=cells,
            reducer=ee.Reducer.first(),
            crs="EPSG:4326",
            crsTransform=grid_transform(recipe.resolution),
            tileScale=recipe.tile_scale,
        )
        tables.append(fc.map(_setter(ee, year, p)))
    return ee.FeatureCollection(tables).flatten()


def _setter(ee: Any, year: int, period: int) -> Callable[[Any], Any]:
    def set_keys(feature: Any) -> Any:
        return ee.Feature(feature).set({"year": year, "period": period})

    return set_keys


def table_selectors(recipe: ExportRecipe) -> list[str]:
    """Columns of a CSV export, in order (Earth Engine's ``system:index`` and ``.geo`` included)."""
    return ["system:index", LAND_COVER, "year", "period", *recipe.variables, TARGET, ".geo"]


def make_task(ee: Any, recipe: ExportRecipe, unit: ExportUnit) -> Any:
    """The (unstarted) ``ee.batch.Task`` of one unit."""
    dest: dict[str, Any]
    if recipe.destination == "drive":
        dest = {"folder": recipe.folder}
    else:
        dest = {"bucket": recipe.folder}
    if recipe.file_format == "csv":
        export = ee.batch.Export.table
        fn = export.toDrive if recipe.destination == "drive" else export.toCloudStorage
        return fn(
            collection=year_table(ee, recipe, unit.year, unit.periods),
            description=unit.description,
            fileNamePrefix=unit.file_prefix,
            fileFormat="CSV",
            selectors=table_selectors(recipe),
            **dest,
        )
    (period,) = unit.periods
    lc = land_cover(ee, recipe, unit.year)
    image = (
        period_image(ee, recipe, unit.year, period, lc)
        .updateMask(cell_mask(ee, recipe))
        .toFloat()
    )
    export = ee.batch.Export.image
    fn = export.toDrive if recipe.destination == "drive" else export.toCloudStorage
    _, n_lon = grid_shape(recipe.resolution)
    return fn(
        image=image,
        description=unit.description,
        fileNamePrefix=unit.file_prefix,
        crs="EPSG:4326",
        crsTransform=grid_transform(recipe.resolution),
        dimensions=f"{n_lon}x{recipe.grid_rows}",
        fileFormat="GeoTIFF",
        formatOptions={"noData": NODATA},
        maxPixels=int(1e10),
        **dest,
    )


def init_ee(
    project: str | None = None,
    service_account: str | None = None,
    key_file: Path | None = None,
) -> Any:
    """Import and initialise Earth Engine (see the module docstring for authentication)."""
    ee = import_ee()
    project = project or os.environ.get("EE_PROJECT")
    try:
        if service_account:
            if key_file is None:
                raise GeeUnavailable("--service-account needs --key-file (the JSON key)")
            credentials = ee.ServiceAccountCredentials(service_account, str(key_file))
            ee.Initialize(credentials, project=project)
        else:
            ee.Initialize(project=project)
    except GeeUnavailable:
        raise
    except Exception as exc:  # the API raises several types (EEException, auth errors)
        raise GeeUnavailable(
            f"Earth Engine could not be initialised ({exc}). Run `earthengine authenticate` "
            "once and pass --project (a Cloud project registered for Earth Engine; or set "
            "EE_PROJECT), or use --service-account with --key-file."
        ) from exc
    return ee


# ---- running the export: idempotent and resumable -------------------------------------------

DONE = "COMPLETED"
ACTIVE = ("UNSUBMITTED", "READY", "RUNNING", "CANCEL_REQUESTED")
LOCAL = "DOWNLOADED"


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """What Earth Engine reports about one task."""

    description: str
    state: str
    task_id: str
    error: str | None = None


class TaskBackend(Protocol):
    """Where tasks go: Earth Engine (:class:`EeBackend`) or a fake in tests."""

    def list_tasks(self) -> list[TaskInfo]:
        """Recent tasks of the user (most recent first)."""
        ...

    def start(self, unit: ExportUnit) -> str:
        """Submit the unit's task; return its id."""
        ...


class EeBackend:
    """Earth Engine batch tasks for ``recipe``."""

    def __init__(self, ee: Any, recipe: ExportRecipe) -> None:
        self.ee = ee
        self.recipe = recipe

    def list_tasks(self) -> list[TaskInfo]:
        """``ee.batch.Task.list()``."""
        out = []
        for task in self.ee.batch.Task.list():
            state = getattr(task.state, "value", task.state)
            desc = (task.config or {}).get("description") or ""
            out.append(TaskInfo(desc, str(state), str(task.id)))
        return out

    def start(self, unit: ExportUnit) -> str:
        """Build the graph and start the export task."""
        task = make_task(self.ee, self.recipe, unit)
        task.start()
        return str(task.id)


def local_outputs(local_dir: Path, unit: ExportUnit, file_format: str) -> list[Path]:
    """Files of ``unit`` already in ``local_dir`` (Earth Engine may tile one export)."""
    if not local_dir.is_dir():
        return []
    ext = ".csv" if file_format == "csv" else ".tif"
    hits = []
    for path in sorted(local_dir.rglob(f"{unit.file_prefix}*")):
        rest = path.name[len(unit.file_prefix):]
        if path.suffix.lower() == ext and (rest == ext or rest.startswith("-")):
            hits.append(path)
    return hits


def _best(tasks: Iterable[TaskInfo]) -> dict[str, TaskInfo]:
    """Per description, the most telling task: completed > active > the most recent other."""
    rank = {DONE: 0, **{s: 1 for s in ACTIVE}}
    best: dict[str, TaskInfo] = {}
    for t in tasks:
        cur = best.get(t.description)
        if cur is None or rank.get(t.state, 2) < rank.get(cur.state, 2):
            best[t.description] = t
    return best


def load_manifest(path: Path) -> dict[str, Any]:
    """The local manifest (empty if absent)."""
    if not path.exists():
        return {"recipes": {}, "units": {}}
    data = read_json(path)
    if not isinstance(data, dict) or "units" not in data:
        raise ValueError(f"{path}: not a gee-export manifest (no 'units')")
    data.setdefault("recipes", {})
    return data


def write_bands_sidecar(local_dir: Path, recipe: ExportRecipe) -> Path:
    """``bands.json`` beside GeoTIFF downloads: band order, for ingestion (:mod:`files`)."""
    path = local_dir / "bands.json"
    write_json(path, {"bands": recipe.bands, "digest": recipe.digest, "nodata": NODATA})
    return path


def run_export(
    recipe: ExportRecipe,
    backend: TaskBackend | None,
    manifest_path: Path,
    local_dir: Path,
    wait: bool = False,
    poll_seconds: float = 60.0,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    progress: bool = True,
) -> dict[str, int]:
    """Submit every unit of ``recipe`` that is not done yet; optionally wait for all of them.

    A unit counts as done when its files are in ``local_dir``, when the manifest records it as
    completed, or when ``backend`` lists a completed task of its description; a running task is
    left alone; a failed or cancelled one is resubmitted.  The manifest is rewritten (atomically)
    after every submission, so an interrupted run resumes where it stopped.

    Args:
        recipe: what to export.
        backend: Earth Engine (or a fake); None plans only (``--dry-run``): nothing is submitted.
        manifest_path: the local manifest JSON.
        local_dir: where the exported files are downloaded to (``data/files``).
        wait: poll until every unit is completed or failed.
        poll_seconds: seconds between polls.
        log: message sink.
        sleep: the sleep function (tests pass a no-op).
        progress: show tqdm progress bars.

    Returns:
        Counts per state (``DOWNLOADED``, ``COMPLETED``, ``SUBMITTED``, ``RUNNING``,
        ``PLANNED``; after ``wait`` also ``FAILED``, ``CANCELLED``, ``UNKNOWN``).
    """
    from tqdm.auto import tqdm

    units = plan_units(recipe)
    manifest = load_manifest(manifest_path)
    manifest["recipes"][recipe.digest] = recipe.to_json()
    entries: dict[str, dict[str, Any]] = manifest["units"]
    remote = _best(backend.list_tasks()) if backend is not None else {}
    if recipe.file_format == "geotiff" and backend is not None:
        write_bands_sidecar(local_dir, recipe)

    def save() -> None:
        write_json(manifest_path, manifest, ndigits=None)

    counts: dict[str, int] = {}
    bar = tqdm(units, desc="gee-export: submit", unit="task", disable=not progress)
    for unit in bar:
        entry = entries.setdefault(unit.key, {})
        entry.update(
            year=unit.year,
            periods=list(unit.periods),
            file_prefix=unit.file_prefix,
            digest=recipe.digest,
            land_cover_year=land_cover_year(unit.year),
        )
        files = local_outputs(local_dir, unit, recipe.file_format)
        task = remote.get(unit.description)
        if files:
            entry["state"] = LOCAL
            entry["files"] = [str(f) for f in files]
        elif task is not None and task.state == DONE:
            entry.update(state=DONE, task_id=task.task_id)
        elif entry.get("state") == DONE:
            pass  # completed earlier; Earth Engine's task list only keeps recent tasks
        elif task is not None and task.state in ACTIVE:
            entry.update(state="RUNNING", task_id=task.task_id)
        elif backend is None:
            entry["state"] = entry.get("state") or "PLANNED"  # last known, nothing submitted
        else:
            if task is not None:
                log(f"{unit.description}: previous task {task.state}; submitting again")
            entry.update(state="SUBMITTED", task_id=backend.start(unit))
            save()
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    if backend is None:
        for unit in units:
            e = entries[unit.key]
            log(f"{unit.description}: {e['state']} -> {unit.file_prefix} "
                f"(periods {unit.periods[0]}..{unit.periods[-1]})")
    else:
        save()
    if wait and backend is not None:
        counts = _wait(units, backend, entries, save, poll_seconds, log, sleep, progress)
    return counts


def _wait(
    units: list[ExportUnit],
    backend: TaskBackend,
    entries: dict[str, dict[str, Any]],
    save: Callable[[], None],
    poll_seconds: float,
    log: Callable[[str], None],
    sleep: Callable[[float], None],
    progress: bool,
) -> dict[str, int]:
    from tqdm.auto import tqdm

    final = (DONE, LOCAL, "FAILED", "CANCELLED", "UNKNOWN")
    bar = tqdm(total=len(units), desc="gee-export: done", unit="task", disable=not progress)
    while True:
        remote = _best(backend.list_tasks())
        for unit in units:
            entry = entries[unit.key]
            task = remote.get(unit.description)
            if entry.get("state") in final:
                continue
            if task is None:  # dropped off Earth Engine's (recent) task list: cannot tell
                entry["state"] = "UNKNOWN"
                log(f"{unit.description}: no longer in Earth Engine's task list; check the "
                    f"destination for {unit.file_prefix}* and run again")
                continue
            if task.state != entry.get("state"):
                entry["state"] = "RUNNING" if task.state in ACTIVE else task.state
                if task.state in ("FAILED", "CANCELLED"):
                    entry["error"] = task.error
                    log(f"{unit.description}: {task.state} {task.error or ''}".rstrip())
        save()
        states = [entries[u.key].get("state") for u in units]
        bar.n = sum(s in (DONE, LOCAL) for s in states)
        bar.refresh()
        if all(s in final for s in states):
            bar.close()
            counts: dict[str, int] = {}
            for s in states:
                counts[str(s)] = counts.get(str(s), 0) + 1
            return counts
        sleep(poll_seconds)


def parse_years(text: str | None) -> tuple[int, ...] | None:
    """``"2001-2003,2010"`` -> ``(2001, 2002, 2003, 2010)``; None or empty -> None."""
    if not text:
        return None
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                years.update(range(a, b + 1))
            else:
                years.add(int(part))
        except ValueError as exc:
            raise ValueError(f"years: expected e.g. 2001-2019,2020, got {text!r}") from exc
    return tuple(sorted(years))

