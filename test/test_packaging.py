"""The plugin as users install it: `make zip` gives a zip that QGIS's "Install from ZIP" accepts
(one top-level folder with metadata.txt and classFactory), and the unpacked plugin registers the
provider with every algorithm grouped and documented."""
import configparser
import os
import subprocess
import sys
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRED_METADATA = ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email",
                     "repository", "changelog", "tags")


@pytest.fixture(scope="module")
def plugin_zip():
    run = subprocess.run(["make", "-s", "zip"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    meta = configparser.ConfigParser(interpolation=None)
    meta.read(os.path.join(ROOT, "mining_eco_plugin", "metadata.txt"))
    return os.path.join(ROOT, "dist", f"mining_eco_plugin-{meta['general']['version']}.zip")


def test_zip_has_one_plugin_folder_with_metadata(plugin_zip):
    with zipfile.ZipFile(plugin_zip) as z:
        names = z.namelist()
        assert {n.split("/")[0] for n in names} == {"mining_eco_plugin"}
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        meta = configparser.ConfigParser(interpolation=None)
        meta.read_string(z.read("mining_eco_plugin/metadata.txt").decode("utf-8"))
        assert "def classFactory" in z.read("mining_eco_plugin/__init__.py").decode()
        assert "mining_eco_plugin/icon.svg" in names and "mining_eco_plugin/resources.qrc" in names
    general = meta["general"]
    for key in REQUIRED_METADATA:
        assert general.get(key, "").strip(), f"metadata.txt lacks {key}"
    assert general["hasProcessingProvider"] == "yes"
    assert general["qgisMinimumVersion"] == "3.22"


def test_unzipped_plugin_registers_every_algorithm(plugin_zip, tmp_path):
    with zipfile.ZipFile(plugin_zip) as z:
        z.extractall(tmp_path)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from qgis.core import QgsApplication\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        "import mining_eco_plugin\n"
        "assert mining_eco_plugin.__file__.startswith(sys.argv[1])\n"
        "plugin = mining_eco_plugin.classFactory(None); plugin.initProcessing()\n"
        "p = QgsApplication.processingRegistry().providerById('miningeco')\n"
        "for a in p.algorithms():\n"
        "    assert a.group() in ('Indices','Ecology','Change','Salinity','Productivity','Drivers','Set-up'), a.id()\n"
        "    assert len(a.shortHelpString()) > 200 and 'source' in a.shortHelpString().lower(), a.id()\n"
        "    assert ' ' not in a.name(), a.id()\n"
        "    print(a.id())\n"
        "plugin.unload()\n"
        "assert QgsApplication.processingRegistry().providerById('miningeco') is None\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert run.returncode == 0, run.stderr[-2000:]
    ids = set(run.stdout.split())
    assert {"miningeco:spectralindices", "miningeco:lst", "miningeco:rsei", "miningeco:rseicomponents"} <= ids
