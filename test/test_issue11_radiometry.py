"""Issue 11, defect 8 through processing.run on the real Marburg Landsat 8 Level-1 scene (2013-07-07, 50.8 N):
impossible radiometry is refused with a message naming the band and the likely cause, implausible LST is warned
about. References: the LST of the Level-2 formula applied by hand to the band 10 DN (K = DN x 0.00341802 + 149),
the LST of the ningdong equations from test/qgis/util.py, reflectances by hand."""
import os
import re
import shutil

import numpy as np
import pytest
from osgeo import gdal

from failures import assert_fails_cleanly, recording_feedback
from paths import L7, L8
import util

gdal.UseExceptions()
SENSOR = {"L7": 1, "L8": 2, "S2": 4}
RADIOMETRY = {"L2": 0, "L1_MTL": 1, "S2_L2A": 2, "REFLECTANCE": 3}


def run(alg, params, feedback=None):
    import processing
    return processing.run(f"miningeco:{alg}", params, feedback=feedback)


def mean_of(path):
    ds = gdal.Open(path)
    band = ds.GetRasterBand(1)
    a = band.ReadAsArray().astype(float)
    return float(a[a != band.GetNoDataValue()].mean())


def dn_as_level2_lst(path):
    """By hand: the Collection 2 Level-2 ST scaling applied to whatever DN the file holds (deg C)."""
    return gdal.Open(path).ReadAsArray().astype(float) * 0.00341802 + 149.0 - 273.15


def test_level1_dn_read_as_level2_give_a_cold_july_warning(provider, tmp_path):
    fb = recording_feedback()
    res = run("lst", {"SENSOR": SENSOR["L8"], "RADIOMETRY": RADIOMETRY["L2"], "THERMAL": f"{L8}_B10.TIF",
                      "OUTPUT": str(tmp_path / "lst.tif")}, fb)
    expected = dn_as_level2_lst(f"{L8}_B10.TIF").mean()
    assert expected == pytest.approx(-23.26, abs=0.01)              # the "-23 deg C in July"
    assert mean_of(res["OUTPUT"]) == pytest.approx(expected, abs=1e-3)   # only a warning: the output is written
    assert len(fb.warnings) == 1
    assert re.search(r"July scene \(acquired 2013-07-07, 50\.8 deg N\) is -23\.3 deg C", fb.warnings[0])
    assert "Level-1 thermal DN read as Level-2" in fb.warnings[0]


def test_the_same_cold_lst_in_january_is_not_warned_about(provider, tmp_path):
    # the same DN under a January product id: -23 deg C can be a real winter (Zhundong) - no warning
    january = tmp_path / "LC08_L1TP_195025_20130107_20170503_01_T1_B10.TIF"
    shutil.copy(f"{L8}_B10.TIF", january)
    fb = recording_feedback()
    run("lst", {"SENSOR": SENSOR["L8"], "RADIOMETRY": RADIOMETRY["L2"], "THERMAL": str(january),
                "OUTPUT": str(tmp_path / "lst.tif")}, fb)
    assert fb.warnings == []


def test_level1_with_its_mtl_is_plausible_and_not_warned_about(provider, tmp_path):
    fb = recording_feedback()
    res = run("lst", dict(util.scene_params("L8", ("RED", "NIR", "THERMAL")), OUTPUT=str(tmp_path / "lst.tif")), fb)
    assert mean_of(res["OUTPUT"]) == pytest.approx(float(np.mean(util.lst_celsius("L8"))), abs=1e-3)
    assert 15 < mean_of(res["OUTPUT"]) < 35 and fb.warnings == []


def test_rsei_warns_about_the_cold_july_too(provider, tmp_path):
    fb = recording_feedback()
    params = {"SENSOR": SENSOR["L8"], "RADIOMETRY": RADIOMETRY["L2"], "OUTPUT": str(tmp_path / "rsei.tif"),
              "OUTPUT_GRADES": str(tmp_path / "grades.tif"), "OUTPUT_TABLE": None, "OUTPUT_REPORT": None}
    for role in ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2", "THERMAL"):
        params[role] = util.band_path("L8", role)
    run("rsei", params, fb)
    assert [w for w in fb.warnings if "July scene" in w and "-23.3 deg C" in w]


def neutral_copies(folder, sensor, roles):
    """The bands copied under names without a Landsat id (so that the MTL's name check cannot tell)."""
    out = {}
    for role in roles:
        out[role] = str(folder / f"band_{role.lower()}.tif")
        shutil.copy(util.band_path(sensor, role), out[role])
    return out


def test_landsat8_dn_with_a_landsat7_mtl_are_refused(provider, tmp_path):
    bands = neutral_copies(tmp_path, "L8", ("RED", "NIR"))
    out = tmp_path / "out"
    out.mkdir()
    # L8 DN reach 6600 - 25759 (gdalinfo); the Landsat 7 MTL says QUANTIZE_CAL_MAX = 255
    msg = assert_fails_cleanly(lambda: run("spectralindices", {
        "SENSOR": SENSOR["L7"], "RADIOMETRY": RADIOMETRY["L1_MTL"], "MTL_FILE": f"{L7}_MTL.txt", **bands,
        "INDICES": [0], "OUTPUT": str(out / "ndvi.tif")}), out, "RED (band_red.tif, band 1)", "QCALMAX = 255",
        "Landsat 8 DN")
    assert "up to 15257" in msg                                    # the largest red DN of the Marburg L8 scene


def write_s2(folder, shape=(40, 40)):
    """Sentinel-2 L2A DN of vegetation (baseline >= 04.00): blue 1300, green 1600, red 1250, NIR 4500, SWIR1 2500,
    SWIR2 1800 with noise."""
    rng = np.random.default_rng(2)
    dns = {"BLUE": 1300, "GREEN": 1600, "RED": 1250, "NIR": 4500, "SWIR1": 2500, "SWIR2": 1800}
    return {role: util.write_raster(folder / f"s2_{role.lower()}.tif", [np.round(v + rng.normal(0, 30, shape))],
                                    nodata=0) for role, v in dns.items()}


def test_sentinel2_dn_read_as_landsat_level2_are_refused(provider, tmp_path):
    bands = write_s2(tmp_path)
    # the right reading: Sentinel-2 L2A gives NDVI (0.35 - 0.025) / 0.375 = 0.867 by hand
    res = run("spectralindices", {"SENSOR": SENSOR["S2"], "RADIOMETRY": RADIOMETRY["S2_L2A"], **bands, "INDICES": [0],
                                  "OUTPUT": str(tmp_path / "ndvi_s2.tif")})
    assert mean_of(res["OUTPUT"]) == pytest.approx(0.867, abs=0.005)
    # the wrong one (0.6.0: NDVI -0.37 written silently): refused naming the band and the likely cause
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(lambda: run("spectralindices", {
        "SENSOR": SENSOR["L8"], "RADIOMETRY": RADIOMETRY["L2"], **bands, "INDICES": [0],
        "OUTPUT": str(out / "ndvi.tif")}), out, "RED (s2_red.tif, band 1)", "below -0.1", "Sentinel-2 L2A DN")


def test_reflectance_in_percent_read_as_reflectance_is_refused(provider, tmp_path):
    rng = np.random.default_rng(3)
    bands = {r: util.write_raster(tmp_path / f"pct_{r.lower()}.tif", [rng.uniform(lo, hi, (30, 30))],
                                  dtype=gdal.GDT_Float32) for r, lo, hi in (("RED", 3, 8), ("NIR", 25, 45))}
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(lambda: run("spectralindices", {
        "SENSOR": SENSOR["L8"], "RADIOMETRY": RADIOMETRY["REFLECTANCE"], **bands, "INDICES": [0],
        "OUTPUT": str(out / "ndvi.tif")}), out, "pct_", "above 1.5", "percent")


@pytest.mark.parametrize("key, value, words", [
    ("K1_CONSTANT_BAND_10", "NaN", ("K1_CONSTANT_BAND_10", "not a finite number")),
    ("K1_CONSTANT_BAND_10", "-774.8853", ("K1_CONSTANT_BAND_10", "not positive")),
    ("RADIANCE_MULT_BAND_10", "inf", ("RADIANCE_MULT_BAND_10", "not a finite number")),
    ("REFLECTANCE_MULT_BAND_4", "nan", ("REFLECTANCE_MULT_BAND_4", "not a finite number")),
    ("SUN_ELEVATION", "nan", ("MTL_FILE: ", "SUN_ELEVATION", "not a finite number")),
])
def test_damaged_mtl_constants_are_refused_naming_the_key(provider, tmp_path, key, value, words):
    text = open(f"{L8}_MTL.txt").read()
    mtl = tmp_path / os.path.basename(f"{L8}_MTL.txt")
    mtl.write_text(re.sub(rf"(\b{key}\s*=\s*)[^\n]*", rf"\g<1>{value}", text, count=1))
    out = tmp_path / "out"
    out.mkdir()
    params = dict(util.scene_params("L8", ("RED", "NIR", "THERMAL")), MTL_FILE=str(mtl), OUTPUT=str(out / "lst.tif"))
    assert_fails_cleanly(lambda: run("lst", params), out, "MTL", *words)


def test_help_states_what_is_used_and_the_plausibility_thresholds(provider):
    from qgis.core import QgsApplication

    from mining_eco_plugin.core import plausibility as pl
    from mining_eco_plugin.core import radiometry as rad
    from mining_eco_plugin.core.sensors import SENSORS
    lst = QgsApplication.processingRegistry().algorithmById("miningeco:lst").shortHelpString()
    # what radiance_coefficients / thermal_constants really do with a pre-collection MTL (checked on the real one)
    old = rad.parse_mtl(open(os.path.join(os.path.dirname(L7), "..", "ethiopia", "LT51670552010352MLK00_MTL.txt"),
                             errors="replace").read())
    assert rad.thermal_constants(old, "6") == (SENSORS["L5"].k1, SENSORS["L5"].k2)
    assert "(LMAX - LMIN) / (QCALMAX - QCALMIN)" in lst and "pre-collection" in lst
    assert f"TM {SENSORS['L5'].k1:g} / {SENSORS['L5'].k2:g}" in lst
    assert f"ETM+ {SENSORS['L7'].k1:g} / {SENSORS['L7'].k2:g}" in lst
    for alg in ("lst", "spectralindices", "rsei"):
        # the thresholds are in the help of the RADIOMETRY parameter (each parameter's help is its own)
        text = QgsApplication.processingRegistry().algorithmById(f"miningeco:{alg}").parameterDefinition(
            "RADIOMETRY").help()
        for value in (pl.REFLECTANCE_MAX, pl.VISIBLE_NIR_REFLECTANCE_MIN, pl.REFLECTANCE_MIN, pl.LST_MIN_C,
                      pl.LST_MAX_C, pl.LST_SUMMER_MIN_C):
            assert f"{value:g}" in text, (alg, value)
        assert "QCALMAX" in text
