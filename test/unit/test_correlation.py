"""core.correlation: moving-window Pearson r, its t-test and classes, against direct per-window numpy
(np.corrcoef) and scipy.stats.pearsonr on real Landsat 7 bands of the North Carolina data."""
import os

import numpy as np
import pytest
from osgeo import gdal
from scipy import stats

from mining_eco_plugin.core import correlation as core

NC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "north_carolina")


def band(name, rows=slice(100, 160), cols=slice(200, 270)):
    ds = gdal.Open(os.path.join(NC, f"lsat7_2000_{name}.tif"))
    b = ds.GetRasterBand(1)
    a = b.ReadAsArray().astype(np.float64)
    a[a == b.GetNoDataValue()] = np.nan
    return a[rows, cols]


def reference(x, y, size, min_valid):
    """Direct computation: for each pixel, np.corrcoef of the valid pairs of its window (clipped at edges)."""
    h, w = x.shape
    p = size // 2
    r = np.full((h, w), np.nan)
    n = np.zeros((h, w), dtype=int)
    for i in range(h):
        for j in range(w):
            wx = x[max(i - p, 0):i + p + 1, max(j - p, 0):j + p + 1].ravel()
            wy = y[max(i - p, 0):i + p + 1, max(j - p, 0):j + p + 1].ravel()
            ok = np.isfinite(wx) & np.isfinite(wy)
            n[i, j] = ok.sum()
            if n[i, j] >= min_valid and np.ptp(wx[ok]) > 0 and np.ptp(wy[ok]) > 0:
                r[i, j] = np.corrcoef(wx[ok], wy[ok])[0, 1]
    return r, n


def pad(a, p):
    return np.pad(a, p, constant_values=np.nan)


@pytest.mark.parametrize("size", [3, 5, 7])
def test_local_pearson_equals_corrcoef_per_window_with_edges_and_nodata(size):
    x, y = band("30"), band("40")    # red and NIR of Landsat 7, 2000
    x[10:14, 20:25] = np.nan         # a nodata hole in one band only
    y[0, :] = np.nan                 # and a nodata row on the edge of the other
    p = size // 2
    r, n = core.local_pearson(pad(x, p), pad(y, p), p, min_valid=4)
    ref_r, ref_n = reference(x, y, size, 4)
    np.testing.assert_array_equal(n, ref_n)
    np.testing.assert_array_equal(np.isnan(r), np.isnan(ref_r))
    np.testing.assert_allclose(r[np.isfinite(r)], ref_r[np.isfinite(ref_r)], atol=1e-9)
    assert np.isfinite(r).mean() > 0.8 and np.nanstd(r) > 0.1   # not a trivial field


def test_min_valid_and_constant_window_give_nan():
    x = np.arange(25.0).reshape(5, 5)
    y = np.ones((5, 5))
    r, n = core.local_pearson(pad(x, 1), pad(y, 1), 1, 3)
    assert np.isnan(r).all()                 # y constant in every window
    y = x ** 2
    r, n = core.local_pearson(pad(x, 1), pad(y, 1), 1, 5)
    assert n[0, 0] == 4 and np.isnan(r[0, 0])   # corner: 4 pairs < MIN_VALID 5
    assert n[2, 2] == 9 and 0.9 < r[2, 2] < 1


def test_p_values_equal_scipy_pearsonr_on_real_windows():
    x, y = band("10"), band("70")
    r, n = core.local_pearson(pad(x, 2), pad(y, 2), 2, 3)
    t, p = core.t_test(r, n)
    for i, j in [(0, 0), (10, 33), (30, 50), (59, 69), (45, 3)]:
        wx = x[max(i - 2, 0):i + 3, max(j - 2, 0):j + 3].ravel()
        wy = y[max(i - 2, 0):i + 3, max(j - 2, 0):j + 3].ravel()
        ref = stats.pearsonr(wx, wy)     # scipy's two-sided test with n - 2 degrees of freedom
        assert r[i, j] == pytest.approx(ref[0], abs=1e-9)
        assert p[i, j] == pytest.approx(ref[1], rel=1e-6, abs=1e-12)
        # t by hand: r sqrt((n-2)/(1-r^2))
        assert t[i, j] == pytest.approx(ref[0] * np.sqrt((len(wx) - 2) / (1 - ref[0] ** 2)), rel=1e-9)


def test_t_test_edge_cases():
    t, p = core.t_test(np.array([1.0, -1.0, np.nan, 0.0]), np.array([9, 9, 9, 9]))
    assert t[0] == np.inf and t[1] == -np.inf and p[0] == 0 and p[1] == 0
    assert np.isnan(t[2]) and np.isnan(p[2])
    assert t[3] == 0 and p[3] == pytest.approx(1.0)


def test_classes_and_table():
    r = np.array([-0.9, -0.2, 0.1, 0.8, np.nan])
    p = np.array([0.01, 0.001, 0.5, 0.049, np.nan])
    np.testing.assert_array_equal(core.classes(r, p, 0.05), [1, 1, 2, 3, 0])
    np.testing.assert_array_equal(core.classes(r, p, 0.01), [2, 1, 2, 2, 0])
    with pytest.raises(ValueError, match="ALPHA"):
        core.classes(r, p, 1.5)
    rows = core.class_table([0, 1e6, 3e6, 0], [0, 1, 3, 0])
    assert [(row["class"], row["area_km2"], row["percent"]) for row in rows] == [(1, 1.0, 25.0), (2, 3.0, 75.0),
                                                                                (3, 0.0, 0.0)]


@pytest.mark.parametrize("size,min_valid,param", [(4, 3, "WINDOW_SIZE"), (1, 3, "WINDOW_SIZE"),
                                                  (5, 2, "MIN_VALID"), (3, 10, "MIN_VALID")])
def test_check_window_names_the_parameter(size, min_valid, param):
    with pytest.raises(ValueError, match=param):
        core.check_window(size, min_valid)
    assert core.check_window(7, 49) == 3


def test_shift_keeps_precision_on_a_large_level():
    """Review defect D5: x = 1e6 + N(0, 1) (float64) in 5 x 5 windows. Without a shift the raw moment sums lose
    the local variation (windows turn nodata or r is off); with shift = the level, r equals np.corrcoef of each
    window (the direct per-window computation) to 1e-9 and no window is lost."""
    from mining_eco_plugin.core.correlation import local_pearson
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (20, 20))
    y = 0.6 * x + rng.normal(0, 1, (20, 20))
    big = x + 5e6
    pad = 2
    xp = np.pad(big, pad, constant_values=np.nan)
    yp = np.pad(y, pad, constant_values=np.nan)
    r_raw, _ = local_pearson(xp, yp, pad)
    r, n = local_pearson(xp, yp, pad, shift=(5e6, 0.0))
    assert np.isnan(r_raw).sum() > 100                      # the precision problem this guards against
    for i in range(20):
        for j in range(20):
            a = big[max(i - 2, 0):i + 3, max(j - 2, 0):j + 3].ravel()
            b = y[max(i - 2, 0):i + 3, max(j - 2, 0):j + 3].ravel()
            assert n[i, j] == a.size
            assert r[i, j] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-9)
