"""Shared test set-up: the plugin importable from the repo, real test data paths, the provider registered."""
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paths import ROOT  # noqa: E402

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "test", "models"))   # modelkit: shared by the model build scripts and tests
sys.path.insert(0, os.path.join(ROOT, "test", "qgis"))     # util: scene parameters, readers and writers of rasters

# pyproj (the reference of the area tests) looks for PROJ's data under the venv or beside a `proj` binary; Debian
# keeps it in /usr/share/proj (python3-pyproj without proj-bin, as in the chroots of make test-matrix)
if not os.environ.get("PROJ_DATA") and os.path.exists("/usr/share/proj/proj.db"):
    os.environ["PROJ_DATA"] = "/usr/share/proj"


@pytest.fixture(scope="session")
def provider(qgis_processing):
    """The Mining Eco provider, registered in the test QGIS application."""
    from qgis.core import QgsApplication

    from mining_eco_plugin.provider import MiningEcoProvider
    registry = QgsApplication.processingRegistry()
    prov = registry.providerById("miningeco")
    if prov is None:
        prov = MiningEcoProvider()
        registry.addProvider(prov)
    return prov


QGIS_PROCESS = "/usr/bin/qgis_process.bin"   # Debian's qgis_process wrapper passes an option 3.22 rejects


class QgisProcess:
    """Runs /usr/bin/qgis_process.bin headless in a throw-away QGIS profile."""

    def __init__(self, exe, env, profile):
        self.exe, self.env, self.profile = exe, env, profile

    def __call__(self, *args, timeout=180, check=True):
        proc = subprocess.run([self.exe, *map(str, args)], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
        if check and proc.returncode != 0:
            raise AssertionError(f"qgis_process {' '.join(map(str, args))} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
        return proc

    def results(self, *args, timeout=180):
        """``qgis_process --json run ...``: the run's results (output name -> value) as JSON gives them.
        Version-independent, unlike the log text (3.22 prints "Executed 3 algorithms", 3.40 does not)."""
        proc = self("--json", "run", *args, timeout=timeout)
        return json.loads(proc.stdout[proc.stdout.index("{"):])["results"]


@pytest.fixture(scope="session")
def qgis_process(tmp_path_factory):
    """qgis_process.bin with the plugin found through QGIS_PLUGINPATH=<repo root> and enabled once in a
    temporary profile (QGIS_CUSTOM_CONFIG_PATH; checked below that 3.22 writes its settings there)."""
    exe = QGIS_PROCESS if os.path.exists(QGIS_PROCESS) else shutil.which("qgis_process.bin")
    if not exe:
        pytest.skip("qgis_process.bin is not installed")
    config = tmp_path_factory.mktemp("qgis_config")
    runtime = tmp_path_factory.mktemp("xdg_runtime")
    os.chmod(runtime, 0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=ROOT,
               QGIS_CUSTOM_CONFIG_PATH=str(config), XDG_RUNTIME_DIR=str(runtime))
    env.pop("PYTHONPATH", None)   # qgis_process.bin runs the system python; the plugin needs nothing else
    qp = QgisProcess(exe, env, config)
    proc = qp("plugins", "enable", "mining_eco_plugin", timeout=120)
    assert "* mining_eco_plugin" in proc.stdout, proc.stdout
    ini = config / "profiles" / "default" / "QGIS" / "QGIS3.ini"
    assert ini.exists(), "qgis_process.bin did not use QGIS_CUSTOM_CONFIG_PATH as its profile root"
    assert "mining_eco_plugin=true" in ini.read_text()
    return qp


@pytest.fixture(scope="session")
def qgis_process_in():
    """A factory: ``make(profile_root, **env)`` gives qgis_process.bin with its own QGIS profile root
    (QGIS_CUSTOM_CONFIG_PATH; profile = <root>/profiles/default) and extra environment, the plugin enabled."""
    exe = QGIS_PROCESS if os.path.exists(QGIS_PROCESS) else shutil.which("qgis_process.bin")
    if not exe:
        pytest.skip("qgis_process.bin is not installed")

    def make(config, **extra_env):
        runtime = os.path.join(str(config), "xdg_runtime")
        os.makedirs(runtime, mode=0o700, exist_ok=True)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_PLUGINPATH=ROOT, QGIS_CUSTOM_CONFIG_PATH=str(config),
                   XDG_RUNTIME_DIR=runtime, **extra_env)
        env.pop("PYTHONPATH", None)
        qp = QgisProcess(exe, env, config)
        proc = qp("plugins", "enable", "mining_eco_plugin", timeout=120)
        assert "* mining_eco_plugin" in proc.stdout, proc.stdout
        return qp
    return make
