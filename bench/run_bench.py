"""`make bench`: speed and memory of Mining Eco against references measured in the same run.

Timings are information, never pass/fail: every number is printed as a ratio to a reference
measured here, with the goal beside it.

(a) index calculator on an 8000 x 8000 x 7-band Int16 scene / GDAL reading the same input bands
    and writing the same output bytes with the same creation options (goal <= 1.5);
(b) our NDVI / QGIS's raster calculator (QgsRasterCalculator) NDVI on the same input (goal < 1);
(c) peak memory (max RSS of a fresh process) of RSEI at 4000^2 and 8000^2 (goal < 1.5 GB, flat);
(d) RSEI seconds per megapixel at both sizes (goal: flat);
(e) trend: Theil-Sen + Mann-Kendall on a 25-date 2000 x 2000 stack vs pymannkendall per pixel
    (goal >= 200x) and vs reading the stack once (goal <= 3) -- bench_trend.py;
(f) applying a 100-tree random forest to a 4000 x 4000 x 8-band stack vs the model's own predict on
    the same pixels in memory (goal <= 1.3) and its peak memory at 2000^2 / 4000^2 -- bench_apply.py;
(g) CASA NPP on 12-month 4000 x 4000 stacks: time, s/MP, peak memory, ratio to GDAL reading the 48 input bands and
    writing the output (the I/O floor) -- bench_casa.py;
(h) Geodetector, 10^6 samples x 8 factors: optimal discretisation + all detectors vs py-geodetector 0.2.1 on the
    same codes (goal < 1) -- bench_geodetector.py;
(i) executors: indices and RSEI at 8000^2 on a dask LocalCluster of 2 worker processes vs local threads (goal
    <= 1.2), per-worker throughput, and a "province" VRT mosaic of 16 scenes with the peak memory per worker
    (goal: flat against the number of tiles) -- bench_executor.py;
(j) scene composite: medoid of 12 generated 4000 x 4000 Landsat C2 L2 products (USGS layout) on one grid vs GDAL
    reading every input once (goal <= 1.5), peak memory at 6 and 12 products (goal: growth < 64 MB) --
    bench_composite.py;
(k) spectral index search: 6 bands, every two- and three-band form, 1000 samples, ranking + Holm + 5-fold CV vs
    numpy corrcoef of the same candidate matrix (goal < 2 s) -- bench_indexsearch.py;
(l) ESTARFM fusion of a generated 2000 x 2000 x 2-band case (w = 25): seconds per megapixel, CPU seconds, peak
    memory, the I/O floor and the fusion arithmetic alone -- bench_estarfm.py (the comparison with the public Python
    port is bench/port_estarfm.py, run by hand: the port is not part of this repository).
Generated data stays in bench_output/ and is reused by later runs.
"""
from __future__ import annotations

import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "bench_output")
sys.path[:0] = [ROOT, HERE, "/usr/share/qgis/python/plugins"]

import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402

import scene  # noqa: E402  (bench/scene.py: the synthetic Level-2 scene)
from benchkit import processing_module, run_child, verdict  # noqa: E402

gdal.UseExceptions()
CREATION = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "ZLEVEL=1", "PREDICTOR=1",
            "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]
LINES = []

def say(text=""):
    print(text, flush=True)
    LINES.append(text)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def gdal_read_write(src, bands, n_out, dst, rows=256):
    """The reference: read ``bands`` of ``src`` strip by strip and write ``n_out`` float32 bands.

    What it writes is the scaled reflectance (one multiply): float values with full mantissas, which
    compress like the indices do. Writing the raw integer-valued DN as float32 would compress several
    times faster than any real float output and make the reference unfairly quick."""
    ds = gdal.Open(src)
    w, h = ds.RasterXSize, ds.RasterYSize
    out = gdal.GetDriverByName("GTiff").Create(dst, w, h, n_out, gdal.GDT_Float32, CREATION)
    out.SetGeoTransform(ds.GetGeoTransform())
    out.SetProjection(ds.GetProjection())
    for y in range(0, h, rows):
        n = min(rows, h - y)
        arrays = [ds.GetRasterBand(b).ReadAsArray(0, y, w, n, buf_type=gdal.GDT_Float32) for b in bands]
        for i in range(n_out):
            out.GetRasterBand(i + 1).WriteArray(arrays[i % len(arrays)] * np.float32(0.0000275) - np.float32(0.2),
                                                0, y)
    out = None


def qgis_calculator_ndvi(src, dst):
    from qgis.analysis import QgsRasterCalculator, QgsRasterCalculatorEntry
    from qgis.core import QgsProject, QgsRasterLayer
    layer = QgsRasterLayer(src, "scene")
    entries = []
    for ref, band in (("s@3", 3), ("s@4", 4)):
        e = QgsRasterCalculatorEntry()
        e.ref, e.raster, e.bandNumber = ref, layer, band
        entries.append(e)
    red, nir = "(\"s@3\" * 0.0000275 - 0.2)", "(\"s@4\" * 0.0000275 - 0.2)"
    calc = QgsRasterCalculator(f"({nir} - {red}) / ({nir} + {red})", dst, "GTiff", layer.extent(), layer.crs(),
                               layer.width(), layer.height(), entries, QgsProject.instance().transformContext())
    rc = calc.processCalculation()
    if rc != 0:
        raise RuntimeError(f"QgsRasterCalculator failed ({rc})")


def rsei_child(path, tag):
    out = os.path.join(OUT, tag)
    return run_child("miningeco:rsei", {"SCENE": path, "SENSOR": 2, "RADIOMETRY": 0, "OUTPUT": out + "_rsei.tif",
                                        "OUTPUT_GRADES": out + "_grades.tif", "OUTPUT_TABLE": out + "_table.csv",
                                        "OUTPUT_REPORT": out + "_report.html"})


def main():
    os.makedirs(OUT, exist_ok=True)
    from qgis.core import Qgis
    say(f"Mining Eco bench - {time.strftime('%Y-%m-%d %H:%M')} - {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, QGIS {Qgis.QGIS_VERSION}, "
        f"GDAL {gdal.__version__}, numpy {np.__version__}")
    paths = {}
    for size in (4000, 8000):
        path = os.path.join(OUT, f"scene_{size}.tif")
        if not scene.scene_ok(path, size):
            say(f"generating {size} x {size} x 7 Int16 scene ...")
            scene.generate(path, size, log=lambda *a: None)
        paths[size] = path
    big = paths[8000]
    mp = 8000 * 8000 / 1e6

    processing = processing_module()
    from mining_eco_plugin.algorithms.index_calculator import PRODUCTS

    say("\n(a) index calculator vs GDAL read + write of the same bytes (8000 x 8000, Level-2 scene)")
    for keys, bands in ((["NDVI"], [3, 4]), (["NDVI", "WET", "NDBSI"], [1, 2, 3, 4, 5, 6])):
        ref = min(timed(lambda: gdal_read_write(big, bands, len(keys), os.path.join(OUT, "ref.tif")))
                  for _ in range(2))
        ours = timed(lambda: processing.run("miningeco:spectralindices", {
            "SCENE": big, "SENSOR": 2, "RADIOMETRY": 0, "INDICES": [PRODUCTS.index(k) for k in keys],
            "OUTPUT": os.path.join(OUT, "indices.tif")}))
        ratio = ours / ref
        say(f"    {'+'.join(keys):16s} ours {ours:6.1f} s   GDAL read {len(bands)} bands + write {len(keys)} "
            f"{ref:6.1f} s   ratio {ratio:4.2f}  (goal <= 1.5: {verdict(ratio <= 1.5)})")
        if keys == ["NDVI"]:
            ndvi_s = ours

    say("\n(b) NDVI: ours vs QGIS raster calculator (QgsRasterCalculator, same scaling)")
    calc = timed(lambda: qgis_calculator_ndvi(big, os.path.join(OUT, "qgis_ndvi.tif")))
    ratio = ndvi_s / calc
    say(f"    ours {ndvi_s:6.1f} s   QGIS raster calculator {calc:6.1f} s   ratio {ratio:4.2f}  "
        f"(goal < 1: {verdict(ratio < 1)})")

    say("\n(c, d) RSEI peak memory and seconds per megapixel (fresh process each)")
    base = run_child("", {})
    say(f"    baseline (QGIS + Processing + provider started, no run): RSS {base['base_kb'] / 1024:6.0f} MB")
    results = {}
    for size, path in paths.items():
        r = rsei_child(path, f"rsei_{size}")
        results[size] = r
        say(f"    {size} x {size}: {r['seconds']:6.1f} s = {r['seconds'] / (size * size / 1e6):5.3f} s/MP, "
            f"peak RSS during the run {r['maxrss_kb'] / 1024:6.0f} MB "
            f"(+{(r['maxrss_kb'] - r['base_kb']) / 1024:.0f} MB over the started process)")
    rss = {s: r["maxrss_kb"] / 1024 for s, r in results.items()}
    spm = {s: r["seconds"] / (s * s / 1e6) for s, r in results.items()}
    say(f"    peak memory 8000^2 / 4000^2 = {rss[8000] / rss[4000]:4.2f}, max {max(rss.values()):.0f} MB "
        f"(goal < 1536 MB and flat: {verdict(max(rss.values()) < 1536 and rss[8000] / rss[4000] < 1.25)})")
    say(f"    s/MP 8000^2 / 4000^2 = {spm[8000] / spm[4000]:4.2f} (goal: flat, within 25 %: "
        f"{verdict(0.8 < spm[8000] / spm[4000] < 1.25)});  RSEI on {mp:.0f} MP in {results[8000]['seconds']:.0f} s")

    say("\n(e) trend (Theil-Sen + Mann-Kendall), 25 dates x 2000 x 2000")
    import bench_trend
    for line in bench_trend.run(OUT):
        say("    " + line)
    say("\n(f) apply model: 100-tree random forest on a 4000 x 4000 x 8-band stack")
    import bench_apply
    for line in bench_apply.run(OUT):
        say("    " + line)
    say("\n(g) CASA NPP: 12-month 4000 x 4000 stacks")
    import bench_casa
    bench_casa.run(lambda line: say("    " + line), OUT, repeats=2)
    say("\n(h) Geodetector: 10^6 samples x 8 factors, optimal discretisation + all detectors vs py-geodetector")
    import bench_geodetector
    bench_geodetector.run(lambda line: say("    " + line), OUT)
    import bench_executor
    bench_executor.main(OUT, big, paths[4000], say)
    say("\n(j) scene composite: 12 Landsat C2 L2 products, 4000 x 4000, one grid (medoid, fresh process each)")
    import bench_composite
    bench_composite.run(say, OUT)
    say("\n(k) spectral index search: 6 bands, every two- and three-band form, 1000 samples")
    import bench_indexsearch
    bench_indexsearch.run(lambda line: say("    " + line))
    say("\n(l) ESTARFM: 2000 x 2000 x 2 bands, w = 25 (fresh process)")
    import bench_estarfm
    bench_estarfm.run(lambda line: say("    " + line), OUT)
    with open(os.path.join(OUT, "bench.txt"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(LINES) + "\n")
    say(f"\nreport written to {os.path.join(OUT, 'bench.txt')}")


if __name__ == "__main__":
    main()
