"""miningeco:estarfm through processing.run on the North Carolina ETM+ scene (test/data/north_carolina, 489 x 443,
28.5 m): three dates built from the real red and NIR bands by a documented change per land-cover class
(strata.tif), each degraded to a 480 m coarse grid (GDAL average); the fused middle date against the withheld fine
image (RMSE, r), the per-date table, the block-size invariance of the tool, and bad inputs. Masks of the fine
images against the per-pixel reference of test/unit/test_estarfm.py; the real Ethiopia pair (test/data/ethiopia)
with a tp built from it."""
import csv
import os

import numpy as np
import pytest
from osgeo import gdal

from paths import DATA
from mining_eco_plugin.raster import engine

NC = os.path.join(DATA, "north_carolina")
DATES = ("2000-04-01", "2000-06-01", "2000-08-01")
# change per land-cover class (strata.tif codes) from the first to the last date, in DN, for (red, NIR):
# vegetation greens up (NIR up, red down), developed land, water and sediment change little; MIDDLE: the share of
# that change reached at the middle date (crops and grass green up early, forest late), so the middle date is not
# the mean of the other two and its coarse image carries information of its own
CHANGE = {1: (2, 4), 2: (-20, 60), 3: (-12, 40), 4: (-8, 24), 5: (-10, 36), 6: (0, -6), 7: (6, 2)}
MIDDLE = {1: 0.5, 2: 0.85, 3: 0.7, 4: 0.4, 5: 0.25, 6: 0.9, 7: 0.1}


def _read(path):
    ds = gdal.Open(path)
    b = ds.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float64)
    a[a == b.GetNoDataValue()] = np.nan
    return a, ds


def _write(path, bands, like, gt=None, nodata=-9999.0):
    drv = gdal.GetDriverByName("GTiff")
    nb, h, w = bands.shape
    ds = drv.Create(path, w, h, nb, gdal.GDT_Float32)
    ds.SetGeoTransform(gt or like.GetGeoTransform())
    ds.SetProjection(like.GetProjection())
    for i in range(nb):
        band = ds.GetRasterBand(i + 1)
        band.SetNoDataValue(nodata)
        band.SetDescription(("red", "nir")[i])
        band.WriteArray(np.where(np.isfinite(bands[i]), bands[i], nodata))
    ds = None
    return path


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Fine images at three dates (the 2000 scene + 0, MIDDLE or 1 x CHANGE of the pixel's class, clipped to 0-255) and
    their 480 m coarse images (GDAL average of the fine pixels)."""
    folder = tmp_path_factory.mktemp("estarfm_nc")
    red, like = _read(os.path.join(NC, "lsat7_2000_30.tif"))
    nir, _ = _read(os.path.join(NC, "lsat7_2000_40.tif"))
    strata, _ = _read(os.path.join(NC, "strata.tif"))
    fine = {}
    for k, date in enumerate(DATES):
        bands = np.stack([red, nir]).copy()
        for code, (dr, dn) in CHANGE.items():
            sel = strata == code
            share = (0.0, MIDDLE[code], 1.0)[k]
            bands[0][sel] += dr * share
            bands[1][sel] += dn * share
        bands = np.clip(bands, 0, 255)
        bands[:, ~np.isfinite(strata)] = np.nan
        fine[date] = _write(str(folder / f"landsat_{date}.tif"), bands, like)
    coarse = {}
    for date in DATES:
        coarse[date] = str(folder / f"modis_{date}.tif")
        gdal.Warp(coarse[date], fine[date], xRes=480, yRes=480, resampleAlg="average", srcNodata=-9999,
                  dstNodata=-9999)
    return fine, coarse


def run(scenario, tmp_path, tag, **extra):
    import processing
    fine, coarse = scenario
    params = {"FINE_TM": fine[DATES[0]], "COARSE_TM": coarse[DATES[0]], "FINE_TN": fine[DATES[2]],
              "COARSE_TN": coarse[DATES[2]], "COARSE_TP": [coarse[DATES[1]]], "DN_MIN": 0, "DN_MAX": 255,
              "OUTPUT_FOLDER": str(tmp_path / f"fused_{tag}"), "OUTPUT_TABLE": str(tmp_path / f"table_{tag}.csv")}
    params.update(extra)
    return processing.run("miningeco:estarfm", params), params


def test_fused_middle_date_against_the_withheld_fine_image(provider, scenario, tmp_path, monkeypatch):
    res, params = run(scenario, tmp_path, "nc")
    fine, _coarse = scenario
    path = os.path.join(params["OUTPUT_FOLDER"], f"estarfm_{DATES[1]}.tif")
    assert res["FUSED_FILES"] == [path]
    ds = gdal.Open(path)
    assert ds.RasterCount == 2 and ds.GetRasterBand(1).GetDescription() == "red"
    assert ds.GetGeoTransform() == gdal.Open(fine[DATES[0]]).GetGeoTransform()
    fused = ds.ReadAsArray().astype(np.float64)
    fused[fused == -9999] = np.nan
    truth = gdal.Open(fine[DATES[1]]).ReadAsArray().astype(np.float64)
    truth[truth == -9999] = np.nan
    before = gdal.Open(fine[DATES[0]]).ReadAsArray().astype(np.float64)
    before[before == -9999] = np.nan
    ok = np.all(np.isfinite(fused) & np.isfinite(truth), axis=0)
    assert ok.sum() > 0.99 * np.all(np.isfinite(truth), axis=0).sum()
    report = []
    for b, name in enumerate(("red", "nir")):
        f, t, p = fused[b][ok], truth[b][ok], before[b][ok]
        rmse = float(np.sqrt(np.mean((f - t) ** 2)))
        r = float(np.corrcoef(f, t)[0, 1])
        rmse_tm = float(np.sqrt(np.mean((p - t) ** 2)))    # no fusion: the fine image at tm as the prediction
        report.append(f"{name}: RMSE {rmse:.3f} DN (fine tm as is: {rmse_tm:.3f}), r {r:.4f}")
        assert rmse < 0.5 * rmse_tm          # the fusion recovers most of the class changes
        assert r > 0.95
    print("; ".join(report))
    # the table: one row per date and band, against the nearest fine image (2000-06-01 is 61 days from tm, 61
    # from tn: tm on a tie)
    with open(params["OUTPUT_TABLE"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r_["date"], r_["band"], r_["nearest_fine"], r_["days"]) for r_ in rows] == \
        [(DATES[1], "1", "FINE_TM", "61"), (DATES[1], "2", "FINE_TM", "61")]
    for b, row in enumerate(rows):
        sel = np.isfinite(fused[b]) & np.isfinite(before[b])
        assert int(row["pixels"]) == int(np.isfinite(fused[b]).sum())
        assert float(row["mean_abs_change"]) == pytest.approx(float(np.mean(np.abs(fused[b][sel] - before[b][sel]))),
                                                              rel=1e-5)
    # block-size invariance: the same floats with small, odd blocks
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", 37)
    monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", 101)
    _res2, params2 = run(scenario, tmp_path, "blocks")
    again = gdal.Open(os.path.join(params2["OUTPUT_FOLDER"], f"estarfm_{DATES[1]}.tif")).ReadAsArray()
    np.testing.assert_array_equal(again, ds.ReadAsArray())


@pytest.mark.parametrize("extra,name", [
    ({"DATES": "2000-04-01,2000-06-01"}, "DATES"),
    ({"DATES": "2000-04-01,2000-04-01,2000-06-01"}, "DATES"),
    ({"DN_MIN": 300}, "DN_MIN"),
    ({"BANDS": [3]}, "BANDS"),
    ({"BANDS": [1, 1]}, "BANDS: a band is chosen twice"),
    # DN 0 .. 255 with a valid range up to 100: every prediction above it would be replaced (as NDVI with 0 .. 10000)
    ({"DN_MAX": 100}, "DN_MIN / DN_MAX: FINE_TM band 1 has values from"),
])
def test_bad_inputs_raise_naming_the_input_and_leave_no_file(provider, scenario, tmp_path, extra, name):
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException, match=name):
        run(scenario, tmp_path, "bad", **extra)
    assert not os.path.exists(tmp_path / "fused_bad")


# -- masks ------------------------------------------------------------------------------------------------------
def _unit_reference():
    """reference() of test/unit/test_estarfm.py: ESTARFM pixel by pixel from the paper's equations."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "unit", "test_estarfm.py")
    spec = importlib.util.spec_from_file_location("unit_test_estarfm", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference


def _on_fine_grid(path, like):
    """A coarse image on the fine grid by nearest neighbour (as the tool reads it), NaN for nodata."""
    ds = gdal.Open(like)
    gt = ds.GetGeoTransform()
    bounds = (gt[0], gt[3] + gt[5] * ds.RasterYSize, gt[0] + gt[1] * ds.RasterXSize, gt[3])
    out = gdal.Warp("", path, format="MEM", outputBounds=bounds, width=ds.RasterXSize, height=ds.RasterYSize,
                    resampleAlg="near").ReadAsArray().astype(np.float64)
    out[out == -9999] = np.nan
    return out


def _stack(path):
    a = gdal.Open(path).ReadAsArray().astype(np.float64)
    a[a == -9999] = np.nan
    return a


# hand-made masks on the 489 x 443 grid: a 40 x 60 "cloud" and a line of single pixels in FINE_TM, a 30 x 30
# "shadow" in FINE_TN; value 1 = masked, 0 = clear (MASK_TYPE 0)
TM_CLOUD = (slice(100, 140), slice(200, 260))
TN_SHADOW = (slice(300, 330), slice(80, 110))
TM_DOTS = [(60 + 3 * k, 50 + 5 * k) for k in range(20)]


def _mask(path, like, boxes, dots=(), clear=0, masked=1, dtype=gdal.GDT_Byte):
    ds = gdal.Open(like)
    a = np.full((ds.RasterYSize, ds.RasterXSize), clear, dtype=np.int64)
    for box in boxes:
        a[box] = masked
    for y, x in dots:
        a[y, x] = masked
    out = gdal.GetDriverByName("GTiff").Create(path, ds.RasterXSize, ds.RasterYSize, 1, dtype)
    out.SetGeoTransform(ds.GetGeoTransform())
    out.SetProjection(ds.GetProjection())
    out.GetRasterBand(1).WriteArray(a)
    out = None
    return path


def test_masked_pixels_are_nodata_and_never_similar_pixels(provider, scenario, tmp_path):
    """FINE_TM_MASK / FINE_TN_MASK on the NC scenario (w = 5): the fused image equals the per-pixel reference of
    test/unit/test_estarfm.py (Zhu et al. 2010 eqs. 6-13) given NaN at the masked pixels of each fine image, to
    1e-4 DN (float32 output), at pixels inside, on the rim of and around the masked areas; every masked central
    pixel is nodata; pixels next to a mask differ from the unmasked run (the mask changed their similar pixels).
    A Collection 2 QA_PIXEL band with the cloud bit (3) set where the mask is 1 (21824 = clear land elsewhere,
    USGS Landsat 8-9 C2 L2 Science Product Guide) gives the same floats."""
    fine, coarse = scenario
    like = fine[DATES[0]]
    m_tm = _mask(str(tmp_path / "mask_tm.tif"), like, [TM_CLOUD], TM_DOTS)
    m_tn = _mask(str(tmp_path / "mask_tn.tif"), like, [TN_SHADOW])
    res, params = run(scenario, tmp_path, "mask", HALF_WINDOW=5, FINE_TM_MASK=m_tm, FINE_TN_MASK=m_tn)
    got = _stack(res["FUSED_FILES"][0])
    _r, params0 = run(scenario, tmp_path, "nomask", HALF_WINDOW=5)
    free = _stack(os.path.join(params0["OUTPUT_FOLDER"], f"estarfm_{DATES[1]}.tif"))

    f1, f2 = _stack(fine[DATES[0]]), _stack(fine[DATES[2]])
    c1, c2, c0 = (_on_fine_grid(coarse[d], like) for d in (DATES[0], DATES[2], DATES[1]))
    f1[:, TM_CLOUD[0], TM_CLOUD[1]] = np.nan
    for y, x in TM_DOTS:
        f1[:, y, x] = np.nan
    f2[:, TN_SHADOW[0], TN_SHADOW[1]] = np.nan
    # every masked central pixel is nodata (the authors' background pixels, IDL lines 224-233)
    assert np.isnan(got[:, TM_CLOUD[0], TM_CLOUD[1]]).all() and np.isnan(got[:, TN_SHADOW[0], TN_SHADOW[1]]).all()
    assert all(np.isnan(got[:, y, x]).all() for y, x in TM_DOTS)
    assert np.isfinite(free[:, TM_CLOUD[0], TM_CLOUD[1]]).all()
    rng = np.random.default_rng(3)
    pixels = [(99, 199), (100, 199), (140, 230), (120, 261), (110, 200), (299, 95), (330, 79), (315, 110),
              (61, 50), (63, 53), (75, 77)]
    pixels += [(int(y), int(x)) for y, x in zip(rng.integers(92, 148, 12), rng.integers(192, 268, 12))]
    pixels += [(int(y), int(x)) for y, x in zip(rng.integers(292, 338, 8), rng.integers(72, 118, 8))]
    want = _unit_reference()(f1, f2, c1, c2, c0, 5, 4.0, 0.0, 255.0, pixels=pixels)
    changed = 0
    for y, x in pixels:
        np.testing.assert_array_equal(np.isnan(got[:, y, x]), np.isnan(want[:, y, x]), err_msg=str((y, x)))
        np.testing.assert_allclose(got[:, y, x], want[:, y, x], rtol=0, atol=1e-4, err_msg=str((y, x)))
        changed += bool(np.isfinite(got[:, y, x]).all() and np.abs(got[:, y, x] - free[:, y, x]).max() > 1e-3)
    assert changed >= 5

    # the same masks as Collection 2 QA_PIXEL bands: bit 3 (cloud) = 8 plus the clear-land bits 6, 8, 10, 12, 14
    q_tm = _mask(str(tmp_path / "qa_tm.tif"), like, [TM_CLOUD], TM_DOTS, clear=21824, masked=21824 | 8 | 2,
                 dtype=gdal.GDT_UInt16)
    q_tn = _mask(str(tmp_path / "qa_tn.tif"), like, [TN_SHADOW], clear=21824, masked=21824 | 16,
                 dtype=gdal.GDT_UInt16)
    res_qa, _p = run(scenario, tmp_path, "qa", HALF_WINDOW=5, FINE_TM_MASK=q_tm, FINE_TN_MASK=q_tn, MASK_TYPE=1)
    np.testing.assert_array_equal(gdal.Open(res_qa["FUSED_FILES"][0]).ReadAsArray(),
                                  gdal.Open(res["FUSED_FILES"][0]).ReadAsArray())


# -- the Ethiopia pair ------------------------------------------------------------------------------------------
ETH = os.path.join(DATA, "ethiopia")
ETH_SCENES = {"2000-03-09": "LT05_L1TP_167055_20000309_20161214_01_T1_B{}.TIF",
              "2010-12-18": "LT51670552010352MLK00_B{}.tif"}
ETH_TP = "2005-07-28"                   # half way between the two scenes
ETH_SHARE = (0.2, 0.5, 0.8)             # share of the 2000 -> 2010 change reached at tp, per NDVI-change tercile


@pytest.fixture(scope="module")
def ethiopia(tmp_path_factory):
    """The two real Landsat 5 TM scenes of test/data/ethiopia (101 x 101 px, 30 m, DN; red B3 and NIR B4) as the
    fine images at tm = 2000-03-09 and tn = 2010-12-18, and a fine image at tp = 2005-07-28 built from them: each
    pixel reaches 20, 50 or 80 % of its own 2000 -> 2010 change, by the tercile of its NDVI change (the pixels that
    greened least, middle, most), so tp is neither scene nor their mean. Each date degraded to a 240 m coarse grid
    (8 x 8 fine pixels, GDAL average; 13 x 13 coarse pixels)."""
    folder = tmp_path_factory.mktemp("estarfm_eth")
    like = gdal.Open(os.path.join(ETH, ETH_SCENES["2000-03-09"].format(3)))
    real = {d: np.stack([gdal.Open(os.path.join(ETH, n.format(b))).ReadAsArray().astype(np.float64)
                         for b in (3, 4)]) for d, n in ETH_SCENES.items()}
    f1, f2 = real["2000-03-09"], real["2010-12-18"]
    change = (f2[1] - f2[0]) / (f2[1] + f2[0]) - (f1[1] - f1[0]) / (f1[1] + f1[0])
    tercile = np.digitize(change, np.percentile(change, [100 / 3, 200 / 3]))
    share = np.asarray(ETH_SHARE)[tercile]
    fine = {d: _write(str(folder / f"tm_{d}.tif"), a, like) for d, a in real.items()}
    fine[ETH_TP] = _write(str(folder / f"tm_{ETH_TP}.tif"), f1 + share * (f2 - f1), like)
    coarse = {}
    for d, path in fine.items():
        coarse[d] = str(folder / f"coarse_{d}.tif")
        gdal.Warp(coarse[d], path, xRes=240, yRes=240, resampleAlg="average", srcNodata=-9999, dstNodata=-9999)
    return fine, coarse


def test_ethiopia_pair_fused_against_the_withheld_fine_image(provider, ethiopia, tmp_path):
    """The authors' defaults w = 25 (a 51-pixel window: it fits the 101-pixel scene twice over) and 4 classes,
    DN 0 .. 255: the fused tp beats every image one would use without fusion -- the fine image at tm or at tn as is,
    and the coarse image at tp on the fine grid (nearest neighbour, as the tool reads it) -- in RMSE, per band.
    Measured: red RMSE 1.34 DN, r 0.974 (fine tm as is 4.46, fine tn 4.88, coarse tp 3.24); NIR 0.92 DN, r 0.987
    (2.51, 3.33, 3.69). The real BQA of the 2000
    scene (all 672: clear, Collection 1) as FINE_TM_MASK with MASK_TYPE BQA masks nothing: the same floats."""
    import processing
    fine, coarse = ethiopia
    tm, tn = "2000-03-09", "2010-12-18"
    params = {"FINE_TM": fine[tm], "COARSE_TM": coarse[tm], "FINE_TN": fine[tn], "COARSE_TN": coarse[tn],
              "COARSE_TP": [coarse[ETH_TP]], "DN_MIN": 0, "DN_MAX": 255, "HALF_WINDOW": 25, "CLASSES": 4,
              "OUTPUT_FOLDER": str(tmp_path / "fused"), "OUTPUT_TABLE": str(tmp_path / "eth.csv")}
    res = processing.run("miningeco:estarfm", params)
    fused = _stack(res["FUSED_FILES"][0])
    truth, f1, f2 = _stack(fine[ETH_TP]), _stack(fine[tm]), _stack(fine[tn])
    c0 = _on_fine_grid(coarse[ETH_TP], fine[tm])
    assert np.isfinite(fused).all()
    report = []
    for b, name in enumerate(("red", "nir")):
        def rmse(a):
            return float(np.sqrt(np.mean((a[b] - truth[b]) ** 2)))
        r = float(np.corrcoef(fused[b].ravel(), truth[b].ravel())[0, 1])
        report.append(f"{name}: RMSE {rmse(fused):.3f} DN, r {r:.4f} (fine tm {rmse(f1):.3f}, fine tn {rmse(f2):.3f}, "
                      f"coarse tp {rmse(c0):.3f})")
        assert rmse(fused) < min(rmse(f1), rmse(f2), rmse(c0))
        assert r > float(np.corrcoef(c0[b].ravel(), truth[b].ravel())[0, 1])
    print("Ethiopia, w = 25: " + "; ".join(report))
    bqa = os.path.join(ETH, "LT05_L1TP_167055_20000309_20161214_01_T1_BQA.TIF")
    res2 = processing.run("miningeco:estarfm", dict(params, FINE_TM_MASK=bqa, MASK_TYPE=2,
                                                    OUTPUT_FOLDER=str(tmp_path / "fused_bqa"),
                                                    OUTPUT_TABLE=str(tmp_path / "eth_bqa.csv")))
    np.testing.assert_array_equal(gdal.Open(res2["FUSED_FILES"][0]).ReadAsArray(),
                                  gdal.Open(res["FUSED_FILES"][0]).ReadAsArray())


def test_masked_values_do_not_count_against_the_valid_range(provider, scenario, tmp_path):
    """A "cloud" of DN 300 in FINE_TM (above DN_MAX 255): refused without a mask (every prediction there would be
    replaced), accepted when FINE_TM_MASK masks it -- the range is that of the pixels the fusion uses -- and then
    nodata there."""
    from qgis.core import QgsProcessingException
    fine, _coarse = scenario
    ds = gdal.Open(fine[DATES[0]])
    bands = ds.ReadAsArray()
    bands[:, TM_CLOUD[0], TM_CLOUD[1]] = 300
    cloudy = _write(str(tmp_path / f"cloudy_{DATES[0]}.tif"), bands.astype(np.float64), ds)
    with pytest.raises(QgsProcessingException, match="FINE_TM band 1 has values from .* to 300"):
        run(scenario, tmp_path, "cloudy", FINE_TM=cloudy, HALF_WINDOW=3)
    mask = _mask(str(tmp_path / "cloud.tif"), fine[DATES[0]], [TM_CLOUD])
    res, _p = run(scenario, tmp_path, "cloudy_masked", FINE_TM=cloudy, FINE_TM_MASK=mask, HALF_WINDOW=3)
    got = _stack(res["FUSED_FILES"][0])
    assert np.isnan(got[:, TM_CLOUD[0], TM_CLOUD[1]]).all() and np.isfinite(got[:, 200:250, 300:350]).all()
