"""Small fixtures for the bad-input battery: a toy dataset, its graph, and a trainable setup."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from stcg.data.dataset import Dense, load_dense
from stcg.graph.build import Graph, build_graph, save_graph
from stcg.model.config import ModelConfig
from stcg.model.stcg import STCGModel
from stcg.train.bundle import graph_tensors
from stcg.train.config import OptimConfig
from stcg.train.data import DeviceData, FeatureStats, feature_stats, sample_indices, to_device
from stcg.train.run import cell_nodes
from tests.train.conftest import TOY_GRAPH, write_toy_dataset

SMALL = ModelConfig(d_model=8, heads=2, encoder_blocks=1, decoder_layers=1)
OPTIM = OptimConfig(epochs=2, batch_size=32, samples_per_epoch=64, lr=3e-3, lr_final=3e-4)


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> Path:
    """A toy dataset directory (3 years, 8 features, coarse grid)."""
    return write_toy_dataset(tmp_path_factory.mktemp("rel_toy") / "climate2gpp", res=30.0)


@pytest.fixture(scope="session")
def toy_graph(toy_data, tmp_path_factory) -> Path:
    """The toy dataset's graph file."""
    cells = pd.read_parquet(toy_data / "cells.parquet")
    g = build_graph(cells.cell_id.to_numpy(), cells.lon.to_numpy(), cells.lat.to_numpy(),
                    TOY_GRAPH, progress=False)
    path = tmp_path_factory.mktemp("rel_graph") / "graph.npz"
    save_graph(path, g)
    return path


@dataclass
class Setup:
    """Everything :func:`stcg.train.loop.fit` needs, small."""

    dense: Dense
    graph: Graph
    stats: FeatureStats
    data: DeviceData
    idx: torch.Tensor

    def model(self) -> STCGModel:
        torch.manual_seed(0)
        return STCGModel(SMALL, len(self.dense.variables), graph_tensors(self.graph),
                         self.stats.y_mean, self.stats.y_std)


@pytest.fixture(scope="session")
def setup(toy_data, toy_graph) -> Setup:
    """A trainable setup on the toy data (CPU)."""
    from stcg.graph.build import load_graph

    torch.set_num_threads(1)
    dense = load_dense(toy_data)
    graph = load_graph(toy_graph)
    stats = feature_stats(dense, (2018, 2019))
    data = to_device(dense, stats, cell_nodes(dense, graph), 4, torch.device("cpu"))
    idx = torch.from_numpy(sample_indices(dense, (2018, 2019), 4, True)[:256])
    return Setup(dense, graph, stats, data, idx)
