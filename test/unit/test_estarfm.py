"""core.estarfm against a plain per-pixel implementation of ESTARFM written here, step by step, from Zhu, Chen,
Gao, Chen & Masek 2010 (Remote Sensing of Environment 114:2610-2623, sections 2.1-2.3, eqs. 6-13), with the
choices the paper leaves open taken from the authors' IDL code (ESTARFM.pro of the public repository
nahiro/estarfm, lines cited below), on real Landsat 5 TM bands (test/data/ethiopia, 2000-03-09 and 2010-12-18);
degenerate cases worked by hand; block-size invariance."""
import math
import os

import numpy as np
import pytest
from osgeo import gdal
from scipy import stats

from mining_eco_plugin.core import estarfm as core

ETH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "ethiopia")
SCENES = ("LT05_L1TP_167055_20000309_20161214_01_T1_B{}.TIF", "LT51670552010352MLK00_B{}.tif")


def fine(scene, bands=(3, 4)):
    return np.stack([gdal.Open(os.path.join(ETH, SCENES[scene].format(b))).ReadAsArray().astype(np.float64)
                     for b in bands])


def coarse(a, k=8):
    """A coarse image on the fine grid: the mean of each k x k block (a coarse pixel of 8 x 30 m), repeated over
    its fine pixels (nearest-neighbour resampling, as ESTARFM expects its coarse inputs)."""
    nb, h, w = a.shape
    out = np.empty_like(a)
    for y in range(0, h, k):
        for x in range(0, w, k):
            blk = a[:, y:y + k, x:x + k]
            out[:, y:y + k, x:x + k] = blk.reshape(nb, -1).mean(axis=1)[:, None, None]
    return out


def scenes(bands=(3, 4), holes=True):
    """Fine tm (2000), fine tn (2010), their coarse images, and a coarse tp (a mixture of the two dates plus a
    change of 3 DN); a few nodata holes in fine tn and coarse tp."""
    f1, f2 = fine(0, bands), fine(1, bands)
    c1, c2 = coarse(f1), coarse(f2)
    c0 = coarse(0.3 * f1 + 0.7 * f2) + 3.0
    if holes:
        f2[:, 10, 12] = np.nan
        f2[:, 30:33, 40] = np.nan
        f2[:, 50, 60] = np.nan
        f1[:, 45, 10] = np.nan
        f2[:, 80, 80] = np.nan
        c0[:, 20, 5:8] = np.nan
    return f1, f2, c1, c2, c0


# -- the paper's equations, one pixel at a time ---------------------------------------------------------------
def reference(f1, f2, c1, c2, c0, w, classes, dn_min, dn_max, pixels=None, seen=None):
    """ESTARFM pixel by pixel with plain loops. Returns (bands, rows, cols), NaN where not computed."""
    nb, rows, cols = f1.shape
    valid = np.ones((rows, cols), dtype=bool)
    for a in (f1, f2, c1, c2, c0):
        for b in range(nb):
            valid &= np.isfinite(a[b])
    # eq. 6: the threshold of band b of fine image k = stdev of that band x 2 / classes (IDL lines 216-219, the
    # sample standard deviation), over the pixels of the whole image valid in every band of that image
    th = np.zeros((2, nb))
    for k, f in enumerate((f1, f2)):
        ok = np.all(np.isfinite(f), axis=0)
        for b in range(nb):
            vals = f[b][ok]
            mean = sum(vals) / len(vals)
            th[k, b] = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) * 2.0 / classes
    out = np.full((nb, rows, cols), np.nan)
    todo = pixels if pixels is not None else [(i, j) for i in range(rows) for j in range(cols)]
    for i, j in todo:
        if not valid[i, j]:
            continue
        window, similar = [], []
        for y in range(max(0, i - w), min(rows, i + w + 1)):
            for x in range(max(0, j - w), min(cols, j + w + 1)):
                if not valid[y, x]:
                    continue
                window.append((y, x))
                # section 2.2.1: similar in every band of both fine images
                if all(abs(f1[b, y, x] - f1[b, i, j]) < th[0, b] and abs(f2[b, y, x] - f2[b, i, j]) < th[1, b]
                       for b in range(nb)):
                    similar.append((y, x))
        # eqs. 12-13: temporal weights from the coarse change over the window (IDL lines 321-324: means of its
        # valid pixels)
        mean_c = {}
        for name, c in (("p", c0), ("1", c1), ("2", c2)):
            mean_c[name] = [sum(c[b, y, x] for y, x in window) / len(window) for b in range(nb)]
        if len(similar) <= 5:
            # too few similar pixels: IDL lines 342-352
            if seen is not None:
                seen["fallback"] += 1
            for b in range(nb):
                e1 = mean_c["p"][b] - mean_c["1"][b] + 1e-10
                e2 = mean_c["p"][b] - mean_c["2"][b] + 1e-10
                t1 = (1 / abs(e1)) / (1 / abs(e1) + 1 / abs(e2))
                t2 = (1 / abs(e2)) / (1 / abs(e1) + 1 / abs(e2))
                out[b, i, j] = t1 * (f1[b, i, j] + e1) + t2 * (f2[b, i, j] + e2)
            continue
        # eq. 7: spectral similarity R_i (correlation of fine and coarse over bands and both dates); one band:
        # the authors' index form (IDL line 276); NaN -> 0.5 (IDL line 292)
        weights = []
        for y, x in similar:
            if nb == 1:
                r = 1 - 0.5 * (abs((f1[0, y, x] - c1[0, y, x]) / (f1[0, y, x] + c1[0, y, x]))
                               + abs((f2[0, y, x] - c2[0, y, x]) / (f2[0, y, x] + c2[0, y, x])))
            else:
                fv = [f1[b, y, x] for b in range(nb)] + [f2[b, y, x] for b in range(nb)]
                cv = [c1[b, y, x] for b in range(nb)] + [c2[b, y, x] for b in range(nb)]
                mf, mc = sum(fv) / len(fv), sum(cv) / len(cv)
                cov = sum((a - mf) * (c - mc) for a, c in zip(fv, cv))
                vf = sum((a - mf) ** 2 for a in fv)
                vc = sum((c - mc) ** 2 for c in cv)
                r = cov / math.sqrt(vf * vc) if vf > 0 and vc > 0 else float("nan")
            if r != r:
                r = 0.5
            d = 1 + math.sqrt((y - i) ** 2 + (x - j) ** 2) / w          # eq. 8
            weights.append(1 / ((1 - r) * d + 1e-7))                      # eq. 9 with IDL line 300
        total = sum(weights)
        weights = [v / total for v in weights]
        for b in range(nb):
            # eq. 10: conversion coefficient V, the regression slope of fine on coarse of the similar pixels at
            # both dates; kept when the coarse change >= 2 % of DN_max, p <= 0.05, 0 < V <= 5 (IDL lines 306-318)
            xs = [c1[b, y, x] for y, x in similar] + [c2[b, y, x] for y, x in similar]
            ys = [f1[b, y, x] for y, x in similar] + [f2[b, y, x] for y, x in similar]
            change = abs(sum(c1[b, y, x] for y, x in similar) / len(similar)
                         - sum(c2[b, y, x] for y, x in similar) / len(similar))
            v = 1.0
            if change >= dn_max * 0.02:
                n = len(xs)
                mx, my = sum(xs) / n, sum(ys) / n
                sxx = sum((a - mx) ** 2 for a in xs)
                slope = sum((a - mx) * (c - my) for a, c in zip(xs, ys)) / sxx
                icpt = my - slope * mx
                sse = sum((c - icpt - slope * a) ** 2 for a, c in zip(xs, ys))
                ssr = sum((icpt + slope * a - my) ** 2 for a in xs)
                fval = ssr / (sse / (n - 2)) if sse > 0 else float("inf")
                p = 1.0 - stats.f.cdf(fval, 1, n - 2)
                if p <= 0.05 and 0 < slope <= 5:
                    v = slope
                    if seen is not None:
                        seen["regression"] += 1
            a1 = abs(mean_c["p"][b] - mean_c["1"][b]) + 1e-10
            a2 = abs(mean_c["p"][b] - mean_c["2"][b]) + 1e-10
            t1 = (1 / a1) / (1 / a1 + 1 / a2)
            t2 = (1 / a2) / (1 / a1 + 1 / a2)
            # eq. 11 from each pair, combined by eq. 13
            p1 = f1[b, i, j] + sum(wt * v * (c0[b, y, x] - c1[b, y, x]) for wt, (y, x) in zip(weights, similar))
            p2 = f2[b, i, j] + sum(wt * v * (c0[b, y, x] - c2[b, y, x]) for wt, (y, x) in zip(weights, similar))
            pred = t1 * p1 + t2 * p2
            if pred <= dn_min or pred >= dn_max:                          # IDL lines 336-340
                if seen is not None:
                    seen["abnormal"] += 1
                pred = (t1 * sum(wt * f1[b, y, x] for wt, (y, x) in zip(weights, similar))
                        + t2 * sum(wt * f2[b, y, x] for wt, (y, x) in zip(weights, similar)))
            out[b, i, j] = pred
    return out


def run_core(f1, f2, c1, c2, c0, w, classes, dn_min, dn_max, rows_per_block=None):
    """core.fuse with whole-image thresholds, on row blocks grown by w (NaN outside the image), as the executor
    reads them."""
    th = core.thresholds(core.moments(f1), core.moments(f2), classes)
    shift = np.nanmean(f1, axis=(1, 2))
    nb, rows, cols = f1.shape
    padded = [np.pad(a, ((0, 0), (w, w), (w, w)), constant_values=np.nan) for a in (f1, f2, c1, c2, c0)]
    step = rows_per_block or rows
    out = np.empty((nb, rows, cols))
    for y in range(0, rows, step):
        h = min(step, rows - y)
        blocks = [a[:, y:y + h + 2 * w, :] for a in padded]
        out[:, y:y + h] = core.fuse(*blocks, w, th, dn_min, dn_max, shift)
    return out


CASES = [
    # bands, half window, classes, DN_min, DN_max, crop: each case exercises other branches (counted below)
    ((3, 4), 5, 4.0, 0.0, 255.0, (slice(0, 40), slice(0, 40))),
    ((3, 4), 4, 4.0, 35.0, 60.0, (slice(30, 70), slice(50, 90))),      # abnormal predictions replaced
    ((3, 4), 3, 6.0, 0.0, 255.0, (slice(0, 35), slice(20, 60))),       # narrower thresholds: more fallbacks
    ((4,), 5, 4.0, 0.0, 255.0, (slice(40, 80), slice(0, 40))),         # one band: the index form of R
    ((1, 2, 3, 4, 5, 7), 3, 4.0, 0.0, 255.0, (slice(60, 95), slice(60, 95))),
]


@pytest.mark.parametrize("bands,w,classes,dn_min,dn_max,crop", CASES)
def test_core_equals_per_pixel_reference(bands, w, classes, dn_min, dn_max, crop):
    imgs = [a[(slice(None),) + crop] for a in scenes(bands)]
    seen = {"fallback": 0, "regression": 0, "abnormal": 0}
    want = reference(*imgs, w, classes, dn_min, dn_max, seen=seen)
    got = run_core(*imgs, w, classes, dn_min, dn_max)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got).sum() >= 1
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    # V from the regression and the fallback (<= 5 similar pixels) are both exercised on these real data
    assert seen["regression"] > 0 and seen["fallback"] > 0
    if dn_max < 100:
        assert seen["abnormal"] > 0


def test_default_window_on_selected_pixels():
    """The authors' defaults (w = 25: a 51-pixel window, 4 classes) on the whole 101 x 101 scene, compared at 40
    pixels spread over it (edges and corners included)."""
    imgs = scenes((3, 4))
    rng = np.random.default_rng(7)
    pixels = [(0, 0), (100, 100), (0, 100), (50, 50)] + [tuple(p) for p in rng.integers(0, 101, (36, 2))]
    want = reference(*imgs, 25, 4.0, 0.0, 255.0, pixels=pixels)
    got = run_core(*imgs, 25, 4.0, 0.0, 255.0, rows_per_block=40)
    for i, j in pixels:
        np.testing.assert_allclose(got[:, i, j], want[:, i, j], rtol=0, atol=1e-6)


@pytest.mark.parametrize("step", [1, 7, 33])
def test_block_size_invariance(step):
    """Row blocks of 1, 7 and 33 rows give exactly the floats of one block (the same sums in the same order)."""
    imgs = [a[:, :45, :50] for a in scenes((3, 4))]
    whole = run_core(*imgs, 6, 4.0, 0.0, 255.0)
    parts = run_core(*imgs, 6, 4.0, 0.0, 255.0, rows_per_block=step)
    assert np.array_equal(whole, parts, equal_nan=True)


@pytest.mark.parametrize("strip_rows,strip_cols,tile_cols,tile_bytes", [
    (7, 9, 5, 1), (64, 9, 256, 2 << 20), (1, 512, 3, 2 << 20), (45, 1, 256, 1), (20, 20, 7, 50000)])
def test_strips_and_tiles_do_not_change_the_result(monkeypatch, strip_rows, strip_cols, tile_cols, tile_bytes):
    """fuse cuts a large block into strips (STRIP_ROWS x STRIP_COLS) and window_sums cuts a strip into tiles (the
    matmul of every pixel's offset row sees other strides and addresses): odd small strips and tiles give exactly
    the floats of one strip and one tile."""
    imgs = [a[:, :45, :50] for a in scenes((3, 4))]
    whole = run_core(*imgs, 6, 4.0, 0.0, 255.0)
    monkeypatch.setattr(core, "STRIP_ROWS", strip_rows)
    monkeypatch.setattr(core, "STRIP_COLS", strip_cols)
    monkeypatch.setattr(core, "TILE_COLS", tile_cols)
    monkeypatch.setattr(core, "TILE_BYTES", tile_bytes)
    parts = run_core(*imgs, 6, 4.0, 0.0, 255.0)
    assert np.array_equal(whole, parts, equal_nan=True)


def test_coarse_tp_equal_to_coarse_tm_gives_fine_tm():
    """C(tp) = C(tm): every term C_p - C_m is 0 and T_m = 1 - 1e-10 / |mean C_p - mean C_n| ~ 1, so the
    prediction is the fine image at tm (to 1e-6 DN)."""
    f1, f2, c1, c2, _ = scenes((3, 4), holes=False)
    got = run_core(f1, f2, c1, c2, c1.copy(), 5, 4.0, 0.0, 255.0)
    np.testing.assert_allclose(got, f1, rtol=0, atol=1e-6)


def test_uniform_change_is_carried_into_the_prediction():
    """Coarse = fine at both dates, tn = tm + 10 DN, tp = coarse tm + 4 DN everywhere: the regression of fine on
    coarse is exact with slope 1, both pairs predict F(tm) + 4 and the result is F(tm) + 4 whatever T_m, T_n."""
    f1 = fine(0, (3, 4))
    f2 = f1 + 10.0
    got = run_core(f1, f2, f1.copy(), f2.copy(), f1 + 4.0, 5, 4.0, 0.0, 255.0)
    np.testing.assert_allclose(got, f1 + 4.0, rtol=0, atol=1e-6)


def test_constant_gain_is_recovered():
    """Fine = 1.5 x coarse at both dates (a gain between the sensors) and tp = tm + 12 coarse DN: V = 1.5 exactly
    (a perfect, significant regression, change 20 DN >= 2 % of 255), and the prediction 1.5 (C_m + 12) =
    F(tm) + 18 -- with V = 1 (no regression) it would be F(tm) + 12."""
    c1 = fine(0, (3, 4))
    c2 = c1 + 20.0
    f1, f2 = 1.5 * c1, 1.5 * c2
    got = run_core(f1, f2, c1, c2, c1 + 12.0, 5, 4.0, 0.0, 255.0)
    np.testing.assert_allclose(got, f1 + 18.0, rtol=0, atol=1e-6)


def test_thresholds_from_whole_image_moments():
    """Chan's pairwise combination of block moments gives numpy's sample standard deviation of the whole band."""
    f1 = fine(0, (3, 4))
    parts = [core.moments(f1[:, y:y + 13]) for y in range(0, 101, 13)]
    m = parts[0]
    for p in parts[1:]:
        m = core.combine_moments(m, p)
    np.testing.assert_allclose(core.std(m), f1.reshape(2, -1).std(axis=1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(core.thresholds(m, m, 4.0)[0], f1.reshape(2, -1).std(axis=1, ddof=1) / 2,
                               rtol=1e-12)


def test_core_equals_per_pixel_reference_on_float_ndvi():
    """Float data (NDVI of the real red / NIR bands, valid range -1 .. 1, as float32 like the executor reads them)
    against the per-pixel reference: the similar-pixel test on ranks must reproduce |F(q) - F(p)| < th on
    non-integer values too."""
    f1, f2, c1, c2, c0 = scenes((3, 4))

    def ndvi(a):
        return ((a[1:2] - a[0:1]) / (a[1:2] + a[0:1])).astype(np.float32).astype(np.float64)

    imgs = [ndvi(a)[:, 20:60, 30:70] for a in (f1, f2, c1, c2, c0)]
    seen = {"fallback": 0, "regression": 0, "abnormal": 0}
    want = reference(*imgs, 4, 4.0, -1.0, 1.0, seen=seen)
    got = run_core(*imgs, 4, 4.0, -1.0, 1.0)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert seen["fallback"] > 0


@pytest.mark.parametrize("kind", ["float", "integer", "many"])
def test_similarity_ranks_reproduce_the_threshold_test(kind):
    """core.similarity_ranks against the test written out (|F(q) - F(p)| < th in float64) at every offset, on
    values with many ties at the threshold: floats whose threshold is one of their own differences (the boundary
    cases of the binary search), integers with an integer threshold, and more distinct values than int16 ranks
    hold (the int32 path)."""
    rng = np.random.default_rng(3)
    w = 3 if kind != "many" else 2
    if kind == "float":
        fine = rng.normal(0.4, 0.2, (2, 30, 34)).astype(np.float32).astype(np.float64)
        th = np.array([abs(fine[0, 5, 5] - fine[0, 6, 7]), abs(fine[1, 9, 9] - fine[1, 9, 10])])
    elif kind == "integer":
        fine = rng.integers(0, 40, (2, 30, 34)).astype(np.float64)
        th = np.array([5.0, 7.0])
    else:
        fine = rng.random((1, 190, 200))
        th = np.array([abs(fine[0, 50, 50] - fine[0, 51, 50])])
    nj, rows, cols = fine.shape
    valid = rng.random((rows, cols)) > 0.1
    ranks, lows, spans = core.similarity_ranks(fine, valid, th, w)
    assert ranks.dtype == (np.int32 if kind == "many" else np.int16)
    h, wd = rows - 2 * w, cols - 2 * w
    for j in range(nj):
        centre = fine[j, w:w + h, w:w + wd]
        for dy in range(-w, w + 1):
            for dx in range(-w, w + 1):
                sl = (slice(w + dy, w + dy + h), slice(w + dx, w + dx + wd))
                want = valid[sl] & (np.abs(fine[j][sl] - centre) < th[j])
                diff = (ranks[j][sl] - lows[j]).astype(ranks.dtype).view(spans.dtype)
                got = diff <= spans[j]
                ok = valid[w:w + h, w:w + wd]
                assert np.array_equal(got[ok], want[ok]), (j, dy, dx)
