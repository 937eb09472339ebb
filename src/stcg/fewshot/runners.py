"""Fitting GWR, GNNWR (per week) and GTWR, GTNNWR (all periods) on the few-shot data.

Each function returns a :class:`~stcg.fewshot.scoring.FewShotPrediction` covering
every cell (training cells: in-sample fit; held-out cells: out-of-sample prediction).  All
methods use great-circle geometry on ``(lon, lat)``: GWR/GNNWR haversine km (mgwr's), GTWR chord
km (see :mod:`stcg.baselines.spatial.gtwr`), and cyclic time over the 46 periods.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import numpy as np

from stcg.baselines.spatial.gnnwr import GNNWR
from stcg.baselines.spatial.gtwr import GTWR, gtwr_search_bounds
from stcg.baselines.spatial.gwr import GWR
from stcg.data.periods import week_key, week_to_period
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.device import resolve_device
from stcg.fewshot.config import GTWRFewshotConfig, GWRFewshotConfig, NNWRFewshotConfig
from stcg.fewshot.dataset import FewShot
from stcg.fewshot.scoring import FewShotPrediction, evaluate
from stcg.metrics import aggregate_seeds, seed_list
from stcg.parallel import fork_map, side_by_side, threads_per_process

ProgressFn = Callable[[str], None]


@dataclasses.dataclass
class Standardizer:
    """z-scoring with training statistics; constant columns are dropped.

    Attributes:
        mean: ``[F]`` training means.
        sd: ``[F]`` training standard deviations.
        keep: ``[F]`` columns with ``sd > 0`` (the others are dropped).
    """

    mean: np.ndarray
    sd: np.ndarray
    keep: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        """Statistics of ``X [n, F]``."""
        mean, sd = X.mean(0), X.std(0)
        keep = sd > 1e-12 * np.maximum(1.0, np.abs(mean))
        return cls(mean=mean, sd=np.where(keep, sd, 1.0), keep=keep)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``[..., F] -> [..., F_kept]`` z-scores."""
        return ((X - self.mean) / self.sd)[..., self.keep]

    def to_json(self, names: tuple[str, ...]) -> dict:
        """Per-feature mean, sd and whether it was kept."""
        return {n: {"mean": float(m), "sd": float(s), "kept": bool(k)}
                for n, m, s, k in zip(names, self.mean, self.sd, self.keep, strict=True)}


def _expand(coef_kept: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``[..., 1 + F_kept]`` -> ``[..., 1 + F]`` with NaN for dropped covariates."""
    out = np.full((*coef_kept.shape[:-1], 1 + keep.size), np.nan)
    out[..., 0] = coef_kept[..., 0]
    out[..., 1 + np.flatnonzero(keep)] = coef_kept[..., 1:]
    return out


def _names(fs: FewShot) -> tuple[str, ...]:
    return ("intercept", *fs.features)


def _val_mask(n_train: int, fraction: float, seed: int) -> np.ndarray:
    n_val = max(1, min(n_train - 2, int(round(n_train * fraction))))
    mask = np.zeros(n_train, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n_train)[:n_val]] = True
    return mask


def fit_gwr_week(
    fs: FewShot, week: int, cfg: GWRFewshotConfig, device: str = "auto",
    progress: ProgressFn | None = None,
) -> FewShotPrediction:
    """GWR on the training cells at one week, AICc bandwidth, prediction at held-out cells.

    ``cfg.backend``: ``stcg`` (our batched :class:`~stcg.baselines.spatial.gwr.GWR`) or
    ``mgwr`` (mgwr 2.2.1's ``Sel_BW`` and ``GWR`` themselves, one process, no ridge); both give
    the same bandwidth and coefficients (``tests/fewshot/test_gwr_backends.py``).
    """
    p = week_to_period(week)
    tr = fs.train
    std = Standardizer.fit(fs.x[tr, p])
    xs = std.transform(fs.x[:, p])
    fit = _gwr_mgwr if cfg.backend == "mgwr" else _gwr_stcg
    bw, fitted, fitted_coef, out, out_coef, info = fit(
        fs.coords[tr], fs.y[tr, p], xs[tr], fs.coords[~tr], xs[~tr], cfg, device)
    if progress:
        progress(f"gwr {week_key(week)}: bandwidth {bw} ({info['fits']} fits, {cfg.backend})")
    pred = np.empty(fs.n)
    pred[tr], pred[~tr] = fitted, out
    coef = np.empty((fs.n, fitted_coef.shape[1]))
    coef[tr], coef[~tr] = fitted_coef, out_coef
    return FewShotPrediction(
        method="gwr", periods=(p,), pred=pred[:, None],
        coef=_expand(coef, std.keep)[:, None, :], coef_names=_names(fs),
        info={"bandwidth": bw, **info, "n_covariates": int(std.keep.sum())},
        scaling={week_key(week): std.to_json(fs.features)},
    )


GWRFit = tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]
"""``(bandwidth, fitted [n], coef [n, p], predicted [m], coef at the predicted [m, p], info)``."""


def _gwr_stcg(
    coords: np.ndarray, y: np.ndarray, x: np.ndarray, coords_out: np.ndarray,
    x_out: np.ndarray, cfg: GWRFewshotConfig, device: str,
) -> GWRFit:
    model = GWR(coords, y, x, kernel=cfg.kernel, fixed=cfg.fixed, spherical=True,
                ridge=cfg.ridge, device=resolve_device(device))
    sel = model.select_bandwidth(cfg.criterion, bw_min=cfg.bw_min, bw_max=cfg.bw_max,
                                 skip_singular=True)
    res = model.fit(sel.bw)
    out = model.predict(coords_out, x_out, sel.bw)
    info = {"aicc": res.aicc, "tr_S": res.tr_S, "fits": len(sel.history)}
    return sel.bw, res.predy, res.params, out.predictions, out.params, info


def _gwr_mgwr(
    coords: np.ndarray, y: np.ndarray, x: np.ndarray, coords_out: np.ndarray,
    x_out: np.ndarray, cfg: GWRFewshotConfig, device: str,
) -> GWRFit:
    from mgwr.gwr import GWR as MgwrGWR
    from mgwr.sel_bw import Sel_BW

    yc = np.asarray(y, np.float64)[:, None]
    sel = Sel_BW(coords, yc, x, kernel=cfg.kernel, fixed=cfg.fixed, spherical=True, n_jobs=1)
    try:
        bw = float(sel.search(criterion=cfg.criterion, bw_min=cfg.bw_min, bw_max=cfg.bw_max))
        res = MgwrGWR(coords, yc, x, bw, kernel=cfg.kernel, fixed=cfg.fixed, spherical=True,
                      n_jobs=1).fit()
        out = MgwrGWR(coords, yc, x, bw, kernel=cfg.kernel, fixed=cfg.fixed, spherical=True,
                      n_jobs=1).predict(coords_out, x_out)
    except np.linalg.LinAlgError as exc:
        raise ValueError(
            f"fewshot_weekly.gwr.backend: mgwr: a local system is singular ({exc}); mgwr has "
            "no ridge, so collinear covariates need backend: stcg with ridge > 0"
        ) from exc
    info = {"aicc": float(res.aicc), "tr_S": float(res.tr_S),
            "fits": len(getattr(sel, "sel_hist", None) or [])}
    return (bw, res.predy.ravel(), np.asarray(res.params), out.predictions.ravel(),
            np.asarray(out.params), info)


def fit_gnnwr_week(
    fs: FewShot, week: int, cfg: NNWRFewshotConfig, device: str = "auto",
    progress: Callable[[int, float, float], None] | None = None,
) -> FewShotPrediction:
    """GNNWR on the training cells at one week (a validation share for early stopping)."""
    p = week_to_period(week)
    tr = fs.train
    std = Standardizer.fit(fs.x[tr, p])
    xs = std.transform(fs.x[:, p])
    val = _val_mask(int(tr.sum()), cfg.val_fraction, cfg.seed)
    model = GNNWR(fs.coords[tr], xs[tr], fs.y[tr, p], val, spherical=True,
                  settings=cfg, device=resolve_device(device), progress=progress)
    pred, coef = model.predict(fs.coords, xs)
    h = model.history
    return FewShotPrediction(
        method="gnnwr", periods=(p,), pred=pred[:, None],
        coef=_expand(coef, std.keep)[:, None, :], coef_names=_names(fs),
        info={"best_epoch": h.best_epoch, "epochs": len(h.train_loss),
              "best_val_mse": min(h.val_loss), "n_reference": len(model.ref_coords),
              "n_covariates": int(std.keep.sum())},
        scaling={week_key(week): std.to_json(fs.features)},
    )


def seed_processes(cfg: NNWRFewshotConfig, device: str) -> int:
    """Processes fitting the seeds of ``cfg`` side by side (``cfg.seed_procs``; one on a GPU)."""
    return side_by_side(cfg.seed_procs, cfg.seeds, resolve_device(device).type == "cuda")


def fit_seeds(
    fs: FewShot, cfg: NNWRFewshotConfig, fit: Callable[[NNWRFewshotConfig], FewShotPrediction],
    weeks: tuple[int, ...], progress: Callable[[int], None] | None = None, procs: int = 1,
) -> tuple[dict, FewShotPrediction]:
    """Fit a stochastic method once per seed of ``cfg`` (``seed, seed + 1, ...``, ``cfg.seeds``).

    ``fit`` gets ``cfg`` with ``seed`` replaced (it draws the validation cells, the
    initialisation and the batches).  Returns the metrics of :func:`evaluate` aggregated over
    the seeds (:func:`stcg.metrics.aggregate_seeds`: the mean in the usual keys, per-seed values
    and sd in ``"seeds"``) and the first seed's prediction (the coefficient output).

    ``procs > 1``: the seeds run in that many forked processes of ``cores // procs`` torch
    threads (:func:`stcg.parallel.fork_map`); a fit is deterministic for its seed and thread
    count, so this equals fitting them one after another at that thread count.
    ``progress(seed)`` is called before each seed's fit (in its process).
    """
    seeds = seed_list(cfg.seed, cfg.seeds)

    def one(s: int) -> tuple[dict, FewShotPrediction | None]:
        if progress is not None:
            progress(s)
        pred = fit(dataclasses.replace(cfg, seed=s))
        return evaluate(fs, pred, weeks), pred if s == seeds[0] else None

    results = fork_map(one, seeds, procs, threads=threads_per_process(procs))
    first = results[0][1]
    assert first is not None
    return aggregate_seeds([m for m, _ in results], seeds), first


def fit_seeds_with_bar(
    fs: FewShot, cfg: NNWRFewshotConfig,
    fit: Callable[[NNWRFewshotConfig, Callable[[int, float, float], None] | None],
                  FewShotPrediction],
    weeks: tuple[int, ...], label: str, procs: int = 1,
) -> tuple[dict, FewShotPrediction]:
    """:func:`fit_seeds` of GNNWR or GTNNWR with a progress bar over each seed's epochs.

    ``fit(cfg, progress)`` fits one seed, calling ``progress(epoch, train_mse, val_mse)``;
    ``label`` heads the bar (``"<label> seed <seed>"``).  With ``procs > 1`` the seeds run side
    by side and each prints one line when it ends instead of a bar.
    """
    if procs > 1:
        def quiet(c: NNWRFewshotConfig) -> FewShotPrediction:
            t0 = time.perf_counter()
            pred = fit(c, None)
            print(f"{label} seed {c.seed}: {pred.info['epochs']} epochs (best "
                  f"{pred.info['best_epoch']}), {time.perf_counter() - t0:.1f} s", flush=True)
            return pred

        print(f"{label}: seeds {seed_list(cfg.seed, cfg.seeds)} in {procs} processes of "
              f"{threads_per_process(procs)} thread(s)", flush=True)
        return fit_seeds(fs, cfg, quiet, weeks, procs=procs)

    from tqdm import tqdm

    bar = tqdm(total=cfg.max_epochs, unit="epoch")

    def progress(epoch: int, train: float, val: float) -> None:
        bar.update(1)
        bar.set_postfix(train_mse=f"{train:.4f}", val_mse=f"{val:.4f}")

    def new_seed(seed: int) -> None:
        bar.reset()
        bar.set_description(f"{label} seed {seed}")

    try:
        return fit_seeds(fs, cfg, lambda c: fit(c, progress), weeks, progress=new_seed)
    finally:
        bar.close()


def _stacked(fs: FewShot, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(coords, t, X, y) of ``cells`` at all periods, cell-major: ``[m * 46, ...]``."""
    m = int(cells.sum())
    coords = np.repeat(fs.coords[cells], PERIODS_PER_YEAR, axis=0)
    t = np.tile(np.arange(PERIODS_PER_YEAR, dtype=np.float64), m)
    X = fs.x[cells].reshape(m * PERIODS_PER_YEAR, -1)
    y = fs.y[cells].reshape(-1)
    return coords, t, X, y


def fit_gtwr(
    fs: FewShot, cfg: GTWRFewshotConfig, device: str = "auto",
    progress: Callable[[float, float, float], None] | None = None,
) -> FewShotPrediction:
    """GTWR on all (training cell, period) samples; (bw, tau) by AICc; held-out prediction."""
    tr = fs.train
    c_tr, t_tr, x_tr, y_tr = _stacked(fs, tr)
    c_te, t_te, x_te, _ = _stacked(fs, ~tr)
    std = Standardizer.fit(x_tr)
    model = GTWR(c_tr, t_tr, y_tr, std.transform(x_tr), kernel=cfg.kernel, spherical=True,
                 time_period=float(PERIODS_PER_YEAR) if cfg.cyclic_time else None,
                 ridge=cfg.ridge, device=resolve_device(device), workers=cfg.workers)
    s, tstep = model.spatial_scale(), model.time_scale()
    bw_bounds, tau_bounds = gtwr_search_bounds(model, cfg.tau_ratio, cfg.bw_min, cfg.bw_max)
    holdout = None
    if cfg.criterion == "holdout":
        held = _val_mask(int(tr.sum()), cfg.holdout_fraction, cfg.seed)
        holdout = np.repeat(held, PERIODS_PER_YEAR)  # whole cells, all periods
    sel = model.select(cfg.criterion, bw_bounds=bw_bounds, tau_bounds=tau_bounds, rounds=cfg.rounds, progress=progress,
                       skip_singular=True, holdout=holdout, tol=cfg.tol, tau_tol=cfg.tol)
    bw = sel.bw
    if holdout is not None:
        # the holdout fits saw (1 - holdout share) of the samples: keep the neighbourhood's
        # extent, not its count, when refitting on all of them
        bw = float(min(model.n, round(sel.bw * model.n / int((~holdout).sum()))))
    res = model.fit(bw, sel.tau)
    pred_te, coef_te = model.predict(c_te, t_te, std.transform(x_te), bw, sel.tau)
    n_tr, n_te = int(tr.sum()), int((~tr).sum())
    pred = np.empty((fs.n, PERIODS_PER_YEAR))
    pred[tr] = res.predy.reshape(n_tr, PERIODS_PER_YEAR)
    pred[~tr] = pred_te.reshape(n_te, PERIODS_PER_YEAR)
    coef = np.empty((fs.n, PERIODS_PER_YEAR, model.p))
    coef[tr] = res.params.reshape(n_tr, PERIODS_PER_YEAR, -1)
    coef[~tr] = coef_te.reshape(n_te, PERIODS_PER_YEAR, -1)
    return FewShotPrediction(
        method="gtwr", periods=tuple(range(PERIODS_PER_YEAR)), pred=pred,
        coef=_expand(coef, std.keep), coef_names=_names(fs),
        info={"bandwidth": bw, "selected_bandwidth": sel.bw, "tau": sel.tau,
              "selection_score": sel.score,
              "period_in_km": math.sqrt(sel.tau) * tstep, "neighbour_spacing_km": s,
              "aicc": res.aicc, "tr_S": res.tr_S, "fits": len(sel.history),
              "n_covariates": int(std.keep.sum())},
        scaling={"all": std.to_json(fs.features)},
    )


def fit_gtnnwr(
    fs: FewShot, cfg: NNWRFewshotConfig, device: str = "auto", cyclic_time: bool = True,
    progress: Callable[[int, float, float], None] | None = None,
) -> FewShotPrediction:
    """GTNNWR on all (training cell, period) samples; validation cells for early stopping."""
    tr = fs.train
    n_tr = int(tr.sum())
    c_tr, t_tr, x_tr, y_tr = _stacked(fs, tr)
    std = Standardizer.fit(x_tr)
    val_cells = _val_mask(n_tr, cfg.val_fraction, cfg.seed)
    val = np.repeat(val_cells, PERIODS_PER_YEAR)  # whole cells, so validation is out-of-sample
    model = GNNWR(c_tr, std.transform(x_tr), y_tr, val, t=t_tr, spherical=True,
                  time_period=float(PERIODS_PER_YEAR) if cyclic_time else None,
                  settings=cfg, device=resolve_device(device), progress=progress)
    c_all, t_all, x_all, _ = _stacked(fs, np.ones(fs.n, dtype=bool))
    pred, coef = model.predict(c_all, std.transform(x_all), t_all)
    h = model.history
    return FewShotPrediction(
        method="gtnnwr", periods=tuple(range(PERIODS_PER_YEAR)),
        pred=pred.reshape(fs.n, PERIODS_PER_YEAR),
        coef=_expand(coef, std.keep).reshape(fs.n, PERIODS_PER_YEAR, -1), coef_names=_names(fs),
        info={"best_epoch": h.best_epoch, "epochs": len(h.train_loss),
              "best_val_mse": min(h.val_loss), "n_reference": len(model.ref_coords),
              "n_covariates": int(std.keep.sum())},
        scaling={"all": std.to_json(fs.features)},
    )
