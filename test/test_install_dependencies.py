"""miningeco:installdependencies for real: qgis_process.bin (whose Python is the system /usr/bin/python3, without
skops) in fresh QGIS profiles; packages from the real package index (pip's own configuration), no mocks.

* before: trainmodel / applymodel refuse at once, naming the installer;
* install: skops and only the packages it lacks land in <profile>/mining_eco/python3.x, never numpy, scipy,
  scikit-learn or anything the system Python has; the skops chosen fits the numpy / scikit-learn present;
* a second run installs nothing; trainmodel and applymodel then work in that profile; xgboost-cpu is added alone;
* refusals, each leaving nothing behind: unreachable index, a Python without pip, a bad MINING_ECO_PYTHON, a
  package from a mirror that does not import, one that would hide a module QGIS has, one that needs a newer numpy;
* cancel during pip: pip is killed, nothing is left (a standalone QGIS script with the system Python).

No version is hard-coded: Debian 12 gets skops 0.11 (numpy 1.24), newer systems a newer one.
"""
from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from osgeo import gdal

import util  # test/qgis/util.py
from paths import ROOT

gdal.UseExceptions()
SYSTEM_PYTHON = "/usr/bin/python3"          # the Python embedded in Debian's qgis_process.bin
FEATURES = ("ndvi", "si1", "crsi")
FAKE_SKOPS = "0.16.99"      # a release the installer's range (< 0.17) accepts, served by a local mirror


def system_python(code, *args, path=(), timeout=300):
    """Run ``code`` with the system Python (no user site), ``path`` on PYTHONPATH; its stdout."""
    env = dict(os.environ, PYTHONNOUSERSITE="1", QT_QPA_PLATFORM="offscreen")
    env.pop("PYTHONPATH", None)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(map(str, path))
    run = subprocess.run([SYSTEM_PYTHON, "-c", code, *map(str, args)], capture_output=True, text=True, env=env,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def system_has(module, path=()):
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    env.pop("PYTHONPATH", None)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(map(str, path))
    return subprocess.run([SYSTEM_PYTHON, "-c", code], env=env).returncode == 0


def system_distributions():
    """{canonical name: version} of what the system Python has (without the plugin folder)."""
    code = ("import importlib.metadata as m, json, re\n"
            "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version "
            "for d in m.distributions() if d.metadata['Name']}))")
    return json.loads(system_python(code))


def outputs_of(stdout):
    """qgis_process's 'Results' section as {name: value} (values as printed; '' when empty)."""
    text = stdout.split("Results\n----------------", 1)[-1]
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^([A-Z_]+):\t(.*)$", text, re.MULTILINE)}


def folder_of(config):
    return os.path.join(str(config), "profiles", "default", "mining_eco", "python%d.%d" % sys.version_info[:2])


def dist_infos(folder):
    """{canonical name: (version, dist-info path)} in ``folder``."""
    out = {}
    for info in glob.glob(os.path.join(folder, "*.dist-info")):
        meta = open(os.path.join(info, "METADATA"), encoding="utf-8").read()
        name = re.search(r"^Name: (.+)$", meta, re.MULTILINE).group(1).strip()
        version = re.search(r"^Version: (.+)$", meta, re.MULTILINE).group(1).strip()
        out[re.sub(r"[-_.]+", "-", name).lower()] = (version, info)
    return out


def leftovers(config):
    parent = os.path.dirname(folder_of(config))
    return [n for n in os.listdir(parent) if n.startswith(".staging-") or ".old-" in n] \
        if os.path.isdir(parent) else []


def samples_table(folder):
    """The synthetic sample table of the Train model tests (test_train_model.synthetic_table)."""
    from test_train_model import synthetic_table
    return synthetic_table(str(folder))


def feature_stack(path):
    """A 3-band float32 raster whose band descriptions are the features, with a nodata hole."""
    rng = np.random.default_rng(3)
    arrays = [rng.random((40, 60)).astype(np.float32) for _ in FEATURES]
    arrays[1][5:9, 10:20] = -9999.0
    return util.write_raster(path, arrays, FEATURES, dtype=gdal.GDT_Float32, nodata=-9999.0, epsg=32617,
                             origin=(500000.0, 4000000.0))


def train_args(src, folder, model=0, compare=False):
    return ["run", "miningeco:trainmodel", "--", f"INPUT={src}", "TARGET=salt", "SELECTED_FIELDS=" + ",".join(FEATURES),
            f"MODEL={model}", f"COMPARE_MODELS={int(compare)}", f"OUTPUT_MODEL={folder / 'm.model'}",
            f"OUTPUT_TABLE={folder / 'metrics.csv'}"]


def apply_args(model, stack, folder):
    return ["run", "miningeco:applymodel", "--", f"MODEL_FILE={model}", f"RASTERS={stack}",
            f"OUTPUT={folder / 'pred.tif'}", f"OUTPUT_GRADES={folder / 'grades.tif'}",
            f"OUTPUT_TABLE={folder / 'areas.csv'}"]


def make_wheel(index, name, version, files, requires=()):
    """A wheel in a local 'simple' package index (a mirror for INDEX_URL): ``files`` {path: text}."""
    dist = f"{name.replace('-', '_')}-{version}"
    info = f"{dist}.dist-info"
    entries = dict(files)
    entries[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" +
                                   "".join(f"Requires-Dist: {r}\n" for r in requires))
    entries[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    entries[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    folder = os.path.join(str(index), name)
    os.makedirs(folder, exist_ok=True)
    wheel = f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(folder, wheel), "w") as z:
        for path, text in entries.items():
            z.writestr(path, text)
    with open(os.path.join(folder, "index.html"), "w") as fh:
        fh.write(f'<!DOCTYPE html><html><body><a href="{wheel}">{wheel}</a></body></html>\n')
    return "file://" + str(index)


# ---------------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def without_skops():
    if not os.path.exists(SYSTEM_PYTHON):
        pytest.skip("no system Python")
    if system_has("skops"):
        pytest.skip(f"{SYSTEM_PYTHON} already imports skops: these tests need a Python without it")


@pytest.fixture(scope="module")
def fresh(without_skops, qgis_process_in, tmp_path_factory):
    """A fresh profile: the model tools tried before the install, the installer run twice, the folder listed."""
    config = tmp_path_factory.mktemp("fresh_profile")
    work = tmp_path_factory.mktemp("fresh_work")
    qp = qgis_process_in(config, PYTHONNOUSERSITE="1")
    src, X, y = samples_table(work)
    stack = feature_stack(work / "features.tif")
    # a model file written by the test venv (which has skops): applymodel must still refuse without skops
    from mining_eco_plugin.core import modelfile
    from sklearn.linear_model import LinearRegression
    (work / "venv.model").write_bytes(modelfile.dumps(modelfile.ModelBundle(
        LinearRegression().fit(X, y), list(FEATURES), "salt", "g/kg", "plsr")))
    files = sorted(os.listdir(work))
    before = {"train": qp(*train_args(src, work, compare=True), check=False),
              "apply": qp(*apply_args(work / "venv.model", stack, work), check=False)}
    written_before = (files, sorted(os.listdir(work)))
    t0 = time.monotonic()
    first = qp("run", "miningeco:installdependencies", "--", f"OUTPUT_REPORT={work / 'first.html'}", timeout=1200)
    seconds = time.monotonic() - t0
    folder = folder_of(config)
    listing = {p: os.stat(p).st_ino for p in glob.glob(os.path.join(folder, "**"), recursive=True)}
    second = qp("run", "miningeco:installdependencies", "--", f"OUTPUT_REPORT={work / 'second.html'}", timeout=600)
    print(f"installdependencies: {seconds:.0f} s: {outputs_of(first.stdout).get('INSTALLED')}")
    return {"qp": qp, "config": config, "work": work, "src": src, "stack": stack, "before": before,
            "written_before": written_before, "first": first, "second": second, "folder": folder,
            "listing": listing, "seconds": seconds}


# ---------------------------------------------------------------------------------------------------------- tests
def test_model_tools_refuse_without_skops_before_any_work_and_name_the_installer(fresh):
    for tool, proc in fresh["before"].items():
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, tool
        for words in ("skops", "miningeco:installdependencies", "Plugins > Mining Eco > Install Python dependencies"):
            assert words in text, (tool, text[-2000:])
        assert "Traceback" not in text
    assert "predictors" not in fresh["before"]["train"].stdout       # no sample was read, no model trained
    files, after = fresh["written_before"]     # (qgis_process itself writes features.tif.aux.xml on loading it)
    assert [f for f in after if not f.endswith(".aux.xml")] == files


def test_install_puts_skops_and_only_missing_packages_into_the_profile(fresh):
    out = outputs_of(fresh["first"].stdout)
    folder = fresh["folder"]
    assert out["FOLDER"] == folder and os.path.isdir(folder)
    installed = dict(item.split("==") for item in out["INSTALLED"].split(","))
    assert "skops" in installed and out["SKOPS_VERSION"] == installed["skops"]
    there = dist_infos(folder)
    assert {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in installed.items()} == {k: v for k, (v, _i) in there.items()}
    assert not {"numpy", "scipy", "scikit-learn"} & set(there)
    assert not set(there) & set(system_distributions()), "a package the system Python has was installed again"
    assert leftovers(fresh["config"]) == []
    # pip ran with the interpreter of qgis_process's own Python (same major.minor)
    assert os.path.realpath(out["PYTHON"]).startswith("/usr/bin/python3")
    report = (fresh["work"] / "first.html").read_text()
    assert "skops" in report and installed["skops"] in report and folder in report


def test_installed_skops_fits_the_numpy_and_scikit_learn_present(fresh):
    from packaging.requirements import Requirement
    folder = fresh["folder"]
    version, info = dist_infos(folder)["skops"]
    present = json.loads(system_python("import json, numpy, scipy, sklearn; print(json.dumps({'numpy': "
                                       "numpy.__version__, 'scipy': scipy.__version__, 'scikit-learn': "
                                       "sklearn.__version__}))"))
    meta = open(os.path.join(info, "METADATA"), encoding="utf-8").read()
    for line in re.findall(r"^Requires-Dist: (.+)$", meta, re.MULTILINE):
        req = Requirement(line)
        if req.name.lower() in present and req.marker is None:
            assert req.specifier.contains(present[req.name.lower()], prereleases=True), (version, line, present)
    # and it works there: skops.io imports and round-trips a scikit-learn model in the system Python
    code = ("import numpy as np, skops, skops.io as sio\n"
            "from sklearn.ensemble import RandomForestRegressor\n"
            "X = np.random.default_rng(0).random((30, 2)); m = RandomForestRegressor(5, random_state=0).fit(X, X[:, 0])\n"
            "b = sio.dumps(m); r = sio.loads(b, trusted=sio.get_untrusted_types(data=b))\n"
            "assert (r.predict(X) == m.predict(X)).all(); print(skops.__version__, skops.__file__)")
    text = system_python(code, path=[folder])
    assert text.split()[0] == version and text.split()[1].startswith(folder)


def test_second_run_installs_nothing(fresh):
    out = outputs_of(fresh["second"].stdout)
    assert out["INSTALLED"] == "" and out["PYTHON"] == ""
    assert out["SKOPS_VERSION"] == outputs_of(fresh["first"].stdout)["SKOPS_VERSION"]
    assert "Nothing to install" in fresh["second"].stdout
    now = {p: os.stat(p).st_ino for p in glob.glob(os.path.join(fresh["folder"], "**"), recursive=True)}
    assert now == fresh["listing"]
    report = (fresh["work"] / "second.html").read_text()
    assert "already importable" in report and "skops" in report


def test_train_and_apply_a_model_in_the_profile(fresh, tmp_path):
    qp = fresh["qp"]
    train = qp(*train_args(fresh["src"], tmp_path, model=0), timeout=600)
    assert outputs_of(train.stdout)["FEATURES"] == ",".join(FEATURES)
    with zipfile.ZipFile(tmp_path / "m.model") as z:
        meta = json.loads(z.read("metadata.json"))
    assert meta["versions"]["skops"] == outputs_of(fresh["first"].stdout)["SKOPS_VERSION"]
    qp(*apply_args(tmp_path / "m.model", fresh["stack"], tmp_path), timeout=600)
    assert (tmp_path / "pred.tif").exists() and (tmp_path / "grades.tif").exists()
    # the prediction is the model's own predict on the pixels, computed in the system Python with the folder
    code = ("import sys, json, numpy as np\n"
            "from osgeo import gdal\n"
            "from mining_eco_plugin.core import modelfile\n"
            "b = modelfile.loads(open(sys.argv[1], 'rb').read())\n"
            "ds = gdal.Open(sys.argv[2]); names = [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)]\n"
            "cols = []\n"
            "for f in b.features:\n"
            "    band = ds.GetRasterBand(names.index(f) + 1); a = band.ReadAsArray().astype(np.float32)\n"
            "    a[a == band.GetNoDataValue()] = np.nan; cols.append(a.ravel())\n"
            "X = np.stack(cols, axis=1); ok = np.isfinite(X).all(axis=1)\n"
            "want = np.full(len(X), np.nan, np.float32); want[ok] = b.estimator.predict(X[ok])\n"
            "out = gdal.Open(sys.argv[3]); got = out.GetRasterBand(1).ReadAsArray().ravel()\n"
            "assert ((got == -9999) == ~ok).all()\n"
            "print(json.dumps({'valid': int(ok.sum()), 'diff': float(np.max(np.abs(got[ok] - want[ok])))}))")
    res = json.loads(system_python(code, tmp_path / "m.model", fresh["stack"], tmp_path / "pred.tif",
                                   path=[fresh["folder"], ROOT]))
    assert res["valid"] == 60 * 40 - 40 and res["diff"] < 1e-4


def test_xgboost_option_adds_only_xgboost(fresh, tmp_path):
    qp = fresh["qp"]
    had_xgboost = system_has("xgboost", path=[fresh["folder"]])
    proc = qp("run", "miningeco:installdependencies", "--", "INSTALL_XGBOOST=1", timeout=1200)
    out = outputs_of(proc.stdout)
    if had_xgboost:
        assert out["INSTALLED"] == ""
    else:
        names = [item.split("==")[0] for item in out["INSTALLED"].split(",")]
        assert names[0] == "xgboost-cpu" and not {"skops", "numpy", "scipy", "scikit-learn"} & set(names)
    assert out["XGBOOST_VERSION"]
    # what the first run installed is still there, untouched (hard links of the same files)
    for path, inode in fresh["listing"].items():
        if os.path.isfile(path):
            assert os.stat(path).st_ino == inode, path
    train = qp(*train_args(fresh["src"], tmp_path, model=3), timeout=600)
    assert outputs_of(train.stdout)["BOOSTING_BACKEND"] == "xgboost"
    qp(*apply_args(tmp_path / "m.model", fresh["stack"], tmp_path), timeout=600)
    assert (tmp_path / "pred.tif").exists()


def test_optuna_option_turns_the_search_into_optunas(fresh, tmp_path):
    """QGIS's Python without Optuna: the search is the randomized one and the log says how to get Optuna; after
    INSTALL_OPTUNA=1 the same run uses Optuna's TPE sampler (and nothing of numpy / scipy / scikit-learn is
    installed)."""
    qp = fresh["qp"]
    search = [*train_args(fresh["src"], tmp_path, model=4), "SEARCH=1", "SEARCH_BUDGET=3",
              f"OUTPUT_TRIALS={tmp_path / 'trials.csv'}"]
    had_optuna = system_has("optuna", path=[fresh["folder"]])
    if not had_optuna:
        before = qp(*search, timeout=600)
        assert "Optuna is not installed" in before.stdout and "INSTALL_OPTUNA" in before.stdout
        assert "RandomizedSearchCV" in before.stdout
    proc = qp("run", "miningeco:installdependencies", "--", "INSTALL_OPTUNA=1", timeout=1200)
    out = outputs_of(proc.stdout)
    if not had_optuna:
        names = [item.split("==")[0] for item in out["INSTALLED"].split(",")]
        assert "optuna" in names and not {"skops", "numpy", "scipy", "scikit-learn"} & set(names)
    assert out["OPTUNA_VERSION"]
    after = qp(*search, timeout=600)
    assert f"Optuna {out['OPTUNA_VERSION']} TPE sampler" in after.stdout and "Trial 0 finished" not in after.stderr
    with open(tmp_path / "trials.csv", newline="") as fh:
        assert len(fh.read().strip().splitlines()) == 4      # header + 3 trials


# ---------------------------------------------------------------------------------------------------------- refusals
def refused(qp, config, *args, env=None, timeout=300):
    """Run the installer expecting a clean refusal; its message. Nothing may be left in the profile."""
    if env:
        qp.env = dict(qp.env, **env)
    t0 = time.monotonic()
    proc = qp("run", "miningeco:installdependencies", "--", *args, check=False, timeout=timeout)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-2000:]
    assert "Traceback" not in text
    assert not os.path.exists(os.path.dirname(folder_of(config))) or not os.listdir(
        os.path.dirname(folder_of(config))), os.listdir(os.path.dirname(folder_of(config)))
    return text, time.monotonic() - t0


@pytest.fixture
def profile(without_skops, qgis_process_in, tmp_path):
    config = tmp_path / "profile"
    config.mkdir()
    return qgis_process_in(config, PYTHONNOUSERSITE="1"), config


def test_unreachable_index_is_refused(profile):
    qp, config = profile
    text, seconds = refused(qp, config, "INDEX_URL=http://127.0.0.1:9/simple", "TIMEOUT=3")
    assert "package index cannot be reached" in text and "http://127.0.0.1:9/simple" in text
    assert "Connection refused" in text and "INDEX_URL" in text and "Nothing was installed" in text
    assert seconds < 120


def test_python_without_pip_is_refused(profile, tmp_path):
    qp, config = profile
    venv = tmp_path / "nopip"
    subprocess.run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python3"
    assert subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode != 0
    text, _s = refused(qp, config, env={"MINING_ECO_PYTHON": str(python)})
    assert "pip is not available" in text and str(python) in text
    assert "sudo apt install python3-pip" in text and "ensurepip" in text


def test_bad_python_variable_is_refused(profile, tmp_path):
    qp, config = profile
    text, _s = refused(qp, config, env={"MINING_ECO_PYTHON": str(tmp_path / "no" / "python3")})
    assert "MINING_ECO_PYTHON" in text and "does not run as Python" in text


def test_a_package_that_does_not_import_is_not_installed(profile, tmp_path):
    qp, config = profile
    url = make_wheel(tmp_path / "mirror", "skops", FAKE_SKOPS, {"skops/__init__.py": "raise ImportError('broken')\n",
                                                             "skops/io.py": ""})
    text, _s = refused(qp, config, f"INDEX_URL={url}")
    assert "do not import" in text and "skops: ImportError: broken" in text and "Nothing was changed" in text


def test_a_package_that_would_hide_a_module_of_qgis_python_is_refused(profile, tmp_path):
    qp, config = profile
    url = make_wheel(tmp_path / "mirror", "skops", FAKE_SKOPS, {"skops/__init__.py": "", "skops/io.py": "",
                                                             "json/__init__.py": ""})
    text, _s = refused(qp, config, f"INDEX_URL={url}")
    assert "would hide the module json" in text


def test_a_package_needing_another_numpy_is_refused(profile, tmp_path):
    qp, config = profile
    url = make_wheel(tmp_path / "mirror", "skops", FAKE_SKOPS, {"skops/__init__.py": "", "skops/io.py": ""},
                     requires=["numpy>=999"])
    text, _s = refused(qp, config, f"INDEX_URL={url}")
    assert "fits the packages QGIS's Python has" in text and "numpy>=999" in text and "numpy " in text


def test_index_url_must_be_an_address(profile):
    qp, config = profile
    text, _s = refused(qp, config, "INDEX_URL=not a url")
    assert "INDEX_URL" in text and "https://" in text


# ---------------------------------------------------------------------------------------------------------- cancel
CANCEL = r"""
import glob, json, os, sys
sys.path.insert(0, sys.argv[1])
from qgis.core import QgsApplication, QgsProcessingFeedback, QgsProcessingException
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = sys.argv[2]      # QGIS 3.40 ignores QgsApplication's profileFolder
app = QgsApplication([], False); app.initQgis()
assert os.path.realpath(QgsApplication.qgisSettingsDirPath()).startswith(os.path.realpath(sys.argv[2]))
sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))   # QGIS's processing plugin
from processing.core.Processing import Processing
Processing.initialize()
import processing
import mining_eco_plugin
plugin = mining_eco_plugin.classFactory(None); plugin.initProcessing()


class Feedback(QgsProcessingFeedback):
    installing, pids, seen = False, [], []

    def pushConsoleInfo(self, text):
        self.seen.append(text)
        if self.installing:          # pip (the install step) has started and talks: cancel now
            self.cancel()
        if text.startswith("Installing (pip install"):
            self.installing = True

    def pushDebugInfo(self, text):
        if text.startswith("process "):
            self.pids.append(int(text.split()[1].rstrip(":")))


feedback = Feedback()
try:
    processing.run("miningeco:installdependencies", {}, feedback=feedback)
    error = ""
except QgsProcessingException as err:
    error = str(err)
alive = [p for p in feedback.pids if os.path.exists(f"/proc/{p}")]
parent = os.path.join(QgsApplication.qgisSettingsDirPath(), "mining_eco")
print(json.dumps({"error": error, "pids": feedback.pids, "alive": alive, "installing": feedback.installing,
                  "left": os.listdir(parent) if os.path.isdir(parent) else None}))
plugin.unload()
"""


def test_cancel_kills_pip_and_leaves_nothing(without_skops, tmp_path):
    profile = tmp_path / "profile"
    text = system_python(CANCEL, ROOT, profile, timeout=900)
    res = json.loads(text.strip().splitlines()[-1])
    assert res["installing"], res
    assert "Cancelled" in res["error"] and len(res["pids"]) == 2     # the dry run, then the killed install
    assert res["alive"] == []
    assert res["left"] == [], res                        # no staging folder, no half-filled python3.x folder


# ---------------------------------------------------------------------------------------------------------- in process
def test_help_parameters_and_group(provider):
    alg = provider.algorithm("installdependencies")
    assert alg.group() == "Set-up" and alg.groupId() == "setup"
    assert len(alg.shortHelpString()) <= 1500 and "MINING_ECO_PYTHON" in alg.shortHelpString()
    timeout = alg.parameterDefinition("TIMEOUT")
    assert timeout.minimum() == 1 and timeout.maximum() == 600
    from qgis.core import QgsProcessingContext
    ok, msg = alg.checkParameterValues({"INDEX_URL": "mirror"}, QgsProcessingContext())
    assert not ok and "INDEX_URL" in msg


def test_nothing_to_do_when_skops_imports(provider, tmp_path):
    """In the test venv skops (and xgboost) import: no pip, no folder; outputs are plain Python strings."""
    import processing
    import skops
    res = processing.run("miningeco:installdependencies", {"OUTPUT_REPORT": str(tmp_path / "r.html")})
    assert res["INSTALLED"] == "" and res["PYTHON"] == "" and res["SKOPS_VERSION"] == skops.__version__
    assert all(type(res[k]) is str for k in ("INSTALLED", "SKOPS_VERSION", "XGBOOST_VERSION", "FOLDER", "PYTHON"))
    html = (tmp_path / "r.html").read_text()
    assert "already importable" in html and "skops" in html and "not needed" in html


def test_a_mirror_without_the_package_is_refused(profile, tmp_path):
    qp, config = profile
    url = make_wheel(tmp_path / "mirror", "skops", "99.0", {"skops/__init__.py": "", "skops/io.py": ""})
    text, _s = refused(qp, config, f"INDEX_URL={url}")       # 99.0 is outside the tested range: not offered
    assert "offers no release of skops" in text and url in text and "Nothing was installed" in text
