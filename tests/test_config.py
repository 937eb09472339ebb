"""The strict params loader and profiles."""

from __future__ import annotations

import pytest
import yaml

from stcg.config import PROFILES, ConfigError, from_dict, load_section, resolve_profile
from stcg.data.config import BuildDataConfig, SplitConfig

from .conftest import REPO


def test_repository_params_load_for_every_profile(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for profile in PROFILES:
        params["profile"] = profile
        p = tmp_path / f"{profile}.yaml"
        p.write_text(yaml.safe_dump(params))
        cfg = load_section(BuildDataConfig, "build_data", p)
        assert len(cfg.variables) == 26
    assert load_section(BuildDataConfig, "build_data", tmp_path / "paper.yaml").resolution == 0.5
    assert load_section(BuildDataConfig, "build_data", tmp_path / "tiny.yaml").resolution == 10.0


def test_profile_switch_falls_back_to_default():
    v = {"a": {"tiny": 1, "default": 2}, "b": [{"paper": 3, "default": 4}], "c": 5}
    assert resolve_profile(v, "paper") == {"a": 2, "b": [3], "c": 5}
    assert resolve_profile(v, "tiny") == {"a": 1, "b": [4], "c": 5}
    with pytest.raises(ConfigError):
        resolve_profile({"x": {"paper": 1}}, "tiny")
    with pytest.raises(ConfigError):
        resolve_profile(v, "huge")


def test_unknown_missing_and_mistyped_keys_name_the_path():
    good = {"train_years": [2001, 2019], "test_years": [2020, 2020]}
    assert from_dict(SplitConfig, good).train_years == (2001, 2019)
    with pytest.raises(ConfigError, match=r"build_data.splits: unknown key\(s\) \['val_years'\]"):
        from_dict(SplitConfig, {**good, "val_years": [1, 2]}, where="build_data.splits")
    with pytest.raises(ConfigError, match="test_years: missing"):
        from_dict(SplitConfig, {"train_years": [2001, 2019]})
    with pytest.raises(ConfigError, match=r"train_years\[0\]: expected an integer"):
        from_dict(SplitConfig, {**good, "train_years": ["2001", 2019]})
    with pytest.raises(ConfigError, match="overlap"):
        from_dict(SplitConfig, {"train_years": [2001, 2020], "test_years": [2020, 2020]})


def test_bad_variable_is_rejected(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["build_data"]["variables"][0] = "temperature_2m_degC"
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="temperature_2m_degC"):
        load_section(BuildDataConfig, "build_data", p)


def section_classes() -> dict:
    """Every ``params.yaml`` section and its dataclass.

    The map lives here, not in ``stcg.config``: the loader imports no section module, so that a
    stage depends (in ``dvc.yaml``) only on the config modules it reads.
    """
    from stcg.baselines.tabular.config import TrainTabularConfig
    from stcg.fewshot.config import BuildFewshotConfig, FewshotJointConfig, FewshotWeeklyConfig
    from stcg.graph.config import BuildGraphConfig
    from stcg.report.config import (
        FewshotTablesConfig,
        FiguresConfig,
        InterpretConfig,
        ReportConfig,
    )
    from stcg.report.faithfulness_config import FaithfulnessConfig
    from stcg.train.config import AblateConfig, FewshotStcgConfig, TrainStcgConfig

    return {
        "build_data": BuildDataConfig, "build_graph": BuildGraphConfig,
        "train_stcg": TrainStcgConfig, "ablate": AblateConfig,
        "build_fewshot": BuildFewshotConfig, "fewshot_weekly": FewshotWeeklyConfig,
        "fewshot_joint": FewshotJointConfig, "fewshot_stcg": FewshotStcgConfig,
        "fewshot_tables": FewshotTablesConfig, "train_tabular": TrainTabularConfig,
        "interpret": InterpretConfig, "figures": FiguresConfig, "report": ReportConfig,
        "faithfulness": FaithfulnessConfig,
    }


def test_every_section_loads_strictly_on_every_profile(tmp_path):
    import sys

    from stcg.config import SECTIONS

    classes = section_classes()
    assert set(classes) == set(SECTIONS)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(params) == {"profile", *SECTIONS}
    for profile in PROFILES:
        params["profile"] = profile
        p = tmp_path / f"{profile}.yaml"
        p.write_text(yaml.safe_dump(params))
        for name, cls in classes.items():
            assert type(load_section(cls, name, p)) is cls
    # a stray key deep in a section is named with its path
    params["train_stcg"]["model"]["d_modle"] = 8
    p.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match=r"train_stcg\.model: unknown key\(s\) \['d_modle'\] "
                                          r"\(did you mean 'd_model'\?\)"):
        load_section(classes["train_stcg"], "train_stcg", p)
    # the loader alone pulls in no section module
    code = ("import sys; import stcg.config; "
            "print(sorted(m for m in sys.modules if m.startswith('stcg')))")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['stcg', 'stcg.config', 'stcg.errors']"


def test_load_section_at_a_given_profile():
    from stcg.fewshot.config import BuildFewshotConfig

    path = REPO / "params.yaml"
    active = load_section(BuildFewshotConfig, "build_fewshot", path)
    assert load_section(BuildFewshotConfig, "build_fewshot", path, profile=None) == active
    assert load_section(BuildFewshotConfig, "build_fewshot", path, profile="tiny").n_cells == 120
    assert load_section(BuildFewshotConfig, "build_fewshot", path, profile="paper").n_cells == 6000
