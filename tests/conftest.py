"""Shared fixtures: the real raw inputs and a tiny simulated Climate2GPP dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"

os.environ.setdefault("OMP_NUM_THREADS", "2")


def pytest_configure(config: pytest.Config) -> None:
    """Fail early, with the fix, when the pinned raw inputs are missing."""
    from stcg.data.inputs import check_inputs

    problems = check_inputs(DATA)
    if problems:
        raise pytest.UsageError(
            "the raw inputs under data/ are missing or altered; run `stcg inputs fetch` "
            "(the README's test command does):\n  " + "\n  ".join(problems)
        )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The pinned raw inputs (``data/``)."""
    return DATA


def tiny_config(seed: int = 0, resolution: float = 10.0, years: tuple[int, int, int] = (2017, 2019, 2020)):
    """A ``build_data`` config for a tiny simulated dataset (train first..mid, test last)."""
    from stcg.config import read_params
    from stcg.data.config import BuildDataConfig, SimConfig, SplitConfig

    variables = tuple(read_params(REPO / "params.yaml")["build_data"]["variables"])
    first, last_train, test = years
    return BuildDataConfig(
        source="sim",
        seed=seed,
        resolution=resolution,
        variables=variables,
        splits=SplitConfig(train_years=(first, last_train), test_years=(test, test)),
        sim=SimConfig(workers=1, spinup_years=1),
    )


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated dataset: 10 degree grid (~130 cells), train 2017-2019, test 2020."""
    from stcg.data.sim import build_sim

    out = tmp_path_factory.mktemp("tiny") / "climate2gpp"
    build_sim(DATA, out, tiny_config())
    return out
