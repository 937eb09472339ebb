"""``stcg predict``: apply a trained model to any dataset in the Climate2GPP schema.

The model file (:mod:`stcg.train.bundle`) carries the features, their training statistics, the
window and the graph, so any dataset directory with those feature columns can be predicted, at
any resolution: every cell is mapped to its nearest graph node on the sphere (for the training
cells this is their K-means node).  Windows reach back into the previous year when the dataset has
it; otherwise the first periods repeat the earliest one (see :mod:`stcg.train.data`).

Outputs in ``out/``:

* ``predictions.parquet``: one row per (cell, year, period) with any finite feature: keys,
  ``gpp`` (NaN if the dataset has none), ``gpp_pred``, ``gpp_interp``, ``w_intercept`` and
  ``w_<feature>``;
* ``predictions.nc``: the same values on the dataset's global lon/lat grid, dims
  ``(time, lat, lon)``, a CF-1.10 file with time bounds, a grid mapping, the features' training
  statistics and the model's provenance (:mod:`stcg.train.netcdf`); cells without data are NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stcg.data.dataset import load_dense, read_meta
from stcg.data.writer import write_parquet
from stcg.device import resolve_device
from stcg.graph.cluster import assign_to_nodes
from stcg.io import atomic_path
from stcg.train.bundle import load_bundle
from stcg.train.data import to_device
from stcg.train.loop import predict
from stcg.train.netcdf import provenance, to_grid, write_netcdf
from stcg.train.run import prediction_frame


def predict_dataset(
    model_path: str | Path,
    data_root: str | Path,
    out_dir: str | Path,
    years: list[int] | tuple[int, ...] | None = None,
    batch_size: int = 8192,
    device: str = "auto",
    amp: bool = True,
    netcdf: bool = True,
) -> pd.DataFrame:
    """Predict ``years`` (default: all) of the dataset at ``data_root``; write Parquet (+ NetCDF).

    Returns:
        The predictions frame (as written to Parquet).

    Raises:
        ValueError: naming missing feature columns or years.
    """
    bundle = load_bundle(model_path)
    meta = read_meta(data_root)
    missing = [v for v in bundle.variables if v not in meta.variables]
    if missing:
        raise ValueError(f"{data_root}: the model needs features {missing}, absent from meta.json")
    years = tuple(sorted(meta.years if years is None else years))
    absent = sorted(set(years) - set(meta.years))
    if absent:
        raise ValueError(f"{data_root}: years {absent} are not in the dataset ({meta.years})")
    load_years = set(years)
    if years[0] - 1 in meta.years and bundle.window > 1:
        load_years.add(years[0] - 1)
    dense = load_dense(data_root, years=sorted(load_years), variables=bundle.variables)
    dev = resolve_device(device)
    model = bundle.build_model(dev)
    nodes = assign_to_nodes(dense.lon, dense.lat, bundle.node_xyz)
    data = to_device(dense, bundle.stats, nodes, bundle.window, dev)
    tmask = np.isin(dense.year, np.asarray(years))
    present = np.isfinite(dense.x).any(axis=2) & tmask[None, :]
    idx = np.flatnonzero(present.reshape(-1)).astype(np.int64)
    pred = predict(model, data, torch.from_numpy(idx).to(dev), batch_size, amp)
    frame = prediction_frame(dense, idx, pred)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "predictions.parquet") as tmp:
        write_parquet(frame, tmp)
    if netcdf:
        ds = to_grid(frame, years, meta.resolution, bundle.variables, bundle.stats.mean,
                     bundle.stats.std, provenance=provenance(model_path, data_root))
        with atomic_path(out_dir / "predictions.nc") as tmp:
            write_netcdf(ds, tmp)
    return frame
