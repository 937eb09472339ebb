"""Fixtures of the Table 1 tests: small arrays with a known signal, and a small dataset on disk.

The dataset is written with :func:`stcg.data.writer.dataset_writer` from a closed-form generator
(GPP = light-use efficiency x radiation x water and temperature scalars, with per-cell
efficiency), so these tests do not need the simulator or the raw inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stcg.data.dataset import DatasetMeta
from stcg.data.schema import PERIODS_PER_YEAR
from stcg.data.writer import dataset_writer

VARIABLES = (
    "temperature_2m",
    "surface_solar_radiation_downwards_sum",
    "volumetric_soil_water_layer_1",
    "total_precipitation_sum",
    "leaf_area_index_high_vegetation",
)


def signal_arrays(n: int = 2400, seed: int = 0) -> dict[str, np.ndarray]:
    """Features ``[n, 6]`` (5 numerical + a category code in column 5) and a nonlinear target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    cat = rng.integers(0, 6, size=n)
    y = (3.0 + 1.5 * x[:, 0] + np.sin(2.0 * x[:, 1]) + 0.8 * x[:, 2] * (x[:, 3] > 0)
         + 0.6 * (cat % 3) + 0.1 * rng.normal(size=n)).astype(np.float32)
    x = np.concatenate([x, cat[:, None].astype(np.float32)], axis=1)
    x[rng.random(n) < 0.02, 4] = np.nan  # some missing values
    a, b = int(0.7 * n), int(0.85 * n)
    return {"x_train": x[:a], "y_train": y[:a], "x_val": x[a:b], "y_val": y[a:b],
            "x_test": x[b:], "y_test": y[b:]}


@pytest.fixture(scope="session")
def arrays() -> dict[str, np.ndarray]:
    """Train / validation / test arrays, categorical column 5."""
    return signal_arrays()


def write_dataset(out: Path, n_cells: int = 40, years: tuple[int, ...] = (2018, 2019, 2020),
                  seed: int = 0) -> Path:
    """A small Climate2GPP dataset (train = all years but the last, test = the last)."""
    rng = np.random.default_rng(seed)
    cell_id = np.sort(rng.choice(64800, size=n_cells, replace=False)).astype(np.int32)
    lat = rng.uniform(-50, 60, n_cells)
    lon = rng.uniform(-170, 170, n_cells)
    lc = rng.choice([1, 4, 8, 10, 12], size=n_cells)
    lue = rng.uniform(0.5, 1.5, n_cells) * (1 + 0.2 * (lc == 12))
    cells = pd.DataFrame({"cell_id": cell_id, "lon": lon, "lat": lat, "land_cover": lc})
    meta = DatasetMeta(source="test", variables=VARIABLES, years=tuple(years),
                       train_years=tuple(years[:-1]), test_years=(years[-1],), resolution=1.0,
                       n_cells=n_cells, has_truth=False)
    per = np.arange(PERIODS_PER_YEAR)
    with dataset_writer(out, meta) as w:
        w.write_cells(cells)
        for year in years:
            season = np.cos(2 * np.pi * (per[None, :] - 23) / 46) * np.sign(lat)[:, None]
            t2m = 285 + 12 * season + 3 * rng.normal(size=(n_cells, 46))
            rad = np.clip(1.2e8 + 0.8e8 * season + 1e7 * rng.normal(size=(n_cells, 46)), 1e6, None)
            swc = np.clip(0.25 + 0.1 * rng.normal(size=(n_cells, 46)), 0.02, 0.6)
            pre = np.clip(0.02 + 0.02 * rng.normal(size=(n_cells, 46)), 0, None)
            lai = np.clip(2 + 1.5 * season + 0.3 * rng.normal(size=(n_cells, 46)), 0, None)
            tscal = np.clip((t2m - 268) / 20, 0, 1)
            gpp = lue[:, None] * rad / 1.5e7 * tscal * np.clip(swc / 0.3, 0, 1)
            gpp = gpp + 0.1 * rng.normal(size=gpp.shape)
            gpp[rng.random(gpp.shape) < 0.03] = np.nan  # missing targets are not rows
            df = pd.DataFrame({
                "cell_id": np.repeat(cell_id, 46), "lon": np.repeat(lon, 46),
                "lat": np.repeat(lat, 46), "period": np.tile(per, n_cells),
                "land_cover": np.repeat(lc, 46),
                "temperature_2m": t2m.ravel(),
                "surface_solar_radiation_downwards_sum": rad.ravel(),
                "volumetric_soil_water_layer_1": swc.ravel(),
                "total_precipitation_sum": pre.ravel(),
                "leaf_area_index_high_vegetation": lai.ravel(),
                "gpp": gpp.ravel(),
            })
            w.write_year(year, df)
    return out


@pytest.fixture(scope="session")
def tabular_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 cells, 2018-2019 train, 2020 test, 5 variables (about 5.5k samples)."""
    return write_dataset(tmp_path_factory.mktemp("tabular") / "climate2gpp")
