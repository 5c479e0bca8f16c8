"""Moving-window Pearson correlation of two rasters and its significance (miningeco:localcorrelation)."""
from __future__ import annotations

from functools import partial

from qgis.core import (
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from .. import compat
from ..core import correlation as core
from ..raster.engine import BandRef, RasterStack, fit_window
from ..raster.executor import BlockPass, OutputSpec, add
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .scene_params import RESAMPLING_OPTIONS

NODATA = core.NODATA
INPUTS = (("INPUT_X", "Raster X (e.g. NPP or an ecological index)"), ("INPUT_Y", "Raster Y (e.g. a driver)"))
TABLE_FIELDS = (("class", int), ("label", str), ("pixels", int), ("area_km2", float), ("percent", float))


class LocalCorrelationAlgorithm(MiningEcoAlgorithm):
    ID = "localcorrelation"
    NAME = "Local (moving-window) correlation"
    GROUP = "drivers"
    SUMMARY = (
        "Local (moving-window) Pearson correlation between two rasters on one grid: for every pixel, r of the pixel "
        "pairs in the square window centred on it, its two-sided p-value (t-test) and a class: 1 significant "
        "negative, 2 not significant, 3 significant positive.\n"
        "Inputs: rasters X and Y, the window size (odd, default 5 x 5), the fewest valid pairs per window and the "
        "significance level.\n"
        "Outputs: rasters of r, p and the class, and a table of the area of each class.")
    SOURCE = cite("rs2022npp")
    SHORT_DESCRIPTION = (
        "Moving-window Pearson correlation of two rasters with t-test significance classes and their areas")
    TAGS = ("correlation", "pearson", "local correlation", "moving window", "focal statistics", "lcc", "significance")

    def initAlgorithm(self, config=None):  # noqa: N802
        for pid, label in INPUTS:
            self.add(QgsProcessingParameterRasterLayer(pid, label),
                     "Continuous raster; both rasters on one grid (or see RESAMPLING); nodata pixels are skipped.")
            self.add(QgsProcessingParameterBand(f"{pid}_BAND", f"{label.split(' (')[0]} band", 1, pid,
                                                optional=True), f"Band of {pid}.", advanced=True)
        self.add(QgsProcessingParameterNumber("WINDOW_SIZE", "Window size (pixels, odd)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=5, minValue=3,
                                              maxValue=limits.WINDOW_MAX),
                 "Side of the square moving window in pixels: an odd number (3, 5, 7, ...), centred on the pixel.")
        self.add(QgsProcessingParameterNumber("MIN_VALID", "Minimum valid pairs per window",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=5, minValue=3,
                                              maxValue=limits.WINDOW_MAX ** 2),
                 "Windows with fewer pixels valid in both rasters are nodata (3 .. WINDOW_SIZE^2).")
        self.add(QgsProcessingParameterNumber("ALPHA", "Significance level",
                                              compat.ProcessingNumberParameterType.Double,
                                              defaultValue=0.05, minValue=1e-6, maxValue=0.5),
                 "A window is significant when the two-sided p-value is below ALPHA (0.05 = 95 %).")
        self.add(QgsProcessingParameterEnum("RESAMPLING", "Resample Y onto the grid of X",
                                            [t for _, t in RESAMPLING_OPTIONS], defaultValue=0),
                 "By default both rasters must share CRS, pixel size and extent; choose a method to warp "
                 "INPUT_Y onto the grid of INPUT_X instead.", advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_R", "Local correlation r"),
                        f"Float32 Pearson r, -1 .. 1; nodata {NODATA:g}; styled blue (negative) .. red (positive).")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_P", "p-value"),
                        f"Float32 two-sided p-value of the t-test; nodata {NODATA:g}.")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_CLASS", "Correlation class"),
                        "Byte: 1 significant negative, 2 not significant, 3 significant positive; 0 = nodata.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Area per class",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True, createByDefault=True),
                        "Table: class, label, pixels, area km2, % of the area with a correlation.")

    def run_tool(self, parameters, context, feedback):
        size = self.parameterAsInt(parameters, "WINDOW_SIZE", context)
        min_valid = self.parameterAsInt(parameters, "MIN_VALID", context)
        alpha = self.parameterAsDouble(parameters, "ALPHA", context)
        core.check_window(size, min_valid)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"ALPHA: the significance level must be between 0 and 1 (e.g. 0.05); got {alpha}.")
        refs = {}
        for pid, _label in INPUTS:
            layer = self.parameterAsRasterLayer(parameters, pid, context)
            if layer is None:
                raise ValueError(f"{pid}: give a raster layer.")
            refs[pid] = BandRef(layer.source().split("|")[0],
                                self.parameterAsInt(parameters, f"{pid}_BAND", context) or 1, pid)
        paths = {pid: self.parameterAsOutputLayer(parameters, pid, context)
                 for pid in ("OUTPUT_R", "OUTPUT_P", "OUTPUT_CLASS")}
        resampling = RESAMPLING_OPTIONS[self.parameterAsEnum(parameters, "RESAMPLING", context)][0]
        # the grid (a window wider than the raster needs is narrowed) and each raster's level (the same shift for
        # every block) before the pass
        with RasterStack(refs, resampling=resampling) as stack:
            pad = fit_window(stack.grid, size, feedback) // 2
            shift = (stack.level("INPUT_X"), stack.level("INPUT_Y"))
        outputs = (OutputSpec("OUTPUT_R", paths["OUTPUT_R"], nodata=NODATA, band_names=("r",)),
                   OutputSpec("OUTPUT_P", paths["OUTPUT_P"], nodata=NODATA, band_names=("p",)),
                   OutputSpec("OUTPUT_CLASS", paths["OUTPUT_CLASS"], "uint8", 0, band_names=("class",)))
        done = self.run_pass(BlockPass(
            inputs=refs, outputs=outputs, resampling=resampling, halo=pad, combine=add,
            compute=partial(core.correlation_block, min_valid=min_valid, alpha=alpha, shift=shift)),
            feedback, 0, 95)
        paths.update(done.paths)
        pixels, areas = done.partial
        if pixels[1:].sum() == 0:
            feedback.pushWarning("INPUT_X / INPUT_Y: no window has MIN_VALID valid pairs with both rasters varying, "
                                 "so every pixel is nodata. Check that INPUT_X and INPUT_Y overlap and hold data, or "
                                 "lower MIN_VALID.")
        style_output(paths["OUTPUT_R"], RasterStyle("ramp", "correlation", -1.0, 1.0), context, "Local correlation r")
        style_output(paths["OUTPUT_P"], RasterStyle("ramp", "pvalue", 0.0, 1.0), context, "Correlation p-value")
        style_output(paths["OUTPUT_CLASS"], RasterStyle("classes", classes="local_correlation"), context,
                     "Correlation class")
        rows = core.class_table(areas, pixels)
        for row in rows:
            feedback.pushInfo(f"{row['label']}: {row['area_km2']:.4f} km2, {row['percent']:.2f} %")
        outputs = dict(paths)
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS,
                                                   [[row[f] for f, _ in TABLE_FIELDS] for row in rows])
        feedback.setProgress(100)
        return outputs
