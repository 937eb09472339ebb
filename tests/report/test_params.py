"""The interpret / figures / report params load on every profile; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stcg.config import PROFILES, ConfigError, from_dict, resolve_profile
from stcg.report.config import FiguresConfig, InterpretConfig, ReportConfig

REPO = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((REPO / "params.yaml").read_text())


@pytest.mark.parametrize("profile", PROFILES)
def test_sections_load(profile):
    it = from_dict(InterpretConfig, resolve_profile(RAW["interpret"], profile), "interpret")
    fg = from_dict(FiguresConfig, resolve_profile(RAW["figures"], profile), "figures")
    from_dict(ReportConfig, resolve_profile(RAW["report"], profile), "report")
    assert set(it.groups) == {"temperature", "water", "light", "canopy"}
    assert it.map_attribution == "gradient_local" and fg.attribution == "gradient_local"
    assert len(fg.regions) == 6 and fg.map_variable == "temperature_2m"
    assert fg.map_weeks == (1, 10, 20, 30)


def test_groups_are_disjoint_and_cover_the_simulators_gpp_inputs():
    from stcg.data.sim.gpp import GPP_INPUTS

    it = from_dict(InterpretConfig, resolve_profile(RAW["interpret"], "default"), "interpret")
    feats = [f for fs in it.groups.values() for f in fs]
    assert len(feats) == len(set(feats))
    # the groups are exactly the inputs GPP reads (the others have no true effect)
    assert set(feats) == set(GPP_INPUTS)


@pytest.mark.parametrize("section, cls, patch, match", [
    ("interpret", InterpretConfig, {"groups": {"water": ["no_such_band"]}}, "no_such_band"),
    ("interpret", InterpretConfig, {"map_weeks": [0]}, "map_weeks"),
    ("figures", FiguresConfig, {"map_variable": "gpp"}, "map_variable"),
    ("figures", FiguresConfig, {"regions": [{"name": "x", "lon": [0, 1], "lat": [5, 1]}]}, "lat"),
    ("figures", FiguresConfig,
     {"regions": [{"name": "x", "lon": [0, 1], "lat": [0, 1], "land_cover": ["XX"]}]}, "XX"),
    ("figures", FiguresConfig, {"colour": 1}, "colour"),
])
def test_bad_values_are_named(section, cls, patch, match):
    raw = {**resolve_profile(RAW[section], "default"), **patch}
    with pytest.raises(ConfigError, match=match):
        from_dict(cls, raw, section)
