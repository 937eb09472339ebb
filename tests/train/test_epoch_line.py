"""The per-epoch log line: its numbers, the ETA, and that it reaches a non-terminal stderr."""

from __future__ import annotations

import io
import re

import numpy as np
import torch

from stcg.data.dataset import load_dense
from stcg.graph.build import load_graph
from stcg.model.config import ModelConfig
from stcg.model.stcg import STCGModel
from stcg.train.bundle import graph_tensors
from stcg.train.config import OptimConfig
from stcg.train.data import feature_stats, sample_indices, to_device
from stcg.train.loop import EpochLine, EpochLogger, fit
from stcg.train.run import cell_nodes


class Keep(EpochLogger):
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.closed = False

    def log(self, record):
        self.records.append(dict(record))

    def close(self) -> None:
        self.closed = True


def test_line_text_and_eta() -> None:
    out, inner = io.StringIO(), Keep()
    log = EpochLine("train_stcg", 5, samples_per_epoch=1000, inner=inner, stream=out)
    rec = {"epoch": 2.0, "lr": 2e-3, "loss": 0.5, "loss_dep": 0.3, "loss_interp": 0.2,
           "samples_per_s": 500.0, "monitor_rmse": 0.61}
    log.log(rec)
    log.close()
    # 3 epochs left x 1000 samples / 500 samples/s = 6 s
    assert out.getvalue() == ("train_stcg epoch 2/5: loss 0.5 (dep 0.3, interp 0.2), "
                              "monitor RMSE 0.61, lr 0.002, 500 samples/s, ETA 6 s\n")
    assert inner.records == [rec] and inner.closed
    log = EpochLine("x", 100, samples_per_epoch=100_000, stream=out)
    assert log.line({"epoch": 1.0, "loss": 1.0, "samples_per_s": 1000.0}).endswith(
        "ETA 2 h 45 min")  # 99 x 100 s


def test_eta_without_epoch_size_uses_wall_time() -> None:
    out = io.StringIO()
    log = EpochLine("fewshot_stcg", 3, stream=out)
    log._walls = [10.0, 20.0]  # two finished epochs took 15 s on average
    assert log.line({"epoch": 2.0, "loss": 1.0, "samples_per_s": 10.0}).endswith("ETA 15 s")


def test_fit_prints_one_line_per_epoch_to_stderr(toy_data, toy_graph, capfd) -> None:
    """Through ``fit`` (progress off, stderr captured = not a terminal): one flushed line per
    epoch with the history's loss and monitored RMSE."""
    dense = load_dense(toy_data)
    stats = feature_stats(dense, (2018, 2019))
    graph = load_graph(toy_graph)
    data = to_device(dense, stats, cell_nodes(dense, graph), 2, torch.device("cpu"))
    idx = torch.from_numpy(sample_indices(dense, (2018, 2019), 2, True)[:256])
    mon = torch.from_numpy(sample_indices(dense, (2020,), 2, False)[:64])
    torch.manual_seed(0)
    model = STCGModel(ModelConfig(d_model=8, heads=2, encoder_blocks=1, decoder_layers=1),
                      len(dense.variables), graph_tensors(graph), stats.y_mean, stats.y_std)
    optim = OptimConfig(epochs=3, batch_size=64, samples_per_epoch=128)
    inner = Keep()
    hist = fit(model, data, idx, optim, seed=0, ckpt_path=None, fp="x", monitor_idx=mon,
               logger=EpochLine("train_stcg", 3, 128, inner=inner), progress=False)
    err = capfd.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("train_stcg epoch")]
    assert len(lines) == 3 and inner.records == hist
    for k, (ln, rec) in enumerate(zip(lines, hist, strict=True)):
        m = re.match(r"train_stcg epoch (\d)/3: loss ([\d.e+-]+) .*monitor RMSE ([\d.e+-]+),"
                     r" lr [\d.e+-]+, ([\d,]+) samples/s, ETA (\d+) s$", ln)
        assert m, ln
        assert int(m[1]) == k + 1
        assert np.isclose(float(m[2]), rec["loss"], rtol=1e-3)
        assert np.isclose(float(m[3]), rec["monitor_rmse"], rtol=1e-3)
    assert lines[-1].endswith("ETA 0 s")
