"""test/models/salinity_chain.model3 (built by test/models/build_salinity_chain.py): the saved model is what the
script builds, and it runs headless through qgis_process on the real North Carolina Landsat 7 (2000) scene and
the real landsat96 points (issue 4): spectralindices -> samplerasters -> vipscreening -> trainmodel -> applymodel.

The points carry no salinity: their land-cover class code (field ``id``) is a TECHNICAL target only (as in
test/test_sampling_screening.py and test/test_train_model.py). Reference: the predicted raster equals the saved
model file (core.modelfile.loads, written by the chain's trainmodel child) applied with its own predict to the
indices raster read with GDAL, on the pixels where every feature is valid, NaN / nodata elsewhere.
"""
from __future__ import annotations

import copy
import csv
import os
import site

import numpy as np
import pytest
from osgeo import gdal

from paths import DATA, ROOT

pytest.importorskip("skops")
from mining_eco_plugin.core import modelfile  # noqa: E402

gdal.UseExceptions()
NC = os.path.join(DATA, "north_carolina")
MODEL = os.path.join(ROOT, "test", "models", "salinity_chain.model3")
BANDS = (("BLUE", 10), ("GREEN", 20), ("RED", 30), ("NIR", 40), ("SWIR1", 50), ("SWIR2", 70))


def test_saved_model_is_what_the_script_builds(provider, tmp_path):
    from modelkit import saved_model_as_built
    model = saved_model_as_built("build_salinity_chain.py", MODEL, tmp_path)
    assert set(model.childAlgorithms()) == {"indices", "sample", "screening", "train", "apply"}
    train = model.childAlgorithm("train")
    [source] = train.parameterSources()["SELECTED_FIELDS"]
    assert (source.outputChildId(), source.outputName()) == ("screening", "SELECTED_FIELDS")


@pytest.fixture(scope="module")
def chain(qgis_process, tmp_path_factory):
    out = tmp_path_factory.mktemp("salinity_chain")
    qp = copy.copy(qgis_process)
    # skops is pip-installed into the Python QGIS uses (here: the test venv's site-packages)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])
    args = ["SENSOR=1", "RADIOMETRY=4", f"SCALE={1 / 255!r}", "OFFSET=0",
            *(f"{role}={os.path.join(NC, f'lsat7_2000_{b}.tif')}" for role, b in BANDS),
            f"POINTS={os.path.join(NC, 'landsat96_points.shp')}", "TARGET=id",
            f"apply:PREDICTED={out / 'pred.tif'}", f"apply:GRADES={out / 'grades.tif'}",
            f"train:METRICS={out / 'metrics.csv'}", f"indices:INDICES={out / 'indices.tif'}",
            f"train:MODEL_FILE={out / 'rf.model'}"]
    proc = qp("run", MODEL, "--", *args, timeout=600)
    return out, proc


def test_chain_runs_headless_and_prediction_is_the_model_on_the_indices(chain):
    out, proc = chain
    bundle = modelfile.loads((out / "rf.model").read_bytes())
    assert type(bundle.estimator).__name__ == "RandomForestRegressor"
    ds = gdal.Open(str(out / "indices.tif"))
    names = [ds.GetRasterBand(b).GetDescription().upper() for b in range(1, ds.RasterCount + 1)]
    features = list(bundle.features)
    # the screening's SELECTED_FIELDS reached the training: a real subset of the 13 candidate indices
    assert 0 < len(features) < 13 and set(f.upper() for f in features) <= set(names)
    cols = []
    for f in features:
        band = ds.GetRasterBand(names.index(f.upper()) + 1)
        a = band.ReadAsArray().astype(np.float32)
        if band.GetNoDataValue() is not None:
            a[a == band.GetNoDataValue()] = np.nan
        cols.append(a.ravel())
    X = np.stack(cols, axis=1)
    ok = np.isfinite(X).all(axis=1)
    assert 0.5 < ok.mean() and not ok.all()      # the scene has real nodata (outside the footprint / undefined)
    want = np.full(X.shape[0], np.nan, dtype=np.float32)
    want[ok] = np.ravel(bundle.estimator.predict(X[ok])).astype(np.float32)

    pred_ds = gdal.Open(str(out / "pred.tif"))
    band = pred_ds.GetRasterBand(1)
    got = band.ReadAsArray().astype(np.float32).ravel()
    if band.GetNoDataValue() is not None:
        got[got == band.GetNoDataValue()] = np.nan
    assert pred_ds.GetGeoTransform() == ds.GetGeoTransform()
    np.testing.assert_array_equal(np.isnan(got), ~ok)
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-6, atol=1e-6)
    # the targets are land-cover codes 1..7: a random forest predicts within their range
    assert 1.0 <= np.nanmin(got) and np.nanmax(got) <= 7.0
    assert os.path.exists(out / "grades.tif")


def test_chain_writes_the_metrics_table(chain):
    out, _proc = chain
    with open(out / "metrics.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["model"], r["set"]) for r in rows] == [("Random forest", "calibration"),
                                                        ("Random forest", "validation")]
    assert all(np.isfinite(float(r["r2"])) for r in rows)


def test_chain_through_processing_run_equals_qgis_process(provider, chain, tmp_path):
    """The same real-data chain through processing.run (pytest-qgis) gives the same prediction and grades
    as the headless qgis_process run (all seeds fixed)."""
    import processing
    from qgis.core import QgsProcessingModelAlgorithm
    out, _proc = chain
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(MODEL)
    params = {"SENSOR": 1, "RADIOMETRY": 4, "SCALE": 1 / 255, "OFFSET": 0,
              "POINTS": os.path.join(NC, "landsat96_points.shp"), "TARGET": "id",
              "apply:PREDICTED": str(tmp_path / "pred.tif"), "apply:GRADES": str(tmp_path / "grades.tif"),
              "train:METRICS": str(tmp_path / "metrics.csv"), "train:MODEL_FILE": str(tmp_path / "rf.model"),
              "indices:INDICES": str(tmp_path / "indices.tif")}
    params.update({role: os.path.join(NC, f"lsat7_2000_{b}.tif") for role, b in BANDS})
    processing.run(model, params)
    for name in ("pred.tif", "grades.tif"):
        a, b = gdal.Open(str(tmp_path / name)), gdal.Open(str(out / name))
        np.testing.assert_array_equal(a.ReadAsArray(), b.ReadAsArray())
