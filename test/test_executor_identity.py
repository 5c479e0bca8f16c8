"""Every raster tool gives the same outputs on local threads and on a dask LocalCluster of 2 worker processes
(issue 12). The cases are those of bench/identity.py (bench/identity_cases/*.py: every raster tool, each mode that
matters, on real Landsat scenes, the real North Carolina land cover and generated rasters).

Reference: the threads run of the same case. Rasters must be equal value for value (NaN where nodata): every
pixel function is deterministic, and partial results combine in one fixed tree of the blocks whatever the
executor. Tables are compared cell by cell; numbers to 1e-12 relative.
"""
from __future__ import annotations

import csv
import os
import sys

import numpy as np
import pytest
from osgeo import gdal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import identity  # noqa: E402  (bench/identity.py)

CASES = identity.load_cases()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return identity.Data(str(tmp_path_factory.mktemp("identity_data")))


def _run(name, data, out, monkeypatch, executor):
    import processing
    monkeypatch.setenv("MINING_ECO_EXECUTOR", executor)
    monkeypatch.setenv("MINING_ECO_WORKERS", "2")
    os.makedirs(out, exist_ok=True)
    alg, params = CASES[name](data, str(out))
    processing.run(alg, params)
    return sorted(os.path.relpath(os.path.join(d, f), out) for d, _, names in os.walk(out) for f in names
                  if f.endswith((".tif", ".csv")))          # also the files of folder outputs


@pytest.mark.parametrize("name", sorted(CASES))
def test_threads_and_worker_processes_give_the_same_outputs(name, provider, data, tmp_path, monkeypatch):
    files = _run(name, data, tmp_path / "threads", monkeypatch, "threads")
    assert files, f"{name} wrote no raster or table"
    assert _run(name, data, tmp_path / "processes", monkeypatch, "processes") == files
    for f in files:
        a, b = str(tmp_path / "threads" / f), str(tmp_path / "processes" / f)
        if f.endswith(".tif"):
            da, db = gdal.Open(a), gdal.Open(b)
            assert (da.RasterXSize, da.RasterYSize, da.RasterCount) == (db.RasterXSize, db.RasterYSize,
                                                                          db.RasterCount), f
            for i in range(1, da.RasterCount + 1):
                ba, bb = da.GetRasterBand(i), db.GetRasterBand(i)
                assert ba.GetNoDataValue() == bb.GetNoDataValue(), f
                np.testing.assert_array_equal(ba.ReadAsArray(), bb.ReadAsArray(), err_msg=f"{f} band {i}")
        else:
            with open(a, newline="") as fa, open(b, newline="") as fb:
                ra, rb = list(csv.reader(fa)), list(csv.reader(fb))
            assert len(ra) == len(rb), f
            for x, y in zip(ra, rb):
                assert len(x) == len(y) and all(map(identity._same_cell, x, y)), (f, x, y)
