"""test/models/index_search_to_grades.model3 (built by test/models/build_index_search_to_grades.py): the whole chain
of issue 15 as one Graphical Modeler model - samples, then index search, then indices, then screening, then
Optuna-tuned stacking, then apply with grades - through processing.run and headless through qgis_process, each
equal to the eight tools run one by one here.

Data: the real North Carolina Landsat 7 ETM+ scene of 2000 (test/data/north_carolina/lsat7_2000_*.tif, DN 0-255,
RADIOMETRY custom with scale 1/255: DN as a 0-1 "reflectance", a technical test) and N_POINTS of its real points
landsat96_points.shp (a seeded subset). The points carry no salinity: the target ``ec`` is synthetic, the recipe
of test/test_index_search.py scaled into the default grade table's range (g/kg): 4 * NIR / (R + SWIR1) of the
pixel under the point (DN / 255, read here with GDAL) plus Gaussian noise of 0.3 of its spread (seed 15).

References: the known form NIR/(R+SWIR1) ranks first and its band equals the formula computed here with numpy;
the model runs equal the tools run one by one (same formulas, same selected fields, same Optuna trials and best
parameters, same SHAP table, same predicted raster within float32 tolerance, same grades); the predicted raster is
the saved model file's estimator applied to the indices raster read with GDAL, the grades are its upper-inclusive
classes of the default bounds 1, 2, 4, 6 computed with numpy.
"""
from __future__ import annotations

import copy
import csv
import json
import os
import site

import numpy as np
import pytest
from osgeo import gdal, ogr

from paths import DATA, ROOT

pytest.importorskip("skops")
pytest.importorskip("optuna")
pytest.importorskip("shap")
from mining_eco_plugin.core import indices as ix  # noqa: E402
from mining_eco_plugin.core import modelfile  # noqa: E402

gdal.UseExceptions()
ogr.UseExceptions()

NC = os.path.join(DATA, "north_carolina")
MODEL = os.path.join(ROOT, "test", "models", "index_search_to_grades.model3")
BAND = {role: os.path.join(NC, f"lsat7_2000_{b}.tif") for role, b in
        (("BLUE", 10), ("GREEN", 20), ("RED", 30), ("NIR", 40), ("SWIR1", 50), ("SWIR2", 70))}
ROLES = "B=B;G=G;R=R;NIR=NIR;SWIR1=SWIR1;SWIR2=SWIR2"
PUBLISHED = ("SAI", "TRSI", "SBCI", "GOSI")
SCENE = dict(SENSOR=1, RADIOMETRY=4, SCALE=1 / 255, OFFSET=0, **BAND)
N_POINTS = 150
TOP_N = 2
BUDGET = 3           # Optuna trials: the defaults (trial 0) and two TPE trials (about 20 s of stacking fits)
THRESHOLDS = (1.0, 2.0, 4.0, 6.0)     # applymodel's default grade table (g/kg)


def run(alg, params):
    import processing
    return processing.run(f"miningeco:{alg}", params)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_bands(path):
    """{band description: float64 array with NaN for nodata} of a raster."""
    ds = gdal.Open(str(path))
    out = {}
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        a = band.ReadAsArray().astype(np.float64)
        if band.GetNoDataValue() is not None:
            a[a == band.GetNoDataValue()] = np.nan
        out[band.GetDescription()] = a
    return out


def scene_dn():
    """{role: DN / 255 float64, NaN for nodata} of the six bands, and the geotransform."""
    dn = {}
    for role, path in BAND.items():
        ds = gdal.Open(path)
        band = ds.GetRasterBand(1)
        a = band.ReadAsArray().astype(np.float64)
        if band.GetNoDataValue() is not None:
            a[a == band.GetNoDataValue()] = np.nan
        dn[role] = a / 255.0
        gt = ds.GetGeoTransform()
    return dn, gt


def known_form(dn):
    with np.errstate(all="ignore"):
        v = dn["NIR"] / (dn["RED"] + dn["SWIR1"])
    v[~np.isfinite(v)] = np.nan
    return v


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    """N_POINTS real points: geometry, the synthetic target ``ec`` (see the module docstring) and their land-cover
    code ``id``, a numeric field that is no index: the screening's candidates are the sampled fields only."""
    out = tmp_path_factory.mktemp("grades_points")
    dn, gt = scene_dn()
    form = known_form(dn)
    src = ogr.Open(os.path.join(NC, "landsat96_points.shp"))
    layer_in = src.GetLayer(0)
    rows, cols = form.shape
    candidates = []
    for f in layer_in:
        x, y = f.GetGeometryRef().GetX(), f.GetGeometryRef().GetY()
        col, row = int((x - gt[0]) // gt[1]), int((y - gt[3]) // gt[5])
        if 0 <= row < rows and 0 <= col < cols and all(np.isfinite(dn[r][row, col]) and dn[r][row, col] > 0
                                                       for r in dn) and np.isfinite(form[row, col]):
            candidates.append((x, y, form[row, col], f.GetField("id")))
    rng = np.random.default_rng(15)
    chosen = [candidates[i] for i in sorted(rng.choice(len(candidates), N_POINTS, replace=False))]
    v = 4.0 * np.array([c[2] for c in chosen])
    ec = v + rng.normal(0.0, 0.3 * v.std(), v.size)
    path = str(out / "ec_points.gpkg")
    dst = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = dst.CreateLayer("ec", layer_in.GetSpatialRef(), ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("ec", ogr.OFTReal))
    layer.CreateField(ogr.FieldDefn("id", ogr.OFTInteger))
    for (x, y, _v, code), value in zip(chosen, ec):
        g = ogr.Feature(layer.GetLayerDefn())
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x, y)
        g.SetGeometry(point)
        g.SetField("ec", float(value))
        g.SetField("id", int(code))
        layer.CreateFeature(g)
    dst = src = layer = layer_in = None
    assert len(candidates) > 500
    # the target spans several grades of the default table
    assert ec.min() < THRESHOLDS[0] < THRESHOLDS[1] < ec.max()
    return path


@pytest.fixture(scope="module")
def by_hand(provider, points, tmp_path_factory):
    """The eight tools run one by one through processing.run, with the model's settings."""
    out = tmp_path_factory.mktemp("grades_by_hand")
    keys = list(ix.INDICES)
    bands = run("spectralindices", dict(SCENE, INDICES=[], CUSTOM_EXPRESSIONS=ROLES, OUTPUT=str(out / "bands.tif")))
    sample = run("samplerasters", dict(POINTS=points, RASTERS=[bands["OUTPUT"]], METHOD=0,
                                       OUTPUT=str(out / "bands.gpkg")))
    search = run("indexsearch", dict(INPUT=sample["OUTPUT"], TARGET_FIELD="ec", TOP_N=TOP_N, SEED=42,
                                     OUTPUT_TABLE=str(out / "formulas.csv")))
    indices = run("spectralindices", dict(SCENE, INDICES=[keys.index(k) for k in PUBLISHED],
                                          CUSTOM_EXPRESSIONS=search["SELECTED_EXPRESSIONS"],
                                          OUTPUT=str(out / "indices.tif")))
    sample_ix = run("samplerasters", dict(POINTS=points, RASTERS=[indices["OUTPUT"]], METHOD=0,
                                          OUTPUT=str(out / "indices.gpkg")))
    screening = run("vipscreening", dict(INPUT=sample_ix["OUTPUT"], TARGET_FIELD="ec",
                                         FIELDS=sample_ix["SAMPLED_FIELDS"].split(","), SEED=42,
                                         OUTPUT_TABLE=str(out / "screening.csv")))
    train = run("trainmodel", dict(INPUT=sample_ix["OUTPUT"], TARGET="ec",
                                   SELECTED_FIELDS=screening["SELECTED_FIELDS"], MODEL=5, SEARCH=True,
                                   SEARCH_METHOD=0, SEARCH_BUDGET=BUDGET, SEED=42, EXPLAIN=True,
                                   OUTPUT_MODEL=str(out / "stack.model"), OUTPUT_TABLE=str(out / "metrics.csv"),
                                   OUTPUT_TRIALS=str(out / "trials.csv"), OUTPUT_SHAP=str(out / "shap.csv"),
                                   OUTPUT_REPORT=str(out / "report.html")))
    run("applymodel", dict(MODEL_FILE=train["OUTPUT_MODEL"], RASTERS=[indices["OUTPUT"]],
                           OUTPUT=str(out / "pred.tif"), OUTPUT_GRADES=str(out / "grades.tif")))
    return out, dict(search=search, screening=screening, sample_ix=sample_ix, train=train)


def model_args(out):
    """The model's inputs and outputs (every input given: qgis_process 3.22 fills in no model default)."""
    return {"SENSOR": 1, "RADIOMETRY": 4, "SCALE": 1 / 255, "OFFSET": 0, **BAND, "TARGET": "ec", "TOP_N": TOP_N,
            "SEARCH_BUDGET": BUDGET, "search:FORMULAS": str(out / "formulas.csv"),
            "indices:NEW_INDICES": str(out / "indices.tif"), "train:METRICS": str(out / "metrics.csv"),
            "train:TRIALS": str(out / "trials.csv"), "train:SHAP": str(out / "shap.csv"),
            "train:MODEL_FILE": str(out / "stack.model"), "apply:PREDICTED": str(out / "pred.tif"),
            "apply:GRADES": str(out / "grades.tif")}


@pytest.fixture(scope="module")
def by_model(provider, points, tmp_path_factory):
    import processing
    from qgis.core import QgsProcessingModelAlgorithm
    out = tmp_path_factory.mktemp("grades_by_model")
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(MODEL)
    processing.run(model, dict(model_args(out), POINTS=points))
    return out


@pytest.fixture(scope="module")
def by_qgis_process(qgis_process, points, tmp_path_factory):
    out = tmp_path_factory.mktemp("grades_by_qgis_process")
    qp = copy.copy(qgis_process)
    # skops, Optuna and shap are pip-installed into the Python QGIS uses (here: the test venv's site-packages)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])
    args = [f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}" for k, v in model_args(out).items()]
    qp("run", MODEL, "--", *args, f"POINTS={points}", timeout=900)
    return out


def test_saved_model_is_what_the_script_builds(provider, tmp_path):
    from modelkit import saved_model_as_built
    model = saved_model_as_built("build_index_search_to_grades.py", MODEL, tmp_path)
    assert set(model.childAlgorithms()) == {"bands", "sample", "search", "indices", "sample_indices", "screening",
                                            "train", "apply"}
    links = {(child, name): (s.outputChildId(), s.outputName())
             for child, name in (("indices", "CUSTOM_EXPRESSIONS"), ("train", "SELECTED_FIELDS"),
                                 ("apply", "MODEL_FILE"), ("apply", "RASTERS"))
             for s in model.childAlgorithm(child).parameterSources()[name]}
    assert links == {("indices", "CUSTOM_EXPRESSIONS"): ("search", "SELECTED_EXPRESSIONS"),
                     ("train", "SELECTED_FIELDS"): ("screening", "SELECTED_FIELDS"),
                     ("apply", "MODEL_FILE"): ("train", "OUTPUT_MODEL"), ("apply", "RASTERS"): ("indices", "OUTPUT")}
    [fields] = model.childAlgorithm("screening").parameterSources()["FIELDS"]
    assert fields.expression() == "string_to_array(@Sample_the_indices_at_the_points_SAMPLED_FIELDS, ',')"
    # QGIS names the child's results in expressions after its description: the variable exists
    from qgis.core import QgsProcessingContext
    assert "Sample_the_indices_at_the_points_SAMPLED_FIELDS" in model.variablesForChildAlgorithm(
        "screening", QgsProcessingContext())
    train = model.childAlgorithm("train").parameterSources()
    assert train["MODEL"][0].staticValue() == 5 and train["SEARCH"][0].staticValue() is True
    assert train["SEARCH_METHOD"][0].staticValue() == 0 and train["EXPLAIN"][0].staticValue() is True


def test_tools_by_hand_find_the_known_form_and_train_a_tuned_stack(by_hand):
    out, res = by_hand
    formulas = read_csv(out / "formulas.csv")
    assert formulas[0]["name"] == "RS_NIR_R_SWIR1" and formulas[0]["expression"] == "NIR/(R+SWIR1)"
    assert res["search"]["SELECTED_EXPRESSIONS"].split("\n")[0] == "RS_NIR_R_SWIR1=NIR/(R+SWIR1)"
    # the new index on the scene = the formula by hand (numpy, float64 against the float32 raster)
    got = read_bands(out / "indices.tif")["RS_NIR_R_SWIR1"]
    want = known_form(scene_dn()[0])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=2e-6)
    # the screening chose a real subset of the sampled indices, and the stack was trained on it
    candidates = res["sample_ix"]["SAMPLED_FIELDS"].split(",")
    assert candidates == list(PUBLISHED) + [f["name"] for f in formulas[:TOP_N]]     # not the points' ``id``
    screened = [r["variable"] for r in read_csv(out / "screening.csv")]
    assert sorted(screened) == sorted(candidates)
    bundle = modelfile.loads((out / "stack.model").read_bytes())
    assert list(bundle.features) == res["screening"]["SELECTED_FIELDS"].split(",")
    assert 0 < len(bundle.features) < len(candidates)
    assert type(bundle.estimator).__name__ == "StackingRegressor"
    assert bundle.extra["search_method"] == "optuna" and bundle.extra["search_trials"] == BUDGET
    trials = read_csv(out / "trials.csv")
    assert [int(t["trial"]) for t in trials] == list(range(BUDGET))
    best = min(trials, key=lambda t: (float(t["value"]), int(t["trial"])))
    assert json.loads(best["params"]) == bundle.extra["search_params"]
    assert float(best["value"]) == pytest.approx(bundle.extra["search_best_rmse"], rel=1e-12)
    assert float(trials[0]["value"]) == pytest.approx(bundle.extra["search_default_rmse"], rel=1e-12)
    shap_rows = read_csv(out / "shap.csv")
    assert sorted(r["feature"] for r in shap_rows) == sorted(bundle.features)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Optuna" in report and "TPE" in report and "SHAP" in report


def test_prediction_and_grades_are_the_model_file_on_the_indices(by_hand):
    """Independent reference: the saved estimator's predict on the indices raster read with GDAL, and the
    upper-inclusive grades of the default bounds computed with numpy."""
    out, _res = by_hand
    bundle = modelfile.loads((out / "stack.model").read_bytes())
    bands = read_bands(out / "indices.tif")
    X = np.stack([bands[f].astype(np.float32).ravel() for f in bundle.features], axis=1)
    ok = np.isfinite(X).all(axis=1)
    assert 0.5 < ok.mean() and not ok.all()
    want = np.full(X.shape[0], np.nan, dtype=np.float32)
    want[ok] = np.ravel(bundle.estimator.predict(X[ok].astype(np.float64))).astype(np.float32)
    got = read_bands(out / "pred.tif")
    [pred] = got.values()
    pred = pred.astype(np.float32).ravel()
    np.testing.assert_array_equal(np.isnan(pred), ~ok)
    np.testing.assert_allclose(pred[ok], want[ok], rtol=1e-5, atol=1e-5)
    grades = gdal.Open(str(out / "grades.tif")).ReadAsArray().ravel()
    want_grades = np.zeros(pred.size, np.uint8)
    want_grades[ok] = 1 + (pred[ok][:, None] > np.array(THRESHOLDS, np.float32)[None, :]).sum(axis=1)
    np.testing.assert_array_equal(grades, want_grades)
    assert len(np.unique(want_grades[ok])) >= 2       # the map has more than one grade


@pytest.mark.parametrize("how", ["by_model", "by_qgis_process"])
def test_model_equals_the_tools_run_one_by_one(request, by_hand, how):
    out = request.getfixturevalue(how)
    hand, _res = by_hand
    # same ranked formulas (hence the same SELECTED_EXPRESSIONS, the top TOP_N names)
    a, b = read_csv(out / "formulas.csv"), read_csv(hand / "formulas.csv")
    assert [(r["name"], r["expression"]) for r in a] == [(r["name"], r["expression"]) for r in b]
    np.testing.assert_allclose([float(r["r"]) for r in a], [float(r["r"]) for r in b], rtol=1e-12)
    # same indices raster: the published four and the selected formulas, named by their names
    got, want = read_bands(out / "indices.tif"), read_bands(hand / "indices.tif")
    assert list(got) == list(want) == list(PUBLISHED) + [r["name"] for r in b[:TOP_N]]
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    # same selected fields, same Optuna trials and best parameters, same SHAP table
    model_bundle = modelfile.loads((out / "stack.model").read_bytes())
    hand_bundle = modelfile.loads((hand / "stack.model").read_bytes())
    assert list(model_bundle.features) == list(hand_bundle.features)
    assert model_bundle.extra["search_method"] == "optuna"
    assert model_bundle.extra["search_params"] == hand_bundle.extra["search_params"]
    ta, tb = read_csv(out / "trials.csv"), read_csv(hand / "trials.csv")
    assert [(t["trial"], t["state"], json.loads(t["params"])) for t in ta] == \
        [(t["trial"], t["state"], json.loads(t["params"])) for t in tb]
    np.testing.assert_allclose([float(t["value"]) for t in ta], [float(t["value"]) for t in tb], rtol=1e-9)
    sa, sb = read_csv(out / "shap.csv"), read_csv(hand / "shap.csv")
    assert [r["feature"] for r in sa] == [r["feature"] for r in sb]
    np.testing.assert_allclose([float(r["mean_abs_shap"]) for r in sa], [float(r["mean_abs_shap"]) for r in sb],
                               rtol=1e-6)
    ma, mb = read_csv(out / "metrics.csv"), read_csv(hand / "metrics.csv")
    np.testing.assert_allclose([float(r["r2"]) for r in ma], [float(r["r2"]) for r in mb], rtol=1e-9)
    # same applied raster (float32, tolerance 1e-5) and the same grades
    [pa] = read_bands(out / "pred.tif").values()
    [pb] = read_bands(hand / "pred.tif").values()
    np.testing.assert_array_equal(np.isnan(pa), np.isnan(pb))
    ok = np.isfinite(pb)
    np.testing.assert_allclose(pa[ok], pb[ok], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(gdal.Open(str(out / "grades.tif")).ReadAsArray(),
                                  gdal.Open(str(hand / "grades.tif")).ReadAsArray())
