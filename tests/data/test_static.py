"""Real static layers on the land grid (source sim)."""

from __future__ import annotations

import numpy as np
import pytest

from stcg.data.schema import cell_center, cell_id_for
from stcg.data.sim.static import block_majority, block_mean, build_cells


@pytest.fixture(scope="module")
def cells(data_dir):
    return build_cells(data_dir, 2.5).set_index("cell_id")


def _at(cells, lon, lat):
    return cells.loc[int(cell_id_for(lon, lat, 2.5))]


def test_land_grid(cells):
    assert 2000 < len(cells) < 2600  # ~57.9k cells at 0.5 deg, i.e. /25
    assert cells["lat"].min() > -60  # no Antarctica
    assert not (cells["land_cover"] == 15).any()  # no permanent ice
    assert cells["land_cover"].between(1, 16).all()  # majority over land pixels: never water


def test_layers_are_real(cells):
    amazon = _at(cells, -62.0, -4.0)
    assert amazon["land_cover"] == 2 and amazon["koppen_name"].startswith("A")
    assert amazon["tp_clim_03"] > 150  # mm/month in the wet season
    sahara = _at(cells, 12.0, 24.0)
    assert sahara["land_cover"] == 16 and sahara["koppen_name"] == "BWh"
    assert sahara[[f"tp_clim_{m:02d}" for m in range(1, 13)]].sum() < 60
    tibet = _at(cells, 88.0, 33.0)
    assert tibet["elevation"] > 4000 and tibet["t2m_clim_01"] < -10  # degC, not K
    siberia = _at(cells, 130.0, 65.0)
    assert siberia["t2m_clim_01"] < -30 and siberia["t2m_clim_07"] > 10
    assert cells["linke_07"].between(1.0, 10.0).all()


def test_block_helpers():
    a = np.array([[1, 1, 2, 2], [1, 3, 2, 2]])
    maj, n = block_majority(a, 2, np.arange(4), ignore=(3,))
    assert maj.tolist() == [[1, 2]] and n.tolist() == [[3, 4]]
    m = block_mean(np.array([[1.0, np.nan], [3.0, 5.0]]), 2)
    assert m[0, 0] == pytest.approx(3.0)


def test_block_majority_equals_per_class_counting():
    """One bincount pass gives the counts and winners of counting every class block by block
    (codes 0, 7 and 8 lie outside the classes and are not counted)."""
    rng = np.random.default_rng(0)
    for _ in range(25):
        b = int(rng.integers(1, 5))
        a = rng.integers(0, 9, size=(b * int(rng.integers(1, 6)), b * int(rng.integers(1, 6))))
        classes, ignore = np.arange(1, 7), tuple(int(c) for c in rng.choice(7, size=2, replace=False))
        maj, n = block_majority(a.astype(np.uint8), b, classes, ignore=ignore)
        for i in range(maj.shape[0]):
            for j in range(maj.shape[1]):
                block = a[i * b:(i + 1) * b, j * b:(j + 1) * b]
                counts = [(block == c).sum() if c not in ignore else -1 for c in classes]
                assert maj[i, j] == classes[int(np.argmax(counts))]  # first of equal counts wins
                assert n[i, j] == sum(c for c in counts if c > 0)


def test_cell_ids_round_trip():
    lon, lat = cell_center(np.arange(0, 144 * 72, 97), 2.5)
    assert np.array_equal(cell_id_for(lon, lat, 2.5), np.arange(0, 144 * 72, 97))
    assert cell_id_for(180.0, 0.0, 2.5) == cell_id_for(-180.0, 0.0, 2.5)
