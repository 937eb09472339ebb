"""The built dataset: schema, determinism, the stage and its data card."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from stcg.data.card import data_card
from stcg.data.dataset import load_dense, read_cells, read_meta, read_samples, read_truth
from stcg.data.schema import KEY_COLUMNS, TARGET, VARIABLES, sample_columns
from stcg.data.sim import build_sim
from stcg.errors import StcgError

from ..conftest import REPO, tiny_config


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_schema_and_ranges(tiny_dataset):
    meta = read_meta(tiny_dataset)
    assert meta.source == "sim" and meta.has_truth
    assert meta.train_years == (2017, 2018, 2019) and meta.test_years == (2020,)
    f = tiny_dataset / "samples" / "year=2020" / "part-0000.parquet"
    schema = pq.read_schema(f)
    assert schema.names == [c for c in sample_columns(meta.variables) if c != "year"]
    assert str(schema.field("cell_id").type) == "int32"
    assert str(schema.field("period").type) == "int8"
    assert all(str(schema.field(v).type) == "float" for v in meta.variables)
    df = read_samples(tiny_dataset)
    assert set(df["year"]) == {2017, 2018, 2019, 2020}
    assert df.groupby(["cell_id", "year"]).size().eq(46).all()
    assert df.duplicated(["cell_id", "year", "period"]).sum() == 0
    assert df["period"].between(0, 45).all() and df["land_cover"].between(0, 16).all()
    for v in meta.variables:
        assert df[v].between(VARIABLES[v].lo, VARIABLES[v].hi).all(), v
    assert (df[TARGET] >= 0).all() and df[TARGET].notna().all()
    cells = read_cells(tiny_dataset)
    assert len(cells) == meta.n_cells and cells["cell_id"].is_unique
    assert (cells["lat"] > -60).all()
    truth = read_truth(tiny_dataset, years=[2020])
    assert len(truth) == len(df[df["year"] == 2020])
    assert {f"sens_{v}" for v in meta.variables} <= set(truth.columns)
    assert not (set(truth.columns) & set(meta.variables))  # truth never holds the inputs


def test_dense_matches_long_table(tiny_dataset):
    dense = load_dense(tiny_dataset)
    df = read_samples(tiny_dataset)
    assert dense.x.shape == (len(read_cells(tiny_dataset)), 4 * 46, 26)
    row = df.sample(1, random_state=0).iloc[0]
    c = int(np.searchsorted(dense.cell_id, row["cell_id"]))
    t = dense.time_index(int(row["year"]), int(row["period"]))
    np.testing.assert_array_equal(dense.x[c, t], row[list(dense.variables)].to_numpy(np.float32))
    assert dense.y[c, t] == np.float32(row[TARGET])


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, data_dir, tiny_dataset):
    again = tmp_path / "again"
    build_sim(data_dir, again, tiny_config())
    assert _hashes(again) == _hashes(tiny_dataset)
    other = tmp_path / "other"
    build_sim(data_dir, other, tiny_config(seed=1))
    a = read_samples(tiny_dataset, years=[2020])[TARGET].to_numpy()
    b = read_samples(other, years=[2020])[TARGET].to_numpy()
    assert a.shape == b.shape and not np.allclose(a, b)


def test_parallel_chunks_give_the_same_bytes(tmp_path, data_dir, tiny_dataset):
    from dataclasses import replace

    cfg = tiny_config()
    out = tmp_path / "par"
    build_sim(data_dir, out, replace(cfg, sim=replace(cfg.sim, chunk_cells=64, workers=2)))
    small = tmp_path / "small"
    build_sim(data_dir, small, replace(cfg, sim=replace(cfg.sim, chunk_cells=64, workers=1)))
    assert _hashes(out) == _hashes(small)
    # chunking changes the files, not the rows: the dense arrays equal the one-chunk build
    np.testing.assert_array_equal(load_dense(out).x, load_dense(tiny_dataset).x)


def test_failed_build_leaves_nothing(tmp_path, data_dir, monkeypatch):
    import stcg.data.sim as sim_pkg

    def boom(*a, **k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(sim_pkg, "simulate", boom)
    out = tmp_path / "never"
    with pytest.raises(RuntimeError, match="simulated crash"):
        sim_pkg.build_sim(data_dir, out, tiny_config())
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_stage_main_writes_dataset_and_card(tmp_path, data_dir):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["profile"] = "tiny"
    params["build_data"]["splits"] = {"train_years": [2019, 2019], "test_years": [2020, 2020]}
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump(params))
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_data", REPO / "stages" / "build_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out, card = tmp_path / "ds", tmp_path / "card.json"
    mod.main(["--data", str(data_dir), "--out", str(out), "--card", str(card), "--params", str(pfile)])
    import json

    c = json.loads(card.read_text())
    n = read_meta(out).n_cells
    assert c["n_cells"] == n and c["grid"]["resolution"] == 10.0
    assert c["samples"]["train"] == n * 46 and c["samples"]["test"] == n * 46
    assert c["variables"]["temperature_2m"]["nan_share"] == 0.0
    assert 200 < c["variables"]["temperature_2m"]["mean"] < 300
    assert c["sources"]["mcd12c1/MCD12C1.A2019001.006.2020220162300.tif"]["version"] == "1.0.1"
    recomputed = data_card(out)
    assert recomputed["variables"]["gpp"]["mean"] == pytest.approx(c["variables"]["gpp"]["mean"], rel=1e-6)
    df = read_samples(out)
    assert c["variables"]["gpp"]["mean"] == pytest.approx(df["gpp"].astype(float).mean(), rel=1e-6)
    assert c["variables"]["gpp"]["std"] == pytest.approx(df["gpp"].astype(float).std(ddof=0), rel=1e-4)


def test_stage_refuses_incomplete_inputs(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_data", REPO / "stages" / "build_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with pytest.raises(StcgError, match="stcg inputs fetch"):
        mod.main(["--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o"),
                  "--card", str(tmp_path / "c.json"), "--params", str(REPO / "params.yaml")])
    assert not (tmp_path / "o").exists()


def test_key_columns_first():
    assert sample_columns(("temperature_2m",))[: len(KEY_COLUMNS)] == list(KEY_COLUMNS)
