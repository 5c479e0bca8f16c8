"""The executor's Processing settings (Settings > Options > Processing > Providers > Mining Eco) and the
environment variables that win over them (issue 12)."""
from __future__ import annotations

import pytest
from qgis.core import QgsProcessingException

from mining_eco_plugin.algorithms import execution
from mining_eco_plugin.raster import executor


def test_the_settings_are_registered_with_processing(provider):
    from processing.core.ProcessingConfig import ProcessingConfig
    execution.add_settings(provider)
    for key in (execution.EXECUTOR, execution.WORKERS, execution.SCHEDULER, execution.TILES):
        assert key in ProcessingConfig.settings, key
    assert ProcessingConfig.settings[execution.EXECUTOR].options == [label for _k, label in execution.CHOICES]
    assert execution.current_config().kind == executor.THREADS          # the default


def test_a_setting_is_used_and_the_environment_wins(provider, monkeypatch):
    from processing.core.ProcessingConfig import ProcessingConfig
    execution.add_settings(provider)
    monkeypatch.delenv("MINING_ECO_EXECUTOR", raising=False)
    try:
        ProcessingConfig.setSettingValue(execution.EXECUTOR, 1)    # the option's index
        ProcessingConfig.setSettingValue(execution.WORKERS, 3)
        c = execution.current_config()
        assert (c.kind, c.workers) == (executor.PROCESSES, 3)
        monkeypatch.setenv("MINING_ECO_EXECUTOR", "threads")
        assert execution.current_config().kind == executor.THREADS
    finally:
        ProcessingConfig.setSettingValue(execution.EXECUTOR, 0)
        ProcessingConfig.setSettingValue(execution.WORKERS, 0)


def test_a_bad_variable_stops_a_run_with_a_clear_error(provider, tmp_path, monkeypatch):
    import processing
    import util
    monkeypatch.setenv("MINING_ECO_EXECUTOR", "gpu")
    stack = [util.write_raster(tmp_path / f"r{y}.tif", [util.np.full((4, 5), y, dtype="float32")],
                               dtype=util.gdal.GDT_Float32) for y in range(2000, 2004)]
    with pytest.raises(QgsProcessingException, match="MINING_ECO_EXECUTOR.*threads, processes or dask"):
        processing.run("miningeco:trend", {"INPUTS": stack, "OUTPUT_SLOPE": str(tmp_path / "s.tif"),
                                           "OUTPUT_CLASS": str(tmp_path / "c.tif")})
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"r{y}.tif" for y in range(2000, 2004)]
