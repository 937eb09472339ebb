"""Fixtures of the report tests (see helpers.py): synthetic attributions, and the stage inputs
of a perfect and of a useless interpreter on the simulator's tiny dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from stcg.report.attributions import Attributions

from .helpers import stage_inputs, synthetic_attributions


@pytest.fixture(scope="session")
def synth() -> Attributions:
    """Synthetic attributions on the 10 degree grid (no Amazon cell south of 20S)."""
    return synthetic_attributions()


@pytest.fixture(scope="session")
def perfect(tiny_dataset, tmp_path_factory) -> dict[str, Path]:
    """Stage inputs whose weights are the true per-std effects."""
    return stage_inputs(tiny_dataset, tmp_path_factory.mktemp("perfect"))


@pytest.fixture(scope="session")
def shuffled(tiny_dataset, tmp_path_factory) -> dict[str, Path]:
    """Stage inputs whose weights are the true effects of other samples."""
    return stage_inputs(tiny_dataset, tmp_path_factory.mktemp("shuffled"), shuffle=True)

