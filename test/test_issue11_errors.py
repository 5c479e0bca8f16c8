"""Issue 11, defects 2, 3, 4, 10 and 13 through processing.run in a real QGIS: no raw traceback, model files
with size caps and a metadata checksum, cancel honoured within seconds inside long fits, bounded numeric
parameters, and messages that name the input and the fix.

Every failing case checks (``failures.assert_fails_cleanly``) that the error is a QgsProcessingException that
names the input, carries no traceback, and that nothing was written into the output folder.
"""
from __future__ import annotations

import errno
import io
import json
import math
import os
import resource
import threading
import time
import zipfile

import numpy as np
import pytest
from osgeo import gdal, ogr, osr
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterNumber,
)

import util
from failures import assert_fails_cleanly, recording_feedback
from mining_eco_plugin.algorithms import errors, limits
from mining_eco_plugin.algorithms.base import MiningEcoAlgorithm
from mining_eco_plugin.core import modelfile as mf

gdal.UseExceptions()
ogr.UseExceptions()


def run(alg, params, feedback=None):
    import processing
    return processing.run(f"miningeco:{alg}", params, feedback=feedback)


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def fails(alg, params, folder, *words, feedback=None):
    msg = assert_fails_cleanly(lambda: run(alg, params, feedback), folder, *words)
    for raw in ("Error:", "Exception:", "Traceback", 'File "'):
        assert raw not in msg, msg
    return msg


def write_table(path, columns, rows):
    """A GeoPackage table 'samples' of float fields."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer("samples", None, ogr.wkbNone)
    for name in columns:
        lyr.CreateField(ogr.FieldDefn(name, ogr.OFTReal))
    for row in rows:
        f = ogr.Feature(lyr.GetLayerDefn())
        for name, v in zip(columns, row):
            f.SetField(name, float(v))
        lyr.CreateFeature(f)
    ds = None
    return f"{path}|layername=samples"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small real inputs: a land-use raster, two float rasters, three dated rasters, a sample table."""
    d = tmp_path_factory.mktemp("issue11")
    rng = np.random.default_rng(11)
    lu = util.write_raster(d / "landuse.tif", [rng.integers(1, 10, (20, 20)).astype(np.uint8)], dtype=gdal.GDT_Byte)
    x = util.write_raster(d / "x.tif", [rng.random((20, 20)).astype(np.float32)], dtype=gdal.GDT_Float32)
    y = util.write_raster(d / "y.tif", [rng.random((20, 20)).astype(np.float32)], dtype=gdal.GDT_Float32)
    dated = [util.write_raster(d / f"rsei_{year}.tif", [rng.random((20, 20)).astype(np.float32)],
                               dtype=gdal.GDT_Float32) for year in (2000, 2001, 2002, 2003)]
    n = 120
    X = rng.random((n, 4))
    target = 3 * X[:, 0] + np.sin(4 * X[:, 1]) - X[:, 2] + rng.normal(0, 0.1, n)
    table = write_table(d / "samples.gpkg", ["salt", "ndvi", "si1", "crsi", "wet"],
                        np.column_stack([target, X]))
    return {"dir": d, "landuse": lu, "x": x, "y": y, "dated": dated, "table": table}


# ------------------------------------------------------------------------------- defect 10: bounds
def _algorithms(provider):
    return sorted(provider.algorithms(), key=lambda a: a.name())


def test_every_numeric_parameter_has_a_finite_minimum_and_maximum_that_fit_its_c_type(provider):
    integer = compat_integer()
    problems, seen = [], 0
    for alg in _algorithms(provider):
        for p in alg.parameterDefinitions():
            if not isinstance(p, QgsProcessingParameterNumber):
                continue
            seen += 1
            lo, hi, where = p.minimum(), p.maximum(), f"{alg.name()} {p.name()}"
            if not (math.isfinite(hi) and abs(hi) < 1e300 and math.isfinite(lo) and abs(lo) < 1e300):
                problems.append(f"{where}: [{lo:g}, {hi:g}] is unbounded")
                continue
            if p.dataType() == integer and not (-2 ** 31 <= lo and hi <= limits.INT_MAX):
                problems.append(f"{where}: [{lo:g}, {hi:g}] does not fit a C int (parameterAsInt)")
            if "SEED" in p.name() and not (0 <= lo and hi <= 2 ** 32 - 1):
                problems.append(f"{where}: [{lo:g}, {hi:g}] is not a numpy seed (0 .. 2^32-1)")
            default = p.defaultValue()
            if default is not None and not lo <= float(default) <= hi:
                problems.append(f"{where}: default {default} outside [{lo:g}, {hi:g}]")
    assert seen > 60
    assert not problems, "\n".join(problems)


def compat_integer():
    from mining_eco_plugin import compat
    return compat.ProcessingNumberParameterType.Integer


def _params(data, folder, alg):
    """Valid parameters of ``alg`` on the module's data, outputs into ``folder``."""
    o = str(folder)
    if alg == "egindex":
        return {"LANDUSE": data["landuse"], "OUTPUT": f"{o}/eg.tif", "OUTPUT_NORMALISED": f"{o}/egn.tif",
                "OUTPUT_TABLE": f"{o}/eg.csv"}
    if alg == "localcorrelation":
        return {"INPUT_X": data["x"], "INPUT_Y": data["y"], "OUTPUT_R": f"{o}/r.tif", "OUTPUT_P": f"{o}/p.tif",
                "OUTPUT_CLASS": f"{o}/c.tif", "OUTPUT_TABLE": f"{o}/t.csv"}
    if alg == "rsei":
        return dict(util.scene_params("L8"), OUTPUT=f"{o}/rsei.tif", OUTPUT_GRADES=f"{o}/g.tif")
    if alg == "coupling":
        return {"RSEI": data["x"], "EG": data["y"], "OUTPUT": f"{o}/c.tif", "OUTPUT_TABLE": f"{o}/t.csv"}
    if alg == "geodetector":
        return {"INPUT": data["table"], "Y_FIELD": "salt", "X_FIELDS": ["ndvi", "si1"],
                "OUTPUT_FACTOR": f"{o}/f.csv"}
    if alg == "trend":
        return {"INPUTS": data["dated"], "OUTPUT_SLOPE": f"{o}/s.tif", "OUTPUT_CLASS": f"{o}/c.tif"}
    if alg == "rfcontribution":
        return {"INPUT": data["table"], "Y_FIELD": "salt", "CATEGORIES": ["ndvi", "a", "si1", "b", "crsi", "c"],
                "OUTPUT_CATEGORIES": f"{o}/c.csv", "OUTPUT_DRIVERS": f"{o}/d.csv"}
    if alg == "trainmodel":
        return {"INPUT": data["table"], "TARGET": "salt", "FIELDS": ["ndvi", "si1", "crsi"],
                "OUTPUT_MODEL": f"{o}/m.model", "OUTPUT_TABLE": f"{o}/t.csv", "OUTPUT_SCATTER": "",
                "OUTPUT_REPORT": ""}
    if alg == "vipscreening":
        return {"INPUT": data["table"], "TARGET_FIELD": "salt", "OUTPUT_TABLE": f"{o}/t.csv"}
    raise KeyError(alg)


@pytest.mark.parametrize("alg,param,value", [
    ("egindex", "WINDOW_SIZE", 1000001),            # tried a 3.6 TiB np.full
    ("egindex", "WINDOW_SIZE", 2 ** 31 + 1),        # "0 is not odd"
    ("localcorrelation", "WINDOW_SIZE", 1000001),
    ("localcorrelation", "MIN_VALID", 10 ** 12),
    ("rsei", "SAMPLE_SIZE", 10 ** 12),              # "must be > 0"
    ("rsei", "SEED", -1),
    ("coupling", "SAMPLE_SIZE", 10 ** 12),
    ("geodetector", "N_SAMPLES", 10 ** 12),         # "got 0"
    ("geodetector", "K", 10 ** 6),
    ("trend", "BAND", 10 ** 12),                    # silently used band 1
    ("rfcontribution", "N_TREES", 10 ** 7),         # ran 10+ minutes ignoring cancel
    ("rfcontribution", "SEED", 2 ** 32),
    ("trainmodel", "SEED", 2 ** 40),
    ("vipscreening", "CV_FOLDS", 10 ** 9),
])
def test_a_huge_number_is_refused_naming_the_parameter_before_the_run(provider, data, out, alg, param, value):
    params = dict(_params(data, out, alg), **{param: value})
    started = time.monotonic()
    msg = fails(alg, params, out, param, "the maximum" if value > 0 else "the minimum", "Give a value from")
    assert time.monotonic() - started < 20
    assert "not an odd" not in msg and "> 0" not in msg and "got 0" not in msg


@pytest.mark.parametrize("alg", ["egindex", "localcorrelation"])
def test_a_window_larger_than_the_raster_is_cut_to_what_covers_it(provider, data, out, alg):
    # 20 x 20 pixels: a window of 39 covers the whole raster from every pixel, so 101 gives the same values (the
    # cells beyond the raster are nodata, left out of every window statistic) and is cut to 39, with a log line,
    # instead of a halo of 50 pixels around each block (WINDOW_SIZE=1000001 tried a 3.6 TiB np.full before)
    wide, fit = out / "wide", out / "fit"
    wide.mkdir()
    fit.mkdir()
    fb = recording_feedback()
    got = run(alg, dict(_params(data, wide, alg), WINDOW_SIZE=101), feedback=fb)
    want = run(alg, dict(_params(data, fit, alg), WINDOW_SIZE=39))
    assert any("WINDOW_SIZE" in t and "39 pixels" in t for t in fb.infos), fb.infos
    rasters = [k for k, v in want.items() if isinstance(v, str) and v.endswith(".tif")]
    assert rasters
    for key in rasters:
        a = gdal.Open(got[key]).ReadAsArray()
        b = gdal.Open(want[key]).ReadAsArray()
        np.testing.assert_array_equal(a, b)      # the same computation, not merely close


def test_an_infinite_sample_value_is_refused_naming_the_field(provider, data, out):
    # a GeoPackage keeps a real infinity (GDAL's CSV driver would read "inf" as NULL): an empty value leaves its
    # row out with a warning, an infinite one is a data error (mlrcontribution fitted on it and reported success)
    rng = np.random.default_rng(5)
    rows = rng.random((30, 3))
    rows[7, 2] = np.inf
    table = write_table(out.parent / "inf.gpkg", ["y", "x1", "x2"], rows)
    fails("mlrcontribution", {"INPUT": table, "Y_FIELD": "y", "X_FIELDS": ["x1", "x2"],
                              "OUTPUT_TABLE": str(out / "mlr.csv")}, out, "x2", "infinite", "row 8")


@pytest.mark.parametrize("text,words", [
    ("1900-1901,1e300,2003", ["YEARS", "1e300", "plausible"]),
])
def test_typed_years_are_bounded(provider, data, out, text, words):
    fails("trend", dict(_params(data, out, "trend"), YEARS=text), out, *words)


def test_typed_grade_codes_and_thresholds_are_bounded(provider, data, out):
    fails("egindex", dict(_params(data, out, "egindex"), GRADE_TABLE=["1e30", "3", "x", "2", "1", "y"]), out,
          "GRADE_TABLE", "1e30")
    fails("egindex", dict(_params(data, out, "egindex"), GRADE_TABLE=["1", "1e300", "x", "2", "1", "y"]), out,
          "GRADE_TABLE", "1e300")


# ------------------------------------------------------------------------------- defect 2: tracebacks
@pytest.fixture(scope="module")
def damaged(data):
    """A class raster cut in half, one cut inside its header, and one with a tile overwritten (compressed)."""
    d = data["dir"]
    rng = np.random.default_rng(2)
    good = util.write_raster(d / "classes.tif", [rng.integers(1, 8, (600, 600)).astype(np.uint8)],
                             dtype=gdal.GDT_Byte)
    raw = open(good, "rb").read()
    (d / "half.tif").write_bytes(raw[:len(raw) // 2])
    (d / "header.tif").write_bytes(raw[:200])
    compressed = str(d / "compressed.tif")
    gdal.Translate(compressed, good, creationOptions=["COMPRESS=DEFLATE", "TILED=YES"])
    ds = gdal.Open(compressed)
    band = ds.GetRasterBand(1)
    offset, size = (int(band.GetMetadataItem(f"BLOCK_{k}_1_1", "TIFF")) for k in ("OFFSET", "SIZE"))
    del band, ds
    broken = bytearray(open(compressed, "rb").read())
    broken[offset:offset + size] = (bytes(range(256)) * (size // 256 + 1))[:size]
    (d / "tile.tif").write_bytes(bytes(broken))
    return {"good": good, "half": str(d / "half.tif"), "header": str(d / "header.tif"), "tile": str(d / "tile.tif")}


@pytest.mark.parametrize("which", ["half", "header", "tile"])
@pytest.mark.parametrize("alg", ["transfermatrix", "classareas"])
def test_a_damaged_geotiff_is_refused_naming_the_file(provider, damaged, out, which, alg):
    path = damaged[which]
    if alg == "transfermatrix":
        params = {"DATE1": damaged["good"], "DATE2": path, "OUTPUT_MATRIX": str(out / "m.csv"),
                  "OUTPUT_CHANGE": str(out / "change.tif")}
    else:
        params = {"LAYERS": [damaged["good"], path], "YEARS": "2000,2010", "OUTPUT": str(out / "areas.csv")}
    msg = fails(alg, params, out, os.path.basename(path), "damaged or incomplete", "copy")
    assert "no CRS" not in msg and "RuntimeError" not in msg


def test_a_damaged_raster_at_sample_points_is_refused(provider, damaged, data, out):
    pts = out.parent / "points.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(pts))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    lyr = ds.CreateLayer("points", srs, ogr.wkbPoint)
    for i in range(5):
        f = ogr.Feature(lyr.GetLayerDefn())
        g = ogr.Geometry(ogr.wkbPoint)
        g.AddPoint_2D(300000.0 + 30 * 100 * i + 15, 4200000.0 - 30 * 300 - 15)
        f.SetGeometry(g)
        lyr.CreateFeature(f)
    ds = None
    fails("samplerasters", {"POINTS": str(pts), "RASTERS": [damaged["tile"]], "OUTPUT": str(out / "s.gpkg")},
          out, "tile.tif", "damaged")


def test_a_geographic_label_on_utm_coordinates_is_refused(provider, data, out):
    # EPSG:4326 with UTM coordinates: every cell area was 0 and transfermatrix divided by it
    d = out.parent
    codes = np.random.default_rng(3).integers(1, 5, (20, 20)).astype(np.uint8)
    a = util.write_raster(d / "geo_a.tif", [codes], dtype=gdal.GDT_Byte, epsg=4326)
    b = util.write_raster(d / "geo_b.tif", [codes[::-1]], dtype=gdal.GDT_Byte, epsg=4326)
    msg = fails("transfermatrix", {"DATE1": a, "DATE2": b, "OUTPUT_MATRIX": str(out / "m.csv"),
                                   "OUTPUT_CHANGE": str(out / "change.tif")}, out,
                "DATE1", "geo_a.tif", "EPSG:4326", "not degrees", "Assign")
    assert "ZeroDivision" not in msg
    fails("classareas", {"LAYERS": [a, b], "YEARS": "2000,2010", "OUTPUT": str(out / "areas.csv")}, out,
          "geo_a.tif", "not degrees")


@pytest.mark.parametrize("param,where", [
    ("OUTPUT_MODEL", "under_a_file"), ("OUTPUT_MODEL", "a_folder"), ("OUTPUT_TABLE", "under_a_file"),
    ("OUTPUT_REPORT", "under_a_file"), ("OUTPUT_REPORT", "a_folder"), ("OUTPUT_SCATTER", "a_folder"),
])
def test_an_output_under_a_file_or_on_a_folder_is_refused_before_the_run(provider, data, out, param, where):
    blocker = out.parent / f"blocker_{param}_{where}"
    if where == "under_a_file":
        blocker.write_text("a file, not a folder")
        path = blocker / "sub" / {"OUTPUT_MODEL": "m.model", "OUTPUT_TABLE": "t.csv"}.get(param, "r.html")
        words = (param, str(blocker), "is a file")
    else:
        blocker.mkdir()
        path = blocker
        words = (param, str(blocker), "is a folder")
    params = dict(_params(data, out, "trainmodel"), **{param: str(path)})
    started = time.monotonic()
    fails("trainmodel", params, out, *words)
    assert time.monotonic() - started < 10       # refused before any model is trained


def test_an_output_folder_that_is_a_file_is_refused(provider, out):
    # os.makedirs(OUTPUT_FOLDER) raised FileExistsError (index_calculator.py)
    blocker = out.parent / "indices_folder"
    blocker.write_text("a file")
    params = dict(util.scene_params("L8", ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")), INDICES=[0],
                  OUTPUT=str(out / "i.tif"), OUTPUT_FOLDER=str(blocker))
    fails("spectralindices", params, out, "OUTPUT_FOLDER", str(blocker), "is a file, not a folder")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs /sys (a folder that refuses new files)")
def test_an_output_in_a_folder_that_refuses_files_names_the_parameter(provider, data, out):
    # /sys refuses new files even to root (chmod does not stop root): the PermissionError of the write
    msg = assert_fails_cleanly(lambda: run("trainmodel", dict(_params(data, out, "trainmodel"),
                                                              OUTPUT_MODEL="/sys/salt.model")),
                               out, "OUTPUT_MODEL", "/sys", "cannot write", "Choose a writable folder")
    assert "PermissionError" not in msg and "Errno" not in msg


@pytest.mark.parametrize("code,words", [
    (errno.ENOSPC, ["is full", "Free some space"]),
    (errno.EACCES, ["not allowed", "Choose a folder"]),
    (errno.EROFS, ["read-only"]),
    (errno.EISDIR, ["is a folder"]),
    (errno.ENOTDIR, ["a file stands where a folder is needed"]),
], ids=["ENOSPC", "EACCES", "EROFS", "EISDIR", "ENOTDIR"])
def test_os_errors_of_an_output_name_the_parameter_and_the_fix(provider, tmp_path, code, words):
    # the disk-full case cannot be made on this machine without root mounts: the OSError as Python raises it
    alg = provider.algorithm("transfermatrix").create()
    target = str(tmp_path / "matrix.csv")
    err = OSError(code, os.strerror(code), os.path.join(str(tmp_path), ".tmp-123.csv"))  # a file beside the target
    msg = errors.os_error(alg, err, {"OUTPUT_MATRIX": target, "OUTPUT_HEATMAP": str(tmp_path / "sub" / "h.png")},
                          QgsProcessingContext())
    for w in ["OUTPUT_MATRIX", target] + words:
        assert w in msg, msg
    assert "Errno" not in msg


class _Broken(MiningEcoAlgorithm):
    """A tool whose run fails in a way nobody foresaw (the last resort of processAlgorithm)."""
    ID, NAME, GROUP = "broken", "Broken tool", "setup"

    def initAlgorithm(self, config=None):  # noqa: N802
        pass

    def run_tool(self, parameters, context, feedback):
        return {}["missing key"]


def test_an_unexpected_exception_names_the_tool_and_says_it_is_a_bug(qgis_app):
    alg = _Broken()
    alg.initAlgorithm({})
    feedback = QgsProcessingFeedback()
    with pytest.raises(QgsProcessingException) as err:
        alg.processAlgorithm({}, QgsProcessingContext(), feedback)
    msg = str(err.value)
    assert msg.startswith("Broken tool failed: KeyError: 'missing key'.") and "bug in Mining Eco" in msg
    assert "Traceback" not in msg


# ------------------------------------------------------------------------------- defect 2/3: model files
@pytest.fixture(scope="module")
def model(data):
    """A model file trained on the module's samples (rf, 20 trees) and a raster holding its features."""
    d = data["dir"]
    path = str(d / "rf.model")
    run("trainmodel", dict(_params(data, d, "trainmodel"), OUTPUT_MODEL=path, OUTPUT_TABLE=str(d / "metrics.csv")))
    rng = np.random.default_rng(5)
    stack = util.write_raster(d / "features.tif", [rng.random((16, 16)).astype(np.float32) for _ in range(3)],
                              names=["ndvi", "si1", "crsi"], dtype=gdal.GDT_Float32)
    return {"path": path, "stack": stack}


def edited(src, dst, meta_edit=None, model=None, rehash=True):
    """A copy of model file ``src`` with its metadata (and model part) edited; rehash: its checksums made again,
    as someone crafting the file would."""
    with zipfile.ZipFile(src) as z:
        meta, part = json.loads(z.read(mf.META_MEMBER)), z.read(mf.MODEL_MEMBER)
    if model is not None:
        import hashlib
        part = model
        meta["sha256"] = hashlib.sha256(part).hexdigest()
    if meta_edit:
        meta_edit(meta)
    if rehash:
        meta[mf.META_HASH] = mf._meta_hash(meta)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(mf.META_MEMBER, json.dumps(meta))
        z.writestr(mf.MODEL_MEMBER, part)
    return str(dst)


def _apply(model_path, stack, folder):
    return {"MODEL_FILE": model_path, "RASTERS": [stack], "OUTPUT": str(folder / "salt.tif"),
            "OUTPUT_GRADES": str(folder / "grades.tif"), "OUTPUT_TABLE": str(folder / "grades.csv")}


def test_the_model_file_applies(provider, model, out):
    run("applymodel", _apply(model["path"], model["stack"], out))
    assert (out / "salt.tif").exists()


@pytest.mark.parametrize("key,value,words", [
    ("metrics", [1, 2], ["'metrics'", "JSON object"]),      # was: TypeError in core/modelfile.py
    ("extra", "text", ["'extra'"]),
    ("target", {"a": 1}, ["'target'"]),
    ("features", ["ndvi", "si1", "crsi", "wet"], ["4 feature", "takes 3 input"]),
    ("features", ["ndvi", "ndvi", "crsi"], ["twice"]),
])
def test_model_metadata_of_the_wrong_type_is_refused_clearly(provider, model, out, key, value, words):
    bad = edited(model["path"], out.parent / f"meta_{key}.model", lambda m: m.__setitem__(key, value))
    msg = fails("applymodel", _apply(bad, model["stack"], out), out, "MODEL_FILE", *words)
    assert "TypeError" not in msg and "ValueError" not in msg


def test_edited_metadata_is_refused_as_altered(provider, model, out):
    # the feature names swapped by hand: before, a scikit-learn error or a silently wrong map
    bad = edited(model["path"], out.parent / "swapped.model",
                 lambda m: m.__setitem__("features", ["crsi", "si1", "ndvi"]), rehash=False)
    fails("applymodel", _apply(bad, model["stack"], out), out, "MODEL_FILE", "metadata.json", "altered")


def test_a_model_file_of_0_6_0_without_the_metadata_checksum_still_loads(provider, model, out):
    def legacy(meta):
        meta.pop(mf.META_HASH)
        meta["versions"]["mining-eco"] = "0.6.0"
    old = edited(model["path"], out.parent / "legacy.model", legacy, rehash=False)
    run("applymodel", _apply(old, model["stack"], out))
    assert (out / "salt.tif").exists()


def test_a_model_part_holding_a_dict_is_refused(provider, model, out):
    import skops.io as sio
    bad = edited(model["path"], out.parent / "dict.model", model=sio.dumps({"predict": "nothing"}))
    msg = fails("applymodel", _apply(bad, model["stack"], out), out, "MODEL_FILE", "holds a dict",
                "not a fitted scikit-learn model")
    assert "AttributeError" not in msg


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_zip_bomb_model_is_refused_before_unpacking(provider, model, out):
    # 1.1 GiB of zeros packed into about 1 MB: before, the loader unpacked it (GBs of memory) before refusing
    bomb = out.parent / "bomb.model"
    with zipfile.ZipFile(model["path"]) as z:
        meta = z.read(mf.META_MEMBER)
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(mf.META_MEMBER, meta)
        with z.open(mf.MODEL_MEMBER, "w", force_zip64=True) as fh:
            for _ in range(1100):
                fh.write(chunk)
    assert bomb.stat().st_size < 5 * 1024 * 1024
    before, started = _peak_rss_mb(), time.monotonic()
    msg = fails("applymodel", _apply(str(bomb), model["stack"], out), out, "MODEL_FILE", "model.skops",
                "unpacks to", "not loaded")
    assert time.monotonic() - started < 10
    assert _peak_rss_mb() - before < 300, "the bomb was unpacked"
    assert "MemoryError" not in msg


def test_a_highly_packed_member_is_refused(provider, model, out):
    # 40 MB of zeros: within the size cap, but packed 1000 : 1, which no model is
    bomb = out.parent / "ratio.model"
    with zipfile.ZipFile(model["path"]) as z:
        meta = z.read(mf.META_MEMBER)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(mf.META_MEMBER, meta)
        z.writestr(mf.MODEL_MEMBER, bytes(40 * 1024 * 1024))
    fails("applymodel", _apply(str(bomb), model["stack"], out), out, "MODEL_FILE", "more than 100 times")


def test_a_model_file_with_many_members_is_refused(provider, model, out):
    crowded = out.parent / "crowded.model"
    with zipfile.ZipFile(model["path"]) as z, zipfile.ZipFile(crowded, "w") as w:
        for info in z.infolist():
            w.writestr(info.filename, z.read(info.filename))
        for i in range(100):
            w.writestr(f"extra/{i}.txt", "x")
    fails("applymodel", _apply(str(crowded), model["stack"], out), out, "MODEL_FILE", "102 files")


# ------------------------------------------------------------------------------- defect 4: cancel
def _cancelled_run(alg, params, folder, after=1.0, bound=10.0, start_at=5):
    """Run with a feedback cancelled from a timer thread ``after`` s into the work (the timer starts when the tool
    reports ``start_at`` % progress: 5 % just before it fits): the run must end within ``bound`` s of the cancel and
    leave nothing in ``folder``."""
    feedback = QgsProcessingFeedback()
    cancelled_at, timers = [], []

    def cancel():
        cancelled_at.append(time.monotonic())
        feedback.cancel()

    def on_progress(percent):
        if percent >= start_at and not timers:
            timers.append(threading.Timer(after, cancel))
            timers[0].start()
    feedback.progressChanged.connect(on_progress)
    try:
        fails(alg, params, folder, "Cancel", feedback=feedback)
    finally:
        for t in timers:
            t.cancel()
    ended = time.monotonic()
    assert cancelled_at, "the run ended before it was cancelled"
    took = ended - cancelled_at[0]
    assert took < bound, f"cancel honoured only after {took:.1f} s"
    return took


def test_a_large_rf_contribution_stops_within_seconds_of_cancel(provider, data, out):
    # N_TREES = 10000 (the maximum) on 3000 samples: each of the four forests takes minutes (before, cancel was
    # checked only between forests; 10^7 trees ran 10+ minutes ignoring cancel)
    rng = np.random.default_rng(4)
    X = rng.random((3000, 3))
    big = write_table(out.parent / "big.gpkg", ["salt", "ndvi", "si1", "crsi"],
                      np.column_stack([X @ [1.0, 2.0, 3.0] + rng.normal(0, 0.1, 3000), X]))
    params = dict(_params(data, out, "rfcontribution"), INPUT=big, N_TREES=limits.TREES_MAX,
                  OUTPUT_REPORT=str(out / "r.html"))
    _cancelled_run("rfcontribution", params, out)


def test_rf_contribution_maps_stop_within_seconds_of_cancel(provider, data, out):
    # the per-pixel pass predicts a block of 256 x 2048 pixels with 1 + 3 forests: with 2000 trees that took
    # minutes per block, and cancel was checked between blocks only
    rng = np.random.default_rng(6)
    X = rng.random((100, 3))
    table = write_table(out.parent / "drivers.gpkg", ["npp", "prec", "som", "dist"],
                        np.column_stack([X @ [1.0, 2.0, 3.0], X]))
    rasters = [util.write_raster(out.parent / f"{name}.tif", [rng.random((512, 2048)).astype(np.float32)],
                                 dtype=gdal.GDT_Float32) for name in ("prec", "som", "dist")]
    params = {"INPUT": table, "Y_FIELD": "npp", "CATEGORIES": ["prec", "climate", "som", "soil", "dist", "mining"],
              "N_TREES": 2000, "DRIVER_RASTERS": rasters, "OUTPUT_CATEGORIES": str(out / "c.csv"),
              "OUTPUT_DRIVERS": str(out / "d.csv"), "OUTPUT_RGB": str(out / "rgb.tif"),
              "OUTPUT_DOMINANT": str(out / "dominant.tif")}
    _cancelled_run("rfcontribution", params, out, start_at=50)


def test_stacking_with_comparison_and_search_stops_within_seconds_of_cancel(provider, data, out):
    # took 135 s to honour cancel: it checked only between models
    params = dict(_params(data, out, "trainmodel"), MODEL=5, COMPARE_MODELS=True, SEARCH=True, SEARCH_BUDGET=500,
                  VALIDATION=2, OUTPUT_COMPARISON=str(out / "comparison.csv"), OUTPUT_REPORT=str(out / "r.html"))
    _cancelled_run("trainmodel", params, out)


# ------------------------------------------------------------------------------- defect 13: messages
@pytest.fixture(scope="module")
def odd_table(data):
    rng = np.random.default_rng(9)
    n = 50
    X = rng.random((n, 2))
    y = X[:, 0] + X[:, 1]
    huge = X[:, 0].copy()
    huge[7] = 1e300
    return write_table(data["dir"] / "odd.gpkg", ["salt", "ndvi", "si1", "const", "const2", "huge"],
                       np.column_stack([y, X, np.ones(n), np.full(n, 5.0), huge]))


@pytest.mark.parametrize("fields", [["const", "const2"], ["ndvi", "const"]])
def test_plsr_on_constant_predictors_names_them(provider, odd_table, out, fields):
    # before: "illegal value in 4th argument of internal gesdd", or with ndvi a model of validation R2 -1e28
    params = {"INPUT": odd_table, "TARGET": "salt", "FIELDS": fields, "MODEL": 4, "OUTPUT_MODEL": str(out / "m.model"),
              "OUTPUT_TABLE": str(out / "t.csv"), "OUTPUT_SCATTER": "", "OUTPUT_REPORT": ""}
    msg = fails("trainmodel", params, out, "constant", "PLSR", *[f for f in fields if f.startswith("const")])
    assert "gesdd" not in msg


@pytest.mark.parametrize("alg,params", [
    ("trainmodel", {"TARGET": "salt", "FIELDS": ["ndvi", "huge"], "MODEL": 0}),
    ("trainmodel", {"TARGET": "salt", "FIELDS": ["ndvi", "huge"], "MODEL": 3}),
    ("vipscreening", {"TARGET_FIELD": "salt", "FIELDS": ["ndvi", "huge"]}),
    ("rfcontribution", {"Y_FIELD": "salt", "CATEGORIES": ["ndvi", "a", "huge", "b"]}),
    ("mlrcontribution", {"Y_FIELD": "salt", "X_FIELDS": ["ndvi", "huge"]}),
    ("geodetector", {"Y_FIELD": "salt", "X_FIELDS": ["ndvi", "huge"]}),
], ids=["rf", "boosting", "vip", "rfcontribution", "mlr", "geodetector"])
def test_a_non_finite_or_huge_predictor_value_names_the_field(provider, odd_table, out, alg, params):
    # before: "Input X contains infinity or a value too large for dtype('float32')", or gesdd, or silence
    outputs = {"trainmodel": {"OUTPUT_MODEL": str(out / "m.model"), "OUTPUT_TABLE": str(out / "t.csv"),
                              "OUTPUT_SCATTER": "", "OUTPUT_REPORT": ""},
               "vipscreening": {"OUTPUT_TABLE": str(out / "t.csv")},
               "rfcontribution": {"OUTPUT_CATEGORIES": str(out / "c.csv"), "OUTPUT_DRIVERS": str(out / "d.csv"),
                                  "N_TREES": 20},
               "mlrcontribution": {"OUTPUT_TABLE": str(out / "t.csv")},
               "geodetector": {"OUTPUT_FACTOR": str(out / "f.csv")}}[alg]
    msg = fails(alg, dict(params, INPUT=odd_table, **outputs), out, "huge", "8")
    assert "float32" not in msg and "gesdd" not in msg


def test_an_expression_without_a_band_says_so(provider, out):
    params = dict(util.scene_params("L8", ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")), INDICES=[],
                  CUSTOM_EXPRESSION="1 + 2", OUTPUT=str(out / "i.tif"))
    msg = fails("spectralindices", params, out, "CUSTOM_EXPRESSION", "references no band")
    assert "No raster input was given" not in msg


def test_a_thousand_unknown_land_use_codes_are_summarised(provider, data, out):
    codes = (1001 + np.arange(1000)).reshape(40, 25).astype(np.uint16)
    lu = util.write_raster(out.parent / "many_codes.tif", [codes], dtype=gdal.GDT_UInt16)
    msg = fails("egindex", {"LANDUSE": lu, "OUTPUT": str(out / "eg.tif")}, out, "GRADE_TABLE", "1001, 1002",
                "1000 codes")
    assert "1500" not in msg and len(msg) < 1000
