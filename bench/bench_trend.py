"""Benchmark of miningeco:trend (Theil-Sen + Mann-Kendall per pixel) on a 25-date 2000 x 2000 stack.

Measures, in the same run:

* the whole tool through ``processing.run`` (read the stack block by block, compute, write the six
  output rasters, style them, the class-area table): total seconds and microseconds per pixel;
* the time to read the stack once with GDAL (the same 256-row strips, all bands);
* ``pymannkendall`` (``original_test`` + ``sens_slope``) looped pixel by pixel on a 2000-pixel sample
  of the same stack, in microseconds per pixel; and the largest difference between its results and
  the tool's outputs on that sample.

Goals (issue 3): >= 200x faster per pixel than pymannkendall; total / read-once <= 3.

``run(out_dir)`` returns the report lines (bench/run_bench.py calls it); ``python bench/bench_trend.py
[out_dir]`` runs it alone (with QT_QPA_PLATFORM=offscreen). The generated stack is kept in ``out_dir``
and reused while GENERATOR_VERSION is unchanged.
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

from benchkit import processing_module, verdict  # noqa: E402

GENERATOR_VERSION = "1"
DATES = 25
SIZE = 2000
FIRST_YEAR = 2000
SAMPLE = 2000
SEED = 20250301
GOAL_SPEEDUP = 200.0
GOAL_READ_RATIO = 3.0


def stack_path(out_dir):
    return os.path.join(out_dir, f"trend_stack_{DATES}x{SIZE}_v{GENERATOR_VERSION}.tif")


def generate_stack(path, log=print):
    """25 float32 bands (descriptions "2000".."2024"): a smooth field, a per-pixel linear trend that varies
    in space (decrease in the west, increase in the east, none in the middle), noise, and 1 % of the
    observations missing (nodata). Written strip by strip with the plugin's GeoTiffWriter."""
    from mining_eco_plugin.raster.engine import GeoTiffWriter, Grid, windows
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32648)
    grid = Grid(SIZE, SIZE, (500000.0, 30.0, 0.0, 4200000.0, 0.0, -30.0), srs.ExportToWkt())
    rng = np.random.default_rng(SEED)
    log(f"   generating {path} ({DATES} x {SIZE} x {SIZE} float32)")
    years = [str(FIRST_YEAR + k) for k in range(DATES)]
    with GeoTiffWriter(path, grid, DATES, band_names=years, label="bench stack") as w:
        cols = np.arange(SIZE, dtype=np.float32)
        for win in windows(grid):
            rows = np.arange(win.yoff, win.yoff + win.ysize, dtype=np.float32)[:, None]
            base = 0.4 + 0.1 * np.sin(rows / 150.0) * np.cos(cols / 210.0)
            slope = 0.006 * np.tanh((cols - SIZE / 2) / 300.0) * np.ones_like(rows)
            for k in range(DATES):
                band = base + slope * k + rng.normal(0.0, 0.03, win.shape).astype(np.float32)
                band[rng.random(win.shape) < 0.01] = np.nan
                w.write(k + 1, win, band)
        w.commit()
    return path


def read_once_seconds(path):
    """Seconds to read every band of the stack once with GDAL, in the engine's 256-row strips."""
    from osgeo import gdal
    from mining_eco_plugin.raster import engine
    ds = gdal.Open(path)
    t0 = time.perf_counter()
    for yoff in range(0, ds.RasterYSize, engine.DEFAULT_BLOCK_ROWS):
        rows = min(engine.DEFAULT_BLOCK_ROWS, ds.RasterYSize - yoff)
        ds.ReadAsArray(0, yoff, ds.RasterXSize, rows)
    return time.perf_counter() - t0


def sample_values(path, row):
    """(DATES, SIZE) float64 values of one row of the stack, NaN for nodata."""
    from osgeo import gdal
    ds = gdal.Open(path)
    a = ds.ReadAsArray(0, row, SIZE, 1)[:, 0, :].astype(np.float64)
    nd = ds.GetRasterBand(1).GetNoDataValue()
    a[a == nd] = np.nan
    return a[:, :SAMPLE]


def pymannkendall_seconds(values):
    import pymannkendall as mk
    results = []
    t0 = time.perf_counter()
    for p in range(values.shape[1]):
        col = values[:, p]
        results.append((mk.original_test(col), mk.sens_slope(col)))
    return time.perf_counter() - t0, results


def core_seconds_per_pixel(path, workers):
    """Microseconds per pixel of core.trend_statistics alone on one in-memory 256-row block."""
    from osgeo import gdal
    from mining_eco_plugin.core import trend as core
    ds = gdal.Open(path)
    block = ds.ReadAsArray(0, 0, SIZE, 256).reshape(DATES, -1)
    block[block == ds.GetRasterBand(1).GetNoDataValue()] = np.nan
    years = np.arange(FIRST_YEAR, FIRST_YEAR + DATES)
    t0 = time.perf_counter()
    core.trend_statistics(block, years, workers=workers)
    return (time.perf_counter() - t0) / block.shape[1] * 1e6


def run(out_dir):
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    lines = []
    path = stack_path(out_dir)
    if not os.path.exists(path):
        generate_stack(path)
    from osgeo import gdal
    from mining_eco_plugin.raster.executor import ExecutorConfig
    worker_count = ExecutorConfig().thread_count

    read_s = min(read_once_seconds(path) for _ in range(2))
    processing = processing_module()
    outs = {pid: os.path.join(out_dir, f"trend_{pid[7:].lower()}.tif")
            for pid in ("OUTPUT_SLOPE", "OUTPUT_CLASS", "OUTPUT_Z", "OUTPUT_P", "OUTPUT_S", "OUTPUT_COUNT")}
    params = dict(outs, INPUTS=[path], OUTPUT_TABLE=os.path.join(out_dir, "trend_classes.csv"))
    t0 = time.perf_counter()
    processing.run("miningeco:trend", params)
    total_s = time.perf_counter() - t0
    npix = SIZE * SIZE
    ours_us = total_s / npix * 1e6

    row = SIZE // 2
    values = sample_values(path, row)
    mk_s, mk_results = pymannkendall_seconds(values)
    mk_us = mk_s / values.shape[1] * 1e6

    def out_row(pid):
        return gdal.Open(outs[pid]).ReadAsArray(0, row, SIZE, 1)[0, :SAMPLE].astype(np.float64)
    slope, z, p, s = (out_row(k) for k in ("OUTPUT_SLOPE", "OUTPUT_Z", "OUTPUT_P", "OUTPUT_S"))
    d_slope = max(abs(slope[i] - r[1].slope) for i, r in enumerate(mk_results))
    d_z = max(abs(z[i] - r[0].z) for i, r in enumerate(mk_results))
    d_p = max(abs(p[i] - r[0].p) for i, r in enumerate(mk_results))
    d_s = max(abs(s[i] - r[0].s) for i, r in enumerate(mk_results))

    core_1 = core_seconds_per_pixel(path, 1)
    core_n = core_seconds_per_pixel(path, worker_count())
    speedup = mk_us / ours_us
    ratio = total_s / read_s
    size_mb = DATES * npix * 4 / 1e6
    lines.append(f"trend: {DATES} dates x {SIZE} x {SIZE} float32 stack ({size_mb:.0f} MB, 1 % missing), "
                 f"{DATES * (DATES - 1) // 2} pairs per pixel, {worker_count()} worker thread(s)")
    lines.append(f"trend: miningeco:trend total {total_s:.2f} s (6 rasters + table) = {ours_us:.2f} us/pixel; "
                 f"reading the stack once with GDAL {read_s:.2f} s")
    lines.append(f"trend: core alone, in memory (one 256-row block): {core_1:.2f} us/pixel on 1 thread, "
                 f"{core_n:.2f} on {worker_count()}; each pixel needs {DATES * (DATES - 1) // 2} pair slopes and "
                 f"their median (np.partition), against {DATES} values read")
    lines.append(f"trend: pymannkendall original_test + sens_slope looped per pixel: {mk_us:.0f} us/pixel "
                 f"({values.shape[1]}-pixel sample, {mk_s:.2f} s)")
    lines.append(f"trend: max |difference| vs pymannkendall on the sample: S {d_s:.0f}, slope {d_slope:.2g}, "
                 f"Z {d_z:.2g}, p {d_p:.2g} (outputs are float32)")
    lines.append(f"trend: speed-up vs pymannkendall {speedup:.0f}x (goal >= {GOAL_SPEEDUP:.0f}x) "
                 f"{verdict(speedup >= GOAL_SPEEDUP)}")
    lines.append(f"trend: total / read once {ratio:.2f} (goal <= {GOAL_READ_RATIO:g}) "
                 f"{verdict(ratio <= GOAL_READ_RATIO)}")
    return lines


if __name__ == "__main__":
    for line in run(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench_output")):
        print(line)
