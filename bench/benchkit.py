"""Shared helpers of the benchmarks: QGIS + the Mining Eco provider in this process, one algorithm run in a
fresh child process with its time and peak memory, and the PASS / MISS verdict.

Peak memory of a run: the child starts QGIS, Processing and the provider (and imports the ``preload``
modules, as a QGIS session would have them loaded), records its resident memory (VmRSS), resets the peak
(VmHWM) to it through /proc/self/clear_refs, runs ``processing.run`` once and reports VmHWM: the peak of the
run itself, not of start-up.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # headless when a bench script runs alone
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QGIS_PLUGINS = "/usr/share/qgis/python/plugins"
for _p in (ROOT, QGIS_PLUGINS):
    if _p not in sys.path:
        sys.path.append(_p)
_KEEP = []

CHILD = r"""
import importlib, json, sys, time


def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))


root, plugins, alg, params, preload = sys.argv[1:6]
sys.path[:0] = [root, plugins]
from qgis.core import QgsApplication
app = QgsApplication([], False); app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import processing
from mining_eco_plugin.provider import MiningEcoProvider
provider = MiningEcoProvider(); QgsApplication.processingRegistry().addProvider(provider)
for name in filter(None, preload.split(",")):
    importlib.import_module(name)
base_kb = status("VmRSS")
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")   # reset the peak (VmHWM) to the current RSS
seconds, cpu, results = 0.0, 0.0, {}
if alg:
    t0, c0 = time.perf_counter(), time.process_time()
    res = processing.run(alg, json.loads(params))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    results = {k: v for k, v in res.items() if isinstance(v, (int, float, str))}
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "base_kb": base_kb, "maxrss_kb": status("VmHWM"),
                  "results": results}))
"""


def run_child(alg_id, params, preload=()):
    """Run ``processing.run(alg_id, params)`` in a fresh process. Returns a dict: seconds, cpu_seconds (CPU time of
    all its threads during the run), base_kb (RSS once QGIS is up), maxrss_kb (peak during the run), results (the
    scalar outputs). ``alg_id`` "" = start-up only."""
    run = subprocess.run([sys.executable, "-c", CHILD, ROOT, QGIS_PLUGINS, alg_id, json.dumps(params),
                          ",".join(preload)], capture_output=True, text=True,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    if run.returncode != 0:
        raise RuntimeError(f"{alg_id or 'QGIS start-up'} failed in the child process:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def processing_module():
    """``processing`` with the Mining Eco provider registered (starting QGIS when nobody did)."""
    from qgis.core import QgsApplication
    if QgsApplication.instance() is None:
        app = QgsApplication([], False)
        app.initQgis()
        _KEEP.append(app)
    from processing.core.Processing import Processing
    Processing.initialize()
    import processing
    registry = QgsApplication.processingRegistry()
    if registry.providerById("miningeco") is None:
        from mining_eco_plugin.provider import MiningEcoProvider
        provider = MiningEcoProvider()
        registry.addProvider(provider)
        _KEEP.append(provider)
    return processing


def verdict(ok):
    return "PASS" if ok else "MISS"
