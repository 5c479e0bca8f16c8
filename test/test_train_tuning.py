"""Optuna tuning in miningeco:trainmodel (issue 15, part 2) through processing.run and qgis_process.

References: the cross-validated RMSE of the default and of the best parameters recomputed by hand (scikit-learn
KFold(5, shuffle=True, random_state=SEED) on the calibration samples, RMSE = sqrt(mean squared error) per fold,
mean of the folds); scikit-learn's own RandomizedSearchCV for the fallback without Optuna; the trials table read
back as CSV. Data: the synthetic salt table of test_train_model (60 samples, y = 4 x1 + 2 sin 3 x2 - x3 + noise).
"""
from __future__ import annotations

import copy
import json
import os
import site
import sys
import threading
import time

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, RandomizedSearchCV

from failures import recording_feedback
from mining_eco_plugin.core import modelfile
from mining_eco_plugin.core import models as core
from test_train_model import outputs, read_csv, run, synthetic_table

FIELDS = ["ndvi", "si1", "crsi"]
optuna = pytest.importorskip("optuna")


def params_for(folder, trials=True, **extra):
    out = outputs(folder)
    if trials:
        out["OUTPUT_TRIALS"] = os.path.join(folder, "trials.csv")
    return {"INPUT": None, "TARGET": "salt", "FIELDS": FIELDS, "SEARCH": True, **out, **extra}


def cv_rmse_by_hand(estimator, X, y, seed=42, k=5):
    """Mean over the folds of sqrt(mean (y - yhat)^2), each fold's model fitted on the other folds."""
    rmses = []
    for train, test in KFold(k, shuffle=True, random_state=seed).split(X):
        model = clone(estimator).fit(X[train], y[train])
        rmses.append(float(np.sqrt(np.mean((y[test] - np.ravel(model.predict(X[test]))) ** 2))))
    return float(np.mean(rmses))


def test_optuna_seeded_twice_same_best_defaults_beside_best(provider, tmp_path):
    src, X, y = synthetic_table(tmp_path)
    runs, tables, bundles = [], [], []
    for k in range(2):
        folder = str(tmp_path / f"o{k}")
        res = run(dict(params_for(folder), INPUT=src, MODEL=3, SEARCH_BUDGET=12))
        runs.append(res)
        tables.append(read_csv(res["OUTPUT_TRIALS"]))
        bundles.append(modelfile.loads(open(res["OUTPUT_MODEL"], "rb").read()))
    a, b = bundles
    assert a.extra["search_method"] == "optuna" and a.extra["search_params"] == b.extra["search_params"]
    assert tables[0] == tables[1]                       # every trial: same parameters, same score
    rows = tables[0]
    assert [int(r["trial"]) for r in rows] == list(range(12)) and {r["state"] for r in rows} == {"COMPLETE"}
    values = [float(r["value"]) for r in rows]
    best = [float(r["best"]) for r in rows]
    assert best == [min(values[:i + 1]) for i in range(12)]
    # trial 0 = the default parameters; its score = a 5-fold CV RMSE by hand on the 48 calibration samples
    cal, _val = core.systematic_split(len(y))
    est = core.make_estimator("boosting", 42, 3, core.boosting_backend())
    defaults = json.loads(rows[0]["params"])
    own = est.get_params()
    assert all(own[k] == v or (own[k] is None and k == "subsample" and v == 1.0) for k, v in defaults.items())
    by_hand = cv_rmse_by_hand(est, X[cal], y[cal])
    assert values[0] == pytest.approx(by_hand, rel=1e-7)
    assert a.extra["search_default_rmse"] == pytest.approx(by_hand, rel=1e-7)
    # the best parameters: the file's model has them, and their CV RMSE by hand is the table's minimum
    tuned = a.extra["search_params"]
    assert a.estimator.get_params()["max_depth"] == tuned["max_depth"]
    best_by_hand = cv_rmse_by_hand(clone(est).set_params(**tuned), X[cal], y[cal])
    assert best_by_hand == pytest.approx(min(values), rel=1e-7) == pytest.approx(a.extra["search_best_rmse"])
    assert min(values) <= values[0]
    html = open(runs[0]["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "CV RMSE, default parameters" in html and "CV RMSE, best parameters" in html
    assert f"{values[0]:.6g}" in html and f"{min(values):.6g}" in html and "TPE sampler (seed 42)" in html
    assert html.count("data:image/png;base64") == 2      # trials plot and scatter plot
    print(f"boosting ({core.boosting_backend()}), 12 trials: CV RMSE defaults {values[0]:.4f}, best {min(values):.4f} "
          f"(trial {values.index(min(values))}); validation R2 {runs[0]['VALIDATION_R2']:.4f}")


def test_without_optuna_the_randomized_search_runs_and_says_so(provider, tmp_path, monkeypatch):
    """Optuna made unimportable (sys.modules entry None: ``import optuna`` raises ImportError, as without it)."""
    src, X, y = synthetic_table(tmp_path)
    monkeypatch.setitem(sys.modules, "optuna", None)
    import processing
    fb = recording_feedback()
    folder = str(tmp_path / "o")
    res = processing.run("miningeco:trainmodel", dict(params_for(folder), INPUT=src, MODEL=0, SEARCH_BUDGET=4),
                         feedback=fb)
    text = "\n".join(fb.infos)
    assert "Optuna is not installed" in text and "RandomizedSearchCV" in text and "INSTALL_OPTUNA" in text
    html = open(res["OUTPUT_REPORT"], encoding="utf-8").read()
    assert "Optuna is not installed" in html and "RandomizedSearchCV" in html
    rows = read_csv(res["OUTPUT_TRIALS"])
    assert len(rows) == 4
    # scikit-learn's own search on the calibration samples: the same candidates, scores and best parameters
    cal, _val = core.systematic_split(len(y))
    rs = RandomizedSearchCV(core.make_estimator("rf", 42, 3), core.SEARCH_GRIDS["rf"], n_iter=4,
                            cv=KFold(5, shuffle=True, random_state=42), scoring="neg_root_mean_squared_error",
                            random_state=42).fit(X[cal], y[cal])
    np.testing.assert_allclose([float(r["value"]) for r in rows], -rs.cv_results_["mean_test_score"], rtol=1e-9)
    bundle = modelfile.loads(open(res["OUTPUT_MODEL"], "rb").read())
    assert bundle.extra["search_method"] == "random"
    assert bundle.extra["search_params"] == {k: v for k, v in rs.best_params_.items()}


def test_timeout_and_cancel_between_trials(provider, tmp_path):
    """SVR trials (a few ms each, no cancel checkpoint inside a fit): only the callback between trials can stop
    the study. A time limit of 1 s ends a 500-trial search early; a cancel after 1.5 s leaves no output."""
    src, _X, _y = synthetic_table(tmp_path)
    folder = str(tmp_path / "t")
    res = run(dict(params_for(folder), INPUT=src, MODEL=1, SEARCH_BUDGET=500, SEARCH_TIMEOUT=1))
    rows = read_csv(res["OUTPUT_TRIALS"])
    assert 1 <= len(rows) < 500
    assert "stopped by the time limit" in open(res["OUTPUT_REPORT"], encoding="utf-8").read()

    import processing
    from qgis.core import QgsProcessingException
    folder = tmp_path / "c"
    fb = recording_feedback()
    timer = threading.Timer(1.5, fb.cancel)
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(QgsProcessingException):
        processing.run("miningeco:trainmodel", dict(params_for(str(folder)), INPUT=src, MODEL=1, SEARCH_BUDGET=500),
                       feedback=fb)
    elapsed = time.monotonic() - t0
    timer.cancel()
    assert elapsed < 10, elapsed
    assert os.listdir(folder) == []


def test_core_cancel_stops_between_trials():
    """The cancel check is asked once when training starts and once after every trial (SVR fits have no
    checkpoint): cancelled at the 4th question, the study ran exactly 3 trials and nothing is returned."""
    from mining_eco_plugin.core.cancel import Cancelled
    X = np.random.default_rng(3).random((40, 3))
    y = X @ [1.0, 2.0, -1.0]
    asked = []

    def cancel():
        asked.append(time.monotonic())
        return len(asked) >= 4

    with pytest.raises(Cancelled):
        core.train("svr", X, y, budget=50, cancel=cancel)
    assert len(asked) == 4


def test_optuna_log_silenced_and_restored():
    import logging
    from mining_eco_plugin.core import tuning
    logger = logging.getLogger("optuna")
    before = (list(logger.handlers), logger.level)
    got = []
    X = np.random.default_rng(4).random((30, 2))
    y = X[:, 0] + 0.1 * X[:, 1]
    with tuning.quiet_optuna(got.append):
        logging.getLogger("optuna.study").warning("a warning")
        logging.getLogger("optuna.study").info("Trial 0 finished")
    assert got == ["Optuna: a warning"]
    assert (list(logger.handlers), logger.level) == before
    _best, t = tuning.tune("plsr", core.make_estimator("plsr", 42, 2), X, y, budget=3, seed=1, log=got.append)
    assert len(t.trials) == 3 and t.method == "optuna" and got == ["Optuna: a warning"]


def test_qgis_process_optuna_quiet(qgis_process, tmp_path):
    """Headless: Optuna's per-trial log lines ("Trial 0 finished ...") are not on stderr or stdout."""
    src, _X, _y = synthetic_table(tmp_path)
    qp = copy.copy(qgis_process)
    qp.env = dict(qgis_process.env, PYTHONPATH=site.getsitepackages()[0])
    res = qp("run", "miningeco:trainmodel", "--", f"INPUT={src}", "TARGET=salt", "SELECTED_FIELDS=ndvi,si1,crsi",
             "MODEL=4", "SEARCH=true", "SEARCH_BUDGET=4", f"OUTPUT_MODEL={tmp_path / 'q.model'}",
             f"OUTPUT_TABLE={tmp_path / 'm.csv'}", f"OUTPUT_TRIALS={tmp_path / 'trials.csv'}")
    assert "Trial 0 finished" not in res.stderr + res.stdout and "[I " not in res.stderr
    assert "TPE sampler" in res.stdout
    assert len(read_csv(tmp_path / "trials.csv")) == 4
