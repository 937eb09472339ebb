"""Design matrices for the Table 1 baselines, built from :class:`stcg.data.dataset.Dense`.

Paper Section 4.2 compares the model with tabular learners that see one sample at a time: the
26 ERA5-Land variables of the target period plus the land cover class (a categorical).  That is
``lags = 1`` here, the default, and what the paper's Table 1 reports.

Deviation offered as an option (``train_tabular.features.lags = L > 1``): the previous ``L-1``
periods of every variable are appended as extra columns (``<var>_lag1`` .. ``<var>_lag{L-1}``), so
a tabular model sees the same 64-day window as the windowed STCG encoder (docs/design.md, "Model decisions":
L = 8).
Lags are read from the dense time axis, so windows of early test periods reach back into the last
training year exactly as the STCG model's windows do; lags before the first loaded period are NaN.

Columns are float32.  The land cover column holds the IGBP code (0..16) as a float; its position
is listed in :attr:`DesignMatrix.cat_features` so each wrapper can treat it as a category.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stcg.data.dataset import Dense
from stcg.data.splits import RowIndex

LAND_COVER = "land_cover"


@dataclass(frozen=True)
class DesignMatrix:
    """Features of some rows.

    Attributes:
        x: ``[N, F]`` float32 features (NaN where missing).
        names: the F column names.
        cat_features: positions of the categorical columns (the land cover, if included).
    """

    x: np.ndarray
    names: tuple[str, ...]
    cat_features: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.x.shape[0])


def feature_names(variables: tuple[str, ...], lags: int, land_cover: bool) -> tuple[str, ...]:
    """Column names of :func:`design_matrix`: lag 0 of every variable, then lag 1, ..., then LC."""
    if lags < 1:
        raise ValueError(f"train_tabular.features.lags must be >= 1, got {lags}")
    names = list(variables)
    for k in range(1, lags):
        names += [f"{v}_lag{k}" for v in variables]
    if land_cover:
        names.append(LAND_COVER)
    return tuple(names)


def design_matrix(dense: Dense, rows: RowIndex, lags: int = 1, land_cover: bool = True) -> DesignMatrix:
    """Gather the features of ``rows`` from ``dense``.

    Args:
        dense: the loaded dataset, ``x [C, T, F]``.
        rows: the samples (cell and time indices into ``dense``).
        lags: 1 = the current period only (paper); L = also the previous L-1 periods.
        land_cover: append the IGBP land cover class as a categorical column.

    Returns:
        A :class:`DesignMatrix` with ``x [N, F * lags (+1)]``.
    """
    names = feature_names(dense.variables, lags, land_cover)
    n, f = len(rows), len(dense.variables)
    x = np.empty((n, len(names)), dtype=np.float32)
    for k in range(lags):
        t = rows.time - k
        ok = t >= 0
        block = np.full((n, f), np.nan, dtype=np.float32)
        block[ok] = dense.x[rows.cell[ok], t[ok]]
        x[:, k * f : (k + 1) * f] = block
    cat: tuple[int, ...] = ()
    if land_cover:
        x[:, -1] = dense.land_cover[rows.cell].astype(np.float32)
        cat = (len(names) - 1,)
    return DesignMatrix(x=x, names=names, cat_features=cat)


def targets(dense: Dense, rows: RowIndex) -> np.ndarray:
    """``[N]`` float32 target GPP of ``rows``."""
    return dense.y[rows.cell, rows.time].astype(np.float32)
