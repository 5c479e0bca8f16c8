"""Per-pixel trend over a stack of dates: Theil-Sen slope and the Mann-Kendall test (miningeco:trend)."""
from __future__ import annotations

from functools import partial

import numpy as np
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from .. import compat
from ..core import trend as core
from ..raster import engine
from ..raster.executor import BlockPass, OutputSpec
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from . import limits
from .dated_inputs import add_dated_raster_parameters, dated_rasters
from .references import cite

SUMMARY = (
    "Per-pixel monotonic trend over a stack of dates (e.g. yearly RSEI): the Theil-Sen slope (median of the pairwise "
    "slopes, per year), the Mann-Kendall statistic S, its Z with tie and continuity corrections, the two-sided "
    "p-value, and a class: 1 significant decrease, 2 no significant change, 3 significant increase at 90, 95 "
    "(default) or 99 %.\n"
    "Inputs: several rasters on one grid (one per date) or one multi-band raster, and the years (typed, or read from "
    "the layer names). Missing dates (nodata) are left out pixel by pixel.\n"
    "Outputs: slope, class, Z, p, S and the number of valid dates as rasters, and a table of the area of each class.")
SOURCE = cite("han2025", "sen1968", "mann1945", "kendall1975")

CONFIDENCE_OPTIONS = ("90 %", "95 %", "99 %")
TABLE_FIELDS = (("class", int), ("label", str), ("pixels", int), ("area_km2", float), ("percent", float))
STACK_BLOCK_BYTES = 32 * 1024 * 1024   # one block of the whole stack (all dates), float32; a few are in flight


# ------------------------------------------------------------------------------ the algorithm
OUTPUTS = (
    # id, description, dtype, help
    ("OUTPUT_SLOPE", "Theil-Sen slope (per year)", "float32",
     "Median of the pairwise slopes, in units of the input per year (per unit of YEARS); nodata -9999."),
    ("OUTPUT_CLASS", "Trend class", "uint8",
     "1 significant decrease, 2 no significant change, 3 significant increase at CONFIDENCE; 0 = nodata "
     "(fewer than MIN_VALID valid dates)."),
    ("OUTPUT_Z", "Mann-Kendall Z", "float32",
     "Standardised statistic with continuity and tie correction; nodata -9999."),
    ("OUTPUT_P", "Mann-Kendall p-value", "float32", "Two-sided p-value of Z; nodata -9999."),
    ("OUTPUT_S", "Mann-Kendall S", "int32",
     f"Sum of the signs of the pairwise differences (integer); nodata {core.S_NODATA}."),
    ("OUTPUT_COUNT", "Number of valid dates", "uint16", "Dates with a valid value at each pixel (0..n), no nodata."),
)
REQUIRED = ("OUTPUT_SLOPE", "OUTPUT_CLASS")


class TrendAlgorithm(MiningEcoAlgorithm):
    ID = "trend"
    NAME = "Per-pixel trend (Theil-Sen + Mann-Kendall)"
    GROUP = "change"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Theil-Sen slope and Mann-Kendall test of every pixel over a stack of years, with significance classes")
    TAGS = ("trend", "theil-sen", "sen slope", "mann-kendall", "time series", "significance", "monotonic trend")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_dated_raster_parameters(self, "INPUTS", "Rasters (one per date) or one multi-band raster")
        self.add(QgsProcessingParameterEnum("CONFIDENCE", "Confidence level", list(CONFIDENCE_OPTIONS),
                                            defaultValue=1),
                 "0 = 90 % (|Z| >= 1.645), 1 = 95 % (1.960, as Han et al. 2025), 2 = 99 % (2.576).")
        self.add(QgsProcessingParameterNumber("MIN_VALID", "Minimum valid dates per pixel",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=3, minValue=3,
                                              maxValue=limits.DATES_MAX),
                 "Pixels with fewer valid (not nodata) dates are nodata in every output except the count. Note that "
                 "Mann-Kendall cannot reach significance with fewer than 4 (90 %), 5 (95 %) or 6 (99 %) dates.")
        for pid, desc, _dtype, text in OUTPUTS:
            self.add_output(QgsProcessingParameterRasterDestination(pid, desc, optional=pid not in REQUIRED,
                                                                    createByDefault=True), text)
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Trend class areas",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Table: pixels, area (km2) and share (%) of each trend class.")

    def run_tool(self, parameters, context, feedback):
        refs, years = dated_rasters(self, parameters, context, "INPUTS", core.MIN_DATES)
        confidence = core.CONFIDENCE_LEVELS[self.parameterAsEnum(parameters, "CONFIDENCE", context)]
        min_valid = self.parameterAsInt(parameters, "MIN_VALID", context)
        if min_valid > len(years):
            raise ValueError(f"MIN_VALID: {min_valid} is more than the {len(years)} dates given; use at most "
                             f"{len(years)}.")
        paths = {pid: self.parameterAsOutputLayer(parameters, pid, context) for pid, *_ in OUTPUTS}
        n = len(refs)
        feedback.pushInfo(f"{n} dates: {', '.join(f'{y:g}' for y in years)}; {core.pair_count(n)} pairs per pixel; "
                          f"significance at {confidence} % (|Z| >= {core.critical_z(confidence):.3f}).")
        outputs = tuple(
            OutputSpec(pid, paths[pid], dtype, {"uint8": core.CLASS_NODATA, "int32": core.S_NODATA}.get(dtype),
                       band_names=(desc,)) for pid, desc, dtype, _text in OUTPUTS if paths[pid])
        # strips of whole rows, one block of every date within STACK_BLOCK_BYTES (float32)
        rows = max(1, min(engine.DEFAULT_BLOCK_ROWS, STACK_BLOCK_BYTES // (4 * n * (engine.DEFAULT_BLOCK_COLS or 1))))
        done = self.run_pass(BlockPass(
            inputs={k: ref for k, ref in enumerate(refs)}, outputs=outputs, combine=core.combine_trend,
            compute=partial(core.trend_block, years=years, min_valid=min_valid, confidence=confidence),
            block_rows=rows), feedback, 0, 97)
        counts, areas, most_valid, too_few = done.partial
        if not counts[1:].any():   # every output would be nodata: a clear error instead of empty files
            if most_valid == 0:
                raise ValueError("INPUTS: every pixel is nodata at every date; check the inputs and their "
                                 "nodata values.")
            fix = (f"Lower MIN_VALID to {most_valid}, or check" if most_valid >= core.MIN_DATES else
                   f"A trend needs at least {core.MIN_DATES} valid dates at a pixel: check")
            raise ValueError(f"MIN_VALID: no pixel has {min_valid} valid dates (the most at any pixel is "
                             f"{most_valid} of {n}), so every output would be nodata. {fix} the inputs' "
                             "nodata values.")
        if too_few:
            feedback.pushWarning(f"{too_few} pixel(s) have valid values at fewer than MIN_VALID = {min_valid} "
                                 "dates and are nodata in every output but the count.")
        stats = {pid: band_stats[0] for pid, band_stats in done.stats.items()}
        results = dict(done.paths)
        self.style(results, stats, n, context)
        total = areas[1:].sum()
        table = [(c, label, int(counts[c]), areas[c] / 1e6, 100.0 * areas[c] / total if total else 0.0)
                 for c, label, _colour in palettes.CLASSES["trend_class"]]
        for row in table:
            feedback.pushInfo(f"{row[1]}: {row[2]} pixels, {row[3]:.4g} km2, {row[4]:.2f} %")
        results["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, table)
        feedback.setProgress(100)
        return results

    @staticmethod
    def style(results, stats, n, context):
        def symmetric(st, cap):
            if not st.count:
                return 1.0
            lim = min(max(abs(st.minimum), abs(st.maximum)), abs(st.mean) + 2.0 * st.std)
            return min(lim, cap) if lim > 0 else 1.0

        styles = {
            "OUTPUT_CLASS": RasterStyle("classes", classes="trend_class"),
            "OUTPUT_P": RasterStyle("ramp", "pvalue", 0.0, 1.0),
            "OUTPUT_COUNT": RasterStyle("ramp", "neutral", 0.0, float(n)),
        }
        if "OUTPUT_SLOPE" in stats:
            lim = symmetric(stats["OUTPUT_SLOPE"], np.inf)
            styles["OUTPUT_SLOPE"] = RasterStyle("ramp", "trend", -lim, lim)
        if "OUTPUT_Z" in stats:
            styles["OUTPUT_Z"] = RasterStyle("ramp", "trend", -3.0, 3.0)
        if "OUTPUT_S" in stats:
            lim = float(core.pair_count(n))
            styles["OUTPUT_S"] = RasterStyle("ramp", "trend", -lim, lim)
        names = {pid: desc for pid, desc, *_ in OUTPUTS}
        for pid, path in results.items():
            style_output(path, styles[pid], context, names[pid])
