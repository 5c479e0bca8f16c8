"""Per-pixel monotonic trend of a time series: Theil-Sen median slope and the Mann-Kendall test.

Pure numpy / scipy, vectorised over pixels: ``values`` has shape (n_dates, n_pixels) with NaN
for missing observations; every function returns one value per pixel.

Source: ningdong seed, section 3.3, eqs. 15-19 (after Sen 1968, Mann 1945, Kendall 1975)::

    slope = median over pairs i < j of (x_j - x_i) / (t_j - t_i)                    (15)
    S     = sum over pairs i < j of sign(x_j - x_i)                                  (16, 17)
    Var(S) = [n (n-1) (2n+5) - sum_p t_p (t_p - 1) (2 t_p + 5)] / 18                 (18)
    Z     = (S - 1)/sqrt(Var S) if S > 0;  0 if S = 0;  (S + 1)/sqrt(Var S) if S < 0  (19)
    p     = 2 (1 - Phi(|Z|))   (two-sided)

where t_p is the size of the p-th group of tied (equal) values. Two notes on the seed:

* eq. 15 writes the denominator as ``j - i`` (ordinal numbers), which is the slope per time
  step only for consecutive, evenly spaced dates; here the denominator is the difference of the
  dates themselves (``t_j - t_i``), so the slope is per year (per unit of ``years``) also when
  dates are missing or irregular. For consecutive years both are the same.
* The seed says the MK test "can handle missing values" without saying how: here a missing
  observation is left out of every pair (S, the ties and n count only valid dates: the usual
  "skip" rule, as in ``pymannkendall``), and the slope uses the pairs where both dates are valid.

Significance: |Z| >= Z_(1-alpha/2), i.e. 1.645, 1.960, 2.576 at the 90, 95, 99 % confidence
levels (the seed's values, rounded; computed exactly here with the normal quantile).

Speed: the pairwise slopes of a chunk of pixels are built in one (pixels, pairs) array (memory
bounded by ``max_bytes`` whatever the series length), S is counted from their signs and the
median is selected by ``np.partition`` on an order-preserving integer view of the floats (exact:
the same value ``np.median`` returns). Pixels with gaps take a slower sorted path.
"""
from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr
from scipy.stats import norm

from .transfer import date_label_from_name

__all__ = [
    "CONFIDENCE_LEVELS",
    "DECREASE",
    "NO_CHANGE",
    "INCREASE",
    "CLASS_NODATA",
    "TrendResult",
    "check_years",
    "parse_years",
    "year_from_name",
    "trend_statistics",
    "sen_slope",
    "mann_kendall",
    "critical_z",
    "trend_class",
    "pair_count",
]

CONFIDENCE_LEVELS = (90, 95, 99)
CLASS_NODATA, DECREASE, NO_CHANGE, INCREASE = 0, 1, 2, 3
MIN_DATES = 3
DEFAULT_MAX_BYTES = 64 * 1024 * 1024   # all pair arrays of all workers together
CHUNK_BYTES = 8 * 1024 * 1024          # one chunk: small enough to stay in cache (fastest)


# ---------------------------------------------------------------------------------- dates
#: largest |year| accepted (decimal years allowed); beyond it sums of squared years lose all precision
MAX_ABS_YEAR = 100_000.0


def parse_years(text: str, label: str = "YEARS") -> list[float]:
    """Dates from text such as ``"2000,2001,2003"``, ``"2000 2001"`` or ``"2000-2024"`` (an inclusive
    range of whole years); decimals (``2000.5``) are allowed. ValueError naming ``label``."""
    years = []
    for token in re.split(r"[,;\s]+", (text or "").strip()):
        if not token:
            continue
        rng = re.fullmatch(r"(\d{1,4})\s*(?:-|:|\.\.)\s*(\d{1,4})", token)
        if rng:
            a, b = int(rng.group(1)), int(rng.group(2))
            if b < a:
                raise ValueError(f"{label}: the range {token} runs backwards; write it as {b}-{a}.")
            years.extend(float(y) for y in range(a, b + 1))
            continue
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"{label}: {token!r} is not a year. Give the dates as numbers separated by commas, "
                             "e.g. 2000,2001,2002, or as a range 2000-2024.") from None
        if not math.isfinite(value):
            raise ValueError(f"{label}: {token!r} is not a finite number.")
        if abs(value) > MAX_ABS_YEAR:
            raise ValueError(f"{label}: {token!r} is not a plausible year (give years within +-{MAX_ABS_YEAR:g}, "
                             "e.g. 2000,2001,2002).")
        years.append(value)
    return years


def year_from_name(name: str) -> float | None:
    """The year written in a layer, file or band name, or None: the same rule as the other tools of the
    Change group (``core.transfer.date_label_from_name``): the acquisition date of a Landsat product id
    (first YYYYMMDD), a YYYY-MM-DD date, else the first stand-alone 4-digit year 1900-2099 (``rsei_2005``,
    ``NDVI 2010.tif``, band ``2024``)."""
    label = date_label_from_name(name)
    return None if label is None else float(label)


def check_years(years, label: str = "YEARS", minimum: int = MIN_DATES) -> np.ndarray:
    """The dates as float64 after checking that there are at least ``minimum`` of them, all finite and
    strictly increasing (no duplicates, in time order). ValueError naming ``label`` and the fix."""
    t = np.asarray(years, dtype=np.float64).ravel()
    if t.size < minimum:
        raise ValueError(f"{label}: at least {minimum} dates are needed, got {t.size}. "
                         "Give more layers (or bands), one per date.")
    if not np.isfinite(t).all():
        raise ValueError(f"{label}: every date must be a finite number.")
    d = np.diff(t)
    if (d == 0).any():
        dup = sorted({_fmt(v) for v in t[1:][d == 0]})
        raise ValueError(f"{label}: duplicate date(s) {', '.join(dup)}. Give each date once "
                         "(one layer or band per date).")
    if (d < 0).any():
        k = int(np.flatnonzero(d < 0)[0])
        raise ValueError(f"{label}: the dates are not in time order ({_fmt(t[k])} comes before {_fmt(t[k + 1])}). "
                         "Order the layers (or bands) from the earliest to the latest date, with YEARS in the "
                         "same order.")
    return t


def _fmt(v):
    return f"{v:g}"


# ---------------------------------------------------------------------------------- statistics
@dataclass
class TrendResult:
    """Per-pixel results (1-D arrays, NaN where fewer than ``min_valid`` dates are valid;
    ``n_valid`` is always filled)."""
    slope: np.ndarray      # Theil-Sen slope per unit of the dates (eq. 15)
    s: np.ndarray          # Mann-Kendall S (eq. 16)
    var_s: np.ndarray      # Var(S) with the tie correction (eq. 18)
    z: np.ndarray          # Z with continuity correction (eq. 19)
    p: np.ndarray          # two-sided p-value
    n_valid: np.ndarray    # number of valid dates (int)


def pair_count(n: int) -> int:
    return n * (n - 1) // 2


def _as_float(values):
    x = np.asarray(values)
    if x.dtype != np.float32:
        x = x.astype(np.float64)
    return x


_KEY = {np.dtype(np.float32): (np.int32, np.int32(0x7FFFFFFF)),
        np.dtype(np.float64): (np.int64, np.int64(0x7FFFFFFFFFFFFFFF))}


def _to_key(a):
    """In place: the float array viewed as integers whose order is the float order (finite values)."""
    itype, mask = _KEY[a.dtype]
    k = a.view(itype)
    k ^= (k >> (8 * k.itemsize - 1)) & mask
    return k


def _from_key(k, dtype):
    itype, mask = _KEY[np.dtype(dtype)]
    k = k.astype(itype, copy=True)
    k ^= (k >> (8 * k.itemsize - 1)) & mask
    return k.view(dtype)


def _pair_differences(xt, out):
    """out[:, pair] = x_j - x_i for pairs (i, j), i < j in np.triu_indices order; xt is (pixels, n)."""
    n = xt.shape[1]
    off = 0
    for a in range(n - 1):
        width = n - 1 - a
        np.subtract(xt[:, a + 1:], xt[:, a:a + 1], out=out[:, off:off + width])
        off += width
    return out


def _sign_sum(d):
    """S = #(d > 0) - #(d < 0) along axis 1 (NaN counts as neither)."""
    flags = np.empty(d.shape, dtype=bool)
    acc = np.int16 if d.shape[1] < 32768 else np.int64
    np.greater(d, 0, out=flags)
    s = flags.view(np.uint8).sum(axis=1, dtype=acc).astype(np.float64)
    np.less(d, 0, out=flags)
    return s - flags.view(np.uint8).sum(axis=1, dtype=acc)


def _tie_term(xs):
    """sum over tie groups of t(t-1)(2t+5) for rows of sorted values ``xs`` (pixels, n); NaN never ties.

    A group of t equal values adds sum_{r=0}^{t-1} 6 r (r + 2) = t(t-1)(2t+5), r being the
    position of a value inside its group, so the term is accumulated in one pass over the dates."""
    eq = xs[:, 1:] == xs[:, :-1]
    total = np.zeros(xs.shape[0])
    if not eq.any():
        return total
    eq = np.ascontiguousarray(eq.T)
    run = np.zeros(xs.shape[0])
    for row in eq:
        run += 1.0
        run *= row
        total += 6.0 * run * (run + 2.0)
    return total


def _median_of_valid_pairs(d, mv):
    """Median of each row of the pair slopes ``d`` (pixels, pairs) over its ``mv`` valid (non-NaN) entries,
    exactly as ``np.median`` of those entries: NaN become +inf (they sort last), the floats are viewed as
    order-preserving integers and ``np.partition`` selects the middle one(s), rows grouped by ``mv``."""
    if not np.isscalar(mv) or mv != d.shape[1]:
        d[np.isnan(d)] = np.inf
    key = _to_key(d)
    mv = np.broadcast_to(np.asarray(mv, dtype=np.int64), d.shape[:1])
    out = np.empty(d.shape[0])
    for count in np.unique(mv):
        rows = mv == count
        sub = key if rows.all() else key[rows]
        k = int(count) // 2
        sub.partition(k, axis=1)
        upper = _from_key(sub[:, k], d.dtype).astype(np.float64)
        lower = upper if count % 2 else _from_key(sub[:, :k].max(axis=1), d.dtype).astype(np.float64)
        out[rows] = 0.5 * (lower + upper)
    return out


def _rows(xt, dt, nv):
    """Slope, S and tie term of pixels ``xt`` (pixels, n dates; NaN = missing, ``nv`` valid dates each):
    only the pairs with both dates valid count."""
    n = xt.shape[1]
    d = _pair_differences(xt, np.empty((xt.shape[0], pair_count(n)), dtype=xt.dtype))
    s = _sign_sum(d)
    d /= dt
    full = bool((nv == n).all())
    mv = pair_count(n) if full else nv * (nv - 1) // 2
    return _median_of_valid_pairs(d, mv), s, _tie_term(np.sort(xt, axis=1))


def _chunk(x, t, dt, min_valid, out, sl):
    """Fill ``out`` arrays at slice ``sl`` for the chunk x (n, pixels)."""
    n = x.shape[0]
    valid = np.isfinite(x)
    nv = valid.sum(axis=0)
    out.n_valid[sl] = nv
    slope = np.full(x.shape[1], np.nan)
    s = np.full(x.shape[1], np.nan)
    tie = np.zeros(x.shape[1])
    ok = nv >= min_valid
    if ok.any():
        xo = np.array((x if ok.all() else x[:, ok]).T, order="C")     # (pixels, dates), a copy
        if (nv[ok] < n).any():
            xo[~np.isfinite(xo)] = np.nan                               # inf counts as missing too
        slope[ok], s[ok], tie[ok] = _rows(xo, dt, nv[ok])
    nvf = nv.astype(np.float64)
    var = (nvf * (nvf - 1.0) * (2.0 * nvf + 5.0) - tie) / 18.0
    var[~ok] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s > 0, (s - 1.0) / np.sqrt(var), np.where(s < 0, (s + 1.0) / np.sqrt(var), 0.0))
    z[~ok] = np.nan
    out.slope[sl], out.s[sl], out.var_s[sl], out.z[sl] = slope, s, var, z
    out.p[sl] = 2.0 * ndtr(-np.abs(z))     # = 2 (1 - Phi(|Z|)), as scipy.stats.norm.sf


def trend_statistics(values, years=None, min_valid: int = MIN_DATES, max_bytes: int = DEFAULT_MAX_BYTES,
                     workers: int = 1) -> TrendResult:
    """Theil-Sen slope and Mann-Kendall S, Var(S), Z, p for every pixel (eqs. 15-19, see the module).

    ``values``: (n_dates, n_pixels) or (n_dates,) for one series; NaN / inf = missing.
    ``years``: the n dates (strictly increasing; default 0, 1, ..., n-1: slope per time step).
    Pixels with fewer than ``min_valid`` valid dates (at least 2) get NaN (``n_valid`` is filled).
    The pairwise slopes are built for chunks of pixels (a few MB each, so they stay in cache; all
    chunks in work together take at most about ``max_bytes``, whatever the series length);
    ``workers`` threads process chunks in parallel (numpy releases the GIL).
    Float32 input is computed in float32 (the raster case), anything else in float64.
    """
    x = _as_float(values)
    one = x.ndim == 1
    if one:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError("values must have shape (n_dates, n_pixels)")
    n, npix = x.shape
    t = np.arange(n, dtype=np.float64) if years is None else check_years(years, minimum=2)
    if t.size != n:
        raise ValueError(f"YEARS: {t.size} dates for {n} layers (bands); give one date per layer.")
    min_valid = max(int(min_valid), 2)
    i, j = np.triu_indices(n, 1)
    dt = (t[j] - t[i]).astype(x.dtype)
    out = TrendResult(*(np.full(npix, np.nan) for _ in range(5)), np.zeros(npix, dtype=np.int64))
    per_pixel = max(1, pair_count(n)) * (2 * x.itemsize + 2) + 4 * n * x.itemsize
    workers = max(1, int(workers))
    chunk = int(max(1, min(npix, min(max_bytes // workers, CHUNK_BYTES) // per_pixel)))
    if workers > 1 and npix > 1:  # give every worker something to do
        chunk = max(1, min(chunk, -(-npix // workers)))
    slices = [slice(a, min(a + chunk, npix)) for a in range(0, npix, chunk)]
    if workers > 1 and len(slices) > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda sl: _chunk(x[:, sl], t, dt, min_valid, out, sl), slices))
    else:
        for sl in slices:
            _chunk(x[:, sl], t, dt, min_valid, out, sl)
    if one:
        return TrendResult(*(a[0] for a in (out.slope, out.s, out.var_s, out.z, out.p, out.n_valid)))
    return out


def sen_slope(values, years=None, min_valid: int = 2):
    """Theil-Sen median slope (ningdong eq. 15, per unit of ``years``); see :func:`trend_statistics`."""
    return trend_statistics(values, years, min_valid).slope


def mann_kendall(values, years=None, min_valid: int = 2):
    """Mann-Kendall (S, Var(S), Z, p) (ningdong eqs. 16-19, two-sided p). ``years`` only checks the
    order: the test uses the ranks of the values in time order, not the date spacing."""
    r = trend_statistics(values, years, min_valid)
    return r.s, r.var_s, r.z, r.p


def critical_z(confidence: float) -> float:
    """Z_(1 - alpha/2) for a two-sided test at ``confidence`` percent (90 -> 1.645, 95 -> 1.960, 99 -> 2.576)."""
    c = float(confidence)
    if not 0.0 < c < 100.0:
        raise ValueError(f"CONFIDENCE: {confidence} is not a percentage between 0 and 100.")
    return float(norm.ppf(1.0 - (1.0 - c / 100.0) / 2.0))


def trend_class(z, slope, confidence: float = 95) -> np.ndarray:
    """Trend classes (uint8): 1 significant decrease, 2 no significant change, 3 significant increase,
    0 no data. Significant when |Z| >= Z_(1-alpha/2) (ningdong section 3.3); the direction is the sign
    of the Theil-Sen slope (which never contradicts the sign of S: the median of the pair slopes
    is >= 0 when S > 0). A significant Z with a zero median slope (many ties) counts as no change."""
    z = np.asarray(z, dtype=np.float64)
    slope = np.asarray(slope, dtype=np.float64)
    crit = critical_z(confidence)
    out = np.full(np.broadcast(z, slope).shape, NO_CHANGE, dtype=np.uint8)
    with np.errstate(invalid="ignore"):
        sig = np.abs(z) >= crit
        out[sig & (slope > 0)] = INCREASE
        out[sig & (slope < 0)] = DECREASE
    out[~(np.isfinite(z) & np.isfinite(slope))] = CLASS_NODATA
    return out


# -- one block of the per-pixel trend tool (raster/executor.BlockPass.compute) -----------------------------------
S_NODATA = -2147483648


def trend_block(data, ctx, years, min_valid: int, confidence: float):
    """The outputs of the trend tool for one block and its partial result (class counts, class areas, the most
    valid dates at a pixel, pixels with some but fewer than ``min_valid`` dates). ``data``: {date index: block};
    ``ctx``: the block's window (``ctx.window.shape``) and pixel areas (``ctx.row_areas_m2()``)."""
    n = len(data)
    shape = ctx.window.shape
    values = np.empty((n, shape[0] * shape[1]), dtype=np.float32)
    for k in range(n):
        values[k] = data[k].ravel()
    res = trend_statistics(values, years, min_valid, workers=1)
    cls = trend_class(res.z, res.slope, confidence)
    blocks = {"OUTPUT_SLOPE": res.slope, "OUTPUT_CLASS": cls, "OUTPUT_Z": res.z, "OUTPUT_P": res.p,
              "OUTPUT_S": np.where(np.isfinite(res.s), res.s, S_NODATA), "OUTPUT_COUNT": res.n_valid}
    blocks = {key: b.reshape(shape) for key, b in blocks.items()}
    areas = np.bincount(cls, weights=np.broadcast_to(ctx.row_areas_m2(), shape).ravel(), minlength=4)
    most = int(res.n_valid.max()) if res.n_valid.size else 0
    too_few = int(np.count_nonzero((res.n_valid > 0) & (res.n_valid < min_valid)))
    return blocks, (np.bincount(cls, minlength=4).astype(np.int64), areas, most, too_few)


def combine_trend(a, b):
    """Two partial results of :func:`trend_block` together."""
    return a[0] + b[0], a[1] + b[1], max(a[2], b[2]), a[3] + b[3]
