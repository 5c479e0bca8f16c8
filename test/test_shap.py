"""SHAP explanations (issue 15, part 3): core.explain, miningeco:trainmodel EXPLAIN and miningeco:applymodel
OUTPUT_SHAP, through processing.run.

References: additivity (Lundberg & Lee 2017, property 1 "local accuracy": sum_j phi_j(x) = f(x) - E f), checked
against the model's own predict; the shap package called directly (shap.TreeExplainer) on the model loaded from
the written model file (the table's mean |SHAP| = numpy on those values); for the linear PLSR the exact
interventional SHAP values phi_j = w_j (x_j - mean of the background in j) with w_j the model's slopes measured
by finite differences of its predict (hand calculation; Kernel SHAP is exact for a linear model when every
coalition is enumerated, p <= 11).
"""
from __future__ import annotations

import csv
import os
import sys

import numpy as np
import pytest
from osgeo import gdal

pytest.importorskip("skops")
shap = pytest.importorskip("shap")

from mining_eco_plugin.core import explain, modelfile  # noqa: E402
from mining_eco_plugin.core import models as core  # noqa: E402
from test_train_model import outputs, run, synthetic, synthetic_table  # noqa: E402

gdal.UseExceptions()
FIELDS = ["ndvi", "si1", "crsi"]


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


CASES = [("rf", "hist", 1e-6), ("boosting", "hist", 1e-6), ("svr", "hist", 1e-6), ("mlp", "hist", 1e-6),
         ("plsr", "hist", 1e-6), ("stacking", "hist", 1e-6)]
if core.xgboost_available():      # float32 trees: the 1e-4 of the target's range
    CASES += [("boosting", "xgboost", 1e-4), ("stacking", "xgboost", 1e-4)]


@pytest.mark.parametrize("kind, backend, tol", CASES)
def test_shap_values_add_up_to_prediction_minus_expected_value(kind, backend, tol):
    """Every validation sample: |sum_j phi_j + E f - f(x)| <= tol x (max y - min y)."""
    X, y = synthetic(80, seed=3)
    result = core.train(kind, X, y, backend=backend)
    ex, what = explain.explain_result(result.estimator, X, "systematic", FIELDS)
    _cal, val = core.systematic_split(len(y))
    assert what == "the validation samples" and list(ex.rows) == list(val)      # every 5th sample, all 16
    np.testing.assert_array_equal(ex.prediction, core.predict(result.estimator, X[val]))
    err = ex.additivity_error()
    assert err <= tol * np.ptp(y), (kind, backend, err)
    assert np.all(ex.mean_abs() > 0)          # every field moves this target


def test_linear_model_kernel_values_equal_the_hand_calculation():
    """PLSR is linear: phi_j = w_j (x_j - mean_background_j), the background = all 64 calibration samples (<=
    EXPLAIN_BACKGROUND, no k-means summary); Kernel SHAP enumerates all 2^3 - 2 coalitions: exact."""
    X, y = synthetic(80, seed=3)
    result = core.train("plsr", X, y)
    cal, val = core.systematic_split(len(y))
    ex = explain.explain(result.estimator, X[val], X[cal], FIELDS, background_size=100)
    base = core.predict(result.estimator, X[:1])[0]
    slopes = np.array([core.predict(result.estimator, X[:1] + np.eye(3)[j])[0] - base for j in range(3)])
    want = slopes * (X[val] - X[cal].mean(axis=0))
    np.testing.assert_allclose(ex.values, want, rtol=0, atol=1e-9 * np.ptp(y))
    assert "KernelExplainer" in ex.method and ex.additivity_error() <= 1e-9 * np.ptp(y)


def test_kernel_sample_limit_is_a_seeded_subset():
    X, y = synthetic(80, seed=3)
    result = core.train("svr", X, y)
    a = explain.explain_result(result.estimator, X, "kfold", FIELDS, kernel_samples=12)[0]
    b = explain.explain_result(result.estimator, X, "kfold", FIELDS, kernel_samples=12)[0]
    assert len(a.rows) == 12 and list(a.rows) == list(b.rows) and list(a.rows) == sorted(a.rows)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.additivity_error() <= 1e-6 * np.ptp(y)


def test_trainmodel_table_and_report_equal_shap_called_directly(provider, tmp_path):
    """Random forest, 1-in-5 split: the SHAP table's mean |SHAP| is numpy's mean of |shap.TreeExplainer values|
    of the saved model on the 12 validation samples (rel 1e-9), in rank order; the report has the plot."""
    src, X, y = synthetic_table(tmp_path)
    out = outputs(tmp_path / "o")
    res = run({"INPUT": src, "TARGET": "salt", "FIELDS": FIELDS, "MODEL": 0, "EXPLAIN": True,
               "OUTPUT_SHAP": str(tmp_path / "o" / "shap.csv"), **out})
    model = modelfile.loads(open(out["OUTPUT_MODEL"], "rb").read()).estimator
    _cal, val = core.systematic_split(len(y))
    te = shap.TreeExplainer(model)
    values = te.shap_values(X[val])
    assert np.abs(values.sum(axis=1) + te.expected_value - model.predict(X[val])).max() <= 1e-6 * np.ptp(y)
    want = np.abs(values).mean(axis=0)
    rows = read_csv(res["OUTPUT_SHAP"])
    assert [r["feature"] for r in rows] == [FIELDS[j] for j in np.argsort(-want)]
    assert [int(r["rank"]) for r in rows] == [1, 2, 3]
    for r in rows:
        j = FIELDS.index(r["feature"])
        assert float(r["mean_abs_shap"]) == pytest.approx(want[j], rel=1e-9)
        assert float(r["mean_shap"]) == pytest.approx(values[:, j].mean(), rel=1e-9, abs=1e-12)
    assert sum(float(r["share_pct"]) for r in rows) == pytest.approx(100.0)
    html = open(out["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "SHAP explanations" in html and "Mean |SHAP| per predictor" in html and "TreeExplainer" in html
    assert html.count("data:image/png;base64") == 2          # the scatter and the SHAP summary


def test_without_shap_the_report_says_why(provider, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "shap", None)          # as on a QGIS whose Python has no shap
    src, _X, _y = synthetic_table(tmp_path)
    out = outputs(tmp_path / "o")
    res = run({"INPUT": src, "TARGET": "salt", "FIELDS": FIELDS, "MODEL": 0, "EXPLAIN": True,
               "OUTPUT_SHAP": str(tmp_path / "o" / "shap.csv"), **out})
    html = open(out["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "No SHAP explanations" in html and "INSTALL_SHAP=true" in html
    assert "OUTPUT_SHAP" not in res and os.path.exists(res["OUTPUT_MODEL"])


def test_explain_is_off_by_default(provider, tmp_path):
    src, _X, _y = synthetic_table(tmp_path)
    out = outputs(tmp_path / "o")
    run({"INPUT": src, "TARGET": "salt", "FIELDS": FIELDS, "MODEL": 0, **out})
    assert "SHAP" not in open(out["OUTPUT_REPORT"], encoding="utf-8").read()


# -- applymodel: SHAP rasters on a sample grid ------------------------------------------------------------------
W, H, PIX = 61, 47, 30.0
GT = (500000.0, PIX, 0.0, 4000000.0, 0.0, -PIX)


@pytest.fixture(scope="module")
def shap_inputs(tmp_path_factory):
    """A 3-band feature raster (band descriptions = the model's fields) with a nodata hole, an RF and an SVR
    model file trained on the synthetic samples."""
    from osgeo import osr
    d = tmp_path_factory.mktemp("shap_apply")
    yy, xx = np.mgrid[0:H, 0:W]
    rng = np.random.default_rng(4)
    bands = [(0.5 + 0.45 * np.sin(xx / (5 + 2 * i)) * np.cos(yy / (4 + i)) + 0.05 * rng.random((H, W)))
             .astype(np.float32) for i in range(3)]
    bands[1][20:25, 10:30] = -9999.0
    path = str(d / "features.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, W, H, 3, gdal.GDT_Float32)
    ds.SetGeoTransform(GT)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32617)
    ds.SetProjection(srs.ExportToWkt())
    for i, (a, name) in enumerate(zip(bands, FIELDS)):
        b = ds.GetRasterBand(i + 1)
        b.SetNoDataValue(-9999.0)
        b.SetDescription(name)
        b.WriteArray(a)
    ds = None
    X, y = synthetic(80, seed=3)
    models = {}
    for kind in ("rf", "svr"):
        est = core.train(kind, X, y).estimator
        mpath = d / f"{kind}.model"
        mpath.write_bytes(modelfile.dumps(modelfile.ModelBundle(est, FIELDS, "salt", "g/kg", kind)))
        models[kind] = (str(mpath), est)
    stack = np.stack(bands).astype(np.float64)
    stack[stack == -9999.0] = np.nan
    return {"raster": path, "models": models, "stack": stack, "y": y}


def run_apply(params):
    import processing
    return processing.run("miningeco:applymodel", params)


def test_applymodel_shap_rasters_equal_shap_called_on_those_pixels(provider, shap_inputs, tmp_path):
    """Step 4 on 61 x 47 pixels: cell (i, j) of the SHAP grid samples pixel (row 2 + 4 i, column 2 + 4 j), a
    12 x 15 grid of 120 m cells centred on them. Its bands are shap.TreeExplainer's values of the two features
    with the largest mean |SHAP| over the grid's valid cells (float32: 1e-5 of the target's range)."""
    path, model = shap_inputs["models"]["rf"]
    res = run_apply({"MODEL_FILE": path, "RASTERS": [shap_inputs["raster"]], "OUTPUT": str(tmp_path / "p.tif"),
                     "OUTPUT_GRADES": None, "OUTPUT_TABLE": None, "SHAP_TOP_K": 2, "SHAP_STEP": 4,
                     "OUTPUT_SHAP": str(tmp_path / "shap.tif")})
    ds = gdal.Open(res["OUTPUT_SHAP"])
    assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (15, 12, 2) and res["SHAP_STEP"] == 4
    gt = ds.GetGeoTransform()
    assert gt[0] == pytest.approx(GT[0] + 2.5 * PIX - 2 * PIX) and gt[1] == pytest.approx(4 * PIX)
    assert gt[3] == pytest.approx(GT[3] - 2.5 * PIX + 2 * PIX) and gt[5] == pytest.approx(-4 * PIX)
    pixels = shap_inputs["stack"][:, 2::4, 2::4]                       # (3, 12, 15): the sampled pixels
    flat = pixels.reshape(3, -1).T
    ok = np.isfinite(flat).all(axis=1)
    te = shap.TreeExplainer(model)
    want = np.full(flat.shape, np.nan)
    want[ok] = te.shap_values(flat[ok])
    mean_abs = np.abs(want[ok]).mean(axis=0)
    top = list(np.argsort(-mean_abs)[:2])
    assert res["SHAP_FEATURES"] == ",".join(FIELDS[j] for j in top)
    tol = 1e-5 * np.ptp(shap_inputs["y"])
    for b, j in enumerate(top, start=1):
        band = ds.GetRasterBand(b)
        got = band.ReadAsArray().ravel()
        assert band.GetDescription() == FIELDS[j] and band.GetNoDataValue() == -9999.0
        np.testing.assert_array_equal(got == -9999.0, ~ok)
        np.testing.assert_allclose(got[ok], want[ok, j], rtol=0, atol=tol)
        assert float(band.GetMetadataItem("MEAN_ABS_SHAP")) == pytest.approx(mean_abs[j], rel=1e-5)
    assert (~ok).sum() > 0            # the nodata hole reaches the sample grid
    assert float(ds.GetMetadataItem("SHAP_EXPECTED_VALUE")) == pytest.approx(float(np.ravel(te.expected_value)[0]))
    qml = open(str(tmp_path / "shap.qml")).read()
    assert "#2166ac" in qml and "#b2182b" in qml                     # diverging blue - white - red
    # the ramp is symmetric around 0 over the first band's values (max |SHAP| by hand), not the nodata code
    lim = float(np.abs(want[ok, top[0]]).max())
    import re
    top_value = float(re.search(r'maximumValue="([^"]+)"', qml).group(1))
    assert top_value == pytest.approx(lim, rel=1e-4)


def test_applymodel_kernel_shap_rasters_add_up_to_the_prediction(provider, shap_inputs, tmp_path):
    """SVR (KernelExplainer, background: k-means of sampled pixels), all three features, step 7, at most 40
    cells (the step grows to 9: 7 x 5 cells): per cell, sum of the bands + SHAP_EXPECTED_VALUE = the predicted
    raster at the sampled pixel (float32: 1e-4 of the target's range)."""
    path, _model = shap_inputs["models"]["svr"]
    res = run_apply({"MODEL_FILE": path, "RASTERS": [shap_inputs["raster"]], "OUTPUT": str(tmp_path / "p.tif"),
                     "OUTPUT_GRADES": None, "OUTPUT_TABLE": None, "SHAP_TOP_K": 5, "SHAP_STEP": 7,
                     "SHAP_MAX_PIXELS": 40, "OUTPUT_SHAP": str(tmp_path / "shap.tif")})
    ds = gdal.Open(res["OUTPUT_SHAP"])
    step = res["SHAP_STEP"]
    assert step == 9 and (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (7, 5, 3)
    values = ds.ReadAsArray().astype(np.float64)
    pred = gdal.Open(res["OUTPUT"]).ReadAsArray()[step // 2::step, step // 2::step]
    ok = values[0] != -9999.0
    assert ok.sum() >= 30
    total = values.sum(axis=0) + float(ds.GetMetadataItem("SHAP_EXPECTED_VALUE"))
    assert np.abs(total[ok] - pred[ok]).max() <= 1e-4 * np.ptp(shap_inputs["y"])
    assert "KernelExplainer" in ds.GetMetadataItem("SHAP_METHOD")


def test_a_cancel_stops_kernel_explanations_between_chunks():
    from mining_eco_plugin.core.cancel import Cancelled
    X, y = synthetic(80, seed=3)
    result = core.train("svr", X, y)
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 1                  # the second chunk is never computed
    with pytest.raises(Cancelled):
        explain.explain_result(result.estimator, X, "kfold", FIELDS, cancel=cancel)
    assert len(calls) == 2


def test_qgis_process_trainmodel_explain_and_applymodel_shap(qgis_process, shap_inputs, tmp_path):
    """Headless: trainmodel with EXPLAIN writes the SHAP table; applymodel writes the SHAP raster."""
    import copy
    import site
    qp = copy.copy(qgis_process)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])     # skops, shap of the test venv
    src, _X, _y = synthetic_table(tmp_path)
    res = qp.results("miningeco:trainmodel", "--", f"INPUT={src}", "TARGET=salt", "SELECTED_FIELDS=ndvi,si1,crsi",
                     "MODEL=3", "EXPLAIN=true", f"OUTPUT_SHAP={tmp_path / 'shap.csv'}",
                     f"OUTPUT_MODEL={tmp_path / 'm.model'}", f"OUTPUT_TABLE={tmp_path / 'metrics.csv'}",
                     f"OUTPUT_REPORT={tmp_path / 'r.html'}", timeout=300)
    assert [r["rank"] for r in read_csv(res["OUTPUT_SHAP"])] == ["1", "2", "3"]
    res = qp.results("miningeco:applymodel", "--", f"MODEL_FILE={tmp_path / 'm.model'}",
                     f"RASTERS={shap_inputs['raster']}", "SHAP_TOP_K=1", "SHAP_STEP=5",
                     f"OUTPUT={tmp_path / 'p.tif'}", f"OUTPUT_SHAP={tmp_path / 's.tif'}", timeout=300)
    ds = gdal.Open(res["OUTPUT_SHAP"])
    assert ds.RasterCount == 1 and ds.GetRasterBand(1).GetDescription() == res["SHAP_FEATURES"]
