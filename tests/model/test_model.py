"""STCG model: eq. 2 against a direct computation, batch independence, ablation code paths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stcg.config import ConfigError, from_dict
from stcg.model.attention import (
    MultiHeadAttention,
    elu_feature_map,
    linear_attention,
    rope_angles,
    rope_rotate,
)
from stcg.model.condition import ConditionEncoder, fit_embedding, normalized_adjacency
from stcg.model.config import ModelConfig
from stcg.model.stcg import GraphTensors, STCGModel, stcg_loss

F, L, K = 5, 4, 6
CFG = ModelConfig(d_model=16, heads=2, encoder_blocks=1, decoder_layers=1)


def ring_graph(k: int = K, dim: int = 16) -> GraphTensors:
    src = np.arange(k)
    dst = (src + 1) % k
    w = np.linspace(0.6, 0.95, k)
    emb = np.random.default_rng(0).normal(size=(k, dim)).astype(np.float32)
    return GraphTensors(np.minimum(src, dst), np.maximum(src, dst), w, emb)


def batch(b: int = 7, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, L, F, generator=g)
    node = torch.randint(0, K, (b,), generator=g)
    start = torch.randint(0, 46, (b,), generator=g)
    period = (start[:, None] + torch.arange(L)) % 46
    lc = torch.randint(0, 18, (b,), generator=g)
    return x, node, period, lc


def make(cfg: ModelConfig = CFG, seed: int = 0) -> STCGModel:
    torch.manual_seed(seed)
    m = STCGModel(cfg, F, ring_graph(), y_mean=2.0, y_std=3.0)
    # heads start at zero (output = y_mean); perturb so outputs depend on every part
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    return m.eval()


def test_linear_attention_equals_eq2() -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 2, 5, 4, generator=g, dtype=torch.float64) for _ in range(3))
    eps = 1e-6

    def lin(*a):  # the function's layout is [N, S, H, d]; this test's is [N, H, S, d]
        t = [x.transpose(1, 2) for x in a[:3]]
        return linear_attention(*t, *a[3:]).transpose(1, 2)

    out = lin(q, k, v, eps)
    # eq. 2, one query at a time: phi(q_i)^T sum_j phi(k_j) v_j^T / (phi(q_i)^T sum_j phi(k_j) + eps)
    ref = torch.empty_like(out, dtype=torch.float64)
    pq, pk = elu_feature_map(q), elu_feature_map(k)
    for n in range(3):
        for h in range(2):
            for i in range(5):
                num = sum((pq[n, h, i] @ pk[n, h, j]) * v[n, h, j] for j in range(5))
                den = sum(pq[n, h, i] @ pk[n, h, j] for j in range(5)) + eps
                ref[n, h, i] = num / den
    assert torch.allclose(out.double(), ref, atol=1e-5)
    # RoFormer eq. 19: rotated numerator, plain denominator
    ang = rope_angles(torch.arange(5), 4)
    out_r = lin(q, k, v, eps, ang, ang)
    rq, rk = rope_rotate(pq, ang), rope_rotate(pk, ang)
    sim_num = rq @ rk.transpose(-1, -2)
    sim_den = pq @ pk.transpose(-1, -2)
    ref_r = (sim_num @ v) / (sim_den.sum(-1, keepdim=True) + eps)
    assert torch.allclose(out_r.double(), ref_r, atol=1e-5)


def test_rope_is_relative() -> None:
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(8, generator=g), torch.randn(8, generator=g)

    def score(i: int, j: int) -> torch.Tensor:
        a = rope_angles(torch.tensor([i, j]), 8)
        return rope_rotate(q, a[0]) @ rope_rotate(k, a[1])

    assert torch.allclose(score(3, 1), score(10, 8), atol=1e-5)
    assert not torch.allclose(score(3, 1), score(3, 2), atol=1e-3)


def test_softmax_attention_matches_torch_mha() -> None:
    torch.manual_seed(0)
    ours = MultiHeadAttention(8, 2, "softmax", rope=False)
    ref = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.wqkv.weight)
        ref.in_proj_bias.copy_(ours.wqkv.bias)
        ref.out_proj.weight.copy_(ours.wo.weight)
        ref.out_proj.bias.copy_(ours.wo.bias)
    x = torch.randn(3, 6, 8)
    assert torch.allclose(ours(x), ref(x, x, x, need_weights=False)[0], atol=1e-5)
    cross = MultiHeadAttention(8, 2, "softmax", rope=False, cross=True)
    with torch.no_grad():
        w = torch.cat([cross.wq.weight, cross.wk.weight, cross.wv.weight])
        ref.in_proj_weight.copy_(w)
        ref.in_proj_bias.copy_(torch.cat([cross.wq.bias, cross.wk.bias, cross.wv.bias]))
        ref.out_proj.weight.copy_(cross.wo.weight)
        ref.out_proj.bias.copy_(cross.wo.bias)
    kv = torch.randn(3, 4, 8)
    assert torch.allclose(cross(x, kv), ref(x, kv, kv, need_weights=False)[0], atol=1e-5)


def test_batched_equals_single() -> None:
    for cfg in (CFG, dataclasses.replace(CFG, attention="softmax")):
        m = make(cfg)
        x, node, period, lc = batch(7)
        with torch.no_grad():
            full = m(x, node, period, lc)
            for i in range(7):
                one = m(x[i : i + 1], node[i : i + 1], period[i : i + 1], lc[i : i + 1])
                assert torch.allclose(one.y, full.y[i : i + 1], atol=1e-5)
                assert torch.allclose(one.weights, full.weights[i : i + 1], atol=1e-5)
                assert torch.allclose(one.intercept, full.intercept[i : i + 1], atol=1e-5)


def test_interp_is_weighted_sum() -> None:
    m = make()
    x, node, period, lc = batch(5)
    with torch.no_grad():
        out = m(x, node, period, lc)
    assert torch.allclose(out.y_interp, out.intercept + (out.weights * x[:, -1]).sum(-1), atol=1e-5)
    total, dep, interp = stcg_loss(out, torch.zeros(5))
    assert torch.allclose(dep, (out.y**2).mean()) and torch.allclose(interp, (out.y_interp**2).mean())
    assert torch.allclose(total, dep + interp)


def test_condition_depends_on_node_and_period() -> None:
    m = make()
    x, node, period, lc = batch(4)
    with torch.no_grad():
        a = m(x, node, period, lc).y
        b = m(x, (node + 1) % K, period, lc).y
        c = m(x, node, (period + 5) % 46, lc).y
        d = m(x, node, period, (lc + 1) % 18).y
    assert not torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(a, c, atol=1e-5)
    assert not torch.allclose(a, d, atol=1e-5)


def test_gcn_adjacency_is_normalised() -> None:
    g = ring_graph()
    mats = {}
    for loops in (True, False):
        row, col, val = normalized_adjacency(K, g.edge_src, g.edge_dst, g.edge_weight, loops)
        a = np.zeros((K, K))
        np.add.at(a, (row, col), val)
        aw = np.zeros((K, K))
        aw[g.edge_src, g.edge_dst] = g.edge_weight
        aw = aw + aw.T + (np.eye(K) if loops else 0)
        d = aw.sum(1)
        assert np.allclose(a, aw / np.sqrt(np.outer(d, d)))
        assert np.allclose(a, a.T)
        mats[loops] = a
    for loops in (True, False):
        enc = ConditionEncoder(fit_embedding(g.embedding, 16), g.edge_src, g.edge_dst,
                               g.edge_weight, gcn_self_loops=loops)
        assert np.allclose(enc.gcn.adjacency().numpy(), mats[loops], atol=1e-6)
    # the sparse path (large graphs) gives the same product as the dense one
    import stcg.model.condition as cond

    torch.manual_seed(0)
    dense = cond.GraphConv(K, 16, g.edge_src, g.edge_dst, g.edge_weight, True)
    old = cond.DENSE_GCN_MAX_NODES
    cond.DENSE_GCN_MAX_NODES = 1
    try:
        torch.manual_seed(0)
        sparse = cond.GraphConv(K, 16, g.edge_src, g.edge_dst, g.edge_weight, True)
    finally:
        cond.DENSE_GCN_MAX_NODES = old
    assert not sparse.dense
    v = torch.randn(K, 3, 16)
    assert torch.allclose(dense(v), sparse(v), atol=1e-5)


def random_graph(k: int, knn: int, seed: int) -> GraphTensors:
    """A random KNN-like graph: ``knn`` distinct neighbours per node, random weights in (0, 1]."""
    rng = np.random.default_rng(seed)
    pairs = set()
    for i in range(k):
        for j in rng.choice(np.delete(np.arange(k), i), knn, replace=False):
            pairs.add((min(i, int(j)), max(i, int(j))))
    src, dst = np.array(sorted(pairs)).T
    w = rng.uniform(0.05, 1.0, len(src))
    return GraphTensors(src, dst, w, rng.normal(size=(k, 16)).astype(np.float32))


@pytest.mark.parametrize("loops", [True, False])
def test_gcn_pyg_equals_dense(loops: bool) -> None:
    """PyG's gcn_norm + GCNConv (gcn_impl: pyg) computes the dense A_hat product."""
    import stcg.model.condition as cond

    k = 50
    g = random_graph(k, 6, seed=1)
    torch.manual_seed(0)
    dense = cond.GraphConv(k, 16, g.edge_src, g.edge_dst, g.edge_weight, loops)
    torch.manual_seed(0)
    pyg = cond.GraphConv(k, 16, g.edge_src, g.edge_dst, g.edge_weight, loops, impl="pyg")
    # same H (same initialisation) and the same normalised adjacency
    assert torch.equal(dense.h.weight, pyg.h.weight)
    assert torch.allclose(pyg.adjacency(), dense.adjacency(), atol=1e-7)
    v = torch.randn(k, 46, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert float((dense(v) - pyg(v)).abs().max()) < 1e-6
    # gradients agree too (training uses them)
    v.requires_grad_(True)
    (gd,) = torch.autograd.grad((dense(v) ** 2).sum(), v)
    (gp,) = torch.autograd.grad((pyg(v) ** 2).sum(), v)
    assert torch.allclose(gd, gp, atol=1e-5)
    # the whole model: the same seed gives the same parameters and outputs
    m_d = make(CFG)
    m_p = make(dataclasses.replace(CFG, gcn_impl="pyg"))
    assert {n for n, _ in m_d.named_parameters()} == {n for n, _ in m_p.named_parameters()}
    x, node, period, lc = batch(6)
    with torch.no_grad():
        assert torch.allclose(m_d(x, node, period, lc).y, m_p(x, node, period, lc).y, atol=1e-5)
    with pytest.raises(ValueError, match="gcn_impl"):
        cond.GraphConv(k, 16, g.edge_src, g.edge_dst, g.edge_weight, loops, impl="sparse")


def test_fit_embedding() -> None:
    e = np.random.default_rng(0).normal(size=(10, 8)) * 5
    assert fit_embedding(e, 8).shape == (10, 8)
    assert fit_embedding(e, 8).std() == pytest.approx(1.0, rel=1e-5)
    assert fit_embedding(e, 4).shape == (10, 4)
    pad = fit_embedding(e, 12)
    assert pad.shape == (10, 12) and np.all(pad[:, 8:] == 0)


ABLATIONS = {
    "condition": {"condition": False, "interp_source": "data"},
    "gcn": {"gcn": False},
    "lstm": {"lstm": False},
    "temporal_conv": {"temporal_conv": False},
    "softmax": {"attention": "softmax"},
    "interp": {"interp": False},
    "condition_keys": {"cross_attention": "condition_keys"},
    "rotate": {"time_embedding": "rotate"},
    "self_loops": {"gcn_self_loops": False},
    "land_cover": {"land_cover": False},
    "target_query": {"target_tokens": "query"},
}
MODULE_OF = {
    "condition": "condition",
    "gcn": "condition.gcn",
    "lstm": "condition.lstm",
    "temporal_conv": "condition.conv",
    "interp": "interp_decoder",
    "land_cover": "encoder.land_cover",
}


@pytest.mark.parametrize("name", sorted(ABLATIONS))
def test_ablation_changes_code_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = dataclasses.replace(CFG, **ABLATIONS[name])
    base, abl = make(CFG), make(cfg)
    x, node, period, lc = batch(6)
    with torch.no_grad():
        yb, ya = base(x, node, period, lc), abl(x, node, period, lc)
    # the same seed builds the same shared weights, so any output change is the code path
    assert not torch.allclose(yb.y, ya.y, atol=1e-6), name
    if name in MODULE_OF:
        mod = base.get_submodule(MODULE_OF[name])
        assert mod is not None
        with pytest.raises(AttributeError):
            abl.get_submodule(MODULE_OF[name])
        assert {n for n, _ in abl.named_parameters()} < {n for n, _ in base.named_parameters()}
    if name == "interp":
        assert ya.weights is None and ya.y_interp is None
        assert stcg_loss(ya, torch.zeros(6))[2].item() == 0.0
    if name == "softmax":
        calls = []
        import stcg.model.attention as att

        real = att.softmax_attention
        monkeypatch.setattr(att, "softmax_attention", lambda *a, **k: calls.append(1) or real(*a, **k))
        monkeypatch.setattr(att, "linear_attention", lambda *a, **k: pytest.fail("linear called"))
        with torch.no_grad():
            abl(x, node, period, lc)
        assert calls


def test_model_config_is_strict() -> None:
    with pytest.raises(ConfigError, match="heads"):
        from_dict(ModelConfig, {"d_model": 16, "heads": 3})
    with pytest.raises(ConfigError, match="attention"):
        from_dict(ModelConfig, {"attention": "cosine"})


def test_backward_reaches_every_parameter() -> None:
    m = make().train()
    x, node, period, lc = batch(8)
    loss = stcg_loss(m(x, node, period, lc), torch.randn(8))[0]
    loss.backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


def test_fused_linear_self_attention_matches_reference() -> None:
    torch.manual_seed(0)
    for rope in (False, True):
        att = MultiHeadAttention(8, 2, "linear", rope=rope)
        x = torch.randn(5, 7, 8)
        q, k, v = att.wqkv(x).view(5, 7, 3, 2, 4).unbind(2)
        ang = rope_angles(torch.arange(7), 4) if rope else None
        ref = att.wo(linear_attention(q, k, v, att.eps, ang, ang).reshape(5, 7, 8))
        assert torch.allclose(att(x), ref, atol=1e-5)


def test_mixed_precision_path() -> None:
    """bf16 autocast (CPU here, the same code path as CUDA's): dtypes stay consistent."""
    for cfg in (CFG, dataclasses.replace(CFG, attention="softmax")):
        m = make(cfg).train()
        x, node, period, lc = batch(6)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            out = m(x, node, period, lc)
        assert out.y.dtype == torch.float32 and out.weights.dtype == torch.float32
        ref = make(cfg).train()(x, node, period, lc)
        assert torch.allclose(out.y, ref.y, atol=0.1)  # bf16 rounding only
        stcg_loss(out, torch.randn(6))[0].backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
