"""SIGTERM and SIGINT during an atomic write leave neither a partial output nor a temp file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from stcg.data.dataset import DatasetMeta
    from stcg.data.writer import dataset_writer

    out = Path(sys.argv[1])
    meta = DatasetMeta(source="toy", variables=("temperature_2m",), years=(2020,),
                       train_years=(2020,), test_years=(2020,), resolution=10.0, n_cells=1,
                       has_truth=False)

    def main(argv):
        with dataset_writer(out, meta) as w:
            (w.root / "part.parquet").write_bytes(b"x" * 1000)
            print("ready", flush=True)
            time.sleep(60)

    if sys.argv[2] == "stage":
        from stcg import stage
        stage.run(main, [], name="build_data")
    else:
        main(None)
""")


def start(tmp_path: Path, how: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "climate2gpp"), how],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".climate2gpp.")]
    return proc


@pytest.mark.parametrize("how", ["library", "stage"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_removes_the_temporary_dataset(tmp_path, how, sig) -> None:
    proc = start(tmp_path, how)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert list(tmp_path.iterdir()) == [], "no .climate2gpp.<random>.tmp and no output left"
    if sig == signal.SIGTERM:
        assert proc.returncode == 128 + signal.SIGTERM
    else:
        assert proc.returncode == (130 if how == "stage" else -signal.SIGINT)
    if how == "stage" and sig == signal.SIGINT:
        assert err.strip() == "build_data: interrupted; temporary outputs removed"


def test_sigterm_keeps_the_previous_output(tmp_path) -> None:
    old = tmp_path / "climate2gpp"
    old.mkdir()
    (old / "meta.json").write_text("{}")
    proc = start(tmp_path, "stage")
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["climate2gpp"]
    assert (old / "meta.json").read_text() == "{}"
