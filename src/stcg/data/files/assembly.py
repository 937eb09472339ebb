"""Assembly of the checked tables into a Climate2GPP dataset: :func:`build_from_files`, the
entry point of source ``files`` (see :mod:`stcg.data.files`).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stcg.data.config import BuildDataConfig
from stcg.data.dataset import DatasetMeta
from stcg.data.files.readers import (
    SUFFIXES,
    file_kind,
    find_input_files,
    read_csv_file,
    read_geotiff_file,
    read_netcdf_file,
    read_parquet_file,
    year_from_path,
)
from stcg.data.files.validation import (
    IngestError,
    IngestReport,
    _check_duplicates,
    _check_nan_shares,
    _check_target,
    _worst_file,
    check_gpp_distribution,
    normalise_frame,
    snow_cover_factor,
)
from stcg.data.schema import (
    SNOW_COVER,
    TARGET,
    cell_center,
)
from stcg.data.writer import dataset_writer


def read_file(
    path: Path, cfg: BuildDataConfig, root: Path, report: IngestReport | None = None
) -> pd.DataFrame:
    """Read one input file with the reader of its suffix, then :func:`normalise_frame` it."""
    kind = file_kind(path)
    if kind == "parquet":
        df = read_parquet_file(path)
    elif kind == "csv":
        df = read_csv_file(path)
    elif kind == "netcdf":
        df = read_netcdf_file(path)
    elif kind == "geotiff":
        df = read_geotiff_file(path, cfg.variables, cfg.resolution, root)
    else:
        raise IngestError(path, None, f"unsupported file type; expected one of {sorted(SUFFIXES)}")
    if df.empty:
        raise IngestError(path, None, "no rows")
    return normalise_frame(df, path, cfg, year_from_path(path), check_nan=False, report=report)


def build_from_files(
    input_dir: Path, out: Path, cfg: BuildDataConfig, require_target: bool = True
) -> DatasetMeta:
    """Ingest every file under ``input_dir`` into the dataset directory ``out`` (atomically).

    Files are read and checked one by one and staged per year inside the writer's temporary
    directory, then each year is assembled, checked for duplicates across files and written, so
    memory holds one file and one year at a time.  Between the two passes the snow-cover
    convention is decided over all files (:func:`snow_cover_factor`).

    Args:
        input_dir: the folder with the user's files (``data/files``).
        out: the dataset directory (``build/climate2gpp``).
        cfg: the ``build_data`` config.
        require_target: every year needs observed GPP (stage ``build_data``: the dataset
            trains and evaluates the models) and at most ``files.max_gpp_nan_share`` of it
            missing.  False ingests inputs to predict from: ``gpp`` may be absent or missing.

    Returns:
        The written dataset's :class:`DatasetMeta`.

    Raises:
        IngestError: on any bad input; ``out`` is then left as it was.
    """
    from tqdm.auto import tqdm

    input_dir = Path(input_dir)
    files = find_input_files(input_dir)
    if not files:
        raise IngestError(input_dir, None,
                          f"no input files (expected {', '.join(sorted(SUFFIXES))})")
    splits = cfg.splits
    meta = DatasetMeta(
        source="files",
        variables=tuple(cfg.variables),
        years=splits.years,
        train_years=tuple(range(splits.train_years[0], splits.train_years[1] + 1)),
        test_years=tuple(range(splits.test_years[0], splits.test_years[1] + 1)),
        resolution=float(cfg.resolution),
        n_cells=0,
        has_truth=False,
    )
    provenance: list[dict] = []
    lc_counts: pd.Series | None = None
    report = IngestReport()
    with dataset_writer(out, meta) as writer:
        staging = writer.root / "_staging"
        for k, path in enumerate(tqdm(files, desc="build_data[files]: read", unit="file")):
            df = read_file(path, cfg, input_dir, report)
            rows_per_year = {}
            values = {c: np.float32 for c in (*cfg.variables, TARGET)}
            for year, part in df.groupby("year", sort=True):
                part = part.astype(values).assign(_file=k)
                _stage(part, staging / f"year={int(year)}" / f"{k:06d}.parquet")
                rows_per_year[str(int(year))] = len(part)
            counts = df.groupby(["cell_id", "land_cover"]).size()
            lc_counts = counts if lc_counts is None else lc_counts.add(counts, fill_value=0)
            provenance.append({
                "file": path.relative_to(input_dir).as_posix(),
                "bytes": path.stat().st_size,
                "rows": rows_per_year,
            })
        report.summarise()
        snow = (snow_cover_factor(staging, cfg, report, input_dir)
                if SNOW_COVER in cfg.variables else 1.0)
        file_names = {k: p for k, p in enumerate(files)}
        for year in tqdm(splits.years, desc="build_data[files]: write", unit="year"):
            parts = sorted((staging / f"year={year}").glob("*.parquet"))
            if not parts:
                raise IngestError(
                    input_dir, "year",
                    f"no rows for year {year}; every year of build_data.splits "
                    f"({splits.years[0]}..{splits.years[-1]}) needs data",
                )
            df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
            _check_duplicates(df, file_names, df["_file"].to_numpy(), cfg.resolution)
            if snow != 1.0:
                df[SNOW_COVER] = (df[SNOW_COVER].to_numpy(np.float64) * snow).astype(np.float32)
            gpp = df[TARGET].to_numpy(np.float64)
            share = float(np.mean(~np.isfinite(gpp)))
            report.gpp_missing_share[str(year)] = share
            if require_target:
                _check_target(df, year, file_names, input_dir, report)
            _check_nan_shares(df, year, file_names, cfg, require_target)
            check_gpp_distribution(_worst_file(df, file_names), gpp, cfg.files.gpp_scale,
                                   f"year {year}")
            writer.write_year(year, df.drop(columns=["_file"]))
            del df
        shutil.rmtree(staging)
        cells = _cells_table(lc_counts, cfg.resolution)
        writer.write_cells(cells)
        meta = dataclasses.replace(
            meta,
            n_cells=len(cells),
            extra={"files": provenance, "gpp_scale": cfg.files.gpp_scale,
                   "ingest": report.to_json()},
        )
        writer.meta = meta
    return meta


def _stage(df: pd.DataFrame, path: Path) -> None:
    """A temporary per-(file, year) part (float32 values, as the dataset stores them)."""
    import pyarrow as pa

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="lz4")


def _cells_table(lc_counts: pd.Series | None, resolution: float) -> pd.DataFrame:
    """One row per cell: centre and most frequent land cover (ties: lower class)."""
    assert lc_counts is not None
    counts = lc_counts.rename("n").reset_index()
    counts = counts.sort_values(["cell_id", "n", "land_cover"], ascending=[True, False, True])
    cells = counts.drop_duplicates("cell_id", keep="first")[["cell_id", "land_cover"]]
    cid = cells["cell_id"].to_numpy(np.int64)
    lon, lat = cell_center(cid, resolution)
    return pd.DataFrame({
        "cell_id": cid.astype(np.int32),
        "lon": lon.astype(np.float32),
        "lat": lat.astype(np.float32),
        "land_cover": cells["land_cover"].to_numpy().astype(np.int8),
    })
