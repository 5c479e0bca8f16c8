"""The executor setting through QGIS (issue 12): a raster tool run through qgis_process on a LocalCluster of two
worker processes (MINING_ECO_EXECUTOR=processes) gives the same pixels as processing.run on local threads.

Inside qgis_process, sys.executable is QGIS itself and the PATH may hold another Python (here a pyenv shim
whose workers died importing the standard library, and the run hung): the workers must start this Python.
"""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal

import util


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    d = tmp_path_factory.mktemp("executor_stack")
    rng = np.random.default_rng(1212)
    trend = np.linspace(0, 1, 300 * 280, dtype=np.float32).reshape(300, 280) * 0.02
    paths = []
    for k, year in enumerate(range(2000, 2008)):
        a = (0.4 + trend * k + rng.normal(0, 0.01, (300, 280))).astype(np.float32)
        a[:3, :5] = np.nan
        paths.append(util.write_raster(d / f"rsei_{year}.tif", [a], dtype=gdal.GDT_Float32))
    return paths


def test_trend_through_qgis_process_on_worker_processes_equals_local_threads(provider, qgis_process_in, stack,
                                                                                tmp_path):
    import processing
    outs = {pid: str(tmp_path / f"local_{pid}.tif") for pid in ("OUTPUT_SLOPE", "OUTPUT_CLASS", "OUTPUT_Z")}
    processing.run("miningeco:trend", dict(outs, INPUTS=stack))
    qp = qgis_process_in(tmp_path / "profile", MINING_ECO_EXECUTOR="processes", MINING_ECO_WORKERS="2")
    cli = {pid: str(tmp_path / f"cluster_{pid}.tif") for pid in outs}
    args = [f"INPUTS={p}" for p in stack] + [f"{k}={v}" for k, v in cli.items()]
    proc = qp("run", "miningeco:trend", "--", *args, timeout=300)
    assert "local dask cluster of 2 worker processes" in proc.stdout + proc.stderr
    for pid in outs:
        np.testing.assert_array_equal(util.read_array(outs[pid]), util.read_array(cli[pid]))
