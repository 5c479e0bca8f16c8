"""Benchmark of miningeco:applymodel: a 100-tree random forest applied to a 4000 x 4000 x 8-band float32 stack.

Measures, in the same run:

* the whole tool (``processing.run`` in a fresh child process: open and check the model file, read the stack
  block by block, predict, write the float32 prediction and the uint8 grades, style them, the area table):
  total seconds, and the peak resident memory of that process during the run (VmHWM after resetting it through
  /proc/self/clear_refs once QGIS is up, as bench/run_bench.py CHILD does), at 2000^2 and 4000^2;
* the reference: the model's own ``predict`` on the same pixels (every valid pixel of the 4000^2 stack) already in
  memory, called on chunks of the same size the tool uses (``apply_model.PREDICT_CHUNK_ROWS`` rows: one call
  on all 16 MP would need per-thread temporaries of 16 M x 8 bytes; a chunk size >= 2^18 rows costs the forest
  nothing measurable, each tree is walked per chunk in parallel threads), with the same ``n_jobs`` the tool sets
  (-1: every core; joblib threads, one tree per task).

Goals (issue 4): total / predict in memory <= 1.3; peak memory bounded, independent of the scene size
(goal: the 4000^2 peak within 64 MB of the 2000^2 peak).

``run(out_dir)`` returns the report lines (bench/run_bench.py calls it); ``python bench/bench_apply.py
[out_dir]`` runs it alone. The generated stacks are kept in ``out_dir`` and reused while GENERATOR_VERSION is
unchanged; the model file is rebuilt each run (a second).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # headless when run alone
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchkit import run_child, verdict  # noqa: E402

GENERATOR_VERSION = "1"
FEATURES = ["NDVI", "SI1", "SI2", "S3", "CRSI", "NDSI", "SAVI", "B5"]
SIZES = (2000, 4000)
SEED = 42
TRAIN_SAMPLES = 2000
N_TREES = 100
GOAL_RATIO = 1.3
GOAL_MEMORY_MB = 64.0

def stack_path(out_dir, size):
    return os.path.join(out_dir, f"apply_stack_{len(FEATURES)}x{size}_v{GENERATOR_VERSION}.tif")


def generate_stack(path, size, log=print):
    """8 float32 bands named after salinity indices: smooth fields of different scales plus noise; 0.5 % of the
    pixels of band 1 nodata. Written strip by strip with the plugin's GeoTiffWriter (as the index calculator's
    output: tiled, DEFLATE)."""
    from osgeo import osr

    from mining_eco_plugin.raster.engine import GeoTiffWriter, Grid, windows
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32645)
    grid = Grid(size, size, (600000.0, 30.0, 0.0, 4900000.0, 0.0, -30.0), srs.ExportToWkt())
    rng = np.random.default_rng(SEED)
    log(f"   generating {path} ({len(FEATURES)} x {size} x {size} float32)")
    with GeoTiffWriter(path, grid, len(FEATURES), band_names=FEATURES, label="bench stack") as w:
        cols = np.arange(size, dtype=np.float32)
        for win in windows(grid):
            rows = np.arange(win.yoff, win.yoff + win.ysize, dtype=np.float32)[:, None]
            c = cols[win.xoff:win.xoff + win.xsize]
            for k in range(len(FEATURES)):
                band = (0.5 + 0.3 * np.sin(rows / (90.0 + 17 * k)) * np.cos(c / (130.0 + 23 * k))
                        + rng.normal(0.0, 0.05, win.shape)).astype(np.float32)
                if k == 0:
                    band[rng.random(win.shape) < 0.005] = np.nan
                w.write(k + 1, win, band)
        w.commit()
    return path


def build_model(stack, model_path):
    """A 100-tree RandomForestRegressor (seed 42, the zhundong default) fit on TRAIN_SAMPLES pixels of the stack
    with a synthetic salt content (g/kg); saved as a Mining Eco model file. Returns the estimator."""
    from osgeo import gdal
    from sklearn.ensemble import RandomForestRegressor

    from mining_eco_plugin.core import modelfile
    ds = gdal.Open(stack)
    rng = np.random.default_rng(SEED)
    block = ds.ReadAsArray(0, 0, ds.RasterXSize, 512).reshape(len(FEATURES), -1).T
    block = block[np.isfinite(block).all(axis=1) & (block != -9999.0).all(axis=1)]
    X = block[rng.choice(block.shape[0], TRAIN_SAMPLES, replace=False)]
    y = 10.0 * X[:, 0] * X[:, 1] + 3.0 * np.sin(4 * X[:, 2]) + X[:, 3:] @ np.linspace(0.2, 1.0, 5) \
        - 3.5 + rng.normal(0, 0.2, TRAIN_SAMPLES)
    rf = RandomForestRegressor(N_TREES, random_state=SEED).fit(X, y)
    with open(model_path, "wb") as fh:
        fh.write(modelfile.dumps(modelfile.ModelBundle(rf, FEATURES, "salinity", "g/kg", "random forest")))
    return rf


def child(stack, model_path, tag):
    """The tool in a fresh process (sklearn and skops loaded before the baseline, as in a QGIS session)."""
    r = run_child("miningeco:applymodel", {"MODEL_FILE": model_path, "RASTERS": [stack], "OUTPUT": tag + "_pred.tif",
                                           "OUTPUT_GRADES": tag + "_grades.tif", "OUTPUT_TABLE": tag + "_areas.csv"},
                  preload=("sklearn.ensemble", "skops.io"))
    return r


def pixels_in_memory(stack):
    """Every valid pixel of the stack as the tool's feature matrix (n, 8) float32."""
    from osgeo import gdal
    ds = gdal.Open(stack)
    bands = []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        a = band.ReadAsArray().astype(np.float32, copy=False).ravel()
        a[a == band.GetNoDataValue()] = np.nan
        bands.append(a)
    X = np.stack(bands, axis=1)
    del bands
    return np.ascontiguousarray(X[np.isfinite(X).all(axis=1)])


def run(out_dir):
    from mining_eco_plugin.algorithms.apply_model import PREDICT_CHUNK_ROWS, set_n_jobs
    from mining_eco_plugin.core.salinity import predict_chunked
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    lines = []
    stacks = {}
    for size in SIZES:
        stacks[size] = stack_path(out_dir, size)
        if not os.path.exists(stacks[size]):
            generate_stack(stacks[size], size)
    big = max(SIZES)
    model_path = os.path.join(out_dir, "apply_rf100.model")
    rf = build_model(stacks[big], model_path)
    depth = max(e.get_depth() for e in rf.estimators_)

    runs = {size: child(stacks[size], model_path, os.path.join(out_dir, f"apply_{size}")) for size in SIZES}

    X = pixels_in_memory(stacks[big])
    set_n_jobs(rf, -1)                                   # as the tool does (N_JOBS = 0 -> all cores)
    t0 = time.perf_counter()
    predict_chunked(rf.predict, X, PREDICT_CHUNK_ROWS)
    predict_s = time.perf_counter() - t0
    n_valid = X.shape[0]
    del X

    total_s = runs[big]["seconds"]
    ratio = total_s / predict_s
    peak = {s: runs[s]["maxrss_kb"] / 1024 for s in SIZES}
    extra = {s: (runs[s]["maxrss_kb"] - runs[s]["base_kb"]) / 1024 for s in SIZES}
    growth = peak[big] - peak[min(SIZES)]
    lines.append(f"apply: {N_TREES}-tree RandomForestRegressor (seed {SEED}, fit on {TRAIN_SAMPLES} pixels, max depth "
                 f"{depth}) on a {len(FEATURES)}-band {big} x {big} float32 stack ({n_valid / 1e6:.2f} M valid px), "
                 f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}: timings on a shared machine are "
                 f"noisy), n_jobs=-1, predict chunks of {PREDICT_CHUNK_ROWS} rows")
    lines.append(f"apply: miningeco:applymodel total {total_s:.1f} s (prediction + grades + area table) = "
                 f"{total_s / (big * big) * 1e6:.2f} us/px; model's own predict on the same pixels in memory "
                 f"(same chunks) {predict_s:.1f} s")
    lines.append(f"apply: total / predict in memory {ratio:.2f} (goal <= {GOAL_RATIO:g}) {verdict(ratio <= GOAL_RATIO)}")
    for s in SIZES:
        lines.append(f"apply: peak memory at {s}^2: {peak[s]:.0f} MB (QGIS + libraries before the run "
                     f"{runs[s]['base_kb'] / 1024:.0f} MB, +{extra[s]:.0f} MB during the run; {runs[s]['seconds']:.1f} s)")
    lines.append(f"apply: peak growth {min(SIZES)}^2 -> {big}^2 (4x the pixels): {growth:+.0f} MB "
                 f"(goal < {GOAL_MEMORY_MB:.0f} MB: bounded, independent of size) {verdict(growth < GOAL_MEMORY_MB)}")
    return lines


if __name__ == "__main__":
    for line in run(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench_output")):
        print(line)
