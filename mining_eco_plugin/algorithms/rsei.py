"""RSEI (remote sensing ecological index) from a scene or from four component rasters."""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import partial

import numpy as np
from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from .. import compat
from ..core import radiometry as rad
from ..core import rsei as core
from ..core.scene import product_bands, read_scene
from ..raster.engine import BandRef, RasterError, RasterStack
from ..raster.executor import BlockPass, OutputSpec, add, read_floats
from ..raster.outputs import create_file
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from . import summary
from .summary import product_member
from .references import cite
from .scene_algorithm import SceneAlgorithm
from . import limits
from .scene_params import (ROLE_PARAMS, add_lst_parameters, add_scene_parameters, radiometry_mode, resampling_choice,
                           resolve_scene)

COMPONENT_PARAMS = (("NDVI", "GREENNESS", "Greenness (NDVI)"), ("WET", "WETNESS", "Wetness (WET)"),
                    ("NDBSI", "DRYNESS", "Dryness (NDBSI)"), ("LST", "HEAT", "Heat (LST)"))

SOURCE = cite("xu2013", "han2025")
TABLE_FIELDS = (("section", str), ("name", str), ("value", float), ("percent", float))


def _sig(v, digits=6):
    """``v`` rounded to ``digits`` significant digits (a plain float; NaN / inf unchanged)."""
    v = float(v)
    return float(f"{v:.{digits}g}") if math.isfinite(v) else v


def _pct(v):
    v = float(v)
    return round(v, 4) if math.isfinite(v) else v


# scratch bytes per pixel: the four float32 components, written in pass 1, read in passes 2 and 3 (a compressed
# GeoTIFF: at most about this)
SCRATCH_BYTES_PER_PIXEL = 4 * 4


class NoValidPixel(RasterError):
    """The inputs leave no pixel to compute RSEI on (all nodata, clouds or water): an empty scene or year."""


def check_scratch_space(folder, needed):
    """RasterError naming OUTPUT unless ``folder`` has ``needed`` bytes free for the scratch file."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise RasterError(f"OUTPUT: RSEI keeps the components of this scene in a temporary file beside the output "
                          f"({needed / 1e9:.2f} GB), but {folder} has only {free / 1e9:.2f} GB free. Free some disk "
                          "space or write the outputs to another folder.")


@dataclass
class RseiRun:
    """What RseiBase.compute_rsei gives: the files written, the PCA (core.rsei.PcaResult), PC1 share, mean RSEI,
    valid pixels, the grade rows (grade, label, pixels, area_km2, percent), the statistics table rows
    (TABLE_FIELDS) and the RSEI histogram."""
    rsei_path: str
    grades_path: str
    result: object
    share: float
    mean_rsei: float
    n_valid: int
    grade_rows: list
    table: list
    hist: object


class RseiBase(SceneAlgorithm):
    GROUP = "ecology"
    SOURCE = SOURCE
    TAGS = ("rsei", "remote sensing ecological index", "ecological quality", "ecological index", "pca",
            "principal component", "greenness", "wetness", "dryness", "heat", "ndvi", "lst", "ndbsi")
    scene_check = None   # a scene's core.plausibility.RadiometryCheck (RSEI from a scene)

    def add_common_parameters(self):
        self.add(QgsProcessingParameterNumber("MNDWI_THRESHOLD", "MNDWI water threshold",
                                              compat.ProcessingNumberParameterType.Double, defaultValue=0.0,
                                              minValue=-1.0, maxValue=1.0),
                 "Pixels with MNDWI = (G - SWIR1)/(G + SWIR1) above this value are water and left out.")
        self.add(QgsProcessingParameterNumber("CLIP_PERCENT", "Percentile clipping for normalisation (%)",
                                              compat.ProcessingNumberParameterType.Double, defaultValue=0.0,
                                              minValue=0.0, maxValue=10.0),
                 "0 = exact min/max of each component (eq. 12). E.g. 1 = use the 1st and 99th percentiles of the "
                 "sample and clip outliers (hot roofs, cloud residue) to 0 / 1.")
        self.add(QgsProcessingParameterNumber("SAMPLE_SIZE", "PCA sample size (pixels)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=200000,
                                              minValue=1000, maxValue=limits.SAMPLE_MAX),
                 "About this many valid pixels, chosen by a fixed hash of their position, feed the PCA.",
                 advanced=True)
        self.add(QgsProcessingParameterNumber("SEED", "Sampling seed", compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=core.DEFAULT_SAMPLE_SEED, minValue=limits.SEED_MIN,
                                              maxValue=limits.SEED_MAX),
                 "Changes which pixels are sampled; the same seed always gives the same result.", advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "RSEI"),
                        "RSEI 0-1 (float32, nodata -9999, water and masked pixels nodata).")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_GRADES", "RSEI grades"),
                        "1 worst (0-0.2), 2 poor, 3 moderate, 4 good, 5 excellent (0.8-1); 0 = nodata.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "RSEI statistics",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Table: eigenvalues, loadings, PC1 share of variance, normalisation bounds, mean of each "
                        "normalised component, area per grade (km2, %).")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "RSEI report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "A small HTML report: the scene (input files, acquisition date), the settings, the tables "
                        "and a histogram of RSEI.")
        self.add_result(QgsProcessingOutputNumber("MEAN_RSEI", "Mean RSEI"),
                        "Mean RSEI (0-1) over the valid pixels.")
        self.add_result(QgsProcessingOutputNumber("PC1_SHARE", "PC1 share of variance"),
                        "Share (0-1) of the variance of the four normalised components that PC1 explains (Han et "
                        "al. 2025 expect at least 0.6).")

    # subclasses: pass 1 as (inputs {key: BandRef}, resampling or None, load, compute): compute(data, ctx, target=,
    # seed=) gives {"COMPONENTS": planes (4, rows, cols) float32} and a core.rsei.ComponentStatistics
    def component_pass(self, parameters, context):
        raise NotImplementedError

    def run_tool(self, parameters, context, feedback):
        run = self.compute_rsei(
            self.component_pass(parameters, context),
            self.parameterAsOutputLayer(parameters, "OUTPUT", context),
            self.parameterAsOutputLayer(parameters, "OUTPUT_GRADES", context),
            context, feedback,
            clip=self.parameterAsDouble(parameters, "CLIP_PERCENT", context),
            target=self.parameterAsInt(parameters, "SAMPLE_SIZE", context),
            seed=self.parameterAsInt(parameters, "SEED", context))
        report_path = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        outputs = {"OUTPUT": run.rsei_path, "OUTPUT_GRADES": run.grades_path, "PC1_SHARE": run.share,
                   "MEAN_RSEI": run.mean_rsei}
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, run.table)
        if report_path:
            outputs["OUTPUT_REPORT"] = self.write_report(report_path, run.result, run.table, run.grade_rows, run.hist,
                                                         self.run_record(parameters, context))
        feedback.setProgress(100)
        return outputs

    def compute_rsei(self, passes, rsei_path, grades_path, context, feedback, *, clip, target, seed, start=0.0,
                     end=97.0):
        """RSEI of one scene: passes 1-3 (components, PCA, RSEI and grades written to ``rsei_path`` and
        ``grades_path``, styled), the statistics table rows and the grade areas; an RseiRun.

        ``passes``: what ``component_pass`` gives (inputs, resampling, load, compute). No parameter is read here:
        ``miningeco:rsei`` calls it once with its own outputs, ``miningeco:rseiseries`` once per year with the
        year's composite and files. Progress runs from ``start`` to ``end``."""
        inputs, resampling, load, compute = passes
        with RasterStack(inputs, resampling=resampling) as stack:    # the inputs checked and the grid, before any work
            grid = stack.grid

        def at(f):
            return start + (end - start) * f / 97.0
        # the staged destinations were checked by the run's transaction, and RasterStack refused inputs whose
        # coordinates are not degrees under a geographic CRS (the grade areas need degrees) before pass 1
        folder = os.path.dirname(os.path.abspath(rsei_path))    # beside the staged outputs (gone with them)
        check_scratch_space(folder, grid.width * grid.height * SCRATCH_BYTES_PER_PIXEL)

        # the components are computed once, in pass 1, and kept in a scratch raster that passes 2 and 3 read
        # instead of recomputing them (deleted at the end, on error and on cancel)
        try:
            fd, scratch = create_file(folder, ".rsei-", ".scratch.tif")
        except OSError as err:
            raise RasterError(f"OUTPUT: cannot create a temporary file in {folder} ({err.strerror}). Choose a "
                              "writable folder.") from None
        os.close(fd)
        try:
            feedback.pushInfo("Pass 1/3: components, their statistics and the PCA sample")
            first = self.run_pass(BlockPass(
                inputs=inputs, resampling=resampling, load=load, compute=partial(compute, target=target, seed=seed),
                combine=core.combine_statistics,
                outputs=(OutputSpec("COMPONENTS", scratch, nodata=float("nan"), bands=len(core.COMPONENTS),
                                    band_names=core.COMPONENTS, label="OUTPUT"),)), feedback, at(0), at(55))
            stats = first.partial
            for i in np.flatnonzero(stats.finite == 0):
                raise NoValidPixel(f"{COMPONENT_PARAMS[i][2]} has no valid pixel: its input "
                                  f"{self.component_inputs[i]} is all nodata (or masked as cloud / water). "
                                  "Check the input, its nodata value, the cloud mask and the MNDWI threshold.")
            if not stats.minmax.count.all():
                raise NoValidPixel("no pixel has all four components valid (after the cloud and water masks). "
                                  "Check that the inputs overlap and the MNDWI threshold.")
            if self.scene_check is not None:
                for part in stats.lst:      # in block order: the same sum as adding the blocks one by one
                    self.scene_check.add_tally(part)
            for text in (self.scene_check.warnings() if self.scene_check is not None else ()):
                feedback.pushWarning(text)
            sample = stats.sample.array()
            lo, hi = core.normalisation_bounds(stats.minmax, sample, clip)
            result = core.pca(core.normalise(sample, lo, hi))
            share = result.pc1_contribution
            if share < core.PC1_CONTRIBUTION_THRESHOLD:
                feedback.pushWarning(f"PC1 explains only {100 * share:.1f} % of the variance (Han et al. 2025 expect "
                                     ">= 60 %): RSEI may not summarise the four components well.")

            components = {n: BandRef(scratch, i + 1, "components") for i, n in enumerate(core.COMPONENTS)}
            feedback.pushInfo("Pass 2/3: PC1 range")
            second = self.run_pass(BlockPass(inputs=components, combine=add,
                                             compute=partial(core.pc1_range_block, lo=lo, hi=hi, result=result)),
                                   feedback, at(55), at(65))
            pc_lo, pc_hi, means, n_valid = core.pc1_range(second.partial)

            feedback.pushInfo("Pass 3/3: writing RSEI and grades")
            third = self.run_pass(BlockPass(
                inputs=components, combine=add,
                compute=partial(core.rsei_block, lo=lo, hi=hi, result=result, pc_lo=pc_lo, pc_hi=pc_hi),
                outputs=(OutputSpec("OUTPUT", rsei_path, band_names=("RSEI",), label="OUTPUT"),
                         OutputSpec("OUTPUT_GRADES", grades_path, "uint8", nodata=0, band_names=("RSEI grade",),
                                    label="OUTPUT_GRADES"))), feedback, at(65), at(97))
            hist, rsei_sum, counts, areas = core.rsei_totals(third.partial)
        finally:
            for path in (scratch, scratch + ".aux.xml"):
                if os.path.exists(path):
                    os.remove(path)
        rsei_path, grades_path = third.paths["OUTPUT"], third.paths["OUTPUT_GRADES"]

        grade_rows = core.grade_area_table(counts, 1.0)
        total_area = areas[1:].sum()
        for row in grade_rows:
            row["area_km2"] = areas[row["grade"]] / 1e6
            row["percent"] = 100.0 * areas[row["grade"]] / total_area if total_area else 0.0
        mean_rsei = rsei_sum / max(n_valid, 1)
        table = self.table_rows(result, lo, hi, means, mean_rsei, grade_rows, n_valid, stats.water)
        style_output(rsei_path, RasterStyle("ramp", palettes.ramp_for("RSEI"), 0.0, 1.0), context, "RSEI")
        style_output(grades_path, RasterStyle("classes", classes="rsei_grade"), context, "RSEI grades")
        return RseiRun(rsei_path, grades_path, result, share, mean_rsei, int(n_valid), grade_rows, table, hist)

    @staticmethod
    def table_rows(result, lo, hi, means, mean_rsei, grade_rows, n_valid, water_px):
        """(section, name, value, percent) rows, rounded for reading: statistics to 6 significant digits, areas to
        1 m2 (6 decimals of km2), percentages to 4 decimals; pixel counts are integers."""
        names = core.COMPONENTS
        rows = [("pca", f"eigenvalue PC{i + 1}", _sig(v), _pct(100.0 * r))
                for i, (v, r) in enumerate(zip(result.eigenvalues, result.explained_ratio))]
        rows += [("loading", f"PC{j + 1} {names[i]}", _sig(result.loadings[i, j]), None)
                 for j in range(len(names)) for i in range(len(names))]
        rows.append(("pca", "PC1 share of variance", _sig(result.pc1_contribution),
                     _pct(100.0 * result.pc1_contribution)))
        rows += [("normalisation", f"{n} min", _sig(a), None) for n, a in zip(names, lo)]
        rows += [("normalisation", f"{n} max", _sig(b), None) for n, b in zip(names, hi)]
        rows += [("component mean", f"normalised {n}", _sig(m), None) for n, m in zip(names, means)]
        rows.append(("summary", "mean RSEI", _sig(mean_rsei), None))
        rows.append(("summary", "valid pixels", int(n_valid), None))
        rows.append(("summary", "water pixels masked", int(water_px), None))
        rows += [("grade area km2", r["label"], round(float(r["area_km2"]), 6), _pct(r["percent"])) for r in grade_rows]
        return rows


    def run_record(self, parameters, context):
        """The report's account of the run: [(heading, content)] for the scene and the settings."""
        scene = summary.inputs(self, parameters, context)
        facts = {}
        has_mtl = self.parameterDefinition("MTL_FILE") is not None
        mtl_path = self.parameterAsFile(parameters, "MTL_FILE", context) if has_mtl else ""
        if mtl_path:
            try:
                with open(mtl_path, encoding="utf-8", errors="replace") as fh:
                    mtl = rad.mtl_scene(rad.parse_mtl(fh.read()))
                facts = {"acquisition date (MTL)": mtl.date, "spacecraft (MTL)": mtl.spacecraft}
            except (OSError, ValueError):
                pass
        product = getattr(self, "scene_product", None)
        if product is not None:       # the files inside it (an archive member is named by its path in the archive)
            names = {role: pid for role, pid, _ in ROLE_PARAMS}
            scene += [{"input": f"PRODUCT {names.get(role, role)}", "file": product_member(product, path)}
                      for role, path in list(product.bands.items()) + [(product.qa_kind, product.qa)] if path]
            facts = {"product": product.product_id, "level": product.level, "sensor": product.sensor,
                     "acquisition date": product.date}
        record = [("Scene", scene or "No input files (layers without a file).")]
        if facts:
            record.append(("Acquisition", facts))
        record.append(("Settings", summary.settings(self, parameters, context)))
        return record

    @staticmethod
    def write_report(path, result, table, grade_rows, hist, record=()):
        from ..reports.html import histogram_png, write_html_report
        edges = np.linspace(0.0, 1.0, hist.size + 1)
        colours = [palettes.CLASSES["rsei_grade"][int(core.grade(np.array([c]))[0]) - 1][2]
                   for c in (edges[:-1] + edges[1:]) / 2]
        fd, png = tempfile.mkstemp(suffix=".png")
        os.close(fd)
        try:
            histogram_png(png, hist, edges, "RSEI histogram", "RSEI", colors=colours)
            names = core.COMPONENTS
            loadings = [dict({"component": n}, **{f"PC{j + 1}": float(result.loadings[i, j])
                                                  for j in range(len(names))}) for i, n in enumerate(names)]
            eig = [{"PC": f"PC{i + 1}", "eigenvalue": float(v), "share %": 100.0 * float(r)}
                   for i, (v, r) in enumerate(zip(result.eigenvalues, result.explained_ratio))]
            summary = [{"statistic": name, "value": value} for section, name, value, _ in table
                       if section in ("summary", "component mean")]
            write_html_report(path, "Remote sensing ecological index (RSEI)", [
                ("About", "RSEI = PC1 of the normalised NDVI, WET, NDBSI and LST, rescaled to 0-1 (Xu 2013; "
                          f"{cite('han2025')}, section 3.1). Higher is better."),
                *record,
                ("Principal components", eig),
                ("Loadings", loadings),
                ("Summary", summary),
                ("Area per grade", [{"grade": r["label"], "area km2": r["area_km2"], "percent": r["percent"]}
                                    for r in grade_rows]),
                ("Histogram", png),
            ])
        finally:
            os.remove(png)
        return path


class RseiAlgorithm(RseiBase):
    ID = "rsei"
    NAME = "RSEI from a scene"
    SUMMARY = (
        "Remote sensing ecological index (RSEI) of one Landsat or Sentinel-2 scene. Greenness (NDVI), wetness "
        "(tasseled-cap WET), dryness (NDBSI) and heat (LST) are computed from the bands, water (MNDWI above a "
        "threshold) is masked, each component is min-max normalised, and the first principal component of the four, "
        "oriented so that greenness and wetness raise it, is rescaled to 0-1 (higher = better).\n"
        "Inputs: give PRODUCT (a Landsat MTL or .tar), or SCENE, or the band layers, as for the spectral index "
        "calculator.\n"
        "Outputs: the RSEI raster, five grades (worst 0-0.2, poor, moderate, good, excellent 0.8-1), a statistics "
        "table (eigenvalues, loadings, PC1 share of variance, component means, area per grade) and an HTML report. "
        "The PCA uses a fixed sample of pixels: the result does not depend on the block size.")
    SHORT_DESCRIPTION = (
        "Remote sensing ecological index (RSEI) of a scene: NDVI, WET, NDBSI and LST combined by PCA, with grades")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_scene_parameters(self)
        self.add_wet_parameter()
        add_lst_parameters(self)
        self.add(QgsProcessingParameterBoolean("WATER_MASK", "Mask water (MNDWI)", defaultValue=True),
                 "Exclude water pixels (MNDWI above the threshold) before normalisation and PCA.")
        self.add_common_parameters()

    def component_pass(self, parameters, context):
        water = self.parameterAsBoolean(parameters, "WATER_MASK", context)
        threshold = self.parameterAsDouble(parameters, "MNDWI_THRESHOLD", context)
        names = list(core.COMPONENTS) + (["MNDWI"] if water else [])
        roles = product_bands(names, radiometry_mode(self, parameters, context))
        scene = resolve_scene(self, parameters, context, roles)
        self.component_inputs = [", ".join(scene.refs[r].describe() for r in product_bands([n], scene.radiometry.mode))
                                 for n in core.COMPONENTS]
        self.scene_check = scene.check
        self.scene_product = scene.product
        compute = partial(core.scene_components_block, radiometry=scene.radiometry, check=scene.check, water=water,
                          threshold=threshold)
        return (scene.stack_refs(roles), resampling_choice(self, parameters, context), read_scene, compute)


class RseiFromComponentsAlgorithm(RseiBase):
    ID = "rseicomponents"
    NAME = "RSEI from component rasters"
    SUMMARY = (
        "Remote sensing ecological index (RSEI) from four component rasters you already have, e.g. from the spectral "
        "index calculator and the LST tool chained in the Modeler: greenness (NDVI), wetness (WET), dryness (NDBSI) "
        "and heat (LST), each a band of a raster on one grid, and optionally MNDWI for the water mask. Each component "
        "is min-max normalised, and the first principal component of the four, oriented so that greenness and wetness "
        "raise it, is rescaled to 0-1 (higher = better).\n"
        "Outputs: the RSEI raster, five grades (worst 0-0.2, poor, moderate, good, excellent 0.8-1), a statistics "
        "table (eigenvalues, loadings, PC1 share of variance, component means, area per grade) and an HTML report, as "
        "RSEI from a scene.")
    SHORT_DESCRIPTION = (
        "Remote sensing ecological index (RSEI) from NDVI, WET, NDBSI and LST rasters you already have")

    def initAlgorithm(self, config=None):  # noqa: N802
        for key, pid, label in COMPONENT_PARAMS:
            self.add(QgsProcessingParameterRasterLayer(pid, label),
                     f"Raster holding {key} (e.g. from the spectral index calculator / LST tool).")
            self.add(QgsProcessingParameterBand(f"{pid}_BAND", f"{label} band", 1, pid),
                     f"Band of {pid} that holds {key}.")
        self.add(QgsProcessingParameterRasterLayer("MNDWI", "MNDWI for the water mask", optional=True),
                 "Optional: pixels with MNDWI above the threshold are water and left out.")
        self.add(QgsProcessingParameterBand("MNDWI_BAND", "MNDWI band", 1, "MNDWI", optional=True),
                 "Band of MNDWI that holds the index.")
        self.add_common_parameters()

    def component_pass(self, parameters, context):
        refs = {}
        for key, pid, _label in COMPONENT_PARAMS + (("MNDWI", "MNDWI", "MNDWI"),):
            layer = self.parameterAsRasterLayer(parameters, pid, context)
            if layer is None:
                if pid == "MNDWI":
                    continue
                raise QgsProcessingException(f"{pid}: give the {key} raster.")
            band = self.parameterAsInt(parameters, f"{pid}_BAND", context) or 1
            refs[key] = BandRef(layer.source().split("|")[0], band, pid)
        threshold = self.parameterAsDouble(parameters, "MNDWI_THRESHOLD", context)
        self.component_inputs = [refs[n].describe() for n in core.COMPONENTS]
        return refs, None, read_floats, partial(core.components_block, threshold=threshold)
