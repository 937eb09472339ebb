"""The one regression scorer of the project (Tables 1-3, ablations, benches).

numpy only, so every scorer (the main model, the tabular baselines, the few-shot methods) imports it
without pulling torch or a baseline's dependencies.

Convention: a metric that is undefined is ``None``, never NaN, so the JSON it goes into is valid
and a reader sees "undefined" rather than a number: R2 when the observations are constant
(SST = 0), and every metric of an empty selection (``n = 0``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def regression_metrics(y: np.ndarray, yhat: np.ndarray) -> dict[str, float | int | None]:
    """``{"rmse", "mae", "r2", "bias", "n"}`` of predictions ``yhat`` against observations ``y``.

    ``r2 = 1 - SSE / SST`` around the observed mean (None when SST is 0), ``bias`` the mean of
    ``yhat - y``.  Arrays of any (equal) shape are scored over all their elements.

    Raises:
        ValueError: when the shapes differ.
    """
    y = np.asarray(y, dtype=np.float64)
    yhat = np.asarray(yhat, dtype=np.float64)
    if y.shape != yhat.shape:
        raise ValueError(f"regression_metrics: shape mismatch, y {y.shape} vs yhat {yhat.shape}")
    n = int(y.size)
    if n == 0:
        return {"rmse": None, "mae": None, "r2": None, "bias": None, "n": 0}
    err = yhat - y
    sse = float((err**2).sum())
    sst = float(((y - y.mean()) ** 2).sum())
    return {
        "rmse": float(np.sqrt(sse / n)),
        "mae": float(np.abs(err).mean()),
        "r2": (1.0 - sse / sst) if sst > 0 else None,
        "bias": float(err.mean()),
        "n": n,
    }


# ---- several seeds of one method ------------------------------------------------------------
#
# A method run with n seeds writes, in its metrics JSON, the mean over seeds in the usual keys
# (so `dvc metrics diff` and every table read the same place as for one seed) and a sibling
# block ``"seeds": {"n", "seeds", "sd", "runs"}``: the seeds used, the sample standard deviation
# (ddof 1) of every numeric leaf in the same nesting, and each seed's own metrics.


def seed_list(seed: int, n: int) -> list[int]:
    """The seeds of an ``n``-seed run starting at ``seed``: ``seed, seed + 1, ...``."""
    if int(n) < 1:
        raise ValueError(f"seeds: expected a number of seeds >= 1, got {n!r}")
    return [int(seed) + i for i in range(int(n))]


def mean_sd(values) -> tuple[float | None, float | None]:
    """Mean and sample sd (ddof 1) of ``values``, ignoring None; sd is None below two values."""
    vals = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if vals.size == 0:
        return None, None
    mean = float(vals.mean())
    sd = float(vals.std(ddof=1)) if vals.size > 1 else None
    return mean, sd


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _tree(runs: list, stat: int):
    first = runs[0]
    if isinstance(first, dict):
        return {k: _tree([r.get(k) if isinstance(r, dict) else None for r in runs], stat)
                for k in first}
    if all(r is None or _is_number(r) for r in runs) and any(r is not None for r in runs):
        if all(isinstance(r, (int, np.integer)) for r in runs) and len(set(runs)) == 1:
            return int(first) if stat == 0 else 0.0   # counts (n) are equal across seeds
        return mean_sd(runs)[stat]
    return first if stat == 0 else None


def aggregate_seeds(runs: list[dict], seeds: list[int]) -> dict:
    """One metrics dict for ``runs`` (one dict per seed, same nesting).

    Numeric leaves become their mean over seeds (equal integer counts stay integers); other
    leaves are taken from the first run.  With more than one seed a ``"seeds"`` block is added:
    ``{"n", "seeds", "sd", "runs"}`` where ``sd`` has the same nesting as the means.  One seed
    gives that run unchanged, so single-seed outputs keep their shape.
    """
    if len(runs) != len(seeds) or not runs:
        raise ValueError(f"aggregate_seeds: {len(runs)} runs for {len(seeds)} seeds")
    if len(runs) == 1:
        return runs[0]
    out = _tree(runs, 0)
    out["seeds"] = {"n": len(runs), "seeds": list(seeds), "sd": _tree(runs, 1), "runs": runs}
    return out


def sd_at(metrics: dict, *keys: str) -> float | None:
    """The seed sd of ``metrics[k1][k2]...`` (None for a single-seed run or a missing key)."""
    node = (metrics.get("seeds") or {}).get("sd")
    for k in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(k)
    return float(node) if _is_number(node) else None


def n_seeds(metrics: Mapping | None) -> int:
    """The number of seeds behind a metrics dict: its ``"seeds"`` block's ``n``, 1 without one."""
    return int(((metrics or {}).get("seeds") or {}).get("n", 1))


def _missing(x) -> bool:
    """None or NaN (a table cell or a pandas value that is not there)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def format_mean_sd(mean: float | None, sd: float | None, n: int | float | None = 1,
                   digits: int = 3, missing: str = "-") -> str:
    """``"0.612 ± 0.004"`` when n > 1 and sd is known, else ``"0.612"``; ``missing`` for a mean
    that is None or NaN.  A missing (None or NaN) ``n`` counts as one seed, a missing ``sd`` as
    unknown, so a pandas row's values can be passed as they are."""
    if _missing(mean):
        return missing
    n = 1 if _missing(n) else int(n)
    if n > 1 and not _missing(sd):
        return f"{mean:.{digits}f} ± {sd:.{digits}f}"
    return f"{mean:.{digits}f}"
