"""Helpers of the report tests: synthetic attributions with a known answer, and the inputs of
the ``interpret`` / ``figures`` / ``report`` stages built on the simulator's tiny dataset.

The stage inputs stand in for ``train_stcg``'s outputs: a model file holding only the
standardisation statistics (what the report stages read of it) and predictions whose weights
are the simulator's true per-std effects ``s_j std_j`` (a perfect interpreter), or the same
shuffled across samples (a useless one).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stcg.data.schema import PERIODS_PER_YEAR, cell_center, grid_shape
from stcg.report.attributions import Attributions

REPO = Path(__file__).resolve().parents[2]

FEATURES = ("temperature_2m", "dewpoint_temperature_2m", "volumetric_soil_water_layer_1",
            "surface_solar_radiation_downwards_sum", "leaf_area_index_high_vegetation",
            "surface_pressure")


def synthetic_attributions(resolution: float = 10.0, year: int = 2020, seed: int = 0,
                           box: tuple[float, float, float, float] = (-100, 150, -20, 70)
                           ) -> Attributions:
    """Cells of a lon/lat box on the grid, every period of ``year``, seasonal weights."""
    n_lat, n_lon = grid_shape(resolution)
    ids = np.arange(n_lat * n_lon)
    lon, lat = cell_center(ids, resolution)
    keep = (lon >= box[0]) & (lon <= box[1]) & (lat >= box[2]) & (lat <= box[3])
    lon, lat, ids = lon[keep], lat[keep], ids[keep]
    c, t, f = ids.size, PERIODS_PER_YEAR, len(FEATURES)
    rng = np.random.default_rng(seed)
    per = np.tile(np.arange(t), c)
    cl = np.repeat(np.arange(c), t)
    season = np.sin(2 * np.pi * per / t)[:, None]
    w = (np.linspace(1.0, -0.5, f)[None, :] * (1 + season * np.sign(lat[cl])[:, None])
         + 0.1 * rng.standard_normal((c * t, f)))
    z = rng.standard_normal((c * t, f))
    keys = pd.DataFrame({
        "cell_id": ids[cl], "lon": lon[cl], "lat": lat[cl], "year": year, "period": per,
        "land_cover": np.where(lat[cl] < 10, 2, 10),
        "gpp": 3 + season[:, 0] + rng.standard_normal(c * t) * 0.1,
    })
    keys["gpp_pred"] = keys["gpp"] + 0.05 * lat[cl] / 90
    return Attributions(keys=keys, variables=FEATURES, w=w, z=z, x_std=np.ones(f),
                        interp_rel_rmse=0.0)


def write_fake_bundle(path: Path, variables: tuple[str, ...], mean: np.ndarray,
                      std: np.ndarray) -> Path:
    """A model file with the statistics and an untrained model (random, non-zero heads)."""
    import torch

    from stcg.model.config import ModelConfig
    from stcg.model.stcg import GraphTensors, STCGModel
    from stcg.train.bundle import ModelBundle, save_bundle
    from stcg.train.data import FeatureStats

    cfg = ModelConfig(d_model=8, heads=2, encoder_blocks=1, decoder_layers=1)
    graph = GraphTensors(edge_src=np.array([0, 1]), edge_dst=np.array([1, 0]),
                         edge_weight=np.ones(2), embedding=np.zeros((3, 8), np.float32))
    torch.manual_seed(0)
    model = STCGModel(cfg, len(variables), graph, 1.0, 2.0)
    torch.nn.init.normal_(model.target_head.weight, std=0.5)
    torch.nn.init.normal_(model.interp_head.weight, std=0.5)
    bundle = ModelBundle(
        model_cfg=cfg, window=4, variables=variables,
        stats=FeatureStats(mean=mean, std=std, y_mean=1.0, y_std=2.0),
        node_xyz=np.eye(3), graph=graph, state_dict=model.state_dict(),
    )
    save_bundle(path, bundle)
    return path


def stage_inputs(data: Path, out: Path, shuffle: bool = False, seed: int = 0) -> dict[str, Path]:
    """Predictions (perfect or shuffled weights), model file and TreeSHAP table for ``data``."""
    from stcg.data.dataset import read_meta, read_samples, read_truth

    meta = read_meta(data)
    v = meta.variables
    train = read_samples(data, years=meta.train_years, columns=list(v))
    mean = train.mean().to_numpy(np.float64)
    std = train.std(ddof=0).to_numpy(np.float64)
    test = read_samples(data, years=meta.test_years)
    truth = read_truth(data, years=meta.test_years)
    m = test.merge(truth, on=["cell_id", "year", "period"], validate="one_to_one")
    z = np.nan_to_num((m[list(v)].to_numpy(np.float64) - mean) / std)
    eff = m[[f"sens_{x}" for x in v]].to_numpy(np.float64) * std
    w = eff.copy()
    if shuffle:
        w = w[np.random.default_rng(seed).permutation(len(w))]
    pred = m[["cell_id", "lon", "lat", "year", "period", "land_cover", "gpp"]].copy()
    pred["gpp_pred"] = m["gpp_true"].to_numpy(np.float32)
    pred["w_intercept"] = np.float32(1.0)
    pred["gpp_interp"] = 1.0 + (w * z).sum(axis=1)
    for j, name in enumerate(v):
        pred[f"w_{name}"] = w[:, j].astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    pred = pred.sample(frac=1.0, random_state=seed)  # row order must not matter
    pred.to_parquet(out / "predictions.parquet")
    write_fake_bundle(out / "model.pt", v, mean, std)
    # "TreeSHAP": the true contributions, on the Figure 5 weeks only
    sel = m["period"].isin([0, 9, 19, 29]).to_numpy()
    shap = m.loc[sel, ["cell_id", "lon", "lat", "year", "period", "land_cover"]].copy()
    for j, name in enumerate(v):
        shap[f"shap_{name}"] = (eff[sel, j] * z[sel, j]).astype(np.float32)
    shap["shap_land_cover"] = np.float32(0.0)
    shap.to_parquet(out / "shap.parquet")
    return {"predictions": out / "predictions.parquet", "model": out / "model.pt",
            "shap": out / "shap.parquet"}


def load_stage(name: str):
    """The module ``stages/<name>.py`` (stages are scripts, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
