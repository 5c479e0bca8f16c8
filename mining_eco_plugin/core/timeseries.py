"""Summary of one yearly series (e.g. the mean RSEI of a study area per year): linear, two-segment and
quadratic least-squares fits, the mean-response confidence band, the net change.

Pure numpy / scipy. Source: ningdong seed, section 4.1 and Figure 8 (Table 5: RSEI 2000-2024):

* ordinary least squares ``y = intercept + slope * year`` with Pearson r, R2 = r^2 and the two-sided
  p-value of the slope (t test with n - 2 degrees of freedom), the quantities the seed quotes;
* a two-segment fit: two independent OLS lines, the first over the years <= the breakpoint, the
  second over the years after it (the seed: 2000-2012 slope -0.00605, 2013-2024 slope 0.01239,
  |r| 0.577-0.599). Without a given breakpoint, the one with the least total squared error;
* the quadratic ``y = a year^2 + b year + c`` with R2 = 1 - SSE/SST and the turning point -b / 2a
  (the seed: R2 = 0.41, turning point 2012.3 - see below);
* net change in percent, 100 (y_last - y_first) / y_first (seed: 0.372 -> 0.428, "15.2 %").

The 95 % band is the confidence band of the mean response (the regression line), not of new
observations: yhat(x0) +- t_(1-alpha/2, n-p) * s * sqrt(x0' (X'X)^-1 x0), s^2 = SSE / (n - p).

Seed check (Table 5 values, three decimals): the segment slopes (-0.00608 / 0.01241), |r| (0.579 /
0.599), the quadratic R2 (0.412) and the net change (15.05 %; 15.2 % lies inside what the rounding of
0.372 and 0.428 allows) agree with the text. The turning point does not: -b/2a of the quadratic fitted
to Table 5 is 2009.5 (any rounding of the table values keeps it within 2009.51-2009.56), not the
2012.3 of the text; the seed does not say how its value was obtained. This module reports -b/2a.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "LinearFit",
    "QuadraticFit",
    "SegmentedFit",
    "SeriesSummary",
    "clean_series",
    "linear_fit",
    "quadratic_fit",
    "segmented_fit",
    "mean_response_band",
    "net_change_percent",
    "summarize",
    "sum_block",
]

MIN_POINTS = 4          # the quadratic and its band need n - 3 >= 1
MIN_SEGMENT_POINTS = 3  # a segment's line and band need n - 2 >= 1
#: The quadratic has no turning point when its curvature is rounding noise: |a| h^2 <= FLAT_TOLERANCE * max|y|,
#: h = half the span of the years (the most the x^2 term changes the fit over the years) and max|y| the data's
#: scale. Least squares on a constant or straight series leaves |a| h^2 ~ 1e-16 max|y| (0.6.0 then reported a
#: turning point such as 2011.25, or -2.9e15, from a = 1.7e-18).
FLAT_TOLERANCE = 1e-9


@dataclass
class LinearFit:
    slope: float
    intercept: float
    r: float
    r2: float
    p: float                 # two-sided p-value of the slope (H0: slope = 0)
    slope_stderr: float
    intercept_stderr: float
    n: int
    first: float             # first and last year of the fitted span
    last: float
    sse: float


@dataclass
class QuadraticFit:
    a: float
    b: float
    c: float
    r2: float
    turning_point: float     # -b / 2a (NaN when a == 0)
    turning_value: float     # the fitted value there
    n: int
    sse: float


@dataclass
class SegmentedFit:
    breakpoint: float        # last year of the first segment
    first: LinearFit
    second: LinearFit
    sse: float
    searched: bool           # True when the breakpoint was chosen by least squares
    candidates: list = field(default_factory=list)   # (breakpoint, total SSE) of every candidate tried


@dataclass
class SeriesSummary:
    years: np.ndarray
    values: np.ndarray
    linear: LinearFit
    quadratic: QuadraticFit
    segmented: SegmentedFit | None
    net_change_percent: float


def clean_series(years, values, year_label: str = "YEAR_FIELD", value_label: str = "VALUE_FIELD"):
    """(years, values) as float64 arrays sorted by year, rows with a missing year or value dropped.
    ValueError naming the input when a year repeats or fewer than MIN_POINTS rows remain."""
    t = np.asarray(years, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    if t.size != y.size:
        raise ValueError(f"{year_label}: {t.size} years for {y.size} values.")
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    dup = t[1:][np.diff(t) == 0]
    if dup.size:
        raise ValueError(f"{year_label}: the year(s) {', '.join(f'{v:g}' for v in np.unique(dup))} occur more than "
                         "once. Give one value per year (aggregate the table first).")
    if t.size < MIN_POINTS:
        raise ValueError(f"{value_label}: only {t.size} year(s) have a value; the summary needs at least "
                         f"{MIN_POINTS} (a quadratic has three coefficients).")
    return t, y


def linear_fit(x, y) -> LinearFit:
    """Ordinary least squares y = intercept + slope x, with Pearson r, R2 = r^2, the two-sided p-value of
    the slope (t = r sqrt((n-2)/(1-r^2)), n-2 degrees of freedom) and the standard errors (the same
    quantities as ``scipy.stats.linregress``). Needs n >= 3 and x not constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.size
    if n < 3:
        raise ValueError(f"a linear fit with a p-value needs at least 3 points, got {n}")
    xm, ym = x.mean(), y.mean()
    dx, dy = x - xm, y - ym
    sxx, syy, sxy = float(dx @ dx), float(dy @ dy), float(dx @ dy)
    if sxx == 0:
        raise ValueError("a linear fit needs at least two different years")
    slope = sxy / sxx
    intercept = ym - slope * xm
    r = 0.0 if syy == 0 else float(np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0))
    df = n - 2
    sse = max(syy - slope * sxy, 0.0)
    if abs(r) == 1.0:
        p = 0.0
    else:
        t = r * np.sqrt(df / (1.0 - r * r))
        p = float(2.0 * stats.t.sf(abs(t), df))
    slope_se = float(np.sqrt(sse / df / sxx))
    intercept_se = float(slope_se * np.sqrt(sxx / n + xm * xm))
    return LinearFit(float(slope), float(intercept), r, r * r, p, slope_se, intercept_se, n,
                     float(x.min()), float(x.max()), float(sse))


def _design(x, center, degree):
    u = np.asarray(x, dtype=np.float64) - center
    return np.vander(u, degree + 1, increasing=True)          # 1, u, u^2


def quadratic_fit(x, y) -> QuadraticFit:
    """Least squares y = a x^2 + b x + c (solved on x - mean(x), which is well conditioned for years,
    then expanded), R2 = 1 - SSE / SST, turning point -b / 2a and the fitted value there.

    No turning point (NaN) when the curvature is below :data:`FLAT_TOLERANCE` relative to the data's scale
    (a constant or straight series: a = 0 up to rounding); R2 is NaN for a constant series (SST = 0)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.unique(x).size < 3:
        raise ValueError("a quadratic fit needs at least three different years")
    m = x.mean()
    coef, *_ = np.linalg.lstsq(_design(x, m, 2), y, rcond=None)
    c0, c1, c2 = (float(v) for v in coef)                       # y = c0 + c1 u + c2 u^2, u = x - m
    a, b, c = c2, c1 - 2.0 * c2 * m, c0 - c1 * m + c2 * m * m
    resid = y - _design(x, m, 2) @ coef
    sse = float(resid @ resid)
    sst = 0.0 if np.all(y == y[0]) else float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - sse / sst if sst > 0 else float("nan")
    half_span = float(np.abs(x - m).max())
    if abs(c2) * half_span * half_span > FLAT_TOLERANCE * float(np.abs(y).max()):
        tp_u = -c1 / (2.0 * c2)
        tp, tv = m + tp_u, c0 - c1 * c1 / (4.0 * c2)
    else:
        tp = tv = float("nan")
    return QuadraticFit(a, b, c, r2, float(tp), float(tv), int(x.size), sse)


def mean_response_band(x, y, degree: int, x_new, level: float = 0.95):
    """(fitted, lower, upper) at ``x_new`` of the polynomial least-squares fit of ``degree`` (1 or 2):
    the confidence band of the mean response, yhat +- t_(1-alpha/2, n-p) s sqrt(x0' (X'X)^-1 x0)
    with p = degree + 1 coefficients and s^2 = SSE / (n - p)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = degree + 1
    if x.size <= k:
        raise ValueError(f"a confidence band of a degree-{degree} fit needs more than {k} points")
    m = x.mean()
    X = _design(x, m, degree)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = float(resid @ resid) / (x.size - k)
    xtx_inv = np.linalg.inv(X.T @ X)
    X0 = _design(x_new, m, degree)
    fitted = X0 @ coef
    se = np.sqrt(s2 * np.einsum("ij,jk,ik->i", X0, xtx_inv, X0))
    tcrit = stats.t.ppf(0.5 + level / 2.0, x.size - k)
    return fitted, fitted - tcrit * se, fitted + tcrit * se


def segmented_fit(x, y, breakpoint: float | None = None, min_points: int = MIN_SEGMENT_POINTS,
                  label: str = "BREAKPOINT") -> SegmentedFit:
    """Two independent OLS lines split after ``breakpoint`` (first: x <= breakpoint, second: x > it).
    Without a breakpoint, every year that leaves ``min_points`` on each side is tried and the one with
    the least total squared error is kept (the earliest on a tie)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    min_points = max(int(min_points), 3)

    def split(bp):
        left = x <= bp
        return linear_fit(x[left], y[left]), linear_fit(x[~left], y[~left])

    if breakpoint is not None:
        left = int((x <= breakpoint).sum())
        if left < min_points or x.size - left < min_points:
            raise ValueError(f"{label}: {breakpoint:g} leaves {left} year(s) before and {x.size - left} after it; "
                             f"each segment needs at least {min_points}. Choose a year between "
                             f"{x[min_points - 1]:g} and {x[x.size - min_points - 1]:g}.")
        first, second = split(breakpoint)
        return SegmentedFit(float(breakpoint), first, second, first.sse + second.sse, False)
    if x.size < 2 * min_points:
        raise ValueError(f"{label}: a two-segment fit needs at least {2 * min_points} years "
                         f"({min_points} per segment), got {x.size}.")
    candidates = []
    best = None
    for k in range(min_points - 1, x.size - min_points):
        first, second = split(x[k])
        sse = first.sse + second.sse
        candidates.append((float(x[k]), sse))
        if best is None or sse < best[0]:
            best = (sse, float(x[k]), first, second)
    sse, bp, first, second = best
    return SegmentedFit(bp, first, second, sse, True, candidates)


def net_change_percent(first: float, last: float) -> float:
    """100 (last - first) / first; NaN when first is 0."""
    return float("nan") if first == 0 else 100.0 * (last - first) / first


def summarize(years, values, breakpoint: float | None = None, min_segment: int = MIN_SEGMENT_POINTS,
              year_label: str = "YEAR_FIELD", value_label: str = "VALUE_FIELD") -> SeriesSummary:
    """Every statistic of the module for one series (cleaned and sorted by :func:`clean_series`).
    The two-segment fit is None when the series is too short for it and no breakpoint was given."""
    t, y = clean_series(years, values, year_label, value_label)
    if breakpoint is None and t.size < 2 * max(int(min_segment), 3):
        seg = None
    else:
        seg = segmented_fit(t, y, breakpoint, min_segment)
    return SeriesSummary(t, y, linear_fit(t, y), quadratic_fit(t, y), seg, net_change_percent(y[0], y[-1]))


def sum_block(data, ctx, key=0):
    """No output, and (sum as float64, count) of the valid (finite) values of one block of ``data[key]``: summed
    over the blocks (executor.add) they give a raster's mean, one value of the series."""
    block = data[key]
    ok = np.isfinite(block)
    return {}, (float(block[ok].sum(dtype=np.float64)), int(ok.sum()))
