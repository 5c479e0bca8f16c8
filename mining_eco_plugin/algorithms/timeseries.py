"""Time-series summary of a yearly series (miningeco:timeseries): linear, two-segment and quadratic fits."""
from __future__ import annotations

import math
import os
import tempfile

import numpy as np
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from .. import compat
from ..core import timeseries as core
from ..raster.executor import BlockPass, add
from .base import MiningEcoAlgorithm
from . import limits
from .dated_inputs import add_dated_raster_parameters, dated_rasters
from .references import cite

SUMMARY = (
    "Summary of a yearly series (e.g. the mean RSEI of each year): the least-squares line with R2 and the p-value of "
    "its slope; a two-segment fit split after a breakpoint year (given, or the best one); a quadratic fit with its "
    "turning point -b/2a (none for a constant or straight series); and the net change from the first to the last year in %.\n"
    "Inputs: a table with a year field and a value field, or one raster per date whose means make the series.\n"
    "Outputs: a table in long format, the main numbers as outputs for the Modeler, a PNG plot with 95 % confidence "
    "bands and an HTML report.")
SOURCE = cite("han2025")

TABLE_FIELDS = (("section", str), ("statistic", str), ("year", float), ("value", float))
LINEAR_STATS = (("slope", "slope"), ("intercept", "intercept"), ("r", "r"), ("r2", "r2"), ("p", "p"),
                ("slope_stderr", "slope stderr"), ("intercept_stderr", "intercept stderr"), ("n", "n"),
                ("first", "first year"), ("last", "last year"))
QUADRATIC_STATS = (("a", "a"), ("b", "b"), ("c", "c"), ("r2", "r2"), ("turning_point", "turning point"),
                   ("turning_value", "value at turning point"), ("n", "n"))
NUMBERS = (
    ("SLOPE", "Slope of the whole series (per year)"),
    ("R2", "R2 of the whole-series line"),
    ("P_VALUE", "p-value of the whole-series slope"),
    ("BREAKPOINT_YEAR", "Breakpoint (last year of the first segment)"),
    ("SLOPE_FIRST", "Slope of the first segment"),
    ("SLOPE_SECOND", "Slope of the second segment"),
    ("QUADRATIC_R2", "R2 of the quadratic fit"),
    ("TURNING_POINT", "Turning point of the quadratic (-b/2a)"),
    ("NET_CHANGE_PCT", "Net change first -> last (%)"),
)


def _number(value, label, row):
    """A table cell as float; NaN for NULL / empty; ValueError naming the field otherwise."""
    if value is None or (hasattr(value, "isNull") and value.isNull()) or (isinstance(value, str) and not value.strip()):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: {value!r} (row {row}) is not a number. Choose a numeric field or fix the "
                         "table.") from None


class TimeSeriesAlgorithm(MiningEcoAlgorithm):
    ID = "timeseries"
    NAME = "Time-series summary (linear, segmented, quadratic)"
    GROUP = "change"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Linear, two-segment and quadratic fits of a yearly series (e.g. mean RSEI), turning point, net change")
    TAGS = ("time series", "regression", "linear trend", "segmented regression", "breakpoint", "quadratic",
            "turning point", "plot")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("INPUT_TABLE", "Table with a year and a value",
                                                     [compat.ProcessingSourceType.Vector], optional=True),
                 "A table layer or CSV (or any vector layer) with one row per year. Give this or RASTERS.")
        self.add(QgsProcessingParameterField("YEAR_FIELD", "Year field", parentLayerParameterName="INPUT_TABLE",
                                             optional=True),
                 "Field holding the year (numbers, or text such as '2005').")
        self.add(QgsProcessingParameterField("VALUE_FIELD", "Value field", parentLayerParameterName="INPUT_TABLE",
                                             type=compat.ProcessingFieldParameterDataType.Numeric, optional=True),
                 "Field holding the value (e.g. the mean RSEI of the year).")
        add_dated_raster_parameters(self, "RASTERS", "Rasters (one per date) whose means make the series",
                                    optional=True,
                                    grid_note="each mean over its own valid pixels; the grids may differ")
        self.add(QgsProcessingParameterNumber("BREAKPOINT", "Breakpoint year (end of the first segment)",
                                              compat.ProcessingNumberParameterType.Double, optional=True,
                                              minValue=-limits.YEAR_ABS_MAX, maxValue=limits.YEAR_ABS_MAX),
                 "The first segment takes the years <= this value, the second the later ones (Han et al. 2025: 2012, "
                 "i.e. 2000-2012 and 2013-2024). Empty: the year giving the least total squared error.")
        self.add(QgsProcessingParameterNumber("MIN_SEGMENT", "Minimum years per segment",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=3, minValue=3,
                                              maxValue=limits.DATES_MAX),
                 "Each segment of the two-segment fit needs at least this many years.", advanced=True)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Time-series statistics",
                                                          compat.ProcessingSourceType.Vector),
                        "Long table: section (annual, whole series, first segment, second segment, segmentation, "
                        "quadratic, net change), statistic, year (annual rows) and value.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_PLOT", "Plot", "PNG files (*.png)",
                                                              optional=True, createByDefault=True),
                        "PNG: (a) data, quadratic fit, 95 % band, turning point; (b) data, whole-series line and the "
                        "two segment lines with 95 % bands.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "HTML report with the tables and the plot.")
        for name, desc in NUMBERS:
            self.addOutput(QgsProcessingOutputNumber(name, desc))

    # -- inputs ---------------------------------------------------------------------------
    def series(self, parameters, context, feedback):
        """(years, values, what the values are)."""
        source = self.parameterAsSource(parameters, "INPUT_TABLE", context)
        has_rasters = bool(self.parameterAsLayerList(parameters, "RASTERS", context))
        if (source is None) == (not has_rasters):
            raise ValueError("INPUT_TABLE / RASTERS: give either a table (INPUT_TABLE with YEAR_FIELD and "
                             "VALUE_FIELD) or rasters (RASTERS), not both and not neither.")
        if source is not None:
            year_field = self.parameterAsString(parameters, "YEAR_FIELD", context)
            value_field = self.parameterAsString(parameters, "VALUE_FIELD", context)
            names = source.fields().names()
            for pid, field in (("YEAR_FIELD", year_field), ("VALUE_FIELD", value_field)):
                if not field or field not in names:
                    raise ValueError(f"{pid}: choose a field of INPUT_TABLE ({', '.join(names)}).")
            years, values = [], []
            for row, feature in enumerate(source.getFeatures(), start=1):
                years.append(_number(feature[year_field], "YEAR_FIELD", row))
                values.append(_number(feature[value_field], "VALUE_FIELD", row))
            years, values = np.array(years), np.array(values)
            empty = ~(np.isfinite(years) & np.isfinite(values))
            if empty.any():
                rows = ", ".join(str(r + 1) for r in np.flatnonzero(empty)[:20]) + (" ..." if empty.sum() > 20 else "")
                feedback.pushWarning(f"YEAR_FIELD / VALUE_FIELD: {int(empty.sum())} row(s) of INPUT_TABLE have an empty "
                                     f"(NULL) or NaN year or value (rows {rows}); they are left out of the series.")
            return years, values, value_field
        refs, years = dated_rasters(self, parameters, context, "RASTERS", core.MIN_POINTS)
        means = []
        span = 90.0 / len(refs)
        for k, ref in enumerate(refs):
            done = self.run_pass(BlockPass(inputs={0: ref}, compute=core.sum_block, combine=add), feedback,
                                 k * span, (k + 1) * span)
            total, count = done.partial
            if not count:
                raise ValueError(f"{ref.describe()} has no valid pixel (all nodata); remove it or fix its nodata.")
            means.append(total / count)
            feedback.pushInfo(f"{years[k]:g}: mean {means[-1]:.6g} over {count} pixels")
        return years, np.array(means), "mean of the rasters"

    # -- run --------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        years, values, what = self.series(parameters, context, feedback)
        raw = parameters.get("BREAKPOINT")
        breakpoint = None if raw is None or raw == "" else self.parameterAsDouble(parameters, "BREAKPOINT", context)
        min_segment = self.parameterAsInt(parameters, "MIN_SEGMENT", context)
        from_table = what != "mean of the rasters"
        year_label, value_label = ("YEAR_FIELD", "VALUE_FIELD") if from_table else ("YEARS", "RASTERS")
        summary = core.summarize(years, values, breakpoint, min_segment, year_label, value_label)
        if summary.segmented is None:
            feedback.pushWarning(f"Only {summary.years.size} years: too few for a two-segment fit with "
                                 f"{min_segment} years per segment; the segments are left out.")
        rows = self.table_rows(summary)
        outputs = {"OUTPUT_TABLE": self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, rows)}
        outputs.update(self.numbers(summary))
        for name, _desc in NUMBERS:
            feedback.pushInfo(f"{name}: {outputs[name]}")

        plot_path = self.parameterAsFileOutput(parameters, "OUTPUT_PLOT", context)
        report_path = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        from ..reports.timeseries_plot import series_plot_png
        tmp_png = None
        if plot_path:
            outputs["OUTPUT_PLOT"] = series_plot_png(plot_path, summary, ylabel=what)
        if report_path:
            png = plot_path
            if not png:
                fd, tmp_png = tempfile.mkstemp(suffix=".png")
                os.close(fd)
                png = series_plot_png(tmp_png, summary, ylabel=what)
            try:
                outputs["OUTPUT_REPORT"] = self.write_report(report_path, summary, what, png)
            finally:
                if tmp_png:
                    os.remove(tmp_png)
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def numbers(s):
        seg = s.segmented
        nan = math.nan
        return {"SLOPE": s.linear.slope, "R2": s.linear.r2, "P_VALUE": s.linear.p,
                "BREAKPOINT_YEAR": seg.breakpoint if seg else nan, "SLOPE_FIRST": seg.first.slope if seg else nan,
                "SLOPE_SECOND": seg.second.slope if seg else nan, "QUADRATIC_R2": s.quadratic.r2,
                "TURNING_POINT": s.quadratic.turning_point, "NET_CHANGE_PCT": s.net_change_percent}

    @staticmethod
    def table_rows(s):
        def fin(v):
            return float(v) if v is not None and math.isfinite(v) else None

        rows = [("annual", "value", float(t), float(v)) for t, v in zip(s.years, s.values)]
        fits = [("whole series", s.linear)]
        if s.segmented is not None:
            fits += [("first segment", s.segmented.first), ("second segment", s.segmented.second)]
        for section, fit in fits:
            rows += [(section, label, None, fin(getattr(fit, attr))) for attr, label in LINEAR_STATS]
        if s.segmented is not None:
            seg = s.segmented
            rows += [("segmentation", "breakpoint", None, seg.breakpoint),
                     ("segmentation", "breakpoint found by least squares", None, float(seg.searched)),
                     ("segmentation", "total squared error", None, seg.sse)]
            rows += [("segmentation", "squared error if split after", t, sse) for t, sse in seg.candidates]
        rows += [("quadratic", label, None, fin(getattr(s.quadratic, attr))) for attr, label in QUADRATIC_STATS]
        rows += [("net change", "first value", float(s.years[0]), float(s.values[0])),
                 ("net change", "last value", float(s.years[-1]), float(s.values[-1])),
                 ("net change", "percent", None, fin(s.net_change_percent))]
        return rows

    @staticmethod
    def write_report(path, s, what, png):
        from ..reports.html import write_html_report

        def fit_row(name, f):
            return {"fit": name, "years": f"{f.first:g}-{f.last:g}", "n": f.n, "slope / yr": f.slope,
                    "intercept": f.intercept, "r": f.r, "R2": f.r2, "p": f.p}
        fits = [fit_row("whole series", s.linear)]
        seg = s.segmented
        if seg is not None:
            fits += [fit_row("first segment", seg.first), fit_row("second segment", seg.second)]
            how = "chosen by least squares" if seg.searched else "given"
            ratio = abs(seg.second.slope / seg.first.slope) if seg.first.slope else math.inf
            seg_text = (f"Two independent lines split after {seg.breakpoint:g} ({how}): {seg.first.slope:.5g} per year "
                        f"over {seg.first.first:g}-{seg.first.last:g} and {seg.second.slope:.5g} per year over "
                        f"{seg.second.first:g}-{seg.second.last:g}; the magnitude of the second slope is "
                        f"{ratio:.3g} times that of the first.")
        else:
            seg_text = "Too few years for a two-segment fit."
        q = s.quadratic
        sections = [
            ("About", f"Series: {what}, {s.years.size} years ({s.years[0]:g}-{s.years[-1]:g}). Fits as in "
                      f"{cite('han2025')}, section 4.1 / Figure 8. The bands are 95 % confidence bands of the regression (mean "
                      "response)."),
            ("Linear fits", fits),
            ("Segments", seg_text),
            ("Quadratic fit", {"a": q.a, "b": q.b, "c": q.c, "R2": q.r2, "turning point (-b/2a)": q.turning_point,
                               "value at the turning point": q.turning_value}),
            ("Net change", {"first year": s.years[0], "first value": s.values[0], "last year": s.years[-1],
                            "last value": s.values[-1], "net change %": s.net_change_percent}),
            ("Plot", png),
            ("Annual values", [{"year": float(t), "value": float(v)} for t, v in zip(s.years, s.values)]),
        ]
        if seg is not None and seg.searched:
            sections.append(("Breakpoint search", [{"split after": t, "total squared error": e}
                                                   for t, e in seg.candidates]))
        write_html_report(path, "Time-series summary", sections)
        return path
