"""Training: window gathering, the paper's schedule, overfitting, exact resume, metrics, stage."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from stcg.data.dataset import load_dense
from stcg.graph.build import load_graph
from stcg.metrics import regression_metrics
from stcg.model.config import ModelConfig
from stcg.model.stcg import STCGModel
from stcg.train.bundle import graph_tensors, load_bundle
from stcg.train.config import OptimConfig, TrainStcgConfig
from stcg.train.data import feature_stats, sample_indices, to_device
from stcg.train.loop import fit, lr_at, predict
from stcg.train.metrics import climatology_table, lat_band_labels
from stcg.train.run import cell_nodes, train_stcg

ROOT = Path(__file__).resolve().parents[2]
SMALL = ModelConfig(d_model=16, heads=2, encoder_blocks=1, decoder_layers=1)


def tiny_cfg(epochs: int = 3, **optim) -> TrainStcgConfig:
    o = {"epochs": epochs, "batch_size": 64, "samples_per_epoch": 256, "lr": 3e-3,
         "lr_final": 3e-4, **optim}
    return TrainStcgConfig(seed=0, window=4, model=SMALL, optim=OptimConfig(**o), device="cpu",
                           monitor_samples=128, eval_batch_size=1024)


def test_gather_windows(toy_data, toy_graph) -> None:
    dense = load_dense(toy_data)
    stats = feature_stats(dense, (2018, 2019))
    nodes = cell_nodes(dense, load_graph(toy_graph))
    data = to_device(dense, stats, nodes, 4, torch.device("cpu"))
    t_all = dense.n_times
    idx = torch.tensor([5 * t_all + 50, 0 * t_all + 46, 3 * t_all + 1])
    x, node, period, y, lc, x_ref = data.gather(idx)
    assert x_ref is None  # no local reference unless model.center_inputs asks for one
    xs = (dense.x - stats.mean.astype(np.float32)) / stats.std.astype(np.float32)
    assert torch.allclose(x[0], torch.from_numpy(xs[5, 47:51]))
    # across the year boundary: periods 43, 44, 45 of 2018, then 0 of 2019
    assert period[1].tolist() == [43, 44, 45, 0]
    assert torch.allclose(x[1], torch.from_numpy(xs[0, 43:47]))
    # before the first loaded period the window repeats period 0
    assert torch.allclose(x[2], torch.from_numpy(xs[3, [0, 0, 0, 1]]))
    assert node.tolist() == [nodes[5], nodes[0], nodes[3]]
    assert lc.tolist() == dense.land_cover[[5, 0, 3]].tolist()
    assert y[0].item() == pytest.approx(float(dense.y[5, 50]))
    # standardised with the training years' statistics
    train = xs[:, :92].reshape(-1, xs.shape[-1])
    assert np.allclose(train.mean(0), 0, atol=1e-3) and np.allclose(train.std(0), 1, atol=1e-3)
    tr = sample_indices(dense, (2018, 2019), 4, full_window=True)
    assert (tr % t_all).min() == 3 and (tr % t_all).max() == 91
    te = sample_indices(dense, (2020,), 4, full_window=False)
    assert (te % t_all).min() == 92 and te.size == dense.n_cells * 46
    # exactly the Table 1 test rows
    from stcg.data.dataset import read_meta
    from stcg.data.splits import test_rows

    rows = test_rows(dense, read_meta(toy_data))
    assert np.array_equal(te, rows.cell * t_all + rows.time)


def test_paper_lr_schedule() -> None:
    o = OptimConfig(epochs=20, batch_size=256)
    assert [lr_at(e, o) for e in (0, 9, 10, 19)] == [1e-3, 1e-3, 1e-4, 1e-4]


def test_overfits_tiny_dataset(toy_data, toy_graph) -> None:
    dense = load_dense(toy_data)
    stats = feature_stats(dense, (2018, 2019))
    graph = load_graph(toy_graph)
    data = to_device(dense, stats, cell_nodes(dense, graph), 4, torch.device("cpu"))
    idx = torch.from_numpy(sample_indices(dense, (2018, 2019), 4, True)[::97][:96])
    torch.manual_seed(0)
    model = STCGModel(SMALL, len(dense.variables), graph_tensors(graph), stats.y_mean, stats.y_std)
    optim = OptimConfig(epochs=150, batch_size=96, samples_per_epoch=None, lr=1e-2,
                        lr_final=1e-3, lr_drop_at=0.8, weight_decay=0.0)
    y = data.y.reshape(-1)[idx].numpy()
    fit(model, data, idx, optim, seed=0, ckpt_path=None, fp="x", progress=False)
    pred = predict(model, data, idx, 1024)
    rmse = np.sqrt(np.mean((pred["y"] - y) ** 2))
    assert rmse < 0.1 * y.std(), (rmse, y.std())
    assert np.sqrt(np.mean((pred["y_interp"] - y) ** 2)) < 0.3 * y.std()


@pytest.fixture(scope="module")
def tiny_run(toy_data, toy_graph, tmp_path_factory) -> tuple[Path, dict]:
    """An uninterrupted 3-epoch run: (output directory, metrics)."""
    d = tmp_path_factory.mktemp("run")
    rep = train_stcg(toy_data, toy_graph, tiny_cfg(epochs=3), d / "ref", d / "ref.ckpt",
                     d / "ref.json", d / "ref_plots", progress=False)
    return d / "ref", rep


def test_resume_after_crash_gives_same_weights(toy_data, toy_graph, tiny_run, tmp_path) -> None:
    cfg = tiny_cfg(epochs=3)
    ref_dir, ref = tiny_run

    class Crash(RuntimeError):
        pass

    def crash(epoch: int) -> None:
        if epoch == 1:
            raise Crash

    with pytest.raises(Crash):
        train_stcg(toy_data, toy_graph, cfg, tmp_path / "run", tmp_path / "run.ckpt",
                   tmp_path / "run.json", tmp_path / "run_plots", on_epoch_end=crash,
                   progress=False)
    assert (tmp_path / "run.ckpt").exists() and not (tmp_path / "run" / "model.pt").exists()
    state = torch.load(tmp_path / "run.ckpt", weights_only=True)
    assert state["epoch"] == 1
    seen = []
    res = train_stcg(toy_data, toy_graph, cfg, tmp_path / "run", tmp_path / "run.ckpt",
                     tmp_path / "run.json", tmp_path / "run_plots", on_epoch_end=seen.append,
                     progress=False)
    assert seen == [2, 3], "resumed after epoch 1"
    a = load_bundle(ref_dir / "model.pt").state_dict
    b = load_bundle(tmp_path / "run" / "model.pt").state_dict
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert res["test"] == ref["test"]
    # the DVCLive curves hold all three epochs (replayed from the checkpoint)
    live = json.loads((tmp_path / "run_plots" / "metrics.json").read_text())
    assert live["step"] == 2
    rows = (tmp_path / "run_plots" / "plots" / "metrics" / "train" / "loss.tsv").read_text()
    assert len(rows.strip().splitlines()) == 4
    # a checkpoint of another configuration is not resumed
    seen.clear()
    with pytest.warns(UserWarning, match="another configuration"):
        train_stcg(toy_data, toy_graph, tiny_cfg(epochs=2, lr=1e-3), tmp_path / "o",
                   tmp_path / "run.ckpt", tmp_path / "o.json", None, on_epoch_end=seen.append,
                   progress=False)
    assert seen == [1, 2]


def test_metrics_and_climatology() -> None:
    m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert m["rmse"] == pytest.approx(np.sqrt(4 / 3)) and m["mae"] == pytest.approx(2 / 3)
    assert m["r2"] == pytest.approx(1 - 4 / 2)
    assert list(lat_band_labels(np.array([-90, -61, 0, 89.9, 90]), 30)) == [
        "-90_-60", "-90_-60", "0_30", "60_90", "60_90"]

    class D:
        n_cells = 2
        year = np.repeat([2000, 2001, 2002], 46)
        period = np.tile(np.arange(46), 3)
        y = np.full((2, 138), np.nan, dtype=np.float32)

    D.y[0, :46] = 1.0
    D.y[0, 46:92] = 3.0
    D.y[1, 5] = 7.0
    D.y[:, 92:] = 100.0  # the test year never enters the climatology
    table = climatology_table(D, (2000, 2001))
    assert np.all(table[0] == 2.0)
    assert table[1, 5] == 7.0 and table[1, 6] == 7.0  # falls back to the cell mean


def test_stages_end_to_end(tiny_dataset, tmp_path) -> None:
    """Both stages on the simulator's tiny dataset (26 ERA5-Land features, real land grid)."""
    import yaml

    toy_data = tiny_dataset
    params = {
        "profile": "tiny",
        "build_graph": {"seed": 0, "clusters": {"tiny": 8, "default": 40}, "knn": 3,
                        "node2vec": {"dim": 8, "walk_length": 6, "context_size": 3,
                                     "walks_per_node": 2, "epochs": 1}},
        "train_stcg": {"seed": 0, "window": 4, "device": "cpu", "monitor_samples": 0,
                       "model": {"d_model": 16, "heads": 2, "encoder_blocks": 1,
                                 "decoder_layers": 1},
                       "optim": {"epochs": {"tiny": 1, "default": 20}, "batch_size": 64,
                                 "samples_per_epoch": 256}},
    }
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))

    def stage(name: str):
        spec = importlib.util.spec_from_file_location(name, ROOT / "stages" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    stage("build_graph").main([
        "--data", str(toy_data), "--out", str(tmp_path / "graph.npz"),
        "--metrics", str(tmp_path / "graph.json"), "--figure", str(tmp_path / "globe.png"),
        "--params", str(pfile)])
    gm = json.loads((tmp_path / "graph.json").read_text())
    assert gm["nodes"] == 8 and gm["components"] == 1
    assert (tmp_path / "globe.png").stat().st_size > 10_000
    stage("train_stcg").main([
        "--data", str(toy_data), "--graph", str(tmp_path / "graph.npz"),
        "--out", str(tmp_path / "stcg"), "--checkpoint", str(tmp_path / "ckpt" / "last.pt"),
        "--metrics", str(tmp_path / "stcg.json"), "--plots", str(tmp_path / "plots"),
        "--params", str(pfile)])
    rep = json.loads((tmp_path / "stcg.json").read_text())
    assert {"test", "test_interp", "by_land_cover", "by_lat_band", "climatology"} <= set(rep)
    pred = pd.read_parquet(tmp_path / "stcg" / "predictions.parquet")
    dense = load_dense(toy_data)
    assert len(pred) == rep["test"]["n"] == dense.n_cells * 46
    assert {"gpp_pred", "gpp_interp", "gpp_climatology", "w_intercept"} <= set(pred.columns)
    assert sum(c.startswith("w_") for c in pred.columns) == len(dense.variables) + 1
    # metrics agree with the written predictions
    rmse = float(np.sqrt(np.mean((pred.gpp_pred - pred.gpp) ** 2)))
    assert rmse == pytest.approx(rep["test"]["rmse"], rel=1e-4)
    clim = float(np.sqrt(np.mean((pred.gpp_climatology - pred.gpp) ** 2)))
    assert clim == pytest.approx(rep["climatology"]["test"]["rmse"], rel=1e-4)


def test_predict_cli(toy_data, tiny_run, tmp_path) -> None:
    import xarray as xr
    from typer.testing import CliRunner

    from stcg.cli import app

    ref_dir, _ = tiny_run
    out = tmp_path / "pred"
    res = CliRunner().invoke(app, ["predict", str(ref_dir / "model.pt"), str(toy_data), str(out),
                                   "--year", "2020", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    got = pd.read_parquet(out / "predictions.parquet")
    ref = pd.read_parquet(ref_dir / "predictions.parquet")
    assert len(got) == len(ref)
    key = ["cell_id", "year", "period"]
    m = got.merge(ref, on=key, suffixes=("", "_ref"))
    assert len(m) == len(ref)
    assert np.allclose(m.gpp_pred, m.gpp_pred_ref, atol=1e-4)
    assert np.allclose(m.w_intercept, m.w_intercept_ref, atol=1e-4)
    ds = xr.open_dataset(out / "predictions.nc", engine="h5netcdf")
    assert ds.sizes["time"] == 46 and "w_temperature_2m" in ds
    r = got.iloc[123]
    cell = ds.gpp_pred.sel(lat=r.lat, lon=r.lon, method="nearest")
    t = int(np.flatnonzero((ds.year.values == r.year) & (ds.period.values == r.period))[0])
    assert float(cell.isel(time=t)) == pytest.approx(float(r.gpp_pred), rel=1e-6)
    assert int(np.isfinite(ds.gpp_pred.values).sum()) == len(got)
    ds.close()
    # the first year has no previous year: windows repeat its first period, all rows predicted
    res = CliRunner().invoke(app, ["predict", str(ref_dir / "model.pt"), str(toy_data),
                                   str(tmp_path / "p2"), "--year", "2018", "--device", "cpu",
                                   "--no-netcdf"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_parquet(tmp_path / "p2" / "predictions.parquet")) == len(ref)
    assert not (tmp_path / "p2" / "predictions.nc").exists()


def test_window_and_clusters_are_real_switches(toy_data, toy_graph_config, tmp_path) -> None:
    """Ablations ``train_stcg.window`` (L) and ``build_graph.clusters`` (k) change the data path."""
    import dataclasses

    import pandas as pd

    from stcg.graph.build import build_graph, save_graph

    dense = load_dense(toy_data)
    stats = feature_stats(dense, (2018, 2019))
    cells = pd.read_parquet(toy_data / "cells.parquet")
    sizes = {}
    for k in (5, 9):
        g = build_graph(cells.cell_id.to_numpy(), cells.lon.to_numpy(), cells.lat.to_numpy(),
                        dataclasses.replace(toy_graph_config, clusters=k), progress=False)
        save_graph(tmp_path / f"g{k}.npz", g)
        sizes[k] = load_graph(tmp_path / f"g{k}.npz").n_nodes
        nodes = cell_nodes(dense, g)
        assert nodes.max() < k
        torch.manual_seed(0)
        model = STCGModel(SMALL, len(dense.variables), graph_tensors(g), stats.y_mean, stats.y_std)
        assert model.condition.node_embedding.shape[0] == k
    assert sizes == {5: 5, 9: 9}
    for window in (2, 6):
        data = to_device(dense, stats, cell_nodes(dense, g), window, torch.device("cpu"))
        b = data.gather(torch.tensor([100, 200]))
        assert b.x.shape == (2, window, len(dense.variables)) and b.period.shape == (2, window)
        assert sample_indices(dense, (2018, 2019), window, True).min() % dense.n_times == window - 1
