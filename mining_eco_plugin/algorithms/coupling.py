"""RSEI x EG coupling overlay (ningdong section 5.1, Figure 15): codes EG_level * 10 + RSEI_level."""
from __future__ import annotations

import re
from functools import partial

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .. import compat
from ..core import coupling as core
from ..core.rsei import DEFAULT_SAMPLE_SEED
from ..raster.engine import BandRef
from ..raster.executor import BlockPass, OutputSpec, add
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .scene_params import RESAMPLING_OPTIONS

METHODS = ("equal", "quantile", "breaks")
RSEI_METHODS = ("Equal thirds of [0, 1] (RSEI's range)", "Terciles (1/3 and 2/3 quantiles)", "User breaks")
EG_METHODS = ("Equal thirds of the EG raster's min..max", "Terciles (1/3 and 2/3 quantiles)", "User breaks")
INPUTS = (("RSEI", "RSEI raster"), ("EG", "EG raster"))
TABLE_FIELDS = (("code", int), ("eg_level", int), ("rsei_level", int), ("meaning", str), ("pixels", int),
                ("area_km2", float), ("percent", float))


def parse_breaks(text: str, param: str):
    parts = [p for p in re.split(r"[,;\s]+", (text or "").strip()) if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 2:
        raise ValueError(f"{param}: give two breaks b1,b2 (e.g. 0.4,0.7) for the user-break method; got {text!r}.")
    try:
        return core.check_breaks(*values, what=param)
    except ValueError as err:
        raise ValueError(f"{err}.") from None


class CouplingAlgorithm(MiningEcoAlgorithm):
    ID = "coupling"
    NAME = "RSEI x EG coupling overlay"
    GROUP = "ecology"
    SUMMARY = (
        "Combines RSEI and the ecological grade (EG) index into nine classes: each raster is cut into three levels (1 "
        "low, 2 medium, 3 high) and code = EG level x 10 + RSEI level, from 11 (both low: the worst state) to 33 "
        "(both high: the best).\n"
        "Inputs: an RSEI raster (0-1) and an EG raster on one grid: by default the normalised EG (higher = better) of "
        "the EG index tool; a raw EG raster (1 best .. 7 worst) is flipped. Levels: equal thirds (default), terciles "
        "or your own breaks.\n"
        "Outputs: the code raster (styled) and a table of the area of each code; the breaks used are returned as "
        "numbers.")
    SOURCE = cite("han2025")
    SHORT_DESCRIPTION = (
        "RSEI x EG coupling: both cut into three levels and combined into codes 11 (both low) .. 33 (both high)")
    TAGS = ("rsei", "remote sensing ecological index", "eg", "ecological grade", "coupling", "overlay", "reclassify",
            "bivariate map")

    def initAlgorithm(self, config=None):  # noqa: N802
        for pid, label in INPUTS:
            self.add(QgsProcessingParameterRasterLayer(pid, label),
                     "Continuous RSEI, 0-1 (e.g. miningeco:rsei)." if pid == "RSEI" else
                     "Continuous EG, by default normalised with higher = better (OUTPUT_NORMALISED of "
                     "miningeco:egindex).")
            self.add(QgsProcessingParameterBand(f"{pid}_BAND", f"{label} band", 1, pid, optional=True),
                     f"Band of {pid}.", advanced=True)
        self.add(QgsProcessingParameterBoolean("EG_HIGHER_IS_BETTER", "EG: higher values are better",
                                               defaultValue=True),
                 "On for the normalised, inverted EG (0..1, higher = better). Off for the raw EG (1 best .. 7 "
                 "worst): the levels are then flipped (3 = lowest EG = best).")
        self.add(QgsProcessingParameterEnum("RSEI_METHOD", "RSEI levels", list(RSEI_METHODS), defaultValue=0),
                 "How RSEI is cut into three levels.")
        self.add(QgsProcessingParameterString("RSEI_BREAKS", "RSEI user breaks (b1,b2)", optional=True,
                                              defaultValue=""),
                 "For user breaks: level 1 below b1, 2 from b1 to below b2, 3 from b2, e.g. 0.4,0.7.")
        self.add(QgsProcessingParameterEnum("EG_METHOD", "EG levels", list(EG_METHODS), defaultValue=0),
                 "How EG is cut into three levels.")
        self.add(QgsProcessingParameterString("EG_BREAKS", "EG user breaks (b1,b2)", optional=True, defaultValue=""),
                 "For user breaks, in the units of the EG raster, b1 < b2.")
        self.add(QgsProcessingParameterNumber("SAMPLE_SIZE", "Tercile sample size (pixels)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=1000000,
                                              minValue=1000, maxValue=limits.SAMPLE_MAX),
                 "Terciles use every valid pixel when there are fewer, else about this many pixels chosen by a "
                 "fixed hash of their position (the same result for any block size).", advanced=True)
        self.add(QgsProcessingParameterNumber("SEED", "Sampling seed", compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=DEFAULT_SAMPLE_SEED, minValue=limits.SEED_MIN,
                                              maxValue=limits.SEED_MAX),
                 "Changes which pixels the tercile sample holds.", advanced=True)
        self.add(QgsProcessingParameterEnum("RESAMPLING", "Resample EG onto the RSEI grid",
                                            [t for _, t in RESAMPLING_OPTIONS], defaultValue=0),
                 "By default both rasters must share CRS, pixel size and extent; choose a method to warp EG onto "
                 "the RSEI grid instead.", advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "RSEI x EG codes"),
                        "Byte raster of codes 11..33 (EG level x 10 + RSEI level), 0 = nodata; styled.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Area per code",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True, createByDefault=True),
                        "Table: code, EG level, RSEI level, meaning, pixels, area km2, % of the coded area.")
        for pid in ("RSEI", "EG"):
            for k in (1, 2):
                self.addOutput(QgsProcessingOutputNumber(f"{pid}_BREAK_{k}", f"{pid} break {k}"))

    def run_tool(self, parameters, context, feedback):
        methods, user = {}, {}
        for pid in ("RSEI", "EG"):
            methods[pid] = METHODS[self.parameterAsEnum(parameters, f"{pid}_METHOD", context)]
            if methods[pid] == "breaks":
                user[pid] = parse_breaks(self.parameterAsString(parameters, f"{pid}_BREAKS", context),
                                         f"{pid}_BREAKS")
        refs = {}
        for pid, _label in INPUTS:
            layer = self.parameterAsRasterLayer(parameters, pid, context)
            if layer is None:
                raise ValueError(f"{pid}: give the {pid} raster.")
            refs[pid] = BandRef(layer.source().split("|")[0], self.parameterAsInt(parameters, f"{pid}_BAND", context)
                                or 1, pid)
        higher = self.parameterAsBoolean(parameters, "EG_HIGHER_IS_BETTER", context)
        resampling = RESAMPLING_OPTIONS[self.parameterAsEnum(parameters, "RESAMPLING", context)][0]
        out_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)

        breaks = self.statistics_pass(refs, resampling, methods, user, parameters, context, feedback)
        for pid in ("RSEI", "EG"):
            feedback.pushInfo(f"{pid} breaks ({methods[pid]}): {breaks[pid][0]:.6g}, {breaks[pid][1]:.6g}")
        feedback.pushInfo("Pass 2/2: levels and codes")
        done = self.run_pass(BlockPass(
            inputs=refs, resampling=resampling, combine=add,
            compute=partial(core.codes_block, breaks=breaks, eg_higher_is_better=higher),
            outputs=(OutputSpec("OUTPUT", out_path, "uint8", 0, band_names=("EG x 10 + RSEI",)),)), feedback, 40, 97)
        out_path = done.paths["OUTPUT"]
        pixels, areas = done.partial
        style_output(out_path, RasterStyle("classes", classes="eg_rsei_coupling"), context, "RSEI x EG")
        rows = core.code_area_table(areas, pixels)
        outputs = {"OUTPUT": out_path}
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS,
                                                   [[r[f] for f, _ in TABLE_FIELDS] for r in rows])
        for pid in ("RSEI", "EG"):
            outputs[f"{pid}_BREAK_1"], outputs[f"{pid}_BREAK_2"] = breaks[pid]
        feedback.setProgress(100)
        return outputs

    def statistics_pass(self, refs, resampling, methods, user, parameters, context, feedback):
        """Min / max (and the tercile sample when needed) over the pixels where both inputs are valid;
        the breaks of each input."""
        quantile = "quantile" in methods.values()
        feedback.pushInfo("Pass 1/2: value ranges" + (" and tercile sample" if quantile else ""))
        sample_size = self.parameterAsInt(parameters, "SAMPLE_SIZE", context) if quantile else None
        done = self.run_pass(BlockPass(
            inputs=refs, resampling=resampling, combine=core.combine_statistics,
            compute=partial(core.statistics_block, sample_size=sample_size,
                            seed=self.parameterAsInt(parameters, "SEED", context))), feedback, 0, 40)
        minmax = done.partial[0]
        if not minmax.count.all():
            raise ValueError("RSEI / EG: no pixel has both an RSEI and an EG value. Check that the two rasters "
                             "overlap (and the RESAMPLING option if they are on different grids).")
        lo, hi = minmax.minimum, minmax.maximum
        if methods["RSEI"] == "equal" and (lo[0] < -1e-6 or hi[0] > 1 + 1e-6):
            feedback.pushWarning(f"RSEI ranges from {lo[0]:.4g} to {hi[0]:.4g}, outside [0, 1]: is it an RSEI raster? "
                                 "With equal thirds of [0, 1], values below 0 fall in level 1 and above 1 in level 3.")
        sample = core.sample_of(done.partial) if quantile else None
        breaks = {}
        for j, pid in enumerate(("RSEI", "EG")):
            try:
                if methods[pid] == "breaks":
                    breaks[pid] = user[pid]
                elif methods[pid] == "quantile":
                    breaks[pid] = core.quantile_breaks(sample[:, j])
                elif pid == "RSEI":
                    breaks[pid] = core.equal_breaks(0.0, 1.0)
                else:
                    breaks[pid] = core.equal_breaks(lo[j], hi[j])
            except ValueError as err:
                raise ValueError(f"{pid}_METHOD: {err}.") from None
        return breaks
