"""``stcg gee-export`` without Earth Engine: the recipe, the aggregation rules against a hand-made
daily series, the task plan, and resumability against a fake task backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stcg.data import gee
from stcg.data.gee import ExportRecipe, ExportUnit, TaskInfo, run_export
from stcg.data.schema import VARIABLES
from stcg.io import read_json

D = dt.date


# ---- aggregation rules ----------------------------------------------------------------------


def test_agg_rule_matches_schema() -> None:
    """Sums for the flow bands (radiation, heat fluxes, evaporation, precipitation)."""
    for name, spec in VARIABLES.items():
        assert gee.agg_rule(name) == spec.agg, name
    sums = sorted(v for v in VARIABLES if gee.agg_rule(v) == "sum")
    assert sums == sorted([
        "total_precipitation_sum", "surface_solar_radiation_downwards_sum",
        "surface_net_solar_radiation_sum", "surface_thermal_radiation_downwards_sum",
        "surface_net_thermal_radiation_sum", "surface_latent_heat_flux_sum",
        "surface_sensible_heat_flux_sum", "total_evaporation_sum", "potential_evaporation_sum",
    ])


def _daily(start: dt.date, stop: dt.date) -> tuple[list[dt.date], np.ndarray]:
    """Value = day of year, for a sum band and a mean band."""
    dates = [start + dt.timedelta(days=i) for i in range((stop - start).days)]
    doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)
    return dates, np.stack([doy, doy], axis=1)


def test_aggregation_against_hand_made_daily_series() -> None:
    bands = ["total_precipitation_sum", "temperature_2m"]
    dates, values = _daily(D(2019, 12, 20), D(2021, 1, 1))
    keys, out = gee.aggregate_daily(dates, values, bands)
    # 2019-12-20 is inside period 44 of 2019 (19..26 December): incomplete, left out
    assert keys[0] == (2019, 45) and keys[-1] == (2020, 45) and len(keys) == 47
    got = dict(zip(keys, out.tolist(), strict=True))
    assert got[(2019, 45)] == [361 + 362 + 363 + 364 + 365, 363.0]   # 5 days
    assert got[(2020, 0)] == [36.0, 4.5]                             # days 1..8
    assert got[(2020, 7)] == [sum(range(57, 65)), 60.5]               # holds 29 February
    assert got[(2020, 45)] == [sum(range(361, 367)), 363.5]          # 6 days, leap year
    # a trend: the sum is 8 x the mean on full periods only
    np.testing.assert_allclose(out[1:-1, 0], 8 * out[1:-1, 1])


def test_aggregation_checks_shapes() -> None:
    with pytest.raises(ValueError, match="D=2"):
        gee.aggregate_daily([D(2001, 1, 1), D(2001, 1, 2)], np.zeros((3, 1)), ["temperature_2m"])


# ---- recipe and plan ------------------------------------------------------------------------


def test_default_recipe_is_the_papers() -> None:
    r = ExportRecipe()
    assert (r.start, r.end, r.resolution, r.pml) == (D(2001, 1, 1), D(2020, 12, 17), 0.5, "v017")
    assert r.pml_version.collection == "CAS/IGSNRR/PML/V2_v017"
    assert r.effective_gpp_scale == 1.0
    assert ExportRecipe(pml="v22a").effective_gpp_scale == 0.01
    assert ExportRecipe(pml="v22a", gpp_scale=0.02).effective_gpp_scale == 0.02
    assert r.variables == tuple(VARIABLES) and len(r.variables) == 26
    assert r.all_years == tuple(range(2001, 2021)) and len(r.periods) == 918
    assert r.grid_rows == 300 and r.effective_mask_year == 2001
    assert r.bands[0] == "land_cover" and r.bands[-1] == "gpp"
    info = r.to_json()
    assert info["collections"]["era5_land"] == "ECMWF/ERA5_LAND/DAILY_AGGR"
    assert info["collections"]["land_cover"] == "MODIS/061/MCD12C1:Majority_Land_Cover_Type_1"
    assert info["aggregation"]["surface_latent_heat_flux_sum"] == "sum"
    assert info["aggregation"]["snow_cover"] == "mean"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"pml": "v99"}, "pml"),
    ({"end": D(2000, 1, 1)}, "before"),
    ({"start": D(2001, 1, 2), "end": D(2001, 1, 9)}, "no complete"),
    ({"resolution": 0.7}, "does not divide"),
    ({"min_lat": -61.0, "resolution": 2.5}, "min_lat"),
    ({"years": (1999,)}, "outside"),
    ({"variables": ("t2m",)}, "unknown variable"),
    ({"prefix": "a/b"}, "prefix"),
    ({"file_format": "zarr"}, "file_format"),
    ({"gpp_scale": 0.0}, "positive"),
])
def test_recipe_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExportRecipe(**kwargs)


def test_plan_names_and_digest() -> None:
    r = ExportRecipe()
    units = gee.plan_units(r)
    assert [u.year for u in units] == list(range(2001, 2021))
    assert units[0].periods == tuple(range(46)) and units[-1].periods == tuple(range(44))
    assert units[0].description == f"stcg_r0p5_{r.digest}_2001"
    assert units[0].file_prefix == f"climate2gpp_r0p5_{r.digest}_2001"
    assert len({u.description for u in units}) == 20
    # the digest follows what changes the numbers, not where the files go
    assert ExportRecipe(folder="x", destination="gcs", years=(2003,)).digest == r.digest
    for other in (ExportRecipe(resolution=1.0), ExportRecipe(pml="v22a"),
                  ExportRecipe(end=D(2020, 12, 31)), ExportRecipe(variables=("temperature_2m",)),
                  ExportRecipe(file_format="geotiff")):
        assert other.digest != r.digest
    tif = gee.plan_units(ExportRecipe(file_format="geotiff", years=(2020,)))
    assert len(tif) == 44 and tif[-1].file_prefix.endswith("_2020_p43")
    assert gee.resolution_tag(2.5) == "r2p5" and gee.resolution_tag(10.0) == "r10"


def test_coarsening_steps() -> None:
    """Steps of at most 12 pixels per side (144 per output pixel), on standard grids."""
    assert gee.coarsening_steps(gee.PML_RES, 0.5) == [0.05, 0.5]   # 12, then 10 per side
    assert gee.coarsening_steps(gee.PML_RES, 2.5) == [0.05, 0.5, 2.5]
    assert gee.coarsening_steps(gee.PML_RES, 10.0) == [0.05, 0.5, 5.0, 10.0]
    assert gee.coarsening_steps(0.05, 10.0) == [0.5, 5.0, 10.0]
    assert gee.coarsening_steps(0.1, 10.0) == [1.0, 10.0]
    assert gee.coarsening_steps(0.1, 0.5) == [0.5]
    assert gee.coarsening_steps(0.1, 0.25) == [0.25]
    assert gee.max_pixels(0.1, 0.5) == 36 and gee.max_pixels(gee.PML_RES, 0.05) == 13 ** 2
    for native in (gee.PML_RES, gee.MCD12C1_RES, gee.ERA5_LAND_RES):
        for res in (0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0):
            prev = native
            for step in gee.coarsening_steps(native, res):
                assert step / prev <= gee.MAX_STEP + 1e-9, (native, res)
                assert gee.max_pixels(prev, step) <= gee.MAX_PIXELS == 169
                prev = step


def test_periods_per_task_splits_a_year() -> None:
    r = ExportRecipe(years=(2001, 2020), periods_per_task=12)
    units = gee.plan_units(r)
    assert [u.periods for u in units[:4]] == [tuple(range(0, 12)), tuple(range(12, 24)),
                                              tuple(range(24, 36)), tuple(range(36, 46))]
    assert [len(u.periods) for u in units[4:]] == [12, 12, 12, 8]   # 2020 ends with period 43
    assert units[1].file_prefix == f"climate2gpp_r0p5_{r.digest}_2001_p12-p23"
    assert r.digest == ExportRecipe().digest   # same numbers, other tasks
    from stcg.data.files import year_from_path

    assert all(year_from_path(Path(f"{u.file_prefix}.csv")) == u.year for u in units)
    assert len({u.description for u in units}) == 8


def test_rounded_export_keeps_digits_and_prints_short() -> None:
    r = ExportRecipe(digits=5)
    assert r.digest != ExportRecipe().digest and r.to_json()["digits"] == 5
    q = dict(zip([*r.variables, "gpp"], gee.rounding_quanta(r), strict=True))
    assert q["temperature_2m"] == pytest.approx(0.01)
    assert q["surface_solar_radiation_downwards_sum"] == pytest.approx(1e4)
    assert q["total_precipitation_sum"] == pytest.approx(1e-4)
    assert q["gpp"] == pytest.approx(1e-3) and q["surface_pressure"] == pytest.approx(10.0)
    rng = np.random.default_rng(0)
    lo = np.array([VARIABLES[v].lo for v in r.variables] + [0.0])
    hi = np.array([VARIABLES[v].hi for v in r.variables] + [40.0])
    v = lo + rng.uniform(0, 1, (200, lo.size)) * (hi - lo)
    out = gee.round_values(v, r)
    qa = np.array(list(q.values()))
    assert np.all(np.abs(out - v) <= qa / 2 * (1 + 1e-9))       # within half a step
    np.testing.assert_allclose(out / qa, np.round(out / qa), atol=1e-6)
    # shortest repr of a rounded value has at most `digits` significant digits (+ sign, point)
    t2m = out[:, 0]
    assert max(len(repr(float(x))) for x in t2m) <= len("273.15")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"tile_scale": 32}, "tile_scale"),
    ({"periods_per_task": 0}, "periods_per_task"),
    ({"periods_per_task": 5, "file_format": "geotiff"}, "CSV exports only"),
    ({"digits": 1}, "digits"),
])
def test_new_recipe_options_are_checked(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExportRecipe(**kwargs)


def test_operation_info_keeps_the_error_message() -> None:
    failed = {"name": "projects/p/operations/XYZ", "done": True,
              "metadata": {"description": "stcg_x_2001", "state": "FAILED"},
              "error": {"code": 3, "message": "User memory limit exceeded."}}
    assert gee.operation_info(failed) == TaskInfo("stcg_x_2001", "FAILED", "XYZ",
                                                  "User memory limit exceeded.")
    running = {"name": "projects/p/operations/A", "metadata": {"description": "d",
                                                               "state": "PENDING"}}
    assert gee.operation_info(running) == TaskInfo("d", "READY", "A", None)


def test_parse_years() -> None:
    assert gee.parse_years("2001-2003,2010") == (2001, 2002, 2003, 2010)
    assert gee.parse_years(None) is None
    with pytest.raises(ValueError, match="years"):
        gee.parse_years("20x1")


# ---- resumability ---------------------------------------------------------------------------


class FakeBackend:
    """Earth Engine's task list, in memory."""

    def __init__(self) -> None:
        self.tasks: list[TaskInfo] = []
        self.started: list[str] = []
        self.fail_on: str | None = None
        self.on_list = None

    def list_tasks(self) -> list[TaskInfo]:
        if self.on_list is not None:
            self.on_list(self)
        return list(reversed(self.tasks))

    def start(self, unit: ExportUnit) -> str:
        if unit.description == self.fail_on:
            raise ConnectionError("network down")
        tid = f"T{len(self.tasks)}"
        self.tasks.append(TaskInfo(unit.description, "READY", tid))
        self.started.append(unit.description)
        return tid

    def set_state(self, description: str, state: str, error: str | None = None) -> None:
        self.tasks = [TaskInfo(t.description, state, t.task_id, error)
                      if t.description == description else t for t in self.tasks]


def _run(recipe: ExportRecipe, backend, tmp: Path, **kw) -> dict[str, int]:
    return run_export(recipe, backend, tmp / "manifest.json", tmp / "files", progress=False,
                      log=lambda m: None, sleep=lambda s: None, **kw)


def test_export_is_idempotent_and_resumable(tmp_path: Path) -> None:
    recipe = ExportRecipe(years=(2001, 2002, 2003))
    names = [u.description for u in gee.plan_units(recipe)]
    fake = FakeBackend()
    assert _run(recipe, fake, tmp_path) == {"SUBMITTED": 3}
    assert fake.started == names
    # running tasks are left alone
    assert _run(recipe, fake, tmp_path) == {"RUNNING": 3}
    assert fake.started == names
    # one completes, one fails: only the failed one is submitted again
    fake.set_state(names[0], "COMPLETED")
    fake.set_state(names[1], "FAILED", "Out of memory")
    assert _run(recipe, fake, tmp_path) == {"COMPLETED": 1, "SUBMITTED": 1, "RUNNING": 1}
    assert fake.started == [*names, names[1]]
    manifest = read_json(tmp_path / "manifest.json")
    assert manifest["units"][names[0]]["state"] == "COMPLETED"
    assert manifest["recipes"][recipe.digest]["pml"] == "CAS/IGSNRR/PML/V2_v017"
    # completed tasks drop off Earth Engine's list: the manifest still knows
    fake.tasks = [t for t in fake.tasks if t.description != names[0]]
    assert _run(recipe, fake, tmp_path)["COMPLETED"] == 1
    # downloaded files count as done, whatever the task list says
    files = tmp_path / "files"
    files.mkdir()
    (files / f"{gee.plan_units(recipe)[2].file_prefix}.csv").write_text("x")
    counts = _run(recipe, fake, tmp_path)
    assert counts["DOWNLOADED"] == 1
    assert fake.started == [*names, names[1]]


def test_interrupted_submission_resumes(tmp_path: Path) -> None:
    recipe = ExportRecipe(years=(2001, 2002, 2003))
    names = [u.description for u in gee.plan_units(recipe)]
    fake = FakeBackend()
    fake.fail_on = names[1]
    with pytest.raises(ConnectionError):
        _run(recipe, fake, tmp_path)
    manifest = read_json(tmp_path / "manifest.json")  # saved after the first submission
    assert manifest["units"][names[0]]["state"] == "SUBMITTED"
    fake.fail_on = None
    assert _run(recipe, fake, tmp_path) == {"RUNNING": 1, "SUBMITTED": 2}
    assert fake.started == names


def test_wait_polls_until_done(tmp_path: Path) -> None:
    recipe = ExportRecipe(years=(2001, 2002))
    names = [u.description for u in gee.plan_units(recipe)]
    fake = FakeBackend()
    polls = []

    def progress(backend: FakeBackend) -> None:
        polls.append(1)
        if len(polls) == 3:
            backend.set_state(names[0], "RUNNING")
        if len(polls) == 4:
            backend.set_state(names[0], "COMPLETED")
            backend.set_state(names[1], "FAILED", "Too many pixels")

    fake.on_list = progress
    counts = _run(recipe, fake, tmp_path, wait=True)
    assert counts == {"COMPLETED": 1, "FAILED": 1} and len(polls) == 4
    manifest = read_json(tmp_path / "manifest.json")
    assert manifest["units"][names[1]]["error"] == "Too many pixels"


def test_wait_gives_up_on_tasks_that_vanish(tmp_path: Path) -> None:
    recipe = ExportRecipe(years=(2001,))
    fake = FakeBackend()
    fake.on_list = lambda b: b.tasks.clear() if b.started else None
    assert _run(recipe, fake, tmp_path, wait=True) == {"UNKNOWN": 1}


def test_geotiff_tiles_count_as_downloaded(tmp_path: Path) -> None:
    recipe = ExportRecipe(years=(2001,), file_format="geotiff")
    units = gee.plan_units(recipe)
    files = tmp_path / "files"
    files.mkdir()
    (files / f"{units[0].file_prefix}-0000000000-0000000000.tif").write_text("x")
    (files / f"{units[1].file_prefix}.tif").write_text("x")
    (files / f"{units[10].file_prefix}.csv").write_text("x")  # not the unit's format
    fake = FakeBackend()
    counts = _run(recipe, fake, tmp_path)
    assert counts == {"DOWNLOADED": 2, "SUBMITTED": 44}
    assert read_json(files / "bands.json")["bands"] == recipe.bands


def test_dry_run_submits_and_writes_nothing(tmp_path: Path) -> None:
    counts = _run(ExportRecipe(years=(2001, 2002)), None, tmp_path)
    assert counts == {"PLANNED": 2}
    assert not (tmp_path / "manifest.json").exists() and not (tmp_path / "files").exists()


def test_cli_dry_run_and_missing_ee(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stcg.cli import app

    runner = CliRunner()
    args = ["gee-export", "--years", "2019-2020", "--local-dir", str(tmp_path / "f"),
            "--manifest", str(tmp_path / "m.json")]
    res = runner.invoke(app, [*args, "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "PLANNED=2" in res.stdout
    assert "CAS/IGSNRR/PML/V2_v017" in res.output and "_2020: PLANNED" in res.output
    res = runner.invoke(app, [*args, "--dry-run", "--pml", "nope"])
    assert res.exit_code == 2 and "pml" in res.output

    def no_ee(*a, **k):
        raise gee.GeeUnavailable("stcg gee-export needs the Earth Engine Python API")

    monkeypatch.setattr(gee, "init_ee", no_ee)
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "Earth Engine Python API" in res.output
    assert not (tmp_path / "m.json").exists()


def test_export_names_and_columns_are_what_ingestion_reads(tmp_path: Path) -> None:
    """The exporter's file names, CSV columns and GeoTIFF bands match what `files` reads."""
    from stcg.data.files import period_from_path, year_from_path

    from ._ee_fixtures import truth_frame, write_ee_csv

    for res in (0.5, 2.5, 10.0):
        for unit in gee.plan_units(ExportRecipe(resolution=res)):
            assert year_from_path(Path(f"{unit.file_prefix}.csv")) == unit.year
        for unit in gee.plan_units(ExportRecipe(resolution=res, file_format="geotiff",
                                                years=(2004, 2020))):
            tile = Path(f"{unit.file_prefix}-0000000000-0000000256.tif")
            assert (year_from_path(tile), period_from_path(tile)) == (unit.year, unit.periods[0])
    csv = write_ee_csv(tmp_path / "x_2019.csv", truth_frame(years=(2019,)).head(3))
    assert csv.read_text().splitlines()[0].split(",") == gee.table_selectors(ExportRecipe())


def test_cli_split_digits_tile_scale(tmp_path: Path) -> None:
    from stcg.cli import app

    res = CliRunner().invoke(app, [
        "gee-export", "--years", "2019-2020", "--local-dir", str(tmp_path / "f"),
        "--manifest", str(tmp_path / "m.json"), "--dry-run", "--periods-per-task", "12",
        "--digits", "5", "--tile-scale", "8"])
    assert res.exit_code == 0, res.output
    assert "PLANNED=8" in res.stdout and '"digits": 5' in res.output
    assert '"tile_scale": 8' in res.output and "_2019_p12-p23: PLANNED" in res.output
    res = CliRunner().invoke(app, ["gee-export", "--dry-run", "--tile-scale", "0"])
    assert res.exit_code == 2 and "tile_scale" in res.output


def test_rounded_csv_is_narrower_and_ingests_within_half_a_step(tmp_path: Path) -> None:
    """On the offline fixtures: ``--digits 5`` shrinks Earth Engine's CSV, and what ingestion
    reads back is the truth within half a rounding step."""
    from stcg.config import from_dict
    from stcg.data.config import BuildDataConfig
    from stcg.data.dataset import read_samples
    from stcg.data.files import build_from_files

    from ._ee_fixtures import RES, truth_frame, write_ee_csv

    recipe = ExportRecipe(digits=5)
    cols = [*recipe.variables, "gpp"]
    truth = truth_frame()
    rounded = truth.copy()
    rounded[cols] = gee.round_values(truth[cols].to_numpy(), recipe)
    sizes = {}
    for name, df in (("full", truth), ("digits", rounded)):
        for y in (2019, 2020):
            write_ee_csv(tmp_path / name / f"climate2gpp_{y}.csv", df[df.year == y])
        sizes[name] = sum(f.stat().st_size for f in (tmp_path / name).glob("*.csv")) / len(df)
    assert sizes["digits"] < 0.7 * sizes["full"], sizes
    cfg = from_dict(BuildDataConfig, {
        "source": "files", "seed": 0, "resolution": RES, "variables": list(recipe.variables),
        "splits": {"train_years": [2019, 2019], "test_years": [2020, 2020]}})
    build_from_files(tmp_path / "digits", tmp_path / "ds", cfg)
    got = read_samples(tmp_path / "ds").sort_values(["year", "cell_id", "period"])
    want = truth.sort_values(["year", "cell_id", "period"])
    q = np.array(gee.rounding_quanta(recipe))
    diff = np.abs(got[cols].to_numpy(np.float64) - want[cols].to_numpy(np.float64))
    tol = q / 2 + 1e-6 * np.abs(want[cols].to_numpy(np.float64))   # float32 storage
    assert np.all((diff <= tol) | np.isnan(diff))
