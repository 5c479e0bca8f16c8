"""miningeco algorithms through processing.run on the real Marburg Landsat 8 / Landsat 7 Level-1 scenes.

Every expected value is recomputed here from the raw DN and the MTL text (regex, not the plugin's
parser) with numpy / scikit-learn / plain math, following the published formulas named in
test/qgis/util.py; the plugin's own core is never used to make an expected value.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest
from osgeo import gdal

import util

SENSORS = ("L8", "L7")
PIXELS = ((0, 0), (20, 20), (40, 7), (13, 33), (33, 2))
# positions in the INDICES enum of miningeco:spectralindices (order of INDICES.md)
NDVI, EVI, WET, NDBSI, MNDWI = 0, 3, 5, 11, 37


def _table(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------------------------------- RSEI
@pytest.mark.parametrize("sensor", SENSORS)
def test_rsei_equals_independent_sklearn_pca_recomputation(rsei_run, sensor):
    """RSEI re-derived from DN + MTL (TOA reflectance, NDVI, WET, NDBSI, LST eqs. 6-8, MNDWI water mask)
    with scikit-learn PCA on every valid pixel equals the plugin's RSEI raster."""
    _params, res = rsei_run(sensor)
    got = util.read_raster(res["OUTPUT"])
    ref, _ = util.reference_rsei(sensor)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))   # same water / nodata pixels
    assert np.isfinite(got).sum() > 1500
    assert util.corr(got, ref) > 0.9999
    assert np.nanmax(np.abs(got - ref)) < 1e-4


@pytest.mark.parametrize("sensor", SENSORS)
def test_rsei_spans_exactly_0_to_1(rsei_run, sensor):
    _params, res = rsei_run(sensor)
    rsei = util.read_raster(res["OUTPUT"])
    valid = rsei[np.isfinite(rsei)]
    assert valid.min() == pytest.approx(0.0, abs=1e-6)
    assert valid.max() == pytest.approx(1.0, abs=1e-6)
    assert ((valid >= 0) & (valid <= 1)).all()
    assert res["MEAN_RSEI"] == pytest.approx(float(valid.mean()), abs=1e-6)


@pytest.mark.parametrize("sensor", SENSORS)
def test_rsei_grades_equal_digitized_rsei(rsei_run, sensor):
    """Grades = np.digitize of the RSEI read back with GDAL, upper-inclusive breaks 0.2/0.4/0.6/0.8
    (ningdong sect. 4.1); 0 = nodata."""
    _params, res = rsei_run(sensor)
    rsei = util.read_raster(res["OUTPUT"])
    grades = util.read_array(res["OUTPUT_GRADES"])
    assert util.raster_meta(res["OUTPUT_GRADES"])["nodata"] == [0]
    np.testing.assert_array_equal(grades, util.digitize_grades(rsei))
    assert len(np.unique(grades[grades > 0])) >= 3


@pytest.mark.parametrize("sensor", SENSORS)
def test_rsei_table_grade_areas_sum_to_valid_pixels_times_900_m2(rsei_run, sensor):
    _params, res = rsei_run(sensor)
    rsei = util.read_raster(res["OUTPUT"])
    n_valid = int(np.isfinite(rsei).sum())
    rows = _table(res["OUTPUT_TABLE"])
    areas = {r["name"]: float(r["value"]) for r in rows if r["section"] == "grade area km2"}
    assert len(areas) == 5
    assert sum(areas.values()) * 1e6 == pytest.approx(n_valid * util.PIXEL_AREA_M2, rel=1e-9)
    # each grade's area = its pixel count x 900 m2 (grades counted independently from the RSEI)
    counts = np.bincount(util.digitize_grades(rsei).ravel(), minlength=6)[1:]
    assert sorted(a * 1e6 for a in areas.values()) == pytest.approx(sorted(counts * util.PIXEL_AREA_M2))
    summary = {r["name"]: float(r["value"]) for r in rows if r["section"] == "summary"}
    assert summary["valid pixels"] == n_valid


@pytest.mark.parametrize("sensor", SENSORS)
def test_rsei_pc1_loadings_greenness_wetness_positive_and_match_sklearn(rsei_run, sensor):
    _params, res = rsei_run(sensor)
    rows = {r["name"]: float(r["value"]) for r in _table(res["OUTPUT_TABLE"]) if r["section"] == "loading"}
    assert rows["PC1 NDVI"] > 0 and rows["PC1 WET"] > 0
    assert rows["PC1 NDBSI"] < 0 and rows["PC1 LST"] < 0      # dryness and heat are bad for ecology
    _ref, comps = util.reference_rsei(sensor)
    got = [rows[f"PC1 {n}"] for n in ("NDVI", "WET", "NDBSI", "LST")]
    np.testing.assert_allclose(got, comps[0], atol=1e-5)


def test_rsei_writes_qml_styles_and_html_report(rsei_run):
    _params, res = rsei_run("L8")
    for key in ("OUTPUT", "OUTPUT_GRADES"):
        qml = os.path.splitext(res[key])[0] + ".qml"
        assert os.path.exists(qml), qml
        assert "<qgis" in open(qml).read()
    html = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "RSEI" in html and "<html" in html.lower()
    assert not [f for f in os.listdir(os.path.dirname(res["OUTPUT"])) if f.endswith(".part.tif")]


# ------------------------------------------------------------------------------ spectral indices
def _hand_indices(sensor, row, col):
    """NDVI, EVI, WET, NDBSI, MNDWI at one pixel with plain Python arithmetic (INDICES.md formulas,
    TOA reflectance = (M DN + A) / sin(sun elevation) from the MTL)."""
    mtl = util.read_mtl(util.mtl_path(sensor))
    sin_se = math.sin(math.radians(mtl["SUN_ELEVATION"]))
    rho = {}
    for role, bid in util.BANDS[sensor].items():
        if role == "THERMAL":
            continue
        dn = float(util.read_array(util.band_path(sensor, role))[row, col])
        rho[role] = (mtl[f"REFLECTANCE_MULT_BAND_{bid}"] * dn + mtl[f"REFLECTANCE_ADD_BAND_{bid}"]) / sin_se
    b, g, r, n, s1, s2 = (rho[k] for k in ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2"))
    ndvi = (n - r) / (n + r)
    evi = 2.5 * (n - r) / (n + 6 * r - 7.5 * b + 1)
    wet = sum(c * v for c, v in zip(util.WET_COEF[sensor], (b, g, r, n, s1, s2)))
    si = ((s1 + r) - (n + b)) / ((s1 + r) + (n + b))
    ibi = (2 * s1 / (s1 + n) - n / (n + r) - g / (g + s1)) / (2 * s1 / (s1 + n) + n / (n + r) + g / (g + s1))
    mndwi = (g - s1) / (g + s1)
    return {"NDVI": ndvi, "EVI": evi, "WET": wet, "NDBSI": (si + ibi) / 2, "MNDWI": mndwi}


@pytest.mark.parametrize("sensor", SENSORS)
def test_spectralindices_multiband_values_equal_hand_calculation(run_alg, tmp_path, sensor):
    out = tmp_path / "idx.tif"
    res = run_alg("spectralindices", dict(util.scene_params(sensor), INDICES=[NDVI, EVI, WET, NDBSI, MNDWI],
                                          OUTPUT=str(out)))
    assert res["OUTPUT"] == str(out)
    keys = ["NDVI", "EVI", "WET", "NDBSI", "MNDWI"]
    assert util.raster_meta(out)["descriptions"] == keys
    assert os.path.exists(tmp_path / "idx.qml")
    for row, col in PIXELS:
        hand = _hand_indices(sensor, row, col)
        for i, key in enumerate(keys):
            got = float(util.read_array(out, i + 1)[row, col])
            assert got == pytest.approx(hand[key], abs=2e-6), (key, row, col)


def test_spectralindices_output_folder_writes_one_file_per_index(run_alg, tmp_path):
    folder = tmp_path / "per_index"
    res = run_alg("spectralindices", dict(util.scene_params("L8"), INDICES=[NDVI, WET, NDBSI],
                                          OUTPUT=str(tmp_path / "multi.tif"), OUTPUT_FOLDER=str(folder)))
    tifs = sorted(f for f in os.listdir(folder) if f.endswith(".tif"))
    assert tifs == ["NDBSI.tif", "NDVI.tif", "WET.tif"]
    assert sorted(os.path.basename(p) for p in res["INDEX_FILES"]) == tifs
    for i, key in enumerate(("NDVI", "WET", "NDBSI")):
        assert util.raster_meta(folder / f"{key}.tif")["descriptions"] == [key]
        np.testing.assert_array_equal(util.read_array(folder / f"{key}.tif"),
                                      util.read_array(tmp_path / "multi.tif", i + 1))
        assert os.path.exists(folder / f"{key}.qml")
    b = util.reflectances("L8")
    np.testing.assert_allclose(util.read_raster(str(folder / "NDVI.tif")), util.ndvi(b), atol=2e-6)


def test_custom_expression_equals_ndvi_band(run_alg, tmp_path):
    out = tmp_path / "custom.tif"
    run_alg("spectralindices", dict(util.scene_params("L8", ("RED", "NIR")), INDICES=[NDVI],
                                    CUSTOM_EXPRESSION="(NIR-R)/(NIR+R)", CUSTOM_NAME="MYNDVI", OUTPUT=str(out)))
    assert util.raster_meta(out)["descriptions"] == ["NDVI", "MYNDVI"]
    ndvi, custom = util.read_array(out, 1), util.read_array(out, 2)
    np.testing.assert_allclose(custom, ndvi, atol=1e-7)
    np.testing.assert_allclose(custom, util.ndvi(util.reflectances("L8")), atol=2e-6)


def _bqa_with_flags(path):
    """A copy of the real (all clear, 2720) L8 BQA with single pixels flagged by each C1 rule, and some
    flagged only at low/medium confidence (which must stay)."""
    src = gdal.Open(f"{util.L8}_BQA.TIF")
    qa = src.ReadAsArray().astype(np.int64)
    assert (qa == 2720).all()

    def conf(v, shift, level):
        return (v & ~(3 << shift)) | (level << shift)

    flags = {
        (0, 0): 2720 | 1,                  # designated fill
        (1, 5): 2720 | (1 << 4),           # cloud
        (2, 9): conf(2720, 5, 3),          # cloud confidence high
        (3, 13): conf(2720, 7, 3),         # cloud shadow confidence high
        (4, 17): conf(2720, 11, 3),        # cirrus confidence high (OLI)
        (5, 21): conf(2720, 5, 2),         # cloud confidence medium: kept
        (6, 25): conf(2720, 9, 3),         # snow/ice confidence high: kept (not in the rule set)
        (7, 29): conf(2720, 7, 2),         # shadow confidence medium: kept
        (8, 33): conf(2720, 11, 2),        # cirrus confidence medium: kept
    }
    for (r, c), v in flags.items():
        qa[r, c] = v
    ds = gdal.GetDriverByName("GTiff").CreateCopy(str(path), src)
    ds.GetRasterBand(1).WriteArray(qa.astype(np.int16))
    ds = src = None
    return qa


def test_bqa_cloud_mask_makes_flagged_pixels_nodata(run_alg, tmp_path):
    qa_path = tmp_path / "LC08_L1TP_195025_20130707_20170503_01_T1_BQA.TIF"
    qa = _bqa_with_flags(qa_path)
    expected_masked = util.bqa_masked(qa, oli=True)
    assert expected_masked.sum() == 5
    params = dict(util.scene_params("L8"), INDICES=[NDVI, WET])
    run_alg("spectralindices", dict(params, QA_BAND=str(qa_path), OUTPUT=str(tmp_path / "masked.tif")))
    run_alg("spectralindices", dict(params, OUTPUT=str(tmp_path / "clear.tif")))
    for band in (1, 2):
        masked = util.read_raster(str(tmp_path / "masked.tif"), band)
        clear = util.read_raster(str(tmp_path / "clear.tif"), band)
        assert np.isfinite(clear).all()
        np.testing.assert_array_equal(np.isnan(masked), expected_masked)
        np.testing.assert_array_equal(masked[~expected_masked], clear[~expected_masked])


# --------------------------------------------------------------------------------------------- LST
@pytest.mark.parametrize("sensor", SENSORS)
def test_lst_equals_hand_arithmetic(run_alg, tmp_path, sensor):
    """radiance L = ML DN + AL (MTL); emissivity from NDVI (Sobrino 2004); tau = 1, up = down = 0:
    LST = K2 / ln(K1 eps / L + 1) - 273.15 (ningdong eqs. 6-8)."""
    out = tmp_path / "lst.tif"
    run_alg("lst", dict(util.scene_params(sensor, ("RED", "NIR", "THERMAL")), OUTPUT=str(out)))
    lst = util.read_array(out)
    mtl = util.read_mtl(util.mtl_path(sensor))
    tb = util.BANDS[sensor]["THERMAL"]
    for row, col in PIXELS:
        ndvi = _hand_indices(sensor, row, col)["NDVI"]
        if ndvi < 0.2:
            eps = 0.97
        elif ndvi > 0.5:
            eps = 0.99
        else:
            eps = 0.004 * ((ndvi - 0.2) / 0.3) ** 2 + 0.986
        dn = float(util.read_array(util.band_path(sensor, "THERMAL"))[row, col])
        radiance = mtl[f"RADIANCE_MULT_BAND_{tb}"] * dn + mtl[f"RADIANCE_ADD_BAND_{tb}"]
        hand = mtl[f"K2_CONSTANT_BAND_{tb}"] / math.log(mtl[f"K1_CONSTANT_BAND_{tb}"] * eps / radiance + 1) - 273.15
        assert float(lst[row, col]) == pytest.approx(hand, abs=2e-4), (row, col)
    np.testing.assert_allclose(lst, util.lst_celsius(sensor), atol=2e-4)
    assert 0 < np.nanmin(lst) < np.nanmax(lst) < 60      # a July scene in central Europe


# ---------------------------------------------------------------------------------- RSEI components
@pytest.mark.parametrize("sensor", SENSORS)
def test_rseicomponents_from_index_and_lst_outputs_equals_rsei_from_scene(run_alg, rsei_run, tmp_path, sensor):
    scene = util.scene_params(sensor)
    idx = run_alg("spectralindices", dict(scene, INDICES=[NDVI, WET, NDBSI, MNDWI],
                                          OUTPUT=str(tmp_path / "idx.tif")))["OUTPUT"]
    lst = run_alg("lst", dict(scene, OUTPUT=str(tmp_path / "lst.tif")))["OUTPUT"]
    res = run_alg("rseicomponents", {
        "GREENNESS": idx, "GREENNESS_BAND": 1, "WETNESS": idx, "WETNESS_BAND": 2,
        "DRYNESS": idx, "DRYNESS_BAND": 3, "HEAT": lst, "HEAT_BAND": 1, "MNDWI": idx, "MNDWI_BAND": 4,
        "OUTPUT": str(tmp_path / "rsei.tif"), "OUTPUT_GRADES": str(tmp_path / "grades.tif"),
        "OUTPUT_TABLE": str(tmp_path / "table.csv"), "OUTPUT_REPORT": str(tmp_path / "report.html")})
    _p, direct = rsei_run(sensor)
    a, b = util.read_raster(res["OUTPUT"]), util.read_raster(direct["OUTPUT"])
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) < 1e-5
    np.testing.assert_array_equal(util.read_array(res["OUTPUT_GRADES"]), util.read_array(direct["OUTPUT_GRADES"]))


def test_rsei_does_not_depend_on_block_size(run_alg, rsei_run, tmp_path, monkeypatch):
    """The raster engine walks 7 x 5 px blocks instead of one 41 x 41 block: the same RSEI."""
    from mining_eco_plugin.raster import engine
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 7)
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", 5)
    params, direct = rsei_run("L8")
    res = run_alg("rsei", dict(params, OUTPUT=str(tmp_path / "r.tif"), OUTPUT_GRADES=str(tmp_path / "g.tif"),
                               OUTPUT_TABLE=str(tmp_path / "t.csv"), OUTPUT_REPORT=str(tmp_path / "r.html")))
    a, b = util.read_raster(res["OUTPUT"]), util.read_raster(direct["OUTPUT"])
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.nanmax(np.abs(a - b)) < 1e-6
