"""Benchmark of miningeco:casanpp (CASA NPP) on 12-month 4000 x 4000 stacks.

Inputs (generated once into ``out_dir`` and reused while GENERATOR_VERSION is unchanged): four 12-band float32
GeoTIFFs (tiled, DEFLATE, as the plugin writes them) - NDVI (seasonal curve x smooth spatial field + noise, 0.3 % of
the pixels nodata in July), temperature (deg C), precipitation (mm) and solar radiation (MJ m-2 month-1) as smooth
fields (interpolated climate) - and a uint8 land-cover raster with CLCD codes 1-9 in patches.

Measured in the same run:

* the whole tool (``processing.run`` in a fresh child process: check the inputs, the land-cover pass, read the 48
  bands block by block, compute, write the float32 annual NPP, style it, the per-class table): seconds, seconds per
  megapixel and the peak resident memory of that process during the run (VmHWM after resetting it through
  /proc/self/clear_refs once QGIS is up: bench/benchkit.py);
* the I/O floor: GDAL alone reading the same 48 bands (the same 256-row strips, float32) and writing one float32
  raster of the same size with the same creation options and the very bytes the tool wrote (read into memory
  before the timing).

* the CASA arithmetic alone (core.casa.npp_monthly on one 512 x 512 x 12 block of these inputs, one thread, CPU
  seconds of that thread): the fused path the tool uses against the per-formula path (``components=True``, one core
  function per formula), and how many float32 values differ between them (ulps).

No pass/fail: the ratio tool / I/O floor says how much the CASA arithmetic costs over moving the data.  The machine
may be shared: every tool run reports the load average before it; ``repeats`` runs the tool several times (the
minimum is the least disturbed run).

``run(say)`` prints through ``say`` and returns the report lines (for bench/run_bench.py; ``run(out_dir)`` prints
them with print);
``python bench/bench_casa.py [out_dir] [--repeat N]`` runs it alone.
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
OUT = os.path.join(ROOT, "bench_output")

from benchkit import run_child  # noqa: E402

GENERATOR_VERSION = "1"
SIZE = 4000
MONTHS = 12
SEED = 6
STRIP = 256
CREATION = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "ZLEVEL=1", "PREDICTOR=1",
            "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]
# monthly normals of a temperate basin (Jincheng-like), the spatial fields modulate them
BASE_T = np.array([-2.6, 0.6, 6.3, 13.4, 18.8, 22.6, 24.0, 22.6, 17.9, 12.2, 5.2, -0.9])
BASE_P = np.array([6.0, 10.0, 18.0, 30.0, 50.0, 70.0, 135.0, 115.0, 65.0, 35.0, 17.0, 5.0])
BASE_SOL = np.array([270.0, 300.0, 420.0, 500.0, 560.0, 560.0, 520.0, 480.0, 400.0, 340.0, 270.0, 250.0])
STACKS = ("ndvi", "temperature", "precipitation", "radiation")

def paths(out_dir):
    p = {name: os.path.join(out_dir, f"casa_{name}_{MONTHS}x{SIZE}_v{GENERATOR_VERSION}.tif") for name in STACKS}
    p["landcover"] = os.path.join(out_dir, f"casa_landcover_{SIZE}_v{GENERATOR_VERSION}.tif")
    return p


def complete(p):
    """True when every generated input exists with the expected size and band count."""
    from mining_eco_plugin.raster.engine import RasterError, raster_info
    try:
        infos = [raster_info(path) for path in p.values()]
    except RasterError:
        return False
    return all(grid.width == SIZE and count in (1, MONTHS) for grid, count, _names in infos)


def generate(p, say=print):
    """The four 12-band stacks and the land cover, strip by strip with the plugin's GeoTiffWriter."""
    from osgeo import osr

    from mining_eco_plugin.raster.engine import GeoTiffWriter, Grid, windows
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32649)
    grid = Grid(SIZE, SIZE, (600000.0, 30.0, 0.0, 4000000.0, 0.0, -30.0), srs.ExportToWkt())
    rng = np.random.default_rng(SEED)
    say(f"   generating 4 x {MONTHS} x {SIZE} x {SIZE} float32 stacks + land cover in {os.path.dirname(p['ndvi'])}")
    season = np.exp(-0.5 * ((np.arange(MONTHS) - 6.5) / 2.2) ** 2)
    cols = np.arange(SIZE, dtype=np.float32)
    with GeoTiffWriter(p["ndvi"], grid, MONTHS, band_names=[f"month {k + 1}" for k in range(MONTHS)]) as wn, \
            GeoTiffWriter(p["temperature"], grid, MONTHS) as wt, GeoTiffWriter(p["precipitation"], grid, MONTHS) as wp, \
            GeoTiffWriter(p["radiation"], grid, MONTHS) as ws, \
            GeoTiffWriter(p["landcover"], grid, 1, dtype="uint8", nodata=0) as wl:
        for win in windows(grid, STRIP, SIZE):
            rows = np.arange(win.yoff, win.yoff + win.ysize, dtype=np.float32)[:, None]
            c = cols[None, win.xoff:win.xoff + win.xsize]
            field = 0.5 + 0.5 * np.sin(rows / 173.0) * np.cos(c / 241.0)              # 0 .. 1, smooth
            relief = np.sin(rows / 611.0 + c / 887.0)                                # -1 .. 1, smooth
            lc = (1 + (np.floor(rows / 97.0) * 7 + np.floor(c / 113.0)) % 9).astype(np.uint8)
            wl.write(1, win, lc)
            for k in range(MONTHS):
                ndvi = 0.08 + (0.25 + 0.5 * field) * season[k] + rng.normal(0.0, 0.02, win.shape)
                if k == 6:
                    ndvi[rng.random(win.shape) < 0.003] = np.nan
                wn.write(k + 1, win, ndvi.astype(np.float32))
                wt.write(k + 1, win, (BASE_T[k] - 3.0 * relief).astype(np.float32))
                wp.write(k + 1, win, (BASE_P[k] * (1.0 + 0.2 * relief)).astype(np.float32))
                ws.write(k + 1, win, (BASE_SOL[k] * (1.0 - 0.05 * relief)).astype(np.float32))
        for w in (wn, wt, wp, ws, wl):
            w.commit()


def io_floor(p, tool_output, dst):
    """Seconds for GDAL to read the 48 bands of the four stacks in 256-row strips (float32) and write one float32
    raster of the same size (same creation options, the tool's output bytes, loaded before the clock starts)."""
    from osgeo import gdal
    gdal.SetCacheMax(64 * 1024 * 1024)
    src = gdal.Open(tool_output)
    data = src.GetRasterBand(1).ReadAsArray()
    nodata = src.GetRasterBand(1).GetNoDataValue()
    gt, wkt = src.GetGeoTransform(), src.GetProjection()
    src = None
    t0 = time.perf_counter()
    inputs = [gdal.Open(p[name]) for name in STACKS]
    out = gdal.GetDriverByName("GTiff").Create(dst, SIZE, SIZE, 1, gdal.GDT_Float32, CREATION)
    out.SetGeoTransform(gt)
    out.SetProjection(wkt)
    band = out.GetRasterBand(1)
    band.SetNoDataValue(nodata)
    for y in range(0, SIZE, STRIP):
        h = min(STRIP, SIZE - y)
        for ds in inputs:
            for b in range(1, MONTHS + 1):
                ds.GetRasterBand(b).ReadAsArray(0, y, SIZE, h, buf_type=gdal.GDT_Float32)
        band.WriteArray(data[y:y + h], 0, y)
    out.FlushCache()
    out = None
    seconds = time.perf_counter() - t0
    os.remove(dst)
    return seconds


def kernel(p, size=512, repeats=5):
    """(fused s/MP, per-formula s/MP, differing values, max ulp, values) of core.casa.npp_monthly on one block."""
    from osgeo import gdal

    from mining_eco_plugin.core import casa
    x0 = y0 = 1024
    data = {}
    for name in STACKS:
        ds = gdal.Open(p[name])
        nd = ds.GetRasterBand(1).GetNoDataValue()
        a = ds.ReadAsArray(x0, y0, size, size, buf_type=gdal.GDT_Float32).reshape(MONTHS, -1)
        if nd is not None:
            a[a == np.float32(nd)] = np.nan
        data[name] = a
    codes = gdal.Open(p["landcover"]).ReadAsArray(x0, y0, size, size).ravel().astype(np.int64)
    params = casa.class_parameters(codes, casa.CLCD_DEFAULTS, nodata_mask=codes == 0)
    args = [data[name] for name in STACKS] + [params]

    def best(**kw):
        out, seconds = None, []
        for _ in range(repeats):
            t0 = time.thread_time()
            out = casa.npp_monthly(*args, **kw)
            seconds.append(time.thread_time() - t0)
        return out, min(seconds) / (size * size / 1e6)

    fused, s_fused = best()
    (formula, _comp), s_formula = best(components=True)
    ok = np.isfinite(formula) & np.isfinite(fused)
    ulp = np.abs(fused[ok].view(np.int32).astype(np.int64) - formula[ok].view(np.int32).astype(np.int64))
    same_nan = bool(np.array_equal(np.isnan(fused), np.isnan(formula)))
    return s_fused, s_formula, int((ulp > 0).sum()) + (0 if same_nan else 1), int(ulp.max(initial=0)), int(ok.sum())


def run(say=print, out_dir=None, repeats=1):
    if isinstance(say, str):          # run(out_dir), the way run_bench.py calls bench_trend / bench_apply
        say, out_dir = print, say
    out_dir = os.path.abspath(out_dir or OUT)
    os.makedirs(out_dir, exist_ok=True)
    lines = []

    def report(text):
        lines.append(text)
        say(text)

    p = paths(out_dir)
    if not complete(p):
        generate(p, report)
    mp = SIZE * SIZE / 1e6
    npp = os.path.join(out_dir, "casa_npp_4000.tif")
    params = {"NDVI": [p["ndvi"]], "TEMPERATURE": [p["temperature"]], "PRECIPITATION": [p["precipitation"]],
              "SOLAR_RADIATION": [p["radiation"]], "LANDCOVER": p["landcover"], "OUTPUT": npp,
              "OUTPUT_TABLE": os.path.join(out_dir, "casa_npp_4000_table.csv")}
    runs = []
    for _ in range(max(1, int(repeats))):
        load = os.getloadavg()[0]
        r = run_child("miningeco:casanpp", params)
        r["load"] = load
        runs.append(r)
    r = min(runs, key=lambda x: x["seconds"])
    r["valid"], r["mean"] = r["results"]["VALID_PIXELS"], r["results"]["MEAN_NPP"]
    ref = io_floor(p, npp, os.path.join(out_dir, "casa_io_floor.tif"))
    report(f"casa: miningeco:casanpp on {MONTHS}-month {SIZE} x {SIZE} stacks (NDVI, T, P, SOL: 4 x {MONTHS} float32 "
           f"bands, land cover uint8), {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})")
    if len(runs) > 1:
        report("casa: runs " + ", ".join(f"{x['seconds']:.1f} s (load {x['load']:.1f})" for x in runs)
               + f"; median {float(np.median([x['seconds'] for x in runs])):.1f} s; the fastest below")
    report(f"casa: total {r['seconds']:.1f} s = {r['seconds'] / mp:.2f} s/MP ({r['valid'] / 1e6:.2f} M valid px, "
           f"mean NPP {r['mean']:.0f} gC m-2 yr-1)")
    report(f"casa: I/O floor (GDAL reads the {4 * MONTHS} bands + writes the float32 output) {ref:.1f} s = "
           f"{ref / mp:.2f} s/MP; tool / I/O floor {r['seconds'] / ref:.2f}")
    report(f"casa: peak memory {max(x['maxrss_kb'] for x in runs) / 1024:.0f} MB (QGIS + libraries before the run "
           f"{r['base_kb'] / 1024:.0f} MB, +{(max(x['maxrss_kb'] for x in runs) - r['base_kb']) / 1024:.0f} MB "
           "during the run)")
    s_fused, s_formula, differ, max_ulp, values = kernel(p)
    report(f"casa: CASA arithmetic alone, one thread, 512 x 512 x 12 block: {s_fused:.2f} s/MP (fused, used by the "
           f"tool) vs {s_formula:.2f} s/MP (one core function per formula); {differ} of {values} float32 values "
           f"differ (max {max_ulp} ulp)")
    return lines


if __name__ == "__main__":
    args = sys.argv[1:]
    n_runs = 1
    if "--repeat" in args:
        i = args.index("--repeat")
        n_runs = int(args[i + 1])
        del args[i:i + 2]
    run(print, args[0] if args else None, repeats=n_runs)
