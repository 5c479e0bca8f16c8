"""Inputs of the hostile-input battery: small valid data for every tool, and hostile variants of any raster.

Everything is written once per session into one folder (``Data.root``) and only read by the cases (the
battery checks after every case that this folder, and the Marburg scene in test/data, are unchanged).

Valid data (a 20 x 16 px grid, 30 m, EPSG:32649, unless said otherwise):

* class rasters ``cls1`` / ``cls2`` (Byte, codes 1..5, nodata 0), continuous ``rsei`` / ``eg`` (0..1), a
  five-date series ``rsei_2000`` .. ``rsei_2004`` (0.3 + 0.02 (year - 2000) + 0.001 col: slope 0.02 / yr),
  ``x`` and ``y = 2 x + 1`` (local r = 1), feature rasters ``ndvi`` / ``si1`` (band descriptions = names),
  the four RSEI components, drivers ``x1`` ``x2`` ``x3`` (named like the table fields), a 12-band NDVI stack
  and its land cover (4 x 3 px);
* tables (CSV + .csvt column types): ``samples`` (salt, ndvi, si1, si2, flat, label), ``series``
  (year, value), ``drivers`` (period, y, x1, x2, x3, cat, label);
* a point layer (GeoPackage) on the grid, a zone polygon layer, a Mining Eco model file (random forest on
  ndvi, si1, written by the plugin's own modelfile.dumps) and hostile model files.

Hostile raster variants (``Data.bad(kind, template)``), each checked here to be what it claims:
missing, empty (0 bytes), text (a text file named .tif), truncated (GDAL opens it, reading its data fails),
header (the first 64 bytes of a GeoTIFF: GDAL cannot open it), header_ifd (the directory intact, its
georeferencing, nodata and data cut off: GDAL opens it without CRS and cannot read it), allnodata, naninf (float copy with NaN and
+/-inf pixels), constant, one (1 x 1 px), shifted (half a pixel), crs (same numbers labelled EPSG:3035),
wgs84utm (UTM coordinates labelled EPSG:4326), spaces (a copy in a folder and file name with spaces and
non-ASCII characters).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

import util  # test/qgis/util.py

gdal.UseExceptions()

W, H = 20, 16
PIXEL = 30.0
ORIGIN = (300000.0, 4200000.0)
EPSG = 32649
NODATA = -9999.0
YEARS = (2000, 2001, 2002, 2003, 2004)
SLOPE = 0.02
FEATURES = ("ndvi", "si1")
CASA_T = [2.5, 4.0, 8.3, 14.4, 18.8, 22.6, 24.0, 22.6, 17.9, 12.2, 6.2, 3.1]
CASA_P = [6.0, 10.0, 18.0, 30.0, 50.0, 70.0, 135.0, 115.0, 65.0, 35.0, 17.0, 5.0]
CASA_SOL = [270.0, 300.0, 420.0, 500.0, 560.0, 560.0, 520.0, 480.0, 400.0, 340.0, 270.0, 250.0]
#: size of the zip bomb's member (unpacked); the file itself is a few MB
BOMB_BYTES = 3 * 1024 ** 3
LANDSAT_ID = re.compile(r"L[CETM]0\d_")
KINDS = ("missing", "empty", "text", "truncated", "header", "allnodata", "naninf", "constant", "one", "shifted",
         "crs", "wgs84utm", "spaces")


def wkt_of(epsg):
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    return srs.ExportToWkt()


def read_meta(path):
    """(array as stored, geotransform, wkt, nodata, gdal type, description) of band 1 of ``path``."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(1)
    out = (b.ReadAsArray(), ds.GetGeoTransform(), ds.GetProjection(), b.GetNoDataValue(), b.DataType,
           b.GetDescription())
    del b, ds
    return out


def read_all(path):
    """(every band as stored (bands, rows, cols), geotransform, wkt, nodata of band 1, gdal type, descriptions)."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(1)
    a = ds.ReadAsArray().reshape(ds.RasterCount, ds.RasterYSize, ds.RasterXSize)
    out = (a, ds.GetGeoTransform(), ds.GetProjection(), b.GetNoDataValue(), b.DataType,
           [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)])
    del b, ds
    return out


def write_tif(path, array, gt, wkt, nodata=None, dtype=gdal.GDT_Float32, desc="", strips=False):
    """A GeoTIFF of ``array`` (rows, cols) or (bands, rows, cols), ``desc`` a description or one per band;
    ``strips``: uncompressed, one row per strip, directory first (CreateCopy)."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    descs = [desc] * array.shape[0] if isinstance(desc, str) else list(desc)
    mem = gdal.GetDriverByName("MEM").Create("", array.shape[2], array.shape[1], array.shape[0], dtype)
    mem.SetGeoTransform(gt)
    if wkt:
        mem.SetProjection(wkt)
    for i, layer in enumerate(array):
        band = mem.GetRasterBand(i + 1)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if i < len(descs) and descs[i]:
            band.SetDescription(descs[i])
        band.WriteArray(layer)
        del band
    options = ["TILED=NO", "COMPRESS=NONE", "BLOCKYSIZE=1"] if strips else []
    gdal.GetDriverByName("GTiff").CreateCopy(str(path), mem, options=options)
    del mem
    return str(path)


def grid_gt(pixel=PIXEL, origin=ORIGIN):
    return (origin[0], pixel, 0.0, origin[1], 0.0, -pixel)


def write_grid(path, array, nodata=NODATA, dtype=gdal.GDT_Float32, desc=""):
    return write_tif(path, array, grid_gt(), wkt_of(EPSG), nodata, dtype, desc)


def write_csv(path, header, rows, types):
    """CSV with a .csvt sidecar (OGR reads the column types from it)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    with open(str(path) + "t", "w") as fh:
        fh.write(",".join(f'"{t}"' for t in types))
    return str(path)


def snapshot(folders):
    """{path: (size, sha256 or mtime)} of every file and folder below ``folders`` (hidden ones too)."""
    out = {}
    for folder in folders:
        folder = str(folder)
        if not os.path.exists(folder):
            out[folder] = None
            continue
        for base, dirs, files in os.walk(folder):
            for d in dirs:
                out[os.path.join(base, d)] = ("dir",)
            for f in files:
                p = os.path.join(base, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if st.st_size < (1 << 20):
                    with open(p, "rb") as fh:
                        digest = hashlib.sha256(fh.read()).hexdigest()
                else:
                    digest = st.st_mtime_ns
                out[p] = (st.st_size, digest)
    return out


def diff_snapshots(before, after):
    """Human-readable differences: new, removed and changed paths."""
    lines = []
    for p in sorted(set(before) | set(after)):
        if p not in before:
            lines.append(f"new {p}")
        elif p not in after:
            lines.append(f"removed {p}")
        elif before[p] != after[p]:
            lines.append(f"changed {p}")
    return lines


class Data:
    """The session's valid and hostile inputs, built on first use."""

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self._cache = {}

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def _once(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    # ------------------------------------------------------------------ rasters on the grid
    @property
    def rows_cols(self):
        return np.indices((H, W))

    @property
    def cls1(self):
        def build():
            r, c = self.rows_cols
            return write_grid(self.path("landuse_2000.tif"), 1 + ((r // 4) + (c // 5)) % 5, nodata=0,
                              dtype=gdal.GDT_Byte)
        return self._once("cls1", build)

    @property
    def cls2(self):
        def build():
            r, c = self.rows_cols
            a = 1 + ((r // 4) + (c // 5)) % 5
            a[:4, :5] = 5                                   # 20 px of class 1 became class 5
            return write_grid(self.path("landuse_2010.tif"), a, nodata=0, dtype=gdal.GDT_Byte)
        return self._once("cls2", build)

    def cls1_array(self):
        return read_meta(self.cls1)[0].astype(np.int64)

    def cls2_array(self):
        return read_meta(self.cls2)[0].astype(np.int64)

    @property
    def rsei(self):
        def build():
            r, c = self.rows_cols
            return write_grid(self.path("rsei.tif"), ((r * W + c) / (W * H - 1)).astype(np.float32))
        return self._once("rsei", build)

    @property
    def eg(self):
        def build():
            r, c = self.rows_cols
            return write_grid(self.path("eg.tif"), (((c * H + r) % (W * H)) / (W * H - 1)).astype(np.float32))
        return self._once("eg", build)

    def series_value(self, k):
        _r, c = self.rows_cols
        return (0.3 + SLOPE * k + 0.001 * c).astype(np.float32)

    @property
    def series(self):
        def build():
            return [write_grid(self.path(f"rsei_{y}.tif"), self.series_value(k)) for k, y in enumerate(YEARS)]
        return self._once("series", build)

    @property
    def xy(self):
        def build():
            rng = np.random.default_rng(11)
            x = rng.normal(0.5, 0.2, (H, W)).astype(np.float32)
            return (write_grid(self.path("x.tif"), x), write_grid(self.path("y.tif"), 2 * x + 1))
        return self._once("xy", build)

    @property
    def features(self):
        """{name: path} of the feature rasters of the model (band description = name)."""
        def build():
            rng = np.random.default_rng(5)
            return {n: write_grid(self.path(f"{n}.tif"), rng.uniform(0.05, 0.6, (H, W)).astype(np.float32), desc=n)
                    for n in FEATURES}
        return self._once("features", build)

    @property
    def components(self):
        def build():
            rng = np.random.default_rng(3)
            g = rng.uniform(0.1, 0.8, (H, W))
            parts = {"GREENNESS": g, "WETNESS": 0.5 * g + rng.normal(0, 0.05, (H, W)),
                     "DRYNESS": 0.6 - 0.5 * g + rng.normal(0, 0.05, (H, W)),
                     "HEAT": 35 - 10 * g + rng.normal(0, 1, (H, W))}
            return {k: write_grid(self.path(f"{k.lower()}.tif"), v.astype(np.float32)) for k, v in parts.items()}
        return self._once("components", build)

    @property
    def composites(self):
        """Composites of the RSEI series (the layout of miningeco:composite, util.write_composite): 2013 the real
        Marburg Landsat 8 scene as reflectance + kelvin, 2014-2016 built from it (util.built_year)."""
        def build():
            l8 = util.composite_bands("L8")
            out = [util.write_composite(self.path("composite_2013.tif"), l8, 2013, "OLI")]
            out += [util.write_composite(self.path(f"composite_{2013 + k}.tif"), util.built_year(l8, k), 2013 + k,
                                         "OLI") for k in (1, 2, 3)]
            return out
        return self._once("composites", build)

    def composite_variant(self, kind):
        """A composite of the real 2013 scene that the series must refuse: ``noyear`` (no metadata, no year in its
        name), ``wetset`` (MINING_ECO_WET_SET=MSS), ``year1900`` (MINING_ECO_PERIOD=1900)."""
        def build():
            l8 = util.composite_bands("L8")
            folder = self.path("composite_variants", kind)
            os.makedirs(folder, exist_ok=True)
            if kind == "noyear":
                return util.write_composite(os.path.join(folder, "composite.tif"), l8)
            path = util.write_composite(os.path.join(folder, "composite_2012.tif"), l8, 2012, "OLI")
            ds = gdal.Open(path, gdal.GA_Update)
            key, value = {"wetset": ("MINING_ECO_WET_SET", "MSS"), "year1900": ("MINING_ECO_PERIOD", "1900")}[kind]
            ds.SetMetadataItem(key, value)
            ds = None
            return path
        return self._once(("composite_variant", kind), build)

    @property
    def drivers_rasters(self):
        def build():
            rng = np.random.default_rng(9)
            return {n: write_grid(self.path(f"{n}.tif"), rng.normal(0, 1, (H, W)).astype(np.float32))
                    for n in ("x1", "x2", "x3")}
        return self._once("drivers_rasters", build)

    @property
    def casa(self):
        """(NDVI 12-band stack, land cover) on a 4 x 3 px grid."""
        def build():
            k = np.arange(12)[:, None, None]
            ndvi = (0.15 + 0.5 * np.exp(-0.5 * ((k - 6) / 2.0) ** 2) * np.ones((1, 3, 4))).astype(np.float32)
            path = self.path("ndvi_months.tif")
            ds = gdal.GetDriverByName("GTiff").Create(path, 4, 3, 12, gdal.GDT_Float32)
            ds.SetGeoTransform(grid_gt())
            ds.SetProjection(wkt_of(EPSG))
            for i in range(12):
                b = ds.GetRasterBand(i + 1)
                b.SetNoDataValue(NODATA)
                b.WriteArray(ndvi[i])
                del b
            ds = None
            lc = write_tif(self.path("casa_landcover.tif"), np.array([[1, 1, 2, 2], [1, 2, 2, 4], [4, 4, 1, 2]]),
                           grid_gt(), wkt_of(EPSG), 0, gdal.GDT_Byte)
            return path, lc
        return self._once("casa", build)

    # ------------------------------------------------------------------ tables and vectors
    @property
    def samples(self):
        """40 field samples: salt = 3 ndvi + 2 si1 + noise; si2 noise; flat = 1 (constant); label text."""
        def build():
            rng = np.random.default_rng(21)
            ndvi, si1, si2 = rng.uniform(0.1, 0.6, 40), rng.uniform(0.05, 0.5, 40), rng.normal(0, 1, 40)
            salt = 3 * ndvi + 2 * si1 + rng.normal(0, 0.05, 40)
            rows = [(i + 1, f"{salt[i]:.6f}", f"{ndvi[i]:.6f}", f"{si1[i]:.6f}", f"{si2[i]:.6f}", 1, f"s{i}")
                    for i in range(40)]
            return write_csv(self.path("samples.csv"), ["id", "salt", "ndvi", "si1", "si2", "flat", "label"], rows,
                             ["Integer", "Real", "Real", "Real", "Real", "Real", "String"])
        return self._once("samples", build)

    def samples_variant(self, name, edit):
        """A copy of the samples table whose rows (lists of strings, header first) ``edit`` changes."""
        def build():
            with open(self.samples, newline="") as fh:
                rows = list(csv.reader(fh))
            rows = edit(rows)
            types = open(self.samples + "t").read().replace('"', "").split(",")
            return write_csv(self.path(f"samples_{name}.csv"), rows[0], rows[1:], types)
        return self._once(("samples", name), build)

    @property
    def series_table(self):
        def build():
            return write_csv(self.path("series.csv"), ["year", "value"],
                             [(y, f"{0.4 + 0.01 * (y - 2000):.4f}") for y in range(2000, 2012)], ["Integer", "Real"])
        return self._once("series_table", build)

    def series_variant(self, name, rows, types=("Integer", "Real")):
        return self._once(("series", name), lambda: write_csv(self.path(f"series_{name}.csv"), ["year", "value"],
                                                             rows, list(types)))

    @property
    def drivers(self):
        """60 rows, two periods: y = 2 x1 + x2 + noise (x3 noise), cat = class of x1 (3 classes)."""
        def build():
            rng = np.random.default_rng(4)
            rows = []
            for i in range(60):
                x1, x2, x3 = rng.normal(0, 1, 3)
                y = 2 * x1 + x2 + rng.normal(0, 0.1)
                rows.append((2010 if i < 30 else 2020, f"{y:.6f}", f"{x1:.6f}", f"{x2:.6f}", f"{x3:.6f}",
                             int(np.digitize(x1, [-0.5, 0.5])) + 1, f"r{i}"))
            return write_csv(self.path("drivers.csv"), ["period", "y", "x1", "x2", "x3", "cat", "label"], rows,
                             ["Integer", "Real", "Real", "Real", "Real", "Integer", "String"])
        return self._once("drivers", build)

    def drivers_variant(self, name, edit, types=None):
        def build():
            with open(self.drivers, newline="") as fh:
                rows = list(csv.reader(fh))
            rows = edit(rows)
            t = types or open(self.drivers + "t").read().replace('"', "").split(",")
            return write_csv(self.path(f"drivers_{name}.csv"), rows[0], rows[1:], t)
        return self._once(("drivers", name), build)

    @property
    def points(self):
        """Six points on pixel centres of the grid (EPSG:32649), field 'site'; their (row, col)."""
        def build():
            cells = [(1, 1), (3, 7), (5, 12), (8, 3), (12, 18), (15, 0)]
            path = self.path("points.gpkg")
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
            srs = osr.SpatialReference()
            srs.ImportFromEPSG(EPSG)
            lyr = ds.CreateLayer("points", srs, ogr.wkbPoint)
            lyr.CreateField(ogr.FieldDefn("site", ogr.OFTString))
            for i, (r, c) in enumerate(cells):
                f = ogr.Feature(lyr.GetLayerDefn())
                f.SetField("site", f"p{i}")
                x, y = ORIGIN[0] + (c + 0.5) * PIXEL, ORIGIN[1] - (r + 0.5) * PIXEL
                f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
                lyr.CreateFeature(f)
                f = None
            ds = None
            return path, cells
        return self._once("points", build)

    def kriging_points(self, name="kriging", values=None, count=24):
        """``count`` points inside the grid (EPSG:32649) with a Real field 'value' (a smooth trend plus a fixed
        wiggle, or ``values``)."""
        def build():
            rng = np.random.default_rng(5)
            path = self.path(f"{name}.gpkg")
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
            srs = osr.SpatialReference()
            srs.ImportFromEPSG(EPSG)
            lyr = ds.CreateLayer("samples", srs, ogr.wkbPoint)
            lyr.CreateField(ogr.FieldDefn("value", ogr.OFTReal))
            xs = ORIGIN[0] + rng.uniform(0, W * PIXEL, count)
            ys = ORIGIN[1] - rng.uniform(0, H * PIXEL, count)
            vals = values if values is not None else 0.01 * (xs - ORIGIN[0]) + np.sin(ys / 40.0)
            for x, y, v in zip(xs, ys, vals):
                f = ogr.Feature(lyr.GetLayerDefn())
                f.SetField("value", float(v))
                f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
                lyr.CreateFeature(f)
                f = None
            ds = None
            return path
        return self._once(f"kriging-{name}", build)

    def samples_points(self, name="points", epsg=EPSG, null_at=None):
        """The 40 samples (salt, ndvi, si1) as a point layer in ``epsg`` (UTM coordinates over the grid, also
        when ``epsg`` says otherwise); sample ``null_at`` (0-based) without geometry."""
        def build():
            with open(self.samples, newline="") as fh:
                rows = list(csv.DictReader(fh))
            rng = np.random.default_rng(8)
            path = self.path(f"samples_{name}.gpkg")
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
            srs = osr.SpatialReference()
            srs.ImportFromEPSG(epsg)
            lyr = ds.CreateLayer("samples", srs, ogr.wkbPoint)
            for field in ("salt", "ndvi", "si1"):
                lyr.CreateField(ogr.FieldDefn(field, ogr.OFTReal))
            for i, row in enumerate(rows):
                f = ogr.Feature(lyr.GetLayerDefn())
                for field in ("salt", "ndvi", "si1"):
                    f.SetField(field, float(row[field]))
                if i != null_at:
                    x = ORIGIN[0] + rng.uniform(0, W * PIXEL)
                    y = ORIGIN[1] - rng.uniform(0, H * PIXEL)
                    f.SetGeometry(ogr.CreateGeometryFromWkt(f"POINT ({x} {y})"))
                lyr.CreateFeature(f)
                f = None
            ds = None
            return f"{path}|layername=samples"
        return self._once(("samples_points", name), build)

    def zones(self, name="zones", names=("mine A", "mine B")):
        """Two rectangles over the left and right halves of the grid, field 'name'."""
        def build():
            path = self.path(f"{name}.gpkg")
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
            srs = osr.SpatialReference()
            srs.ImportFromEPSG(EPSG)
            lyr = ds.CreateLayer("zones", srs, ogr.wkbPolygon)
            lyr.CreateField(ogr.FieldDefn("name", ogr.OFTString))
            x0, y0 = ORIGIN
            for i, label in enumerate(names):
                xa, xb = x0 + i * W / 2 * PIXEL, x0 + (i + 1) * W / 2 * PIXEL
                f = ogr.Feature(lyr.GetLayerDefn())
                f.SetField("name", label)
                f.SetGeometry(ogr.CreateGeometryFromWkt(
                    f"POLYGON (({xa} {y0}, {xb} {y0}, {xb} {y0 - H * PIXEL}, {xa} {y0 - H * PIXEL}, {xa} {y0}))"))
                lyr.CreateFeature(f)
                f = None
            ds = None
            return path
        return self._once(("zones", name), build)

    def text_file(self, name, text):
        def build():
            p = self.path(name)
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(text)
            return p
        return self._once(("text", name), build)

    # ------------------------------------------------------------------ products (Scene composite)
    def product(self, kind="folder"):
        """The real Landsat 8 Marburg product (Collection 1 Level-1, test/data/marburg) as delivered, and damaged
        variants: "folder" a copy in a folder of its own (its MTL returned), "tar" the .tar USGS delivers,
        "truncated_tar" the first 40 % of that .tar, "missing_band" the folder without its B5 (NIR) file,
        "random" 4 kB of random bytes named like a .tar, "empty_folder" a folder holding no product."""
        from paths import L8 as SRC
        pid = os.path.basename(SRC)

        def build():
            root = self.path("products", kind)
            if kind == "empty_folder":
                os.makedirs(os.path.join(root, "nothing here"))
                with open(os.path.join(root, "readme.txt"), "w") as fh:
                    fh.write("no product\n")
                return root
            os.makedirs(root)
            if kind == "random":
                p = os.path.join(root, f"{pid}.tar")
                with open(p, "wb") as fh:
                    fh.write(np.random.default_rng(13).integers(0, 256, 4096, dtype=np.uint8).tobytes())
                return p
            folder = os.path.join(root, pid)
            os.makedirs(folder)
            for name in sorted(os.listdir(os.path.dirname(SRC))):
                if name.startswith(pid) and not (kind == "missing_band" and name == f"{pid}_B5.TIF"):
                    shutil.copy(os.path.join(os.path.dirname(SRC), name), folder)
            if kind in ("folder", "missing_band"):
                return os.path.join(folder, f"{pid}_MTL.txt")
            import tarfile
            tar = os.path.join(root, f"{pid}.tar")
            with tarfile.open(tar, "w") as tf:
                for name in sorted(os.listdir(folder)):
                    tf.add(os.path.join(folder, name), arcname=name)
            shutil.rmtree(folder)
            if kind == "truncated_tar":
                size = os.path.getsize(tar)
                with open(tar, "r+b") as fh:
                    fh.truncate(int(size * 0.4))
            return tar
        return self._once(("product", kind), build)

    def area(self, kind):
        """Study areas (EPSG:4326 GeoPackages): "empty" a polygon layer without features, "far" a square
        near Sydney, far from the Marburg scene, "marburg" a square inside the Marburg scene."""
        def build():
            path = self.path(f"area_{kind}.gpkg")
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
            srs = osr.SpatialReference()
            srs.ImportFromEPSG(4326)
            lyr = ds.CreateLayer("area", srs, ogr.wkbPolygon)
            boxes = {"empty": [], "far": [(151.0, -34.0, 151.01, -33.99)],
                     "marburg": [(8.766, 50.799, 8.776, 50.806)]}[kind]
            for x0, y0, x1, y1 in boxes:
                f = ogr.Feature(lyr.GetLayerDefn())
                f.SetGeometry(ogr.CreateGeometryFromWkt(
                    f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"))
                lyr.CreateFeature(f)
                f = None
            ds = None
            return path
        return self._once(("area", kind), build)

    # ------------------------------------------------------------------ model files
    def model_parts(self):
        """(estimator, features X, metadata dict, model bytes) of a small random forest on ndvi, si1."""
        def build():
            from sklearn.ensemble import RandomForestRegressor
            from mining_eco_plugin.core import modelfile
            rng = np.random.default_rng(2)
            X = rng.uniform(0.05, 0.6, (50, 2))
            y = 3 * X[:, 0] + 2 * X[:, 1]
            est = RandomForestRegressor(n_estimators=10, random_state=1).fit(X, y)
            bundle = modelfile.ModelBundle(est, list(FEATURES), "salt", "g/kg", "rf",
                                           {"validation": {"n": 10, "r2": 0.9, "rmse": 0.1, "mae": 0.1}},
                                           probe=X[:modelfile.PROBE_ROWS])
            data = modelfile.dumps(bundle)
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                meta = json.loads(z.read(modelfile.META_MEMBER))
                model = z.read(modelfile.MODEL_MEMBER)
            with open(self.path("salt_rf.model"), "wb") as fh:
                fh.write(data)
            return est, meta, model
        return self._once("model_parts", build)

    @property
    def model(self):
        self.model_parts()
        return self.path("salt_rf.model")

    def _zip(self, name, members):
        p = self.path(name)
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
            for member, data in members:
                z.writestr(member, data)
        return p

    def model_variant(self, kind):
        """Hostile model files: pickle, meta_features (metadata features edited), metrics_list (metrics [1, 2]),
        skops_dict (the model member is a skops file of a dict, hash recorded), altered (model bytes changed),
        format99, no_members (an empty zip), bomb (see ``bomb``)."""
        def build():
            import pickle
            _est, meta, model = self.model_parts()
            if kind == "pickle":
                p = self.path("pickle.model")
                with open(p, "wb") as fh:
                    pickle.dump({"estimator": "x"}, fh, protocol=4)
                return p
            if kind == "bomb":
                return self.bomb
            meta = json.loads(json.dumps(meta))
            if kind == "meta_features":
                meta["features"] = ["si1", "ndvi", "ndvi"]      # edited after writing: hash covers the model only
            elif kind == "metrics_list":
                meta["metrics"] = [1, 2]
            elif kind == "skops_dict":
                import skops.io as sio
                model = sio.dumps({"features": ["ndvi"], "estimator": None})
                meta["sha256"] = hashlib.sha256(model).hexdigest()
            elif kind == "altered":
                model = model[:-40] + bytes(40)
            elif kind == "format99":
                meta["format_version"] = 99
            elif kind == "no_members":
                return self._zip("no_members.model", [])
            return self._zip(f"{kind}.model", [("metadata.json", json.dumps(meta)), ("model.skops", model)])
        return self._once(("model", kind), build)

    @property
    def bomb(self):
        """A valid-looking model file whose model.skops member unpacks to BOMB_BYTES of zeros; metadata is the real
        model's. Built in about a second without holding it: a deflate stream of one 1 MiB chunk of zeros
        compressed after a full flush (so every chunk compresses to the same bytes) repeated, in a zip written
        here (local header, data, central directory); checked by reading its start back with zipfile."""
        def build():
            import struct
            import zlib
            _est, meta, _model = self.model_parts()
            chunk = bytes(1 << 20)
            n = BOMB_BYTES // len(chunk)
            comp = zlib.compressobj(9, zlib.DEFLATED, -15)
            block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
            tail = comp.flush(zlib.Z_FINISH)
            crc = 0
            for _ in range(n):
                crc = zlib.crc32(chunk, crc)
            meta_bytes = json.dumps(meta).encode()
            members = [("metadata.json", 0, meta_bytes, zlib.crc32(meta_bytes), len(meta_bytes), len(meta_bytes)),
                       ("model.skops", 8, None, crc, len(block) * n + len(tail), BOMB_BYTES)]
            p = self.path("bomb.model")
            central = b""
            with open(p, "wb") as fh:
                for name, method, data, crc_, csize, usize in members:
                    offset = fh.tell()
                    fname = name.encode()
                    fh.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc_, csize, usize,
                                         len(fname), 0) + fname)
                    if data is not None:
                        fh.write(data)
                    else:
                        for _ in range(n):
                            fh.write(block)
                        fh.write(tail)
                    central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc_, csize,
                                           usize, len(fname), 0, 0, 0, 0, 0, offset) + fname
                start = fh.tell()
                fh.write(central)
                fh.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 2, 2, len(central), start, 0))
            with zipfile.ZipFile(p) as z:
                assert z.getinfo("model.skops").file_size == BOMB_BYTES
                with z.open("model.skops") as fh:
                    assert fh.read(8 << 20) == bytes(8 << 20)
                assert json.loads(z.read("metadata.json")) == meta
            assert os.path.getsize(p) < 8 * 1024 ** 2, os.path.getsize(p)
            return p
        return self._once("bomb", build)

    # ------------------------------------------------------------------ MTL variants
    def mtl_variant(self, kind):
        """A copy of the Landsat 8 MTL (same file name, own folder): nan (REFLECTANCE_MULT_BAND_4 = NaN), inf
        (RADIANCE_MULT_BAND_10 = inf), negk1 (K1_CONSTANT_BAND_10 negative), nokeys (reflectance keys of band 4
        removed), empty (0 bytes), binary (random bytes)."""
        def build():
            src = util.mtl_path("L8")
            folder = self.path(f"mtl_{kind}")
            os.makedirs(folder, exist_ok=True)
            dst = os.path.join(folder, os.path.basename(src))
            text = open(src, encoding="utf-8").read()
            lines = text.splitlines(keepends=True)

            def set_key(key, value):
                return "".join(f"{ln.split('=')[0]}= {value}\n" if ln.strip().startswith(key + " ") else ln
                               for ln in lines)
            if kind == "nan":
                text = set_key("REFLECTANCE_MULT_BAND_4", "NaN")
            elif kind == "inf":
                text = set_key("RADIANCE_MULT_BAND_10", "inf")
            elif kind == "negk1":
                text = set_key("K1_CONSTANT_BAND_10", "-774.8853")
            elif kind == "nokeys":
                text = "".join(ln for ln in lines if "_BAND_4 " not in ln)
            elif kind == "empty":
                text = ""
            if kind == "binary":
                with open(dst, "wb") as fh:
                    fh.write(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
            else:
                with open(dst, "w", encoding="utf-8") as fh:
                    fh.write(text)
                assert kind in ("empty",) or text != open(src, encoding="utf-8").read(), kind
            return dst
        return self._once(("mtl", kind), build)

    def scene_as(self, kind):
        """Band files for the radiometry mix-ups, named like the scene they pretend to be:
        s2 (Sentinel-2 L2A DN = 10000 reflectance + 1000 of the Marburg TOA reflectances, named *_B04_10m.tif
        ...), l8_as_l7 (the Landsat 8 DN under Landsat 7 file names, for the Landsat 7 MTL)."""
        def build():
            folder = self.path(f"scene_{kind}")
            os.makedirs(folder, exist_ok=True)
            out = {}
            if kind == "s2":
                refl = util.reflectances("L8")
                names = {"BLUE": "B02", "GREEN": "B03", "RED": "B04", "NIR": "B08", "SWIR1": "B11", "SWIR2": "B12"}
                for role, band in names.items():
                    _a, gt, wkt, _nd, _t, _d = read_meta(util.band_path("L8", role))
                    dn = np.where(np.isfinite(refl[role]), np.round(refl[role] * 10000 + 1000), 0)
                    out[role] = write_tif(os.path.join(folder, f"T32UMB_20130707T103021_{band}_10m.tif"),
                                          dn.astype(np.uint16), gt, wkt, 0, gdal.GDT_UInt16)
            elif kind == "l8_as_l7":
                for role, bid in util.BANDS["L7"].items():
                    src = util.band_path("L8", role)
                    out[role] = os.path.join(folder, os.path.basename(util.band_path("L7", role)))
                    shutil.copyfile(src, out[role])
            return out
        return self._once(("scene", kind), build)

    # ------------------------------------------------------------------ products (PRODUCT of the scene tools)
    def scene_product(self, kind):
        """A scene product as downloaded or a hostile stand-in (test/productdata.py builds them from the real
        scenes): l8_tar (the real Marburg L8 Collection 1 product as its .tar), random (random bytes named like a
        Landsat .tar), empty_tar (a valid tar without members), truncated_tar (the L8 .tar cut in the middle of
        its B7 member, the MTL first and intact), folder (a folder of rasters that is no product), s2_no_scl (an
        S2 L2A .zip without its SCL files)."""
        import tarfile

        import productdata as pd

        def build():
            folder = self.path("scene_products", kind)
            os.makedirs(folder, exist_ok=True)
            tar = os.path.join(folder, f"{pd.L8}.tar")
            if kind == "l8_tar":
                return str(pd.landsat_tar(Path(folder), pd.L8))
            if kind == "random":
                with open(tar, "wb") as fh:
                    fh.write(np.random.default_rng(3).integers(0, 256, 20000, dtype=np.uint8).tobytes())
                return tar
            if kind == "empty_tar":
                with tarfile.open(tar, "w"):
                    pass
                return tar
            if kind == "truncated_tar":
                pd.write_tar(Path(tar), Path(util.MARBURG).glob(pd.L8 + "_*"), first="_MTL.txt")
                with tarfile.open(tar) as tf:
                    m = tf.getmember(f"{pd.L8}_B7.TIF")
                    cut = m.offset_data + m.size // 2
                with open(tar, "rb") as fh:
                    data = fh.read()[:cut]
                with open(tar, "wb") as fh:
                    fh.write(data)
                return tar
            if kind == "folder":
                for name in ("a.tif", "b.tif"):
                    shutil.copyfile(util.band_path("L8", "RED"), os.path.join(folder, name))
                return folder
            if kind == "s2_no_scl":
                safe = pd.write_safe_gridded(Path(folder) / "src")
                z = pd.zip_safe(safe, Path(folder) / f"{pd.S2_NAME}.zip", skip=("_SCL_20m.jp2", "_SCL_60m.jp2"))
                shutil.rmtree(safe.parent)
                return str(z)
            raise ValueError(kind)
        return self._once(("scene_product", kind), build)

    # ------------------------------------------------------------------ hostile raster variants
    def bad(self, kind, template):
        """A hostile variant ``kind`` (see the module docstring) of the raster ``template``."""
        return self._once(("bad", kind, template), lambda: self._bad(kind, str(template)))

    def _bad(self, kind, template):
        stem = os.path.splitext(os.path.basename(template))[0]
        folder = self.path("bad", kind)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{stem}.tif")
        if kind == "missing":
            return os.path.join(folder, f"{stem}_does_not_exist.tif")
        if kind == "empty":
            open(path, "wb").close()
            return path
        if kind == "text":
            with open(path, "w") as fh:
                fh.write("site,salt\nA,1.2\nThis is a CSV table saved with a .tif extension.\n")
            return path
        a, gt, wkt, nd, dtype, desc = read_all(template)      # a: (bands, rows, cols)
        if kind == "truncated":
            full = write_tif(os.path.join(folder, f"{stem}_full.tif"), a, gt, wkt, nd, dtype, desc, strips=True)
            data = open(full, "rb").read()
            os.remove(full)
            with open(path, "wb") as fh:
                fh.write(data[:len(data) - max(64, len(data) // 3)])
            ds = gdal.Open(path)                     # the header and directory are intact ...
            try:
                ds.ReadAsArray()                     # ... the data are not
            except RuntimeError:
                pass
            else:
                raise AssertionError(f"{path}: truncation left the data readable")
            finally:
                ds = None
            return path
        if kind == "header":
            shutil.copyfile(template, path)
            with open(path, "r+b") as fh:
                fh.truncate(64)
            try:
                gdal.Open(path)
            except RuntimeError:
                return path
            raise AssertionError(f"{path}: GDAL still opens the header-truncated file")
        if kind == "header_ifd":
            # the directory is complete but what it points to (georeferencing keys, nodata, data) is cut off: GDAL
            # opens it without CRS and cannot read a pixel
            full = write_tif(os.path.join(folder, f"{stem}_full.tif"), a, gt, wkt, nd, dtype, desc, strips=True)
            data = open(full, "rb").read()
            os.remove(full)
            import struct
            ifd = struct.unpack("<I", data[4:8])[0]
            end = ifd + 2 + 12 * struct.unpack("<H", data[ifd:ifd + 2])[0] + 4
            gdal.PushErrorHandler("CPLQuietErrorHandler")
            try:
                for cut in range(end + 16, min(len(data), end + 4096), 8):    # the first cut GDAL still opens
                    with open(path, "wb") as fh:
                        fh.write(data[:cut])
                    try:
                        ds = gdal.Open(path)
                    except RuntimeError:
                        continue
                    assert not ds.GetProjection(), f"{path}: still georeferenced"
                    try:
                        ds.ReadAsArray()
                    except RuntimeError:
                        return path
                    finally:
                        ds = None
                raise AssertionError(f"{path}: no cut gives an openable, unreadable file")
            finally:
                gdal.PopErrorHandler()
        if kind == "allnodata":
            fill = nd if nd is not None else NODATA
            return write_tif(path, np.full(a.shape, fill, dtype=a.dtype if nd is not None else np.float32), gt, wkt,
                             fill, dtype if nd is not None else gdal.GDT_Float32, desc)
        if kind == "naninf":
            f = a.astype(np.float32)
            if nd is not None:
                f[a == nd] = NODATA
            f[:, 0, 0], f[:, 1, 1], f[:, 2, 2] = np.nan, np.inf, -np.inf
            return write_tif(path, f, gt, wkt, NODATA, gdal.GDT_Float32, desc)
        if kind == "constant":
            valid = a[a != nd] if nd is not None else a.ravel()
            value = np.median(valid) if valid.size else 1
            return write_tif(path, np.full(a.shape, value, dtype=a.dtype), gt, wkt, nd, dtype, desc)
        if kind == "one":
            return write_tif(path, a[:, :1, :1], gt, wkt, nd, dtype, desc)
        if kind == "shifted":
            g = list(gt)
            g[0] += gt[1] / 2
            return write_tif(path, a, tuple(g), wkt, nd, dtype, desc)
        if kind == "crs":
            return write_tif(path, a, gt, wkt_of(3035), nd, dtype, desc)
        if kind == "wgs84utm":
            return write_tif(path, a, gt, wkt_of(4326), nd, dtype, desc)
        if kind == "spaces":
            folder = self.path("bad", "dir with spaces ü é 漢")
            os.makedirs(folder, exist_ok=True)
            # a Landsat product id must stay the file name (the MTL check compares them): spaces in the folder only
            name = os.path.basename(template) if LANDSAT_ID.match(stem) else f"{stem} copie é ü.tif"
            p = os.path.join(folder, name)
            shutil.copyfile(template, p)
            return p
        raise KeyError(kind)
