"""core.timeseries against the published numbers of the ningdong seed (section 4.1, Figure 8, Table 5)
and against independent implementations: scipy.stats.linregress (OLS), numpy.polyfit (quadratic,
and its unscaled covariance for the confidence band), a brute-force breakpoint search."""
import math

import numpy as np
import pytest
from scipy import stats

from mining_eco_plugin.core import timeseries as ts

# ningdong seed, Table 5 "Indicator values", column RSEI, years 2000-2024 (three decimals as printed).
YEARS = np.arange(2000, 2025)
RSEI = np.array([0.372, 0.412, 0.328, 0.319, 0.328, 0.372, 0.358, 0.383, 0.382, 0.316, 0.286, 0.279, 0.308,
                 0.345, 0.413, 0.231, 0.288, 0.417, 0.391, 0.385, 0.456, 0.372, 0.511, 0.429, 0.428])
HALF_UNIT = 0.0005   # the table's rounding: each true value lies within +-0.0005 of the printed one


def slope_rounding_bound(t):
    """Largest change of an OLS slope when each y moves by at most HALF_UNIT: sum |t - mean| / Sxx * 0.0005."""
    d = t - t.mean()
    return HALF_UNIT * np.abs(d).sum() / (d @ d)


def test_ningdong_segments_at_2012():
    # seed: "2000 to 2012 (slope = -0.00605) followed by ... 2013 to 2024 (slope = 0.01239)", "|r| between 0.577
    # and 0.599". From the rounded table the slopes are -0.006082 and 0.012406: within what the rounding allows.
    s = ts.summarize(YEARS, RSEI, breakpoint=2012)
    first, second = s.segmented.first, s.segmented.second
    assert (first.first, first.last, second.first, second.last) == (2000, 2012, 2013, 2024)
    assert abs(first.slope - (-0.00605)) <= slope_rounding_bound(YEARS[YEARS <= 2012]) + 5e-6
    assert abs(second.slope - 0.01239) <= slope_rounding_bound(YEARS[YEARS > 2012]) + 5e-6
    assert abs(first.slope) < second.slope          # "the post-2012 recovery rate ... exceeded" the decline
    assert abs(abs(first.r) - 0.577) < 0.005 and abs(abs(second.r) - 0.599) < 0.005
    assert 0.3 < first.r2 < 0.37 and 0.3 < second.r2 < 0.37   # "R2 ... close to 30 %"


def test_ningdong_quadratic_r2_and_turning_point():
    q = ts.summarize(YEARS, RSEI).quadratic
    assert round(q.r2, 2) == 0.41                  # seed: "R2 = 0.41"
    a, b, _c = np.polyfit(YEARS, RSEI, 2)
    assert q.turning_point == pytest.approx(-b / (2 * a), abs=1e-6)
    # The seed writes 2012.3 for the turning point; the quadratic of Table 5 turns at 2009.54, and no
    # rounding of the table moves it by more than a few hundredths (brute-force check of the extreme
    # perturbations below), so 2012.3 cannot come from these values: the seed's number is not reproduced.
    assert q.turning_point == pytest.approx(2009.54, abs=0.01)
    rng = np.random.default_rng(0)
    for _ in range(200):
        pa, pb, _pc = np.polyfit(YEARS, RSEI + rng.choice([-HALF_UNIT, HALF_UNIT], RSEI.size), 2)
        assert abs(-pb / (2 * pa) - 2009.54) < 0.1
    assert q.a > 0                                 # U-shaped, as the seed says


def test_ningdong_net_change():
    # seed: "from 0.372 to 0.428 ... representing a 15.2 % net gain"
    pct = ts.summarize(YEARS, RSEI).net_change_percent
    assert pct == pytest.approx(100 * (0.428 - 0.372) / 0.372, abs=1e-12)   # 15.05 % from the printed values
    lowest = 100 * ((0.428 - HALF_UNIT) / (0.372 + HALF_UNIT) - 1)
    highest = 100 * ((0.428 + HALF_UNIT) / (0.372 - HALF_UNIT) - 1)
    assert lowest <= 15.2 <= highest and lowest <= pct <= highest


@pytest.mark.parametrize("seed", range(6))
def test_linear_fit_equals_scipy_linregress(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    x = np.sort(rng.choice(np.arange(1980, 2030), n, replace=False)).astype(float)
    y = rng.normal(size=n) + 0.05 * rng.normal() * x
    ours, ref = ts.linear_fit(x, y), stats.linregress(x, y)
    for name, value in [("slope", ref.slope), ("intercept", ref.intercept), ("r", ref.rvalue),
                        ("p", ref.pvalue), ("slope_stderr", ref.stderr), ("intercept_stderr", ref.intercept_stderr)]:
        assert getattr(ours, name) == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert ours.r2 == pytest.approx(ref.rvalue ** 2, rel=1e-12)


def test_linear_fit_ningdong_whole_series_equals_linregress():
    ours, ref = ts.linear_fit(YEARS, RSEI), stats.linregress(YEARS, RSEI)
    assert (ours.slope, ours.r, ours.p) == pytest.approx((ref.slope, ref.rvalue, ref.pvalue), rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_quadratic_fit_equals_numpy_polyfit(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 40))
    x = np.sort(rng.choice(np.arange(1980, 2030), n, replace=False)).astype(float)
    y = rng.normal(size=n) + 0.002 * (x - 2000) ** 2
    q = ts.quadratic_fit(x, y)
    a, b, c = np.polyfit(x, y, 2)
    assert (q.a, q.b) == pytest.approx((a, b), rel=1e-8)
    assert q.c == pytest.approx(c, rel=1e-8)
    assert q.turning_point == pytest.approx(-b / (2 * a), rel=1e-10)
    assert q.turning_value == pytest.approx(np.polyval((a, b, c), -b / (2 * a)), rel=1e-8, abs=1e-9)
    resid = y - np.polyval((a, b, c), x)
    assert q.r2 == pytest.approx(1 - resid @ resid / ((y - y.mean()) @ (y - y.mean())), rel=1e-9)


def test_linear_band_equals_the_textbook_formula():
    # mean-response band of simple regression: yhat +- t(0.975, n-2) s sqrt(1/n + (x0 - xbar)^2 / Sxx)
    x, y = YEARS.astype(float), RSEI
    fit = stats.linregress(x, y)
    n = x.size
    s = math.sqrt(((y - fit.intercept - fit.slope * x) ** 2).sum() / (n - 2))
    x0 = np.array([1998.0, 2000.0, 2011.5, 2024.0, 2030.0])
    half = stats.t.ppf(0.975, n - 2) * s * np.sqrt(1 / n + (x0 - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    fitted, lo, hi = ts.mean_response_band(x, y, 1, x0)
    np.testing.assert_allclose(fitted, fit.intercept + fit.slope * x0, rtol=1e-10)
    np.testing.assert_allclose(hi - fitted, half, rtol=1e-8)
    np.testing.assert_allclose(fitted - lo, half, rtol=1e-8)


def test_quadratic_band_equals_polyfit_covariance():
    x, y = YEARS.astype(float), RSEI
    coef, cov_unscaled = np.polyfit(x - 2012, y, 2, cov="unscaled")
    resid = y - np.polyval(coef, x - 2012)
    s2 = resid @ resid / (x.size - 3)
    x0 = np.linspace(2000, 2024, 7)
    V = np.vander(x0 - 2012, 3)
    half = stats.t.ppf(0.975, x.size - 3) * np.sqrt(s2 * np.einsum("ij,jk,ik->i", V, cov_unscaled, V))
    fitted, lo, hi = ts.mean_response_band(x, y, 2, x0)
    np.testing.assert_allclose(fitted, np.polyval(coef, x0 - 2012), rtol=1e-9)
    np.testing.assert_allclose(hi - fitted, half, rtol=1e-7)
    np.testing.assert_allclose(fitted - lo, half, rtol=1e-7)


def brute_force_breakpoint(x, y, min_points=3):
    best = None
    for k in range(min_points - 1, x.size - min_points):
        sse = 0.0
        for mask in (x <= x[k], x > x[k]):
            f = stats.linregress(x[mask], y[mask])
            sse += ((y[mask] - f.intercept - f.slope * x[mask]) ** 2).sum()
        if best is None or sse < best[1] - 1e-15:
            best = (x[k], sse)
    return best


def test_breakpoint_search_equals_brute_force():
    bp, sse = brute_force_breakpoint(YEARS.astype(float), RSEI)
    seg = ts.segmented_fit(YEARS, RSEI)
    assert seg.searched and seg.breakpoint == bp and seg.sse == pytest.approx(sse, rel=1e-9)
    # Table 5 fitted by least squares breaks after 2016, not 2012 (the seed picked 2012 from its turning point)
    assert bp == 2016


def test_breakpoint_search_finds_a_clean_v():
    x = np.arange(1990, 2011, dtype=float)
    y = np.where(x <= 2002, 5 - 0.3 * (x - 1990), 1.4 + 0.5 * (x - 2002))
    seg = ts.segmented_fit(x, y)
    assert seg.breakpoint == 2002
    assert seg.first.slope == pytest.approx(-0.3) and seg.second.slope == pytest.approx(0.5)


def test_breakpoint_too_close_to_an_end_names_the_parameter():
    with pytest.raises(ValueError, match=r"BREAKPOINT: 2001 leaves 2 year\(s\) before"):
        ts.segmented_fit(YEARS, RSEI, 2001)
    with pytest.raises(ValueError, match="BREAKPOINT: 2023"):
        ts.segmented_fit(YEARS, RSEI, 2023)


def test_clean_series_sorts_drops_missing_and_refuses_duplicates():
    t, y = ts.clean_series([2003, 2001, 2002, 2000, 2004], [3.0, 1.0, np.nan, 0.0, 4.0])
    np.testing.assert_array_equal(t, [2000, 2001, 2003, 2004])
    np.testing.assert_array_equal(y, [0, 1, 3, 4])
    with pytest.raises(ValueError, match=r"YEAR_FIELD: the year\(s\) 2001 occur more than once"):
        ts.clean_series([2000, 2001, 2001, 2002, 2003], [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="VALUE_FIELD: only 3 year"):
        ts.clean_series([2000, 2001, 2002, 2003], [1, 2, np.nan, 4])


def test_short_series_has_no_segments():
    s = ts.summarize([2000, 2001, 2002, 2003, 2004], [1, 2, 1.5, 3, 2.5])
    assert s.segmented is None and s.linear.n == 5 and s.quadratic.n == 5


def test_net_change_of_zero_start_is_nan():
    assert math.isnan(ts.net_change_percent(0.0, 1.0))
    assert ts.net_change_percent(2.0, 3.0) == 50.0


# ------------------------------------------------------------------ no turning point without curvature (issue 11)
@pytest.mark.parametrize("series", ["constant 0.4137", "constant 5", "straight line", "constant + 1e-17"])
def test_constant_or_straight_series_has_no_turning_point(series):
    # by hand: a constant or a straight line is its own least-squares quadratic with a = 0 exactly, so -b/2a does
    # not exist; 0.6.0 tested a != 0 on the rounding noise of lstsq (a = 1.7e-18) and reported 2011.25 or -2.9e15
    x = np.arange(2000, 2025, dtype=float)
    y = {"constant 0.4137": np.full(25, 0.4137), "constant 5": np.full(25, 5.0),
         "straight line": 0.3 + 0.01 * (x - 2000), "constant + 1e-17": np.full(25, 0.1) + 1e-17}[series]
    np.testing.assert_allclose(np.polyfit(x - 2012, y, 2)[0], 0.0, atol=1e-15)   # numpy agrees: no curvature
    q = ts.quadratic_fit(x, y)
    assert np.isnan(q.turning_point) and np.isnan(q.turning_value)
    if series.startswith("constant"):
        assert np.isnan(q.r2)                      # SST = 0: R2 undefined (0.6.0: -1.52 from rounding)


def test_a_small_real_curvature_keeps_its_turning_point():
    # 1e-4 (year - 2010)^2 on a level of 1000: the curvature is 1e-8 of the scale over +-12 years, above the
    # tolerance of 1e-9; numpy.polyfit gives the same turning point
    x = np.arange(1998, 2023, dtype=float)
    y = 1000.0 + 1e-4 * (x - 2010.0) ** 2 + 0.002 * (x - 2010.0)
    q = ts.quadratic_fit(x, y)
    a, b, _c = np.polyfit(x - 2010.0, y, 2)
    assert q.turning_point == pytest.approx(2010.0 - b / (2 * a), abs=1e-6)
    assert q.turning_point == pytest.approx(2000.0, abs=1e-6)
