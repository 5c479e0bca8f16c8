"""Issue 13, item 1: the PRODUCT input of every scene tool (spectralindices, lst, rsei) through processing.run.

Each product run is compared with the same tool run as before this input existed: the explicit band layers,
the MTL file, the radiometry and the QA band of the same scene. The reference runs read the files directly
(never through /vsitar/ or /vsizip/); the product runs read the product as delivered. Same numbers expected:
bit-for-bit where both runs do the same arithmetic, else within 1e-6.

Data: the real Marburg Landsat 8 (Collection 1 L1, 2013) and Landsat 7 (2001) scenes and the real Ethiopia
pre-collection Landsat 5 scene (2010) of test/data; the Collection 2 Level-2 and Sentinel-2 L2A products are
built from the real Marburg pixels (test/productdata.py says how). Sentinel-2: the reference resamples the
20 m bands onto the 10 m grid with gdalwarp (bilinear; SCL nearest neighbour), independently of the plugin.
"""
from __future__ import annotations

import os
import re
import tarfile

import numpy as np
import pytest
from osgeo import gdal

import productdata as pd
from mining_eco_plugin.algorithms.index_calculator import PRODUCTS

gdal.UseExceptions()

LANDSAT_INDICES = ["NDVI", "WET", "NDBSI", "MNDWI", "LST"]
S2_INDICES = ["NDVI", "NDMI", "MNDWI", "WET"]
SENSOR_ENUM = {"L5": 0, "L7": 1, "L8": 2, "L9": 3, "S2": 4}
ROLE_FILES = {   # role parameter -> band file suffix (USGS Landsat 4-5 / 7 / 8 Data Users Handbooks)
    "L8": {"BLUE": "B2", "GREEN": "B3", "RED": "B4", "NIR": "B5", "SWIR1": "B6", "SWIR2": "B7", "THERMAL": "B10"},
    "L7": {"BLUE": "B1", "GREEN": "B2", "RED": "B3", "NIR": "B4", "SWIR1": "B5", "SWIR2": "B7",
           "THERMAL": "B6_VCID_1"},
    "L5": {"BLUE": "B1", "GREEN": "B2", "RED": "B3", "NIR": "B4", "SWIR1": "B5", "SWIR2": "B7", "THERMAL": "B6"},
}


def run(tool, params):
    import processing
    return processing.run(f"miningeco:{tool}", params)


def arrays(path):
    ds = gdal.Open(str(path))
    out = ds.ReadAsArray().astype(np.float64)
    ds = None
    return out


def same(a, b, atol=1e-6):
    """Equal rasters: the same nodata pixels, the values within ``atol``; returns the largest difference."""
    x, y = arrays(a), arrays(b)
    assert x.shape == y.shape
    assert np.array_equal(x == -9999.0, y == -9999.0), "different nodata pixels"
    ok = x != -9999.0
    assert ok.any()
    diff = float(np.max(np.abs(x[ok] - y[ok])))
    assert diff <= atol, diff
    return diff


def indices_params(names, out):
    return {"INDICES": [PRODUCTS.index(n) for n in names], "OUTPUT": str(out)}


def explicit_landsat(folder, prefix, sensor, qa=True, ext="TIF"):
    """The scene as explicit layers: band files, MTL, Level-1 radiometry, QA band (BQA: QA_TYPE automatic)."""
    p = {"SENSOR": SENSOR_ENUM[sensor], "RADIOMETRY": 1, "MTL_FILE": str(folder / f"{prefix}_MTL.txt")}
    for pid, suffix in ROLE_FILES[sensor].items():
        p[pid] = str(folder / f"{prefix}_{suffix}.{ext}")
    if qa:
        p["QA_BAND"] = str(folder / f"{prefix}_BQA.{ext}")
    return p


# ------------------------------------------------------------------------------------------------------------
# Landsat Level-1 (TOA_OK) and Collection 2 Level-2
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["mtl", "folder", "tar"])
def test_l8_collection1_product_equals_explicit_layers(provider, tmp_path, given):
    marburg = pd.DATA / "marburg"
    product = {"mtl": lambda: marburg / f"{pd.L8}_MTL.txt",
               "folder": lambda: pd.copy_scene(marburg, pd.L8, tmp_path / pd.L8),
               "tar": lambda: pd.landsat_tar(tmp_path, pd.L8)}[given]()
    ref = run("spectralindices", {**explicit_landsat(marburg, pd.L8, "L8"),
                                  **indices_params(LANDSAT_INDICES, tmp_path / "ref.tif")})
    got = run("spectralindices", {"PRODUCT": str(product), "TOA_OK": True,
                                  **indices_params(LANDSAT_INDICES, tmp_path / "got.tif")})
    assert same(got["OUTPUT"], ref["OUTPUT"], atol=0.0) == 0.0           # same arithmetic: bit-for-bit


def test_l7_tar_equals_explicit_layers(provider, tmp_path):
    tar = pd.landsat_tar(tmp_path, pd.L7)
    marburg = pd.DATA / "marburg"
    ref = run("spectralindices", {**explicit_landsat(marburg, pd.L7, "L7"),
                                  **indices_params(LANDSAT_INDICES, tmp_path / "ref.tif")})
    got = run("spectralindices", {"PRODUCT": str(tar), "TOA_OK": True,
                                  **indices_params(LANDSAT_INDICES, tmp_path / "got.tif")})
    assert same(got["OUTPUT"], ref["OUTPUT"], atol=0.0) == 0.0
    assert sorted(os.listdir(tmp_path)) == sorted(["ref.tif", "got.tif", tar.name] +
                                                  [f for f in os.listdir(tmp_path) if f.endswith((".qml", ".xml"))])


def test_ethiopia_precollection_l5_mtl(provider, tmp_path):
    """The pre-collection TM scene (radiance from LMAX / LMIN, no QA band; files named .tif, the MTL says .TIF)."""
    eth = pd.DATA / "ethiopia"
    ref = run("spectralindices", {**explicit_landsat(eth, pd.PRE, "L5", qa=False, ext="tif"),
                                  **indices_params(LANDSAT_INDICES, tmp_path / "ref.tif")})
    got = run("spectralindices", {"PRODUCT": str(eth / f"{pd.PRE}_MTL.txt"), "TOA_OK": True,
                                  **indices_params(LANDSAT_INDICES, tmp_path / "got.tif")})
    assert same(got["OUTPUT"], ref["OUTPUT"], atol=0.0) == 0.0


def c2l2_explicit(folder, pid):
    """The built C2 L2 product as explicit layers with the Level-2 radiometry and its QA_PIXEL band."""
    p = {"SENSOR": 2, "RADIOMETRY": 0, "QA_BAND": str(folder / f"{pid}_QA_PIXEL.TIF")}
    for pid_, suffix in ROLE_FILES["L8"].items():
        p[pid_] = str(folder / f"{pid}_{'ST_' if pid_ == 'THERMAL' else 'SR_'}{suffix}.TIF")
    return p


@pytest.mark.parametrize("given", ["txt", "xml", "json", "tar"])
def test_c2_level2_product_equals_explicit_layers(provider, tmp_path, given):
    """Level-2: no TOA_OK needed; scale and offset from the MTL's LEVEL2_* groups (equal to the documented
    2.75e-05 / -0.2 and 0.00341802 / 149.0 the explicit L2 radiometry uses)."""
    folder = tmp_path / "p"
    pid, _ = pd.write_c2(folder, "L2", "txt" if given == "tar" else given)
    product = folder / f"{pid}_MTL.{given}"
    if given == "tar":
        product = pd.write_tar(tmp_path / f"{pid}.tar", folder.iterdir())
    ref = run("spectralindices", {**c2l2_explicit(folder, pid), **indices_params(LANDSAT_INDICES, tmp_path / "r.tif")})
    got = run("spectralindices", {"PRODUCT": str(product), **indices_params(LANDSAT_INDICES, tmp_path / "g.tif")})
    assert same(got["OUTPUT"], ref["OUTPUT"], atol=0.0) == 0.0


def test_c2_level2_uses_the_products_own_scaling(provider, tmp_path):
    """An MTL whose L2 scaling differs from the documented default: the product's numbers are used
    (hand value: reflectance = DN x 3e-05 - 0.1 for NIR and red, NDVI from them)."""
    folder = tmp_path / "p"
    pid, text = pd.write_c2(folder, "L2", "txt")
    for b in (4, 5):
        text = text.replace(f"REFLECTANCE_MULT_BAND_{b} = 2.75E-05", f"REFLECTANCE_MULT_BAND_{b} = 3.0E-05")
        text = text.replace(f"REFLECTANCE_ADD_BAND_{b} = -0.200000", f"REFLECTANCE_ADD_BAND_{b} = -0.100000")
    (folder / f"{pid}_MTL.txt").write_text(text)
    got = run("spectralindices", {"PRODUCT": str(folder / f"{pid}_MTL.txt"), **indices_params(["NDVI"],
                                                                                               tmp_path / "g.tif")})
    red = pd.pixels(folder / f"{pid}_SR_B4.TIF").astype(np.float64) * 3e-05 - 0.1
    nir = pd.pixels(folder / f"{pid}_SR_B5.TIF").astype(np.float64) * 3e-05 - 0.1
    ndvi = (nir - red) / (nir + red)
    out = arrays(got["OUTPUT"])
    ok = out != -9999.0
    assert ok.mean() > 0.5
    np.testing.assert_allclose(out[ok], ndvi[ok], atol=1e-6)


@pytest.mark.parametrize("kind", ["l8tar", "c2l2"])
def test_rsei_and_lst_with_product(provider, tmp_path, kind):
    marburg = pd.DATA / "marburg"
    if kind == "l8tar":
        product, extra = pd.landsat_tar(tmp_path, pd.L8), {"TOA_OK": True}
        explicit = explicit_landsat(marburg, pd.L8, "L8")
    else:
        pid, _ = pd.write_c2(tmp_path / "p", "L2", "txt")
        product, extra = tmp_path / "p" / f"{pid}_MTL.txt", {}
        explicit = c2l2_explicit(tmp_path / "p", pid)
    outs = {}
    for name, params in (("ref", explicit), ("got", {"PRODUCT": str(product), **extra})):
        o = tmp_path / name
        o.mkdir()
        outs[name] = (run("rsei", {**params, "OUTPUT": str(o / "rsei.tif"), "OUTPUT_GRADES": str(o / "g.tif"),
                                   "OUTPUT_TABLE": str(o / "t.csv"), "OUTPUT_REPORT": str(o / "r.html")}),
                      run("lst", {**params, "OUTPUT": str(o / "lst.tif")}))
    (rsei_ref, lst_ref), (rsei_got, lst_got) = outs["ref"], outs["got"]
    assert same(lst_got["OUTPUT"], lst_ref["OUTPUT"], atol=0.0) == 0.0
    assert same(rsei_got["OUTPUT"], rsei_ref["OUTPUT"], atol=1e-6) <= 1e-6
    assert same(rsei_got["OUTPUT_GRADES"], rsei_ref["OUTPUT_GRADES"], atol=0.0) == 0.0
    report = (tmp_path / "got" / "r.html").read_text(encoding="utf-8")
    assert os.path.basename(str(product)) in report                       # PRODUCT listed among the inputs
    member = f"{pd.L8}.tar/{pd.L8}_B5.TIF" if kind == "l8tar" else f"{pid}_SR_B5.TIF"
    assert member in report                                               # and the band files inside it


# ------------------------------------------------------------------------------------------------------------
# Sentinel-2 L2A: 20 m bands and SCL onto the 10 m grid of B02
# ------------------------------------------------------------------------------------------------------------
def gdalwarp_onto(src, like, dst, method):
    """``gdalwarp -te <like's extent> -ts <like's size> -r method``: the independent reference resampling."""
    ds = gdal.Open(str(like))
    gt = ds.GetGeoTransform()
    bounds = (gt[0], gt[3] + gt[5] * ds.RasterYSize, gt[0] + gt[1] * ds.RasterXSize, gt[3])
    gdal.Warp(str(dst), str(src), format="GTiff", outputBounds=bounds, width=ds.RasterXSize,
              height=ds.RasterYSize, resampleAlg=method)
    return str(dst)


@pytest.mark.parametrize("given", ["safe", "zip"])
def test_s2_product_resamples_20m_bands_like_gdalwarp(provider, tmp_path, given):
    safe = pd.write_safe_gridded(tmp_path / "src")
    img = safe / "GRANULE" / pd.GRANULE / "IMG_DATA"
    b10 = {r: img / "R10m" / f"{pd.TILE}_{b}_10m.jp2" for r, b in
           (("BLUE", "B02"), ("GREEN", "B03"), ("RED", "B04"), ("NIR", "B08"))}
    ref_params = {"SENSOR": 4, "RADIOMETRY": 2, "S2_BOA_ADD_OFFSET": -1000, **{k: str(v) for k, v in b10.items()},
                  "SWIR1": gdalwarp_onto(img / "R20m" / f"{pd.TILE}_B11_20m.jp2", b10["BLUE"], tmp_path / "b11.tif",
                                         "bilinear"),
                  "SWIR2": gdalwarp_onto(img / "R20m" / f"{pd.TILE}_B12_20m.jp2", b10["BLUE"], tmp_path / "b12.tif",
                                         "bilinear"),
                  "QA_BAND": gdalwarp_onto(img / "R20m" / f"{pd.TILE}_SCL_20m.jp2", b10["BLUE"], tmp_path / "scl.tif",
                                           "near")}
    ref = run("spectralindices", {**ref_params, **indices_params(S2_INDICES, tmp_path / "ref.tif")})
    product = safe / "MTD_MSIL2A.xml" if given == "safe" else pd.zip_safe(safe, tmp_path / f"{pd.S2_NAME}.zip")
    got = run("spectralindices", {"PRODUCT": str(product), **indices_params(S2_INDICES, tmp_path / "got.tif")})
    assert same(got["OUTPUT"], ref["OUTPUT"], atol=1e-6) <= 1e-6
    out = arrays(got["OUTPUT"])
    assert out.shape == (len(S2_INDICES), pd.S2_SIZE, pd.S2_SIZE)              # the 10 m grid of B02
    # SCL cloud (9) and shadow (3) 20 m pixels are nodata as 2 x 2 blocks of 10 m pixels: nearest neighbour
    masked = np.zeros((pd.S2_SIZE, pd.S2_SIZE), bool)
    for sl in (pd.S2_SCL_CLOUD, pd.S2_SCL_SHADOW):
        masked[slice(sl[0].start * 2, sl[0].stop * 2), slice(sl[1].start * 2, sl[1].stop * 2)] = True
    assert np.array_equal(out[0] == -9999.0, masked)
    # NDVI by hand on clear pixels: (DN - 1000) / 10000 (ESA L2A PSD, baseline 04.00)
    red = (pd.pixels(b10["RED"]).astype(np.float64) - 1000) / 10000
    nir = (pd.pixels(b10["NIR"]).astype(np.float64) - 1000) / 10000
    np.testing.assert_allclose(out[0][~masked], ((nir - red) / (nir + red))[~masked], atol=1e-6)


def test_s2_product_with_a_chosen_resampling(provider, tmp_path):
    """RESAMPLING chosen by the user (cubic) is used for the reflectance; SCL stays nearest neighbour."""
    safe = pd.write_safe_gridded(tmp_path / "src")
    img = safe / "GRANULE" / pd.GRANULE / "IMG_DATA"
    like = img / "R10m" / f"{pd.TILE}_B02_10m.jp2"
    got = run("spectralindices", {"PRODUCT": str(safe / "MTD_MSIL2A.xml"), "RESAMPLING": 3,
                                  **indices_params(["NDMI"], tmp_path / "got.tif")})
    nir = (pd.pixels(img / "R10m" / f"{pd.TILE}_B08_10m.jp2").astype(np.float64) - 1000) / 10000
    swir = (pd.pixels(gdalwarp_onto(img / "R20m" / f"{pd.TILE}_B11_20m.jp2", like, tmp_path / "b11.tif", "cubic"))
            .astype(np.float64) - 1000) / 10000
    out = arrays(got["OUTPUT"])
    ok = out != -9999.0
    assert ok.sum() == pd.S2_SIZE ** 2 - 4 * (4 * 5 + 3 * 4)          # cloud 4 x 5, shadow 3 x 4 SCL pixels
    np.testing.assert_allclose(out[ok], ((nir - swir) / (nir + swir))[ok], atol=1e-6)


# ------------------------------------------------------------------------------------------------------------
# refused
# ------------------------------------------------------------------------------------------------------------
def refused(tool, params, *patterns):
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException) as err:
        run(tool, params)
    text = str(err.value)
    assert "Traceback" not in text
    for p in patterns:
        assert re.search(p, text), (p, text)
    return text


def test_level1_without_toa_ok_is_refused(provider, tmp_path):
    refused("spectralindices", {"PRODUCT": str(pd.landsat_tar(tmp_path, pd.L8)),
                                **indices_params(["NDVI"], tmp_path / "x.tif")},
            r"PRODUCT", r"Level-1", r"TOA_OK")
    assert not (tmp_path / "x.tif").exists()


def test_truncated_member_is_named(provider, tmp_path):
    tar = pd.write_tar(tmp_path / f"{pd.L8}.tar", (pd.DATA / "marburg").glob(pd.L8 + "_*"), first="_MTL.txt")
    with tarfile.open(tar) as tf:
        m = tf.getmember(f"{pd.L8}_B7.TIF")
        cut = m.offset_data + m.size // 2
    tar.write_bytes(tar.read_bytes()[:cut])
    refused("rsei", {"PRODUCT": str(tar), "TOA_OK": True, "OUTPUT": str(tmp_path / "r.tif"),
                     "OUTPUT_GRADES": str(tmp_path / "g.tif"), "OUTPUT_TABLE": str(tmp_path / "t.csv"),
                     "OUTPUT_REPORT": str(tmp_path / "r.html")}, r"PRODUCT", rf"{pd.L8}_B7\.TIF", r"damaged|missing")
    assert sorted(os.listdir(tmp_path)) == [tar.name]


def test_s2_zip_without_scl_is_named(provider, tmp_path):
    safe = pd.write_safe_gridded(tmp_path / "src")
    z = pd.zip_safe(safe, tmp_path / f"{pd.S2_NAME}.zip", skip=("_SCL_20m.jp2", "_SCL_60m.jp2"))
    refused("spectralindices", {"PRODUCT": str(z), **indices_params(["NDVI"], tmp_path / "x.tif")},
            r"PRODUCT", r"SCL", r"incomplete")


def test_s2_product_has_no_thermal_band(provider, tmp_path):
    safe = pd.write_safe_gridded(tmp_path / "src")
    refused("lst", {"PRODUCT": str(safe / "MTD_MSIL2A.xml"), "OUTPUT": str(tmp_path / "x.tif")},
            r"PRODUCT", r"THERMAL", r"Sentinel-2")


def test_product_and_band_layers_are_not_combined(provider, tmp_path):
    marburg = pd.DATA / "marburg"
    refused("spectralindices", {"PRODUCT": str(marburg / f"{pd.L8}_MTL.txt"), "TOA_OK": True,
                                "RED": str(marburg / f"{pd.L8}_B4.TIF"),
                                **indices_params(["NDVI"], tmp_path / "x.tif")},
            r"PRODUCT and RED")


def test_qgis_process_with_a_tar(qgis_process, tmp_path):
    """One headless run: PRODUCT = the Landsat 7 .tar, compared with the processing.run reference above."""
    tar = pd.landsat_tar(tmp_path, pd.L7)
    res = qgis_process.results("miningeco:spectralindices", "--", f"PRODUCT={tar}", "TOA_OK=true",
                               f"INDICES={PRODUCTS.index('NDVI')}", f"OUTPUT={tmp_path / 'cli.tif'}")
    assert res["OUTPUT"] == str(tmp_path / "cli.tif")
    # NDVI of TOA reflectance by hand (util.toa_reflectance: the MTL multipliers and sun elevation)
    import util
    b = util.reflectances("L7")
    ndvi = (b["NIR"] - b["RED"]) / (b["NIR"] + b["RED"])
    out = arrays(tmp_path / "cli.tif")
    ok = out != -9999.0
    assert ok.mean() > 0.9
    np.testing.assert_allclose(out[ok], ndvi[ok], atol=2e-6)
