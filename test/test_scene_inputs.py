"""Scene inputs through processing.run: a Collection 2 Level-2 stack whose bands are found by
name (in any order), the QA_PIXEL cloud mask, and a Sentinel-2 L2A scene with 20 m SWIR bands
resampled onto the 10 m grid. Expected values are hand computations of the INDICES.md scaling."""
import numpy as np
import processing
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingException

import util  # test/qgis/util.py
from mining_eco_plugin.algorithms.index_calculator import PRODUCTS

RNG = np.random.default_rng(7)


def write(path, arrays, names=(), pixel=30.0, dtype=gdal.GDT_UInt16, nodata=None):
    return util.write_raster(path, arrays, names, pixel, dtype, nodata)


def read(path, band=1):
    ds = gdal.Open(path)   # keep the dataset alive while its band is read
    return ds.GetRasterBand(band).ReadAsArray()


@pytest.fixture
def l2_stack(tmp_path):
    """A 7-band C2 L2 stack with its bands deliberately out of order, named like the USGS files."""
    dn = {n: RNG.integers(7300, 30000, (20, 24)).astype(np.uint16)
          for n in ("SR_B2", "SR_B3", "SR_B4", "SR_B5", "SR_B6", "SR_B7")}
    dn["ST_B10"] = RNG.integers(40000, 48000, (20, 24)).astype(np.uint16)
    dn["SR_B4"][0, 0] = 0                       # fill value
    order = ["ST_B10", "SR_B5", "SR_B2", "SR_B7", "SR_B4", "SR_B3", "SR_B6"]
    path = write(tmp_path / "l2.tif", [dn[n] for n in order], order)
    return path, dn


def test_level2_bands_found_by_name_and_scaled(provider, l2_stack, tmp_path):
    path, dn = l2_stack
    res = processing.run("miningeco:spectralindices", {
        "SCENE": path, "SENSOR": 2, "RADIOMETRY": 0,
        "INDICES": [PRODUCTS.index("NDVI"), PRODUCTS.index("LST")], "OUTPUT": str(tmp_path / "out.tif")})
    # INDICES.md: reflectance = DN * 0.0000275 - 0.2; ST kelvin = DN * 0.00341802 + 149.0
    red = dn["SR_B4"] * 0.0000275 - 0.2
    nir = dn["SR_B5"] * 0.0000275 - 0.2
    ndvi = (nir - red) / (nir + red)
    lst = dn["ST_B10"] * 0.00341802 + 149.0 - 273.15
    out_ndvi, out_lst = read(res["OUTPUT"], 1), read(res["OUTPUT"], 2)
    assert out_ndvi[0, 0] == -9999.0              # DN 0 is fill -> nodata
    np.testing.assert_allclose(out_ndvi.ravel()[1:], ndvi.ravel()[1:], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out_lst, lst, atol=1e-4)   # float32 kelvin: ~3e-5 K resolution


def test_qa_pixel_masks_cloud_shadow_and_fill(provider, l2_stack, tmp_path):
    path, _dn = l2_stack
    qa = np.full((20, 24), 0b1000000, np.uint16)  # bit 6 clear
    qa[3, :] |= 1 << 3                            # cloud
    qa[5, 2] |= 1 << 4                            # shadow
    qa[7, 7] |= 1 << 1                            # dilated cloud
    qa[9, 9] = 1 << 5 | 1 << 6                    # snow: kept by the common mask
    qa_path = write(tmp_path / "qa.tif", [qa])
    res = processing.run("miningeco:spectralindices", {
        "SCENE": path, "SENSOR": 2, "RADIOMETRY": 0, "QA_BAND": qa_path,
        "INDICES": [PRODUCTS.index("NDVI")], "OUTPUT": str(tmp_path / "out.tif")})
    nodata = read(res["OUTPUT"]) == -9999.0
    expected = (qa & 0b11111) != 0               # INDICES.md: keep (QA_PIXEL & 0b11111) == 0
    expected[0, 0] = True                        # plus the fill DN of the red band
    assert np.array_equal(nodata, expected)


def test_sentinel2_20m_swir_needs_and_accepts_resampling(provider, tmp_path):
    ten = {b: RNG.integers(1100, 6000, (16, 16)).astype(np.uint16) for b in ("B2", "B3", "B4", "B8")}
    twenty = {b: RNG.integers(1100, 6000, (8, 8)).astype(np.uint16) for b in ("B11", "B12")}
    params = {"SENSOR": 4, "RADIOMETRY": 2, "S2_BOA_ADD_OFFSET": -1000,
              "INDICES": [PRODUCTS.index("NDMI")], "OUTPUT": str(tmp_path / "ndmi.tif")}
    for role, b in (("BLUE", "B2"), ("GREEN", "B3"), ("RED", "B4"), ("NIR", "B8")):
        params[role] = write(tmp_path / f"{b}.tif", [ten[b]], pixel=10.0)
    for role, b in (("SWIR1", "B11"), ("SWIR2", "B12")):
        params[role] = write(tmp_path / f"{b}.tif", [twenty[b]], pixel=20.0)
    with pytest.raises(QgsProcessingException, match="SWIR1.*pixel size"):
        processing.run("miningeco:spectralindices", params)
    assert not (tmp_path / "ndmi.tif").exists()
    res = processing.run("miningeco:spectralindices", dict(params, RESAMPLING=1))
    # INDICES.md: reflectance = (DN + BOA_ADD_OFFSET) / 10000; NDMI = (NIR - SWIR1) / (NIR + SWIR1)
    nir = (ten["B8"].astype(float) - 1000) / 10000
    swir1 = (np.kron(twenty["B11"], np.ones((2, 2))) - 1000) / 10000   # nearest neighbour 20 m -> 10 m
    np.testing.assert_allclose(read(res["OUTPUT"]), (nir - swir1) / (nir + swir1), rtol=1e-5, atol=1e-6)


def test_sentinel2_has_no_thermal_band_for_lst(provider, tmp_path):
    band = write(tmp_path / "b.tif", [RNG.integers(1100, 6000, (4, 4)).astype(np.uint16)], pixel=10.0)
    params = {"SENSOR": 4, "RADIOMETRY": 2, "RED": band, "NIR": band, "THERMAL": band,
              "OUTPUT": str(tmp_path / "lst.tif")}
    with pytest.raises(QgsProcessingException, match="Sentinel-2 has no thermal band"):
        processing.run("miningeco:lst", params)
