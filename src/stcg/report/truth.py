"""The simulator's exact attributions about a local reference (beyond the paper).

The simulator writes, per sample, the local slope ``s_j = dGPP / dx_j`` of its GPP function.  A
slope is an *effect* (what a small change of ``x_j`` would do here), not a *contribution* (how much
``x_j`` moved this sample's GPP).  A first-order contribution ``s_j (x_j - mean_j)`` about the
training mean extrapolates the slope over the whole distance to the global mean and does not add
up to anything: GPP is far from linear (temperature and water responses are bounded curves,
fAPAR saturates in LAI).

The contributions scored here are exact instead: **integrated gradients** (Sundararajan et al.
2017) of the simulator's own GPP function (:func:`stcg.data.sim.gpp.scalars`, called unchanged),
along the straight path from a local reference ``x_ref`` to the sample's inputs ``x``, with every
hidden parameter and state held at the sample's values::

    IG_j = (x_j - x_ref_j) * integral_0^1 dGPP/dx_j (x_ref + a (x - x_ref)) da

They add up exactly: ``sum_j IG_j = GPP(x) - GPP(x_ref)`` (completeness; the midpoint rule's
error is reported).  The reference is the cell's climatology of the same 8-day period over the
training years: "this year compared with what is usual here at this time of year", the anomaly
that a local model can explain.  Only the inputs GPP reads (:data:`GPP_INPUTS`) get a non-zero
attribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stcg.data.dataset import read_samples, read_truth
from stcg.data.sim.gpp import GPP_INPUTS, GppParams, scalars
from stcg.data.sim.simulate import periods_of_year

JOIN_KEYS = ["cell_id", "year", "period"]
SAMPLE_PARAMS = ("param_eps", "param_topt", "param_w_prev")
CELL_PARAMS = ("roots_1", "roots_2", "roots_3", "roots_4", "vpd_open", "vpd_close", "shed",
               "theta_wp_f64", "theta_crit_f64")


def climatology(samples: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Mean of ``variables`` per (cell, period) over the rows of ``samples`` (NaN skipped).

    Args:
        samples: rows with cell_id, period and the variables (the training years).
        variables: the columns to average.

    Returns:
        A frame indexed by (cell_id, period) with one column per variable.
    """
    absent = [c for c in ("cell_id", "period", *variables) if c not in samples]
    if absent:
        raise ValueError(f"samples: missing column(s) {absent} for the climatology")
    keys = samples[["cell_id", "period"]].astype(np.int64)
    vals = samples[list(variables)].astype(np.float64)
    return pd.concat([keys, vals], axis=1).groupby(["cell_id", "period"]).mean()


def reference_of(keys: pd.DataFrame, clim: pd.DataFrame, variables: Sequence[str]) -> np.ndarray:
    """``[N, F]`` the climatology of each row of ``keys`` (cell_id, period).

    Raises:
        ValueError: if a row's (cell, period) has no climatology.
    """
    idx = pd.MultiIndex.from_arrays([keys["cell_id"].to_numpy(np.int64),
                                     keys["period"].to_numpy(np.int64)])
    ref = clim.reindex(idx)[list(variables)].to_numpy(np.float64)
    lost = int((~np.isfinite(ref).all(axis=1)).sum())
    if lost:
        raise ValueError(f"{lost} rows have no training-years climatology for their cell and "
                         "period (a cell missing from the training years?)")
    return ref


def gpp_params(truth: pd.DataFrame, cells: pd.DataFrame) -> GppParams:
    """The GPP function's parameters of each row of ``truth`` as ``[N, 1]`` arrays.

    Args:
        truth: rows with cell_id, year, period and :data:`SAMPLE_PARAMS`.
        cells: ``truth_cells.parquet`` (cell_id and :data:`CELL_PARAMS`).

    Raises:
        ValueError: naming missing columns (a dataset written before the simulator stored them:
            rebuild it with ``dvc repro build_data``).
    """
    absent = [c for c in SAMPLE_PARAMS if c not in truth] + [c for c in CELL_PARAMS if c not in cells]
    if absent:
        raise ValueError(f"truth: missing column(s) {absent}; rebuild the dataset "
                         "(`dvc repro build_data`) with this version of the simulator")
    c = cells.set_index(cells["cell_id"].astype(np.int64)).reindex(
        truth["cell_id"].to_numpy(np.int64))
    if c[list(CELL_PARAMS)].isna().any().any():
        raise ValueError("truth_cells: some rows' cells have no parameters")
    col = lambda a: np.array(a, dtype=np.float64).reshape(-1, 1)  # noqa: E731
    days = np.empty(len(truth))
    years = truth["year"].to_numpy(np.int64)
    periods = truth["period"].to_numpy(np.int64)
    for y in np.unique(years):
        d, _ = periods_of_year(int(y))
        days[years == y] = d[periods[years == y]]
    return GppParams(
        eps=col(truth["param_eps"]), topt=col(truth["param_topt"]),
        theta_wp=col(c["theta_wp_f64"]), theta_crit=col(c["theta_crit_f64"]),
        roots=np.array(c[[f"roots_{k + 1}" for k in range(4)]], dtype=np.float64),
        vpd_open=col(c["vpd_open"]), vpd_close=col(c["vpd_close"]), shed=col(c["shed"]),
        w_prev=col(truth["param_w_prev"]), days=col(days),
    )


def gpp_of(x: np.ndarray, p: GppParams, variables: Sequence[str]) -> np.ndarray:
    """``[N]`` the simulator's GPP at inputs ``x [N, F]`` (published units, F = ``variables``)."""
    xt = _inputs(x[:, :, None], variables)
    with torch.no_grad():
        return scalars(xt, p)["gpp"][:, 0].numpy()


def _inputs(x: np.ndarray, variables: Sequence[str]) -> dict[str, torch.Tensor]:
    pos = {v: i for i, v in enumerate(variables)}
    absent = [v for v in GPP_INPUTS if v not in pos]
    if absent:
        raise ValueError(f"the GPP function reads {absent}, absent from the features")
    return {v: torch.tensor(x[:, pos[v]], dtype=torch.float64, requires_grad=True)
            for v in GPP_INPUTS}


def simulator_ig(
    x: np.ndarray, x_ref: np.ndarray, p: GppParams, variables: Sequence[str], steps: int = 64,
    chunk: int = 20000,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrated gradients of the simulator's GPP from ``x_ref`` to ``x`` (module docstring).

    Args:
        x: ``[N, F]`` inputs (published units).
        x_ref: ``[N, F]`` references.
        p: the rows' parameters (:func:`gpp_params`).
        variables: the F feature names; those GPP does not read get 0.
        steps: midpoint-rule nodes on the path.
        chunk: rows per autograd call (memory).

    Returns:
        ``(ig [N, F], completeness error [N] = sum_j IG_j - (GPP(x) - GPP(x_ref)))``.
    """
    x = np.asarray(x, np.float64)
    x_ref = np.asarray(x_ref, np.float64)
    n, f = x.shape
    alpha = (np.arange(steps) + 0.5) / steps
    pos = {v: i for i, v in enumerate(variables)}
    ig = np.zeros((n, f))
    err = np.zeros(n)
    for a in range(0, n, chunk):
        sl = slice(a, min(n, a + chunk))
        pp = _take(p, sl)
        d = x[sl] - x_ref[sl]
        path = x_ref[sl, :, None] + alpha[None, None, :] * d[:, :, None]  # [n, F, steps]
        xt = _inputs(path, variables)
        gpp = scalars(xt, pp)["gpp"]
        grads = torch.autograd.grad(gpp.sum(), [xt[v] for v in GPP_INPUTS])
        for v, g in zip(GPP_INPUTS, grads, strict=True):
            ig[sl, pos[v]] = d[:, pos[v]] * g.numpy().mean(axis=1)
        delta = gpp_of(x[sl], pp, variables) - gpp_of(x_ref[sl], pp, variables)
        err[sl] = ig[sl].sum(axis=1) - delta
    return ig, err


def _take(p: GppParams, sl: slice) -> GppParams:
    return GppParams(**{k: np.array(np.asarray(getattr(p, k))[sl]) for k in p.__dataclass_fields__})


def local_inputs(
    data_root: str | Path, keys: pd.DataFrame, variables: Sequence[str], train_years: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """``(x [N, F], x_ref [N, F])``: the rows' inputs (NaN -> reference) and their cell's
    training-years climatology of the same period (published units)."""
    root = Path(data_root)
    years = sorted(int(y) for y in keys["year"].unique())
    x_rows = read_samples(root, years=years, columns=[*JOIN_KEYS, *variables])
    left = keys[JOIN_KEYS].astype(np.int64)
    m = left.merge(x_rows.astype({k: np.int64 for k in JOIN_KEYS}), on=JOIN_KEYS, how="left",
                   validate="one_to_one")
    train = read_samples(root, years=list(train_years), columns=["cell_id", "period", *variables])
    ref = reference_of(m, climatology(train, variables), variables)
    x = m[list(variables)].to_numpy(np.float64)
    return np.where(np.isfinite(x), x, ref), ref


def load_local_truth(
    data_root: str | Path, keys: pd.DataFrame, variables: Sequence[str],
    x: np.ndarray, x_ref: np.ndarray, steps: int = 64, x_global: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The exact local attributions of the rows ``keys`` (cell_id, year, period).

    Args:
        x, x_ref: :func:`local_inputs` of the rows.
        x_global: ``[F]`` a global reference (the training mean) for ``ig_global`` and
            ``ig_global_error``; None: not computed.

    Returns:
        ``x``, ``x_ref``, ``ig [N, F]``, ``ig_error [N]`` (completeness error), ``gpp_check [N]``
        (simulator GPP at ``x`` minus the stored ``gpp_true``: ~0 when the join is right).
    """
    root = Path(data_root)
    years = sorted(int(y) for y in keys["year"].unique())
    tr = read_truth(root, years=years, columns=["cell_id", "year", "period", "gpp_true",
                                                   *SAMPLE_PARAMS])
    left = keys[JOIN_KEYS].astype(np.int64)
    m = left.merge(tr.astype({k: np.int64 for k in JOIN_KEYS}), on=JOIN_KEYS, how="left",
                   validate="one_to_one")
    if m["gpp_true"].isna().any():
        raise ValueError(f"{int(m['gpp_true'].isna().sum())} rows have no ground truth")
    p = gpp_params(m, pd.read_parquet(root / "truth_cells.parquet"))
    ig, err = simulator_ig(x, x_ref, p, variables, steps)
    check = gpp_of(x, p, variables) - m["gpp_true"].to_numpy(np.float64)
    out = {"x": x, "x_ref": x_ref, "ig": ig, "ig_error": err, "gpp_check": check}
    if x_global is not None:
        ref_g = np.broadcast_to(np.asarray(x_global, np.float64), x.shape)
        out["ig_global"], out["ig_global_error"] = simulator_ig(x, ref_g, p, variables, steps)
    return out
