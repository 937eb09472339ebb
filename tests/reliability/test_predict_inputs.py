"""``stcg predict``: a feature missing for a whole year, a wrong year or path: one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stcg.errors import StcgError
from stcg.train.bundle import make_bundle, save_bundle
from stcg.train.predict import predict_dataset

from .conftest import SMALL

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture(scope="module")
def model_path(setup, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pred_model") / "model.pt"
    save_bundle(path, make_bundle(setup.model(), SMALL, 4, setup.dense.variables, setup.stats,
                                  setup.graph))
    return path


@pytest.fixture(scope="module")
def nan_data(toy_data, setup, tmp_path_factory) -> tuple[Path, str]:
    """The toy dataset with its second feature all NaN in 2020."""
    root = tmp_path_factory.mktemp("nan") / "climate2gpp"
    shutil.copytree(toy_data, root)
    part = root / "samples" / "year=2020" / "part-0.parquet"
    df = pd.read_parquet(part)
    var = setup.dense.variables[1]
    df[var] = np.float32(np.nan)
    df.to_parquet(part, index=False)
    return root, var


def test_all_nan_feature_is_an_error(model_path, nan_data, tmp_path) -> None:
    root, var = nan_data
    with pytest.raises(StcgError) as exc:
        predict_dataset(model_path, root, tmp_path / "out", years=[2020], netcdf=False)
    assert str(exc.value) == (
        f"{root}: feature {var!r} has no finite value in year 2020; the model would see its "
        "training mean everywhere; fix the input, drop the year, or pass --impute-missing mean "
        "to accept that")
    assert not (tmp_path / "out").exists()


def test_all_nan_feature_imputed_on_request_with_a_warning(model_path, nan_data, tmp_path) -> None:
    root, var = nan_data
    with pytest.warns(UserWarning, match=f"feature {var!r} has no finite value in year 2020; "
                                         "imputed with its training mean"):
        frame = predict_dataset(model_path, root, tmp_path / "out", years=[2020], netcdf=False,
                                impute_missing="mean")
    assert len(frame) and np.isfinite(frame["gpp_pred"]).all()
    # other years are complete: no warning, no error
    predict_dataset(model_path, root, tmp_path / "out2", years=[2019], netcdf=False)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def stcg(capsys, monkeypatch):
    """Run ``stcg ARGS`` in this process (as the console script does): its exit code and output."""
    from stcg.cli import main

    monkeypatch.delenv("STCG_TRACEBACK", raising=False)

    def run(*args: str) -> Result:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(list(args))
        out = capsys.readouterr()
        return Result(exc.value.code, out.out, out.err)

    return run


def test_console_script_path_is_one_line(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("STCG_TRACEBACK", None)
    r = subprocess.run([sys.executable, "-m", "stcg", "predict", str(tmp_path / "no.pt"),
                        str(tmp_path), str(tmp_path / "o")], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 1
    assert r.stderr == (f"stcg predict: error: {tmp_path / 'no.pt'}: no model file here; "
                        "re-create it with `dvc repro train_stcg` (or restore it with "
                        "`dvc checkout build/stcg`)\n")


def test_cli_user_errors_are_one_line(stcg, model_path, toy_data, nan_data, tmp_path) -> None:
    r = stcg("predict", str(model_path), str(toy_data), str(tmp_path / "o"), "--year", "1999")
    assert r.returncode == 1
    assert r.stderr == (f"stcg predict: error: {toy_data}: years [1999] are not in the dataset "
                        "(it has 2018-2020); pick --year among those\n")
    r = stcg("predict", str(toy_data), str(toy_data), str(tmp_path / "o"))
    assert r.returncode == 1
    assert r.stderr == (f"stcg predict: error: {toy_data}: expected a model file (a file), found "
                        "a directory; re-create it with `dvc repro train_stcg` (or restore it "
                        "with `dvc checkout build/stcg`)\n")
    r = stcg("predict", str(model_path), str(model_path), str(tmp_path / "o"))
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert "expected a dataset directory (with meta.json), found a file" in r.stderr
    root, var = nan_data
    r = stcg("predict", str(model_path), str(root), str(tmp_path / "o"), "--year", "2020")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "--impute-missing mean" in r.stderr and "Traceback" not in r.stderr
    r = stcg("predict", str(model_path), str(toy_data), str(tmp_path / "o"), "--year", "abc")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("stcg predict: error: Invalid value for '--year'")


def test_cli_traceback_on_request(stcg, tmp_path) -> None:
    r = stcg("predict", str(tmp_path / "no.pt"), str(tmp_path), str(tmp_path / "o"),
             "--traceback")
    assert r.returncode == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert r.stderr.splitlines()[-1] == (f"stcg predict: error: {tmp_path / 'no.pt'}: no model "
                                         "file here; re-create it with `dvc repro train_stcg` "
                                         "(or restore it with `dvc checkout build/stcg`)")
    assert "╭" not in r.stderr  # no Rich box


def test_cli_help_has_no_stray_type_on_flags(stcg) -> None:
    r = stcg("predict", "--help")
    assert r.returncode == 0
    assert "<bool>" not in r.stdout and "--netcdf / --no-netcdf" in r.stdout
    assert "--impute-missing" in r.stdout
