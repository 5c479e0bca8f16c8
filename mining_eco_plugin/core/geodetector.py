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
"""
from __future__ import annotations

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
    if np.isnan(y).any():
        raise ValueError(f"{name}: contains NaN / missing values; remove those samples first.")
    if np.nanmax(y) == np.nanmin(y):
        raise ValueError(f"{name}: is constant ({y[0]!r}); the Geodetector needs a varying Y.")
    return y


def _codes(x, n, name="X"):
    """Stratum codes 0..L-1 of the labels ``x`` (checked: same length as Y, no NaN)."""
    x = np.asarray(x).ravel()
    if x.size != n:
        raise ValueError(f"{name}: has {x.size} values but Y has {n}; they must be the same samples.")
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise ValueError(f"{name}: contains NaN / missing values; remove those samples first.")
    if x.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in x):
        raise ValueError(f"{name}: contains missing values; remove those samples first.")
    labels, codes = np.unique(x, return_inverse=True)
    return labels, codes.ravel()


def _check_strata(n_strata, n, name):
    if n_strata < 2:
        raise ValueError(f"{name}: has a single stratum; a factor needs at least 2 classes.")
    if n_strata > n / 2:
        raise ValueError(
            f"{name}: has {n_strata} strata for {n} samples (more than N/2); use fewer classes "
            "(discretise the factor, or list it as continuous)."
        )


def _stratum_stats(y, codes):
    """Counts, means and within-stratum sums of squares (about each stratum mean) per stratum."""
    counts_all = np.bincount(codes).astype(float)
    means_all = np.bincount(codes, weights=y) / np.maximum(counts_all, 1.0)
    ssw_all = np.bincount(codes, weights=(y - means_all[codes]) ** 2, minlength=counts_all.size)
    keep = counts_all > 0
    return counts_all[keep], means_all[keep], ssw_all[keep]


@dataclass
class FactorResult:
    """Factor detector result: q, its p value and the statistics behind them."""

    q: float
    p: float
    f: float
    lam: float
    n_strata: int
    n: int


def _q_p(y, codes):
    n = y.size
    counts, means, ssw_h = _stratum_stats(y, codes)
    n_strata = counts.size
    sst = float(((y - y.mean()) ** 2).sum())
    q = 1.0 - float(ssw_h.sum()) / sst
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


def factor_detector(y, x, name="X", y_name="Y") -> FactorResult:
    """q of the strata ``x`` on ``y`` (eq. 20) and p from the noncentral F (see module doc).

    Raises ValueError naming the input for: different lengths, NaN, constant Y, a single
    stratum, more strata than N/2.
    """
    y = _as_y(y, y_name)
    _, codes = _codes(x, y.size, name)
    _check_strata(int(codes.max()) + 1, y.size, name)
    return _q_p(y, codes)


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
    _, c1 = _codes(x1, y.size, names[0])
    _, c2 = _codes(x2, y.size, names[1])
    _check_strata(int(c1.max()) + 1, y.size, names[0])
    _check_strata(int(c2.max()) + 1, y.size, names[1])
    r1, r2 = _q_p(y, c1), _q_p(y, c2)
    _, c12 = np.unique(c1 * (int(c2.max()) + 1) + c2, return_inverse=True)
    r12 = _q_p(y, c12.ravel())
    return {
        "q1": r1.q, "q2": r2.q, "q12": r12.q, "p12": r12.p, "n_strata12": r12.n_strata,
        "type": interaction_type(r1.q, r2.q, r12.q, tolerance),
    }


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
    groups = [y[codes == k] for k in range(labels.size)]
    res = RiskResult([v.item() if hasattr(v, "item") else v for v in labels],
                     [int(g.size) for g in groups], [float(g.mean()) for g in groups])
    for a in range(len(groups)):
        for b in range(a + 1, len(groups)):
            ga, gb = groups[a], groups[b]
            t = df = p = float("nan")
            if ga.size > 1 and gb.size > 1:
                va, vb = ga.var(ddof=1) / ga.size, gb.var(ddof=1) / gb.size
                if va + vb > 0:
                    t = float((ga.mean() - gb.mean()) / np.sqrt(va + vb))
                    df = float((va + vb) ** 2 / (va ** 2 / (ga.size - 1) + vb ** 2 / (gb.size - 1)))
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
    _, c1 = _codes(x1, y.size, names[0])
    _, c2 = _codes(x2, y.size, names[1])
    _check_strata(int(c1.max()) + 1, y.size, names[0])
    _check_strata(int(c2.max()) + 1, y.size, names[1])
    ssw1 = float(_stratum_stats(y, c1)[2].sum())
    ssw2 = float(_stratum_stats(y, c2)[2].sum())
    n1 = n2 = y.size
    if ssw2 == 0:
        return float("inf"), 0.0
    f_val = n1 * (n2 - 1) * ssw1 / (n2 * (n1 - 1) * ssw2)
    return f_val, float(stats.f.sf(f_val, n1 - 1, n2 - 1))


# --------------------------------------------------------------------------- discretisation

def _fisher_jenks(values, k, max_values=4000, seed=0):
    """Fisher (1958) exact optimal k-class partition minimising the within-class sum of squares.

    Works on the distinct values with their counts as weights (exact for ties); above
    ``max_values`` distinct values a seeded random sample of them is used (as mapclassify's
    FisherJenksSampled). Returns the k upper class bounds.
    """
    v, w = np.unique(values, return_counts=True)
    if v.size > max_values:
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(v.size, max_values, replace=False))
        pick[0], pick[-1] = 0, v.size - 1
        v, w = v[pick], w[pick]
    m = v.size
    k = min(k, m)
    w = w.astype(float)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cx = np.concatenate([[0.0], np.cumsum(w * v)])
    cxx = np.concatenate([[0.0], np.cumsum(w * v * v)])

    def ssd(i0, i1):  # arrays of start (incl.) and end (excl.) indices
        ww = cw[i1] - cw[i0]
        s = cx[i1] - cx[i0]
        return (cxx[i1] - cxx[i0]) - s * s / ww

    inf = np.inf
    cost = np.full((k + 1, m + 1), inf)
    back = np.zeros((k + 1, m + 1), dtype=int)
    cost[1, 1:] = ssd(np.zeros(m, dtype=int), np.arange(1, m + 1))
    for j in range(2, k + 1):
        for i in range(j, m + 1):
            starts = np.arange(j - 1, i)  # last class = values[starts:i]
            c = cost[j - 1, starts] + ssd(starts, np.full(starts.size, i))
            b = int(np.argmin(c))
            cost[j, i] = c[b]
            back[j, i] = starts[b]
    uppers = []
    i = m
    for j in range(k, 0, -1):
        uppers.append(v[i - 1])
        i = back[j, i]
    return np.array(uppers[::-1], dtype=float)


def class_breaks(x, method="quantile", k=5):
    """Class edges [min, b_1, ..., b_{k-1}, max] of the continuous values ``x``.

    * equal: k intervals of width (max - min) / k.
    * quantile: edges at the i/k quantiles (numpy's linear interpolation); repeated edges are
      merged, so ties may give fewer classes.
    * natural: Fisher-Jenks natural breaks (exact dynamic programming, :func:`_fisher_jenks`).
    * geometric: edges in geometric progression min * r^i, r = (max/min)^(1/k); for min <= 0
      the progression is built on x - min + 1 and shifted back.
    * std: interior edges at mean + (i - k/2) * sd, i = 1..k-1 (sd with ddof = 0), i.e. classes
      one standard deviation wide centred on the mean; edges outside [min, max] are dropped.
    Classes are closed on the right: b_{i-1} < x <= b_i (the first class includes min).
    """
    x = np.asarray(x, dtype=float).ravel()
    if np.isnan(x).any():
        raise ValueError("discretisation: the values contain NaN; remove those samples first.")
    if k < 2:
        raise ValueError(f"discretisation: k must be at least 2, got {k}.")
    lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        raise ValueError("discretisation: the factor is constant; it cannot be cut into classes.")
    if method == "equal":
        edges = np.linspace(lo, hi, k + 1)
    elif method == "quantile":
        edges = np.quantile(x, np.linspace(0.0, 1.0, k + 1))
    elif method == "natural":
        edges = np.concatenate([[lo], _fisher_jenks(x, k)])
    elif method == "geometric":
        shift = 0.0 if lo > 0 else 1.0 - lo
        a, b = lo + shift, hi + shift
        edges = a * (b / a) ** (np.arange(k + 1) / k) - shift
        edges[0], edges[-1] = lo, hi
    elif method == "std":
        mean, sd = float(x.mean()), float(x.std())
        inner = mean + (np.arange(1, k) - k / 2.0) * sd
        inner = inner[(inner > lo) & (inner < hi)]
        edges = np.concatenate([[lo], inner, [hi]])
    else:
        raise ValueError(f"discretisation: unknown method {method!r}; use one of "
                         f"{', '.join(DISCRETIZATION_METHODS)}.")
    return np.unique(edges)


def classify(x, edges):
    """Class index 0..len(edges)-2 of each value (b_{i-1} < x <= b_i; the first class has min)."""
    x = np.asarray(x, dtype=float).ravel()
    return np.searchsorted(np.asarray(edges)[1:-1], x, side="left")


def discretize(x, method="quantile", k=5):
    """(class codes, edges) of the continuous values ``x``; see :func:`class_breaks`."""
    edges = class_breaks(x, method, k)
    return classify(x, edges), edges


def optimal_discretization(y, x, methods=DISCRETIZATION_METHODS, k_range=range(3, 8), alpha=0.05,
                           name="X", y_name="Y"):
    """Try every method x k; keep the highest q among results with p < alpha (the "optimal
    parameters-based Geodetector", Song et al. 2020). Combinations that fail the checks (single
    stratum, more than N/2 strata) are skipped. Returns a dict: method, k, n_classes, edges,
    codes, q, p, tried (list of (method, k, q, p)). Raises ValueError naming the factor when no
    combination is significant.
    """
    y = _as_y(y, y_name)
    x = np.asarray(x, dtype=float).ravel()
    if x.size != y.size:
        raise ValueError(f"{name}: has {x.size} values but Y has {y.size}; they must be the same samples.")
    best, tried = None, []
    for method in methods:
        for k in k_range:
            try:
                codes, edges = discretize(x, method, k)
                r = factor_detector(y, codes, name, y_name)
            except ValueError:
                continue
            tried.append((method, int(k), r.q, r.p))
            if r.p < alpha and (best is None or r.q > best["q"]):
                best = {"method": method, "k": int(k), "n_classes": int(edges.size - 1),
                        "edges": edges, "codes": codes, "q": r.q, "p": r.p}
    if best is None:
        raise ValueError(f"{name}: no discretisation (methods {', '.join(methods)}, k "
                         f"{min(k_range)}-{max(k_range)}) gives a significant q at alpha={alpha}.")
    best["tried"] = tried
    return best
