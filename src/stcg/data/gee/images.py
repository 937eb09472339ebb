"""The Earth Engine image graph of the recipe (needs ``ee``, makes no server call until a task
starts): period composites, coarsening, the land mask, the export tables and tasks, and
:func:`init_ee`.  See :mod:`stcg.data.gee`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stcg.data.gee.recipe import (
    ERA5_LAND_DAILY,
    ERA5_LAND_RES,
    LAND_COVER,
    MCD12C1,
    MCD12C1_BAND,
    MCD12C1_RES,
    MCD12C1_YEARS,
    NODATA,
    PML_BAND,
    PML_RES,
    ExportRecipe,
    ExportUnit,
    agg_rule,
    coarsening_steps,
    max_pixels,
    rounding_factors,
)
from stcg.data.periods import period_bounds
from stcg.data.schema import (
    TARGET,
    grid_shape,
)


class GeeUnavailable(RuntimeError):
    """``earthengine-api`` is not installed or Earth Engine cannot be initialised."""


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
    """Bands ``land_cover, <variables>, gpp`` of one period on the grid (rounded to
    ``recipe.digits`` significant digits when set)."""
    values = ee.Image.cat([era5_period(ee, recipe, year, period),
                           gpp_period(ee, recipe, year, period)])
    if recipe.digits is not None:
        up, down = rounding_factors(recipe)
        values = (values.toDouble().multiply(ee.Image.constant(up))
                  .divide(ee.Image.constant(down)).round()
                  .multiply(ee.Image.constant(down)).divide(ee.Image.constant(up))
                  .rename([*recipe.variables, TARGET]))
    return ee.Image.cat([lc, values])


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
