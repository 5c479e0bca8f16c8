"""RSEI (remote sensing ecological index) from a scene or from four component rasters."""
from __future__ import annotations

import math
import os
import shutil
import tempfile

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
from ..core.scene import BlockProducts, product_bands
from ..raster.engine import (BandRef, BlockSpill, GeoTiffWriter, RasterError, RasterStack, block_pass,
                             check_writable, prefetched)
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from . import summary
from .references import cite
from .scene_algorithm import SceneAlgorithm
from . import limits
from .scene_params import (add_lst_parameters, add_scene_parameters, radiometry_mode, resampling_choice,
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


def mask_water(planes, mndwi, threshold):
    """Set the components (planes (k, rows, cols)) of water pixels (MNDWI > threshold) to NaN in place; the water
    mask or None."""
    if mndwi is None:
        return None
    with np.errstate(invalid="ignore"):
        water = mndwi > threshold
    planes[:, water] = np.nan
    return water


# scratch bytes per pixel: the four float32 components, written in pass 1, read in passes 2 and 3
SCRATCH_BYTES_PER_PIXEL = 4 * 4


def check_scratch_space(folder, needed):
    """RasterError naming OUTPUT unless ``folder`` has ``needed`` bytes free for the scratch file."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise RasterError(f"OUTPUT: RSEI keeps the components of this scene in a temporary file beside the output "
                          f"({needed / 1e9:.2f} GB), but {folder} has only {free / 1e9:.2f} GB free. Free some disk "
                          "space or write the outputs to another folder.")


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

    # subclasses: (stack, fetch, derive): fetch(window) reads the block's raw bands (GDAL only), derive(raw) returns
    # (the components as planes (4, rows, cols) float32, water mask or None); they run in two threads
    def component_source(self, parameters, context):
        raise NotImplementedError

    def run_tool(self, parameters, context, feedback):
        stack, fetch, derive = self.component_source(parameters, context)
        with stack:
            result = self.compute(stack.grid, fetch, derive, parameters, context, feedback)
        return result

    def compute(self, grid, fetch, derive, parameters, context, feedback):
        clip = self.parameterAsDouble(parameters, "CLIP_PERCENT", context)
        target = self.parameterAsInt(parameters, "SAMPLE_SIZE", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        rsei_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        grades_path = self.parameterAsOutputLayer(parameters, "OUTPUT_GRADES", context)
        report_path = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        check_writable(rsei_path, "OUTPUT")
        check_writable(grades_path, "OUTPUT_GRADES")
        grid.check_geographic_extent()   # the grade areas need degrees: refuse a mislabelled CRS before pass 1
        folder = os.path.dirname(os.path.abspath(self.destination(rsei_path)))   # beside the output, not staged
        check_scratch_space(folder, grid.width * grid.height * SCRATCH_BYTES_PER_PIXEL)

        # the components are computed once, in pass 1, and kept in a scratch file that passes 2 and 3 read
        # instead of recomputing them (deleted at the end, on error and on cancel)
        with BlockSpill(folder, prefix=".rsei-", label="OUTPUT") as spill:
            feedback.pushInfo("Pass 1/3: components, their statistics and the PCA sample")
            minmax, sample, water_px = self.statistics_pass(grid, fetch, derive, spill, target, seed, feedback)
            for text in (self.scene_check.warnings() if self.scene_check is not None else ()):
                feedback.pushWarning(text)
            lo, hi = core.normalisation_bounds(minmax, sample, clip)
            result = core.pca(core.normalise(sample, lo, hi))
            share = result.pc1_contribution
            if share < core.PC1_CONTRIBUTION_THRESHOLD:
                feedback.pushWarning(f"PC1 explains only {100 * share:.1f} % of the variance (Han et al. 2025 expect "
                                     ">= 60 %): RSEI may not summarise the four components well.")

            feedback.pushInfo("Pass 2/3: PC1 range")

            def pc1_of(w, sums=None):
                return core.pc1_planes(spill.read(w), lo, hi, result, sums)

            pc_lo, pc_hi, means, n_valid = self.pc1_pass(grid, pc1_of, feedback)

            feedback.pushInfo("Pass 3/3: writing RSEI and grades")

            def rsei_of(w):
                return core.rescale(pc1_of(w), pc_lo, pc_hi).astype(np.float32)

            rsei_path, grades_path, hist, counts, areas, rsei_sum = self.write_pass(grid, rsei_of, rsei_path,
                                                                                    grades_path, feedback)

        grade_rows = core.grade_area_table(counts, 1.0)
        total_area = areas[1:].sum()
        for row in grade_rows:
            row["area_km2"] = areas[row["grade"]] / 1e6
            row["percent"] = 100.0 * areas[row["grade"]] / total_area if total_area else 0.0
        table = self.table_rows(result, lo, hi, means, rsei_sum / max(n_valid, 1), grade_rows, n_valid, water_px)
        style_output(rsei_path, RasterStyle("ramp", palettes.ramp_for("RSEI"), 0.0, 1.0), context, "RSEI")
        style_output(grades_path, RasterStyle("classes", classes="rsei_grade"), context, "RSEI grades")
        outputs = {"OUTPUT": rsei_path, "OUTPUT_GRADES": grades_path, "PC1_SHARE": share,
                   "MEAN_RSEI": rsei_sum / max(n_valid, 1)}
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, table)
        if report_path:
            outputs["OUTPUT_REPORT"] = self.write_report(report_path, result, table, grade_rows, hist,
                                                         self.run_record(parameters, context))
        feedback.setProgress(100)
        return outputs

    def statistics_pass(self, grid, fetch, derive, spill, target, seed, feedback):
        """Pass 1: the components of every block (kept in ``spill``), their exact min/max and the deterministic PCA
        sample. Returns (RunningMinMax, sample (n, 4), water pixel count)."""
        k = len(core.COMPONENTS)
        minmax = core.RunningMinMax(k)
        sampler = core.SampleCollector(k, grid.width, core.sample_probability(grid.width * grid.height, target), seed)
        water_px = 0
        finite = np.zeros(k, dtype=np.int64)

        def components(item):
            planes, water = derive(item[1])
            valid, block_finite = core.mask_invalid(planes)
            return planes, valid, block_finite, water

        # a pipeline: one thread reads the next-but-one block, another computes the next block's components
        fetched = prefetched(block_pass(grid, feedback, 0, 55), fetch)
        for (w, _raw), (planes, valid, block_finite, water) in prefetched(fetched, components):
            water_px += int(np.count_nonzero(water)) if water is not None else 0
            finite += block_finite
            minmax.update_planes(planes)
            sampler.add_planes(w.yoff, w.xoff, planes, valid)
            spill.write(w, planes)
        for i in np.flatnonzero(finite == 0):
            raise RasterError(f"{COMPONENT_PARAMS[i][2]} has no valid pixel: its input "
                              f"{self.component_inputs[i]} is all nodata (or masked as cloud / water). "
                              "Check the input, its nodata value, the cloud mask and the MNDWI threshold.")
        if not minmax.count.all():
            raise RasterError("no pixel has all four components valid (after the cloud and water masks). "
                              "Check that the inputs overlap and the MNDWI threshold.")
        return minmax, sampler.array(), water_px

    @staticmethod
    def pc1_pass(grid, pc1_of, feedback):
        """Pass 2: PC1 min/max over every valid pixel and the mean of each normalised component.
        Returns (PC1 min, PC1 max, means (4,), valid pixel count)."""
        def load(w):
            sums = np.zeros(len(core.COMPONENTS))
            return pc1_of(w, sums), sums

        pc_lo, pc_hi = np.inf, -np.inf
        total, n_valid = np.zeros(len(core.COMPONENTS)), 0
        for _w, (pc1, sums) in prefetched(block_pass(grid, feedback, 55, 65), load):
            n = int(np.count_nonzero(np.isfinite(pc1)))
            if n:
                pc_lo = min(pc_lo, float(np.fmin.reduce(pc1, axis=None)))
                pc_hi = max(pc_hi, float(np.fmax.reduce(pc1, axis=None)))
                total += sums
                n_valid += n
        return pc_lo, pc_hi, total / max(n_valid, 1), n_valid

    @staticmethod
    def write_pass(grid, rsei_of, rsei_path, grades_path, feedback):
        """Pass 3: the RSEI and grade rasters, the RSEI histogram and sum, pixel count and area per grade."""
        n_grades = len(core.GRADE_LABELS)

        def load(w):   # in the background thread, so that the main thread only writes
            rsei = rsei_of(w)
            g = core.grade(rsei)
            return (rsei, g, core.histogram(rsei)[0], float(np.nansum(rsei, dtype=np.float64)),
                    *core.grade_counts(g, grid.row_areas_m2(w), n_grades))

        hist = np.zeros(20, dtype=np.int64)
        counts, areas = np.zeros(n_grades + 1, dtype=np.int64), np.zeros(n_grades + 1)
        rsei_sum = 0.0
        with GeoTiffWriter(rsei_path, grid, 1, band_names=["RSEI"], label="OUTPUT") as wr, \
                GeoTiffWriter(grades_path, grid, 1, dtype="uint8", nodata=0, band_names=["RSEI grade"],
                              label="OUTPUT_GRADES") as wg:
            for w, (rsei, g, block_hist, block_sum, block_counts, block_areas) in prefetched(
                    block_pass(grid, feedback, 65, 97), load):
                wr.write(1, w, rsei)
                wg.write(1, w, g)
                hist += block_hist
                rsei_sum += block_sum
                counts += block_counts
                areas += block_areas
            return wr.commit(), wg.commit(), hist, counts, areas, rsei_sum

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
        "Inputs: the scene as for the spectral index calculator (bands, sensor, radiometry, MTL file, cloud mask).\n"
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

    def component_source(self, parameters, context):
        water = self.parameterAsBoolean(parameters, "WATER_MASK", context)
        threshold = self.parameterAsDouble(parameters, "MNDWI_THRESHOLD", context)
        names = list(core.COMPONENTS) + (["MNDWI"] if water else [])
        roles = product_bands(names, radiometry_mode(self, parameters, context))
        scene = resolve_scene(self, parameters, context, roles)
        stack = RasterStack(scene.stack_refs(roles), resampling=resampling_choice(self, parameters, context))
        self.component_inputs = [", ".join(scene.refs[r].describe() for r in product_bands([n], scene.radiometry.mode))
                                 for n in core.COMPONENTS]
        self.scene_check = scene.check

        def fetch(w):
            return {r: stack.read(r, w) for r in roles}, stack.read_raw("QA", w) if scene.qa else None

        def derive(raw):
            block = BlockProducts(raw[0], scene.radiometry, raw[1], scene.check)
            planes = np.stack([block.get(n) for n in core.COMPONENTS])
            return planes, mask_water(planes, block.index("MNDWI") if water else None, threshold)
        return stack, fetch, derive


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

    def component_source(self, parameters, context):
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
        stack = RasterStack(refs)
        self.component_inputs = [refs[n].describe() for n in core.COMPONENTS]

        def fetch(w):
            planes = np.stack([stack.read(n, w) for n in core.COMPONENTS])
            return planes, stack.read("MNDWI", w) if "MNDWI" in refs else None

        def derive(raw):
            planes, mndwi = raw
            return planes, mask_water(planes, mndwi, threshold)
        return stack, fetch, derive
