"""raster.points.sample_points on a small synthetic GeoTIFF.

References: nearest = the array element indexed by floor((x - x0) / dx), floor((y0 - y) / dy) written
here; bilinear = scipy.ndimage.map_coordinates(order=1, mode="nearest") on pixel-centre coordinates;
results independent of the tile size used to group the points.
"""
import numpy as np
import pytest
from osgeo import gdal
from scipy.ndimage import map_coordinates

from mining_eco_plugin.raster import points as pts

gdal.UseExceptions()

X0, Y0, DX = 500000.0, 4200000.0, 30.0
NODATA = -9999.0


@pytest.fixture
def raster(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 100, size=(2, 37, 53))
    a[0, 10, 20] = NODATA
    a[1, 30, 5] = NODATA
    path = str(tmp_path / "r.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 53, 37, 2, gdal.GDT_Float32)
    ds.SetGeoTransform((X0, DX, 0, Y0, 0, -DX))
    for b in range(2):
        band = ds.GetRasterBand(b + 1)
        band.SetNoDataValue(NODATA)
        band.SetDescription(f"IDX{b + 1}")
        band.WriteArray(a[b])
    ds = None
    return path, a.astype(np.float32).astype(np.float64)


def random_points(n=400, seed=4):
    rng = np.random.default_rng(seed)
    cols = rng.uniform(-2, 55, n)
    rows = rng.uniform(-2, 39, n)
    return X0 + cols * DX, Y0 - rows * DX


def test_nearest_is_the_pixel_containing_the_point(raster, monkeypatch):
    path, a = raster
    xs, ys = random_points()
    res = pts.sample_points(path, xs, ys, "nearest")
    col = np.floor((xs - X0) / DX).astype(int)
    row = np.floor((Y0 - ys) / DX).astype(int)
    inside = (col >= 0) & (col < 53) & (row >= 0) & (row < 37)
    np.testing.assert_array_equal(res.outside, ~inside)
    assert 30 < (~inside).sum() < 200
    expected = np.where(a == NODATA, np.nan, a)[:, row[inside], col[inside]].T
    np.testing.assert_array_equal(res.values[inside], expected)
    assert np.isnan(res.values[~inside]).all()
    assert res.band_names == ["IDX1", "IDX2"]
    # the nodata pixels give NaN, only in their band
    r = pts.sample_points(path, [X0 + 20.5 * DX, X0 + 5.2 * DX], [Y0 - 10.5 * DX, Y0 - 30.9 * DX], "nearest")
    assert np.isnan(r.values[0, 0]) and np.isfinite(r.values[0, 1])
    assert np.isnan(r.values[1, 1]) and np.isfinite(r.values[1, 0])
    # tile grouping does not change anything
    monkeypatch.setattr(pts, "TILE", 4)
    np.testing.assert_array_equal(pts.sample_points(path, xs, ys, "nearest").values, res.values)


def test_bilinear_equals_scipy_map_coordinates(raster, monkeypatch):
    path, a = raster
    xs, ys = random_points(seed=9)
    res = pts.sample_points(path, xs, ys, "bilinear")
    fc, fr = (xs - X0) / DX, (Y0 - ys) / DX
    inside = (fc >= 0) & (fc < 53) & (fr >= 0) & (fr < 37)
    np.testing.assert_array_equal(res.outside, ~inside)
    for b in range(2):
        ref = map_coordinates(np.where(a[b] == NODATA, np.nan, a[b]), [fr[inside] - 0.5, fc[inside] - 0.5],
                              order=1, mode="nearest")
        got = res.values[inside, b]
        ok = np.isfinite(ref)
        np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-9)   # map <-> pixel coordinates round at ~1e-11 px
        assert np.isnan(got[~ok]).all()
    monkeypatch.setattr(pts, "TILE", 3)
    np.testing.assert_allclose(pts.sample_points(path, xs, ys, "bilinear").values, res.values, rtol=1e-12)


def test_bilinear_at_a_pixel_centre_is_the_pixel_and_halfway_is_the_mean(raster):
    path, a = raster
    r = pts.sample_points(path, [X0 + 3.5 * DX, X0 + 4.0 * DX], [Y0 - 2.5 * DX, Y0 - 2.5 * DX], "bilinear")
    assert r.values[0, 0] == pytest.approx(a[0, 2, 3])
    assert r.values[1, 0] == pytest.approx((a[0, 2, 3] + a[0, 2, 4]) / 2)


def test_unknown_method_is_refused(raster):
    with pytest.raises(ValueError, match="cubic"):
        pts.sample_points(raster[0], [X0], [Y0], "cubic")
