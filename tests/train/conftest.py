"""A tiny synthetic Climate2GPP dataset (written with dataset_writer) and its graph.

The GPP of a cell is a light-use-efficiency-like function of radiation, temperature and soil water
whose efficiency varies smoothly in space (an unobserved field), so conditions matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stcg.data.dataset import DatasetMeta
from stcg.data.schema import PERIODS_PER_YEAR, VARIABLES
from stcg.data.writer import dataset_writer
from stcg.graph.build import build_graph, save_graph
from stcg.graph.config import BuildGraphConfig, Node2VecConfig

VARS = tuple(VARIABLES)[:8]
YEARS = (2018, 2019, 2020)


def write_toy_dataset(root: Path, res: float = 15.0, years: tuple[int, ...] = YEARS,
                      seed: int = 0) -> Path:
    """Write the toy dataset to ``root`` and return it."""
    rng = np.random.default_rng(seed)
    lon = np.arange(-180 + res / 2, 180, res)
    lat = np.arange(-60 + res / 2, 75, res)
    glon, glat = np.meshgrid(lon, lat)
    land = (np.sin(np.deg2rad(glon) * 2) + np.cos(np.deg2rad(glat) * 3) > -0.3) | (
        np.abs(np.abs(glon) - 180) < res
    )
    clon, clat = glon[land], glat[land]
    n = clon.size
    cell_id = np.arange(n, dtype=np.int64) * 3 + 1
    lc = rng.integers(1, 17, n)
    eff = 1.5 + np.sin(np.deg2rad(clon)) * np.cos(np.deg2rad(clat))  # unobserved field
    meta = DatasetMeta(source="toy", variables=VARS, years=years, train_years=years[:-1],
                       test_years=years[-1:], resolution=res, n_cells=n, has_truth=False)
    with dataset_writer(root, meta) as w:
        w.write_cells(pd.DataFrame({"cell_id": cell_id, "lon": clon, "lat": clat,
                                    "land_cover": lc}))
        water = rng.uniform(0.1, 0.4, n)
        for year in years:
            rows = []
            for p in range(PERIODS_PER_YEAR):
                season = np.sin(2 * np.pi * (p - 10) / PERIODS_PER_YEAR) * np.sign(clat + 1e-9)
                temp = 288 - 0.5 * np.abs(clat) + 12 * season + rng.normal(0, 2, n)
                rad = np.clip(1.5e7 * (1 + 0.6 * season) + rng.normal(0, 1e6, n), 1e5, None)
                water = np.clip(water + rng.normal(0, 0.03, n), 0.02, 0.6)
                feats = {
                    VARS[0]: temp,
                    VARS[1]: temp - 5 + rng.normal(0, 1, n),
                    VARS[2]: temp + rng.normal(0, 1, n),
                    VARS[3]: temp + rng.normal(0, 2, n),
                    VARS[4]: rad,
                    VARS[5]: water,
                    VARS[6]: rng.normal(0, 1, n),
                    VARS[7]: water * 0.8 + rng.normal(0, 0.01, n),
                }
                ft = np.clip((temp - 268) / 25, 0, 1)
                gpp = eff * ft * (rad / 1.5e7) * np.sqrt(water / 0.3) * 3 + rng.normal(0, 0.1, n)
                df = pd.DataFrame({"cell_id": cell_id, "lon": clon, "lat": clat, "period": p,
                                   "land_cover": lc, **feats, "gpp": np.clip(gpp, 0, None)})
                rows.append(df)
            w.write_year(year, pd.concat(rows, ignore_index=True))
    return root


TOY_GRAPH = BuildGraphConfig(
    seed=0, clusters=8, knn=3,
    node2vec=Node2VecConfig(dim=8, walk_length=6, context_size=3, walks_per_node=4, epochs=1),
)


@pytest.fixture(scope="session")
def toy_graph_config() -> BuildGraphConfig:
    """The small graph params used for the toy dataset."""
    return TOY_GRAPH


@pytest.fixture(scope="session")
def toy_data(tmp_path_factory) -> Path:
    """The toy dataset directory."""
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "climate2gpp")


@pytest.fixture(scope="session")
def toy_graph(toy_data, tmp_path_factory) -> Path:
    """The graph file of the toy dataset."""
    cells = pd.read_parquet(toy_data / "cells.parquet")
    g = build_graph(cells.cell_id.to_numpy(), cells.lon.to_numpy(), cells.lat.to_numpy(),
                    TOY_GRAPH, progress=False)
    path = tmp_path_factory.mktemp("graph") / "graph.npz"
    save_graph(path, g)
    return path
