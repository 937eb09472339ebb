"""The STCG model in few-shot mode: "Ours" in paper Tables 2-3 (Section 4.3).

The few-shot data (:mod:`stcg.fewshot.dataset`) hold, per sampled cell, the 46-period
climatology of the training years.  Like GTWR, the model is fitted once on all ``46 x n_train``
(cell, period) samples of the training cells and predicts every cell at every period; the
held-out cells are scored.  Decisions the paper leaves open:

* **The same model.** The architecture and the window are the main model's
  (``train_stcg.model``, ``train_stcg.window``); only the optimiser budget is the stage's own
  (``fewshot_stcg.optim``: the data are ~1000x smaller than Climate2GPP).
* **The climatological year is cyclic.** The window of period ``p`` holds periods
  ``p-L+1 .. p`` modulo 46 of the same climatology: the climatology is laid out twice along time
  (``T = 92``, "years" 0 and 1) and the samples are the second copy's.
* **The graph.** The main conditional graph (stage ``build_graph``): every few-shot cell maps to
  its nearest node centre (for grid cells this is their K-means cluster), held-out cells
  included: the condition is a property of the location, known wherever the graph is.
* **Standardisation** with the statistics of the training cells (population SD, as the other
  few-shot methods); GPP is not normalised.
* **Land cover.** The few-shot ``land_cover`` covariate is a category: with
  ``model.land_cover`` it enters as the model's land-cover token, never as a numeric input, and
  its coefficient is NaN.
* **Coefficients.** The interpretable branch's ``w_j`` multiply standardised inputs, so they
  are GPP per SD of covariate ``j``, the unit of every few-shot method's coefficients; the
  intercept is ``w_0``.  Without the branch (``model.interp: false``) there are none.
"""

from __future__ import annotations

import numpy as np
import torch

from stcg.data.dataset import Dense
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.fewshot.dataset import LAND_COVER, FewShot
from stcg.fewshot.scoring import FewShotPrediction
from stcg.model.config import ModelConfig
from stcg.model.stcg import GraphTensors, STCGModel
from stcg.train import distributed
from stcg.train.config import FewshotStcgConfig
from stcg.train.data import feature_stats, to_device
from stcg.train.loop import EpochLogger, fit, predict

METHOD = "stcg"


def cyclic_dense(fs: FewShot, cells: np.ndarray | None = None) -> Dense:
    """The few-shot climatology as a two-"year" :class:`Dense` (``T = 92``; module docstring).

    Args:
        fs: the few-shot data.
        cells: ``[N]`` boolean mask of the cells to keep (None: all).

    Returns:
        ``x [C, 92, F]`` without the land-cover covariate, ``y [C, 92]``; years 0 and 1.
    """
    keep = np.ones(fs.n, dtype=bool) if cells is None else np.asarray(cells, dtype=bool)
    numeric = [j for j, f in enumerate(fs.features) if f != LAND_COVER]
    x = fs.x[keep][:, :, numeric].astype(np.float32)
    y = fs.y[keep].astype(np.float32)
    return Dense(
        x=np.concatenate([x, x], axis=1),
        y=np.concatenate([y, y], axis=1),
        cell_id=fs.cell_id[keep],
        lon=fs.lon[keep],
        lat=fs.lat[keep],
        land_cover=fs.land_cover[keep],
        year=np.repeat(np.arange(2), PERIODS_PER_YEAR),
        period=np.tile(np.arange(PERIODS_PER_YEAR), 2),
        variables=tuple(fs.features[j] for j in numeric),
    )


def fit_stcg_fewshot(
    fs: FewShot,
    graph: GraphTensors,
    cell_node: np.ndarray,
    model_cfg: ModelConfig,
    window: int,
    cfg: FewshotStcgConfig,
    logger: EpochLogger | None = None,
    progress: bool = False,
) -> tuple[FewShotPrediction, STCGModel]:
    """Fit the STCG model on the training cells at all 46 periods; predict every cell.

    Args:
        fs: the few-shot data.
        graph: the conditional graph's tensors (:func:`stcg.train.bundle.graph_tensors`).
        cell_node: ``[N]`` graph node of every few-shot cell.
        model_cfg: the architecture (``train_stcg.model``).
        window: L (``train_stcg.window``).
        cfg: the stage's params.
        logger: receives one record per epoch.
        progress: tqdm bars.

    Returns:
        ``(prediction, model)``: predictions ``[N, 46]`` and coefficients ``[N, 46, 1 + F]``
        (intercept first, per covariate SD; NaN for land cover), and the trained model.
    """
    cell_node = np.asarray(cell_node, dtype=np.int64)
    if cell_node.shape != (fs.n,):
        raise ValueError(f"cell_node has shape {cell_node.shape}, expected ({fs.n},)")
    if cell_node.min() < 0 or cell_node.max() >= graph.n_nodes:
        raise ValueError(f"cell_node must lie in 0..{graph.n_nodes - 1}")
    if not 1 <= window <= PERIODS_PER_YEAR:
        raise ValueError(f"window must be in 1..{PERIODS_PER_YEAR}, got {window}")
    if model_cfg.center_inputs != "none":
        raise ValueError(
            "model.center_inputs: the few-shot task predicts cells without training years, "
            "which have no climatology to centre on; use center_inputs: none for fewshot_stcg")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = distributed.local_device(cfg.device)
    dense = cyclic_dense(fs)
    stats = feature_stats(cyclic_dense(fs, fs.train), years=(1,))
    data = to_device(dense, stats, cell_node, window, device)
    t_all = dense.n_times
    second_year = np.arange(PERIODS_PER_YEAR, t_all)  # windows reach back into the first copy
    flat = (np.arange(fs.n)[:, None] * t_all + second_year[None, :]).astype(np.int64)  # [N, 46]
    train_idx = torch.from_numpy(flat[fs.train].ravel()).to(device)

    torch.manual_seed(cfg.seed)
    model = STCGModel(model_cfg, len(dense.variables), graph, stats.y_mean, stats.y_std).to(device)
    history = fit(model, data, train_idx, cfg.optim, cfg.seed, None, "", amp=cfg.amp,
                  logger=logger, progress=progress)
    out = predict(model, data, torch.from_numpy(flat.ravel()).to(device), cfg.eval_batch_size,
                  cfg.amp, progress=progress)

    coef = None
    if "weights" in out:
        coef = np.full((fs.n, PERIODS_PER_YEAR, 1 + len(fs.features)), np.nan)
        coef[..., 0] = out.get("intercept", np.full(flat.size, np.nan)).reshape(fs.n, -1)
        w = out["weights"].reshape(fs.n, PERIODS_PER_YEAR, -1)
        numeric = [j for j, f in enumerate(fs.features) if f != LAND_COVER]
        coef[..., [1 + j for j in numeric]] = w
    info = {
        "epochs": float(cfg.optim.epochs),
        "final_loss": float(history[-1]["loss"]),
        "parameters": float(sum(p.numel() for p in model.parameters())),
        "nodes_used": float(np.unique(cell_node).size),
        "window": float(window),
    }
    scaling = {"fit": {v: {"mean": float(m), "sd": float(s), "kept": True}
                       for v, m, s in zip(dense.variables, stats.mean, stats.std, strict=True)}}
    pred = FewShotPrediction(
        method=METHOD,
        periods=tuple(range(PERIODS_PER_YEAR)),
        pred=out["y"].astype(np.float64).reshape(fs.n, PERIODS_PER_YEAR),
        coef=coef,
        coef_names=("intercept", *fs.features),
        info=info,
        scaling=scaling,
    )
    return pred, model

