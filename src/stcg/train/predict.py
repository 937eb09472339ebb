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
Inputs are checked first (one-line :class:`~stcg.errors.StcgError` naming the path, feature or
year): the model file must be readable, the dataset a directory with ``meta.json`` holding the
model's features and the requested years, and every feature must have a finite value somewhere in
every predicted year.  A feature missing for a whole year would otherwise be standardised to its
training mean everywhere, silently; ``impute_missing="mean"`` (``--impute-missing mean``) accepts
that, with a warning.

* ``predictions.nc``: the same values on the dataset's global lon/lat grid, dims
  ``(time, lat, lon)``, a CF-1.10 file with time bounds, a grid mapping, the features' training
  statistics and the model's provenance (:mod:`stcg.train.netcdf`); cells without data are NaN.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stcg.data.dataset import Dense, load_dense, read_meta
from stcg.data.writer import write_parquet
from stcg.device import resolve_device
from stcg.errors import StcgError
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
    impute_missing: str = "error",
) -> pd.DataFrame:
    """Predict ``years`` (default: all) of the dataset at ``data_root``; write Parquet (+ NetCDF).

    ``impute_missing``: ``"error"`` or ``"mean"``, for a feature with no finite value in a
    predicted year (module docstring).

    Returns:
        The predictions frame (as written to Parquet).

    Raises:
        StcgError: naming the bad model file, dataset directory, feature or year.
    """
    if impute_missing not in IMPUTE_CHOICES:
        raise StcgError(f"impute_missing: got {impute_missing!r}, expected one of "
                        f"{', '.join(IMPUTE_CHOICES)}")
    bundle = load_bundle(model_path)
    data_root = Path(data_root)
    if not data_root.is_dir():
        kind = "a file" if data_root.exists() else "nothing"
        raise StcgError(f"{data_root}: expected a dataset directory (with meta.json), found "
                        f"{kind}; pass the output of build_data, e.g. build/climate2gpp")
    if not (data_root / "meta.json").is_file():
        raise StcgError(f"{data_root}: no meta.json, so not a dataset directory; pass the output "
                        "of build_data, e.g. build/climate2gpp")
    meta = read_meta(data_root)
    missing = [v for v in bundle.variables if v not in meta.variables]
    if missing:
        raise StcgError(f"{data_root}: the model needs features {missing}, absent from its "
                        "meta.json; predict a dataset built with the model's variables")
    years = tuple(sorted(meta.years if years is None else years))
    absent = sorted(set(years) - set(meta.years))
    if absent:
        raise StcgError(f"{data_root}: years {absent} are not in the dataset (it has "
                        f"{min(meta.years)}-{max(meta.years)}); pick --year among those")
    load_years = set(years)
    if years[0] - 1 in meta.years and bundle.window > 1:
        load_years.add(years[0] - 1)
    dense = load_dense(data_root, years=sorted(load_years), variables=bundle.variables)
    check_missing_features(dense, years, data_root, impute_missing)
    dev = resolve_device(device)
    model = bundle.build_model(dev)
    nodes = assign_to_nodes(dense.lon, dense.lat, bundle.node_xyz)
    data = to_device(dense, bundle.stats, nodes, bundle.window, dev,
                     x_ref=bundle.reference_for(dense.cell_id))
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


IMPUTE_CHOICES: tuple[str, ...] = ("error", "mean")
"""What ``stcg predict`` does with a feature that has no finite value in a predicted year."""


def check_missing_features(
    dense: Dense, years: tuple[int, ...], data_root: str | Path, impute_missing: str = "error"
) -> list[tuple[int, str]]:
    """The (year, feature) pairs with no finite value (NaN or inf everywhere) in ``years``.

    Raises:
        StcgError: for the first such pair, unless ``impute_missing == "mean"``; then each pair
            gives a warning (the model sees the feature's training mean everywhere).
    """
    bad = []
    for y in years:
        t = dense.year == y
        finite = np.isfinite(dense.x[:, t, :]).any(axis=(0, 1))
        bad += [(int(y), v) for v, ok in zip(dense.variables, finite, strict=True) if not ok]
    if bad and impute_missing != "mean":
        y, v = bad[0]
        more = f" (and {len(bad) - 1} more year/feature pairs)" if len(bad) > 1 else ""
        raise StcgError(
            f"{data_root}: feature {v!r} has no finite value in year {y}{more}; the model would "
            "see its training mean everywhere; fix the input, drop the year, or pass "
            "--impute-missing mean to accept that"
        )
    for y, v in bad:
        warnings.warn(f"{data_root}: feature {v!r} has no finite value in year {y}; imputed "
                      "with its training mean (--impute-missing mean)", stacklevel=2)
    return bad
