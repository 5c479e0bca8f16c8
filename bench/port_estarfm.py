"""ESTARFM: miningeco:estarfm against the public Python port ``ESTARFM.py`` (repository nahiro/estarfm, X. Zhu's
IDL code translated by N. Manago; the repository states no licence, so the port is never copied into this
repository: give the path of its ``ESTARFM.py`` on the command line).

The case is the North Carolina scenario of test/test_estarfm_algorithm.py (the real ETM+ red and NIR bands of
test/data/north_carolina, three dates built by a documented change per land-cover class of strata.tif, each date
degraded to a 480 m coarse grid by GDAL average), cropped to SIZE x SIZE pixels. The coarse images are put on the
fine grid once (GDAL nearest neighbour, as the port expects them) and both programs read the same five files; the
middle date is fused, with the authors' defaults (w = 25, 4 classes) and the valid range 0 .. 255.

Measured: wall and CPU seconds per megapixel of each (the port in its own process, ours through processing.run),
their ratio (goal: ours >= 50x faster per megapixel), and the output differences (RMSE, max |diff|, share of pixels
equal to 1e-4 DN, share equal as float32). To attribute them: ``--patch`` below SIZE (the port's thresholds come from
each patch of that many pixels and its windows stop at the patch edges), ``--float64`` (the port on Float64 copies
of the inputs: its means and differences in float64 instead of the float32 of the files).

    python bench/port_estarfm.py /path/to/ESTARFM.py [--python /path/to/python] [--size 300] [--patch 500]
        [--out bench_output/port_estarfm]

The port needs GDAL's old ``import gdal`` (a one-line shim module is put on its PYTHONPATH) and statsmodels (give
``--python`` of an environment that has it, e.g. a venv with --system-site-packages).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from osgeo import gdal  # noqa: E402

gdal.UseExceptions()
NC = os.path.join(ROOT, "test", "data", "north_carolina")
DATES = ("2000-04-01", "2000-06-01", "2000-08-01")
# the change per strata.tif class and its share at the middle date, as test/test_estarfm_algorithm.py
CHANGE = {1: (2, 4), 2: (-20, 60), 3: (-12, 40), 4: (-8, 24), 5: (-10, 36), 6: (0, -6), 7: (6, 2)}
MIDDLE = {1: 0.5, 2: 0.85, 3: 0.7, 4: 0.4, 5: 0.25, 6: 0.9, 7: 0.1}
NODATA = -9999.0
HALF_WINDOW, CLASSES, DN_MIN, DN_MAX = 25, 4.0, 0.0, 255.0
SHIM = "from osgeo.gdal import *  # noqa: F401,F403  (the port's old 'import gdal')\n"


def _read(path):
    ds = gdal.Open(path)
    b = ds.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float64)
    if b.GetNoDataValue() is not None:
        a[a == b.GetNoDataValue()] = np.nan
    return a, ds


def _write(path, bands, gt, proj):
    nb, h, w = bands.shape
    ds = gdal.GetDriverByName("GTiff").Create(path, w, h, nb, gdal.GDT_Float32)
    ds.SetGeoTransform(gt)
    ds.SetProjection(proj)
    for i in range(nb):
        band = ds.GetRasterBand(i + 1)
        band.SetNoDataValue(NODATA)
        band.SetDescription(("red", "nir")[i])
        band.WriteArray(np.where(np.isfinite(bands[i]), bands[i], NODATA))
    ds = None
    return path


def scenario(out, size, row0=60, col0=60):
    """The three fine dates of the North Carolina scenario and their 480 m coarse images (computed on the whole
    scene), cropped to size x size from (row0, col0); the coarse images on the fine grid (nearest neighbour)."""
    red, like = _read(os.path.join(NC, "lsat7_2000_30.tif"))
    nir, _ = _read(os.path.join(NC, "lsat7_2000_40.tif"))
    strata, _ = _read(os.path.join(NC, "strata.tif"))
    gt, proj = like.GetGeoTransform(), like.GetProjection()
    os.makedirs(out, exist_ok=True)
    files = {}
    for k, date in enumerate(DATES):
        bands = np.stack([red, nir]).copy()
        for code, (dr, dn) in CHANGE.items():
            sel = strata == code
            share = (0.0, MIDDLE[code], 1.0)[k]
            bands[0][sel] += dr * share
            bands[1][sel] += dn * share
        bands = np.clip(bands, 0, 255)
        bands[:, ~np.isfinite(strata)] = np.nan
        whole = _write(os.path.join(out, f"whole_fine_{date}.tif"), bands, gt, proj)
        coarse = os.path.join(out, f"whole_coarse_{date}.tif")
        gdal.Warp(coarse, whole, xRes=480, yRes=480, resampleAlg="average", srcNodata=NODATA, dstNodata=NODATA)
        on_fine = gdal.Warp("", coarse, format="MEM", outputBounds=(gt[0], gt[3] + gt[5] * red.shape[0],
                                                                    gt[0] + gt[1] * red.shape[1], gt[3]),
                            width=red.shape[1], height=red.shape[0], resampleAlg="near", srcNodata=NODATA,
                            dstNodata=NODATA)
        cgt = (gt[0] + col0 * gt[1], gt[1], 0.0, gt[3] + row0 * gt[5], 0.0, gt[5])
        crop = (slice(None), slice(row0, row0 + size), slice(col0, col0 + size))
        c = on_fine.ReadAsArray().astype(np.float64)
        c[c == NODATA] = np.nan
        files[("fine", date)] = _write(os.path.join(out, f"landsat_{date}.tif"), bands[crop], cgt, proj)
        files[("coarse", date)] = _write(os.path.join(out, f"modis_{date}.tif"), c[crop], cgt, proj)
    return files


def run_port(port, python, files, out, patch, float64=False):
    """The port on the five files, in its own process; (wall seconds, CPU seconds, output path). ``float64``: on
    Float64 copies of the files, so that all of the port's arithmetic is in float64 (it computes in the type of
    its input arrays: float32 means and differences otherwise)."""
    if float64:
        files = {key: gdal.Translate(os.path.join(out, "f64_" + os.path.basename(path)), path,
                                     outputType=gdal.GDT_Float64) and os.path.join(out, "f64_" + os.path.basename(path))
                 for key, path in files.items()}
    shim = os.path.join(out, "shim")
    os.makedirs(shim, exist_ok=True)
    with open(os.path.join(shim, "gdal.py"), "w", encoding="utf-8") as fh:
        fh.write(SHIM)
    dst = os.path.join(out, f"port_p{patch}{'_f64' if float64 else ''}.tif")
    args = [python, port, files[("fine", DATES[0])], files[("coarse", DATES[0])], files[("fine", DATES[2])],
            files[("coarse", DATES[2])], files[("coarse", DATES[1])], "-w", str(HALF_WINDOW), "-c", str(CLASSES),
            "-m", str(DN_MIN), "-M", str(DN_MAX), "-b", str(NODATA), "-B", str(NODATA), "-p", str(patch),
            "--fine_fname", dst, "--fine_dtype", "float64" if float64 else "float32"]
    env = dict(os.environ, PYTHONPATH=shim, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    t0, c0 = time.perf_counter(), os.times()
    run = subprocess.run(args, capture_output=True, text=True, env=env)
    c1 = os.times()
    if run.returncode != 0:
        raise RuntimeError(f"the port failed:\n{run.stderr[-3000:]}")
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return time.perf_counter() - t0, cpu, dst


def run_ours(files, out):
    """miningeco:estarfm through processing.run on the same files; (wall seconds, CPU seconds, output path)."""
    from benchkit import processing_module
    processing = processing_module()
    folder = os.path.join(out, "ours")
    t0, c0 = time.perf_counter(), time.process_time()
    processing.run("miningeco:estarfm", {
        "FINE_TM": files[("fine", DATES[0])], "COARSE_TM": files[("coarse", DATES[0])],
        "FINE_TN": files[("fine", DATES[2])], "COARSE_TN": files[("coarse", DATES[2])],
        "COARSE_TP": [files[("coarse", DATES[1])]], "HALF_WINDOW": HALF_WINDOW, "CLASSES": CLASSES,
        "DN_MIN": DN_MIN, "DN_MAX": DN_MAX, "OUTPUT_FOLDER": folder, "OUTPUT_TABLE": "TEMPORARY_OUTPUT"})
    return time.perf_counter() - t0, time.process_time() - c0, os.path.join(folder, f"estarfm_{DATES[1]}.tif")


def compare(ours_path, port_path, truth_path):
    """Lines: RMSE, max |diff|, shares of equal pixels between the two, and each one's RMSE against the withheld
    fine image."""
    a, b, t = (gdal.Open(p).ReadAsArray().astype(np.float64) for p in (ours_path, port_path, truth_path))
    a[a == NODATA] = np.nan
    b[b == NODATA] = np.nan
    t[t == NODATA] = np.nan
    lines = []
    for i, name in enumerate(("red", "nir")):
        ok = np.isfinite(a[i]) & np.isfinite(b[i]) & np.isfinite(t[i])
        d = a[i][ok] - b[i][ok]
        lines.append(f"{name}: {ok.sum()} pixels; ours - port: RMSE {np.sqrt(np.mean(d * d)):.3g} DN, max |diff| "
                     f"{np.abs(d).max():.3g} DN, equal as float32 {np.mean(d == 0):.2%}, within 1e-4 DN "
                     f"{np.mean(np.abs(d) <= 1e-4):.2%}, within 0.5 DN {np.mean(np.abs(d) <= 0.5):.2%}; "
                     f"RMSE vs the withheld fine image: ours {np.sqrt(np.mean((a[i][ok] - t[i][ok]) ** 2)):.3f}, "
                     f"port {np.sqrt(np.mean((b[i][ok] - t[i][ok]) ** 2)):.3f} DN")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port", help="path of the port's ESTARFM.py (not part of this repository)")
    ap.add_argument("--python", default=sys.executable, help="the Python that runs the port (needs statsmodels)")
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--patch", type=int, default=500, help="the port's patch size (-p); its default is 500")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench_output", "port_estarfm"))
    ap.add_argument("--repeat", type=int, default=1, help="run ours this many times, report the fastest")
    ap.add_argument("--float64", action="store_true", help="run the port on Float64 copies of the inputs")
    ap.add_argument("--skip-port", action="store_true", help="reuse the port's output and times of an earlier run")
    opts = ap.parse_args(argv)
    out = os.path.abspath(opts.out)
    files = scenario(out, opts.size)
    mp = opts.size * opts.size / 1e6
    print(f"ESTARFM, North Carolina scenario cropped to {opts.size} x {opts.size} ({mp:.3f} MP), 2 bands, w = "
          f"{HALF_WINDOW}, port patch {opts.patch}", flush=True)
    runs = [run_ours(files, out) for _ in range(max(1, opts.repeat))]
    ours_s, ours_cpu, ours_path = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
    print(f"ours: {ours_s:.2f} s wall ({ours_s / mp:.1f} s/MP), {ours_cpu:.2f} s CPU ({ours_cpu / mp:.1f} s/MP)",
          flush=True)
    port_path = os.path.join(out, f"port_p{opts.patch}{'_f64' if opts.float64 else ''}.tif")
    timing = port_path + ".json"
    if opts.skip_port and os.path.exists(timing):
        with open(timing, encoding="utf-8") as fh:
            port_s, port_cpu = json.load(fh)
        print("port: (its output and times of an earlier run)")
    else:
        port_s, port_cpu, port_path = run_port(os.path.abspath(opts.port), opts.python, files, out, opts.patch,
                                               opts.float64)
        with open(timing, "w", encoding="utf-8") as fh:
            json.dump([port_s, port_cpu], fh)
    print(f"port: {port_s:.1f} s wall ({port_s / mp:.0f} s/MP), {port_cpu:.1f} s CPU ({port_cpu / mp:.0f} s/MP); "
          f"ratio port / ours: wall {port_s / ours_s:.0f}x, CPU {port_cpu / ours_cpu:.0f}x (goal >= 50x)", flush=True)
    for line in compare(ours_path, port_path, files[("fine", DATES[1])]):
        print("  " + line)


if __name__ == "__main__":
    main()
