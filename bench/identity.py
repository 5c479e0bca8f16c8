"""Pixel identity of the raster tools between two checkouts (issue 12: moving the tools onto the block executor
must not change a single value).

    .venv/bin/python bench/identity.py run OUT_DIR [--plugin CHECKOUT] [--only NAME ...]
    .venv/bin/python bench/identity.py compare DIR_A DIR_B

``run`` runs every case of ``bench/identity_cases/*.py`` through processing.run with the plugin of CHECKOUT (this
checkout by default) and writes the outputs to OUT_DIR/<case>/. ``compare`` compares every GeoTIFF of DIR_A with
the same file of DIR_B: same shape, same nodata, same values (NaN where nodata), and every CSV cell (numbers to
1e-12 relative: table sums may combine in another order). It prints one line per file and exits 1 on any
difference. Run it with MINING_ECO_EXECUTOR=processes to compare the executors.

A case module defines ``CASES``: {name: function(data, out) -> (algorithm id, parameters)}; ``data`` is a
:class:`Data` (inputs generated once into bench_output/identity_data/), ``out`` the case's output folder.
"""
from __future__ import annotations

import csv
import importlib.util
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA_DIR = os.path.join(ROOT, "bench_output", "identity_data")


class Data:
    """Inputs shared by the cases, generated once (deterministic seeds) or taken from the bundled real data."""

    def __init__(self, folder=DATA_DIR):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        sys.path.insert(0, os.path.join(ROOT, "test", "qgis"))
        import util
        self.util = util

    def path(self, name):
        return os.path.join(self.folder, name)

    def scene_params(self, sensor="L8", roles=("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2", "THERMAL")):
        """Band and MTL parameters of the real Landsat scene bundled in test/data (Marburg, 41 x 41 px)."""
        return self.util.scene_params(sensor, roles)

    def bench_scene(self, size=1500):
        """The synthetic Level-2 scene of bench/scene.py (7 Int16 bands, nodata fill), ``size`` x ``size``."""
        sys.path.insert(0, HERE)
        import scene
        path = self.path(f"scene_{size}.tif")
        if not scene.scene_ok(path, size):
            scene.generate(path, size, log=lambda *_: None)
        return path

    def floats(self, name, shape=(600, 700), seed=0, nan_every=97, low=0.0, high=1.0):
        """A float32 raster with NaN (nodata) sprinkled in, EPSG:32649, 30 m."""
        import numpy as np
        from osgeo import gdal
        path = self.path(f"{name}.tif")
        if not os.path.exists(path):
            rng = np.random.default_rng(seed)
            a = (low + (high - low) * rng.random(shape)).astype(np.float32)
            a.ravel()[::nan_every] = np.nan
            self.util.write_raster(path, [a], dtype=gdal.GDT_Float32, nodata=-9999.0)
        return path

    def classes(self, name, shape=(600, 700), k=6, seed=0, patch=10, nodata_every=101, epsg=32649,
                geotransform=None):
        """A Byte class raster with codes 1..k in ``patch``-pixel patches, nodata 0 at every ``nodata_every``-th
        pixel (EPSG ``epsg``, 30 m unless ``geotransform``)."""
        import numpy as np
        from osgeo import gdal
        path = self.path(f"{name}.tif")
        if not os.path.exists(path):
            rng = np.random.default_rng(seed)
            small = rng.integers(1, k + 1, (shape[0] // patch + 1, shape[1] // patch + 1))
            a = np.kron(small, np.ones((patch, patch), dtype=np.int64))[:shape[0], :shape[1]].astype(np.uint8)
            a.ravel()[::nodata_every] = 0
            self.util.write_raster(path, [a], dtype=gdal.GDT_Byte, nodata=0, epsg=epsg, geotransform=geotransform)
        return path

    def real_landcover(self):
        """The real land-cover map of the GRASS North Carolina set (489 x 443 px, codes 1..7)."""
        return os.path.join(ROOT, "test", "data", "north_carolina", "strata.tif")


def load_cases():
    cases = {}
    folder = os.path.join(HERE, "identity_cases")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py") and not name.startswith("_"):
            spec = importlib.util.spec_from_file_location(f"identity_cases.{name[:-3]}", os.path.join(folder, name))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            for key, fn in module.CASES.items():
                if key in cases:
                    raise SystemExit(f"identity case {key} defined twice")
                cases[key] = fn
    return cases


def run(out_dir, plugin_root, only=()):
    sys.path[:0] = [plugin_root, "/usr/share/qgis/python/plugins"]
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    import processing
    from processing.core.Processing import Processing
    Processing.initialize()
    from mining_eco_plugin.provider import MiningEcoProvider
    provider = MiningEcoProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    import mining_eco_plugin
    print(f"plugin: {os.path.dirname(mining_eco_plugin.__file__)}")
    data = Data()
    failed = 0
    for name, fn in load_cases().items():
        if only and name not in only:
            continue
        out = os.path.join(os.path.abspath(out_dir), name)
        os.makedirs(out, exist_ok=True)
        alg, params = fn(data, out)
        t0 = time.perf_counter()
        try:
            processing.run(alg, params)
        except Exception as err:  # noqa: BLE001 - report and go on with the other cases
            failed += 1
            print(f"FAIL {name}: {err}")
            continue
        print(f"ran  {name} ({alg}) in {time.perf_counter() - t0:.2f} s")
    QgsApplication.processingRegistry().removeProvider(provider)
    return 1 if failed else 0


def _read(path):
    import numpy as np
    from osgeo import gdal
    ds = gdal.Open(path)
    arrays, nodatas = [], []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        a = band.ReadAsArray().astype(np.float64)
        nd = band.GetNoDataValue()
        if nd is not None:
            a[a == nd] = np.nan
        arrays.append(a)
        nodatas.append(nd)
    return np.stack(arrays), nodatas, ds.GetGeoTransform(), ds.GetProjection()


def _same_cell(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) and math.isnan(y):
        return True
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-300)


def compare(dir_a, dir_b):
    import numpy as np
    bad = checked = 0
    for case in sorted(os.listdir(dir_a)):
        top = os.path.join(dir_a, case)
        # files of output folders too (estarfm's fused images)
        names = sorted(os.path.relpath(os.path.join(root, f), top) for root, _dirs, files in os.walk(top)
                       for f in files)
        for name in names:
            pa, pb = os.path.join(dir_a, case, name), os.path.join(dir_b, case, name)
            if name.endswith((".tif", ".csv")) and not os.path.exists(pb):
                print(f"DIFF {case}/{name}: missing in {dir_b}")
                bad += 1
                continue
            if name.endswith(".tif"):
                a, nda, gta, wa = _read(pa)
                b, ndb, gtb, wb = _read(pb)
                checked += 1
                if a.shape != b.shape or nda != ndb or gta != gtb:
                    print(f"DIFF {case}/{name}: shape / nodata / geotransform {a.shape} {b.shape} {nda} {ndb}")
                    bad += 1
                elif not np.array_equal(a, b, equal_nan=True):
                    n = int(np.count_nonzero(~((a == b) | (np.isnan(a) & np.isnan(b)))))
                    print(f"DIFF {case}/{name}: {n} of {a.size} values differ (max |d| "
                          f"{np.nanmax(np.abs(a - b)):.3g})")
                    bad += 1
                else:
                    print(f"same {case}/{name}: {a.size} values")
            elif name.endswith(".csv"):
                with open(pa, newline="") as fa, open(pb, newline="") as fb:
                    ra, rb = list(csv.reader(fa)), list(csv.reader(fb))
                checked += 1
                if len(ra) != len(rb) or any(len(x) != len(y) or not all(map(_same_cell, x, y))
                                             for x, y in zip(ra, rb)):
                    print(f"DIFF {case}/{name}: table cells differ")
                    bad += 1
                else:
                    print(f"same {case}/{name}: {sum(map(len, ra))} cells")
    print(f"{checked} files compared, {bad} differ")
    return 1 if bad or not checked else 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "run":
        plugin = ROOT
        only = []
        rest = argv[2:]
        if "--plugin" in rest:
            i = rest.index("--plugin")
            plugin = os.path.abspath(rest[i + 1])
            del rest[i:i + 2]
        if "--only" in rest:
            only = rest[rest.index("--only") + 1:]
        return run(argv[1], plugin, only)
    if len(argv) == 3 and argv[0] == "compare":
        return compare(argv[1], argv[2])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
