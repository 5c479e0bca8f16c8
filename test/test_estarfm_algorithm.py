"""miningeco:estarfm through processing.run on the North Carolina ETM+ scene (test/data/north_carolina, 489 x 443,
28.5 m): three dates built from the real red and NIR bands by a documented change per land-cover class
(strata.tif), each degraded to a 480 m coarse grid (GDAL average); the fused middle date against the withheld fine
image (RMSE, r), the per-date table, the block-size invariance of the tool, and bad inputs."""
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
