"""Independent reference computations for the QGIS-level tests.

Nothing here imports the plugin: every number the tests compare with is recomputed from the
raw Landsat DN and the MTL text with numpy / GDAL / scikit-learn, following the published
formulas (each function names its source). The point is that a bug in the plugin's core,
raster engine or algorithm wiring shows up as a mismatch.
"""
from __future__ import annotations

import math
import os
import re

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MARBURG = os.path.join(ROOT, "test", "data", "marburg")
L8 = os.path.join(MARBURG, "LC08_L1TP_195025_20130707_20170503_01_T1")
L7 = os.path.join(MARBURG, "LE07_L1TP_195025_20010730_20170204_01_T1")
MODELS = os.path.join(ROOT, "test", "models")

# Level-1 band ids per role. Sources: USGS Landsat 8 Data Users Handbook (OLI bands 2-7,
# TIRS band 10) and Landsat 7 Data Users Handbook (ETM+ bands 1-5, 7, thermal 6 low gain).
BANDS = {
    "L8": {"BLUE": "2", "GREEN": "3", "RED": "4", "NIR": "5", "SWIR1": "6", "SWIR2": "7", "THERMAL": "10"},
    "L7": {"BLUE": "1", "GREEN": "2", "RED": "3", "NIR": "4", "SWIR1": "5", "SWIR2": "7", "THERMAL": "6_VCID_1"},
}
PREFIX = {"L8": L8, "L7": L7}
SENSOR_ENUM = {"L7": 1, "L8": 2}   # position in the SENSOR enum (L5, L7, L8, L9, S2)

# Tasselled-cap wetness coefficients (B, G, R, NIR, SWIR1, SWIR2), from INDICES.md:
# OLI: Baig et al. 2014 (TOA reflectance); ETM+: Huang et al. 2002 (TOA reflectance).
WET_COEF = {
    "L8": (0.1511, 0.1973, 0.3283, 0.3407, -0.7117, -0.4559),
    "L7": (0.2626, 0.2141, 0.0926, 0.0656, -0.7629, -0.5388),
}

PIXEL_AREA_M2 = 30.0 * 30.0


def band_path(sensor: str, role: str) -> str:
    return f"{PREFIX[sensor]}_B{BANDS[sensor][role]}.TIF"


def mtl_path(sensor: str) -> str:
    return f"{PREFIX[sensor]}_MTL.txt"


def scene_params(sensor: str, roles=("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2", "THERMAL")) -> dict:
    """processing.run parameters for a Level-1 scene given as one layer per band, with its MTL."""
    p = {"SENSOR": SENSOR_ENUM[sensor], "RADIOMETRY": 1, "MTL_FILE": mtl_path(sensor)}
    for role in roles:
        p[role] = band_path(sensor, role)
    return p


def cli_args(params: dict) -> list[str]:
    """``KEY=value`` arguments for ``qgis_process run ID -- ...``; a list (multiple enum choice) is written
    comma separated, the form qgis_process 3.22 accepts ("Comma separated list of options")."""
    return [f"{k}={','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in params.items()]


def write_raster(path, arrays, names=(), pixel=30.0, dtype=gdal.GDT_UInt16, nodata=None, epsg=32649,
                 origin=(300000.0, 4200000.0), geotransform=None) -> str:
    """A GeoTIFF with one band per array (north-up, ``pixel`` map units from ``origin``, or ``geotransform``; CRS
    ``epsg``), band descriptions ``names`` and ``nodata`` on every band; its path."""
    arrays = [np.asarray(a) for a in arrays]
    h, w = arrays[0].shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, len(arrays), dtype)
    ds.SetGeoTransform(geotransform or (origin[0], pixel, 0.0, origin[1], 0.0, -pixel))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    for i, a in enumerate(arrays):
        band = ds.GetRasterBand(i + 1)
        band.WriteArray(a)
        if i < len(names):
            band.SetDescription(names[i])
        if nodata is not None:
            band.SetNoDataValue(nodata)
    ds = None
    return str(path)


# ------------------------------------------------------------------------- MTL and DN
def read_mtl(path: str) -> dict:
    """Every ``KEY = number`` of an MTL file (regex; independent of the plugin's parser)."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        for m in re.finditer(r"^\s*([A-Z0-9_]+)\s*=\s*(-?[0-9.]+(?:[Ee][-+]?\d+)?)\s*$", fh.read(), re.M):
            out.setdefault(m.group(1), float(m.group(2)))
    return out


def raster_meta(path: str) -> dict:
    """Size, geotransform, CRS, band descriptions and nodata of a raster (the dataset is closed again:
    no GDAL handle may outlive the QGIS application, e.g. in a failed test's traceback)."""
    ds = gdal.Open(str(path))
    bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
    meta = {"size": (ds.RasterXSize, ds.RasterYSize), "geotransform": tuple(ds.GetGeoTransform()),
            "wkt": ds.GetProjection(), "count": ds.RasterCount,
            "descriptions": [b.GetDescription() for b in bands], "nodata": [b.GetNoDataValue() for b in bands]}
    del bands, ds
    return meta


def read_array(path: str, band: int = 1) -> np.ndarray:
    """A band as stored (no nodata conversion)."""
    ds = gdal.Open(str(path))
    a = ds.GetRasterBand(band).ReadAsArray()
    ds = None
    return a


def read_raster(path: str, band: int = 1) -> np.ndarray:
    """A band as float64 with its nodata value (and the -9999 float nodata) as NaN."""
    ds = gdal.Open(str(path))
    b = ds.GetRasterBand(band)
    a = b.ReadAsArray().astype(np.float64)
    nd = b.GetNoDataValue()
    del b, ds
    if nd is not None and not math.isnan(nd):
        a[a == nd] = np.nan
    return a


def read_dn(sensor: str, role: str) -> np.ndarray:
    """DN as float64; nodata (-32768 in these files) and DN 0 (Landsat fill) as NaN."""
    a = read_raster(band_path(sensor, role))
    a[a == 0] = np.nan
    return a


def toa_reflectance(sensor: str, role: str, mtl: dict | None = None) -> np.ndarray:
    """TOA reflectance rho = (M_rho DN + A_rho) / sin(SUN_ELEVATION): USGS Landsat 8 Data Users
    Handbook sect. 5.2 (eqs. 5-2/5-3); Collection 1 ETM+ MTLs carry the same keys."""
    mtl = mtl or read_mtl(mtl_path(sensor))
    bid = BANDS[sensor][role]
    m, a = mtl[f"REFLECTANCE_MULT_BAND_{bid}"], mtl[f"REFLECTANCE_ADD_BAND_{bid}"]
    return (m * read_dn(sensor, role) + a) / math.sin(math.radians(mtl["SUN_ELEVATION"]))


def thermal_radiance(sensor: str, mtl: dict | None = None) -> np.ndarray:
    """L = M_L DN + A_L (USGS Landsat 8 handbook eq. 5-1)."""
    mtl = mtl or read_mtl(mtl_path(sensor))
    bid = BANDS[sensor]["THERMAL"]
    return mtl[f"RADIANCE_MULT_BAND_{bid}"] * read_dn(sensor, "THERMAL") + mtl[f"RADIANCE_ADD_BAND_{bid}"]


# ------------------------------------------------------------------------- indices (INDICES.md)
def reflectances(sensor: str) -> dict:
    mtl = read_mtl(mtl_path(sensor))
    return {r: toa_reflectance(sensor, r, mtl) for r in ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")}


def ndvi(b):
    """(NIR - R) / (NIR + R), Rouse 1974."""
    return (b["NIR"] - b["RED"]) / (b["NIR"] + b["RED"])


def wet(b, sensor):
    """Tasselled-cap wetness: Baig 2014 (OLI) / Huang 2002 (ETM+)."""
    c = WET_COEF[sensor]
    return sum(k * b[r] for k, r in zip(c, ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2")))


def ndbsi(b):
    """(SI + IBI) / 2, ningdong eqs. 9-11 (SI bare-soil index; IBI Xu 2008)."""
    s1, r, n, bl, g = b["SWIR1"], b["RED"], b["NIR"], b["BLUE"], b["GREEN"]
    si = ((s1 + r) - (n + bl)) / ((s1 + r) + (n + bl))
    x, y, z = 2 * s1 / (s1 + n), n / (n + r), g / (g + s1)
    ibi = (x - y - z) / (x + y + z)
    return (si + ibi) / 2


def mndwi(b):
    """(G - SWIR1) / (G + SWIR1), Xu 2006."""
    return (b["GREEN"] - b["SWIR1"]) / (b["GREEN"] + b["SWIR1"])


def sobrino_emissivity(nd):
    """NDVI threshold emissivity, Sobrino et al. 2004: 0.97 (NDVI < 0.2), 0.99 (NDVI > 0.5),
    else 0.004 Pv + 0.986 with Pv = ((NDVI - 0.2) / 0.3)^2."""
    pv = ((nd - 0.2) / (0.5 - 0.2)) ** 2
    eps = 0.004 * pv + 0.986
    eps = np.where(nd < 0.2, 0.97, eps)
    return np.where(nd > 0.5, 0.99, eps)


def lst_celsius(sensor: str, nd=None):
    """ningdong eqs. 6-8 with tau = 1, R_up = R_down = 0: B_T = L / eps,
    LST = K2 / ln(1 + K1 / B_T) - 273.15 (K1/K2 from the MTL)."""
    mtl = read_mtl(mtl_path(sensor))
    bid = BANDS[sensor]["THERMAL"]
    if nd is None:
        nd = ndvi(reflectances(sensor))
    eps = sobrino_emissivity(nd)
    bt = thermal_radiance(sensor, mtl) / eps
    return mtl[f"K2_CONSTANT_BAND_{bid}"] / np.log(1 + mtl[f"K1_CONSTANT_BAND_{bid}"] / bt) - 273.15


def components(sensor: str):
    """(NDVI, WET, NDBSI, LST, MNDWI) arrays of a scene, from DN + MTL."""
    b = reflectances(sensor)
    nd = ndvi(b)
    return nd, wet(b, sensor), ndbsi(b), lst_celsius(sensor, nd), mndwi(b)


def reference_rsei(sensor: str, water_threshold: float = 0.0):
    """RSEI (Xu 2013; ningdong eqs. 12-13) with scikit-learn PCA on every valid pixel.

    Water (MNDWI > threshold) is left out; each component is min-max normalised; PC1 is
    oriented so that NDVI loads positively; RSEI = (PC1 - min) / (max - min).
    Returns (rsei array with NaN outside the valid pixels, PCA components_ matrix oriented).
    """
    from sklearn.decomposition import PCA

    nd, we, db, ls, mw = components(sensor)
    stack = np.stack([nd, we, db, ls], axis=-1)
    valid = np.isfinite(stack).all(axis=-1) & ~(mw > water_threshold)
    x = stack[valid]
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    pca = PCA(n_components=4).fit(x)
    comps = pca.components_.copy()
    if comps[0, 0] < 0:
        comps[0] = -comps[0]
    pc1 = (x - x.mean(axis=0)) @ comps[0]
    out = np.full(valid.shape, np.nan)
    out[valid] = (pc1 - pc1.min()) / (pc1.max() - pc1.min())
    return out, comps


def digitize_grades(rsei):
    """Grades 1..5 with upper-inclusive breaks 0.2, 0.4, 0.6, 0.8 (ningdong sect. 4.1); 0 = nodata."""
    g = np.digitize(rsei, [0.2, 0.4, 0.6, 0.8], right=True) + 1
    return np.where(np.isfinite(rsei), g, 0)


# ------------------------------------------------------------------------- QA (USGS C1 BQA)
def bqa_masked(qa: np.ndarray, oli: bool = True) -> np.ndarray:
    """True where a Collection 1 BQA value flags the pixel (USGS "Landsat Collection 1 Level-1
    Quality Assessment Band"): bit 0 fill, bit 4 cloud, bits 5-6 cloud confidence high (3),
    bits 7-8 cloud-shadow confidence high (3), bits 11-12 cirrus confidence high (3, OLI only)."""
    q = qa.astype(np.int64)
    bad = (q & 1).astype(bool) | ((q >> 4) & 1).astype(bool)
    bad |= ((q >> 5) & 3) == 3
    bad |= ((q >> 7) & 3) == 3
    if oli:
        bad |= ((q >> 11) & 3) == 3
    return bad


def corr(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


# ------------------------------------------------------------------------- composites (miningeco:composite layout)
COMPOSITE_ROLES = ("BLUE", "GREEN", "RED", "NIR", "SWIR1", "SWIR2", "THERMAL")
COMPOSITE_NAMES = ("blue", "green", "red", "nir", "swir1", "swir2", "thermal", "count")


def composite_bands(sensor: str) -> dict:
    """A real Marburg scene as a composite holds it: TOA reflectance 0-1 per role (USGS handbook, above) and the
    surface temperature in kelvin (ningdong eqs. 6-8 with tau = 1 as ``lst_celsius``, + 273.15)."""
    b = reflectances(sensor)
    b["THERMAL"] = lst_celsius(sensor) + 273.15
    return b


def write_composite(path, bands: dict, year=None, wet_set=None, like: str = "L8") -> str:
    """A composite as ``miningeco:composite`` writes it: float32, nodata -9999, bands ``blue green red nir swir1
    swir2 thermal count`` (count = 1 where the pixel is valid), metadata MINING_ECO_PERIOD / _WET_SET when given
    (and HARMONISED=no, METHOD=medoid); on the grid of the Marburg scene ``like``."""
    meta = raster_meta(band_path(like, "RED"))
    arrays = [np.where(np.isfinite(bands[r]), bands[r], -9999.0).astype(np.float32) for r in COMPOSITE_ROLES]
    arrays.append(np.isfinite(np.stack([bands[r] for r in COMPOSITE_ROLES])).all(axis=0).astype(np.float32))
    h, w = arrays[0].shape
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, len(arrays), gdal.GDT_Float32)
    ds.SetGeoTransform(meta["geotransform"])
    ds.SetProjection(meta["wkt"])
    for i, a in enumerate(arrays):
        band = ds.GetRasterBand(i + 1)
        band.WriteArray(a)
        band.SetNoDataValue(-9999.0)
        band.SetDescription(COMPOSITE_NAMES[i])
        band = None
    md = {"MINING_ECO_HARMONISED": "no", "MINING_ECO_METHOD": "medoid"}
    if year is not None:
        md["MINING_ECO_PERIOD"] = str(year)
    if wet_set:
        md["MINING_ECO_WET_SET"] = wet_set
    ds.SetMetadata(md)
    ds = None
    return str(path)


def vegetated(bands: dict) -> np.ndarray:
    """The land-cover classification of the built series: True (vegetation) where NDVI is above the scene's
    median NDVI, False (sparse vegetation, built-up, bare) elsewhere."""
    nd = ndvi(bands)
    return nd > np.nanmedian(nd)


def built_year(bands: dict, k: int, step: float = 0.05) -> dict:
    """The bands of a BUILT year ``k`` years after the real scene ``bands``: NIR x (1 + step k) on vegetation
    (``vegetated``: NDVI rises), NIR x (1 - step k) elsewhere (NDVI falls); every other band unchanged."""
    out = dict(bands)
    out["NIR"] = bands["NIR"] * np.where(vegetated(bands), 1 + step * k, 1 - step * k)
    return out
