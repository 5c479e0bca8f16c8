"""Headless runs with /usr/bin/qgis_process.bin: the plugin through QGIS_PLUGINPATH, enabled once in a
temporary profile (fixture ``qgis_process`` in test/qgis/conftest.py), and the Graphical Modeler model
test/models/index_to_rsei.model3.

The reference for every comparison is the same algorithm run in-process through processing.run
(``rsei_run``), whose values test_algorithms.py checks against the independent recomputation.
"""
from __future__ import annotations

import os

import numpy as np

import modelkit  # test/models/modelkit.py
import util

MODEL = os.path.join(util.MODELS, "index_to_rsei.model3")


def _assert_same_rsei(path, reference_path, tol=1e-6):
    a, b = util.read_raster(path), util.read_raster(reference_path)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.isfinite(a).sum() > 1500
    assert np.nanmax(np.abs(a - b)) < tol


def test_list_shows_the_miningeco_algorithms(qgis_process):
    out = qgis_process("list").stdout
    for alg in ("miningeco:rsei", "miningeco:rseicomponents", "miningeco:spectralindices", "miningeco:lst"):
        assert alg in out


def test_help_of_rsei_exits_0_and_documents_parameters_and_source(qgis_process):
    out = qgis_process("help", "miningeco:rsei").stdout
    assert "RSEI from a scene" in out
    for param in ("SENSOR", "RADIOMETRY", "MTL_FILE", "THERMAL", "OUTPUT_GRADES", "CLIP_PERCENT"):
        assert param in out
    assert "Han C., Li P., Xie H. et al. (2025), Sustainability" in out and "Xu H. (2013)" in out   # the sources


def test_run_rsei_equals_processing_run(qgis_process, rsei_run, tmp_path):
    params, reference = rsei_run("L8")
    outs = {"OUTPUT": tmp_path / "rsei.tif", "OUTPUT_GRADES": tmp_path / "grades.tif",
            "OUTPUT_TABLE": tmp_path / "table.csv", "OUTPUT_REPORT": tmp_path / "report.html"}
    cli = {k: v for k, v in params.items() if k not in outs}
    proc = qgis_process("run", "miningeco:rsei", "--", *util.cli_args(dict(cli, **outs)))
    assert "PC1_SHARE" in proc.stdout
    _assert_same_rsei(str(outs["OUTPUT"]), reference["OUTPUT"])
    np.testing.assert_array_equal(util.read_array(outs["OUTPUT_GRADES"]), util.read_array(reference["OUTPUT_GRADES"]))
    assert os.path.exists(tmp_path / "rsei.qml") and "RSEI" in outs["OUTPUT_REPORT"].read_text()
    assert outs["OUTPUT_TABLE"].read_text().splitlines()[0].startswith("section,name,value")


def test_run_spectralindices_with_multiple_indices(qgis_process, tmp_path):
    out = tmp_path / "idx.tif"
    qgis_process("run", "miningeco:spectralindices", "--",
                 *util.cli_args(dict(util.scene_params("L8", ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")),
                                     INDICES=[0, 37], OUTPUT=out)))
    assert util.raster_meta(out)["descriptions"] == ["NDVI", "MNDWI"]
    b = util.reflectances("L8")
    np.testing.assert_allclose(util.read_raster(str(out), 1), util.ndvi(b), atol=2e-6)
    np.testing.assert_allclose(util.read_raster(str(out), 2), util.mndwi(b), atol=2e-6)


def test_run_with_a_bad_input_fails_with_a_message_naming_it(qgis_process, tmp_path):
    out = tmp_path / "lst.tif"
    params = dict(util.scene_params("L8", ("RED", "NIR", "THERMAL")), MTL_FILE=util.mtl_path("L7"), OUTPUT=out)
    proc = qgis_process("run", "miningeco:lst", "--", *util.cli_args(params), check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "MTL_FILE" in text and "LANDSAT_7" in text
    assert "Traceback" not in text
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ Graphical Modeler
def test_model_index_to_rsei_runs_headless_and_equals_rsei(qgis_process, rsei_run, tmp_path):
    """spectralindices (NDVI, WET, NDBSI, MNDWI) + lst -> rseicomponents, as a .model3 run by qgis_process."""
    params, reference = rsei_run("L8")
    scene = {k: v for k, v in params.items() if not k.startswith("OUTPUT")}
    rsei, grades = tmp_path / "model_rsei.tif", tmp_path / "model_grades.tif"
    results = qgis_process.results(MODEL, "--", *util.cli_args(dict(scene, **{"rsei:RSEI": rsei,
                                                                              "rsei:RSEI_GRADES": grades})))
    assert results["rsei:RSEI"] == str(rsei) and results["rsei:RSEI_GRADES"] == str(grades)
    _assert_same_rsei(str(rsei), reference["OUTPUT"], tol=1e-5)
    np.testing.assert_array_equal(util.read_array(grades), util.read_array(reference["OUTPUT_GRADES"]))


def test_model_file_matches_its_build_script(provider, tmp_path):
    """test/models/index_to_rsei.model3 is what test/models/build_index_to_rsei.py builds (kept in sync),
    and it wires the index bands to the RSEI components as documented."""
    saved = modelkit.saved_model_as_built("build_index_to_rsei.py", MODEL, tmp_path)

    children = saved.childAlgorithms()
    assert {c.algorithmId() for c in children.values()} == {
        "miningeco:spectralindices", "miningeco:lst", "miningeco:rseicomponents"}
    sources = children["rsei"].parameterSources()
    wiring = {name: (sources[name][0].outputChildId(), sources[name][0].outputName(),
                     sources[f"{name}_BAND"][0].staticValue())
              for name in ("GREENNESS", "WETNESS", "DRYNESS", "HEAT", "MNDWI")}
    assert wiring == {"GREENNESS": ("indices", "OUTPUT", 1), "WETNESS": ("indices", "OUTPUT", 2),
                      "DRYNESS": ("indices", "OUTPUT", 3), "HEAT": ("lst", "OUTPUT", 1),
                      "MNDWI": ("indices", "OUTPUT", 4)}
    options = provider.algorithm("spectralindices").parameterDefinition("INDICES").options()
    chosen = children["indices"].parameterSources()["INDICES"][0].staticValue()
    assert [options[i].split(":")[0] for i in chosen] == ["NDVI", "WET", "NDBSI", "MNDWI"]


def test_model_essentials_see_what_a_model_does(provider, tmp_path):
    """The version-independent comparison of a saved model with its build script (modelkit.model_essentials)
    sees a changed static value, a changed link and a removed model output: it cannot pass vacuously."""
    from qgis.core import QgsProcessingModelAlgorithm, QgsProcessingModelChildParameterSource
    saved = modelkit.saved_model_as_built("build_index_to_rsei.py", MODEL, tmp_path)
    base = modelkit.model_essentials(saved)

    def changed(edit):
        model = QgsProcessingModelAlgorithm()
        assert model.fromFile(MODEL)
        edit(model.childAlgorithm("rsei"))
        return modelkit.model_essentials(model)

    assert changed(lambda c: None) == base
    assert changed(lambda c: c.addParameterSources(
        "HEAT_BAND", [QgsProcessingModelChildParameterSource.fromStaticValue(2)])) != base
    assert changed(lambda c: c.addParameterSources(
        "HEAT", [QgsProcessingModelChildParameterSource.fromChildOutput("indices", "OUTPUT")])) != base
    assert changed(lambda c: c.setModelOutputs({})) != base
