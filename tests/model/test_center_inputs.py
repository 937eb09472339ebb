"""Inputs centred on a local reference (``model.center_inputs: climatology``).

Known answers: the reference is every cell's per-period mean over the training years, so the
centred inputs of the training years average to exactly 0 per cell and period (against a pandas
group-by); the interpretable branch reads ``z - z_ref`` (``y_interp = w_0 + sum_j w_j (z_j -
z_ref,j)``) while the target branch ignores the reference; the model file carries the reference
and refuses cells it has none for.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from stcg.config import ConfigError, from_dict
from stcg.data.dataset import Dense
from stcg.errors import StcgError
from stcg.model.config import ModelConfig
from stcg.train.data import FeatureStats, climatology_reference, to_device

from .test_model import CFG, batch, make, ring_graph

CENTRED = dataclasses.replace(CFG, center_inputs="climatology")


def _dense(seed: int = 0) -> Dense:
    """4 cells, 3 years of 46 periods, 5 features with cell/period structure and a few NaN."""
    rng = np.random.default_rng(seed)
    years = np.repeat([2018, 2019, 2020], 46)
    period = np.tile(np.arange(46), 3)
    x = (rng.standard_normal((4, 1, 5)) * 3 + np.sin(period)[None, :, None]
         + rng.standard_normal((4, len(years), 5))).astype(np.float32)
    x[0, 5, 2] = np.nan
    return Dense(x=x, y=rng.standard_normal((4, len(years))).astype(np.float32),
                 cell_id=np.array([3, 7, 11, 20]), lon=np.zeros(4), lat=np.zeros(4),
                 land_cover=np.array([1, 2, 4, 10]), year=years, period=period,
                 variables=tuple(f"v{j}" for j in range(5)))


def test_centred_training_inputs_have_zero_mean_per_cell_and_period():
    d = _dense()
    stats = FeatureStats(mean=np.nanmean(d.x, axis=(0, 1)), std=np.nanstd(d.x, axis=(0, 1)),
                         y_mean=0.0, y_std=1.0)
    ref = climatology_reference(d, (2018, 2019), stats)
    assert ref.shape == (4, 46, 5)
    train = np.isin(d.year, [2018, 2019])
    z = (d.x[:, train] - stats.mean) / stats.std
    centred = z - ref[:, d.period[train]]
    for c in range(4):
        frame = pd.DataFrame(centred[c], columns=d.variables).assign(p=d.period[train])
        means = frame.groupby("p").mean()   # NaN skipped, as the reference does
        assert np.abs(means.to_numpy()).max() < 1e-5
    # the reference is the training years' mean only: the test year does not enter it
    d2 = _dense()
    d2.x[:, ~train] += 100.0
    assert np.allclose(climatology_reference(d2, (2018, 2019), stats), ref)
    # and it reaches the batches: each sample gets its cell's reference of its period
    data = to_device(d, stats, np.zeros(4, dtype=np.int64), 2, torch.device("cpu"), x_ref=ref)
    idx = torch.tensor([0 * 138 + 50, 2 * 138 + 100])
    b = data.gather(idx)
    assert torch.equal(b.x_ref, torch.from_numpy(ref[[0, 2], [50 % 46, 100 % 46]]))


@pytest.mark.parametrize("source", ["data", "condition"])
def test_interpretable_branch_reads_the_departure_from_the_reference(source):
    m = make(dataclasses.replace(CENTRED, interp_source=source))
    x, node, period, lc = batch(6)
    ref = torch.randn(6, x.shape[-1])
    with torch.no_grad():
        a = m(x, node, period, lc, x_ref=ref)
        b = m(x, node, period, lc, x_ref=torch.zeros_like(ref))
    assert torch.allclose(a.y_interp, a.intercept + (a.weights * (x[:, -1] - ref)).sum(-1),
                          atol=1e-5)
    assert torch.equal(a.y, b.y)               # the target branch ignores the reference
    assert torch.equal(a.weights, b.weights)   # the weights do not read it either
    assert not torch.allclose(a.y_interp, b.y_interp)
    with pytest.raises(ValueError, match="center_inputs"):
        m(x, node, period, lc)
    # without centring a reference is ignored
    plain = make(dataclasses.replace(CFG, interp_source=source))
    with torch.no_grad():
        assert torch.equal(plain(x, node, period, lc, x_ref=ref).y_interp,
                           plain(x, node, period, lc).y_interp)


def test_model_file_carries_the_reference(tmp_path):
    from stcg.train.bundle import ModelBundle, load_bundle, save_bundle

    m = make(CENTRED)
    ref = np.random.default_rng(0).standard_normal((3, 46, 5)).astype(np.float32)
    bundle = ModelBundle(
        model_cfg=CENTRED, window=2, variables=tuple(f"v{j}" for j in range(5)),
        stats=FeatureStats(np.zeros(5), np.ones(5), 0.0, 1.0), node_xyz=np.zeros((6, 3)),
        graph=ring_graph(), state_dict=m.state_dict(), ref_cell_id=np.array([5, 9, 40]), x_ref=ref)
    save_bundle(tmp_path / "m.pt", bundle)
    back = load_bundle(tmp_path / "m.pt")
    assert np.array_equal(back.reference_for(np.array([40, 5])), ref[[2, 0]])
    with pytest.raises(StcgError, match="no training-years climatology"):
        back.reference_for(np.array([5, 6]))
    plain = dataclasses.replace(back, model_cfg=CFG)
    assert plain.reference_for(np.array([6])) is None


def test_option_validates():
    assert from_dict(ModelConfig, {"center_inputs": "climatology"}).center_inputs == "climatology"
    with pytest.raises(ConfigError, match="center_inputs"):
        from_dict(ModelConfig, {"center_inputs": "cell"})
