"""Geodetector: factor, interaction, risk and ecological detectors, and discretisation of X.

Pure numpy / scipy. ``y`` is a 1-D float array (the dependent variable, e.g. RSEI), ``x`` a 1-D
array of stratum labels (any hashable dtype: ints, strings); continuous X is first cut into
classes with :func:`discretize` (or :func:`optimal_discretization`).

Sources: ningdong seed, section 3.4, eq. 20 and Table 4; Wang J.F. et al. (2010) "Geographical
detectors-based health risk assessment ...", IJGIS 24(1) 107-127; Wang J.F. & Xu C.D. (2017)
"Geodetector: principle and prospective", Acta Geographica Sinica 72(1) 116-134, and their R
package ``geodetector`` (the Python port ``py-geodetector`` 0.2.1 is the test reference)::

    q = 1 - sum_h n_h sigma_h^2 / (N sigma^2) = 1 - SSW / SST                     (eq. 20)

with population variances (sigma_h^2 = SSW_h / n_h, sigma^2 = SST / N), h = 1..L strata.
Significance (Wang, Zhang & Hu 2016, as in the R package): F = (N - L) / (L - 1) * q / (1 - q)
follows a noncentral F(L - 1, N - L; lambda) with

    lambda = [sum_h mean_h^2 - (sum_h sqrt(n_h) mean_h)^2 / N] / s^2

where s^2 is the *sample* variance (ddof = 1) of Y; p = P(F' > F).

The seed's eq. 20 writes the power as ``P_{D,H}``; it is the usual ``q``. Table 4 of the seed
states "independent" as the exact equality q(x1 n x2) = q(x1) + q(x2); with real numbers this is
tested here within an explicit ``tolerance`` (absolute, default 1e-6). The seed's Table 4 rows
overlap (every nonlinear enhancement is also a bilinear one); the usual order of Wang & Xu
(2017) is applied: nonlinear weakening, uni-variable weakening, independent, nonlinear
enhancement, bi-variable enhancement.

Natural breaks (Fisher-Jenks) use the optional ``jenkspy`` package when it is importable (no
install is required: the exact numpy programme :func:`_fj_tables` is used otherwise, and for the
optimal search, where one pass gives every k; both give the same breaks, see the unit tests).
Performance: strata statistics are bincounts on integer codes (no per-call sort), overlay strata
are code1 * L2 + code2, and the optimal search bins the samples once for all candidates; 10^6
samples x 8 factors with the optimal search and all detectors take a few seconds
(bench/bench_geodetector.py).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "DISCRETIZATION_METHODS",
    "INTERACTION_TYPES",
    "FactorResult",
    "RiskResult",
    "factor_detector",
    "interaction_detector",
    "interaction_type",
    "risk_detector",
    "ecological_detector",
    "discretize",
    "class_breaks",
    "classify",
    "optimal_discretization",
]

DISCRETIZATION_METHODS = ("equal", "quantile", "natural", "geometric", "std")

NONLINEAR_WEAKEN = "Nonlinear weakening"
UNI_WEAKEN = "Uni-variable weakening"
INDEPENDENT = "Independent"
BI_ENHANCE = "Bi-variable enhancement"
NONLINEAR_ENHANCE = "Nonlinear enhancement"
INTERACTION_TYPES = (NONLINEAR_WEAKEN, UNI_WEAKEN, INDEPENDENT, BI_ENHANCE, NONLINEAR_ENHANCE)


def _as_y(y, name="Y"):
    y = np.asarray(y, dtype=float).ravel()
    if y.size < 2:
        raise ValueError(f"{name}: needs at least 2 values, got {y.size}.")
    lo, hi = y.min(), y.max()  # NaN propagates through min and max
    if np.isnan(lo) or np.isnan(hi):
        raise ValueError(f"{name}: contains NaN / missing values; remove those samples first.")
    if lo == hi:
        raise ValueError(f"{name}: is constant ({float(y[0]):g}); the Geodetector needs a varying Y.")
    return y


def _codes(x, n, name="X"):
    """Stratum codes 0..L-1 of the labels ``x`` (checked: same length as Y, no NaN).

    Integer and boolean labels with a compact range (e.g. class codes) are coded with one
    bincount instead of a sort; the labels and codes are those np.unique gives.
    """
    x = np.asarray(x).ravel()
    if x.size != n:
        raise ValueError(f"{name}: has {x.size} values but Y has {n}; they must be the same samples.")
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise ValueError(f"{name}: contains NaN / missing values; remove those samples first.")
    if x.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in x):
        raise ValueError(f"{name}: contains missing values; remove those samples first.")
    if x.dtype.kind in "iub" and x.size:
        lo, hi = int(x.min()), int(x.max())
        if hi - lo <= 4 * x.size + 1024 and -2 ** 62 < lo and hi < 2 ** 62:
            shifted = x.astype(np.int64) - lo if (lo != 0 or x.dtype.kind != "i") else x
            present = np.flatnonzero(np.bincount(shifted, minlength=hi - lo + 1))
            labels = (present + lo).astype(x.dtype)
            if present.size == hi - lo + 1:  # every label in lo..hi is used
                return labels, (shifted if shifted is not x else x.astype(np.intp, copy=False))
            lut = np.zeros(hi - lo + 1, dtype=np.intp)
            lut[present] = np.arange(present.size)
            return labels, lut[shifted]
    labels, codes = np.unique(x, return_inverse=True)
    return labels, codes.ravel()


def _strata(x, n, name="X"):
    """(codes, counts per code) of the labels ``x`` for the detectors that need no labels.

    Integer / boolean labels with a compact range are shifted to start at 0 and used as codes
    directly (codes of absent labels have count 0 and are dropped by the statistics); other
    labels are coded with np.unique. Raises like :func:`_codes`.
    """
    x = np.asarray(x).ravel()
    if x.dtype.kind in "iub" and x.size == n and x.size:
        lo, hi = int(x.min()), int(x.max())
        if hi - lo <= 4 * x.size + 1024 and -2 ** 62 < lo and hi < 2 ** 62:
            if lo == 0 and x.dtype.kind == "i":
                codes = x.astype(np.intp, copy=False)
            else:
                codes = x.astype(np.intp)
                codes -= lo
            return codes, np.bincount(codes, minlength=hi - lo + 1)
    _, codes = _codes(x, n, name)
    return codes, np.bincount(codes)


def _check_strata(n_strata, n, name):
    if n_strata < 2:
        raise ValueError(f"{name}: has a single stratum; a factor needs at least 2 classes.")
    if n_strata > n / 2:
        raise ValueError(
            f"{name}: has {n_strata} strata for {n} samples (more than N/2); use fewer classes "
            "(discretise the factor, or list it as continuous)."
        )


def _cell_stats(y, codes, counts=None):
    """Per code (absent codes included): counts, sums, means and within sums of squares about
    each code's mean (two passes: the squares are taken about the stratum mean)."""
    if counts is None:
        counts = np.bincount(codes)
    counts = counts.astype(float)
    sums = np.bincount(codes, weights=y, minlength=counts.size)
    means = sums / np.maximum(counts, 1.0)
    dev = np.take(means, codes)  # one temporary, reused for y - mean and its square
    np.subtract(y, dev, out=dev)
    ssw = np.bincount(codes, weights=_sq(dev), minlength=counts.size)
    return counts, sums, means, ssw


def _stratum_stats(y, codes, counts=None):
    """Counts, means and within-stratum sums of squares (about each stratum mean) per stratum."""
    counts, _, means, ssw = _cell_stats(y, codes, counts)
    keep = counts > 0
    return counts[keep], means[keep], ssw[keep]


def _margins(counts, sums, means, ssw, shape):
    """Statistics of the strata of each factor of an overlay, combined from the overlay's cells
    (cell code = code1 * L2 + code2) with the parallel-variance formula
    SS_h = sum_cells [SS_c + n_c (mean_c - mean_h)^2] (Chan, Golub & LeVeque 1979): no pass over
    the samples. Returns [(counts, means, SSW total) of factor 1, same of factor 2]."""
    n, sm, mc, ss = (a.reshape(shape) for a in (counts, sums, means, ssw))
    out = []
    for axis in (1, 0):
        nh = n.sum(axis)
        mh = sm.sum(axis) / np.maximum(nh, 1.0)
        dev = mc - (mh[:, None] if axis == 1 else mh[None, :])
        ssh = float((ss + n * dev * dev).sum())
        keep = nh > 0
        out.append((nh[keep], mh[keep], ssh))
    return out


@dataclass
class FactorResult:
    """Factor detector result: q, its p value and the statistics behind them."""

    q: float
    p: float
    f: float
    lam: float
    n_strata: int
    n: int


def _sq(a):
    """a**2 in place (a is a temporary)."""
    return np.multiply(a, a, out=a)


def _sst(y):
    return float(_sq(y - y.mean()).sum())


def _q_p_stats(counts, means, ssw, sst, n):
    """FactorResult from the non-empty strata's counts and means and the total within SS."""
    n_strata = counts.size
    q = 1.0 - ssw / sst
    s2 = sst / (n - 1)
    lam = (float((means ** 2).sum()) - float((np.sqrt(counts) * means).sum()) ** 2 / n) / s2
    if n_strata < 2 or n - n_strata < 1:
        return FactorResult(q, float("nan"), float("nan"), lam, n_strata, n)
    if q >= 1.0:
        return FactorResult(q, 0.0, float("inf"), lam, n_strata, n)
    f_val = (n - n_strata) * q / ((n_strata - 1) * (1.0 - q))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(stats.ncf.sf(f_val, n_strata - 1, n - n_strata, lam))
    return FactorResult(q, p, f_val, lam, n_strata, n)


def _q_p(y, codes, sst=None, counts=None):
    counts, means, ssw_h = _stratum_stats(y, codes, counts)
    return _q_p_stats(counts, means, float(ssw_h.sum()), _sst(y) if sst is None else sst, y.size)


def factor_detector(y, x, name="X", y_name="Y") -> FactorResult:
    """q of the strata ``x`` on ``y`` (eq. 20) and p from the noncentral F (see module doc).

    Raises ValueError naming the input for: different lengths, NaN, constant Y, a single
    stratum, more strata than N/2.
    """
    y = _as_y(y, y_name)
    codes, counts = _strata(x, y.size, name)
    _check_strata(int(np.count_nonzero(counts)), y.size, name)
    return _q_p(y, codes, counts=counts)


def interaction_type(q1, q2, q12, tolerance=1e-6):
    """Interaction type of Table 4 (ningdong seed; Wang & Xu 2017) for q(x1), q(x2), q(x1 n x2).

    ``tolerance`` (absolute) decides equality: "Independent" when |q12 - (q1 + q2)| <= tolerance.
    """
    lo, hi = min(q1, q2), max(q1, q2)
    if abs(q12 - (q1 + q2)) <= tolerance:
        return INDEPENDENT
    if q12 < lo - tolerance:
        return NONLINEAR_WEAKEN
    if q12 <= hi + tolerance:
        # between min and max (inclusive within tolerance): one factor weakens the other
        return UNI_WEAKEN
    if q12 > q1 + q2:
        return NONLINEAR_ENHANCE
    return BI_ENHANCE


def interaction_detector(y, x1, x2, names=("X1", "X2"), y_name="Y", tolerance=1e-6):
    """q of each factor and of their overlay x1 n x2 (every pair of labels a new stratum).

    Returns a dict: q1, q2, q12, p12 (noncentral F of the overlay, as the factor detector;
    NaN when the overlay leaves no degrees of freedom), n_strata12, type (Table 4).
    The overlay may have one-sample strata; it is not held to the N/2 rule (as in the R package).
    """
    y = _as_y(y, y_name)
    pair = _pair(y, x1, x2, names)
    sst = _sst(y)
    (n1, m1, ss1), (n2, m2, ss2) = pair["margins"]
    r1 = _q_p_stats(n1, m1, ss1, sst, y.size)
    r2 = _q_p_stats(n2, m2, ss2, sst, y.size)
    keep = pair["counts"] > 0
    r12 = _q_p_stats(pair["counts"][keep], pair["means"][keep], float(pair["ssw"][keep].sum()), sst, y.size)
    return {
        "q1": r1.q, "q2": r2.q, "q12": r12.q, "p12": r12.p, "n_strata12": r12.n_strata,
        "type": interaction_type(r1.q, r2.q, r12.q, tolerance),
    }


def _pair(y, x1, x2, names):
    """Checked codes of two factors and the statistics of their overlay: stratum code
    c1 * L2 + c2 (empty combinations are dropped, so the strata and their order are those of
    np.unique of the label pairs); each factor's own strata statistics are combined from the
    overlay's cells (:func:`_margins`)."""
    c1, k1 = _strata(x1, y.size, names[0])
    c2, k2 = _strata(x2, y.size, names[1])
    _check_strata(int(np.count_nonzero(k1)), y.size, names[0])
    _check_strata(int(np.count_nonzero(k2)), y.size, names[1])
    c12 = np.multiply(c1, k2.size)
    c12 += c2
    if k1.size * k2.size > max(4 * y.size, 1 << 22):  # very many label pairs: code the present ones
        _, c12 = np.unique(c12, return_inverse=True)
        counts, _, means, ssw = _cell_stats(y, c12.ravel())
        margins = []
        for c, k in ((c1, k1), (c2, k2)):
            nh, mh, ssh = _stratum_stats(y, c, k)
            margins.append((nh, mh, float(ssh.sum())))
        return {"counts": counts, "means": means, "ssw": ssw, "margins": margins}
    counts, sums, means, ssw = _cell_stats(y, c12, np.bincount(c12, minlength=k1.size * k2.size))
    return {"counts": counts, "means": means, "ssw": ssw,
            "margins": _margins(counts, sums, means, ssw, (k1.size, k2.size))}


@dataclass
class RiskResult:
    """Risk detector: stratum means and pairwise Welch t-tests."""

    labels: list
    counts: list
    means: list
    pairs: list = field(default_factory=list)  # dicts: a, b, t, df, p, significant


def risk_detector(y, x, name="X", y_name="Y", alpha=0.05) -> RiskResult:
    """Mean of Y per stratum and a two-sided Welch t-test for every pair of strata (Wang 2010)::

        t  = (m_a - m_b) / sqrt(s_a^2/n_a + s_b^2/n_b)
        df = (s_a^2/n_a + s_b^2/n_b)^2 / [(s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1)]
        p  = 2 * P(T_df > |t|)

    with sample variances s^2 (ddof = 1). A pair with a one-sample stratum, or with both
    variances zero, has no test: t, df, p are NaN and ``significant`` is False.
    """
    y = _as_y(y, y_name)
    labels, codes = _codes(x, y.size, name)
    _check_strata(labels.size, y.size, name)
    sizes, means, var_n = [], [], []  # per stratum: n, mean, s^2 / n (each taken once)
    for k in range(labels.size):
        g = y[codes == k]
        sizes.append(g.size)
        means.append(g.mean())
        var_n.append(g.var(ddof=1) / g.size if g.size > 1 else float("nan"))
    res = RiskResult([v.item() if hasattr(v, "item") else v for v in labels],
                     [int(n) for n in sizes], [float(m) for m in means])
    for a in range(labels.size):
        for b in range(a + 1, labels.size):
            na, nb = sizes[a], sizes[b]
            t = df = p = float("nan")
            if na > 1 and nb > 1:
                va, vb = var_n[a], var_n[b]
                if va + vb > 0:
                    t = float((means[a] - means[b]) / np.sqrt(va + vb))
                    df = float((va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)))
                    p = float(2.0 * stats.t.sf(abs(t), df))
            res.pairs.append({"a": res.labels[a], "b": res.labels[b], "t": t, "df": df, "p": p,
                              "significant": bool(p == p and p < alpha)})
    return res


def ecological_detector(y, x1, x2, names=("X1", "X2"), y_name="Y"):
    """Does x1 explain Y significantly differently from x2? (Wang et al. 2010; R geodetector)::

        F = [N_x1 (N_x2 - 1) SSW_x1] / [N_x2 (N_x1 - 1) SSW_x2]  ~  F(N_x1 - 1, N_x2 - 1)

    N_x = number of samples, SSW_x = sum of the within-strata sums of squares.
    Returns (F, p) with p = P(F' > F) (upper tail): p < alpha means the within-strata variance
    of x1 is significantly larger than that of x2, i.e. x2 has significantly more power.
    """
    y = _as_y(y, y_name)
    (_, _, ssw1), (_, _, ssw2) = _pair(y, x1, x2, names)["margins"]
    n1 = n2 = y.size
    if ssw2 == 0:
        return float("inf"), 0.0
    f_val = n1 * (n2 - 1) * ssw1 / (n2 * (n1 - 1) * ssw2)
    return f_val, float(stats.f.sf(f_val, n1 - 1, n2 - 1))


# --------------------------------------------------------------------------- discretisation

@functools.lru_cache(maxsize=None)
def _natural_engine():
    """jenkspy's ``jenks_breaks`` when the optional package is importable, else None."""
    try:
        from jenkspy import jenks_breaks
    except Exception:  # not installed (the plugin does not require it) or broken
        return None
    return jenks_breaks


def _fj_input(sorted_values, max_values=4000, seed=0):
    """Distinct values and their counts handed to the Fisher-Jenks DP (those np.unique gives);
    above ``max_values`` distinct values a seeded random sample of them (always keeping min and
    max), as mapclassify's FisherJenksSampled does."""
    flag = np.empty(sorted_values.size, dtype=bool)
    flag[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=flag[1:])
    bounds = np.append(np.flatnonzero(flag), sorted_values.size)  # start of each run, then n
    m = bounds.size - 1
    pick = np.arange(m)
    if m > max_values:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(m, max_values, replace=False))
        pick[0], pick[-1] = 0, m - 1
    return sorted_values[bounds[pick]], bounds[pick + 1] - bounds[pick]


def _fj_backtrack(v, back, k):
    uppers, i = [], v.size
    for j in range(k, 0, -1):
        uppers.append(v[i - 1])
        i = back[j, i]
    return np.array(uppers[::-1], dtype=float)


def _fj_tables(v, w, k_max):
    """Fisher (1958) dynamic programme for 1..k_max classes of the sorted distinct values ``v``
    with counts ``w``: minimum weighted within-class sum of squares; returns the back-pointer
    table (``back[j, i]`` = start of the last of j classes covering v[:i]).

    Each layer is solved by divide and conquer over i: the cost matrix
    C(i, s) = D_{j-1}(s) + SS(v[s:i]) satisfies the quadrangle inequality, so the leftmost optimal
    split is nondecreasing in i and every midpoint i only searches [opt(left), opt(right)]
    (Groenlund et al. 2017, "Fast exact k-means, k-medians and Bregman divergence clustering in
    1D"). All midpoints of one recursion level are evaluated in one vectorised step, so a layer
    costs O(m log m) arithmetic in ~log2(m) numpy passes instead of m Python iterations. The
    result is the same leftmost argmin the plain O(k m^2) programme gives.
    """
    m = v.size
    w = w.astype(float)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cx = np.concatenate([[0.0], np.cumsum(w * v)])
    cxx = np.concatenate([[0.0], np.cumsum(w * v * v)])

    def ssd(i0, i1):  # weighted SS of v[i0:i1] (i0 incl., i1 excl.)
        ww = cw[i1] - cw[i0]
        s = cx[i1] - cx[i0]
        return (cxx[i1] - cxx[i0]) - s * s / ww

    back = np.zeros((k_max + 1, m + 1), dtype=np.int64)
    prev = np.full(m + 1, np.inf)
    prev[1:] = ssd(np.zeros(m, dtype=np.int64), np.arange(1, m + 1))
    for j in range(2, k_max + 1):
        cur = np.full(m + 1, np.inf)
        # intervals of i still to solve, with the range of splits s to search
        ilo, ihi = np.array([j]), np.array([m])
        slo, shi = np.array([j - 1]), np.array([m - 1])
        while ilo.size:
            mid = (ilo + ihi) // 2
            top = np.minimum(shi, mid - 1)
            lens = top - slo + 1
            offs = np.zeros(lens.size, dtype=np.int64)
            np.cumsum(lens[:-1], out=offs[1:])
            seg = np.repeat(np.arange(mid.size), lens)
            pos = np.arange(seg.size)
            s = pos - offs[seg] + slo[seg]
            c = prev[s] + ssd(s, mid[seg])
            best = np.minimum.reduceat(c, offs)
            first = np.minimum.reduceat(np.where(c == best[seg], pos, seg.size), offs)
            opt = s[first]
            cur[mid] = best
            back[j, mid] = opt
            left, right = mid > ilo, mid < ihi
            ilo, ihi = np.concatenate([ilo[left], mid[right] + 1]), np.concatenate([mid[left] - 1, ihi[right]])
            slo, shi = np.concatenate([slo[left], opt[right]]), np.concatenate([opt[left], shi[right]])
        prev = cur
    return back


def _fj_uppers(v, w, ks, engine="auto"):
    """Fisher-Jenks upper class bounds {k: bounds} for every k in ``ks`` of the distinct values
    ``v`` weighted by their counts ``w`` (:func:`_fj_input`); k above the number of values is cut
    to it. ``engine``: "auto" (jenkspy when it is importable and there are no ties, since jenkspy
    takes no weights; else the numpy programme :func:`_fj_tables`), "numpy" or "jenkspy"."""
    jenks = _natural_engine() if engine in ("auto", "jenkspy") else None
    if engine == "jenkspy" and jenks is None:
        raise ValueError("natural breaks: engine 'jenkspy' asked for but jenkspy is not installed.")
    if jenks is not None and (engine == "jenkspy" or bool((w == 1).all())):
        m = v.size
        if not (w == 1).all():
            v = np.repeat(v, w)  # jenkspy has no weights: expand the ties
        return {k: np.asarray(jenks(v, n_classes=min(k, m))[1:], dtype=float) for k in ks}
    back = _fj_tables(v, w, min(max(ks), v.size))
    return {k: _fj_backtrack(v, back, min(k, v.size)) for k in ks}


class _Values:
    """One continuous factor prepared once for many (method, k) breaks: sorted copy, distinct
    values, mean / sd and the natural-breaks tables are computed on first use and kept."""

    def __init__(self, x, name="discretisation"):
        x = np.asarray(x, dtype=float).ravel()
        if np.isnan(x).any():
            raise ValueError(f"{name}: contains NaN / missing values; remove those samples first.")
        self.x = x
        self.lo, self.hi = float(x.min()), float(x.max())
        if self.lo == self.hi:
            raise ValueError(f"{name}: the factor is constant; it cannot be cut into classes.")
        self._sorted = self._fj = self._mean_sd = None
        self._natural, self._quantile = {}, {}

    @property
    def sorted(self):
        if self._sorted is None:
            self._sorted = np.sort(self.x)
        return self._sorted

    def quantiles(self, probs, ks):
        """np.quantile(x, probs), all k in ``ks`` at once (one partition of the sorted copy;
        every quantile is computed on its own, so the values are those of separate calls)."""
        missing = [p for p in probs if p not in self._quantile]
        if missing:
            want = np.unique(np.concatenate([probs] + [np.linspace(0.0, 1.0, kk + 1) for kk in ks]))
            self._quantile.update(zip(want.tolist(), np.quantile(self.sorted, want).tolist()))
        return np.array([self._quantile[p] for p in probs])

    def natural(self, k, ks, engine):
        key = (k, engine)
        if key not in self._natural:
            if self._fj is None:
                self._fj = _fj_input(self.sorted)
            for kk, up in _fj_uppers(*self._fj, sorted(set(ks) | {k}), engine).items():
                self._natural[(kk, engine)] = up
        return self._natural[key]

    def breaks(self, method, k, ks=(), natural_engine="auto"):
        if k < 2:
            raise ValueError(f"discretisation: k must be at least 2, got {k}.")
        lo, hi = self.lo, self.hi
        if method == "equal":
            edges = np.linspace(lo, hi, k + 1)
        elif method == "quantile":
            edges = self.quantiles(np.linspace(0.0, 1.0, k + 1), ks)
        elif method == "natural":
            # the Fisher-Jenks classes are given by their upper bounds, distinct data values in increasing order:
            # the edges are kept as they are, also [min, min, ...] when the optimum makes the minimum a class of
            # its own (np.unique would merge that class into the next one: k classes must stay k)
            return np.concatenate([[lo], self.natural(k, ks, natural_engine)])
        elif method == "geometric":
            shift = 0.0 if lo > 0 else 1.0 - lo
            a, b = lo + shift, hi + shift
            edges = a * (b / a) ** (np.arange(k + 1) / k) - shift
            edges[0], edges[-1] = lo, hi
        elif method == "std":
            if self._mean_sd is None:
                self._mean_sd = float(self.x.mean()), float(self.x.std())
            mean, sd = self._mean_sd
            inner = mean + (np.arange(1, k) - k / 2.0) * sd
            inner = inner[(inner > lo) & (inner < hi)]
            edges = np.concatenate([[lo], inner, [hi]])
        else:
            raise ValueError(f"discretisation: unknown method {method!r}; use one of "
                             f"{', '.join(DISCRETIZATION_METHODS)}.")
        return np.unique(edges)


def class_breaks(x, method="quantile", k=5, natural_engine="auto"):
    """Class edges [min, b_1, ..., b_{k-1}, max] of the continuous values ``x``.

    * equal: k intervals of width (max - min) / k.
    * quantile: edges at the i/k quantiles (numpy's linear interpolation); repeated edges are
      merged, so ties may give fewer classes.
    * natural: Fisher-Jenks natural breaks, the exact optimal partition (Fisher 1958) of the
      distinct values weighted by their counts (a seeded sample of 4000 distinct values above
      that). ``natural_engine``: "auto" uses the ``jenkspy`` package when it is importable and
      the values have no ties (jenkspy takes no weights), else the numpy programme
      :func:`_fj_tables`; "numpy" or "jenkspy" force one. Both give the same breaks (tested).
    * geometric: edges in geometric progression min * r^i, r = (max/min)^(1/k); for min <= 0
      the progression is built on x - min + 1 and shifted back.
    * std: interior edges at mean + (i - k/2) * sd, i = 1..k-1 (sd with ddof = 0), i.e. classes
      one standard deviation wide centred on the mean; edges outside [min, max] are dropped.
    Classes are closed on the right: b_{i-1} < x <= b_i (the first class includes min). Natural breaks keep
    every class of the Fisher-Jenks optimum: when it puts the minimum in a class of its own the edges start
    [min, min, ...] and that first class is the values equal to min (as jenkspy's groups).
    """
    return _Values(x).breaks(method, k, natural_engine=natural_engine)


def _bin_codes(x, lo, hi, edges, grid=1 << 16):
    """np.searchsorted(edges, x, side="left") (edges sorted, x within [lo, hi]) in a few linear
    passes: x is mapped to a uniform grid of ``grid`` cells by the monotone map
    f(v) = min(trunc((v - lo) * grid / (hi - lo)), grid - 1); f(e) < f(x) implies e < x and
    f(e) > f(x) implies e > x, so a cell's count of smaller edges is exact unless an edge falls
    in that very cell, and only the samples of those cells are searched. Same result, exactly."""
    span = hi - lo
    scale = grid / span if span > 0 else float("inf")
    if edges.size < 16 or not (np.isfinite(span) and np.isfinite(scale)):
        return np.searchsorted(edges, x, side="left")
    cell_f = np.subtract(x, lo)
    cell_f *= scale
    cell = cell_f.astype(np.intp)
    del cell_f
    np.minimum(cell, grid - 1, out=cell)
    e_cell = np.minimum(np.clip((edges - lo) * scale, -1.0, float(grid)).astype(np.intp), grid - 1)
    base = np.searchsorted(e_cell, np.arange(grid), side="left")
    shared = np.zeros(grid, dtype=bool)
    shared[e_cell[e_cell >= 0]] = True
    codes = np.take(base, cell)
    idx = np.flatnonzero(np.take(shared, cell))
    if idx.size:
        codes[idx] = np.searchsorted(edges, x[idx], side="left")
    return codes


def classify(x, edges):
    """Class index 0..len(edges)-2 of each value (b_{i-1} < x <= b_i; the first class has min)."""
    x = np.asarray(x, dtype=float).ravel()
    return np.searchsorted(np.asarray(edges)[1:-1], x, side="left")


def discretize(x, method="quantile", k=5, natural_engine="auto"):
    """(class codes, edges) of the continuous values ``x``; see :func:`class_breaks`."""
    edges = class_breaks(x, method, k, natural_engine)
    return classify(x, edges), edges


def optimal_discretization(y, x, methods=DISCRETIZATION_METHODS, k_range=range(3, 8), alpha=0.05,
                           name="X", y_name="Y", natural_engine="numpy", require_significant=True):
    """Try every method x k; keep the highest q among results with p < alpha (the "optimal
    parameters-based Geodetector", Song et al. 2020). Combinations that fail the checks (single
    stratum, more than N/2 strata) are skipped. Returns a dict: method, k, n_classes, edges,
    codes, q, p, significant, tried (list of (method, k, q, p)). When no combination is
    significant: raises ValueError naming the factor, or with ``require_significant=False``
    returns the highest q of all combinations with ``significant`` False (a factor without an
    effect is then reported with its q and p instead of stopping a whole analysis).

    Fast and exact: the factor is prepared once (sorted copy, one Fisher-Jenks programme for all
    k, hence ``natural_engine`` "numpy" by default: one pass gives every k, identical breaks to
    jenkspy's); the samples are binned once on the union of all candidate edges ("atoms"), each
    atom's count, mean and within sum of squares is taken in one pass, and every candidate's
    strata statistics are combined from the atoms (parallel-variance formula
    SS_h = sum_a [SS_a + n_a (mean_a - mean_h)^2], Chan et al. 1979) without another pass over
    the samples. The chosen result (q, p, codes) is recomputed from its codes exactly as
    :func:`factor_detector` does.
    """
    y = _as_y(y, y_name)
    x = np.asarray(x, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"{name}: has {x.size} values but Y has {y.size}; they must be the same samples.")
    ks = [int(k) for k in k_range]
    vals = _Values(x, name)
    cands = []
    for method in methods:
        for k in ks:
            try:
                cands.append((method, k, vals.breaks(method, k, ks, natural_engine)))
            except ValueError:
                continue
    best, tried = None, []
    if cands:
        atoms_edges = np.unique(np.concatenate([e[1:-1] for _, _, e in cands]))
        atom = _bin_codes(x, vals.lo, vals.hi, atoms_edges)
        n_atoms = atoms_edges.size + 1
        na = np.bincount(atom, minlength=n_atoms).astype(float)
        sa = np.bincount(atom, weights=y, minlength=n_atoms)
        ma = sa / np.maximum(na, 1.0)
        ssa = np.bincount(atom, weights=_sq(y - ma[atom]), minlength=n_atoms)
        sst = _sst(y)
        a_idx = np.arange(n_atoms)
        for method, k, edges in cands:
            cls = np.searchsorted(np.searchsorted(atoms_edges, edges[1:-1]), a_idx, side="left")
            nh = np.bincount(cls, weights=na)
            mh = np.bincount(cls, weights=sa) / np.maximum(nh, 1.0)
            ssh = np.bincount(cls, weights=ssa + na * (ma - mh[cls]) ** 2)
            keep = nh > 0
            n_strata = int(keep.sum())
            if n_strata < 2 or n_strata > y.size / 2:
                continue
            r = _q_p_stats(nh[keep], mh[keep], float(ssh[keep].sum()), sst, y.size)
            tried.append((method, k, r.q, r.p))
            significant = bool(r.p < alpha)
            better = best is None or (significant, r.q) > (best["significant"], best["q"])
            if (significant or not require_significant) and better:
                best = {"method": method, "k": k, "n_classes": int(edges.size - 1), "edges": edges,
                        "q": r.q, "p": r.p, "significant": significant, "atom_class": cls}
    if best is None and not tried:
        raise ValueError(f"{name}: no discretisation (methods {', '.join(methods)}, k {min(ks)}-{max(ks)}) gives "
                         f"between 2 and N/2 = {y.size // 2} non-empty strata.")
    if best is None:
        raise ValueError(f"{name}: no discretisation (methods {', '.join(methods)}, k "
                         f"{min(ks)}-{max(ks)}) gives a significant q at alpha={alpha}.")
    # = classify(x, edges): an atom lies wholly inside one class of every candidate
    best["codes"] = np.take(best.pop("atom_class").astype(np.intp), atom)
    r = _q_p(y, best["codes"])
    best["q"], best["p"] = r.q, r.p
    best["tried"] = tried
    return best
