"""miningeco:localcorrelation on real rasters (North Carolina Landsat 7, 2000, red vs NIR): r equals a
direct per-window np.corrcoef (edges included), p equals scipy.stats.pearsonr, the result does not depend on
the block size, the class table adds up, bad inputs raise naming the input, and qgis_process runs it."""
import csv
import os

import numpy as np
import pytest
from osgeo import gdal
from scipy import stats

from paths import DATA, L8
from mining_eco_plugin.raster import engine

NC = os.path.join(DATA, "north_carolina")
X, Y = os.path.join(NC, "lsat7_2000_30.tif"), os.path.join(NC, "lsat7_2000_40.tif")


def read(path):
    ds = gdal.Open(path)
    b = ds.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float64)
    if b.GetNoDataValue() is not None:
        a[a == b.GetNoDataValue()] = np.nan
    return a, ds.GetGeoTransform()


def run(tmp_path, tag, **extra):
    import processing
    params = {"INPUT_X": X, "INPUT_Y": Y, "WINDOW_SIZE": 5, "MIN_VALID": 5, "ALPHA": 0.05,
              "OUTPUT_R": str(tmp_path / f"r_{tag}.tif"), "OUTPUT_P": str(tmp_path / f"p_{tag}.tif"),
              "OUTPUT_CLASS": str(tmp_path / f"c_{tag}.tif"), "OUTPUT_TABLE": str(tmp_path / f"t_{tag}.csv")}
    params.update(extra)
    return processing.run("miningeco:localcorrelation", params), params


def window(a, i, j, p):
    return a[max(i - p, 0):i + p + 1, max(j - p, 0):j + p + 1].ravel()


def test_local_correlation_equals_direct_per_window_computation(provider, tmp_path, monkeypatch):
    res, params = run(tmp_path, "default")
    r, _ = read(res["OUTPUT_R"])
    p, _ = read(res["OUTPUT_P"])
    cls = gdal.Open(res["OUTPUT_CLASS"]).ReadAsArray()   # 0 = nodata kept
    x, gt = read(X)
    y, _ = read(Y)
    h, w = x.shape
    rng = np.random.default_rng(0)
    cells = [(i, j) for i in (0, 1, h - 1) for j in range(0, w, 7)] + \
            [(i, j) for j in (0, w - 2, w - 1) for i in range(0, h, 7)] + \
            list(zip(rng.integers(0, h, 1500), rng.integers(0, w, 1500)))
    checked = 0
    for i, j in cells:
        wx, wy = window(x, i, j, 2), window(y, i, j, 2)
        ok = np.isfinite(wx) & np.isfinite(wy)
        if ok.sum() < 5 or np.ptp(wx[ok]) == 0 or np.ptp(wy[ok]) == 0:
            assert np.isnan(r[i, j]) and np.isnan(p[i, j]) and cls[i, j] == 0   # nodata
            continue
        ref = np.corrcoef(wx[ok], wy[ok])[0, 1]          # direct numpy per window
        assert r[i, j] == pytest.approx(ref, abs=2e-6), (i, j)   # float32 output
        n = ok.sum()
        if checked < 60:                                  # scipy's t-test on a few windows
            ref_p = stats.pearsonr(wx[ok], wy[ok])[1]
        else:                                             # the textbook t-test by hand
            ref_p = 2 * stats.t.sf(abs(ref) * np.sqrt((n - 2) / (1 - ref ** 2)), n - 2)
        assert p[i, j] == pytest.approx(ref_p, rel=1e-4, abs=1e-6), (i, j)
        if abs(ref_p - 0.05) > 1e-6:
            assert cls[i, j] == (2 if ref_p >= 0.05 else (3 if ref > 0 else 1)), (i, j)
        checked += 1
    assert checked > 1000   # the rest are nodata windows (outside the scene footprint), checked above
    # the table: areas of the three classes = pixel counts x pixel area, percent sums to 100
    with open(params["OUTPUT_TABLE"]) as f:
        rows = list(csv.DictReader(f))
    assert [int(row["class"]) for row in rows] == [1, 2, 3]
    pix_km2 = abs(gt[1] * gt[5]) / 1e6
    for row in rows:
        assert int(row["pixels"]) == (cls == int(row["class"])).sum()
        assert float(row["area_km2"]) == pytest.approx(int(row["pixels"]) * pix_km2, rel=1e-9)
    assert sum(float(row["percent"]) for row in rows) == pytest.approx(100.0)
    assert min(int(row["pixels"]) for row in rows) > 0     # real data: all three classes occur
    # block-size invariance: identical rasters with small, odd blocks
    for rows_, cols_ in [(7, 11), (1, 600)]:
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_ROWS", rows_)
        monkeypatch.setattr(engine, "DEFAULT_BLOCK_COLS", cols_)
        res2, _ = run(tmp_path, f"{rows_}x{cols_}")
        np.testing.assert_array_equal(read(res2["OUTPUT_R"])[0], r)
        np.testing.assert_array_equal(read(res2["OUTPUT_P"])[0], p)
        np.testing.assert_array_equal(gdal.Open(res2["OUTPUT_CLASS"]).ReadAsArray(), cls)


@pytest.mark.parametrize("extra,name", [({"WINDOW_SIZE": 4}, "WINDOW_SIZE"),
                                        ({"MIN_VALID": 50}, "MIN_VALID"),
                                        ({"INPUT_Y": L8 + "_B4.TIF"}, "INPUT_Y")])
def test_bad_inputs_raise_naming_the_input_and_leave_no_file(provider, tmp_path, extra, name):
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException, match=name):
        run(tmp_path, "bad", **extra)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tif")]


def test_local_correlation_through_qgis_process(qgis_process, provider, tmp_path):
    help_text = qgis_process("help", "miningeco:localcorrelation").stdout
    assert "WINDOW_SIZE" in help_text and "Remote Sensing 14: 4177" in help_text
    qgis_process("run", "miningeco:localcorrelation", "--", f"INPUT_X={X}", f"INPUT_Y={Y}", "WINDOW_SIZE=7",
                 f"OUTPUT_R={tmp_path / 'r_qp.tif'}", f"OUTPUT_P={tmp_path / 'p_qp.tif'}",
                 f"OUTPUT_CLASS={tmp_path / 'c_qp.tif'}", f"OUTPUT_TABLE={tmp_path / 't_qp.csv'}")
    res, _ = run(tmp_path, "pr", WINDOW_SIZE=7)
    np.testing.assert_array_equal(read(str(tmp_path / "r_qp.tif"))[0], read(res["OUTPUT_R"])[0])
    np.testing.assert_array_equal(read(str(tmp_path / "c_qp.tif"))[0], read(res["OUTPUT_CLASS"])[0])
    assert os.path.exists(str(tmp_path / "c_qp.qml"))


def test_resampling_onto_the_grid_of_x(provider, tmp_path):
    # the RESAMPLING parameter is accepted and runs the warp path (here onto the same grid): Y = X gives r = 1
    res, _ = run(tmp_path, "same", INPUT_Y=X, RESAMPLING=1)
    r, _ = read(res["OUTPUT_R"])
    assert np.nanmin(r) == pytest.approx(1.0, abs=1e-6) and np.isfinite(r).sum() > 100000
