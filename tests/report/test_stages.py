"""The interpret, figures and report stages end to end on the simulator's tiny dataset.

Known answers: weights equal to the true per-std effects score like the oracle (1) on the
effect view; the same weights shuffled across samples score about 0, like the shuffled null.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from stcg.train.metrics import grouped_metrics, lat_band_labels

from .helpers import load_stage, write_fake_bundle

REPO = Path(__file__).resolve().parents[2]
PARAMS = REPO / "params.yaml"


def _interpret(data: Path, inp: dict, out: Path, shap: bool = True) -> dict:
    main = load_stage("interpret").main
    args = ["--data", str(data), "--predictions", str(inp["predictions"]), "--model",
            str(inp["model"]), "--metrics", str(out / "interp.json"), "--figure",
            str(out / "limiting.png"), "--params", str(PARAMS)]
    if shap:
        args += ["--shap", str(inp["shap"])]
    main(args)
    return json.loads((out / "interp.json").read_text())


def _not_constant(png: Path) -> None:
    img = mpimg.imread(png)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    assert img[..., :3].std() > 0.05


def test_interpret_perfect_weights(tiny_dataset, perfect, tmp_path):
    s = _interpret(tiny_dataset, perfect, tmp_path)
    assert s["truth"] is True and s["rows"]["scored"] > 100
    assert s["rows"]["weeks"] == [1, 10, 20, 30]  # the TreeSHAP rows
    chk = s["checks"]
    assert chk["interp_reconstruction_rel_rmse"] < 1e-5
    assert chk["truth_gpp_recomputed_max_abs"] < 1e-3  # the stored GPP parameters are right
    assert chk["truth_ig_completeness_max_abs"] < 0.05
    # quadrature error of the default profile's 16 Gauss-Legendre nodes on this untrained model:
    # ~8e-3 gC m-2 d-1 (3e-4 on the trained default model; a broken path integral misses by the
    # whole GPP difference, O(1))
    assert chk["model_ig_delta_rms"] < 2e-2
    eff = s["effect"]
    assert "surface_pressure" not in eff["features"]  # GPP ignores it: not scored
    for key in ("feature_r", "local_rank_r", "rank_abs_r", "dominant_kappa"):
        assert eff["oracle"][key] == pytest.approx(1.0)
        assert eff["methods"]["weights"][key] == pytest.approx(1.0, abs=1e-5)
        assert s["contribution"]["oracle"][key] == pytest.approx(1.0)
    for null in eff["nulls"].values():
        assert abs(null["feature_r"]) < 0.15
    assert set(s["contribution"]["methods"]) == {
        "weights_local", "gradient_local", "integrated_gradients"}
    assert set(s["contribution_global"]["methods"]) == {
        "weights_z", "gradient_z", "integrated_gradients_global", "treeshap"}
    # the "TreeSHAP" fixture is the first-order contribution about the training mean
    assert s["contribution_global"]["methods"]["treeshap"]["feature_r"] > 0.8
    assert s["contribution_global"]["oracle"]["feature_r"] == pytest.approx(1.0)
    assert chk["truth_ig_global_completeness_max_abs"] < 0.1
    # w (z - z_ref) with the true slope is the first-order contribution: close to the exact one
    assert s["contribution"]["methods"]["weights_local"]["feature_r"] > 0.8
    names = {(r["view"], r["attribution"]) for r in s["table"]}
    assert ("contribution_global", "LightGBM TreeSHAP") in names
    assert ("effect", "null: mean truth") in names
    _not_constant(tmp_path / "limiting.png")


def test_interpret_shuffled_weights(tiny_dataset, shuffled, tmp_path):
    s = _interpret(tiny_dataset, shuffled, tmp_path, shap=False)
    w = s["effect"]["methods"]["weights"]
    assert abs(w["feature_r"]) < 0.15
    assert "treeshap" not in s["contribution_global"]["methods"]
    assert abs(w["dominant_kappa"]) < 0.15  # perfect weights score 1
    # the scored rows are the map weeks' when there is no TreeSHAP
    assert s["rows"]["weeks"] == [1, 10, 20, 30]


def test_interpret_without_truth(tiny_dataset, perfect, tmp_path):
    data = tmp_path / "files_like"
    shutil.copytree(tiny_dataset, data, ignore=shutil.ignore_patterns("truth*"))
    meta = json.loads((data / "meta.json").read_text())
    meta.update(has_truth=False, source="files")
    (data / "meta.json").write_text(json.dumps(meta))
    s = _interpret(data, perfect, tmp_path)
    assert s["truth"] is False and "no ground truth" in s["note"]
    assert s["map_attribution"] == "gradient_local"
    _not_constant(tmp_path / "limiting.png")


def test_interpret_rejects_mismatched_model(tiny_dataset, perfect, tmp_path):
    from stcg.data.dataset import read_meta
    from stcg.train.bundle import load_bundle

    b = load_bundle(perfect["model"])
    bad = write_fake_bundle(tmp_path / "bad.pt", read_meta(tiny_dataset).variables,
                            b.stats.mean + b.stats.std, b.stats.std)
    with pytest.raises(ValueError, match="do not belong together"):
        _interpret(tiny_dataset, {**perfect, "model": bad}, tmp_path)


def test_figures_stage(tiny_dataset, perfect, tmp_path):
    main = load_stage("figures").main
    curves = tmp_path / "curves" / "train"
    curves.mkdir(parents=True)
    for name in ("loss", "loss_dep", "loss_interp", "monitor_rmse", "lr"):
        (curves / f"{name}.tsv").write_text(
            f"step\t{name}\n" + "".join(f"{i}\t{1.0 / (i + 1)}\n" for i in range(4)))
    out = tmp_path / "fig"
    pred = pd.read_parquet(perfect["predictions"])
    y, yhat = pred["gpp"].to_numpy(), pred["gpp_pred"].to_numpy()
    stcg = {"by_lat_band": grouped_metrics(y, yhat, lat_band_labels(pred["lat"].to_numpy(), 30.0)),
            "by_land_cover": grouped_metrics(y, yhat, pred["land_cover"].astype(str).to_numpy())}
    (tmp_path / "stcg.json").write_text(json.dumps(stcg))
    main(["--data", str(tiny_dataset), "--predictions", str(perfect["predictions"]),
          "--model", str(perfect["model"]), "--curves", str(tmp_path / "curves"),
          "--inputs", str(REPO / "data"), "--fig4", str(out / "fig4.png"),
          "--fig5", str(out / "fig5.png"), "--fig-curves", str(out / "curves.png"),
          "--stcg", str(tmp_path / "stcg.json"), "--error-maps", str(out / "errors.png"),
          "--hexbin", str(out / "hexbin.png"), "--by-group", str(out / "groups.png"),
          "--csv-lat-band", str(out / "band.csv"), "--csv-land-cover", str(out / "lc.csv"),
          "--params", str(PARAMS)])
    for name in ("fig4.png", "fig5.png", "curves.png", "errors.png", "hexbin.png", "groups.png"):
        _not_constant(out / name)
    # the bar-plot CSVs hold train_stcg's numbers, south to north
    band = pd.read_csv(out / "band.csv")
    assert list(band.group) == sorted(stcg["by_lat_band"], key=lambda g: float(g.split("_")[0]))
    for g, r in zip(band.group, band.rmse, strict=True):
        assert r == pytest.approx(stcg["by_lat_band"][g]["rmse"], rel=1e-5)
    lc = pd.read_csv(out / "lc.csv")
    assert set(lc.group.astype(str)) == set(stcg["by_land_cover"]) and lc.n.sum() == len(pred)


def test_figure4_on_the_simulator_regions(tiny_dataset, perfect):
    """Every region of params.yaml on the tiny 10-degree grid: a panel each, never a crash."""
    from stcg.config import load_section
    from stcg.report.attributions import load_attributions
    from stcg.report.config import FiguresConfig
    from stcg.report.figures import figure4

    cfg = load_section(FiguresConfig, "figures", PARAMS)
    att = load_attributions(perfect["predictions"], tiny_dataset, perfect["model"])
    fig = figure4(att, cfg.regions, cfg.top_features, 10.0)
    assert len(fig.axes) == 2 * len(cfg.regions) == 12
    drawn = [ax for ax in fig.axes if ax.get_lines()]
    assert drawn  # at least one region has cells at 10 degrees
    for ax in drawn:
        assert any(np.nanstd(ln.get_ydata()) > 0 for ln in ax.get_lines())


@pytest.mark.parametrize("kind", ["weights_local", "gradient_local"])
def test_figure_attribution_choices(tiny_dataset, perfect, kind):
    """The figures' alternative attributions: w (or dy/dz) times the local anomaly."""
    from stcg.data.dataset import read_meta
    from stcg.report.attributions import (
        load_attributions,
        model_attributions,
        select_attribution,
    )
    from stcg.report.truth import local_inputs

    meta = read_meta(tiny_dataset)
    att = load_attributions(perfect["predictions"], tiny_dataset, perfect["model"])
    att = att.take(att.keys["period"].to_numpy() == 9)
    shown = select_attribution(att, kind, tiny_dataset, perfect["model"], meta.train_years)
    x, x_ref = local_inputs(tiny_dataset, att.keys, att.variables, meta.train_years)
    anomaly = (x - x_ref) / att.x_std
    effect = att.w if kind == "weights_local" else model_attributions(
        perfect["model"], tiny_dataset, att.keys, np.zeros_like(att.z), ig_steps=0)["grad"]
    np.testing.assert_allclose(shown.w, effect)
    np.testing.assert_allclose(shown.contribution, effect * anomaly)
    assert select_attribution(att, "weights", tiny_dataset, perfect["model"],
                              meta.train_years) is att
    with pytest.raises(ValueError, match="figures.attribution"):
        select_attribution(att, "shap", tiny_dataset, perfect["model"], meta.train_years)


def test_dominant_group_maps_name_the_attribution(synth):
    """The maps' title names the attribution; four groups get four distinct colours."""
    import matplotlib.pyplot as plt

    from stcg.report.figures import limiting_factor_maps
    from stcg.report.maps import Grid

    n = len(synth.keys)
    lab = np.random.default_rng(0).integers(0, 4, n)
    cols = {"truth": (np.ones(n, bool), lab, None), "learned": (np.ones(n, bool), lab, None)}
    fig = limiting_factor_maps(synth.keys, cols, ("temperature", "water", "light", "canopy"),
                               (1,), Grid(10.0), [], title="Dominant group of dy/dz")
    assert fig._suptitle.get_text().startswith("Dominant group of dy/dz")
    colours = fig.axes[0].get_images()[0].get_cmap().colors
    assert len({tuple(np.round(np.atleast_1d(c), 3)) if not isinstance(c, str) else c
                for c in colours}) == 5  # grey + 4 groups
    plt.close(fig)


def test_model_ig_on_some_rows_in_small_passes(tiny_dataset, perfect):
    """Integrated gradients of a subset of rows, in passes of a few rows, equal those of every
    row in one pass (NaN elsewhere)."""
    from stcg.report.attributions import load_attributions, model_attributions

    att = load_attributions(perfect["predictions"], tiny_dataset, perfect["model"])
    att = att.take(att.keys["period"].to_numpy() == 9)
    rng = np.random.default_rng(0)
    z_ref = att.z + rng.normal(0.0, 0.5, att.z.shape)
    some = rng.random(len(att.keys)) < 0.4
    full = model_attributions(perfect["model"], tiny_dataset, att.keys, z_ref, ig_steps=8,
                              global_reference=True, ig_batch=100_000)
    part = model_attributions(perfect["model"], tiny_dataset, att.keys, z_ref, ig_steps=8,
                              global_reference=True, ig_rows=some, ig_batch=3)
    np.testing.assert_allclose(part["grad"], full["grad"], rtol=1e-5, atol=1e-6)
    for name in ("ig", "ig_global", "ig_delta", "ig_global_delta"):
        np.testing.assert_allclose(part[name][some], full[name][some], rtol=1e-4, atol=1e-5)
        assert np.isnan(part[name][~some]).all()


def test_figures_read_only_figure_rows(tiny_dataset, perfect):
    """Figures 4 and 5 drawn from the rows of :func:`figure_rows` are those drawn from all rows."""
    from stcg.config import load_section
    from stcg.report.attributions import load_attributions
    from stcg.report.config import FiguresConfig
    from stcg.report.figures import figure4, figure5, figure_rows
    from stcg.report.maps import Grid

    cfg = load_section(FiguresConfig, "figures", PARAMS)
    att = load_attributions(perfect["predictions"], tiny_dataset, perfect["model"])
    rows = figure_rows(att.keys, cfg.regions, cfg.map_weeks)
    assert 0 < rows.sum() < len(rows)
    sub = att.take(rows)

    def lines(fig):
        return [np.asarray(ln.get_ydata(), float) for ax in fig.axes for ln in ax.get_lines()]

    a, b = (lines(figure4(x, cfg.regions, cfg.top_features, 10.0)) for x in (att, sub))
    assert len(a) == len(b) > 0
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)

    def images(fig):
        return [np.ma.filled(np.ma.asarray(im.get_array(), float), np.nan)
                for ax in fig.axes for im in ax.get_images()]

    grid = Grid(10.0)
    a, b = (images(figure5(x, cfg.map_variable, cfg.map_weeks, grid, [])) for x in (att, sub))
    assert len(a) == len(b) > 0
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
