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
``reduceResolution`` -- mean for ERA5-Land and GPP, mode for land cover -- in steps that combine
at most :data:`MAX_STEP` (12) input pixels per side, i.e. 144 per output pixel, with
``maxPixels`` at most :data:`MAX_PIXELS` (169: one pixel of margin per side for edge pixels that
touch an output pixel).  PML_V2's ~500 m pixels (1/240 degree) go through 0.05 and 0.5 degree
(12 x 12, then 10 x 10 pixels) instead of 120 x 120 at once, which the Earth Engine docs warn runs
out of memory.  Note the classic pitfall this handles: a temporal composite loses its native
projection, so it is given back (``setDefaultProjection``) before ``reduceResolution``.

Land grid: a cell is kept when its majority land cover in ``mask_year`` (default the first year)
is not one of ``exclude_land_cover`` (default water 0 and permanent snow / ice 15), ERA5-Land has
data there, and it lies north of ``min_lat`` (PML_V2 covers 60S..90N).  The cell set is fixed
for all years; each row carries the land cover of its own year.

Outputs (per year, to Google Drive folder or Cloud Storage bucket):

* ``csv`` (default): one table per year, one row per (land cell, period), columns
  ``system:index, land_cover, year, period, <variables>, gpp, .geo`` (``.geo`` is the cell centre
  as a GeoJSON point; missing values are empty fields).  One task per year, or per block of
  ``periods_per_task`` periods (``--periods-per-task``; smaller tasks when one runs out of memory
  or time).  ``digits`` (``--digits``) rounds every band to that many significant digits of its
  plausible range (``schema.VARIABLES[...].lo/hi``) on Earth Engine, which shortens the CSV.
* ``geotiff``: one multi-band GeoTIFF per (year, period), bands ``land_cover, <variables>, gpp``,
  float32, no-data -9999, on the grid itself.  46 tasks per year.

Idempotent and resumable: every unit of work (a year, or a year-period for GeoTIFF) has an
Earth Engine task description and a file prefix that contain a digest of the recipe.  A unit is
skipped when its files are already in the local directory (``data/files/`` by default), when the
local manifest (``gee_manifest.json``) records it as completed, or when Earth Engine lists a
completed or running task of that description.  Failed and cancelled units are resubmitted.

Authentication (``earthengine authenticate`` or a service account): README, "Reproducing with
the real data".

``earthengine-api`` is the optional extra ``gee`` (``pip install -e '.[gee]'``); it is imported
lazily, so nothing else in ``stcg`` needs it.

Deviations: the paper does not say how it reduced to its grid nor which cells count as land; the
choices above are ours.  Its end date 2020-12-17 drops 2020's last two periods
(:mod:`stcg.data.periods`); ``--end 2020-12-31`` keeps them.

Modules: :mod:`~stcg.data.gee.recipe` (the recipe and the plan, pure Python),
:mod:`~stcg.data.gee.images` (the Earth Engine image graph and tasks), :mod:`~stcg.data.gee.tasks`
(running the export: states, manifest, resume), :mod:`~stcg.data.gee.cli` (option parsing of
``stcg gee-export``).
"""

from __future__ import annotations

from stcg.data.gee.cli import (
    parse_years,
    recipe_from_options,
)
from stcg.data.gee.images import (
    GeeUnavailable,
    cell_mask,
    coarsen,
    era5_period,
    gpp_period,
    grid_projection,
    grid_region,
    grid_transform,
    import_ee,
    init_ee,
    land_cover,
    land_cover_year,
    make_task,
    period_image,
    table_selectors,
    year_table,
)
from stcg.data.gee.recipe import (
    ERA5_LAND_DAILY,
    ERA5_LAND_RES,
    LAND_COVER,
    MAX_PIXELS,
    MAX_STEP,
    MCD12C1,
    MCD12C1_BAND,
    MCD12C1_RES,
    MCD12C1_YEARS,
    NODATA,
    PML_BAND,
    PML_RES,
    PML_VERSIONS,
    ExportRecipe,
    ExportUnit,
    PmlVersion,
    agg_rule,
    aggregate_daily,
    coarsening_steps,
    max_pixels,
    plan_units,
    resolution_tag,
    round_values,
    rounding_factors,
    rounding_quanta,
)
from stcg.data.gee.tasks import (
    ACTIVE,
    DONE,
    LOCAL,
    OPERATION_STATES,
    EeBackend,
    TaskBackend,
    TaskInfo,
    load_manifest,
    local_outputs,
    operation_info,
    run_export,
    write_bands_sidecar,
)

__all__ = [
    "ACTIVE",
    "DONE",
    "ERA5_LAND_DAILY",
    "ERA5_LAND_RES",
    "EeBackend",
    "ExportRecipe",
    "ExportUnit",
    "GeeUnavailable",
    "LAND_COVER",
    "LOCAL",
    "MAX_PIXELS",
    "MAX_STEP",
    "MCD12C1",
    "MCD12C1_BAND",
    "MCD12C1_RES",
    "MCD12C1_YEARS",
    "NODATA",
    "OPERATION_STATES",
    "PML_BAND",
    "PML_RES",
    "PML_VERSIONS",
    "PmlVersion",
    "TaskBackend",
    "TaskInfo",
    "agg_rule",
    "aggregate_daily",
    "cell_mask",
    "coarsen",
    "coarsening_steps",
    "era5_period",
    "gpp_period",
    "grid_projection",
    "grid_region",
    "grid_transform",
    "import_ee",
    "init_ee",
    "land_cover",
    "land_cover_year",
    "load_manifest",
    "local_outputs",
    "make_task",
    "max_pixels",
    "operation_info",
    "parse_years",
    "period_image",
    "plan_units",
    "recipe_from_options",
    "resolution_tag",
    "round_values",
    "rounding_factors",
    "rounding_quanta",
    "run_export",
    "table_selectors",
    "write_bands_sidecar",
    "year_table",
]
