"""The training step computes the condition of the batch's nodes only: the same numbers as the
whole ``V_final`` table gathered at the batch's nodes (the formulation it replaced)."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

import stcg.model.condition as cond
from stcg.model.config import ModelConfig
from stcg.model.stcg import STCGModel, stcg_loss

from .test_model import random_graph

F, L, K = 5, 4, 30
CFG = ModelConfig(d_model=16, heads=2, encoder_blocks=1, decoder_layers=1)


def knn_graph(k: int = K, knn: int = 4, seed: int = 1):
    """A random graph with ``knn`` neighbours per node (so rows of A_hat mix several nodes)."""
    return random_graph(k, knn, seed)


def encoder(graph, **kw) -> cond.ConditionEncoder:
    torch.manual_seed(0)
    enc = cond.ConditionEncoder(cond.fit_embedding(graph.embedding, 16), graph.edge_src,
                                graph.edge_dst, graph.edge_weight, **kw)
    with torch.no_grad():  # a non-trivial embedding table
        enc.node_embedding.add_(0.1 * torch.randn(enc.node_embedding.shape))
    return enc


@pytest.mark.parametrize("kw", [{}, {"gcn": False}, {"lstm": False}, {"temporal_conv": False},
                                {"gcn_impl": "sparse_coo"}])
def test_condition_rows_equal_full_table(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """``ConditionEncoder(nodes)`` = the full table's rows ``nodes``, values and gradients."""
    if kw.get("gcn_impl") == "sparse_coo":  # the sparse A_hat product (beyond the dense limit)
        monkeypatch.setattr(cond, "DENSE_GCN_MAX_NODES", 0)
        kw = {}
    enc = encoder(knn_graph(), **kw)
    if "gcn" not in kw and enc.gcn is not None:
        assert enc.gcn.dense == (cond.DENSE_GCN_MAX_NODES > 0)
    nodes = torch.tensor([0, 3, 4, 11, 17, 29])
    full = enc()
    part = enc(nodes)
    assert part.shape == (len(nodes), 46, 16)
    assert float((part - full[nodes]).abs().max()) <= 1e-6
    w = torch.randn(len(nodes), 46, 16, generator=torch.Generator().manual_seed(3))
    g_full = torch.autograd.grad((full[nodes] * w).sum(), list(enc.parameters()))
    g_part = torch.autograd.grad((enc(nodes) * w).sum(), list(enc.parameters()))
    for a, b in zip(g_full, g_part, strict=True):
        assert float((a - b).abs().max()) <= 1e-5 * max(1.0, float(a.abs().max()))


def test_training_steps_equal_full_table_formulation() -> None:
    """Five SGD steps with clipping, the batch's nodes a strict subset of the K nodes: losses and
    parameters equal those of the previous formulation (the whole table computed each step and
    gathered, ``cond_table=model.condition_table()``) within 1e-5.

    SGD, not AdamW: a parameter whose exact gradient is 0 (the key bias of a softmax attention)
    gets float noise of ~1e-9 from either formulation, and AdamW's ``m / sqrt(v)`` turns any such
    noise into steps of the learning rate's size, so no tolerance would separate reordering from
    a real difference."""
    torch.manual_seed(0)
    fast = STCGModel(CFG, F, knn_graph(), y_mean=2.0, y_std=3.0)
    with torch.no_grad():  # zero-initialised heads would hide the condition's gradient
        for p in fast.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    ref = copy.deepcopy(fast)
    emb0 = fast.condition.node_embedding.detach().clone()
    opts = [torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) for m in (fast, ref)]
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        x = torch.randn(24, L, F, generator=g)
        node = torch.randint(0, K // 2, (24,), generator=g)  # at most half the nodes
        period = (torch.randint(0, 46, (24,), generator=g)[:, None] + torch.arange(L)) % 46
        lc = torch.randint(0, 18, (24,), generator=g)
        y = torch.rand(24, generator=g) * 5
        losses = []
        for m, opt, full in ((fast, opts[0], False), (ref, opts[1], True)):
            table = m.condition_table() if full else None
            loss = stcg_loss(m(x, node, period, lc, cond_table=table), y)[0]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            losses.append(float(loss))
        assert abs(losses[0] - losses[1]) <= 1e-5 * max(1.0, abs(losses[1]))
    for (name, a), b in zip(fast.named_parameters(), ref.parameters(), strict=True):
        assert float((a - b).abs().max()) <= 1e-5, name
    moved = float((fast.condition.node_embedding - emb0).abs().max())
    assert moved > 1e-4  # the condition was trained (its gradient flowed through the subset)


def test_eval_with_and_without_table() -> None:
    """Prediction with a precomputed table (``predict``) = without (the subset path)."""
    torch.manual_seed(0)
    m = STCGModel(dataclasses.replace(CFG, output="identity"), F, knn_graph(), 2.0, 3.0).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape))
        g = torch.Generator().manual_seed(2)
        x = torch.randn(9, L, F, generator=g)
        node = torch.tensor([5, 5, 7, 1, 29, 7, 0, 5, 12])
        period = (torch.randint(0, 46, (9,), generator=g)[:, None] + torch.arange(L)) % 46
        lc = torch.randint(0, 18, (9,), generator=g)
        a = m(x, node, period, lc, cond_table=m.condition_table())
        b = m(x, node, period, lc)
    assert float((a.y - b.y).abs().max()) <= 1e-5
    assert float((a.weights - b.weights).abs().max()) <= 1e-5


def test_condition_gather_is_reproducible_on_cpu_threads():
    """The condition gather equals advanced indexing, and its gradient with 2 threads is the
    one-thread gradient bit for bit (the advanced-index backward is not on CPU threads)."""
    from stcg.model.stcg import gather_condition

    g = torch.Generator().manual_seed(0)
    r, p, d, b, steps = 200, 46, 16, 256, 8
    table = torch.randn(r, p, d, generator=g)
    row = torch.randint(0, r, (b,), generator=g)
    period = torch.randint(0, p, (b, steps), generator=g)
    grad_out = torch.randn(b, steps, d, generator=g)
    assert torch.equal(gather_condition(table, row, period), table[row[:, None], period])

    def grad(threads: int) -> torch.Tensor:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            t = table.clone().requires_grad_(True)
            gather_condition(t, row, period).backward(grad_out)
            return t.grad
        finally:
            torch.set_num_threads(before)

    one = grad(1)
    for _ in range(5):
        assert torch.equal(grad(2), one)
    expected = torch.zeros_like(table, dtype=torch.float64)
    expected.index_put_((row[:, None].expand(b, steps), period), grad_out.double(),
                        accumulate=True)
    torch.testing.assert_close(one.double(), expected, rtol=1e-6, atol=1e-6)
