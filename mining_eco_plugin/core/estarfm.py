"""ESTARFM spatiotemporal fusion (Zhu, Chen, Gao, Chen & Masek 2010, Remote Sensing of Environment 114:2610-2623).

Two fine / coarse pairs at tm and tn and a coarse image at tp give the fine image at tp. For every fine pixel
(the central pixel) of every band, within the window of (2 w + 1)^2 fine pixels centred on it:

1. similar pixels (paper 2.2.1): pixels valid in all five images whose value differs from the central pixel's by
   less than ``threshold = stdev(fine image) * 2 / classes`` in every band of both fine images (paper eq. 6; the
   authors' IDL code ESTARFM.pro lines 216-219 and 246-259: one threshold per band and fine image);
2. their weights (paper 2.2.2, eqs. 7-9): the spectral similarity R_i = correlation between the fine and coarse
   values of the similar pixel over the bands of both dates (IDL lines 279-289, the sample correlation; NaN -> 0.5,
   line 292); for a single band (an index such as NDVI) the authors' code uses instead
   R_i = 1 - (|(F1 - C1) / (F1 + C1)| + |(F2 - C2) / (F2 + C2)|) / 2 (IDL line 276, changelog 1/1/2018);
   the spatial distance d_i = 1 + sqrt((x_i - x)^2 + (y_i - y)^2) / w (eq. 8; IDL lines 222 and 296);
   D_i = (1 - R_i) d_i + 1e-7 (IDL line 300) and W_i = (1 / D_i) / sum(1 / D) (eq. 9; line 301);
3. the conversion coefficient V (paper 2.2.3, eq. 10): the slope of the least-squares regression of the fine on the
   coarse values of the similar pixels at both dates (2 n points), kept only when the coarse change of the similar
   pixels |mean C1 - mean C2| is at least 2 % of DN_max, the regression is significant (p <= 0.05 of its F test)
   and 0 < V <= 5, else V = 1 (IDL lines 306-318; IDL's F_PDF is the cumulative F distribution, so 1 - F_PDF is
   the p-value);
4. the two predictions F_k(tp) = F_k(centre) + sum_i W_i V (C_p,i - C_k,i) (eq. 11; IDL lines 326-332) combined
   with the temporal weights T_k = (1 / |mean C_k - mean C_p|) / sum_k (1 / |...|) (eqs. 12-13), the means of
   the coarse images over the valid pixels of the window (IDL lines 321-324: the paper's sums over the window,
   divided by the same count), |.| + 1e-10;
5. a prediction <= DN_min or >= DN_max is replaced by sum_k T_k sum_i W_i F_k,i (IDL lines 336-340);
6. with 5 or fewer similar pixels: sum_k T_k (F_k(centre) + mean C_p - mean C_k), |mean C_p - mean C_k + 1e-10|
   in T_k (IDL lines 261 and 342-352).

Line numbers are of ESTARFM.pro in the public repository nahiro/estarfm (commit ae411bf, the authors' IDL code
with the changelog up to 7/27/2018). Where this module differs from that code:

* the thresholds come from the whole image (its valid pixels), computed in a first pass (:func:`moments`,
  :func:`thresholds`), not from each 500-pixel patch (IDL line 217, which also counts background pixels), so the
  output does not depend on the block size;
* blocks are read with a halo of w pixels, so windows run across block edges (IDL patches are cut without
  overlap, so windows at a patch edge are truncated);
* a pixel is valid when every band of all five images is valid (not NaN); IDL tests band 1 against a background
  value (line 226).

Everything is vectorised per block (:func:`window_sums`): the similar-pixel test runs on integer ranks of the fine
values (:func:`similarity_ranks`, the same test as |F(q) - F(p)| < th in float64), the per-pixel terms of all sums
are stacked, and tiles of about a thousand central pixels loop over the 2 w + 1 rows of window offsets, each row a
few array operations and one ``np.matmul`` contraction over its 2 w + 1 columns; a pixel's sums are added in the
same order whatever the tile or block, so the result does not depend on the block size. Blocks are fused in strips
of at most STRIP_ROWS x STRIP_COLS pixels, so memory stays bounded. Pure numpy / scipy.
"""
from __future__ import annotations

import calendar
import datetime
import os
import re

import numpy as np
from scipy import stats

from .correlation import _box_sum as box_sum

HALF_WINDOW = 25            # IDL line 64: w = 25, a window of 51 fine pixels
CLASSES = 4.0               # IDL line 65
DN_MIN, DN_MAX = 0.0, 10000.0   # IDL lines 66-67
MIN_SIMILAR = 5             # more than 5 similar pixels (IDL line 261), else the fallback
SIGNIFICANCE = 0.05         # IDL line 311
V_MAX = 5.0                 # IDL line 311
CHANGE_SHARE = 0.02         # IDL line 307: coarse change >= 2 % of DN_max
EPS_D = 1e-7                # IDL line 300
EPS_T = 0.01 ** 5           # IDL lines 321-322, 345-347
TILE_BYTES = 2 << 20        # working set of one tile of window_sums (see _tile_pixels)
TILE_COLS = 256             # central pixels per tile row (at most)
STRIP_ROWS, STRIP_COLS = 64, 512   # fuse works on strips of at most this many central pixels (bounded memory)
BLOCK_ROWS = 64             # rows of the tool's blocks (algorithms/estarfm.py): many blocks keep every thread busy


# -- first pass: the statistics of the fine images (whole-image similar-pixel thresholds) ------------------------
def moments(stack: np.ndarray):
    """(n, mean, M2) per band of a fine image block (bands, rows, cols) over its pixels valid in every band; the
    partial result of the statistics pass (combine with :func:`combine_moments`)."""
    a = np.asarray(stack, dtype=np.float64)
    valid = np.all(np.isfinite(a), axis=0)
    n = int(valid.sum())
    if n == 0:
        z = np.zeros(a.shape[0])
        return (0, z, z.copy())
    vals = a[:, valid]
    mean = vals.mean(axis=1)
    m2 = ((vals - mean[:, None]) ** 2).sum(axis=1)
    return (n, mean, m2)


def combine_moments(a, b):
    """Chan et al.'s pairwise update of (n, mean, M2); tuples of them are combined element by element."""
    if isinstance(a, list) or (isinstance(a, tuple) and a and isinstance(a[0], tuple)):
        return type(a)(combine_moments(x, y) for x, y in zip(a, b))
    na, ma, sa = a
    nb, mb, sb = b
    if na == 0:
        return b
    if nb == 0:
        return a
    n = na + nb
    delta = mb - ma
    return (n, ma + delta * nb / n, sa + sb + delta * delta * na * nb / n)


def std(m) -> np.ndarray:
    """Sample standard deviation (n - 1, as IDL's STDDEV) per band from (n, mean, M2)."""
    n, _mean, m2 = m
    if n < 2:
        return np.full(np.shape(m2), np.nan)
    return np.sqrt(np.asarray(m2) / (n - 1))


def thresholds(m1, m2, classes: float = CLASSES) -> np.ndarray:
    """The similar-pixel thresholds, shape (2, bands): stdev of fine image k, band b, x 2 / classes (paper eq. 6;
    IDL lines 216-219)."""
    if not classes > 0:
        raise ValueError(f"CLASSES: the number of classes must be positive; got {classes}.")
    return np.stack([std(m1), std(m2)]) * 2.0 / float(classes)


def moments_block(data, ctx, fine1: tuple, fine2: tuple):
    """BlockPass.compute of the statistics pass: no raster, the moments of both fine images."""
    return {}, (moments(np.stack([data[k] for k in fine1])), moments(np.stack([data[k] for k in fine2])))


# -- second pass: the fusion ------------------------------------------------------------------------------------
def similarity(f1, f2, c1, c2) -> np.ndarray:
    """Spectral similarity R of every pixel (rows, cols) between its fine and coarse values (bands, rows, cols) at
    both dates: the correlation over the 2 x bands values (IDL lines 279-289), or for one band the authors' index
    form (IDL line 276). NaN (a constant vector, 0 / 0) -> 0.5 (IDL line 292)."""
    nb = f1.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        if nb == 1:
            r = 1.0 - 0.5 * (np.abs((f1[0] - c1[0]) / (f1[0] + c1[0])) + np.abs((f2[0] - c2[0]) / (f2[0] + c2[0])))
        else:
            x = np.concatenate([f1, f2])
            y = np.concatenate([c1, c2])
            k = x.shape[0]
            xm = x - x.mean(axis=0)
            ym = y - y.mean(axis=0)
            sdx = np.sqrt((xm * xm).sum(axis=0) / (k - 1))
            sdy = np.sqrt((ym * ym).sum(axis=0) / (k - 1))
            r = k * (xm * ym).mean(axis=0) / (sdx * sdy) / (k - 1.0)
    return np.where(np.isnan(r), 0.5, r)


def _tile_pixels(nb: int, k: int) -> int:
    """Central pixels per tile of :func:`window_sums`: the temporaries of one row of window offsets (per pixel and
    offset: 2 x bands rank differences and tests, the mask, the mask and the weights as float64) stay within
    TILE_BYTES, so they live in the core's cache; large enough that the Python work per row of offsets is small."""
    return max(16, int(TILE_BYTES // (k * (2 * nb * 3 + 17))))


def similarity_ranks(fine, valid, th, w: int):
    """The similar-pixel test of :func:`window_sums` on integer ranks. ``fine`` (2 x bands, rows + 2 w,
    cols + 2 w): the fine bands of both dates, ``th`` their thresholds. Returns ``ranks`` (same shape, signed
    integers): each valid value's rank among the sorted distinct valid values of its band, invalid pixels the
    largest integer; and for every central pixel p ``lows`` and ``spans`` (2 x bands, rows, cols, unsigned) such
    that a pixel q passes the test of band j (|F_j(q) - F_j(p)| < th_j, evaluated in float64 exactly as written)
    if and only if ranks_j(q) - lows_j(p), read as unsigned, is <= spans_j(p).

    |u - c| rounded to float64 does not decrease as u moves away from c, so the values u that pass form one run
    of the sorted distinct values: its ends come from a binary search and are then checked with the very
    expression of the test. Comparing 2-byte ranks costs a fraction of subtracting and comparing float64 values
    at every one of the (2 w + 1)^2 offsets."""
    nj, hp, wp = fine.shape
    h, wd = hp - 2 * w, wp - 2 * w
    distinct = [np.unique(fine[j][valid]) for j in range(nj)]
    small = max((len(u) for u in distinct), default=0) < np.iinfo(np.int16).max - 1
    itype, utype = (np.int16, np.uint16) if small else (np.int32, np.uint32)
    ranks = np.full((nj, hp, wp), np.iinfo(itype).max, dtype=itype)
    lows = np.zeros((nj, h, wd), dtype=itype)
    spans = np.zeros((nj, h, wd), dtype=utype)
    centre_ok = valid[w:w + h, w:w + wd]
    for j, u in enumerate(distinct):
        if not len(u):
            continue
        ranks[j][valid] = np.searchsorted(u, fine[j][valid])
        t = float(th[j])
        if not t > 0:       # no pixel is similar: a run that no rank reaches
            lows[j] = np.iinfo(itype).max - 1
            continue
        c = fine[j, w:w + h, w:w + wd][centre_ok]
        last = len(u) - 1

        def passes(r):
            return np.abs(u[r] - c) < t

        lo = np.clip(np.searchsorted(u, c - t, side="left"), 0, last)
        hi = np.clip(np.searchsorted(u, c + t, side="right") - 1, 0, last)
        while True:          # the binary search on c -/+ t (rounded) may miss the run by a value or two
            down = (lo > 0) & passes(np.maximum(lo - 1, 0))
            up = ~passes(lo)
            if not (down.any() or up.any()):
                break
            lo = lo - down + up
        while True:
            up = (hi < last) & passes(np.minimum(hi + 1, last))
            down = ~passes(hi)
            if not (down.any() or up.any()):
                break
            hi = hi + up - down
        lows[j][centre_ok] = lo
        spans[j][centre_ok] = hi - lo
    return ranks, lows, spans


def window_sums(f1, f2, c1, c2, c0, valid, omr, w: int, th, shift, cancel=None):
    """The window sums of :func:`fuse` over the similar pixels of every central pixel: ``counts`` (1 + 6 bands,
    rows, cols): the number of similar pixels and, per band, the regression sums sum(C1 + C2), sum(F1 + F2),
    sum(C1^2 + C2^2), sum(F1^2 + F2^2), sum(C1 F1 + C2 F2), sum(C1) (values minus ``shift``); ``wcounts``
    (1 + 4 bands, rows, cols): the sum of the weights 1 / D_i and, per band, the weighted sums of C0 - C1, C0 - C2,
    F1, F2.

    The per-pixel terms are stacked into one array; the block is cut into tiles of a few rows (sized to the cache,
    :func:`_tile_pixels`) and each tile loops over the 2 w + 1 rows dy of window offsets: one array operation
    over (bands, tile rows, tile cols, 2 w + 1 columns dx) through sliding-window views builds the similar-pixel
    mask (on ranks, :func:`similarity_ranks`) and the weights of the whole offset row, and one ``np.matmul`` per
    kind of sum contracts them with the terms over dx: per central pixel a (1, 2 w + 1) by (2 w + 1, terms) product
    whose matrix is C-ordered with a fixed leading dimension (the number of terms). A pixel's sum is built in the
    same order (dx inside each dy, dy in turn) whatever the tile, strip or block it lies in, so the result does not
    depend on the block size (tests: test/unit/test_estarfm.py, odd strips and tiles)."""
    from numpy.lib.stride_tricks import sliding_window_view as windows

    nb, hp, wp = f1.shape
    h, wd = hp - 2 * w, wp - 2 * w
    k = 2 * w + 1

    def z(a):
        return np.where(valid, a, 0.0)

    # per-pixel terms, zero outside the valid pixels (a 0 weight times a NaN would be NaN)
    # (terms last: the (2 w + 1, terms) matrix of a pixel's offset row is C-ordered with a leading dimension that is
    # the number of terms whatever the block, so the matmul below sums in the same order for every block)
    terms = np.empty((hp, wp, 1 + 6 * nb))
    wterms = np.empty((hp, wp, 1 + 4 * nb))
    terms[..., 0] = z(1.0)
    wterms[..., 0] = terms[..., 0]
    for b in range(nb):
        s1, s2 = z(f1[b] - shift[b]), z(f2[b] - shift[b])
        k1, k2 = z(c1[b] - shift[b]), z(c2[b] - shift[b])
        for i, term in enumerate((k1 + k2, s1 + s2, k1 * k1 + k2 * k2, s1 * s1 + s2 * s2, k1 * s1 + k2 * s2, k1)):
            terms[..., 1 + 6 * b + i] = term
        for i, term in enumerate((z(c0[b] - c1[b]), z(c0[b] - c2[b]), z(f1[b]), z(f2[b]))):
            wterms[..., 1 + 4 * b + i] = term
    del s1, s2, k1, k2
    # the similar-pixel test on ranks: |F(q) - F(p)| < th (float64) as lo(p) <= rank(q) <= hi(p), in int16
    ranks, lows, spans = similarity_ranks(np.concatenate([f1, f2]), valid, np.asarray(th).reshape(2 * nb), w)
    yy, xx = np.mgrid[-w:w + 1, -w:w + 1]
    dist = 1.0 + np.sqrt((yy * yy + xx * xx).astype(np.float64)) / w        # eq. 8, per offset (dy, dx)

    counts = np.empty((terms.shape[-1], h, wd))
    wcounts = np.empty((wterms.shape[-1], h, wd))
    cols = -(-wd // -(-wd // TILE_COLS))            # tiles of equal width, at most TILE_COLS
    rows = max(1, min(h, _tile_pixels(nb, k) // cols))
    for y0 in range(0, h, rows):
        if cancel is not None:
            cancel()
        ty = min(rows, h - y0)
        for x0 in range(0, wd, cols):
            tx = min(cols, wd - x0)
            low = lows[:, y0:y0 + ty, x0:x0 + tx, None]
            span = spans[:, y0:y0 + ty, x0:x0 + tx, None]
            diff = np.empty((2 * nb, ty, tx, k), dtype=ranks.dtype)
            close = np.empty((2 * nb, ty, tx, k), dtype=bool)
            mask = np.empty((ty, tx, k), dtype=bool)
            similar = np.empty((ty, tx, k))
            weight = np.empty((ty, tx, k))
            acc = np.zeros((ty, tx, 1, terms.shape[-1]))
            wacc = np.zeros((ty, tx, 1, wterms.shape[-1]))
            part, wpart = np.empty_like(acc), np.empty_like(wacc)
            xs = slice(x0, x0 + tx + 2 * w)
            for dy in range(k):
                ys = slice(y0 + dy, y0 + dy + ty)
                # rank(q) - lo(p) as unsigned: below lo wraps above every span
                np.subtract(windows(ranks[:, ys, xs], k, axis=2), low, out=diff)
                np.less_equal(diff.view(spans.dtype), span, out=close)
                np.logical_and.reduce(close, axis=0, out=mask)
                np.copyto(similar, mask)
                np.multiply(windows(omr[ys, xs], k, axis=1), dist[dy], out=weight)
                weight += EPS_D
                np.divide(similar, weight, out=weight)               # 1 / D_i of the similar pixels, else 0
                # per central pixel: (1, 2 w + 1) mask or weights @ (2 w + 1, terms) values of its offset row
                np.matmul(similar[:, :, None, :], windows(terms[ys, xs], k, axis=1).transpose(0, 1, 3, 2),
                          out=part)
                acc += part
                np.matmul(weight[:, :, None, :], windows(wterms[ys, xs], k, axis=1).transpose(0, 1, 3, 2),
                          out=wpart)
                wacc += wpart
            counts[:, y0:y0 + ty, x0:x0 + tx] = acc[:, :, 0].transpose(2, 0, 1)
            wcounts[:, y0:y0 + ty, x0:x0 + tx] = wacc[:, :, 0].transpose(2, 0, 1)
    return counts, wcounts


def fuse(f1, f2, c1, c2, c0, w: int, th, dn_min: float = DN_MIN, dn_max: float = DN_MAX, shift=None,
         cancel=None) -> np.ndarray:
    """The ESTARFM prediction of a block.

    ``f1, f2, c1, c2, c0``: fine tm, fine tn, coarse tm, coarse tn, coarse tp, each (bands, rows + 2 w,
    cols + 2 w): the block grown by the half window ``w`` on every side, NaN for nodata and outside the raster;
    coarse images already on the fine grid. ``th``: thresholds (2, bands) of :func:`thresholds`. ``shift``: a level
    per band subtracted before the regression sums (e.g. the fine image's mean; the slope does not change).
    Returns (bands, rows, cols) float64, NaN where the central pixel is not valid in all five images.

    A block larger than STRIP_ROWS x STRIP_COLS central pixels is fused strip by strip (each strip with its own
    halo), so the memory of the per-pixel terms and window sums stays bounded whatever the block; a pixel's result
    does not depend on the block, so neither on the strips."""
    shape = np.shape(f1)
    if len(shape) == 3 and (shape[1] - 2 * int(w) > STRIP_ROWS or shape[2] - 2 * int(w) > STRIP_COLS):
        w = int(w)
        h, wd = shape[1] - 2 * w, shape[2] - 2 * w
        if h <= 0 or wd <= 0:
            raise ValueError("the blocks are smaller than the halo")
        out = np.empty((shape[0], h, wd))
        for y0 in range(0, h, STRIP_ROWS):
            for x0 in range(0, wd, STRIP_COLS):
                sh, sw = min(STRIP_ROWS, h - y0), min(STRIP_COLS, wd - x0)
                part = [np.asarray(a)[:, y0:y0 + sh + 2 * w, x0:x0 + sw + 2 * w] for a in (f1, f2, c1, c2, c0)]
                out[:, y0:y0 + sh, x0:x0 + sw] = fuse(*part, w, th, dn_min, dn_max, shift, cancel)
        return out
    arrays = [np.asarray(a, dtype=np.float64) for a in (f1, f2, c1, c2, c0)]
    if any(a.ndim != 3 or a.shape != arrays[0].shape for a in arrays):
        raise ValueError("the five blocks must have one shape (bands, rows, cols)")
    f1, f2, c1, c2, c0 = arrays
    nb, hp, wp = f1.shape
    w = int(w)
    h, wd = hp - 2 * w, wp - 2 * w
    if h <= 0 or wd <= 0:
        raise ValueError("the blocks are smaller than the halo")
    th = np.asarray(th, dtype=np.float64).reshape(2, nb)
    shift = np.zeros(nb) if shift is None else np.asarray(shift, dtype=np.float64).reshape(nb)
    valid = np.ones((hp, wp), dtype=bool)
    for a in arrays:
        valid &= np.all(np.isfinite(a), axis=0)
    r = similarity(f1, f2, c1, c2)
    omr = np.where(valid, 1.0 - r, 1.0)             # 1 - R
    inner = (slice(w, w + h), slice(w, w + wd))
    centre1 = [f1[b][inner] for b in range(nb)]
    centre2 = [f2[b][inner] for b in range(nb)]
    counts, wcounts = window_sums(f1, f2, c1, c2, c0, valid, omr, w, th, shift, cancel)
    n = counts[0]
    sums = counts[1:].reshape(nb, 6, h, wd)
    wsum = wcounts[0]
    wsums = wcounts[1:].reshape(nb, 4, h, wd)
    del counts, wcounts

    # temporal weights: the coarse means over the window's valid pixels (IDL lines 321-324, 345-350)
    k = 2 * w + 1
    count = box_sum(valid.astype(np.float64), k)
    out = np.full((nb, h, wd), np.nan)
    enough = n > MIN_SIMILAR
    centre_ok = valid[inner]
    with np.errstate(invalid="ignore", divide="ignore"):
        for b in range(nb):
            mp = box_sum(np.where(valid, c0[b], 0.0), k) / count
            d1 = mp - box_sum(np.where(valid, c1[b], 0.0), k) / count
            d2 = mp - box_sum(np.where(valid, c2[b], 0.0), k) / count
            a1, a2 = np.abs(d1) + EPS_T, np.abs(d2) + EPS_T
            t1 = (1.0 / a1) / (1.0 / a1 + 1.0 / a2)
            t2 = (1.0 / a2) / (1.0 / a1 + 1.0 / a2)
            # conversion coefficient V (IDL lines 303-318)
            sc, sf, scc, sff, scf, sc1 = sums[b]
            nn = 2.0 * n
            sxx = scc - sc * sc / nn
            sxy = scf - sc * sf / nn
            syy = sff - sf * sf / nn
            slope = sxy / sxx
            ssr = slope * sxy
            sse = syy - ssr
            fstat = np.where(sse > 0, ssr / (sse / (nn - 2.0)), np.inf)
            p = stats.f.sf(fstat, 1, np.maximum(nn - 2.0, 1.0))
            change = np.abs(sc1 / n - (sc - sc1) / n)
            ok = (change >= dn_max * CHANGE_SHARE) & (p <= SIGNIFICANCE) & (slope > 0) & (slope <= V_MAX)
            v = np.where(ok, slope, 1.0)
            wd1, wd2, wf1, wf2 = wsums[b]
            fine01 = centre1[b] + v * wd1 / wsum
            fine02 = centre2[b] + v * wd2 / wsum
            pred = t1 * fine01 + t2 * fine02
            abnormal = (pred <= dn_min) | (pred >= dn_max)
            pred = np.where(abnormal, t1 * (wf1 / wsum) + t2 * (wf2 / wsum), pred)
            # too few similar pixels (IDL lines 342-352)
            e1, e2 = d1 + EPS_T, d2 + EPS_T
            b1, b2 = np.abs(e1), np.abs(e2)
            u1 = (1.0 / b1) / (1.0 / b1 + 1.0 / b2)
            u2 = (1.0 / b2) / (1.0 / b1 + 1.0 / b2)
            fallback = u1 * (centre1[b] + e1) + u2 * (centre2[b] + e2)
            out[b] = np.where(centre_ok, np.where(enough, pred, fallback), np.nan)
    return out


def estarfm_block(data, ctx, bands: int, th, dn_min: float, dn_max: float, shift=None, half_window=None):
    """BlockPass.compute of the fusion pass: ``data`` holds F1_b, F2_b, C1_b, C2_b, C0_b (b = 0 .. bands - 1)
    grown by the pass's halo; the fused block (bands, rows, cols) as float32, nodata NaN, and its partial result
    (per band: valid pixels, sum of |fused - fine tm|, sum of |fused - fine tn|)."""
    w = ctx.halo if half_window is None else half_window

    def stack(prefix):
        return np.stack([data[f"{prefix}_{b}"] for b in range(bands)])

    f1, f2 = stack("F1"), stack("F2")
    fused = fuse(f1, f2, stack("C1"), stack("C2"), stack("C0"), w, th, dn_min, dn_max, shift)
    inner = (slice(None), slice(w, f1.shape[1] - w), slice(w, f1.shape[2] - w))
    ok = np.isfinite(fused)
    diff1 = np.where(ok, np.abs(fused - f1[inner]), 0.0)
    diff2 = np.where(ok, np.abs(fused - f2[inner]), 0.0)
    partial = (ok.sum(axis=(1, 2)).astype(np.int64), diff1.sum(axis=(1, 2)), diff2.sum(axis=(1, 2)))
    return {"FUSED": fused.astype(np.float32)}, partial


# -- dates ----------------------------------------------------------------------------------------------------------
_YMD = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")
_YDOY = re.compile(r"(?:^|[^A-Za-z0-9])A?((?:19|20)\d\d)(00[1-9]|0[1-9]\d|[12]\d\d|3[0-5]\d|36[0-6])(?!\d)")


def date_from_name(name: str):
    """The first date written in a layer or file name: 2000-03-09, 2000_03_09, 20000309 (a Landsat product id's
    acquisition date comes first), or a year and day of year as MODIS names have it (A2000069); None if none."""
    base = os.path.splitext(os.path.basename(str(name)))[0]
    for m in _YMD.finditer(base):
        try:
            return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            continue
    m = _YDOY.search(base)
    if m:
        year, doy = int(m.group(1)), int(m.group(2))
        if doy <= (366 if calendar.isleap(year) else 365):
            return datetime.date(year, 1, 1) + datetime.timedelta(days=doy - 1)
    return None


def parse_date(text: str, label: str):
    """A typed date YYYY-MM-DD; ValueError naming ``label``."""
    try:
        return datetime.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{label}: {text.strip()!r} is not a date; write it as YYYY-MM-DD (e.g. 2000-03-09).") \
            from None


def nearest_pair(tp, tm, tn) -> int:
    """0 when the fine image at tm is nearer in time to tp than the one at tn (tm on a tie), else 1."""
    return 0 if abs((tp - tm).days) <= abs((tp - tn).days) else 1


# -- masks ------------------------------------------------------------------------------------------------------
#: what a mask raster holds: a plain mask (nonzero = masked) or a quality band whose bit rules core.scene applies
MASK_KINDS = ("MASK", "QA_PIXEL", "BQA", "SCL")


def clear_of(mask, kind: str) -> np.ndarray:
    """True where the mask block ``mask`` (float, NaN = the mask's nodata) lets the pixel through. ``MASK``: 0 is
    clear, any other value masked; ``QA_PIXEL`` / ``BQA`` / ``SCL``: the scene tools' cloud rules
    (core.scene.clear_mask; BQA with the Landsat 8 cirrus bits, which are 0 in TM / ETM+ BQA). A mask pixel
    without a value (nodata, outside the mask) is masked."""
    if kind == "MASK":
        m = np.asarray(mask, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.isfinite(m) & (m == 0)
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; use one of {', '.join(MASK_KINDS)}")
    from .scene import clear_mask
    return clear_mask(mask, kind, "L8")


def masked_block(data, ctx, compute, masks, kind: str):
    """A BlockPass.compute that applies masks first: ``masks`` maps a mask key of ``data`` to the key prefix of
    the image it masks (e.g. {"MASK_TM": "F1_"}); every band of that image is NaN (nodata) where the mask does
    not let the pixel through, so a masked pixel is never a similar pixel, is left out of the thresholds and of
    the window means, and a masked central pixel gets no prediction (the authors' background pixels, IDL lines
    224-233). Then ``compute(data, ctx)``."""
    data = dict(data)
    for mkey, prefix in masks.items():
        clear = clear_of(data.pop(mkey), kind)
        for key in [k for k in data if k.startswith(prefix)]:
            data[key] = np.where(clear, data[key], np.float32(np.nan)).astype(np.float32, copy=False)
    return compute(data, ctx)


def with_range(data, ctx, compute, keys: tuple):
    """A BlockPass.compute that adds to ``compute``'s partial result the (minimum, maximum) per key of ``keys``
    over the block's valid (not NaN) pixels (+inf / -inf without any): the value range of the fine images after
    their masks, against DN_MIN / DN_MAX. Combine with :func:`combine_with_range`."""
    blocks, part = compute(data, ctx)
    lo, hi = np.full(len(keys), np.inf), np.full(len(keys), -np.inf)
    for i, k in enumerate(keys):
        a = np.asarray(data[k])
        a = a[np.isfinite(a)]
        if a.size:
            lo[i], hi[i] = float(a.min()), float(a.max())
    return blocks, (part, (lo, hi))


def combine_with_range(a, b, combine):
    """combine of :func:`with_range` partials: ``combine`` for the inner partials, min / max for the ranges."""
    return combine(a[0], b[0]), (np.minimum(a[1][0], b[1][0]), np.maximum(a[1][1], b[1][1]))
