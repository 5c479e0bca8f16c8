"""Plugin entry: registers the Processing provider, with or without a GUI."""
from qgis.core import QgsApplication


class MiningEcoPlugin:
    def __init__(self, iface=None):
        self.iface = iface
        self.provider = None

    def initProcessing(self):  # noqa: N802 (QGIS API name)
        from .provider import MiningEcoProvider
        if self.provider is None:
            self.provider = MiningEcoProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802
        self.initProcessing()

    def unload(self):
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
