"""Where the STCG model errs: test-year error maps, observed vs predicted, error by group.

* **Error maps**: per grid cell, the RMSE and the bias (mean of predicted - observed GPP) over
  the cell's test samples (:func:`cell_errors`), on the equirectangular map of
  :mod:`stcg.report.maps` (RMSE: sequential colours up to the 98th percentile; bias: diverging
  colours, symmetric around zero).
* **Observed vs predicted**: a hexbin of all test samples (log counts) with the 1:1 line.
* **RMSE by latitude band and by land cover**: bars of ``train_stcg``'s own metrics
  (``stcg.json``: ``by_lat_band``, ``by_land_cover`` and, where present, the per-cell
  climatology's), so the chart shows the numbers the stage reported, not a recomputation; the
  same numbers go to CSV files that dvc.yaml declares as bar plots.

Matplotlib only (Agg); every function returns the ``Figure`` so tests can inspect its artists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from stcg.report.maps import Grid, draw_map  # noqa: E402


def cell_errors(pred: pd.DataFrame, obs: str = "gpp", est: str = "gpp_pred") -> pd.DataFrame:
    """Per-cell test errors: one row per ``cell_id`` with ``lon``, ``lat``, ``n``, ``rmse``,
    ``bias`` (mean of ``est - obs``) and ``mean_obs``, sorted by ``cell_id``.

    Raises:
        ValueError: naming a missing column.
    """
    need = ["cell_id", "lon", "lat", obs, est]
    missing = [c for c in need if c not in pred.columns]
    if missing:
        raise ValueError(f"predictions: missing column(s) {missing}; expected {need} "
                         "(train_stcg's predictions.parquet)")
    d = pred[need].dropna(subset=[obs, est])
    err = d[est].to_numpy(np.float64) - d[obs].to_numpy(np.float64)
    frame = pd.DataFrame({"cell_id": d["cell_id"].to_numpy(), "lon": d["lon"].to_numpy(),
                          "lat": d["lat"].to_numpy(), "err": err, "sq": err * err,
                          "obs": d[obs].to_numpy(np.float64)})
    g = frame.groupby("cell_id", sort=True)
    out = pd.DataFrame({
        "lon": g["lon"].first(), "lat": g["lat"].first(), "n": g.size(),
        "rmse": np.sqrt(g["sq"].mean()), "bias": g["err"].mean(), "mean_obs": g["obs"].mean(),
    })
    return out.reset_index()


def error_maps(cells: pd.DataFrame, grid: Grid, outline: list[np.ndarray],
               title: str = "") -> plt.Figure:
    """Two maps: the per-cell test RMSE and bias of :func:`cell_errors` (gC m-2 d-1)."""
    fig, axes = plt.subplots(2, 1, figsize=(10, 8.2))
    lon, lat = cells["lon"].to_numpy(), cells["lat"].to_numpy()
    rmse = grid.rasterise(lon, lat, cells["rmse"].to_numpy())
    bias = grid.rasterise(lon, lat, cells["bias"].to_numpy())
    rmax = float(np.nanpercentile(cells["rmse"], 98)) if len(cells) else 1.0
    bmax = float(np.nanpercentile(np.abs(cells["bias"]), 98)) if len(cells) else 1.0
    panels = (
        (axes[0], rmse, "magma_r", 0.0, rmax or 1.0, "test RMSE per cell"),
        (axes[1], bias, "RdBu_r", -(bmax or 1.0), bmax or 1.0,
         "test bias per cell (predicted - observed; red = overestimate)"),
    )
    for ax, img, cmap, lo, hi, name in panels:
        im = draw_map(ax, grid, img, outline, cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(im, ax=ax, shrink=0.8, label="gC m$^{-2}$ d$^{-1}$")
        ax.set_title(name, fontsize=10)
    fig.suptitle(title or f"STCG test-year errors ({len(cells)} cells)", fontsize=11)
    fig.tight_layout()
    return fig


def hexbin_figure(obs: np.ndarray, est: np.ndarray, gridsize: int = 60,
                  title: str = "") -> plt.Figure:
    """Observed vs predicted GPP of every test sample: a hexbin (log colour scale) and the
    1:1 line, with RMSE / bias / R² in the corner."""
    obs = np.asarray(obs, dtype=np.float64)
    est = np.asarray(est, dtype=np.float64)
    ok = np.isfinite(obs) & np.isfinite(est)
    obs, est = obs[ok], est[ok]
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    lo = float(min(obs.min(), est.min())) if obs.size else 0.0
    hi = float(max(obs.max(), est.max())) if obs.size else 1.0
    hb = ax.hexbin(obs, est, gridsize=gridsize, bins="log", mincnt=1, cmap="viridis",
                   extent=(lo, hi, lo, hi))
    fig.colorbar(hb, ax=ax, label="samples")
    ax.plot([lo, hi], [lo, hi], color="tab:red", lw=0.8, label="1:1")
    err = est - obs
    sst = float(((obs - obs.mean()) ** 2).sum()) if obs.size else 0.0
    r2 = 1.0 - float((err ** 2).sum()) / sst if sst > 0 else float("nan")
    ax.text(0.03, 0.97, f"n = {obs.size:,}\nRMSE = {np.sqrt((err ** 2).mean()):.3f}\n"
            f"bias = {err.mean():+.3f}\nR² = {r2:.3f}", transform=ax.transAxes, va="top",
            fontsize=9, bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
    ax.set_xlabel("observed GPP (gC m$^{-2}$ d$^{-1}$)")
    ax.set_ylabel("predicted GPP (gC m$^{-2}$ d$^{-1}$)")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "STCG test year: observed vs predicted", fontsize=10)
    fig.tight_layout()
    return fig


def _band_key(label: str) -> float:
    """Sort key of a latitude band label ``lo_hi``: its lower bound."""
    return float(label.split("_")[0])


def group_rmse_tables(metrics: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The bars of :func:`group_rmse_figure` from ``stcg.json``: ``{"lat_band": frame,
    "land_cover": frame}``, each with columns ``group``, ``rmse``, ``n`` and, where the stage
    reported it, ``climatology_rmse``.  Latitude bands run south to north, land-cover classes
    alphabetically.

    Raises:
        ValueError: if ``metrics`` lacks ``by_lat_band`` or ``by_land_cover``.
    """
    out = {}
    clim = metrics.get("climatology") or {}
    for name, key in (("lat_band", "by_lat_band"), ("land_cover", "by_land_cover")):
        groups = metrics.get(key)
        if not isinstance(groups, Mapping):
            raise ValueError(f"stcg metrics: no '{key}' mapping (train_stcg's stcg.json "
                             "holds one); rerun train_stcg")
        order = sorted(groups, key=_band_key) if name == "lat_band" else sorted(groups)
        rows = []
        for g in order:
            row = {"group": g, "rmse": groups[g].get("rmse"), "n": groups[g].get("n")}
            c = (clim.get(key) or {}).get(g)
            if clim.get(key) is not None:
                row["climatology_rmse"] = None if c is None else c.get("rmse")
            rows.append(row)
        out[name] = pd.DataFrame(rows)
    return out


def group_rmse_figure(tables: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Bars of the test RMSE per latitude band (left) and per land-cover class (right); the
    per-cell climatology's RMSE beside STCG's where it is known; ``n`` over each bar."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1, 2]})
    titles = {"lat_band": "test RMSE by latitude band (°)", "land_cover": "test RMSE by land cover"}
    for ax, name in zip(axes, ("lat_band", "land_cover"), strict=True):
        t = tables[name]
        x = np.arange(len(t))
        has_clim = "climatology_rmse" in t.columns
        w = 0.4 if has_clim else 0.7
        bars = ax.bar(x - (w / 2 if has_clim else 0), t["rmse"].astype(float), w,
                      color="tab:blue", label="STCG")
        if has_clim:
            ax.bar(x + w / 2, t["climatology_rmse"].astype(float), w, color="0.7",
                   label="per-cell climatology")
        for b, n in zip(bars, t["n"], strict=True):
            ax.annotate(f"{int(n):,}", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=6, color="0.3")
        labels = [g.replace("_", " to ") for g in t["group"]] if name == "lat_band" else list(t["group"])
        ax.set_xticks(x, labels, rotation=0 if name == "lat_band" else 45, fontsize=8)
        ax.set_ylabel("RMSE (gC m$^{-2}$ d$^{-1}$)")
        ax.set_title(titles[name], fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("STCG test-year RMSE by group (numbers over bars: test samples)", fontsize=11)
    fig.tight_layout()
    return fig
