"""Outputs for comparing runs: error figures (checked numerically), DVC plots and metrics
declarations, the ablation pipeline's independence, the offline plots page, headline metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stcg.data.schema import cell_id_for
from stcg.report.errors import (
    cell_errors,
    error_maps,
    group_rmse_figure,
    group_rmse_tables,
    hexbin_figure,
)
from stcg.report.headline import (
    ablations_headline,
    fewshot_headline,
    interpret_headline,
    stcg_headline,
    table1_headline,
)
from stcg.report.maps import Grid, draw_map, lat_label, lon_label
from stcg.report.vega_offline import build_template, external_scripts

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "vendor" / "vega" / "dvc_plots_template.html"


def _dvc_yaml(path: str = "dvc.yaml") -> dict:
    return yaml.safe_load((REPO / path).read_text())


def _fixture_predictions(seed: int = 0) -> pd.DataFrame:
    """Three 10-degree cells with a few periods each and known errors."""
    rng = np.random.default_rng(seed)
    lonlat = [(-175.0, 85.0), (15.0, 45.0), (135.0, -25.0)]
    cells = [(int(cell_id_for(np.array([x]), np.array([y]), 10.0)[0]), x, y) for x, y in lonlat]
    rows = []
    for cid, lon, lat in cells:
        for t in range(5 + cid % 3):
            y = rng.uniform(0, 8)
            rows.append({"cell_id": cid, "lon": lon, "lat": lat, "period": t, "gpp": y,
                         "gpp_pred": y + rng.normal(0.5 if lon > 0 else -0.2, 0.7)})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=1)   # unsorted on purpose


# ------------------------------------------------------------------------- error figures
def test_cell_errors_equal_a_direct_computation():
    pred = _fixture_predictions()
    got = cell_errors(pred).set_index("cell_id")
    for cid, g in pred.groupby("cell_id"):
        e = g["gpp_pred"].to_numpy() - g["gpp"].to_numpy()
        assert got.loc[cid, "rmse"] == pytest.approx(np.sqrt(np.mean(e ** 2)), rel=1e-12)
        assert got.loc[cid, "bias"] == pytest.approx(np.mean(e), rel=1e-12)
        assert got.loc[cid, "n"] == len(g)
    assert list(got.index) == sorted(pred.cell_id.unique()) and len(got) == 3
    with pytest.raises(ValueError, match="gpp_pred"):
        cell_errors(pred.drop(columns="gpp_pred"))


def test_error_maps_show_the_per_cell_values():
    pred = _fixture_predictions()
    cells = cell_errors(pred)
    grid = Grid(10.0)
    fig = error_maps(cells, grid, outline=[])
    maps = [ax for ax in fig.axes if ax.images]   # the colour bars hold no image
    assert len(maps) == 2
    rmse_img, bias_img = (ax.images[0].get_array() for ax in maps)
    n_lat, n_lon = grid.shape
    for r in cells.itertuples():
        row, col = int(r.cell_id) // n_lon, int(r.cell_id) % n_lon
        assert rmse_img[row, col] == pytest.approx(r.rmse)
        assert bias_img[row, col] == pytest.approx(r.bias)
    assert np.ma.count(np.ma.masked_invalid(rmse_img)) == 3   # nothing drawn elsewhere
    lo, hi = maps[1].images[0].get_clim()
    assert lo == -hi and hi > 0   # bias: symmetric around zero
    # degree labels on the map axes
    fig.canvas.draw()
    labels = [t.get_text() for t in maps[0].get_xticklabels()]
    assert "60°W" in labels and "120°E" in labels and "0°" in labels
    assert "30°S" in [t.get_text() for t in maps[0].get_yticklabels()]


def test_degree_labels():
    assert [lon_label(x) for x in (-180, -60, 0, 60, 180)] == ["180°", "60°W", "0°", "60°E",
                                                               "180°"]
    assert [lat_label(y) for y in (-60, 0, 45)] == ["60°S", "0°", "45°N"]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    draw_map(ax, Grid(10.0), np.zeros(Grid(10.0).shape), [])
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["60°S", "30°S", "0°", "30°N", "60°N",
                                                           "90°N"]
    plt.close(fig)


def test_hexbin_counts_every_sample():
    rng = np.random.default_rng(3)
    obs = np.concatenate([np.full(50, 2.0), rng.uniform(0, 10, 400), [np.nan]])
    est = np.concatenate([np.full(50, 2.0), rng.uniform(0, 10, 400), [1.0]])
    fig = hexbin_figure(obs, est, gridsize=20)
    counts = fig.axes[0].collections[0].get_array()
    assert counts.sum() == 450           # the NaN row is left out
    assert counts.max() >= 50            # the 50 identical points share one hexagon
    text = fig.axes[0].texts[0].get_text()
    ok = np.isfinite(obs)
    assert f"RMSE = {np.sqrt(np.mean((est[ok] - obs[ok]) ** 2)):.3f}" in text


def test_by_group_chart_shows_stcg_json_numbers():
    metrics = json.loads((REPO / "reports" / "metrics" / "stcg.json").read_text())
    tables = group_rmse_tables(metrics)
    fig = group_rmse_figure(tables)
    bands = sorted(metrics["by_lat_band"], key=lambda g: float(g.split("_")[0]))
    heights = [p.get_height() for p in fig.axes[0].patches]   # no climatology by band
    assert heights == pytest.approx([metrics["by_lat_band"][b]["rmse"] for b in bands])
    lc = sorted(metrics["by_land_cover"])
    lc_heights = [p.get_height() for p in fig.axes[1].patches]
    assert lc_heights[:len(lc)] == pytest.approx([metrics["by_land_cover"][c]["rmse"] for c in lc])
    assert lc_heights[len(lc):] == pytest.approx(
        [metrics["climatology"]["by_land_cover"][c]["rmse"] for c in lc])
    assert list(tables["lat_band"].group) == bands
    with pytest.raises(ValueError, match="by_lat_band"):
        group_rmse_tables({"by_land_cover": {}})


def test_globe_coastlines_hide_the_far_side():
    from stcg.graph.plot import project_lines

    line = np.array([[15.0, 20.0], [16.0, 21.0], [-165.0, -20.0]])   # last point: antipode
    x, y = project_lines([line, line], 15.0, 20.0)
    assert x.size == 8 and np.isnan(x[3]) and np.isnan(x[7])   # NaN between lines
    assert x[0] == pytest.approx(0.0) and y[0] == pytest.approx(0.0)
    assert np.isnan(x[2]) and np.isfinite(x[1])


# ---------------------------------------------------------------- DVC declarations
def _stage_items(stage: dict, key: str) -> list[str]:
    out = []
    for item in stage.get(key, []):
        out.append(next(iter(item)) if isinstance(item, dict) else item)
    return out


def test_dvc_plots_declare_every_figure_and_no_duplicate():
    dvc = _dvc_yaml()
    plots = dvc["plots"]
    images = {p for p in plots if isinstance(p, str)}
    pngs = {o for st in dvc["stages"].values() for o in _stage_items(st, "outs")
            if o.endswith(".png")}
    assert pngs and pngs <= images
    assert {"reports/figures/error_maps.png", "reports/figures/obs_vs_pred.png",
            "reports/figures/rmse_by_group.png"} <= images
    named = {next(iter(p)): p[next(iter(p))] for p in plots if isinstance(p, dict)}
    bars = {k: v for k, v in named.items() if v.get("template") == "bar_horizontal"}
    assert {f for v in bars.values() for f in v["y"]} == {
        "reports/plots/stcg/rmse_by_lat_band.csv", "reports/plots/stcg/rmse_by_land_cover.csv"}
    loss = named["STCG training loss"]
    assert "standardised" not in loss["y_label"] and "raw GPP" in loss["y_label"]
    # DVCLive's folder is not a second, stage-level plot of the same curves
    assert not any("plots" in st for st in dvc["stages"].values())


def test_only_headline_files_are_metrics_and_they_are_few():
    declared = []
    for f in ("dvc.yaml", "ablations/dvc.yaml"):
        for st in _dvc_yaml(f)["stages"].values():
            body = st.get("do", st)
            declared += _stage_items(body, "metrics")
    assert declared and all(m.startswith("reports/metrics/headline/") for m in declared)
    assert {Path(m).stem for m in declared} == {"train_stcg", "fewshot", "table1", "interpret",
                                                "ablations", "faithfulness"}

    # headline values from the committed results: each one is the stage's own number
    metrics = REPO / "reports" / "metrics"
    stcg = json.loads((metrics / "stcg.json").read_text())
    heads = {
        "train_stcg": stcg_headline(stcg),
        "table1": table1_headline(pd.read_csv(REPO / "reports" / "tables" / "table1.csv")),
        "fewshot": fewshot_headline(pd.read_csv(REPO / "reports" / "tables" / "table2.csv")),
        "interpret": interpret_headline(json.loads((metrics / "interpretability.json").read_text())),
        "ablations": ablations_headline(pd.read_csv(REPO / "reports" / "tables" / "ablations.csv")),
    }
    assert heads["train_stcg"]["test"] == {k: stcg["test"][k] for k in ("rmse", "r2", "mae")}
    t1 = pd.read_csv(REPO / "reports" / "tables" / "table1.csv")
    base = t1[t1.key != "Ours"]
    assert heads["table1"]["best_baseline"]["rmse"] == pytest.approx(base.rmse.min())
    t2 = pd.read_csv(REPO / "reports" / "tables" / "table2.csv")
    assert heads["fewshot"]["rmse_mean_over_weeks"]["stcg"] == pytest.approx(
        t2[t2.method == "stcg"].rmse.mean())
    ab = pd.read_csv(REPO / "reports" / "tables" / "ablations.csv")
    assert heads["ablations"]["delta_rmse"]["no_gcn"] == pytest.approx(
        float(ab.set_index("variant").loc["no_gcn", "delta_rmse"]))

    def leaves(d):
        return sum(leaves(v) if isinstance(v, dict) else 1 for v in d.values())

    n = sum(leaves(h) for h in heads.values())
    assert 20 <= n <= 40, n   # `dvc metrics diff` fits in about 40 rows


def test_main_pipeline_leaves_the_ablations_alone():
    main = _dvc_yaml()
    assert not any(k.startswith("ablate") for k in main["stages"])
    report_deps = main["stages"]["report"]["deps"]
    assert not any("ablation" in d for d in report_deps)
    ab = _dvc_yaml("ablations/dvc.yaml")
    for name, st in ab["stages"].items():
        body = st.get("do", st)
        assert body["wdir"] == "..", name
        assert not any(str(p).startswith("train_stcg") for p in body["params"]), name
    # DVC's own plan of `dvc repro` / `dvc exp run` (default target dvc.yaml)
    from dvc.repo import Repo
    from dvc.repo.reproduce import collect_stages, get_active_graph, plan_repro

    with Repo(str(REPO)) as repo:
        graph = get_active_graph(repo.index.graph)
        main_plan = [s.addressing for s in plan_repro(graph, collect_stages(repo, ["dvc.yaml"]))]
        ab_plan = plan_repro(graph, collect_stages(repo, ["ablations/dvc.yaml"]))
    assert "train_stcg" in main_plan and not any("ablate" in s for s in main_plan)
    no_gcn = next(s for s in ab_plan if s.addressing.endswith("ablate@no_gcn"))
    assert Path(no_gcn.wdir) == REPO
    params = next(d for d in no_gcn.deps if hasattr(d, "params"))
    assert Path(params.def_path).name == "params.yaml" and "ablate.model" in params.params


# ---------------------------------------------------------------- offline plots page
def test_template_is_offline_and_complete():
    html = TEMPLATE.read_text(encoding="utf-8")
    assert external_scripts(html) == []
    assert "{plot_divs}" in html and "{scripts}" not in html
    for lib in ("vega", "vega-lite", "vega-embed"):
        assert f"<script>/* {lib} */" in html
    assert "BSD" in html   # the licence travels with the code
    with pytest.raises(ValueError, match="x"):
        build_template({"x": "a = '</script>'"}, "")


@pytest.mark.skipif(shutil.which("dvc") is None or shutil.which("git") is None,
                    reason="needs the dvc and git executables")
def test_dvc_plots_show_with_the_template_is_offline(tmp_path):
    (tmp_path / "rmse.csv").write_text("group,rmse\nA,1.5\nB,0.5\n")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"plots": [{"bars": {
        "template": "bar_horizontal", "x": "rmse", "y": {"rmse.csv": "group"}}}]}))
    run = {"cwd": tmp_path, "check": True, "capture_output": True, "timeout": 120}
    subprocess.run(["git", "init", "-q"], **run)
    subprocess.run(["dvc", "init", "-q"], **run)
    subprocess.run(["dvc", "plots", "show", "--html-template", str(TEMPLATE), "-o", "out"], **run)
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert external_scripts(html) == [] and "cdn.jsdelivr" not in html
    assert "vegaEmbed" in html and '"rmse": "1.5"' in html
