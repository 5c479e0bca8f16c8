"""Apply a trained model file to rasters (miningeco:applymodel): predicted raster, salinity grades, area table."""
from __future__ import annotations

import os
import shutil
import tempfile
from functools import partial

import numpy as np
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFile,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
)

from .. import compat
from ..core import explain, modelfile
from ..deps import shap_missing_message, skops_missing_message
from ..core import salinity as core
from ..raster.engine import BandRef, raster_info
from ..raster.executor import BlockPass, OutputSpec, add
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from . import limits
from .references import cite
from .transfer_matrix import LegendStyle

#: Rows of the feature matrix given to the model's predict at once (bounded memory whatever the model).
PREDICT_CHUNK_ROWS = 262144

SUMMARY = (
    "Applies a model file of Train model to rasters, pixel by pixel: the model's features are matched to bands by "
    "name (the band descriptions of a multi-band raster such as the index calculator's output, or the names of "
    "single-band rasters). Pixels where a feature is nodata are nodata.\n"
    "Optional: salinity grades from a table of upper bounds (default 1, 2, 4, 6 g/kg: non-saline, slightly, "
    "moderately, severely saline, saline soil) and a table of the area of each grade; SHAP rasters of the top k "
    "features on a sample grid (needs shap).\n"
    "Outputs: the predicted raster, the grade raster (paletted) and the area table. Needs the Python package skops "
    "(see the Set-up group).")
SOURCE = cite("he2026", "lan2025", "wang1993")
TABLE_FIELDS = (("grade", int), ("label", str), ("range", str), ("pixels", int), ("area_km2", float),
                ("percent", float))


def _ramp_colours(n: int, ramp=None):
    """``n`` colours sampled evenly along a palettes ramp (linear in RGB between its stops)."""
    stops = ramp or palettes.RAMPS["salinity"]
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
            if p0 <= t <= p1:
                f = 0.0 if p1 == p0 else (t - p0) / (p1 - p0)
                a = [int(c0[k:k + 2], 16) for k in (1, 3, 5)]
                b = [int(c1[k:k + 2], 16) for k in (1, 3, 5)]
                out.append("#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b)))
                break
    return out


def grade_colours(n: int):
    """The palette's salinity-grade colours for the default five grades, else samples of the salinity ramp."""
    classes = palettes.CLASSES["salinity_grade"]
    return [c for _v, _l, c in classes] if n == len(classes) else _ramp_colours(n)


def set_n_jobs(estimator, n_jobs: int):
    """Set every ``n_jobs`` parameter of the estimator (and of its steps / sub-estimators)."""
    if not hasattr(estimator, "get_params"):
        return
    keys = [k for k in estimator.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
    if keys:
        estimator.set_params(**{k: n_jobs for k in keys})


def band_names(layers, label="RASTERS"):
    """{lower-case name: [BandRef]} and the list of (name, description) shown when a feature is missing.

    Multi-band raster: each band is named by its description. Single-band raster: by its band description,
    its layer name and its file name (without extension)."""
    by_name, shown = {}, []
    for layer in layers:
        path = layer.source().split("|")[0]
        _grid, count, descriptions = raster_info(path, label)
        base = os.path.basename(path)
        for b in range(1, count + 1):
            desc = (descriptions[b - 1] or "").strip()
            names = [desc] if count > 1 else [desc, layer.name(), os.path.splitext(base)[0]]
            names = list(dict.fromkeys(n for n in names if n))
            ref = BandRef(path, b, label)
            for n in names:
                refs = by_name.setdefault(n.lower(), [])
                if ref not in refs:
                    refs.append(ref)
            shown.append(f"{' / '.join(names) or '(unnamed)'} ({base} band {b})")
    return by_name, shown


def find_bands(names, by_name):
    """Each of ``names`` looked up in ``by_name`` (ignoring case): (names without a band, {name: its BandRefs} for
    names matching several bands, [the BandRef of each name, None when missing or ambiguous])."""
    found = [by_name.get(n.lower(), []) for n in names]
    missing = [n for n, c in zip(names, found) if not c]
    several = {n: c for n, c in zip(names, found) if len(c) > 1}
    return missing, several, [c[0] if len(c) == 1 else None for c in found]


def match_features(features, by_name, shown):
    """The BandRef of each model feature (in the model's order); ValueError listing the missing ones."""
    missing, several, refs = find_bands(features, by_name)
    if missing:
        raise ValueError(f"RASTERS: the model needs the feature(s) {', '.join(missing)}, but no input band is named "
                         f"so. Available band names: {'; '.join(shown) or 'none'}. Give rasters whose band "
                         "descriptions (multi-band) or layer / file names (single-band) are the model's feature "
                         f"names ({', '.join(features)}), ignoring case.")
    for f, cands in several.items():
        raise ValueError(f"RASTERS: the feature {f} matches several bands ("
                         f"{', '.join(r.describe() for r in cands)}). Give each feature once.")
    return refs


class ApplyModelAlgorithm(MiningEcoAlgorithm):
    ID = "applymodel"
    NAME = "Apply model to rasters (salinity map and grades)"
    GROUP = "salinity"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Predicts a salinity map from index rasters with a trained model file; salinity grades and their areas")
    TAGS = ("predict", "inversion", "salinity map", "soil salt content", "salinity grades", "classification",
            "machine learning", "random forest")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFile("MODEL_FILE", "Model file (*.model)", extension="model"),
                 "A model file written by the 'Train model' tool: the estimator, its feature names in order, "
                 "the target name and units.")
        self.add(QgsProcessingParameterMultipleLayers("RASTERS", "Feature rasters", compat.ProcessingSourceType.Raster),
                 "One multi-band raster whose band descriptions are the feature names (e.g. the spectral index "
                 "calculator's output) and/or single-band rasters named after the features; all on one grid. In "
                 "qgis_process repeat the key: RASTERS=ndvi.tif RASTERS=si1.tif.")
        self.add(QgsProcessingParameterMatrix("GRADE_TABLE", "Salinity grade table (upper bound, name)", numberRows=5, hasFixedNumberRows=False,
                                              headers=["Upper bound (inclusive)", "Grade"],
                                              defaultValue=core.default_grade_table(), optional=True),
                 "One row per grade: its upper bound in the model's units (inclusive) and its name; leave the last "
                 "row's bound empty (the open top grade). Default (also when left empty) 1 / 2 / 4 / 6 g/kg "
                 "(Lan et al. 2025, Table 5). In "
                 "qgis_process: GRADE_TABLE=1,Non-saline,2,Slight,4,Moderate,6,Severe,,Saline soil.")
        self.add(QgsProcessingParameterNumber("N_JOBS", "Parallel jobs for predict (0 = all cores)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                              maxValue=limits.JOBS_MAX),
                 "Sets the model's n_jobs (random forest trees are predicted in parallel threads).", advanced=True)
        self.add(QgsProcessingParameterNumber("SHAP_TOP_K", "SHAP rasters: top k features (0 = none)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                              maxValue=explain.TOP_K_MAX),
                 "Writes OUTPUT_SHAP: per-pixel SHAP values (target units) of the k features with the largest mean "
                 "|SHAP| on the sample grid. Needs shap (Set-up group).")
        self.add(QgsProcessingParameterNumber("SHAP_STEP", "SHAP sample grid step (pixels)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=10,
                                              minValue=1, maxValue=explain.STEP_MAX),
                 "Every n-th pixel in both directions; each SHAP cell is n pixels wide, centred on its pixel.",
                 advanced=True)
        self.add(QgsProcessingParameterNumber("SHAP_MAX_PIXELS", "SHAP sample grid: maximum cells",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=explain.MAX_PIXELS, minValue=1,
                                              maxValue=explain.MAX_PIXELS_MAX),
                 "The step grows until the grid has at most this many cells (at most "
                 f"{explain.KERNEL_MAX_CELLS} for models without a tree explainer: SVR, MLP, PLSR, stacking).",
                 advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "Predicted raster"),
                        "The model's prediction (float32, nodata -9999 where any feature is nodata), in the "
                        "model's target units.")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_GRADES", "Salinity grades", optional=True,
                                                                createByDefault=True),
                        "Grade codes 1 .. n (uint8, 0 = nodata) from the grade table, paletted.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Area per grade",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True, createByDefault=True),
                        "Table: grade, label, range, pixels, area_km2, percent (of the predicted area).")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_SHAP", "SHAP rasters", optional=True,
                                                                createByDefault=False),
                        "With SHAP_TOP_K: one band per feature (named after it, by rank) on the sample grid, "
                        "float32, nodata -9999, diverging style; metadata SHAP_EXPECTED_VALUE.")
        self.addOutput(QgsProcessingOutputString("SHAP_FEATURES", "Features of the SHAP bands (by rank)"))
        self.addOutput(QgsProcessingOutputNumber("SHAP_STEP", "Step of the SHAP sample grid used (pixels)"))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        # before any work (training every model, reading rasters): model files need skops
        missing = skops_missing_message()
        if missing:
            return False, f"{self.NAME}: {missing}"
        return super().checkParameterValues(parameters, context)

    def load_model(self, parameters, context):
        path = self.parameterAsFile(parameters, "MODEL_FILE", context)
        if not path or not os.path.isfile(path):
            raise ValueError(f"MODEL_FILE: {path or '(empty)'} is not a file. Give a .model file written by "
                             "the 'Train model' tool.")
        with open(path, "rb") as fh:
            data = fh.read()
        return modelfile.loads(data, f"MODEL_FILE ({os.path.basename(path)})")

    def run_tool(self, parameters, context, feedback):
        bundle = self.load_model(parameters, context)
        try:
            table = self.parameterAsMatrix(parameters, "GRADE_TABLE", context) or core.default_grade_table()
            thresholds, labels = core.parse_grade_table(table)
        except ValueError as err:
            raise ValueError(f"GRADE_TABLE: {err}") from None
        layers = self.parameterAsLayerList(parameters, "RASTERS", context)
        if not layers:
            raise ValueError("RASTERS: give at least one raster holding the model's features.")
        refs = match_features(bundle.features, *band_names(layers))
        n_jobs = self.parameterAsInt(parameters, "N_JOBS", context) or -1
        set_n_jobs(bundle.estimator, n_jobs)
        units = bundle.units or ""
        if units and units.replace(" ", "").lower() not in ("g/kg", "gkg-1", "g.kg-1"):
            feedback.pushWarning(f"The model predicts {bundle.target} in {units}; the grade thresholds are read in "
                                 "those units.")
        feedback.pushInfo(f"Model: {bundle.kind or type(bundle.estimator).__name__}, target {bundle.target} "
                          f"({units or 'no units'}); features: " +
                          ", ".join(f"{f} <- {r.describe()}" for f, r in zip(bundle.features, refs)))

        shap_k = self.parameterAsInt(parameters, "SHAP_TOP_K", context)
        shap_path = self.parameterAsOutputLayer(parameters, "OUTPUT_SHAP", context) if shap_k else ""
        if shap_k:
            if not shap_path:
                raise ValueError("OUTPUT_SHAP: SHAP_TOP_K > 0 needs a file for the SHAP rasters; give one (or set "
                                 "SHAP_TOP_K to 0).")
            missing = shap_missing_message()
            if missing:
                raise ValueError(f"SHAP_TOP_K: {missing} Or set SHAP_TOP_K to 0.")
        out_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        grades_path = self.parameterAsOutputLayer(parameters, "OUTPUT_GRADES", context) or None
        outputs = (OutputSpec("OUTPUT", out_path, band_names=(bundle.target or "prediction",)),) + (
            (OutputSpec("OUTPUT_GRADES", grades_path, "uint8", core.NODATA_GRADE, band_names=("salinity grade",)),)
            if grades_path else ())
        done = self.run_pass(BlockPass(
            inputs=dict(enumerate(refs)), outputs=outputs, combine=add,
            compute=partial(core.predict_block, estimator=bundle.estimator, thresholds=thresholds,
                            chunk_rows=PREDICT_CHUNK_ROWS)), feedback, 0, 60 if shap_k else 98)
        out_path = done.paths["OUTPUT"]
        grades_path = done.paths.get("OUTPUT_GRADES")
        areas = core.GradeAreas.of(done.partial)

        st = done.stats["OUTPUT"][0]
        if st.count == 0:
            feedback.pushWarning("RASTERS: no pixel has a valid value in every feature raster, so the prediction is "
                                 "all nodata. Check that the rasters of RASTERS overlap and hold data (their nodata "
                                 "value, an all-nodata raster).")
        style_output(out_path, RasterStyle("ramp", "salinity", st.minimum if st.count else 0.0,
                                           st.maximum if st.count else 1.0), context, bundle.target or "prediction")
        legend = core.grade_legend(thresholds, labels, units)
        rows = areas.table(labels)
        outputs = {"OUTPUT": out_path, "VALID_PIXELS": int(st.count),
                   "MEAN": float(st.mean) if st.count else None}
        if grades_path:
            items = tuple((i + 1, text, colour) for i, (text, colour) in enumerate(zip(legend, grade_colours(len(labels)))))
            style_output(grades_path, LegendStyle("classes", items=items), context, "Salinity grades")
            outputs["OUTPUT_GRADES"] = grades_path
        table = [(r["grade"], r["label"], text[len(r["label"]) + 2:-1], r["pixels"], r["area_km2"], r["percent"])
                 for r, text in zip(rows, legend)]
        for r in table:
            feedback.pushInfo(f"{r[1]} ({r[2]}): {r[4]:.4f} km2, {r[5]:.2f} %")
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, table)
        if shap_k:
            outputs.update(self.shap_rasters(bundle, refs, shap_k, shap_path, parameters, context, feedback))
        feedback.setProgress(100)
        return outputs

    def shap_rasters(self, bundle, refs, k, path, parameters, context, feedback):
        """SHAP values of every feature on the sample grid (one pass through the executor, into a temporary
        file), then the k features of largest mean |SHAP| copied into ``path`` (by rank) and styled."""
        from osgeo import gdal
        grid = raster_info(refs[0].path, "RASTERS")[0]
        explainer = explain.Explainer(bundle.estimator, np.zeros((0, len(refs))), seed=explain.SEED)
        max_cells = self.parameterAsInt(parameters, "SHAP_MAX_PIXELS", context)
        if explainer.kernel and max_cells > explain.KERNEL_MAX_CELLS:
            feedback.pushInfo(f"SHAP: this model needs KernelExplainer (about 0.1 s per cell): the sample grid is "
                              f"limited to {explain.KERNEL_MAX_CELLS} cells")
            max_cells = explain.KERNEL_MAX_CELLS
        step, fx, fy, cols, rows = explain.sample_grid(
            grid.width, grid.height, self.parameterAsInt(parameters, "SHAP_STEP", context), max_cells)
        k = min(k, len(bundle.features))
        feedback.pushInfo(f"SHAP rasters: every {step}th pixel from pixel ({fx}, {fy}), a {cols} x {rows} grid; "
                          f"top {k} of {len(bundle.features)} features")
        work = tempfile.mkdtemp(prefix="mining-eco-shap-", dir=os.path.dirname(os.path.abspath(path)))
        try:
            coarse = dict(enumerate(sampled_refs(refs, grid, step, fx, fy, cols, rows, work)))
            if explainer.kernel:
                explainer = explain.Explainer(bundle.estimator, _background(self, coarse, cols, rows, feedback),
                                              seed=explain.SEED)
            names = tuple(bundle.features)
            everything = os.path.join(work, "all.tif")
            from threadpoolctl import threadpool_limits
            with threadpool_limits(limits=1):   # one thread per block: the executor runs the blocks in parallel
                done = self.run_pass(BlockPass(     # small blocks: a cancel is seen within seconds
                    inputs=coarse, combine=add, block_rows=max(1, (64 if explainer.kernel else 4096) // cols), outputs=(OutputSpec("OUTPUT_SHAP", everything, band_names=names,
                                                                    bands=len(names)),),
                    compute=partial(explain.shap_block, explainer=explainer)), feedback, 62, 97)
            sums, count = done.partial
            mean_abs = sums / max(count, 1)
            order = [int(j) for j in sorted(range(len(names)), key=lambda j: (-mean_abs[j], j))][:k]
            _values, expected = explainer(np.zeros((1, len(names))))
            gdal.Translate(path, everything, format="GTiff", bandList=[j + 1 for j in order],
                           creationOptions=["COMPRESS=DEFLATE", "TILED=YES"])
            ds = gdal.Open(path, gdal.GA_Update)
            ds.SetMetadata({"SHAP_EXPECTED_VALUE": repr(float(expected[0])), "SHAP_STEP": str(step),
                            "SHAP_FIRST_PIXEL": f"{fx},{fy}", "SHAP_METHOD": explainer.method(),
                            "SHAP_UNITS": bundle.units or ""})
            for b, j in enumerate(order, start=1):
                band = ds.GetRasterBand(b)
                band.SetDescription(names[j])
                band.SetMetadata({"MEAN_ABS_SHAP": repr(float(mean_abs[j])), "RANK": str(b)})
            stats = done.stats["OUTPUT_SHAP"]
            ds = None
        finally:
            shutil.rmtree(work, ignore_errors=True)
        top = [names[j] for j in order]
        for rank, j in enumerate(order, start=1):
            feedback.pushInfo(f"SHAP rank {rank}: {names[j]}, mean |SHAP| {mean_abs[j]:.4g} over {count} cells")
        st = stats[order[0]] if order else None
        lim = max(abs(st.minimum), abs(st.maximum)) if st is not None and st.count else 1.0
        style_output(path, RasterStyle("ramp", "correlation", -lim, lim), context, f"SHAP {top[0] if top else ''}")
        return {"OUTPUT_SHAP": path, "SHAP_FEATURES": ",".join(top), "SHAP_STEP": step}


def sampled_refs(refs, grid, step, fx, fy, cols, rows, folder):
    """BandRefs of VRTs (in ``folder``) that sample every ``step``-th pixel of each raster from pixel (fx, fy): a
    grid of ``step``-times larger cells centred on the sampled pixels, read by nearest neighbour (exact: each
    cell centre is a pixel centre)."""
    from osgeo import gdal
    gt = grid.geotransform
    x0 = gt[0] + (fx + 0.5) * gt[1] - 0.5 * step * gt[1]
    y0 = gt[3] + (fy + 0.5) * gt[5] - 0.5 * step * gt[5]
    bounds = (x0, y0 + rows * step * gt[5], x0 + cols * step * gt[1], y0)
    made, out = {}, []
    for ref in refs:
        if ref.path not in made:
            vrt = os.path.join(folder, f"sample{len(made)}.vrt")
            gdal.Warp(vrt, ref.path, format="VRT", outputBounds=bounds, width=cols, height=rows,
                      resampleAlg=gdal.GRA_NearestNeighbour, dstSRS=grid.wkt or None, multithread=False)
            made[ref.path] = vrt
        out.append(BandRef(made[ref.path], ref.band, ref.label))
    return out


def _background(alg, coarse, cols, rows, feedback):
    """Feature rows of a regular sub-grid of the sample grid (about explain.BACKGROUND_CANDIDATES valid cells),
    through the executor: KernelExplainer's background (summarised by k-means); unused by tree models."""
    every = max(1, int(np.sqrt(cols * rows / explain.BACKGROUND_CANDIDATES)))
    done = alg.run_pass(BlockPass(inputs=coarse, combine=explain.stack_rows,
                                  compute=partial(explain.background_block, every=every)), feedback, 60, 62)
    rows_ = done.partial if done.partial is not None else np.zeros((0, len(coarse)))
    if not len(rows_):
        raise ValueError("RASTERS: no pixel of the SHAP sample grid has a value in every feature raster; lower "
                         "SHAP_STEP or check the rasters' nodata.")
    return rows_
