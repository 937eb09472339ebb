"""Stage start-up: a stage imports only the heavy libraries it uses (each costs 0.3-1.4 s per stage)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# libraries that a stage which only loads a built graph, or trains on it, does not need
GRAPH_BUILD_ONLY = ("sklearn", "scipy")

LOADED = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("stage_under_test", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def top_level_modules(script: str) -> set[str]:
    """Top-level packages in ``sys.modules`` after importing ``stages/<script>`` in a fresh Python."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p))
    out = subprocess.run([sys.executable, "-c", LOADED, str(ROOT / "stages" / script)],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("script", ["train_stcg.py", "fewshot_stcg.py"])
def test_training_stages_skip_graph_building_libraries(script: str) -> None:
    loaded = top_level_modules(script)
    assert "torch" in loaded  # the check sees what the stage imports
    assert not loaded & set(GRAPH_BUILD_ONLY), sorted(loaded & set(GRAPH_BUILD_ONLY))


def test_graph_functions_import_what_they_use() -> None:
    """K-means (sklearn) and the k-NN graph (scipy) still work with their imports inside."""
    import numpy as np

    from stcg.graph.cluster import kmeans_sphere
    from stcg.graph.knn import connect_components, knn_edges, n_components

    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-180, 180, 60), rng.uniform(-60, 60, 60)
    c = kmeans_sphere(lon, lat, k=6, seed=0)
    assert sorted(np.unique(c.labels)) == list(range(6))
    edges = knn_edges(c.center_xyz, k=2)
    edges, _ = connect_components(c.center_xyz, edges)
    assert n_components(6, edges)[0] == 1
