"""The test-product builders of test/productdata.py do what they say (issue 13, "Data for tests").

Independent checks: MTL values read by a regex here (not parse_mtl) and the USGS formulas by hand (L8 handbook
eq. 5-2 TOA reflectance with sun angle, Chander et al. 2009 eq. 3 brightness temperature, LSDS-1619 C2 L2 scale
factors); QA_PIXEL values decomposed bit by bit against the USGS C2 QA_PIXEL table (LSDS-1619); SCL classes of the
ESA L2A Product Specification; mosaics by gdal.Warp; areas by OGR.

Real: the pixels of test/data (Marburg L8 2013, L7 2001; Ethiopia L5 2000, 2010). Built: dates other than the
real ones, the clouds, the footprints, the study area (see each builder's docstring).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from osgeo import gdal, ogr

import productdata as pd
from mining_eco_plugin.raster.products import open_product


def regex(text, key):
    return float(re.search(rf"^\s*{key}\s*=\s*\"?([-\d.Ee+]+)", text, re.M).group(1))


def arr(path):
    return gdal.Open(str(path)).ReadAsArray()


@pytest.mark.parametrize("key,level", [(pd.L8, "C2L2"), (pd.L8, "C2L1"), (pd.L8, "C1L1"), (pd.L7, "C2L2"),
                                       (pd.L7, "C1L1"), (pd.L5, "C2L2"), (pd.L5, "C1L1"), (pd.PRE, "PRE"),
                                       (pd.PRE, "C2L2")])
@pytest.mark.parametrize("layout", ["folder", "tar"])
def test_products_open_with_level_date_bands(tmp_path, key, level, layout):
    w = pd.write_landsat_product(tmp_path, key, level, layout, date="2019-08-14", path_row=(194, 26))
    p = open_product(w.path)
    sensor = pd.SCENES[key].sensor
    assert (p.level, p.date, p.sensor) == (level, "2019-08-14", sensor)
    assert set(p.bands) == {"B", "G", "R", "NIR", "SWIR1", "SWIR2", "T"}
    assert p.qa_kind == {"C2L2": "QA_PIXEL", "C2L1": "QA_PIXEL", "C1L1": "BQA", "PRE": None}[level]
    assert "194026" in w.product_id or "194026" in w.product_id.replace("_", "")
    if layout == "tar":
        assert w.path.name == w.product_id + ".tar" and p.bands["NIR"].startswith("/vsitar/")
    if level == "C2L2":
        assert re.fullmatch(r"L[CET]0[578]_L2SP_194026_20190814_\d{8}_02_T1", w.product_id)
        assert p.bands["NIR"].endswith("_SR_B5.TIF" if sensor == "L8" else "_SR_B4.TIF")
        assert p.bands["T"].endswith("_ST_B10.TIF" if sensor == "L8" else "_ST_B6.TIF")
    if level == "PRE":
        # LXSPPPRRRYYYYDDDGSIVV: 2019-08-14 is day 226
        assert w.product_id == "LT51940262019226MLK00"


def test_c2l2_dn_by_hand_on_pixels(tmp_path):
    """SR DN = round((rho + 0.2) / 2.75e-5) with rho = (M Q + A) / sin(SE) (USGS L8 handbook eq. 5-2) from the
    real L8 B5; ST DN = round((BT - 149) / 0.00341802), BT = K2 / ln(K1 / L + 1), L = ML Q + AL (real B10)."""
    w = pd.write_landsat_product(tmp_path, pd.L8, "C2L2")
    p = open_product(w.path, toa_ok=False)
    text = pd.read_text(pd.SCENES[pd.L8].mtl_path)
    se = math.sin(math.radians(regex(text, "SUN_ELEVATION")))
    q5 = arr(pd.DATA / "marburg" / f"{pd.L8}_B5.TIF")
    q10 = arr(pd.DATA / "marburg" / f"{pd.L8}_B10.TIF")
    sr, st = arr(p.bands["NIR"]), arr(p.bands["T"])
    assert sr.dtype == np.uint16 and st.dtype == np.uint16
    for r, c in [(0, 0), (7, 31), (20, 20), (40, 3)]:
        rho = (regex(text, "REFLECTANCE_MULT_BAND_5") * q5[r, c] + regex(text, "REFLECTANCE_ADD_BAND_5")) / se
        assert sr[r, c] == round((rho + 0.2) / 2.75e-5)
        L = regex(text, "RADIANCE_MULT_BAND_10") * q10[r, c] + regex(text, "RADIANCE_ADD_BAND_10")
        bt = regex(text, "K2_CONSTANT_BAND_10") / math.log(regex(text, "K1_CONSTANT_BAND_10") / L + 1)
        assert st[r, c] == round((bt - 149) / 0.00341802)
    assert (arr(p.qa) == 21824).all()                         # all clear, lows set (no qa given)


def test_level1_keeps_real_dn(tmp_path):
    for level in ("C1L1", "C2L1"):
        p = open_product(pd.write_landsat_product(tmp_path / level, pd.L7, level, date="2003-06-01").path)
        assert np.array_equal(arr(p.bands["NIR"]), arr(pd.DATA / "marburg" / f"{pd.L7}_B4.TIF"))
        assert np.array_equal(arr(p.bands["T"]), arr(pd.DATA / "marburg" / f"{pd.L7}_B6_VCID_1.TIF"))


def test_qa_pixel_values_by_hand():
    """Values decomposed by hand against the USGS C2 QA_PIXEL table (LSDS-1619): bit 0 fill, 1 dilated cloud,
    2 cirrus, 3 cloud, 4 shadow, 5 snow, 6 clear, 7 water, 8-9 cloud conf, 10-11 shadow conf, 12-13 snow conf,
    14-15 cirrus conf."""
    fp = np.ones((41, 41), bool)
    fp[:, :2] = False
    lay = pd.cloud_layers((41, 41), 5, 0.15, footprint=fp, cirrus=0.05)
    qa = pd.encode_qa_pixel(lay, "L8")
    # clear land: 2^6 + 2^8 + 2^10 + 2^12 + 2^14 = 64 + 256 + 1024 + 4096 + 16384 = 21824
    # cloud high: 2^3 + 3*2^8 + 2^10 + 2^12 + 2^14 = 8 + 768 + 1024 + 4096 + 16384 = 22280
    # dilated cloud: 2^1 + 2^8 + 2^10 + 2^12 + 2^14 = 21762 (not clear)
    # shadow high (clear bit kept: clear = not cloud and not dilated): 16 + 64 + 256 + 3*1024 + 4096 + 16384 = 23888
    # cirrus high: 4 + 64 + 256 + 1024 + 4096 + 3*16384 = 54596
    just = lambda m, *others: m & ~np.logical_or.reduce([lay.fill] + list(others))  # noqa: E731
    assert (qa[lay.cloud] == 22280).all() and lay.cloud.any()
    assert set(np.unique(qa[just(lay.ring, lay.shadow, lay.cirrus)])) == {21762}
    assert set(np.unique(qa[just(lay.shadow, lay.ring, lay.cirrus, lay.cloud)])) == {23888}
    assert set(np.unique(qa[just(lay.cirrus, lay.ring, lay.shadow, lay.cloud)])) == {54596}
    assert (qa[~lay.masked] == 21824).all() and (qa[:, :2] == 1).all()
    # TM/ETM+: no cirrus band, cirrus confidence 00: clear = 64 + 256 + 1024 + 4096 = 5440
    assert (pd.cloud_qa((41, 41), 5, 0.15, sensor="L7")[~lay.masked] == 5440).all()
    # shadows are the clouds displaced by SHADOW_OFFSET
    # (away from the fill columns, whose clouds are not kept but still cast shadows)
    dy, dx = pd.SHADOW_OFFSET
    sh = (lay.cloud[:-dy, :-dx] & ~lay.cloud[dy:, dx:])
    assert np.array_equal(lay.shadow[dy:, dx + 2:], sh[:, 2:]) and lay.shadow.any()
    # the ring is within RING pixels of a cloud
    from scipy import ndimage
    d = ndimage.distance_transform_cdt(~lay.cloud, metric="chessboard")
    ring = lay.ring.copy()
    ring[:, :2 + pd.RING] = False
    assert d[ring].max() <= pd.RING and d[ring].min() == 1


def test_cloud_blobs_cover_and_are_blobs():
    qa = pd.cloud_qa((101, 101), 11, 0.2)
    cloud = (qa >> 3) & 1 == 1
    assert cloud.mean() == pytest.approx(0.2, abs=0.01)
    from scipy import ndimage
    n = ndimage.label(cloud)[1]
    assert 1 <= n <= 15                                      # a few blobs, not salt and pepper


@pytest.mark.parametrize("n", [2, 3, 5])
def test_mask_set_covers_every_pixel(n):
    fp = np.ones((41, 41), bool)
    fp[-3:, :] = False
    masks = pd.cloud_qa_set((41, 41), n, 3, 0.25, footprint=fp)
    clear = np.stack([(m & 0b11111) == 0 for m in masks])     # bits 0-4 unset
    assert clear.any(axis=0)[fp].all()
    assert all((((m >> 3) & 1) == 1).sum() > 20 for m in masks)   # every date has clouds
    assert all((m[~fp] == 1).all() for m in masks)
    scl = pd.cloud_scl_set((41, 41), n, 3, 0.25, footprint=fp)
    ok = np.stack([~np.isin(s, (0, 3, 8, 9, 10)) for s in scl])
    assert ok.any(axis=0)[fp].all()


def test_clouds_in_pixels(tmp_path):
    """Under cloud cores the written SR is 0.45 + 0.5 rho (bright), under shadow 0.35 rho; clear pixels real."""
    qa = pd.cloud_qa((41, 41), 4, 0.15)
    w = pd.write_landsat_product(tmp_path, pd.L8, "C2L2", qa=qa, date="2013-08-08")
    p = open_product(w.path, toa_ok=False)
    assert np.array_equal(arr(p.qa), qa)
    real = pd.real_values(pd.L8)["R"]
    sr = arr(p.bands["R"]) * 2.75e-5 - 0.2
    lay = w.layers
    np.testing.assert_allclose(sr[lay.cloud], 0.45 + 0.5 * real[lay.cloud], atol=2e-5)
    sh = lay.shadow & ~lay.ring
    np.testing.assert_allclose(sr[sh], 0.35 * real[sh], atol=2e-5)
    np.testing.assert_allclose(sr[~lay.masked], real[~lay.masked], atol=1.4e-5)   # half a DN step
    assert sr[lay.cloud].min() > real.max()


def test_bqa_from_qa_pixel():
    from mining_eco_plugin.core.radiometry import bqa_clear, qa_pixel_clear
    qa = pd.cloud_qa((41, 41), 8, 0.2)
    bqa = pd.qa_pixel_to_bqa(qa)
    # cloud high: bit 4 + conf 11 in bits 5-6 + shadow low bit 7 + snow low bit 9 + cirrus low bit 11
    assert set(np.unique(bqa[(qa >> 3) & 1 == 1])) == {16 + 96 + 128 + 512 + 2048}
    cloud_or_shadow = ((qa >> 3) & 1 == 1) | ((qa >> 4) & 1 == 1)
    assert np.array_equal(bqa_clear(bqa, "L8"), ~cloud_or_shadow)
    assert (qa_pixel_clear(qa) <= bqa_clear(bqa, "L8")).all()      # the ring is C2 only


def test_footprints_mosaic_back_to_the_original(tmp_path):
    a_fp, b_fp = pd.footprint_masks(pd.L8)
    assert (a_fp | b_fp).all() and (a_fp & b_fp).sum() > 41 * 5
    ws = pd.split_footprints(tmp_path, pd.L8)
    assert ws[0].grid != ws[1].grid and ws[0].grid.x0 != ws[1].grid.x0
    assert ws[1].product_id.split("_")[2] == "194025"
    g = pd.scene_grid(pd.L8)
    prods = [open_product(w.path, toa_ok=False) for w in ws]
    for role, bid in (("NIR", "5"), ("T", "10")):
        m = gdal.Warp("/vsimem/mosaic.tif", [p.bands[role] for p in prods], outputBounds=g.bounds(), xRes=30,
                      yRes=30, resampleAlg="near", srcNodata=0, dstNodata=0).ReadAsArray()
        gdal.Unlink("/vsimem/mosaic.tif")
        expect = pd.real_values(pd.L8)[role]
        assert np.array_equal(m, pd.sr_dn(expect) if role != "T" else pd.st_dn(expect))
    # each product has fill (QA 1, DN 0) outside its footprint
    qa_a = arr(prods[0].qa)
    assert (qa_a == 1).sum() > 0 and (arr(prods[0].bands["R"])[qa_a == 1] == 0).all()


def test_footprint_in_neighbouring_zone(tmp_path):
    ws = pd.split_footprints(tmp_path, pd.L8, neighbour_zone=True)
    assert ws[1].grid.epsg == 32633 and ws[1].grid.x0 % 30 == 15
    g = pd.scene_grid(pd.L8)
    m = gdal.Warp("/vsimem/m33.tif", [open_product(w.path, toa_ok=False).bands["NIR"] for w in ws],
                  outputBounds=g.bounds(), xRes=30, yRes=30, dstSRS="EPSG:32632", resampleAlg="near",
                  srcNodata=0, dstNodata=0).ReadAsArray()
    gdal.Unlink("/vsimem/m33.tif")
    same = m == pd.sr_dn(pd.real_values(pd.L8)["NIR"])
    # measured 0.985: pixels of B's band resampled twice by nearest neighbour differ
    assert (m > 0).all() and same.mean() > 0.95


def test_study_area(tmp_path):
    f = pd.study_area(tmp_path / "sa.gpkg")
    ds = ogr.Open(str(f))
    lyr = ds.GetLayer(0)
    assert lyr.GetSpatialRef().GetAuthorityCode(None) == "4326"
    feat = lyr.GetNextFeature()
    geom = feat.GetGeometryRef().Clone()
    ds = None
    assert geom.ConvexHull().Area() > geom.Area() * 1.2            # concave
    from osgeo import osr
    utm = osr.SpatialReference()
    utm.ImportFromEPSG(32632)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    src = osr.SpatialReference()
    src.ImportFromEPSG(4326)
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    geom.Transform(osr.CoordinateTransformation(src, utm))
    x0, y0, x1, y1 = pd.scene_grid(pd.L8).bounds()
    e = geom.GetEnvelope()
    assert x0 + 89 < e[0] and e[1] < x1 - 89 and y0 + 89 < e[2] and e[3] < y1 - 89


@pytest.mark.parametrize("layout", ["safe", "zip"])
def test_s2_product(tmp_path, layout):
    """10 m B08 = area average of the real 30 m reflectance, DN = rho * 10000 + 1000 (BOA_ADD_OFFSET -1000)."""
    g = pd.s2_grids(pd.L8)
    scl = pd.cloud_scl(g[20].shape, 2, 0.1)
    w = pd.write_s2_product(tmp_path, layout, date="2021-07-01", scl=scl)
    p = open_product(w.path, toa_ok=False)
    assert (p.level, p.date, p.qa_kind, p.processing_baseline) == ("S2L2A", "2021-07-01", "SCL", "04.00")
    assert p.bands["NIR"].endswith("_B08_10m.jp2") and p.bands["SWIR1"].endswith("_B11_20m.jp2")
    assert np.array_equal(arr(p.qa), scl)
    nir = arr(p.bands["NIR"])
    assert nir.shape == g[10].shape and g[10].x0 % 60 == 0
    real = pd.real_values(pd.L8)["NIR"]
    # by hand: the 10 m pixel (r, c) lies inside the 30 m pixel containing its centre, or straddles two
    sg = pd.scene_grid(pd.L8)
    clear = np.kron(~np.isin(scl, (0, 3, 8, 9, 10)), np.ones((2, 2), bool))
    checked = 0
    for r, c in [(0, 0), (10, 17), (30, 50), (60, 5), (45, 70)]:
        x, y = g[10].x0 + (c + 0.5) * 10, g[10].y0 - (r + 0.5) * 10
        x0, x1, y0, y1 = x - 5, x + 5, y - 5, y + 5
        acc = wsum = 0.0
        for rr in range(41):
            for cc in range(41):
                px0, py1 = sg.x0 + cc * 30, sg.y0 - rr * 30
                ov = max(0, min(x1, px0 + 30) - max(x0, px0)) * max(0, min(y1, py1) - max(y0, py1 - 30))
                acc, wsum = acc + ov * real[rr, cc], wsum + ov
        if clear[r, c]:
            assert nir[r, c] == pytest.approx(round(acc / wsum * 10000 + 1000), abs=1)   # float32 warp
            checked += 1
    assert checked >= 3


def test_same_scene_at_n_dates_reconstructs(tmp_path):
    """The multi-date case for the composite: the real L8 scene written at 4 built dates with cloud_qa_set masks.
    Masking each date by QA bits 0-4 (radiometry.qa_pixel_clear) and taking the per-pixel median (numpy) gives
    the cloud-free scene exactly, while the unmasked median does not."""
    from mining_eco_plugin.core.radiometry import qa_pixel_clear
    masks = pd.cloud_qa_set((41, 41), 4, 21, 0.2)
    obs, raw = [], []
    for i, (qa, date) in enumerate(zip(masks, ["2013-06-05", "2013-06-21", "2013-07-07", "2013-08-08"])):
        p = open_product(pd.write_landsat_product(tmp_path / str(i), pd.L8, "C2L2", date=date, qa=qa).path)
        nir = arr(p.bands["NIR"]).astype(float)
        raw.append(nir)
        obs.append(np.where(qa_pixel_clear(arr(p.qa)), nir, np.nan))
    expect = pd.sr_dn(pd.real_values(pd.L8)["NIR"])
    assert np.array_equal(np.nanmedian(obs, axis=0), expect)
    assert (np.median(raw, axis=0) != expect).mean() > 0.05
