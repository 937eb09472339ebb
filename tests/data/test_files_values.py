"""Source ``files``: what ingestion does to the values themselves (stcg.data.files).

Small negative flow sums, snow cover as a fraction or in %, masked GPP, GPP scale mistakes seen
from the distribution, infinite values, corner coordinates, inputs without ``gpp``, and a
dataset whose Parquet lacks a variable of its ``meta.json``.  Each case is one tiny fixture
(6 cells of the 10-degree grid, two years, Parquet files); the bad ones assert a one-line message
naming the file, the column, the value seen and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stcg.config import ConfigError
from stcg.data.card import data_card
from stcg.data.dataset import DatasetError, load_dense, read_samples
from stcg.data.files import IngestError, build_from_files
from stcg.data.schema import NEGATIVE_TOLERANCE, TARGET, VARIABLES
from stcg.errors import StcgError

from ._ee_fixtures import RES, make_cfg, truth_frame

VARS = tuple(VARIABLES)
YEARS = (2019, 2020)


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return truth_frame()


def write_years(inp: Path, truth: pd.DataFrame, change=None, year: int = 2020,
                drop: tuple[str, ...] = ()) -> dict[int, Path]:
    """One Parquet file per year; ``change`` edits ``year``'s frame in place."""
    inp.mkdir(parents=True, exist_ok=True)
    paths = {}
    for y in YEARS:
        df = truth[truth.year == y].drop(columns=list(drop)).reset_index(drop=True)
        if change is not None and y == year:
            change(df)
        paths[y] = inp / f"climate2gpp_{y}.parquet"
        df.to_parquet(paths[y])
    return paths


def samples(out: Path) -> pd.DataFrame:
    return read_samples(out).sort_values(["year", "cell_id", "period"], ignore_index=True)


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg and isinstance(err.value, StcgError), msg
    return msg


# ---- small negative flow sums ---------------------------------------------------------------


def test_tiny_negative_flow_sums_are_clipped_and_counted(tmp_path: Path,
                                                        truth: pd.DataFrame) -> None:
    def noise(df: pd.DataFrame) -> None:
        df.loc[[3, 40, 41], "total_precipitation_sum"] = [-1e-7, -2e-6, -1e-3]
        df.loc[[7], "surface_solar_radiation_downwards_sum"] = -1500.0

    write_years(tmp_path / "in", truth, noise)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg())
    s = samples(out)
    t20 = truth[truth.year == 2020].reset_index(drop=True)
    got = s[s.year == 2020].set_index(["cell_id", "period"])
    for row, col in ((3, "total_precipitation_sum"), (40, "total_precipitation_sum"),
                     (41, "total_precipitation_sum"),
                     (7, "surface_solar_radiation_downwards_sum")):
        key = (t20.loc[row, "cell_id"], t20.loc[row, "period"])
        assert got.loc[key, col] == 0.0
    card = data_card(out)["ingest"]
    assert card["clipped_negative"] == {"surface_solar_radiation_downwards_sum": 1,
                                        "total_precipitation_sum": 3}
    assert card["clipped_min"]["total_precipitation_sum"] == pytest.approx(-1e-3)
    assert any("total_precipitation_sum: 3 small negative" in w for w in card["warnings"])
    # untouched values stay as they were
    assert s["total_precipitation_sum"].min() == 0.0
    assert (s["total_precipitation_sum"] > 0).sum() == len(s) - 3


def test_large_negative_flow_sum_is_an_error(tmp_path: Path, truth: pd.DataFrame) -> None:
    tol = NEGATIVE_TOLERANCE * VARIABLES["total_precipitation_sum"].hi

    def big(df: pd.DataFrame) -> None:
        df.loc[5, "total_precipitation_sum"] = -2 * tol

    paths = write_years(tmp_path / "in", truth, big)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert paths[2020].name in msg and "'total_precipitation_sum'" in msg
    assert f"{-2 * tol:g}" in msg and "clipped to 0 as packing noise" in msg
    assert not (tmp_path / "ds").exists()


def test_negative_thermal_net_flux_is_not_clipped(tmp_path: Path, truth: pd.DataFrame) -> None:
    """Bands that are negative by nature keep their values."""
    write_years(tmp_path / "in", truth)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg())
    s = samples(out)
    assert (s["surface_net_thermal_radiation_sum"] < 0).any()
    assert data_card(out)["ingest"]["clipped_negative"] == {}


# ---- snow cover -----------------------------------------------------------------------------


def test_snow_cover_fraction_and_percent_ingest_to_the_same_values(
    tmp_path: Path, truth: pd.DataFrame
) -> None:
    pct = tmp_path / "pct"
    write_years(pct / "in", truth)
    build_from_files(pct / "in", pct / "ds", make_cfg())
    frac_truth = truth.copy()
    frac_truth["snow_cover"] = frac_truth["snow_cover"] / 100.0
    frac = tmp_path / "frac"
    write_years(frac / "in", frac_truth)
    build_from_files(frac / "in", frac / "ds", make_cfg())
    a, b = samples(pct / "ds"), samples(frac / "ds")
    np.testing.assert_allclose(a["snow_cover"], b["snow_cover"], rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(a["snow_cover"].dropna(),
                               truth.sort_values(["year", "cell_id", "period"])["snow_cover"]
                               .dropna(), rtol=1e-6)
    assert data_card(pct / "ds")["ingest"]["snow_cover"]["seen"] == "percent"
    card = data_card(frac / "ds")["ingest"]
    assert card["snow_cover"] == {"setting": "auto", "seen": "fraction",
                                  "max_seen": pytest.approx(frac_truth["snow_cover"].max()),
                                  "stored": "percent", "factor": 100.0}
    assert any("read as a fraction" in w and "x100" in w for w in card["warnings"])


def test_snow_cover_said_to_be_a_fraction_but_in_percent(tmp_path: Path,
                                                         truth: pd.DataFrame) -> None:
    write_years(tmp_path / "in", truth)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds",
                         make_cfg(snow_cover_units="fraction"))
    msg = one_line(err)
    assert "'snow_cover'" in msg and "snow_cover_units: percent" in msg


# ---- masked GPP -----------------------------------------------------------------------------


def _mask_region(df: pd.DataFrame) -> None:
    """PML_V2-like masks: one desert cell every period, one boreal cell in winter."""
    desert = df["cell_id"] == df["cell_id"].unique()[3]
    boreal = (df["lat"] == 65.0) & ((df["period"] < 12) | (df["period"] > 40))
    df.loc[desert | boreal, TARGET] = np.nan


def test_masked_gpp_is_a_missing_target_not_a_missing_sample(tmp_path: Path,
                                                             truth: pd.DataFrame) -> None:
    """The rule: masked gpp -> NaN target; the sample and its features are kept; the share is
    held to max_gpp_nan_share (not max_nan_share) and goes to the data card."""
    write_years(tmp_path / "in", truth, _mask_region)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg(max_nan_share=0.2, max_gpp_nan_share=0.5))
    s = samples(out)
    s20 = s[s.year == 2020]
    assert len(s20) == len(truth[truth.year == 2020])  # every sample kept
    t20 = truth[truth.year == 2020].copy().reset_index(drop=True)
    _mask_region(t20)
    share = float(t20[TARGET].isna().mean())
    assert share > 0.2  # above max_nan_share: gpp is not held to it
    assert s20[TARGET].isna().sum() == t20[TARGET].isna().sum()
    assert s20[list(VARS)].drop(columns="snow_cover").notna().all().all()
    card = data_card(out)
    assert card["ingest"]["gpp_missing_share"]["2020"] == pytest.approx(share)
    dense = load_dense(out, years=[2020])
    desert = np.flatnonzero(dense.cell_id == t20["cell_id"].unique()[3])[0]
    assert np.isnan(dense.y[desert]).all() and np.isfinite(dense.x[desert, :, 0]).all()
    # more masked gpp than max_gpp_nan_share fails, naming that param
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds2", make_cfg(max_gpp_nan_share=0.1))
    msg = one_line(err)
    assert "'gpp'" in msg and "max_gpp_nan_share = 10.0%" in msg and "climate2gpp_2020" in msg


# ---- GPP scale mistakes seen from the distribution -----------------------------------------


GPP_CASES = {
    # factor applied to the file's gpp: words the hint must hold
    "x100": (100.0, "PML_V2's stored integers", "gpp_scale: 0.01"),
    "x8": (8.0, "8-day sums", "gpp_scale: 0.125"),
    "x1000": (1000.0, "GPP x 1000", "gpp_scale: 0.001"),
    "div100": (0.01, "GPP / 100", "gpp_scale: 100"),
    "div1000": (0.001, "GPP / 1000", "gpp_scale: 1000"),
}


@pytest.mark.parametrize("case", sorted(GPP_CASES))
def test_gpp_scale_mistakes_get_the_right_hint(tmp_path: Path, truth: pd.DataFrame,
                                               case: str) -> None:
    factor, what, fix = GPP_CASES[case]

    def scale(df: pd.DataFrame) -> None:
        df[TARGET] = df[TARGET] * factor

    paths = write_years(tmp_path / "in", truth, scale)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert paths[2020].name in msg and "'gpp'" in msg, msg
    assert what in msg and fix in msg, msg
    assert not (tmp_path / "ds").exists()


def test_gpp_hint_accounts_for_the_configured_scale(tmp_path: Path, truth: pd.DataFrame) -> None:
    """gpp_scale 0.01 on files already in gC m-2 d-1: the fix is gpp_scale 1."""
    write_years(tmp_path / "in", truth)
    with pytest.raises(IngestError, match=r"set build_data.files.gpp_scale: 1 \(now 0.01\)"):
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg(gpp_scale=0.01))


# ---- infinite values ------------------------------------------------------------------------


def test_inf_is_missing_and_counted(tmp_path: Path, truth: pd.DataFrame) -> None:
    def inf(df: pd.DataFrame) -> None:
        df.loc[[2, 9], "temperature_2m"] = [np.inf, -np.inf]
        df.loc[[4], TARGET] = np.inf

    write_years(tmp_path / "in", truth, inf)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg())
    s = samples(out)
    assert np.isfinite(s[list(VARS)].to_numpy(np.float64)[~s[list(VARS)].isna().to_numpy()]).all()
    assert s["temperature_2m"].isna().sum() == 2
    card = data_card(out)
    assert card["ingest"]["inf_to_nan"] == {"gpp": 1, "temperature_2m": 2}
    assert card["variables"]["temperature_2m"]["nan_share"] == pytest.approx(2 / len(s))


def test_inf_counts_toward_max_nan_share(tmp_path: Path, truth: pd.DataFrame) -> None:
    def half_inf(df: pd.DataFrame) -> None:
        df.loc[df.index % 2 == 0, "skin_temperature"] = np.inf

    write_years(tmp_path / "in", truth, half_inf)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert "'skin_temperature'" in msg and "max_nan_share = 20.0%" in msg and "50.0%" in msg


def test_inf_in_a_key_column(tmp_path: Path, truth: pd.DataFrame) -> None:
    def inf(df: pd.DataFrame) -> None:
        df["lat"] = df["lat"].astype(np.float64)
        df.loc[3, "lat"] = np.inf

    write_years(tmp_path / "in", truth.drop(columns="cell_id"), inf)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert "'lat'" in msg and "1 infinite value(s), first at row 4" in msg


# ---- coordinates ----------------------------------------------------------------------------


@pytest.mark.parametrize(("dlon", "dlat", "words"), [
    (RES / 2, -RES / 2, "cell corners (e.g. NW or SE)"),    # SE corners
    (-RES / 2, RES / 2, "cell corners (e.g. NW or SE)"),    # NW corners
    (RES / 2, 0.0, "longitudes lie on grid lines"),
    (0.0, RES / 4, "another resolution"),
])
def test_coordinates_must_be_cell_centres(tmp_path: Path, truth: pd.DataFrame, dlon: float,
                                          dlat: float, words: str) -> None:
    def shift(df: pd.DataFrame) -> None:
        df["lon"] = df["lon"] + dlon
        df["lat"] = df["lat"] + dlat

    paths = write_years(tmp_path / "in", truth.drop(columns="cell_id"), shift)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert paths[2020].name in msg and words in msg and "not a cell centre" in msg, msg
    assert "'lon'" in msg or "'lat'" in msg


def test_coordinates_within_tolerance_are_centres(tmp_path: Path, truth: pd.DataFrame) -> None:
    def jitter(df: pd.DataFrame) -> None:
        df["lon"] = df["lon"] + 0.004 * RES
        df["lat"] = df["lat"] - 0.004 * RES

    write_years(tmp_path / "in", truth.drop(columns="cell_id"), jitter)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg())
    s = samples(out)
    assert set(s["cell_id"]) == set(truth["cell_id"])
    assert set(s["lon"]) == set(truth["lon"])  # stored as exact centres


# ---- inputs without gpp ---------------------------------------------------------------------


def test_inputs_without_gpp_ingest_for_prediction(tmp_path: Path, truth: pd.DataFrame) -> None:
    write_years(tmp_path / "in", truth, drop=(TARGET,))
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg(), require_target=False)
    s = samples(out)
    assert len(s) == len(truth) and s[TARGET].isna().all()
    np.testing.assert_allclose(
        s["temperature_2m"],
        truth.sort_values(["year", "cell_id", "period"])["temperature_2m"], rtol=1e-6)
    card = data_card(out)
    assert card["samples_with_gpp"]["total"] == 0
    assert len(card["ingest"]["gpp_absent"]) == 2


def test_training_dataset_without_gpp_fails_clearly(tmp_path: Path,
                                                    truth: pd.DataFrame) -> None:
    write_years(tmp_path / "in", truth, drop=(TARGET,))
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert "no observed GPP in year 2019" in msg and "no gpp column" in msg
    assert "climate2gpp_2019.parquet" in msg and "stcg ingest" in msg
    assert not (tmp_path / "ds").exists()


# ---- a dataset whose Parquet lacks a variable of meta.json ---------------------------------


def test_variable_missing_from_parquet_is_one_line(tmp_path: Path, truth: pd.DataFrame) -> None:
    write_years(tmp_path / "in", truth)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg())
    (part,) = sorted((out / "samples" / "year=2020").glob("*.parquet"))
    pd.read_parquet(part).drop(columns=["snow_cover"]).to_parquet(part)
    for call in (lambda: load_dense(out), lambda: data_card(out)):
        with pytest.raises(DatasetError) as err:
            call()
        msg = one_line(err)
        assert str(part) in msg and "['snow_cover']" in msg and "dvc repro build_data" in msg


# ---- params ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("files", "name"), [
    ({"max_gpp_nan_share": 1.5}, "max_gpp_nan_share"),
    ({"max_nan_share": -0.1}, "max_nan_share"),
    ({"gpp_scale": 0.0}, "gpp_scale"),
])
def test_files_params_are_checked(files: dict, name: str) -> None:
    with pytest.raises((ConfigError, ValueError), match=f"build_data.files.{name}"):
        make_cfg(**files)


def test_cli_ingest_without_gpp(tmp_path: Path, truth: pd.DataFrame) -> None:
    import yaml
    from typer.testing import CliRunner

    from stcg.cli import app

    write_years(tmp_path / "in", truth, drop=(TARGET,))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"profile": "default", "build_data": {
        "source": "files", "seed": 0, "resolution": RES, "variables": list(VARS),
        "splits": {"train_years": [2019, 2019], "test_years": [2020, 2020]}}}))
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "in"), str(tmp_path / "ds"),
                                   "--params", str(params)])
    assert res.exit_code == 0, res.output
    assert read_samples(tmp_path / "ds")[TARGET].isna().all()
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope"), str(tmp_path / "ds2"),
                                   "--params", str(params)])
    assert res.exit_code == 1 and "input directory not found" in res.output
    assert "Traceback" not in res.output


def test_read_samples_names_a_missing_column(tmp_path: Path, truth: pd.DataFrame) -> None:
    write_years(tmp_path / "in", truth)
    out = tmp_path / "ds"
    build_from_files(tmp_path / "in", out, make_cfg())
    with pytest.raises(DatasetError) as err:
        read_samples(out, columns=["cell_id", "t2m"])
    assert "['t2m']" in one_line(err)


def test_gpp_outlier_gets_no_scale_hint(tmp_path: Path, truth: pd.DataFrame) -> None:
    """One value above the range is not a scale slip: the message says the range only."""
    def outlier(df: pd.DataFrame) -> None:
        df.loc[10, TARGET] = 45.0

    write_years(tmp_path / "in", truth, outlier)
    with pytest.raises(IngestError) as err:
        build_from_files(tmp_path / "in", tmp_path / "ds", make_cfg())
    msg = one_line(err)
    assert "got 45 at row 11" in msg and "gpp_scale" not in msg, msg
