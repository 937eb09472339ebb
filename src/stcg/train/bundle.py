"""The trained-model file (``build/stcg/model.pt``): everything ``stcg predict`` needs.

A plain dict of tensors, strings and numbers, loadable with ``torch.load(weights_only=True)``:
the model params, the weights, the window, the feature names and their training statistics, and
the graph (node centres, edges, weights, node2vec embeddings), so the file alone can predict any
dataset in the Climate2GPP schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from stcg.config import from_dict, to_dict
from stcg.errors import StcgError
from stcg.graph.build import Graph
from stcg.io import load_torch, save_torch
from stcg.model.config import ModelConfig
from stcg.model.stcg import GraphTensors, STCGModel
from stcg.train.data import FeatureStats

BUNDLE_FORMAT = "stcg-model-v1"


@dataclass
class ModelBundle:
    """A trained model with what it needs to be applied.

    Attributes:
        model_cfg: the model params.
        window: L.
        variables: the F input features, in order.
        stats: training-split standardisation.
        node_xyz: ``[K, 3]`` node centres (to map cells to nodes).
        graph: the graph tensors the model was built with.
        state_dict: the weights.
        ref_cell_id: ``[C]`` cells of ``x_ref`` (``model.center_inputs: climatology``), or None.
        x_ref: ``[C, 46, F]`` their standardised training-years reference, or None.
    """

    model_cfg: ModelConfig
    window: int
    variables: tuple[str, ...]
    stats: FeatureStats
    node_xyz: np.ndarray
    graph: GraphTensors
    state_dict: dict[str, torch.Tensor]
    ref_cell_id: np.ndarray | None = None
    x_ref: np.ndarray | None = None

    def reference_for(self, cell_id: np.ndarray) -> np.ndarray | None:
        """``[C, 46, F]`` the local reference of ``cell_id`` (None if the model uses none).

        Raises:
            StcgError: if some cells have no reference (cells the model never trained on).
        """
        if self.model_cfg.center_inputs == "none":
            return None
        if self.x_ref is None or self.ref_cell_id is None:
            raise StcgError("the model centres its inputs on a climatology "
                            "(center_inputs: climatology) but its file holds none; retrain it")
        pos = pd.Series(np.arange(len(self.ref_cell_id)), index=self.ref_cell_id)
        at = pos.reindex(np.asarray(cell_id, dtype=np.int64)).to_numpy()
        missing = np.isnan(at)
        if missing.any():
            raise StcgError(
                f"{int(missing.sum())} of {len(at)} cells (e.g. cell_id "
                f"{int(np.asarray(cell_id)[missing][0])}) have no training-years climatology, "
                "which a model with center_inputs: climatology needs; predict the cells it was "
                "trained on, or train with center_inputs: none")
        return self.x_ref[at.astype(np.int64)]

    def build_model(self, device: torch.device | str = "cpu") -> STCGModel:
        """The model with the bundle's weights, in eval mode."""
        model = STCGModel(
            self.model_cfg, len(self.variables), self.graph, self.stats.y_mean, self.stats.y_std
        )
        model.load_state_dict(self.state_dict)
        return model.to(device).eval()


def make_bundle(
    model: STCGModel,
    model_cfg: ModelConfig,
    window: int,
    variables: tuple[str, ...],
    stats: FeatureStats,
    graph: Graph,
    reference: tuple[np.ndarray, np.ndarray] | None = None,
) -> ModelBundle:
    """Collect a trained model into a :class:`ModelBundle` (weights copied to CPU);
    ``reference``: ``(cell_id [C], x_ref [C, 46, F])`` for ``center_inputs: climatology``."""
    return ModelBundle(
        model_cfg=model_cfg,
        window=window,
        variables=tuple(variables),
        stats=stats,
        node_xyz=np.asarray(graph.node_xyz),
        graph=graph_tensors(graph),
        state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        ref_cell_id=None if reference is None else np.asarray(reference[0], dtype=np.int64),
        x_ref=None if reference is None else np.asarray(reference[1], dtype=np.float32),
    )


def graph_tensors(graph: Graph) -> GraphTensors:
    """The part of the graph file the model is built from."""
    return GraphTensors(
        edge_src=np.asarray(graph.edge_src),
        edge_dst=np.asarray(graph.edge_dst),
        edge_weight=np.asarray(graph.edge_weight),
        embedding=np.asarray(graph.embedding),
    )


def save_bundle(path: str | Path, bundle: ModelBundle) -> None:
    """Write the bundle atomically (the same bundle gives the same bytes)."""
    t = torch.from_numpy
    payload: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "model_cfg": to_dict(bundle.model_cfg),
        "window": int(bundle.window),
        "variables": list(bundle.variables),
        "x_mean": t(np.asarray(bundle.stats.mean, dtype=np.float64)),
        "x_std": t(np.asarray(bundle.stats.std, dtype=np.float64)),
        "y_mean": float(bundle.stats.y_mean),
        "y_std": float(bundle.stats.y_std),
        "node_xyz": t(np.asarray(bundle.node_xyz, dtype=np.float64)),
        "edge_src": t(np.asarray(bundle.graph.edge_src, dtype=np.int64)),
        "edge_dst": t(np.asarray(bundle.graph.edge_dst, dtype=np.int64)),
        "edge_weight": t(np.asarray(bundle.graph.edge_weight, dtype=np.float64)),
        "embedding": t(np.asarray(bundle.graph.embedding, dtype=np.float32)),
        "state_dict": bundle.state_dict,
    }
    if bundle.x_ref is not None and bundle.ref_cell_id is not None:
        payload["ref_cell_id"] = t(np.asarray(bundle.ref_cell_id, dtype=np.int64))
        payload["x_ref"] = t(np.asarray(bundle.x_ref, dtype=np.float32))
    save_torch(path, payload)


def load_bundle(path: str | Path) -> ModelBundle:
    """Read a bundle (``weights_only=True``).

    Raises:
        StcgError: naming the file: missing, unreadable (empty, truncated, not a torch file,
            unsafe contents) or not a model file of this format.
    """
    path = Path(path)
    fix = "re-create it with `dvc repro train_stcg` (or restore it with `dvc checkout build/stcg`)"
    p = load_torch(path, "model file", fix)
    if not isinstance(p, dict) or p.get("format") != BUNDLE_FORMAT:
        found = p.get("format") if isinstance(p, dict) else type(p).__name__
        raise StcgError(f"{path}: not a {BUNDLE_FORMAT} model file (format {found!r}); {fix}")
    return ModelBundle(
        model_cfg=from_dict(ModelConfig, p["model_cfg"], where=f"{path.name}: model_cfg"),
        window=int(p["window"]),
        variables=tuple(p["variables"]),
        stats=FeatureStats(
            mean=p["x_mean"].numpy(), std=p["x_std"].numpy(), y_mean=float(p["y_mean"]),
            y_std=float(p["y_std"]),
        ),
        node_xyz=p["node_xyz"].numpy(),
        graph=GraphTensors(
            edge_src=p["edge_src"].numpy(),
            edge_dst=p["edge_dst"].numpy(),
            edge_weight=p["edge_weight"].numpy(),
            embedding=p["embedding"].numpy(),
        ),
        state_dict=p["state_dict"],
        ref_cell_id=p["ref_cell_id"].numpy() if "ref_cell_id" in p else None,
        x_ref=p["x_ref"].numpy() if "x_ref" in p else None,
    )
