"""Globe figure of the conditional graph: orthographic views drawn with plain numpy + matplotlib.

Land cells are coloured by their node, nodes are black dots, edges are great-circle arcs (red
where they cross the dateline), over coastlines (the 0.5 contour of a land mask,
:func:`stcg.report.maps.land_outline`: no download needed).  No cartopy: the orthographic
projection is a few lines (Snyder 1987, eqs. 20-3 / 20-4), and points on the far hemisphere
are hidden.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from stcg.graph.build import Graph  # noqa: E402
from stcg.graph.sphere import crosses_dateline, xyz_to_lonlat  # noqa: E402
from stcg.io import atomic_path  # noqa: E402

VIEWS: tuple[tuple[float, float, str], ...] = (
    (15.0, 20.0, "Europe / Africa"),
    (105.0, 15.0, "Asia / Australia"),
    (-85.0, 10.0, "Americas"),
    (180.0, 0.0, "Pacific (dateline)"),
)


def orthographic(
    lon: np.ndarray, lat: np.ndarray, lon0: float, lat0: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Orthographic projection centred on (lon0, lat0).

    Returns:
        ``(x, y, visible)``; ``visible`` is False on the far hemisphere.
    """
    lam = np.deg2rad(np.asarray(lon) - lon0)
    phi = np.deg2rad(np.asarray(lat))
    phi0 = np.deg2rad(lat0)
    x = np.cos(phi) * np.sin(lam)
    y = np.cos(phi0) * np.sin(phi) - np.sin(phi0) * np.cos(phi) * np.cos(lam)
    cosc = np.sin(phi0) * np.sin(phi) + np.cos(phi0) * np.cos(phi) * np.cos(lam)
    return x, y, cosc > 0


def great_circle(a: np.ndarray, b: np.ndarray, n: int = 16) -> np.ndarray:
    """``[E, n, 3]`` points along the short great-circle arcs from ``a [E, 3]`` to ``b [E, 3]``."""
    dot = np.clip((a * b).sum(-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(dot)[:, None, :]  # [E, 1, 1]
    t = np.linspace(0.0, 1.0, n)[None, :, None]
    so = np.sin(omega)
    safe = np.where(so < 1e-9, 1.0, so)
    pts = (np.sin((1 - t) * omega) * a[:, None] + np.sin(t * omega) * b[:, None]) / safe
    lin = (1 - t) * a[:, None] + t * b[:, None]
    return np.where(so < 1e-9, lin, pts)


def project_lines(lines: list[np.ndarray], lon0: float, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic ``(x, y)`` of (lon, lat) polylines joined into one NaN-separated line; points
    on the far hemisphere are NaN (so a line leaving the visible side is cut there)."""
    if not lines:
        return np.array([]), np.array([])
    sep = np.array([[np.nan, np.nan]])
    pts = np.concatenate([p for seg in lines for p in (np.asarray(seg, dtype=np.float64), sep)])
    x, y, v = orthographic(pts[:, 0], pts[:, 1], lon0, lat0)
    v &= np.isfinite(pts[:, 0])
    return np.where(v, x, np.nan), np.where(v, y, np.nan)


def plot_globe(graph: Graph, path: str | Path, title: str | None = None,
               coastlines: list[np.ndarray] | None = None) -> None:
    """Write the 2x2 orthographic globe figure as PNG (atomically).

    Args:
        coastlines: (lon, lat) polylines drawn under the cells (e.g.
            :func:`stcg.report.maps.land_outline`); None draws none.
    """
    fig, axes = plt.subplots(2, 2, figsize=(10, 10))
    rng = np.random.default_rng(0)
    palette = plt.get_cmap("tab20")(np.arange(20))
    node_color = palette[rng.permutation(graph.n_nodes) % 20]
    arcs = great_circle(graph.node_xyz[graph.edge_src], graph.node_xyz[graph.edge_dst])
    arc_lon, arc_lat = xyz_to_lonlat(arcs.reshape(-1, 3))
    arc_lon = arc_lon.reshape(arcs.shape[:2])
    arc_lat = arc_lat.reshape(arcs.shape[:2])
    dateline = crosses_dateline(graph.node_lon[graph.edge_src], graph.node_lon[graph.edge_dst])
    theta = np.linspace(0, 2 * np.pi, 361)
    for ax, (lon0, lat0, name) in zip(axes.ravel(), VIEWS, strict=True):
        ax.fill(np.cos(theta), np.sin(theta), color="#eef3f8", zorder=0)
        ax.plot(np.cos(theta), np.sin(theta), color="0.4", lw=0.8)
        for glon in range(-180, 180, 30):
            gl = np.full(181, float(glon))
            x, y, v = orthographic(gl, np.linspace(-90, 90, 181), lon0, lat0)
            ax.plot(np.where(v, x, np.nan), np.where(v, y, np.nan), color="0.85", lw=0.4)
        for glat in range(-60, 90, 30):
            x, y, v = orthographic(np.linspace(-180, 180, 361), np.full(361, float(glat)), lon0, lat0)
            ax.plot(np.where(v, x, np.nan), np.where(v, y, np.nan), color="0.85", lw=0.4)
        if coastlines:
            cx, cy = project_lines(coastlines, lon0, lat0)
            ax.plot(cx, cy, color="0.45", lw=0.35, zorder=0.5)
        x, y, v = orthographic(graph.cell_lon, graph.cell_lat, lon0, lat0)
        ax.scatter(x[v], y[v], s=3, c=node_color[graph.cell_node[v]], lw=0, zorder=1)
        ex, ey, ev = orthographic(arc_lon, arc_lat, lon0, lat0)
        ex, ey = np.where(ev, ex, np.nan), np.where(ev, ey, np.nan)
        for sel, color, lw in ((~dateline, "0.25", 0.5), (dateline, "tab:red", 1.2)):
            if sel.any():
                xs = np.concatenate([ex[sel], np.full((sel.sum(), 1), np.nan)], axis=1).ravel()
                ys = np.concatenate([ey[sel], np.full((sel.sum(), 1), np.nan)], axis=1).ravel()
                ax.plot(xs, ys, color=color, lw=lw, zorder=2)
        nx, ny, nv = orthographic(graph.node_lon, graph.node_lat, lon0, lat0)
        ax.scatter(nx[nv], ny[nv], s=8, c="k", zorder=3)
        ax.set_title(f"{name} ({lon0:g}, {lat0:g})", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-1.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.axis("off")
    fig.suptitle(
        title
        or f"Spatiotemporal conditional graph: {graph.n_nodes} nodes, {graph.n_edges} edges "
        f"({int(dateline.sum())} across the dateline, red)",
        fontsize=11,
    )
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
