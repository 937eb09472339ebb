"""The GPU fast path on CPU: the large-batch schedule and torch.compile == eager."""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch

from stcg.config import ConfigError, from_dict
from stcg.model.config import ModelConfig
from stcg.model.stcg import GraphTensors, STCGModel, stcg_loss
from stcg.train.config import OptimConfig
from stcg.train.data import DeviceData
from stcg.train.loop import fit, lr_at, lr_scale, step_lr


def test_large_batch_lr_scaling_and_warmup() -> None:
    base = OptimConfig(epochs=4, batch_size=256, lr=1e-3, lr_final=1e-4, lr_drop_at=0.5)
    # the paper's protocol is unchanged by the defaults
    assert all(step_lr(e, s, 10, base) == lr_at(e, base) for e in range(4) for s in range(10))
    big = dataclasses.replace(base, batch_size=4096, lr_scaling="linear")
    assert lr_scale(big) == 16.0
    sq = dataclasses.replace(big, lr_scaling="sqrt", warmup_epochs=0.5)
    assert lr_scale(sq) == 4.0
    # 10 steps per epoch, warm-up over 5 steps: 1/5 .. 5/5 of 4e-3, then 4e-3, after the drop 4e-4
    got = [step_lr(0, s, 10, sq) for s in range(7)]
    assert got == pytest.approx([4e-3 * k / 5 for k in (1, 2, 3, 4, 5)] + [4e-3, 4e-3])
    assert step_lr(2, 0, 10, sq) == pytest.approx(4e-4)
    with pytest.raises(ConfigError, match="warmup_epochs"):
        from_dict(OptimConfig, {"epochs": 2, "batch_size": 8, "warmup_epochs": 3.0}, where="o")
    with pytest.raises(ConfigError, match="lr_scaling"):
        from_dict(OptimConfig, {"epochs": 2, "batch_size": 8, "lr_scaling": "cube"}, where="o")


def test_warmup_is_applied_by_fit() -> None:
    data, graph = _toy()
    torch.manual_seed(0)
    model = STCGModel(CFG, 6, graph, 2.0, 3.0)
    optim = OptimConfig(epochs=2, batch_size=32, samples_per_epoch=128, lr=1e-3, lr_final=1e-4,
                        lr_drop_at=0.5, lr_scaling="linear", base_batch_size=16,
                        warmup_epochs=1.5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        hist = fit(model, data, _train_idx(data), optim, 0, None, "", progress=False)
    finally:
        torch.set_num_threads(threads)
    # 4 steps per epoch, warm-up 6 steps: epoch 1 ends at 4/6 of 2e-3; epoch 2 is after the
    # drop, its last step (the 8th) past the warm-up: 2e-4
    assert [r["lr"] for r in hist] == pytest.approx([2e-3 * 4 / 6, 2e-4])


CFG = ModelConfig(d_model=16, heads=2, encoder_blocks=1, decoder_layers=1)


def _toy(cells: int = 30, nodes: int = 5) -> tuple[DeviceData, GraphTensors]:
    g = torch.Generator().manual_seed(0)
    t_all = 46
    data = DeviceData(x=torch.randn(cells, t_all, 6, generator=g),
                      y=torch.rand(cells, t_all, generator=g) * 5,
                      period=torch.arange(t_all), node=torch.arange(cells) % nodes, window=4,
                      land_cover=torch.arange(cells) % 17)
    src = torch.arange(nodes).repeat_interleave(2)
    dst = torch.stack([(torch.arange(nodes) + 1) % nodes, (torch.arange(nodes) - 1) % nodes], 1)
    graph = GraphTensors(src.numpy(), dst.reshape(-1).numpy(),
                         torch.ones(2 * nodes).numpy(),
                         torch.randn(nodes, 8, generator=g).numpy())
    return data, graph


def _train_idx(data: DeviceData) -> torch.Tensor:
    c = torch.arange(data.x.shape[0])[:, None]
    t = torch.arange(3, data.n_times)[None, :]
    return (c * data.n_times + t).reshape(-1)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [
    "aot_eager",
    pytest.param("inductor", marks=pytest.mark.skipif(
        os.environ.get("STCG_TEST_INDUCTOR") != "1",
        reason="inductor builds C++ kernels with gcc: minutes on 2 cores; STCG_TEST_INDUCTOR=1")),
])
def test_compiled_model_equals_eager(backend: str) -> None:
    """torch.compile gives eager's loss and gradients within 1e-4.

    ``aot_eager`` checks the graph capture (dynamo) and the traced forward and backward graphs
    (AOTAutograd) that every backend compiles; ``inductor`` (the default backend, what
    ``train_stcg.compile`` uses) also checks the generated kernels.
    """
    torch._dynamo.reset()
    data, graph = _toy()
    torch.manual_seed(0)
    model = STCGModel(CFG, 6, graph, 2.0, 3.0)
    b = data.gather(_train_idx(data)[::7][:64])

    def loss_and_grads(m: torch.nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad(set_to_none=True)
        loss = stcg_loss(m(b.x, b.node, b.period, land_cover=b.land_cover), b.y)[0]
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                               if p.grad is not None}

    eager_loss, eager_g = loss_and_grads(model)
    comp_loss, comp_g = loss_and_grads(torch.compile(model, backend=backend))
    assert comp_loss.item() == pytest.approx(eager_loss.item(), rel=1e-5)
    assert eager_g.keys() == comp_g.keys() and len(eager_g) > 10
    for n in eager_g:
        assert torch.allclose(comp_g[n], eager_g[n], rtol=1e-4, atol=1e-5), n
