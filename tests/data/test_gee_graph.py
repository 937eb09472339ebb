"""The Earth Engine computation graph of ``stcg gee-export``, built offline.

Earth Engine objects normally need ``ee.Initialize()`` (credentials and a server round trip for
the algorithm list).  ``earthengine-api`` ships its own offline test harness,
``ee.apitestcase.ApiTestCase``, which initialises the client from the algorithm list bundled in
the wheel; with it the real ``ee`` objects and export tasks are built and serialised without any
network, and these tests read the serialised graph: which collections, which bands are summed and
which averaged over which dates, the spatial reducers, the grid and the task configuration.
What they cannot check is what the server computes; that needs a run with Earth Engine
credentials.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ee = pytest.importorskip("ee", reason="earthengine-api (optional extra 'gee') is not installed")

from stcg.data import gee  # noqa: E402
from stcg.data.periods import period_bounds  # noqa: E402
from stcg.data.schema import VARIABLES  # noqa: E402

SUMS = [v for v in VARIABLES if v.endswith("_sum")]
MEANS = [v for v in VARIABLES if not v.endswith("_sum")]


@pytest.fixture()
def ee_offline() -> Iterator[Any]:
    """``ee`` initialised offline by the library's own test harness."""
    from ee import apitestcase

    case = apitestcase.ApiTestCase()
    case.setUp()
    try:
        yield ee
    finally:
        case.tearDown()


def encode(obj: Any) -> dict:
    return ee.serializer.encode(obj, is_compound=False, for_cloud_api=True)


def calls(node: Any, name: str | None = None) -> Iterator[dict]:
    """Every function invocation (optionally of ``name``) in a serialised graph."""
    if isinstance(node, dict):
        fiv = node.get("functionInvocationValue")
        if fiv is not None and (name is None or fiv["functionName"] == name):
            yield fiv
        for v in node.values():
            yield from calls(v, name)
    elif isinstance(node, list):
        for v in node:
            yield from calls(v, name)


def const(arg: dict) -> Any:
    return arg["constantValue"]


def temporal_reductions(graph: dict, kind: str) -> list[tuple[str, list[str], tuple[str, str]]]:
    """(collection id, bands, (start, stop)) of every ``reduce.<kind>`` over a date-filtered
    collection."""
    out = []
    for fiv in calls(graph, f"reduce.{kind}"):
        ids = {const(c["arguments"]["id"]) for c in calls(fiv, "ImageCollection.load")}
        sel = next(calls(fiv, "Image.select"))["arguments"]["bandSelectors"]
        dr = next(calls(fiv, "DateRange"))["arguments"]
        (cid,) = ids
        out.append((cid, list(const(sel)), (const(dr["start"]), const(dr["end"]))))
    return out


def iso(year: int, period: int) -> tuple[str, str]:
    a, b = period_bounds(year, period)
    return a.isoformat(), b.isoformat()


def test_csv_year_graph(ee_offline: Any) -> None:
    recipe = gee.ExportRecipe(years=(2001,))
    (unit,) = gee.plan_units(recipe)
    task = gee.make_task(ee_offline, recipe, unit)
    cfg = task.config
    assert cfg["description"] == unit.description
    assert cfg["fileExportOptions"] == {
        "fileFormat": "CSV",
        "driveDestination": {"folder": "stcg_climate2gpp", "filenamePrefix": unit.file_prefix},
    }
    assert cfg["selectors"] == ["system:index", "land_cover", "year", "period", *VARIABLES,
                                "gpp", ".geo"]
    graph = encode(cfg["expression"])
    loads = {const(c["arguments"]["id"]) for c in calls(graph, "ImageCollection.load")}
    assert loads == {"ECMWF/ERA5_LAND/DAILY_AGGR", "MODIS/061/MCD12C1", "CAS/IGSNRR/PML/V2_v017"}

    # ERA5-Land: *_sum bands summed, the others averaged, over each of the 46 periods of 2001
    periods = {iso(2001, p) for p in range(46)}
    sums = temporal_reductions(graph, "sum")
    assert {s[0] for s in sums} == {"ECMWF/ERA5_LAND/DAILY_AGGR"}
    assert all(s[1] == SUMS for s in sums)
    assert {s[2] for s in sums} == periods
    means = temporal_reductions(graph, "mean")
    era5_means = [m for m in means if m[0] == "ECMWF/ERA5_LAND/DAILY_AGGR"]
    assert all(m[1] == MEANS for m in era5_means) and {m[2] for m in era5_means} == periods
    assert ("2001-12-27", "2002-01-01") in periods  # the 5-day last period
    # PML_V2 GPP: the image of each period, averaged with a masked stand-in, no scale factor
    pml = [m for m in means if m[0] == "CAS/IGSNRR/PML/V2_v017"]
    assert all(m[1] == ["GPP"] for m in pml) and {m[2] for m in pml} == periods
    assert not list(calls(graph, "Image.multiply"))

    # MCD12C1 majority land cover of the year (and of the mask year, also 2001 here)
    lc = [c for c in calls(graph, "Collection.filter")
          if any(const(x["arguments"]["id"]) == "MODIS/061/MCD12C1"
                 for x in calls(c, "ImageCollection.load"))]
    ranges = {(const(d["arguments"]["start"]), const(d["arguments"]["end"]))
              for c in lc for d in calls(c, "DateRange")}
    assert ranges == {("2001-01-01", "2002-01-01")}
    selects = {tuple(const(s["arguments"]["bandSelectors"])) for s in calls(graph, "Image.select")}
    assert ("Majority_Land_Cover_Type_1",) in selects
    remap = next(calls(graph, "Image.remap"))["arguments"]
    assert const(remap["from"]) == [0, 15] and const(remap["to"]) == [0, 0]

    # spatial reduction to the 0.5-degree grid: mean (ERA5, GPP) and mode (land cover)
    reducers = {next(iter(calls(r["arguments"]["reducer"])))["functionName"]
                for r in calls(graph, "Image.reduceResolution")}
    assert reducers == {"Reducer.mean", "Reducer.mode"}
    transforms = {tuple(const(p["arguments"]["transform"])) for p in calls(graph, "Projection")
                  if "transform" in p["arguments"]}
    assert (0.5, 0, -180, 0, -0.5, 90) in transforms
    assert list(calls(graph, "Image.setDefaultProjection"))  # composites get their grid back
    rr = list(calls(graph, "Image.reduceRegions"))
    assert len(rr) == 46
    assert all(next(calls(r["arguments"]["reducer"]))["functionName"] == "Reducer.first"
               for r in rr)
    assert all(const(r["arguments"]["crsTransform"]) == [0.5, 0, -180, 0, -0.5, 90] for r in rr)
    sets = [c["arguments"] for c in calls(graph, "Element.set")]
    years = {const(a["value"]) for a in sets if const(a["key"]) == "year"}
    periods_set = {const(a["value"]) for a in sets if const(a["key"]) == "period"}
    assert years == {2001} and periods_set == set(range(46))


def test_last_year_of_the_papers_span(ee_offline: Any) -> None:
    recipe = gee.ExportRecipe(years=(2020,), variables=("temperature_2m",
                                                        "total_precipitation_sum"))
    (unit,) = gee.plan_units(recipe)
    graph = encode(gee.make_task(ee_offline, recipe, unit).config["expression"])
    sums = temporal_reductions(graph, "sum")
    assert [s[1] for s in sums][0] == ["total_precipitation_sum"]
    assert {s[2] for s in sums} == {iso(2020, p) for p in range(44)}
    assert max(s[2] for s in sums) == ("2020-12-10", "2020-12-18")


def test_pml_v22a_scale_and_geotiff_to_gcs(ee_offline: Any) -> None:
    recipe = gee.ExportRecipe(pml="v22a", resolution=2.5, file_format="geotiff",
                              destination="gcs", folder="my-bucket", years=(2019,))
    units = gee.plan_units(recipe)
    assert len(units) == 46 and units[7].periods == (7,)
    task = gee.make_task(ee_offline, recipe, units[7])
    cfg = task.config
    assert cfg["fileExportOptions"] == {
        "fileFormat": "GEO_TIFF",
        "cloudStorageDestination": {"bucket": "my-bucket", "filenamePrefix": units[7].file_prefix},
        "geoTiffOptions": {"noData": {"floatValue": -9999.0}},
    }
    graph = encode(cfg["expression"])
    pml = [m for m in temporal_reductions(graph, "mean")
           if m[0] == "projects/pml_evapotranspiration/PML/OUTPUT/PML_V22a"]
    assert {m[2] for m in pml} == {iso(2019, 7)}  # (the graph holds the image twice)
    factors = [const(a) for m in calls(graph, "Image.multiply")
               for a in calls(m["arguments"]["image2"], "Image.constant")
               for a in [a["arguments"]["value"]]]
    assert set(factors) == {0.01}
    # the whole grid from 90N to 60S: 144 x 60 pixels of 2.5 degrees
    clip = next(calls(graph, "Image.clipToBoundsAndScale"))["arguments"]
    rect = next(calls(clip["geometry"], "GeometryConstructors.Rectangle"))["arguments"]
    assert const(rect["coordinates"]) == [0, 0, 144, 60]
    # PML_V2's ~500 m pixels reach 2.5 degrees through 0.5 degrees
    transforms = [tuple(const(p["arguments"]["transform"])) for p in calls(graph, "Projection")
                  if "transform" in p["arguments"]]
    assert (0.5, 0, -180, 0, -0.5, 90) in transforms
    assert (2.5, 0, -180, 0, -2.5, 90) in transforms
    bands = [tuple(const(c["arguments"]["names"])) for c in calls(graph, "Image.rename")]
    assert ("gpp",) in bands and ("land_cover",) in bands


def test_ee_backend_lists_and_starts(ee_offline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """EeBackend maps Earth Engine's task list and starts the unit's task (server stubbed)."""
    recipe = gee.ExportRecipe(years=(2005,), variables=("temperature_2m",))
    (unit,) = gee.plan_units(recipe)
    started = {}

    def fake_export_table(request_id: str, params: dict) -> dict:
        started["params"] = params
        return {"name": f"projects/p/operations/{request_id}"}

    monkeypatch.setattr(ee.data, "exportTable", fake_export_table)
    monkeypatch.setattr(ee.data, "listOperations", lambda project=None: [{
        "name": "projects/p/operations/ABC",
        "metadata": {"description": unit.description, "state": "SUCCEEDED",
                     "type": "EXPORT_FEATURES"},
        "done": True,
    }])
    backend = gee.EeBackend(ee_offline, recipe)
    (info,) = backend.list_tasks()
    assert info.description == unit.description and info.state == "COMPLETED"
    task_id = backend.start(unit)
    assert task_id and started["params"]["description"] == unit.description


def test_import_ee_error_is_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ee", None)
    with pytest.raises(gee.GeeUnavailable, match=r"pip install -e '\.\[gee\]'"):
        gee.import_ee()


def test_dates_are_iso() -> None:
    assert iso(2001, 0) == ("2001-01-01", "2001-01-09")
    assert dt.date.fromisoformat(iso(2020, 45)[1]) == dt.date(2021, 1, 1)


def reduce_resolution_steps(graph: dict) -> list[dict]:
    """Every ``reduceResolution`` of a serialised graph, with ``maxPixels``."""
    return [r["arguments"] for r in calls(graph, "Image.reduceResolution")]


@pytest.mark.parametrize(("file_format", "resolution"), [("csv", 0.5), ("geotiff", 2.5),
                                                         ("csv", 10.0)])
def test_no_reduce_resolution_step_exceeds_max_pixels(ee_offline: Any, file_format: str,
                                                      resolution: float) -> None:
    """Walk the whole task graph: every step combines at most 12 x 12 input pixels per output
    pixel and asks for at most MAX_PIXELS; PML_V2 goes 1/240 -> 0.05 -> 0.5 degree."""
    recipe = gee.ExportRecipe(years=(2003,), resolution=resolution, file_format=file_format,
                              variables=("temperature_2m", "total_precipitation_sum"))
    unit = gee.plan_units(recipe)[0]
    graph = encode(gee.make_task(ee_offline, recipe, unit).config["expression"])
    steps = reduce_resolution_steps(graph)
    assert steps
    pixels = [const(s["maxPixels"]) for s in steps]
    assert max(pixels) <= gee.MAX_PIXELS == 169, pixels
    # the reprojection after each step: PML's chain passes through 0.05 and 0.5 degrees
    scales = {const(p["arguments"]["transform"])[0] for p in calls(graph, "Projection")
              if "transform" in p["arguments"]}
    assert {0.05, 0.5, resolution} <= scales
    assert 169 in pixels   # the 1/240 -> 0.05 step (12 x 12 pixels plus margin)


def test_old_single_step_would_have_exceeded(ee_offline: Any) -> None:
    """The check above can fail: a one-step 1/240 -> 0.5 reduction asks for 121 x 121."""
    image = ee_offline.Image.constant(1)
    one = gee.coarsen(ee_offline, image, ee_offline.Reducer.mean(), gee.PML_RES, 0.5)
    assert max(const(s["maxPixels"]) for s in reduce_resolution_steps(encode(one))) == 169
    big = image.reduceResolution(reducer=ee_offline.Reducer.mean(),
                                 maxPixels=gee.max_pixels(gee.PML_RES, 0.5))
    assert const(reduce_resolution_steps(encode(big))[0]["maxPixels"]) == 121 ** 2 > 169


def test_tile_scale_split_and_digits_reach_the_graph(ee_offline: Any) -> None:
    recipe = gee.ExportRecipe(years=(2001,), periods_per_task=12, tile_scale=8, digits=5,
                              variables=("temperature_2m", "surface_solar_radiation_downwards_sum"))
    units = gee.plan_units(recipe)
    assert len(units) == 4
    graph = encode(gee.make_task(ee_offline, recipe, units[1]).config["expression"])
    rr = list(calls(graph, "Image.reduceRegions"))
    assert len(rr) == 12                                   # periods 12..23 only
    assert {const(r["arguments"]["tileScale"]) for r in rr} == {8}
    periods = {const(c["arguments"]["value"]) for c in calls(graph, "Element.set")
               if const(c["arguments"]["key"]) == "period"}
    assert periods == set(range(12, 24))
    assert list(calls(graph, "Image.round")) and list(calls(graph, "Image.toDouble"))
    consts = {tuple(const(c["arguments"]["value"])) for c in calls(graph, "Image.constant")
              if isinstance(const(c["arguments"]["value"]), list)}
    up, down = gee.rounding_factors(recipe)
    assert tuple(up) in consts and tuple(down) in consts
    assert up == [100.0, 1.0, 1000.0] and down == [1.0, 1e4, 1.0]


def test_wait_prints_the_error_of_failed_tasks(ee_offline: Any, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """Through a fake of Earth Engine's operations API: a task that fails while --wait polls
    prints its error message, which is also kept in the manifest."""
    recipe = gee.ExportRecipe(years=(2005,), variables=("temperature_2m",))
    (unit,) = gee.plan_units(recipe)
    polls: list[int] = []

    def list_operations(project: str | None = None) -> list[dict]:
        polls.append(1)
        op = {"name": "projects/p/operations/OP1",
              "metadata": {"description": unit.description, "state": "RUNNING"}}
        if len(polls) >= 3:
            op = {**op, "done": True, "error": {"code": 8, "message":
                                                 "User memory limit exceeded."},
                  "metadata": {**op["metadata"], "state": "FAILED"}}
        return [op]

    monkeypatch.setattr(ee.data, "listOperations", list_operations)
    lines: list[str] = []
    counts = gee.run_export(recipe, gee.EeBackend(ee_offline, recipe), tmp_path / "m.json",
                            tmp_path / "files", wait=True, log=lines.append,
                            sleep=lambda s: None, progress=False)
    assert counts == {"FAILED": 1} and len(polls) == 3
    assert f"{unit.description}: FAILED: User memory limit exceeded." in lines
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["units"][unit.key]["error"] == "User memory limit exceeded."
