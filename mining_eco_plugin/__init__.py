"""Mining Eco: ecology and soil-salinity monitoring of mining areas (QGIS Processing plugin)."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    # packages installed by miningeco:installdependencies (skops, xgboost-cpu) importable before any algorithm
    from .deps import add_to_sys_path
    add_to_sys_path()
    from .plugin import MiningEcoPlugin
    return MiningEcoPlugin(iface)
