"""Random-forest factorial contributions of driver categories (changhe section 2.4.2, eqs. 6-7).

changhe groups the drivers of NPP into three categories (climate, soil properties, mining
activities) and fits four random forests: one on all drivers (RF_all) and one without each
category (RF_clim, RF_soil, RF_mine). The effect of a category is isolated by the difference:

    ActCon_Vi = RF_all - RF_Vi                                   (eq. 6)
    RelCon_Vi = |ActCon_Vi| / sum_i |ActCon_Vi| * 100 %           (eq. 7)

where RF_Vi is "the regression result, excluding driving factor Vi". The seed does not say which
number "regression result" is for the overall (study-area) contribution; it used R's
``randomForest`` package, whose regression summary is the out-of-bag "% Var explained"
(= OOB R2). Here, overall: RF_x = OOB R2 of the model (``score="oob"``, default) or the R2 on the
training samples (``score="train"``). Per pixel (the seed's RGB and dominant-category maps):
RF_x = the model's prediction at the pixel, so ActCon is the change of the predicted value when the
category is removed.

Random-forest settings follow R randomForest's regression defaults, since changhe used that package
and states no settings: ntree = 500, mtry = floor(p / 3) (at least 1), bootstrap samples. Leaves are grown down to 1 sample
(scikit-learn's default; R's regression nodesize is 5: with it, categories of pure noise get larger
|ActCon| shares, e.g. 12 % instead of < 10 % on the one-category test data). The OOB R2 is
1 - MSE_oob / var(Y) with the population variance; R's '% Var explained' divides by the sample
variance (n - 1), a factor (n - 1) / n on 1 - R2. The seed is
ours (42 by default): changhe gives none.

Driver importance: changhe uses the mean drop in accuracy (MDA, R's permutation importance on the
OOB samples). scikit-learn has no OOB permutation importance; ``sklearn.inspection.
permutation_importance`` on the training samples (seeded, ``n_repeats``) is used: the mean drop of
R2 when a driver is shuffled. Negative means (noise) are set to 0 and the rest normalised to 100 %.

ActCon < 0 happens: a category of pure noise makes RF_all worse than RF without it (with mtry = p/3
splits are wasted on noise), and eq. 7 counts its |ActCon| as a positive share. This is the seed's
definition, kept as is; callers should report negative ActCon.

A category with no driver left after removal (every driver in one category) gives RF_Vi = a model
that predicts the mean of Y: R2 = 0 (OOB and train), prediction = mean(Y).

Pure numpy / scikit-learn: no file, no QGIS.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

MIN_SAMPLES = 10
DEFAULT_TREES = 500  # R randomForest default ntree (changhe used R 'randomForest' and gives no ntree)
SCORES = ("oob", "train")
DOMINANT_THRESHOLD = 60.0  # changhe 2.4.2: a single dominant category when its RelCon > 60 %


class ContributionError(ValueError):
    """Bad input; ``param`` names the algorithm parameter the message is about."""

    def __init__(self, message: str, param: str = ""):
        super().__init__(message)
        self.param = param


# ------------------------------------------------------------------------------------ categories
def parse_categories(spec, fields=None):
    """``{field: category}`` from "field=category, field=category" (or ";" / newlines), a mapping,
    or a Processing matrix: a flat [field, category, field, category, ...] list (or a list of rows;
    empty rows skipped). A list whose cells hold "field=category" (the text form split on commas,
    as a matrix parameter receives text from qgis_process) is read as that text.

    With ``fields`` given, fields unknown to it raise ContributionError naming every one of them.
    Order is kept (the order of first appearance of the categories is the category order).
    """
    if isinstance(spec, dict):
        pairs = [(str(k).strip(), str(v).strip()) for k, v in spec.items()]
    elif isinstance(spec, (list, tuple)) and not any("=" in c for c in _cells(spec)):
        flat = _cells(spec)
        if len(flat) % 2:
            raise ContributionError("the category table needs two columns (field, category).", "CATEGORIES")
        # rows left empty in the table dialog are skipped
        pairs = [(f, c) for f, c in zip(flat[0::2], flat[1::2]) if f or c]
    else:
        if isinstance(spec, (list, tuple)):  # "field=category" text split on commas (qgis_process, old scripts)
            spec = ",".join(_cells(spec))
        pairs = []
        for item in str(spec or "").replace(";", ",").replace("\n", ",").split(","):
            if not item.strip():
                continue
            if "=" not in item:
                raise ContributionError(f"'{item.strip()}' is not 'field=category'.", "CATEGORIES")
            f, c = item.split("=", 1)
            pairs.append((f.strip(), c.strip()))
    mapping = {}
    for f, c in pairs:
        if not f or not c:
            raise ContributionError(f"empty field or category in '{f}={c}'.", "CATEGORIES")
        if f in mapping and mapping[f] != c:
            raise ContributionError(f"field '{f}' is given two categories ({mapping[f]}, {c}).", "CATEGORIES")
        mapping[f] = c
    if not mapping:
        raise ContributionError("no 'field=category' pair was given.", "CATEGORIES")
    if fields is not None:
        unknown = [f for f in mapping if f not in set(fields)]
        if unknown:
            raise ContributionError(f"unknown field(s) in the category table: {', '.join(unknown)} "
                                    f"(available: {', '.join(fields)}).", "CATEGORIES")
    if len(set(mapping.values())) < 2:
        raise ContributionError("at least two categories are needed to compare contributions.", "CATEGORIES")
    return mapping


def _cells(table):
    """Flat list of stripped cell strings of a Processing matrix value: flat or nested rows; None / NULL -> ""."""
    out = []
    for v in table:
        if isinstance(v, (list, tuple)):
            out += _cells(v)
        else:
            out.append("" if v is None or (hasattr(v, "isNull") and v.isNull()) else str(v).strip())
    return out


def category_order(mapping):
    """Categories in order of first appearance."""
    return list(dict.fromkeys(mapping.values()))


# ------------------------------------------------------------------------------------ checks
def check_samples(X, y, names, target_name="Y"):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    if X.ndim != 2 or X.shape[0] != y.size or X.shape[1] != len(names):
        raise ContributionError(f"X must be n x p ({len(names)} names) with one Y value per row "
                                f"(got X {X.shape}, Y {y.shape}).", "INPUT")
    n = y.size
    if n < MIN_SAMPLES:
        raise ContributionError(f"only {n} sample(s); at least {MIN_SAMPLES} are needed.", "INPUT")
    from .checks import MAX_ABS_VALUE
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(y) | (np.abs(y) > MAX_ABS_VALUE)
    if bad.any():
        raise ContributionError(f"Y '{target_name}' has {int(bad.sum())} missing / non-finite / too large value(s) "
                                f"(sample {int(np.flatnonzero(bad)[0]) + 1}).", "Y_FIELD")
    for j, name in enumerate(names):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(X[:, j]) | (np.abs(X[:, j]) > MAX_ABS_VALUE)
        if bad.any():
            raise ContributionError(f"driver '{name}' has {int(bad.sum())} missing / non-finite / too large "
                                    f"value(s) (sample {int(np.flatnonzero(bad)[0]) + 1}).", "CATEGORIES")
    if np.ptp(y) == 0:
        raise ContributionError(f"Y '{target_name}' is constant ({y[0]:g} in all {n} samples): "
                                "nothing to explain.", "Y_FIELD")
    return X, y


# ------------------------------------------------------------------------------------ models
class _MeanModel:
    """RF_Vi when removing a category leaves no driver: predicts mean(Y), R2 = 0."""

    def __init__(self, y):
        self.mean = float(np.mean(y))
        self.oob_score_ = 0.0

    def predict(self, X):
        return np.full(np.asarray(X).shape[0], self.mean)


def _forest(n_estimators, random_state, oob):
    from sklearn.ensemble import RandomForestRegressor

    from .cancel import cancel_aware
    # max_features=1/3: R randomForest regression default mtry = floor(p/3) (sklearn floors, min 1)
    return cancel_aware(RandomForestRegressor(n_estimators=n_estimators, max_features=1.0 / 3.0, bootstrap=True,
                                              oob_score=oob, random_state=random_state, n_jobs=1))


def _r2(y, pred):
    return float(1.0 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


@dataclass
class ContributionResult:
    categories: list            # category names, in order
    drivers: list               # driver names (columns of X)
    mapping: dict               # driver -> category
    score: str                  # "oob" or "train"
    score_all: float            # RF_all (R2)
    score_without: np.ndarray   # RF_Vi per category (R2 without the category)
    act_con: np.ndarray         # eq. 6 per category
    rel_con: np.ndarray         # eq. 7 per category, %
    importance: np.ndarray      # mean permutation drop of R2 per driver
    importance_pct: np.ndarray  # clipped at 0, normalised to 100 %
    n_samples: int
    n_estimators: int
    random_state: int
    models: dict = field(repr=False, default_factory=dict)  # "__all__" and each category -> fitted model
    columns: dict = field(repr=False, default_factory=dict)  # same keys -> column indices used

    def category_rows(self):
        rows = [{"category": c, "drivers": ",".join(d for d in self.drivers if self.mapping[d] == c),
                 "score_without": float(s), "act_con": float(a), "rel_con_pct": float(r)}
                for c, s, a, r in zip(self.categories, self.score_without, self.act_con, self.rel_con)]
        return rows

    def driver_rows(self):
        return [{"driver": d, "category": self.mapping[d], "importance": float(i), "importance_pct": float(p)}
                for d, i, p in zip(self.drivers, self.importance, self.importance_pct)]

    def predict(self, X, chunk_rows=None, threads=1, cancel=None):
        """Predictions of RF_all and of each RF_Vi on rows of all drivers (columns in ``drivers``
        order): (n, 1 + k) float64, column 0 = RF_all. ``chunk_rows``: predict at most that many
        rows at once (bounded memory on raster blocks). ``threads`` > 1 predicts the 1 + k models
        in parallel threads, each model single-threaded: the values do not depend on either (a
        forest predicted with n_jobs > 1 sums its trees in thread order, which changes the last bits).
        ``cancel``: a callable returning True once the user cancelled, checked before each chunk
        (``cancel.Cancelled`` is raised)."""
        from concurrent.futures import ThreadPoolExecutor

        from .salinity import predict_chunked
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != len(self.drivers):
            raise ContributionError(f"X must have one column per driver ({len(self.drivers)}), got {X.shape}.")
        keys = ["__all__"] + self.categories
        step = chunk_rows or max(X.shape[0], 1)

        from .cancel import Cancelled

        def one(key):
            model = self.models[key]

            def predict(part):
                if cancel is not None and cancel():
                    raise Cancelled()
                return model.predict(part)
            return predict_chunked(predict, X[:, self.columns[key]], step, dtype=np.float64)
        if threads > 1 and X.shape[0]:
            with ThreadPoolExecutor(max_workers=min(threads, len(keys))) as pool:
                cols = list(pool.map(one, keys))
        else:
            cols = [one(key) for key in keys]
        return np.stack(cols, axis=1)


def rf_contributions(X, y, names, mapping, n_estimators=DEFAULT_TREES, random_state=42, score="oob",
                     n_repeats=10, target_name="Y", progress=None, cancel=None):
    """Fit RF_all and RF without each category; ActCon / RelCon (changhe eqs. 6-7) and the
    normalised permutation importance of each driver. See the module docstring for the formulas.

    ``X`` (n x p) holds the columns ``names``; only the drivers named in ``mapping`` (field ->
    category) are used (unknown names raise ContributionError naming them). ``progress(fraction)``
    is called after each model (may raise to cancel). ``cancel``: a callable returning True once the
    user cancelled, checked between chunks of trees and between the predictions of the permutation
    importance (``cancel.Cancelled`` is raised; core/cancel.py: the results do not change).
    """
    from . import cancel as cancelling
    with cancelling.cancel_check(cancel):
        result = _rf_contributions(X, y, names, mapping, n_estimators, random_state, score, n_repeats,
                                   target_name, progress)
    for model in result.models.values():
        cancelling.plain(model)
    return result


def _rf_contributions(X, y, names, mapping, n_estimators, random_state, score, n_repeats, target_name, progress):
    from .cancel import checkpoint
    if score not in SCORES:
        raise ContributionError(f"score must be one of {SCORES}.", "SCORE")
    mapping = parse_categories(mapping, names)
    drivers = [d for d in mapping]
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ContributionError(f"X must have one column per name ({len(names)}), got {X.shape}.", "INPUT")
    X, y = check_samples(X[:, [list(names).index(d) for d in drivers]], y, drivers, target_name)
    cats = category_order(mapping)
    oob = score == "oob"
    models, columns, scores = {}, {}, {}
    steps = 2 + len(cats)
    for step, key in enumerate(["__all__"] + cats):
        cols = [j for j, d in enumerate(drivers) if key == "__all__" or mapping[d] != key]
        columns[key] = cols
        if not cols:
            model = _MeanModel(y)
            scores[key] = 0.0
        else:
            model = _forest(n_estimators, random_state, oob)
            model.fit(X[:, cols], y)
            scores[key] = float(model.oob_score_) if oob else _r2(y, model.predict(X[:, cols]))
        models[key] = model
        if progress:
            progress((step + 1) / steps)
    score_without = np.array([scores[c] for c in cats])
    act_con = scores["__all__"] - score_without                       # eq. 6
    total = np.sum(np.abs(act_con))
    if not total > 0:
        raise ContributionError("removing any category leaves the model score unchanged (all ActCon = 0): "
                                "relative contributions are undefined.", "CATEGORIES")
    rel_con = np.abs(act_con) / total * 100.0                         # eq. 7

    from sklearn.inspection import permutation_importance
    from sklearn.metrics import r2_score

    def r2(estimator, X_, y_):
        checkpoint()        # n_repeats x drivers predictions of a possibly large forest: cancel between them
        return r2_score(y_, estimator.predict(X_))      # what scoring="r2" computes
    pi = permutation_importance(models["__all__"], X, y, n_repeats=n_repeats, random_state=random_state,
                                scoring=r2)
    importance = pi.importances_mean
    clipped = np.clip(importance, 0.0, None)
    importance_pct = clipped / clipped.sum() * 100.0 if clipped.sum() > 0 else np.zeros_like(clipped)
    if progress:
        progress(1.0)
    return ContributionResult(cats, drivers, mapping, score, scores["__all__"], score_without, act_con, rel_con,
                              importance, importance_pct, int(y.size), int(n_estimators), int(random_state),
                              models, columns)


# ------------------------------------------------------------------------------------ per pixel
def pixel_contributions(predictions):
    """Per-pixel ActCon (eq. 6) and RelCon (eq. 7, %) from ``predictions`` (n, 1 + k) of
    ``ContributionResult.predict``: ActCon_i = pred_all - pred_without_i. RelCon is NaN where all
    ActCon are 0 (no category changes the prediction)."""
    p = np.asarray(predictions, dtype=np.float64)
    act = p[:, :1] - p[:, 1:]
    total = np.sum(np.abs(act), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(total > 0, np.abs(act) / total * 100.0, np.nan)
    return act, rel


def dominant_codes(k):
    """[(code, (category indices))]: 1..k a single category, then each pair in combinations order."""
    codes = [(i + 1, (i,)) for i in range(k)]
    codes += [(k + 1 + n, pair) for n, pair in enumerate(combinations(range(k), 2))]
    return codes


def dominant_category(rel_con, threshold=DOMINANT_THRESHOLD):
    """changhe 2.4.2: code of the single category with RelCon > threshold (1..k), else the code of
    the pair of the two largest (k+1.., see ``dominant_codes``); 0 where RelCon is NaN."""
    rel = np.asarray(rel_con, dtype=np.float64)
    n, k = rel.shape
    out = np.zeros(n, dtype=np.int32)
    valid = np.all(np.isfinite(rel), axis=1)
    if not valid.any():
        return out
    r = rel[valid]
    order = np.argsort(-r, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1]
    single = r[np.arange(r.shape[0]), first] > threshold
    pair_code = {pair: code for code, pair in dominant_codes(k) if len(pair) == 2}
    lo, hi = np.minimum(first, second), np.maximum(first, second)
    lut = np.zeros((k, k), dtype=np.int32)
    for (a, b), code in pair_code.items():
        lut[a, b] = code
    out[valid] = np.where(single, first + 1, lut[lo, hi])
    return out


def contribution_block(data, ctx, result, threshold=DOMINANT_THRESHOLD, chunk_rows=None, cancel=None):
    """The per-pixel maps of one block (raster/executor.BlockPass.compute): ``data`` {"d0", "d1", ...: the
    drivers in ``result.drivers`` order, float32, NaN = nodata}; pixels valid in every driver are predicted with
    the 1 + k forests (``chunk_rows`` rows per predict call, ``cancel`` checked before each). Blocks: OUTPUT_RGB
    (3 bands, RelCon % of categories 1..3; a band without a category is 0) and OUTPUT_DOMINANT (codes of
    :func:`dominant_codes`, 0 = nodata); partial result: pixels per code."""
    from .salinity import feature_matrix
    Xb, valid = feature_matrix([data[f"d{j}"] for j in range(len(result.drivers))])
    k = len(result.categories)
    rel = np.full((Xb.shape[0], k), np.nan)
    if Xb.shape[0]:
        _act, rel = pixel_contributions(result.predict(Xb, chunk_rows, 1, cancel=cancel))
    shape = ctx.window.shape
    dom = np.zeros(shape, dtype=np.int16)
    dom[valid] = dominant_category(rel, threshold)
    rgb = np.full((3,) + shape, np.nan, dtype=np.float32)
    for b in range(3):
        rgb[b][valid] = rel[:, b] if b < k else np.where(np.isfinite(rel[:, 0]), 0.0, np.nan)
    counts = np.bincount(dom.ravel(), minlength=dominant_codes(k)[-1][0] + 1)
    return {"OUTPUT_RGB": rgb, "OUTPUT_DOMINANT": dom}, counts
