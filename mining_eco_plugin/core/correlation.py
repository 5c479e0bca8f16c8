"""Moving-window (local) Pearson correlation between two rasters and its t-test (miningeco:localcorrelation).

The changhe seed (section 2.4.1) computes a "geographic location correlation coefficient" (LCC) between NPP
and each driver "through moving windows [50, 51]" and reports the share of significantly positive, negative
and insignificant correlation. The seed gives neither the window size nor the test: here the window is a
square of WINDOW_SIZE x WINDOW_SIZE pixels (odd) centred on the pixel, r is Pearson's coefficient of the
pairs of pixels in the window where both rasters are valid (n of them), and its significance the usual
two-sided t-test with n - 2 degrees of freedom.

Pure numpy / scipy: the algorithm reads padded blocks (RasterStack.read_padded) and passes them here.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

CLASS_NEGATIVE, CLASS_NOT_SIGNIFICANT, CLASS_POSITIVE = 1, 2, 3
CLASS_LABELS = {
    CLASS_NEGATIVE: "Significant negative correlation",
    CLASS_NOT_SIGNIFICANT: "No significant correlation",
    CLASS_POSITIVE: "Significant positive correlation",
}


def check_window(size: int, min_valid: int) -> int:
    """The half width of a WINDOW_SIZE x WINDOW_SIZE window; ValueError naming the parameter if the size is
    not an odd number >= 3 or MIN_VALID is not in 3 .. size^2 (the t-test needs n - 2 >= 1)."""
    if int(size) != size or size < 3 or size % 2 == 0:
        raise ValueError(f"WINDOW_SIZE: the window must be an odd number of pixels >= 3 (3, 5, 7, ...) so that "
                         f"it is centred on the pixel; got {size}.")
    if int(min_valid) != min_valid or min_valid < 3 or min_valid > size * size:
        raise ValueError(f"MIN_VALID: give a number of valid pixel pairs from 3 (the t-test needs n - 2 >= 1) "
                         f"to WINDOW_SIZE^2 = {size * size}; got {min_valid}.")
    return int(size) // 2


def _box_sum(a: np.ndarray, k: int) -> np.ndarray:
    """Sum of every k x k window of ``a`` (shape (H, W)) -> shape (H - k + 1, W - k + 1), float64.

    Separable shifted additions (k adds down the rows, then k across the columns) rather than cumulative
    sums: every window is summed from its own k^2 values in the same order whatever block it lies in, so the
    rounding neither grows with the block nor depends on the block size."""
    a = np.asarray(a, dtype=np.float64)
    h, w = a.shape[0] - k + 1, a.shape[1] - k + 1
    rows = a[0:h, :].copy()
    for i in range(1, k):
        rows += a[i:i + h, :]
    out = rows[:, 0:w].copy()
    for j in range(1, k):
        out += rows[:, j:j + w]
    return out


def local_pearson(x_padded: np.ndarray, y_padded: np.ndarray, pad: int, min_valid: int = 3,
                  shift: tuple = (0.0, 0.0)):
    """Pearson r and n of the (2 pad + 1)^2 window around every pixel of a block.

    ``x_padded`` / ``y_padded``: the block grown by ``pad`` pixels on each side (NaN = nodata, also outside
    the raster), shape (h + 2 pad, w + 2 pad). Returns (r, n), shape (h, w): n = pairs in the window where
    both values are finite; r = (n Sxy - Sx Sy) / sqrt((n Sxx - Sx^2)(n Syy - Sy^2)) over those pairs
    (Pearson's product-moment coefficient), NaN where n < min_valid or one variable is constant in the
    window (n Sxx - Sx^2 below 1e-12 n Sxx: rounding noise of a constant window). The window sums are
    vectorised box sums in float64 (see _box_sum), the same for any block size.

    ``shift`` (c_x, c_y) is subtracted from the values first (r does not change): raw moment sums lose the
    digits of a small local variation on a large level (values ~1e6 varying by ~1 in a window), so give a
    level of each raster that is the same for every block (e.g. the middle of its range).
    """
    x = np.asarray(x_padded, dtype=np.float64) - float(shift[0])
    y = np.asarray(y_padded, dtype=np.float64) - float(shift[1])
    if x.shape != y.shape:
        raise ValueError("the two blocks must have the same shape")
    k = 2 * pad + 1
    both = np.isfinite(x) & np.isfinite(y)
    x = np.where(both, x, 0.0)
    y = np.where(both, y, 0.0)
    n = np.rint(_box_sum(both.astype(np.float64), k))
    sx, sy = _box_sum(x, k), _box_sum(y, k)
    sxx, syy, sxy = _box_sum(x * x, k), _box_sum(y * y, k), _box_sum(x * y, k)
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    cov = n * sxy - sx * sy
    with np.errstate(invalid="ignore", divide="ignore"):
        # relative tolerance: a constant window gives vx ~ rounding noise instead of exactly 0
        tol_x = 1e-12 * n * sxx
        tol_y = 1e-12 * n * syy
        ok = (n >= min_valid) & (vx > tol_x) & (vy > tol_y)
        r = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    return np.clip(r, -1.0, 1.0), n.astype(np.int32)


def t_test(r: np.ndarray, n: np.ndarray):
    """t = r sqrt((n - 2) / (1 - r^2)) with n - 2 degrees of freedom and the two-sided p-value
    2 (1 - F_t(|t|)) (scipy.stats.t; the test scipy.stats.pearsonr makes). |r| = 1 gives t = +-inf, p = 0;
    NaN r (or n < 3) gives NaN."""
    r = np.asarray(r, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    df = n - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = np.isfinite(r) & (df >= 1)
        t = np.where(ok, r * np.sqrt(np.where(ok, df, 1.0) / np.maximum(1.0 - r * r, 0.0)), np.nan)
        p = np.where(ok, 2.0 * stats.t.sf(np.abs(t), np.where(ok, df, 1.0)), np.nan)
    return t, p


def classes(r: np.ndarray, p: np.ndarray, alpha: float) -> np.ndarray:
    """1 significant negative (p < alpha, r < 0), 2 not significant, 3 significant positive (p < alpha,
    r > 0); 0 where r is NaN (nodata)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"ALPHA: the significance level must be between 0 and 1 (e.g. 0.05); got {alpha}.")
    r = np.asarray(r)
    p = np.asarray(p)
    out = np.zeros(r.shape, dtype=np.uint8)
    valid = np.isfinite(r) & np.isfinite(p)
    sig = valid & (p < alpha)
    out[valid] = CLASS_NOT_SIGNIFICANT
    out[sig & (r < 0)] = CLASS_NEGATIVE
    out[sig & (r > 0)] = CLASS_POSITIVE
    return out


def class_table(areas_m2, pixels):
    """Rows {class, label, pixels, area_km2, percent} of classes 1..3 from per-code totals (index = class
    code, 0 = nodata not counted); percent of the classified area."""
    areas = np.asarray(areas_m2, dtype=np.float64)
    pixels = np.asarray(pixels)
    total = float(areas[1:4].sum())
    rows = []
    for code in (CLASS_NEGATIVE, CLASS_NOT_SIGNIFICANT, CLASS_POSITIVE):
        rows.append({"class": code, "label": CLASS_LABELS[code], "pixels": int(pixels[code]),
                     "area_km2": float(areas[code]) / 1e6,
                     "percent": 100.0 * float(areas[code]) / total if total > 0 else 0.0})
    return rows


# -- one block of the local correlation tool (raster/executor.BlockPass.compute) ------------------------------------
NODATA = -9999.0


def correlation_block(data, ctx, min_valid: int, alpha: float, shift: tuple = (0.0, 0.0)):
    """r, p and class of one block (``data``: INPUT_X and INPUT_Y grown by the pass's halo, the window's half
    width) and its partial result (pixels and area in m2 per class code 0..3)."""
    r, n = local_pearson(data["INPUT_X"], data["INPUT_Y"], ctx.halo, min_valid, shift)
    _t, p = t_test(r, n)
    cls = classes(r, p, alpha)
    valid = np.isfinite(r)
    blocks = {"OUTPUT_R": np.where(valid, r, NODATA).astype(np.float32),
              "OUTPUT_P": np.where(valid, p, NODATA).astype(np.float32), "OUTPUT_CLASS": cls}
    areas = np.bincount(cls.ravel(), weights=np.broadcast_to(ctx.row_areas_m2(), cls.shape).ravel(), minlength=4)
    return blocks, (np.bincount(cls.ravel(), minlength=4), areas)
