"""Spectral index search: two- and three-band formulas over chosen bands, ranked by |Pearson r| with a measured
target (miningeco:indexsearch).

Lan et al. 2025 (Sustainability, the coastal salinity study), step (b): "a suite of novel salinity indices was
systematically constructed using various mathematical transformations (addition, subtraction, multiplication,
division, and power operations) ... evaluated by calculating the Pearson Correlation Coefficient between each
index and the measured soil EC". Their Figure 3 transforms the spectra by reciprocal, square and square root;
their four new indices are SAI (G^2-NIR^2+SWIR1^2)/(G NIR SWIR1), TRSI (SWIR1-NIR+B)/(SWIR1+NIR-B),
SBCI SWIR1/sqrt(R^2+G^2) and GOSI R-0.5 NIR-0.5 SWIR1 (docs/INDICES.md). The search here is systematic:

* FORMS: two-band A-B, A/B, (A-B)/(A+B); the four forms of the study's indices with the band slots free;
  generic (A-B)/(A+B-C), (A-B)/(B-C), A*B/C, A/(B+C). Slots take distinct bands. Slot orders whose values are a
  linear function of another order's (A*B/C = B*A/C, B-A = -(A-B), (A-C)/(C-B) = -((A-B)/(B-C) + 1)), hence
  have the same |r| with any target, are generated once: with 6 bands 15 + 30 + 15 two-band and
  60 + 120 + 60 + 60 + 60 + 60 + 60 + 60 three-band candidates, 600 in all, per transform.
* TRANSFORMS (optional): every slot of a form takes the band squared, its square root or its reciprocal (the
  three transformations of the study's Figure 3; "power operations"); the untransformed bands always take part.
* A candidate whose value is not finite at some sample (zero denominator, square root of a negative) or is the
  same at every sample is skipped and counted; a candidate whose values are a linear function of an earlier
  candidate's (same |r| with any target, e.g. A/B on reciprocals = B/A) is a duplicate and left out. These
  rules read the band values only, never the target.
* Ranking: |r| descending; p-value of the two-sided t-test (t = r sqrt((n-2)/(1-r^2)), n - 2 degrees of
  freedom, scipy.stats.t; core.correlation.t_test), corrected for the number of candidates tested by Holm's
  step-down method (default; family-wise error) or Benjamini-Hochberg (false discovery rate).
* A formula has nothing to fit, so the honest estimate is of the selection: k folds; in each fold the candidates
  are ranked on the training samples only (``rank`` sees the training rows and nothing else), and the fold's top
  formula is scored on the held-out samples: r_test, signed by the direction chosen in training. The mean of
  the folds' signed r_test is the cross-validated r of the procedure; how often each formula came top is its
  selection frequency.

Pure numpy / scipy; each candidate's formula is written as a band expression core.expression accepts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import permutations
from typing import Callable, Sequence

import numpy as np

from .correlation import t_test


class SearchError(ValueError):
    """Bad input of the search; ``param`` names the parameter at fault (or is None)."""

    def __init__(self, message, param=None):
        super().__init__(message)
        self.param = param


def _nd(a, b, c=None):
    return (a - b) / (a + b)


@dataclass(frozen=True)
class Form:
    key: str
    title: str
    slots: int
    template: str                 # the expression with {A} {B} {C}
    func: Callable                # func(A, B[, C]) on arrays
    #: slot permutations that give the same or the negated values (same |r|): generated once
    same: tuple = ()


FORMS = {f.key: f for f in (
    Form("DIFF", "Two-band difference A-B", 2, "{A}-{B}", lambda a, b: a - b, ((1, 0),)),
    Form("RATIO", "Two-band ratio A/B", 2, "{A}/{B}", lambda a, b: a / b),
    Form("ND", "Two-band normalised difference (A-B)/(A+B)", 2, "({A}-{B})/({A}+{B})", _nd, ((1, 0),)),
    Form("SAI", "SAI form (A^2-B^2+C^2)/(A*B*C) (SAI: A=G, B=NIR, C=SWIR1)", 3,
         "({A}**2-{B}**2+{C}**2)/({A}*{B}*{C})", lambda a, b, c: (a * a - b * b + c * c) / (a * b * c),
         ((2, 1, 0),)),
    Form("TRSI", "TRSI form (A-B+C)/(A+B-C) (TRSI: A=SWIR1, B=NIR, C=B)", 3, "({A}-{B}+{C})/({A}+{B}-{C})",
         lambda a, b, c: (a - b + c) / (a + b - c)),
    Form("SBCI", "SBCI form A/sqrt(B^2+C^2) (SBCI: A=SWIR1, B=R, C=G)", 3, "{A}/sqrt({B}**2+{C}**2)",
         lambda a, b, c: a / np.sqrt(b * b + c * c), ((0, 2, 1),)),
    Form("GOSI", "GOSI form A-0.5*B-0.5*C (GOSI: A=R, B=NIR, C=SWIR1)", 3, "{A}-0.5*{B}-0.5*{C}",
         lambda a, b, c: a - 0.5 * b - 0.5 * c, ((0, 2, 1),)),
    Form("NDC", "Generic (A-B)/(A+B-C)", 3, "({A}-{B})/({A}+{B}-{C})", lambda a, b, c: (a - b) / (a + b - c),
         ((1, 0, 2),)),
    Form("DR", "Generic (A-B)/(B-C)", 3, "({A}-{B})/({B}-{C})", lambda a, b, c: (a - b) / (b - c),
         ((0, 2, 1),)),     # (A-C)/(C-B) = -((A-B)/(B-C) + 1)
    Form("PQ", "Generic A*B/C", 3, "{A}*{B}/{C}", lambda a, b, c: a * b / c, ((1, 0, 2),)),
    Form("RS", "Generic A/(B+C)", 3, "{A}/({B}+{C})", lambda a, b, c: a / (b + c), ((0, 2, 1),)),
)}
TWO_BAND = tuple(k for k, f in FORMS.items() if f.slots == 2)

# key, title, slot text template, function; "NONE" always takes part
TRANSFORMS = {
    "NONE": ("bands as they are", "{}", None),
    "SQ": ("squared bands (A^2)", "({}**2)", np.square),
    "SQRT": ("square roots of the bands (sqrt(A))", "sqrt({})", np.sqrt),
    "INV": ("reciprocals of the bands (1/A)", "(1/{})", np.reciprocal),
}
CORRECTIONS = ("holm", "bh")
CORRECTION_TITLES = {"holm": "Holm step-down (family-wise error rate)",
                     "bh": "Benjamini-Hochberg (false discovery rate)"}


def slot_tuples(form: Form, n_bands: int) -> np.ndarray:
    """Band index tuples (m, slots) of ``form`` over ``n_bands`` bands: distinct bands, one tuple per class of
    slot orders that give the same |r| (the smallest of the class)."""
    keep = []
    for t in permutations(range(n_bands), form.slots):
        if all(t <= tuple(t[i] for i in perm) for perm in form.same):
            keep.append(t)
    return np.asarray(keep, dtype=np.intp).reshape(-1, form.slots)


def holm(p) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values: sorted p_(1) <= ... <= p_(m),
    adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)); a hypothesis is rejected at level alpha iff adj <= alpha."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini & Hochberg (1995) adjusted p-values: adj_(i) = min_{j >= i} min(1, m p_(j) / j)."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    return out


def adjust(p, method: str) -> np.ndarray:
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    raise SearchError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}", "CORRECTION")


def pearson_columns(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every column of ``values`` (n, m) with ``y`` (n,), vectorised; NaN for a constant column."""
    v = values - values.mean(axis=0)
    yc = y - y.mean()
    sv = np.sqrt(np.einsum("ij,ij->j", v, v))
    sy = math.sqrt(float(yc @ yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc @ v) / (sv * sy)
    r[~(sv > 0)] = np.nan
    return np.clip(r, -1.0, 1.0)


@dataclass
class Candidates:
    """The candidate formulas and their values at the samples (target-free)."""
    names: list
    expressions: list
    forms: list
    bands: list                   # tuples of band names per candidate
    transforms: list
    values: np.ndarray            # (n, m)
    skipped: dict = field(default_factory=dict)    # reason -> count
    duplicates: int = 0
    generated: int = 0

    @property
    def n_skipped(self) -> int:
        return int(sum(self.skipped.values()))


def _constant(v: np.ndarray) -> np.ndarray:
    """Columns of ``v`` whose values are all the same (to rounding: spread <= 1e-12 of the magnitude)."""
    spread = np.ptp(v, axis=0)
    scale = np.max(np.abs(v), axis=0)
    return ~(spread > 1e-12 * scale)


def build_candidates(X, band_names: Sequence[str], forms: Sequence[str] = tuple(FORMS),
                     transforms: Sequence[str] = ()) -> Candidates:
    """Every candidate of ``forms`` x (untransformed + ``transforms``) over the columns of ``X`` (n samples,
    p bands, finite) named ``band_names`` (the names the expressions use)."""
    X = np.asarray(X, dtype=np.float64)
    names = [str(b) for b in band_names]
    if X.ndim != 2 or X.shape[1] != len(names):
        raise SearchError(f"{X.shape} band values for {len(names)} band names")
    unknown = [f for f in forms if f not in FORMS]
    if unknown:
        raise SearchError(f"unknown form(s) {', '.join(unknown)}; valid: {', '.join(FORMS)}", "FORMS")
    if not forms:
        raise SearchError("choose at least one form", "FORMS")
    tlist = ["NONE"] + [t for t in dict.fromkeys(transforms) if t != "NONE"]
    bad = [t for t in tlist if t not in TRANSFORMS]
    if bad:
        raise SearchError(f"unknown transform(s) {', '.join(bad)}; valid: {', '.join(TRANSFORMS)}", "TRANSFORMS")
    out = Candidates([], [], [], [], [], np.empty((X.shape[0], 0)))
    blocks, seen = [], set()
    with np.errstate(all="ignore"):
        for tkey in tlist:
            _title, slot_text, tfunc = TRANSFORMS[tkey]
            XT = X if tfunc is None else tfunc(X)
            labels = [slot_text.format(n) for n in names]
            for fkey in forms:
                form = FORMS[fkey]
                tuples = slot_tuples(form, len(names))
                if tuples.shape[0] == 0:
                    continue
                v = form.func(*(XT[:, tuples[:, s]] for s in range(form.slots)))
                out.generated += tuples.shape[0]
                finite = np.isfinite(v).all(axis=0)
                const = finite & _constant(np.where(np.isfinite(v), v, 0.0))
                ok = finite & ~const
                for reason, count in (("not finite at some sample (zero denominator, root of a negative)",
                                       int((~finite).sum())), ("the same value at every sample", int(const.sum()))):
                    if count:
                        out.skipped[reason] = out.skipped.get(reason, 0) + count
                v = v[:, ok]
                tuples = tuples[ok]
                # duplicates: values that are a linear function of an earlier candidate's (same |r|)
                z = (v - v.mean(axis=0)) / v.std(axis=0)
                first = z[0] if z.shape[0] else np.ones(z.shape[1])
                z = z * np.where(first < 0, -1.0, 1.0)
                z = np.round(z, 8) + 0.0      # + 0.0: -0.0 -> 0.0
                keep = np.zeros(v.shape[1], dtype=bool)
                for j in range(v.shape[1]):
                    key = z[:, j].tobytes()
                    if key not in seen:
                        seen.add(key)
                        keep[j] = True
                out.duplicates += int((~keep).sum())
                v, tuples = v[:, keep], tuples[keep]
                blocks.append(v)
                for t in tuples:
                    slots = dict(zip("ABC", (labels[i] for i in t)))
                    out.expressions.append(form.template.format(**slots))
                    out.bands.append(tuple(names[i] for i in t))
                    out.names.append("_".join([fkey] + [names[i] for i in t] + ([tkey] if tkey != "NONE" else [])))
                    out.forms.append(fkey)
                    out.transforms.append(tkey)
    if blocks:
        out.values = np.concatenate(blocks, axis=1)
    return out


@dataclass
class Ranking:
    order: np.ndarray     # candidate indices, best |r| first (NaN r last)
    r: np.ndarray         # per candidate (in candidate order)


def rank_by_r(values_train: np.ndarray, y_train: np.ndarray) -> Ranking:
    """Rank the candidates on the given rows only: |Pearson r| descending, ties in candidate order."""
    r = pearson_columns(values_train, y_train)
    key = np.where(np.isnan(r), -1.0, np.abs(r))
    return Ranking(np.argsort(-key, kind="stable"), r)


def fold_indices(n: int, folds: int, seed: int) -> list:
    """Held-out rows of each of ``folds`` folds: a seeded shuffle of 0..n-1 cut into near-equal parts."""
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(perm, folds)]


@dataclass
class FoldResult:
    fold: int
    n_train: int
    n_test: int
    top: int              # candidate index
    r_train: float
    r_test: float
    r_test_signed: float  # r_test * sign(r_train): > 0 when the held-out samples agree with the direction


def cross_validate(values: np.ndarray, y: np.ndarray, folds: int, seed: int,
                   rank: Callable = rank_by_r) -> list:
    """For each fold: ``rank(values[train], y[train])`` (training rows only), then r of the top candidate on the
    held-out rows. Returns a FoldResult per fold."""
    n = y.size
    out = []
    for k, test in enumerate(fold_indices(n, folds, seed)):
        train = np.setdiff1d(np.arange(n), test, assume_unique=True)
        ranking = rank(values[train], y[train])
        top = int(ranking.order[0])
        r_train = float(ranking.r[top])
        r_test = float(pearson_columns(values[test][:, [top]], y[test])[0])
        signed = r_test * (1.0 if r_train >= 0 else -1.0)
        out.append(FoldResult(k + 1, int(train.size), int(test.size), top, r_train, r_test, signed))
    return out


@dataclass
class SearchResult:
    candidates: Candidates
    r: np.ndarray
    p: np.ndarray
    p_adjusted: np.ndarray
    order: np.ndarray
    correction: str
    alpha: float
    folds: list
    selected_folds: np.ndarray    # per candidate: folds in which it came top
    n_samples: int

    @property
    def cv_r(self) -> float:
        vals = [f.r_test_signed for f in self.folds if math.isfinite(f.r_test_signed)]
        return float(np.mean(vals)) if vals else math.nan

    def rows(self, limit=None):
        """The ranked table: one dict per candidate, best first."""
        c, k = self.candidates, max(len(self.folds), 1)
        out = []
        for rank, j in enumerate(self.order[:limit] if limit else self.order, start=1):
            out.append({"rank": rank, "name": c.names[j], "expression": c.expressions[j], "form": c.forms[j],
                        "bands": ",".join(c.bands[j]), "transform": c.transforms[j], "r": float(self.r[j]),
                        "p": float(self.p[j]), "p_corrected": float(self.p_adjusted[j]),
                        "significant": bool(self.p_adjusted[j] <= self.alpha),
                        "selected_folds": int(self.selected_folds[j]),
                        "selection_frequency": float(self.selected_folds[j]) / k})
        return out

    def selected(self, top_n: int):
        """``name=expression`` of the ``top_n`` best candidates."""
        c = self.candidates
        return [f"{c.names[j]}={c.expressions[j]}" for j in self.order[:top_n]]


def check_samples(X, y, folds: int):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    if folds < 2:
        raise SearchError(f"give at least 2 folds; got {folds}", "FOLDS")
    if n < 3 * folds:
        raise SearchError(f"{n} complete sample(s) for {folds} folds: every held-out fold needs at least 3 samples "
                          f"for a correlation, so give at least {3 * folds} samples or fewer folds", "FOLDS")
    if np.ptp(y) == 0:
        raise SearchError(f"the target has the same value ({y[0]:g}) in every sample: nothing to correlate with",
                          "TARGET_FIELD")
    return X, y


def search(X, y, band_names, forms=tuple(FORMS), transforms=(), correction="holm", alpha=0.05, folds=5,
           seed=42, rank: Callable = rank_by_r) -> SearchResult:
    """Build the candidates, rank them on all samples, correct their p-values and cross-validate the selection.
    ``X`` (n, p) band values and ``y`` (n,) target, both finite."""
    if correction not in CORRECTIONS:
        raise SearchError(f"unknown correction {correction!r}", "CORRECTION")
    X, y = check_samples(X, y, folds)
    cand = build_candidates(X, band_names, forms, transforms)
    m = cand.values.shape[1]
    if m == 0:
        raise SearchError(f"none of the {cand.generated} candidate formula(s) is defined and varies at every sample "
                          f"({'; '.join(f'{v} {k}' for k, v in cand.skipped.items())}). Choose other bands, forms "
                          "or transforms.", "BAND_FIELDS")
    ranking = rank(cand.values, y)
    _t, p = t_test(ranking.r, np.full(m, y.size))
    p = np.where(np.isnan(p), 1.0, p)
    fold_results = cross_validate(cand.values, y, folds, seed, rank)
    selected = np.zeros(m, dtype=np.int64)
    for f in fold_results:
        selected[f.top] += 1
    return SearchResult(cand, ranking.r, p, adjust(p, correction), ranking.order, correction, alpha, fold_results,
                        selected, int(y.size))


def pair_matrix(X, y, band_names, form: str, transform: str = "NONE") -> np.ndarray:
    """r with ``y`` of the two-band ``form`` for every ordered band pair (row = A, column = B); NaN on the diagonal
    and where the form is not finite or constant (the heatmap of the report)."""
    X = np.asarray(X, dtype=np.float64)
    p = len(band_names)
    f = FORMS[form]
    tfunc = TRANSFORMS[transform][2]
    with np.errstate(all="ignore"):
        XT = X if tfunc is None else tfunc(X)
        ia, ib = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        ia, ib = ia.ravel(), ib.ravel()
        v = f.func(XT[:, ia], XT[:, ib])
        ok = np.isfinite(v).all(axis=0) & (ia != ib)
        ok &= ~_constant(np.where(np.isfinite(v), v, 0.0))
        r = np.full(ia.size, np.nan)
        if ok.any():
            r[ok] = pearson_columns(v[:, ok], np.asarray(y, dtype=np.float64))
    return r.reshape(p, p)
