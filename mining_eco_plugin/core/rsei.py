"""Remote Sensing Ecological Index (RSEI): block-wise statistics, PCA, rescaling, grades.

Pure numpy: no file I/O, no qgis import.

Source: Xu H. (2013) "A remote sensing urban ecological index and its application",
Acta Ecologica Sinica 33(24); as used in the Ningdong seed (RSEI, EG index and
Geodetector, section 3.1, eqs. 12-13; grades in section 4.1).

RSEI combines four components, each normalised to [0, 1] with its min/max over the
study area (eq. 12)::

    I_N = (I - I_min) / (I_max - I_min)

    greenness NDVI, wetness WET  -> good for ecology
    dryness NDBSI, heat LST      -> bad for ecology

The normalised components are combined by principal component analysis; the first
principal component PC1 is rescaled to [0, 1] with its own min/max (eq. 13)::

    RSEI = (PC1 - PC1_min) / (PC1_max - PC1_min)

The sign of a principal component is arbitrary.  Xu (2013) computes RSEI_0 = 1 - PC1
when PC1 comes out with NDVI/WET loadings negative; here PC1 is oriented instead so
that the loadings of the "positive" components (NDVI, WET) sum to > 0, which gives the
same ranking (higher RSEI = better ecology) without a separate inversion step.

The seed leaves the PCA flavour implicit (GEE / ENVI-style covariance PCA on the
normalised bands); this module uses the covariance matrix (ddof=1) of the normalised,
mean-centred sample, identical to scikit-learn's ``PCA`` (``explained_variance_``).
PC1 scores are centred on the sample mean; the centring cancels in eq. 13.

Large rasters are processed block by block in passes (block passes of raster/executor.py; the functions
ending in ``_block`` are their ``compute``, each block's partial result is combined with the others'):

1. for each block compute the components as planes ``(k, rows, cols)`` (:func:`components_block`,
   :func:`scene_components_block`), :func:`mask_invalid` (a pixel counts only when all k components are
   finite), a :class:`RunningMinMax` (exact min/max over every valid pixel,
   :meth:`~RunningMinMax.update_planes`) and the pixels chosen by :func:`block_sample_mask` in a
   :class:`SampleCollector` (:meth:`~SampleCollector.add_planes`), combined by :func:`combine_statistics`;
   the components are kept in a scratch raster for the next passes;
2. :func:`normalisation_bounds`, :func:`normalise` the sample, :func:`pca`;
3. for each block :func:`pc1_planes` (normalise + PC1 per plane) and its PC1 min/max (:func:`pc1_range_block`,
   :func:`pc1_range`);
4. for each block :func:`rescale` (eq. 13), :func:`grade`, :func:`histogram` (:func:`rsei_block`,
   :func:`rsei_totals`).

Sums of floats over blocks (component means, mean RSEI, grade areas, the scene's mean LST) are kept per block
and added in block order at the end, so that they do not depend on how the blocks were computed.

The plane functions give the same numbers as the pixel-wise ones (:func:`normalise`,
:func:`pc1_scores` on ``(n, k)`` arrays) up to the order of the float64 summation
over the k components (a few 1e-16), without the ``(n, k)`` float64 copies.

The sample is chosen by a hash of the *global* pixel index, and the collector returns
it sorted by that index, so every statistic (min/max, sample, PCA) is bit-for-bit
independent of the block (tile) size and of the block order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .scene import BlockProducts

__all__ = [
    "COMPONENTS",
    "GRADE_BREAKS",
    "GRADE_LABELS",
    "PC1_CONTRIBUTION_THRESHOLD",
    "DEFAULT_SAMPLE_SEED",
    "block_sample_mask",
    "sample_probability",
    "RunningMinMax",
    "SampleCollector",
    "mask_invalid",
    "normalisation_bounds",
    "normalise",
    "PcaResult",
    "pca",
    "pc1_scores",
    "pc1_planes",
    "rescale",
    "grade",
    "grade_area_table",
    "grade_counts",
    "histogram",
    "mask_water",
    "ComponentStatistics",
    "component_statistics",
    "components_block",
    "scene_components_block",
    "combine_statistics",
    "pc1_range_block",
    "pc1_range",
    "rsei_block",
    "rsei_totals",
]

#: Component order used throughout (bands of the component stack, PCA columns).
COMPONENTS = ("NDVI", "WET", "NDBSI", "LST")
#: Upper-inclusive class limits of the five RSEI grades (Ningdong seed, section 4.1):
#: worst [0, 0.2], poor (0.2, 0.4], moderate (0.4, 0.6], good (0.6, 0.8], excellent (0.8, 1].
GRADE_BREAKS = (0.2, 0.4, 0.6, 0.8)
GRADE_LABELS = ("Worst", "Poor", "Moderate", "Good", "Excellent")
#: PC1 variance contribution usually required for RSEI to be meaningful (seed, section 3.1: 60 %).
PC1_CONTRIBUTION_THRESHOLD = 0.60
DEFAULT_SAMPLE_SEED = 20130707

_U64 = np.uint64
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


# --------------------------------------------------------------------------- sampling
def _splitmix64_scalar(x: int) -> int:
    """splitmix64 of a Python int (exact 64-bit arithmetic)."""
    z = (x + _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def _splitmix64_array(x: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 finaliser on a uint64 array (wrap-around arithmetic, in place)."""
    with np.errstate(over="ignore"):
        x += _U64(_GOLDEN)
        x ^= x >> _U64(30)
        x *= _U64(_MIX1)
        x ^= x >> _U64(27)
        x *= _U64(_MIX2)
        x ^= x >> _U64(31)
    return x


def block_sample_mask(
    row_off: int,
    col_off: int,
    shape: tuple[int, int],
    raster_width: int,
    probability: float,
    seed: int = DEFAULT_SAMPLE_SEED,
) -> np.ndarray:
    """Boolean mask of the pixels of a block that belong to the statistics sample.

    Pixel (row, col) of the raster is in the sample when
    ``splitmix64(row * raster_width + col  XOR  splitmix64(seed)) / 2**64 < probability``
    (top 53 bits compared, so the decision is exact).  The decision depends only on the
    global pixel index and ``seed``, never on the block layout, so the same pixels are
    chosen whatever the tile size.  ``probability >= 1`` selects every pixel,
    ``probability <= 0`` none.

    :param row_off, col_off: global offset of the block's top-left pixel.
    :param shape: ``(rows, cols)`` of the block.
    :param raster_width: number of columns of the full raster.
    """
    rows, cols = int(shape[0]), int(shape[1])
    if rows < 0 or cols < 0:
        raise ValueError(f"invalid block shape {shape!r}")
    if row_off < 0 or col_off < 0:
        raise ValueError("block offsets must be >= 0")
    if col_off + cols > raster_width:
        raise ValueError(
            f"block columns {col_off}..{col_off + cols} exceed the raster width {raster_width}"
        )
    if not np.isfinite(probability) and probability != np.inf:
        raise ValueError("sample probability must be a number")
    if probability >= 1.0:
        return np.ones((rows, cols), dtype=bool)
    if probability <= 0.0:
        return np.zeros((rows, cols), dtype=bool)

    key = _splitmix64_scalar(int(seed) & _MASK64)
    r = np.arange(row_off, row_off + rows, dtype=_U64) * _U64(raster_width)
    c = np.arange(col_off, col_off + cols, dtype=_U64)
    idx = r[:, None] + c[None, :]
    idx ^= _U64(key)
    h = _splitmix64_array(idx)
    threshold = int(probability * (1 << 53))  # probability in (0, 1) -> [0, 2**53)
    return (h >> _U64(11)) < _U64(threshold)


def sample_probability(n_pixels: int, target: int = 200_000) -> float:
    """Sampling probability giving about ``target`` sampled pixels: ``min(1, target / n_pixels)``."""
    if target <= 0:
        raise ValueError("target sample size must be > 0")
    if n_pixels <= 0:
        return 1.0
    return min(1.0, float(target) / float(n_pixels))


# --------------------------------------------------------------------------- accumulators
class RunningMinMax:
    """Per-column minimum / maximum / valid count accumulated over blocks.

    Non-finite values (NaN, +-inf: nodata or division by zero in an index) are ignored.
    ``minimum`` / ``maximum`` are NaN for a column that has seen no valid value.
    The result is exact and independent of how the pixels are split into blocks.
    """

    def __init__(self, k: int):
        if k < 1:
            raise ValueError("k must be >= 1")
        self.k = int(k)
        self._min = np.full(self.k, np.inf)
        self._max = np.full(self.k, -np.inf)
        self.count = np.zeros(self.k, dtype=np.int64)

    def update(self, values: np.ndarray) -> None:
        """Add ``values`` of shape ``(n, k)`` (or ``(..., k)``; ``(n,)`` when k == 1)."""
        v = np.asarray(values, dtype=np.float64)
        if self.k == 1 and v.ndim == 1:
            v = v[:, None]
        if v.shape[-1] != self.k:
            raise ValueError(f"expected {self.k} columns, got array of shape {v.shape}")
        v = v.reshape(-1, self.k)
        if v.shape[0] == 0:
            return
        finite = np.isfinite(v)
        self.count += finite.sum(axis=0)
        self._min = np.minimum(self._min, np.where(finite, v, np.inf).min(axis=0))
        self._max = np.maximum(self._max, np.where(finite, v, -np.inf).max(axis=0))

    def update_planes(self, planes: np.ndarray) -> None:
        """Add a block given as ``k`` planes, shape ``(k, ...)`` (one plane per column).

        Same result as :meth:`update` on the pixel-wise ``(n, k)`` array, without the copy:
        NaN-ignoring reductions per plane (``+-inf`` are ignored too, as in :meth:`update`).
        """
        p = np.asarray(planes)
        if p.shape[0] != self.k:
            raise ValueError(f"expected {self.k} planes, got array of shape {p.shape}")
        for j in range(self.k):
            plane = p[j]
            n = int(np.count_nonzero(np.isfinite(plane)))
            if n == 0:
                continue
            lo, hi = float(np.fmin.reduce(plane, axis=None)), float(np.fmax.reduce(plane, axis=None))
            if not (np.isfinite(lo) and np.isfinite(hi)):   # +-inf present: ignore them like update()
                finite = plane[np.isfinite(plane)]
                lo, hi = float(finite.min()), float(finite.max())
            self.count[j] += n
            self._min[j] = min(self._min[j], lo)
            self._max[j] = max(self._max[j], hi)

    def merge(self, other: "RunningMinMax") -> None:
        """Combine with another accumulator (e.g. from a parallel worker)."""
        if other.k != self.k:
            raise ValueError("cannot merge accumulators with different k")
        self.count += other.count
        self._min = np.minimum(self._min, other._min)
        self._max = np.maximum(self._max, other._max)

    @property
    def minimum(self) -> np.ndarray:
        return np.where(self.count > 0, self._min, np.nan)

    @property
    def maximum(self) -> np.ndarray:
        return np.where(self.count > 0, self._max, np.nan)


class SampleCollector:
    """Collects the sampled pixels of every block, in a block-size independent order.

    A pixel is kept when :func:`block_sample_mask` selects it and all its ``k`` values
    are finite.  :meth:`array` returns the rows sorted by global pixel index, so the
    sample (and hence the PCA, to the last bit) does not depend on tiling or block order.
    """

    def __init__(self, k: int, raster_width: int, probability: float,
                 seed: int = DEFAULT_SAMPLE_SEED):
        self.k = int(k)
        self.raster_width = int(raster_width)
        self.probability = float(probability)
        self.seed = int(seed)
        self._index: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def add(self, row_off: int, col_off: int, values: np.ndarray) -> int:
        """Add a block of values with shape ``(rows, cols, k)``; returns the number kept."""
        v = np.asarray(values)
        if v.ndim == 2 and self.k == 1:
            v = v[:, :, None]
        if v.ndim != 3 or v.shape[2] != self.k:
            raise ValueError(f"expected a (rows, cols, {self.k}) block, got shape {v.shape}")
        rows, cols = v.shape[:2]
        mask = block_sample_mask(row_off, col_off, (rows, cols), self.raster_width,
                                 self.probability, self.seed)
        mask &= np.isfinite(v).all(axis=2)
        rr, cc = np.nonzero(mask)
        if rr.size == 0:
            return 0
        gidx = (rr.astype(np.int64) + row_off) * self.raster_width + (cc.astype(np.int64) + col_off)
        self._index.append(gidx)
        self._values.append(np.asarray(v[rr, cc, :], dtype=np.float64))
        return int(rr.size)

    def add_planes(self, row_off: int, col_off: int, planes: np.ndarray, valid: np.ndarray | None = None) -> int:
        """Add a block given as planes ``(k, rows, cols)``; ``valid`` (rows, cols) is the mask of pixels
        with all k values finite (computed when None). Keeps exactly the pixels :meth:`add` keeps."""
        p = np.asarray(planes)
        if p.ndim != 3 or p.shape[0] != self.k:
            raise ValueError(f"expected a ({self.k}, rows, cols) block, got shape {p.shape}")
        rows, cols = p.shape[1:]
        if valid is None:
            valid = np.isfinite(p).all(axis=0)
        mask = block_sample_mask(row_off, col_off, (rows, cols), self.raster_width, self.probability, self.seed)
        mask &= valid
        rr, cc = np.nonzero(mask)
        if rr.size == 0:
            return 0
        self._index.append((rr.astype(np.int64) + row_off) * self.raster_width + (cc.astype(np.int64) + col_off))
        self._values.append(np.asarray(p[:, rr, cc].T, dtype=np.float64))
        return int(rr.size)

    def merge(self, other: "SampleCollector") -> None:
        """Add the pixels of another collector of the same raster (e.g. of another block)."""
        if (other.k, other.raster_width, other.probability, other.seed) != (self.k, self.raster_width,
                                                                            self.probability, self.seed):
            raise ValueError("cannot merge samples of different rasters, probabilities or seeds")
        self._index += other._index
        self._values += other._values

    def __len__(self) -> int:
        return int(sum(i.size for i in self._index))

    def indices(self) -> np.ndarray:
        """Global pixel indices (row * width + col) of the sample, sorted."""
        if not self._index:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate(self._index))

    def array(self) -> np.ndarray:
        """The sample, shape ``(n, k)`` float64, rows sorted by global pixel index."""
        if not self._index:
            return np.zeros((0, self.k), dtype=np.float64)
        idx = np.concatenate(self._index)
        vals = np.concatenate(self._values, axis=0)
        order = np.argsort(idx, kind="stable")
        return vals[order]


def mask_invalid(planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Set every plane of ``planes`` ``(k, rows, cols)`` (float, modified in place) to NaN where any
    component is not finite, so that NaN marks exactly the pixels left out of RSEI.

    Returns ``(valid, finite)``: the (rows, cols) mask of pixels with all k components finite, and
    the number of finite values of each component before masking (int64, shape (k,)).
    """
    finite_planes = [np.isfinite(plane) for plane in planes]
    finite = np.array([np.count_nonzero(f) for f in finite_planes], dtype=np.int64)
    valid = finite_planes[0]
    for f in finite_planes[1:]:
        valid &= f
    if not valid.all():
        planes[:, ~valid] = np.nan
    return valid, finite


# --------------------------------------------------------------------------- normalisation
def _component_name(j: int, k: int) -> str:
    return COMPONENTS[j] if k == len(COMPONENTS) else f"#{j + 1}"


def normalisation_bounds(
    minmax: RunningMinMax, sample: np.ndarray, clip_percent: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Lower / upper bounds used by :func:`normalise` for each component.

    ``clip_percent == 0``: the exact min / max over all valid pixels (eq. 12).
    ``clip_percent > 0``: the ``clip_percent`` and ``100 - clip_percent`` percentiles of
    each sample column (robust to outliers such as hot roofs or cloud residue; values
    outside are clipped to 0 / 1 by :func:`normalise`).  This is an option, not in the seed.

    Raises ``ValueError`` naming the component when it has no valid value or is
    constant (``hi <= lo``), since eq. 12 is then undefined.
    """
    k = minmax.k
    clip = float(clip_percent)
    if not (0.0 <= clip < 50.0):
        raise ValueError(f"clip_percent must be in [0, 50), got {clip_percent}")
    for j in range(k):
        if minmax.count[j] == 0:
            raise ValueError(
                f"component {_component_name(j, k)} has no valid pixel "
                "(all nodata / NaN); check its input bands and masks"
            )
    if clip == 0.0:
        lo = minmax.minimum.astype(np.float64)
        hi = minmax.maximum.astype(np.float64)
    else:
        s = np.asarray(sample, dtype=np.float64).reshape(-1, k)
        if s.shape[0] == 0:
            raise ValueError("the sample is empty; cannot compute percentile bounds")
        lo = np.nanpercentile(s, clip, axis=0)
        hi = np.nanpercentile(s, 100.0 - clip, axis=0)
    for j in range(k):
        if not (hi[j] > lo[j]):
            raise ValueError(
                f"component {_component_name(j, k)} is constant over the valid pixels "
                f"(min = max = {lo[j]:.6g}); it cannot be normalised (eq. 12). "
                "Check its input bands, the scale factors and the mask."
            )
    return lo, hi


def normalise(values: np.ndarray, lo, hi) -> np.ndarray:
    """Eq. 12: ``(x - lo) / (hi - lo)`` clipped to [0, 1]; ``values`` has shape ``(..., k)``.

    NaN stays NaN.  Returns float64.
    """
    v = np.asarray(values, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    out = (v - lo) / (hi - lo)
    np.clip(out, 0.0, 1.0, out=out)
    return out


# --------------------------------------------------------------------------- PCA
@dataclass
class PcaResult:
    """Result of :func:`pca` (all arrays float64)."""

    eigenvalues: np.ndarray      # (k,) descending covariance eigenvalues (ddof=1)
    loadings: np.ndarray         # (k, k) columns = unit eigenvectors (PC1 first), oriented
    explained_ratio: np.ndarray  # (k,) eigenvalue / total variance
    mean: np.ndarray             # (k,) mean of the normalised sample

    @property
    def pc1_contribution(self) -> float:
        """Share of variance carried by PC1 (the seed expects >= 0.60)."""
        return float(self.explained_ratio[0])


def pca(sample: np.ndarray, positive: tuple[int, ...] = (0, 1)) -> PcaResult:
    """Principal component analysis of the normalised sample ``(n, k)``.

    Eigen-decomposition (``np.linalg.eigh``) of the covariance matrix with ddof=1 of the
    mean-centred sample; equal to scikit-learn's ``PCA`` (``explained_variance_``,
    ``explained_variance_ratio_``, ``components_`` up to sign).  Rows containing a
    non-finite value are dropped.

    Orientation: each PC is signed so that the sum of its loadings over the ``positive``
    columns (NDVI and WET by default) is > 0; when that sum is 0 the largest-magnitude
    loading is made positive.  Hence higher PC1 = greener / wetter = better ecology
    (replaces Xu's ``1 - PC1`` inversion).

    Raises ``ValueError`` with fewer than ``k + 1`` valid rows or zero total variance.
    """
    s = np.asarray(sample, dtype=np.float64)
    if s.ndim != 2:
        raise ValueError(f"sample must be 2-D (n, k), got shape {s.shape}")
    n_all, k = s.shape
    s = s[np.isfinite(s).all(axis=1)]
    n = s.shape[0]
    if n < k + 1:
        raise ValueError(
            f"PCA needs at least {k + 1} valid sample pixels, got {n} (of {n_all}); "
            "the valid area is too small or the sample probability too low"
        )
    for p in positive:
        if not -k <= p < k:
            raise ValueError(f"positive column {p} out of range for k={k}")
    mean = s.mean(axis=0)
    x = s - mean
    cov = (x.T @ x) / (n - 1)
    cov = (cov + cov.T) / 2.0
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1]
    w = np.clip(w[order], 0.0, None)
    v = v[:, order].copy()
    total = w.sum()
    if not total > 0:
        raise ValueError("the normalised sample has zero variance; PCA is undefined")
    pos = list(positive)
    for j in range(k):
        col = v[:, j]
        ref = col[pos].sum() if pos else 0.0
        if abs(ref) <= 1e-12:
            ref = col[np.argmax(np.abs(col))]
        if ref < 0:
            v[:, j] = -col
    return PcaResult(eigenvalues=w, loadings=v, explained_ratio=w / total, mean=mean)


def pc1_scores(normalised: np.ndarray, result: PcaResult) -> np.ndarray:
    """PC1 score of every pixel: ``(normalised - mean) @ loadings[:, 0]``; shape ``(...)``.

    A pixel with any NaN component gets NaN.
    """
    x = np.asarray(normalised, dtype=np.float64)
    return (x - result.mean) @ result.loadings[:, 0]


def pc1_planes(planes: np.ndarray, lo, hi, result: PcaResult, sums: np.ndarray | None = None) -> np.ndarray:
    """:func:`normalise` then :func:`pc1_scores` of a block given as planes ``(k, ...)``; float64 ``(...)``.

    ``sum_j loadings[j, 0] * (clip((x_j - lo_j) / (hi_j - lo_j), 0, 1) - mean_j)`` computed plane by
    plane in float64: equal to the pixel-wise functions up to the summation order of the k terms.
    NaN in any component gives NaN. When ``sums`` (float64, shape (k,)) is given, the sum of each
    normalised component over the pixels where it is not NaN is added to it.
    """
    p = np.asarray(planes)
    k = p.shape[0]
    lo = np.asarray(lo, dtype=np.float64)
    span = np.asarray(hi, dtype=np.float64) - lo
    load = result.loadings[:, 0]
    acc = np.zeros(p.shape[1:], dtype=np.float64)
    tmp = np.empty(p.shape[1:], dtype=np.float64)
    for j in range(k):
        np.subtract(p[j], lo[j], out=tmp, dtype=np.float64)
        tmp /= span[j]
        np.clip(tmp, 0.0, 1.0, out=tmp)
        if sums is not None:
            sums[j] += float(np.nansum(tmp))
        tmp -= result.mean[j]
        tmp *= load[j]
        acc += tmp
    return acc


def rescale(pc1, lo: float, hi: float) -> np.ndarray:
    """Eq. 13: ``RSEI = (PC1 - PC1_min) / (PC1_max - PC1_min)``, clipped to [0, 1].

    ``lo`` / ``hi`` are the exact PC1 min / max over all valid pixels (clipping only
    removes round-off).  NaN stays NaN.
    """
    lo = float(lo)
    hi = float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)) or not hi > lo:
        raise ValueError(f"PC1 is constant or undefined (min {lo}, max {hi}); RSEI cannot be rescaled")
    out = (np.asarray(pc1, dtype=np.float64) - lo) / (hi - lo)
    np.clip(out, 0.0, 1.0, out=out)
    return out


# --------------------------------------------------------------------------- grades & tables
def grade(rsei: np.ndarray, breaks=GRADE_BREAKS) -> np.ndarray:
    """Grade code (uint8) ``1 .. len(breaks) + 1``; 0 where NaN (nodata).

    Intervals are upper-inclusive as in the seed (section 4.1): with the default breaks
    ``[.., 0.2] -> 1 Worst, (0.2, 0.4] -> 2 Poor, (0.4, 0.6] -> 3 Moderate,
    (0.6, 0.8] -> 4 Good, (0.8, ..] -> 5 Excellent``.
    For float32 input the breaks are compared in float32 so that a stored 0.2 is graded 1.
    """
    v = np.asarray(rsei)
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    b = np.asarray(breaks, dtype=v.dtype)
    if b.ndim != 1 or b.size == 0:
        raise ValueError("breaks must be a non-empty 1-D sequence")
    if np.any(np.diff(b) <= 0):
        raise ValueError(f"breaks must be strictly increasing, got {tuple(breaks)}")
    if b.size + 1 > 255:
        raise ValueError("too many grades for uint8")
    # 1 + the number of breaks strictly below v (= searchsorted(b, v, side="left") + 1), one comparison per
    # break instead of a binary search per pixel
    out = np.ones(v.shape, dtype=np.uint8)
    for limit in b:
        out += v > limit
    out[np.isnan(v)] = 0
    return out


def grade_area_table(counts: np.ndarray, pixel_area_m2: float, labels=GRADE_LABELS) -> list[dict]:
    """Area per grade.

    ``counts`` holds the pixel count of each grade, either ``len(labels)`` values
    (grades 1..n) or ``len(labels) + 1`` values where index 0 is the nodata count (as
    from ``np.bincount(grade_codes, minlength=n + 1)``), which is left out.

    Returns rows ``{"grade", "label", "pixels", "area_km2", "percent"}``; ``percent`` is
    the share of the graded (valid) area and sums to 100 (0 everywhere if empty).
    """
    c = np.asarray(counts).ravel()
    n = len(labels)
    if c.size == n + 1:
        c = c[1:]
    elif c.size != n:
        raise ValueError(f"expected {n} or {n + 1} counts for {n} grades, got {c.size}")
    if np.any(c < 0):
        raise ValueError("pixel counts must be >= 0")
    area = float(pixel_area_m2)
    if not area > 0:
        raise ValueError("pixel area must be > 0")
    total = float(c.sum())
    rows = []
    for i in range(n):
        px = int(c[i])
        rows.append({
            "grade": i + 1,
            "label": str(labels[i]),
            "pixels": px,
            "area_km2": px * area / 1e6,
            "percent": (100.0 * px / total) if total > 0 else 0.0,
        })
    return rows


def grade_counts(grades: np.ndarray, row_areas, n_grades: int = len(GRADE_LABELS)) -> tuple[np.ndarray, np.ndarray]:
    """Pixel count and area of each grade code ``0 .. n_grades`` in a block of grade codes ``(rows, cols)`` (codes
    above ``n_grades`` are a ValueError).

    ``row_areas`` holds the pixel area of each row (shape (rows,) or (rows, 1); constant for a projected grid,
    varying with latitude for a geographic one). Returns ``(counts int64, areas float64)``, both of length
    ``n_grades + 1`` (index 0 = nodata): per-row counts times the row's area, summed over the rows.
    """
    g = np.asarray(grades)
    rows = g.shape[0]
    m = n_grades + 1
    if g.size and int(g.max()) > n_grades:
        raise ValueError(f"grade codes must be 0 .. {n_grades}, got {int(g.max())}")
    offsets = (np.arange(rows, dtype=np.intp) * m)[:, None]
    per_row = np.bincount((g + offsets).ravel(), minlength=rows * m).reshape(rows, m)
    area = np.asarray(row_areas, dtype=np.float64).reshape(rows)
    return per_row.sum(axis=0), area @ per_row


def histogram(values, bins: int = 20, range=(0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:  # noqa: A002
    """Histogram with fixed ``bins`` / ``range`` so that counts of blocks can be summed.

    Non-finite values and values outside ``range`` are ignored (the last bin includes
    the upper edge, as ``np.histogram``).  Returns ``(counts int64, edges float64)``.
    """
    lo, hi = float(range[0]), float(range[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo) or int(bins) < 1:
        raise ValueError(f"histogram needs bins >= 1 and a finite range with max > min, got {bins}, {range}")
    bins = int(bins)
    edges = np.linspace(lo, hi, bins + 1)
    v = np.asarray(values).ravel()
    if v.dtype.kind != "f":
        v = v.astype(np.float64)
    if bins > 64:
        v = v[np.isfinite(v)].astype(np.float64)
        return np.histogram(v, bins=bins, range=(lo, hi))[0].astype(np.int64), edges
    # few bins: count the values at or above each lower edge (and above the upper end) with one comparison per
    # edge; a bin's count is the difference of two neighbours. The limits are taken in the values' own type,
    # rounded so that each comparison equals the float64 one np.histogram makes (float32 data stays float32).
    lower = edges[:-1].astype(v.dtype)
    below = lower.astype(np.float64) < edges[:-1]
    lower[below] = np.nextafter(lower[below], v.dtype.type(np.inf))
    upper = v.dtype.type(hi)
    if float(upper) > hi:
        upper = np.nextafter(upper, v.dtype.type(-np.inf))
    at_or_above = np.array([np.count_nonzero(v >= e) for e in lower] + [np.count_nonzero(v > upper)], dtype=np.int64)
    return at_or_above[:-1] - at_or_above[1:], edges


# --------------------------------------------------------------------------- block passes
def mask_water(planes: np.ndarray, mndwi, threshold: float):
    """Set the components (planes ``(k, rows, cols)``) of water pixels (MNDWI > ``threshold``) to NaN in place;
    the water mask, or None without ``mndwi``."""
    if mndwi is None:
        return None
    with np.errstate(invalid="ignore"):
        water = mndwi > threshold
    planes[:, water] = np.nan
    return water


@dataclass
class ComponentStatistics:
    """Pass 1's partial result: exact min / max, the PCA sample, water pixels, finite values of each component
    (before masking) and the scene check's LST (sum, count) of each block, in block order."""
    minmax: RunningMinMax
    sample: SampleCollector
    water: int = 0
    finite: np.ndarray = field(default_factory=lambda: np.zeros(len(COMPONENTS), dtype=np.int64))
    lst: list = field(default_factory=list)


def component_statistics(planes: np.ndarray, water, ctx, target: int, seed: int, lst=None):
    """Pass 1 on one block of components ``(k, rows, cols)`` (masked in place by :func:`mask_invalid`):
    ``({"COMPONENTS": planes}, ComponentStatistics)``. ``ctx``: the block's grid and window; the sample
    probability comes from the grid's size and ``target`` (:func:`sample_probability`), so it is the same in
    every block."""
    k = planes.shape[0]
    valid, finite = mask_invalid(planes)
    minmax = RunningMinMax(k)
    minmax.update_planes(planes)
    grid, w = ctx.grid, ctx.window
    sample = SampleCollector(k, grid.width, sample_probability(grid.width * grid.height, target), seed)
    sample.add_planes(w.yoff, w.xoff, planes, valid)
    stats = ComponentStatistics(minmax, sample, int(np.count_nonzero(water)) if water is not None else 0, finite,
                                [] if lst is None else [lst])
    return {"COMPONENTS": planes}, stats


def components_block(data, ctx, threshold: float, target: int, seed: int):
    """Pass 1 of RSEI from component rasters: ``data`` holds each of :data:`COMPONENTS` (and optionally "MNDWI")
    as float32 with NaN for nodata."""
    planes = np.stack([data[n] for n in COMPONENTS])
    return component_statistics(planes, mask_water(planes, data.get("MNDWI"), threshold), ctx, target, seed)


def scene_components_block(data, ctx, radiometry, check, water: bool, threshold: float, target: int, seed: int):
    """Pass 1 of RSEI from a scene: ``data`` is ``(raw bands, QA block or None)`` (scene.read_scene);
    the components from ``scene.BlockProducts``, water (MNDWI > ``threshold``) masked when ``water``. ``check``
    (a plausibility.RadiometryCheck or None) checks the block; its LST sum goes into the partial result."""
    check = check.fresh() if check is not None else None
    block = BlockProducts(data[0], radiometry, data[1], check)
    planes = np.stack([block.get(n) for n in COMPONENTS])
    mask = mask_water(planes, block.index("MNDWI") if water else None, threshold)
    return component_statistics(planes, mask, ctx, target, seed, check.tally() if check is not None else None)


def combine_statistics(a: ComponentStatistics, b: ComponentStatistics) -> ComponentStatistics:
    """Two partial results of pass 1 together (``a`` before ``b`` in block order); neither is changed."""
    minmax = RunningMinMax(a.minmax.k)
    minmax.merge(a.minmax)
    minmax.merge(b.minmax)
    sample = SampleCollector(a.sample.k, a.sample.raster_width, a.sample.probability, a.sample.seed)
    sample.merge(a.sample)
    sample.merge(b.sample)
    return ComponentStatistics(minmax, sample, a.water + b.water, a.finite + b.finite, a.lst + b.lst)


def _planes(data) -> np.ndarray:
    return np.stack([data[n] for n in COMPONENTS])


def pc1_range_block(data, ctx, lo, hi, result: PcaResult):
    """Pass 2 on one block of the (masked) components: no raster; the partial result is a list holding the
    block's ``(PC1 min, PC1 max, sum of each normalised component (k,), valid pixels)``, empty when the block
    has no valid pixel. Lists add up in block order (``executor.add``)."""
    sums = np.zeros(len(COMPONENTS))
    pc1 = pc1_planes(_planes(data), lo, hi, result, sums)
    n = int(np.count_nonzero(np.isfinite(pc1)))
    if not n:
        return {}, []
    return {}, [(float(np.fmin.reduce(pc1, axis=None)), float(np.fmax.reduce(pc1, axis=None)), sums, n)]


def pc1_range(parts) -> tuple[float, float, np.ndarray, int]:
    """(PC1 min, PC1 max, mean of each normalised component (k,), valid pixels) from pass 2's blocks."""
    pc_lo, pc_hi = np.inf, -np.inf
    total, n_valid = np.zeros(len(COMPONENTS)), 0
    for block_lo, block_hi, sums, n in parts or ():
        pc_lo, pc_hi = min(pc_lo, block_lo), max(pc_hi, block_hi)
        total += sums
        n_valid += n
    return pc_lo, pc_hi, total / max(n_valid, 1), n_valid


def rsei_block(data, ctx, lo, hi, result: PcaResult, pc_lo: float, pc_hi: float, n_grades: int = len(GRADE_LABELS)):
    """Pass 3 on one block of the (masked) components: ``{"OUTPUT": RSEI float32, "OUTPUT_GRADES": grade codes}``
    and a list holding the block's ``(histogram, RSEI sum, pixels per grade, area per grade)``."""
    rsei = rescale(pc1_planes(_planes(data), lo, hi, result), pc_lo, pc_hi).astype(np.float32)
    g = grade(rsei)
    counts, areas = grade_counts(g, ctx.row_areas_m2(), n_grades)
    return ({"OUTPUT": rsei, "OUTPUT_GRADES": g},
            [(histogram(rsei)[0], float(np.nansum(rsei, dtype=np.float64)), counts, areas)])


def rsei_totals(parts, n_grades: int = len(GRADE_LABELS)):
    """(histogram, RSEI sum, pixels per grade, area per grade) from pass 3's blocks, added in block order."""
    hist = np.zeros(20, dtype=np.int64)
    counts, areas = np.zeros(n_grades + 1, dtype=np.int64), np.zeros(n_grades + 1)
    rsei_sum = 0.0
    for block_hist, block_sum, block_counts, block_areas in parts or ():
        hist += block_hist
        rsei_sum += block_sum
        counts += block_counts
        areas += block_areas
    return hist, rsei_sum, counts, areas
