"""Geodetector on a table / point layer: factor, interaction, risk and ecological detectors."""
from __future__ import annotations

import os

import numpy as np
from qgis.core import (
    QgsProcessing,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from ..core import geodetector as gd
from ..raster.engine import Canceled
from ..reports.html import write_html_report
from .base import MiningEcoAlgorithm

METHODS = ("equal", "quantile", "natural", "geometric", "std", "optimal")
METHOD_TITLES = ("Equal interval", "Quantile", "Natural breaks (Fisher-Jenks)", "Geometric interval",
                 "Standard deviation", "Optimal (best significant q over every method and k)")
FACTOR_COLUMNS = [("period", str), ("factor", str), ("method", str), ("n_classes", int), ("q", float),
                  ("p", float), ("rank", int)]
INTERACTION_COLUMNS = [("period", str), ("factor1", str), ("factor2", str), ("q1", float), ("q2", float),
                       ("q12", float), ("interaction", str)]
RISK_COLUMNS = [("period", str), ("factor", str), ("stratum_a", str), ("stratum_b", str), ("mean_a", float),
                ("mean_b", float), ("t", float), ("df", float), ("p", float), ("significant", bool)]
ECOLOGICAL_COLUMNS = [("period", str), ("factor1", str), ("factor2", str), ("F", float), ("p", float),
                      ("significant", bool)]
ALL_PERIODS = "all"
MEAN_PERIOD = "mean"


def _missing(v):
    return v is None or (hasattr(v, "isNull") and v.isNull()) or (isinstance(v, float) and v != v)


def _rank(values):
    """1 = largest."""
    order = np.argsort(-np.asarray(values, dtype=float), kind="stable")
    ranks = np.empty(len(values), dtype=int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks.tolist()


def heatmap_png(path, names, matrix, title):
    """Lower-triangle heatmap of interaction q (diagonal: single-factor q)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(names)
    fig = Figure(figsize=(3.0 + 0.8 * n, 1.5 + 0.7 * n), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    shown = np.where(np.tril(np.ones((n, n), bool)), matrix, np.nan)
    im = ax.imshow(shown, cmap="YlGnBu", vmin=0, vmax=1)
    for i in range(n):
        for j in range(i + 1):
            ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > 0.6 else "black")
    ax.set_xticks(range(n))
    ax.set_xticklabels(names, rotation=45, ha="right")
    ax.set_yticks(range(n))
    ax.set_yticklabels(names)
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="q")
    fig.tight_layout()
    fig.savefig(path)


class GeodetectorAlgorithm(MiningEcoAlgorithm):
    ID = "geodetector"
    NAME = "Geodetector (factor, interaction, risk, ecological)"
    GROUP = "drivers"
    SUMMARY = ("Explains a numeric Y field (e.g. RSEI) by strata of X fields. Factor detector: "
               "q = 1 - sum_h n_h var_h / (N var) (population variances), p from the noncentral F. Interaction "
               "detector: q of the overlay of two factors, typed as nonlinear/uni-variable weakening, independent "
               "(within TOLERANCE of q1 + q2), bi-variable or nonlinear enhancement. Risk detector: mean Y per "
               "stratum and Welch t-tests between strata. Ecological detector: F = SSW_x1 / SSW_x2 (same N) against "
               "F(N-1, N-1). Continuous X are cut into classes (equal, quantile, natural breaks, geometric, standard "
               "deviation, or the optimal method and k: the highest significant q); fields listed as categorical are "
               "used as they are. With a PERIOD field every detector runs per period (discretising within the "
               "period) and the factor table adds the mean q and its rank per factor.")
    SOURCE = ("ningdong seed 3.4 (eq. 20, Table 4, Tables 14-15); Wang et al. 2010 (IJGIS 24:107-127); Wang & Xu "
              "2017 (Acta Geogr. Sin. 72:116-134) and their R package geodetector; optimal discretisation: Song et "
              "al. 2020 (GIScience & Remote Sensing 57:593-610).")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Samples", [QgsProcessing.TypeVector]),
                 "Table or point layer, one row per sample (e.g. per coal mine and year).")
        self.add(QgsProcessingParameterField("Y_FIELD", "Y field (explained variable)", parentLayerParameterName="INPUT",
                                             type=QgsProcessingParameterField.Numeric),
                 "Numeric field to explain, e.g. RSEI.")
        self.add(QgsProcessingParameterField("X_FIELDS", "X fields (factors)", parentLayerParameterName="INPUT",
                                             allowMultiple=True),
                 "Factor fields. Numeric ones are discretised by METHOD unless listed in CATEGORICAL_FIELDS. "
                 "qgis_process: repeat the key (X_FIELDS=slope X_FIELDS=landuse).")
        self.add(QgsProcessingParameterField("CATEGORICAL_FIELDS", "Categorical X fields (used as they are)",
                                             parentLayerParameterName="INPUT", allowMultiple=True, optional=True),
                 "X fields whose values are already classes (land use code, soil type...). Text fields are always "
                 "categorical.")
        self.add(QgsProcessingParameterField("PERIOD_FIELD", "Period field (by-period mode)",
                                             parentLayerParameterName="INPUT", optional=True),
                 "Optional, e.g. year: the detectors run separately for each value; the factor table adds rows "
                 "'mean' with the mean q per factor and its rank (ningdong Tables 14-15).")
        self.add(QgsProcessingParameterEnum("METHOD", "Discretisation of continuous X", list(METHOD_TITLES),
                                            defaultValue=1),
                 "0 equal interval, 1 quantile, 2 natural breaks, 3 geometric interval, 4 standard deviation, "
                 "5 optimal (every method with K_MIN..K_MAX classes, the highest q with p < ALPHA).")
        self.add(QgsProcessingParameterNumber("K", "Number of classes", QgsProcessingParameterNumber.Integer,
                                              defaultValue=5, minValue=2),
                 "Classes per continuous X (methods 0-4). Empty classes are dropped.")
        self.add(QgsProcessingParameterNumber("K_MIN", "Optimal: fewest classes", QgsProcessingParameterNumber.Integer,
                                              defaultValue=3, minValue=2), "Lower end of the k range tried by "
                 "the optimal method.", advanced=True)
        self.add(QgsProcessingParameterNumber("K_MAX", "Optimal: most classes", QgsProcessingParameterNumber.Integer,
                                              defaultValue=7, minValue=2), "Upper end of the k range tried by "
                 "the optimal method.", advanced=True)
        self.add(QgsProcessingParameterNumber("ALPHA", "Significance level", QgsProcessingParameterNumber.Double,
                                              defaultValue=0.05, minValue=1e-6, maxValue=0.5),
                 "Used by the optimal method and the 'significant' columns.", advanced=True)
        self.add(QgsProcessingParameterNumber("TOLERANCE", "Interaction: tolerance of 'independent'",
                                              QgsProcessingParameterNumber.Double, defaultValue=1e-6, minValue=0.0),
                 "q(x1 n x2) within this of q(x1) + q(x2) counts as independent (Table 4 states an equality).",
                 advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_FACTOR", "Factor detector", QgsProcessing.TypeVector),
                        "period, factor, method, n_classes, q, p, rank (1 = strongest in its period).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_INTERACTION", "Interaction detector",
                                                          QgsProcessing.TypeVector, optional=True),
                        "period, factor1, factor2, q1, q2, q12, interaction type.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_RISK", "Risk detector", QgsProcessing.TypeVector,
                                                          optional=True),
                        "period, factor, stratum_a/b, mean_a/b, Welch t, df, p, significant.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_ECOLOGICAL", "Ecological detector",
                                                          QgsProcessing.TypeVector, optional=True),
                        "period, factor1, factor2, F, p (upper tail), significant.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_HEATMAP", "Interaction heatmap (PNG)",
                                                              "PNG files (*.png)", optional=True),
                        "Interaction q (diagonal: single factor q); by period: the mean over periods.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True),
                        "All tables, the heatmap and the formulas.")

    # -- inputs ------------------------------------------------------------------------------------
    def _read(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise ValueError("INPUT: no layer was given.")
        fields = source.fields()
        y_name = self.parameterAsString(parameters, "Y_FIELD", context)
        x_names = self.parameterAsFields(parameters, "X_FIELDS", context)
        cats = set(self.parameterAsFields(parameters, "CATEGORICAL_FIELDS", context))
        period = self.parameterAsString(parameters, "PERIOD_FIELD", context) or None
        if not x_names:
            raise ValueError("X_FIELDS: give at least one factor field.")
        if y_name in x_names:
            raise ValueError(f"X_FIELDS: the Y field '{y_name}' cannot also be a factor.")
        for name in [y_name] + x_names + ([period] if period else []):
            if fields.indexOf(name) < 0:
                raise ValueError(f"INPUT has no field '{name}'.")
        unknown = cats - set(x_names)
        if unknown:
            raise ValueError(f"CATEGORICAL_FIELDS: {', '.join(sorted(unknown))} not in X_FIELDS.")
        for name in x_names:
            if not fields.field(name).isNumeric():
                cats.add(name)
        names = [y_name] + x_names + ([period] if period else [])
        idx = [fields.indexOf(n) for n in names]
        rows, dropped = [], 0
        for feat in source.getFeatures():
            attrs = feat.attributes()
            vals = [attrs[i] for i in idx]
            if any(_missing(v) for v in vals):
                dropped += 1
                continue
            rows.append(vals)
        if dropped:
            feedback.pushWarning(f"{dropped} rows with an empty (NULL) Y, X or period value were left out.")
        if not rows:
            raise ValueError("INPUT: no row has all of Y, X and period values.")
        cols = list(zip(*rows))
        y = np.array(cols[0], dtype=float)
        xs = {}
        for k, name in enumerate(x_names, start=1):
            xs[name] = (np.array([str(v) for v in cols[k]], dtype=object) if name in cats
                        else np.array(cols[k], dtype=float))
        periods = np.array([str(v) for v in cols[-1]], dtype=object) if period else None
        return y, y_name, xs, cats, periods

    def _strata(self, y, x, name, cat, method, k, k_range, alpha):
        if cat:
            return x, "categorical", int(np.unique(x).size)
        if method == "optimal":
            best = gd.optimal_discretization(y, x, k_range=k_range, alpha=alpha, name=name)
            return best["codes"], f"optimal: {best['method']} k={best['k']}", best["n_classes"]
        codes, edges = gd.discretize(x, method, k)
        return codes, method, int(np.unique(codes).size)

    def _detect(self, label, y, xs, cats, opts, out):
        names = list(xs)
        strata, qs = {}, {}
        for name in names:
            codes, how, n_classes = self._strata(y, xs[name], name, name in cats, *opts[:4])
            r = gd.factor_detector(y, codes, name=f"X_FIELDS {name} (period {label})")
            strata[name], qs[name] = codes, r.q
            out["factor"].append([label, name, how, n_classes, r.q, r.p, 0])
        first = len(out["factor"]) - len(names)
        for row, rank in zip(out["factor"][first:], _rank([qs[n] for n in names])):
            row[6] = rank
        alpha, tol = opts[3], opts[4]
        for i, a in enumerate(names):
            res = gd.risk_detector(y, strata[a], name=a, alpha=alpha)
            means = dict(zip(res.labels, res.means))
            for p in res.pairs:
                out["risk"].append([label, a, str(p["a"]), str(p["b"]), means[p["a"]], means[p["b"]],
                                    p["t"], p["df"], p["p"], p["significant"]])
            for b in names[i + 1:]:
                it = gd.interaction_detector(y, strata[a], strata[b], (a, b), tolerance=tol)
                out["interaction"].append([label, a, b, it["q1"], it["q2"], it["q12"], it["type"]])
                f_val, p_val = gd.ecological_detector(y, strata[a], strata[b], (a, b))
                out["ecological"].append([label, a, b, f_val, p_val, bool(p_val < alpha)])

    # -- run -------------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        y, y_name, xs, cats, periods = self._read(parameters, context, feedback)
        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]
        k = self.parameterAsInt(parameters, "K", context)
        k_min = self.parameterAsInt(parameters, "K_MIN", context)
        k_max = self.parameterAsInt(parameters, "K_MAX", context)
        if k_max < k_min:
            raise ValueError(f"K_MAX ({k_max}) must be at least K_MIN ({k_min}).")
        opts = (method, k, range(k_min, k_max + 1), self.parameterAsDouble(parameters, "ALPHA", context),
                self.parameterAsDouble(parameters, "TOLERANCE", context))
        out = {"factor": [], "interaction": [], "risk": [], "ecological": []}
        labels = [ALL_PERIODS] if periods is None else sorted(set(periods))
        for n, label in enumerate(labels):
            sel = slice(None) if periods is None else periods == label
            self._detect(label, y[sel], {n_: x[sel] for n_, x in xs.items()}, cats, opts, out)
            feedback.setProgress(80.0 * (n + 1) / len(labels))
            if feedback.isCanceled():
                raise Canceled()
        names = list(xs)
        if periods is not None:
            mean_q = [float(np.mean([r[4] for r in out["factor"] if r[1] == nm])) for nm in names]
            for nm, q, rank in zip(names, mean_q, _rank(mean_q)):
                out["factor"].append([MEAN_PERIOD, nm, "", 0, q, None, rank])
        # interaction matrix (mean over periods)
        mat = np.zeros((len(names), len(names)))
        for i, nm in enumerate(names):
            mat[i, i] = np.mean([r[4] for r in out["factor"] if r[1] == nm and r[0] != MEAN_PERIOD])
        for i, a in enumerate(names):
            for j in range(i):
                vals = [r[5] for r in out["interaction"] if {r[1], r[2]} == {a, names[j]}]
                mat[i, j] = mat[j, i] = float(np.mean(vals))
        results = {}
        for key, cols, kind in (("OUTPUT_FACTOR", FACTOR_COLUMNS, "factor"),
                                ("OUTPUT_INTERACTION", INTERACTION_COLUMNS, "interaction"),
                                ("OUTPUT_RISK", RISK_COLUMNS, "risk"),
                                ("OUTPUT_ECOLOGICAL", ECOLOGICAL_COLUMNS, "ecological")):
            dest = self.write_table(parameters, key, context, cols, out[kind])
            if dest is not None:
                results[key] = dest
        heat = self.parameterAsFileOutput(parameters, "OUTPUT_HEATMAP", context)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        title = f"Interaction q of {y_name}" + (" (mean over periods)" if periods is not None else "")
        png = heat or (os.path.splitext(report)[0] + "_heatmap.png" if report else None)
        if png:
            heatmap_png(png, names, mat, title)
            if heat:
                results["OUTPUT_HEATMAP"] = heat
        if report:
            def dicts(cols, rows):
                return [dict(zip([c for c, _ in cols], r)) for r in rows]
            write_html_report(report, f"Geodetector of {y_name}", [
                ("Method", self.SUMMARY + "\n\nSources: " + self.SOURCE),
                ("Factor detector", dicts(FACTOR_COLUMNS, out["factor"])),
                ("Interaction detector", dicts(INTERACTION_COLUMNS, out["interaction"])),
                (title, png),
                ("Ecological detector", dicts(ECOLOGICAL_COLUMNS, out["ecological"])),
                ("Risk detector", dicts(RISK_COLUMNS, out["risk"])),
            ])
            results["OUTPUT_REPORT"] = report
        feedback.setProgress(100)
        return results
