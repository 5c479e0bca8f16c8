"""miningeco:rseiseries through processing.run (and qgis_process once): issue 13, item 3.

Data. Composites are written in the layout of miningeco:composite (test/qgis/util.write_composite: bands blue ...
thermal count, float32, nodata -9999, MINING_ECO_PERIOD / MINING_ECO_WET_SET metadata) from the real Marburg
scenes, converted independently of the plugin (util.composite_bands: TOA reflectance by the USGS handbook
equations, LST by ningdong eqs. 6-8, in kelvin):

* REAL years: 2001 = Landsat 7 ETM+ 2001-07-30 (wetness set ETM), 2013 = Landsat 8 OLI 2013-07-07 (OLI; written
  WITHOUT metadata, so its year comes from the file name and its wetness set is the default OLI);
* BUILT years: 2014, 2015, ... = the real 2013 scene with a documented change per land-cover class
  (util.built_year): NIR x (1 + 0.05 k) on vegetation (NDVI above the scene median), NIR x (1 - 0.05 k)
  elsewhere, k = year - 2013; every other band unchanged.

References: miningeco:rsei run on each composite (the series must compute each year by the same code: 1e-6);
miningeco:trend / timeseries / transfermatrix run on the series' own yearly files; numpy cross-tabulation of the
grade rasters read with GDAL; the known direction of the built change per class.
"""
from __future__ import annotations

import csv
import json
import os
import shutil

import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProcessingException

import util  # test/qgis/util.py
from failures import recording_feedback

gdal.UseExceptions()

WET_ENUM = {"TM": 1, "ETM": 2, "OLI": 3}           # positions in rsei's WET_COEFFICIENTS
REFLECTANCE = 3                                    # position of REFLECTANCE in RADIOMETRY
GRADE_FIELDS = ("area_km2_worst", "area_km2_poor", "area_km2_moderate", "area_km2_good", "area_km2_excellent")


@pytest.fixture(scope="module")
def composites(tmp_path_factory):
    """{year: path}: 2001 and 2013 real, 2014-2016 built (module docstring)."""
    d = tmp_path_factory.mktemp("composites")
    l8 = util.composite_bands("L8")
    out = {2001: util.write_composite(d / "composite_2001.tif", util.composite_bands("L7"), 2001, "ETM"),
           2013: util.write_composite(d / "composite_2013.tif", l8)}           # no metadata: year from the name
    for k in (1, 2, 3):
        out[2013 + k] = util.write_composite(d / f"composite_{2013 + k}.tif", util.built_year(l8, k), 2013 + k, "OLI")
    return out


def run_series(out, composites, feedback=None, **extra):
    import processing
    params = {"COMPOSITES": list(composites), "OUTPUT_FOLDER": str(out), "OUTPUT_TABLE": str(out) + "_years.csv",
              "OUTPUT_REPORT": str(out) + "_report.html", "TRANSFER_YEARS": ""}
    params.update(extra)
    return processing.run("miningeco:rseiseries", params, feedback=feedback)


def table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def mtimes(folder, years):
    return {y: [os.stat(os.path.join(folder, f"{n}_{y}.tif")).st_mtime_ns for n in ("rsei", "rsei_grades")]
            for y in years}


@pytest.fixture(scope="module")
def clean_run(provider, composites, tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "series"
    res = run_series(out, composites.values(), TRANSFER_YEARS="2001,2013,2016")
    return out, res


def test_each_year_equals_miningeco_rsei_on_the_composite(clean_run, composites, tmp_path):
    import processing
    out, res = clean_run
    assert res["YEARS"] == "2001,2013,2014,2015,2016" and res["YEARS_COMPUTED"] == 5
    rows = {int(r["year"]): r for r in table(res["OUTPUT_TABLE"])}
    for year, path in composites.items():
        wet = "ETM" if year == 2001 else "OLI"
        ref = processing.run("miningeco:rsei", {
            "SCENE": path, "RADIOMETRY": REFLECTANCE, "WET_COEFFICIENTS": WET_ENUM[wet],
            "OUTPUT": str(tmp_path / f"rsei_{year}.tif"), "OUTPUT_GRADES": str(tmp_path / f"grades_{year}.tif"),
            "OUTPUT_TABLE": str(tmp_path / f"rsei_{year}.csv")})
        got = util.read_raster(os.path.join(out, f"rsei_{year}.tif"))
        want = util.read_raster(ref["OUTPUT"])
        assert np.array_equal(np.isnan(got), np.isnan(want)), year
        np.testing.assert_allclose(got, want, atol=1e-6, equal_nan=True, err_msg=str(year))
        np.testing.assert_array_equal(util.read_array(os.path.join(out, f"rsei_grades_{year}.tif")),
                                      util.read_array(ref["OUTPUT_GRADES"]), err_msg=str(year))
        assert os.path.exists(os.path.join(out, f"rsei_{year}.qml"))
        row = rows[year]
        assert float(row["mean_rsei"]) == pytest.approx(ref["MEAN_RSEI"], abs=1e-6)
        assert float(row["pc1_share"]) == pytest.approx(ref["PC1_SHARE"], abs=1e-6)
        stats = {r["name"]: r for r in table(ref["OUTPUT_TABLE"])}
        for comp in ("NDVI", "WET", "NDBSI", "LST"):     # rsei's table rounds to 6 significant digits
            assert float(row[f"loading_{comp.lower()}"]) == pytest.approx(float(stats[f"PC1 {comp}"]["value"]),
                                                                         rel=1e-5, abs=1e-6)
        for field, label in zip(GRADE_FIELDS, ("Worst", "Poor", "Moderate", "Good", "Excellent")):
            assert float(row[field]) == pytest.approx(float(stats[label]["value"]), abs=1e-6)
        # the grade areas by hand: pixels of each grade x 30 m x 30 m
        g = util.read_array(ref["OUTPUT_GRADES"])
        assert [float(row[f]) for f in GRADE_FIELDS] == pytest.approx(
            [(g == k).sum() * util.PIXEL_AREA_M2 / 1e6 for k in range(1, 6)], abs=1e-9)
    state = json.load(open(os.path.join(out, "rsei_series.json")))
    assert state["years"]["2001"]["wet_set"] == "ETM" and state["years"]["2013"]["wet_set"] == "OLI"


def test_trend_summary_and_transfer_equal_the_tools_on_the_outputs(clean_run, tmp_path):
    import processing
    out, res = clean_run
    rsei = [os.path.join(out, f"rsei_{y}.tif") for y in (2001, 2013, 2014, 2015, 2016)]
    assert res["RSEI_LAYERS"] == rsei
    ids = ("OUTPUT_SLOPE", "OUTPUT_CLASS", "OUTPUT_Z", "OUTPUT_P", "OUTPUT_S", "OUTPUT_COUNT")
    trend = processing.run("miningeco:trend", {"INPUTS": rsei, **{p: str(tmp_path / f"{p}.tif") for p in ids},
                                               "OUTPUT_TABLE": str(tmp_path / "trend.csv")})
    for pid, name in zip(ids, ("slope", "class", "z", "p", "s", "count")):
        np.testing.assert_array_equal(util.read_array(os.path.join(out, f"trend_{name}.tif")),
                                      util.read_array(trend[pid]), err_msg=pid)
    assert res["TREND_CLASS"] == os.path.join(out, "trend_class.tif")
    assert table(os.path.join(out, "trend_areas.csv")) == table(trend["OUTPUT_TABLE"])
    ts = processing.run("miningeco:timeseries", {"RASTERS": rsei, "OUTPUT_TABLE": str(tmp_path / "ts.csv")})
    assert table(res["TIMESERIES_TABLE"]) == table(ts["OUTPUT_TABLE"])
    # the summary's yearly values are the series' mean RSEI
    annual = [float(r["value"]) for r in table(ts["OUTPUT_TABLE"]) if r["section"] == "annual"]
    assert annual == pytest.approx([float(r["mean_rsei"]) for r in table(res["OUTPUT_TABLE"])], abs=1e-9)
    for a, b in ((2001, 2013), (2013, 2016)):
        tm = processing.run("miningeco:transfermatrix", {
            "DATE1": os.path.join(out, f"rsei_grades_{a}.tif"), "DATE2": os.path.join(out, f"rsei_grades_{b}.tif"),
            "CLASS_NAMES": "1=Worst,2=Poor,3=Moderate,4=Good,5=Excellent", "OUTPUT_MATRIX": str(tmp_path / "m.csv")})
        assert table(os.path.join(out, f"transfer_{a}_{b}.csv")) == table(tm["OUTPUT_MATRIX"])
    assert res["TRANSFER_MATRICES"] == [os.path.join(out, "transfer_2001_2013.csv"),
                                        os.path.join(out, "transfer_2013_2016.csv")]


def test_resume_after_a_failed_year_skips_the_done_years_and_equals_a_clean_run(clean_run, composites, tmp_path):
    clean, _ = clean_run
    files = dict(composites)
    # year 2015 fails at run time: its CRS says EPSG:4326 while its coordinates are UTM metres (a mislabelled file,
    # refused when the year opens it). (A damaged file is refused before any year is computed: see the hostile
    # cases; a year without a valid pixel is left out: test_a_year_without_a_valid_pixel_is_left_out.)
    damaged = tmp_path / "composite_2015.tif"
    shutil.copyfile(composites[2015], damaged)
    ds = gdal.Open(str(damaged), gdal.GA_Update)
    wgs84 = osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    ds.SetProjection(wgs84.ExportToWkt())
    ds = None
    files[2015] = str(damaged)
    out = tmp_path / "series"
    with pytest.raises(QgsProcessingException) as err:
        run_series(out, files.values())
    msg = str(err.value)
    assert "year 2015" in msg and "2001, 2013, 2014" in msg and "resume" in msg, msg
    assert sorted(n for n in os.listdir(out) if n.endswith(".tif")) == [
        "rsei_2001.tif", "rsei_2013.tif", "rsei_2014.tif", "rsei_grades_2001.tif", "rsei_grades_2013.tif",
        "rsei_grades_2014.tif"]                         # whole years only; no trend, no table, no report
    assert not os.path.exists(str(out) + "_years.csv") and not os.path.exists(str(out) + "_report.html")
    before = mtimes(out, (2001, 2013, 2014))
    shutil.copyfile(composites[2015], damaged)         # repaired
    fb = recording_feedback()
    res = run_series(out, files.values(), feedback=fb)
    for y in (2001, 2013, 2014):
        assert f"year {y}: already done, skipped" in fb.infos
    assert "year 2015: already done, skipped" not in fb.infos
    assert mtimes(out, (2001, 2013, 2014)) == before
    assert (res["YEARS_SKIPPED"], res["YEARS_COMPUTED"]) == (3, 2)
    assert_same_series(out, clean)

    # the last year corrupted on disk (overwritten): only it is computed again
    path = os.path.join(out, "rsei_2016.tif")
    with open(path, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\0" * 64)
    before = mtimes(out, (2001, 2013, 2014, 2015))
    fb = recording_feedback()
    res = run_series(out, files.values(), feedback=fb)
    assert (res["YEARS_SKIPPED"], res["YEARS_COMPUTED"]) == (4, 1)
    assert mtimes(out, (2001, 2013, 2014, 2015)) == before
    assert_same_series(out, clean)


def test_a_year_without_a_valid_pixel_is_left_out(clean_run, composites, tmp_path):
    """A year with no clear observation at all (every pixel nodata) has no RSEI: it is left out with a warning (a
    series of 25 years is not stopped for good by one cloudy summer), the trend and summary use the other years,
    and a re-run skips it again without computing it."""
    files = dict(composites)
    empty = tmp_path / "composite_2017.tif"
    util.write_composite(empty, {r: np.full((41, 41), np.nan) for r in util.COMPOSITE_ROLES}, 2017, "OLI")
    files[2017] = str(empty)
    out = tmp_path / "series"
    fb = recording_feedback()
    res = run_series(out, files.values(), feedback=fb)
    assert res["YEARS"] == "2001,2013,2014,2015,2016"
    assert any("year 2017: no RSEI" in w for w in fb.warnings), fb.warnings
    assert not os.path.exists(os.path.join(out, "rsei_2017.tif"))
    assert_same_series(out, clean_run[0])               # the other years, the table and the trend as without it
    fb = recording_feedback()
    res = run_series(out, files.values(), feedback=fb)
    assert res["YEARS_COMPUTED"] == 0 and any("year 2017: no RSEI" in w for w in fb.warnings)
    with pytest.raises(QgsProcessingException, match="TRANSFER_YEARS: 2017 has no RSEI"):
        run_series(tmp_path / "other", files.values(), TRANSFER_YEARS="2013,2017")


def assert_same_series(out, clean):
    for y in (2001, 2013, 2014, 2015, 2016):
        for n in ("rsei", "rsei_grades"):
            np.testing.assert_array_equal(util.read_array(os.path.join(out, f"{n}_{y}.tif")),
                                          util.read_array(os.path.join(clean, f"{n}_{y}.tif")), err_msg=f"{n} {y}")
    assert table(str(out) + "_years.csv") == table(str(clean) + "_years.csv")
    for n in ("slope", "class", "p"):
        np.testing.assert_array_equal(util.read_array(os.path.join(out, f"trend_{n}.tif")),
                                      util.read_array(os.path.join(clean, f"trend_{n}.tif")))


def test_other_settings_are_refused_and_change_nothing(clean_run, composites, tmp_path):
    out = tmp_path / "series"
    shutil.copytree(clean_run[0], out)
    sidecar = open(os.path.join(out, "rsei_series.json")).read()
    with pytest.raises(QgsProcessingException, match=r"OUTPUT_FOLDER.*other settings.*CLIP_PERCENT 0.0 -> 1.0"):
        run_series(out, composites.values(), CLIP_PERCENT=1.0)
    assert open(os.path.join(out, "rsei_series.json")).read() == sidecar


def test_cancel_between_years_keeps_the_completed_years(provider, composites, tmp_path):
    fb = recording_feedback()
    original = fb.pushInfo

    def cancel_after_2013(text):
        original(text)
        if text.startswith("year 2013:") and "written" in text:
            fb.cancel()
    fb.pushInfo = cancel_after_2013
    out = tmp_path / "series"
    with pytest.raises(QgsProcessingException, match=r"cancelled.*2001, 2013.*resume"):
        run_series(out, composites.values(), feedback=fb)
    assert sorted(os.listdir(out)) == ["rsei_2001.qml", "rsei_2001.tif", "rsei_2013.qml", "rsei_2013.tif",
                                       "rsei_grades_2001.qml", "rsei_grades_2001.tif", "rsei_grades_2013.qml",
                                       "rsei_grades_2013.tif", "rsei_series.json"]


def test_built_series_has_the_known_trend_per_class_and_transfer(provider, tmp_path):
    """2013 real (Landsat 8), 2014-2018 built: NIR +5 %/yr on vegetation, -5 %/yr elsewhere (util.built_year).
    Known answers: vegetation pixels rise (Theil-Sen slope > 0, Mann-Kendall significant increase with 6 years
    all rising: S = 15, Var(S) = 6 5 17 / 18 = 28.33, Z = 14 / 5.32 = 2.63 >= 1.96), the other pixels fall (class 1); no vegetation pixel loses a grade from 2013 to
    2018, no other pixel gains one, and the transfer matrix is the cross-tabulation of the two grade rasters."""
    l8 = util.composite_bands("L8")
    veg = util.vegetated(l8)
    files = [util.write_composite(tmp_path / "c2013.tif", l8, 2013, "OLI")]
    files += [util.write_composite(tmp_path / f"c{2013 + k}.tif", util.built_year(l8, k), 2013 + k, "OLI")
              for k in range(1, 6)]
    out = tmp_path / "series"
    res = run_series(out, files, TRANSFER_YEARS="2013,2018")
    cls = util.read_array(res["TREND_CLASS"])
    slope = util.read_raster(res["TREND_SLOPE"])
    valid = cls > 0
    up, down = veg & valid, ~veg & valid
    assert up.sum() > 700 and down.sum() > 700
    # all but the pixels that set a normalisation bound (at most 1 %) follow their class
    assert (cls[up] == 3).mean() >= 0.99 and (slope[up] > 0).mean() >= 0.99
    assert (cls[down] == 1).mean() >= 0.99 and (slope[down] < 0).mean() >= 0.99
    g0, g1 = util.read_array(res["GRADE_LAYERS"][0]), util.read_array(res["GRADE_LAYERS"][-1])
    both = (g0 > 0) & (g1 > 0)
    assert (g1[veg & both] >= g0[veg & both]).all() and (g1[~veg & both] <= g0[~veg & both]).all()
    cross = np.zeros((5, 5), int)
    np.add.at(cross, (g0[both] - 1, g1[both] - 1), 1)
    rows = table(res["TRANSFER_MATRICES"][0])[:5]
    matrix = np.array([[float(r[f"to_{j}_{n}"]) for j, n in enumerate(("worst", "poor", "moderate", "good",
                                                                       "excellent"), start=1)] for r in rows])
    np.testing.assert_allclose(matrix, cross * util.PIXEL_AREA_M2 / 1e6, atol=1e-9)
    assert np.triu(cross, 1).sum() > 0 and np.tril(cross, -1).sum() > 0     # grades moved both ways
    means = [float(r["mean_rsei"]) for r in table(res["OUTPUT_TABLE"])]
    assert len(means) == 6


def test_qgis_process_runs_the_series(qgis_process, composites, tmp_path):
    args = [f"COMPOSITES={p}" for p in composites.values()]
    out = tmp_path / "series"
    res = qgis_process.results("miningeco:rseiseries", "--", *args, f"OUTPUT_FOLDER={out}",
                               f"OUTPUT_TABLE={tmp_path / 'years.csv'}", f"OUTPUT_REPORT={tmp_path / 'r.html'}",
                               "TRANSFER_YEARS=2013,2016", timeout=300)
    assert res["YEARS"] == "2001,2013,2014,2015,2016"
    assert os.path.exists(out / "trend_class.tif") and os.path.exists(out / "timeseries.html")
    assert os.path.exists(out / "transfer_2013_2016.csv")
    assert [int(r["year"]) for r in table(tmp_path / "years.csv")] == [2001, 2013, 2014, 2015, 2016]
