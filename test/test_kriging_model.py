"""test/models/kriging_to_rfcontribution.model3 (built by test/models/build_kriging_to_rfcontribution.py): soil
samples -> two kriging runs -> samplerasters -> rfcontribution, on real Landsat 8 data of Marburg (test/data/marburg,
41 x 41 pixels of 30 m, EPSG:32632).

The inputs, made here from the real rasters (TECHNICAL stand-ins, not soil or NPP measurements):
* target ``npp``: the TOA-free NDVI (B5 - B4) / (B5 + B4) of the Landsat 8 DN of 2013-07-07, float32;
* other driver ``dem``: the bundled DEM.TIF (the same grid), copied as dem.tif;
* 60 "soil samples" at random points (numpy seed 20240617) inside the grid: ``soc`` = B6 DN / 1000 and ``ph`` =
  4 + B7 DN / 4000 of the pixel holding the point (so the fields have the real spatial structure of the bands).

Reference: the same four tools run one after the other here through processing.run (kriging twice with REFERENCE =
the target, samplerasters of the target and the DEM, rfcontribution with the kriged rasters found by their band
names); the model through processing.run and through ``qgis_process run`` gives the same rasters and tables, bit
for bit (seeds fixed).
"""
from __future__ import annotations

import copy
import csv
import os
import site

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

import util  # test/qgis/util.py
from paths import L8, ROOT, DATA

pytest.importorskip("gstools")
gdal.UseExceptions()
MODEL = os.path.join(ROOT, "test", "models", "kriging_to_rfcontribution.model3")
CATEGORIES = ["soc", "soil", "ph", "soil", "dem", "terrain"]
N_POINTS = 60


def band(n):
    return gdal.Open(f"{L8}_B{n}.TIF").ReadAsArray().astype(np.float64)


@pytest.fixture(scope="module")
def inputs(provider, tmp_path_factory):
    d = tmp_path_factory.mktemp("kriging_model")
    ref = gdal.Open(f"{L8}_B4.TIF")
    gt, wkt = ref.GetGeoTransform(), ref.GetProjection()
    b4, b5 = band(4), band(5)
    ndvi = ((b5 - b4) / (b5 + b4)).astype(np.float32)
    npp = util.write_raster(d / "npp.tif", [ndvi], dtype=gdal.GDT_Float32, epsg=32632, geotransform=gt)
    dem = str(d / "dem.tif")
    gdal.Translate(dem, os.path.join(DATA, "marburg", "DEM.TIF"))
    rng = np.random.default_rng(20240617)
    h, w = ndvi.shape
    cols, rows = rng.uniform(0, w, N_POINTS), rng.uniform(0, h, N_POINTS)
    x, y = gt[0] + cols * gt[1], gt[3] + rows * gt[5]
    r, c = rows.astype(int), cols.astype(int)
    soc, ph = band(6)[r, c] / 1000.0, 4.0 + band(7)[r, c] / 4000.0
    path = str(d / "samples.gpkg")
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference(wkt=wkt)
    lyr = ds.CreateLayer("samples", srs, ogr.wkbPoint)
    for name in ("soc", "ph"):
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
    for i in range(N_POINTS):
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetField("soc", float(soc[i]))
        f.SetField("ph", float(ph[i]))
        f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x[i]} {y[i]})"))
        lyr.CreateFeature(f)
    ds = None
    return dict(dir=d, npp=npp, dem=dem, samples=path)


@pytest.fixture(scope="module")
def direct(inputs):
    """The chain by hand: each tool through processing.run."""
    import processing
    d = inputs["dir"] / "direct"
    d.mkdir()
    kriged = {}
    for field in ("soc", "ph"):
        res = processing.run("miningeco:kriging", {
            "POINTS": inputs["samples"], "FIELD": field, "REFERENCE": inputs["npp"],
            "OUTPUT": str(d / f"{field}_kriged.tif"), "OUTPUT_VARIANCE": str(d / f"{field}_var.tif"),
            "OUTPUT_REPORT": None, "OUTPUT_CV": None, "OUTPUT_RESIDUALS": None})
        kriged[field] = res
    sampled = processing.run("miningeco:samplerasters", {
        "POINTS": inputs["samples"], "RASTERS": [inputs["npp"], inputs["dem"]], "OUTPUT": str(d / "sampled.gpkg")})
    rf = processing.run("miningeco:rfcontribution", {
        "INPUT": sampled["OUTPUT"], "Y_FIELD": "npp", "CATEGORIES": CATEGORIES,
        "DRIVER_RASTERS": [kriged["soc"]["OUTPUT"], kriged["ph"]["OUTPUT"], inputs["dem"]],
        "OUTPUT_CATEGORIES": str(d / "categories.csv"), "OUTPUT_DRIVERS": str(d / "drivers.csv"),
        "OUTPUT_REPORT": str(d / "rf.html"), "OUTPUT_RGB": str(d / "rgb.tif"),
        "OUTPUT_DOMINANT": str(d / "dominant.tif")})
    return dict(dir=d, kriged=kriged, rf=rf)


def model_params(inputs, out):
    return {"SAMPLES": inputs["samples"], "FIELD_A": "soc", "FIELD_B": "ph", "TARGET": inputs["npp"],
            "OTHER_DRIVERS": [inputs["dem"]], "Y_FIELD": "npp", "CATEGORIES": CATEGORIES,
            "krige_a:KRIGED_A": str(out / "soc.tif"), "krige_a:VARIANCE_A": str(out / "soc_var.tif"),
            "krige_b:KRIGED_B": str(out / "ph.tif"), "krige_b:VARIANCE_B": str(out / "ph_var.tif"),
            "rf:CATEGORY_TABLE": str(out / "categories.csv"), "rf:DRIVER_TABLE": str(out / "drivers.csv"),
            "rf:RGB": str(out / "rgb.tif"), "rf:DOMINANT": str(out / "dominant.tif"),
            "rf:REPORT": str(out / "rf.html")}


def rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def assert_same_as_direct(direct, out, variance_rtol=0.0):
    """Rasters and tables equal to the direct chain's; the kriging variance to ``variance_rtol`` (qgis_process runs
    in another process whose BLAS may sum in another order: 1 float32 ulp, 1.2e-7, on 12 of 1681 pixels seen)."""
    d = direct["dir"]
    for got, want in (("soc.tif", "soc_kriged.tif"), ("ph.tif", "ph_kriged.tif"), ("rgb.tif", "rgb.tif"),
                      ("dominant.tif", "dominant.tif")):
        np.testing.assert_array_equal(gdal.Open(str(out / got)).ReadAsArray(), gdal.Open(str(d / want)).ReadAsArray(),
                                      err_msg=got)
    for name in ("soc_var.tif", "ph_var.tif"):
        np.testing.assert_allclose(gdal.Open(str(out / name)).ReadAsArray(), gdal.Open(str(d / name)).ReadAsArray(),
                                   rtol=variance_rtol, atol=0, err_msg=name)
    assert rows(out / "categories.csv") == rows(d / "categories.csv")
    assert rows(out / "drivers.csv") == rows(d / "drivers.csv")


def test_saved_model_is_what_the_script_builds(provider, tmp_path):
    from modelkit import saved_model_as_built, validation_issues
    model = saved_model_as_built("build_kriging_to_rfcontribution.py", MODEL, tmp_path)
    assert validation_issues(model) == []
    assert {c.algorithmId() for c in model.childAlgorithms().values()} == {
        "miningeco:kriging", "miningeco:samplerasters", "miningeco:rfcontribution"}
    sources = model.childAlgorithm("rf").parameterSources()["DRIVER_RASTERS"]
    assert [(s.outputChildId() or s.parameterName()) for s in sources] == ["krige_a", "krige_b", "OTHER_DRIVERS"]


def test_direct_chain_is_sensible(inputs, direct):
    """The kriged rasters cover the grid with the samples' range of values, their band is named by the field (how
    rfcontribution found them), and the forest gives the two categories shares that sum to 100 %."""
    for field, res in direct["kriged"].items():
        ds = gdal.Open(res["OUTPUT"])
        assert ds.GetRasterBand(1).GetDescription() == field
        a = ds.ReadAsArray()
        assert np.isfinite(a).all() and a.shape == (41, 41)
        assert res["POINTS_USED"] == N_POINTS
    cats = rows(direct["dir"] / "categories.csv")
    assert [r["category"] for r in cats] == ["soil", "terrain"]
    assert sum(float(r["rel_con_pct"]) for r in cats) == pytest.approx(100.0, abs=1e-6)


def test_model_through_processing_run_equals_the_direct_chain(inputs, direct, tmp_path):
    import processing
    from qgis.core import QgsProcessingModelAlgorithm
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(MODEL)
    processing.run(model, model_params(inputs, tmp_path))
    assert_same_as_direct(direct, tmp_path)


def test_model_through_qgis_process_equals_the_direct_chain(qgis_process, inputs, direct, tmp_path):
    qp = copy.copy(qgis_process)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])   # GSTools (and scikit-learn) of the venv
    params = model_params(inputs, tmp_path)
    args = [f"{k}={v}" for k, v in params.items() if k not in ("OTHER_DRIVERS", "CATEGORIES")]
    args += [f"OTHER_DRIVERS={p}" for p in params["OTHER_DRIVERS"]] + [f"CATEGORIES={','.join(CATEGORIES)}"]
    results = qp.results(MODEL, "--", *args, timeout=600)
    assert results["rf:CATEGORY_TABLE"].startswith(str(tmp_path / "categories.csv"))
    assert_same_as_direct(direct, tmp_path, variance_rtol=1e-6)
