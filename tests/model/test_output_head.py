"""``model.output``: identity (unchanged), softplus (>= 0, smooth), clamp (>= 0 at prediction)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from stcg.config import ConfigError, from_dict
from stcg.model.config import ModelConfig
from tests.model.test_model import CFG, batch, make


def _with(output: str, bias: float = 0.0):
    m = make(dataclasses.replace(CFG, output=output))
    with torch.no_grad():
        m.target_head.bias.add_(bias)
    return m


def test_identity_is_the_affine_head() -> None:
    """identity: y = y_mean + y_std * head(h); in training it equals the default (clamp) model."""
    x, node, period, lc = batch(64)
    m = _with("identity")
    assert ModelConfig().output == "clamp"  # the default (params.yaml)
    ref = make(CFG).train()(x, node, period, lc).y  # clamp trains as the identity
    out = m.train()(x, node, period, lc).y
    assert torch.equal(out, ref)
    m.eval()
    out = m(x, node, period, lc).y
    z = (out - 2.0) / 3.0
    assert torch.allclose(m.gpp_output(z), out)


@pytest.mark.parametrize("bias", [-3.0, 0.0, 3.0])
def test_softplus_is_non_negative_and_matches_the_formula(bias) -> None:
    """softplus: y = y_std * log(1 + exp(y_mean / y_std + z)) >= 0."""
    x, node, period, lc = batch(64, seed=1)
    ident = _with("identity", bias)(x, node, period, lc).y
    soft = _with("softplus", bias)(x, node, period, lc).y
    z = (ident.double() - 2.0) / 3.0
    want = 3.0 * torch.log1p(torch.exp(2.0 / 3.0 + z))
    assert torch.allclose(soft.double(), want, rtol=1e-5, atol=1e-6)
    assert (soft > 0).all()
    if bias < 0:
        assert (ident < 0).any()  # the identity head does go negative here


def test_softplus_tracks_the_identity_away_from_zero() -> None:
    """|softplus - identity| = y_std log(1 + exp(-|identity| / y_std))."""
    m = make(dataclasses.replace(CFG, output="softplus"))
    z = torch.tensor([0.0, 10.0, -50.0, -2.0 / 3.0], dtype=torch.float64)
    y = m.gpp_output(z).double()
    ident = 2.0 + 3.0 * z
    gap = 3.0 * torch.log1p(torch.exp(-ident.abs() / 3.0))
    assert torch.allclose((y - ident.clamp_min(0)).abs(), gap, rtol=1e-5, atol=1e-6)
    assert float(y[1]) == pytest.approx(32.0, rel=1e-3)
    assert 0.0 <= float(y[2]) < 1e-15
    assert float(y[3]) == pytest.approx(3.0 * math.log(2.0), rel=1e-6)  # identity 0 -> 3 ln 2


def test_clamp_clips_predictions_only() -> None:
    x, node, period, lc = batch(64, seed=2)
    ident = _with("identity", -3.0)(x, node, period, lc).y
    m = _with("clamp", -3.0)
    assert torch.equal(m(x, node, period, lc).y, ident.clamp_min(0.0))
    m.train()
    assert torch.allclose(m(x, node, period, lc).y, ident)  # training keeps the gradient


@pytest.mark.parametrize("output", ["identity", "softplus", "clamp"])
def test_gradients_are_finite_for_extreme_outputs(output) -> None:
    m = _with(output, -1e4).train()
    x, node, period, lc = batch(32, seed=3)
    out = m(x, node, period, lc)
    loss = ((out.y - 5.0) ** 2).mean()
    loss.backward()
    grads = [p.grad for p in m.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert float(m.target_head.bias.grad.abs()) > 0 or output == "softplus"
    z = torch.tensor([-1e4, -30.0, 0.0, 30.0, 1e4], requires_grad=True)
    m.gpp_output(z).sum().backward()
    assert torch.isfinite(z.grad).all()


def test_bad_output_is_a_config_error() -> None:
    with pytest.raises((ConfigError, ValueError), match="output"):
        from_dict(ModelConfig, {"output": "relu"}, where="train_stcg.model").validate()
