"""Sensor presets, MTL parsing, Level-1/Level-2/S2 conversions and QA masks.

The MTL conversions are checked on the real Landsat test scenes: DN pixels are read with GDAL,
the coefficients are pulled out of the MTL text with a tiny independent regex and the values
are computed by hand here, then compared with the module.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from mining_eco_plugin.core import radiometry as rad
from mining_eco_plugin.core.radiometry import MtlError
from mining_eco_plugin.core.sensors import (ROLES, SENSORS, band_role_from_name,
                                            sensor_for_spacecraft)

pytestmark = pytest.mark.filterwarnings("error")   # any RuntimeWarning fails a test

DATA = Path(__file__).resolve().parents[1] / "data"
MARBURG = DATA / "marburg"
ETHIOPIA = DATA / "ethiopia"
L8_ID = "LC08_L1TP_195025_20130707_20170503_01_T1"
L7_ID = "LE07_L1TP_195025_20010730_20170204_01_T1"
L5_ID = "LT05_L1TP_167055_20000309_20161214_01_T1"
L5_PRE = "LT51670552010352MLK00"
PIXELS = [(0, 0), (3, 17), (20, 20), (40, 40), (33, 8)]   # (row, col)


def mtl_text(path: Path) -> str:
    return path.read_text()


def value(text: str, key: str) -> float:
    """Independent tiny MTL reader: the number after ``KEY =``."""
    m = re.search(r"^\s*" + re.escape(key) + r"\s*=\s*\"?([-+0-9.Ee]+)\"?\s*$", text, re.M)
    assert m, key
    return float(m.group(1))


def read(path: Path) -> np.ndarray:
    ds = gdal.Open(str(path))
    assert ds is not None, path
    return ds.GetRasterBand(1).ReadAsArray()


def dn_at(path: Path) -> np.ndarray:
    a = read(path)
    return np.array([a[r, c] for r, c in PIXELS], dtype=np.float64)


@pytest.fixture(scope="module")
def l8():
    return mtl_text(MARBURG / f"{L8_ID}_MTL.txt")


@pytest.fixture(scope="module")
def l7():
    return mtl_text(MARBURG / f"{L7_ID}_MTL.txt")


@pytest.fixture(scope="module")
def l5():
    return mtl_text(ETHIOPIA / f"{L5_ID}_MTL.txt")


@pytest.fixture(scope="module")
def l5pre():
    return mtl_text(ETHIOPIA / f"{L5_PRE}_MTL.txt")


# ---------------------------------------------------------------------------- sensors
def test_sensor_presets_follow_indices_md():
    assert set(SENSORS) == {"L5", "L7", "L8", "L9", "S2"}
    assert ROLES == ("B", "G", "R", "NIR", "SWIR1", "SWIR2", "T")
    l8, l9, l7, l5, s2 = (SENSORS[k] for k in ("L8", "L9", "L7", "L5", "S2"))
    assert l8.band_ids == {"B": "2", "G": "3", "R": "4", "NIR": "5", "SWIR1": "6", "SWIR2": "7", "T": "10"}
    assert l8.l2_names == {"B": "SR_B2", "G": "SR_B3", "R": "SR_B4", "NIR": "SR_B5", "SWIR1": "SR_B6",
                           "SWIR2": "SR_B7", "T": "ST_B10"}
    assert l9.band_ids == l8.band_ids and l9.l2_names == l8.l2_names
    assert l7.band_ids["T"] == "6_VCID_1" and l5.band_ids["T"] == "6"
    for s in (l5, l7):
        assert s.l2_names == {"B": "SR_B1", "G": "SR_B2", "R": "SR_B3", "NIR": "SR_B4", "SWIR1": "SR_B5",
                              "SWIR2": "SR_B7", "T": "ST_B6"}
        assert s.band_ids["SWIR2"] == "7"
    assert s2.band_ids == {"B": "2", "G": "3", "R": "4", "NIR": "8", "SWIR1": "11", "SWIR2": "12"}
    assert s2.l2_names == {"B": "B2", "G": "B3", "R": "B4", "NIR": "B8", "SWIR1": "B11", "SWIR2": "B12"}
    assert (l5.k1, l5.k2) == (607.76, 1260.56)
    assert (l7.k1, l7.k2) == (666.09, 1282.71)
    assert (l8.k1, l8.k2) == (774.8853, 1321.0789)
    assert (l9.k1, l9.k2) == (799.0284, 1329.2405)
    assert (s2.k1, s2.k2, s2.thermal_wavelength_um) == (None, None, None)
    assert [SENSORS[k].thermal_wavelength_um for k in ("L5", "L7", "L8", "L9")] == [11.457, 11.269, 10.895, 10.9]
    assert [SENSORS[k].wet_set for k in ("L5", "L7", "L8", "L9", "S2")] == ["TM", "ETM", "OLI", "OLI", "OLI"]
    assert l8.title == "Landsat 8 OLI/TIRS" and s2.spacecraft == ()
    hash(l8)                                        # frozen presets stay hashable
    with pytest.raises(Exception):
        l8.k1 = 1.0


def test_sensor_for_spacecraft():
    assert sensor_for_spacecraft("LANDSAT_8").key == "L8"
    assert sensor_for_spacecraft("LANDSAT_9").key == "L9"
    assert sensor_for_spacecraft("LANDSAT_7").key == "L7"
    assert sensor_for_spacecraft("Landsat5").key == "L5"      # old MTL spelling
    assert sensor_for_spacecraft("LANDSAT_4") is None
    assert sensor_for_spacecraft("SENTINEL-2A") is None
    assert sensor_for_spacecraft("") is None


@pytest.mark.parametrize("key,name,role", [
    ("L8", "SR_B4", "R"), ("L8", "sr_b5", "NIR"), ("L8", "B4", "R"), ("L8", "B1", None),
    ("L8", "B10", "T"), ("L8", "B11", None), ("L8", "ST_B10", "T"), ("L8", "SR_B10", None),
    ("L8", "ST_B6", None), ("L8", "QA_PIXEL", None), ("L8", "BQA", None), ("L8", "Band 6", "SWIR1"),
    ("L8", f"/data/{L8_ID}/{L8_ID}_B7.TIF", "SWIR2"), ("L8", f"{L8_ID}_B1.TIF", None),
    ("L8", f"{L8_ID}_B10.TIF", "T"), ("L8", f"{L8_ID}_BQA.TIF", None), ("L8", "LC08_L2SP_195025_20200101_20200110_02_T1_SR_B2.TIF", "B"),
    ("L7", "B6_VCID_1", "T"), ("L7", f"{L7_ID}_B6_VCID_1.TIF", "T"), ("L7", f"{L7_ID}_B6_VCID_2.TIF", None),
    ("L7", "ST_B6", "T"), ("L7", "SR_B1", "B"), ("L7", f"{L7_ID}_B8.TIF", None), ("L7", "L71195025_02520010730_B61.TIF", "T"),
    ("L7", "L71195025_02520010730_B40.TIF", "NIR"),
    ("L5", "B1", "B"), ("L5", "B6", "T"), ("L5", "ST_B6", "T"), ("L5", "SR_B7", "SWIR2"), ("L5", "SR_B6", None),
    ("L5", f"{L5_PRE}_B3.tif", "R"), ("L5", "L5167055_05520101218_B10.TIF", "B"),
    ("S2", "B04", "R"), ("S2", "B8", "NIR"), ("S2", "B8A", None), ("S2", "B1", None), ("S2", "B11", "SWIR1"),
    ("S2", "T32UMB_20200101T103321_B12_20m.jp2", "SWIR2"), ("S2", "B10", None), ("S2", "", None),
    # role names (the band names of miningeco:composite) mean the role for every sensor
    ("L5", "blue", "B"), ("L7", "NIR", "NIR"), ("L8", "swir1", "SWIR1"), ("S2", "Swir2", "SWIR2"),
    ("L8", "thermal", "T"), ("L5", "red", "R"), ("L9", "green", "G"), ("L8", "count", None), ("L8", "doy", None),
    ("L8", "blueish", None),
])
def test_band_role_from_name(key, name, role):
    assert band_role_from_name(SENSORS[key], name) == role


def test_band_role_of_every_test_file():
    roles = {}
    for f in MARBURG.glob(f"{L8_ID}_B*.TIF"):
        r = band_role_from_name(SENSORS["L8"], f.name)
        if r:
            roles[r] = f.name
    assert {r: n.rsplit("_", 1)[1] for r, n in roles.items()} == {
        "B": "B2.TIF", "G": "B3.TIF", "R": "B4.TIF", "NIR": "B5.TIF", "SWIR1": "B6.TIF", "SWIR2": "B7.TIF",
        "T": "B10.TIF"}


# ---------------------------------------------------------------------------- MTL parsing
def test_parse_mtl_basic(l8):
    m = rad.parse_mtl(l8)
    assert m["SPACECRAFT_ID"] == "LANDSAT_8"                 # quotes stripped
    assert m["LANDSAT_PRODUCT_ID"] == L8_ID
    assert m["REFLECTANCE_MULT_BAND_4"] == "2.0000E-05"
    assert float(m["K1_CONSTANT_BAND_10"]) == 774.8853
    assert float(m["RADIANCE_MULT_BAND_10"]) == 3.3420e-04
    assert m["RADIOMETRIC_RESCALING.RADIANCE_ADD_BAND_10"] == "0.10000"
    text = "GROUP = L1_METADATA_FILE\n A = \"1\"\n A = 2\nEND_GROUP = L1_METADATA_FILE\nEND\n"
    assert rad.parse_mtl(text)["A"] == "1"                   # first occurrence wins
    with pytest.raises(MtlError, match="L1_METADATA_FILE"):
        rad.parse_mtl("SPACECRAFT_ID = LANDSAT_8\n")
    with pytest.raises(MtlError):
        rad.parse_mtl("<xml/>")


def test_parse_mtl_crlf_and_padding(l5pre):
    assert "\x00" in l5pre                      # the real file is padded with NUL bytes
    m = rad.parse_mtl(l5pre.replace("\n", "\r\n"))
    assert m["LANDSAT_SCENE_ID"] == L5_PRE and m["SPACECRAFT_ID"] == "LANDSAT_5"


def test_mtl_scene(l8, l7, l5, l5pre):
    s = rad.mtl_scene(rad.parse_mtl(l8))
    assert s == rad.MtlScene("LANDSAT_8", "OLI_TIRS", L8_ID, "LC81950252013188LGN01", "2013-07-07",
                             58.99675180, 1.0166988, 1)
    assert rad.mtl_scene(rad.parse_mtl(l7)).spacecraft == "LANDSAT_7"
    assert rad.mtl_scene(rad.parse_mtl(l5)).collection == 1
    pre = rad.mtl_scene(rad.parse_mtl(l5pre))
    assert (pre.collection, pre.product_id, pre.scene_id, pre.earth_sun_distance, pre.date) == \
        (0, None, L5_PRE, None, "2010-12-18")
    assert pre.sun_elevation == 49.25236265
    bad = "GROUP = L1_METADATA_FILE\n SPACECRAFT_ID = \"LANDSAT_8\"\nEND_GROUP = L1_METADATA_FILE\n"
    with pytest.raises(MtlError, match="DATE_ACQUIRED"):
        rad.mtl_scene(rad.parse_mtl(bad))


# ---------------------------------------------------------------------------- Level-1 on real scenes
@pytest.mark.parametrize("band", ["2", "4", "5", "7"])
def test_l8_toa_reflectance_real_pixels(l8, band):
    dn = dn_at(MARBURG / f"{L8_ID}_B{band}.TIF")
    mult = value(l8, f"REFLECTANCE_MULT_BAND_{band}")
    add = value(l8, f"REFLECTANCE_ADD_BAND_{band}")
    se = value(l8, "SUN_ELEVATION")
    expected = [(mult * q + add) / math.sin(math.radians(se)) for q in dn]
    gain, off = rad.toa_reflectance_coefficients(rad.parse_mtl(l8), band)
    got = rad.scale_dn(dn, gain, off)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert np.all((got > 0) & (got < 1))
    # plain literals, so that a parsing slip cannot cancel out
    assert (mult, add, se) == (2.0e-05, -0.1, 58.99675180)


def test_l8_radiance_and_brightness_temperature_real_pixels(l8):
    dn = dn_at(MARBURG / f"{L8_ID}_B10.TIF")
    ml, al = value(l8, "RADIANCE_MULT_BAND_10"), value(l8, "RADIANCE_ADD_BAND_10")
    k1, k2 = value(l8, "K1_CONSTANT_BAND_10"), value(l8, "K2_CONSTANT_BAND_10")
    assert (ml, al, k1, k2) == (3.3420e-04, 0.1, 774.8853, 1321.0789)
    mtl = rad.parse_mtl(l8)
    gain, off = rad.radiance_coefficients(mtl, "10")
    assert (gain, off) == (ml, al)
    radiance = rad.scale_dn(dn, gain, off)
    exp_l = [ml * q + al for q in dn]
    np.testing.assert_allclose(radiance, exp_l, rtol=1e-6)
    assert rad.thermal_constants(mtl, "10") == (k1, k2)
    assert rad.thermal_constants(mtl, "11") == (480.8883, 1201.1442)
    bt = rad.brightness_temperature(radiance, k1, k2)
    exp_bt = [k2 / math.log(k1 / l + 1) for l in exp_l]
    np.testing.assert_allclose(bt, exp_bt, rtol=1e-6)
    assert np.all((bt > 270) & (bt < 330))       # a July afternoon over Marburg


def test_l7_real_pixels(l7):
    mtl = rad.parse_mtl(l7)
    dn = dn_at(MARBURG / f"{L7_ID}_B3.TIF")
    mult, add, se = value(l7, "REFLECTANCE_MULT_BAND_3"), value(l7, "REFLECTANCE_ADD_BAND_3"), \
        value(l7, "SUN_ELEVATION")
    got = rad.scale_dn(dn, *rad.toa_reflectance_coefficients(mtl, "3"))
    np.testing.assert_allclose(got, [(mult * q + add) / math.sin(math.radians(se)) for q in dn], rtol=1e-6)
    # thermal, low gain VCID_1
    dn6 = dn_at(MARBURG / f"{L7_ID}_B6_VCID_1.TIF")
    ml, al = value(l7, "RADIANCE_MULT_BAND_6_VCID_1"), value(l7, "RADIANCE_ADD_BAND_6_VCID_1")
    k1, k2 = value(l7, "K1_CONSTANT_BAND_6_VCID_1"), value(l7, "K2_CONSTANT_BAND_6_VCID_1")
    assert (ml, al, k1, k2) == (6.7087e-02, -0.06709, 666.09, 1282.71)
    assert rad.radiance_coefficients(mtl, "6_VCID_1") == (ml, al)
    assert rad.radiance_coefficients(mtl, "B6_VCID_1") == (ml, al)
    assert rad.thermal_constants(mtl, "6_VCID_1") == (k1, k2)
    bt = rad.brightness_temperature(rad.scale_dn(dn6, ml, al), k1, k2)
    np.testing.assert_allclose(bt, [k2 / math.log(k1 / (ml * q + al) + 1) for q in dn6], rtol=1e-6)
    # ETM+ band 6 has no reflectance: its REFLECTANCE_* keys are absent and ESUN has no band 6
    with pytest.raises(MtlError, match="6_VCID_1"):
        rad.toa_reflectance_coefficients(mtl, "6_VCID_1")


def test_l5_c1_radiance_matches_lmax_lmin(l5):
    mtl = rad.parse_mtl(l5)
    for band in ("1", "2", "3", "4", "5", "6", "7"):
        gain, off = rad.radiance_coefficients(mtl, band)
        assert (gain, off) == (value(l5, f"RADIANCE_MULT_BAND_{band}"), value(l5, f"RADIANCE_ADD_BAND_{band}"))
        lmax, lmin = value(l5, f"RADIANCE_MAXIMUM_BAND_{band}"), value(l5, f"RADIANCE_MINIMUM_BAND_{band}")
        qmax, qmin = value(l5, f"QUANTIZE_CAL_MAX_BAND_{band}"), value(l5, f"QUANTIZE_CAL_MIN_BAND_{band}")
        g2 = (lmax - lmin) / (qmax - qmin)
        assert gain == pytest.approx(g2, rel=2e-4)            # Chander et al. 2009 eq. 1
        assert off == pytest.approx(lmin - g2 * qmin, rel=2e-4, abs=1e-4)
    assert rad.radiance_coefficients(mtl, "1") == (0.76583, -2.28583)
    # TOA reflectance from the C1 REFLECTANCE_MULT/ADD on real pixels
    dn = dn_at(ETHIOPIA / f"{L5_ID}_B4.TIF")
    exp = [(2.6270e-03 * q - 0.007155) / math.sin(math.radians(53.14715018)) for q in dn]
    np.testing.assert_allclose(rad.scale_dn(dn, *rad.toa_reflectance_coefficients(mtl, "4")), exp, rtol=1e-6)
    assert rad.thermal_constants(mtl, "6") == (607.76, 1260.56)


def test_l5_precollection_radiance_and_esun_reflectance(l5pre):
    mtl = rad.parse_mtl(l5pre)
    # radiance from LMAX/LMIN/QCALMAX/QCALMIN, not from the rounded RADIANCE_MULT (0.876)
    gain, off = rad.radiance_coefficients(mtl, "4")
    assert gain == pytest.approx((221.0 - -1.51) / (255 - 1), rel=1e-12)
    assert off == pytest.approx(-1.51 - gain * 1, rel=1e-12)
    assert gain != 0.876
    dn = dn_at(ETHIOPIA / f"{L5_PRE}_B4.tif")
    radiance = rad.scale_dn(dn, gain, off)
    np.testing.assert_allclose(radiance, [(222.51 / 254) * (q - 1) - 1.51 for q in dn], rtol=1e-6)
    # one value by hand: rho = pi L d^2 / (ESUN cos(SZA)), TM band 4 ESUN 1031 (Chander 2009),
    # d on day 352 = 0.98399 AU (Chander 2009 Table 6), SZA = 90 - 49.25236265
    q = dn[2]
    L = (222.51 / 254) * (q - 1) - 1.51
    rho = math.pi * L * 0.98399 ** 2 / (1031.0 * math.cos(math.radians(90 - 49.25236265)))
    g, o = rad.toa_reflectance_coefficients(mtl, "4")
    assert g * q + o == pytest.approx(rho, rel=3e-4)
    # the EARTH_SUN_DISTANCE of the MTL is used when present
    mtl_d = dict(mtl, EARTH_SUN_DISTANCE="1.0")
    g1, o1 = rad.toa_reflectance_coefficients(mtl_d, "4")
    assert g1 * q + o1 == pytest.approx(rho / 0.98399 ** 2, rel=1e-9)
    # thermal constants fall back to the L5 preset (the file has none)
    assert "K1_CONSTANT_BAND_6" not in mtl
    assert rad.thermal_constants(mtl, "6") == (607.76, 1260.56)
    with pytest.raises(MtlError, match="band 6|Band 6"):
        rad.toa_reflectance_coefficients(mtl, "6")
    with pytest.raises(MtlError, match="RADIANCE_MULT_BAND_10"):
        rad.radiance_coefficients(mtl, "10")
    with pytest.raises(MtlError, match="K1_CONSTANT_BAND_3"):
        rad.thermal_constants(mtl, "3")


def test_earth_sun_distance(l8, l7, l5):
    for text in (l8, l7, l5):
        m = rad.parse_mtl(text)
        d = rad.earth_sun_distance(m["DATE_ACQUIRED"], m["SCENE_CENTER_TIME"])
        assert d == pytest.approx(value(text, "EARTH_SUN_DISTANCE"), abs=1e-5)
    # Chander et al. 2009 Table 6 (day of year -> d); the table ignores the year
    for day, d in ((1, 0.98331), (100, 1.00184), (186, 1.01670), (211, 1.01522), (352, 0.98399)):
        date = (dt.date(2001, 1, 1) + dt.timedelta(days=day - 1)).isoformat()
        assert rad.earth_sun_distance(date) == pytest.approx(d, abs=1.5e-4)
    with pytest.raises(MtlError):
        rad.earth_sun_distance("2001-13-45")


def test_c2_level2_mtl_prefers_level1_rescaling():
    text = """GROUP = LANDSAT_METADATA_FILE
  GROUP = PRODUCT_CONTENTS
    LANDSAT_PRODUCT_ID = "LC08_L2SP_195025_20130707_20200912_02_T1"
    COLLECTION_NUMBER = 02
  END_GROUP = PRODUCT_CONTENTS
  GROUP = IMAGE_ATTRIBUTES
    SPACECRAFT_ID = "LANDSAT_8"
    SENSOR_ID = "OLI_TIRS"
    DATE_ACQUIRED = 2013-07-07
    SUN_ELEVATION = 30.0
  END_GROUP = IMAGE_ATTRIBUTES
  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
    REFLECTANCE_MULT_BAND_4 = 2.75E-05
    REFLECTANCE_ADD_BAND_4 = -0.200000
  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS
  GROUP = LEVEL1_RADIOMETRIC_RESCALING
    RADIANCE_MULT_BAND_10 = 3.3420E-04
    RADIANCE_ADD_BAND_10 = 0.10000
    REFLECTANCE_MULT_BAND_4 = 2.0000E-05
    REFLECTANCE_ADD_BAND_4 = -0.100000
  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING
  GROUP = LEVEL1_THERMAL_CONSTANTS
    K1_CONSTANT_BAND_10 = 774.8853
    K2_CONSTANT_BAND_10 = 1321.0789
  END_GROUP = LEVEL1_THERMAL_CONSTANTS
END_GROUP = LANDSAT_METADATA_FILE
END
"""
    m = rad.parse_mtl(text)
    assert m["REFLECTANCE_MULT_BAND_4"] == "2.75E-05"          # first occurrence (Level-2)
    g, o = rad.toa_reflectance_coefficients(m, "4")          # but TOA uses the Level-1 group
    assert g == pytest.approx(2.0e-5 / 0.5) and o == pytest.approx(-0.2)
    assert rad.mtl_scene(m).collection == 2
    assert rad.thermal_constants(m, "10") == (774.8853, 1321.0789)
    rad.check_mtl_matches(m, "L8", [f"{L8_ID}_B4.TIF"])      # same scene, other level/collection


def test_string_mtl_accepted(l8):
    assert rad.radiance_coefficients(l8, "4") == (9.6653e-03, -48.32638)


def test_sun_below_horizon():
    text = ("GROUP = L1_METADATA_FILE\n SPACECRAFT_ID = LANDSAT_8\n SUN_ELEVATION = -2.0\n"
            " REFLECTANCE_MULT_BAND_4 = 2.0E-05\n REFLECTANCE_ADD_BAND_4 = -0.1\nEND_GROUP = L1_METADATA_FILE\n")
    with pytest.raises(MtlError, match="SUN_ELEVATION"):
        rad.toa_reflectance_coefficients(rad.parse_mtl(text), "4")


# ---------------------------------------------------------------------------- MTL / input checks
def test_check_mtl_matches(l8, l7, l5, l5pre):
    l8_files = [str(MARBURG / f"{L8_ID}_B{b}.TIF") for b in (2, 3, 4, 5, 6, 7, 10)]
    l7_files = [str(MARBURG / f"{L7_ID}_B{b}.TIF") for b in (1, 2, 3, 4, 5, 7)]
    m8, m7 = rad.parse_mtl(l8), rad.parse_mtl(l7)
    rad.check_mtl_matches(m8, "L8", l8_files)                  # matching pair passes
    rad.check_mtl_matches(m7, "L7", l7_files + [f"{L7_ID}_B6_VCID_1.TIF"])
    rad.check_mtl_matches(m8, "L8", ["red.tif", "nir", "/tmp/stack.vrt", ""])   # no id: accepted
    with pytest.raises(MtlError, match=r"LANDSAT_7.*Landsat 8"):
        rad.check_mtl_matches(m7, "L8", l8_files)
    with pytest.raises(MtlError, match="LE07_L1TP_195025_20010730"):
        rad.check_mtl_matches(m8, "L8", l8_files[:3] + l7_files[:1])
    with pytest.raises(MtlError):
        rad.check_mtl_matches(m8, "S2", [])
    with pytest.raises(MtlError, match="Unknown sensor"):
        rad.check_mtl_matches(m8, "L99", [])
    # a file renamed into a folder of another scene: the file's own id decides
    rad.check_mtl_matches(m8, "L8", [f"/data/{L7_ID}/{L8_ID}_B4.TIF"])
    # scene ids (pre-collection) are compared by path/row and date too
    mpre = rad.parse_mtl(l5pre)
    rad.check_mtl_matches(mpre, "L5", [str(ETHIOPIA / f"{L5_PRE}_B{b}.tif") for b in range(1, 8)])
    rad.check_mtl_matches(rad.parse_mtl(l5), "L5", ["LT51670552000069AAA04_B3.TIF", f"{L5_ID}_B3.TIF"])
    with pytest.raises(MtlError, match="path/row 167/055"):
        rad.check_mtl_matches(mpre, "L5", [str(ETHIOPIA / f"{L5_ID}_B3.TIF")])
    with pytest.raises(MtlError):
        rad.check_mtl_matches(rad.parse_mtl(l5), "L5", ["LT51680552000069AAA04_B3.TIF"])   # other path
    with pytest.raises(MtlError, match="LANDSAT_5"):
        rad.check_mtl_matches(mpre, "L7", [])
    # the L8 scene id and product id are the same scene
    rad.check_mtl_matches(m8, "L8", ["LC81950252013188LGN01_B4.TIF"])


# ---------------------------------------------------------------------------- array conversions
def test_scale_dn():
    dn = np.array([[0, 1, 100], [65455, 65456, 7]], dtype=np.uint16)
    out = rad.scale_dn(dn, rad.L2_REFLECTANCE_SCALE, rad.L2_REFLECTANCE_OFFSET, (0,), rad.L2_VALID_RANGE)
    assert out.dtype == np.float32 and out.shape == dn.shape
    assert np.isnan(out[0, 0]) and np.isnan(out[1, 1])
    assert out[0, 2] == pytest.approx(100 * 2.75e-5 - 0.2, rel=1e-6)
    assert out[1, 0] == pytest.approx(65455 * 2.75e-5 - 0.2, rel=1e-6)
    f = np.array([np.nan, -9999.0, 2.0], dtype=np.float32)
    out = rad.scale_dn(f, 2.0, 1.0, nodata_values=(-9999,))
    assert np.isnan(out[0]) and np.isnan(out[1]) and out[2] == 5.0
    assert rad.scale_dn(np.array([0, 3]), 1.0, 0.0, nodata_values=())[0] == 0.0
    assert (rad.L2_ST_SCALE, rad.L2_ST_OFFSET) == (0.00341802, 149.0)
    assert (rad.L2_REFLECTANCE_SCALE, rad.L2_REFLECTANCE_OFFSET, rad.L2_VALID_RANGE) == (2.75e-05, -0.2, (1, 65455))


def test_large_block_float32():
    rng = np.random.default_rng(0)
    dn = rng.integers(0, 65535, size=(256, 8000)).astype(np.float32)
    dn[0, :10] = np.nan
    out = rad.scale_dn(dn, rad.L2_REFLECTANCE_SCALE, rad.L2_REFLECTANCE_OFFSET, (0,), rad.L2_VALID_RANGE)
    assert out.dtype == np.float32 and out.shape == (256, 8000)
    assert np.isnan(out[0, :10]).all()
    bt = rad.brightness_temperature(out, 774.8853, 1321.0789)    # negative "radiances" -> NaN
    assert bt.dtype == np.float32 and np.isnan(bt[out <= 0]).all()


def test_brightness_temperature_literals():
    bt = rad.brightness_temperature(np.array([10.0, 0.0, -1.0, np.nan]), 774.8853, 1321.0789)
    assert bt[0] == pytest.approx(1321.0789 / math.log(774.8853 / 10 + 1), rel=1e-6)
    assert bt[0] == pytest.approx(302.7947, abs=1e-3)
    assert np.isnan(bt[1:]).all()


def test_s2_reflectance():
    dn = np.array([0, 1000, 3500, 11000], dtype=np.uint16)
    out = rad.s2_reflectance(dn)
    assert out.dtype == np.float32
    assert np.isnan(out[0])
    np.testing.assert_allclose(out[1:], [0.0, 0.25, 1.0], atol=1e-7)
    np.testing.assert_allclose(rad.s2_reflectance(dn, 0)[1:], [0.1, 0.35, 1.1], rtol=1e-6)


# ---------------------------------------------------------------------------- QA masks
def test_qa_pixel_clear():
    qa = np.array([
        0b1000000 | 0b10000000,       # clear + water: keep
        1 << 0, 1 << 1, 1 << 2, 1 << 3, 1 << 4,   # fill, dilated, cirrus, cloud, shadow: drop
        1 << 5,                        # snow: kept unless mask_snow
        21824,                         # typical C2 L8 clear land (bits 6, 8, 10, 12, 14): keep
        22280,                         # typical cloud (bit 3 + confidences): drop
    ], dtype=np.uint16)
    assert rad.qa_pixel_clear(qa).tolist() == [True, False, False, False, False, False, True, True, False]
    assert rad.qa_pixel_clear(qa, mask_snow=True).tolist() == \
        [True, False, False, False, False, False, False, True, False]
    f = np.array([np.nan, 21824.0], dtype=np.float32)
    assert rad.qa_pixel_clear(f).tolist() == [False, True]


def test_bqa_clear_patterns():
    low = (1 << 5) | (1 << 7) | (1 << 9) | (1 << 11)           # all confidences "low" = 2720
    assert low == 2720
    qa = np.array([
        low,                    # keep
        low | 1,                # fill
        low | (1 << 4),         # cloud bit
        (3 << 5) | (1 << 7),    # high cloud confidence
        (1 << 5) | (3 << 7),    # high cloud-shadow confidence
        (2 << 5) | (2 << 7),    # medium confidences: keep
        (1 << 5) | (1 << 7) | (3 << 9),   # high snow confidence: keep
        (1 << 5) | (1 << 7) | (3 << 11),  # high cirrus confidence: drop for L8 only
        (1 << 2) | (1 << 3) | (1 << 1),   # saturation / terrain occlusion: keep
    ], dtype=np.uint16)
    assert rad.bqa_clear(qa, "L8").tolist() == [True, False, False, False, False, True, True, False, True]
    assert rad.bqa_clear(qa, "L7").tolist() == [True, False, False, False, False, True, True, True, True]
    assert rad.bqa_clear(qa, "L5").tolist() == rad.bqa_clear(qa, "L7").tolist()
    assert rad.bqa_clear(qa.astype(np.int16), "L9").tolist() == rad.bqa_clear(qa, "L8").tolist()


def _count_clear_by_hand(a: np.ndarray, oli: bool) -> int:
    n = 0
    for v in a.ravel().tolist():
        v &= 0xFFFF
        drop = (v & 1) or (v >> 4) & 1 or ((v >> 5) & 3) == 3 or ((v >> 7) & 3) == 3 \
            or (oli and ((v >> 11) & 3) == 3)
        n += 0 if drop else 1
    return n


@pytest.mark.parametrize("path,key,expected", [
    (MARBURG / f"{L8_ID}_BQA.TIF", "L8", 1681),
    (MARBURG / f"{L7_ID}_BQA.TIF", "L7", 1681),
    (ETHIOPIA / f"{L5_ID}_BQA.TIF", "L5", 10201),
])
def test_bqa_clear_real(path, key, expected):
    a = read(path)
    mask = rad.bqa_clear(a, key)
    assert mask.dtype == bool and mask.shape == a.shape
    assert int(mask.sum()) == expected == _count_clear_by_hand(a, key in ("L8", "L9"))
    # the real scenes carry the "low confidence everywhere" codes 2720 (OLI) / 672 (TM, ETM+)
    assert set(np.unique(a).tolist()) == ({2720} if key == "L8" else {672})
    # put some clouds in: the mask must drop exactly those
    b = a.astype(np.uint16).copy()
    b[:5, :] |= (1 << 4) | (3 << 5)
    assert int(rad.bqa_clear(b, key).sum()) == expected - 5 * a.shape[1]


def test_scl_clear():
    scl = np.arange(0, 13, dtype=np.uint8)
    assert rad.scl_clear(scl).tolist() == [False, False, True, False, True, True, True, True,
                                           False, False, False, False, True]
    assert rad.scl_clear(np.array([np.nan, 4.0])).tolist() == [False, True]


def test_old_format_mtl():
    """Pre-2012 MTL layout: LMAX_BANDn / QCALMAX_BANDn, ETM+ band 61, ACQUISITION_DATE."""
    text = """GROUP = L1_METADATA_FILE
  GROUP = PRODUCT_METADATA
    SPACECRAFT_ID = "Landsat7"
    SENSOR_ID = "ETM+"
    ACQUISITION_DATE = 2001-07-30
    SCENE_CENTER_SCAN_TIME = 10:14:52.1Z
    WRS_PATH = 195
    STARTING_ROW = 25
  END_GROUP = PRODUCT_METADATA
  GROUP = MIN_MAX_RADIANCE
    LMAX_BAND3 = 234.400
    LMIN_BAND3 = -5.000
    LMAX_BAND61 = 17.040
    LMIN_BAND61 = 0.000
  END_GROUP = MIN_MAX_RADIANCE
  GROUP = MIN_MAX_PIXEL_VALUE
    QCALMAX_BAND3 = 255.0
    QCALMIN_BAND3 = 1.0
    QCALMAX_BAND61 = 255.0
    QCALMIN_BAND61 = 1.0
  END_GROUP = MIN_MAX_PIXEL_VALUE
  GROUP = PRODUCT_PARAMETERS
    SUN_ELEVATION = 53.8776531
  END_GROUP = PRODUCT_PARAMETERS
END_GROUP = L1_METADATA_FILE
END
"""
    m = rad.parse_mtl(text)
    s = rad.mtl_scene(m)
    assert (s.spacecraft, s.date, s.collection) == ("LANDSAT_7", "2001-07-30", 0)
    g, o = rad.radiance_coefficients(m, "6_VCID_1")
    assert g == pytest.approx(17.04 / 254) and o == pytest.approx(-17.04 / 254)
    assert rad.thermal_constants(m, "6_VCID_1") == (666.09, 1282.71)
    g3, o3 = rad.toa_reflectance_coefficients(m, "3")
    d = rad.earth_sun_distance("2001-07-30", "10:14:52.1Z")
    k = math.pi * d * d / (1533.0 * math.sin(math.radians(53.8776531)))
    assert g3 == pytest.approx(239.4 / 254 * k) and o3 == pytest.approx((-5.0 - 239.4 / 254) * k)
    rad.check_mtl_matches(m, "L7", [f"{L7_ID}_B3.TIF", "L71195025_02520010730_B30.TIF"])
    with pytest.raises(MtlError):
        rad.check_mtl_matches(m, "L7", ["L71195025_02520020730_B30.TIF"])
