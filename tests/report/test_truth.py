"""The simulator's exact local attributions (stcg.report.truth) on the tiny simulated dataset.

Known answers: the GPP function re-evaluated from the stored parameters reproduces the stored
``gpp_true``; integrated gradients add up to the GPP difference (completeness) and, over a tiny
step, equal the simulator's own autograd slope times the step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stcg.data.dataset import read_meta, read_samples, read_truth
from stcg.report.truth import (
    climatology,
    gpp_of,
    gpp_params,
    load_local_truth,
    local_inputs,
    simulator_ig,
)


@pytest.fixture(scope="module")
def rows(tiny_dataset):
    meta = read_meta(tiny_dataset)
    keys = read_samples(tiny_dataset, years=list(meta.test_years),
                        columns=["cell_id", "year", "period"]).sample(400, random_state=0)
    return meta, keys.reset_index(drop=True)


def test_gpp_recomputed_from_stored_parameters(tiny_dataset, rows):
    meta, keys = rows
    x, x_ref = local_inputs(tiny_dataset, keys, meta.variables, meta.train_years)
    out = load_local_truth(tiny_dataset, keys, meta.variables, x, x_ref, steps=64)
    assert np.abs(out["gpp_check"]).max() < 1e-3
    # completeness: sum_j IG_j = GPP(x) - GPP(x_ref), up to the midpoint rule at kinks
    assert np.abs(out["ig_error"]).max() < 0.05
    assert np.sqrt(np.mean(out["ig_error"] ** 2)) < 5e-3
    used = [v for v in meta.variables if np.abs(out["ig"][:, meta.variables.index(v)]).max() > 0]
    assert "surface_pressure" not in used and "temperature_2m" in used


def test_ig_of_a_small_step_is_slope_times_step(tiny_dataset, rows):
    meta, keys = rows
    v = meta.variables
    tr = read_truth(tiny_dataset, years=list(meta.test_years))
    m = keys.merge(tr, on=["cell_id", "year", "period"])
    x = keys.merge(read_samples(tiny_dataset, years=list(meta.test_years)),
                   on=["cell_id", "year", "period"])[list(v)].to_numpy(np.float64)
    p = gpp_params(m, pd.read_parquet(tiny_dataset / "truth_cells.parquet"))
    step = 1e-4 * np.nanstd(x, axis=0)
    ig, err = simulator_ig(x, x - step, p, v, steps=8)
    sens = m[[f"sens_{c}" for c in v]].to_numpy(np.float64)
    np.testing.assert_allclose(ig, sens * step, rtol=5e-3, atol=1e-7)
    np.testing.assert_allclose(gpp_of(x, p, v), m["gpp_true"], atol=1e-3)


def test_climatology_is_the_per_cell_period_mean():
    df = pd.DataFrame({"cell_id": [1, 1, 1, 2], "period": [0, 0, 1, 0],
                       "a": [1.0, 3.0, 5.0, np.nan]})
    c = climatology(df, ["a"])
    assert c.loc[(1, 0), "a"] == 2.0 and c.loc[(1, 1), "a"] == 5.0
    assert np.isnan(c.loc[(2, 0), "a"])
    with pytest.raises(ValueError, match="missing column"):
        climatology(df, ["b"])
