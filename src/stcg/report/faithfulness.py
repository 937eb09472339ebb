"""An identifiable benchmark for interpretable weights: a varying-coefficient truth on the land grid.

The simulator's GPP is not linear in its inputs, so its "true weights" are a local slope that a
model's weights need not equal.  Here the data are generated *from* a varying-coefficient model,
so a faithful method has exactly one right answer::

    y = b_0(u, t) + sum_j b_j(u, t) z_j + eps

* ``u``: the land cells of the simulator's grid (GLDAS and MCD12C1 land share, no ice sheets:
  :func:`land_cells`, the rule of :func:`stcg.data.sim.static.build_cells`);
* ``t``: the 8-day period of the year; ``b_j`` does not change between years;
* ``b_j(u, t) = s tanh(f_j0(u) + f_j1(u) cos(2 pi t / 46) + f_j2(u) sin(2 pi t / 46))`` with
  ``f`` unit-variance smooth random fields on the sphere (:func:`stcg.data.sim.fields.
  static_field`, length ``coef_length_km``): smooth in space and season, bounded by ``s``;
  ``n_zero`` of the 26 coefficients are exactly 0 everywhere; ``b_0`` is ``intercept_mean +
  intercept_amplitude tanh(...)`` the same way;
* ``z_j = m_j(u, t) + a_j``: a smooth local climatology ``m`` (amplitude ``input_mean_sd``) plus
  an anomaly drawn per (cell, year, period), uniform with unit variance, shared with one common
  factor so inputs correlate weakly (pairwise ``input_correlation``);
* ``eps``: Gaussian noise of standard deviation ``noise`` (gC m-2 d-1), cut at 4 sd so GPP stays
  in its plausible range.

The inputs are written as the 26 ERA5-Land bands in physical units, ``x_j = loc_j + scale_j z_j``
(``loc_j``, ``scale_j``: the middle and a twentieth of the band's plausible range), one Parquet
file per year, and ingested by ``build_data``'s ``files`` source (:func:`stcg.data.files.
build_from_files`), so the data reach every method through the real data path.

Every method's fitted coefficients are mapped back to ``z`` units (``b_j = c_j scale_j`` for a
raw-unit coefficient ``c_j``; ``b_0 = c_0 + sum_j c_j loc_j``) and scored on the held-out rows
(the test year at ``score_periods``) by :func:`score_coefficients`:

* ``coef_r_median``: per non-zero coefficient, the Pearson r across the held-out rows between
  the fitted and the true ``b_j``; the median over them (a constant fit has r = 0);
* ``zero_coef_rmse``: RMSE of the fitted coefficients whose truth is exactly 0;
* ``intercept_rmse``: RMSE of the fitted ``b_0``;
* ``y_rmse``: RMSE of the method's GPP against the observed (noisy) GPP.

Scored the same way in the same run: the **oracle** (the true coefficients and the noise-free
``y``: r = 1, zero and intercept RMSE 0, ``y_rmse`` = the noise) and three **nulls**: the true
coefficients of other random rows (``shuffled``), iid Gaussian coefficients of the truth's size
(``noise``), and the truth's global mean coefficients everywhere (``constant``: one global
regression).  ``node_mean_truth`` scores the truth averaged over each graph node's cells per
period: about the best that weights of (node, period) alone, as ``interp_source: condition``
decodes them (land cover aside), can reach on this graph.

Over 500 lines: one benchmark end to end, in the order it runs (the truth and its files, the
reference scores, each method's fit, the scoring), so that the whole protocol reads in one place;
its seams, if it grows, are truth / fits / scoring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.data.schema import PERIODS_PER_YEAR, TARGET, VARIABLES

NOISE_CUT = 4.0
"""The noise is cut at this many standard deviations (GPP must stay in its plausible range)."""


# ---- the land grid --------------------------------------------------------------------------


def land_cells(data_dir: str | Path, resolution: float, min_land_fraction: float = 0.5) -> pd.DataFrame:
    """The simulator's land cells (``cell_id, lon, lat, land_cover``), sorted by ``cell_id``.

    The rule of :func:`stcg.data.sim.static.build_cells` (GLDAS and MCD12C1 land share at least
    ``min_land_fraction``, majority class not snow and ice), from the same readers, without the
    climatology layers the benchmark does not need (a tenth of the time).
    """
    from stcg.data.schema import cell_id_for, grid_shape
    from stcg.data.sim import static

    data_dir = Path(data_dir)
    grid_shape(resolution)
    lc = static.read_land_cover(data_dir)
    b = static._factor(resolution, static.MCD_PIXEL, "MCD12C1")
    lc_major, n_land = static.block_majority(lc, b, np.arange(17), ignore=(static.WATER,))
    land_frac = n_land / float(b * b)
    gl = static.block_mean(static.read_gldas_mask(data_dir),
                           static._factor(resolution, 0.25, "GLDAS"))
    land = ((land_frac >= min_land_fraction) & (gl >= min_land_fraction)
            & (lc_major != static.SNOW_ICE))
    rows, cols = np.nonzero(land)
    lat = 90.0 - (rows + 0.5) * resolution
    lon = -180.0 + (cols + 0.5) * resolution
    return pd.DataFrame({
        "cell_id": cell_id_for(lon, lat, resolution).astype(np.int32),
        "lon": lon, "lat": lat,
        "land_cover": lc_major[rows, cols].astype(np.int8),
    }).sort_values("cell_id", kind="stable").reset_index(drop=True)


# ---- the generator --------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """The generator's truth on the cells.

    Attributes:
        cells: ``cell_id, lon, lat, land_cover`` per cell (``C`` rows, sorted by ``cell_id``).
        variables: the ``F`` inputs, in order.
        coef: ``[C, 46, 1 + F]`` ``b_0`` then ``b_j`` per cell and period (``z`` units).
        nonzero: ``[F]`` bool, the inputs whose coefficient is not 0.
        loc: ``[F]`` physical value of ``z_j = 0``.
        scale: ``[F]`` physical units per unit of ``z_j``.
        noise: the noise standard deviation (before the cut).
    """

    cells: pd.DataFrame
    variables: tuple[str, ...]
    coef: np.ndarray
    nonzero: np.ndarray
    loc: np.ndarray
    scale: np.ndarray
    noise: float


def _seasonal_field(seed: int, stream: int, length_km: float, xyz: np.ndarray) -> np.ndarray:
    """``[C, 46]`` ``f0(u) + f1(u) cos(w t) + f2(u) sin(w t)`` of three unit smooth fields."""
    from stcg.data.sim.fields import static_field

    f = [static_field(seed, stream * 3 + k, length_km, xyz) for k in range(3)]
    ang = 2.0 * np.pi * np.arange(PERIODS_PER_YEAR) / PERIODS_PER_YEAR
    return f[0][:, None] + f[1][:, None] * np.cos(ang) + f[2][:, None] * np.sin(ang)


def make_truth(cells: pd.DataFrame, variables: tuple[str, ...], cfg) -> Truth:
    """Draw the coefficient surfaces and the input climatology (module docstring).

    Args:
        cells: :func:`land_cells`.
        variables: the input bands (known to :data:`stcg.data.schema.VARIABLES`).
        cfg: :class:`stcg.report.faithfulness_config.FaithfulnessConfig`.
    """
    from stcg.data.sim.fields import unit_vectors

    f = len(variables)
    if not 0 <= cfg.n_zero < f:
        raise ValueError(f"faithfulness.n_zero: must be in 0..{f - 1} (inputs: {f}), "
                         f"got {cfg.n_zero}")
    xyz = unit_vectors(cells["lon"].to_numpy(), cells["lat"].to_numpy())
    rng = np.random.default_rng([cfg.seed, 11])
    nonzero = np.ones(f, dtype=bool)
    nonzero[rng.choice(f, cfg.n_zero, replace=False)] = False
    coef = np.zeros((len(cells), PERIODS_PER_YEAR, 1 + f))
    coef[..., 0] = cfg.intercept_mean + cfg.intercept_amplitude * np.tanh(
        _seasonal_field(cfg.seed, 1000, cfg.coef_length_km, xyz) / math.sqrt(3.0))
    for j in np.flatnonzero(nonzero):
        coef[..., 1 + j] = cfg.coef_scale * np.tanh(
            _seasonal_field(cfg.seed, 1001 + j, cfg.coef_length_km, xyz) / math.sqrt(1.5))
    spec = [VARIABLES[v] for v in variables]
    loc = np.array([(s.lo + s.hi) / 2.0 for s in spec])
    scale = np.array([(s.hi - s.lo) / 20.0 for s in spec])
    return Truth(cells=cells.reset_index(drop=True), variables=tuple(variables), coef=coef,
                 nonzero=nonzero, loc=loc, scale=scale, noise=float(cfg.noise))


def input_climatology(truth: Truth, cfg) -> np.ndarray:
    """``[C, 46, F]`` the inputs' smooth local climatology ``m_j(u, t)`` (``z`` units)."""
    from stcg.data.sim.fields import unit_vectors

    xyz = unit_vectors(truth.cells["lon"].to_numpy(), truth.cells["lat"].to_numpy())
    f = len(truth.variables)
    return np.stack([cfg.input_mean_sd * np.tanh(
        _seasonal_field(cfg.seed, 2000 + j, cfg.coef_length_km, xyz) / math.sqrt(3.0))
        for j in range(f)], axis=-1)


def draw_year(truth: Truth, clim: np.ndarray, year: int, cfg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One year of inputs and GPP.

    Returns:
        ``(z [C, 46, F], y_true [C, 46], y [C, 46])``: inputs in ``z`` units, the noise-free
        and the observed GPP.
    """
    rng = np.random.default_rng([cfg.seed, 12, year])
    c, t, f = clim.shape
    half = math.sqrt(3.0)  # a uniform on [-sqrt 3, sqrt 3] has unit variance
    own = rng.uniform(-half, half, (c, t, f))
    common = rng.uniform(-half, half, (c, t, 1))
    r = cfg.input_correlation
    z = clim + math.sqrt(1.0 - r) * own + math.sqrt(r) * common
    y_true = truth.coef[..., 0] + np.einsum("ctf,ctf->ct", truth.coef[..., 1:], z)
    eps = np.clip(rng.standard_normal((c, t)), -NOISE_CUT, NOISE_CUT) * cfg.noise
    return z, y_true, y_true + eps


def write_files(truth: Truth, cfg, years: tuple[int, ...], out_dir: str | Path) -> Path:
    """Write one Parquet file per year in the ``files`` schema (physical units) to ``out_dir``.

    Raises:
        ValueError: if a GPP value leaves the plausible range (then lower ``coef_scale`` or
            ``noise``, or raise ``intercept_mean``).
    """
    from stcg.data.schema import GPP_RANGE

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clim = input_climatology(truth, cfg)
    cells = truth.cells
    c = len(cells)
    for year in years:
        z, _, y = draw_year(truth, clim, year, cfg)
        lo, hi = float(y.min()), float(y.max())
        if lo < GPP_RANGE[0] or hi > GPP_RANGE[1]:
            raise ValueError(
                f"faithfulness: generated GPP of year {year} spans [{lo:.2f}, {hi:.2f}], outside "
                f"the plausible {list(GPP_RANGE)}; lower coef_scale or noise, or move "
                "intercept_mean towards the middle")
        x = truth.loc + truth.scale * z
        df = pd.DataFrame({
            "cell_id": np.repeat(cells["cell_id"].to_numpy(), PERIODS_PER_YEAR),
            "lon": np.repeat(cells["lon"].to_numpy(), PERIODS_PER_YEAR),
            "lat": np.repeat(cells["lat"].to_numpy(), PERIODS_PER_YEAR),
            "year": np.full(c * PERIODS_PER_YEAR, year, dtype=np.int16),
            "period": np.tile(np.arange(PERIODS_PER_YEAR, dtype=np.int8), c),
            "land_cover": np.repeat(cells["land_cover"].to_numpy(), PERIODS_PER_YEAR),
        })
        for j, v in enumerate(truth.variables):
            df[v] = x[..., j].reshape(-1)
        df[TARGET] = y.reshape(-1)
        df.to_parquet(out_dir / f"varcoef_{year}.parquet", index=False)
    return out_dir


# ---- scoring ---------------------------------------------------------------------------------


def to_z_units(intercept_raw: np.ndarray, coef_raw: np.ndarray, truth: Truth) -> np.ndarray:
    """``[N, 1 + F]`` coefficients in ``z`` units from a raw-unit intercept ``[N]`` and
    coefficients ``[N, F]`` (per physical unit of each input)."""
    b = coef_raw * truth.scale
    b0 = intercept_raw + coef_raw @ truth.loc
    return np.concatenate([b0[:, None], b], axis=1)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r; 0 when either side is constant (a constant fit carries no pattern)."""
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    if den <= 1e-12 * max(1.0, float(np.abs(a).max()) * float(np.abs(b).max())) or den == 0.0:
        return 0.0
    return float((a * b).sum() / den)


def score_coefficients(
    coef_hat: np.ndarray, y_hat: np.ndarray, coef_true: np.ndarray, nonzero: np.ndarray,
    y: np.ndarray,
) -> dict[str, float]:
    """The four scores of one method on the held-out rows (module docstring).

    Args:
        coef_hat: ``[N, 1 + F]`` fitted ``b_0, b_j`` (``z`` units).
        y_hat: ``[N]`` the method's GPP.
        coef_true: ``[N, 1 + F]`` the truth.
        nonzero: ``[F]`` the inputs whose true coefficient is not 0.
        y: ``[N]`` observed GPP.
    """
    if coef_hat.shape != coef_true.shape:
        raise ValueError(f"coefficients {coef_hat.shape} vs truth {coef_true.shape}")
    nz = np.flatnonzero(nonzero) + 1
    zero = np.flatnonzero(~nonzero) + 1
    rs = [_pearson(coef_hat[:, j], coef_true[:, j]) for j in nz]
    return {
        "coef_r_median": float(np.median(rs)) if rs else float("nan"),
        "coef_r_min": float(np.min(rs)) if rs else float("nan"),
        "zero_coef_rmse": (float(np.sqrt(np.mean(coef_hat[:, zero] ** 2))) if zero.size
                           else float("nan")),
        "nonzero_coef_rmse": float(np.sqrt(np.mean((coef_hat[:, nz] - coef_true[:, nz]) ** 2))),
        "intercept_rmse": float(np.sqrt(np.mean((coef_hat[:, 0] - coef_true[:, 0]) ** 2))),
        "y_rmse": float(np.sqrt(np.mean((y_hat - y) ** 2))),
    }


def reference_scores(
    coef_true: np.ndarray, z: np.ndarray, nonzero: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, dict[str, float]]:
    """The oracle and the nulls, scored by :func:`score_coefficients` (module docstring).

    Args:
        coef_true: ``[N, 1 + F]`` the truth at the held-out rows.
        z: ``[N, F]`` the inputs (``z`` units).
        nonzero: ``[F]``.
        y: ``[N]`` observed GPP.
        seed: the nulls' draws.
    """
    rng = np.random.default_rng([seed, 13])

    def predict(c: np.ndarray) -> np.ndarray:
        return c[:, 0] + (c[:, 1:] * z).sum(1)

    n = coef_true.shape[0]
    shuffled = coef_true[rng.permutation(n)]
    nz = np.flatnonzero(nonzero) + 1
    size = float(np.sqrt(np.mean(coef_true[:, nz] ** 2))) if nz.size else 1.0
    noise = rng.standard_normal(coef_true.shape) * size
    noise[:, 0] = coef_true[:, 0].mean() + rng.standard_normal(n) * coef_true[:, 0].std()
    constant = np.broadcast_to(coef_true.mean(0), coef_true.shape).copy()
    out = {"oracle": score_coefficients(coef_true, predict(coef_true), coef_true, nonzero, y)}
    out["nulls"] = {
        name: score_coefficients(c, predict(c), coef_true, nonzero, y)
        for name, c in (("shuffled", shuffled), ("noise", noise), ("constant", constant))
    }
    return out


# ---- the benchmark ---------------------------------------------------------------------------


@dataclass
class HeldOut:
    """The scored rows: the test year at ``score_periods``.

    Attributes:
        cell: ``[N]`` cell index (truth and dataset order, the same).
        period: ``[N]`` period of year.
        x: ``[N, F]`` inputs in physical units (as ingested, float32).
        z: ``[N, F]`` inputs in ``z`` units.
        y: ``[N]`` observed GPP.
        coef: ``[N, 1 + F]`` true coefficients.
    """

    cell: np.ndarray
    period: np.ndarray
    x: np.ndarray
    z: np.ndarray
    y: np.ndarray
    coef: np.ndarray


def held_out_rows(dense, truth: Truth, test_year: int, periods: tuple[int, ...]) -> HeldOut:
    """The test year's rows at ``periods`` from the ingested dataset ``dense``."""
    if not np.array_equal(dense.cell_id, truth.cells["cell_id"].to_numpy()):
        raise ValueError("faithfulness: the ingested cells differ from the generated ones")
    cells, periods_ = [], []
    for p in periods:
        t = np.flatnonzero((dense.year == test_year) & (dense.period == p))
        if t.size != 1:
            raise ValueError(f"faithfulness: test year {test_year} has no period {p}")
        cells.append(np.arange(dense.n_cells))
        periods_.append(np.full(dense.n_cells, p))
    cell, period = np.concatenate(cells), np.concatenate(periods_)
    t_of = {int(p): int(np.flatnonzero((dense.year == test_year) & (dense.period == p))[0])
            for p in periods}
    t = np.array([t_of[int(p)] for p in period])
    x = dense.x[cell, t].astype(np.float64)
    return HeldOut(cell=cell, period=period, x=x, z=(x - truth.loc) / truth.scale,
                   y=dense.y[cell, t].astype(np.float64), coef=truth.coef[cell, period])


def stcg_coefficients(
    pred: pd.DataFrame, bundle, variables: tuple[str, ...], dense, held: HeldOut, test_year: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An STCG run's weights at the held-out rows, in raw units.

    ``w`` is GPP per training standard deviation of the input and ``w_0`` is the GPP at the
    training mean, so ``c_j = w_j / std_j`` and ``c_0 = w_0 - sum_j w_j mean_j / std_j``; a
    model with ``center_inputs: climatology`` has ``w_0`` at the cell's reference ``r``
    (standardised), so ``c_0 = w_0 - sum_j w_j (mean_j / std_j + r_j)``.

    Args:
        bundle: the run's :class:`stcg.train.bundle.ModelBundle` (statistics, reference).

    Returns:
        ``(intercept_raw [N], coef_raw [N, F], y_interp [N], y_target [N])``.
    """
    key = pd.DataFrame({"cell_id": dense.cell_id[held.cell], "period": held.period,
                        "year": test_year})
    m = key.merge(pred, on=["cell_id", "period", "year"], how="left", validate="one_to_one")
    if m["gpp_pred"].isna().any():
        raise ValueError("faithfulness: STCG predictions miss held-out rows")
    stats = bundle.stats
    w = m[[f"w_{v}" for v in variables]].to_numpy(np.float64)
    coef_raw = w / stats.std
    shift = np.broadcast_to(stats.mean / stats.std, w.shape)
    ref = bundle.reference_for(dense.cell_id)
    if ref is not None:
        shift = shift + ref[held.cell, held.period].astype(np.float64)
    intercept = m["w_intercept"].to_numpy(np.float64) - (w * shift).sum(1)
    return (intercept, coef_raw, m["gpp_interp"].to_numpy(np.float64),
            m["gpp_pred"].to_numpy(np.float64))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(0)
    sd = x.std(0)
    sd[sd == 0] = 1.0
    return mean, sd


def _raw(params: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intercept and coefficients on standardised inputs -> raw units."""
    coef = params[:, 1:] / sd
    return params[:, 0] - coef @ mean, coef


def fit_gwr_periods(dense, held: HeldOut, train_years: tuple[int, ...], cfg, device: str):
    """GWR per scored period on that period's training rows (every training year), predicted at
    the held-out rows of the period.  Returns ``(intercept_raw, coef_raw, y_hat, info)``."""
    from stcg.baselines.spatial.gwr import GWR
    from stcg.device import resolve_device

    n = len(held.y)
    f = dense.x.shape[-1]
    intercept, coef, y_hat = np.empty(n), np.empty((n, f)), np.empty(n)
    coords = np.stack([dense.lon, dense.lat], axis=1).astype(np.float64)
    info = {}
    for p in np.unique(held.period):
        t = np.flatnonzero(np.isin(dense.year, train_years) & (dense.period == p))
        xt = dense.x[:, t].transpose(1, 0, 2).reshape(-1, f).astype(np.float64)
        yt = dense.y[:, t].T.reshape(-1).astype(np.float64)
        ct = np.tile(coords, (len(t), 1))
        mean, sd = _standardise(xt)
        model = GWR(ct, yt, (xt - mean) / sd, kernel=cfg.kernel, fixed=cfg.fixed,
                    spherical=True, ridge=cfg.ridge, device=resolve_device(device))
        sel = model.select_bandwidth(cfg.criterion, bw_min=cfg.bw_min, bw_max=cfg.bw_max,
                                     skip_singular=True)
        rows = np.flatnonzero(held.period == p)
        out = model.predict(coords[held.cell[rows]], (held.x[rows] - mean) / sd, sel.bw)
        intercept[rows], coef[rows] = _raw(out.params, mean, sd)
        y_hat[rows] = out.predictions
        info[int(p)] = {"bandwidth": sel.bw, "fits": len(sel.history), "rows": len(yt)}
    return intercept, coef, y_hat, {"per_period": info}


def fit_gtwr_rows(dense, held: HeldOut, train_years: tuple[int, ...], cfg, max_rows: int,
                  seed: int, device: str):
    """GTWR on ``max_rows`` random training rows of every period (cyclic time), predicted at the
    held-out rows.  Returns ``(intercept_raw, coef_raw, y_hat, info)``."""
    from stcg.baselines.spatial.gtwr import GTWR, gtwr_search_bounds
    from stcg.device import resolve_device

    t_train = np.flatnonzero(np.isin(dense.year, train_years))
    cc, tt = np.meshgrid(np.arange(dense.n_cells), t_train, indexing="ij")
    cc, tt = cc.reshape(-1), tt.reshape(-1)
    ok = np.isfinite(dense.y[cc, tt])
    cc, tt = cc[ok], tt[ok]
    if len(cc) > max_rows:
        pick = np.sort(np.random.default_rng([seed, 14]).choice(len(cc), max_rows, replace=False))
        cc, tt = cc[pick], tt[pick]
    coords = np.stack([dense.lon, dense.lat], axis=1).astype(np.float64)
    xt = dense.x[cc, tt].astype(np.float64)
    mean, sd = _standardise(xt)
    model = GTWR(coords[cc], dense.period[tt].astype(np.float64), dense.y[cc, tt], (xt - mean) / sd,
                 kernel=cfg.kernel, spherical=True,
                 time_period=float(PERIODS_PER_YEAR) if cfg.cyclic_time else None,
                 ridge=cfg.ridge, device=resolve_device(device), workers=cfg.workers)
    bw_bounds, tau_bounds = gtwr_search_bounds(model, cfg.tau_ratio, cfg.bw_min, cfg.bw_max)
    holdout = None
    if cfg.criterion == "holdout":  # whole cells held out, all their rows
        cells = np.unique(cc)
        held_cells = np.random.default_rng([cfg.seed, 15]).choice(
            cells, max(1, int(round(len(cells) * cfg.holdout_fraction))), replace=False)
        holdout = np.isin(cc, held_cells)
    sel = model.select(cfg.criterion, bw_bounds=bw_bounds, tau_bounds=tau_bounds,
                       rounds=cfg.rounds, skip_singular=True, holdout=holdout, tol=cfg.tol,
                       tau_tol=cfg.tol)
    bw = sel.bw
    if holdout is not None:  # keep the neighbourhood's extent when refitting on every row
        bw = float(min(model.n, round(sel.bw * model.n / int((~holdout).sum()))))
    y_hat, params = model.predict(coords[held.cell], held.period.astype(np.float64),
                                  (held.x - mean) / sd, bw, sel.tau)
    intercept, coef = _raw(params, mean, sd)
    return intercept, coef, y_hat, {"bandwidth": bw, "tau": sel.tau, "fits": len(sel.history),
                                    "rows": int(model.n)}


def run_benchmark(
    data_dir: str | Path,
    work: str | Path,
    cfg,
    stcg_cfg,
    graph_cfg,
    variables: tuple[str, ...],
    log=print,
    baselines: bool = True,
) -> dict:
    """Generate, ingest, fit every method and score it (module docstring).

    Args:
        data_dir: the raw inputs (``data/``: the land mask and land cover).
        work: a scratch directory (files, dataset, models).
        cfg: :class:`stcg.report.faithfulness_config.FaithfulnessConfig`.
        stcg_cfg: :class:`stcg.train.config.TrainStcgConfig` (``train_stcg``): the model the variants
            override; window, budget, threads and device come from ``cfg``.
        graph_cfg: :class:`stcg.graph.config.BuildGraphConfig` (``build_graph``); ``cfg.clusters``
            nodes (at most a third of the cells).
        variables: the input bands.
        log: progress lines.
        baselines: also fit GWR and GTWR (False: the STCG variants only).

    Returns:
        The ``faithfulness.json`` dict: the setup, ``reference`` (oracle and nulls), ``methods``
        (scores and fit details per method) and ``seconds`` per method (machine facts).
    """
    import dataclasses
    import time

    import torch

    from stcg.data.config import BuildDataConfig
    from stcg.data.dataset import load_dense, read_meta
    from stcg.data.files import build_from_files
    from stcg.graph.build import build_graph
    from stcg.train.bundle import load_bundle
    from stcg.train.run import train_stcg

    work = Path(work)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    cells = land_cells(data_dir, cfg.resolution)
    truth = make_truth(cells, tuple(variables), cfg)
    bd = BuildDataConfig(source="files", seed=cfg.seed, resolution=cfg.resolution,
                         variables=tuple(variables), splits=cfg.splits)
    write_files(truth, cfg, cfg.splits.years, work / "files")
    build_from_files(work / "files", work / "climate2gpp", bd)
    meta = read_meta(work / "climate2gpp")
    dense = load_dense(work / "climate2gpp", years=meta.years)
    test_year = meta.test_years[0]
    held = held_out_rows(dense, truth, test_year, tuple(cfg.score_periods))
    seconds["data"] = time.perf_counter() - t0
    log(f"faithfulness: {dense.n_cells} cells, {len(meta.years)} years, {len(held.y)} scored rows")

    result: dict = {
        "setup": {
            "cells": int(dense.n_cells), "resolution": cfg.resolution,
            "train_years": list(meta.train_years), "test_year": int(test_year),
            "score_periods": list(cfg.score_periods), "scored_rows": int(len(held.y)),
            "inputs": len(variables), "nonzero": [v for v, nz in zip(variables, truth.nonzero,
                                                                      strict=True) if nz],
            "noise": cfg.noise,
            "true_coef_sd": float(held.coef[:, 1:][:, truth.nonzero].std()),
        },
        "reference": reference_scores(held.coef, held.z, truth.nonzero, held.y, cfg.seed),
        "methods": {},
    }

    def add(name: str, intercept: np.ndarray, coef: np.ndarray, y_hat: np.ndarray,
            extra: dict) -> None:
        b = to_z_units(intercept, coef, truth)
        result["methods"][name] = {**score_coefficients(b, y_hat, held.coef, truth.nonzero,
                                                        held.y), **extra}
        s = result["methods"][name]
        log(f"faithfulness: {name}: coef_r_median {s['coef_r_median']:.3f}, zero_coef_rmse "
            f"{s['zero_coef_rmse']:.3f}, y_rmse {s['y_rmse']:.3f}")

    t0 = time.perf_counter()
    k = min(cfg.clusters, max(2, dense.n_cells // 3))
    graph = build_graph(dense.cell_id, dense.lon, dense.lat,
                        dataclasses.replace(graph_cfg, clusters=k, seed=cfg.seed,
                                            knn=min(graph_cfg.knn, k - 1)),
                        progress=False)
    seconds["graph"] = time.perf_counter() - t0
    # the best a weight of (node, period) alone can do: the truth averaged over each node's cells
    node = graph.cell_node[np.searchsorted(graph.cell_id, dense.cell_id)][held.cell]
    node_mean = pd.DataFrame(held.coef).groupby([node, held.period]).transform("mean").to_numpy()
    result["reference"]["node_mean_truth"] = score_coefficients(
        node_mean, node_mean[:, 0] + (node_mean[:, 1:] * held.z).sum(1), held.coef,
        truth.nonzero, held.y)
    result["setup"]["graph_nodes"] = int(k)

    for name, variant in cfg.variants.items():
        t0 = time.perf_counter()
        model = dataclasses.replace(stcg_cfg.model, **dict(variant.model))
        run_cfg = dataclasses.replace(
            stcg_cfg, seed=cfg.seed, window=cfg.window, model=model, optim=cfg.optim,
            device=cfg.device, threads=cfg.threads, monitor_samples=0, seeds=1,
            distributed=dataclasses.replace(stcg_cfg.distributed, nproc=1))
        out = work / "stcg" / name
        rep = train_stcg(work / "climate2gpp", graph, run_cfg, out, None, out / "metrics.json",
                         None, progress=False)
        bundle = load_bundle(out / "model.pt")
        pred = pd.read_parquet(out / "predictions.parquet")
        c0, c, y_interp, y_target = stcg_coefficients(pred, bundle, tuple(variables),
                                                      dense, held, test_year)
        add(f"stcg_{name}", c0, c, y_interp, {
            "y_rmse_target": float(np.sqrt(np.mean((y_target - held.y) ** 2))),
            # the raw-unit coefficients give back the branch's own output (unit check)
            "reconstruction_max_abs": float(np.abs(c0 + (c * held.x).sum(1) - y_interp).max()),
            "overrides": dict(variant.model), "test_rmse_all_periods": rep["test"]["rmse"]})
        seconds[f"stcg_{name}"] = time.perf_counter() - t0

    if baselines:
        t0 = time.perf_counter()
        c0, c, y_hat, info = fit_gwr_periods(dense, held, meta.train_years, cfg.gwr, cfg.device)
        add("gwr", c0, c, y_hat, info)
        seconds["gwr"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        c0, c, y_hat, info = fit_gtwr_rows(dense, held, meta.train_years, cfg.gtwr,
                                           cfg.gtwr_max_rows, cfg.seed, cfg.device)
        add("gtwr", c0, c, y_hat, info)
        seconds["gtwr"] = time.perf_counter() - t0
    result["seconds"] = {k_: round(v, 1) for k_, v in seconds.items()}
    return result


def faithfulness_headline(result: dict) -> dict:
    """The headline: per method (oracle and nulls too) ``coef_r_median``, ``zero_coef_rmse``
    and ``y_rmse``, and the best STCG variant by ``coef_r_median``."""
    keys = ("coef_r_median", "zero_coef_rmse", "y_rmse")
    methods = result["methods"]
    out: dict = {m: {k: round(float(s[k]), 4) for k in keys} for m, s in methods.items()}
    out["oracle"] = {k: round(float(result["reference"]["oracle"][k]), 4) for k in keys}
    for n, s in result["reference"]["nulls"].items():
        out[f"null_{n}"] = {k: round(float(s[k]), 4) for k in keys[:2]}
    stcg = [m for m in methods if m.startswith("stcg_")]
    if stcg:
        out["stcg_best"] = max(stcg, key=lambda m: methods[m]["coef_r_median"])
    return out
