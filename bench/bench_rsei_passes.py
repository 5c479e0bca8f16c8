"""RSEI before / after: time, peak memory and equality of the outputs of two versions of the plugin.

The "old" version is any git revision of this repository (``--old REV``, default ``HEAD``), extracted with
``git archive`` into a temporary folder; the "new" version is the working tree. Every run is a fresh process
(bench/benchkit.py's child script: QGIS + Processing + provider started, peak RSS reset, one ``processing.run``),
old and new alternating so that both see the same machine load; the 1-minute load average is printed with each
run (the machine may be shared).

Scenes:

* timing: the benchmark's synthetic Level-2 scenes ``scene_4000.tif`` / ``scene_8000.tif`` (bench/scene.py,
  generated when missing) - seconds, seconds per megapixel and peak RSS of the run;
* equality: the same runs, plus the real Landsat 8 Level-1 test scene (Marburg, 41 x 41, MTL radiometry,
  with and without 1 % percentile clipping) and a synthetic 2000 x 2000 scene. For each pair of outputs:
  nodata masks equal, max |RSEI_new - RSEI_old|, pixels whose grade differs and how many of those lie within
  1e-6 of a grade boundary (0.2, 0.4, 0.6, 0.8), PC1 share and mean RSEI of both.

``python bench/bench_rsei_passes.py [--old REV] [--sizes 4000 8000] [--repeat 2] [--out DIR]``
``run(say, out_dir)`` does the default run for bench/run_bench.py and returns the report lines.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import benchkit  # noqa: E402
import scene as scene_mod  # noqa: E402

ROOT = benchkit.ROOT
OUT = os.path.join(ROOT, "bench_output")
L8 = os.path.join(ROOT, "test", "data", "marburg", "LC08_L1TP_195025_20130707_20170503_01_T1")
L8_BANDS = {"BLUE": 2, "GREEN": 3, "RED": 4, "NIR": 5, "SWIR1": 6, "SWIR2": 7, "THERMAL": 10}
BOUNDARIES = np.array([0.2, 0.4, 0.6, 0.8])
NEAR = 1e-6


def extract(rev):
    """The plugin package of git revision ``rev`` in a new temporary folder (the folder)."""
    folder = tempfile.mkdtemp(prefix="rsei_old_")
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "mining_eco_plugin"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    return folder


def run_child_at(root, alg_id, params):
    """benchkit.run_child with the plugin imported from ``root`` instead of the working tree."""
    run = subprocess.run([sys.executable, "-c", benchkit.CHILD, root, benchkit.QGIS_PLUGINS, alg_id,
                          json.dumps(params), ""], capture_output=True, text=True,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    if run.returncode != 0:
        raise RuntimeError(f"{alg_id} ({root}) failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def outputs(out_dir, tag):
    base = os.path.join(out_dir, f"rseibench_{tag}")
    return {"OUTPUT": base + "_rsei.tif", "OUTPUT_GRADES": base + "_grades.tif", "OUTPUT_TABLE": base + "_table.csv",
            "OUTPUT_REPORT": base + "_report.html"}


def scene_params(path, out_dir, tag):
    return dict({"SCENE": path, "SENSOR": 2, "RADIOMETRY": 0}, **outputs(out_dir, tag))


def l8_params(out_dir, tag, clip):
    p = {"SENSOR": 2, "RADIOMETRY": 1, "MTL_FILE": L8 + "_MTL.txt", "CLIP_PERCENT": clip}
    p.update({k: f"{L8}_B{b}.TIF" for k, b in L8_BANDS.items()})
    return dict(p, **outputs(out_dir, tag))


def compare(old, new):
    """Block-wise comparison of two RSEI runs (dicts of output paths) -> dict of counts."""
    from osgeo import gdal
    ro, rn = gdal.Open(old["OUTPUT"]), gdal.Open(new["OUTPUT"])
    go, gn = gdal.Open(old["OUTPUT_GRADES"]), gdal.Open(new["OUTPUT_GRADES"])
    w, h = ro.RasterXSize, ro.RasterYSize
    res = {"pixels": 0, "nodata_differs": 0, "max_abs_diff": 0.0, "grade_differs": 0, "grade_differs_near": 0,
           "near_boundary": 0}
    for y in range(0, h, 512):
        rows = min(512, h - y)
        a = ro.GetRasterBand(1).ReadAsArray(0, y, w, rows).astype(np.float64)
        b = rn.GetRasterBand(1).ReadAsArray(0, y, w, rows).astype(np.float64)
        ga = go.GetRasterBand(1).ReadAsArray(0, y, w, rows)
        gb = gn.GetRasterBand(1).ReadAsArray(0, y, w, rows)
        va, vb = a != -9999, b != -9999
        both = va & vb
        res["pixels"] += int(both.sum())
        res["nodata_differs"] += int((va != vb).sum())
        if both.any():
            res["max_abs_diff"] = max(res["max_abs_diff"], float(np.abs(a[both] - b[both]).max()))
        near = (np.abs(a[..., None] - BOUNDARIES).min(axis=-1) <= NEAR) & va
        res["near_boundary"] += int(near.sum())
        diff = ga != gb
        res["grade_differs"] += int(diff.sum())
        res["grade_differs_near"] += int((diff & near).sum())
    return res


def describe(res, r_old, r_new):
    return (f"{res['pixels']} px, nodata differs {res['nodata_differs']}, max |dRSEI| {res['max_abs_diff']:.2e}, "
            f"grade differs {res['grade_differs']} (of which {res['grade_differs_near']} within {NEAR:g} of a "
            f"boundary; {res['near_boundary']} px lie that close), PC1 share {r_old['PC1_SHARE']:.9f} / "
            f"{r_new['PC1_SHARE']:.9f}, mean RSEI {r_old['MEAN_RSEI']:.9f} / {r_new['MEAN_RSEI']:.9f}")


def load():
    return os.getloadavg()[0]


def run(say=print, out_dir=None, old_rev="HEAD", sizes=(4000, 8000), repeat=2, accuracy=True):
    if isinstance(say, str):          # run(out_dir), as run_bench.py calls the other bench scripts
        say, out_dir = print, say
    out_dir = os.path.abspath(out_dir or OUT)
    os.makedirs(out_dir, exist_ok=True)
    lines = []
    out = lambda line: lines.append(line) or say(line)  # noqa: E731

    old_root = extract(old_rev)
    roots = {"old": old_root, "new": ROOT}
    out(f"RSEI old ({old_rev}) vs new (working tree), {os.cpu_count()} cores, fresh process per run")
    worst = {"max_abs_diff": 0.0, "grade_differs": 0, "grade_differs_near": 0}

    def check(label, params_of):
        results = {v: run_child_at(roots[v], "miningeco:rsei", params_of(v))["results"] for v in roots}
        res = compare(params_of("old"), params_of("new"))
        for k in worst:
            worst[k] = max(worst[k], res[k])
        out(f"    {label}: {describe(res, results['old'], results['new'])}")

    if accuracy:
        out("  equality of the outputs (old vs new)")
        for clip in (0.0, 1.0):
            check(f"Landsat 8 Marburg 41 x 41, clip {clip:g} %",
                  lambda v, c=clip: l8_params(out_dir, f"l8_{c:g}_{v}", c))
        path = os.path.join(out_dir, "scene_2000.tif")
        if not scene_mod.scene_ok(path, 2000):
            scene_mod.generate(path, 2000, log=lambda *a: None)
        check("synthetic 2000 x 2000", lambda v: scene_params(path, out_dir, f"2000_{v}"))

    out("  time and peak memory (benchkit child script; load = 1-min load average before the run)")
    timing = {}
    for size in sizes:
        path = os.path.join(out_dir, f"scene_{size}.tif")
        if not scene_mod.scene_ok(path, size):
            scene_mod.generate(path, size, log=lambda *a: None)
        mp = size * size / 1e6
        for i in range(repeat):
            for v in ("old", "new"):
                before = load()
                r = run_child_at(roots[v], "miningeco:rsei", scene_params(path, out_dir, f"{size}_{v}"))
                timing.setdefault((size, v), []).append(r)
                out(f"    {size} x {size} {v}: {r['seconds']:6.1f} s = {r['seconds'] / mp:5.3f} s/MP, peak RSS "
                    f"{r['maxrss_kb'] / 1024:5.0f} MB (+{(r['maxrss_kb'] - r['base_kb']) / 1024:4.0f} MB), "
                    f"load {before:.2f} -> {load():.2f}")
        res = compare(scene_params(path, out_dir, f"{size}_old"), scene_params(path, out_dir, f"{size}_new"))
        for k in worst:
            worst[k] = max(worst[k], res[k])
        last = {v: timing[(size, v)][-1]["results"] for v in roots}
        out(f"    {size} x {size} equality: {describe(res, last['old'], last['new'])}")
    out("  summary (s/MP best and median of the repeats; peak = max)")
    for size in sizes:
        mp = size * size / 1e6
        best = {v: min(r["seconds"] for r in timing[(size, v)]) / mp for v in roots}
        median = {v: float(np.median([r["seconds"] for r in timing[(size, v)]])) / mp for v in roots}
        peak = {v: max(r["maxrss_kb"] for r in timing[(size, v)]) / 1024 for v in roots}
        out(f"    {size} x {size}: old {best['old']:5.3f} / {median['old']:5.3f} s/MP {peak['old']:5.0f} MB -> new "
            f"{best['new']:5.3f} / {median['new']:5.3f} s/MP {peak['new']:5.0f} MB  (median x"
            f"{median['old'] / median['new']:.2f} faster)")
    out(f"    worst over all scenes: max |dRSEI| {worst['max_abs_diff']:.2e}, grade differs {worst['grade_differs']} "
        f"px ({worst['grade_differs_near']} within {NEAR:g} of a boundary)")
    subprocess.run(["rm", "-rf", old_root], check=False)
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", default="HEAD", help="git revision of the old version (default HEAD)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[4000, 8000])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--no-accuracy", action="store_true", help="timing only")
    a = ap.parse_args()
    t0 = time.time()
    run(print, a.out, a.old, tuple(a.sizes), a.repeat, not a.no_accuracy)
    print(f"  ({time.time() - t0:.0f} s)")
