"""(j) Scene composite (issue 13): a medoid composite of 12 generated 4000 x 4000 Landsat 8/9 Collection 2 Level-2
products on one grid, against GDAL reading every input once, and its peak memory at 6 and 12 products.

Inputs (generated once into ``<out>/composite_v<GENERATOR_VERSION>/`` and reused): 12 products laid out as USGS
delivers them, one folder per product ``LC0x_L2SP_129033_<date>_<processed>_02_T1/`` with ``*_SR_B2.TIF`` ..
``*_SR_B7.TIF``, ``*_ST_B10.TIF``, ``*_QA_PIXEL.TIF`` (uint16, tiled 256 x 256, DEFLATE + horizontal predictor;
no overviews) and a minimal Collection 2 Level-2 ``*_MTL.txt`` (the keys core.product_meta.landsat_product reads:
file names, SPACECRAFT_ID, DATE_ACQUIRED, SUN_ELEVATION, the LEVEL2_SURFACE_REFLECTANCE / _TEMPERATURE scaling).
Dates: 12 acquisitions June-September 2022, Landsat 8 and 9 alternating, path/row 129/033 (Ningdong) on the
WGS 84 / UTM 48N 30 m grid, all on the same grid. Pixels: the land-cover scene of bench/scene.py (value-noise
vegetation / soil / built-up / water) with a per-date seasonal change (NIR up, red down towards August) and sensor
noise; per date a cloud field (value noise, 0-40 % cloud cover) with high-confidence cloud, a dilated-cloud ring
and a shifted cloud shadow written into QA_PIXEL with the USGS C2 bit layout, bright cold clouds and dark shadows
in the pixels (so an unmasked cloud would change the composite); fill (DN 0, QA_PIXEL 1) outside a rotated
footprint.

Measured in the same run:

(a) reference: GDAL alone reading every band of every product once (8 files x 12 products, ReadAsArray per
    256-row strip in the files' own uint16, one thread, the files warm in the page cache like the tool's);
(b) ``processing.run("miningeco:composite", ...)`` of the 12 products (default medoid, default masks) in a fresh
    child process (bench/benchkit.py), seconds of the run alone, and the ratio b / a (goal <= 1.5);
(c) the peak resident memory of that run (VmHWM after resetting it once QGIS is up) with the first 6 and with all
    12 products, and the growth (goal < 64 MB).

The machine may be shared: (a) and the 12-product run are timed ``repeats`` times (the fastest counts, the peak
memory is the highest of them), CPU seconds (load-independent) are printed beside, and the load average.

``run(say, out_dir)`` prints through ``say``; ``python bench/bench_composite.py [out_dir]`` runs it alone.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")   # headless when run alone
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (HERE, ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)
OUT = os.path.join(ROOT, "bench_output")

from osgeo import gdal, osr  # noqa: E402

import scene  # noqa: E402
from benchkit import run_child, verdict  # noqa: E402

gdal.UseExceptions()

GENERATOR_VERSION = "1"
SIZE = 4000
PRODUCTS = 12
STRIP = 256
SEED = 13
EPSG = 32648                                        # WGS 84 / UTM 48N (Ningdong, path/row 129/033)
ORIGIN = (571785.0, 4264215.0)                      # on USGS's 15 m offset grid
CREATION = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "PREDICTOR=2",
            "NUM_THREADS=ALL_CPUS"]
SR = ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")
FILES = SR + ("ST_B10", "QA_PIXEL")
SR_SCALE, SR_OFFSET = 2.75e-05, -0.2
ST_SCALE, ST_OFFSET = 0.00341802, 149.0
# QA_PIXEL values (USGS Landsat 8-9 C2 L2 Science Product Guide bit table): bit 0 fill, 1 dilated cloud, 3 cloud,
# 4 cloud shadow, 6 clear, 7 water; bits 8-9 cloud, 10-11 shadow, 12-13 snow, 14-15 cirrus confidence.
LOW_CONF = (1 << 8) | (1 << 10) | (1 << 12) | (1 << 14)
QA_CLEAR = LOW_CONF | (1 << 6)                                                # 21824, USGS's clear land
QA_WATER = QA_CLEAR | (1 << 7)                                                # 21952, clear water
QA_CLOUD = (3 << 8) | (1 << 10) | (1 << 12) | (1 << 14) | (1 << 3)           # 22280, high-confidence cloud
QA_DILATED = LOW_CONF | (1 << 1)                                              # 21762, dilated cloud
QA_SHADOW = (1 << 8) | (3 << 10) | (1 << 12) | (1 << 14) | (1 << 4)          # 23824, high-confidence shadow
QA_FILL = 1
CLOUD_COVER = (0.05, 0.30, 0.00, 0.15, 0.40, 0.10, 0.25, 0.02, 0.35, 0.08, 0.20, 0.12)
SHADOW_SHIFT = (24, -36)                            # rows, columns from a cloud to its shadow


def acquisitions():
    """(product id, spacecraft, date) of the 12 products: every ~10 days from 2022-06-03, L8 / L9 alternating."""
    out = []
    for k in range(PRODUCTS):
        d = dt.date(2022, 6, 3) + dt.timedelta(days=10 * k + (k % 3))
        sat = 8 if k % 2 == 0 else 9
        processed = d + dt.timedelta(days=9)
        pid = f"LC0{sat}_L2SP_129033_{d:%Y%m%d}_{processed:%Y%m%d}_02_T1"
        out.append((pid, f"LANDSAT_{sat}", d))
    return out


def mtl_text(pid, spacecraft, date, sun_elevation):
    """A minimal Collection 2 Level-2 MTL (ODL) with the groups and keys of a USGS one that the plugin reads."""
    l2 = [f"    FILE_NAME_BAND_{b[4:]} = \"{pid}_{b}.TIF\"" for b in SR]
    sr = []
    for b in range(1, 8):
        sr += [f"    REFLECTANCE_MULT_BAND_{b} = 2.75E-05", f"    REFLECTANCE_ADD_BAND_{b} = -0.200000"]
    return "\n".join([
        "GROUP = LANDSAT_METADATA_FILE",
        "  GROUP = PRODUCT_CONTENTS",
        f"    LANDSAT_PRODUCT_ID = \"{pid}\"",
        "    PROCESSING_LEVEL = \"L2SP\"",
        "    COLLECTION_NUMBER = 02",
        "    COLLECTION_CATEGORY = \"T1\"",
        *l2,
        f"    FILE_NAME_BAND_ST_B10 = \"{pid}_ST_B10.TIF\"",
        f"    FILE_NAME_QUALITY_L1_PIXEL = \"{pid}_QA_PIXEL.TIF\"",
        f"    FILE_NAME_METADATA_ODL = \"{pid}_MTL.txt\"",
        "  END_GROUP = PRODUCT_CONTENTS",
        "  GROUP = IMAGE_ATTRIBUTES",
        f"    SPACECRAFT_ID = \"{spacecraft}\"",
        "    SENSOR_ID = \"OLI_TIRS\"",
        "    WRS_PATH = 129",
        "    WRS_ROW = 33",
        f"    DATE_ACQUIRED = {date.isoformat()}",
        "    SCENE_CENTER_TIME = \"03:42:10.1234560Z\"",
        f"    CLOUD_COVER = {100 * CLOUD_COVER[acquisitions_index(pid)]:.2f}",
        f"    SUN_ELEVATION = {sun_elevation:.8f}",
        "  END_GROUP = IMAGE_ATTRIBUTES",
        "  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
        *sr,
        "  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
        "  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",
        f"    TEMPERATURE_MULT_BAND_ST_B10 = {ST_SCALE}",
        f"    TEMPERATURE_ADD_BAND_ST_B10 = {ST_OFFSET}",
        "  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",
        "END_GROUP = LANDSAT_METADATA_FILE",
        "END",
        ""])


def acquisitions_index(pid):
    return [a[0] for a in acquisitions()].index(pid)


def data_dir(out_dir):
    return os.path.join(out_dir, f"composite_v{GENERATOR_VERSION}")


def product_mtls(out_dir):
    """The MTL paths of the 12 products, in date order."""
    root = data_dir(out_dir)
    return [os.path.join(root, pid, f"{pid}_MTL.txt") for pid, _s, _d in acquisitions()]


def complete(out_dir):
    stamp = os.path.join(data_dir(out_dir), "COMPLETE")
    return os.path.exists(stamp) and open(stamp).read().strip() == GENERATOR_VERSION


class Clouds:
    """A per-date cloud field (value noise, two octaves) over the grid with a margin for the shadow shift."""

    def __init__(self, k):
        self.rng = np.random.default_rng([SEED, k])
        self.margin = 64
        n = SIZE + 2 * self.margin
        self.octaves = [(self.rng.standard_normal((n // s + 2, n // s + 2)).astype(np.float32), s, w)
                        for s, w in ((320, 1.0), (80, 0.5), (20, 0.2))]
        # the threshold giving the cloud cover: the quantile of the field on every 125th row
        cover = CLOUD_COVER[k]
        sample = np.concatenate([self.field(y, 1) for y in range(0, SIZE, 125)])
        self.threshold = np.float32(np.quantile(sample, 1 - cover)) if cover > 0 else np.float32(np.inf)

    def field(self, y0, rows, dx=0):
        m = self.margin
        width = SIZE + 2 * m
        out = np.zeros((rows, width), dtype=np.float32)
        for lat, s, w in self.octaves:
            out += w * scene._interp(lat, s, y0 + m, rows, width)
        return out[:, m - dx:m - dx + SIZE]


def write_product_strips(model, out_dir, log):
    """All 12 products, strip by strip (the land-cover model is computed once per strip for all dates)."""
    root = data_dir(out_dir)
    part = root + ".part"
    shutil.rmtree(part, ignore_errors=True)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(EPSG)
    gt = (ORIGIN[0], 30.0, 0.0, ORIGIN[1], 0.0, -30.0)
    datasets, clouds = [], []
    acq = acquisitions()
    for k, (pid, sat, date) in enumerate(acq):
        folder = os.path.join(part, pid)
        os.makedirs(folder)
        doy = date.timetuple().tm_yday
        sun = 60.0 + 12.0 * np.cos((doy - 172) / 365.0 * 2 * np.pi) - 8.0   # ~ mid-morning at 38 N
        with open(os.path.join(folder, f"{pid}_MTL.txt"), "w") as fh:
            fh.write(mtl_text(pid, sat, date, sun))
        files = {}
        for name in FILES:
            ds = gdal.GetDriverByName("GTiff").Create(os.path.join(folder, f"{pid}_{name}.TIF"), SIZE, SIZE, 1,
                                                      gdal.GDT_UInt16, CREATION)
            ds.SetGeoTransform(gt)
            ds.SetProjection(srs.ExportToWkt())
            ds.GetRasterBand(1).SetNoDataValue(QA_FILL if name == "QA_PIXEL" else 0)
            files[name] = ds
        datasets.append(files)
        clouds.append(Clouds(k))
    for y0 in range(0, SIZE, STRIP):
        rows = min(STRIP, SIZE - y0)
        base = model.strip(y0, rows).astype(np.float32)            # int16 DN of the bench scene
        inside = base[0] > 0
        refl = base[:6] * np.float32(SR_SCALE) + np.float32(SR_OFFSET)
        kelvin = base[6] * np.float32(ST_SCALE) + np.float32(ST_OFFSET) + np.float32(70.0)   # 294 .. 321 K
        water = refl[3] < 0.05
        vegetation = np.clip((refl[3] - refl[2]) / (refl[3] + refl[2] + 1e-6), 0, 1)     # greener responds more
        for k, (pid, _sat, date) in enumerate(acq):
            rng = np.random.default_rng([SEED, k, y0])
            season = np.float32(np.sin(np.pi * (date - dt.date(2022, 6, 1)).days / 122.0))   # 0 .. 1 .. 0
            x = refl.copy()
            x[3] *= 1 + 0.25 * season * vegetation                                        # NIR greens up
            x[2] *= 1 - 0.20 * season * vegetation                                        # red down
            x += rng.standard_normal(x.shape, dtype=np.float32) * np.float32(0.004)
            t = kelvin + np.float32(4.0) * season + rng.standard_normal(kelvin.shape, dtype=np.float32) * \
                np.float32(0.3)
            c = clouds[k]
            f = c.field(y0, rows)
            cloud = f > c.threshold
            ring = (f > c.threshold - np.float32(0.06)) & ~cloud
            shadow = (c.field(y0 - SHADOW_SHIFT[0], rows, SHADOW_SHIFT[1]) > c.threshold) & ~cloud & ~ring
            x[:, cloud] = np.float32(0.45) + np.float32(0.1) * x[:, cloud]                # bright
            t[cloud] = np.float32(268.0)                                                  # cold
            x[:, shadow] *= np.float32(0.45)                                              # dark
            x[:, ring] = np.float32(0.5) * (x[:, ring] + np.float32(0.3))                 # hazy edge
            dn = np.clip(np.rint((x - np.float32(SR_OFFSET)) / np.float32(SR_SCALE)), 1, 65455).astype(np.uint16)
            st = np.clip(np.rint((t - np.float32(ST_OFFSET)) / np.float32(ST_SCALE)), 1, 65455).astype(np.uint16)
            qa = np.where(water, np.uint16(QA_WATER), np.uint16(QA_CLEAR))
            qa[ring] = QA_DILATED
            qa[shadow] = QA_SHADOW
            qa[cloud] = QA_CLOUD
            dn[:, ~inside] = 0
            st[~inside] = 0
            qa[~inside] = QA_FILL
            files = datasets[k]
            for b, name in enumerate(SR):
                files[name].GetRasterBand(1).WriteArray(dn[b], 0, y0)
            files["ST_B10"].GetRasterBand(1).WriteArray(st, 0, y0)
            files["QA_PIXEL"].GetRasterBand(1).WriteArray(qa, 0, y0)
        log(f"generating the composite products: {100 * (y0 + rows) // SIZE:3d} %")
    for files in datasets:
        for ds in files.values():
            ds.FlushCache()
    datasets = None
    shutil.rmtree(root, ignore_errors=True)
    os.replace(part, root)
    with open(os.path.join(root, "COMPLETE"), "w") as fh:
        fh.write(GENERATOR_VERSION + "\n")


def generate(out_dir, log=print):
    if not complete(out_dir):
        write_product_strips(scene.SceneModel(SIZE), out_dir, log)
    return product_mtls(out_dir)


def gdal_read_all(mtls, rows=STRIP):
    """The reference: every band file of every product read once, 256-row strips, native uint16."""
    total = 0
    for mtl in mtls:
        folder, pid = os.path.dirname(mtl), os.path.basename(mtl)[:-len("_MTL.txt")]
        for name in FILES:
            ds = gdal.Open(os.path.join(folder, f"{pid}_{name}.TIF"))
            band = ds.GetRasterBand(1)
            w, h = ds.RasterXSize, ds.RasterYSize
            for y in range(0, h, rows):
                total += band.ReadAsArray(0, y, w, min(rows, h - y)).nbytes
            ds = None
    return total


def composite_child(mtls, tag, out_dir):
    folder = os.path.join(out_dir, f"composite_out_{tag}")
    shutil.rmtree(folder, ignore_errors=True)
    return run_child("miningeco:composite", {"PRODUCTS": list(mtls), "OUTPUT_FOLDER": folder,
                                             "OUTPUT_TABLE": os.path.join(out_dir, f"composite_{tag}.csv")})


def run(say=print, out_dir=OUT, repeats=2):
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    if not complete(out_dir):
        say("generating 12 Landsat C2 L2 products (4000 x 4000, once) ...")
    mtls = generate(out_dir, log=lambda *a: None)
    from mining_eco_plugin.raster.products import open_product
    products = [open_product(m, toa_ok=False) for m in mtls]
    assert all(p.level == "C2L2" and p.qa_kind == "QA_PIXEL" and set(p.bands) == {"B", "G", "R", "NIR", "SWIR1",
                                                                                    "SWIR2", "T"} for p in products)
    if time.perf_counter() - t0 > 5:
        say(f"    generated in {time.perf_counter() - t0:.0f} s")
    size_mb = sum(os.path.getsize(os.path.join(os.path.dirname(m), f)) for m in mtls
                  for f in os.listdir(os.path.dirname(m))) / 1e6
    gdal_read_all(mtls)                                          # warm the page cache as the tool's run will find it
    ref = ref_cpu = None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        nbytes = gdal_read_all(mtls)
        t, c = time.perf_counter() - t, time.process_time() - c
        ref, ref_cpu = (t, c) if ref is None or t < ref else (ref, ref_cpu)
    say(f"    12 products ({', '.join(p.date[5:] for p in products)} 2022, L8/L9), {len(FILES)} files each, "
        f"{size_mb:.0f} MB on disk, {nbytes / 1e6:.0f} MB of pixels")
    say(f"    (a) GDAL reading every band of every product once (256-row strips, one thread): {ref:6.1f} s "
        f"({nbytes / 1e6 / ref:.0f} MB/s, CPU {ref_cpu:.1f} s); load average {os.getloadavg()[0]:.1f}")
    runs, tries = {}, {}
    for n in (PRODUCTS, 6):                                      # the least disturbed of ``repeats`` runs
        tries[n] = [composite_child(mtls[:n], f"{n}", out_dir) for _ in range(repeats)]
        runs[n] = min(tries[n], key=lambda r: r["seconds"])
    r12 = runs[PRODUCTS]
    ratio = r12["seconds"] / ref
    times = ", ".join(f"{r['seconds']:.1f}" for r in tries[PRODUCTS])
    say(f"    (b) miningeco:composite, medoid, 12 products: {r12['seconds']:6.1f} s (CPU {r12['cpu_seconds']:.1f} s "
        f"on {os.cpu_count()} cores; runs {times} s)   "
        f"ratio to (a) {ratio:4.2f}  (goal <= 1.5: {verdict(ratio <= 1.5)})")
    say(f"        CPU seconds composite / reference {r12['cpu_seconds'] / ref_cpu:4.2f};  6 products: "
        f"{runs[6]['seconds']:6.1f} s (CPU {runs[6]['cpu_seconds']:.1f} s); load average {os.getloadavg()[0]:.1f}")
    peak = {n: max(r["maxrss_kb"] for r in tries[n]) / 1024 for n in tries}
    over = {n: max(r["maxrss_kb"] - r["base_kb"] for r in tries[n]) / 1024 for n in tries}
    growth = peak[12] - peak[6]
    say(f"    (c) peak RSS during the run: 6 products {peak[6]:6.0f} MB (+{over[6]:.0f} MB over the started process), "
        f"12 products {peak[12]:6.0f} MB (+{over[12]:.0f} MB)")
    say(f"        growth 6 -> 12 products {growth:+.0f} MB (goal < 64 MB: {verdict(growth < 64)})")
    return runs, ref


if __name__ == "__main__":
    run(print, sys.argv[1] if len(sys.argv) > 1 else OUT)
