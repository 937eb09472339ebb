"""Equirectangular lon/lat maps of per-cell values, with a land outline (Figures 5 and the
limiting-factor maps).

Cells are placed on the global grid of the dataset's resolution from their lon/lat
(:func:`stcg.data.schema.cell_id_for`), north up, so any source's cells map the same way.  The
land outline is the 0.5 contour of a land mask: the GLDAS 0.25 degree mask from ``data/`` when
it is given (finer coastlines), otherwise the dataset's own land cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stcg.data.schema import cell_id_for, grid_shape

LAT_MIN = -60.0
"""Southern edge of the maps: the land grid has no cell south of 60S (no Antarctica)."""


@dataclass(frozen=True)
class Grid:
    """A north-up global grid: ``values[row, col]``, row 0 at 90N, col 0 at 180W."""

    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return grid_shape(self.resolution)

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``imshow`` extent (lon min, lon max, lat min, lat max)."""
        return (-180.0, 180.0, -90.0, 90.0)

    def rasterise(self, lon: np.ndarray, lat: np.ndarray, values: np.ndarray,
                  fill: float = np.nan) -> np.ndarray:
        """``[rows, cols]`` array with ``values`` at the cells of (lon, lat), ``fill`` elsewhere.

        Raises:
            ValueError: if two values fall in one cell (the rows are not one per cell).
        """
        n_lat, n_lon = self.shape
        cid = np.asarray(cell_id_for(lon, lat, self.resolution))
        if np.unique(cid).size != cid.size:
            raise ValueError("rasterise: several values for one grid cell (select one period first)")
        out = np.full(n_lat * n_lon, fill, dtype=np.float64)
        out[cid] = np.asarray(values, dtype=np.float64)
        return out.reshape(n_lat, n_lon)


def outline_segments(mask: np.ndarray) -> list[np.ndarray]:
    """The 0.5 contour lines of a north-up global ``[rows, cols]`` land mask, in lon/lat.

    Returns:
        A list of ``[K, 2]`` (lon, lat) polylines (for a ``LineCollection``).
    """
    import contourpy

    m = np.asarray(mask, dtype=np.float64)
    n_lat, n_lon = m.shape
    res_lat, res_lon = 180.0 / n_lat, 360.0 / n_lon
    lon = -180.0 + (np.arange(n_lon) + 0.5) * res_lon
    lat = 90.0 - (np.arange(n_lat) + 0.5) * res_lat
    # pad with ocean so that coasts touching the grid edge close
    mp = np.pad(m, 1, constant_values=0.0)
    lonp = np.concatenate([[lon[0] - res_lon], lon, [lon[-1] + res_lon]])
    latp = np.concatenate([[lat[0] + res_lat], lat, [lat[-1] - res_lat]])
    gen = contourpy.contour_generator(lonp, latp, mp, line_type=contourpy.LineType.Separate)
    return [seg for seg in gen.lines(0.5) if len(seg) > 1]


def cells_mask(lon: np.ndarray, lat: np.ndarray, resolution: float) -> np.ndarray:
    """North-up land mask of the dataset's own cells (1 land, 0 elsewhere; repeats allowed)."""
    n_lat, n_lon = grid_shape(resolution)
    out = np.zeros(n_lat * n_lon)
    out[np.unique(cell_id_for(lon, lat, resolution))] = 1.0
    return out.reshape(n_lat, n_lon)


def lon_label(x: float, _pos=None) -> str:
    """``60°W``, ``0°``, ``120°E``, ``180°`` (a tick label)."""
    x = (x + 180.0) % 360.0 - 180.0 if abs(x) != 180 else 180.0
    if x == 0 or abs(x) == 180:
        return f"{abs(x):g}°"
    return f"{abs(x):g}°{'E' if x > 0 else 'W'}"


def lat_label(y: float, _pos=None) -> str:
    """``30°S``, ``0°``, ``60°N`` (a tick label)."""
    if y == 0:
        return "0°"
    return f"{abs(y):g}°{'N' if y > 0 else 'S'}"


def degree_ticks(ax, lon_step: float = 60.0, lat_step: float = 30.0) -> None:
    """Longitude / latitude ticks every ``lon_step`` / ``lat_step`` degrees, labelled in
    degrees E/W and N/S."""
    from matplotlib.ticker import FuncFormatter

    ax.set_xticks(np.arange(-180, 180 + lon_step / 2, lon_step))
    ax.set_yticks(np.arange(LAT_MIN, 90 + lat_step / 2, lat_step))
    ax.xaxis.set_major_formatter(FuncFormatter(lon_label))
    ax.yaxis.set_major_formatter(FuncFormatter(lat_label))


def draw_map(ax, grid: Grid, image: np.ndarray, outline: list[np.ndarray], **imshow_kw):
    """``imshow`` of a grid image on an equirectangular lon/lat axis with the land outline.

    Returns:
        The ``AxesImage`` (for a colour bar).
    """
    from matplotlib.collections import LineCollection

    im = ax.imshow(image, extent=grid.extent, origin="upper", interpolation="nearest",
                   aspect="equal", **imshow_kw)
    ax.add_collection(LineCollection(outline, colors="0.25", linewidths=0.4))
    ax.set_xlim(-180, 180)
    ax.set_ylim(LAT_MIN, 90)
    degree_ticks(ax)
    ax.tick_params(labelsize=7)
    ax.set_facecolor("white")
    return im


def land_outline(inputs_dir: str | Path | None, lon: np.ndarray, lat: np.ndarray,
                 resolution: float) -> tuple[list[np.ndarray], str]:
    """Coast lines for the maps and where they come from.

    Args:
        inputs_dir: the raw-inputs folder (``data/``) holding ``gldas/GLDASp4_landmask_025d.nc4``,
            or None.
        lon, lat: the dataset's land cells (the fallback outline).
        resolution: the dataset's grid resolution.

    Returns:
        ``(polylines, source description)``.
    """
    if inputs_dir is not None:
        path = Path(inputs_dir) / "gldas" / "GLDASp4_landmask_025d.nc4"
        if path.exists():
            from stcg.data.sim.static import read_gldas_mask

            return outline_segments(read_gldas_mask(Path(inputs_dir))), "GLDAS 0.25° land mask"
    return outline_segments(cells_mask(lon, lat, resolution)), f"land cells at {resolution:g}°"
