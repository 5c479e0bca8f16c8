#!/usr/bin/env python3
"""Cross-check of `make bench` (a)-(d), stricter about what is measured (optional, ~4 min).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/crosscheck.py [--profile | --no-profile]

Differences from run_bench.py, which times everything inside one QGIS process:
  * every measurement runs in a fresh process (this script with --worker); peak memory is that
    process's max RSS from os.wait4, next to a process that only starts QGIS and registers the
    provider;
  * the (a) reference writes exactly the plugin's output values (the plugin's file is loaded into
    memory first, untimed), so GDAL compresses the same float32 bytes, with the plugin's creation
    options, window layout and GDAL cache bound; it reads the same input bands;
  * (d) also compares RSEI with plain GDAL doing an RSEI's I/O (3 passes over the 7 bands, writing
    the plugin's float32 RSEI and uint8 grades);
  * when an (a) ratio misses its goal (or with --profile) the 8000^2 index run is profiled
    (cProfile, main thread) and the profile is printed.
Timings are never pass/fail: ratios to references measured in the same run, goals beside them,
PASS/MISS informational, exit 0. Scenes are bench/scene.py's, shared with run_bench.py in
bench_output/; outputs go to bench_output/crosscheck/, the report to bench_output/crosscheck.txt.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCENES = os.path.join(ROOT, "bench_output")
OUT = os.path.join(SCENES, "crosscheck")
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

MB = 1024 * 1024
INDEX_SET = ("NDVI", "WET", "NDBSI")
SHORT_RUN_S = 60.0          # runs shorter than this are repeated once (best of 2)
GOAL_INDEX = 1.5
GOAL_CALC = 1.0
GOAL_RSS_MB = 1536
GOAL_RSS_GROWTH = 1.10      # peak(8000^2) / peak(4000^2)
GOAL_FLAT = 1.20            # s/MP(8000^2) / s/MP(4000^2)
WRITER_OPTS = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "ZLEVEL=1",
               "PREDICTOR=1", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS"]


def plugin_windows(width, height):
    """The plugin's block layout (raster/engine.py windows()), as (xoff, yoff, xsize, ysize)."""
    from mining_eco_plugin.raster.engine import Grid, windows
    return [(w.xoff, w.yoff, w.xsize, w.ysize) for w in windows(Grid(width, height, (0, 1, 0, 0, 0, -1), ""))]


def plugin_gdal_cache():
    """The plugin's bound on the GDAL block cache (bytes)."""
    from mining_eco_plugin.raster import engine
    return getattr(engine, "MAX_GDAL_CACHE", 256 * MB)


def scene_path(size):
    return os.path.join(SCENES, f"scene_{size}.tif")


# ------------------------------------------------------------------------------------------
# worker side (fresh process per measurement)
# ------------------------------------------------------------------------------------------

def start_qgis():
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing
    Processing.initialize()
    from mining_eco_plugin.provider import MiningEcoProvider
    provider = MiningEcoProvider()
    if not QgsApplication.processingRegistry().addProvider(provider):
        raise RuntimeError("could not register the miningeco provider")
    return app, provider


def index_params(size, keys, out):
    from mining_eco_plugin.algorithms.index_calculator import PRODUCTS
    return {"SCENE": scene_path(size), "SENSOR": 2, "RADIOMETRY": 0,
            "INDICES": [PRODUCTS.index(k) for k in keys], "OUTPUT": out}


def rsei_params(size):
    base = os.path.join(OUT, f"rsei_{size}")
    return {"SCENE": scene_path(size), "SENSOR": 2, "RADIOMETRY": 0, "OUTPUT": base + ".tif",
            "OUTPUT_GRADES": base + "_grades.tif", "OUTPUT_TABLE": base + "_table.csv",
            "OUTPUT_REPORT": base + "_report.html"}


def work_baseline(_task):
    _app, _provider = start_qgis()
    return {}


def work_index(task):
    _app, _provider = start_qgis()
    import processing
    params = index_params(task["size"], task["keys"], task["out"])
    if task.get("profile"):
        import cProfile
        import io
        import pstats
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        processing.run("miningeco:spectralindices", params)
        prof.disable()
        seconds = time.perf_counter() - t0
        lines = []
        for key in ("tottime", "cumulative"):
            s = io.StringIO()
            pstats.Stats(prof, stream=s).strip_dirs().sort_stats(key).print_stats(18)
            lines.append(f"--- sorted by {key} ---\n" + _trim_pstats(s.getvalue()))
        return {"seconds": seconds, "profile": "\n".join(lines)}
    t0 = time.perf_counter()
    processing.run("miningeco:spectralindices", params)
    return {"seconds": time.perf_counter() - t0}


def _trim_pstats(text):
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("ncalls"):
            return "\n".join(lines[i:]).rstrip()
    return text.rstrip()


def work_rsei(task):
    _app, _provider = start_qgis()
    import processing
    t0 = time.perf_counter()
    res = processing.run("miningeco:rsei", rsei_params(task["size"]))
    return {"seconds": time.perf_counter() - t0, "pc1_share": res.get("PC1_SHARE"),
            "mean_rsei": res.get("MEAN_RSEI")}


def work_gdal_ref(task):
    """Plain GDAL: read the same input bands strip by strip and write the plugin's output bytes.

    The plugin's output is loaded into memory first (not timed), so the timed part writes exactly
    the values (hence the same compressed bytes) the plugin wrote, with the same creation options,
    block order and GDAL cache bound.
    """
    from osgeo import gdal
    gdal.UseExceptions()
    gdal.SetCacheMax(plugin_gdal_cache())
    src_out = gdal.Open(task["plugin_output"])
    nb = src_out.RasterCount
    values = [src_out.GetRasterBand(i + 1).ReadAsArray() for i in range(nb)]
    nodata = src_out.GetRasterBand(1).GetNoDataValue()
    src_out = None
    t0 = time.perf_counter()
    ds = gdal.Open(task["input"])
    w, h = ds.RasterXSize, ds.RasterYSize
    tmp = task["out"]
    out = gdal.GetDriverByName("GTiff").Create(tmp, w, h, nb, gdal.GDT_Float32, WRITER_OPTS)
    out.SetGeoTransform(ds.GetGeoTransform())
    out.SetProjection(ds.GetProjection())
    for i in range(nb):
        out.GetRasterBand(i + 1).SetNoDataValue(nodata)
    checksum = 0
    for x0, y0, cols, rows in plugin_windows(w, h):
        for b in task["bands"]:
            arr = ds.GetRasterBand(b).ReadAsArray(x0, y0, cols, rows)
            checksum += int(arr[0, 0])
        for i in range(nb):
            out.GetRasterBand(i + 1).WriteArray(values[i][y0:y0 + rows, x0:x0 + cols], x0, y0)
    out.FlushCache()
    out = None
    seconds = time.perf_counter() - t0
    del values
    return {"seconds": seconds, "checksum": checksum}


def work_gdal_ref_rsei(task):
    """Plain GDAL I/O of an RSEI run: 3 passes reading the 7 bands, one float32 + one uint8 write."""
    from osgeo import gdal
    gdal.UseExceptions()
    gdal.SetCacheMax(plugin_gdal_cache())
    t0 = time.perf_counter()
    ds = gdal.Open(task["input"])
    w, h = ds.RasterXSize, ds.RasterYSize
    wins = plugin_windows(w, h)
    checksum = 0
    for _pass in range(3):
        for x0, y0, cols, rows in wins:
            for b in range(1, 8):
                checksum += int(ds.GetRasterBand(b).ReadAsArray(x0, y0, cols, rows)[0, 0])
    src = gdal.Open(task["rsei"])
    srcg = gdal.Open(task["grades"])
    opts_u8 = [o if o != "PREDICTOR=1" else "PREDICTOR=2" for o in WRITER_OPTS]
    outs = []
    for path, s, dtype, opts in ((task["out"], src, gdal.GDT_Float32, WRITER_OPTS),
                                 (task["out_grades"], srcg, gdal.GDT_Byte, opts_u8)):
        o = gdal.GetDriverByName("GTiff").Create(path, w, h, 1, dtype, opts)
        o.SetGeoTransform(ds.GetGeoTransform())
        o.SetProjection(ds.GetProjection())
        outs.append((o, s))
    io_read = 0.0
    for x0, y0, cols, rows in wins:
        for o, s in outs:
            r0 = time.perf_counter()
            arr = s.GetRasterBand(1).ReadAsArray(x0, y0, cols, rows)   # the plugin's bytes (not charged)
            io_read += time.perf_counter() - r0
            o.GetRasterBand(1).WriteArray(arr, x0, y0)
    for o, _s in outs:
        o.FlushCache()
    outs = None
    seconds = time.perf_counter() - t0 - io_read
    return {"seconds": seconds, "checksum": checksum}


def work_qgis_calc(task):
    _app, _provider = start_qgis()
    from qgis.analysis import QgsRasterCalculator, QgsRasterCalculatorEntry
    from qgis.core import QgsCoordinateTransformContext, QgsRasterLayer
    layer = QgsRasterLayer(scene_path(task["size"]), "s")
    if not layer.isValid():
        raise RuntimeError("QGIS cannot open the scene")
    entries = []
    for band in (3, 4):
        e = QgsRasterCalculatorEntry()
        e.ref = f"s@{band}"
        e.raster = layer
        e.bandNumber = band
        entries.append(e)
    red = '("s@3" * 0.0000275 - 0.2)'
    nir = '("s@4" * 0.0000275 - 0.2)'
    expr = f"({nir} - {red}) / ({nir} + {red})"
    t0 = time.perf_counter()
    calc = QgsRasterCalculator(expr, task["out"], "GTiff", layer.extent(), layer.width(), layer.height(),
                               entries, QgsCoordinateTransformContext())
    rc = calc.processCalculation()
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"QgsRasterCalculator failed: code {rc} {calc.lastError()}")
    from osgeo import gdal
    ds = gdal.Open(task["out"])
    comp = (ds.GetMetadata("IMAGE_STRUCTURE") or {}).get("COMPRESSION", "none")
    block = ds.GetRasterBand(1).GetBlockSize()
    return {"seconds": seconds, "expression": expr, "compression": comp, "block": block,
            "bytes": os.path.getsize(task["out"])}


WORKERS = {"baseline": work_baseline, "index": work_index, "rsei": work_rsei, "gdal_ref": work_gdal_ref,
           "gdal_ref_rsei": work_gdal_ref_rsei, "qgis_calc": work_qgis_calc}


def worker_main(task_json, result_path):
    task = json.loads(task_json)
    result = WORKERS[task["kind"]](task)
    with open(result_path, "w") as fh:
        json.dump(result, fh)
    sys.stdout.flush()
    os._exit(0)   # skip QGIS teardown: its time and memory are no part of the measurement


# ------------------------------------------------------------------------------------------
# parent side
# ------------------------------------------------------------------------------------------

class Report:
    def __init__(self):
        self.lines = []

    def __call__(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def save(self, path):
        with open(path, "w") as fh:
            fh.write("\n".join(self.lines) + "\n")


def run_worker(task, log):
    """Run one measurement in a fresh process; returns the worker's result plus max_rss_mb."""
    os.makedirs(OUT, exist_ok=True)
    result_path = os.path.join(OUT, f".worker_{task['kind']}.json")
    log_path = os.path.join(OUT, f".worker_{task['kind']}.log")
    if os.path.exists(result_path):
        os.remove(result_path)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
    os.makedirs(env["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
    t0 = time.perf_counter()
    with open(log_path, "w") as logfh:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(task),
                                 result_path], stdout=logfh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not os.path.exists(result_path):
        with open(log_path) as fh:
            tail = fh.read()[-3000:]
        raise RuntimeError(f"worker {task['kind']} failed (exit {proc.returncode}):\n{tail}")
    with open(result_path) as fh:
        result = json.load(fh)
    result["max_rss_mb"] = usage.ru_maxrss / 1024.0     # Linux: kilobytes
    result["wall"] = wall
    log(f"    [{task['kind']}{' ' + str(task.get('size', '')) if task.get('size') else ''}"
        f"{' ' + ','.join(task['keys']) if task.get('keys') else ''}] "
        f"{result.get('seconds', 0.0):.1f} s, max RSS {result['max_rss_mb']:.0f} MB (process wall {wall:.1f} s)")
    return result


def best_of(task, log, repeat_if_under=SHORT_RUN_S):
    """Run once; repeat once if it was short. Returns (best result, [seconds...])."""
    r = run_worker(task, log)
    runs = [r]
    if r["seconds"] < repeat_if_under:
        runs.append(run_worker(task, log))
    best = min(runs, key=lambda x: x["seconds"])
    return best, [x["seconds"] for x in runs]


def word(ok):
    return "PASS" if ok else "MISS"


def fmt_runs(runs):
    if len(runs) == 1:
        return f"{runs[0]:.1f} s (1 run)"
    return f"{min(runs):.1f} s (best of {len(runs)}: " + ", ".join(f"{s:.1f}" for s in runs) + ")"


def machine_info(rep):
    import numpy
    from osgeo import gdal
    try:
        from qgis.core import Qgis
        qgis_version = Qgis.QGIS_VERSION
    except Exception as err:  # noqa: BLE001
        qgis_version = f"unavailable ({err})"
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f"{kb / MB:.1f} GB RAM"
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rep(f"Machine : {os.cpu_count()} cores{', ' + cpu if cpu else ''}; {mem}")
    rep(f"Software: Python {platform.python_version()}, GDAL {gdal.__version__}, QGIS {qgis_version}, "
        f"numpy {numpy.__version__}; {platform.platform()}")


def ensure_scenes(sizes, rep):
    import scene
    from osgeo import gdal
    for size in sizes:
        path = scene_path(size)
        if scene.scene_ok(path, size):
            rep(f"Scene {size} x {size} x 7 Int16: reusing {os.path.relpath(path, ROOT)}")
        else:
            t0 = time.perf_counter()
            scene.generate(path, size, log=lambda s: print(s, flush=True))
            rep(f"Scene {size} x {size} x 7 Int16: generated {os.path.relpath(path, ROOT)} in "
                f"{time.perf_counter() - t0:.0f} s")
        ds = gdal.Open(path)
        st = ds.GetMetadata("IMAGE_STRUCTURE")
        rep(f"    {os.path.getsize(path) / MB:.0f} MB on disk; {st.get('COMPRESSION')} predictor "
            f"{st.get('PREDICTOR', '1')}, {st.get('INTERLEAVE')} interleave, tiles "
            f"{ds.GetRasterBand(1).GetBlockSize()}; bands "
            + ", ".join(ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)))


def band_numbers(keys):
    """1-based bands of the 7-band scene that the plugin reads for ``keys``."""
    from mining_eco_plugin.core.scene import product_bands
    order = ("B", "G", "R", "NIR", "SWIR1", "SWIR2", "T")
    return [order.index(r) + 1 for r in product_bands(list(keys), "L2")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="4000,8000", help="small,large scene sizes (default 4000,8000)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--profile", action="store_true", help="always cProfile the large index run")
    g.add_argument("--no-profile", action="store_true", help="never profile")
    args = ap.parse_args()
    if args.worker:
        worker_main(*args.worker)
        return 0
    small, large = (int(s) for s in args.sizes.split(","))
    os.makedirs(OUT, exist_ok=True)
    rep = Report()
    t_start = time.perf_counter()
    rep("=" * 96)
    rep(f"Mining Eco benchmark cross-check (bench/crosscheck.py)  {time.strftime('%Y-%m-%d %H:%M:%S')}")
    rep("=" * 96)
    machine_info(rep)
    ensure_scenes([small, large], rep)
    rep("Every measurement below ran in a fresh process; seconds exclude QGIS start-up. "
        "Ratios compare runs made just now on this machine; PASS/MISS are informational.")
    rep()

    log = rep
    mp_large = large * large / 1e6
    mp_small = small * small / 1e6

    # ---- (a) index calculator vs plain GDAL I/O --------------------------------------------
    rep(f"(a) Index calculator vs plain GDAL read+write, {large} x {large} ({mp_large:.0f} MP)")
    res_a = {}
    for label, keys in (("NDVI, WET, NDBSI", INDEX_SET), ("NDVI alone", ("NDVI",))):
        out = os.path.join(OUT, f"idx_{'_'.join(keys)}_{large}.tif")
        ours, ours_runs = best_of({"kind": "index", "size": large, "keys": list(keys), "out": out}, log)
        bands = band_numbers(keys)
        ref, ref_runs = best_of({"kind": "gdal_ref", "input": scene_path(large), "bands": bands,
                                 "plugin_output": out, "out": os.path.join(OUT, f"gdalref_{len(keys)}.tif")}, log)
        res_a[label] = (ours, ours_runs, ref, ref_runs, bands)
    rep()

    # ---- (b) QGIS raster calculator --------------------------------------------------------
    rep(f"(b) NDVI: ours vs QGIS raster calculator (QgsRasterCalculator), {large} x {large}")
    calc, calc_runs = best_of({"kind": "qgis_calc", "size": large,
                               "out": os.path.join(OUT, f"qgiscalc_ndvi_{large}.tif")}, log)
    rep()

    # ---- (c)/(d) RSEI memory and time ------------------------------------------------------
    rep(f"(c)/(d) RSEI peak memory and time, {small} x {small} and {large} x {large}")
    base = run_worker({"kind": "baseline"}, log)
    rsei = {}
    for size in (small, large):
        rsei[size] = run_worker({"kind": "rsei", "size": size}, log)
    rsei_ref = {}
    for size in (small, large):
        p = rsei_params(size)
        rsei_ref[size] = run_worker({"kind": "gdal_ref_rsei", "size": size, "input": scene_path(size),
                                     "rsei": p["OUTPUT"], "grades": p["OUTPUT_GRADES"],
                                     "out": os.path.join(OUT, "gdalref_rsei.tif"),
                                     "out_grades": os.path.join(OUT, "gdalref_rsei_grades.tif")}, log)
    rep()

    # ---- profile ---------------------------------------------------------------------------
    a3 = res_a["NDVI, WET, NDBSI"]
    ratio_a3 = a3[0]["seconds"] / a3[2]["seconds"]
    a1 = res_a["NDVI alone"]
    ratio_a1 = a1[0]["seconds"] / a1[2]["seconds"]
    profile = None
    if args.profile or (not args.no_profile and max(ratio_a3, ratio_a1) > GOAL_INDEX):
        rep(f"Profiling the {large} x {large} NDVI, WET, NDBSI run (cProfile; (a) missed its goal"
            f"{' / --profile' if args.profile else ''})")
        profile = run_worker({"kind": "index", "size": large, "keys": list(INDEX_SET), "profile": True,
                              "out": os.path.join(OUT, f"idx_profile_{large}.tif")}, log)
        rep()

    # ---- report ----------------------------------------------------------------------------
    rep("=" * 96)
    rep("RESULTS")
    rep("=" * 96)
    rep(f"(a) index calculator time / plain GDAL time for the same I/O, {large} x {large}  "
        f"[goal <= {GOAL_INDEX}]")
    rep("    reference: GDAL reads the needed bands of the scene in the plugin's windows and writes the")
    rep("    plugin's own output values (same float32 bytes) with " + " ".join(WRITER_OPTS))
    for label, (ours, ours_runs, ref, ref_runs, bands) in res_a.items():
        r = ours["seconds"] / ref["seconds"]
        rep(f"    {label:<17s} ours {fmt_runs(ours_runs)}; GDAL (bands {','.join(map(str, bands))}) "
            f"{fmt_runs(ref_runs)}")
        rep(f"    {'':<17s} ratio {r:5.2f}   {word(r <= GOAL_INDEX)}   "
            f"({ours['seconds'] / mp_large * 1000:.0f} ms/MP vs {ref['seconds'] / mp_large * 1000:.0f} ms/MP)")
    rep()
    ours_ndvi = a1[0]["seconds"]
    rb = ours_ndvi / calc["seconds"]
    rep(f"(b) our NDVI time / QGIS raster calculator NDVI time, {large} x {large}  [goal < {GOAL_CALC}]")
    rep(f"    QgsRasterCalculator: {calc['expression']}")
    rep(f"    ours {ours_ndvi:.1f} s (tiled DEFLATE output); QGIS {fmt_runs(calc_runs)} (output compression "
        f"{calc['compression']}, blocks {calc['block'][0]}x{calc['block'][1]}, {calc['bytes'] / MB:.0f} MB)")
    rep(f"    ratio {rb:5.2f}   {word(rb < GOAL_CALC)}")
    rep()
    rep(f"(c) peak memory (max RSS of a fresh process, os.wait4)  [goal < {GOAL_RSS_MB} MB and not growing "
        f"with size: peak({large}^2)/peak({small}^2) <= {GOAL_RSS_GROWTH}]")
    b = base["max_rss_mb"]
    rep(f"    baseline (start QGIS + Processing, register provider): {b:6.0f} MB  (ratio 1.00)")
    for size in (small, large):
        m = rsei[size]["max_rss_mb"]
        rep(f"    miningeco:rsei {size:>5d} x {size:<5d}: {m:6.0f} MB  ({m / b:4.2f} x baseline, +{m - b:.0f} MB)  "
            f"{word(m < GOAL_RSS_MB)}")
    growth = rsei[large]["max_rss_mb"] / rsei[small]["max_rss_mb"]
    inc_small = rsei[small]["max_rss_mb"] - b
    inc_large = rsei[large]["max_rss_mb"] - b
    rep(f"    growth {large}^2 vs {small}^2 (4x the pixels): peak x{growth:.2f}, above baseline "
        f"x{inc_large / max(inc_small, 1e-9):.2f}   {word(growth <= GOAL_RSS_GROWTH)}")
    rep()
    rep(f"(d) RSEI seconds per megapixel  [goal: flat, s/MP({large}^2)/s/MP({small}^2) <= {GOAL_FLAT}]")
    spm = {}
    for size, mp in ((small, mp_small), (large, mp_large)):
        spm[size] = rsei[size]["seconds"] / mp
        ref_s = rsei_ref[size]["seconds"]
        rep(f"    {size:>5d} x {size:<5d}: {rsei[size]['seconds']:6.1f} s = {spm[size]:.3f} s/MP; "
            f"{rsei[size]['seconds'] / ref_s:4.2f} x plain GDAL I/O of a 3-pass RSEI ({ref_s:.1f} s)"
            f"; PC1 share {100 * (rsei[size].get('pc1_share') or 0):.1f} %")
    flat = spm[large] / spm[small]
    rep(f"    ratio s/MP {large}^2 / {small}^2: {flat:4.2f}   {word(flat <= GOAL_FLAT)}")
    rep()
    if profile:
        rep(f"Profile of miningeco:spectralindices NDVI, WET, NDBSI at {large} x {large} "
            f"({profile['seconds']:.1f} s under cProfile):")
        for line in profile["profile"].splitlines():
            rep("    " + line)
        rep()
    rep(f"Cross-check wall time {time.perf_counter() - t_start:.0f} s. "
        f"Report: {os.path.relpath(SCENES, ROOT)}/crosscheck.txt")
    rep.save(os.path.join(SCENES, "crosscheck.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
