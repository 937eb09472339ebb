"""The interpret, figures and report stages end to end on the simulator's tiny dataset.

Known answers: weights equal to the true per-std effects score Spearman 1 and accuracy 1
against the truth's dominant group; the same weights shuffled across samples score ~0.
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
    assert s["truth"] is True and s["rows"]["scored"] > 1000
    assert s["interp_reconstruction_rel_rmse"] < 1e-5
    eff = s["stcg"]["effect"]
    assert eff["per_sample"]["median"] == pytest.approx(1.0, abs=1e-6)
    assert eff["per_feature"]["mean"] == pytest.approx(1.0, abs=1e-6)
    assert eff["per_feature"]["by_feature"]["surface_pressure"] is None  # GPP ignores it
    assert eff["per_feature"]["by_feature"]["temperature_2m"] == pytest.approx(1.0, abs=1e-6)
    assert eff["dominant"]["vs_truth_dominant"]["accuracy"] == 1.0
    # the learned accuracy vs the limiting factor equals the truth's own reference
    ref = s["truth_reference"]["dominant_effect_vs_limiting"]["accuracy"]
    assert eff["dominant"]["vs_limiting"]["accuracy"] == pytest.approx(ref)
    con = s["stcg"]["contribution"]
    assert con["per_sample"]["median"] == pytest.approx(1.0, abs=1e-6)
    # the "TreeSHAP" fixture holds the true contributions of the Figure 5 weeks
    assert s["rows"]["shap_weeks"] == [1, 10, 20, 30]
    assert s["lightgbm_shap"]["contribution"]["per_sample"]["median"] == pytest.approx(1.0, abs=1e-5)
    assert s["stcg_on_shap_rows"]["effect"]["rows"] == s["lightgbm_shap"]["contribution"]["rows"]
    assert set(s["by_week"]["stcg_effect"]) == {"w01", "w10", "w20", "w30"}
    _not_constant(tmp_path / "limiting.png")


def test_interpret_shuffled_weights(tiny_dataset, shuffled, tmp_path):
    s = _interpret(tiny_dataset, shuffled, tmp_path, shap=False)
    eff = s["stcg"]["effect"]
    assert abs(eff["per_feature"]["mean"]) < 0.1
    assert "lightgbm_shap" not in s
    dom = eff["dominant"]["vs_truth_dominant"]
    assert dom["accuracy"] < dom["majority_baseline"]  # perfect weights score 1.0
    # shuffled weights are the truth of other samples (drawn from every test row here, from the
    # scored rows in the reference): about the reference's per-sample score
    ref = s["truth_reference"]["shuffled_truth"]["effect"]
    assert eff["per_sample"]["median"] == pytest.approx(ref["per_sample"]["median"], abs=0.1)
    assert eff["per_sample"]["median"] < 0.9
    assert abs(ref["per_feature"]["mean"]) < 0.1


def test_interpret_without_truth(tiny_dataset, perfect, tmp_path):
    data = tmp_path / "files_like"
    shutil.copytree(tiny_dataset, data, ignore=shutil.ignore_patterns("truth*"))
    meta = json.loads((data / "meta.json").read_text())
    meta.update(has_truth=False, source="files")
    (data / "meta.json").write_text(json.dumps(meta))
    s = _interpret(data, perfect, tmp_path)
    assert s["truth"] is False and "no ground truth" in s["note"]
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
    from stcg.config import FiguresConfig, load_section
    from stcg.report.attributions import load_attributions
    from stcg.report.figures import figure4

    cfg = load_section(FiguresConfig, "figures", PARAMS)
    att = load_attributions(perfect["predictions"], tiny_dataset, perfect["model"])
    fig = figure4(att, cfg.regions, cfg.top_features, 10.0)
    assert len(fig.axes) == 2 * len(cfg.regions) == 12
    drawn = [ax for ax in fig.axes if ax.get_lines()]
    assert drawn  # at least one region has cells at 10 degrees
    for ax in drawn:
        assert any(np.nanstd(ln.get_ydata()) > 0 for ln in ax.get_lines())
