"""bench/train_throughput.py runs and writes its JSON (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_train_throughput_bench(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("tt", ROOT / "bench" / "train_throughput.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "tt.json"
    res = mod.main(["--profile", "tiny", "--params", str(ROOT / "params.yaml"), "--device", "cpu",
                    "--cells", "40", "--years", "1", "--steps", "2", "--warmup", "1",
                    "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["samples_per_s"] > 0 and saved["peak_memory_mb"] > 0
    assert saved["batch_size"] == res["batch_size"] and saved["profile"] == "tiny"
