"""Hyperparameter search of the Train model tool: Optuna's TPE sampler when Optuna imports, else scikit-learn's
seeded randomized search (``models.search``). Pure Python / numpy / scikit-learn (optuna when importable); no QGIS.

Search space: ``models.SEARCH_GRIDS`` (the values the randomized search draws from). For Optuna each grid becomes
the distribution its values define (``space``):

* integers only -> ``suggest_int(min, max)``; reals -> ``suggest_float(min, max)``; on a log scale when
  min > 0 and max / min >= 10 (C = 0.1 .. 1000, alpha = 1e-4 .. 0.1, PLS components 1 .. 10);
* anything else (None, text, tuples such as MLP layer sizes, mixed) -> ``suggest_categorical`` over the values
  (tuples by their text, e.g. "(16, 8)").

Objective (minimised): the mean RMSE of the randomized search's seeded k-fold cross-validation
(``models.search_cv``: 5 folds, fewer below 20 samples) on the calibration samples, scikit-learn's
``cross_val_score`` with ``neg_root_mean_squared_error`` as RandomizedSearchCV scores its candidates. The first
trial is the model's default parameters (``study.enqueue_trial``), so the report can set the defaults' score beside
the best one, and the best is never worse than the defaults on this cross-validation. ``TPESampler(seed=SEED)``,
one trial at a time: the same data and seed give the same trials and best parameters when no time limit is set
(a time limit stops the study after the trial that passes it, which depends on the machine's speed).

Cancel: inside ``cancel.cancel_check`` a callback after every trial stops the study (``study.stop()``) and
``Cancelled`` is raised; forests and MLPs also stop inside a trial (core/cancel.py). Optuna's log records go to
``log`` (a callable, e.g. the run's debug log), never to stderr: its own logger's handlers are replaced during the
study and restored after it.
"""
from __future__ import annotations

import json
import logging
import math
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

#: parameters whose library default is None in ``get_params`` though it means a number (XGBoost: subsample 1)
LIBRARY_DEFAULTS = {"subsample": 1.0}
METHODS = ("auto", "random")


@dataclass
class Tuning:
    """What a search did: every trial (``trials``: trial, state, value = CV RMSE, best = best so far, params as
    JSON text), the defaults' and the best CV RMSE."""
    method: str                     # "optuna" or "random"
    label: str                      # e.g. "Optuna 5.1.0, TPE sampler (seed 42)"
    budget: int
    timeout: float = 0.0
    folds: int = 0
    note: str = ""                  # why the randomized search ran although Optuna was asked for
    trials: list = field(default_factory=list)
    default_params: dict = field(default_factory=dict)
    default_rmse: float = math.nan
    default_trial: int = -1         # 0 when the first trial was the default parameters (Optuna), else -1
    best_params: dict = field(default_factory=dict)
    best_rmse: float = math.nan
    best_trial: int = -1
    stopped: str = ""               # "time limit" when the time limit ended the study
    seconds: float = 0.0


# --------------------------------------------------------------------------- search space
def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_real(v):
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _label(v):
    return v if v is None or isinstance(v, (bool, int, float, str)) else repr(v)


def space(values):
    """The distribution a grid's values define: ("int" | "float", low, high, log) or ("categorical", labels,
    {label: value})."""
    values = list(values)
    if values and all(_is_real(v) for v in values) and len(values) > 1:
        low, high = min(values), max(values)
        log = low > 0 and high / low >= 10
        if all(_is_int(v) for v in values):
            return ("int", int(low), int(high), log)
        return ("float", float(low), float(high), log)
    labels = [_label(v) for v in values]
    return ("categorical", labels, dict(zip(labels, values)))


def describe(values) -> str:
    """The space in words, for the manual: "integer 100 - 400", "real 0.1 - 1000 (log scale)", "one of ..."."""
    s = space(values)
    if s[0] == "categorical":
        return "one of " + ", ".join(str(v) for v in s[1])
    kind = "integer" if s[0] == "int" else "real"
    return f"{kind} {s[1]:g} - {s[2]:g}" + (" (log scale)" if s[3] else "")


def _suggest(trial, name, s):
    if s[0] == "int":
        return int(trial.suggest_int(name, s[1], s[2], log=s[3]))
    if s[0] == "float":
        return float(trial.suggest_float(name, s[1], s[2], log=s[3]))
    return s[2][trial.suggest_categorical(name, s[1])]


def _fixed(value, s):
    """A parameter value as ``enqueue_trial`` wants it for space ``s`` (categorical: its label)."""
    if s[0] == "categorical":
        return _label(value)
    return int(value) if s[0] == "int" else float(value)


def _in_space(value, s):
    if s[0] == "categorical":
        return any(_label(value) == label for label in s[1])
    return _is_real(value) and s[1] <= value <= s[2]


def default_params(estimator, grid) -> dict:
    """The estimator's own values of the grid's parameters (the factory's settings)."""
    own = estimator.get_params(deep=True)
    out = {}
    for name in grid:
        value = own.get(name)
        if value is None and name.split("__")[-1] in LIBRARY_DEFAULTS and None not in grid[name]:
            value = LIBRARY_DEFAULTS[name.split("__")[-1]]
        out[name] = value
    return out


def params_text(params) -> str:
    return json.dumps({k: (list(v) if isinstance(v, tuple) else v if v is None or isinstance(
        v, (bool, int, float, str)) else str(v)) for k, v in params.items()}, sort_keys=True)


# --------------------------------------------------------------------------- scoring
def cv_rmse(estimator, X, y, cv) -> float:
    """Mean RMSE of ``estimator`` over the folds of ``cv`` (NaN when a fit fails, as RandomizedSearchCV's
    error_score)."""
    from sklearn.model_selection import cross_val_score
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(estimator, X, y, cv=cv, scoring="neg_root_mean_squared_error", error_score=np.nan)
    value = -float(np.mean(scores))
    return value if math.isfinite(value) else math.nan


def _with_best_so_far(trials):
    best = math.inf
    for t in trials:
        if t["state"] == "COMPLETE" and math.isfinite(t["value"]):
            best = min(best, t["value"])
        t["best"] = best if math.isfinite(best) else math.nan
    return trials


# --------------------------------------------------------------------------- the search
def tune(kind, estimator, X, y, budget: int, seed: int, backend: str = "hist", method: str = "auto",
         timeout: float = 0.0, log=None):
    """(refitted best estimator, ``Tuning``) of a search over ``models.SEARCH_GRIDS`` for ``kind`` on (X, y).
    ``method``: "auto" = Optuna's TPE when Optuna imports, else the randomized search; "random" = the randomized
    search. ``timeout``: seconds (0 = none; Optuna only). ``log``: callable for messages (Optuna's log records)."""
    from . import models
    from ..deps import MISSING_OPTUNA, optuna_version
    if method not in METHODS:
        raise ValueError(f"unknown search method {method!r}; one of {', '.join(METHODS)}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    grid = models.search_grid(kind, backend, X.shape[1])
    cv, folds = models.search_cv(len(y), seed)
    t0 = time.monotonic()
    version = optuna_version() if method == "auto" else ""
    if version:
        best, tuning = _optuna(estimator, X, y, grid, cv, int(budget), seed, float(timeout or 0), log, version)
    else:
        trials = []
        best, params = models.search(kind, estimator, X, y, budget, seed, backend, trials=trials)
        defaults = default_params(estimator, grid)
        tuning = Tuning("random", f"scikit-learn RandomizedSearchCV (seed {seed})", int(budget),
                        note=MISSING_OPTUNA if method == "auto" else "", trials=_with_best_so_far(trials),
                        default_params=defaults, default_rmse=cv_rmse(_set(estimator, defaults), X, y, cv),
                        best_params=params)
        scored = [t for t in trials if t["state"] == "COMPLETE"]
        if scored:
            top = min(scored, key=lambda t: (t["value"], t["trial"]))
            tuning.best_rmse, tuning.best_trial = top["value"], top["trial"]
    tuning.folds = folds
    tuning.seconds = time.monotonic() - t0
    return best, tuning


def _set(estimator, params):
    from sklearn.base import clone
    return clone(estimator).set_params(**params)


@contextmanager
def quiet_optuna(log=None):
    """Optuna's log records go to ``log`` (or nowhere) during the block, not to its stderr handler."""
    logger = logging.getLogger("optuna")
    saved = (list(logger.handlers), logger.level, logger.propagate)

    class Relay(logging.Handler):
        def emit(self, record):
            if log is not None:
                try:
                    log(f"Optuna: {record.getMessage()}")
                except Exception:  # noqa: BLE001 - a log message must not end the search
                    pass

    for h in saved[0]:
        logger.removeHandler(h)
    logger.addHandler(Relay(logging.WARNING))
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
        for h in saved[0]:
            logger.addHandler(h)
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def _optuna(estimator, X, y, grid, cv, budget, seed, timeout, log, version):
    import optuna

    from . import cancel as cancelling
    from . import models
    spaces = {name: space(values) for name, values in grid.items()}
    defaults = default_params(estimator, grid)
    tuning = Tuning("optuna", f"Optuna {version}, TPE sampler (seed {seed})", budget, timeout=timeout,
                    default_params=defaults)
    cancelled = []

    def objective(trial):
        params = {name: _suggest(trial, name, s) for name, s in spaces.items()}
        trial.set_user_attr("params", params_text(params))
        return cv_rmse(_set(estimator, params), X, y, cv)

    def between_trials(study, _trial):
        try:
            cancelling.checkpoint()
        except cancelling.Cancelled:
            cancelled.append(True)
            study.stop()

    with quiet_optuna(log):
        study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
        if all(_in_space(defaults[n], s) for n, s in spaces.items()):
            study.enqueue_trial({n: _fixed(defaults[n], s) for n, s in spaces.items()})
        t0 = time.monotonic()
        study.optimize(objective, n_trials=budget, timeout=timeout or None, callbacks=[between_trials],
                       gc_after_trial=False, show_progress_bar=False)
        elapsed = time.monotonic() - t0
    if cancelled:
        raise cancelling.Cancelled()
    trials = []
    for t in study.trials:
        value = t.value if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None else math.nan
        trials.append({"trial": t.number, "state": t.state.name, "value": float(value),
                       "params": t.user_attrs.get("params", params_text(t.params))})
    tuning.trials = _with_best_so_far(trials)
    if timeout and len(trials) < budget and elapsed >= timeout:
        tuning.stopped = "time limit"
    if trials and trials[0]["state"] == "COMPLETE" and json.loads(trials[0]["params"]) == json.loads(
            params_text(defaults)):
        tuning.default_rmse, tuning.default_trial = trials[0]["value"], 0
    else:
        tuning.default_rmse = cv_rmse(_set(estimator, defaults), X, y, cv)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
                and math.isfinite(t.value)]
    if not complete:
        raise ValueError(f"the hyperparameter search: none of its {len(trials)} trials could be fitted and scored; "
                         "run without SEARCH")
    top = min(complete, key=lambda t: (t.value, t.number))
    best = {name: _suggest_value(top.params[name], s) for name, s in spaces.items()}
    tuning.best_params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in best.items()}
    tuning.best_rmse, tuning.best_trial = float(top.value), top.number
    return models.fit(_set(estimator, best), X, y), tuning


def _suggest_value(stored, s):
    """A trial's stored parameter back to the estimator's value (categorical labels -> values)."""
    if s[0] == "categorical":
        return s[2][stored]
    return int(stored) if s[0] == "int" else float(stored)
