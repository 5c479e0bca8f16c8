"""LST: Level-2 ST scaling, NDVI emissivity, RTE inversion (ningdong eqs. 6-8), single channel."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from mining_eco_plugin.core import lst, radiometry as rad
from mining_eco_plugin.core.sensors import SENSORS

pytestmark = pytest.mark.filterwarnings("error")   # any RuntimeWarning fails a test

L8K1, L8K2 = 774.8853, 1321.0789
DATA = Path(__file__).resolve().parents[1] / "data"


# ---------------------------------------------------------------------------- ST band
def test_st_to_celsius_literal():
    out = lst.st_to_celsius(np.array([44000, 0, 65535], dtype=np.uint16))
    assert out.dtype == np.float32
    assert out[0] == pytest.approx(26.24288, abs=1e-4)      # 44000*0.00341802 + 149 - 273.15
    assert np.isnan(out[1])
    assert out[2] == pytest.approx(65535 * 0.00341802 + 149.0 - 273.15, rel=1e-6)
    f = lst.st_to_celsius(np.array([np.nan, 44000.0]))
    assert np.isnan(f[0]) and f[1] == pytest.approx(26.24288, abs=1e-4)


# ---------------------------------------------------------------------------- emissivity
def test_ndvi_emissivity_thresholds():
    ndvi = np.array([-0.5, 0.1, 0.19999, 0.2, 0.35, 0.5, 0.50001, 0.9, np.nan], dtype=np.float32)
    eps = lst.ndvi_emissivity(ndvi)
    assert eps.dtype == np.float32
    expected = [0.97, 0.97, 0.97, 0.986, 0.004 * 0.25 + 0.986, 0.990, 0.99, 0.99]
    np.testing.assert_allclose(eps[:-1], expected, atol=1e-6)
    assert eps[4] == pytest.approx(0.987, abs=1e-7)         # Pv = ((0.35-0.2)/0.3)^2 = 0.25
    assert np.isnan(eps[-1])
    custom = lst.ndvi_emissivity(np.array([0.0, 0.3, 0.8]), ndvi_soil=0.1, ndvi_veg=0.6,
                                 eps_soil=0.96, eps_veg=0.985)
    np.testing.assert_allclose(custom, [0.96, 0.004 * 0.16 + 0.986, 0.985], atol=1e-6)
    with pytest.raises(ValueError):
        lst.ndvi_emissivity(ndvi, ndvi_soil=0.5, ndvi_veg=0.2)


# ---------------------------------------------------------------------------- RTE (eqs. 6-8)
def test_rte_without_atmosphere_reduces_to_emissivity_corrected_planck():
    L = np.array([6.0, 8.0, 10.0, 12.5], dtype=np.float32)
    eps = np.array([0.97, 0.986, 0.99, 1.0], dtype=np.float32)
    out = lst.lst_radiative_transfer(L, eps, L8K1, L8K2)
    assert out.dtype == np.float32
    expected = [L8K2 / math.log(L8K1 * float(e) / float(l) + 1) - 273.15 for l, e in zip(L, eps)]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # literal: L = 10, eps = 1 -> 1321.0789 / ln(78.48853) - 273.15
    assert lst.lst_radiative_transfer(10.0, 1.0, L8K1, L8K2) == pytest.approx(29.6447, abs=1e-3)
    # eps = 1 and no atmosphere: LST = brightness temperature
    bt = rad.brightness_temperature(L, L8K1, L8K2)
    np.testing.assert_allclose(lst.lst_radiative_transfer(L, 1.0, L8K1, L8K2), bt - 273.15, rtol=1e-5)
    # an emissivity below 1 means the surface is warmer than its brightness temperature
    assert np.all(out[:3] > bt[:3] - 273.15)


def test_rte_with_atmosphere_inverts_eq6():
    k1, k2 = SENSORS["L5"].k1, SENSORS["L5"].k2
    tau, up, down, eps = 0.8, 1.5, 2.5, 0.98
    t_true = np.array([280.0, 300.0, 320.0])
    b_t = k1 / (np.exp(k2 / t_true) - 1)                      # Planck with the band constants
    L = b_t * eps * tau + up + (1 - eps) * down * tau         # ningdong eq. 6
    out = lst.lst_radiative_transfer(L, eps, k1, k2, tau=tau, up=up, down=down)
    np.testing.assert_allclose(out, t_true - 273.15, atol=1e-3)
    # by hand, one value: B_T = (9 - 1.5 - 0.8*0.02*2.5) / (0.8*0.98)
    bt_hand = (9 - 1.5 - 0.8 * 0.02 * 2.5) / (0.8 * 0.98)
    assert lst.lst_radiative_transfer(9.0, eps, k1, k2, tau, up, down) == \
        pytest.approx(k2 / math.log(k1 / bt_hand + 1) - 273.15, abs=1e-4)
    # literal (L5): L = 8, eps = 0.97, no atmosphere
    assert lst.lst_radiative_transfer(8.0, 0.97, k1, k2) == pytest.approx(19.0956, abs=1e-3)


def test_rte_undefined_pixels_are_nan():
    L = np.array([np.nan, 0.0, -3.0, 1.0, 10.0, 10.0])
    eps = np.array([0.98, 0.98, 0.98, 0.98, np.nan, 0.0])
    out = lst.lst_radiative_transfer(L, eps, L8K1, L8K2, tau=0.9, up=1.2, down=2.0)
    assert np.isnan(out).all()             # B_T <= 0 (L below the path radiance), NaN, eps 0
    with pytest.raises(ValueError):
        lst.lst_radiative_transfer(L, eps, L8K1, L8K2, tau=0.0)


# ---------------------------------------------------------------------------- single channel
def test_single_channel_literal():
    t = lst.lst_single_channel(300.0, 0.98, 10.895)
    assert t.dtype == np.float32
    # 300 / (1 + (10.895e-6 * 300 / 1.4388e-2) ln 0.98) - 273.15
    assert t == pytest.approx(28.2332, abs=1e-3)
    assert lst.lst_single_channel(300.0, 1.0, 10.895) == pytest.approx(26.85, abs=1e-4)
    bt = np.array([290.0, 310.0, np.nan, 0.0, 300.0])
    eps = np.array([0.97, 0.99, 0.98, 0.98, np.nan])
    out = lst.lst_single_channel(bt, eps, SENSORS["L5"].thermal_wavelength_um)
    lam = 11.457e-6
    np.testing.assert_allclose(out[:2], [b / (1 + lam * b / 1.4388e-2 * math.log(e)) - 273.15
                                         for b, e in zip(bt[:2], eps[:2])], rtol=1e-6)
    assert np.isnan(out[2:]).all()
    with pytest.raises(ValueError):
        lst.lst_single_channel(bt, eps, None)


def test_lst_on_real_landsat8_scene():
    """DN -> radiance (MTL) -> NDVI emissivity -> LST on the Marburg scene: plausible values."""
    d = DATA / "marburg"
    pid = "LC08_L1TP_195025_20130707_20170503_01_T1"
    mtl = rad.parse_mtl((d / f"{pid}_MTL.txt").read_text())

    def band(b):
        return gdal.Open(str(d / f"{pid}_B{b}.TIF")).ReadAsArray()

    red = rad.scale_dn(band(4), *rad.toa_reflectance_coefficients(mtl, "4"))
    nir = rad.scale_dn(band(5), *rad.toa_reflectance_coefficients(mtl, "5"))
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    eps = lst.ndvi_emissivity(ndvi)
    L = rad.scale_dn(band(10), *rad.radiance_coefficients(mtl, "10"))
    k1, k2 = rad.thermal_constants(mtl, "10")
    t_rte = lst.lst_radiative_transfer(L, eps, k1, k2)
    t_sc = lst.lst_single_channel(rad.brightness_temperature(L, k1, k2), eps, SENSORS["L8"].thermal_wavelength_um)
    assert t_rte.dtype == np.float32 and t_rte.shape == (41, 41)
    assert np.isfinite(t_rte).all() and np.isfinite(t_sc).all()
    assert 5 < float(np.nanmin(t_rte)) and float(np.nanmax(t_rte)) < 50
    # the two emissivity corrections agree within a few tenths of a degree
    assert float(np.nanmax(np.abs(t_rte - t_sc))) < 0.5


def test_large_block_no_warnings():
    rng = np.random.default_rng(1)
    L = rng.uniform(-1, 15, size=(256, 8000)).astype(np.float32)
    L[0, :5] = np.nan
    ndvi = rng.uniform(-1, 1, size=L.shape).astype(np.float32)
    eps = lst.ndvi_emissivity(ndvi)
    out = lst.lst_radiative_transfer(L, eps, L8K1, L8K2, tau=0.85, up=1.0, down=1.7)
    assert out.dtype == np.float32 and out.shape == L.shape
    assert np.isnan(out[0, :5]).all()
    sc = lst.lst_single_channel(rad.brightness_temperature(L, L8K1, L8K2), eps, 10.895)
    assert sc.dtype == np.float32 and np.isnan(sc[L <= 0]).all()
