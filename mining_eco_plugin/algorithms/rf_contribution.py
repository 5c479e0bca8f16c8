"""Random-forest factorial contributions of driver categories (changhe 2.4.2, eqs. 6-7), on a sample table."""
from __future__ import annotations

from io import BytesIO

import numpy as np
from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from ..core import rf_contribution as rc
from ..raster.engine import Canceled
from .base import MiningEcoAlgorithm
from .samples import numeric_field, read_columns

SCORE_TITLES = ("Out-of-bag R2 (R randomForest '% Var explained')", "R2 on the training samples")
CATEGORY_COLUMNS = [("category", str), ("drivers", str), ("r2_all", float), ("r2_without", float),
                    ("act_con", float), ("rel_con_pct", float)]
DRIVER_COLUMNS = [("driver", str), ("category", str), ("importance", float), ("importance_pct", float)]


class RfContributionAlgorithm(MiningEcoAlgorithm):
    ID = "rfcontribution"
    NAME = "Random-forest contributions of driver categories"
    GROUP = "drivers"
    SUMMARY = ("Factorial random-forest experiment: drivers are grouped into categories (e.g. climate, soil, "
               "mining); a random forest is fitted on all drivers (RF_all) and one without each category (RF_i). "
               "Actual contribution ActCon_i = RF_all - RF_i, relative contribution RelCon_i = |ActCon_i| / "
               "sum |ActCon| x 100 %, where RF is the model's R2 (out-of-bag by default, like R randomForest's "
               "'% Var explained'). Also the permutation importance of each driver in RF_all (mean drop of R2 "
               "when the driver is shuffled; negative values set to 0) normalised to 100 %. Forests: 500 trees, "
               "mtry = p/3 (R randomForest defaults), fixed seed. Sample-table mode only (per-pixel maps are "
               "not implemented yet).")
    SOURCE = ("changhe section 2.4.2, eqs. 6-7 (factorial RF experiments, ActCon / RelCon); random forest: "
              "Breiman 2001, settings of R randomForest (Liaw & Wiener 2002); permutation importance: "
              "scikit-learn permutation_importance.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Samples", [QgsProcessing.TypeVector]),
                 "Table or point layer, one row per sample (e.g. 1000 random points as in changhe), with Y and "
                 "the driver fields.")
        self.add(QgsProcessingParameterField("Y_FIELD", "Y field (response, e.g. NPP)", parentLayerParameterName="INPUT",
                                             type=QgsProcessingParameterField.Numeric),
                 "Numeric field explained by the drivers.")
        self.add(QgsProcessingParameterString("CATEGORIES", "Driver categories (field=category, ...)", multiLine=True),
                 "Each driver field with its category, separated by commas, semicolons or new lines, e.g. "
                 "'prec=climate, temp=climate, som=soil, dist_mine=mining'. At least two categories; only these "
                 "fields are used as drivers.")
        self.add(QgsProcessingParameterNumber("N_TREES", "Number of trees", QgsProcessingParameterNumber.Integer,
                                              defaultValue=rc.DEFAULT_TREES, minValue=10),
                 "Trees per forest (500: R randomForest's default; changhe used that package and states no value).")
        self.add(QgsProcessingParameterEnum("SCORE", "Model score used as RF in eq. 6", list(SCORE_TITLES),
                                            defaultValue=0),
                 "0 out-of-bag R2 (default: honest, what R randomForest reports), 1 R2 on the training samples.")
        self.add(QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer,
                                              defaultValue=42),
                 "Seed of the forests and of the permutations (fixed seed: identical results twice).", advanced=True)
        self.add(QgsProcessingParameterNumber("N_REPEATS", "Permutation repeats", QgsProcessingParameterNumber.Integer,
                                              defaultValue=10, minValue=1),
                 "Shuffles per driver for the permutation importance.", advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_CATEGORIES", "Category contributions",
                                                          QgsProcessing.TypeVector),
                        "One row per category: category, drivers, r2_all, r2_without, act_con (eq. 6), "
                        "rel_con_pct (eq. 7).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_DRIVERS", "Driver importances",
                                                          QgsProcessing.TypeVector),
                        "One row per driver: driver, category, importance (mean R2 drop), importance_pct (sums to 100).")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True),
                        "Settings, both tables, a bar chart of the contributions and importances, the formulas.")

    def _read(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise ValueError("INPUT: no sample layer was given.")
        fields = source.fields()
        y_name = self.parameterAsString(parameters, "Y_FIELD", context)
        numeric_field(fields, y_name, "Y_FIELD")
        try:
            mapping = rc.parse_categories(self.parameterAsString(parameters, "CATEGORIES", context), fields.names())
        except rc.ContributionError as err:
            raise ValueError(f"CATEGORIES: {err}") from None
        if y_name in mapping:
            raise ValueError(f"CATEGORIES: the Y field '{y_name}' cannot also be a driver.")
        for name in mapping:
            numeric_field(fields, name, "CATEGORIES")
        data = read_columns(source, [y_name] + list(mapping), feedback)
        return data[:, 0], data[:, 1:], y_name, mapping

    def run_tool(self, parameters, context, feedback):
        y, X, y_name, mapping = self._read(parameters, context, feedback)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        feedback.setProgress(5)

        def progress(fraction):
            if feedback.isCanceled():
                raise Canceled()
            feedback.setProgress(5 + 85 * fraction)
        try:
            res = rc.rf_contributions(X, y, list(mapping), mapping,
                                      n_estimators=self.parameterAsInt(parameters, "N_TREES", context),
                                      random_state=self.parameterAsInt(parameters, "SEED", context),
                                      score=rc.SCORES[self.parameterAsEnum(parameters, "SCORE", context)],
                                      n_repeats=self.parameterAsInt(parameters, "N_REPEATS", context),
                                      target_name=y_name, progress=progress)
        except rc.ContributionError as err:
            raise ValueError(f"{err.param + ': ' if err.param else ''}{err}") from None
        cat_rows = [[r["category"], r["drivers"], res.score_all, r["score_without"], r["act_con"], r["rel_con_pct"]]
                    for r in res.category_rows()]
        drv_rows = [[r[c] for c, _k in DRIVER_COLUMNS] for r in res.driver_rows()]
        cats = self.write_table(parameters, "OUTPUT_CATEGORIES", context, CATEGORY_COLUMNS, cat_rows)
        drivers = self.write_table(parameters, "OUTPUT_DRIVERS", context, DRIVER_COLUMNS, drv_rows)
        for c, r in zip(res.categories, res.rel_con):
            feedback.pushInfo(f"RelCon {c}: {r:.2f} %")
        feedback.pushInfo(f"RF_all {res.score}-R2 = {res.score_all:.4f} ({res.n_samples} samples).")
        for c, a in zip(res.categories, res.act_con):
            if a < 0:
                feedback.pushWarning(f"ActCon {c} = {a:.4f} < 0: the model is better WITHOUT this category (its "
                                     "drivers act as noise); eq. 7 counts |ActCon| as changhe defines it.")
        if report:
            self._report(report, res, y_name)
        feedback.setProgress(100)
        return {"OUTPUT_CATEGORIES": cats, "OUTPUT_DRIVERS": drivers, "OUTPUT_REPORT": report or None}

    def _report(self, path, res, y_name):
        from ..reports.html import write_html_report
        import os
        import tempfile
        settings = {"Y": y_name, "samples": res.n_samples, "trees": res.n_estimators, "mtry": "floor(p/3), at least 1",
                    "seed": res.random_state, "score (RF in eq. 6)": f"{res.score} R2",
                    f"RF_all {res.score} R2": res.score_all}
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "rf_contributions.png")
            with open(chart, "wb") as fh:
                fh.write(_bar_chart_png(res))
            write_html_report(path, f"Random-forest contributions to {y_name}", [
                ("Settings", settings),
                ("Relative contributions and driver importances", chart),
                ("Category contributions (changhe eqs. 6-7)", res.category_rows()),
                ("Driver permutation importance", res.driver_rows()),
                ("Formulas", (
                    "ActCon_i = RF_all - RF_i (eq. 6), RF = the model's R2 (out-of-bag: the R2 of each sample "
                    "predicted by the trees that did not see it; or on the training samples), RF_i fitted without "
                    "the drivers of category i (a category holding every driver: RF_i predicts mean(Y), R2 = 0).\n\n"
                    "RelCon_i = |ActCon_i| / sum_i |ActCon_i| x 100 % (eq. 7).\n\n"
                    "Importance: mean drop of R2 of RF_all on the samples when one driver is shuffled "
                    "(scikit-learn permutation_importance; changhe uses R's MDA on out-of-bag samples), "
                    "negative values set to 0, normalised to sum 100 %.")),
            ])


def _bar_chart_png(res) -> bytes:
    """Two bar panels: RelCon per category, importance % per driver (coloured by category)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..styles.palettes import RF_CATEGORY_COLOURS as colours
    colour = {c: colours[i % len(colours)] for i, c in enumerate(res.categories)}
    fig = Figure(figsize=(max(6.4, 0.5 * len(res.drivers) + 3), 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(2, 1, 1)
    ax.bar(res.categories, res.rel_con, color=[colour[c] for c in res.categories], edgecolor="#333333")
    for i, v in enumerate(res.rel_con):
        ax.text(i, v, f"{v:.1f} %", ha="center", va="bottom")
    ax.set_ylabel("Relative contribution (%)")
    ax.set_ylim(0, 110)
    ax.set_title(f"RelCon (eq. 7), RF_all {res.score} R2 = {res.score_all:.3f}")
    ax = fig.add_subplot(2, 1, 2)
    order = np.argsort(-res.importance_pct, kind="stable")
    ax.bar([res.drivers[j] for j in order], res.importance_pct[order],
           color=[colour[res.mapping[res.drivers[j]]] for j in order], edgecolor="#333333")
    ax.set_ylabel("Permutation importance (%)")
    ax.tick_params(axis="x", rotation=45)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
