"""RSEI (remote sensing ecological index) from a scene or from four component rasters."""
from __future__ import annotations

import os
import tempfile

import numpy as np
from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingParameterBand,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from ..core import rsei as core
from ..core.scene import BlockProducts, product_bands
from ..raster.engine import BandRef, GeoTiffWriter, RasterError, RasterStack, block_pass, prefetched
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from .scene_algorithm import SceneAlgorithm
from .scene_params import (add_lst_parameters, add_scene_parameters, radiometry_mode, resampling_choice,
                           resolve_scene)

COMPONENT_PARAMS = (("NDVI", "GREENNESS", "Greenness (NDVI)"), ("WET", "WETNESS", "Wetness (WET)"),
                    ("NDBSI", "DRYNESS", "Dryness (NDBSI)"), ("LST", "HEAT", "Heat (LST)"))

SUMMARY = ("Remote sensing ecological index (Xu 2013) as in the ningdong study, section 3.1: the four components "
           "greenness (NDVI), wetness (tasseled-cap WET), dryness (NDBSI = (SI + IBI)/2) and heat (LST) are each "
           "min-max normalised (eq. 12; optional percentile clipping), water is masked (MNDWI above a threshold), "
           "a PCA of the four normalised components is computed from a deterministic sample of valid pixels, "
           "PC1 is oriented so that greenness and wetness load positively, and rescaled to [0, 1] (eq. 13). "
           "Outputs: the RSEI raster, five grades (worst 0-0.2, poor, moderate, good, excellent 0.8-1), a table "
           "(eigenvalues, loadings, PC1 share of variance - the seed expects at least 60 % -, mean of each "
           "normalised component, area per grade in km2 and %) and an HTML report with a histogram. "
           "Statistics do not depend on the block size; memory stays bounded on full scenes.")
SOURCE = ("Xu H. (2013) Acta Ecologica Sinica 33(24); ningdong seed section 3.1 eqs. 2-13, grades section 4.1; "
          "WET: Crist 1985 / Huang 2002 / Baig 2014; MNDWI: Xu 2006.")
TABLE_FIELDS = (("section", str), ("name", str), ("value", float), ("percent", float))


def mask_water(comps, mndwi, threshold):
    """Set the components of water pixels (MNDWI > threshold) to NaN in place; the water mask or None."""
    if mndwi is None:
        return None
    with np.errstate(invalid="ignore"):
        water = mndwi > threshold
    comps[water] = np.nan
    return water


class RseiBase(SceneAlgorithm):
    GROUP = "ecology"
    SUMMARY = SUMMARY
    SOURCE = SOURCE

    def add_common_parameters(self):
        self.add(QgsProcessingParameterNumber("MNDWI_THRESHOLD", "MNDWI water threshold",
                                              QgsProcessingParameterNumber.Double, defaultValue=0.0),
                 "Pixels with MNDWI = (G - SWIR1)/(G + SWIR1) above this value are water and left out.")
        self.add(QgsProcessingParameterNumber("CLIP_PERCENT", "Percentile clipping for normalisation (%)",
                                              QgsProcessingParameterNumber.Double, defaultValue=0.0, minValue=0.0,
                                              maxValue=10.0),
                 "0 = exact min/max of each component (eq. 12). E.g. 1 = use the 1st and 99th percentiles of the "
                 "sample and clip outliers (hot roofs, cloud residue) to 0 / 1.")
        self.add(QgsProcessingParameterNumber("SAMPLE_SIZE", "PCA sample size (pixels)",
                                              QgsProcessingParameterNumber.Integer, defaultValue=200000,
                                              minValue=1000),
                 "About this many valid pixels, chosen by a fixed hash of their position, feed the PCA.",
                 advanced=True)
        self.add(QgsProcessingParameterNumber("SEED", "Sampling seed", QgsProcessingParameterNumber.Integer,
                                              defaultValue=core.DEFAULT_SAMPLE_SEED),
                 "Changes which pixels are sampled; the same seed always gives the same result.", advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "RSEI"),
                        "RSEI 0-1 (float32, nodata -9999, water and masked pixels nodata).")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_GRADES", "RSEI grades"),
                        "1 worst (0-0.2), 2 poor, 3 moderate, 4 good, 5 excellent (0.8-1); 0 = nodata.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "RSEI statistics",
                                                          QgsProcessing.TypeVector, optional=True,
                                                          createByDefault=True),
                        "Table: eigenvalues, loadings, PC1 share of variance, normalisation bounds, mean of each "
                        "normalised component, area per grade (km2, %).")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "RSEI report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "A small HTML report with the tables and a histogram of RSEI.")

    # subclasses: grid + a reader returning (components (rows, cols, 4), water mask or None) per window
    def component_source(self, parameters, context):
        raise NotImplementedError

    def run_tool(self, parameters, context, feedback):
        stack, read = self.component_source(parameters, context)
        with stack:
            result = self.compute(stack.grid, read, parameters, context, feedback)
        return result

    def compute(self, grid, read, parameters, context, feedback):
        clip = self.parameterAsDouble(parameters, "CLIP_PERCENT", context)
        target = self.parameterAsInt(parameters, "SAMPLE_SIZE", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        rsei_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        grades_path = self.parameterAsOutputLayer(parameters, "OUTPUT_GRADES", context)
        report_path = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        k = len(core.COMPONENTS)

        # pass 1: exact min/max and the deterministic sample
        feedback.pushInfo("Pass 1/3: component statistics and PCA sample")
        minmax = core.RunningMinMax(k)
        sampler = core.SampleCollector(k, grid.width, core.sample_probability(grid.width * grid.height, target), seed)
        water_px = 0
        finite = np.zeros(k, dtype=np.int64)
        for w, (comps, water) in prefetched(block_pass(grid, feedback, 0, 35), read):
            water_px += int(np.count_nonzero(water)) if water is not None else 0
            ok = np.isfinite(comps)
            finite += ok.reshape(-1, k).sum(axis=0)
            valid = ok.all(axis=2)
            minmax.update(comps[valid])
            sampler.add(w.yoff, w.xoff, np.where(valid[..., None], comps, np.nan))
        for i in np.flatnonzero(finite == 0):
            raise RasterError(f"{COMPONENT_PARAMS[i][2]} has no valid pixel: its input "
                              f"{self.component_inputs[i]} is all nodata (or masked as cloud / water). "
                              "Check the input, its nodata value, the cloud mask and the MNDWI threshold.")
        if not minmax.count.all():
            raise RasterError("no pixel has all four components valid (after the cloud and water masks). "
                              "Check that the inputs overlap and the MNDWI threshold.")
        sample = sampler.array()
        lo, hi = core.normalisation_bounds(minmax, sample, clip)
        result = core.pca(core.normalise(sample, lo, hi))
        share = result.pc1_contribution
        if share < core.PC1_CONTRIBUTION_THRESHOLD:
            feedback.pushWarning(f"PC1 explains only {100 * share:.1f} % of the variance (the seed expects >= 60 %): "
                                 "RSEI may not summarise the four components well.")

        # pass 2: PC1 min/max and means of the normalised components
        feedback.pushInfo("Pass 2/3: PC1 range")
        pc_lo, pc_hi = np.inf, -np.inf
        sums, n_valid = np.zeros(k), 0
        for w, (comps, _) in prefetched(block_pass(grid, feedback, 35, 65), read):
            valid = np.isfinite(comps).all(axis=2)
            norm = core.normalise(comps[valid], lo, hi)
            if norm.size:
                pc1 = core.pc1_scores(norm, result)
                pc_lo, pc_hi = min(pc_lo, float(pc1.min())), max(pc_hi, float(pc1.max()))
                sums += norm.sum(axis=0)
                n_valid += norm.shape[0]

        # pass 3: RSEI, grades, histogram, areas
        feedback.pushInfo("Pass 3/3: writing RSEI and grades")
        hist = np.zeros(20, dtype=np.int64)
        n_grades = len(core.GRADE_LABELS)
        counts, areas = np.zeros(n_grades + 1, dtype=np.int64), np.zeros(n_grades + 1)
        rsei_sum = 0.0
        with GeoTiffWriter(rsei_path, grid, 1, band_names=["RSEI"], label="OUTPUT") as wr, \
                GeoTiffWriter(grades_path, grid, 1, dtype="uint8", nodata=0, band_names=["RSEI grade"],
                              label="OUTPUT_GRADES") as wg:
            for w, (comps, _) in prefetched(block_pass(grid, feedback, 65, 97), read):
                valid = np.isfinite(comps).all(axis=2)
                rsei = np.full(w.shape, np.nan, dtype=np.float32)
                if valid.any():
                    rsei[valid] = core.rescale(core.pc1_scores(core.normalise(comps[valid], lo, hi), result),
                                               pc_lo, pc_hi)
                g = core.grade(rsei)
                wr.write(1, w, rsei)
                wg.write(1, w, g)
                wr.flush()
                wg.flush()
                hist += core.histogram(rsei[valid])[0]
                rsei_sum += float(rsei[valid].sum(dtype=np.float64))
                counts += np.bincount(g.ravel(), minlength=n_grades + 1)
                areas += np.bincount(g.ravel(), weights=np.broadcast_to(grid.row_areas_m2(w), g.shape).ravel(),
                                     minlength=n_grades + 1)
            rsei_path, grades_path = wr.commit(), wg.commit()

        grade_rows = core.grade_area_table(counts, 1.0)
        total_area = areas[1:].sum()
        for row in grade_rows:
            row["area_km2"] = areas[row["grade"]] / 1e6
            row["percent"] = 100.0 * areas[row["grade"]] / total_area if total_area else 0.0
        means = sums / max(n_valid, 1)
        table = self.table_rows(result, lo, hi, means, rsei_sum / max(n_valid, 1), grade_rows, n_valid, water_px)
        style_output(rsei_path, RasterStyle("ramp", palettes.ramp_for("RSEI"), 0.0, 1.0), context, "RSEI")
        style_output(grades_path, RasterStyle("classes", classes="rsei_grade"), context, "RSEI grades")
        outputs = {"OUTPUT": rsei_path, "OUTPUT_GRADES": grades_path, "PC1_SHARE": share,
                   "MEAN_RSEI": rsei_sum / max(n_valid, 1)}
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, table)
        if report_path:
            outputs["OUTPUT_REPORT"] = self.write_report(report_path, result, table, grade_rows, hist)
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def table_rows(result, lo, hi, means, mean_rsei, grade_rows, n_valid, water_px):
        names = core.COMPONENTS
        rows = [("pca", f"eigenvalue PC{i + 1}", float(v), 100.0 * float(r))
                for i, (v, r) in enumerate(zip(result.eigenvalues, result.explained_ratio))]
        rows += [("loading", f"PC{j + 1} {names[i]}", float(result.loadings[i, j]), None)
                 for j in range(len(names)) for i in range(len(names))]
        rows.append(("pca", "PC1 share of variance", float(result.pc1_contribution),
                     100.0 * float(result.pc1_contribution)))
        rows += [("normalisation", f"{n} min", float(a), None) for n, a in zip(names, lo)]
        rows += [("normalisation", f"{n} max", float(b), None) for n, b in zip(names, hi)]
        rows += [("component mean", f"normalised {n}", float(m), None) for n, m in zip(names, means)]
        rows.append(("summary", "mean RSEI", float(mean_rsei), None))
        rows.append(("summary", "valid pixels", float(n_valid), None))
        rows.append(("summary", "water pixels masked", float(water_px), None))
        rows += [("grade area km2", r["label"], float(r["area_km2"]), float(r["percent"])) for r in grade_rows]
        return rows


    @staticmethod
    def write_report(path, result, table, grade_rows, hist):
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
                          "ningdong section 3.1). Higher is better."),
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

        def read(w):
            raw = {r: stack.read(r, w) for r in roles}
            block = BlockProducts(raw, scene.radiometry, stack.read_raw("QA", w) if scene.qa else None)
            comps = np.stack([block.get(n) for n in core.COMPONENTS], axis=2)
            return comps, mask_water(comps, block.index("MNDWI") if water else None, threshold)
        return stack, read


class RseiFromComponentsAlgorithm(RseiBase):
    ID = "rseicomponents"
    NAME = "RSEI from component rasters"

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

        def read(w):
            comps = np.stack([stack.read(n, w) for n in core.COMPONENTS], axis=2)
            return comps, mask_water(comps, stack.read("MNDWI", w) if "MNDWI" in refs else None, threshold)
        return stack, read
