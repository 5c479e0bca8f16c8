"""Scene products laid out exactly as USGS and ESA deliver them, written from the real pixels and MTL text of
test/data (Landsat imagery courtesy of the U.S. Geological Survey; see test/data/README.md): shared by the product
tests (test/unit/test_products.py, test/test_products_in_tools.py, the hostile battery).

Built (not real) parts, said here once: the Collection 2 MTL texts are the real Collection 1 MTL of Marburg with
the Collection 2 group / key names (LANDSAT_METADATA_FILE, LEVEL1_RADIOMETRIC_RESCALING, LEVEL2_* groups,
FILE_NAME_QUALITY_L1_PIXEL) and the documented L2 scale factors (USGS LSDS-1619: SR 2.75e-05 / -0.2, ST
0.00341802 / 149.0); the Sentinel-2 products carry Landsat 8 pixels under ESA file names and a minimal
MTD_MSIL2A.xml with the ESA element names (``write_safe``: the L8 DN as they are, on the L8 grid in every
resolution folder; ``write_safe_gridded``: the L8 TOA reflectance as L2A DN on true 10 / 20 / 60 m grids).
"""
from __future__ import annotations

import json
import re
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

DATA = Path(__file__).resolve().parent / "data"
L8 = "LC08_L1TP_195025_20130707_20170503_01_T1"
L7 = "LE07_L1TP_195025_20010730_20170204_01_T1"
L5 = "LT05_L1TP_167055_20000309_20161214_01_T1"
PRE = "LT51670552010352MLK00"
REL = 1e-12                     # constants are copied numbers: equal up to float parsing


def mtl_value(text: str, key: str) -> str:
    """The value of ``KEY = value`` in MTL text (first occurrence), by regex: independent of parse_mtl."""
    m = re.search(rf'^\s*{key}\s*=\s*"?([^"\r\n]*?)"?\s*$', text, re.M)
    assert m, key
    return m.group(1)


def read_text(p) -> str:
    return Path(p).read_bytes().replace(b"\x00", b"").decode("latin-1")


def pixels(path) -> np.ndarray:
    ds = gdal.Open(str(path))
    assert ds is not None, path
    a = ds.GetRasterBand(1).ReadAsArray()
    ds = None
    return a


def copy_scene(src_dir: Path, prefix: str, dst: Path) -> Path:
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


S2_NAME = "S2A_MSIL2A_20220615T103631_N0400_R008_T32UMB_20220615T170000"
GRANULE = "L2A_T32UMB_A036500_20220615T104100"
TILE = "T32UMB_20220615T103631"
# real Landsat 8 pixels standing in for the MSI bands of the same role (B2->B02, ..., B6->B11, B7->B12)
S2_FROM_L8 = {"B02": "B2", "B03": "B3", "B04": "B4", "B08": "B5", "B11": "B6", "B12": "B7", "SCL": "BQA"}
S2_LAYOUT = {"R10m": ("B02", "B03", "B04", "B08"), "R20m": ("B02", "B03", "B04", "B11", "B12", "SCL"),
             "R60m": ("B02", "B03", "B04", "B11", "B12", "SCL")}


def mtd_xml(baseline="04.00", offsets=True, files=()) -> str:
    off = "".join(f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>\n' for i in range(13)) if offsets else ""
    imgs = "".join(f"<IMAGE_FILE>{f}</IMAGE_FILE>\n" for f in files)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-2A_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd">
<n1:General_Info><Product_Info>
<PRODUCT_START_TIME>2022-06-15T10:36:31.024Z</PRODUCT_START_TIME>
<PRODUCT_URI>{S2_NAME}.SAFE</PRODUCT_URI><PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
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
# archives as delivered
# ------------------------------------------------------------------------------------------------------------
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
