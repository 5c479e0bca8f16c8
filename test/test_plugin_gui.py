"""The plugin as QGIS desktop loads it, in a separate GUI-enabled QGIS application (offscreen): the Plugins-menu
entry opens the installer's Processing dialog, initGui / unload add and remove it cleanly (twice), the plugin
works without a GUI, and classFactory puts the profile's package folder on sys.path once, before site-packages.

QGIS desktop itself cannot start offscreen, so the interface object is the part of QgisInterface the plugin and
the Processing dialog use, on real Qt widgets (a Plugins menu, a canvas, a message bar, a browser model)."""
import json
import os
import subprocess
import sys

from paths import ROOT

SCRIPT = r'''
import json, os, sys
sys.path.insert(0, sys.argv[1])
# the profile through QGIS_CUSTOM_CONFIG_PATH: QGIS 3.40 ignores QgsApplication's profileFolder argument
os.environ["QGIS_CUSTOM_CONFIG_PATH"] = sys.argv[2]
from qgis.core import QgsApplication
from qgis.gui import QgsBrowserGuiModel, QgsMapCanvas, QgsMessageBar
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication, QMainWindow

app = QgsApplication([], True); app.initQgis()
profile = QgsApplication.qgisSettingsDirPath()
assert os.path.realpath(profile).startswith(os.path.realpath(sys.argv[2])), profile
sys.path.append(os.path.join(QgsApplication.pkgDataPath(), "python", "plugins"))   # QGIS's processing plugin
out = {}

# a package folder left by the installer, with a module in it
folder = os.path.join(profile, "mining_eco", "python%d.%d" % sys.version_info[:2])
os.makedirs(folder)
with open(os.path.join(folder, "mining_eco_probe_module.py"), "w") as fh:
    fh.write("VALUE = 42\n")


class Iface:
    def __init__(self):
        self.window = QMainWindow()
        self.canvas = QgsMapCanvas(self.window)
        self.bar = QgsMessageBar(self.window)
        self.browser = QgsBrowserGuiModel()
        self.plugins = self.window.menuBar().addMenu("&Plugins")

    def mainWindow(self): return self.window
    def mapCanvas(self): return self.canvas
    def messageBar(self): return self.bar
    def browserModel(self): return self.browser
    def activeLayer(self): return None
    def pluginMenu(self): return self.plugins

    def sub(self, name):
        return next((a.menu() for a in self.plugins.actions() if a.menu() and a.menu().title() == name), None)

    def addPluginToMenu(self, name, action):          # as QGIS does: a submenu per plugin menu name
        (self.sub(name) or self.plugins.addMenu(name)).addAction(action)

    def removePluginMenu(self, name, action):         # ... removed when its last action goes
        sub = self.sub(name)
        if sub is not None:
            sub.removeAction(action)
            if not sub.actions():
                self.plugins.removeAction(sub.menuAction())


iface = Iface()
import qgis.utils
qgis.utils.iface = iface
from processing.core.Processing import Processing
Processing.initialize()
import mining_eco_plugin

# without a GUI: the provider only
headless = mining_eco_plugin.classFactory(None)
headless.initGui()
out["headless_algs"] = len(QgsApplication.processingRegistry().providerById("miningeco").algorithms())
out["headless_action"] = headless.install_action is not None
headless.unload()

plugin = mining_eco_plugin.classFactory(iface)
mining_eco_plugin.classFactory(iface)             # loading twice adds the folder once
out["path_count"] = [os.path.realpath(p) for p in sys.path].count(os.path.realpath(folder))
site = next(i for i, p in enumerate(sys.path) if os.path.basename(p.rstrip("/")) in ("site-packages", "dist-packages"))
out["path_before_site"] = sys.path.index(folder) < site
import mining_eco_probe_module
out["probe"] = mining_eco_probe_module.VALUE
plugin.initGui()
sub = iface.sub("&Mining Eco")
out["menu"] = [a.text() for a in sub.actions()] if sub else None
seen = {}

def close_dialog():
    dialogs = [w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "algorithm")]
    if not dialogs:
        QTimer.singleShot(100, close_dialog)
        return
    seen.update(dialog=type(dialogs[0]).__name__, alg=dialogs[0].algorithm().id())
    dialogs[0].reject()

QTimer.singleShot(100, close_dialog)
sub.actions()[0].trigger()                        # the Plugins-menu entry, as a user clicks it
out.update(seen)
plugin.unload()
out["menu_after_unload"] = iface.sub("&Mining Eco") is not None
out["provider_after_unload"] = QgsApplication.processingRegistry().providerById("miningeco") is not None
plugin.initGui()                                  # reloading the plugin (plugin reloader, upgrade)
out["menu_again"] = [a.text() for a in iface.sub("&Mining Eco").actions()]
plugin.unload()
out["menu_after_second_unload"] = iface.sub("&Mining Eco") is not None
print("@@" + json.dumps(out))
'''


def test_menu_entry_opens_the_installer_and_plugin_loads_cleanly(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path))
    os.chmod(tmp_path, 0o700)
    run = subprocess.run([sys.executable, "-c", SCRIPT, ROOT, str(tmp_path / "profile")], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("@@"))[2:])
    assert out["headless_algs"] > 15 and out["headless_action"] is False
    assert out["path_count"] == 1 and out["path_before_site"] and out["probe"] == 42
    assert out["menu"] == ["Install Python dependencies…"]
    assert out["dialog"] == "AlgorithmDialog" and out["alg"] == "miningeco:installdependencies"
    assert out["menu_after_unload"] is False and out["provider_after_unload"] is False
    assert out["menu_again"] == ["Install Python dependencies…"] and out["menu_after_second_unload"] is False
