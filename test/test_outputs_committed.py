"""A run commits all its outputs together at the end (issue 11, defects 1, 5, 7, 11, 13 and 17).

Every tool is run once on small valid inputs with every output given as a file in one folder (all outputs
there, with the user's umask), then again with one table sink in a format that cannot hold the table (a
.dxf: QGIS fails when it creates it, after the tool has written its rasters, model or other tables): the
run fails and the folder is empty again - no raster, no .qml, no table, no staging folder. Real QGIS, real
GDAL and OGR, no mocks.
"""
from __future__ import annotations

import csv
import os
import stat

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputLayerDefinition,
    QgsProject,
)

import util

UTM = 32649
N = 60            # samples in the table tools
SIDE = 24         # pixels of the synthetic rasters
SERIES_YEARS = (2000, 2001, 2002, 2003, 2004)


def _raster(path, array, dtype=gdal.GDT_Float32, nodata=-9999.0, names=()):
    arrays = array if isinstance(array, list) else [array]
    return util.write_raster(path, arrays, names=names, dtype=dtype, nodata=nodata, epsg=UTM)


def _samples(path):
    rng = np.random.default_rng(11)
    a, b, c, d = rng.normal(size=(4, N))
    y = 2 * a + b - 0.5 * c + 0.2 * rng.normal(size=N)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "y", "a", "b", "c", "d"])
        for i in range(N):
            w.writerow([i, *(f"{v:.10g}" for v in (y[i], a[i], b[i], c[i], d[i]))])
    with open(str(path) + "t", "w") as fh:      # .csvt: OGR reads the column types from it
        fh.write('"Integer","Real","Real","Real","Real","Real"\n')
    return str(path)


def _points(path, xy, fids):
    """A point shapefile (EPSG:32649) with an integer field ``fid`` (values ``fids``)."""
    drv = ogr.GetDriverByName("ESRI Shapefile")
    ds = drv.CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(UTM)
    layer = ds.CreateLayer("points", srs, ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("fid", ogr.OFTInteger))
    for (x, y), fid in zip(xy, fids):
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField("fid", int(fid))
        g = ogr.Geometry(ogr.wkbPoint)
        g.AddPoint_2D(float(x), float(y))
        f.SetGeometry(g)
        layer.CreateFeature(f)
    ds = None
    return str(path)


@pytest.fixture(scope="module")
def inputs(provider, tmp_path_factory):
    """Small valid inputs of every tool (synthetic rasters on one UTM grid, a sample table, points, a model
    file, monthly CASA stacks) and the real Landsat 8 scene of test/data."""
    import processing
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    f = {}
    f["cls"] = [_raster(d / f"cls_{y}.tif", rng.integers(1, 4, (SIDE, SIDE)), gdal.GDT_Byte, 0)
                for y in (2000, 2010)]
    f["lu"] = _raster(d / "lu.tif", rng.choice([1, 2, 4, 5, 7, 8], (SIDE, SIDE)), gdal.GDT_Byte, 0)
    f["series"] = [_raster(d / f"ndvi_{y}.tif", (0.3 + 0.02 * k * xx + 0.05 * rng.random((SIDE, SIDE))))
                   for k, y in enumerate(SERIES_YEARS)]
    f["rsei"] = _raster(d / "rsei.tif", np.clip(xx * 0.8 + 0.2 * rng.random((SIDE, SIDE)), 0, 1))
    f["eg"] = _raster(d / "eg.tif", 1 + 6 * np.clip(yy + 0.1 * rng.random((SIDE, SIDE)), 0, 1))
    f["x"] = _raster(d / "x.tif", xx + 0.3 * rng.random((SIDE, SIDE)))
    f["y"] = _raster(d / "y.tif", xx + yy + 0.3 * rng.random((SIDE, SIDE)))
    green = 0.2 + 0.6 * xx + 0.05 * rng.random((SIDE, SIDE))
    f["components"] = {"GREENNESS": _raster(d / "ndvi.tif", green),
                       "WETNESS": _raster(d / "wet.tif", -0.2 + 0.3 * green + 0.05 * rng.random((SIDE, SIDE))),
                       "DRYNESS": _raster(d / "ndbsi.tif", 0.1 - 0.3 * green + 0.05 * rng.random((SIDE, SIDE))),
                       "HEAT": _raster(d / "lst.tif", 35 - 10 * green + rng.random((SIDE, SIDE)))}
    f["feat"] = _raster(d / "feat.tif", [rng.normal(size=(SIDE, SIDE)) for _ in range(3)], names=("a", "b", "c"))
    f["samples"] = _samples(d / "samples.csv")
    x0, y0 = 300000.0, 4200000.0
    xy = [(x0 + 30 * (2 + 3 * i) + 15, y0 - 30 * (2 + 2 * i) - 15) for i in range(8)]
    f["points"] = _points(d / "points.shp", xy, range(1, 9))
    f["points_dup_fid"] = _points(d / "points_dup.shp", xy, [1, 1, 2, 2, 3, 3, 4, 4])
    # CASA: 12 monthly bands of NDVI, temperature (deg C), precipitation (mm), radiation (MJ m-2)
    k = np.arange(12)[:, None, None]
    ndvi = 0.15 + 0.5 * np.exp(-0.5 * ((k - 6) / 2.0) ** 2) + 0.02 * rng.random((12, SIDE, SIDE))
    temp = -5 + 25 * np.sin(np.pi * (k + 0.5) / 12) + rng.random((12, SIDE, SIDE))
    prec = 20 + 80 * np.sin(np.pi * (k + 0.5) / 12) + rng.random((12, SIDE, SIDE))
    sol = 200 + 400 * np.sin(np.pi * (k + 0.5) / 12) + rng.random((12, SIDE, SIDE))
    for name, arr in (("m_ndvi", ndvi), ("m_temp", temp), ("m_prec", prec), ("m_sol", sol)):
        f[name] = _raster(d / f"{name}.tif", [a.astype(np.float32) for a in arr])
    f["lc"] = _raster(d / "lc.tif", rng.choice([1, 2, 4], (SIDE, SIDE)), gdal.GDT_Byte, 0)
    f["model"] = str(d / "rf.model")
    processing.run("miningeco:trainmodel", {"INPUT": f["samples"], "TARGET": "y", "FIELDS": ["a", "b", "c"],
                                            "OUTPUT_MODEL": f["model"], "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    return f


def tool_inputs(alg, f):
    """Valid input parameters of tool ``alg``."""
    scene = util.scene_params("L8")
    return {
        "rsei": scene,
        "rseicomponents": dict(f["components"], **{f"{k}_BAND": 1 for k in f["components"]}),
        "spectralindices": dict(util.scene_params("L8", ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")),
                                INDICES=[0, 5]),
        "lst": util.scene_params("L8", ("RED", "NIR", "THERMAL")),
        "trend": {"INPUTS": f["series"]},
        "timeseries": {"RASTERS": f["series"]},
        "transfermatrix": {"DATE1": f["cls"][0], "DATE2": f["cls"][1]},
        "classareas": {"LAYERS": f["cls"]},
        "egindex": {"LANDUSE": f["lu"]},
        "coupling": {"RSEI": f["rsei"], "EG": f["eg"]},
        "localcorrelation": {"INPUT_X": f["x"], "INPUT_Y": f["y"], "WINDOW_SIZE": 3},
        "casanpp": {"NDVI": [f["m_ndvi"]], "TEMPERATURE": [f["m_temp"]], "PRECIPITATION": [f["m_prec"]],
                    "SOLAR_RADIATION": [f["m_sol"]], "LANDCOVER": f["lc"]},
        "trainmodel": {"INPUT": f["samples"], "TARGET": "y", "FIELDS": ["a", "b", "c"]},
        "applymodel": {"MODEL_FILE": f["model"], "RASTERS": [f["feat"]]},
        "samplerasters": {"POINTS": f["points"], "RASTERS": [f["feat"]]},
        "vipscreening": {"INPUT": f["samples"], "TARGET_FIELD": "y", "FIELDS": ["a", "b", "c", "d"]},
        "mlrcontribution": {"INPUT": f["samples"], "Y_FIELD": "y", "X_FIELDS": ["a", "b", "c"]},
        "geodetector": {"INPUT": f["samples"], "Y_FIELD": "y", "X_FIELDS": ["a", "b"]},
        "rfcontribution": {"INPUT": f["samples"], "Y_FIELD": "y", "CATEGORIES": ["a", "one", "b", "one", "c", "two",
                                                                                  "d", "two"], "N_TREES": 20},
    }[alg]


# the table sink that fails (as a .dxf) in the failure run: the last one each tool writes
LATE_SINK = {"rsei": "OUTPUT_TABLE", "rseicomponents": "OUTPUT_TABLE", "trend": "OUTPUT_TABLE",
             "timeseries": "OUTPUT_TABLE", "transfermatrix": "OUTPUT_LEGEND", "classareas": "OUTPUT",
             "egindex": "OUTPUT_TABLE", "coupling": "OUTPUT_TABLE", "localcorrelation": "OUTPUT_TABLE",
             "casanpp": "OUTPUT_TABLE", "trainmodel": "OUTPUT_TABLE", "applymodel": "OUTPUT_TABLE",
             "samplerasters": "OUTPUT_REJECTED", "vipscreening": "OUTPUT_TABLE", "mlrcontribution": "OUTPUT_TABLE",
             "geodetector": "OUTPUT_ECOLOGICAL", "rfcontribution": "OUTPUT_DRIVERS"}
TOOLS = sorted(LATE_SINK) + ["lst", "spectralindices"]


def every_output(alg_id, folder):
    """Every destination parameter of ``alg_id`` as a file (or folder) in ``folder``."""
    from qgis.core import QgsApplication
    alg = QgsApplication.processingRegistry().algorithmById(f"miningeco:{alg_id}")
    out = {}
    for d in alg.destinationParameterDefinitions():
        kind, name = d.type(), d.name().lower()
        if kind == "rasterDestination":
            out[d.name()] = str(folder / f"{name}.tif")
        elif kind == "sink":
            out[d.name()] = str(folder / f"{name}.csv")
        elif kind == "folderDestination":
            out[d.name()] = str(folder / name)
        else:
            ext = d.defaultFileExtension() or "dat"
            out[d.name()] = str(folder / f"{name}.{ext}")
    return out


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


def _files(folder):
    return sorted(os.path.relpath(os.path.join(r, n), folder) for r, _d, names in os.walk(folder) for n in names)


@pytest.mark.parametrize("alg", TOOLS)
def test_every_output_is_committed_with_the_users_umask(alg, inputs, tmp_path, umask_027):
    """A valid run writes every output, each with the umask's mode (0640 under umask 027: not mkstemp's 0600,
    nor a fixed 0644), and no staging folder or temporary file."""
    import processing
    out = tmp_path / "out"
    out.mkdir()
    params = dict(tool_inputs(alg, inputs), **every_output(alg, out))
    res = processing.run(f"miningeco:{alg}", params)
    files = _files(out)
    assert files, res
    assert not [n for n in os.listdir(out) if n.startswith(".")], os.listdir(out)
    for name in files:
        mode = stat.S_IMODE(os.stat(out / name).st_mode)
        assert mode == umask_027, f"{name}: {oct(mode)}"
    for key, value in res.items():       # results name the destinations, never a staged path
        assert ".staging" not in str(value), (key, value)


@pytest.mark.parametrize("alg", sorted(LATE_SINK))
def test_a_table_that_fails_late_leaves_nothing_of_the_run(alg, inputs, tmp_path):
    """Defect 1: the last table fails (a .dxf cannot hold it; QGIS itself fails to create it) after the
    rasters, model, styles and other tables were written: nothing of the run is left, not even the .dxf."""
    import processing
    out = tmp_path / "out"
    out.mkdir()
    params = dict(tool_inputs(alg, inputs), **every_output(alg, out))
    params[LATE_SINK[alg]] = str(out / "late.dxf")
    with pytest.raises(QgsProcessingException):
        processing.run(f"miningeco:{alg}", params)
    assert _files(out) == [] and os.listdir(out) == []


@pytest.mark.parametrize("alg", ["lst", "spectralindices"])
def test_cancel_after_the_last_block_leaves_nothing(alg, inputs, tmp_path):
    """A cancel after every block was written (at 95 %) leaves nothing, also no OUTPUT_FOLDER (defect 13)."""
    import processing

    class CancelLate(QgsProcessingFeedback):
        def setProgress(self, p):  # noqa: N802
            super().setProgress(p)
            if p >= 95:
                self.cancel()

    out = tmp_path / "out"
    out.mkdir()
    params = dict(tool_inputs(alg, inputs), **every_output(alg, out))
    with pytest.raises(QgsProcessingException, match="[Cc]ancel"):
        processing.run(f"miningeco:{alg}", params, feedback=CancelLate())
    assert os.listdir(out) == []


def test_cancel_removes_the_output_folder_and_its_missing_parents(inputs, tmp_path):
    """Defect 13: OUTPUT_FOLDER (and the folders above it that did not exist) are gone after a cancel."""
    import processing

    class CancelAtOnce(QgsProcessingFeedback):
        def setProgress(self, p):  # noqa: N802
            super().setProgress(p)
            if p > 10:
                self.cancel()

    params = dict(tool_inputs("spectralindices", inputs), OUTPUT_FOLDER=str(tmp_path / "new" / "indices"))
    with pytest.raises(QgsProcessingException):
        processing.run("miningeco:spectralindices", params, feedback=CancelAtOnce())
    assert os.listdir(tmp_path) == []


def test_the_cancel_message_is_reported_once(inputs, tmp_path):
    """Defect 13: "Cancelled" reaches the user once (the exception), not a second time as an error line."""
    from qgis.core import QgsApplication

    class Recorder(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.errors = []

        def reportError(self, text, fatal=False):  # noqa: N802
            self.errors.append(text)
            super().reportError(text, fatal)

        def setProgress(self, p):  # noqa: N802
            super().setProgress(p)
            if p > 10:
                self.cancel()

    alg = QgsApplication.processingRegistry().createAlgorithmById("miningeco:lst")
    params = dict(tool_inputs("lst", inputs), OUTPUT=str(tmp_path / "lst.tif"))
    fb = Recorder()
    context = QgsProcessingContext()
    alg.prepare(params, context, fb)
    with pytest.raises(QgsProcessingException) as err:
        alg.processAlgorithm(params, context, fb)
    messages = fb.errors + [str(err.value)]
    assert sum("ancel" in m for m in messages) == 1, messages


# ------------------------------------------------------------------------------ defect 7: a failing sink
def test_rows_a_table_refuses_fail_the_run_naming_the_parameter(inputs, tmp_path):
    """Defect 7: a GeoPackage refuses rows whose ``fid`` repeats (UNIQUE constraint): addFeature returns False,
    the run fails naming OUTPUT, and nothing is left (the landed code reported success)."""
    import processing
    out = tmp_path / "out"
    out.mkdir()
    params = {"POINTS": inputs["points_dup_fid"], "RASTERS": [inputs["feat"]], "OUTPUT": str(out / "samples.gpkg")}
    with pytest.raises(QgsProcessingException, match="OUTPUT") as err:
        processing.run("miningeco:samplerasters", params)
    assert "could not be written" in str(err.value)
    assert os.listdir(out) == []
    # the same points with distinct fids are written
    params["POINTS"] = inputs["points"]
    res = processing.run("miningeco:samplerasters", params)
    assert res["OUTPUT"].startswith(str(out / "samples.gpkg")) and res["SAMPLED_COUNT"] == 8


# ------------------------------------------------------------------------------ defect 1: early path checks
@pytest.mark.parametrize("case", ["missing_folder", "under_a_file", "a_folder"])
def test_a_bad_table_or_report_path_fails_before_any_work(inputs, tmp_path, case):
    """The issue's example: rsei with OUTPUT_TABLE in a missing folder left rsei.tif, grades.tif and their .qml;
    now every destination is checked before the first block is read, and nothing is written."""
    import processing
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dir.csv").mkdir()
    bad = {"missing_folder": tmp_path / "missing" / "t.csv", "under_a_file": tmp_path / "file.txt" / "t.csv",
           "a_folder": tmp_path / "dir.csv"}[case]
    params = dict(tool_inputs("rsei", inputs), **every_output("rsei", out))
    params["OUTPUT_TABLE"] = str(bad)

    class NoWork(QgsProcessingFeedback):
        def setProgress(self, p):  # noqa: N802
            assert p == 0, "work started before the output paths were checked"
            super().setProgress(p)

    with pytest.raises(QgsProcessingException, match="OUTPUT_TABLE"):
        processing.run("miningeco:rsei", params, feedback=NoWork())
    assert os.listdir(out) == []
    assert sorted(os.listdir(tmp_path)) == ["dir.csv", "file.txt", "out"]


def test_an_existing_output_is_kept_when_the_run_fails(inputs, tmp_path):
    """A file at a destination is replaced only by a committed run: after a failure it is as it was."""
    import processing
    out = tmp_path / "out"
    out.mkdir()
    params = dict(tool_inputs("trend", inputs), **every_output("trend", out))
    first = processing.run("miningeco:trend", params)
    before = {n: (out / n).read_bytes() for n in _files(out)}
    params.update(OUTPUT_TABLE=str(out / "late.dxf"), YEARS="1990,1991,1992,1993,1994")
    with pytest.raises(QgsProcessingException):
        processing.run("miningeco:trend", params)
    assert {n: (out / n).read_bytes() for n in _files(out)} == before
    assert os.path.exists(first["OUTPUT_SLOPE"])


# ------------------------------------------------------------------------------ defect 5: one file, two outputs
def _refused(alg, params, *names):
    """checkParameterValues refuses (naming every name) and a run fails with the same words."""
    import processing
    from qgis.core import QgsApplication
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"miningeco:{alg}")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    ok, msg = algorithm.checkParameterValues(params, context)
    assert not ok
    for name in names:
        assert name in msg, msg
    with pytest.raises(QgsProcessingException) as err:
        processing.run(f"miningeco:{alg}", params)
    for name in names:
        assert name in str(err.value), str(err.value)
    return msg


@pytest.mark.parametrize("alg,same", [
    ("rsei", ("OUTPUT", "OUTPUT_GRADES")),
    ("trend", ("OUTPUT_SLOPE", "OUTPUT_Z")),
    ("egindex", ("OUTPUT", "OUTPUT_NORMALISED")),
    ("localcorrelation", ("OUTPUT_R", "OUTPUT_CLASS")),
    ("timeseries", ("OUTPUT_PLOT", "OUTPUT_REPORT")),
    ("applymodel", ("OUTPUT", "OUTPUT_GRADES")),
    ("casanpp", ("OUTPUT", "OUTPUT_MONTHLY")),
    ("trainmodel", ("OUTPUT_MODEL", "OUTPUT_REPORT")),
    ("transfermatrix", ("OUTPUT_MATRIX", "OUTPUT_LEGEND")),
])
def test_two_outputs_on_one_file_are_refused_naming_both(alg, same, inputs, tmp_path):
    params = dict(tool_inputs(alg, inputs), **every_output(alg, tmp_path))
    params[same[1]] = params[same[0]]
    _refused(alg, params, *same)
    assert os.listdir(tmp_path) == []


def test_a_raster_and_another_outputs_style_file_are_refused(inputs, tmp_path):
    """a.tif and a.tiff both write a.qml (the style Processing loads): refused."""
    params = dict(tool_inputs("rsei", inputs), **every_output("rsei", tmp_path))
    params.update(OUTPUT=str(tmp_path / "a.tif"), OUTPUT_GRADES=str(tmp_path / "a.tiff"))
    msg = _refused("rsei", params, "OUTPUT", "OUTPUT_GRADES", "a.qml")
    assert "style" in msg
    params = dict(params, OUTPUT_GRADES=str(tmp_path / "g.tif"), OUTPUT_REPORT=str(tmp_path / "a.qml"))
    _refused("rsei", params, "OUTPUT", "OUTPUT_REPORT")


def test_a_path_written_differently_is_the_same_file(inputs, tmp_path):
    params = dict(tool_inputs("rsei", inputs), **every_output("rsei", tmp_path))
    params["OUTPUT_GRADES"] = str(tmp_path / "sub" / ".." / "output.tif")
    (tmp_path / "sub").mkdir()
    _refused("rsei", params, "OUTPUT", "OUTPUT_GRADES")


@pytest.mark.parametrize("alg,output,source", [
    ("rseicomponents", "OUTPUT", "GREENNESS"),
    ("applymodel", "OUTPUT", "RASTERS"),
    ("trend", "OUTPUT_CLASS", "INPUTS"),
    ("trainmodel", "OUTPUT_TABLE", "INPUT"),
    ("applymodel", "OUTPUT_GRADES", "MODEL_FILE"),
])
def test_an_output_on_an_input_is_refused_and_the_input_kept(alg, output, source, inputs, tmp_path):
    params = dict(tool_inputs(alg, inputs), **every_output(alg, tmp_path))
    value = params[source]
    target = value[0] if isinstance(value, list) else value
    before = open(target, "rb").read()
    params[output] = target
    _refused(alg, params, output, source)
    assert open(target, "rb").read() == before


def test_spectral_index_folder_file_equal_to_the_multiband_output_is_refused(inputs, tmp_path):
    params = dict(tool_inputs("spectralindices", inputs), OUTPUT_FOLDER=str(tmp_path),
                  OUTPUT=str(tmp_path / "NDVI.tif"))
    _refused("spectralindices", params, "OUTPUT", "OUTPUT_FOLDER")


def test_custom_index_named_like_a_chosen_index_is_refused(inputs, tmp_path):
    """Defect 13: CUSTOM_NAME=NDVI with NDVI chosen wrote <folder>/NDVI.tif twice; refused naming CUSTOM_NAME."""
    import processing
    params = dict(tool_inputs("spectralindices", inputs), CUSTOM_EXPRESSION="(NIR-R)/(NIR+R)", CUSTOM_NAME="ndvi",
                  OUTPUT_FOLDER=str(tmp_path / "indices"), OUTPUT=str(tmp_path / "all.tif"))
    with pytest.raises(QgsProcessingException, match="CUSTOM_NAME"):
        processing.run("miningeco:spectralindices", params)
    assert os.listdir(tmp_path) == []
    params["CUSTOM_NAME"] = "NDVI2"
    res = processing.run("miningeco:spectralindices", params)
    assert sorted(os.listdir(tmp_path / "indices")) == ["NDVI.qml", "NDVI.tif", "NDVI2.qml", "NDVI2.tif",
                                                        "WET.qml", "WET.tif"]
    assert sorted(res["INDEX_FILES"]) == [str(tmp_path / "indices" / f"{k}.tif") for k in ("NDVI", "NDVI2", "WET")]


# ------------------------------------------------------------------------------ defect 17: outputs
def _run_and_load(alg, params, outputs):
    """Run as the Processing dialog does with "open output file" ticked, and load the results into the project
    with QGIS's own post-processing; {layer name: source path} of the layers it added."""
    import processing
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication
    project = QgsProject.instance()
    project.removeAllMapLayers()
    params = dict(params)
    for key in outputs:
        params[key] = QgsProcessingOutputLayerDefinition(params[key], project)
    context = QgsProcessingContext()
    context.setProject(project)
    feedback = QgsProcessingFeedback()
    res = processing.run(f"miningeco:{alg}", params, context=context, feedback=feedback)
    algorithm = QgsApplication.processingRegistry().algorithmById(f"miningeco:{alg}")
    # QGIS >= 3.44 hands iface.layerTreeView() to a C++ function; pytest-qgis's iface is a mock (no layer tree
    # view): the layers then go to the project's root, as in qgis_process
    from unittest import mock
    with mock.patch("processing.gui.Postprocessing.iface", None, create=True):
        assert handleAlgorithmResults(algorithm, context, feedback, parameters=params)
    layers = {lyr.name(): lyr.source().split("|")[0] for lyr in project.mapLayers().values()}
    project.removeAllMapLayers()
    return res, layers


def test_loaded_layers_are_named_after_their_files(inputs, tmp_path):
    """Defect 17: rsei_2013.tif loads as "rsei_2013" (not "RSEI"), the table as its file's name; styled."""
    out = {"OUTPUT": str(tmp_path / "rsei_2013.tif"), "OUTPUT_GRADES": str(tmp_path / "grades_2013.tif"),
           "OUTPUT_TABLE": str(tmp_path / "rsei_2013_statistics.csv"), "OUTPUT_REPORT": str(tmp_path / "r.html")}
    res, layers = _run_and_load("rsei", dict(util.scene_params("L8"), **out),
                                ("OUTPUT", "OUTPUT_GRADES", "OUTPUT_TABLE"))
    assert layers == {"rsei_2013": out["OUTPUT"], "grades_2013": out["OUTPUT_GRADES"],
                      "rsei_2013_statistics": out["OUTPUT_TABLE"]}
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_temporary_outputs_keep_their_descriptive_names(inputs, tmp_path):
    res, layers = _run_and_load("coupling", dict(tool_inputs("coupling", inputs), OUTPUT="TEMPORARY_OUTPUT",
                                                 OUTPUT_TABLE=str(tmp_path / "codes.csv")), ("OUTPUT", "OUTPUT_TABLE"))
    assert set(layers) == {"RSEI x EG", "codes"}, layers
    assert layers["RSEI x EG"] == res["OUTPUT"] and os.path.exists(res["OUTPUT"])


def test_one_file_per_index_is_loaded(inputs, tmp_path):
    """Defect 17: the files of OUTPUT_FOLDER are loaded too (they were not)."""
    params = dict(tool_inputs("spectralindices", inputs), OUTPUT=str(tmp_path / "all.tif"),
                  OUTPUT_FOLDER=str(tmp_path / "indices"))
    res, layers = _run_and_load("spectralindices", params, ("OUTPUT",))
    assert layers == {"all": str(tmp_path / "all.tif"), "NDVI": str(tmp_path / "indices" / "NDVI.tif"),
                      "WET": str(tmp_path / "indices" / "WET.tif")}


def test_rsei_numbers_are_declared_outputs(provider):
    """Defect 17: MEAN_RSEI and PC1_SHARE are outputs (Modeler, qgis_process) documented in the tool's manual
    page (the short help no longer repeats parameters and outputs), not undeclared extras."""
    from urllib.parse import urlparse
    for alg_id in ("rsei", "rseicomponents"):
        alg = provider.algorithm(alg_id)
        page = open(urlparse(alg.helpUrl()).path, encoding="utf-8").read()
        for name in ("MEAN_RSEI", "PC1_SHARE"):
            out = alg.outputDefinition(name)
            assert out is not None and out.type() == "outputNumber", (alg_id, name)
            assert f"<code>{name}</code>" in page, (alg_id, name)


def test_rsei_table_is_rounded_and_the_report_records_the_scene(inputs, tmp_path):
    """Defect 17: integer counts as integers, statistics rounded; the report names the scene's files, its date
    (from the MTL) and the settings, and says "valid pixels 1656", never "1656.0"."""
    import re

    import processing
    params = dict(tool_inputs("rsei", inputs), **every_output("rsei", tmp_path), SEED=7)
    res = processing.run("miningeco:rsei", params)
    with open(res["OUTPUT_TABLE"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_name = {r["name"]: r for r in rows}
    assert re.fullmatch(r"\d+", by_name["valid pixels"]["value"]), by_name["valid pixels"]
    assert re.fullmatch(r"\d+", by_name["water pixels masked"]["value"])
    for r in rows:
        digits = r["value"].replace("-", "").replace(".", "").lstrip("0")
        assert len(digits.split("e")[0]) <= 10, r
    html = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    n_valid = by_name["valid pixels"]["value"]
    assert f">{n_valid}<" in html and f">{n_valid}.0<" not in html
    for role in ("RED", "NIR", "THERMAL", "MTL_FILE"):
        assert os.path.basename(params[role]) in html, role
    assert "2013-07-07" in html
    # the settings: the main ones, and the advanced ones that differ from their defaults
    assert "Landsat 8 OLI/TIRS" in html and "MNDWI water threshold" in html
    assert "Sampling seed (SEED)" in html and "PCA sample size" not in html


def test_train_report_says_which_model_the_file_holds_and_why(inputs, tmp_path):
    """Defect 17: "Best model: PLSR" while the file holds a random forest; now the report says so and why."""
    import processing
    from mining_eco_plugin.core import models
    params = dict(tool_inputs("trainmodel", inputs), MODEL=models.KINDS.index("rf"), COMPARE_MODELS=True,
                  OUTPUT_MODEL=str(tmp_path / "m.model"), OUTPUT_TABLE=str(tmp_path / "m.csv"),
                  OUTPUT_REPORT=str(tmp_path / "m.html"))
    res = processing.run("miningeco:trainmodel", dict(params, OUTPUT_COMPARISON=str(tmp_path / "c.csv")))
    with open(res["OUTPUT_COMPARISON"], newline="") as fh:
        best = [r["model"] for r in csv.DictReader(fh) if r["best"].lower() in ("true", "1")]
    assert best == ["PLSR"]      # the target is linear in the predictors
    text = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "PLSR has the highest validation R2" in text
    assert "the model file holds Random forest" in text and "MODEL = PLSR" in text
    assert f"{tmp_path / 'm.model'} (holds the Random forest model)" in text and ".staging" not in text
    # the chosen model is the best one: said so
    res = processing.run("miningeco:trainmodel", dict(params, MODEL=models.KINDS.index("plsr")))
    assert "the highest of the models compared; the model file holds it" in open(res["OUTPUT_REPORT"]).read()


def _gpkg_layers(path):
    ds = ogr.Open(str(path))
    return sorted(ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount()))


def test_tables_saved_into_a_geopackage_are_committed_or_removed(inputs, tmp_path):
    """QGIS's "Save to GeoPackage" gives ogr:dbname='x.gpkg' table="t". A new GeoPackage is staged like any
    file; a table added to an existing one (written in place) is dropped again when the run fails, and the
    GeoPackage's other tables are kept."""
    import processing
    existing = tmp_path / "project.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(existing))
    layer = ds.CreateLayer("keep", None, ogr.wkbNone)
    layer.CreateField(ogr.FieldDefn("v", ogr.OFTInteger))
    f = ogr.Feature(layer.GetLayerDefn())
    f.SetField("v", 7)
    layer.CreateFeature(f)
    ds = None
    base = dict(tool_inputs("transfermatrix", inputs), OUTPUT_CHANGE=str(tmp_path / "change.tif"))
    into = {"OUTPUT_MATRIX": f"ogr:dbname='{existing}' table=\"matrix\"",
            "OUTPUT_LEGEND": f"ogr:dbname='{tmp_path / 'new.gpkg'}' table=\"legend\""}
    with pytest.raises(QgsProcessingException):
        processing.run("miningeco:transfermatrix", dict(base, OUTPUT_MATRIX=into["OUTPUT_MATRIX"],
                                                        OUTPUT_LEGEND=str(tmp_path / "late.dxf")))
    assert sorted(os.listdir(tmp_path)) == ["project.gpkg"]
    assert _gpkg_layers(existing) == ["keep"]
    res = processing.run("miningeco:transfermatrix", dict(base, **into))
    assert _gpkg_layers(existing) == ["keep", "matrix"] and _gpkg_layers(tmp_path / "new.gpkg") == ["legend"]
    assert res["OUTPUT_MATRIX"] == f"{existing}|layername=matrix"
    assert res["OUTPUT_LEGEND"] == f"{tmp_path / 'new.gpkg'}|layername=legend"
