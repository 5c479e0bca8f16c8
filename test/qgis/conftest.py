"""Fixtures of the QGIS-level tests: cached algorithm runs and a headless qgis_process set-up."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import util  # noqa: E402  (test/qgis/util.py: the independent reference computations)


@pytest.fixture(scope="session")
def run_alg(provider):
    """processing.run of a miningeco algorithm (the provider registered by test/conftest.py)."""
    import processing

    def run(alg_id, params, feedback=None):
        return processing.run(f"miningeco:{alg_id}", params, feedback=feedback)
    return run


@pytest.fixture(scope="session")
def rsei_run(run_alg, tmp_path_factory):
    """miningeco:rsei on a real Level-1 scene ("L8" / "L7"), run once per sensor and reused."""
    cache = {}

    def get(sensor):
        if sensor not in cache:
            out = tmp_path_factory.mktemp(f"rsei_{sensor}")
            params = dict(util.scene_params(sensor), OUTPUT=str(out / "rsei.tif"),
                          OUTPUT_GRADES=str(out / "grades.tif"), OUTPUT_TABLE=str(out / "table.csv"),
                          OUTPUT_REPORT=str(out / "report.html"))
            cache[sensor] = (params, run_alg("rsei", params))
        return cache[sensor]
    return get
