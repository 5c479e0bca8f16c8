"""Plugin entry: registers the Processing provider, with or without a GUI; with a GUI, a Plugins-menu entry
that opens the dependency installer (miningeco:installdependencies)."""
import os

from qgis.core import QgsApplication

MENU = "&Mining Eco"
INSTALLER_ID = "miningeco:installdependencies"
INSTALL_ACTION_TEXT = "Install Python dependencies…"


class MiningEcoPlugin:
    def __init__(self, iface=None):
        self.iface = iface
        self.provider = None
        self.install_action = None

    def initProcessing(self):  # noqa: N802 (QGIS API name)
        from .provider import MiningEcoProvider
        if self.provider is None:
            self.provider = MiningEcoProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()
        if self.iface is None or self.install_action is not None:
            return
        from qgis.PyQt.QtGui import QIcon
        from qgis.PyQt.QtWidgets import QAction
        self.install_action = QAction(QIcon(os.path.join(os.path.dirname(__file__), "icon.svg")),
                                      INSTALL_ACTION_TEXT, self.iface.mainWindow())
        self.install_action.setObjectName("miningEcoInstallDependencies")
        self.install_action.setToolTip("Install skops (and optionally xgboost-cpu) for the Salinity model tools")
        self.install_action.triggered.connect(self.open_installer)
        self.iface.addPluginToMenu(MENU, self.install_action)

    def open_installer(self):
        """The installer's Processing dialog (runs it in the background, with progress and Cancel)."""
        import processing
        return processing.execAlgorithmDialog(INSTALLER_ID, {})

    def unload(self):
        if self.install_action is not None:
            if self.iface is not None:
                self.iface.removePluginMenu(MENU, self.install_action)
            self.install_action.triggered.disconnect(self.open_installer)
            self.install_action.deleteLater()
            self.install_action = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
