"""Geodetector on a table / point layer or on rasters: factor, interaction, risk and ecological detectors."""
from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

from .. import compat
from ..core import geodetector as gd
from ..raster import sampling
from ..raster.engine import BandRef, Canceled, RasterError, RasterStack, raster_info
from ..reports.html import write_html_report
from ..core.checks import bad_value
from .base import MiningEcoAlgorithm, file_raster_path
from . import limits
from .references import cite
from .scene_params import RESAMPLING_OPTIONS

METHODS = ("equal", "quantile", "natural", "geometric", "std", "optimal")
METHOD_TITLES = ("Equal interval", "Quantile", "Natural breaks (Fisher-Jenks)", "Geometric interval",
                 "Standard deviation", "Optimal (best significant q over every method and k)")
FACTOR_COLUMNS = [("period", str), ("factor", str), ("method", str), ("n_classes", int), ("q", float),
                  ("p", float), ("rank", int), ("breaks", str)]
INTERACTION_COLUMNS = [("period", str), ("factor1", str), ("factor2", str), ("q1", float), ("q2", float),
                       ("q12", float), ("interaction", str)]
RISK_COLUMNS = [("period", str), ("factor", str), ("stratum_a", str), ("stratum_b", str), ("mean_a", float),
                ("mean_b", float), ("t", float), ("df", float), ("p", float), ("significant", bool)]
ECOLOGICAL_COLUMNS = [("period", str), ("factor1", str), ("factor2", str), ("stronger", str), ("F", float),
                      ("p", float), ("significant", bool)]
ALL_PERIODS = "all"
MEAN_PERIOD = "mean"
TABLE_PARAMS = ("INPUT", "Y_FIELD", "X_FIELDS", "CATEGORICAL_FIELDS", "PERIOD_FIELD")
RASTER_PARAMS = ("Y_RASTER", "X_RASTERS", "CATEGORICAL_RASTERS")
SAMPLING_TITLES = ("Regular grid: every STEP-th row and column", "Random pixels: N_SAMPLES pixels drawn with SEED")
MAX_CODES_HINT = 20   # a continuous factor raster with at most this many whole-number values looks like class codes
MODES_HELP = ("Give either a table (INPUT with Y_FIELD and X_FIELDS) or rasters (Y_RASTER with X_RASTERS "
              "and/or CATEGORICAL_RASTERS)")


@dataclass
class Samples:
    """What the detectors run on, from either mode: Y, the factors (name -> values), the categorical ones,
    each factor's parameter label for messages (e.g. "X_RASTERS slope"), the optional periods."""
    y: np.ndarray
    y_name: str
    y_label: str
    xs: dict
    cats: set
    labels: dict
    periods: np.ndarray | None = None
    dropped: int = 0
    notes: list = field(default_factory=list)


def _missing(v):
    return v is None or (hasattr(v, "isNull") and v.isNull()) or (isinstance(v, float) and v != v)


def _period_key(label):
    """Periods in numeric order when they are numbers (9 before 10), else as text."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def _interval_labels(edges):
    """Stratum labels of classified values: '[min, b1]', '(b1, b2]', ... (see core.geodetector.classify)."""
    fmt = [f"{float(e):.6g}" for e in edges]
    return [("[" if i == 0 else "(") + f"{fmt[i]}, {fmt[i + 1]}]" for i in range(len(edges) - 1)]


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
    SUMMARY = (
        "Geodetector: how much of the spatial variance of a numeric Y (e.g. RSEI) is explained by strata of factors "
        "X. Factor detector q = 1 - sum(n_h var_h) / (N var) with its p-value; interaction detector (q of two factors "
        "overlaid, typed from nonlinear weakening to nonlinear enhancement); risk detector (mean Y per stratum and "
        "t-tests); ecological detector (F-test between two factors).\n"
        "Two input modes: a table (Y field, factor fields, optional period field for one run per period) or rasters "
        "(a Y raster with continuous and categorical factor rasters on one grid, sampled on a regular grid or at "
        "random pixels). Continuous factors are discretised (equal, quantile, natural breaks, geometric, standard "
        "deviation, or the optimal method and number of classes).\n"
        "Outputs: four detector tables, an interaction heatmap and an HTML report.")
    SOURCE = cite("wang2010", "wangxu2017", "song2020", "han2025")
    SHORT_DESCRIPTION = (
        "Geodetector q statistic of driving factors: factor, interaction, risk and ecological detectors")
    TAGS = ("geodetector", "geographical detector", "q statistic", "spatial stratified heterogeneity",
            "driving factors", "interaction", "optimal discretization", "natural breaks")


    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT", "Table mode: samples (table or point layer)",
                                                     [compat.ProcessingSourceType.Vector], optional=True),
                 "Table mode: one row per sample (e.g. per coal mine and year). Leave empty in raster mode.")
        self.add(QgsProcessingParameterField("Y_FIELD", "Table mode: Y field (explained variable)",
                                             parentLayerParameterName="INPUT",
                                             type=compat.ProcessingFieldParameterDataType.Numeric, optional=True),
                 "Table mode: numeric field to explain, e.g. RSEI.")
        self.add(QgsProcessingParameterField("X_FIELDS", "Table mode: X fields (factors)",
                                             parentLayerParameterName="INPUT", allowMultiple=True, optional=True),
                 "Table mode: factor fields. Numeric ones are discretised by METHOD unless listed in "
                 "CATEGORICAL_FIELDS. qgis_process: repeat the key (X_FIELDS=slope X_FIELDS=landuse).")
        self.add(QgsProcessingParameterField("CATEGORICAL_FIELDS", "Table mode: categorical X fields (used as they "
                                             "are)", parentLayerParameterName="INPUT", allowMultiple=True,
                                             optional=True),
                 "Table mode: X fields whose values are already classes (land use code, soil type...). Text "
                 "fields are always categorical.")
        self.add(QgsProcessingParameterField("PERIOD_FIELD", "Table mode: period field (by-period mode)",
                                             parentLayerParameterName="INPUT", optional=True),
                 "Table mode, optional, e.g. year: the detectors run separately for each value; the factor table "
                 "adds rows 'mean' with the mean q per factor and its rank (as Tables 14-15 of Han et al. 2025).")
        self.add(QgsProcessingParameterRasterLayer("Y_RASTER", "Raster mode: Y raster (explained variable)",
                                                   optional=True),
                 "Raster mode: the raster to explain, e.g. RSEI; it defines the grid. Leave empty in table mode.")
        self.add(QgsProcessingParameterBand("Y_BAND", "Raster mode: band of the Y raster", 1, "Y_RASTER",
                                            optional=True),
                 "Raster mode: band of Y_RASTER (1 by default).", advanced=True)
        self.add(QgsProcessingParameterMultipleLayers("X_RASTERS", "Raster mode: continuous factor rasters",
                                                      compat.ProcessingSourceType.Raster, optional=True),
                 "Raster mode: factors discretised by METHOD (elevation, slope, temperature...), on the grid of "
                 "Y_RASTER. A single-band raster is one factor named by its layer name; every band of a multi-band "
                 "raster is a factor named by its band description. qgis_process: repeat the key "
                 "(X_RASTERS=dem.tif X_RASTERS=slope.tif).")
        self.add(QgsProcessingParameterMultipleLayers("CATEGORICAL_RASTERS", "Raster mode: categorical factor "
                                                      "rasters (used as they are)", compat.ProcessingSourceType.Raster,
                                                      optional=True),
                 "Raster mode: factors whose pixel values are already classes (land-cover codes, soil type, "
                 "geology), used as they are, whatever the data type; named as X_RASTERS.")
        self.add(QgsProcessingParameterEnum("SAMPLING", "Raster mode: sampling", list(SAMPLING_TITLES),
                                            defaultValue=0),
                 "Raster mode: 0 regular grid: the pixels of rows 0, STEP, 2 STEP, ... and columns 0, STEP, "
                 "2 STEP, ...; 1 random: N_SAMPLES distinct pixels drawn uniformly, the same for the same SEED "
                 "(numpy default_rng(SEED).choice of the row-major pixel indices without replacement; "
                 "drawn chunk by chunk when more than 1/50 of a large grid is asked). Only the "
                 "blocks holding sampled pixels are read.")
        self.add(QgsProcessingParameterNumber("STEP", "Raster mode: grid step (pixels)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=10,
                                              minValue=1, maxValue=limits.STEP_MAX),
                 "Regular grid: every STEP-th row and column (1 = every pixel).")
        self.add(QgsProcessingParameterNumber("N_SAMPLES", "Raster mode: number of random pixels",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=10000,
                                              minValue=1, maxValue=limits.SAMPLE_MAX),
                 "Random sampling: pixels drawn (at most the pixels of the grid); those that are nodata in any "
                 "raster are then left out, so fewer may remain.")
        self.add(QgsProcessingParameterNumber("SEED", "Raster mode: random seed",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=42, minValue=limits.SEED_MIN, maxValue=limits.SEED_MAX),
                 "Random sampling: the same seed gives the same pixels.")
        self.add(QgsProcessingParameterEnum("RESAMPLING", "Raster mode: resample factors onto the grid of Y",
                                            [t for _, t in RESAMPLING_OPTIONS], defaultValue=0),
                 "By default every factor raster must share CRS, pixel size and extent with Y_RASTER; choose a "
                 "method to warp the continuous factors onto the grid of Y_RASTER instead (categorical rasters "
                 "are then always warped by nearest neighbour).", advanced=True)
        self.add(QgsProcessingParameterEnum("METHOD", "Discretisation of continuous X", list(METHOD_TITLES),
                                            defaultValue=1),
                 "0 equal interval, 1 quantile, 2 natural breaks, 3 geometric interval, 4 standard deviation, "
                 "5 optimal (every method with K_MIN..K_MAX classes, the highest q with p < ALPHA; when none is "
                 "significant, the highest q is kept, marked in the method column and warned about).")
        self.add(QgsProcessingParameterNumber("K", "Number of classes", compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=5, minValue=2, maxValue=limits.CLASSES_MAX),
                 "Classes per continuous X (methods 0-4). Empty classes are dropped.")
        self.add(QgsProcessingParameterNumber("K_MIN", "Optimal: fewest classes",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=3, minValue=2, maxValue=limits.CLASSES_MAX),
                 "Lower end of the k range tried by "
                 "the optimal method.", advanced=True)
        self.add(QgsProcessingParameterNumber("K_MAX", "Optimal: most classes",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=7, minValue=2, maxValue=limits.CLASSES_MAX),
                 "Upper end of the k range tried by "
                 "the optimal method.", advanced=True)
        self.add(QgsProcessingParameterNumber("ALPHA", "Significance level",
                                              compat.ProcessingNumberParameterType.Double,
                                              defaultValue=0.05, minValue=1e-6, maxValue=0.5),
                 "Used by the optimal method and the 'significant' columns.", advanced=True)
        self.add(QgsProcessingParameterNumber("TOLERANCE", "Interaction: tolerance of 'independent'",
                                              compat.ProcessingNumberParameterType.Double, defaultValue=1e-6,
                                              minValue=0.0, maxValue=1.0),
                 "q(x1 n x2) within this of q(x1) + q(x2) counts as independent (Table 4 states an equality).",
                 advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_FACTOR", "Factor detector",
                                                          compat.ProcessingSourceType.Vector),
                        "period, factor, method, n_classes, q, p, rank (1 = strongest in its period), breaks (class "
                        "edges of a continuous factor).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_INTERACTION", "Interaction detector",
                                                          compat.ProcessingSourceType.Vector, optional=True),
                        "period, factor1, factor2, q1, q2, q12, interaction type.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_RISK", "Risk detector",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True),
                        "period, factor, stratum_a/b (class codes, or value ranges of a continuous factor), mean_a/b, "
                        "Welch t, df, p, significant.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_ECOLOGICAL", "Ecological detector",
                                                          compat.ProcessingSourceType.Vector, optional=True),
                        "period, factor1, factor2, stronger (the factor of higher q), F = SSW_weaker / SSW_stronger, "
                        "p (upper tail), significant (the stronger factor explains Y significantly better).")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_HEATMAP", "Interaction heatmap (PNG)",
                                                              "PNG files (*.png)", optional=True),
                        "Interaction q (diagonal: single factor q); by period: the mean over periods.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True),
                        "All tables, the heatmap, the formulas and how the samples were taken.")
        for output, text in ((QgsProcessingOutputNumber("SAMPLE_COUNT", "Samples used"),
                              "Rows (table mode) or sampled pixels (raster mode) the detectors ran on."),
                             (QgsProcessingOutputNumber("DROPPED_COUNT", "Samples left out"),
                              "Rows with a NULL / NaN value, or sampled pixels that are nodata / NaN in any raster.")):
            self.add_result(output, text)

    # -- inputs ------------------------------------------------------------------------------------
    def _mode(self, parameters, context):
        """'table' or 'raster'; ValueError unless exactly one mode is given."""
        given = []
        for pid in TABLE_PARAMS + RASTER_PARAMS:
            if pid in ("INPUT", "Y_RASTER"):
                value = (self.parameterAsSource if pid == "INPUT" else self.parameterAsRasterLayer)(
                    parameters, pid, context)
            elif pid.endswith("_RASTERS"):
                value = self.parameterAsLayerList(parameters, pid, context)
            elif pid in ("Y_FIELD", "PERIOD_FIELD"):
                value = self.parameterAsString(parameters, pid, context)
            else:
                value = self.parameterAsFields(parameters, pid, context)
            if value:
                given.append(pid)
        table = [p for p in given if p in TABLE_PARAMS]
        raster = [p for p in given if p in RASTER_PARAMS]
        if table and raster:
            raise ValueError(f"{MODES_HELP}, not both: {', '.join(table)} (table mode) and {', '.join(raster)} "
                             "(raster mode) were given. Clear the parameters of the mode you do not use.")
        if not table and not raster:
            raise ValueError(f"no input: {MODES_HELP}.")
        return "table" if table else "raster"

    def _read_table(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise ValueError("INPUT: no layer was given (table mode needs INPUT with Y_FIELD and X_FIELDS).")
        fields = source.fields()
        y_name = self.parameterAsString(parameters, "Y_FIELD", context)
        x_names = self.parameterAsFields(parameters, "X_FIELDS", context)
        cats = set(self.parameterAsFields(parameters, "CATEGORICAL_FIELDS", context))
        period = self.parameterAsString(parameters, "PERIOD_FIELD", context) or None
        if not y_name:
            raise ValueError("Y_FIELD: choose the numeric field to explain (table mode).")
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
            feedback.pushWarning(f"{dropped} rows with an empty (NULL) or NaN Y, X or period value were left out.")
        if not rows:
            raise ValueError(f"INPUT: none of its {dropped} rows has all of Y, X and period values (NULL / NaN "
                             f"in {', '.join(names)}).")
        cols = list(zip(*rows))
        xs = {}
        for k, name in enumerate(x_names, start=1):
            xs[name] = (np.array([str(v) for v in cols[k]], dtype=object) if name in cats
                        else _floats(cols[k], f"X_FIELDS '{name}'"))
        periods = np.array([str(v) for v in cols[-1]], dtype=object) if period else None
        y_values = _floats(cols[0], f"Y_FIELD '{y_name}'")
        for label, values in [(f"Y_FIELD '{y_name}'", y_values)] + [
                (f"X_FIELDS '{n}'", v) for n, v in xs.items() if n not in cats]:
            bad = bad_value(values)
            if bad:         # an infinite or huge value passed the NULL check and broke the classes silently
                raise ValueError(f"{label} has {bad[1]} in row {bad[0] + 1} of the rows used; fix or remove it.")
        return Samples(y_values, y_name, f"Y_FIELD {y_name}", xs, cats,
                       {n: f"X_FIELDS {n}" for n in x_names}, periods, dropped,
                       [f"Table mode: {len(rows)} rows of INPUT used, {dropped} left out (NULL / NaN)."])

    def _raster_factors(self, parameters, context, y_ref):
        """[(name, BandRef, categorical)] of X_RASTERS and CATEGORICAL_RASTERS, names made unique."""
        factors, taken = [], set()
        for pid, cat in (("X_RASTERS", False), ("CATEGORICAL_RASTERS", True)):
            for layer in self.parameterAsLayerList(parameters, pid, context):
                path = file_raster_path(layer, pid)
                _grid, count, descriptions = raster_info(path, pid)
                for b in range(1, count + 1):
                    base = layer.name() if count == 1 else ((descriptions[b - 1] or "").strip()
                                                           or f"{layer.name()} band {b}")
                    name, k = base, 2
                    while name in taken:
                        name, k = f"{base} ({k})", k + 1
                    taken.add(name)
                    ref = BandRef(path, b, f"{pid} {name}")
                    if (ref.path, ref.band) == (y_ref.path, y_ref.band):
                        raise ValueError(f"{pid}: {name} is Y_RASTER itself; a factor must be another raster.")
                    factors.append((name, ref, cat))
        if not factors:
            raise ValueError("X_RASTERS / CATEGORICAL_RASTERS: give at least one factor raster for Y_RASTER.")
        return factors

    def _read_rasters(self, parameters, context, feedback):
        y_layer = self.parameterAsRasterLayer(parameters, "Y_RASTER", context)
        if y_layer is None:
            raise ValueError("Y_RASTER: give the raster to explain (e.g. RSEI); raster mode needs Y_RASTER with "
                             "X_RASTERS and/or CATEGORICAL_RASTERS.")
        y_band = self.parameterAsInt(parameters, "Y_BAND", context) or 1
        y_ref = BandRef(file_raster_path(y_layer, "Y_RASTER"), y_band, "Y_RASTER")
        y_name = y_layer.name() if y_band == 1 else f"{y_layer.name()} band {y_band}"
        factors = self._raster_factors(parameters, context, y_ref)
        scheme = sampling.SCHEMES[self.parameterAsEnum(parameters, "SAMPLING", context)]
        step = self.parameterAsInt(parameters, "STEP", context)
        n = self.parameterAsInt(parameters, "N_SAMPLES", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        resampling = RESAMPLING_OPTIONS[self.parameterAsEnum(parameters, "RESAMPLING", context)][0]
        # the continuous factors warped by RESAMPLING, the categorical ones by nearest neighbour: one group each
        groups = []
        for cat, method in ((False, resampling), (True, "nearest" if resampling else None)):
            refs = {i: ref for i, (_n, ref, c) in enumerate(factors, start=1) if c == cat}
            if refs or not cat:
                groups.append((method, {0: y_ref, **refs}))
        try:   # the inputs checked (one grid, or warped onto it) before the pass
            with ExitStack() as guard:
                stacks = [guard.enter_context(RasterStack(refs, resampling=method)) for method, refs in groups]
                grid = stacks[0].grid
        except RasterError as err:
            msg = err.args[0]
            cut = msg.find(" Give inputs on one grid")
            raise ValueError((msg[:cut] if cut > 0 else msg) + " Put every raster on the grid of Y_RASTER "
                             "(e.g. Raster > Projections > Warp with its extent and resolution), or choose "
                             "RESAMPLING.") from None
        rule = sampling.pick_rule(grid, scheme, step, n, seed)
        if len(groups) == 2 and groups[0][0] == groups[1][0]:      # the same warp: one pass reads them all
            groups = [(groups[0][0], {**groups[0][1], **groups[1][1]})]
        parts, keys = [], []
        for g, (method, refs) in enumerate(groups):
            read = [k for k in refs if k or not g]          # Y once, in the first pass
            parts.append(self.run_pass(sampling.sample_pass(refs, read, rule, method), feedback,
                                       40.0 * g / len(groups), 40.0 * (g + 1) / len(groups)).partial)
            keys += read
        sample = sampling.gather(grid, keys, sampling.merge_parts(*parts))
        how = (f"regular grid: rows and columns 0, {step}, {2 * step}, ..." if scheme == "grid"
               else f"{n} random pixels, seed {seed}")
        names = {0: f"Y_RASTER {y_name}", **{i: ref.label for i, (_n, ref, _c) in enumerate(factors, start=1)}}
        missing = ", ".join(f"{names[k]}: {c}" for k, c in sample.nodata.items() if c)
        feedback.pushInfo(f"Sampled {sample.drawn} pixels of the {grid.width} x {grid.height} grid ({how}); "
                          f"{sample.size} have a value in every raster.")
        if sample.size == 0:
            raise ValueError(f"Y_RASTER / X rasters: none of the {sample.drawn} sampled pixels has a value in every "
                             f"raster (nodata / NaN per input: {missing or 'none'}). Check that the rasters hold "
                             "data where they overlap, or sample more pixels (smaller STEP, larger N_SAMPLES).")
        if sample.dropped:
            feedback.pushWarning(f"{sample.dropped} of the {sample.drawn} sampled pixels are nodata / NaN in at least "
                                 f"one raster and were left out (per input: {missing}).")
        xs, cats = {}, set()
        for i, (name, _ref, cat) in enumerate(factors, start=1):
            values = sample.values[i]
            integral = bool(np.all(values == np.round(values)) and np.abs(values).max() < 2 ** 53)
            if cat:
                cats.add(name)
                if integral:
                    values = values.astype(np.int64)   # class codes as integers (labels 3, not 3.0)
            elif integral and (codes := np.unique(values).size) <= MAX_CODES_HINT:
                feedback.pushWarning(f"X_RASTERS {name} holds only {codes} distinct whole numbers; "
                                     "if they are class codes (e.g. land cover), give it as CATEGORICAL_RASTERS so "
                                     "that its classes are used as they are instead of being cut into intervals.")
            xs[name] = values
        note = (f"Raster mode: {sample.drawn} pixels of the {grid.width} x {grid.height} grid of Y_RASTER sampled "
                f"({how}); {sample.size} used, {sample.dropped} left out (nodata / NaN in any raster"
                + (f": {missing}" if missing else "") + ").")
        return Samples(sample.values[0], y_name, f"Y_RASTER {y_name}", xs, cats,
                       {name: ref.label for name, ref, _c in factors}, None, sample.dropped, [note])

    def _strata(self, y, x, label, cat, method, k, k_range, alpha, y_label):
        if cat:
            return x, "categorical", int(np.unique(x).size), None
        if method == "optimal":
            best = gd.optimal_discretization(y, x, k_range=k_range, alpha=alpha, name=label, y_name=y_label,
                                             require_significant=False)
            how = f"optimal: {best['method']} k={best['k']}"
            if not best["significant"]:
                how += f" (none significant at {alpha:g})"
                self._warn(f"{label}: no discretisation gives a significant q at ALPHA={alpha:g}; the highest q "
                           f"({best['q']:.4f}, p={best['p']:.3g}, {best['method']} k={best['k']}) is reported.")
            return best["codes"], how, best["n_classes"], best["edges"]
        try:
            codes, edges = gd.discretize(x, method, k)
        except ValueError as err:
            raise ValueError(f"{label}: {err.args[0] if err.args else err}") from None
        return codes, method, int(np.unique(codes).size), edges

    def _detect(self, label, y, xs, data, opts, out):
        names = list(xs)
        where = "" if label == ALL_PERIODS else f" (period {label})"
        y_label = data.y_label + where
        strata, qs, stratum_names = {}, {}, {}
        for name in names:
            x_label = data.labels[name] + where
            codes, how, n_classes, edges = self._strata(y, xs[name], x_label, name in data.cats, *opts[:4],
                                                        y_label)
            r = gd.factor_detector(y, codes, name=x_label, y_name=y_label)
            strata[name], qs[name] = codes, r.q
            intervals = None if edges is None else _interval_labels(edges)
            stratum_names[name] = str if intervals is None else (lambda c, iv=intervals: iv[int(c)])
            breaks = "" if edges is None else ", ".join(f"{float(e):.6g}" for e in edges)
            out["factor"].append([label, name, how, n_classes, r.q, r.p, 0, breaks])
        first = len(out["factor"]) - len(names)
        for row, rank in zip(out["factor"][first:], _rank([qs[n] for n in names])):
            row[6] = rank
        alpha, tol = opts[3], opts[4]
        for i, a in enumerate(names):
            res = gd.risk_detector(y, strata[a], name=a, alpha=alpha)
            means = dict(zip(res.labels, res.means))
            show = stratum_names[a]
            for p in res.pairs:
                out["risk"].append([label, a, show(p["a"]), show(p["b"]), means[p["a"]], means[p["b"]],
                                    p["t"], p["df"], p["p"], p["significant"]])
            for b in names[i + 1:]:
                it = gd.interaction_detector(y, strata[a], strata[b], (a, b), tolerance=tol)
                out["interaction"].append([label, a, b, it["q1"], it["q2"], it["q12"], it["type"]])
                # the R package's test of the ordered pair (weaker, stronger): F = SSW_weaker / SSW_stronger >= 1
                strong, weak = (a, b) if qs[a] >= qs[b] else (b, a)
                f_val, p_val = gd.ecological_detector(y, strata[weak], strata[strong], (weak, strong))
                out["ecological"].append([label, a, b, strong, f_val, p_val, bool(p_val < alpha)])

    # -- run -------------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        self._warn = feedback.pushWarning
        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]
        k = self.parameterAsInt(parameters, "K", context)
        k_min = self.parameterAsInt(parameters, "K_MIN", context)
        k_max = self.parameterAsInt(parameters, "K_MAX", context)
        if k_max < k_min:
            raise ValueError(f"K_MAX ({k_max}) must be at least K_MIN ({k_min}).")
        opts = (method, k, range(k_min, k_max + 1), self.parameterAsDouble(parameters, "ALPHA", context),
                self.parameterAsDouble(parameters, "TOLERANCE", context))
        if self._mode(parameters, context) == "table":
            data, start = self._read_table(parameters, context, feedback), 0.0
        else:
            data, start = self._read_rasters(parameters, context, feedback), 40.0   # sampling: 0-40 %
        y, y_name, xs, periods = data.y, data.y_name, data.xs, data.periods
        out = {"factor": [], "interaction": [], "risk": [], "ecological": []}
        labels = [ALL_PERIODS] if periods is None else sorted(set(periods), key=_period_key)
        for n, label in enumerate(labels):
            sel = slice(None) if periods is None else periods == label
            self._detect(label, y[sel], {n_: x[sel] for n_, x in xs.items()}, data, opts, out)
            feedback.setProgress(start + (80.0 - start) * (n + 1) / len(labels))
            if feedback.isCanceled():
                raise Canceled()
        names = list(xs)
        if periods is not None:
            mean_q = [float(np.mean([r[4] for r in out["factor"] if r[1] == nm])) for nm in names]
            for nm, q, rank in zip(names, mean_q, _rank(mean_q)):
                out["factor"].append([MEAN_PERIOD, nm, "", 0, q, None, rank, ""])
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
        scratch = tempfile.TemporaryDirectory() if report and not heat else None    # the report's own copy
        png = heat or (os.path.join(scratch.name, "heatmap.png") if scratch else None)
        if png:
            heatmap_png(png, names, mat, title)
            if heat:
                results["OUTPUT_HEATMAP"] = heat
        if report:
            def dicts(cols, rows):
                return [dict(zip([c for c, _ in cols], r)) for r in rows]
            write_html_report(report, f"Geodetector of {y_name}", [
                ("Method", self.SUMMARY + "\n\nSources: " + self.SOURCE),
                ("Settings", f"METHOD {method}" + (f", K_MIN..K_MAX {k_min}..{k_max}" if method == "optimal"
                                                    else f", K {k}") + f", ALPHA {opts[3]:g}, TOLERANCE {opts[4]:g}"),
                ("Samples", "\n".join(data.notes)),
                ("Factor detector", dicts(FACTOR_COLUMNS, out["factor"])),
                ("Interaction detector", dicts(INTERACTION_COLUMNS, out["interaction"])),
                (title, png),
                ("Ecological detector", dicts(ECOLOGICAL_COLUMNS, out["ecological"])),
                ("Risk detector", dicts(RISK_COLUMNS, out["risk"])),
            ])
            results["OUTPUT_REPORT"] = report
        if scratch is not None:
            scratch.cleanup()
        results["SAMPLE_COUNT"] = int(y.size)
        results["DROPPED_COUNT"] = int(data.dropped)
        feedback.setProgress(100)
        return results


def _floats(values, label):
    """The values of a field as float64; ValueError naming the field and the first value that is not a number
    (a text field of a CSV holds numbers as text, which are accepted)."""
    try:
        return np.array(values, dtype=float)
    except (TypeError, ValueError):
        for row, v in enumerate(values, start=1):
            try:
                float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{label} holds {str(v)[:40]!r} in row {row} of the rows used, which is not a "
                                 "number. Choose a numeric field, or fix that value.") from None
        raise
