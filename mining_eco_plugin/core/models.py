"""Salinity regression models: estimator factory with the seeds' settings, validation splits, metrics,
stacking, hyperparameter search and model comparison. Pure numpy / scikit-learn (xgboost when importable).

Models (``KINDS``):

* ``rf`` - random forest, 100 trees, ``random_state`` = seed (42), squared-error criterion
  (zhundong seed, section 2.2: "RFR with 100 decision trees, random seed of 42, and loss function of MSE").
* ``svr`` - StandardScaler + SVR with a Gaussian RBF kernel, C = 10, gamma = 0.1 (zhundong 2.2). The seed
  does not say whether the inputs were scaled; gamma = 0.1 only makes sense on standardised inputs, and C = 10
  with SVR's epsilon = 0.1 only on a standardised target: the target is standardised too
  (TransformedTargetRegressor, predictions scaled back). Meuse zinc (mg/kg) from x, y, dist, elev with the
  1-in-5 split: validation R2 0.23 on the raw target, 0.66 standardised (issue 11).
* ``mlp`` - the zhundong BPNN: StandardScaler + MLPRegressor, learning rate 0.01, 1000 training steps
  (``max_iter``), seeded, on the standardised target like SVR. The seed gives "input layer nodes of 8" (= its
  8 VIP variables) but no hidden layer size: one hidden layer of ``MLP_HIDDEN`` = 8 neurons is our choice.
  Tree models (rf, boosting) do not depend on the scale of the target or of the features: not scaled. PLSR
  scales both itself.
* ``boosting`` - XGBoost (``xgboost.XGBRegressor``, 200 trees, depth 4, learning rate 0.05, seeded) when
  xgboost is importable *and* model files can hold it (``core.modelfile.TRUSTED_TYPES`` lists the xgboost
  types); otherwise scikit-learn's HistGradientBoostingRegressor with the same number of iterations,
  depth and learning rate (and at least 5 samples per leaf). ``boosting_backend()`` says which; the outputs record it.
* ``plsr`` - partial least squares regression, ``min(PLS_COMPONENTS, n_features)`` components, scaled.
* ``stacking`` - the coastal seed's Stacking (section 3): level 0 = MLP, RF and boosting as above; level 1 =
  PLSR (1 component) trained on the base learners' 5-fold out-of-fold predictions of the training set
  (coastal: "the predictions extracted from the training datasets of the three base learners after
  five-fold cross-validation"). scikit-learn's StackingRegressor with ``cv=KFold(5, shuffle=True,
  random_state=seed)`` does exactly this (cross_val_predict for the meta-features, base learners then
  refitted on the whole training set).

Validation (``split``): the zhundong seed's systematic split (section 2.2: "one sample selected for every
5 samples for model validation ... 176 samples as the training set and 44 samples as the validation set" of
220): the 5th, 10th, 15th ... sample in the table's order (0-based indices 4, 9, 14, ...) is validation,
floor(n / 5) samples. The seed also says the 220 samples "were randomly divided"; we read that as: the
sample order is arbitrary and every fifth sample of it is taken (no sorting). A seeded random split and
k-fold cross-validation (metrics of the out-of-fold predictions; the model file then holds the model refitted
on all samples) are the other choices.

Metrics (zhundong 1.5.3, coastal eqs. 1-3): R2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2,
RMSE = sqrt(mean (y - yhat)^2), MAE = mean |y - yhat|. Note: coastal Table 4 lists XGBoost (first block)
with MAE_v 9.611 > RMSE_v 8.815, which cannot be (MAE <= RMSE always): a typo in the seed.

Hyperparameter search (core/tuning.py: Optuna's TPE sampler over the same grids when Optuna is installed):
RandomizedSearchCV over ``SEARCH_GRIDS`` on the calibration samples only,
``n_iter`` = budget, 5-fold seeded KFold (fewer folds for small sets), scoring = negative RMSE,
``random_state`` = seed (the coastal seed used Optuna; a seeded randomized search is the scikit-learn
equivalent with a fixed budget).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

KINDS = ("rf", "svr", "mlp", "boosting", "plsr", "stacking")
LABELS = {"rf": "Random forest", "svr": "SVR (RBF)", "mlp": "MLP (BPNN)", "boosting": "Gradient boosting",
          "plsr": "PLSR", "stacking": "Stacking (MLP + RF + boosting -> PLSR)"}
SEED = 42
MLP_HIDDEN = 8
PLS_COMPONENTS = 2
BOOST_TREES, BOOST_DEPTH, BOOST_RATE = 200, 4, 0.05
#: scikit-learn's default of 20 samples per leaf leaves a 4/5 fold of a 50-sample set nearly unsplit (almost
#: constant out-of-fold predictions that the stacking meta-learner then over-weights); salinity sets are small.
HIST_MIN_LEAF = 5
STACK_FOLDS = 5
MIN_SAMPLES = 10
XGBOOST_TYPES = frozenset({"xgboost.core.Booster", "xgboost.sklearn.XGBRegressor"})

#: Search spaces of the optional hyperparameter search (parameter names of the factory's estimators).
SEARCH_GRIDS = {
    "rf": {"n_estimators": [100, 200, 400], "max_features": [1.0, "sqrt", 0.5],
           "min_samples_leaf": [1, 2, 4], "max_depth": [None, 5, 10, 20]},
    "svr": {"regressor__svr__C": [0.1, 1, 10, 100, 1000], "regressor__svr__gamma": [0.001, 0.01, 0.1, 1.0],
            "regressor__svr__epsilon": [0.01, 0.1, 0.5]},
    "mlp": {"regressor__mlpregressor__hidden_layer_sizes": [(8,), (16,), (32,), (16, 8)],
            "regressor__mlpregressor__alpha": [1e-4, 1e-3, 1e-2, 1e-1],
            "regressor__mlpregressor__learning_rate_init": [0.001, 0.01]},
    "boosting_xgboost": {"n_estimators": [100, 200, 400], "max_depth": [2, 3, 4, 6],
                         "learning_rate": [0.02, 0.05, 0.1, 0.2], "subsample": [0.7, 1.0]},
    "boosting_hist": {"max_iter": [100, 200, 400], "max_depth": [2, 3, 4, 6],
                      "learning_rate": [0.02, 0.05, 0.1, 0.2], "min_samples_leaf": [5, 10, 20]},
    "plsr": {"plsregression__n_components": [1, 2, 3, 4, 5, 6, 8, 10]},
    "stacking": {"rf__n_estimators": [100, 200], "rf__min_samples_leaf": [1, 2, 4],
                 "mlp__regressor__mlpregressor__alpha": [1e-4, 1e-2, 1e-1],
                 "final_estimator__n_components": [1, 2, 3]},
}


# --------------------------------------------------------------------------- estimators
def xgboost_available() -> bool:
    try:
        import xgboost
    except Exception:  # noqa: BLE001 - a broken install is "not available"
        return False
    return bool(getattr(xgboost, "XGBRegressor", None))


def boosting_backend() -> str:
    """"xgboost" when xgboost imports and model files accept its types, else "hist" (scikit-learn)."""
    from . import modelfile
    return "xgboost" if xgboost_available() and XGBOOST_TYPES <= modelfile.TRUSTED_TYPES else "hist"


def _scaled_target(regressor):
    """``regressor`` fitted on the standardised target, its predictions scaled back (scikit-learn's
    TransformedTargetRegressor with a StandardScaler): SVR's C = 10, epsilon = 0.1 and the MLP's learning rate
    presume a target of unit scale (the features are standardised by the pipeline)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import StandardScaler
    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


def make_estimator(kind: str, seed: int = SEED, n_features: int | None = None, backend: str | None = None):
    """An unfitted scikit-learn estimator of ``kind`` with the seeds' settings (module docstring)."""
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor, StackingRegressor
    from sklearn.model_selection import KFold
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    if kind == "rf":
        return RandomForestRegressor(n_estimators=100, criterion="squared_error", random_state=seed)
    if kind == "svr":
        return _scaled_target(make_pipeline(StandardScaler(), SVR(kernel="rbf", C=10.0, gamma=0.1)))
    if kind == "mlp":
        return _scaled_target(make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(MLP_HIDDEN,), learning_rate_init=0.01, max_iter=1000, random_state=seed)))
    if kind == "boosting":
        if (backend or boosting_backend()) == "xgboost":
            from xgboost import XGBRegressor
            return XGBRegressor(n_estimators=BOOST_TREES, max_depth=BOOST_DEPTH, learning_rate=BOOST_RATE,
                                tree_method="hist", random_state=seed, n_jobs=1)
        return HistGradientBoostingRegressor(max_iter=BOOST_TREES, max_depth=BOOST_DEPTH, learning_rate=BOOST_RATE,
                                             min_samples_leaf=HIST_MIN_LEAF, random_state=seed)
    if kind == "plsr":
        comps = PLS_COMPONENTS if n_features is None else max(1, min(PLS_COMPONENTS, n_features))
        return make_pipeline(StandardScaler(), PLSRegression(n_components=comps))
    if kind == "stacking":
        base = [("mlp", make_estimator("mlp", seed)), ("rf", make_estimator("rf", seed)),
                ("boost", make_estimator("boosting", seed, backend=backend))]
        return StackingRegressor(base, final_estimator=PLSRegression(n_components=1),
                                 cv=KFold(STACK_FOLDS, shuffle=True, random_state=seed))
    raise ValueError(f"unknown model kind {kind!r}; one of {', '.join(KINDS)}")


def predict(estimator, X) -> np.ndarray:
    """1-D float64 predictions (PLSRegression and a PLSR-topped stack return a column)."""
    return np.asarray(estimator.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64).ravel()


def fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # MLP ConvergenceWarning after the seed's 1000 steps
        return estimator.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))


# --------------------------------------------------------------------------- metrics
def metrics(y, yhat) -> dict:
    """n, R2 = 1 - SSres / SStot, RMSE = sqrt(mean squared error), MAE = mean absolute error
    (zhundong 1.5.3; coastal eqs. 1-3)."""
    y = np.asarray(y, dtype=np.float64).ravel()
    e = y - np.asarray(yhat, dtype=np.float64).ravel()
    sst = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(e ** 2)) / sst if sst > 0 else math.nan
    return {"n": int(y.size), "r2": r2, "rmse": float(np.sqrt(np.mean(e ** 2))), "mae": float(np.mean(np.abs(e)))}


# --------------------------------------------------------------------------- splits
def systematic_split(n: int, step: int = 5):
    """(calibration, validation) indices: every ``step``-th sample in order is validation (0-based
    step-1, 2 step-1, ...): zhundong 2.2, 220 -> 176 + 44."""
    val = np.arange(step - 1, n, step)
    return np.setdiff1d(np.arange(n), val), val


def random_split(n: int, fraction: float = 0.2, seed: int = SEED):
    """(calibration, validation) indices: a seeded permutation, round(n * fraction) (>= 1) validation."""
    if not 0 < fraction < 1:
        raise ValueError(f"VALIDATION_FRACTION must be between 0 and 1 (got {fraction})")
    k = min(n - 2, max(1, int(round(n * fraction))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[k:]), np.sort(perm[:k])


def kfold(k, seed: int = SEED):
    """Seeded shuffled KFold of ``k`` folds; ``k`` may instead be prepared splits (core.spatialcv.Splits),
    returned as they are."""
    if hasattr(k, "split"):
        return k
    from sklearn.model_selection import KFold
    return KFold(k, shuffle=True, random_state=seed)


# --------------------------------------------------------------------------- checks
def check_samples(X, y, features, target, folds: int = 0):
    """ValueError naming the problem: too few samples, a constant target, NaN / infinite / too large values
    (``checks.MAX_ABS_VALUE``) naming the field and the sample."""
    from .checks import bad_value
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    bad = bad_value(y)
    if bad:
        raise ValueError(f"TARGET field '{target}' has {bad[1]} (sample {bad[0] + 1}); remove or fix those samples")
    for j, name in enumerate(features):
        bad = bad_value(X[:, j])
        if bad:
            raise ValueError(f"predictor field '{name}' has {bad[1]} (sample {bad[0] + 1}); remove or fix those "
                             "samples")
    if n < MIN_SAMPLES:
        raise ValueError(f"INPUT has {n} samples; training needs at least {MIN_SAMPLES}")
    if folds and n < folds:
        raise ValueError(f"INPUT has {n} samples, fewer than the {folds} folds (FOLDS); use fewer folds")
    if np.ptp(y) == 0:
        raise ValueError(f"TARGET field '{target}' is constant ({y[0]:g}); a model cannot be trained on it")


# --------------------------------------------------------------------------- training
@dataclass
class Result:
    kind: str
    estimator: object
    rows: list = field(default_factory=list)          # metric dicts with "set"
    points: dict = field(default_factory=dict)        # set -> (measured, predicted) for the scatter plot
    params: dict = field(default_factory=dict)        # best search parameters (empty without a search)
    backend: str = ""
    tuning: object = None                             # core.tuning.Tuning of the search (None without one)

    def metric(self, set_name, key="r2"):
        for row in self.rows:
            if row["set"] == set_name:
                return row[key]
        return math.nan


def search_grid(kind, backend="hist", n_features=None) -> dict:
    """SEARCH_GRIDS of ``kind`` (PLSR: no more components than predictors)."""
    grid = SEARCH_GRIDS[f"boosting_{backend}" if kind == "boosting" else kind]
    if kind == "plsr" and n_features is not None:
        grid = {k: [c for c in v if c <= n_features] for k, v in grid.items()}
    return grid


def search_cv(n: int, seed: int = SEED):
    """(seeded KFold, folds) of the search: 5 folds, fewer for fewer than 20 samples."""
    folds = max(2, min(5, n // 4))
    return kfold(folds, seed), folds


def search(kind, estimator, X, y, budget: int, seed: int = SEED, backend: str = "hist", trials=None):
    """RandomizedSearchCV over SEARCH_GRIDS[kind] (budget iterations, seeded KFold, negative RMSE);
    (refitted best estimator, best parameters). Inside ``cancel.cancel_check`` a cancel stops it at the next
    candidate (the forests and MLPs of ``cancel.cancel_aware`` estimators check it while they fit).
    ``trials``: a list that receives one dict per candidate (trial, state, value = mean CV RMSE, params as JSON).
    core/tuning.py runs Optuna's TPE search over the same grids instead when Optuna is installed."""
    from sklearn.model_selection import RandomizedSearchCV
    grid = search_grid(kind, backend, X.shape[1])
    cv, _folds = search_cv(len(y), seed)
    rs = RandomizedSearchCV(estimator, grid, n_iter=int(budget), cv=cv,
                            scoring="neg_root_mean_squared_error", random_state=seed, refit=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rs.fit(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
    if trials is not None:
        from .tuning import params_text
        for i, (params, score) in enumerate(zip(rs.cv_results_["params"], rs.cv_results_["mean_test_score"])):
            ok = bool(np.isfinite(score))
            trials.append({"trial": i, "state": "COMPLETE" if ok else "FAIL",
                           "value": -float(score) if ok else math.nan, "params": params_text(params)})
    return rs.best_estimator_, {k: (list(v) if isinstance(v, tuple) else v) for k, v in rs.best_params_.items()}


def train(kind, X, y, validation="systematic", fraction=0.2, folds=5, seed=SEED, budget=0, backend=None,
          cancel=None, names=None, search_options=None) -> Result:
    """Fit ``kind`` and measure it. validation: "systematic" / "random" (calibration + validation metrics,
    model fitted on the calibration samples) or "kfold" (cv metrics of out-of-fold predictions, calibration
    metrics and the model from all samples). ``budget`` > 0 adds a search on the training samples
    (core/tuning.py: Optuna's TPE when installed, else RandomizedSearchCV; ``search_options``: method, timeout, log).

    ``names``: the predictor names, for messages (PLSR refuses constant predictors naming them).
    ``cancel``: a callable returning True once the user cancelled; forests (between chunks of trees), MLPs
    (between epochs), search candidates, folds and stacking folds check it and raise ``cancel.Cancelled``
    (core/cancel.py; the results are those of a run without it).

    Native thread pools (OpenMP of histogram boosting, BLAS) are limited to one thread: on sample sets of a
    few hundred rows, threads cost far more than they save (10x slower inside QGIS)."""
    from threadpoolctl import threadpool_limits

    from . import cancel as cancelling
    with threadpool_limits(limits=1), cancelling.cancel_check(cancel):
        cancelling.checkpoint()
        result = _train(kind, X, y, validation, fraction, folds, seed, budget, backend, names, search_options)
    result.estimator = cancelling.plain(result.estimator)
    return result


def storable(estimator, X):
    """Make a fitted estimator storable in a model file: a stack's KFold object (a type model files do not
    allow) is replaced by the list of (train, test) index arrays it produced, the splits actually used."""
    from sklearn.ensemble import StackingRegressor
    from sklearn.model_selection import KFold
    if isinstance(estimator, StackingRegressor) and isinstance(estimator.cv, KFold):
        estimator.cv = [(np.asarray(tr), np.asarray(te)) for tr, te in estimator.cv.split(X)]
    return estimator


def check_plsr_predictors(X, names=None, where="the calibration samples"):
    """ValueError naming the predictor fields that are constant on ``where`` (PLSR standardises every predictor:
    a constant one gave "illegal value in 4th argument of internal gesdd", or with other fields a wildly wrong
    model: validation R2 -1e28), and for predictors with fewer independent directions than PLS components."""
    from .checks import constant_columns, listing
    X = np.asarray(X, dtype=np.float64)
    names = list(names) if names is not None else [f"column {j + 1}" for j in range(X.shape[1])]
    constant = constant_columns(X, names)
    if constant:
        value = X[0, names.index(constant[0])]
        raise ValueError(f"predictor field(s) {listing(constant)} are constant on {where} (e.g. {value:g} in every "
                         "sample): PLSR standardises each predictor and cannot use a field without variation. "
                         "Remove them from FIELDS (or use another model)")
    comps = max(1, min(PLS_COMPONENTS, X.shape[1]))
    z = (X - X.mean(axis=0)) / X.std(axis=0)
    rank = int(np.linalg.matrix_rank(z)) if z.size else 0
    if rank < comps:
        raise ValueError(f"the predictor fields {listing(names)} are linearly dependent on {where} (rank {rank}): "
                         f"PLSR with {comps} components needs {comps} fields that are not copies or multiples of one "
                         "another. Remove the duplicated fields from FIELDS")


def _train(kind, X, y, validation, fraction, folds, seed, budget, backend, names=None, search_options=None) -> Result:
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict

    from .cancel import cancel_aware
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    backend = backend or boosting_backend()
    est = cancel_aware(make_estimator(kind, seed, X.shape[1], backend))
    result = Result(kind, None, backend=backend if kind in ("boosting", "stacking") else "")

    def fitted(Xc, yc):
        if kind == "plsr":
            check_plsr_predictors(Xc, names)
        if budget and budget > 0:
            from .tuning import tune
            best, result.tuning = tune(kind, clone(est), Xc, yc, budget, seed, backend, **(search_options or {}))
            result.params = result.tuning.best_params
            return best
        return fit(clone(est), Xc, yc)

    if validation == "kfold":
        if kind == "plsr":      # each fold's PLSR is fitted on the other folds: each must vary in every field
            for k, (train_idx, _test) in enumerate(kfold(folds, seed).split(X)):
                check_plsr_predictors(X[train_idx], names, f"the training samples of fold {k + 1} of {folds}")
        model = fitted(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            oof = np.asarray(cross_val_predict(clone(model), X, y, cv=kfold(folds, seed)), dtype=np.float64).ravel()
        cal = predict(model, X)
        model = storable(model, X)
        result.rows = [dict(set="calibration", **metrics(y, cal)), dict(set="cv", **metrics(y, oof))]
        result.points = {"calibration": (y, cal), "cv": (y, oof)}
    else:
        if validation == "systematic":
            ic, iv = systematic_split(len(y))
        elif validation == "random":
            ic, iv = random_split(len(y), fraction, seed)
        else:
            raise ValueError(f"unknown validation {validation!r}")
        model = storable(fitted(X[ic], y[ic]), X[ic])
        pc, pv = predict(model, X[ic]), predict(model, X[iv])
        result.rows = [dict(set="calibration", **metrics(y[ic], pc)), dict(set="validation", **metrics(y[iv], pv))]
        result.points = {"calibration": (y[ic], pc), "validation": (y[iv], pv)}
    result.estimator = model
    return result


def compare(X, y, kinds=KINDS, **kwargs) -> tuple[list[Result], str]:
    """Every model of ``kinds`` trained on the same split (train()'s arguments); (results, best kind by
    validation R2 - or cv R2 for k-fold - as in coastal Table 4)."""
    results = [train(k, X, y, **kwargs) for k in kinds]
    key = "cv" if kwargs.get("validation") == "kfold" else "validation"
    scores = [r.metric(key) for r in results]
    best = results[int(np.nanargmax(scores))].kind if not all(math.isnan(s) for s in scores) else ""
    return results, best
