"""Bad inputs: a QgsProcessingException that names the input, and no output left behind.

Each case writes into its own empty folder ``out`` and checks afterwards that the folder is still
empty (no output, no .qml, no temporary *.part.tif).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException, QgsProcessingFeedback

import util
from failures import assert_fails_cleanly

INDEX_ROLES = ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")
NDVI, WET, NDBSI = 0, 5, 11


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def _outputs(alg, folder):
    p = {"OUTPUT": str(folder / "out.tif")}
    if alg in ("rsei", "rseicomponents"):
        p.update(OUTPUT_GRADES=str(folder / "grades.tif"), OUTPUT_TABLE=str(folder / "table.csv"),
                 OUTPUT_REPORT=str(folder / "report.html"))
    return p


def _fails(run_alg, alg, params, folder, *words):
    """Run, expect a QgsProcessingException mentioning every word, and nothing written into ``folder``."""
    return assert_fails_cleanly(lambda: run_alg(alg, params), folder, *words)


def _scene(alg, sensor="L8"):
    if alg == "spectralindices":
        return dict(util.scene_params(sensor, INDEX_ROLES), INDICES=[NDVI, WET, NDBSI])
    if alg == "lst":
        return util.scene_params(sensor, ("RED", "NIR", "THERMAL"))
    return util.scene_params(sensor)


# ------------------------------------------------------------------------------------ grids
@pytest.fixture(scope="module")
def misaligned(tmp_path_factory):
    """L8 red and NIR bands shifted by half a pixel (gdal.Translate) and warped to EPSG:3035 (gdal.Warp)."""
    folder = tmp_path_factory.mktemp("misaligned")
    out = {}
    for role in ("RED", "NIR"):
        src = util.band_path("L8", role)
        gt = util.raster_meta(src)["geotransform"]
        shifted = str(folder / f"{role.lower()}_shifted.tif")
        gdal.Translate(shifted, src, outputBounds=[gt[0] + 15, gt[3], gt[0] + 15 + 41 * 30, gt[3] - 41 * 30])
        warped = str(folder / f"{role.lower()}_3035.tif")
        gdal.Warp(warped, src, dstSRS="EPSG:3035", xRes=30, yRes=30)
        out[role] = {"shifted": shifted, "crs": warped}
    return out


@pytest.mark.parametrize("alg", ["spectralindices", "rsei"])
@pytest.mark.parametrize("kind,why", [("shifted", "extent differs"), ("crs", "CRS differs")])
def test_red_band_on_another_grid_is_an_error_naming_it(run_alg, misaligned, out, alg, kind, why):
    path = misaligned["RED"][kind]
    params = dict(_scene(alg), RED=path, **_outputs(alg, out))
    _fails(run_alg, alg, params, out, "RED", os.path.basename(path), why, "resampling")


def _warp_to_l8_grid(path):
    """gdal.Warp (nearest) of ``path`` onto the 41 x 41 px EPSG:32632 grid of the Marburg scene, as DN."""
    ds = gdal.Warp("", path, format="MEM", outputBounds=(483285, 5627295, 484515, 5628525), width=41, height=41,
                   dstSRS="EPSG:32632", resampleAlg="near")
    a = ds.ReadAsArray().astype(float)
    ds = None
    a[a <= 0] = np.nan       # outside the source (0 / -32768 nodata)
    return a


@pytest.mark.parametrize("kind", ["shifted", "crs"])
def test_resampling_option_warps_a_misaligned_band_onto_the_first_inputs_grid(run_alg, misaligned, out, kind):
    """NDVI needs R then NIR: with RESAMPLING=1 (nearest) the misaligned NIR is warped onto the red grid;
    the result equals NDVI of the NIR band warped independently with gdal.Warp."""
    params = dict(_scene("spectralindices"), INDICES=[NDVI], NIR=misaligned["NIR"][kind], RESAMPLING=1,
                  **_outputs("spectralindices", out))
    res = run_alg("spectralindices", params)
    meta, red = util.raster_meta(res["OUTPUT"]), util.raster_meta(util.band_path("L8", "RED"))
    assert (meta["size"], meta["geotransform"]) == (red["size"], red["geotransform"])
    ndvi = util.read_raster(res["OUTPUT"])
    mtl = util.read_mtl(util.mtl_path("L8"))
    sin_se = np.sin(np.radians(mtl["SUN_ELEVATION"]))
    n = (mtl["REFLECTANCE_MULT_BAND_5"] * _warp_to_l8_grid(misaligned["NIR"][kind])
         + mtl["REFLECTANCE_ADD_BAND_5"]) / sin_se
    r = util.toa_reflectance("L8", "RED", mtl)
    ref = (n - r) / (n + r)
    np.testing.assert_array_equal(np.isnan(ndvi), np.isnan(ref))
    assert np.isfinite(ndvi).sum() > 1000
    np.testing.assert_allclose(ndvi, ref, atol=2e-6)


def test_resampling_with_a_misaligned_first_input_uses_its_grid(run_alg, misaligned, out):
    params = dict(_scene("spectralindices"), INDICES=[NDVI], RED=misaligned["RED"]["shifted"], RESAMPLING=1,
                  **_outputs("spectralindices", out))
    res = run_alg("spectralindices", params)
    assert util.raster_meta(res["OUTPUT"])["geotransform"] == \
        util.raster_meta(misaligned["RED"]["shifted"])["geotransform"]
    assert np.isfinite(util.read_raster(res["OUTPUT"])).sum() > 1000


# ---------------------------------------------------------------------------------- band mapping
def test_band_mapping_naming_a_missing_band_is_an_error(run_alg, tmp_path, out):
    stack = str(tmp_path / "stack7.vrt")
    gdal.BuildVRT(stack, [util.band_path("L8", r) for r in INDEX_ROLES + ("THERMAL",)], separate=True)
    assert util.raster_meta(stack)["count"] == 7
    params = {"SENSOR": 2, "RADIOMETRY": 1, "MTL_FILE": util.mtl_path("L8"), "SCENE": stack,
              "BAND_MAPPING": "B=1,G=2,R=3,NIR=9,SWIR1=5,SWIR2=6,T=7", "INDICES": [NDVI], **_outputs("x", out)}
    _fails(run_alg, "spectralindices", params, out, "BAND_MAPPING", "NIR=9", "7 band")
    _fails(run_alg, "spectralindices", dict(params, BAND_MAPPING="NIR=9"), out, "BAND_MAPPING", "NIR=9")
    _fails(run_alg, "rsei", dict(params, **_outputs("rsei", out)), out, "BAND_MAPPING", "NIR=9")
    # the same stack with a correct mapping works and equals the one-file-per-band run
    res = run_alg("spectralindices", dict(params, BAND_MAPPING="B=1,G=2,R=3,NIR=4,SWIR1=5,SWIR2=6,T=7"))
    np.testing.assert_allclose(util.read_raster(res["OUTPUT"]), util.ndvi(util.reflectances("L8")), atol=2e-6)


# ------------------------------------------------------------------------------------------- MTL
@pytest.mark.parametrize("alg", ["spectralindices", "lst", "rsei"])
def test_mtl_of_another_scene_is_an_error(run_alg, out, alg):
    """Landsat 7 MTL (and the Landsat 7 preset) with the Landsat 8 band files."""
    params = dict(_scene(alg), SENSOR=util.SENSOR_ENUM["L7"], MTL_FILE=util.mtl_path("L7"), **_outputs(alg, out))
    _fails(run_alg, alg, params, out, "MTL_FILE", "LC08_L1TP_195025_20130707", "LE07_L1TP_195025_20010730")


def test_mtl_of_another_date_same_sensor_is_an_error(run_alg, tmp_path, out):
    """A copy of the L8 MTL re-labelled as a 2014 acquisition of the same path/row."""
    text = open(util.mtl_path("L8")).read()
    text = text.replace("20130707", "20140710").replace("2013-07-07", "2014-07-10")
    text = text.replace("LC81950252013188LGN01", "LC81950252014191LGN01")   # scene id: year + day of year
    assert "2013188" not in text
    mtl = tmp_path / "LC08_L1TP_195025_20140710_20170503_01_T1_MTL.txt"
    mtl.write_text(text)
    params = dict(_scene("spectralindices"), MTL_FILE=str(mtl), **_outputs("x", out))
    _fails(run_alg, "spectralindices", params, out, "MTL_FILE", "2014-07-10", "2013-07-07")


@pytest.mark.parametrize("alg", ["spectralindices", "lst", "rsei"])
def test_mtl_of_another_sensor_is_an_error(run_alg, out, alg):
    """Landsat 7 MTL with SENSOR = Landsat 8."""
    params = dict(_scene(alg), MTL_FILE=util.mtl_path("L7"), **_outputs(alg, out))
    _fails(run_alg, alg, params, out, "MTL_FILE", "LANDSAT_7", "Landsat 8")


# ---------------------------------------------------------------------------------------- nodata
@pytest.fixture(scope="module")
def empty_band(tmp_path_factory):
    """Copies of L8 red / thermal filled with their nodata value (-32768)."""
    folder = tmp_path_factory.mktemp("empty")
    paths = {}
    for role in ("RED", "THERMAL"):
        src = util.raster_meta(util.band_path("L8", role))
        nd = src["nodata"][0]
        assert nd is not None
        path = str(folder / f"{role.lower()}_all_nodata.tif")
        ds = gdal.GetDriverByName("GTiff").Create(path, 41, 41, 1, gdal.GDT_Int16)
        ds.SetGeoTransform(src["geotransform"])
        ds.SetProjection(src["wkt"])
        ds.GetRasterBand(1).SetNoDataValue(nd)
        ds.GetRasterBand(1).WriteArray(np.full((41, 41), nd, dtype=np.int16))
        ds = None
        paths[role] = path
    return paths


@pytest.mark.parametrize("alg", ["spectralindices", "lst", "rsei"])
def test_all_nodata_red_band_is_an_error_naming_it(run_alg, empty_band, out, alg):
    params = dict(_scene(alg), RED=empty_band["RED"], **_outputs(alg, out))
    _fails(run_alg, alg, params, out, "RED", "red_all_nodata.tif", "nodata")


@pytest.mark.parametrize("alg", ["lst", "rsei"])
def test_all_nodata_thermal_band_is_an_error_naming_it(run_alg, empty_band, out, alg):
    params = dict(_scene(alg), THERMAL=empty_band["THERMAL"], **_outputs(alg, out))
    _fails(run_alg, alg, params, out, "THERMAL", "thermal_all_nodata.tif", "nodata")


def test_all_nodata_component_raster_is_an_error_naming_it(run_alg, empty_band, rsei_run, tmp_path, out):
    scene = util.scene_params("L8")
    idx = run_alg("spectralindices", dict(scene, INDICES=[NDVI, WET, NDBSI],
                                          OUTPUT=str(tmp_path / "idx.tif")))["OUTPUT"]
    params = {"GREENNESS": idx, "GREENNESS_BAND": 1, "WETNESS": idx, "WETNESS_BAND": 2, "DRYNESS": idx,
              "DRYNESS_BAND": 3, "HEAT": empty_band["RED"], "HEAT_BAND": 1, **_outputs("rseicomponents", out)}
    _fails(run_alg, "rseicomponents", params, out, "HEAT")


# ----------------------------------------------------------------------------- custom expression
@pytest.mark.parametrize("expr,words", [
    ("(NIR-FOO)/(NIR+FOO)", ("CUSTOM_EXPRESSION", "FOO")),
    ("__import__('os')", ("CUSTOM_EXPRESSION", "__import__")),
    ("__import__('os').system('touch /tmp/mining_eco_pwned')", ("CUSTOM_EXPRESSION",)),
    ("NIR.__class__", ("CUSTOM_EXPRESSION",)),
    ("(NIR-R", ("CUSTOM_EXPRESSION",)),
])
def test_bad_custom_expression_is_an_error(run_alg, out, expr, words):
    params = dict(util.scene_params("L8", ("RED", "NIR")), INDICES=[NDVI], CUSTOM_EXPRESSION=expr,
                  **_outputs("x", out))
    _fails(run_alg, "spectralindices", params, out, *words)
    assert not os.path.exists("/tmp/mining_eco_pwned")


# ---------------------------------------------------------------------------------------- output
@pytest.mark.parametrize("alg", ["spectralindices", "lst", "rsei"])
@pytest.mark.parametrize("where", ["proc", "missing_folder"])
def test_unwritable_output_is_an_error_naming_it(run_alg, tmp_path, out, alg, where):
    target = "/proc/mining_eco.tif" if where == "proc" else str(tmp_path / "no_such_folder" / "out.tif")
    params = dict(_scene(alg), **_outputs(alg, out))
    params["OUTPUT"] = target
    _fails(run_alg, alg, params, out, "OUTPUT")
    assert not os.path.exists(target)
    assert not os.path.exists(os.path.dirname(target)) or where == "proc"


def test_unwritable_second_output_leaves_the_first_unwritten(run_alg, out):
    params = dict(_scene("rsei"), **_outputs("rsei", out))
    params["OUTPUT_GRADES"] = "/proc/mining_eco_grades.tif"
    _fails(run_alg, "rsei", params, out, "OUTPUT_GRADES")


# ------------------------------------------------------------------------------------------ cancel
def _cancel_at(threshold):
    """A feedback that cancels itself from its progressChanged signal once progress passes ``threshold``."""
    fb = QgsProcessingFeedback()
    seen = []

    def on_progress(p):
        seen.append(p)
        if p > threshold:
            fb.cancel()
    fb.progressChanged.connect(on_progress)
    fb.seen = seen
    fb.slot = on_progress
    return fb


@pytest.mark.parametrize("block_rows", [None, 8], ids=["one_block", "8_row_blocks"])
@pytest.mark.parametrize("alg,threshold", [("spectralindices", 0), ("lst", 0), ("rsei", 0), ("rsei", 66)],
                         ids=["indices", "lst", "rsei_pass1", "rsei_pass3_writing"])
def test_cancelled_run_leaves_no_output(run_alg, out, monkeypatch, alg, threshold, block_rows):
    """Cancelled from progressChanged (pass 3 of RSEI writes the outputs): no output, no *.part.tif."""
    from mining_eco_plugin.raster import engine
    if block_rows:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", block_rows)
    fb = _cancel_at(threshold)
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        run_alg(alg, dict(_scene(alg), **_outputs(alg, out)), feedback=fb)
    assert fb.isCanceled() and fb.seen
    assert not os.path.exists(out / "out.tif")
    assert os.listdir(out) == []
