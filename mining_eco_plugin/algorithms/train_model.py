"""Train a salinity regression model from samples (miningeco:trainmodel): RF, SVR, MLP, boosting, PLSR, stacking."""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .. import compat
from ..core import explain, modelfile
from ..deps import shap_missing_message, skops_missing_message
from ..deps.native import libsvm_clash, svr_refusal
from ..core import models as core
from ..core import spatialcv
from ..raster.engine import Canceled
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .samples import numeric_field, read_columns

MODEL_OPTIONS = [(k, core.LABELS[k]) for k in core.KINDS]
VALIDATION_OPTIONS = [("systematic", "Systematic 1-in-5 split (every 5th sample validates; He et al. 2026)"),
                      ("random", "Seeded random split (VALIDATION_FRACTION)"),
                      ("kfold", "k-fold cross-validation (FOLDS)"),
                      ("blocks", "Spatial block k-fold (BLOCK_SIZE blocks in FOLDS folds)"),
                      ("clusters", "Spatial k-means clusters of the coordinates (FOLDS folds)"),
                      ("buffer", "Buffered leave-one-out (BUFFER)")]
#: metric set of each cross-validation (the table's "set"; "validation" for the splits)
CV_SETS = {"kfold": "cv", "blocks": "block cv", "clusters": "cluster cv", "buffer": "buffered loo"}
SPATIAL = ("blocks", "clusters", "buffer")
#: the random k-fold cross-validation that a spatial one is shown beside
RANDOM_CV = "random cv"
METRIC_FIELDS = (("model", str), ("set", str), ("n", int), ("r2", float), ("rmse", float), ("mae", float))
TRIAL_FIELDS = (("trial", int), ("state", str), ("value", float), ("best", float), ("params", str))
SEARCH_METHODS = [("auto", "Optuna TPE (randomized search when Optuna is not installed)"),
                  ("random", "Randomized search (scikit-learn RandomizedSearchCV)")]
#: longest search time limit (seconds): a day
SEARCH_TIMEOUT_MAX = 86_400
SHAP_FIELDS = (("rank", int), ("feature", str), ("mean_abs_shap", float), ("mean_shap", float), ("share_pct", float))
COMPARE_FIELDS = (("model", str), ("backend", str), ("r2_c", float), ("rmse_c", float), ("mae_c", float),
                  ("r2_v", float), ("rmse_v", float), ("mae_v", float), ("best", bool))

SUMMARY = (
    "Trains a regression model of a measured target (e.g. soil salt content) on predictor fields of a sample table "
    "(e.g. indices at the sampling points), measures it (R2, RMSE, MAE) and saves it as a model file for Apply model. "
    "Models: random forest, SVR, MLP (BPNN), gradient boosting (XGBoost when installed), PLSR and stacking (MLP, RF "
    "and boosting with a PLSR meta-learner); SVR and MLP learn a standardised target. Validation: every 5th sample "
    "(default), a seeded random split, k-fold cross-validation or, for a point layer, spatial (blocks, k-means "
    "clusters or buffered leave-one-out) beside a random k-fold to show its optimism. Optional: a hyperparameter "
    "search (Optuna's TPE when installed, else a randomized search), a comparison of all models on one split "
    "and SHAP explanations.\n"
    "Outputs: the model file (loading it runs no code), a metrics table, the comparison table, a scatter plot and an "
    "HTML report. Needs the Python package skops (see the Set-up group).")
SOURCE = cite("he2026", "lan2025", "breiman2001", "wolpert1992")


class TrainModelAlgorithm(MiningEcoAlgorithm):
    ID = "trainmodel"
    NAME = "Train salinity model"
    GROUP = "salinity"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Random forest, SVR, MLP, boosting, PLSR or stacking model of soil salinity from sample points")
    TAGS = ("machine learning", "regression", "random forest", "svr", "svm", "mlp", "bpnn", "neural network",
            "xgboost", "gradient boosting", "plsr", "stacking", "inversion", "soil salt content", "optuna",
            "hyperparameter tuning")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Samples", [compat.ProcessingSourceType.Vector]),
                 "Table or point layer, one row per sample, with the target and the predictor fields.")
        self.add(QgsProcessingParameterField("TARGET", "Target field", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric),
                 "Measured value to model (e.g. soil salt content in g/kg).")
        self.add(QgsProcessingParameterField("FIELDS", "Predictor fields", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric, allowMultiple=True,
                                             optional=True),
                 "Numeric predictor fields (e.g. spectral indices). Give these or SELECTED_FIELDS.")
        self.add(QgsProcessingParameterString("SELECTED_FIELDS", "Predictor fields as text", optional=True),
                 "Comma-separated field names, e.g. the selected-fields output of the VIP screening tool; used "
                 "when FIELDS is empty (if both are given they must name the same fields).")
        self.add(QgsProcessingParameterEnum("MODEL", "Model", [label for _k, label in MODEL_OPTIONS],
                                            defaultValue=0),
                 "Model saved in the model file: " + "; ".join(f"{i} = {label}" for i, (_k, label)
                                                                 in enumerate(MODEL_OPTIONS)) + ".")
        self.add(QgsProcessingParameterEnum("VALIDATION", "Validation", [label for _k, label in VALIDATION_OPTIONS],
                                            defaultValue=0),
                 "0 = systematic 1-in-5 split (model fitted on the calibration samples); 1 = seeded random split; "
                 "2 = k-fold cross-validation (metrics of out-of-fold predictions; model refitted on all samples); "
                 "spatial, on a point layer: 3 = blocks of BLOCK_SIZE m dealt to FOLDS folds, 4 = FOLDS k-means "
                 "clusters of the coordinates, 5 = buffered leave-one-out (training leaves out the samples within "
                 "BUFFER m); shown beside a random FOLDS-fold cross-validation.")
        self.add(QgsProcessingParameterNumber("VALIDATION_FRACTION", "Validation fraction (random split)",
                                              compat.ProcessingNumberParameterType.Double, 0.2,
                                              minValue=0.05, maxValue=0.5),
                 "Share of the samples held out by the random split.", advanced=True)
        self.add(QgsProcessingParameterNumber("FOLDS", "Folds (k-fold)", compat.ProcessingNumberParameterType.Integer,
                                              5, minValue=2, maxValue=50),
                 "Number of folds of the cross-validation.", advanced=True)
        self.add(QgsProcessingParameterNumber("BLOCK_SIZE", "Block size (m, spatial blocks)",
                                              compat.ProcessingNumberParameterType.Double, 1000.0,
                                              minValue=0.001, maxValue=limits.SPATIAL_DISTANCE_MAX),
                 "Side of the square blocks (metres; geodesic on a geographic CRS) of the spatial block "
                 "cross-validation; e.g. the range of the target's variogram.", advanced=True)
        self.add(QgsProcessingParameterNumber("BUFFER", "Buffer (m, buffered leave-one-out)",
                                              compat.ProcessingNumberParameterType.Double, 500.0,
                                              minValue=0.0, maxValue=limits.SPATIAL_DISTANCE_MAX),
                 "Samples within this distance (metres; geodesic on a geographic CRS) of the validation sample "
                 "are left out of its training set.", advanced=True)
        self.add(QgsProcessingParameterNumber("SEED", "Random seed", compat.ProcessingNumberParameterType.Integer, 42,
                                              minValue=limits.SEED_MIN, maxValue=limits.SEED_MAX),
                 "Seed of the models, the random split, the folds and the search: the same seed gives the same "
                 "results.", advanced=True)
        self.add(QgsProcessingParameterBoolean("SEARCH", "Hyperparameter search", defaultValue=False),
                 "Optuna's seeded TPE search (first trial: the default parameters) or, without Optuna, "
                 "scikit-learn's randomized search, over the spaces listed in the manual; 5-fold CV RMSE on the "
                 "calibration samples only.")
        self.add(QgsProcessingParameterNumber("SEARCH_BUDGET", "Search budget (trials)",
                                              compat.ProcessingNumberParameterType.Integer, 20,
                                              minValue=1, maxValue=500),
                 "Parameter combinations tried (Optuna trials).", advanced=True)
        self.add(QgsProcessingParameterEnum("SEARCH_METHOD", "Search method", [lb for _k, lb in SEARCH_METHODS],
                                            defaultValue=0),
                 "0 = Optuna TPE when installed (else randomized); 1 = randomized search.", advanced=True)
        self.add(QgsProcessingParameterNumber("SEARCH_TIMEOUT", "Search time limit (seconds)",
                                              compat.ProcessingNumberParameterType.Integer, 0,
                                              minValue=0, maxValue=SEARCH_TIMEOUT_MAX),
                 "Optuna stops starting trials after this time; 0 = none (needed for the same result twice).",
                 advanced=True)
        self.add(QgsProcessingParameterBoolean("COMPARE_MODELS", "Compare all models", defaultValue=False),
                 "Also train every model on the same split and write the comparison table (as Table 4 of Lan et al. "
                 "2025); the model file still holds the MODEL chosen above.")
        self.add(QgsProcessingParameterBoolean("EXPLAIN", "SHAP explanations", defaultValue=False),
                 "SHAP values of the model on the validation samples (all samples with k-fold): mean |SHAP| "
                 "per predictor (table, report) and a summary plot. Trees: exact TreeExplainer; SVR, MLP, PLSR: "
                 "KernelExplainer; stacking: its base learners weighted by the meta-learner. Needs shap (Set-up "
                 "group); without it the report says why.")
        self.add(QgsProcessingParameterNumber("EXPLAIN_BACKGROUND", "SHAP background size (kernel)",
                                              compat.ProcessingNumberParameterType.Integer, explain.BACKGROUND,
                                              minValue=5, maxValue=explain.BACKGROUND_MAX),
                 "KernelExplainer's background: k-means centres of the calibration samples.", advanced=True)
        self.add(QgsProcessingParameterNumber("EXPLAIN_SAMPLES", "SHAP samples explained (kernel)",
                                              compat.ProcessingNumberParameterType.Integer, explain.KERNEL_SAMPLES,
                                              minValue=5, maxValue=explain.KERNEL_SAMPLES_MAX),
                 "At most this many samples (seeded subset) for KernelExplainer models; trees explain all.",
                 advanced=True)
        self.add(QgsProcessingParameterString("UNITS", "Target units", defaultValue="g/kg", optional=True),
                 "Units of the target, stored in the model file and shown on the plot.", advanced=True)
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Model file", "Model files (*.model)"),
                        "Model file (.model: skops inside a checked zip; loading runs no code) with the feature "
                        "names, target, units, metrics and library versions.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Metrics",
                                                          compat.ProcessingSourceType.Vector),
                        "Table: model, set (calibration / validation / cv; spatial: block cv / cluster cv / "
                        "buffered loo and random cv), n, r2, rmse, mae.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_COMPARISON", "Model comparison",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=False),
                        "With COMPARE_MODELS: one row per model (calibration and validation R2, RMSE, MAE; best = "
                        "highest validation R2, or cv R2 for k-fold).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TRIALS", "Search trials",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=False),
                        "With SEARCH: one row per trial (trial, state, value = CV RMSE, best so far, params).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_SHAP", "SHAP importance",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=False),
                        "With EXPLAIN: rank, feature, mean_abs_shap, mean_shap (target units), share_pct.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_SCATTER", "Scatter plot", "PNG files (*.png)",
                                                              optional=True, createByDefault=True),
                        "PNG: predicted against measured values with the 1:1 line.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "HTML report: settings, metrics, comparison, search (defaults' and best score, trials "
                        "plot), scatter plot.")
        self.addOutput(QgsProcessingOutputString("BOOSTING_BACKEND", "Gradient boosting library used"))
        self.addOutput(QgsProcessingOutputString("FEATURES", "Predictor fields used (comma separated)"))
        self.addOutput(QgsProcessingOutputNumber("VALIDATION_R2", "Validation (or cv, or spatial cv) R2 of MODEL"))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        # before any work (training every model, reading rasters): model files need skops
        missing = skops_missing_message()
        if missing:
            return False, f"{self.NAME}: {missing}"
        return super().checkParameterValues(parameters, context)

    # -- inputs ---------------------------------------------------------------------------------
    def _features(self, parameters, context, fields):
        listed = [f for f in self.parameterAsFields(parameters, "FIELDS", context) if f]
        text = self.parameterAsString(parameters, "SELECTED_FIELDS", context) or ""
        typed = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
        if listed and typed and listed != typed:
            raise ValueError(f"FIELDS ({', '.join(listed)}) and SELECTED_FIELDS ({', '.join(typed)}) differ; "
                             "give one of them")
        names = listed or typed
        if not names:
            raise ValueError("no predictor fields: give FIELDS or SELECTED_FIELDS")
        if len(set(names)) != len(names):
            raise ValueError(f"a predictor field is listed twice in FIELDS / SELECTED_FIELDS: {', '.join(names)}")
        for name in names:
            numeric_field(fields, name, "FIELDS / SELECTED_FIELDS")
        return names

    @staticmethod
    def _read(source, target, names, feedback):
        data = read_columns(source, [target] + names, feedback)
        return data[:, 1:], data[:, 0]

    # -- run ----------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        missing = skops_missing_message()          # also when run without checkParameterValues
        if missing:
            raise ValueError(missing)
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise ValueError("INPUT: the samples layer cannot be read")
        target = self.parameterAsString(parameters, "TARGET", context)
        numeric_field(source.fields(), target, "TARGET")
        names = self._features(parameters, context, source.fields())
        if target in names:
            raise ValueError(f"TARGET field '{target}' is also a predictor; remove it from FIELDS")
        kind = MODEL_OPTIONS[self.parameterAsEnum(parameters, "MODEL", context)][0]
        validation = VALIDATION_OPTIONS[self.parameterAsEnum(parameters, "VALIDATION", context)][0]
        fraction = self.parameterAsDouble(parameters, "VALIDATION_FRACTION", context)
        folds = self.parameterAsInt(parameters, "FOLDS", context)
        block_size = self.parameterAsDouble(parameters, "BLOCK_SIZE", context)
        buffer = self.parameterAsDouble(parameters, "BUFFER", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        budget = self.parameterAsInt(parameters, "SEARCH_BUDGET", context) \
            if self.parameterAsBool(parameters, "SEARCH", context) else 0
        compare = self.parameterAsBool(parameters, "COMPARE_MODELS", context)
        method = SEARCH_METHODS[self.parameterAsEnum(parameters, "SEARCH_METHOD", context)][0]
        search_timeout = self.parameterAsInt(parameters, "SEARCH_TIMEOUT", context)
        units = self.parameterAsString(parameters, "UNITS", context) or ""
        model_path = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)

        X, y = self._read(source, target, names, feedback)
        core.check_samples(X, y, names, target, folds if validation in CV_SETS else core.STACK_FOLDS
                           if kind == "stacking" or compare else 0)
        splits, spatial_how = None, ""
        if validation in SPATIAL:
            splits, spatial_how = _spatial_splits(validation, _coordinates(source, feedback), folds, seed,
                                                  block_size, buffer)
            feedback.pushInfo(f"Spatial validation: {spatial_how}")
        clash = libsvm_clash()
        if clash and kind == "svr":
            raise ValueError(f"MODEL: {svr_refusal(clash)}")
        backend = core.boosting_backend()
        settings = dict(validation=validation, fraction=fraction, folds=folds, seed=seed, budget=budget,
                        backend=backend, search_options=dict(method=method, timeout=search_timeout,
                                                             log=feedback.pushInfo))
        # a spatial validation is a cross-validation on the prepared splits (core.models.kfold passes them on)
        fit_settings = dict(settings, validation="kfold", folds=splits) if splits is not None else settings
        feedback.pushInfo(f"{len(y)} samples, {len(names)} predictors ({', '.join(names)}); gradient boosting: "
                          f"{_backend_label(backend)}")
        if budget:
            feedback.pushInfo(_search_text(method, budget, search_timeout, seed))
        feedback.setProgress(5)
        result = _relabel(core.train(kind, X, y, cancel=feedback.isCanceled, names=names, **fit_settings),
                          validation)
        if feedback.isCanceled():
            raise Canceled()
        if splits is not None:      # the random k-fold cross-validation shown beside it (VALIDATION = 2)
            baseline = core.train(kind, X, y, cancel=feedback.isCanceled, names=names,
                                  **dict(settings, validation="kfold"))
            row = next(r for r in baseline.rows if r["set"] == "cv")
            result.rows.append(dict(row, set=RANDOM_CV))
            if feedback.isCanceled():
                raise Canceled()
        if result.tuning is not None:
            feedback.pushInfo(_tuning_summary(result.tuning))
        feedback.setProgress(40 if compare else 80)
        comparison, best = [], ""
        if compare:
            others = [k for k in core.KINDS if k != kind and not (clash and k == "svr")]
            if clash and kind != "svr":
                feedback.pushWarning(f"COMPARE_MODELS: SVR left out. {svr_refusal(clash)}")
            for i, other in enumerate(others):
                if feedback.isCanceled():
                    raise Canceled()
                comparison.append(_relabel(core.train(other, X, y, cancel=feedback.isCanceled, names=names,
                                                      **fit_settings), validation))
                feedback.setProgress(40 + 40 * (i + 1) / len(others))
            comparison = sorted([result] + comparison, key=lambda r: core.KINDS.index(r.kind))
            key = _key(validation)
            best = max(comparison, key=lambda r: -math.inf if math.isnan(r.metric(key)) else r.metric(key)).kind

        explanation = _explanation(self, parameters, context, feedback, result, X, names, settings)

        # -- outputs (everything is computed: nothing below can fail on the data) --------------------
        metrics = {row["set"]: {k: row[k] for k in ("n", "r2", "rmse", "mae")} for row in result.rows}
        bundle = modelfile.ModelBundle(
            result.estimator, names, target, units, kind, metrics,
            extra={"model": core.LABELS[kind], "validation": validation, "seed": seed,
                   "boosting_backend": backend if kind in ("boosting", "stacking") else "",
                   "search_budget": budget, "search_params": _jsonable(result.params), "n_samples": int(len(y)),
                   **({"spatial_validation": spatial_how} if spatial_how else {}),
                   **_tuning_extra(result.tuning)},
            probe=X[:modelfile.PROBE_ROWS])     # loads() checks them under another scikit-learn
        data = modelfile.dumps(bundle)
        modelfile.loads(data, os.path.basename(model_path))     # the file must load back (allowed types)
        _atomic_write(model_path, data)

        label = _model_label(kind, backend)
        table = self.write_table(parameters, "OUTPUT_TABLE", context, METRIC_FIELDS,
                                 [(label, r["set"], r["n"], r["r2"], r["rmse"], r["mae"]) for r in result.rows])
        outputs = {"OUTPUT_MODEL": model_path, "OUTPUT_TABLE": table, "BOOSTING_BACKEND": backend,
                   "FEATURES": ",".join(names), "VALIDATION_R2": result.metric(_key(validation))}
        comp_rows = [_comparison_row(r, backend, best, validation) for r in comparison]
        if compare and parameters.get("OUTPUT_COMPARISON") is not None:
            outputs["OUTPUT_COMPARISON"] = self.write_table(parameters, "OUTPUT_COMPARISON", context, COMPARE_FIELDS,
                                                            comp_rows)
        tuning = result.tuning
        if tuning is not None and parameters.get("OUTPUT_TRIALS") is not None:
            outputs["OUTPUT_TRIALS"] = self.write_table(parameters, "OUTPUT_TRIALS", context, TRIAL_FIELDS,
                                                        [tuple(t[k] for k, _c in TRIAL_FIELDS) for t in tuning.trials])
        if explanation and explanation[0] is not None and parameters.get("OUTPUT_SHAP") is not None:
            outputs["OUTPUT_SHAP"] = self.write_table(parameters, "OUTPUT_SHAP", context, SHAP_FIELDS,
                                                      [tuple(r.values()) for r in explanation[0].table()])
        scatter = self.parameterAsFileOutput(parameters, "OUTPUT_SCATTER", context)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        from ..reports.scatter import scatter_png
        tmp_png = None
        tmp_trials = None
        if scatter:
            scatter_png(scatter, [(s, *result.points[s]) for s in result.points], f"{label}: {target}", units)
            outputs["OUTPUT_SCATTER"] = scatter
        if report:
            png = scatter
            if not png:
                fd, tmp_png = tempfile.mkstemp(suffix=".png")
                os.close(fd)
                scatter_png(tmp_png, [(s, *result.points[s]) for s in result.points], f"{label}: {target}", units)
                png = tmp_png
            try:
                if tuning is not None:
                    from ..reports.tuning_plot import tuning_png
                    fd, tmp_trials = tempfile.mkstemp(suffix=".png")
                    os.close(fd)
                    tuning_png(tmp_trials, tuning.trials, tuning.default_rmse, f"{label}: search trials", units)
                self._report(report, label, target, units, names, len(y), dict(settings, spatial=spatial_how),
                             result, comp_rows, best, png, self.destination(model_path), comparison, tmp_trials,
                             explanation)
            finally:
                for tmp in (tmp_png, tmp_trials):
                    if tmp:
                        os.remove(tmp)
            outputs["OUTPUT_REPORT"] = report
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def _report(path, label, target, units, names, n, settings, result, comp_rows, best, png, model_path,
                comparison=(), trials_png=None, explanation=None):
        from ..reports.html import write_html_report
        validation = dict(VALIDATION_OPTIONS)[settings["validation"]]
        if settings["validation"] == "random":
            validation += f", fraction {settings['fraction']:g}"
        elif settings["validation"] == "kfold":
            validation += f", k = {settings['folds']}"
        elif settings.get("spatial"):
            validation = settings["spatial"]
        info = {"Model": label, "Target": f"{target} ({units})" if units else target, "Samples": n,
                "Predictors": ", ".join(names), "Validation": validation, "Seed": settings["seed"],
                "Gradient boosting library": _backend_label(settings["backend"]),
                "Hyperparameter search": (_search_text(settings["search_options"]["method"], settings["budget"],
                                                       settings["search_options"]["timeout"], settings["seed"])
                                          if settings["budget"] else "no"),
                "Model file": f"{model_path} (holds the {label} model)"}
        sections = [("Settings", info),
                    ("Metrics", [{"set": r["set"], "n": r["n"], "R2": r["r2"], "RMSE": r["rmse"], "MAE": r["mae"]}
                                 for r in result.rows])]
        if settings.get("spatial"):
            sections += _spatial_sections(result, settings["validation"], settings["folds"])
        if result.tuning is not None:
            sections.append(("Hyperparameter search", _tuning_rows(result.tuning, units)))
        if result.params:
            sections.append(("Best search parameters", {k: str(v) for k, v in result.params.items()}))
        if trials_png:
            sections.append(("Search trials (cross-validated RMSE per trial, best so far, default parameters)",
                             trials_png))
        if comp_rows:
            sections.append(("Model comparison (same split; best = highest validation R2)",
                             [{"model": r[0], "R2 c": r[2], "RMSE c": r[3], "MAE c": r[4], "R2 v": r[5],
                               "RMSE v": r[6], "MAE v": r[7], "best": r[8]} for r in comp_rows]))
            sections.append(("Best model", _best_text(label, result, best, comparison, settings["validation"],
                                                      settings["backend"])))
        sections.append(("Predicted against measured", png))
        fd, shap_png = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        if explanation:
            sections += _shap_sections(explanation, label, target, units, settings["seed"], shap_png)
        sections.append(("Formulas", "R2 = 1 - sum (y - yhat)^2 / sum (y - mean y)^2; RMSE = sqrt(mean (y - yhat)^2); "
                                     f"MAE = mean |y - yhat| ({cite('he2026')}, section 1.5.3)."))
        try:
            write_html_report(path, f"Salinity model: {label}", sections)
        finally:
            os.remove(shap_png)


def _explanation(alg, parameters, context, feedback, result, X, names, settings):
    """With EXPLAIN: (Explanation or None, text: which samples, or why there is none); None without EXPLAIN."""
    if not alg.parameterAsBool(parameters, "EXPLAIN", context):
        return None
    missing = shap_missing_message()
    if missing:
        feedback.pushWarning(f"EXPLAIN: no explanations: {missing}")
        return None, f"No SHAP explanations: {missing}"
    feedback.pushInfo("SHAP explanations ...")
    try:
        ex, what = explain.explain_result(
            result.estimator, X, settings["validation"], names, settings["fraction"], settings["seed"],
            alg.parameterAsInt(parameters, "EXPLAIN_BACKGROUND", context),
            alg.parameterAsInt(parameters, "EXPLAIN_SAMPLES", context), cancel=feedback.isCanceled)
    except Exception as err:  # noqa: BLE001 - shap's own failure: the model and metrics are still valid
        if feedback.isCanceled():
            raise Canceled() from None
        feedback.pushWarning(f"EXPLAIN: shap failed ({type(err).__name__}: {err}); no explanations")
        return None, (f"No SHAP explanations: shap {explain.shap_version()} failed on this model "
                      f"({type(err).__name__}: {err}).")
    if feedback.isCanceled():
        raise Canceled()
    feedback.pushInfo(f"SHAP: {ex.method}; {len(ex.rows)} samples; additivity error {ex.additivity_error():.3g}")
    return ex, what


def _shap_sections(explanation, label, target, units, seed, png):
    """Report sections of the explanation; the summary plot is written to ``png`` (a temporary file)."""
    ex, what = explanation
    if ex is None:
        return [("SHAP explanations", what)]
    from ..reports.shap_plot import shap_summary_png
    shap_summary_png(png, ex.values, ex.X, ex.features, f"{label}: SHAP values on {len(ex.rows)} samples",
                     units, seed)
    text = (f"SHAP values (shap {explain.shap_version()}) of {target} on {what}, in the target's units"
            f"{' (' + units + ')' if units else ''}: each sample's prediction = expected value "
            f"({float(np.mean(ex.expected)):.4g}) + the sum of its SHAP values (largest deviation "
            f"{ex.additivity_error():.2g}). Method: {ex.method}.")
    return [("SHAP explanations", text),
            ("Mean |SHAP| per predictor", [{"rank": r["rank"], "predictor": r["feature"], "mean |SHAP|":
                                            r["mean_abs_shap"], "mean SHAP": r["mean_shap"], "share %":
                                            r["share_pct"]} for r in ex.table()]),
            ("SHAP summary plot", png)]


def _best_text(label, result, best, comparison, validation, backend):
    """Which model scored best and which one the model file holds, and why they differ."""
    key = _key(validation)
    if not best:
        return f"No model has a {key} R2; the model file holds {label} (MODEL)."
    scored = {r.kind: r.metric(key) for r in comparison}
    best_label = _model_label(best, backend)
    if best == result.kind:
        return (f"{best_label} ({key} R2 = {scored[best]:.4f}), the highest of the models compared; the model file "
                "holds it.")
    return (f"{best_label} has the highest {key} R2 ({scored[best]:.4f}), but the model file holds {label} ({key} "
            f"R2 = {scored[result.kind]:.4f}): the model file always holds the model chosen in MODEL, and the "
            f"comparison only measures the others on the same split. To save {best_label}, run again with MODEL = "
            f"{best_label}.")


def _key(validation):
    """The metric set that measures ``validation`` (VALIDATION_R2, the best model)."""
    return CV_SETS.get(validation, "validation")


def _relabel(result, validation):
    """A spatial cross-validation's "cv" rows and points under the spatial set's name."""
    name = _key(validation)
    if name != "cv" and validation in CV_SETS:
        for row in result.rows:
            if row["set"] == "cv":
                row["set"] = name
        if "cv" in result.points:
            result.points[name] = result.points.pop("cv")
    return result


def _coordinates(source, feedback):
    """The samples' coordinates for a spatial validation, in feature order (the order read_columns reads):
    ("projected", xy in metres, CRS text) or ("geographic", (lon, lat, a, f), CRS text)."""
    from osgeo import osr
    what = "INPUT: spatial validation (VALIDATION 3 - 5)"
    crs = source.sourceCrs()
    if source.wkbType() == compat.WkbType.NoGeometry:
        raise ValueError(f"{what} needs the samples' locations, but INPUT is a table without geometry; use the "
                         "point layer of the samples (e.g. the output of Sample rasters at points) or VALIDATION "
                         "0 - 2")
    pts = []
    for i, feature in enumerate(source.getFeatures()):
        if feedback.isCanceled():
            raise Canceled()
        geom = feature.geometry()
        vertices = [] if geom is None or geom.isNull() else list(geom.vertices())
        if len(vertices) != 1:
            raise ValueError(f"{what} needs one point per sample, but sample {i + 1} has "
                             f"{'no geometry' if not vertices else f'{len(vertices)} vertices (not a point)'}; "
                             "use a point layer with a location for every sample")
        pts.append((vertices[0].x(), vertices[0].y()))
    xy = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    if not crs.isValid():
        raise ValueError(f"{what}: INPUT has no CRS, so its distances have no unit; assign the layer its CRS")
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs.toWkt())
    name = crs.authid() or srs.GetName() or "custom CRS"
    if srs.IsGeographic():
        a, inv_f = srs.GetSemiMajor(), srs.GetInvFlattening()
        deg = math.degrees(srs.GetAngularUnits() or math.pi / 180.0)
        lon, lat = xy[:, 0] * deg, xy[:, 1] * deg
        if not (np.all(np.abs(lat) <= 90) and np.all((lon >= -180) & (lon <= 360))):
            raise ValueError(f"{what}: INPUT's CRS ({name}) is geographic (degrees), but its coordinates reach "
                             f"x {lon.min():.6g} .. {lon.max():.6g}, y {lat.min():.6g} .. {lat.max():.6g}, outside "
                             "longitudes -180..360 and latitudes -90..90: the CRS label of the layer is wrong; "
                             "assign its real CRS")
        f = 1.0 / inv_f if inv_f else 0.0
        return "geographic", (lon, lat, float(a), f), f"{name}, geodesic distances on its ellipsoid "                                                       f"(a = {a:.3f} m, 1/f = {inv_f:.9g})"
    if not srs.IsProjected() and not srs.IsLocal():
        raise ValueError(f"{what}: INPUT's CRS ({name}) is neither projected nor geographic; reproject the layer "
                         "to a projected CRS in metres")
    unit = srs.GetLinearUnits()
    if not unit or not math.isfinite(unit) or unit <= 0:
        raise ValueError(f"{what}: the linear unit of INPUT's CRS ({name}) is unknown; reproject the layer to a "
                         "projected CRS in metres")
    label = srs.GetLinearUnitsName() or "unit"
    return "projected", xy * unit, (f"{name}, projected ({label}" + (f" = {unit:g} m" if unit != 1 else "") + ")")


def _spatial_splits(validation, coords, folds, seed, block_size, buffer):
    """(core.spatialcv.Splits, description) of the spatial VALIDATION on ``coords`` (_coordinates)."""
    kind, data, crs = coords
    n = len(data[0]) if kind == "geographic" else len(data)
    if validation == "buffer":
        near = (spatialcv.within_geodesic(data[0], data[1], buffer, data[2], data[3]) if kind == "geographic"
                else spatialcv.within_projected(data, buffer))
        splits = spatialcv.buffer_splits(near)
        excluded = np.array([len(v) - 1 for v in near])
        spatialcv.check_training(splits, core.MIN_SAMPLES, ("BUFFER", "sample",
                                                            f"the {n} samples lie too close together for a buffer of "
                                                            f"{buffer:g} m: use a smaller BUFFER"))
        return splits, (f"buffered leave-one-out, buffer {buffer:g} m ({n} model fits; each training set leaves out "
                        f"{excluded.min()} - {excluded.max()} neighbours besides the validation sample, mean "
                        f"{excluded.mean():.1f}); {crs}")
    if kind == "geographic":
        x, y, centre, reach = spatialcv.local_xy(data[0], data[1], data[2], data[3])
        if reach > spatialcv.LOCAL_MAX_M:
            raise ValueError(f"INPUT: the samples lie up to {reach / 1000:.0f} km from their centre; blocks and "
                             "clusters of a geographic CRS are laid in a local azimuthal equidistant projection, "
                             f"accurate within {spatialcv.LOCAL_MAX_M / 1000:.0f} km. Reproject the layer to a "
                             "projected CRS in metres")
        xy = np.column_stack([x, y])
        crs += (f"; blocks and clusters in the azimuthal equidistant projection centred at {centre[0]:.5f} E, "
                f"{centre[1]:.5f} N")
    else:
        xy = data
    if validation == "blocks":
        labels, _cells, nb = spatialcv.block_folds(xy, block_size, folds, seed)
        how = (f"spatial block {folds}-fold, blocks of {block_size:g} m ({nb} holding samples, shuffled with the "
               f"seed and each dealt to the fold with the fewest samples)")
        fix = "use smaller blocks or fewer folds (BLOCK_SIZE, FOLDS)"
    else:
        labels = spatialcv.cluster_folds(xy, folds, seed)
        how = f"spatial {folds}-fold by k-means clusters of the coordinates (scikit-learn KMeans, seeded)"
        fix = "use fewer folds (FOLDS)"
    splits = spatialcv.folds_to_splits(labels)
    spatialcv.check_training(splits, core.MIN_SAMPLES, ("FOLDS" if validation == "clusters" else "BLOCK_SIZE",
                                                        "fold", fix))
    sizes = np.bincount(labels)
    return splits, f"{how}; fold sizes {', '.join(str(int(v)) for v in sizes)}; {crs}"


def _spatial_sections(result, validation, folds):
    """Report: the random k-fold and the spatial cross-validation side by side, and what the difference says."""
    name = _key(validation)
    rows = []
    for set_name, label in ((RANDOM_CV, f"random {folds}-fold cross-validation"),
                            (name, dict(VALIDATION_OPTIONS)[validation])):
        row = next((r for r in result.rows if r["set"] == set_name), None)
        if row is not None:
            rows.append({"validation": label, "set": set_name, "n": row["n"], "R2": row["r2"], "RMSE": row["rmse"],
                         "MAE": row["mae"]})
    r_random, r_spatial = result.metric(RANDOM_CV), result.metric(name)
    optimism = r_random - r_spatial
    if not (math.isfinite(r_random) and math.isfinite(r_spatial)):
        text = "One of the two R2 cannot be computed (constant measured values in a set)."
    elif optimism > 0:
        text = (f"Optimism of a random split: the random cross-validation R2 ({r_random:.4f}) is {optimism:.4f} "
                f"higher than the spatial cross-validation R2 ({r_spatial:.4f}). Random validation samples have "
                "near neighbours among the training samples, so a random split overstates how well the model "
                "predicts away from the samples; the spatial R2 is the honest estimate for a map (VALIDATION_R2 "
                "reports it).")
    else:
        text = (f"No optimism: the spatial cross-validation R2 ({r_spatial:.4f}) is not lower than the random "
                f"cross-validation R2 ({r_random:.4f}) (difference {optimism:.4f}); at this scale the samples show "
                "no advantage of near neighbours.")
    return [("Random against spatial validation", rows), ("Optimism", text)]


def _search_text(method, budget, timeout, seed):
    """The search that runs, in words (and why the randomized search runs when Optuna was asked for)."""
    from ..deps import MISSING_OPTUNA, optuna_version
    version = optuna_version() if method == "auto" else ""
    if version:
        limit = f", time limit {timeout} s" if timeout else ", no time limit"
        return (f"Optuna {version} TPE sampler (seed {seed}), {budget} trials{limit}; first trial: the default "
                "parameters")
    text = f"scikit-learn RandomizedSearchCV (seed {seed}), {budget} iterations"
    if method == "auto":
        text += ". " + MISSING_OPTUNA
    elif timeout:
        text += " (SEARCH_TIMEOUT applies to Optuna only)"
    return text


def _tuning_summary(tuning):
    return (f"Search: CV RMSE {tuning.default_rmse:.6g} with the default parameters, best {tuning.best_rmse:.6g} "
            f"(trial {tuning.best_trial} of {len(tuning.trials)}; {tuning.seconds:.1f} s)")


def _tuning_rows(tuning, units):
    u = f" {units}" if units else ""
    failed = sum(1 for t in tuning.trials if t["state"] != "COMPLETE")
    rows = {"Method": tuning.label,
            "Trials": f"{len(tuning.trials)} of {tuning.budget}" + (f" ({failed} failed)" if failed else "") +
                      (f"; stopped by the time limit ({tuning.timeout:g} s)" if tuning.stopped else ""),
            "Score": f"mean RMSE of a seeded {tuning.folds}-fold cross-validation on the training samples "
                     "(the calibration samples; all samples with k-fold validation)",
            "CV RMSE, default parameters": f"{tuning.default_rmse:.6g}{u}" +
                                           (" (trial 0)" if tuning.default_trial == 0 else ""),
            "CV RMSE, best parameters": f"{tuning.best_rmse:.6g}{u} (trial {tuning.best_trial})"}
    if tuning.default_rmse > 0 and math.isfinite(tuning.best_rmse):
        rows["Change"] = f"{100 * (tuning.best_rmse - tuning.default_rmse) / tuning.default_rmse:+.1f} %"
    rows["Default parameters"] = ", ".join(f"{k} = {v}" for k, v in tuning.default_params.items())
    if tuning.note:
        rows["Note"] = tuning.note
    rows["Time (s)"] = round(tuning.seconds, 1)
    return rows


def _tuning_extra(tuning):
    def number(v):
        return float(v) if math.isfinite(v) else None
    if tuning is None:
        return {}
    return {"search_method": tuning.method, "search_default_rmse": number(tuning.default_rmse),
            "search_best_rmse": number(tuning.best_rmse), "search_trials": len(tuning.trials)}


def _backend_label(backend):
    return "XGBoost" if backend == "xgboost" else "scikit-learn HistGradientBoostingRegressor (XGBoost not used)"


def _model_label(kind, backend):
    if kind == "boosting":
        return "Gradient boosting (XGBoost)" if backend == "xgboost" else "Gradient boosting (sklearn HGB)"
    return core.LABELS[kind]


def _comparison_row(r, backend, best, validation):
    vkey = _key(validation)
    return (_model_label(r.kind, backend), r.backend, r.metric("calibration", "r2"), r.metric("calibration", "rmse"),
            r.metric("calibration", "mae"), r.metric(vkey, "r2"), r.metric(vkey, "rmse"), r.metric(vkey, "mae"),
            r.kind == best)


def _jsonable(params):
    return {k: (v if isinstance(v, (int, float, str, bool, list)) or v is None else str(v)) for k, v in params.items()}


def _atomic_write(path, data: bytes):
    """Write bytes to a temporary file beside ``path`` (the user's umask) and move it into place."""
    from ..reports.html import _atomic_write_bytes
    _atomic_write_bytes(path, data)
