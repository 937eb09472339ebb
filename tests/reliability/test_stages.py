"""Stage scripts: a user error is one line on stderr and exit code 1; --traceback shows where."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stcg import stage

ROOT = Path(__file__).resolve().parents[2]
SRC = str(ROOT / "src")


def run_stage(name: str, *args: str, env_extra: dict | None = None):
    env = {**os.environ, "PYTHONPATH": SRC, **(env_extra or {})}
    env.pop("STCG_TRACEBACK", None) if not env_extra else None
    return subprocess.run([sys.executable, str(ROOT / "stages" / f"{name}.py"), *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def bad_params(tmp_path: Path) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    data["profle"] = "tiny"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_misspelt_profile_stops_the_stage_in_one_line(tmp_path) -> None:
    params = bad_params(tmp_path)
    r = run_stage("build_graph", "--data", str(tmp_path), "--out", str(tmp_path / "g.npz"),
                  "--metrics", str(tmp_path / "m.json"), "--figure", str(tmp_path / "f.png"),
                  "--params", str(params))
    assert r.returncode == 1
    assert r.stderr.startswith(f"build_graph: error: {params}: unknown top-level key 'profle' "
                               "(did you mean 'profile'?)")
    assert len(r.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == [params]


def in_process(name: str, args: list[str], capsys) -> tuple[int, str]:
    """Run stage ``name`` through :func:`stcg.stage.run` in this process: (exit code, stderr)."""
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        stage.run(mod.main, args, name=name)
    return exc.value.code, capsys.readouterr().err


def test_traceback_flag_and_env(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("STCG_TRACEBACK", raising=False)
    params = bad_params(tmp_path)
    args = ["--metrics-dir", str(tmp_path), "--out", str(tmp_path / "a.md"), "--csv",
            str(tmp_path / "a.csv"), "--params", str(params)]
    code, err = in_process("ablate_table", args, capsys)
    assert code == 1 and len(err.splitlines()) == 1 and "Traceback" not in err
    code, err = in_process("ablate_table", [*args, "--traceback"], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err
    monkeypatch.setenv("STCG_TRACEBACK", "1")
    code, err = in_process("ablate_table", args, capsys)
    assert code == 1 and "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("ablate_table: error: ")


def test_missing_input_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("STCG_TRACEBACK", raising=False)
    code, err = in_process("train_stcg", [
        "--data", str(tmp_path / "nope"), "--graph", str(tmp_path / "g"),
        "--out", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "c.pt"),
        "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "p")], capsys)
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err.startswith("train_stcg: error: ") and "nope" in err


def test_unknown_variant_is_one_line(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("STCG_TRACEBACK", raising=False)
    code, err = in_process("ablate", ["--variant", "no_such", "--data", str(tmp_path),
                                      "--graph", str(tmp_path / "g"), "--metrics",
                                      str(tmp_path / "m.json")], capsys)
    assert code == 1
    assert err.startswith("ablate: error: --variant 'no_such': not in ablate.variants [")
    assert err.rstrip().endswith("add it to params.yaml or pick one of those")


def test_one_line_messages() -> None:
    assert stage.one_line(FileNotFoundError("/x/cells.parquet")) == (
        "/x/cells.parquet: no such file or directory (run the stage that writes it, "
        "e.g. `dvc repro`)")
    assert stage.one_line(FileNotFoundError(2, "No such file or directory", "/x/a")) == (
        "[Errno 2] No such file or directory: '/x/a'")
    assert stage.one_line(ValueError("two\nlines")) == "two lines"
