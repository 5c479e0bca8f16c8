"""Benchmark of miningeco:estarfm (ESTARFM fusion) on a generated 2000 x 2000 x 2-band case.

Inputs (generated once into ``out_dir`` and reused while GENERATOR_VERSION is unchanged): a 30 m landscape of
land-cover patches (a smooth random field cut into 6 classes) with red and NIR reflectance x 10000 per class plus
noise (UInt16, 0 .. 10000), at three dates tm, tp, tn (each class greens up or browns by its own amount); the fine
images at tm and tn (2000 x 2000 x 2) and the coarse images at tm, tn and tp: the 16 x 16 block means of the fine
images at each date, a 480 m grid of 125 x 125 pixels (MODIS-like, 16 fine pixels a side), which the tool
resamples onto the fine grid (nearest neighbour). The authors' defaults: w = 25 (a 51-pixel window), 4 classes,
valid range 0 .. 10000.

Measured in the same run:

* the whole tool (``processing.run`` in a fresh child process, bench/benchkit.py: the statistics pass, the fusion
  pass on the block executor's threads, the GeoTIFF, its style, the table): seconds, seconds per megapixel, the CPU
  seconds of all its threads and the peak resident memory of the run (growth over the started process);
* the I/O floor: GDAL alone reading the five inputs and writing a float32 2-band image of the output's size with
  the tool's creation options;
* the fusion arithmetic alone: core.estarfm.fuse on one 64 x 512 strip (with its halo) of these inputs in this
  process, one thread, CPU seconds per megapixel.

No pass/fail: ESTARFM costs (2 w + 1)^2 = 2601 window offsets per pixel and band, so it is compute-bound (the ratio
to the I/O floor is large by nature). The machine may be shared: the load average is reported beside each run.

``run(say, out_dir)`` (bench/run_bench.py) or ``python bench/bench_estarfm.py [out_dir] [--size N]``.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # headless when run alone
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (ROOT, os.path.dirname(os.path.abspath(__file__))):
    if _p not in sys.path:
        sys.path.insert(0, _p)
OUT = os.path.join(ROOT, "bench_output")

from benchkit import run_child  # noqa: E402

GENERATOR_VERSION = "1"
SIZE = 2000
FACTOR = 16                   # 480 m coarse pixels of 16 x 16 fine 30 m pixels
SEED = 14
DATES = ("2020-04-01", "2020-06-01", "2020-08-01")     # tm, tp, tn
# per class: (red, NIR) reflectance x 10000 at tm, and its change at tp and tn
CLASSES = {0: ((600, 3200), (-150, 900), (-250, 1500)),     # crops greening up
           1: ((450, 2800), (-60, 400), (-100, 700)),       # forest
           2: ((900, 2400), (-100, 600), (60, -300)),       # grass, dry by tn
           3: ((1400, 2000), (20, -20), (40, -40)),         # built-up
           4: ((300, 150), (10, 30), (0, 10)),              # water
           5: ((1800, 2600), (-300, 300), (-500, 900))}     # bare soil sown
CREATION = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "ZLEVEL=1", "PREDICTOR=1",
            "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]


def paths(out_dir, size=SIZE):
    tag = f"{size}_v{GENERATOR_VERSION}"
    p = {f"fine_{d}": os.path.join(out_dir, f"estarfm_landsat_{d}_{tag}.tif") for d in (DATES[0], DATES[2])}
    p.update({f"coarse_{d}": os.path.join(out_dir, f"estarfm_modis_{d}_{tag}.tif") for d in DATES})
    return p


def complete(p, size):
    from mining_eco_plugin.raster.engine import RasterError, raster_info
    try:
        infos = {k: raster_info(v) for k, v in p.items()}
    except RasterError:
        return False
    return all(g.width == (size if k.startswith("fine") else size // FACTOR) and n == 2
               for k, (g, n, _names) in infos.items())


def landscape(size, rng):
    """Class codes 0-5: a smooth random field (sums of random cosines) cut at its quantiles."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    field = np.zeros((size, size), dtype=np.float32)
    for _ in range(12):
        fy, fx = rng.uniform(2, 24, 2)
        field += np.cos(2 * np.pi * (fy * y + rng.uniform())) * np.cos(2 * np.pi * (fx * x + rng.uniform()))
    cuts = np.quantile(field[::7, ::7], np.linspace(0, 1, len(CLASSES) + 1)[1:-1])
    return np.digitize(field, cuts).astype(np.uint8)


def generate(p, size, say=print):
    from osgeo import gdal, osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32650)
    rng = np.random.default_rng(SEED)
    say(f"   generating the ESTARFM inputs ({size} x {size} x 2 UInt16 fine at tm and tn, coarse 480 m at tm, tp, tn)")
    cls = landscape(size, rng)
    noise = rng.normal(0, 1, (2, size, size)).astype(np.float32)
    gt = (500000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0)
    for k, date in enumerate(DATES):
        img = np.empty((2, size, size), dtype=np.float32)
        for code, (base, mid, end) in CLASSES.items():
            sel = cls == code
            change = (np.zeros(2), np.asarray(mid), np.asarray(end))[k]
            for b in range(2):
                img[b][sel] = base[b] + change[b] + noise[b][sel] * (40 + 0.03 * base[b])
        img = np.clip(np.rint(img), 0, 10000)
        if k != 1:
            ds = gdal.GetDriverByName("GTiff").Create(p[f"fine_{date}"], size, size, 2, gdal.GDT_UInt16, CREATION)
            ds.SetGeoTransform(gt)
            ds.SetProjection(srs.ExportToWkt())
            for b in range(2):
                ds.GetRasterBand(b + 1).WriteArray(img[b].astype(np.uint16))
                ds.GetRasterBand(b + 1).SetDescription(("red", "nir")[b])
            ds = None
        n = size // FACTOR
        coarse = img[:, :n * FACTOR, :n * FACTOR].reshape(2, n, FACTOR, n, FACTOR).mean(axis=(2, 4))
        ds = gdal.GetDriverByName("GTiff").Create(p[f"coarse_{date}"], n, n, 2, gdal.GDT_Float32, CREATION)
        ds.SetGeoTransform((gt[0], gt[1] * FACTOR, 0.0, gt[3], 0.0, gt[5] * FACTOR))
        ds.SetProjection(srs.ExportToWkt())
        for b in range(2):
            ds.GetRasterBand(b + 1).WriteArray(coarse[b])
        ds = None


def io_floor(p, dst, size):
    """GDAL reads the five inputs whole and writes a float32 2-band image of the fine grid (the tool's options)."""
    from osgeo import gdal
    t0 = time.perf_counter()
    arrays = [gdal.Open(path).ReadAsArray().astype(np.float32) for path in p.values()]
    src = gdal.Open(p[f"fine_{DATES[0]}"])
    ds = gdal.GetDriverByName("GTiff").Create(dst, size, size, 2, gdal.GDT_Float32, CREATION)
    ds.SetGeoTransform(src.GetGeoTransform())
    ds.SetProjection(src.GetProjection())
    for b in range(2):
        ds.GetRasterBand(b + 1).WriteArray(arrays[0][b] * np.float32(1.0001))
    ds = None
    return time.perf_counter() - t0


def kernel(p, size):
    """core.estarfm.fuse alone on a 64 x 512 strip (+ the halo of 25) in this thread: CPU seconds per megapixel."""
    from osgeo import gdal

    from mining_eco_plugin.core import estarfm as core
    w = core.HALF_WINDOW
    rows, cols = min(64, size - 2 * w), min(512, size - 2 * w)
    win = (0, 0, cols + 2 * w, rows + 2 * w)

    def fine(key):
        return gdal.Open(p[key]).ReadAsArray(*win).astype(np.float64)

    def coarse(key):
        a = gdal.Open(p[key]).ReadAsArray().astype(np.float64)
        return np.repeat(np.repeat(a, FACTOR, axis=1), FACTOR, axis=2)[:, :rows + 2 * w, :cols + 2 * w]

    f1, f2 = fine(f"fine_{DATES[0]}"), fine(f"fine_{DATES[2]}")
    c1, c2, c0 = coarse(f"coarse_{DATES[0]}"), coarse(f"coarse_{DATES[2]}"), coarse(f"coarse_{DATES[1]}")
    th = core.thresholds(core.moments(f1), core.moments(f2))
    c = time.thread_time()
    core.fuse(f1, f2, c1, c2, c0, w, th, 0.0, 10000.0, f1.mean(axis=(1, 2)))
    return (time.thread_time() - c) / (rows * cols / 1e6)


def run(say=print, out_dir=None, size=SIZE):
    if isinstance(say, str):          # run(out_dir)
        say, out_dir = print, say
    out_dir = os.path.abspath(out_dir or OUT)
    os.makedirs(out_dir, exist_ok=True)
    lines = []

    def report(text):
        lines.append(text)
        say(text)

    p = paths(out_dir, size)
    if not complete(p, size):
        generate(p, size, report)
    mp = size * size / 1e6
    folder = os.path.join(out_dir, f"estarfm_fused_{size}")
    params = {"FINE_TM": p[f"fine_{DATES[0]}"], "COARSE_TM": p[f"coarse_{DATES[0]}"],
              "FINE_TN": p[f"fine_{DATES[2]}"], "COARSE_TN": p[f"coarse_{DATES[2]}"],
              "COARSE_TP": [p[f"coarse_{DATES[1]}"]], "DATES": ",".join((DATES[0], DATES[2], DATES[1])),
              "DN_MIN": 0, "DN_MAX": 10000, "OUTPUT_FOLDER": folder,
              "OUTPUT_TABLE": os.path.join(out_dir, f"estarfm_{size}_table.csv")}
    load = os.getloadavg()[0]
    r = run_child("miningeco:estarfm", params)
    report(f"estarfm: {size} x {size} x 2 bands (UInt16 fine at tm, tn; 480 m coarse at tm, tn, tp), w = 25, "
           f"{os.cpu_count()} cores (load average {load:.1f} before the run)")
    report(f"estarfm: total {r['seconds']:.1f} s = {r['seconds'] / mp:.1f} s/MP; CPU {r['cpu_seconds']:.1f} s = "
           f"{r['cpu_seconds'] / mp:.1f} CPU s/MP (all threads)")
    report(f"estarfm: peak memory {r['maxrss_kb'] / 1024:.0f} MB (started process {r['base_kb'] / 1024:.0f} MB, "
           f"+{(r['maxrss_kb'] - r['base_kb']) / 1024:.0f} MB during the run)")
    ref = io_floor(p, os.path.join(out_dir, "estarfm_io_floor.tif"), size)
    report(f"estarfm: I/O floor (GDAL reads the five inputs, writes a float32 2-band {size} x {size}) {ref:.1f} s = "
           f"{ref / mp:.2f} s/MP; tool / I/O floor {r['seconds'] / ref:.0f}")
    report(f"estarfm: core.fuse alone, one thread, 64 x 512 strip: {kernel(p, size):.1f} CPU s/MP")
    return lines


if __name__ == "__main__":
    args = sys.argv[1:]
    n = SIZE
    if "--size" in args:
        i = args.index("--size")
        n = int(args[i + 1])
        del args[i:i + 2]
    run(print, args[0] if args else None, size=n)
