"""Options of the interpretable branch: weights from the condition only, the consistency loss.

Known answers: with ``interp_source: condition`` the weights and intercept are a function of
(node, period, land cover) only, so changing every input leaves them bit-identical (while
``y_interp`` changes); the consistency penalty is exactly 0 when the weights equal the target
head's gradient and equals ``lambda * mean ||w - dy/dz||^2`` computed by hand otherwise.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stcg.config import ConfigError, from_dict
from stcg.model.config import ModelConfig
from stcg.model.stcg import consistency_penalty, stcg_loss

from .test_model import CFG, batch, make

COND = dataclasses.replace(CFG, interp_source="condition")
DATA = dataclasses.replace(CFG, interp_source="data")


def test_condition_only_weights_ignore_the_inputs() -> None:
    m = make(COND)
    x, node, period, lc = batch(6)
    x2 = torch.randn_like(x) * 3.0
    with torch.no_grad():
        a, b = m(x, node, period, lc), m(x2, node, period, lc)
    assert torch.equal(a.weights, b.weights) and torch.equal(a.intercept, b.intercept)
    assert not torch.allclose(a.y_interp, b.y_interp)
    # y_interp is the varying-coefficient model w_0 + sum_j w_j z_j
    assert torch.allclose(b.y_interp, b.intercept + (b.weights * x2[:, -1]).sum(-1), atol=1e-5)
    # ... but they vary with the place and time
    with torch.no_grad():
        c = m(x, (node + 1) % 6, period, lc)
    assert not torch.allclose(a.weights, c.weights)


def test_data_weights_do_change_with_the_inputs() -> None:
    m = make(DATA)
    x, node, period, lc = batch(6)
    with torch.no_grad():
        a, b = m(x, node, period, lc), m(torch.randn_like(x), node, period, lc)
    assert not torch.allclose(a.weights, b.weights)


def test_condition_only_backward_and_no_intercept() -> None:
    for cfg in (COND, dataclasses.replace(COND, interp_intercept=False, land_cover=False)):
        m = make(cfg).train()
        x, node, period, lc = batch(8)
        out = m(x, node, period, lc)
        assert out.weights.shape == (8, 5)
        assert (out.intercept is None) == (not cfg.interp_intercept)
        stcg_loss(out, torch.randn(8))[0].backward()
        assert m.feature_query.grad is not None and m.feature_query.grad.abs().sum() > 0


def test_consistency_penalty_zero_at_the_gradient() -> None:
    g = torch.randn(4, 5)
    w = g.clone().requires_grad_(True)
    sens = g.clone().requires_grad_(True)
    p = consistency_penalty(w, sens, 0.7)
    assert p.item() == 0.0
    w2 = (g + 1.0).requires_grad_(True)
    p2 = consistency_penalty(w2, sens, 0.7)
    assert p2.item() == pytest.approx(0.7 * 5.0)  # sum over 5 features of 1^2, mean over rows
    p2.backward()
    assert sens.grad is None  # stop-gradient
    assert torch.allclose(w2.grad, 0.7 * 2.0 * torch.ones(4, 5) / 4)


def test_model_consistency_term_matches_autograd() -> None:
    cfg = dataclasses.replace(CFG, consistency_weight=0.5)
    m = make(cfg).train()
    x, node, period, lc = batch(6)
    out = m(x, node, period, lc)
    xl = x.clone().requires_grad_(True)
    ref = make(CFG).train()  # the same weights without the penalty's own input detach
    (g,) = torch.autograd.grad(ref(xl, node, period, lc).y.sum(), xl)
    expect = 0.5 * ((out.weights.detach() - g[:, -1]) ** 2).sum(-1).mean()
    assert out.consistency.item() == pytest.approx(expect.item(), rel=1e-5)
    total, dep, interp = stcg_loss(out, torch.randn(6))
    assert total.item() == pytest.approx((dep + interp + out.consistency).item(), rel=1e-6)
    total.backward()  # the graph survives the inner autograd.grad
    # off by default, and never in eval mode
    assert make(CFG).train()(x, node, period, lc).consistency is None
    with torch.no_grad():
        assert m.eval()(x, node, period, lc).consistency is None


def test_options_validate() -> None:
    with pytest.raises(ConfigError, match="interp_source"):
        from_dict(ModelConfig, {"interp_source": "condition", "condition": False})
    with pytest.raises(ConfigError, match="consistency_weight"):
        from_dict(ModelConfig, {"consistency_weight": -1.0})
