"""The repository's build_graph / train_stcg params load for every profile and agree."""

from __future__ import annotations

from pathlib import Path

import yaml

from stcg.config import PROFILES, load_section
from stcg.graph.config import BuildGraphConfig
from stcg.train.config import TrainStcgConfig

REPO = Path(__file__).resolve().parents[2]


def test_model_params_every_profile(tmp_path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    cfgs = {}
    for profile in PROFILES:
        params["profile"] = profile
        p = tmp_path / f"{profile}.yaml"
        p.write_text(yaml.safe_dump(params))
        g = load_section(BuildGraphConfig, "build_graph", p)
        t = load_section(TrainStcgConfig, "train_stcg", p)
        # node2vec embeddings initialise the node embeddings without a projection
        assert g.node2vec.dim == t.model.d_model, profile
        cfgs[profile] = (g, t)
    g, t = cfgs["paper"]
    # docs/design.md, "Model decisions" and "Training": the paper profile
    assert g.clusters == 1000 and g.knn == 8 and g.node2vec.dim == 64
    assert (t.model.d_model, t.model.heads, t.model.encoder_blocks, t.model.decoder_layers) == (
        64, 4, 2, 2)
    assert t.window == 8 and t.optim.epochs == 20 and t.optim.batch_size == 256
    assert t.optim.samples_per_epoch is None and (t.optim.lr, t.optim.lr_final) == (1e-3, 1e-4)
    assert t.optim.lr_drop_at == 0.5
    assert cfgs["default"][0].clusters == 40
