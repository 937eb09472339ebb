"""Validation and normalisation of ingested tables: every check names the file, the column,
the value seen, what was expected and the fix (:class:`IngestError`); every change to the values
is counted in :class:`IngestReport`.  See :mod:`stcg.data.files` for the rules.

A little over 500 lines: one job (the checks of one table, then of all tables together), whose
length is the error messages that name the value seen and the fix.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from stcg.data.config import BuildDataConfig
from stcg.data.schema import (
    CENTRE_TOLERANCE,
    GPP_MIN_POSITIVE,
    GPP_Q99_MIN,
    GPP_Q99_REFERENCE,
    GPP_RANGE,
    IGBP_CLASSES,
    PERIODS_PER_YEAR,
    SNOW_COVER,
    TARGET,
    VARIABLES,
    cell_center,
    cell_id_for,
    grid_shape,
    negative_tolerance,
    sample_columns,
)
from stcg.errors import StcgError

logger = logging.getLogger(__name__)


CENTRES_FROM = "stcg_centres_from"
"""``DataFrame.attrs`` key: the column whose points must be exact cell centres (Earth Engine's
``.geo``), so that an export made at another resolution is refused, not silently re-gridded."""
_N_CLASSES = len(IGBP_CLASSES)


class IngestError(StcgError):
    """A user file does not hold what the schema expects.

    Attributes:
        file: the offending file (or directory).
        column: the offending column, if one.
    """

    def __init__(self, file: Path | str, column: str | None, message: str) -> None:
        self.file = Path(file)
        self.column = column
        where = f"{file}: column {column!r}: " if column else f"{file}: "
        super().__init__(where + message)


@dataclasses.dataclass
class IngestReport:
    """What ingestion changed in the values: it goes to ``meta.json`` (``extra.ingest``) and from
    there to the data card, and each kind of change is logged once as a warning.

    Attributes:
        clipped_negative: per non-negative flow band, how many small negative values (packing
            noise, within ``schema.negative_tolerance``) were set to 0.
        clipped_min: per such band, the most negative value clipped.
        inf_to_nan: per value column, how many +-inf values were read as missing.
        gpp_absent: files without a ``gpp`` column (their ``gpp`` is all missing).
        snow_cover: the snow-cover convention seen and the conversion applied.
        gpp_missing_share: per year, the share of samples without GPP (masked PML_V2 pixels).
        warnings: the warnings, in the order they were given.
    """

    clipped_negative: dict[str, int] = dataclasses.field(default_factory=dict)
    clipped_min: dict[str, float] = dataclasses.field(default_factory=dict)
    inf_to_nan: dict[str, int] = dataclasses.field(default_factory=dict)
    gpp_absent: list[str] = dataclasses.field(default_factory=list)
    snow_cover: dict[str, Any] = dataclasses.field(default_factory=dict)
    gpp_missing_share: dict[str, float] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    _first_file: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def warn(self, message: str) -> None:
        """Record and log one warning."""
        self.warnings.append(message)
        logger.warning(message)

    def count(self, kind: str, column: str, n: int, path: Path) -> None:
        """Add ``n`` changed values of ``column`` (``kind``: ``clipped_negative`` or
        ``inf_to_nan``); the first file is kept for the summary warning."""
        table = getattr(self, kind)
        table[column] = table.get(column, 0) + int(n)
        self._first_file.setdefault(f"{kind}:{column}", str(path))

    def summarise(self) -> None:
        """One warning per changed column (called once, after every file is read)."""
        for col, n in self.clipped_negative.items():
            self.warn(
                f"{col}: {n} small negative value(s) (down to {self.clipped_min[col]:.3g}, "
                f"within the tolerance {-negative_tolerance(col):g}) clipped to 0, first in "
                f"{self._first_file[f'clipped_negative:{col}']}: ERA5-Land flow sums carry "
                "packing noise around 0"
            )
        for col, n in self.inf_to_nan.items():
            self.warn(
                f"{col}: {n} infinite value(s) read as missing (they count toward the missing "
                f"share), first in {self._first_file[f'inf_to_nan:{col}']}"
            )

    def to_json(self) -> dict[str, Any]:
        """The ``ingest`` entry of ``meta.json`` and of the data card."""
        return {
            "clipped_negative": dict(sorted(self.clipped_negative.items())),
            "clipped_min": dict(sorted(self.clipped_min.items())),
            "inf_to_nan": dict(sorted(self.inf_to_nan.items())),
            "gpp_absent": list(self.gpp_absent),
            "snow_cover": dict(self.snow_cover),
            "gpp_missing_share": dict(self.gpp_missing_share),
            "warnings": list(self.warnings),
        }


def _numeric(df: pd.DataFrame, col: str, path: Path) -> pd.Series:
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        raise IngestError(path, col, "expected numbers, got true/false values")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(np.float64)
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna() & (s.astype("string").str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise IngestError(path, col, f"expected numbers, got {s.iloc[i]!r} at row {i + 1}")
    return out.astype(np.float64)


def _first_row(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0]) + 1


def _integral(path: Path, col: str, v: np.ndarray) -> None:
    bad = np.isfinite(v) & (v != np.round(v))
    if bad.any():
        raise IngestError(path, col, f"expected integers, got {v[bad][0]!r} at row "
                                     f"{_first_row(bad)}")


def _in_range(path: Path, col: str, v: np.ndarray, lo: float, hi: float, what: str) -> None:
    bad = np.isfinite(v) & ((v < lo) | (v > hi))
    if bad.any():
        raise IngestError(path, col, f"expected {what}, got {v[bad][0]:g} at row "
                                     f"{_first_row(bad)}")


_UNIT_FIXES: dict[str, tuple[tuple[float, float, str], ...]] = {
    # units -> (factor, offset, hint): value * factor + offset would be plausible
    "K": ((1.0, 273.15, "values look like degC; expected K (add 273.15)"),),
    "m": ((1e-3, 0.0, "values look like mm; expected m of water (divide by 1000)"),),
    "Pa": (
        (100.0, 0.0, "values look like hPa; expected Pa (multiply by 100)"),
        (1000.0, 0.0, "values look like kPa; expected Pa (multiply by 1000)"),
    ),
    "m3 m-3": ((0.01, 0.0, "values look like percent; expected a fraction m3 m-3 (divide by "
                           "100)"),),
}
_GPP_FIXES: tuple[tuple[float, str], ...] = (
    # factor that makes the values gC m-2 d-1, and what the values then look like
    (0.01, "PML_V2's stored integers (GPP x 100)"),
    (0.125, "8-day sums (gC m-2 per 8 days) where the daily mean gC m-2 d-1 is expected"),
    (0.001, "GPP x 1000 (mgC m-2 d-1?)"),
    (100.0, "GPP / 100"),
    (1000.0, "GPP / 1000 (kgC m-2 d-1?)"),
)
"""Plausible GPP scale mistakes; ingestion names the one whose corrected 99th percentile of the
positive values is nearest (in log) to ``schema.GPP_Q99_REFERENCE``."""


def _gpp_scale_hint(v: np.ndarray, gpp_scale: float, too_high: bool) -> str:
    """The likeliest scale mistake of GPP values ``v`` (after ``gpp_scale``), as a hint."""
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size == 0:
        return ""
    q99 = float(np.quantile(pos, 0.99))
    vmax = float(pos.max())
    # a slip must explain the bulk better than no slip (a lone outlier is not a scale mistake)
    best: tuple[float, float, str] | None = (abs(np.log10(q99 / GPP_Q99_REFERENCE)), 1.0, "")
    for factor, what in _GPP_FIXES:
        if (factor < 1.0) != too_high or vmax * factor > GPP_RANGE[1]:
            continue
        dist = abs(np.log10(q99 * factor / GPP_Q99_REFERENCE))
        if best is None or dist < best[0]:
            best = (dist, factor, what)
    assert best is not None
    _, factor, what = best
    if factor == 1.0:
        return ""
    return (f"; the values look like {what}: set build_data.files.gpp_scale: "
            f"{gpp_scale * factor:g} (now {gpp_scale:g})")


def check_gpp_distribution(path: Path, v: np.ndarray, gpp_scale: float, where: str) -> None:
    """Refuse GPP values (after ``gpp_scale``) whose bulk is implausibly small.

    The range check sees values too large; values divided by 100 or 1000 stay inside the range,
    so the 99th percentile of the positive values must reach ``schema.GPP_Q99_MIN`` (judged
    once there are ``schema.GPP_MIN_POSITIVE`` positive values).
    """
    pos = v[np.isfinite(v) & (v > 0)]
    if pos.size < GPP_MIN_POSITIVE:
        return
    q99 = float(np.quantile(pos, 0.99))
    if q99 < GPP_Q99_MIN:
        raise IngestError(
            path, TARGET,
            f"the 99th percentile of {where}'s positive values is {q99:.3g}, expected at least "
            f"{GPP_Q99_MIN:g} gC m-2 d-1 (PML_V2 8-day means reach about "
            f"{GPP_Q99_REFERENCE:g}){_gpp_scale_hint(v, gpp_scale, too_high=False)}",
        )


_MIN_PEAK = {"J m-2": 1e5}
"""Smallest plausible largest |value| of a whole file, per unit: real 8-day sums of radiation and
heat fluxes reach 1e6..1e8 J m-2, so a file whose values all stay below 1e5 holds W m-2 (mean
fluxes) or MJ m-2, which the range check alone would let through."""


def _range_hint(units: str, v: np.ndarray, lo: float, hi: float) -> str:
    vmin, vmax = float(np.nanmin(v)), float(np.nanmax(v))
    for factor, offset, hint in _UNIT_FIXES.get(units, ()):
        a, b = sorted((vmin * factor + offset, vmax * factor + offset))
        if lo <= a and b <= hi:
            return "; " + hint
    return ""


def _check_values(
    path: Path, col: str, v: np.ndarray, max_nan_share: float | None, gpp_scale: float = 1.0
) -> None:
    """NaN share (unless None), plausible range and unit hints of one value column."""
    nan_share = float(np.mean(~np.isfinite(v))) if v.size else 0.0
    if max_nan_share is not None and nan_share > max_nan_share:
        param = "max_gpp_nan_share" if col == TARGET else "max_nan_share"
        raise IngestError(
            path, col,
            f"{nan_share:.1%} of the values are missing, more than build_data.files."
            f"{param} = {max_nan_share:.1%}",
        )
    if not np.isfinite(v).any():
        return
    if col == TARGET:
        lo, hi = GPP_RANGE
        units = "gC m-2 d-1"
    else:
        spec = VARIABLES[col]
        lo, hi, units = spec.lo, spec.hi, spec.units
    bad = np.isfinite(v) & ((v < lo) | (v > hi))
    if bad.any():
        if col == TARGET:
            hint = _gpp_scale_hint(v, gpp_scale, too_high=bool(np.nanmax(v) > hi))
        else:
            hint = _range_hint(units, v, lo, hi)
            tol = negative_tolerance(col)
            if tol and np.nanmin(v) < 0:
                hint += (f"; negatives down to {-tol:g} are clipped to 0 as packing noise, "
                         "larger ones are not")
        raise IngestError(
            path, col,
            f"expected {units} within [{lo:g}, {hi:g}], got {v[bad][0]:g} at row "
            f"{_first_row(bad)} (file min {np.nanmin(v):g}, max {np.nanmax(v):g}){hint}",
        )
    peak = float(np.nanmax(np.abs(v)))
    floor = _MIN_PEAK.get(units)
    if floor is not None and col != TARGET and peak < floor:
        raise IngestError(
            path, col,
            f"the largest |value| is {peak:g}, implausibly small for {units} summed over 8 days; "
            "values look like W m-2 (a mean flux: multiply by 86400 x days) or MJ m-2 "
            "(multiply by 1e6)",
        )


def normalise_frame(
    df: pd.DataFrame,
    path: Path,
    cfg: BuildDataConfig,
    path_year: int | None = None,
    check_nan: bool = True,
    report: IngestReport | None = None,
) -> pd.DataFrame:
    """Check one file's table and bring it to the samples schema.

    Args:
        df: the table as read.
        path: the file (for messages).
        cfg: the stage config (variables, resolution, splits, files.*).
        path_year: the year from the file name, used when there is no ``year`` column.
        check_nan: check the NaN share of each value column in this table (``build_from_files``
            checks it per year instead, as a year may come in many small files).
        report: where clipped negatives, infinite values and a missing ``gpp`` column are
            counted (None: a fresh one, whose warnings are only logged).

    Returns:
        The rows with :func:`stcg.data.schema.sample_columns` (float64 values, cell-centre
        coordinates, ``gpp`` scaled by ``files.gpp_scale`` and all missing when the file has no
        ``gpp`` column, +-inf read as missing, small negative flow sums clipped to 0).

    Raises:
        IngestError: naming the file, the column and what was expected.
    """
    df = df.copy()
    report = report if report is not None else IngestReport()
    if "year" not in df.columns:
        if path_year is None:
            raise IngestError(path, "year", "missing: add a year column or put the year in the "
                                            "file name (e.g. climate2gpp_2001.csv)")
        df["year"] = path_year
    variables = list(cfg.variables)
    required = ["period", "land_cover", *variables]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise IngestError(
            path, missing[0],
            f"missing required column(s) {missing}; the file has {sorted(map(str, df.columns))}",
        )
    if TARGET not in df.columns:
        # inputs to predict from need no observed GPP; build_from_files decides whether the
        # dataset needs it (a training set does)
        df[TARGET] = np.nan
        report.gpp_absent.append(str(path))
        logger.warning("%s: no %r column: gpp is missing for its %d rows (fine for prediction; "
                       "a training set needs it)", path, TARGET, len(df))
    has_id = "cell_id" in df.columns
    has_ll = "lon" in df.columns and "lat" in df.columns
    if not (has_id or has_ll):
        raise IngestError(path, "lon", "missing location: expected cell_id, or lon and lat "
                                       "(or Earth Engine's .geo column)")
    keys = ["year", "period", "land_cover", *(["cell_id"] if has_id else []),
            *(["lon", "lat"] if has_ll else [])]
    num = {c: _numeric(df, c, path).to_numpy() for c in [*keys, *variables, TARGET]}
    for c in keys:
        miss = ~np.isfinite(num[c])
        if miss.any():
            what = "infinite" if np.isinf(num[c][miss]).all() else "missing"
            raise IngestError(path, c, f"{int(miss.sum())} {what} value(s), first at row "
                                       f"{_first_row(miss)}; key columns must be complete "
                                       "finite numbers")
    for c in (*variables, TARGET):
        inf = np.isinf(num[c])
        if inf.any():
            num[c] = np.where(inf, np.nan, num[c])
            report.count("inf_to_nan", c, int(inf.sum()), path)
    for c in ("year", "period", "land_cover", *(["cell_id"] if has_id else [])):
        _integral(path, c, num[c])
    _in_range(path, "period", num["period"], 0, PERIODS_PER_YEAR - 1,
              f"an 8-day period 0..{PERIODS_PER_YEAR - 1}")
    _in_range(path, "land_cover", num["land_cover"], 0, _N_CLASSES - 1,
              f"an IGBP class 0..{_N_CLASSES - 1} (MCD12C1 Majority_Land_Cover_Type_1)")
    years = cfg.splits.years
    bad = ~np.isin(num["year"], years)
    if bad.any():
        raise IngestError(
            path, "year",
            f"expected years of build_data.splits (train {cfg.splits.train_years[0]}.."
            f"{cfg.splits.train_years[1]}, test {cfg.splits.test_years[0]}.."
            f"{cfg.splits.test_years[1]}), got {int(num['year'][bad][0])} at row "
            f"{_first_row(bad)}",
        )
    n_lat, n_lon = grid_shape(cfg.resolution)
    if has_ll:
        _in_range(path, "lon", num["lon"], -180.0, 360.0, "longitudes in [-180, 360]")
        _in_range(path, "lat", num["lat"], -90.0, 90.0, "latitudes in [-90, 90]")
        _check_centres(path, num["lon"], num["lat"], cfg.resolution,
                       df.attrs.get(CENTRES_FROM))
        cid = cell_id_for(num["lon"], num["lat"], cfg.resolution)
        if has_id:
            given = num["cell_id"].astype(np.int64)
            bad = given != cid
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise IngestError(
                    path, "cell_id",
                    f"cell_id {given[i]} at row {i + 1} does not match its lon/lat "
                    f"({num['lon'][i]:g}, {num['lat'][i]:g}) -> {cid[i]} at resolution "
                    f"{cfg.resolution:g} (schema.cell_id_for)",
                )
    else:
        cid = num["cell_id"].astype(np.int64)
        _in_range(path, "cell_id", num["cell_id"], 0, n_lat * n_lon - 1,
                  f"cell ids of the {cfg.resolution:g}-degree grid (0..{n_lat * n_lon - 1})")
    num[TARGET] = num[TARGET] * cfg.files.gpp_scale
    for c in variables:
        tol = negative_tolerance(c)
        small = (num[c] < 0.0) & (num[c] >= -tol)
        if small.any():
            report.clipped_min[c] = min(report.clipped_min.get(c, 0.0),
                                        float(num[c][small].min()))
            report.count("clipped_negative", c, int(small.sum()), path)
            num[c] = np.where(small, 0.0, num[c])
    for c in (*variables, TARGET):
        limit = None
        if check_nan and not (c == TARGET and str(path) in report.gpp_absent):
            limit = cfg.files.max_gpp_nan_share if c == TARGET else cfg.files.max_nan_share
        _check_values(path, c, num[c], limit, cfg.files.gpp_scale)
    lon, lat = cell_center(cid, cfg.resolution)
    out = pd.DataFrame({
        "cell_id": cid,
        "lon": lon,
        "lat": lat,
        "year": num["year"].astype(np.int64),
        "period": num["period"].astype(np.int64),
        "land_cover": num["land_cover"].astype(np.int64),
        **{c: num[c] for c in (*variables, TARGET)},
    })
    _check_duplicates(out, {0: path}, np.zeros(len(out), dtype=np.int64), cfg.resolution)
    return out[sample_columns(cfg.variables)]


def _check_centres(
    path: Path, lon: np.ndarray, lat: np.ndarray, resolution: float, column: str | None
) -> None:
    """Coordinates must be cell centres (within ``schema.CENTRE_TOLERANCE`` of a cell).

    Corner or edge coordinates would silently shift the grid by one cell, so they are refused
    with the convention seen: points on the grid lines in both directions are cell corners (NW,
    SE or any other: the four cannot be told apart point by point).
    """
    fx = ((lon + 180.0) / resolution) % 1.0
    fy = ((90.0 - lat) / resolution) % 1.0
    dx, dy = fx - 0.5, fy - 0.5
    off = (np.abs(dx) > CENTRE_TOLERANCE) | (np.abs(dy) > CENTRE_TOLERANCE)
    if not off.any():
        return
    i = int(np.flatnonzero(off)[0])
    on_x = np.abs(np.abs(dx[off]) - 0.5) <= CENTRE_TOLERANCE
    on_y = np.abs(np.abs(dy[off]) - 0.5) <= CENTRE_TOLERANCE
    if on_x.all() and on_y.all():
        seen = ("all such points lie on grid-line crossings: cell corners (e.g. NW or SE), "
                f"not centres; shift them by half a cell ({resolution / 2:g} degrees) to the "
                "centres")
    elif on_x.all() or on_y.all():
        seen = (f"the {'longitudes' if on_x.all() else 'latitudes'} lie on grid lines (cell "
                f"edges), not centres; shift them by half a cell ({resolution / 2:g} degrees)")
    else:
        seen = (f"offset {dx[i]:+.3g}, {-dy[i]:+.3g} cells from the nearest centre: was the "
                f"file made at another resolution than build_data.resolution ({resolution:g})?")
    col = column or ("lon" if np.abs(dx[i]) > CENTRE_TOLERANCE else "lat")
    raise IngestError(
        path, col,
        f"point ({lon[i]:g}, {lat[i]:g}) at row {i + 1} is not a cell centre of the "
        f"{resolution:g}-degree grid (expected within {CENTRE_TOLERANCE:g} of a cell): {seen}",
    )


def _check_duplicates(
    df: pd.DataFrame, files: dict[int, Path], file_idx: np.ndarray, resolution: float
) -> None:
    dup = df.duplicated(["cell_id", "year", "period"], keep=False).to_numpy()
    if not dup.any():
        return
    first = df.loc[dup, ["cell_id", "year", "period"]].iloc[0]
    same = ((df["cell_id"] == first["cell_id"]) & (df["year"] == first["year"])
            & (df["period"] == first["period"])).to_numpy()
    where = sorted({str(files[int(k)]) for k in file_idx[same]})
    hint = ("; several points fall into one cell: is build_data.resolution "
            f"({resolution:g}) coarser than the files' grid?") if len(where) == 1 else ""
    raise IngestError(
        where[0], "cell_id",
        f"duplicated (cell_id, year, period) = ({int(first['cell_id'])}, {int(first['year'])}, "
        f"{int(first['period'])}): {int(same.sum())} rows in {', '.join(where)}{hint}",
    )


def _worst_file(df: pd.DataFrame, files: dict[int, Path]) -> Path:
    """The file with the most rows of a year (named by year-level value checks)."""
    return files[int(df["_file"].value_counts().sort_index().idxmax())]


def _check_target(
    df: pd.DataFrame, year: int, files: dict[int, Path], input_dir: Path, report: IngestReport
) -> None:
    """A training / evaluation dataset needs observed GPP in every year."""
    if np.isfinite(df[TARGET].to_numpy(np.float64)).any():
        return
    absent = [files[k] for k in sorted(df["_file"].unique()) if str(files[k]) in report.gpp_absent]
    why = (f"{len(absent)} file(s) have no gpp column, e.g. {absent[0]}" if absent
           else "every gpp value is missing (masked)")
    raise IngestError(
        absent[0] if absent else input_dir, TARGET,
        f"no observed GPP in year {year} ({why}); stage build_data builds the dataset the "
        "models train and are evaluated on, so every year needs gpp (PML_V2, gC m-2 d-1); to "
        "ingest inputs only to predict from, use `stcg ingest`",
    )


def snow_cover_factor(
    staging: Path, cfg: BuildDataConfig, report: IngestReport, where: Path
) -> float:
    """The factor that brings ``snow_cover`` to % (1 or 100), decided over every file.

    ``files.snow_cover_units: auto`` reads the column as a fraction (the Earth Engine catalog's
    current convention) when its largest value over all files is at most 1, else as %;
    ``percent`` or ``fraction`` say it outright.  The choice goes to the data card, and a
    conversion is also a warning.
    """
    vmax = -np.inf
    for part in sorted(staging.glob("year=*/*.parquet")):
        v = pq.read_table(part, columns=[SNOW_COVER]).column(0).to_numpy(zero_copy_only=False)
        v = np.asarray(v, dtype=np.float64)
        if np.isfinite(v).any():
            vmax = max(vmax, float(np.nanmax(v)))
    setting = cfg.files.snow_cover_units
    if setting == "auto":
        seen = "fraction" if vmax <= 1.0 else "percent"
    else:
        seen = setting
        if setting == "fraction" and vmax > 1.0:
            raise IngestError(
                where, SNOW_COVER,
                f"build_data.files.snow_cover_units is fraction but the largest value is "
                f"{vmax:g}, expected at most 1: the files hold %, set snow_cover_units: percent "
                "(or auto)",
            )
    factor = 100.0 if seen == "fraction" else 1.0
    report.snow_cover = {
        "setting": setting, "seen": seen, "max_seen": vmax if np.isfinite(vmax) else None,
        "stored": "percent", "factor": factor,
    }
    if factor != 1.0:
        report.warn(
            f"{SNOW_COVER}: largest value {vmax:g} over all files <= 1, read as a fraction (0-1) "
            f"and converted to % (x100){' (auto)' if setting == 'auto' else ''}; set "
            "build_data.files.snow_cover_units: percent if the files hold % of a snow-poor region"
        )
    return factor


def _check_nan_shares(
    df: pd.DataFrame, year: int, files: dict[int, Path], cfg: BuildDataConfig,
    check_target: bool = True,
) -> None:
    """Missing share of every value column over one year; the error names the worst file.

    Features are held to ``files.max_nan_share``; ``gpp`` (masked PML_V2 pixels: a NaN target,
    the sample kept as model input) to ``files.max_gpp_nan_share``, unless ``check_target`` is
    off (inputs to predict from).
    """
    for c in (*cfg.variables, *([TARGET] if check_target else [])):
        limit = cfg.files.max_gpp_nan_share if c == TARGET else cfg.files.max_nan_share
        param = "max_gpp_nan_share" if c == TARGET else "max_nan_share"
        miss = df[c].isna()
        share = float(miss.mean())
        if share <= limit:
            continue
        per_file = miss.groupby(df["_file"]).mean().sort_values(ascending=False, kind="stable")
        worst = int(per_file.index[0])
        raise IngestError(
            files[worst], c,
            f"{share:.1%} of year {year}'s values are missing, more than build_data.files."
            f"{param} = {limit:.1%} (this file: {per_file.iloc[0]:.1%} missing)",
        )
