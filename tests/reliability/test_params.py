"""params.yaml: a misspelt key or an impossible resolution is a one-line error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stcg.config import ConfigError, load_section
from stcg.data.config import BuildDataConfig
from stcg.errors import StcgError

ROOT = Path(__file__).resolve().parents[2]


def params_with(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    edit(data)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_misspelt_profile_key_is_an_error(tmp_path) -> None:
    def edit(d):
        d["profle"] = "tiny"

    path = params_with(tmp_path, edit)
    with pytest.raises(ConfigError) as exc:
        load_section(BuildDataConfig, "build_data", path)
    msg = str(exc.value)
    assert "\n" not in msg and isinstance(exc.value, StcgError)
    assert f"{path}: unknown top-level key 'profle' (did you mean 'profile'?)" in msg


@pytest.mark.parametrize("res", [0, -10, 0.0])
def test_nonpositive_resolution_is_a_param_error(tmp_path, res) -> None:
    def edit(d):
        d["build_data"]["resolution"] = res

    with pytest.raises(ConfigError) as exc:
        load_section(BuildDataConfig, "build_data", params_with(tmp_path, edit))
    msg = str(exc.value)
    assert msg.startswith(f"params.yaml: build_data: resolution: got {float(res)!r}, expected a "
                          "positive grid spacing in degrees")
    assert "\n" not in msg


def test_resolution_that_does_not_tile_the_globe(tmp_path) -> None:
    def edit(d):
        d["build_data"]["resolution"] = 0.7

    with pytest.raises(ConfigError, match=r"build_data: resolution 0.7 does not divide 180"):
        load_section(BuildDataConfig, "build_data", params_with(tmp_path, edit))


def test_misspelt_key_inside_a_section_suggests_the_right_one(tmp_path) -> None:
    def edit(d):
        d["build_data"]["resolutoin"] = d["build_data"].pop("resolution")

    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['resolutoin'\] \(did you mean "
                                          r"'resolution'\?\)"):
        load_section(BuildDataConfig, "build_data", params_with(tmp_path, edit))


def test_params_survive_dvc_exp_run_set_param(tmp_path) -> None:
    """``dvc exp run -S key=value`` rewrites params.yaml with DVC's own YAML round trip and reads
    it back with DVC's (libyaml) parser: every other value must come back unchanged."""
    import shutil

    from dvc.utils.serialize import load_yaml, modify_yaml

    p = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", p)
    before = yaml.safe_load(p.read_text())
    with modify_yaml(p) as d:
        d["train_stcg"]["model"]["gcn"] = False
    after = load_yaml(p)
    assert after["train_stcg"]["model"]["gcn"] is False
    after["train_stcg"]["model"]["gcn"] = before["train_stcg"]["model"]["gcn"]
    assert after == before
