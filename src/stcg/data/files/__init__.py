"""Source ``files`` of stage ``build_data``: ingest user files into the Climate2GPP layout.

The input directory (the stage passes ``data/files/``) holds per-year files that use the schema's
column names (:mod:`stcg.data.schema`): ERA5-Land variables under their Earth Engine band names,
``gpp`` in gC m-2 d-1, ``land_cover`` (IGBP 0..16), ``period`` (0..45), and the location.  Every
file under the directory (recursively) with one of these suffixes is read:

* ``.parquet`` -- a long table.
* ``.csv`` / ``.csv.gz`` -- a long table; Earth Engine table exports are understood as they come:
  the bookkeeping column ``system:index`` is dropped, the location is read from the ``.geo``
  column (a GeoJSON point, the cell centre) when there is no ``lon`` / ``lat``, and missing values
  are empty fields.
* ``.nc`` / ``.nc4`` -- NetCDF, read with xarray (CF fill values and scale factors decoded): a
  long table (one dimension) or a grid with dimensions ``lat``/``latitude``, ``lon``/``longitude``
  and ``period`` or ``time`` (dates are mapped to the period that contains them).
* ``.tif`` / ``.tiff`` -- GeoTIFF, read with tifffile: one multi-band image per (year, period),
  as ``stcg gee-export --format geotiff`` writes them (Earth Engine's LZW, pixel-interleaved, and
  tiled ``-RRRRRRRRRR-CCCCCCCCCC.tif`` files).  Geo-referencing comes from the GeoTIFF tags
  (``ModelPixelScale`` + ``ModelTiepoint`` or ``ModelTransformation``, raster type area/point,
  geographic EPSG:4326 required), the no-data value from ``GDAL_NODATA``, the band names from the
  GDAL band descriptions (``GDAL_METADATA``), else from a ``bands.json`` beside the file (written
  by ``stcg gee-export``), else the order ``land_cover, <variables>, gpp``.  Year and period come
  from the file name (``..._2001_p07...``).  Pixels without data in every band are not land.

Location: ``cell_id`` (``schema.cell_id_for`` at ``build_data.resolution``) and/or ``lon`` +
``lat``; ids are derived from coordinates when missing and checked against them when both are
given.  Samples and ``cells.parquet`` carry cell-centre coordinates.  A cell's land cover in
``cells.parquet`` is its most frequent class over all rows (ties: the lower class); the samples
keep each year's class.  Years missing from a file are read from its name (``..._2001.csv`` or a
``year=2001`` directory).

Validation -- on any problem, :class:`IngestError` (a :class:`stcg.errors.StcgError`) names in
one line the file, the column, the value seen, what was expected and the fix, and nothing is
written (the dataset directory appears only on success):

* required columns, numbers only (row of the first offending value), complete and finite key
  columns, integral ``year``/``period``/``land_cover``/``cell_id``; ``period`` 0..45,
  ``land_cover`` 0..16, years within ``build_data.splits``, coordinates on the globe and on cell
  centres (within ``schema.CENTRE_TOLERANCE`` of a cell; corner or edge coordinates are named as
  such, as they would shift the grid by one cell);
* plausible ranges per variable (``schema.VARIABLES[...].lo/hi``, ``schema.GPP_RANGE`` after
  ``build_data.files.gpp_scale``), naming the likely unit mistake (degC for K, mm for m, hPa
  for Pa, percent for m3 m-3, W m-2 for J m-2); for GPP also the bulk of each year's values
  (99th percentile of the positive ones at least ``schema.GPP_Q99_MIN``), the hint naming the
  likeliest scale slip (x100 integers, 8-day sums, x1000, /100, /1000) and the ``gpp_scale``
  that fixes it;
* the missing share (NaN or +-inf) of every variable per year, over all of the year's files (at
  most ``files.max_nan_share``; the message names the file with the largest share) -- per year,
  not per file, because a year may come as many small GeoTIFF tiles -- and of ``gpp`` (at most
  ``files.max_gpp_nan_share``);
* duplicated (cell, year, period) rows, within and across files; every configured year present;
  with ``require_target`` (stage ``build_data``) observed GPP in every year.

Changes to the values, each counted in :class:`IngestReport` (``meta.json`` ``extra.ingest``,
then the data card) and logged as a warning:

* small negative sums of non-negative flow bands (GRIB packing noise, down to
  ``schema.negative_tolerance``) are set to 0; larger negatives are errors;
* +-inf in a value column is read as missing (and counts toward the missing share);
* ``snow_cover`` is stored in %; a fraction (0-1) is detected over all files (or set with
  ``files.snow_cover_units``) and multiplied by 100;
* masked GPP (PML_V2 has no value over some deserts and winters) stays a missing target: the
  sample is kept as model input, and training and metrics skip it;
* a file without a ``gpp`` column gets ``gpp`` missing throughout (inputs to predict from).

Modules: :mod:`~stcg.data.files.readers` (one reader per format, file discovery),
:mod:`~stcg.data.files.validation` (the checks and :class:`IngestReport`),
:mod:`~stcg.data.files.assembly` (:func:`build_from_files`: read, check, write the dataset).
"""

from __future__ import annotations

from stcg.data.files.assembly import (
    build_from_files,
    read_file,
)
from stcg.data.files.readers import (
    BANDS_SIDECAR,
    EE_GEO,
    EE_INDEX,
    SUFFIXES,
    file_kind,
    find_input_files,
    period_from_path,
    read_csv_file,
    read_geotiff_file,
    read_netcdf_file,
    read_parquet_file,
    year_from_path,
)
from stcg.data.files.validation import (
    CENTRES_FROM,
    IngestError,
    IngestReport,
    check_gpp_distribution,
    normalise_frame,
    snow_cover_factor,
)

__all__ = [
    "BANDS_SIDECAR",
    "CENTRES_FROM",
    "EE_GEO",
    "EE_INDEX",
    "IngestError",
    "IngestReport",
    "SUFFIXES",
    "build_from_files",
    "check_gpp_distribution",
    "file_kind",
    "find_input_files",
    "normalise_frame",
    "period_from_path",
    "read_csv_file",
    "read_file",
    "read_geotiff_file",
    "read_netcdf_file",
    "read_parquet_file",
    "snow_cover_factor",
    "year_from_path",
]
