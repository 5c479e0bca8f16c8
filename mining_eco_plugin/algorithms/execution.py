"""Where the raster blocks of a run are computed (issue 12): the Processing setting and the environment.

Settings > Options > Processing > Providers > Mining Eco holds three settings: the executor (local threads, the
default; local processes, a dask LocalCluster on this machine; or a dask scheduler), the number of workers and
the scheduler's address. For ``qgis_process`` the environment variables MINING_ECO_EXECUTOR
(threads | processes | dask), MINING_ECO_WORKERS, MINING_ECO_DASK_SCHEDULER and MINING_ECO_DASK_TILES win over the
settings
(raster/executor.py: config_from).

A dask scheduler runs the code that the client sends it (pickled functions): use only a scheduler that you
control. Local clusters are the only ones used unless an address is set.
"""
from __future__ import annotations

import os

from ..raster import executor

EXECUTOR, WORKERS, SCHEDULER, TILES = ("MINING_ECO_EXECUTOR", "MINING_ECO_WORKERS", "MINING_ECO_DASK_SCHEDULER",
                                       "MINING_ECO_DASK_TILES")
CHOICES = (
    (executor.THREADS, "Local threads (default)"),
    (executor.PROCESSES, "Local processes (a dask cluster on this computer)"),
    (executor.DASK, "A dask scheduler (the address below; one that you control)"),
)


def dask_available() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def add_settings(provider):
    """Add the executor settings to Processing's options (the provider's page)."""
    try:
        from processing.core.ProcessingConfig import ProcessingConfig, Setting
    except ImportError:     # Processing's Python part is not loaded (a bare QgsApplication): defaults only
        return
    group = provider.name()
    how = ("" if dask_available() else " Needs dask.distributed, which QGIS's Python lacks: install Debian's "
           "python3-distributed, or pip install distributed into QGIS's Python.")
    ProcessingConfig.settingIcons[group] = provider.icon()
    ProcessingConfig.addSetting(Setting(group, EXECUTOR, "Raster executor (MINING_ECO_EXECUTOR wins)" + how,
                                        CHOICES[0][1], valuetype=Setting.SELECTION,
                                        options=[label for _k, label in CHOICES]))
    ProcessingConfig.addSetting(Setting(group, WORKERS, "Workers (threads or processes; 0 = one per core)", 0,
                                        valuetype=Setting.INT))
    ProcessingConfig.addSetting(Setting(group, SCHEDULER, "Dask scheduler address (tcp:// or tls://host:port)",
                                        ""))
    ProcessingConfig.addSetting(Setting(group, TILES, "Dask: shared folder for block tiles (empty: blocks come "
                                        "back over the network)", "", valuetype=Setting.FOLDER))
    ProcessingConfig.readSettings()


def remove_settings():
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return
    for name in (EXECUTOR, WORKERS, SCHEDULER, TILES):
        ProcessingConfig.removeSetting(name)


def _setting() -> dict:
    try:
        from processing.core.ProcessingConfig import ProcessingConfig
    except ImportError:
        return {}
    chosen = ProcessingConfig.getSetting(EXECUTOR)        # the option's index (its label in some versions)
    if isinstance(chosen, int) and 0 <= chosen < len(CHOICES):
        kind = CHOICES[chosen][0]
    else:
        kind = next((k for k, text in CHOICES if text == chosen), None)
    workers = ProcessingConfig.getSetting(WORKERS)
    try:
        workers = int(workers or 0)
    except (TypeError, ValueError):
        workers = 0
    return {"kind": kind, "workers": workers, "scheduler": ProcessingConfig.getSetting(SCHEDULER) or "",
            "tiles": ProcessingConfig.getSetting(TILES) or ""}


def current_config() -> executor.ExecutorConfig:
    """The executor of a run: environment variables, then the Processing settings, then local threads."""
    return executor.config_from(os.environ, _setting())
