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


def mtd_xml(baseline="04.00", offsets=True, files=()) -> str:
    """A minimal MTD_MSIL2A.xml with the ESA element names (built)."""
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


