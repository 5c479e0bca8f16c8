"""core.trend (Theil-Sen slope, Mann-Kendall test; ningdong eqs. 15-19) against independent references:
pymannkendall 1.4.3 (original_test: S, var_s, z, p; sens_slope), scipy.stats.theilslopes and plain
per-pair loops, hand-computed tie corrections and the seed's critical values."""
import itertools
import math

import numpy as np
import pymannkendall as mk
import pytest
from scipy import stats

from mining_eco_plugin.core import trend

PIXELS = 12


def series(n, kind, rng, pixels=PIXELS):
    x = rng.normal(0.4, 0.1, size=(n, pixels)) + 0.01 * rng.normal() * np.arange(n)[:, None]
    if kind == "ties":
        x = np.round(x, 1)          # many equal values: the tie correction of eq. 18
    elif kind == "missing":
        x[rng.random(x.shape) < 0.25] = np.nan
        x[:, 0] = np.nan            # a pixel with no valid date
        x[: n - 2, 1] = np.nan      # a pixel with 2 valid dates
    return x


def assert_matches_pymannkendall(x, res, min_valid):
    for p in range(x.shape[1]):
        col = x[:, p]
        nv = int(np.isfinite(col).sum())
        assert res.n_valid[p] == nv
        if nv < min_valid:
            assert all(math.isnan(v[p]) for v in (res.slope, res.s, res.var_s, res.z, res.p))
            continue
        ref = mk.original_test(col)           # skips NaN (pymannkendall's missing-value rule)
        ref_slope = mk.sens_slope(col).slope  # keeps the index spacing: consecutive years
        assert res.s[p] == ref.s
        assert abs(res.var_s[p] - ref.var_s) <= 1e-9
        assert abs(res.z[p] - ref.z) <= 1e-9
        assert abs(res.p[p] - ref.p) <= 1e-9
        assert abs(res.slope[p] - ref_slope) <= 1e-9


@pytest.mark.parametrize("kind", ["random", "ties", "missing"])
@pytest.mark.parametrize("n", range(3, 41))
def test_equals_pymannkendall_for_n_3_to_40(n, kind):
    rng = np.random.default_rng(1000 * n + len(kind))
    x = series(n, kind, rng)
    years = np.arange(2000, 2000 + n)
    res = trend.trend_statistics(x, years, min_valid=3)
    assert_matches_pymannkendall(x, res, 3)
    if kind == "ties":   # the case must really contain ties, else it proves nothing about eq. 18
        assert (res.var_s < (n * (n - 1) * (2 * n + 5)) / 18.0).any()


def test_sen_slope_and_mann_kendall_wrappers_equal_pymannkendall():
    rng = np.random.default_rng(7)
    x = np.round(rng.normal(size=25), 1)
    x[[3, 17]] = np.nan
    s, var_s, z, p = trend.mann_kendall(x)
    ref = mk.original_test(x)
    assert (s, var_s) == (ref.s, ref.var_s)
    assert z == pytest.approx(ref.z, abs=1e-12) and p == pytest.approx(ref.p, abs=1e-12)
    assert trend.sen_slope(x) == pytest.approx(mk.sens_slope(x).slope, abs=1e-12)


def plain_loop(t, x):
    """Eqs. 15-16 over the pairs of valid dates, one pair at a time."""
    ok = np.isfinite(x)
    t, x = t[ok], x[ok]
    slopes, s = [], 0
    for i, j in itertools.combinations(range(t.size), 2):
        slopes.append((x[j] - x[i]) / (t[j] - t[i]))
        s += np.sign(x[j] - x[i])
    return float(np.median(slopes)), s


def test_irregular_years_slope_equals_scipy_theilslopes_and_a_loop():
    rng = np.random.default_rng(3)
    years = np.array([1990, 1991, 1995, 2000, 2001, 2002, 2007, 2010, 2015.5, 2020])
    x = 0.002 * (years - 1990)[:, None] + rng.normal(0, 0.02, size=(years.size, 40))
    x[rng.random(x.shape) < 0.2] = np.nan
    res = trend.trend_statistics(x, years, min_valid=3)
    for p in range(x.shape[1]):
        ok = np.isfinite(x[:, p])
        if ok.sum() < 3:
            continue
        ref = stats.theilslopes(x[ok, p], years[ok])[0]
        loop_slope, loop_s = plain_loop(years, x[:, p])
        assert res.slope[p] == pytest.approx(ref, abs=1e-12)
        assert res.slope[p] == pytest.approx(loop_slope, abs=1e-12)
        assert res.s[p] == loop_s


def test_tie_correction_by_hand():
    # x = 1 1 2 2 2 3: n = 6, groups of 2 and 3 equal values (eq. 18):
    # Var(S) = [6*5*17 - 2*1*9 - 3*2*11] / 18 = (510 - 18 - 66) / 18 = 23.666...
    # S: pairs (i<j) with x_j > x_i: 1s vs 2s (2*3) + 1s vs 3 (2) + 2s vs 3 (3) = 11, none decreasing
    # Z = (11 - 1) / sqrt(23.666...)
    res = trend.trend_statistics(np.array([1, 1, 2, 2, 2, 3.0]))
    assert res.s == 11
    assert res.var_s == pytest.approx(426 / 18, abs=1e-12)
    assert res.z == pytest.approx(10 / math.sqrt(426 / 18), abs=1e-12)
    assert res.slope == plain_loop(np.arange(6.0), np.array([1, 1, 2, 2, 2, 3.0]))[0]


def test_constant_series_has_no_trend():
    res = trend.trend_statistics(np.full((6, 2), 0.5), np.arange(6))
    np.testing.assert_array_equal(res.s, [0, 0])
    np.testing.assert_array_equal(res.var_s, [0, 0])   # one group of 6 ties: 6*5*17 - 6*5*17
    np.testing.assert_array_equal(res.z, [0, 0])
    np.testing.assert_array_equal(res.p, [1, 1])
    np.testing.assert_array_equal(res.slope, [0, 0])
    np.testing.assert_array_equal(trend.trend_class(res.z, res.slope), [trend.NO_CHANGE] * 2)


def test_infinite_values_count_as_missing():
    x = np.array([1.0, np.inf, 2.0, -np.inf, 4.0, 3.0])
    a = trend.trend_statistics(x)
    b = trend.trend_statistics(np.where(np.isfinite(x), x, np.nan))
    assert a.n_valid == 4
    assert (a.slope, a.s, a.var_s, a.z, a.p) == (b.slope, b.s, b.var_s, b.z, b.p)


def test_float32_input_is_computed_in_float32_with_exact_s_and_variance():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(25, 300)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    r32 = trend.trend_statistics(x, np.arange(25))
    r64 = trend.trend_statistics(x.astype(np.float64), np.arange(25))
    np.testing.assert_array_equal(r32.s, r64.s)
    np.testing.assert_array_equal(r32.var_s, r64.var_s)
    np.testing.assert_allclose(r32.slope, r64.slope, rtol=1e-6, atol=1e-7)


def test_chunking_and_threads_do_not_change_results():
    rng = np.random.default_rng(11)
    x = np.round(rng.normal(size=(15, 501)), 1)
    x[rng.random(x.shape) < 0.15] = np.nan
    ref = trend.trend_statistics(x, np.arange(15))
    for max_bytes, workers in [(1, 1), (20_000, 1), (20_000, 3), (10**9, 2)]:
        res = trend.trend_statistics(x, np.arange(15), max_bytes=max_bytes, workers=workers)
        for a, b in zip((ref.slope, ref.s, ref.var_s, ref.z, ref.p, ref.n_valid),
                        (res.slope, res.s, res.var_s, res.z, res.p, res.n_valid)):
            np.testing.assert_array_equal(a, b)


def test_long_series_with_bounded_chunks_equals_a_plain_loop():
    rng = np.random.default_rng(2)
    n = 150                           # 11175 pairs per pixel; chunks of a handful of pixels
    t = np.arange(n) / 12.0           # monthly dates, slope per year
    x = rng.normal(size=(n, 7)) + 0.3 * t[:, None]
    res = trend.trend_statistics(x, t, max_bytes=200_000)
    for p in range(7):
        slope, s = plain_loop(t, x[:, p])
        assert res.slope[p] == pytest.approx(slope, abs=1e-12)
        assert res.s[p] == s


def test_critical_values_are_the_seeds():
    # ningdong section 3.3: |Z| >= 1.645, 1.960, 2.576 at 90, 95, 99 %
    for conf, z in [(90, 1.645), (95, 1.960), (99, 2.576)]:
        assert trend.critical_z(conf) == pytest.approx(z, abs=5e-4)


def test_trend_class_by_hand():
    z = np.array([2.0, -2.0, 1.9, -1.9, 2.7, np.nan, 3.0])
    slope = np.array([0.1, -0.1, 0.1, -0.1, 0.2, 0.1, np.nan])
    np.testing.assert_array_equal(trend.trend_class(z, slope, 95), [3, 1, 2, 2, 3, 0, 0])
    np.testing.assert_array_equal(trend.trend_class(z, slope, 90), [3, 1, 3, 1, 3, 0, 0])
    np.testing.assert_array_equal(trend.trend_class(z, slope, 99), [2, 2, 2, 2, 3, 0, 0])
    # a significant Z with a zero median slope (many ties) is no significant change
    assert trend.trend_class(np.array([2.5]), np.array([0.0]), 95)[0] == trend.NO_CHANGE


def test_min_valid_makes_sparse_pixels_nodata():
    x = np.array([[1, 1], [2, np.nan], [3, np.nan], [4, 4], [5, 5.0]])
    res = trend.trend_statistics(x, np.arange(5), min_valid=4)
    np.testing.assert_array_equal(res.n_valid, [5, 3])
    assert res.slope[0] == 1 and math.isnan(res.slope[1]) and math.isnan(res.z[1])
    # n = 5 strictly increasing: S = 10, Var = 5*4*15/18, Z = 9/sqrt(16.67) = 2.205 -> significant at 95 %
    assert res.z[0] == pytest.approx(9 / math.sqrt(50 / 3))
    np.testing.assert_array_equal(trend.trend_class(res.z, res.slope), [3, 0])


@pytest.mark.parametrize("years, message", [
    ([2000, 2001], "at least 3 dates"),
    ([2000, 2001, 2001, 2002], "duplicate date(s) 2001"),
    ([2000, 2002, 2001], "not in time order (2002 comes before 2001)"),
    ([2000, float("nan"), 2002], "finite"),
])
def test_bad_years_name_the_input(years, message):
    with pytest.raises(ValueError) as err:
        trend.check_years(years, "YEARS")
    assert str(err.value).startswith("YEARS:") and message in str(err.value)


def test_years_count_must_match_the_stack():
    with pytest.raises(ValueError, match="YEARS: 3 dates for 4"):
        trend.trend_statistics(np.zeros((4, 2)), [2000, 2001, 2002])


def test_parse_years():
    assert trend.parse_years("2000,2001, 2003") == [2000, 2001, 2003]
    assert trend.parse_years("2000-2003") == [2000, 2001, 2002, 2003]
    assert trend.parse_years("1999; 2000-2001 2010.5") == [1999, 2000, 2001, 2010.5]
    with pytest.raises(ValueError, match="YEARS: 'abc' is not a year"):
        trend.parse_years("2000,abc")
    with pytest.raises(ValueError, match="runs backwards"):
        trend.parse_years("2024-2000")


@pytest.mark.parametrize("name, year", [
    ("rsei_2005", 2005), ("NDVI 2010.tif", 2010), ("2024", 2024), ("rsei2000_grades", 2000),
    ("LC08_L1TP_195025_20130707_20170503_01_T1", 2013),   # the acquisition date, not the processing date
    ("ndvi_2001-07-30", 2001), ("rsei_20241", None), ("slope", None),
])
def test_year_from_name(name, year):
    assert trend.year_from_name(name) == year
