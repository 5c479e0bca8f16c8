"""Unit tests for mining_eco_plugin.core.rsei (RSEI, Ningdong seed section 3.1 / 4.1)."""
import numpy as np
import pytest
from sklearn.decomposition import PCA

from mining_eco_plugin.core import rsei
from mining_eco_plugin.core.rsei import (
    COMPONENTS,
    GRADE_LABELS,
    RunningMinMax,
    SampleCollector,
    block_sample_mask,
    grade,
    grade_area_table,
    histogram,
    normalisation_bounds,
    normalise,
    pc1_scores,
    pca,
    rescale,
    sample_probability,
)


def _correlated(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    cov = np.array([
        [1.0, 0.6, -0.5, -0.4],
        [0.6, 1.0, -0.3, -0.2],
        [-0.5, -0.3, 1.0, 0.5],
        [-0.4, -0.2, 0.5, 1.0],
    ])
    x = rng.multivariate_normal([0.5, 0.4, 0.3, 0.6], cov * 0.02, size=n)
    return x


def test_no_qgis_import():
    import sys
    import subprocess

    code = (
        "import sys, mining_eco_plugin.core.rsei;"
        "bad=[m for m in sys.modules if m.split('.')[0] in ('qgis','osgeo','PyQt5')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- PCA
def test_pca_matches_sklearn():
    x = _correlated()
    res = pca(x)
    sk = PCA().fit(x)
    np.testing.assert_allclose(res.eigenvalues, sk.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(res.explained_ratio, sk.explained_variance_ratio_, rtol=1e-10)
    np.testing.assert_allclose(np.abs(res.loadings), np.abs(sk.components_.T), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(res.mean, sk.mean_, rtol=1e-12)
    assert np.all(np.diff(res.eigenvalues) <= 0)
    # orthonormal loadings
    np.testing.assert_allclose(res.loadings.T @ res.loadings, np.eye(4), atol=1e-12)
    # orientation rule: loadings over NDVI + WET sum > 0 for every PC
    assert np.all(res.loadings[[0, 1], :].sum(axis=0) > 0)
    # PC1 scores equal sklearn's transform up to the sign
    scores = pc1_scores(x, res)
    sk_scores = sk.transform(x)[:, 0]
    sign = np.sign(res.loadings[:, 0] @ sk.components_[0])
    assert sign in (-1.0, 1.0)
    np.testing.assert_allclose(scores, sign * sk_scores, rtol=1e-10, atol=1e-12)


def test_pca_orientation_ndvi_wet_positive():
    rng = np.random.default_rng(7)
    eco = rng.uniform(0, 1, 5000)  # latent "ecological quality"
    noise = lambda: rng.normal(0, 0.05, eco.size)  # noqa: E731
    x = np.column_stack([eco + noise(), 0.8 * eco + noise(), 1 - eco + noise(), 0.9 - 0.7 * eco + noise()])
    res = pca(x)
    l1 = res.loadings[:, 0]
    assert l1[0] > 0 and l1[1] > 0
    assert l1[2] < 0 and l1[3] < 0
    assert res.pc1_contribution > 0.6
    # a greener pixel scores higher
    s = pc1_scores(np.array([[0.9, 0.8, 0.1, 0.2], [0.1, 0.1, 0.9, 0.8]]), res)
    assert s[0] > s[1]
    # swapping the sign convention of the input columns flips loadings, not the rule
    res2 = pca(x[:, [2, 3, 0, 1]], positive=(2, 3))
    assert res2.loadings[2, 0] > 0 and res2.loadings[0, 0] < 0


def test_pca_too_few_samples_and_nan_rows():
    with pytest.raises(ValueError):
        pca(np.random.default_rng(0).random((4, 4)))
    x = _correlated(100)
    xn = np.vstack([x, np.full((3, 4), np.nan)])
    a, b = pca(x), pca(xn)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    with pytest.raises(ValueError):
        pca(np.ones((50, 4)))


# --------------------------------------------------------------------------- sampling
def test_block_sample_mask_fraction_and_determinism():
    p = 0.05
    m = block_sample_mask(0, 0, (1000, 1000), 1000, p)
    assert m.dtype == bool and m.shape == (1000, 1000)
    frac = m.mean()
    assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / m.size)
    np.testing.assert_array_equal(m, block_sample_mask(0, 0, (1000, 1000), 1000, p))
    other = block_sample_mask(0, 0, (1000, 1000), 1000, p, seed=1)
    assert (m != other).any()
    assert block_sample_mask(3, 4, (5, 6), 100, 1.0).all()
    assert block_sample_mask(3, 4, (5, 6), 100, 2.5).all()
    assert not block_sample_mask(3, 4, (5, 6), 100, 0.0).any()
    # a sub-block equals the corresponding window of the whole mask
    np.testing.assert_array_equal(block_sample_mask(100, 250, (37, 300), 1000, p), m[100:137, 250:550])
    # no visible stripes: rows and columns both sampled evenly
    assert m.sum(axis=0).std() < 3 * np.sqrt(1000 * p)
    assert m.sum(axis=1).std() < 3 * np.sqrt(1000 * p)


def test_block_sample_mask_fast():
    import time

    t = time.perf_counter()
    m = block_sample_mask(123456, 0, (256, 8000), 8000, 0.01)
    assert m.shape == (256, 8000)
    assert time.perf_counter() - t < 1.0


def test_sample_probability():
    assert sample_probability(100) == 1.0
    assert sample_probability(0) == 1.0
    assert sample_probability(1_000_000) == pytest.approx(0.2)
    assert sample_probability(1_000_000, target=10) == pytest.approx(1e-5)


# --------------------------------------------------------------------------- block invariance
def _blocks(h, w, bh, bw):
    for r in range(0, h, bh):
        for c in range(0, w, bw):
            yield r, c, min(bh, h - r), min(bw, w - c)


def _accumulate(field, bh, bw, p):
    h, w, k = field.shape
    mm = RunningMinMax(k)
    col = SampleCollector(k, w, p)
    raw_idx = []
    for r, c, nh, nw in _blocks(h, w, bh, bw):
        block = field[r:r + nh, c:c + nw]
        mm.update(block.reshape(-1, k))
        col.add(r, c, block)
        mask = block_sample_mask(r, c, (nh, nw), w, p)
        rr, cc = np.nonzero(mask)
        raw_idx.append((rr + r) * w + (cc + c))
    return mm, col, np.sort(np.concatenate(raw_idx))


def test_block_size_invariance():
    rng = np.random.default_rng(42)
    h, w = 300, 257
    field = rng.normal(size=(h, w, 4)) @ np.array(
        [[1, 0.5, -0.4, -0.3], [0, 1, -0.2, -0.1], [0, 0, 1, 0.4], [0, 0, 0, 1.0]]
    )
    field[rng.random((h, w)) < 0.03, 2] = np.nan  # nodata holes in one component
    p = 0.1
    results = []
    for bh, bw in [(64, 64), (37, 300), (h, w)]:
        mm, col, idx = _accumulate(field, bh, bw, p)
        sample = col.array()
        lo, hi = normalisation_bounds(mm, sample)
        res = pca(normalise(sample, lo, hi))
        results.append((mm, col, idx, sample, res))
    mm0, col0, idx0, s0, r0 = results[0]
    assert 0.07 < idx0.size / (h * w) < 0.13
    np.testing.assert_array_equal(mm0.minimum, np.nanmin(field.reshape(-1, 4), axis=0))
    np.testing.assert_array_equal(mm0.maximum, np.nanmax(field.reshape(-1, 4), axis=0))
    np.testing.assert_array_equal(mm0.count, np.isfinite(field.reshape(-1, 4)).sum(axis=0))
    for mm, col, idx, s, r in results[1:]:
        np.testing.assert_array_equal(idx, idx0)
        np.testing.assert_array_equal(col.indices(), col0.indices())
        np.testing.assert_array_equal(np.sort(s, axis=0), np.sort(s0, axis=0))
        np.testing.assert_array_equal(s, s0)  # collector order is canonical too
        np.testing.assert_array_equal(mm.minimum, mm0.minimum)
        np.testing.assert_array_equal(mm.maximum, mm0.maximum)
        np.testing.assert_array_equal(mm.count, mm0.count)
        np.testing.assert_array_equal(r.eigenvalues, r0.eigenvalues)
        np.testing.assert_array_equal(r.loadings, r0.loadings)
        np.testing.assert_array_equal(r.mean, r0.mean)
    # the collector drops pixels with a NaN component
    assert np.isfinite(s0).all()
    assert len(col0) < idx0.size


def test_running_minmax_nan_and_empty():
    mm = RunningMinMax(2)
    mm.update(np.zeros((0, 2)))
    assert np.isnan(mm.minimum).all() and (mm.count == 0).all()
    mm.update(np.array([[np.nan, 1.0], [np.inf, 3.0]]))
    mm.update(np.array([[2.0, -1.0]]))
    np.testing.assert_array_equal(mm.minimum, [2.0, -1.0])
    np.testing.assert_array_equal(mm.maximum, [2.0, 3.0])
    np.testing.assert_array_equal(mm.count, [1, 3])
    with pytest.raises(ValueError):
        mm.update(np.zeros((3, 3)))


# --------------------------------------------------------------------------- normalise / rescale / grade
def test_normalise_hand_values():
    v = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0], [12.0, np.nan], [-1.0, 15.0]])
    out = normalise(v, [0.0, 10.0], [10.0, 30.0])
    expected = np.array([[0, 0], [0.5, 0.5], [1, 1], [1, np.nan], [0, 0.25]])
    np.testing.assert_allclose(out, expected)
    # works on (rows, cols, k) blocks
    assert normalise(v.reshape(5, 1, 2), [0, 10], [10, 30]).shape == (5, 1, 2)


def test_normalisation_bounds_exact_and_percentile():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(5000, 4))
    mm = RunningMinMax(4)
    mm.update(data)
    lo, hi = normalisation_bounds(mm, data[:1000])
    np.testing.assert_array_equal(lo, data.min(axis=0))
    np.testing.assert_array_equal(hi, data.max(axis=0))
    lo, hi = normalisation_bounds(mm, data[:1000], clip_percent=2.0)
    np.testing.assert_allclose(lo, np.percentile(data[:1000], 2.0, axis=0))
    np.testing.assert_allclose(hi, np.percentile(data[:1000], 98.0, axis=0))
    with pytest.raises(ValueError):
        normalisation_bounds(mm, data, clip_percent=60)


def test_constant_component_names_it():
    data = np.random.default_rng(0).random((100, 4))
    data[:, 3] = 25.0
    mm = RunningMinMax(4)
    mm.update(data)
    with pytest.raises(ValueError, match="LST"):
        normalisation_bounds(mm, data)
    with pytest.raises(ValueError, match="LST"):
        normalisation_bounds(mm, data, clip_percent=1.0)
    data[:, 1] = np.nan
    mm = RunningMinMax(4)
    mm.update(data)
    with pytest.raises(ValueError, match="WET"):
        normalisation_bounds(mm, data)
    assert COMPONENTS == ("NDVI", "WET", "NDBSI", "LST")


def test_rescale_eq13():
    pc1 = np.array([-2.0, 0.0, 2.0, np.nan])
    np.testing.assert_allclose(rescale(pc1, -2.0, 2.0), [0.0, 0.5, 1.0, np.nan])
    with pytest.raises(ValueError):
        rescale(pc1, 1.0, 1.0)


def test_grade_boundaries():
    v = np.array([0.0, 0.2, 0.2 + 1e-9, 0.2000001, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8 + 1e-9, 1.0, np.nan])
    g = grade(v)
    assert g.dtype == np.uint8
    np.testing.assert_array_equal(g, [1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 5, 0])
    # float32 rasters: a stored 0.2 is still "worst"
    np.testing.assert_array_equal(grade(np.array([0.2, 0.4, 0.8], dtype=np.float32)), [1, 2, 4])
    # 2-D blocks and custom breaks
    np.testing.assert_array_equal(grade(np.array([[0.1, 0.6]]), breaks=(0.5,)), [[1, 2]])
    with pytest.raises(ValueError):
        grade(v, breaks=(0.5, 0.3))


def test_grade_area_table():
    counts = np.array([10, 200, 500, 250, 40])
    rows = grade_area_table(counts, 900.0)
    assert [r["grade"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["label"] for r in rows] == list(GRADE_LABELS)
    assert rows[1]["pixels"] == 200
    assert rows[1]["area_km2"] == pytest.approx(0.18)
    assert rows[2]["area_km2"] == pytest.approx(0.45)
    assert rows[0]["percent"] == pytest.approx(1.0)
    assert sum(r["percent"] for r in rows) == pytest.approx(100.0)
    # bincount layout with index 0 = nodata
    rows2 = grade_area_table(np.concatenate([[999], counts]), 900.0)
    assert rows2 == rows
    with pytest.raises(ValueError):
        grade_area_table(counts[:3], 900.0)


def test_histogram_accumulates_over_blocks():
    rng = np.random.default_rng(5)
    v = rng.random((100, 90))
    v[v > 0.97] = np.nan
    total, edges = histogram(v)
    acc = np.zeros(20, dtype=np.int64)
    for r in range(0, 100, 33):
        c, e = histogram(v[r:r + 33])
        np.testing.assert_array_equal(e, edges)
        acc += c
    np.testing.assert_array_equal(acc, total)
    assert total.sum() == np.isfinite(v).sum()
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 21


def test_end_to_end_small_raster():
    """Full pipeline on a tiny raster: RSEI in [0, 1], greener pixels rank higher."""
    rng = np.random.default_rng(11)
    h, w = 40, 50
    eco = np.linspace(0, 1, w)[None, :].repeat(h, axis=0)
    n = lambda: rng.normal(0, 0.03, (h, w))  # noqa: E731
    comp = np.stack([0.1 + 0.6 * eco + n(), -0.2 + 0.1 * eco + 0.01 * n(), 0.3 - 0.4 * eco + n(),
                     45 - 15 * eco + 30 * n()], axis=-1)
    mm = RunningMinMax(4)
    col = SampleCollector(4, w, sample_probability(h * w, target=500))
    for r in range(0, h, 16):
        blk = comp[r:r + 16]
        mm.update(blk.reshape(-1, 4))
        col.add(r, 0, blk)
    lo, hi = normalisation_bounds(mm, col.array())
    res = pca(normalise(col.array(), lo, hi))
    pc1 = pc1_scores(normalise(comp, lo, hi), res)
    r = rescale(pc1, pc1.min(), pc1.max())
    assert r.min() == 0.0 and r.max() == 1.0
    assert r[:, -5:].mean() > r[:, :5].mean() + 0.5
    g = grade(r)
    counts = np.bincount(g.ravel(), minlength=6)
    rows = grade_area_table(counts, 900.0)
    assert sum(row["pixels"] for row in rows) == h * w
    assert rsei.GRADE_BREAKS == (0.2, 0.4, 0.6, 0.8)


# --------------------------------------------------------------------------- plane-wise functions (the fast path)
def _planes_with_gaps(seed=7, h=53, w=61):
    """Four float32 component planes (k, h, w) with NaN holes, +-inf (an index divided by zero) and values
    outside [lo, hi] later, as the algorithm reads them."""
    rng = np.random.default_rng(seed)
    planes = (_correlated(h * w, seed).T.reshape(4, h, w) * [[[1]], [[0.5]], [[1]], [[40]]]).astype(np.float32)
    planes[0][rng.random((h, w)) < 0.05] = np.nan
    planes[2][rng.random((h, w)) < 0.03] = np.nan
    planes[1, 3, 4], planes[3, 10, 11] = np.inf, -np.inf
    return planes


def test_mask_invalid_masks_every_plane_where_any_component_is_not_finite():
    planes = _planes_with_gaps()
    before = planes.copy()
    valid, finite = rsei.mask_invalid(planes)
    expected_valid = np.isfinite(before).all(axis=0)                  # numpy reduction over the stack
    np.testing.assert_array_equal(valid, expected_valid)
    np.testing.assert_array_equal(finite, np.isfinite(before).reshape(4, -1).sum(axis=1))
    assert np.isnan(planes[:, ~expected_valid]).all()
    np.testing.assert_array_equal(planes[:, expected_valid], before[:, expected_valid])


def test_update_planes_equals_pixelwise_update_over_blocks():
    """RunningMinMax.update_planes on (k, rows, cols) blocks = update on the (n, k) pixel arrays (the reference),
    NaN and +-inf ignored, all-NaN blocks skipped."""
    planes = _planes_with_gaps()
    planes[:, 20:30] = np.nan                                          # a block with no valid value at all
    by_planes, by_pixels = RunningMinMax(4), RunningMinMax(4)
    for r in range(0, planes.shape[1], 10):
        block = planes[:, r:r + 10]
        by_planes.update_planes(block)
        by_pixels.update(np.moveaxis(block, 0, -1).reshape(-1, 4))
    np.testing.assert_array_equal(by_planes.minimum, by_pixels.minimum)
    np.testing.assert_array_equal(by_planes.maximum, by_pixels.maximum)
    np.testing.assert_array_equal(by_planes.count, by_pixels.count)
    assert np.isfinite(by_planes.minimum).all() and np.isfinite(by_planes.maximum).all()
    with pytest.raises(ValueError):
        by_planes.update_planes(planes[:3])


def test_add_planes_keeps_the_same_sample_as_add():
    """SampleCollector.add_planes (planes + valid mask) selects and orders exactly the pixels add selects from
    the (rows, cols, k) block (the reference), whatever the blocks."""
    planes = _planes_with_gaps()
    valid, _ = rsei.mask_invalid(planes)
    h, w = planes.shape[1:]
    a, b = SampleCollector(4, w, 0.3, seed=5), SampleCollector(4, w, 0.3, seed=5)
    for r in range(0, h, 16):
        for c in range(0, w, 25):
            a.add(r, c, np.moveaxis(planes[:, r:r + 16, c:c + 25], 0, -1))
            b.add_planes(r, c, planes[:, r:r + 16, c:c + 25], valid[r:r + 16, c:c + 25])
    c = SampleCollector(4, w, 0.3, seed=5)
    c.add_planes(0, 0, planes)                                       # valid computed by add_planes itself
    assert 0.2 * valid.sum() < len(a) < 0.4 * valid.sum()
    for other in (b, c):
        np.testing.assert_array_equal(other.indices(), a.indices())
        np.testing.assert_array_equal(other.array(), a.array())
        assert other.array().dtype == np.float64


def test_pc1_planes_equals_normalise_then_pc1_scores():
    """pc1_planes (per plane, float64) = pc1_scores(normalise(pixels)) - the pixel-wise reference - to round-off,
    including values clipped by percentile bounds; the normalised sums equal the reference sums."""
    planes = _planes_with_gaps()
    valid, _ = rsei.mask_invalid(planes)
    pixels = np.moveaxis(planes, 0, -1)[valid]
    lo = np.percentile(pixels, 5, axis=0)                             # bounds inside the range: clipping happens
    hi = np.percentile(pixels, 95, axis=0)
    res = pca(normalise(pixels, lo, hi))
    sums = np.zeros(4)
    pc1 = rsei.pc1_planes(planes, lo, hi, res, sums)
    ref = pc1_scores(normalise(pixels, lo, hi), res)
    assert pc1.dtype == np.float64 and pc1.shape == planes.shape[1:]
    assert np.isnan(pc1[~valid]).all()
    np.testing.assert_allclose(pc1[valid], ref, rtol=0, atol=1e-14)
    np.testing.assert_allclose(sums, normalise(pixels, lo, hi).sum(axis=0), rtol=1e-13)
    assert ((normalise(pixels, lo, hi) == 0) | (normalise(pixels, lo, hi) == 1)).any(axis=0).all()


def test_grade_equals_digitize_on_random_and_boundary_values():
    """grade = np.digitize(v, breaks, right=True) + 1 (upper-inclusive, the seed's section 4.1), NaN -> 0, for
    float32 and float64, values exactly on, just below and just above every break, and +-inf."""
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        b = np.array(rsei.GRADE_BREAKS, dtype=dtype)
        v = np.concatenate([rng.random(5000).astype(dtype), b, np.nextafter(b, dtype(0)), np.nextafter(b, dtype(1)),
                            np.array([-np.inf, np.inf, 0, 1, -0.5, 1.5], dtype=dtype)])
        expected = np.digitize(v, b, right=True) + 1
        np.testing.assert_array_equal(grade(v), expected)
        v[::7] = np.nan
        expected[::7] = 0
        np.testing.assert_array_equal(grade(v.reshape(-1, 1)).ravel(), expected)


def test_grade_counts_equals_weighted_bincount():
    """grade_counts (per-row counts x row area) = np.bincount with every pixel weighted by its row's area (the
    reference), for geographic-like areas varying by row and for a constant projected area."""
    rng = np.random.default_rng(9)
    g = rng.integers(0, 6, size=(37, 45)).astype(np.uint8)
    for areas in (np.linspace(700.0, 950.0, 37)[:, None], np.full((37, 1), 900.0)):
        counts, area = rsei.grade_counts(g, areas)
        np.testing.assert_array_equal(counts, np.bincount(g.ravel(), minlength=6))
        ref = np.bincount(g.ravel(), weights=np.broadcast_to(areas, g.shape).ravel(), minlength=6)
        np.testing.assert_allclose(area, ref, rtol=1e-12)
    assert counts.sum() == g.size
    with pytest.raises(ValueError):
        rsei.grade_counts(g + 1, areas)                                 # code 6 > 5 grades


def test_histogram_equals_numpy_histogram_at_bin_edges():
    """histogram = np.histogram (the reference) of the finite values, for float32 and float64 values lying exactly
    on, just below and just above every edge of 20 bins on [0, 1], the ends, and values outside the range."""
    rng = np.random.default_rng(4)
    edges = np.linspace(0.0, 1.0, 21)
    for dtype in (np.float32, np.float64):
        e = edges.astype(dtype)
        v = np.concatenate([rng.random(20000).astype(dtype), e, np.nextafter(e, dtype(-1)), np.nextafter(e, dtype(2)),
                            np.array([np.nan, np.inf, -np.inf, -0.1, 1.1], dtype=dtype)])
        ref, ref_edges = np.histogram(v[np.isfinite(v)].astype(np.float64), bins=20, range=(0.0, 1.0))
        got, got_edges = histogram(v.reshape(4, -1))
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_array_equal(got_edges, ref_edges)
        assert got.dtype == np.int64
    for bins, lo, hi in [(7, -2.0, 3.0), (1, 0.0, 1.0), (13, 0.1, 0.7), (100, 0.0, 1.0)]:
        for v in (rng.normal(0.5, 2.0, 5000), rng.random(5000).astype(np.float32)):
            v = np.concatenate([v, np.linspace(lo, hi, bins + 1).astype(v.dtype)])
            ref = np.histogram(v.astype(np.float64), bins, (lo, hi))[0]
            np.testing.assert_array_equal(histogram(v, bins, (lo, hi))[0], ref)
    assert histogram(np.array([], dtype=np.float32))[0].sum() == 0
    with pytest.raises(ValueError):
        histogram(v, 0)


# --------------------------------------------------------------------------- block passes (issue 12)
def _ctx(width, height, xoff, yoff, xsize, ysize):
    from mining_eco_plugin.raster.engine import Grid, Window
    from mining_eco_plugin.raster.executor import BlockContext
    from osgeo import osr
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32632)
    grid = Grid(width, height, (500000.0, 30.0, 0.0, 5600000.0, 0.0, -30.0), srs.ExportToWkt())
    return BlockContext(grid, Window(xoff, yoff, xsize, ysize))


def test_pass_1_statistics_do_not_depend_on_the_blocks_nor_their_combining_order():
    """components_block on one block, and on six blocks combined in another order, give the same min / max,
    counts, water pixels and PCA sample (to the last bit), and the same masked components."""
    from mining_eco_plugin.raster.executor import tree_reduce
    rng = np.random.default_rng(4)
    h, w = 30, 40
    data = {n: rng.random((h, w)).astype(np.float32) for n in COMPONENTS}
    data["NDVI"][rng.random((h, w)) < 0.1] = np.nan
    data["MNDWI"] = rng.uniform(-1, 1, (h, w)).astype(np.float32)
    whole, ref = rsei.components_block({k: v.copy() for k, v in data.items()}, _ctx(w, h, 0, 0, w, h), 0.5, 300, 9)
    parts, planes = [], np.empty((4, h, w), np.float32)
    for y0, x0, ys, xs in [(0, 0, 10, 25), (0, 25, 10, 15), (10, 0, 20, 7), (10, 7, 20, 33)][::-1]:
        block = {k: v[y0:y0 + ys, x0:x0 + xs].copy() for k, v in data.items()}
        out, part = rsei.components_block(block, _ctx(w, h, x0, y0, xs, ys), 0.5, 300, 9)
        planes[:, y0:y0 + ys, x0:x0 + xs] = out["COMPONENTS"]
        parts.append(part)
    got = tree_reduce(parts, rsei.combine_statistics)
    np.testing.assert_array_equal(planes, whole["COMPONENTS"])
    np.testing.assert_array_equal(got.minmax.minimum, ref.minmax.minimum)
    np.testing.assert_array_equal(got.minmax.maximum, ref.minmax.maximum)
    np.testing.assert_array_equal(got.minmax.count, ref.minmax.count)
    np.testing.assert_array_equal(got.finite, ref.finite)
    assert got.water == ref.water == int(np.count_nonzero(data["MNDWI"] > 0.5))
    assert 0 < len(got.sample) < h * w
    np.testing.assert_array_equal(got.sample.array(), ref.sample.array())
    np.testing.assert_array_equal(got.sample.indices(), ref.sample.indices())


def test_pass_2_and_3_partials_add_up_in_block_order():
    """pc1_range and rsei_totals add the blocks' float sums in block order: the same floats as one running sum."""
    x = _correlated(600).reshape(20, 30, 4).transpose(2, 0, 1).astype(np.float32)
    lo, hi = x.reshape(4, -1).min(axis=1).astype(np.float64), x.reshape(4, -1).max(axis=1).astype(np.float64)
    result = pca(normalise(x.reshape(4, -1).T, lo, hi))
    data = [{n: x[j, r:r + 5] for j, n in enumerate(COMPONENTS)} for r in range(0, 20, 5)]
    parts = sum((rsei.pc1_range_block(d, _ctx(30, 20, 0, 5 * i, 30, 5), lo, hi, result)[1]
                 for i, d in enumerate(data)), [])
    pc_lo, pc_hi, means, n = rsei.pc1_range(parts)
    pc1 = rsei.pc1_planes(x, lo, hi, result)
    assert (pc_lo, pc_hi, n) == (pc1.min(), pc1.max(), 600)
    np.testing.assert_allclose(means, normalise(x.reshape(4, -1).T, lo, hi).mean(axis=0), rtol=1e-12)
    running = 0.0
    third = []
    for i, d in enumerate(data):
        blocks, part = rsei.rsei_block(d, _ctx(30, 20, 0, 5 * i, 30, 5), lo, hi, result, pc_lo, pc_hi)
        running += float(np.nansum(blocks["OUTPUT"], dtype=np.float64))
        third += part
    hist, total, counts, areas = rsei.rsei_totals(third)
    assert total == running and hist.sum() == 600 and counts[1:].sum() == 600
    assert areas[1:].sum() == pytest.approx(600 * 900.0)


def test_radiometry_check_fresh_keeps_the_scene_mean_lst_apart():
    """Each block's copy of the scene check sums only its own LST; added back in block order they give the mean."""
    from mining_eco_plugin.core.plausibility import RadiometryCheck
    scene = RadiometryCheck("L2")
    blocks = [np.array([10.0, np.nan, 20.0]), np.array([31.5]), np.array([np.nan])]
    parts = []
    for b in blocks:
        check = scene.fresh()
        check.add_lst(b)
        parts.append(check.tally())
    assert scene.lst_count == 0
    for part in parts:
        scene.add_tally(part)
    assert (scene.lst_sum, scene.lst_count) == (61.5, 3) and scene.mean_lst == 20.5
