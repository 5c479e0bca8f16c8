"""Issue 11, defect 6 through processing.run: areas of geographic rasters are exact on the CRS's ellipsoid
(pyproj's geodesic area of each cell's densified outline is the reference, test/qgis/geodesic_ref.py), and a
raster whose CRS says degrees but whose coordinates are not degrees is refused, naming it, by every tool that
reports areas (0.6.0 clipped its latitudes to +-90 and reported 0 km2 everywhere)."""
import csv
import os

import numpy as np
import pytest
from osgeo import gdal

import util  # test/qgis/util.py
from failures import assert_fails_cleanly
from geodesic_ref import cell_area_m2

gdal.UseExceptions()


def write(path, arrays, gt, epsg, dtype=gdal.GDT_Byte, names=(), nodata=None):
    return util.write_raster(path, arrays, names, dtype=dtype, nodata=nodata, epsg=epsg, geotransform=gt)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run(alg, params):
    import processing
    return processing.run(alg, params)


@pytest.mark.parametrize("lat", [0.0, 45.0, 70.0])
@pytest.mark.parametrize("px", [0.01, 0.25])
def test_class_areas_on_epsg4326_equal_pyproj_geod_on_wgs84(provider, tmp_path, lat, px):
    # 2 rows x 3 columns from lat (south edge) upwards: class 1 on the north row, class 2 on the south row
    classes = np.array([[1, 1, 1], [2, 2, 2]], np.uint8)
    gt = (100.0, px, 0.0, lat + 2 * px, 0.0, -px)
    layers = [write(tmp_path / "c_2000.tif", [classes], gt, 4326), write(tmp_path / "c_2010.tif", [classes], gt, 4326)]
    res = run("miningeco:classareas", {"LAYERS": layers, "UNITS": 0, "OUTPUT": str(tmp_path / "areas.csv")})
    got = {(int(r["class"]), r["date"]): float(r["area"]) * 1e6 for r in read_csv(res["OUTPUT"])}
    north = 3 * cell_area_m2(lat + px, lat + 2 * px, 100.0, 100.0 + px)
    south = 3 * cell_area_m2(lat, lat + px, 100.0, 100.0 + px)
    for date in ("2000", "2010"):
        assert got[(1, date)] == pytest.approx(north, rel=1e-6)
        assert got[(2, date)] == pytest.approx(south, rel=1e-6)


def utm_labelled_wgs84(path, arrays, **kw):
    """UTM metres (x 500 km, y 4000 km, 30 m pixels) in a file whose CRS says EPSG:4326."""
    return write(path, arrays, (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), 4326, **kw)


def test_apply_model_refuses_utm_coordinates_labelled_epsg4326(provider, tmp_path):
    pytest.importorskip("skops")
    from sklearn.ensemble import RandomForestRegressor

    from mining_eco_plugin.core import modelfile as mf
    rng = np.random.default_rng(3)
    X, y = rng.random((60, 2)), rng.random(60) * 8
    model = tmp_path / "rf.model"
    model.write_bytes(mf.dumps(mf.ModelBundle(RandomForestRegressor(5, random_state=1).fit(X, y), ["NDVI", "SI1"],
                                              "salinity", "g/kg", "rf")))
    raster = utm_labelled_wgs84(tmp_path / "indices_mislabelled.tif",
                                [rng.random((20, 20)).astype(np.float32) for _ in range(2)], dtype=gdal.GDT_Float32,
                                names=["NDVI", "SI1"])
    out = tmp_path / "out"
    out.mkdir()
    assert_fails_cleanly(lambda: run("miningeco:applymodel", {
        "MODEL_FILE": str(model), "RASTERS": [raster], "OUTPUT": str(out / "pred.tif"),
        "OUTPUT_GRADES": str(out / "grades.tif"), "OUTPUT_TABLE": str(out / "areas.csv")}),
        out, "indices_mislabelled.tif", "EPSG:4326", "not degrees", "CRS label")


def test_rsei_refuses_utm_coordinates_labelled_epsg4326_before_its_first_pass(provider, tmp_path):
    rng = np.random.default_rng(4)
    params = {}
    for pid in ("GREENNESS", "WETNESS", "DRYNESS", "HEAT"):
        params[pid] = utm_labelled_wgs84(tmp_path / f"{pid.lower()}.tif", [rng.random((30, 30)).astype(np.float32)],
                                         dtype=gdal.GDT_Float32)
        params[f"{pid}_BAND"] = 1
    out = tmp_path / "out"
    out.mkdir()
    params.update(OUTPUT=str(out / "rsei.tif"), OUTPUT_GRADES=str(out / "grades.tif"),
                  OUTPUT_TABLE=str(out / "rsei.csv"), OUTPUT_REPORT=str(out / "rsei.html"))
    msg = assert_fails_cleanly(lambda: run("miningeco:rseicomponents", params), out, "GREENNESS", "greenness.tif",
                               "EPSG:4326", "not degrees")
    assert "Pass 1" not in msg
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".rsei-")]
