"""The training data path: dense tensors on the device, windows gathered by index.

The long table is turned once into dense ``x [C, T, F]`` / ``y [C, T]`` arrays
(:func:`stcg.data.dataset.load_dense`), standardised with training-split statistics (GPP is not
normalised, paper Section 4.1), NaN features set to 0 (= the training mean), and moved to the
device.  A sample is a flat index ``c * T + t``; a batch is a tensor of such indices, and its
windows ``x[c, t-L+1 .. t]`` are gathered with one advanced-indexing operation on the device.
There is no per-sample Python and no DataLoader.

Samples: every (cell, time) with a finite target whose time is in the split's years.  Training
samples also need their whole window inside the loaded data (``t >= L-1``).  Test windows reach
back into the previous year (loaded too).  When a window would start before the first loaded
period (e.g. :func:`~stcg.train.predict` on a dataset of one year) its first steps repeat the
earliest period (index clamped at 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from stcg.data.dataset import Dense
from stcg.data.splits import rows_for_years
from stcg.model.stcg import N_LAND_COVER


@dataclass
class FeatureStats:
    """Training-split standardisation statistics.

    Attributes:
        mean: ``[F]`` feature means.
        std: ``[F]`` feature standard deviations (1 where constant).
        y_mean: GPP mean.
        y_std: GPP standard deviation.
    """

    mean: np.ndarray
    std: np.ndarray
    y_mean: float
    y_std: float


def feature_stats(dense: Dense, years: tuple[int, ...]) -> FeatureStats:
    """Means and standard deviations over the time steps of ``years`` (NaN ignored).

    Raises:
        ValueError: if those years hold no finite feature or target value.
    """
    sel = np.isin(dense.year, np.asarray(years))
    if not sel.any():
        raise ValueError(f"no time steps of years {years} in the data")
    x = dense.x[:, sel].reshape(-1, dense.x.shape[-1]).astype(np.float64)
    y = dense.y[:, sel].reshape(-1).astype(np.float64)
    finite = np.isfinite(x)
    count = finite.sum(0)
    empty = [v for v, n in zip(dense.variables, count, strict=True) if n == 0]
    if empty:
        raise ValueError(f"features {empty} have no finite value in years {years}")
    xz = np.where(finite, x, 0.0)
    mean = xz.sum(0) / count
    var = (np.where(finite, x - mean, 0.0) ** 2).sum(0) / count
    std = np.sqrt(var)
    std[std == 0] = 1.0
    yf = y[np.isfinite(y)]
    if yf.size == 0:
        raise ValueError(f"no finite gpp in years {years}")
    y_std = float(yf.std()) or 1.0
    return FeatureStats(mean=mean, std=std, y_mean=float(yf.mean()), y_std=y_std)


class Batch(NamedTuple):
    """A gathered batch.

    Attributes:
        x: ``[B, L, F]`` standardised window features.
        node: ``[B]`` graph node.
        period: ``[B, L]`` period of year of each window step.
        y: ``[B]`` target GPP (NaN where missing).
        land_cover: ``[B]`` IGBP class index (0..17).
        x_ref: ``[B, F]`` the current step's local reference (:func:`climatology_reference`),
            or None when the data carry none.
    """

    x: torch.Tensor
    node: torch.Tensor
    period: torch.Tensor
    y: torch.Tensor
    land_cover: torch.Tensor
    x_ref: torch.Tensor | None = None


def land_cover_index(codes: np.ndarray) -> np.ndarray:
    """IGBP codes -> embedding indices: 0..16 kept, anything else -> 17."""
    codes = np.asarray(codes, dtype=np.int64)
    return np.where((codes >= 0) & (codes < N_LAND_COVER - 1), codes, N_LAND_COVER - 1)


@dataclass
class DeviceData:
    """A dataset on the device, ready for index-gathered batches.

    Attributes:
        x: ``[C, T, F]`` float32 standardised features, NaN -> 0.
        y: ``[C, T]`` float32 GPP (NaN where missing).
        period: ``[T]`` int64 period of year of each time step.
        node: ``[C]`` int64 graph node of each cell.
        window: L.
        land_cover: ``[C]`` int64 land-cover index of each cell (:func:`land_cover_index`).
        x_ref: ``[C, 46, F]`` float32 standardised local reference per cell and period of year
            (:func:`climatology_reference`; ``model.center_inputs: climatology``), or None.
    """

    x: torch.Tensor
    y: torch.Tensor
    period: torch.Tensor
    node: torch.Tensor
    window: int
    land_cover: torch.Tensor
    x_ref: torch.Tensor | None = None

    @property
    def n_times(self) -> int:
        """T."""
        return int(self.x.shape[1])

    def gather(self, idx: torch.Tensor) -> Batch:
        """Windows of flat sample indices.

        Args:
            idx: ``[B]`` int64 flat indices ``c * T + t`` on the device.

        Returns:
            The :class:`Batch`.
        """
        t_all = self.n_times
        c = torch.div(idx, t_all, rounding_mode="floor")
        t = idx - c * t_all
        offs = torch.arange(self.window - 1, -1, -1, device=idx.device)
        tt = (t[:, None] - offs[None, :]).clamp_(min=0)  # [B, L]
        return Batch(
            self.x[c[:, None], tt], self.node[c], self.period[tt], self.y[c, t],
            self.land_cover[c],
            None if self.x_ref is None else self.x_ref[c, self.period[t]],
        )


def climatology_reference(dense: Dense, years: tuple[int, ...], stats: FeatureStats) -> np.ndarray:
    """``[C, 46, F]`` float32: every cell's mean of each period of the year over ``years`` (the
    training years), standardised with ``stats``: the local reference that ``model.center_inputs:
    climatology`` subtracts from the interpretable branch's inputs.  NaN inputs are left out; a
    (cell, period) without any value gets 0 (the training mean).
    """
    from stcg.data.schema import PERIODS_PER_YEAR

    sel = np.isin(dense.year, np.asarray(years))
    ref = np.zeros((dense.n_cells, PERIODS_PER_YEAR, dense.x.shape[-1]), dtype=np.float64)
    for p in range(PERIODS_PER_YEAR):
        t = np.flatnonzero(sel & (dense.period == p))
        if t.size == 0:
            continue
        xs = (dense.x[:, t].astype(np.float64) - stats.mean) / stats.std
        finite = np.isfinite(xs)
        n = finite.sum(1)
        ref[:, p] = np.where(n > 0, np.where(finite, xs, 0.0).sum(1) / np.maximum(n, 1), 0.0)
    return ref.astype(np.float32)


def to_device(
    dense: Dense, stats: FeatureStats, cell_node: np.ndarray, window: int, device: torch.device,
    x_ref: np.ndarray | None = None,
) -> DeviceData:
    """Standardise ``dense`` with ``stats`` and move it to ``device`` (module docstring).

    Args:
        dense: the loaded dataset.
        stats: training-split statistics.
        cell_node: ``[C]`` graph node of every cell of ``dense`` (same order).
        window: L.
        device: target device.
        x_ref: ``[C, 46, F]`` local reference (:func:`climatology_reference`), or None.
    """
    if len(cell_node) != dense.n_cells:
        raise ValueError(f"cell_node has {len(cell_node)} entries for {dense.n_cells} cells")
    # one copy of dense.x, standardised in place (5.5 GB at the paper profile, not 4 copies)
    x = np.subtract(dense.x, stats.mean.astype(np.float32), dtype=np.float32)
    x /= stats.std.astype(np.float32)
    np.nan_to_num(x, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return DeviceData(
        x=torch.from_numpy(x).to(device),
        y=torch.from_numpy(np.ascontiguousarray(dense.y, dtype=np.float32)).to(device),
        period=torch.from_numpy(dense.period.astype(np.int64)).to(device),
        node=torch.from_numpy(np.asarray(cell_node, dtype=np.int64)).to(device),
        window=window,
        land_cover=torch.from_numpy(land_cover_index(dense.land_cover)).to(device),
        x_ref=None if x_ref is None else torch.from_numpy(
            np.ascontiguousarray(x_ref, dtype=np.float32)).to(device),
    )


def sample_indices(dense: Dense, years: tuple[int, ...], window: int, full_window: bool) -> np.ndarray:
    """Flat indices ``c * T + t`` of the samples of ``years`` (:mod:`stcg.data.splits`' rows).

    The rows are those of :func:`stcg.data.splits.rows_for_years` (every (cell, time) of the years
    with a finite target), the definition the Table 1 baselines share; with ``full_window`` the
    rows whose window would start before the first loaded period are dropped (training only).

    Args:
        dense: the loaded dataset.
        years: the split's years.
        window: L.
        full_window: require ``t >= L-1`` (the window lies inside the loaded data).

    Returns:
        ``[N]`` int64, ascending (by cell, then time).
    """
    rows = rows_for_years(dense, years)
    keep = rows.time >= window - 1 if full_window else slice(None)
    return (rows.cell[keep] * dense.n_times + rows.time[keep]).astype(np.int64)
