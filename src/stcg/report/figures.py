"""Figures 4 and 5 of the paper (Section 4.4), the limiting-factor maps and the training curves.

* **Figure 4** (paper: "Temporal Variation of Feature Importance in Six Typical Regions"): for
  each region (a lon/lat box, optionally restricted to some land-cover classes; params
  ``figures.regions``) and each 8-day period of the test year, the mean over the region's cells of
  the interpretable weights ``w_j`` (left: GPP per standard deviation of feature ``j``) and of
  their product with the standardised inputs ``w_j z_j`` (right: the feature's contribution to
  ``y_interp``, gC m-2 d-1) -- the paper's two views.  Each region shows its ``top_features``
  features by mean ``|w_j z_j|``; a feature keeps one colour in every panel.
* **Figure 5** ("Spatial Distribution of temperature_2m Importance Weights and GPP Prediction
  Results at 01, 10, 20, and 30"): maps of ``w_temperature_2m`` (diverging colours, symmetric
  limits around zero, shared by the weeks) and of the predicted GPP at the given weeks ("Week NN"
  = period NN - 1, :func:`stcg.data.periods.week_to_period`).
* **Limiting-factor maps** (beyond the paper): the simulator's limiting factor beside the
  dominant factor group of the learned attributions (:mod:`stcg.report.scores`).
* **Training curves**: the DVCLive logs of ``train_stcg`` as a PNG (``dvc plots`` shows the same
  data interactively).

Matplotlib only (Agg); every function returns the ``Figure`` so tests can inspect its axes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from stcg.data.periods import period_start_doy, week_to_period  # noqa: E402
from stcg.data.schema import IGBP_SHORT, PERIODS_PER_YEAR  # noqa: E402
from stcg.report.attributions import Attributions  # noqa: E402
from stcg.report.maps import Grid, draw_map  # noqa: E402

# 20 well-separated colours: tab10, then the dark halves of tab20b / tab20c
_PALETTE = [*plt.get_cmap("tab10").colors,
            *[plt.get_cmap("tab20b").colors[i] for i in (0, 4, 8, 12, 16)],
            *[plt.get_cmap("tab20c").colors[i] for i in (0, 4, 8, 12, 16)]]
_STYLES = ["-", "--", ":"]
FACTOR_COLOURS = {"temperature": "#d7301f", "water": "#2171b5", "light": "#f4b400",
                  "canopy": "#31a354"}
UNDEFINED_COLOUR = "#bdbdbd"


def _message(ax, text: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="0.3",
            transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def week_label(week: int, year: int | None = None) -> str:
    """``Week 01 (1 Jan 2020)``: the paper's week and the date its period starts."""
    doy = period_start_doy(week_to_period(week))
    if year is None:
        return f"Week {week:02d}"
    day = dt.date(year, 1, 1) + dt.timedelta(days=doy - 1)
    return f"Week {week:02d} ({day.day} {day.strftime('%b')} {year})"


# ------------------------------------------------------------------------------- Figure 4
def region_mask(keys: pd.DataFrame, lon: Sequence[float], lat: Sequence[float],
                land_cover: Sequence[str] = ()) -> np.ndarray:
    """Rows of ``keys`` inside a lon/lat box (``lon[0] > lon[1]`` wraps the dateline), optionally
    of some IGBP classes (short names, e.g. ``EBF``).

    Raises:
        ValueError: on an unknown land-cover name or a latitude range upside down.
    """
    unknown = [c for c in land_cover if c not in IGBP_SHORT]
    if unknown:
        raise ValueError(f"land_cover: unknown IGBP class(es) {unknown}; known: {list(IGBP_SHORT)}")
    if lat[0] > lat[1]:
        raise ValueError(f"lat: [{lat[0]}, {lat[1]}] is upside down")
    x = keys["lon"].to_numpy(np.float64)
    y = keys["lat"].to_numpy(np.float64)
    in_lon = (x >= lon[0]) & (x <= lon[1]) if lon[0] <= lon[1] else (x >= lon[0]) | (x <= lon[1])
    m = in_lon & (y >= lat[0]) & (y <= lat[1])
    if land_cover:
        codes = [IGBP_SHORT.index(c) for c in land_cover]
        m &= np.isin(keys["land_cover"].to_numpy(), codes)
    return m


def period_means(att: Attributions, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per period of the year, the mean over the masked rows of ``w`` and of ``w z``.

    Returns:
        ``(w [46, F], wz [46, F])``, NaN for periods without rows.
    """
    per = att.keys["period"].to_numpy(np.int64)[mask]
    w = att.w[mask]
    wz = att.contribution[mask]
    n_f = w.shape[1]
    cnt = np.bincount(per, minlength=PERIODS_PER_YEAR).astype(np.float64)
    out = []
    for arr in (w, wz):
        s = np.zeros((PERIODS_PER_YEAR, n_f))
        np.add.at(s, per, arr)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(cnt[:, None] > 0, s / cnt[:, None], np.nan))
    return out[0], out[1]


def figure4(att: Attributions, regions: Sequence, top_features: int, resolution: float,
            year: int | None = None,
            labels: tuple[str, str] = ("weights w_j", "contributions w_j·z_j")) -> plt.Figure:
    """Figure 4: weights and contributions over the periods of the test year, per region.

    Args:
        att: the test-year attributions (one year: the first year present is used otherwise).
        regions: objects with ``name``, ``lon``, ``lat``, ``land_cover`` (params
            ``figures.regions``).
        top_features: features drawn per region (largest mean ``|w z|`` in the region).
        resolution: grid resolution in degrees (for the empty-region message).
        year: the year to draw (default: the first present).
        labels: names of the attribution's effect (``att.w``) and contribution (``att.w *
            att.z``) in the titles (:data:`stcg.report.attributions.FIGURE_ATTRIBUTIONS`).

    Returns:
        A figure with ``2 * len(regions)`` axes, row-major (region r: axes 2r weights, 2r+1
        contributions); a region without cells gets two message panels.
    """
    year = int(att.keys["year"].min()) if year is None else int(year)
    sel = att.keys["year"].to_numpy() == year
    att = att.take(sel)
    n = len(regions)
    # no sharex: an empty region's message panel clears its ticks, which would clear them all
    fig, axes = plt.subplots(n, 2, figsize=(12.5, 2.35 * n + 1.4), squeeze=False,
                             layout="constrained")
    if att.w is None:
        for ax in axes.ravel():
            _message(ax, "no interpretable weights (train_stcg.model.interp: false)")
        return fig
    weeks = np.arange(1, PERIODS_PER_YEAR + 1)
    per_region = []
    for reg in regions:
        m = region_mask(att.keys, reg.lon, reg.lat, reg.land_cover)
        if not m.any():
            per_region.append(None)
            continue
        w, wz = period_means(att, m)
        imp = np.nanmean(np.abs(wz), axis=0)
        top = [int(j) for j in np.argsort(-imp)[:top_features]]
        n_cells = int(att.keys.loc[m, "cell_id"].nunique())
        per_region.append((w, wz, top, imp, n_cells))
    # one colour per feature drawn anywhere, most important (summed over regions) first
    total: dict[int, float] = {}
    for r in per_region:
        if r is not None:
            for j in r[2]:
                total[j] = total.get(j, 0.0) + float(r[3][j])
    order = sorted(total, key=lambda j: -total[j])
    style = {j: (_PALETTE[i % len(_PALETTE)], _STYLES[(i // len(_PALETTE)) % len(_STYLES)])
             for i, j in enumerate(order)}
    for i, (reg, r) in enumerate(zip(regions, per_region, strict=True)):
        ax_w, ax_c = axes[i]
        box = f"lon {reg.lon[0]:g}..{reg.lon[1]:g}, lat {reg.lat[0]:g}..{reg.lat[1]:g}"
        lc = f", {'/'.join(reg.land_cover)}" if reg.land_cover else ""
        if r is None:
            for ax, what in ((ax_w, labels[0]), (ax_c, labels[1])):
                ax.set_title(f"{reg.name}: {what}", fontsize=10, loc="left")
                _message(ax, f"no land cells of this region at {resolution:g}°\n({box}{lc})")
            continue
        w, wz, top, _, n_cells = r
        for ax, arr in ((ax_w, w), (ax_c, wz)):
            ax.axhline(0.0, color="0.6", lw=0.6)
            for j in top:
                c, ls = style[j]
                ax.plot(weeks, arr[:, j], color=c, ls=ls, lw=1.5)
            ax.grid(alpha=0.3, lw=0.4)
            ax.tick_params(labelsize=8)
            ax.set_xlim(1, PERIODS_PER_YEAR)
            ax.set_xticks([1, 10, 20, 30, 40, PERIODS_PER_YEAR])
            if i < n - 1:
                ax.tick_params(labelbottom=False)
        ax_w.set_title(f"{reg.name} ({n_cells} cells{lc}): {labels[0]}", fontsize=10, loc="left")
        ax_c.set_title(f"{reg.name}: {labels[1]}", fontsize=10, loc="left")
        ax_w.set_ylabel("GPP per std\n(gC m⁻² d⁻¹)", fontsize=8)
        ax_c.set_ylabel("gC m⁻² d⁻¹", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel(f"week of {year} (8-day period + 1)", fontsize=9)
    handles = [Line2D([], [], color=style[j][0], ls=style[j][1], lw=2, label=att.variables[j])
               for j in order]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=min(4, len(handles)),
                   fontsize=8, frameon=False)
    fig.suptitle(f"Figure 4. {labels[0]} and {labels[1]} over {year} in "
                 f"{n} regions (top {top_features} features per region by mean |contribution|)",
                 fontsize=11)
    return fig


# ------------------------------------------------------------------------------- Figure 5
def figure5(att: Attributions, variable: str, weeks: Sequence[int], grid: Grid,
            outline: list[np.ndarray], percentile: float = 98.0,
            year: int | None = None, label: str = "weights w_j") -> plt.Figure:
    """Figure 5: per week (rows), maps of ``w_<variable>`` (left) and of the predicted GPP (right).

    ``label`` names the attribution held in ``att.w`` (the titles say which one is shown); its
    last word without ``_j`` is the symbol of the panel titles (``weights w_j`` -> ``w``).

    Returns:
        A figure whose first ``2 * len(weeks)`` axes are the maps, row-major (week i: axes 2i
        weight, 2i+1 GPP), then the two colour bars.

    Raises:
        ValueError: if ``variable`` is not a model feature.
    """
    if variable not in att.variables:
        raise ValueError(f"figures.map_variable: {variable!r} is not a model feature")
    year = int(att.keys["year"].min()) if year is None else int(year)
    j = att.variables.index(variable)
    symbol = label.split()[-1].removesuffix("_j")
    k = len(weeks)
    fig, axes = plt.subplots(k, 2, figsize=(13.0, 2.75 * k + 1.6), squeeze=False,
                             layout="constrained")
    yr = att.keys["year"].to_numpy() == year
    per = att.keys["period"].to_numpy()
    rows = [np.flatnonzero(yr & (per == week_to_period(w))) for w in weeks]
    gpp = att.keys["gpp_pred"].to_numpy(np.float64)
    w_all = None if att.w is None else att.w[:, j]
    sel = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    wmax = (float(np.nanpercentile(np.abs(w_all[sel]), percentile))
            if w_all is not None and sel.size else 1.0) or 1.0
    gmax = float(np.nanpercentile(gpp[sel], 99.5)) if sel.size else 1.0
    wnorm = Normalize(-wmax, wmax)
    gnorm = Normalize(0.0, max(gmax, 1e-6))
    im_w = im_g = None
    for i, (wk, r) in enumerate(zip(weeks, rows, strict=True)):
        ax_w, ax_g = axes[i, 0], axes[i, 1]
        wlabel = week_label(wk, year)
        ax_w.set_title(f"{symbol}({variable}), {wlabel}", fontsize=9.5)
        ax_g.set_title(f"predicted GPP, {wlabel}", fontsize=9.5)
        if r.size == 0:
            _message(ax_w, f"no test rows in {wlabel}")
            _message(ax_g, f"no test rows in {wlabel}")
            continue
        lon = att.keys["lon"].to_numpy()[r]
        lat = att.keys["lat"].to_numpy()[r]
        if w_all is None:
            _message(ax_w, "no interpretable weights (train_stcg.model.interp: false)")
        else:
            im_w = draw_map(ax_w, grid, grid.rasterise(lon, lat, w_all[r]), outline,
                            cmap="RdBu_r", norm=wnorm)
        im_g = draw_map(ax_g, grid, grid.rasterise(lon, lat, gpp[r]), outline,
                        cmap="YlGn", norm=gnorm)
    if im_w is not None:
        cb = fig.colorbar(im_w, ax=axes[:, 0], location="bottom", shrink=0.7, extend="both",
                          aspect=40)
        cb.set_label(f"GPP (gC m⁻² d⁻¹) per std of {variable}: red, GPP rises with it; "
                     "blue, falls", fontsize=8.5)
    if im_g is not None:
        cb = fig.colorbar(im_g, ax=axes[:, 1], location="bottom", shrink=0.7, extend="max",
                          aspect=40)
        cb.set_label("predicted GPP (gC m⁻² d⁻¹)", fontsize=8.5)
    fig.suptitle(f"Figure 5. {label} of {variable} and predicted GPP, {year}", fontsize=11)
    return fig


def figure_rows(keys: pd.DataFrame, regions: Sequence, weeks: Sequence[int],
                year: int | None = None) -> np.ndarray:
    """``[N]`` bool: the rows Figures 4 and 5 read (the year drawn, in a region of Figure 4 or
    at a week of Figure 5), so that attributions are computed for these rows only.

    Args:
        keys: rows with lon, lat, year, period, land_cover.
        regions: Figure 4's regions (``name``, ``lon``, ``lat``, ``land_cover``).
        weeks: Figure 5's weeks.
        year: the year drawn (default: the first present, as :func:`figure4` and
            :func:`figure5`).
    """
    year = int(keys["year"].min()) if year is None else int(year)
    rows = np.isin(keys["period"].to_numpy(), [week_to_period(w) for w in weeks])
    for r in regions:
        rows |= region_mask(keys, r.lon, r.lat, r.land_cover)
    return rows & (keys["year"].to_numpy() == year)


# ------------------------------------------------------------------ limiting-factor maps
def limiting_factor_maps(
    keys: pd.DataFrame,
    columns: Mapping[str, tuple[np.ndarray, np.ndarray, Mapping[int, float] | None]],
    factors: Sequence[str],
    weeks: Sequence[int],
    grid: Grid,
    outline: list[np.ndarray],
    year: int | None = None,
    grey_label: str = "undefined (all zero)",
    title: str | None = None,
) -> plt.Figure:
    """True and learned limiting-factor maps, one row per week, one column per source.

    Args:
        keys: rows with lon, lat, year, period.
        columns: title -> ``(mask [N] rows the source covers, labels [M] factor index per covered
            row (-1 undefined), agreement per week or None)``; the first is the truth.
        factors: factor names, index = label.
        weeks: the paper's weeks.
        grid, outline: map grid and land outline.
        year: year drawn (default: the first present).
        grey_label: legend entry of label -1.
        title: the figure's title (it should name the attribution shown).

    Returns:
        A figure with ``len(weeks) * len(columns)`` map axes (row-major).
    """
    year = int(keys["year"].min()) if year is None else int(year)
    heading = title
    k, c = len(weeks), len(columns)
    fig, axes = plt.subplots(k, c, figsize=(4.6 * c, 2.5 * k + 1.0), squeeze=False,
                             layout="constrained")
    colours = [FACTOR_COLOURS.get(f, f"C{i}") for i, f in enumerate(factors)]
    cmap = ListedColormap([UNDEFINED_COLOUR, *colours])
    norm = BoundaryNorm(np.arange(-1.5, len(factors)), cmap.N)
    yr = keys["year"].to_numpy() == year
    per = keys["period"].to_numpy()
    for ci, (title, (mask, labels, acc)) in enumerate(columns.items()):
        full = np.full(len(keys), -2, dtype=np.int64)
        full[np.flatnonzero(mask)] = labels
        for ri, wk in enumerate(weeks):
            ax = axes[ri, ci]
            r = np.flatnonzero(yr & (per == week_to_period(wk)) & (full > -2))
            head = f"{title}\n{week_label(wk, year)}"
            if acc is not None and acc.get(wk) is not None:
                head += f": agrees {acc[wk]:.0%}"
            ax.set_title(head, fontsize=8.5)
            if r.size == 0:
                _message(ax, f"no rows in {week_label(wk, year)}")
                continue
            img = grid.rasterise(keys["lon"].to_numpy()[r], keys["lat"].to_numpy()[r],
                                 full[r].astype(np.float64))
            draw_map(ax, grid, img, outline, cmap=cmap, norm=norm)
    handles = [Patch(color=col, label=f) for f, col in zip(factors, colours, strict=True)]
    handles.append(Patch(color=UNDEFINED_COLOUR, label=grey_label))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
               frameon=False)
    fig.suptitle(f"{heading}, {year}" if heading else
                 f"Limiting factor: simulator truth vs the dominant factor group of the learned "
                 f"attributions, {year}", fontsize=11)
    return fig


# ----------------------------------------------------------------------- training curves
def read_dvclive_tsvs(metrics_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Every ``*.tsv`` under a DVCLive ``plots/metrics`` folder, keyed by its stem."""
    root = Path(metrics_dir)
    if not root.exists():
        return {}
    return {p.stem: pd.read_csv(p, sep="\t") for p in sorted(root.rglob("*.tsv"))}


def training_curves(curves: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Three panels: the losses (``L_dep``, ``L_interp`` and their sum ``loss``, MSE on raw GPP,
    eqs. 16, 18), the monitored test RMSE and
    the learning rate, per epoch (DVCLive's ``step``)."""
    panels = (("training losses: MSE of GPP ((gC m⁻² d⁻¹)²)", ("loss", "loss_dep", "loss_interp")),
              ("monitor: test-sample RMSE (gC m⁻² d⁻¹)", ("monitor_rmse",)),
              ("learning rate", ("lr",)))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), layout="constrained")
    for ax, (title, names) in zip(axes, panels, strict=True):
        ax.set_title(title, fontsize=10)
        have = [n for n in names if n in curves and n in curves[n]]
        if not have:
            _message(ax, f"no DVCLive curve {' / '.join(names)}")
            continue
        for n in have:
            df = curves[n]
            ax.plot(df["step"] + 1, df[n], marker="o", ms=3, label=n)
        ax.set_xlabel("epoch", fontsize=9)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
        if len(have) > 1:
            ax.legend(fontsize=8)
        if names == ("lr",):
            ax.set_yscale("log")
    fig.suptitle("STCG training curves (train_stcg, DVCLive)", fontsize=11)
    return fig


def save_figure(fig: plt.Figure, path: str | Path, dpi: int) -> None:
    """Write a PNG atomically and close the figure."""
    from stcg.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
