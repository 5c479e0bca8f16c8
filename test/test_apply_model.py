"""miningeco:applymodel through processing.run (and once through qgis_process): predictions equal the model's own
predict on the same pixels read with GDAL, whatever the band order, the input layout and the block size; grades
and areas by hand; bad inputs (missing feature, pickled / altered model files, rasters on different grids)."""
import os
import pickle
import zipfile

import numpy as np
import pytest
from osgeo import gdal, osr

pytest.importorskip("skops")
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVR  # noqa: E402

from failures import assert_fails_cleanly  # noqa: E402
from mining_eco_plugin.core import modelfile as mf  # noqa: E402

gdal.UseExceptions()
BANDS = ["NDVI", "SI1", "S3", "CRSI"]          # band order in the stack
FEATURES = ["S3", "ndvi", "CRSI", "SI1"]      # the model's order (and case) differ from the stack's
W, H, PIX = 157, 123, 30.0
GT = (500000.0, PIX, 0.0, 4000000.0, 0.0, -PIX)


def srs_wkt(epsg=32617):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    return s.ExportToWkt()


def write_tif(path, arrays, names, gt=GT, nodata=-9999.0):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), arrays[0].shape[1], arrays[0].shape[0], len(arrays),
                                              gdal.GDT_Float32)
    ds.SetGeoTransform(gt)
    ds.SetProjection(srs_wkt())
    for i, (a, n) in enumerate(zip(arrays, names)):
        b = ds.GetRasterBand(i + 1)
        b.SetNoDataValue(nodata)
        b.SetDescription(n)
        b.WriteArray(a)
    ds = None
    return str(path)


def band_data():
    """Four feature bands with a -9999 nodata hole in one band and NaN pixels in another."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:H, 0:W]
    data = {n: (0.5 + 0.45 * np.sin(xx / (7 + 3 * i)) * np.cos(yy / (5 + 2 * i)) + 0.05 * rng.random((H, W)))
            .astype(np.float32) for i, n in enumerate(BANDS)}
    data["SI1"][10:20, 30:45] = -9999.0
    data["CRSI"][50, :] = np.nan
    return data


def train(kind):
    rng = np.random.default_rng(5)
    X = rng.random((400, 4)).astype(np.float32)
    y = 8.0 * (0.4 * X[:, 0] + 0.3 * X[:, 1] ** 2 + 0.2 * X[:, 2] + 0.1 * X[:, 3]) + rng.normal(0, 0.1, 400)
    est = RandomForestRegressor(30, random_state=42) if kind == "rf" else \
        make_pipeline(StandardScaler(), SVR(C=10, gamma=0.1))
    return est.fit(X, y)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("apply_inputs")
    data = band_data()
    stack = write_tif(d / "indices.tif", [data[n] for n in BANDS], BANDS)
    shuffled = write_tif(d / "shuffled.tif", [data[n] for n in ("CRSI", "S3", "NDVI", "SI1")],
                         ["CRSI", "S3", "NDVI", "SI1"])
    singles = [write_tif(d / f"{n.lower()}.tif", [data[n]], [""]) for n in BANDS]   # named by file only
    models = {}
    for kind in ("rf", "svr"):
        est = train(kind)
        path = d / f"{kind}.model"
        path.write_bytes(mf.dumps(mf.ModelBundle(est, FEATURES, "salinity", "g/kg", kind)))
        models[kind] = (str(path), est)
    return {"dir": d, "stack": stack, "shuffled": shuffled, "singles": singles, "models": models}


def run(params):
    import processing
    return processing.run("miningeco:applymodel", params)


def read(path):
    ds = gdal.Open(path)
    b = ds.GetRasterBand(1)
    return b.ReadAsArray(), b.GetNoDataValue(), ds


def reference_prediction(inputs, est):
    """The model's own predict on the pixels read with GDAL (nodata / NaN in any feature -> NaN)."""
    ds = gdal.Open(inputs["stack"])
    cols = []
    for f in FEATURES:
        band = ds.GetRasterBand(BANDS.index(f.upper()) + 1)
        a = band.ReadAsArray().astype(np.float32)
        a[a == band.GetNoDataValue()] = np.nan
        cols.append(a.ravel())
    X = np.stack(cols, axis=1)
    ok = np.isfinite(X).all(axis=1)
    want = np.full(H * W, np.nan, dtype=np.float32)
    want[ok] = est.predict(X[ok]).astype(np.float32)
    return want.reshape(H, W)


@pytest.fixture(scope="module")
def rf_run(provider, inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("apply_rf")
    params = {"MODEL_FILE": inputs["models"]["rf"][0], "RASTERS": [inputs["stack"]], "OUTPUT": str(out / "pred.tif"),
              "OUTPUT_GRADES": str(out / "grades.tif"), "OUTPUT_TABLE": str(out / "areas.csv")}
    return params, run(params)


@pytest.mark.parametrize("kind", ["rf", "svr"])
def test_prediction_equals_the_models_own_predict_on_gdal_pixels(provider, inputs, tmp_path, kind):
    path, est = inputs["models"][kind]
    res = run({"MODEL_FILE": path, "RASTERS": [inputs["stack"]], "OUTPUT": str(tmp_path / "p.tif"),
               "OUTPUT_GRADES": None, "OUTPUT_TABLE": None})
    got, nodata, ds = read(res["OUTPUT"])
    want = reference_prediction(inputs, est)
    assert nodata == -9999.0 and ds.GetRasterBand(1).DataType == gdal.GDT_Float32
    np.testing.assert_array_equal(got == nodata, np.isnan(want))
    assert np.isnan(want[10:20, 30:45]).all() and np.isnan(want[50]).all()
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-6)
    assert res["VALID_PIXELS"] == int(np.isfinite(want).sum())
    assert ds.GetRasterBand(1).GetDescription() == "salinity"
    assert os.path.exists(str(tmp_path / "p.qml"))
    assert not os.path.exists(str(tmp_path / "grades.tif"))


def test_band_order_and_single_band_files_give_the_same_prediction(provider, inputs, rf_run, tmp_path):
    params, res = rf_run
    base = read(res["OUTPUT"])[0]
    for name, rasters in (("shuffled", [inputs["shuffled"]]), ("singles", inputs["singles"][::-1])):
        other = run(dict(params, RASTERS=rasters, OUTPUT=str(tmp_path / f"{name}.tif"), OUTPUT_GRADES=None,
                         OUTPUT_TABLE=None))
        np.testing.assert_array_equal(read(other["OUTPUT"])[0], base)


def test_block_size_and_chunk_size_do_not_change_the_result(provider, inputs, rf_run, tmp_path, monkeypatch):
    from mining_eco_plugin.algorithms import apply_model
    from mining_eco_plugin.raster import engine
    params, res = rf_run
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 7)
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", 50)
    monkeypatch.setattr(apply_model, "PREDICT_CHUNK_ROWS", 97)
    other = run(dict(params, OUTPUT=str(tmp_path / "p.tif"), OUTPUT_GRADES=str(tmp_path / "g.tif"),
                     OUTPUT_TABLE=str(tmp_path / "t.csv")))
    np.testing.assert_array_equal(read(other["OUTPUT"])[0], read(res["OUTPUT"])[0])
    np.testing.assert_array_equal(read(other["OUTPUT_GRADES"])[0], read(res["OUTPUT_GRADES"])[0])
    assert open(other["OUTPUT_TABLE"]).read() == open(res["OUTPUT_TABLE"]).read()


def test_n_jobs_reaches_nested_estimators_and_does_not_change_the_result(provider, inputs, rf_run, tmp_path):
    from sklearn.ensemble import StackingRegressor
    from mining_eco_plugin.algorithms.apply_model import set_n_jobs
    nested = StackingRegressor([("rf", RandomForestRegressor(3)), ("svr", make_pipeline(StandardScaler(), SVR()))],
                               final_estimator=RandomForestRegressor(2))
    set_n_jobs(nested, 2)
    assert nested.n_jobs == 2 and nested.estimators[0][1].n_jobs == 2 and nested.final_estimator.n_jobs == 2
    params, res = rf_run
    one = run(dict(params, N_JOBS=1, OUTPUT=str(tmp_path / "p.tif"), OUTPUT_GRADES=None, OUTPUT_TABLE=None))
    np.testing.assert_allclose(read(one["OUTPUT"])[0], read(res["OUTPUT"])[0], rtol=1e-6)


def hand_grades(pred, thresholds):
    """1 + number of thresholds strictly below the value (upper-inclusive, compared in float32); 0 = nodata."""
    g = np.ones(pred.shape, dtype=np.uint8)
    for t in thresholds:
        g += (pred > np.float32(t)).astype(np.uint8)
    g[np.isnan(pred)] = 0
    return g


def read_csv(path):
    import csv
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_grades_and_area_table_by_hand(rf_run):
    _params, res = rf_run
    pred, nodata, _ = read(res["OUTPUT"])
    pred = np.where(pred == nodata, np.nan, pred)
    grades, gnd, gds = read(res["OUTPUT_GRADES"])
    assert gnd == 0 and gds.GetRasterBand(1).DataType == gdal.GDT_Byte
    want = hand_grades(pred, (1, 2, 4, 6))
    np.testing.assert_array_equal(grades, want)
    counts = np.bincount(want.ravel(), minlength=6)
    assert (counts[1:] > 0).sum() >= 4, counts          # the test data covers most grades
    rows = read_csv(res["OUTPUT_TABLE"])
    assert [r["label"] for r in rows] == ["Non-saline", "Slightly saline", "Moderately saline", "Severely saline",
                                          "Saline soil"]
    assert rows[0]["range"] == "<= 1 g/kg" and rows[4]["range"] == "> 6 g/kg"
    for r in rows:
        g = int(r["grade"])
        assert int(r["pixels"]) == counts[g]
        assert float(r["area_km2"]) == pytest.approx(counts[g] * PIX * PIX / 1e6)   # 30 m pixels
        assert float(r["percent"]) == pytest.approx(100.0 * counts[g] / counts[1:].sum())
    qml = open(os.path.splitext(res["OUTPUT_GRADES"])[0] + ".qml").read()
    assert "paletted" in qml and "Saline soil (> 6 g/kg)" in qml and "#d7191c" in qml


def test_custom_grade_table(provider, inputs, rf_run, tmp_path):
    params, res = rf_run
    pred, nodata, _ = read(res["OUTPUT"])
    pred = np.where(pred == nodata, np.nan, pred)
    other = run(dict(params, GRADE_TABLE=["3", "Low", "", "High"], OUTPUT=str(tmp_path / "p.tif"),
                     OUTPUT_GRADES=str(tmp_path / "g.tif"), OUTPUT_TABLE=str(tmp_path / "t.csv")))
    np.testing.assert_array_equal(read(other["OUTPUT_GRADES"])[0], hand_grades(pred, (3,)))
    assert [r["label"] for r in read_csv(other["OUTPUT_TABLE"])] == ["Low", "High"]


# -- bad inputs ------------------------------------------------------------------------------------------------

def outputs(folder):
    return {"OUTPUT": str(folder / "p.tif"), "OUTPUT_GRADES": str(folder / "g.tif"),
            "OUTPUT_TABLE": str(folder / "t.gpkg")}


def test_a_feature_missing_at_apply_time_is_listed(provider, inputs, tmp_path):
    three = [s for s in inputs["singles"] if not s.endswith("crsi.tif")]
    msg = assert_fails_cleanly(lambda: run(dict(outputs(tmp_path), MODEL_FILE=inputs["models"]["rf"][0],
                                                 RASTERS=three)), tmp_path, "RASTERS", "CRSI")
    assert "Available band names" in msg and "si1" in msg and "ndvi" in msg


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickled_model_file_is_refused_and_never_run(provider, inputs, tmp_path):
    marker = str(tmp_path.parent / f"{tmp_path.name}_pwned")
    evil = tmp_path.parent / f"{tmp_path.name}_evil.model"
    evil.write_bytes(pickle.dumps(_Evil(marker)))
    assert_fails_cleanly(lambda: run(dict(outputs(tmp_path), MODEL_FILE=str(evil), RASTERS=[inputs["stack"]])),
                         tmp_path, "MODEL_FILE", "pickle")
    assert not os.path.exists(marker)


def test_an_altered_model_file_is_refused(provider, inputs, tmp_path):
    good = inputs["models"]["rf"][0]
    bad = tmp_path.parent / f"{tmp_path.name}_altered.model"
    with zipfile.ZipFile(good) as z:
        meta, model = z.read(mf.META_MEMBER), bytearray(z.read(mf.MODEL_MEMBER))
    model[-100] ^= 1
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr(mf.META_MEMBER, meta)
        z.writestr(mf.MODEL_MEMBER, bytes(model))
    assert_fails_cleanly(lambda: run(dict(outputs(tmp_path), MODEL_FILE=str(bad), RASTERS=[inputs["stack"]])),
                         tmp_path, "MODEL_FILE", "altered")


def test_rasters_on_different_grids_are_refused(provider, inputs, tmp_path):
    src = tmp_path.parent / f"{tmp_path.name}_shifted"
    src.mkdir()
    singles = list(inputs["singles"])
    a = gdal.Open(singles[2]).ReadAsArray()
    shifted = (GT[0] + 3 * PIX,) + GT[1:]
    singles[2] = write_tif(src / "s3.tif", [a], [""], gt=shifted)
    assert_fails_cleanly(lambda: run(dict(outputs(tmp_path), MODEL_FILE=inputs["models"]["rf"][0], RASTERS=singles)),
                         tmp_path, "s3.tif", "not on the grid")


def test_bad_grade_table_names_the_parameter(provider, inputs, tmp_path):
    assert_fails_cleanly(lambda: run(dict(outputs(tmp_path), MODEL_FILE=inputs["models"]["rf"][0],
                                          RASTERS=[inputs["stack"]], GRADE_TABLE=["4", "a", "2", "b", "", "c"])),
                         tmp_path, "GRADE_TABLE", "strictly increasing")


# -- qgis_process ---------------------------------------------------------------------------------------------

def test_qgis_process_help_and_run(qgis_process, inputs, rf_run, tmp_path):
    import copy
    import site
    qp = copy.copy(qgis_process)
    # skops is pip-installed into the Python QGIS uses (here: the test venv's site-packages)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])
    helptext = qp("help", "miningeco:applymodel").stdout
    for word in ("MODEL_FILE", "RASTERS", "GRADE_TABLE", "OUTPUT_GRADES", "1, 2, 4, 6 g/kg", "(inclusive)"):
        assert word in helptext
    proc = qp("run", "miningeco:applymodel", "--", f"MODEL_FILE={inputs['models']['rf'][0]}",
              *[f"RASTERS={s}" for s in inputs["singles"]], "GRADE_TABLE=1,Non-saline,2,Slight,4,Moderate,6,Severe,,Saline soil",
              f"OUTPUT={tmp_path / 'p.tif'}", f"OUTPUT_GRADES={tmp_path / 'g.tif'}",
              f"OUTPUT_TABLE={tmp_path / 't.csv'}")
    assert "VALID_PIXELS" in proc.stdout
    np.testing.assert_array_equal(read(str(tmp_path / "p.tif"))[0], read(rf_run[1]["OUTPUT"])[0])
    np.testing.assert_array_equal(read(str(tmp_path / "g.tif"))[0], read(rf_run[1]["OUTPUT_GRADES"])[0])
    assert [r["label"] for r in read_csv(str(tmp_path / "t.csv"))][1] == "Slight"
