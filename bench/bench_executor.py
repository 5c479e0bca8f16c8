"""(i) The block executors (issue 12): a dask LocalCluster of 2 worker processes against local threads, on this
machine, measured in the same run.

* spectral indices (NDVI, WET, NDBSI) and RSEI on the 8000 x 8000 x 7-band scene: seconds on threads, on the
  cluster, and their ratio (goal <= 1.2: two cores cannot show a speed-up, the cluster must not cost much);
* per-worker throughput: MB of input bands read per second per worker;
* "province": a VRT mosaic of 16 (then 4) 4000 x 4000 x 7 scenes (the generated scene placed side by side, 4 x 4)
  through the cluster, with the peak memory of each worker process (goal: flat against the number of tiles).

Each run is a fresh process (benchkit's child), so the cluster's start is part of the cluster time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from osgeo import gdal

from benchkit import QGIS_PLUGINS, ROOT, verdict

CHILD = r"""
import json, os, sys, time
root, plugins, alg, params = sys.argv[1:5]
sys.path[:0] = [root, plugins]
from qgis.core import QgsApplication
app = QgsApplication([], False); app.initQgis()
from processing.core.Processing import Processing
Processing.initialize()
import processing
from mining_eco_plugin.provider import MiningEcoProvider
provider = MiningEcoProvider(); QgsApplication.processingRegistry().addProvider(provider)
t0 = time.perf_counter()
processing.run(alg, json.loads(params))
seconds = time.perf_counter() - t0
workers = []
from mining_eco_plugin.raster import executor
for cluster, client, _procs in executor._CLUSTERS.values():
    def peak():
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    workers = sorted(client.run(peak).values())
executor.close_clusters()
print(json.dumps({"seconds": seconds, "worker_peak_kb": workers}))
"""


def run(alg, params, executor, workers=2):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", MINING_ECO_EXECUTOR=executor, MINING_ECO_WORKERS=str(workers))
    proc = subprocess.run([sys.executable, "-c", CHILD, ROOT, QGIS_PLUGINS, alg, json.dumps(params)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{alg} on {executor} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mosaic(path, scene_path, tiles_per_side):
    """A VRT of ``tiles_per_side``^2 copies of the scene side by side (each copy read for real)."""
    src = gdal.Open(scene_path)
    size = src.RasterXSize
    gt = src.GetGeoTransform()
    ds = gdal.GetDriverByName("VRT").Create(path, size * tiles_per_side, size * tiles_per_side, 0)
    ds.SetGeoTransform(gt)
    ds.SetProjection(src.GetProjection())
    for b in range(1, src.RasterCount + 1):
        ds.AddBand(gdal.GDT_Int16)
        band = ds.GetRasterBand(b)
        band.SetDescription(src.GetRasterBand(b).GetDescription())
        band.SetNoDataValue(0)
        for ty in range(tiles_per_side):
            for tx in range(tiles_per_side):
                band.SetMetadataItem(f"source_{ty * tiles_per_side + tx}", (
                    f"<SimpleSource><SourceFilename relativeToVRT=\"0\">{scene_path}</SourceFilename>"
                    f"<SourceBand>{b}</SourceBand><SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{size}\" ySize=\"{size}\"/>"
                    f"<DstRect xOff=\"{tx * size}\" yOff=\"{ty * size}\" xSize=\"{size}\" ySize=\"{size}\"/>"
                    "</SimpleSource>"), "new_vrt_sources")
    ds = None
    return path


def main(out, scene_8000, scene_4000, say):
    from mining_eco_plugin.algorithms.index_calculator import PRODUCTS
    indices = [PRODUCTS.index(k) for k in ("NDVI", "WET", "NDBSI")]
    say("\n(i) executors: a dask LocalCluster of 2 worker processes vs local threads (8000 x 8000, fresh process "
        "each; the cluster's start counts)")
    mb_in = 8000 * 8000 * 2 * 6 / 1e6         # six Int16 reflectance bands read by the indices
    cases = {
        "indices": ("miningeco:spectralindices", {"SCENE": scene_8000, "SENSOR": 2, "RADIOMETRY": 0,
                                                  "INDICES": indices, "OUTPUT": os.path.join(out, "x_indices.tif")}),
        "RSEI": ("miningeco:rsei", {"SCENE": scene_8000, "SENSOR": 2, "RADIOMETRY": 0,
                                    "OUTPUT": os.path.join(out, "x_rsei.tif"),
                                    "OUTPUT_GRADES": os.path.join(out, "x_grades.tif")}),
    }
    for name, (alg, params) in cases.items():
        threads = run(alg, params, "threads")
        cluster = run(alg, params, "processes")
        ratio = cluster["seconds"] / threads["seconds"]
        say(f"    {name:8s} threads {threads['seconds']:6.1f} s   LocalCluster(2) {cluster['seconds']:6.1f} s   "
            f"ratio {ratio:4.2f}  (goal <= 1.2: {verdict(ratio <= 1.2)})")
        if name == "indices":
            per_worker = mb_in / cluster["seconds"] / 2
            say(f"    per-worker throughput (indices): {per_worker:5.1f} MB/s of input per worker "
                f"({mb_in:.0f} MB of input bands)")
    say("    province: VRT mosaics of the 4000 x 4000 scene, NDVI through LocalCluster(2); peak memory per worker")
    peaks = {}
    for per_side in (2, 4):
        vrt = mosaic(os.path.join(out, f"province_{per_side * per_side}.vrt"), scene_4000, per_side)
        r = run("miningeco:spectralindices", {"SCENE": vrt, "SENSOR": 2, "RADIOMETRY": 0,
                                              "INDICES": [PRODUCTS.index("NDVI")],
                                              "OUTPUT": os.path.join(out, f"province_{per_side}.tif")}, "processes")
        peaks[per_side * per_side] = max(r["worker_peak_kb"]) / 1024
        mp = (4000 * per_side) ** 2 / 1e6
        say(f"    {per_side * per_side:2d} tiles ({mp:5.0f} MP): {r['seconds']:6.1f} s, "
            f"{mp / r['seconds']:5.1f} MP/s, worker peak RSS {', '.join(f'{k / 1024:.0f}' for k in r['worker_peak_kb'])} MB")
    flat = peaks[16] / peaks[4]
    say(f"    worker peak memory 16 tiles / 4 tiles = {flat:4.2f} (goal: flat, within 25 %: {verdict(flat < 1.25)})")
