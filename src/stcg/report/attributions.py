"""The STCG model's interpretable weights joined with their inputs, the truth and TreeSHAP.

``train_stcg`` writes one row per test sample with the weights ``w_<feature>`` of the
interpretable branch (paper eqs. 17-18, ``y_interp = w_0 + sum_j w_j z_j`` on the standardised
current-period inputs ``z_j``).  Figures 4-5 and the interpretability scores need the inputs too
(the contribution ``w_j z_j``), which the predictions do not store: they are re-read from the
dataset and standardised with the training statistics saved in the model file, exactly as the
model saw them (NaN -> 0, the training mean).  The join is checked: ``w_0 + sum_j w_j z_j`` must
reproduce the stored ``gpp_interp``.

Deviation from the paper: eq. 17 has no intercept; ``model.interp_intercept`` adds a GWR-like
``w_0`` (docs/design.md, "Model decisions"), which is not a feature and is left out of every figure and score.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stcg.data.dataset import read_samples, read_truth

JOIN_KEYS = ["cell_id", "year", "period"]
KEEP = ["cell_id", "lon", "lat", "year", "period", "land_cover", "gpp", "gpp_pred", "gpp_interp"]


@dataclass
class Attributions:
    """Test samples with the model's weights and standardised inputs (row-aligned arrays).

    Attributes:
        keys: ``[N]`` rows: cell_id, lon, lat, year, period, land_cover, gpp, gpp_pred (and
            gpp_interp when the model has the interpretable branch).
        variables: the F input features, in the model's order.
        w: ``[N, F]`` weights, GPP (gC m-2 d-1) per standard deviation of the feature; None
            when the model was trained without the interpretable branch (``model.interp: false``).
        z: ``[N, F]`` standardised inputs (NaN -> 0).
        x_std: ``[F]`` the training-split standard deviations (published units).
        interp_rel_rmse: RMS of ``w_0 + sum w z - gpp_interp`` over the std of ``gpp_interp``
            (0 up to float rounding when the join is right); None without weights.
    """

    keys: pd.DataFrame
    variables: tuple[str, ...]
    w: np.ndarray | None
    z: np.ndarray
    x_std: np.ndarray
    interp_rel_rmse: float | None

    @property
    def contribution(self) -> np.ndarray | None:
        """``[N, F]`` ``w_j z_j`` (gC m-2 d-1)."""
        return None if self.w is None else self.w * self.z

    def take(self, mask: np.ndarray) -> Attributions:
        """The rows where ``mask`` is true."""
        return Attributions(
            keys=self.keys.loc[mask].reset_index(drop=True),
            variables=self.variables,
            w=None if self.w is None else self.w[mask],
            z=self.z[mask],
            x_std=self.x_std,
            interp_rel_rmse=self.interp_rel_rmse,
        )


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` with NaN -> 0 (the model's input convention, stcg.train.data)."""
    z = (np.asarray(x, dtype=np.float64) - mean) / std
    return np.where(np.isfinite(z), z, 0.0)


def build_attributions(
    predictions: pd.DataFrame,
    samples: pd.DataFrame,
    variables: tuple[str, ...],
    x_mean: np.ndarray,
    x_std: np.ndarray,
    max_rel_rmse: float = 0.05,
) -> Attributions:
    """Join predictions with their inputs and check the join (pure; see module docstring).

    Args:
        predictions: ``predictions.parquet`` of ``train_stcg`` (keys, gpp, gpp_pred, w_*).
        samples: the samples of the same years: cell_id, year, period and the F variables.
        variables: the model's features, in order.
        x_mean: ``[F]`` training means.
        x_std: ``[F]`` training standard deviations.
        max_rel_rmse: the largest tolerated :attr:`Attributions.interp_rel_rmse` (bf16 weights
            from a GPU run stay well below 1 %; a wrong join or wrong statistics give ~100 %).

    Raises:
        ValueError: naming the missing columns or rows, or a failed ``gpp_interp`` check.
    """
    missing = [c for c in ("cell_id", "year", "period", "gpp_pred") if c not in predictions]
    if missing:
        raise ValueError(f"predictions: missing column(s) {missing}")
    wcols = [f"w_{v}" for v in variables]
    has_w = any(c in predictions for c in wcols)
    if has_w and not all(c in predictions for c in wcols):
        absent = [c for c in wcols if c not in predictions]
        raise ValueError(f"predictions: weight column(s) {absent} missing for the model's features")
    absent = [v for v in variables if v not in samples]
    if absent:
        raise ValueError(f"samples: feature column(s) {absent} missing")
    keep = [c for c in KEEP if c in predictions]
    left = predictions[keep + (wcols if has_w else []) + (["w_intercept"] if "w_intercept" in predictions else [])]
    right = samples[JOIN_KEYS + list(variables)]
    for k in JOIN_KEYS:
        right = right.astype({k: np.int64})
        left = left.astype({k: np.int64})
    merged = left.merge(right, on=JOIN_KEYS, how="left", validate="one_to_one", indicator=True)
    lost = int((merged["_merge"] != "both").sum())
    if lost:
        raise ValueError(f"{lost} prediction rows have no sample in the dataset (wrong --data?)")
    x = merged[list(variables)].to_numpy(np.float64)
    z = standardise(x, np.asarray(x_mean, np.float64), np.asarray(x_std, np.float64))
    w = merged[wcols].to_numpy(np.float64) if has_w else None
    rel = None
    if w is not None and "gpp_interp" in merged:
        b = merged["w_intercept"].to_numpy(np.float64) if "w_intercept" in merged else 0.0
        recon = b + (w * z).sum(axis=1)
        target = merged["gpp_interp"].to_numpy(np.float64)
        scale = float(np.std(target)) or 1.0
        rel = float(np.sqrt(np.mean((recon - target) ** 2)) / scale)
        if rel > max_rel_rmse:
            raise ValueError(
                f"w_0 + sum_j w_j z_j does not reproduce gpp_interp (relative RMS error {rel:.3g}):"
                " the predictions, the dataset and the model file do not belong together"
            )
    return Attributions(
        keys=merged[keep].reset_index(drop=True),
        variables=tuple(variables),
        w=w,
        z=z,
        x_std=np.asarray(x_std, np.float64),
        interp_rel_rmse=rel,
    )


def load_attributions(
    predictions_path: str | Path, data_root: str | Path, model_path: str | Path
) -> Attributions:
    """Read ``train_stcg``'s predictions, the dataset's samples of their years and the model's
    standardisation statistics, and join them (:func:`build_attributions`)."""
    from stcg.train.bundle import load_bundle

    predictions_path = Path(predictions_path)
    if not predictions_path.exists():
        raise FileNotFoundError(f"{predictions_path}: no predictions (run `dvc repro train_stcg`)")
    pred = pd.read_parquet(predictions_path)
    bundle = load_bundle(model_path)
    years = sorted(int(y) for y in pred["year"].unique())
    samples = read_samples(data_root, years=years,
                           columns=["cell_id", "year", "period", *bundle.variables])
    return build_attributions(pred, samples, bundle.variables, bundle.stats.mean, bundle.stats.std)


def join_truth(
    keys: pd.DataFrame, truth: pd.DataFrame, variables: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The truth of the rows ``keys`` (pure).

    Args:
        keys: rows with cell_id, year, period.
        truth: the simulator's truth table (cell_id, year, period, gpp_true, limiting, sens_*).
        variables: the F features.

    Returns:
        ``(sens [N, F] in published units, limiting [N] int, gpp_true [N])``.

    Raises:
        ValueError: naming missing columns or rows.
    """
    need = ["gpp_true", "limiting", *[f"sens_{v}" for v in variables]]
    absent = [c for c in JOIN_KEYS + need if c not in truth]
    if absent:
        raise ValueError(f"truth: missing column(s) {absent}")
    left = keys[JOIN_KEYS].astype(np.int64)
    right = truth[JOIN_KEYS + need].astype({k: np.int64 for k in JOIN_KEYS})
    m = left.merge(right, on=JOIN_KEYS, how="left", validate="one_to_one", indicator=True)
    lost = int((m["_merge"] != "both").sum())
    if lost:
        raise ValueError(f"{lost} rows have no ground truth")
    sens = m[[f"sens_{v}" for v in variables]].to_numpy(np.float64)
    return sens, m["limiting"].to_numpy(np.int64), m["gpp_true"].to_numpy(np.float64)


def load_truth(data_root: str | Path, keys: pd.DataFrame, variables: tuple[str, ...]):
    """:func:`join_truth` on the dataset's truth of the years in ``keys``."""
    years = sorted(int(y) for y in keys["year"].unique())
    cols = ["cell_id", "year", "period", "gpp_true", "limiting", *[f"sens_{v}" for v in variables]]
    return join_truth(keys, read_truth(data_root, years=years, columns=cols), variables)


def join_shap(
    keys: pd.DataFrame, shap: pd.DataFrame, variables: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """TreeSHAP contributions of the rows of ``keys`` that have them (pure).

    Only the current-period columns ``shap_<feature>`` are used (lagged columns and the land
    cover have no counterpart in the truth).

    Returns:
        ``(mask [N] bool: rows of keys with SHAP, phi [M, F] for those rows in keys' order)``.

    Raises:
        ValueError: naming missing ``shap_<feature>`` columns.
    """
    cols = [f"shap_{v}" for v in variables]
    absent = [c for c in JOIN_KEYS + cols if c not in shap]
    if absent:
        raise ValueError(f"shap: missing column(s) {absent}")
    left = keys[JOIN_KEYS].astype(np.int64)
    right = shap[JOIN_KEYS + cols].astype({k: np.int64 for k in JOIN_KEYS})
    m = left.merge(right, on=JOIN_KEYS, how="left", validate="one_to_one", indicator=True)
    mask = (m["_merge"] == "both").to_numpy()
    return mask, m.loc[mask, cols].to_numpy(np.float64)


def model_attributions(
    model_path: str | Path,
    data_root: str | Path,
    keys: pd.DataFrame,
    z_ref: np.ndarray,
    ig_steps: int = 32,
    batch_size: int = 512,
    global_reference: bool = False,
    ig_rows: np.ndarray | None = None,
    ig_batch: int = 256,
) -> dict[str, np.ndarray]:
    """The target head's gradient and integrated gradients for the rows ``keys``.

    Both perturb only the current period's standardised inputs ``z`` (the window's earlier
    periods stay as observed), as the simulator's truth does with its hidden states:

    * ``grad [N, F]``: ``dy / dz_j`` at the sample (GPP per standard deviation, like ``w``);
    * ``ig [N, F]``: Captum's integrated gradients of ``y`` from ``z_ref`` (the cell's
      training-years climatology, standardised) to ``z``, Gauss-Legendre with ``ig_steps``
      nodes; ``sum_j ig_j = y(z) - y(z_ref)`` up to ``ig_delta [N]``.

    Args:
        model_path: ``train_stcg``'s model file.
        data_root: the dataset (the rows' years and the year before, for the windows).
        keys: rows with cell_id, year, period.
        z_ref: ``[N, F]`` standardised references.
        ig_steps: integration nodes (0: the gradient only).
        batch_size: rows per forward pass of the gradient (and per call of Captum).
        global_reference: also ``ig_global [N, F]``, integrated gradients from ``z = 0`` (the
            training mean), and ``ig_global_delta [N]``.
        ig_rows: ``[N]`` bool, the rows that get integrated gradients (the others get NaN: the
            stage scores and maps only the rows with enough true GPP); None: every row.
        ig_batch: rows per call of Captum and path points (rows x nodes) per forward and
            backward pass of the integrated gradients (Captum's ``internal_batch_size``: one
            node of ``ig_batch`` rows per pass): small passes stay in the CPU cache (256 points
            per pass are about twice as fast per point as 16384 on one core).

    Raises:
        ValueError: naming rows absent from the dataset.
    """
    import torch
    from captum.attr import IntegratedGradients

    from stcg.data.dataset import load_dense, read_meta
    from stcg.graph.cluster import assign_to_nodes
    from stcg.train.bundle import load_bundle
    from stcg.train.data import to_device

    bundle = load_bundle(model_path)
    meta = read_meta(data_root)
    years = sorted(int(y) for y in keys["year"].unique())
    load_years = set(years) | ({years[0] - 1} if years[0] - 1 in meta.years else set())
    dense = load_dense(data_root, years=sorted(load_years), variables=bundle.variables)
    model = bundle.build_model("cpu").float().eval()
    nodes = assign_to_nodes(dense.lon, dense.lat, bundle.node_xyz)
    data = to_device(dense, bundle.stats, nodes, bundle.window, torch.device("cpu"),
                     x_ref=bundle.reference_for(dense.cell_id))
    cpos = pd.Series(np.arange(len(dense.cell_id)), index=dense.cell_id.astype(np.int64))
    tpos = pd.Series(np.arange(len(dense.year)),
                     index=pd.MultiIndex.from_arrays([dense.year.astype(np.int64),
                                                      dense.period.astype(np.int64)]))
    c = cpos.reindex(keys["cell_id"].to_numpy(np.int64)).to_numpy()
    t = tpos.reindex(pd.MultiIndex.from_arrays([keys["year"].to_numpy(np.int64),
                                                keys["period"].to_numpy(np.int64)])).to_numpy()
    if np.isnan(c).any() or np.isnan(t).any():
        raise ValueError(f"{data_root}: {int(np.isnan(c).sum() + np.isnan(t).sum())} rows are "
                         "not in the dataset")
    idx = torch.from_numpy(c.astype(np.int64) * dense.x.shape[1] + t.astype(np.int64))
    with torch.no_grad():
        table = model.condition_table()

    def forward(z_now, hist, node, period, lc, x_ref=None):
        x = torch.cat([hist, z_now[:, None]], dim=1)
        return model(x, node, period, land_cover=lc, cond_table=table, x_ref=x_ref).y

    ig = IntegratedGradients(forward)
    n, f = len(keys), len(bundle.variables)
    out = {"grad": np.zeros((n, f))}
    refs = {} if ig_steps == 0 else {"ig": None, **({"ig_global": 0.0} if global_reference else {})}
    for name in refs:
        out[name], out[f"{name}_delta"] = np.full((n, f), np.nan), np.full(n, np.nan)
    zr = torch.as_tensor(np.asarray(z_ref), dtype=torch.float32)
    for a in range(0, n, batch_size):
        b = data.gather(idx[a : a + batch_size])
        z_now = b.x[:, -1].clone().requires_grad_(True)
        extra = (b.x[:, :-1], b.node, b.period, b.land_cover,
                 *(() if b.x_ref is None else (b.x_ref,)))
        y = forward(z_now, *extra)
        (g,) = torch.autograd.grad(y.sum(), z_now)
        rows = np.arange(a, a + len(y))
        out["grad"][rows] = g.numpy()
        if ig_rows is not None:
            rows = rows[np.asarray(ig_rows, dtype=bool)[rows]]
        if not refs or not len(rows):
            continue
        for r in (rows[i : i + ig_batch] for i in range(0, len(rows), ig_batch)):
            sel = torch.from_numpy(r - a)
            z_ig = z_now.detach()[sel]
            extra_ig = tuple(e[sel] for e in extra)
            for name, base in refs.items():
                att, delta = ig.attribute(z_ig, baselines=zr[r] if base is None else base,
                                          additional_forward_args=extra_ig, n_steps=ig_steps,
                                          internal_batch_size=ig_batch,
                                          return_convergence_delta=True)
                out[name][r] = att.detach().numpy()
                out[f"{name}_delta"][r] = delta.detach().numpy()
    return out


FIGURE_ATTRIBUTIONS = {
    "weights": ("weights w_j", "contributions w_j·z_j (about the training mean)"),
    "weights_local": ("weights w_j", "contributions w_j·(z_j − z_ref,j) (about the cell's usual "
                                     "state)"),
    "gradient": ("target-head gradient dy/dz_j", "dy/dz_j·z_j (about the training mean)"),
    "gradient_local": ("target-head gradient dy/dz_j", "dy/dz_j·(z_j − z_ref,j) (about the "
                                                       "cell's usual state)"),
}
"""``figures.attribution`` choices -> (effect label, contribution label).  ``z_ref``: the cell's
climatology of the same period over the training years (standardised)."""


def select_attribution(
    att: Attributions, kind: str, data_root: str | Path, model_path: str | Path,
    train_years: tuple[int, ...],
) -> Attributions:
    """``att`` with the effect and contribution of attribution ``kind`` (:data:`FIGURE_ATTRIBUTIONS`)
    in place of ``w`` and ``w z``: ``w`` becomes the effect and ``z`` the input (or its anomaly
    from the local reference), so that :attr:`Attributions.contribution` is the contribution.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    from stcg.report.truth import local_inputs

    if kind not in FIGURE_ATTRIBUTIONS:
        raise ValueError(f"figures.attribution: expected one of {list(FIGURE_ATTRIBUTIONS)}, "
                         f"got {kind!r}")
    if kind == "weights" or att.w is None and kind == "weights_local":
        return att
    z = att.z
    if kind.endswith("_local"):
        x, x_ref = local_inputs(data_root, att.keys, att.variables, train_years)
        z = (x - x_ref) / att.x_std  # the standardised anomaly
    w = att.w
    if kind.startswith("gradient"):
        w = model_attributions(model_path, data_root, att.keys, np.zeros_like(att.z),
                               ig_steps=0)["grad"]
    return Attributions(keys=att.keys, variables=att.variables, w=w, z=z, x_std=att.x_std,
                        interp_rel_rmse=att.interp_rel_rmse)
