"""Mining Eco: ecology and soil-salinity monitoring of mining areas (QGIS Processing plugin)."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    from .plugin import MiningEcoPlugin
    return MiningEcoPlugin(iface)
