"""Issue 11, defect 8: impossible radiometry is refused (non-finite or negative MTL constants, Level-1 DN above
QCALMAX, most of a block's reflectance out of range), implausible LST only warned about. References: the MTL
files of the test data edited by regular expressions, and reflectances computed by hand from the published
scalings (Landsat C2 L2: DN x 0.0000275 - 0.2; Sentinel-2 L2A: (DN - 1000) / 10000)."""
import os
import re

import numpy as np
import pytest

from mining_eco_plugin.core import plausibility as pl
from mining_eco_plugin.core import radiometry as rad
from mining_eco_plugin.core.scene import BlockProducts, build_radiometry

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
L8_MTL = os.path.join(DATA, "marburg", "LC08_L1TP_195025_20130707_20170503_01_T1_MTL.txt")
L7_MTL = os.path.join(DATA, "marburg", "LE07_L1TP_195025_20010730_20170204_01_T1_MTL.txt")
OLD_L5_MTL = os.path.join(DATA, "ethiopia", "LT51670552010352MLK00_MTL.txt")


def edited(path, key, value):
    text = open(path, encoding="utf-8", errors="replace").read()
    new, n = re.subn(rf"(\b{key}\s*=\s*)[^\r\n]*", rf"\g<1>{value}", text, count=1)
    assert n == 1, key
    return rad.parse_mtl(new)


# ------------------------------------------------------------------------------- MTL constants
@pytest.mark.parametrize("key, value, call", [
    ("K1_CONSTANT_BAND_10", "NaN", lambda m: rad.thermal_constants(m, "10")),
    ("K2_CONSTANT_BAND_10", "inf", lambda m: rad.thermal_constants(m, "10")),
    ("RADIANCE_MULT_BAND_10", "nan", lambda m: rad.radiance_coefficients(m, "10")),
    ("RADIANCE_ADD_BAND_4", "-inf", lambda m: rad.radiance_coefficients(m, "4")),
    ("REFLECTANCE_MULT_BAND_4", "NAN", lambda m: rad.toa_reflectance_coefficients(m, "4")),
    ("SUN_ELEVATION", "nan", lambda m: rad.toa_reflectance_coefficients(m, "4")),
])
def test_non_finite_mtl_constants_are_refused_naming_the_key(key, value, call):
    # 0.6.0 parsed float("nan") and wrote all-nodata outputs
    with pytest.raises(rad.MtlError, match=rf"{key} = .*(not a finite number)"):
        call(edited(L8_MTL, key, value))


@pytest.mark.parametrize("key, value, call", [
    ("K1_CONSTANT_BAND_10", "-774.8853", lambda m: rad.thermal_constants(m, "10")),
    ("K2_CONSTANT_BAND_10", "0", lambda m: rad.thermal_constants(m, "10")),
    ("RADIANCE_MULT_BAND_10", "-3.3420E-04", lambda m: rad.radiance_coefficients(m, "10")),
    ("REFLECTANCE_MULT_BAND_4", "-2.0000E-05", lambda m: rad.toa_reflectance_coefficients(m, "4")),
])
def test_negative_gains_and_thermal_constants_are_refused(key, value, call):
    with pytest.raises(rad.MtlError, match=rf"{key} = .* is not positive"):
        call(edited(L8_MTL, key, value))


def test_an_impossible_earth_sun_distance_is_refused():
    mtl = edited(OLD_L5_MTL, "SUN_ELEVATION", "45.0")       # the pre-collection path uses ESUN and d
    assert rad.toa_reflectance_coefficients(mtl, "3")[0] > 0
    mtl["EARTH_SUN_DISTANCE"] = "10.166"
    with pytest.raises(rad.MtlError, match="EARTH_SUN_DISTANCE = 10.166 AU is impossible"):
        rad.toa_reflectance_coefficients(mtl, "3")


def test_the_delivered_mtl_files_still_pass():
    for path, bands in ((L8_MTL, ("4", "10")), (L7_MTL, ("3", "6_VCID_1"))):
        mtl = rad.parse_mtl(open(path).read())
        for b in bands:
            rad.radiance_coefficients(mtl, b)
        rad.thermal_constants(mtl, bands[1])


def test_qcalmax_from_the_mtl_or_the_sensor():
    # Collection 1 MTLs state QUANTIZE_CAL_MAX_BAND_x: 65535 (OLI/TIRS, 16 bit), 255 (ETM+, 8 bit)
    assert rad.qcal_max(rad.parse_mtl(open(L8_MTL).read()), "4") == 65535
    assert rad.qcal_max(rad.parse_mtl(open(L7_MTL).read()), "6_VCID_1") == 255
    assert rad.qcal_max(rad.parse_mtl(open(OLD_L5_MTL, errors="replace").read()), "3") == 255
    no_key = {k: v for k, v in rad.parse_mtl(open(L7_MTL).read()).items() if "QUANTIZE_CAL_MAX" not in k}
    assert rad.qcal_max(no_key, "3") == 255                  # TM / ETM+ default (Chander et al. 2009)


# ------------------------------------------------------------------------------- DN and reflectance blocks
def test_landsat8_dn_with_a_landsat7_mtl_are_refused():
    mtl = rad.parse_mtl(open(L7_MTL).read())
    radio = build_radiometry("L7", "L1_MTL", ("R", "NIR"), mtl=mtl)
    dn = {"R": np.full((10, 10), 8368.0, np.float32), "NIR": np.full((10, 10), 15497.0, np.float32)}
    block = BlockProducts(dn, radio, check=pl.RadiometryCheck("L1_MTL", {"R": "RED (b4.tif, band 1)"}))
    with pytest.raises(pl.ImplausibleRadiometry, match=r"RED \(b4.tif, band 1\) \(red band\): 100 pixel\(s\) hold DN "
                                                       r"up to 8368, above the band's QCALMAX = 255"):
        block.index("NDVI")
    ok = {"R": np.full((10, 10), 60.0, np.float32), "NIR": np.full((10, 10), 120.0, np.float32)}
    assert np.isfinite(BlockProducts(ok, radio, check=pl.RadiometryCheck("L1_MTL")).index("NDVI")).all()


def sentinel2_vegetation_dn(shape=(16, 16), seed=0):
    """Sentinel-2 L2A DN of vegetation after baseline 04.00 (BOA_ADD_OFFSET -1000): blue 1300, green 1600,
    red 1250, NIR 4500 (reflectance 0.03, 0.06, 0.025, 0.35), with a little noise."""
    rng = np.random.default_rng(seed)
    return {r: (v + rng.normal(0, 20, shape)).astype(np.float32)
            for r, v in (("B", 1300), ("G", 1600), ("R", 1250), ("NIR", 4500))}


def test_sentinel2_dn_read_as_landsat_level2_are_refused():
    dn = sentinel2_vegetation_dn()
    # by hand: Landsat L2 scaling gives red 1250 x 0.0000275 - 0.2 = -0.1656, NIR 4500 x 0.0000275 - 0.2 = -0.0763,
    # NDVI (-0.0763 + 0.1656) / (-0.2419) = -0.369, where Sentinel-2 scaling gives (0.35 - 0.025) / 0.375 = 0.867
    wrong = BlockProducts(dn, build_radiometry("L8", "L2", ("R", "NIR")))      # 0.6.0: no check
    assert float(np.median(wrong.index("NDVI"))) == pytest.approx(-0.369, abs=0.01)
    right = BlockProducts(dn, build_radiometry("S2", "S2_L2A", ("R", "NIR")), check=pl.RadiometryCheck("S2_L2A"))
    assert float(np.median(right.index("NDVI"))) == pytest.approx(0.867, abs=0.01)
    block = BlockProducts(dn, build_radiometry("L8", "L2", ("R", "NIR")), check=pl.RadiometryCheck("L2"))
    with pytest.raises(pl.ImplausibleRadiometry, match=r"The red band: 100 % of the valid pixels of a block have a "
                                                       r"reflectance below -0.1 .*Sentinel-2 L2A DN"):
        block.index("NDVI")


def test_landsat_level2_surface_reflectance_is_accepted():
    # real Level-2 DN of vegetation and of dark water (SR 0.005 - 0.03; SWIR slightly negative over water)
    rng = np.random.default_rng(1)
    dn = {"R": rng.uniform(7400, 8400, (20, 20)), "NIR": rng.uniform(7300, 20000, (20, 20)),
          "SWIR1": rng.uniform(6500, 7400, (20, 20))}
    block = BlockProducts({k: v.astype(np.float32) for k, v in dn.items()},
                          build_radiometry("L8", "L2", ("R", "NIR", "SWIR1")), check=pl.RadiometryCheck("L2"))
    block.index("NDVI")
    assert np.nanmin(block.reflectance("SWIR1")) < -0.01          # negative SWIR over water is no error


@pytest.mark.parametrize("scale, word", [(100.0, "above 1.5"), (10000.0, "above 1.5")])
def test_percent_or_scaled_reflectance_read_as_reflectance_is_refused(scale, word):
    refl = {"R": np.full((10, 10), 0.05 * scale, np.float32), "NIR": np.full((10, 10), 0.4 * scale, np.float32)}
    block = BlockProducts(refl, build_radiometry("L8", "REFLECTANCE", ("R", "NIR")),
                          check=pl.RadiometryCheck("REFLECTANCE", {"NIR": "NIR (nir.tif, band 1)"}))
    with pytest.raises(pl.ImplausibleRadiometry, match=rf"{word}.*percent or x 10000"):
        block.index("NDVI")


def test_only_most_of_a_block_and_enough_pixels_are_judged():
    check = pl.RadiometryCheck("REFLECTANCE")
    half = np.r_[np.full(50, 2.0), np.full(50, 0.2)]              # exactly half above 1.5: not "most"
    check.check_reflectance("R", half)
    check.check_reflectance("R", np.full(pl.MIN_CHECKED_PIXELS - 1, 3.0))     # too few pixels to judge
    check.check_reflectance("R", np.r_[np.full(63, np.nan), np.full(10, 3.0)])
    with pytest.raises(pl.ImplausibleRadiometry):
        check.check_reflectance("R", np.r_[np.full(51, 2.0), np.full(49, 0.2)])
    check.check_reflectance("SWIR2", np.full(100, -0.3))          # SWIR: only below -0.5 is impossible
    with pytest.raises(pl.ImplausibleRadiometry, match="below -0.5"):
        check.check_reflectance("SWIR2", np.full(100, -0.6))


# ------------------------------------------------------------------------------- LST warnings
@pytest.mark.parametrize("date, lat, mean, warned", [
    ("2013-07-07", 50.8, -23.26, "July"),        # Level-1 DN read as Level-2 (the Marburg scene): warned
    ("2013-01-07", 50.8, -23.26, None),          # a January that cold can be real (Zhundong): no warning
    (None, 50.8, -23.26, None),                  # date unknown: no summer rule
    ("2013-07-07", None, -23.26, None),          # latitude unknown: no summer rule
    ("2014-01-15", -35.0, -23.26, "January"),    # southern summer
    ("2013-07-07", 72.0, -23.26, None),          # beyond 60 deg: ice sheets
    ("2013-07-07", 44.0, 28.0, None),            # a real July
    (None, 40.0, -250.0, "colder than -60"),     # a thermal band in deg C read as kelvin, any date
    ("2013-07-07", 40.0, 85.0, "hotter than 70"),
])
def test_lst_warnings(date, lat, mean, warned):
    check = pl.RadiometryCheck("L2", date=date, latitude=lat)
    check.add_lst(np.array([mean - 1.0, mean + 1.0, np.nan], np.float32))
    assert check.mean_lst == pytest.approx(mean, abs=1e-4)
    got = check.warnings()
    if warned is None:
        assert got == []
    else:
        assert len(got) == 1 and warned in got[0] and "Likely" in got[0]


def test_no_lst_no_warning():
    assert pl.RadiometryCheck("L2", date="2013-07-07", latitude=40.0).warnings() == []


def test_acquisition_date_from_landsat_names():
    assert rad.acquisition_date_in_names(["LC08_L2SP_129033_20200715_20200912_02_T1_ST_B10.TIF",
                                          "LC08_L2SP_129033_20200715_20200912_02_T1_SR_B4.TIF"]) == "2020-07-15"
    assert rad.acquisition_date_in_names(["LT51670552010352MLK00_B6.tif"]) == "2010-12-18"   # day 352 of 2010
    assert rad.acquisition_date_in_names(["b10.tif"]) is None
    assert rad.acquisition_date_in_names(["LC08_L1TP_195025_20130707_20170503_01_T1_B4.TIF",
                                          "LC08_L1TP_195025_20140707_20170503_01_T1_B5.TIF"]) is None


def test_scene_blocks_share_no_state_and_their_tallies_add_up():
    """Issue 12: each block of a scene pass checks with its own fresh check; the LST tallies (the partial results,
    summed in any order) give the scene mean and warnings of one check that saw every block."""
    import pickle
    from functools import partial

    from mining_eco_plugin.core.scene import scene_block
    from mining_eco_plugin.raster.executor import add, tree_reduce

    radio = build_radiometry("L8", "L2", ("T",))
    check = pl.RadiometryCheck("L2", {"T": "ST (st.tif, band 1)"}, date="2013-07-07", latitude=44.0)
    rng = np.random.default_rng(3)
    dn = [(rng.random((5, 7)) * 2000 + 24000).astype(np.float32) for _ in range(5)]     # about -30 deg C
    dn[2][1, :] = np.nan
    block = partial(scene_block, radiometry=radio, check=pickle.loads(pickle.dumps(check)), sources=("LST",),
                    layout=(("OUTPUT", (0,)),))
    outs = [block(({"T": d}, None), None) for d in dn]
    assert check.tally() == (0.0, 0)                                     # the scene's check saw nothing
    total = tree_reduce([p for _, p in outs], add)
    assert total["valid"] == {"T": 5 * 35 - 7} and total["lst"][1] == 5 * 35 - 7
    one = pl.RadiometryCheck("L2", date="2013-07-07", latitude=44.0)
    for blocks, _ in outs:
        one.add_lst(blocks["OUTPUT"])
    check.add_tally(total["lst"])
    assert check.mean_lst == pytest.approx(one.mean_lst, rel=1e-12)
    assert check.warnings() == one.warnings() and "July" in check.warnings()[0]
