"""Variable screening: PLS VIP and grey relational grade of candidate fields against a target field."""
from __future__ import annotations

import numpy as np
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from .. import compat
from ..core import screening as sc
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .samples import numeric_field, read_columns, sample_source

RULE_TITLES = ("VIP only (the VIP set of He et al. 2026, used by their best model VIP-RF)",
               "GRA only (the GRA set of He et al. 2026)", "Both VIP and GRA", "Either VIP or GRA")
NORMALISATION_TITLES = ("Min-max (x - min) / (max - min)", "Mean value x / mean", "Initial value x / x(1)")
TABLE_COLUMNS = [("variable", str), ("vip", float), ("gra", float), ("pearson_r", float), ("vip_pass", bool),
                 ("gra_pass", bool), ("selected", bool)]


class VipScreeningAlgorithm(MiningEcoAlgorithm):
    ID = "vipscreening"
    NAME = "Variable screening (PLS VIP and grey relational analysis)"
    GROUP = "salinity"
    SUMMARY = (
        "Screens candidate variables (e.g. spectral indices sampled at soil samples) against a measured target (e.g. "
        "soil salt content) with two methods: PLS variable importance in projection (kept if VIP > 1) and the grey "
        "relational grade (kept if GRA >= 0.75); a rule combines them (default: VIP only). Pearson r is reported as "
        "well.\n"
        "Inputs: a table or point layer with the target and the candidate fields.\n"
        "Outputs: a table with one row per candidate, the selected fields as text (feed it to Train model in the "
        "Modeler), a bar chart and an HTML report.")
    SOURCE = cite("he2026", "wold1993", "chong2005", "deng1989")
    SHORT_DESCRIPTION = (
        "Selects predictors of a measured target by PLS VIP (> 1) and grey relational grade (>= 0.75)")
    TAGS = ("vip", "variable importance", "pls", "grey relational analysis", "gra", "feature selection",
            "variable selection", "salinity", "soil salt")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Samples", [compat.ProcessingSourceType.Vector]),
                 "Table or point layer with one row per sample (e.g. the output of Sample rasters at points).")
        self.add(QgsProcessingParameterField("TARGET_FIELD", "Target field (measured value)", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric),
                 "Numeric field of the measured value, e.g. soil salt content in g/kg.")
        self.add(QgsProcessingParameterField("FIELDS", "Candidate fields", parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric, allowMultiple=True,
                                             optional=True),
                 "Numeric candidates; default: every numeric field except the target and the layer's primary key (e.g. "
                 "a GeoPackage fid); fields that are empty in every row are skipped with a warning. qgis_process: "
                 "repeat the key (FIELDS=NDVI FIELDS=SI1).")
        self.add(QgsProcessingParameterNumber("N_COMPONENTS", "PLS components (0 = choose by cross-validation)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                              maxValue=limits.COMPONENTS_MAX),
                 "Number of PLS components for VIP; 0 picks the number with the lowest k-fold CV RMSE.")
        self.add(QgsProcessingParameterNumber("VIP_THRESHOLD", "VIP threshold",
                                              compat.ProcessingNumberParameterType.Double,
                                              defaultValue=1.0, minValue=0.0, maxValue=100.0),
                 "A variable passes VIP if VIP > this value (He et al. 2026: 1).")
        self.add(QgsProcessingParameterNumber("GRA_THRESHOLD", "Grey relational grade threshold",
                                              compat.ProcessingNumberParameterType.Double, defaultValue=0.75,
                                              minValue=0.0, maxValue=1.0),
                 "A variable passes GRA if its grade >= this value (He et al. 2026: 0.75).")
        self.add(QgsProcessingParameterEnum("RULE", "Selection rule", list(RULE_TITLES), defaultValue=0),
                 "0 VIP only, 1 GRA only, 2 both, 3 either. He et al. 2026 screen with each method separately and "
                 "their best model (VIP-RF) uses the VIP set.")
        self.add(QgsProcessingParameterNumber("RHO", "Resolution coefficient (rho)",
                                              compat.ProcessingNumberParameterType.Double,
                                              defaultValue=0.5, minValue=0.001, maxValue=1.0),
                 "Grey relational resolution coefficient, 0 < rho <= 1 (Deng: 0.5).", advanced=True)
        self.add(QgsProcessingParameterEnum("NORMALISATION", "GRA normalisation", list(NORMALISATION_TITLES),
                                            defaultValue=0),
                 "0 min-max (default: He et al. 2026 do not say; works for negative indices), 1 mean value, "
                 "2 initial value (time series).", advanced=True)
        self.add(QgsProcessingParameterNumber("MAX_COMPONENTS", "Largest number of components tried by CV",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=10,
                                              minValue=1, maxValue=limits.COMPONENTS_MAX),
                 "Upper bound of the CV search (also limited by the candidates and the fold size).", advanced=True)
        self.add(QgsProcessingParameterNumber("CV_FOLDS", "Cross-validation folds",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=5, minValue=2, maxValue=limits.FOLDS_MAX),
                 "k of the k-fold CV that chooses the number of components.", advanced=True)
        self.add(QgsProcessingParameterNumber("SEED", "Random seed of the CV folds",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=42, minValue=limits.SEED_MIN, maxValue=limits.SEED_MAX),
                 "Seed of the shuffled k-fold split (fixed seed: identical results twice).", advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Screening table",
                                                          compat.ProcessingSourceType.Vector),
                        "One row per candidate: variable, vip, gra, pearson_r, vip_pass, gra_pass, selected.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_CHART", "Bar chart (PNG)", "PNG files (*.png)",
                                                              optional=True),
                        "VIP and GRA bars per variable with both thresholds.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True),
                        "Table, chart, the PLS components (and CV RMSE) and the formulas.")
        self.add_result(QgsProcessingOutputString("SELECTED_FIELDS", "Selected fields (comma-separated)"),
                        "The fields kept by RULE, e.g. NDVI,SI1,S2: feed it to the predictor fields of a model in "
                        "the Modeler.")
        self.add_result(QgsProcessingOutputString("VIP_FIELDS", "Fields with VIP above the threshold"),
                        "The VIP set of He et al. 2026 (whatever RULE says).")
        self.add_result(QgsProcessingOutputString("GRA_FIELDS", "Fields with GRA at or above the threshold"),
                        "The GRA set of He et al. 2026 (whatever RULE says).")
        self.add_result(QgsProcessingOutputNumber("N_COMPONENTS_USED", "PLS components used"),
                        "N_COMPONENTS, or the number chosen by cross-validation.")

    # -- inputs -------------------------------------------------------------------------------------
    def _read_samples(self, parameters, context, feedback):
        source, fields, target = sample_source(self, parameters, context, "TARGET_FIELD")
        chosen = self.parameterAsFields(parameters, "FIELDS", context)
        for name in chosen:
            numeric_field(fields, name, "FIELDS")
        if target in chosen:
            raise ValueError(f"FIELDS: the target '{target}' cannot also be a candidate.")
        default = not chosen
        if default:
            layer = self.parameterAsVectorLayer(parameters, "INPUT", context)
            keys = set(layer.dataProvider().pkAttributeIndexes()) if layer is not None else set()
            chosen = [f.name() for i, f in enumerate(fields)
                      if f.isNumeric() and f.name() != target and i not in keys]
            if not chosen:
                raise ValueError("FIELDS: INPUT has no numeric field besides the target.")
        data = read_columns(source, [target] + chosen, feedback)
        y, X = data[:, 0], data[:, 1:]
        if default:
            empty = np.all(np.isnan(X), axis=0) if len(data) else np.ones(len(chosen), bool)
            for name in np.array(chosen)[empty]:
                feedback.pushWarning(f"Candidate {name} is empty (NULL) in every row: skipped.")
            X = X[:, ~empty]
            chosen = [n for n, e in zip(chosen, empty) if not e]
        return X, y, target, chosen

    # -- run ---------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        X, y, target, names = self._read_samples(parameters, context, feedback)
        chart = self.parameterAsFileOutput(parameters, "OUTPUT_CHART", context)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        vip_t = self.parameterAsDouble(parameters, "VIP_THRESHOLD", context)
        gra_t = self.parameterAsDouble(parameters, "GRA_THRESHOLD", context)
        rule = sc.RULES[self.parameterAsEnum(parameters, "RULE", context)]
        normalisation = sc.NORMALISATIONS[self.parameterAsEnum(parameters, "NORMALISATION", context)]
        feedback.setProgress(10)
        try:
            res = sc.screen_variables(
                X, y, names, target_name=target,
                n_components=self.parameterAsInt(parameters, "N_COMPONENTS", context) or None,
                max_components=self.parameterAsInt(parameters, "MAX_COMPONENTS", context),
                folds=self.parameterAsInt(parameters, "CV_FOLDS", context),
                seed=self.parameterAsInt(parameters, "SEED", context),
                vip_threshold=vip_t, gra_threshold=gra_t,
                rho=self.parameterAsDouble(parameters, "RHO", context), normalisation=normalisation, rule=rule)
        except sc.ScreeningError as err:
            raise ValueError(f"{err.param + ': ' if err.param else ''}{err}") from None
        feedback.setProgress(70)
        rows = res.rows()
        table = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_COLUMNS,
                                 [[r[c] for c, _k in TABLE_COLUMNS] for r in rows])
        if chart:
            from ..reports.screening_plot import screening_png
            screening_png(chart, res.names, res.vip, res.gra, vip_t, gra_t,
                          title=f"Screening against {target} ({len(y)} samples, {res.n_components} PLS components)")
        if report:
            self._report(report, chart, res, target, len(y), vip_t, gra_t, normalisation, parameters, context)
        selected = ",".join(res.selected_names())
        feedback.pushInfo(f"PLS components: {res.n_components}. Selected ({rule}): {selected or 'none'}.")
        if not selected:
            feedback.pushWarning("No variable passes the selection rule: SELECTED_FIELDS is empty.")
        feedback.setProgress(100)
        return {"OUTPUT_TABLE": table, "OUTPUT_CHART": chart or None, "OUTPUT_REPORT": report or None,
                "SELECTED_FIELDS": selected, "VIP_FIELDS": ",".join(res.selected_names("vip")),
                "GRA_FIELDS": ",".join(res.selected_names("gra")), "N_COMPONENTS_USED": res.n_components}

    def _report(self, path, chart, res, target, n, vip_t, gra_t, normalisation, parameters, context):
        from ..reports.html import write_html_report
        rho = self.parameterAsDouble(parameters, "RHO", context)
        settings = {"target": target, "samples": n, "candidates": len(res.names),
                    "PLS components": res.n_components,
                    "components chosen by": "k-fold CV (lowest RMSE)" if res.cv_rmse.size else "N_COMPONENTS",
                    "VIP threshold (VIP >)": vip_t, "GRA threshold (GRA >=)": gra_t,
                    "resolution coefficient rho": rho, "GRA normalisation": normalisation,
                    "rule": res.rule, "selected": ", ".join(res.selected_names()) or "none"}
        sections = [("Settings and result", settings), ("Variables", res.rows())]
        if chart:
            sections.append(("VIP and grey relational grade", chart))
        if res.cv_rmse.size:
            sections.append(("Cross-validated RMSE per number of PLS components",
                             [{"components": a + 1, "cv_rmse": float(v)} for a, v in enumerate(res.cv_rmse)]))
        sections.append(("Formulas", (
            "VIP_j = sqrt(p * sum_a SS_a (w_ja / ||w_a||)^2 / sum_a SS_a), SS_a = q_a^2 t_a't_a, on standardised "
            "X and y (Wold et al. 1993; Chong & Jun 2005). The mean of VIP^2 is 1, hence the threshold VIP > 1.\n\n"
            "Grey relational grade (Deng 1989): d_i(k) = |y'(k) - x_i'(k)| on normalised sequences, "
            "xi_i(k) = (dmin + rho dmax) / (d_i(k) + rho dmax) with dmin, dmax over all candidates, "
            "grade = mean over samples. Shape similarity: a variable that falls as the target rises has a low "
            "grade even if strongly (negatively) correlated; see pearson_r.\n\n"
            f"{cite('he2026')} (sections 1.5.2, 2.1) used the VIP set (VIP > 1) and the GRA set (GRA >= 0.75) "
            f"separately; {cite('lan2025')} screened by Pearson correlation.")))
        write_html_report(path, f"Variable screening against {target}", sections)
