"""Source ``files``: ingestion of good and bad inputs (stcg.data.files).

Good inputs: Earth Engine CSV and GeoTIFF exports (fixtures shaped exactly like them, see
``_ee_fixtures``), Parquet (hive folders, cell ids only), gridded NetCDF -- each must give back
the truth table.  Bad inputs: each test asserts that the error names the file and the column,
and that no output (nor a temporary directory) is left behind.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stcg.data.dataset import load_dense, read_cells, read_meta, read_samples
from stcg.data.files import IngestError, build_from_files, read_geotiff_file
from stcg.data.schema import TARGET, VARIABLES, cell_center, sample_columns

from ._ee_fixtures import (
    CELLS,
    RES,
    grid_image,
    make_cfg,
    truth_frame,
    write_ee_csv,
    write_ee_geotiff,
    write_geotiff,
)

VARS = tuple(VARIABLES)



@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return truth_frame()


def expected(truth: pd.DataFrame, gpp_factor: float = 1.0) -> pd.DataFrame:
    """The samples the dataset must hold: float32 values, cell-centre coordinates."""
    df = truth.copy()
    df[TARGET] = df[TARGET] * gpp_factor
    return df[sample_columns(VARS)].sort_values(["year", "cell_id", "period"], ignore_index=True)


def got(out: Path) -> pd.DataFrame:
    df = read_samples(out).sort_values(["year", "cell_id", "period"], ignore_index=True)
    return df[sample_columns(VARS)]


def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    for c in ("cell_id", "year", "period", "land_cover"):
        np.testing.assert_array_equal(a[c].to_numpy(np.int64), b[c].to_numpy(np.int64), err_msg=c)
    for c in ("lon", "lat", *VARS, TARGET):
        np.testing.assert_allclose(a[c].to_numpy(np.float64), b[c].to_numpy(np.float64),
                                   rtol=1e-6, equal_nan=True, err_msg=c)


def assert_nothing_left(out: Path) -> None:
    assert not out.exists(), f"{out} was written despite the error"
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    assert not leftovers, f"temporary output left behind: {leftovers}"


def ee_prefix(year: int) -> str:
    return f"climate2gpp_r10_0123abcd_{year}"


# ---- good inputs ----------------------------------------------------------------------------


def test_earth_engine_csv(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    for year in (2019, 2020):
        style = "plain" if year == 2019 else "geodesic"
        write_ee_csv(inp / f"{ee_prefix(year)}.csv", truth[truth.year == year], geo_style=style)
    (inp / "gee_manifest.json").write_text("{}")  # other files beside the exports are ignored
    out = tmp_path / "ds"
    meta = build_from_files(inp, out, make_cfg())
    assert meta.source == "files" and meta.years == (2019, 2020) and meta.n_cells == 6
    assert read_meta(out).n_cells == 6 and read_meta(out).train_years == (2019,)
    assert_same(got(out), expected(truth))
    # empty fields came back as NaN, exactly where the fixture had none
    assert got(out)[TARGET].isna().sum() == truth[TARGET].isna().sum() > 0
    cells = read_cells(out)
    lon, lat = cell_center(cells["cell_id"].to_numpy(), RES)
    np.testing.assert_allclose(cells["lon"], lon)
    np.testing.assert_allclose(cells["lat"], lat)
    assert sorted(cells["land_cover"]) == sorted(lc for *_, lc in CELLS)
    dense = load_dense(out)
    assert dense.x.shape == (6, 92, len(VARS))
    assert meta.extra["files"][0]["rows"] == {"2019": 276}


def test_earth_engine_geotiff_matches_csv(tmp_path: Path, truth: pd.DataFrame) -> None:
    """LZW, pixel-interleaved, described bands, tiled exports: same dataset as the CSV."""
    inp = tmp_path / "tif"
    truth = truth[truth.period.isin([0, 1, 2, 44, 45])]
    for year in (2019, 2020):
        for p in sorted(set(truth.period)):
            write_ee_geotiff(inp, f"{ee_prefix(year)}_p{p:02d}", truth, year, p,
                             tiles=2 if p % 2 else 1)
    out = tmp_path / "ds"
    build_from_files(inp, out, make_cfg())
    assert_same(got(out), expected(truth))
    assert len(list(inp.glob("*-0000000000-0000000018.tif"))) == 4  # east halves of tiled ones
    import tifffile

    with tifffile.TiffFile(next(inp.glob("*.tif"))) as tif:  # the fixture is shaped like EE's
        page = tif.pages[0]
        assert page.compression == tifffile.COMPRESSION.LZW
        assert page.planarconfig == tifffile.PLANARCONFIG.CONTIG
        assert page.samplesperpixel == len(VARS) + 2 and page.dtype == np.float32


def test_geotiff_pixel_is_point(tmp_path: Path, truth: pd.DataFrame) -> None:
    """PixelIsPoint files tie the first pixel's centre: same cells as PixelIsArea."""
    t = truth[(truth.year == 2019) & (truth.period == 5)]
    bands = ["land_cover", *VARS, TARGET]
    img = grid_image(t, 2019, 5, bands)
    a = write_geotiff(tmp_path / "area_2019_p05.tif", img, -180.0, 90.0, bands=bands)
    b = write_geotiff(tmp_path / "point_2019_p05.tif", img, -180.0, 90.0, bands=bands,
                      pixel_is_point=True)
    da = read_geotiff_file(a, VARS, RES, tmp_path)
    db = read_geotiff_file(b, VARS, RES, tmp_path)
    pd.testing.assert_frame_equal(da, db)
    assert sorted(zip(da["lon"], da["lat"], strict=True)) == sorted(
        zip(t["lon"], t["lat"], strict=True))


def test_geotiff_band_names_from_sidecar(tmp_path: Path, truth: pd.DataFrame) -> None:
    """Without GDAL band descriptions, bands.json (written by gee-export) names the bands."""
    inp = tmp_path / "tif"
    shuffled = ["gpp", "land_cover", *reversed(VARS)]
    t = truth[(truth.year == 2019) & (truth.period == 3)]
    write_geotiff(inp / f"{ee_prefix(2019)}_p03.tif", grid_image(t, 2019, 3, shuffled),
                  -180.0, 90.0, bands=None)
    (inp / "bands.json").write_text(json.dumps({"bands": shuffled, "nodata": -9999.0}))
    df = read_geotiff_file(inp / f"{ee_prefix(2019)}_p03.tif", VARS, RES, inp)
    df = df.sort_values(["lat", "lon"], ignore_index=True)
    t = t.sort_values(["lat", "lon"], ignore_index=True)
    np.testing.assert_allclose(df["lon"], t["lon"])
    np.testing.assert_allclose(df["lat"], t["lat"])
    assert (df["year"] == 2019).all() and (df["period"] == 3).all()
    for c in ("land_cover", "temperature_2m", TARGET):
        np.testing.assert_allclose(df[c], t[c], rtol=1e-6, equal_nan=True)


def test_parquet_hive_folders_and_cell_ids(tmp_path: Path, truth: pd.DataFrame) -> None:
    """Year from year=YYYY folders, location from cell_id only; gpp_scale applied."""
    inp = tmp_path / "pq"
    for year in (2019, 2020):
        t = truth[truth.year == year].drop(columns=["year", "lon", "lat"]).copy()
        t[TARGET] = t[TARGET] * 100.0
        d = inp / f"year={year}"
        d.mkdir(parents=True)
        t.to_parquet(d / "part-0.parquet")
    out = tmp_path / "ds"
    build_from_files(inp, out, make_cfg(gpp_scale=0.01))
    assert_same(got(out), expected(truth))


def test_netcdf_grid(tmp_path: Path, truth: pd.DataFrame) -> None:
    """A (time, lat, lon) NetCDF per year, dates at period starts, ocean as fill values."""
    import xarray as xr

    from stcg.data.periods import period_bounds

    inp = tmp_path / "nc"
    inp.mkdir()
    lats = 90.0 - RES * (np.arange(18) + 0.5)
    lons = -180.0 + RES * (np.arange(36) + 0.5)
    for year in (2019, 2020):
        t = truth[truth.year == year]
        data = {}
        for c in ("land_cover", *VARS, TARGET):
            a = np.full((46, 18, 36), np.nan, dtype=np.float32)
            r = np.floor((90.0 - t["lat"].to_numpy()) / RES).astype(int)
            k = np.floor((t["lon"].to_numpy() + 180.0) / RES).astype(int)
            a[t["period"].to_numpy(), r, k] = t[c].to_numpy()
            data[c] = (("time", "latitude", "longitude"), a)
        times = pd.to_datetime([period_bounds(year, p)[0] for p in range(46)])
        ds = xr.Dataset(data, coords={"time": times, "latitude": lats, "longitude": lons})
        ds.to_netcdf(inp / f"climate2gpp_{year}.nc", engine="h5netcdf")
    out = tmp_path / "ds"
    build_from_files(inp, out, make_cfg())
    assert_same(got(out), expected(truth))


def test_gzipped_csv_and_netcdf_long_table(tmp_path: Path, truth: pd.DataFrame) -> None:
    """A gzipped Earth Engine CSV for one year, a long-table NetCDF (one dimension) for the
    other."""
    import xarray as xr

    inp = tmp_path / "mixed"
    plain = write_ee_csv(tmp_path / f"{ee_prefix(2019)}.csv", truth[truth.year == 2019])
    inp.mkdir()
    (inp / f"{ee_prefix(2019)}.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    t20 = truth[truth.year == 2020].reset_index(drop=True)
    xr.Dataset.from_dataframe(t20).to_netcdf(inp / "table_2020.nc", engine="h5netcdf")
    out = tmp_path / "ds"
    build_from_files(inp, out, make_cfg())
    assert_same(got(out), expected(truth))


def test_deterministic_and_replaces_old_output(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    inp.mkdir()
    for year in (2019, 2020):
        truth[truth.year == year].to_parquet(inp / f"c_{year}.parquet")
    a, b = tmp_path / "a", tmp_path / "b"
    build_from_files(inp, a, make_cfg())
    build_from_files(inp, b, make_cfg())
    for rel in ("cells.parquet", "meta.json", "samples/year=2019/part-0.parquet",
                "samples/year=2020/part-0.parquet"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    (a / "stale.txt").write_text("old")
    build_from_files(inp, a, make_cfg())
    assert not (a / "stale.txt").exists()


# ---- bad inputs -----------------------------------------------------------------------------


def _csv_case(truth: pd.DataFrame, change) -> dict[int, pd.DataFrame]:
    frames = {y: truth[truth.year == y].copy() for y in (2019, 2020)}
    change(frames[2020])
    return frames


def _set(col, fn):
    def change(df: pd.DataFrame) -> None:
        df[col] = fn(df[col])
    return change


BAD_CSV = {
    # name: (change to the 2020 frame, column named, words in the message)
    "degC": (_set("temperature_2m", lambda s: s - 273.15), "temperature_2m", "degC"),
    "mm": (_set("total_precipitation_sum", lambda s: s * 1000.0), "total_precipitation_sum",
           "mm"),
    "hPa": (_set("surface_pressure", lambda s: s / 100.0), "surface_pressure", "hPa"),
    "percent_soil_water": (_set("volumetric_soil_water_layer_2", lambda s: s * 100.0),
                           "volumetric_soil_water_layer_2", "percent"),
    "W_m2": (_set("surface_solar_radiation_downwards_sum", lambda s: s / (86400.0 * 8)),
             "surface_solar_radiation_downwards_sum", "W m-2"),
    "gpp_x100": (_set(TARGET, lambda s: s * 100.0), TARGET, "gpp_scale: 0.01"),
    "too_many_nan": (_set("skin_temperature", lambda s: s.where(s.index % 3 == 0)),
                     "skin_temperature", "max_nan_share"),
    "period_46": (_set("period", lambda s: s.where(s != 45, 46)), "period", "0..45"),
    "land_cover_17": (_set("land_cover", lambda s: s.where(s != 12, 17)), "land_cover",
                      "IGBP"),
    "year_outside": (_set("year", lambda s: s * 0 + 2021), "year", "splits"),
    "duplicates": (lambda df: df.__setitem__("period", df["period"] // 2), "cell_id",
                   "duplicated"),
    "polygon_geo": (None, ".geo", "Point"),
    "other_resolution": (_set("lon", lambda s: s + 2.5), ".geo", "another resolution"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_earth_engine_csv(tmp_path: Path, truth: pd.DataFrame, case: str) -> None:
    change, column, words = BAD_CSV[case]
    inp = tmp_path / "files"
    frames = _csv_case(truth, change or (lambda df: None))
    paths = {y: write_ee_csv(inp / f"{ee_prefix(y)}.csv", f) for y, f in frames.items()}
    if case == "polygon_geo":
        text = paths[2020].read_text().splitlines()
        text[5] = text[5].rsplit(",\"{", 1)[0] + ',"{""type"":""Polygon"",""coordinates"":[[[0,0],[1,0],[1,1],[0,0]]]}"'
        paths[2020].write_text("\n".join(text) + "\n")
    out = tmp_path / "ds"
    with pytest.raises(IngestError) as err:
        build_from_files(inp, out, make_cfg())
    msg = str(err.value)
    assert paths[2020].name in msg and repr(column) in msg and words in msg, msg
    assert err.value.column == column
    assert_nothing_left(out)


def _write_pq(inp: Path, frames: dict[str, pd.DataFrame]) -> dict[str, Path]:
    inp.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, df in frames.items():
        out[name] = inp / name
        if name.endswith(".csv"):
            df.to_csv(out[name], index=False)
        else:
            df.to_parquet(out[name])
    return out


def test_bad_missing_column(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    t20 = truth[truth.year == 2020].drop(columns=["dewpoint_temperature_2m"])
    paths = _write_pq(inp, {"c_2019.parquet": truth[truth.year == 2019], "c_2020.parquet": t20})
    out = tmp_path / "ds"
    with pytest.raises(IngestError, match="missing required column") as err:
        build_from_files(inp, out, make_cfg())
    assert paths["c_2020.parquet"].name in str(err.value)
    assert err.value.column == "dewpoint_temperature_2m"
    assert_nothing_left(out)


def test_bad_text_in_numbers(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    t20 = truth[truth.year == 2020].copy()
    t20["u_component_of_wind_10m"] = t20["u_component_of_wind_10m"].astype(object)
    t20.iloc[7, t20.columns.get_loc("u_component_of_wind_10m")] = "calm"
    paths = _write_pq(inp, {"c_2019.csv": truth[truth.year == 2019], "c_2020.csv": t20})
    out = tmp_path / "ds"
    with pytest.raises(IngestError, match="'calm' at row 8") as err:
        build_from_files(inp, out, make_cfg())
    assert paths["c_2020.csv"].name in str(err.value)
    assert err.value.column == "u_component_of_wind_10m"
    assert_nothing_left(out)


def test_bad_cell_id_disagrees_with_lon_lat(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    t20 = truth[truth.year == 2020].copy()
    t20["cell_id"] = t20["cell_id"] + 1
    paths = _write_pq(inp, {"c_2019.parquet": truth[truth.year == 2019], "c_2020.parquet": t20})
    out = tmp_path / "ds"
    with pytest.raises(IngestError, match="does not match its lon/lat") as err:
        build_from_files(inp, out, make_cfg())
    assert paths["c_2020.parquet"].name in str(err.value) and err.value.column == "cell_id"
    assert_nothing_left(out)


def test_bad_no_year_anywhere(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    paths = _write_pq(inp, {"c_2019.parquet": truth[truth.year == 2019],
                            "latest.parquet": truth[truth.year == 2020].drop(columns=["year"])})
    out = tmp_path / "ds"
    with pytest.raises(IngestError, match="year") as err:
        build_from_files(inp, out, make_cfg())
    assert paths["latest.parquet"].name in str(err.value) and err.value.column == "year"
    assert_nothing_left(out)


def test_bad_year_missing_and_duplicates_across_files(tmp_path: Path, truth: pd.DataFrame
                                                      ) -> None:
    inp = tmp_path / "files"
    _write_pq(inp, {"c_2019.parquet": truth[truth.year == 2019]})
    out = tmp_path / "ds"
    with pytest.raises(IngestError, match="no rows for year 2020") as err:
        build_from_files(inp, out, make_cfg())
    assert err.value.column == "year" and err.value.file == inp
    assert_nothing_left(out)
    paths = _write_pq(inp, {"c_2020.parquet": truth[truth.year == 2020],
                            "again_2020.parquet": truth[(truth.year == 2020) & (truth.period > 40)]})
    with pytest.raises(IngestError, match="duplicated") as err:
        build_from_files(inp, out, make_cfg())
    msg = str(err.value)
    assert paths["c_2020.parquet"].name in msg and paths["again_2020.parquet"].name in msg
    assert err.value.column == "cell_id"
    assert_nothing_left(out)


def test_failure_keeps_previous_output(tmp_path: Path, truth: pd.DataFrame) -> None:
    inp = tmp_path / "files"
    _write_pq(inp, {"c_2019.parquet": truth[truth.year == 2019],
                    "c_2020.parquet": truth[truth.year == 2020]})
    out = tmp_path / "ds"
    build_from_files(inp, out, make_cfg())
    before = (out / "samples/year=2020/part-0.parquet").read_bytes()
    bad = truth[truth.year == 2020].copy()
    bad["temperature_2m"] -= 273.15
    bad.to_parquet(inp / "c_2020.parquet")
    with pytest.raises(IngestError, match="degC"):
        build_from_files(inp, out, make_cfg())
    assert (out / "samples/year=2020/part-0.parquet").read_bytes() == before


@pytest.mark.parametrize("case", ["pixel_size", "projected", "band_count"])
def test_bad_geotiff(tmp_path: Path, truth: pd.DataFrame, case: str) -> None:
    inp = tmp_path / "tif"
    t = truth[(truth.year == 2019) & (truth.period == 0)]
    bands = ["land_cover", *VARS, TARGET]
    img = grid_image(t, 2019, 0, bands)
    name = f"{ee_prefix(2019)}_p00.tif"
    if case == "pixel_size":
        write_geotiff(inp / name, img, -180.0, 90.0, res=5.0, bands=bands)
        column, words = "ModelPixelScale", "does not match build_data.resolution"
    elif case == "projected":
        write_geotiff(inp / name, img, -180.0, 90.0, bands=bands, epsg=3857, projected=True)
        column, words = "GTModelTypeGeoKey", "EPSG:4326"
    else:
        write_geotiff(inp / name, img[..., :-1], -180.0, 90.0, bands=None)
        column, words = "bands", "band names"
    out = tmp_path / "ds"
    with pytest.raises(IngestError) as err:
        build_from_files(inp, out, make_cfg())
    assert name in str(err.value) and err.value.column == column and words in str(err.value)
    assert_nothing_left(out)


def test_empty_or_missing_input_dir(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="not found"):
        build_from_files(tmp_path / "nope", tmp_path / "ds", make_cfg())
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.txt").write_text("put exports here")
    with pytest.raises(IngestError, match="no input files"):
        build_from_files(tmp_path / "empty", tmp_path / "ds", make_cfg())
    assert_nothing_left(tmp_path / "ds")


def test_pixel_centres_from_model_transformation() -> None:
    """ModelTransformation (the alternative to scale + tie point); rotation is refused."""
    from stcg.data.files.readers import _pixel_centres

    m = [RES, 0, 0, -180.0, 0, -RES, 0, 90.0, 0, 0, 0, 0, 0, 0, 0, 1]
    lon, lat = _pixel_centres(Path("x.tif"), {"ModelTransformation": m}, 15, 36, RES)
    np.testing.assert_allclose(lon, -175.0 + RES * np.arange(36))
    np.testing.assert_allclose(lat, 85.0 - RES * np.arange(15))
    m[1] = 0.1
    with pytest.raises(IngestError, match="rotation") as err:
        _pixel_centres(Path("x.tif"), {"ModelTransformation": m}, 15, 36, RES)
    assert err.value.column == "ModelTransformation"
