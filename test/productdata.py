"""Test products for issue 13 (product input, ``miningeco:composite``, series): builders that write Landsat and
Sentinel-2 products as USGS and ESA deliver them, from the real pixels and the real MTL text of test/data.

Shared by unit tests and QGIS tests (``test/`` is on sys.path: ``import productdata``). Pure Python + GDAL + numpy
(+ scipy.ndimage for the cloud blobs). Its own tests: test/unit/test_productdata.py.

Real scenes (Landsat imagery courtesy of the U.S. Geological Survey; see test/data/README.md):

* ``L8``  Marburg, Landsat 8 OLI/TIRS 2013-07-07, Collection 1 L1TP, 41 x 41 px, EPSG:32632, path/row 195/025;
* ``L7``  Marburg, Landsat 7 ETM+ 2001-07-30, same grid;
* ``L5``  Ethiopia, Landsat 5 TM 2000-03-09, Collection 1 L1TP, 101 x 101 px, EPSG:32637, path/row 167/055;
* ``PRE`` Ethiopia, Landsat 5 TM 2010-12-18, pre-collection L1T (radiance-only MTL), same grid.

What is real and what is built is said in every builder's docstring. In short: every pixel value of a written
product is derived from the real DN of one of these scenes by a documented formula, except where a builder says
it is replaced (clouds, shadows, fill, caller's ``pixels``); metadata text is the real MTL with documented edits,
or (Collection 2) written in the USGS group / key layout with values taken from the real MTL.
"""
from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
from osgeo import gdal

DATA = Path(__file__).resolve().parent / "data"
L8 = "LC08_L1TP_195025_20130707_20170503_01_T1"
L7 = "LE07_L1TP_195025_20010730_20170204_01_T1"
L5 = "LT05_L1TP_167055_20000309_20161214_01_T1"
PRE = "LT51670552010352MLK00"

# ------------------------------------------------------------------------------------------------------------
# Small readers
# ------------------------------------------------------------------------------------------------------------
def read_text(p) -> str:
    return Path(p).read_bytes().replace(b"\x00", b"").decode("latin-1")


def pixels(path) -> np.ndarray:
    ds = gdal.Open(str(path))
    assert ds is not None, path
    a = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    return a


def copy_scene(src_dir: Path, prefix: str, dst: Path) -> Path:
    """Copy every real file of scene ``prefix`` (bands, QA, MTL) unchanged into ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in src_dir.glob(prefix + "_*"):
        shutil.copy(f, dst / f.name)
    return dst

# ------------------------------------------------------------------------------------------------------------
# Collection 2 samples built from the real Marburg L8 MTL
# ------------------------------------------------------------------------------------------------------------
def c2_mtl_text(level: str) -> tuple[str, str]:
    """(product id, MTL text) of a Collection 2 product built from the real L8 Collection 1 MTL."""
    t = read_text(DATA / "marburg" / f"{L8}_MTL.txt")
    pid = L8.replace("_L1TP_", "_L2SP_" if level == "L2" else "_L1TP_").replace("_01_T1", "_02_T1")
    t = t.replace(L8, pid).replace("L1_METADATA_FILE", "LANDSAT_METADATA_FILE")
    t = t.replace("COLLECTION_NUMBER = 01", "COLLECTION_NUMBER = 02")
    t = t.replace("GROUP = RADIOMETRIC_RESCALING", "GROUP = LEVEL1_RADIOMETRIC_RESCALING")
    t = t.replace("GROUP = TIRS_THERMAL_CONSTANTS", "GROUP = LEVEL1_THERMAL_CONSTANTS")
    t = t.replace(f'FILE_NAME_BAND_QUALITY = "{pid}_BQA.TIF"', f'FILE_NAME_QUALITY_L1_PIXEL = "{pid}_QA_PIXEL.TIF"')
    t = t.replace('DATA_TYPE = "L1TP"', f'PROCESSING_LEVEL = "{"L2SP" if level == "L2" else "L1TP"}"')
    if level == "L2":
        for b in range(1, 8):
            t = t.replace(f'FILE_NAME_BAND_{b} = "{pid}_B{b}.TIF"', f'FILE_NAME_BAND_{b} = "{pid}_SR_B{b}.TIF"')
        t = t.replace(f'FILE_NAME_BAND_10 = "{pid}_B10.TIF"', f'FILE_NAME_BAND_ST_B10 = "{pid}_ST_B10.TIF"')
        l2 = ["  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"]
        for b in range(1, 8):
            l2 += [f"    REFLECTANCE_MULT_BAND_{b} = 2.75E-05", f"    REFLECTANCE_ADD_BAND_{b} = -0.200000"]
        l2 += ["  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",
               "  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",
               "    TEMPERATURE_MULT_BAND_ST_B10 = 0.00341802", "    TEMPERATURE_ADD_BAND_ST_B10 = 149.0",
               "  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"]
        # in a real C2 L2 MTL the L2 groups come before the LEVEL1_ groups (same key names in both)
        t = t.replace("  GROUP = MIN_MAX_RADIANCE", "\n".join(l2) + "\n  GROUP = MIN_MAX_RADIANCE", 1)
    return pid, t


def odl_to_tree(text: str):
    """Nested dict of ODL text (this test's own walker), for writing the XML and JSON encodings."""
    root: dict = {}
    stack = [root]
    for line in text.splitlines():
        m = re.match(r'^\s*(\w+)\s*=\s*"?(.*?)"?\s*$', line)
        if not m:
            continue
        k, v = m.groups()
        if k == "GROUP":
            stack[-1][v] = {}
            stack.append(stack[-1][v])
        elif k == "END_GROUP":
            stack.pop()
        else:
            stack[-1][k] = v
    return root


def tree_to_xml(tree: dict) -> str:
    def el(k, v):
        if isinstance(v, dict):
            return f"<{k}>" + "".join(el(a, b) for a, b in v.items()) + f"</{k}>\n"
        return f"<{k}>{v}</{k}>\n"
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "".join(el(k, v) for k, v in tree.items())


def write_c2(dst: Path, level: str, encoding: str = "txt") -> tuple[str, str]:
    """A C2 product folder (real L8 pixels under C2 names) with its MTL in ``encoding``; (pid, MTL text)."""
    pid, text = c2_mtl_text(level)
    dst.mkdir(parents=True, exist_ok=True)
    for f in (DATA / "marburg").glob(L8 + "_B*.TIF"):
        band = f.name[len(L8) + 1:]
        if band == "BQA.TIF":
            band = "QA_PIXEL.TIF"
        elif level == "L2" and band in {f"B{b}.TIF" for b in range(1, 8)}:
            band = "SR_" + band
        elif level == "L2" and band == "B10.TIF":
            band = "ST_B10.TIF"
        shutil.copy(f, dst / f"{pid}_{band}")
    if encoding == "txt":
        (dst / f"{pid}_MTL.txt").write_text(text)
    elif encoding == "xml":
        (dst / f"{pid}_MTL.xml").write_text(tree_to_xml(odl_to_tree(text)))
    else:
        (dst / f"{pid}_MTL.json").write_text(json.dumps(odl_to_tree(text), indent=2))
    return pid, text

# ------------------------------------------------------------------------------------------------------------
# Sentinel-2 L2A .SAFE carrying Landsat 8 DN unchanged (product-layout tests; see write_s2_product for reflectance)
# ------------------------------------------------------------------------------------------------------------
S2_NAME = "S2A_MSIL2A_20220615T103631_N0400_R008_T32UMB_20220615T170000"
GRANULE = "L2A_T32UMB_A036500_20220615T104100"
TILE = "T32UMB_20220615T103631"
# real Landsat 8 pixels standing in for the MSI bands of the same role (B2->B02, ..., B6->B11, B7->B12)
S2_FROM_L8 = {"B02": "B2", "B03": "B3", "B04": "B4", "B08": "B5", "B11": "B6", "B12": "B7", "SCL": "BQA"}
S2_LAYOUT = {"R10m": ("B02", "B03", "B04", "B08"), "R20m": ("B02", "B03", "B04", "B11", "B12", "SCL"),
             "R60m": ("B02", "B03", "B04", "B11", "B12", "SCL")}


def mtd_xml(baseline="04.00", offsets=True, files=(), start="2022-06-15T10:36:31.024Z", name=None) -> str:
    """A minimal MTD_MSIL2A.xml with the ESA element names (built)."""
    off = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>\n' for i in range(13)) if offsets else ""
    imgs = "".join(f"<IMAGE_FILE>{f}</IMAGE_FILE>\n" for f in files)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info><Product_Info>
<PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
<PRODUCT_URI>{name or S2_NAME}.SAFE</PRODUCT_URI><PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
<PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE><PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
<Datatake><SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME></Datatake>
<Product_Organisation><Granule_List><Granule>{imgs}</Granule></Granule_List></Product_Organisation>
</Product_Info>
<Product_Image_Characteristics>
<QUANTIFICATION_VALUES_LIST><BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
</QUANTIFICATION_VALUES_LIST>
<BOA_ADD_OFFSET_VALUES_LIST>{off}</BOA_ADD_OFFSET_VALUES_LIST>
</Product_Image_Characteristics></n1:General_Info>
</n1:Level-2A_User_Product>
"""


def write_safe(root: Path, baseline="04.00", offsets=True, skip=()) -> Path:
    """A .SAFE whose band files are the real Landsat 8 DN (lossless JP2), unchanged, under ESA names
    (:data:`S2_FROM_L8`); SCL carries the real BQA values. For layout tests only: the DN are not S2 reflectance."""
    safe = root / f"{S2_NAME}.SAFE"
    drv = gdal.GetDriverByName("JP2OpenJPEG")
    rels = []
    for res, bands in S2_LAYOUT.items():
        d = safe / "GRANULE" / GRANULE / "IMG_DATA" / res
        d.mkdir(parents=True, exist_ok=True)
        for b in bands:
            if (res, b) in skip or b in skip:
                continue
            rel = f"GRANULE/{GRANULE}/IMG_DATA/{res}/{TILE}_{b}_{res[1:]}"
            src = gdal.Open(str(DATA / "marburg" / f"{L8}_{S2_FROM_L8[b]}.TIF"))
            out = drv.CreateCopy(str(safe / (rel + ".jp2")), src, options=["REVERSIBLE=YES", "QUALITY=100"])
            out = src = None
            rels.append(rel)
    (safe / "MTD_MSIL2A.xml").write_text(mtd_xml(baseline, offsets, rels))
    return safe




# ------------------------------------------------------------------------------------------------------------
# Real scenes, grids, real values
# ------------------------------------------------------------------------------------------------------------
from dataclasses import dataclass, field  # noqa: E402  (grouped with the part of the module that uses them)
import datetime as _dt  # noqa: E402
import os  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402

from scipy import ndimage  # noqa: E402

from mining_eco_plugin.core import radiometry as _rad  # noqa: E402
from mining_eco_plugin.core.sensors import SENSORS  # noqa: E402


@dataclass(frozen=True)
class Grid:
    """A north-up grid: EPSG code, upper-left corner (m), size in pixels, pixel size (m)."""
    epsg: int
    x0: float
    y0: float
    width: int
    height: int
    res: float = 30.0

    @property
    def geotransform(self):
        return (self.x0, self.res, 0.0, self.y0, 0.0, -self.res)

    @property
    def shape(self):
        return (self.height, self.width)

    def window(self, col: int, row: int, width: int, height: int) -> "Grid":
        """The grid of ``width x height`` pixels starting at pixel (``col``, ``row``) of this one (may lie
        partly outside it; same pixel phase)."""
        return Grid(self.epsg, self.x0 + col * self.res, self.y0 - row * self.res, width, height, self.res)

    def bounds(self):
        return (self.x0, self.y0 - self.height * self.res, self.x0 + self.width * self.res, self.y0)


@dataclass(frozen=True)
class Scene:
    """One real scene of test/data."""
    prefix: str
    folder: Path
    sensor: str            # key of core.sensors.SENSORS
    level: str             # C1L1 or PRE (what the real MTL is)
    path: int
    row: int
    date: str

    @property
    def mtl_path(self) -> Path:
        return self.folder / f"{self.prefix}_MTL.txt"


SCENES = {
    L8: Scene(L8, DATA / "marburg", "L8", "C1L1", 195, 25, "2013-07-07"),
    L7: Scene(L7, DATA / "marburg", "L7", "C1L1", 195, 25, "2001-07-30"),
    L5: Scene(L5, DATA / "ethiopia", "L5", "C1L1", 167, 55, "2000-03-09"),
    PRE: Scene(PRE, DATA / "ethiopia", "L5", "PRE", 167, 55, "2010-12-18"),
}


def scene(key) -> Scene:
    return key if isinstance(key, Scene) else SCENES[key]


def scene_grid(key) -> Grid:
    """The 30 m grid of a real scene (read from its red band)."""
    s = scene(key)
    ds = gdal.Open(str(_band_file(s, SENSORS[s.sensor].band_ids["R"])))
    gt = ds.GetGeoTransform()
    from osgeo import osr
    srs = osr.SpatialReference(wkt=ds.GetProjection())
    srs.AutoIdentifyEPSG()
    return Grid(int(srs.GetAuthorityCode(None)), gt[0], gt[3], ds.RasterXSize, ds.RasterYSize, gt[1])


def _band_file(s: Scene, bid: str) -> Path:
    for ext in (".TIF", ".tif"):
        f = s.folder / f"{s.prefix}_B{bid}{ext}"
        if f.exists():
            return f
    raise FileNotFoundError(f"{s.prefix} has no band {bid}")


def scene_band_ids(key) -> list[str]:
    """The Level-1 band ids of the real 30 m band files of a scene (the 15 m panchromatic band is left out)."""
    s = scene(key)
    out = []
    for f in sorted(s.folder.glob(f"{s.prefix}_B*")):
        bid = re.match(rf"{s.prefix}_B(\w+?)\.(TIF|tif)$", f.name)
        if bid and bid.group(1) != "QA" and gdal.Open(str(f)).GetGeoTransform()[1] == 30.0:
            out.append(bid.group(1))
    return sorted(out, key=lambda b: (int(b.split("_")[0]), b))


def _thermal(s: Scene, bid: str) -> bool:
    return bid.split("_")[0] in (("10", "11") if s.sensor in ("L8", "L9") else ("6",))


def scene_mtl(key) -> dict:
    return _rad.parse_mtl(read_text(scene(key).mtl_path))


def real_dn(key, bid: str) -> np.ndarray:
    """Real Level-1 DN of band ``bid`` as float64, NaN where the file's nodata value or DN 0 (fill)."""
    ds = gdal.Open(str(_band_file(scene(key), bid)))
    b = ds.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float64)
    nd = b.GetNoDataValue()
    a[(a == 0) | ((a == nd) if nd is not None else False)] = np.nan
    return a


def dn_to_value(key, bid: str, dn):
    """Real DN -> TOA reflectance (sun angle included; :func:`radiometry.toa_reflectance_coefficients` from the
    real MTL) for reflective bands, at-sensor brightness temperature (K; radiance from the real MTL,
    K1/K2 from it or the sensor preset) for thermal bands."""
    mtl = scene_mtl(key)
    dn = np.asarray(dn, dtype=np.float64)
    if _thermal(scene(key), bid):
        g, o = _rad.radiance_coefficients(mtl, bid)
        k1, k2 = _rad.thermal_constants(mtl, bid)
        with np.errstate(all="ignore"):
            return k2 / np.log(k1 / (g * dn + o) + 1.0)
    g, o = _rad.toa_reflectance_coefficients(mtl, bid)
    return g * dn + o


def value_to_dn(key, bid: str, value, dn_max: float):
    """Inverse of :func:`dn_to_value`, rounded and clipped to 1 .. dn_max; 0 where value is NaN."""
    mtl = scene_mtl(key)
    v = np.asarray(value, dtype=np.float64)
    with np.errstate(all="ignore"):
        if _thermal(scene(key), bid):
            g, o = _rad.radiance_coefficients(mtl, bid)
            k1, k2 = _rad.thermal_constants(mtl, bid)
            dn = (k1 / (np.exp(k2 / v) - 1.0) - o) / g
        else:
            g, o = _rad.toa_reflectance_coefficients(mtl, bid)
            dn = (v - o) / g
        out = np.clip(np.rint(dn), 1, dn_max)
    return np.where(np.isfinite(v), out, 0.0)


def real_values(key) -> dict[str, np.ndarray]:
    """Role -> real value of a scene on its own grid: TOA reflectance (reflective roles) and brightness
    temperature in K (``T``), float64, NaN = fill. See :func:`dn_to_value`."""
    s = scene(key)
    return {role: dn_to_value(s, bid, real_dn(s, bid)) for role, bid in SENSORS[s.sensor].band_ids.items()}


# C2 L2 scaling (USGS LSDS-1619 / LSDS-1328, "Scale factors"): SR = DN * 2.75e-5 - 0.2, ST = DN * 0.00341802 + 149
SR_MULT, SR_ADD, ST_MULT, ST_ADD = 2.75e-05, -0.2, 0.00341802, 149.0


def sr_dn(reflectance) -> np.ndarray:
    """C2 L2 SR DN = round((refl + 0.2) / 2.75e-5), uint16, clipped to the valid 1 .. 65455; 0 = fill (NaN)."""
    r = np.asarray(reflectance, dtype=np.float64)
    with np.errstate(all="ignore"):
        dn = np.clip(np.rint((r - SR_ADD) / SR_MULT), 1, 65455)
    return np.where(np.isfinite(r), dn, 0).astype(np.uint16)


def st_dn(kelvin) -> np.ndarray:
    """C2 L2 ST DN = round((K - 149) / 0.00341802), uint16, clipped to 1 .. 65535; 0 = fill (NaN)."""
    t = np.asarray(kelvin, dtype=np.float64)
    with np.errstate(all="ignore"):
        dn = np.clip(np.rint((t - ST_ADD) / ST_MULT), 1, 65535)
    return np.where(np.isfinite(t), dn, 0).astype(np.uint16)


def warp_to(array, src: Grid, dst: Grid, resample: str = "near") -> np.ndarray:
    """``array`` (float, NaN = no data) on ``src`` resampled onto ``dst`` by gdal.Warp (NaN outside ``src``).
    On a grid of the same CRS and pixel phase, nearest neighbour copies the pixels exactly."""
    drv = gdal.GetDriverByName("MEM")

    def mem(g, a=None):
        ds = drv.Create("", g.width, g.height, 1, gdal.GDT_Float64)
        ds.SetGeoTransform(g.geotransform)
        from osgeo import osr
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(g.epsg)
        ds.SetProjection(srs.ExportToWkt())
        b = ds.GetRasterBand(1)
        b.SetNoDataValue(float("nan"))
        b.WriteArray(np.full(g.shape, np.nan) if a is None else np.asarray(a, dtype=np.float64))
        return ds
    s, d = mem(src, array), mem(dst)
    gdal.Warp(d, s, resampleAlg=resample, srcNodata=float("nan"), dstNodata=float("nan"))
    return d.GetRasterBand(1).ReadAsArray()


def _write_tif(path: Path, array, grid: Grid, gdal_type, nodata=None) -> None:
    from osgeo import osr
    ds = gdal.GetDriverByName("GTiff").Create(str(path), grid.width, grid.height, 1, gdal_type,
                                               options=["COMPRESS=DEFLATE"])
    ds.SetGeoTransform(grid.geotransform)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(grid.epsg)
    ds.SetProjection(srs.ExportToWkt())
    b = ds.GetRasterBand(1)
    if nodata is not None:
        b.SetNoDataValue(nodata)
    b.WriteArray(np.asarray(array))
    ds = None


# ------------------------------------------------------------------------------------------------------------
# Cloud masks: QA_PIXEL (USGS Collection 2) and SCL (ESA Sentinel-2 L2A), all built
# ------------------------------------------------------------------------------------------------------------
# USGS Landsat 8-9 Collection 2 Level-2 Science Product Guide (LSDS-1619), QA_PIXEL bit table
FILL, DILATED, CIRRUS, CLOUD, SHADOW, SNOW, CLEAR, WATER = 0, 1, 2, 3, 4, 5, 6, 7
CLOUD_CONF, SHADOW_CONF, SNOW_CONF, CIRRUS_CONF = 8, 10, 12, 14          # 2-bit fields: 0 none 1 low 2 med 3 high
SHADOW_OFFSET = (3, 4)       # rows, cols: shadow displaced down-right of its cloud (sun from the north-west)
RING = 3                     # dilated-cloud ring width in pixels (CFMask dilates clouds by 3 pixels)


@dataclass
class CloudLayers:
    """Boolean layers of one built cloud mask (same shape): ``cloud`` the blob cores, ``ring`` the dilated-cloud
    ring around them (not cloud), ``shadow`` the clouds displaced by ``offset`` (not cloud), ``cirrus`` thin
    cirrus blobs (OLI only), ``fill`` outside the footprint."""
    cloud: np.ndarray
    ring: np.ndarray
    shadow: np.ndarray
    cirrus: np.ndarray
    fill: np.ndarray
    offset: tuple = SHADOW_OFFSET

    @property
    def masked(self) -> np.ndarray:
        """What a cloud/shadow/fill mask must remove (cloud, dilated ring, cirrus, shadow, fill)."""
        return self.cloud | self.ring | self.shadow | self.cirrus | self.fill


def _field(shape, rng, sigma) -> np.ndarray:
    """A smoothed Gaussian random field, standardised (the cloud 'blobs' are its upper tail)."""
    f = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (f - f.mean()) / (f.std() or 1.0)


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[r + dy, c + dx] = a[r, c]`` (False where nothing is shifted in)."""
    out = np.zeros_like(a)
    h, w = a.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = a[max(-dy, 0):h - max(dy, 0),
                                                                   max(-dx, 0):w - max(dx, 0)]
    return out


def _square(n: int):
    return np.ones((2 * n + 1, 2 * n + 1), dtype=bool)


def _tail(f, cover, allowed, n_total) -> np.ndarray:
    ok = allowed if allowed is not None else np.ones(f.shape, dtype=bool)
    if cover <= 0 or not ok.any():
        return np.zeros(f.shape, dtype=bool)
    q = 1.0 - min(1.0, cover * n_total / ok.sum())
    return (f >= np.quantile(f[ok], q)) & ok if q > 0 else ok.copy()


def cloud_layers(shape, seed: int, cover: float, *, footprint=None, allowed=None, cirrus: float = 0.0,
                 offset=SHADOW_OFFSET, ring: int = RING, sigma: float | None = None) -> CloudLayers:
    """Built cloud layers: cloud cores are the upper ``cover`` share (of all pixels) of a Gaussian random field
    smoothed with ``sigma`` px (default min(shape)/12, >= 1.5), so they are blobs; the dilated-cloud ring is a
    ``ring``-pixel square dilation of them; the shadow is the clouds displaced by ``offset`` (rows, cols);
    ``cirrus`` is the share of a second field's tail. ``allowed`` (bool) confines clouds and cirrus;
    ``footprint`` (bool, True = data) sets ``fill`` outside it. Reproducible from ``seed``."""
    shape = tuple(shape)
    rng = np.random.default_rng(seed)
    sigma = sigma or max(1.5, min(shape) / 12.0)
    n = shape[0] * shape[1]
    cloud = _tail(_field(shape, rng, sigma), cover, allowed, n)
    cir = _tail(_field(shape, rng, sigma), cirrus, allowed, n) & ~cloud
    rng_ = ndimage.binary_dilation(cloud, _square(ring)) & ~cloud if ring > 0 else np.zeros(shape, bool)
    shadow = _shift(cloud, *offset) & ~cloud
    fill = np.zeros(shape, bool) if footprint is None else ~np.asarray(footprint, dtype=bool)
    return CloudLayers(cloud & ~fill, rng_ & ~fill, shadow & ~fill, cir & ~fill, fill, tuple(offset))


def encode_qa_pixel(layers: CloudLayers, sensor: str = "L8", water=None, snow=None) -> np.ndarray:
    """QA_PIXEL (uint16) of ``layers`` with the USGS Collection 2 bits (LSDS-1619 QA_PIXEL table):

    * every data pixel: cloud, shadow and snow confidence low (01), for OLI (L8/L9) also cirrus confidence low
      (TM/ETM+ have no cirrus band: 00); clear OLI land is then 0b0101_0101_0100_0000 = 21824, TM/ETM+ 5440
      (the "clear with lows set" values of the USGS value tables);
    * cloud: bit 3 and cloud confidence high (11); dilated ring: bit 1; shadow: bit 4 and shadow confidence high;
      cirrus: bit 2 and cirrus confidence high; snow: bit 5 and snow confidence high;
    * bit 6 clear = neither cloud nor dilated cloud (the USGS definition, so shadow / cirrus / snow pixels keep
      it); bit 7 water where ``water`` and not cloud;
    * fill: exactly 1 (bit 0 only)."""
    oli = sensor in ("L8", "L9")
    qa = np.full(layers.cloud.shape, (1 << CLOUD_CONF) | (1 << SHADOW_CONF) | (1 << SNOW_CONF)
                 | ((1 << CIRRUS_CONF) if oli else 0), dtype=np.uint16)

    def put(mask, bit, conf=None):
        nonlocal qa
        qa = np.where(mask, qa | (1 << bit), qa)
        if conf is not None:
            qa = np.where(mask, (qa & ~np.uint16(3 << conf)) | (3 << conf), qa)
    put(layers.cloud, CLOUD, CLOUD_CONF)
    put(layers.ring, DILATED)
    put(layers.shadow, SHADOW, SHADOW_CONF)
    if layers.cirrus.any():
        if not oli:
            raise ValueError("cirrus is detected by OLI only (L8/L9): no cirrus for TM/ETM+")
        put(layers.cirrus, CIRRUS, CIRRUS_CONF)
    if snow is not None:
        put(np.asarray(snow, bool), SNOW, SNOW_CONF)
    put(~(layers.cloud | layers.ring), CLEAR)
    if water is not None:
        put(np.asarray(water, bool) & ~layers.cloud, WATER)
    qa = np.where(layers.fill, 1, qa)
    return qa.astype(np.uint16)


def cloud_qa(shape, seed: int, cover: float, *, sensor: str = "L8", footprint=None, water=None, **kw) -> np.ndarray:
    """A real-looking Collection 2 QA_PIXEL array (built): :func:`cloud_layers` encoded by
    :func:`encode_qa_pixel`. ``cover`` is the share of pixels with cloud cores (before the ring and shadow)."""
    return encode_qa_pixel(cloud_layers(shape, seed, cover, footprint=footprint, **kw), sensor, water)


def covering_layers(shape, n: int, seed: int, cover: float, *, footprint=None, offset=SHADOW_OFFSET,
                    ring: int = RING, cirrus: float = 0.0, sigma: float | None = None) -> list[CloudLayers]:
    """``n`` cloud layers whose clear areas together cover every data pixel at least once.

    How: the image is split into ``n`` zones (argmax of ``n`` smooth random fields); mask k keeps its clouds and
    cirrus more than ``ring`` pixels (chessboard) away from zone k and from zone k displaced by ``-offset``, so
    neither its ring nor its shadow reaches zone k: every pixel of zone k is clear in mask k (proved in the
    tests by counting)."""
    shape = tuple(shape)
    rng = np.random.default_rng(seed)
    zones = np.argmax(np.stack([_field(shape, rng, max(2.0, min(shape) / 6.0)) for _ in range(n)]), axis=0)
    out = []
    for k in range(n):
        z = zones == k
        forbidden = ndimage.binary_dilation(z | _shift(z, -offset[0], -offset[1]), _square(ring))
        out.append(cloud_layers(shape, seed * 1000 + k + 1, cover, footprint=footprint, allowed=~forbidden,
                                cirrus=cirrus, offset=offset, ring=ring, sigma=sigma))
    return out


def cloud_qa_set(shape, n: int, seed: int, cover: float, *, sensor: str = "L8", footprint=None, water=None,
                 **kw) -> list[np.ndarray]:
    """``n`` QA_PIXEL arrays (:func:`covering_layers` encoded) whose clear pixels cover every data pixel: the
    same real scene written with them at ``n`` dates must be reconstructed exactly by a median or medoid
    composite."""
    return [encode_qa_pixel(lay, sensor, water) for lay in covering_layers(shape, n, seed, cover,
                                                                           footprint=footprint, **kw)]


# ESA Sentinel-2 L2A SCL classes (L2A Product Specification)
SCL_NO_DATA, SCL_SHADOW, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER = 0, 3, 4, 5, 6
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 8, 9, 10


def encode_scl(layers: CloudLayers, base=None) -> np.ndarray:
    """SCL (uint8) of ``layers``: ``base`` (clear-sky classes, default 4 vegetation) with cloud cores 9 (cloud
    high probability), the ring 8 (cloud medium probability), cirrus 10, shadow 3, fill 0."""
    scl = np.full(layers.cloud.shape, SCL_VEGETATION, np.uint8) if base is None else np.array(base, np.uint8)
    scl[layers.shadow] = SCL_SHADOW
    scl[layers.cirrus] = SCL_CIRRUS
    scl[layers.ring] = SCL_CLOUD_MEDIUM
    scl[layers.cloud] = SCL_CLOUD_HIGH
    scl[layers.fill] = SCL_NO_DATA
    return scl


def cloud_scl(shape, seed: int, cover: float, *, base=None, footprint=None, **kw) -> np.ndarray:
    """A real-looking SCL array (built): :func:`cloud_layers` encoded by :func:`encode_scl`."""
    return encode_scl(cloud_layers(shape, seed, cover, footprint=footprint, **kw), base)


def cloud_scl_set(shape, n: int, seed: int, cover: float, *, base=None, footprint=None, **kw) -> list[np.ndarray]:
    """``n`` SCL arrays whose clear pixels cover every data pixel (see :func:`covering_layers`)."""
    return [encode_scl(lay, base) for lay in covering_layers(shape, n, seed, cover, footprint=footprint, **kw)]


def qa_pixel_to_bqa(qa, sensor: str = "L8") -> np.ndarray:
    """Collection 1 BQA (uint16) carrying the same information as a C2 QA_PIXEL (USGS Landsat Collection 1
    Level-1 QA band page): bit 0 fill, bit 4 cloud, bits 5-6 cloud confidence, 7-8 shadow confidence, 9-10
    snow/ice confidence, 11-12 cirrus confidence (OLI only). Fill is 1 as in C1."""
    q = np.asarray(qa).astype(np.uint32)
    b = (((q >> CLOUD) & 1) << 4) | (((q >> CLOUD_CONF) & 3) << 5) | (((q >> SHADOW_CONF) & 3) << 7) \
        | (((q >> SNOW_CONF) & 3) << 9)
    if sensor in ("L8", "L9"):
        b |= ((q >> CIRRUS_CONF) & 3) << 11
    return np.where(q & 1, 1, b).astype(np.uint16)


def layers_from_qa(qa) -> CloudLayers:
    """The layers a QA_PIXEL array says (bits 0-4)."""
    q = np.asarray(qa).astype(np.int64)
    bit = lambda n: (q >> n) & 1 == 1  # noqa: E731
    return CloudLayers(bit(CLOUD), bit(DILATED) & ~bit(CLOUD), bit(SHADOW) & ~bit(CLOUD), bit(CIRRUS),
                       bit(FILL))


def layers_from_scl(scl) -> CloudLayers:
    s = np.asarray(scl)
    return CloudLayers(s == SCL_CLOUD_HIGH, s == SCL_CLOUD_MEDIUM, s == SCL_SHADOW, s == SCL_CIRRUS,
                       s == SCL_NO_DATA)


# what a cloud does to the pixels under it (built): a composite that ignores the mask is visibly wrong
CLOUD_REFLECTANCE = 0.45      # cloud core: 0.45 + 0.5 * real reflectance (bright, keeps some texture)
CLOUD_COOLING = 20.0          # K colder than the ground
SHADOW_FACTOR = 0.35          # shadow: real reflectance * 0.35, 3 K colder
CIRRUS_ADD = 0.06             # thin cirrus: + 0.06 reflectance, 5 K colder


def apply_clouds(values: dict, layers: CloudLayers, thermal=("T",)) -> dict:
    """Band key -> values (reflectance, or K for the keys in ``thermal``) with the clouds of ``layers`` put on
    the real pixels: cores ``0.45 + 0.5 rho`` and -20 K, the dilated ring half-way between ground and cloud and
    -10 K, cirrus +0.06 and -5 K, shadow ``0.35 rho`` and -3 K; fill NaN. Returns new arrays."""
    out = {}
    for k, v in values.items():
        v = np.array(v, dtype=np.float64)
        if k in thermal:
            v[layers.shadow] -= 3.0
            v[layers.cirrus] -= 5.0
            v[layers.ring] -= CLOUD_COOLING / 2
            v[layers.cloud] -= CLOUD_COOLING
        else:
            core = CLOUD_REFLECTANCE + 0.5 * v
            v[layers.shadow] *= SHADOW_FACTOR
            v[layers.cirrus] += CIRRUS_ADD
            v[layers.ring] = 0.5 * (v[layers.ring] + core[layers.ring])
            v[layers.cloud] = core[layers.cloud]
        v[layers.fill] = np.nan
        out[k] = v
    return out


# ------------------------------------------------------------------------------------------------------------
# Landsat products as USGS delivers them
# ------------------------------------------------------------------------------------------------------------
_LETTER = {"L5": ("T", "5"), "L7": ("E", "7"), "L8": ("C", "8"), "L9": ("C", "9")}
_OLI_SR = ("1", "2", "3", "4", "5", "6", "7")
_TM_SR = ("1", "2", "3", "4", "5", "7")


@dataclass
class Written:
    """What a builder wrote: ``path`` to give open_product (the product folder or the .tar), the product id,
    its grid, its acquisition date, the QA layers used and the band values written (key -> physical value on
    ``grid``: reflectance or K; NaN = fill), for the tests' expectations."""
    path: Path
    product_id: str
    level: str
    grid: Grid
    date: str
    layers: CloudLayers | None = None
    values: dict = field(default_factory=dict)
    files: list = field(default_factory=list)


def product_id(key, level: str, date: str | None = None, path_row=None) -> str:
    """USGS id of the product written for scene ``key`` at ``level`` (C2: ``LC08_L2SP_PPPRRR_YYYYMMDD_
    yyyymmdd_02_T1``; C1: ``..._01_T1``; PRE: ``LT5PPPRRRYYYYDDDMLK00``)."""
    s = scene(key)
    date = date or s.date
    p, r = path_row or (s.path, s.row)
    d = date.replace("-", "")
    letter, num = _LETTER[s.sensor]
    if level == "PRE":
        doy = _dt.date.fromisoformat(date).timetuple().tm_yday
        return f"L{letter}{num}{p:03d}{r:03d}{d[:4]}{doy:03d}MLK00"
    proc = max(_dt.date.fromisoformat(date) + _dt.timedelta(days=16), _dt.date(2020, 9, 1)).strftime("%Y%m%d") \
        if level.startswith("C2") else max(d, "20170101")
    kind = "L2SP" if level == "C2L2" else "L1TP"
    return f"L{letter}0{num}_{kind}_{p:03d}{r:03d}_{d}_{proc}_{'02' if level.startswith('C2') else '01'}_T1"


def _set_keys(text: str, values: dict) -> str:
    """Replace the value of every ``KEY = value`` line whose key is in ``values`` (keeping the quoting)."""
    def sub(m):
        k = m.group(2)
        if k not in values:
            return m.group(0)
        q = '"' if m.group(3).startswith('"') else ""
        return f"{m.group(1)}{k} = {q}{values[k]}{q}"
    return re.sub(r'^(\s*)(\w+) = (.*)$', sub, text, flags=re.M)


def _corners(grid: Grid) -> dict:
    x0, y0, x1, y1 = grid.x0, grid.y0 - grid.height * grid.res, grid.x0 + grid.width * grid.res, grid.y0
    out = {}
    for c, (x, y) in {"UL": (x0, y1), "UR": (x1, y1), "LL": (x0, y0), "LR": (x1, y0)}.items():
        out[f"CORNER_{c}_PROJECTION_X_PRODUCT"] = f"{x:.3f}"
        out[f"CORNER_{c}_PROJECTION_Y_PRODUCT"] = f"{y:.3f}"
    return out


def _l1_mtl(s: Scene, level: str, pid: str, date: str, path_row, grid: Grid, bids) -> str:
    """C1 / pre-collection MTL: the real MTL with documented edits (ids, file names, date, path/row, grid size
    and corners, UTM zone; FILE_NAME lines of files not written removed). Sun angles, Earth-Sun distance and
    every calibration constant stay the real ones."""
    t = read_text(s.mtl_path)
    old = s.prefix
    t = t.replace(old, pid)
    keep = {f"{pid}_B{b}.TIF" for b in bids} | {f"{pid}_BQA.TIF", f"{pid}_MTL.txt"}
    t = "\n".join(line for line in t.splitlines()
                  if not re.match(r'\s*FILE_NAME_BAND_\w+ = "(.*)"', line)
                  or re.match(r'\s*FILE_NAME_BAND_\w+ = "(.*)"', line).group(1) in keep) + "\n"
    vals = {"DATE_ACQUIRED": date, "WRS_PATH": str(path_row[0]), "WRS_ROW": f"{path_row[1]:03d}"
            if level == "PRE" else str(path_row[1]), "TARGET_WRS_PATH": str(path_row[0]),
            "TARGET_WRS_ROW": str(path_row[1]), "REFLECTIVE_LINES": str(grid.height),
            "REFLECTIVE_SAMPLES": str(grid.width), "THERMAL_LINES": str(grid.height),
            "THERMAL_SAMPLES": str(grid.width), "UTM_ZONE": str(grid.epsg % 100), **_corners(grid)}
    if level != "PRE":
        letter, num = _LETTER[s.sensor]
        doy = _dt.date.fromisoformat(date).timetuple().tm_yday
        vals["LANDSAT_SCENE_ID"] = f"L{letter}{num}{path_row[0]:03d}{path_row[1]:03d}{date[:4]}{doy:03d}LGN00"
    return _set_keys(t, vals)


def _c2_mtl(s: Scene, level: str, pid: str, date: str, path_row, grid: Grid, files: dict, qa_name: str) -> str:
    """Collection 2 MTL (ODL) in the group / key layout of USGS LSDS-1822 / LSDS-1328, written here (built) with
    the values of the real MTL: sun angles, Earth-Sun distance, scene time, L1 radiance and TOA reflectance
    rescaling (TOA from radiance and ESUN for the pre-collection scene: :func:`radiometry.
    toa_reflectance_coefficients` times sin(sun elevation)), thermal K1/K2; L2 scale factors of LSDS-1619."""
    mtl = scene_mtl(s)
    sen = SENSORS[s.sensor]
    look = lambda *k: _rad._lookup(mtl, k)  # noqa: E731
    sin_se = np.sin(np.radians(float(look("SUN_ELEVATION"))))
    L = ["GROUP = LANDSAT_METADATA_FILE", "  GROUP = PRODUCT_CONTENTS",
         '    ORIGIN = "Image courtesy of the U.S. Geological Survey"',
         f'    LANDSAT_PRODUCT_ID = "{pid}"', '    COLLECTION_NUMBER = 02', '    COLLECTION_CATEGORY = "T1"',
         f'    PROCESSING_LEVEL = "{"L2SP" if level == "C2L2" else "L1TP"}"']
    L += [f'    {k} = "{v}"' for k, v in files.items()]
    L += [f'    FILE_NAME_QUALITY_L1_PIXEL = "{qa_name}"', f'    FILE_NAME_METADATA_ODL = "{pid}_MTL.txt"',
          f'    FILE_NAME_METADATA_XML = "{pid}_MTL.xml"', "  END_GROUP = PRODUCT_CONTENTS",
          "  GROUP = IMAGE_ATTRIBUTES", f'    SPACECRAFT_ID = "{look("SPACECRAFT_ID")}"',
          f'    SENSOR_ID = "{look("SENSOR_ID")}"', f"    WRS_PATH = {path_row[0]}", f"    WRS_ROW = {path_row[1]}",
          f"    DATE_ACQUIRED = {date}", f'    SCENE_CENTER_TIME = "{look("SCENE_CENTER_TIME")}"',
          f"    SUN_AZIMUTH = {look('SUN_AZIMUTH')}", f"    SUN_ELEVATION = {look('SUN_ELEVATION')}",
          f"    EARTH_SUN_DISTANCE = {look('EARTH_SUN_DISTANCE') or _rad.earth_sun_distance(s.date)}",
          "  END_GROUP = IMAGE_ATTRIBUTES", "  GROUP = PROJECTION_ATTRIBUTES", '    MAP_PROJECTION = "UTM"',
          '    DATUM = "WGS84"', f"    UTM_ZONE = {grid.epsg % 100}", f"    GRID_CELL_SIZE_REFLECTIVE = {grid.res}",
          f"    REFLECTIVE_LINES = {grid.height}", f"    REFLECTIVE_SAMPLES = {grid.width}"]
    L += [f"    {k} = {v}" for k, v in _corners(grid).items()]
    L += ["  END_GROUP = PROJECTION_ATTRIBUTES"]
    if level == "C2L2":
        L += ["  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS"]
        for b in (_OLI_SR if s.sensor in ("L8", "L9") else _TM_SR):
            L += [f"    REFLECTANCE_MULT_BAND_{b} = 2.75E-05", f"    REFLECTANCE_ADD_BAND_{b} = -0.200000"]
        st = sen.l2_names["T"]
        L += ["  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS", "  GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",
              f"    TEMPERATURE_MULT_BAND_{st} = 0.00341802", f"    TEMPERATURE_ADD_BAND_{st} = 149.0",
              "  END_GROUP = LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"]
    L += ["  GROUP = LEVEL1_PROCESSING_RECORD", f'    LANDSAT_SCENE_ID = "{product_id(s, "PRE", date, path_row)}"',
          "  END_GROUP = LEVEL1_PROCESSING_RECORD", "  GROUP = LEVEL1_RADIOMETRIC_RESCALING"]
    bids = scene_band_ids(s)
    for b in bids:
        g, o = _rad.radiance_coefficients(mtl, b)
        L += [f"    RADIANCE_MULT_BAND_{b} = {g:.5E}", f"    RADIANCE_ADD_BAND_{b} = {o:.5f}"]
    for b in bids:
        if not _thermal(s, b):
            g, o = _rad.toa_reflectance_coefficients(mtl, b)
            L += [f"    REFLECTANCE_MULT_BAND_{b} = {g * sin_se:.5E}", f"    REFLECTANCE_ADD_BAND_{b} = {o * sin_se:.6f}"]
    L += ["  END_GROUP = LEVEL1_RADIOMETRIC_RESCALING", "  GROUP = LEVEL1_THERMAL_CONSTANTS"]
    for b in bids:
        if _thermal(s, b):
            k1, k2 = _rad.thermal_constants(mtl, b)
            L += [f"    K1_CONSTANT_BAND_{b} = {k1}", f"    K2_CONSTANT_BAND_{b} = {k2}"]
    L += ["  END_GROUP = LEVEL1_THERMAL_CONSTANTS", "END_GROUP = LANDSAT_METADATA_FILE", "END"]
    return "\n".join(L) + "\n"


def write_landsat_product(dst, scene_key, level: str = "C2L2", layout: str = "folder", date: str | None = None,
                          qa=None, pixels=None, path_row=None, grid: Grid | None = None, footprint=None,
                          clouds_in_pixels: bool = True) -> Written:
    """Write one Landsat product of the real scene ``scene_key`` into ``dst`` as USGS delivers it.

    * ``level``: ``"C2L2"`` (``SR_B*`` uint16 from the real TOA reflectance, DN = round((rho + 0.2) / 2.75e-5),
      ``ST_B*`` uint16 from the real brightness temperature, DN = round((K - 149) / 0.00341802), 0 = fill;
      ``QA_PIXEL``; MTL .txt, .xml and .json, see :func:`_c2_mtl`), ``"C2L1"`` (the real L1 DN under C2 names,
      ``QA_PIXEL``), ``"C1L1"`` (the real DN and MTL, ``BQA``; C1 scenes only) or ``"PRE"`` (the pre-collection
      scene only; no QA band). Built: the SR is TOA reflectance (no atmospheric correction was done) and the ST
      brightness temperature (no emissivity correction); the C2 QA_PIXEL is all clear unless ``qa`` is given;
      only the 30 m band files are written (no pan, no QA_RADSAT / SR_QA_AEROSOL / ST_* auxiliaries).
    * ``layout``: ``"folder"`` (``dst/<id>/``) or ``"tar"`` (``dst/<id>.tar``, flat members, as downloaded).
    * ``date``: acquisition date written into the id, file names and MTL (so one real scene can stand for several
      dates); sun angles and calibration stay the real scene's.
    * ``qa``: a QA_PIXEL array on the product grid (:func:`cloud_qa`); written as QA_PIXEL, as BQA
      (:func:`qa_pixel_to_bqa`) for C1; with ``clouds_in_pixels`` its clouds, ring, cirrus and shadows also change
      the band values (:func:`apply_clouds`), its fill empties them.
    * ``pixels``: role -> array on the scene grid replacing the real value (reflectance / K; NaN = fill).
    * ``path_row``: (path, row) written into the id and MTL. ``grid``: the product grid (default the scene's);
      the real pixels are put onto it by nearest neighbour (exact on a grid of the same CRS and pixel phase),
      NaN / fill outside the scene. ``footprint``: bool array on the scene grid, fill outside it.
    Level-1 DN are the real DN wherever the value was not changed, else the inverse of the real calibration."""
    s = scene(scene_key)
    if level == "C1L1" and s.level != "C1L1" or level == "PRE" and s.level != "PRE":
        raise ValueError(f"{s.prefix} is {s.level}: it cannot be written as {level}")
    if level == "PRE" and qa is not None:
        raise ValueError("a pre-collection product has no QA band")
    date = date or s.date
    path_row = tuple(path_row or (s.path, s.row))
    sg = scene_grid(s)
    grid = grid or sg
    sen = SENSORS[s.sensor]
    role_of = {b: r for r, b in sen.band_ids.items()}
    bids = scene_band_ids(s)
    pid = product_id(s, level, date, path_row)
    fp = np.ones(sg.shape, bool) if footprint is None else np.asarray(footprint, bool)
    dn, val, changed = {}, {}, {}
    for b in bids:
        d = real_dn(s, b)
        v = dn_to_value(s, b, d)
        ch = np.zeros(sg.shape)
        if pixels is not None and role_of.get(b) in pixels:
            new = np.asarray(pixels[role_of[b]], dtype=np.float64)
            ch = (~np.isclose(new, v, rtol=0, atol=1e-12) & ~(np.isnan(new) & np.isnan(v))).astype(float)
            v = new
        v = np.where(fp, v, np.nan)
        dn[b], val[b], changed[b] = (warp_to(a, sg, grid) for a in (d, v, ch))
    layers = None
    if qa is not None:
        qa = np.asarray(qa, dtype=np.uint16)
        if qa.shape != grid.shape:
            raise ValueError(f"qa is {qa.shape}, the product grid {grid.shape}")
        layers = layers_from_qa(qa)
        if clouds_in_pixels:

            val = apply_clouds(val, layers, thermal=tuple(b for b in bids if _thermal(s, b)))
            for b in bids:
                changed[b] = np.where(layers.masked, 1.0, changed[b])
        else:
            for b in bids:
                val[b][layers.fill] = np.nan

    nodata = np.isnan(val[sen.band_ids["R"]])
    tmp = Path(tempfile.mkdtemp(dir=dst)) if layout == "tar" else None
    out = Path(dst) / pid if layout == "folder" else tmp
    out.mkdir(parents=True, exist_ok=True)
    files, written = {}, {}
    oli = s.sensor in ("L8", "L9")
    if level == "C2L2":
        for b in (_OLI_SR if oli else _TM_SR):
            name = f"{pid}_SR_B{b}.TIF"
            _write_tif(out / name, sr_dn(val[b]), grid, gdal.GDT_UInt16, 0)
            files[f"FILE_NAME_BAND_{b}"] = name
            written[b] = val[b]
        tb = sen.band_ids["T"]
        st = sen.l2_names["T"]
        name = f"{pid}_{st}.TIF"
        _write_tif(out / name, st_dn(val[tb]), grid, gdal.GDT_UInt16, 0)
        files[f"FILE_NAME_BAND_{st}"] = name
        written[tb] = val[tb]
    else:
        dn_max = 65535 if oli else 255
        for b in bids:
            enc = value_to_dn(s, b, val[b], dn_max)
            keep = (changed[b] == 0) & np.isfinite(dn[b]) & np.isfinite(val[b])
            d = np.where(keep, np.nan_to_num(dn[b]), enc)
            name = f"{pid}_B{b}.TIF"
            _write_tif(out / name, d.astype(np.uint16 if oli else np.uint8), grid,
                       gdal.GDT_UInt16 if oli else gdal.GDT_Byte)
            files[f"FILE_NAME_BAND_{b}"] = name
            written[b] = np.where(d > 0, dn_to_value(s, b, d), np.nan)
    if qa is None:
        qa = encode_qa_pixel(CloudLayers(*(np.zeros(grid.shape, bool),) * 4, nodata), s.sensor)
    qa = np.where(nodata, 1, qa).astype(np.uint16)
    qa_name = None
    if level in ("C2L2", "C2L1"):
        qa_name = f"{pid}_QA_PIXEL.TIF"
        _write_tif(out / qa_name, qa, grid, gdal.GDT_UInt16, 1)
        text = _c2_mtl(s, level, pid, date, path_row, grid, files, qa_name)
        (out / f"{pid}_MTL.txt").write_text(text)
        tree = odl_to_tree(text)
        (out / f"{pid}_MTL.xml").write_text(tree_to_xml(tree))
        (out / f"{pid}_MTL.json").write_text(json.dumps(tree, indent=2))
    else:
        if level == "C1L1":
            _write_tif(out / f"{pid}_BQA.TIF", qa_pixel_to_bqa(qa, s.sensor), grid, gdal.GDT_UInt16)
        (out / f"{pid}_MTL.txt").write_text(_l1_mtl(s, level, pid, date, path_row, grid, bids))
    names = sorted(os.listdir(out))
    if layout == "tar":
        tar = Path(dst) / f"{pid}.tar"
        with tarfile.open(tar, "w") as tf:
            for n in names:
                tf.add(out / n, arcname=n)
        shutil.rmtree(out)
        out = tar
    elif layout != "folder":
        raise ValueError(f"layout {layout!r}: folder or tar")
    roles = {role_of.get(b, f"B{b}"): v for b, v in written.items()}
    return Written(out, pid, level, grid, date, layers, roles, names)


# ------------------------------------------------------------------------------------------------------------
# Footprints of two neighbouring path/rows, study area
# ------------------------------------------------------------------------------------------------------------
def footprint_masks(key) -> tuple[np.ndarray, np.ndarray]:
    """Two built footprints on the scene grid (bool, True = data): A the western part up to a tilted east edge
    (WRS-2 scenes are tilted), B the eastern part from a tilted west edge; they overlap in a band about a
    quarter of the width wide and together cover every pixel."""
    h, w = scene_grid(key).shape
    r, c = np.mgrid[0:h, 0:w] + 0.5
    t = r / h                                   # 0 at the top, 1 at the bottom
    a = c < w * (0.70 - 0.12 * t)               # east edge of A: 0.70 w at the top, 0.58 w at the bottom
    b = c > w * (0.42 - 0.12 * t)               # west edge of B: 0.42 w ... 0.30 w
    return a, b


def split_footprints(dst, key, level: str = "C2L2", layout: str = "folder", date: str | None = None,
                     neighbour_zone: bool = False, qa=None) -> list[Written]:
    """One real scene written as two overlapping products of neighbouring path/rows (built; pixels real).

    Product A keeps the scene's path/row; its grid starts 3 px west and 2 px north of the scene and is 3 px
    wider than A's data (fill there). Product B is path - 1 (the WRS-2 path to the east), its grid starts
    12 px east of the scene's west edge and reaches 4 px beyond the scene's east and south edges. Both grids
    have the scene's pixel phase (WRS-2 scenes of one UTM zone share the 30 m grid), so mosaicking them back
    onto the scene grid must reproduce the real pixels exactly. With ``neighbour_zone`` B is written in the
    next UTM zone east (EPSG + 1) on a 30 m grid with Landsat's phase (corner x, y = 15 mod 30), resampled by
    nearest neighbour: there the round trip is only as exact as two nearest-neighbour resamplings.
    ``qa``: optional pair of QA_PIXEL arrays (one per product grid)."""
    s = scene(key)
    g = scene_grid(s)
    fa, fb = footprint_masks(s)
    h, w = g.shape
    ga = g.window(-3, -2, int(np.ceil(w * 0.70)) + 6, h + 4)
    gb = g.window(int(w * 0.30) - 2, 0, w - int(w * 0.30) + 6, h + 4)
    if neighbour_zone:
        from osgeo import osr
        src, dstsrs = osr.SpatialReference(), osr.SpatialReference()
        src.ImportFromEPSG(g.epsg)
        dstsrs.ImportFromEPSG(g.epsg + 1)
        for s_ in (src, dstsrs):
            s_.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        tr = osr.CoordinateTransformation(src, dstsrs)
        x0, y0, x1, y1 = gb.bounds()
        pts = [tr.TransformPoint(x, y)[:2] for x in (x0, x1) for y in (y0, y1)]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        ux = np.floor((min(xs) - 15) / 30) * 30 + 15
        uy = np.ceil((max(ys) - 15) / 30) * 30 + 15
        gb = Grid(g.epsg + 1, ux, uy, int(np.ceil((max(xs) - ux) / 30)) + 1, int(np.ceil((uy - min(ys)) / 30)) + 1)
    qa = qa or (None, None)
    a = write_landsat_product(dst, s, level, layout, date, qa[0], path_row=(s.path, s.row), grid=ga, footprint=fa)
    b = write_landsat_product(dst, s, level, layout, date, qa[1], path_row=(s.path - 1, s.row), grid=gb,
                              footprint=fb)
    return [a, b]


def study_area(path, key=L8, epsg: int = 4326, layer: str = "study_area") -> Path:
    """A GeoPackage with one concave (L-shaped, with a notch) polygon inside the scene, in ``epsg`` (built).
    Vertices are placed on the scene grid in pixels (col, row) and transformed; the polygon leaves a margin of
    at least 3 px to the scene edge."""
    from osgeo import ogr, osr
    g = scene_grid(key)
    h, w = g.shape
    px = [(3, 3), (w - 4, 3), (w - 4, h * 0.45), (w * 0.55, h * 0.45), (w * 0.55, h - 4), (w * 0.3, h - 4),
          (w * 0.3, h * 0.7), (3, h * 0.6), (3, 3)]
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(g.epsg)
    dst.ImportFromEPSG(epsg)
    for s_ in (src, dst):
        s_.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    tr = osr.CoordinateTransformation(src, dst)
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for c, r in px:
        x, y = tr.TransformPoint(g.x0 + c * g.res, g.y0 - r * g.res)[:2]
        ring.AddPoint_2D(x, y)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    path = Path(path)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    lyr = ds.CreateLayer(layer, dst, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    f = ogr.Feature(lyr.GetLayerDefn())
    f.SetField("name", "study area")
    f.SetGeometry(poly)
    lyr.CreateFeature(f)
    ds = None
    return path


# ------------------------------------------------------------------------------------------------------------
# Sentinel-2 L2A with reflectance from a real Landsat scene
# ------------------------------------------------------------------------------------------------------------
S2_FROM_ROLE = {"B02": "B", "B03": "G", "B04": "R", "B08": "NIR", "B11": "SWIR1", "B12": "SWIR2"}


def s2_grids(key=L8) -> dict[int, Grid]:
    """10 / 20 / 60 m grids inside the Landsat scene, corners on multiples of 60 m (as S2 tile corners)."""
    g = scene_grid(key)
    x0, y0, x1, y1 = g.bounds()
    ax0, ay1 = math.ceil(x0 / 60) * 60, math.floor(y1 / 60) * 60
    ax1, ay0 = math.floor(x1 / 60) * 60, math.ceil(y0 / 60) * 60
    return {r: Grid(g.epsg, ax0, ay1, int((ax1 - ax0) / r), int((ay1 - ay0) / r), float(r)) for r in (10, 20, 60)}


def write_s2_product(dst, layout: str = "safe", key=L8, date: str = "2022-06-15", scl=None, pixels=None,
                     tile: str = "T32UMB", baseline: str = "04.00", clouds_in_pixels: bool = True) -> Written:
    """A Sentinel-2 L2A product (``.SAFE`` folder or its ``.zip``) whose reflectance is the real TOA reflectance
    of the Landsat scene ``key`` (default Marburg L8 2013; roles B02<-blue, B03<-green, B04<-red, B08<-NIR,
    B11<-SWIR1, B12<-SWIR2; pixels real, sensor built) resampled from 30 m by area-weighted averaging
    (gdal.Warp ``average``) onto 10 / 20 / 60 m grids inside the scene (corners on 60 m multiples). DN =
    round(rho * 10000 + 1000) (BOA_ADD_OFFSET -1000, baseline 04.00), uint16, 0 = no data; lossless JP2.
    Layout of the ESA L2A product: GRANULE/<granule>/IMG_DATA/R10m (B02 B03 B04 B08), R20m (B02 B03 B04 B11 B12
    SCL), R60m (same), MTD_MSIL2A.xml (:func:`mtd_xml`); red-edge, B01, B09, AOT, WVP, TCI are not written.
    ``scl``: SCL at 20 m (:func:`cloud_scl`); default built from the real NDVI (4 vegetation where > 0.3,
    6 water where < 0, else 5); its clouds go into the pixels of every resolution (:func:`apply_clouds`).
    ``pixels``: role -> array on the Landsat grid replacing the real reflectance."""
    s = scene(key)
    sg = scene_grid(s)
    grids = s2_grids(s)
    vals = real_values(s)
    if pixels:
        vals.update({r: np.asarray(v, dtype=np.float64) for r, v in pixels.items()})
    d = date.replace("-", "")
    name = f"S2A_MSIL2A_{d}T103631_N{baseline.replace('.', '')}_R008_{tile}_{d}T170000"
    granule = f"L2A_{tile}_A036500_{d}T104100"
    stem = f"{tile}_{d}T103631"
    on = {res: {b: warp_to(vals[r], sg, g, "average") for b, r in S2_FROM_ROLE.items()} for res, g in grids.items()}
    if scl is None:
        nir, red = on[20]["B08"], on[20]["B04"]
        ndvi = (nir - red) / (nir + red)
        scl = np.where(ndvi > 0.3, SCL_VEGETATION, np.where(ndvi < 0, SCL_WATER, SCL_NOT_VEGETATED))
    scl = np.asarray(scl, dtype=np.uint8)
    if scl.shape != grids[20].shape:
        raise ValueError(f"scl is {scl.shape}, the 20 m grid {grids[20].shape}")
    scl_at = {20: scl, 10: np.kron(scl, np.ones((2, 2), np.uint8)), 60: scl[1::3, 1::3]}
    if clouds_in_pixels:
        on = {res: apply_clouds(v, layers_from_scl(scl_at[res]), thermal=()) for res, v in on.items()}
    root = Path(dst) if layout == "safe" else Path(tempfile.mkdtemp(dir=dst))
    safe = root / f"{name}.SAFE"
    rels = []
    mem = gdal.GetDriverByName("MEM")
    jp2 = gdal.GetDriverByName("JP2OpenJPEG")
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(sg.epsg)
    for folder, bands in S2_LAYOUT.items():
        res = int(folder[1:-1])
        g = grids[res]
        out = safe / "GRANULE" / granule / "IMG_DATA" / folder
        out.mkdir(parents=True, exist_ok=True)
        for b in bands:
            if b == "SCL":
                a, t = scl_at[res], gdal.GDT_Byte
            else:
                v = on[res][b]
                with np.errstate(all="ignore"):
                    a = np.where(np.isfinite(v), np.clip(np.rint(v * 10000 + 1000), 1, 65535), 0).astype(np.uint16)
                t = gdal.GDT_UInt16
            m = mem.Create("", g.width, g.height, 1, t)
            m.SetGeoTransform(g.geotransform)
            m.SetProjection(srs.ExportToWkt())
            m.GetRasterBand(1).WriteArray(a)
            rel = f"GRANULE/{granule}/IMG_DATA/{folder}/{stem}_{b}_{res}m"
            jp2.CreateCopy(str(safe / (rel + ".jp2")), m, options=["REVERSIBLE=YES", "QUALITY=100"])
            rels.append(rel)
    (safe / "MTD_MSIL2A.xml").write_text(mtd_xml(baseline, True, rels, f"{date}T10:36:31.024Z", name))
    path = safe
    if layout == "zip":
        import zipfile
        path = Path(dst) / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for f in sorted(safe.rglob("*")):
                zf.write(f, f.relative_to(root).as_posix())
        shutil.rmtree(root)
    elif layout != "safe":
        raise ValueError(f"layout {layout!r}: safe or zip")
    return Written(path, name, "S2L2A", grids[10], date, layers_from_scl(scl), {r: on[10][b] for b, r in
                                                                                S2_FROM_ROLE.items()})


# ------------------------------------------------------------------------------------------------------------
# Archives as delivered and a Sentinel-2 product on real 10 / 20 / 60 m grids (the PRODUCT input tests)
# ------------------------------------------------------------------------------------------------------------
import zipfile  # noqa: E402

from osgeo import osr  # noqa: E402

REL = 1e-12                     # constants are copied numbers: equal up to float parsing


def mtl_value(text: str, key: str) -> str:
    """The value of ``KEY = value`` in MTL text (first occurrence), by regex: independent of parse_mtl."""
    m = re.search(rf'^\s*{key}\s*=\s*"?([^"\r\n]*?)"?\s*$', text, re.M)
    assert m, key
    return m.group(1)




def write_tar(tar: Path, files, first=None) -> Path:
    """A flat .tar of ``files`` (USGS delivers the product's files without a folder); ``first`` (a file name
    suffix such as "_MTL.txt") put first, else sorted by name."""
    files = sorted(files, key=lambda f: (not (first and f.name.endswith(first)), f.name))
    with tarfile.open(tar, "w") as tf:
        for f in files:
            tf.add(f, arcname=f.name)
    return tar


def landsat_tar(tmp: Path, prefix: str, folder: str = "marburg") -> Path:
    """The real scene ``prefix`` of test/data/<folder> as its USGS .tar."""
    return write_tar(tmp / f"{prefix}.tar", (DATA / folder).glob(prefix + "_*"))


def zip_safe(safe: Path, z: Path, skip=()) -> Path:
    """The .SAFE folder as its ESA .zip (the .SAFE folder inside); members whose name ends with one of ``skip``
    left out."""
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(safe.rglob("*")):
            if not any(f.name.endswith(s) for s in skip):
                zf.write(f, f.relative_to(safe.parent).as_posix())
    return z


# ------------------------------------------------------------------------------------------------------------
# Sentinel-2 L2A on true 10 / 20 / 60 m grids
# ------------------------------------------------------------------------------------------------------------
#: the 40 x 40 px corner of the 41 x 41 px Marburg scene becomes a 400 m S2 tile corner (UTM 32N)
S2_ORIGIN = (480000.0, 5630000.0)
S2_EPSG = 32632
S2_SIZE = 40
#: SCL classes written into the built product (ESA L2A PSD, SCL legend): 4 vegetation (clear) everywhere but
#: a cloud (9, high probability) block and a cloud-shadow (3) block, on the 20 m grid
S2_SCL_CLOUD = (slice(2, 6), slice(3, 8))
S2_SCL_SHADOW = (slice(12, 15), slice(14, 18))


def s2_dn_from_l8(l8_band: str) -> np.ndarray:
    """L2A DN (reflectance x 10000 + 1000, baseline 04.00) of the real L8 band ``l8_band`` (e.g. "B5") as TOA
    reflectance with the Marburg MTL's REFLECTANCE_MULT / ADD (2e-05 / -0.1, no sun angle): 0.2 DN, rounded;
    the 40 x 40 px top-left corner."""
    text = read_text(DATA / "marburg" / f"{L8}_MTL.txt")
    n = l8_band[1:]
    mult = float(mtl_value(text, f"REFLECTANCE_MULT_BAND_{n}"))
    add = float(mtl_value(text, f"REFLECTANCE_ADD_BAND_{n}"))
    dn = pixels(DATA / "marburg" / f"{L8}_{l8_band}.TIF").astype(np.float64)[:S2_SIZE, :S2_SIZE]
    return np.round((dn * mult + add) * 10000 + 1000).astype(np.uint16)


def _write_jp2(path: Path, arr: np.ndarray, pixel: float):
    mem = gdal.GetDriverByName("MEM").Create("", arr.shape[1], arr.shape[0], 1,
                                             gdal.GDT_Byte if arr.dtype == np.uint8 else gdal.GDT_UInt16)
    mem.SetGeoTransform((S2_ORIGIN[0], pixel, 0.0, S2_ORIGIN[1], 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(S2_EPSG)
    mem.SetProjection(srs.ExportToWkt())
    mem.GetRasterBand(1).WriteArray(arr)
    gdal.GetDriverByName("JP2OpenJPEG").CreateCopy(str(path), mem, options=["REVERSIBLE=YES", "QUALITY=100"])
    mem = None


def block_mean(a: np.ndarray, k: int) -> np.ndarray:
    """The k x k block means of ``a`` rounded to DN (how a coarser band of the same ground is built here)."""
    h, w = a.shape[0] // k * k, a.shape[1] // k * k
    return np.round(a[:h, :w].astype(np.float64).reshape(h // k, k, w // k, k).mean(axis=(1, 3))).astype(a.dtype)


def s2_scl_20m() -> np.ndarray:
    scl = np.full((S2_SIZE // 2, S2_SIZE // 2), 4, np.uint8)
    scl[S2_SCL_CLOUD] = 9
    scl[S2_SCL_SHADOW] = 3
    return scl


def write_safe_gridded(root: Path, skip=()) -> Path:
    """An S2 L2A .SAFE (baseline 04.00) with the ESA layout and true grids: B02 B03 B04 B08 at 10 m (40 x 40 px),
    B02 B03 B04 B11 B12 SCL at 20 m (20 x 20 px: 2 x 2 means of the 10 m DN), the same at 60 m (6 x 6 px: 6 x 6
    means, the last 4 px cut as ESA's tile edge would). Reflective DN from the real L8 bands (s2_dn_from_l8)."""
    safe = root / f"{S2_NAME}.SAFE"
    ten = {b: s2_dn_from_l8(S2_FROM_L8[b]) for b in ("B02", "B03", "B04", "B08", "B11", "B12")}
    rels = []
    for res, bands in S2_LAYOUT.items():
        d = safe / "GRANULE" / GRANULE / "IMG_DATA" / res
        d.mkdir(parents=True, exist_ok=True)
        k = {"R10m": 1, "R20m": 2, "R60m": 6}[res]
        for b in bands:
            if (res, b) in skip or b in skip:
                continue
            if b == "SCL":
                arr = s2_scl_20m() if k == 2 else s2_scl_20m()[::3, ::3][:S2_SIZE // 6, :S2_SIZE // 6]
            else:
                arr = ten[b] if k == 1 else block_mean(ten[b], k)
            rel = f"GRANULE/{GRANULE}/IMG_DATA/{res}/{TILE}_{b}_{res[1:]}"
            _write_jp2(safe / (rel + ".jp2"), arr, 10.0 * k)
            rels.append(rel)
    (safe / "MTD_MSIL2A.xml").write_text(mtd_xml("04.00", True, rels))
    return safe
