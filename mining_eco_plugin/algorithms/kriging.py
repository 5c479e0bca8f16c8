"""Kriging of point samples onto a raster grid (miningeco:kriging): ordinary kriging or kriging with external drift
rasters, variogram fitted by weighted least squares or given, leave-one-out cross-validation (GSTools)."""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from functools import partial

import numpy as np
from osgeo import gdal
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsFeature,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingOutputNumber,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
)

from .. import compat
from ..core import kriging as core
from ..deps import gstools_missing_message
from ..raster import engine
from ..raster.composite import target_grid
from ..raster.engine import BandRef, Canceled
from ..raster.executor import BlockPass, OutputSpec
from ..raster.points import sample_points
from ..styles.qgis_styles import RasterStyle, style_output
from . import limits
from .base import MiningEcoAlgorithm, csv_safe_attributes, file_raster_path
from .samples import as_float
from .references import cite

MODEL_OPTIONS = ("Spherical", "Exponential", "Gaussian", "Matérn")
VARIOGRAM_OPTIONS = ("Fit automatically (weighted least squares)", "Use the nugget, sill and range given below")
DUPLICATE_OPTIONS = ("Merge (mean value at the location)", "Refuse")
CV_FIELDS = (("points", int), ("me", float), ("rmse", float), ("msdr", float), ("model", str), ("nugget", float),
             ("sill", float), ("range", float), ("nu", float))
#: at most this many pixels per block: the block's right-hand sides go to GSTools in chunks (core.CHUNK_VALUES)
BLOCK_ROWS = 64

#: samples^2 x pixels above which a run is refused (GSTools runs about 1e9 of them a second here: ~30 min)
KRIGE_COST_MAX = 2e12

SUMMARY = (
    "Interpolates a numeric field of sample points (e.g. soil SOC, pH) onto a reference raster's grid, or an extent "
    "and pixel size, by ordinary kriging or kriging with external drift rasters (e.g. DEM, NDVI).\n"
    "Variogram: Matheron's semivariance in equal lag bins; a spherical, exponential, gaussian or Matérn model fitted "
    "by weighted least squares within bounds (a bound reached is warned), or given. With drifts, of the "
    "least-squares residuals.\n"
    f"Global kriging (GSTools has no n-nearest neighbourhood) of {core.MIN_POINTS} to {core.MAX_POINTS} sample "
    f"locations: more are refused, as are runs above {KRIGE_COST_MAX:.0e} samples^2 x pixels; the grid is predicted "
    "in chunks (memory does not grow with it). Points in another CRS are transformed; points at one location are "
    "merged (mean) or refused.\n"
    "Outputs: prediction and kriging-variance rasters, an HTML report with the variogram plot, the leave-one-out "
    "cross-validation (ME, RMSE, MSDR) as a table and its residuals as points.\n"
    "Needs GSTools: Install Python dependencies with 'Also install GSTools'.")
SOURCE = cite("muller2022", "webster2007", "dubrule1983")


class KrigingAlgorithm(MiningEcoAlgorithm):
    ID = "kriging"
    NAME = "Kriging of point samples"
    GROUP = "drivers"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = ("Ordinary or external-drift kriging of sample points onto a raster grid, with variance and "
                         "cross-validation")
    TAGS = ("kriging", "interpolation", "geostatistics", "variogram", "semivariogram", "ordinary kriging",
            "universal kriging", "external drift", "soil samples", "gstools", "cross-validation")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("POINTS", "Sample points",
                                                     [compat.ProcessingSourceType.VectorPoint]),
                 "Point layer of the samples (any CRS: transformed to the reference raster's CRS).")
        self.add(QgsProcessingParameterField("FIELD", "Field to interpolate", parentLayerParameterName="POINTS",
                                             type=compat.ProcessingFieldParameterDataType.Numeric),
                 "Numeric field; points where it is empty are left out (counted in the log).")
        self.add(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (output grid)", optional=True),
                 "Its grid (extent, pixel size, CRS) is the outputs' grid; its nodata pixels (band 1) stay nodata. "
                 "Must be in a projected CRS (distances in metres or feet). Or give EXTENT and PIXEL_SIZE instead.")
        self.add(QgsProcessingParameterExtent("EXTENT", "Extent of the output grid (instead of a reference)",
                                              optional=True),
                 "Instead of REFERENCE: the area to krige, in any CRS (transformed to TARGET_CRS); the grid's pixel "
                 "edges sit on multiples of PIXEL_SIZE and cover it.")
        self.add(QgsProcessingParameterNumber("PIXEL_SIZE", "Pixel size of the output grid (with EXTENT)",
                                              compat.ProcessingNumberParameterType.Double, optional=True,
                                              minValue=0.0, maxValue=limits.PIXEL_SIZE_MAX),
                 "With EXTENT: the pixel size in units of the grid's CRS (e.g. 30 m).")
        self.add(QgsProcessingParameterCrs("TARGET_CRS", "CRS of the output grid (with EXTENT; empty: the extent's)",
                                           optional=True),
                 "With EXTENT: a projected CRS for the grid (e.g. the UTM zone); empty: the extent's own CRS, which "
                 "must then be projected.")
        self.add(QgsProcessingParameterMultipleLayers("DRIFTS", "External drift rasters (universal kriging)",
                                                      compat.ProcessingSourceType.Raster, optional=True),
                 "Optional: one or more rasters (band 1) whose values give the mean's trend (kriging with external "
                 "drift). Sampled bilinearly at the points and warped bilinearly onto the grid; empty: ordinary "
                 "kriging.")
        self.add(QgsProcessingParameterEnum("MODEL", "Variogram model", list(MODEL_OPTIONS), defaultValue=0),
                 "0 spherical, 1 exponential, 2 gaussian, 3 Matérn (GSTools' definitions, in the manual).")
        self.add(QgsProcessingParameterNumber("NU", "Matérn smoothness nu", compat.ProcessingNumberParameterType.Double,
                                              defaultValue=1.0, minValue=0.2, maxValue=30.0),
                 "Matérn model only; held fixed in the fit (0.5: exponential; large: gaussian).")
        self.add(QgsProcessingParameterEnum("VARIOGRAM", "Variogram parameters", list(VARIOGRAM_OPTIONS),
                                            defaultValue=0),
                 "0: nugget, partial sill and range fitted to the empirical variogram; 1: NUGGET, SILL and RANGE.")
        self.add(QgsProcessingParameterNumber("NUGGET", "Nugget (given variogram)",
                                              compat.ProcessingNumberParameterType.Double, defaultValue=0.0,
                                              minValue=0.0, maxValue=limits.TABLE_ABS_MAX),
                 "Semivariance at lag 0+ (units of FIELD squared); VARIOGRAM = 1 only.")
        self.add(QgsProcessingParameterNumber("SILL", "Sill (given variogram)",
                                              compat.ProcessingNumberParameterType.Double, optional=True,
                                              minValue=0.0, maxValue=limits.TABLE_ABS_MAX),
                 "Total sill = nugget + partial sill; VARIOGRAM = 1 only.")
        self.add(QgsProcessingParameterNumber("RANGE", "Range (length scale, given variogram)",
                                              compat.ProcessingNumberParameterType.Double, optional=True,
                                              minValue=0.0, maxValue=limits.TABLE_ABS_MAX),
                 "Length scale of the model in the grid CRS's units (the spherical model's range); VARIOGRAM = 1 "
                 "only.")
        self.add(QgsProcessingParameterNumber("N_BINS", "Lag bins", compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=15, minValue=3, maxValue=limits.REPEATS_MAX),
                 "Equal bins from 0 to MAX_LAG (gstat's default: 15).", advanced=True)
        self.add(QgsProcessingParameterNumber("MAX_LAG", "Largest lag (0: one third of the samples' diagonal)",
                                              compat.ProcessingNumberParameterType.Double, defaultValue=0.0,
                                              minValue=0.0, maxValue=limits.TABLE_ABS_MAX),
                 "Cut-off of the empirical variogram in map units; 0: a third of the diagonal of the samples' "
                 "bounding box (gstat's default).", advanced=True)
        self.add(QgsProcessingParameterEnum("DUPLICATES", "Points at one location", list(DUPLICATE_OPTIONS),
                                            defaultValue=0),
                 "0: merged into one point with the mean value (counted in the log); 1: the run stops and names "
                 "them.", advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "Kriged prediction"),
                        "Float32 on the output grid, its band named FIELD (how rfcontribution and applymodel find "
                        "it); nodata -9999 where the reference or a drift is nodata.")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_VARIANCE", "Kriging variance", optional=True,
                                                                createByDefault=True),
                        "Float32 kriging (estimation) variance, units of FIELD squared.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report (HTML)", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "Variogram plot and table, model parameters, cross-validation.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_CV", "Cross-validation statistics",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Table of one row: points, ME, RMSE, MSDR and the variogram used.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_RESIDUALS", "Cross-validation residuals",
                                                          compat.ProcessingSourceType.VectorPoint, optional=True,
                                                          createByDefault=True),
                        "The sample locations (grid CRS) with observed, predicted, residual, variance and "
                        "standardised residual.")
        for output, text in ((QgsProcessingOutputNumber("ME", "Mean error (LOO)"), "Mean of observed - predicted."),
                             (QgsProcessingOutputNumber("RMSE", "Root mean square error (LOO)"), "Same units as FIELD."),
                             (QgsProcessingOutputNumber("MSDR", "Mean squared deviation ratio (LOO)"),
                              "Mean of residual^2 / kriging variance; close to 1 when the variogram fits."),
                             (QgsProcessingOutputNumber("NUGGET_USED", "Nugget used"), "Fitted or given."),
                             (QgsProcessingOutputNumber("SILL_USED", "Sill used"), "Nugget + partial sill."),
                             (QgsProcessingOutputNumber("RANGE_USED", "Range used"), "Length scale of the model."),
                             (QgsProcessingOutputNumber("POINTS_USED", "Sample locations used"),
                              "After merging and leaving out empty values.")):
            self.add_result(output, text)

    # ------------------------------------------------------------------------------------------------ inputs
    def _points(self, parameters, context, feedback, grid_crs, field):
        source = self.parameterAsSource(parameters, "POINTS", context)
        if source is None:
            raise ValueError("POINTS: no point layer was given.")
        idx = source.fields().lookupField(field)
        if idx < 0:
            raise ValueError(f"FIELD: the layer has no field '{field}'.")
        tr = None
        if source.sourceCrs().isValid() and grid_crs.isValid() and source.sourceCrs() != grid_crs:
            tr = QgsCoordinateTransform(source.sourceCrs(), grid_crs, context.transformContext())
            feedback.pushInfo(f"Points transformed from {source.sourceCrs().authid()} to {grid_crs.authid()}.")
        xs, ys, zs, ids = [], [], [], []
        empty = bad = 0
        for f in source.getFeatures():
            if feedback.isCanceled():
                raise Canceled()
            v = as_float(f.attribute(idx))         # NULL and text: NaN
            geom = f.geometry()
            if geom is None or geom.isNull() or geom.isEmpty():
                bad += 1
                continue
            if not math.isfinite(v):
                empty += 1
                continue
            p = geom.asPoint() if not geom.isMultipart() else (geom.asMultiPoint() or [None])[0]
            if p is None:
                bad += 1
                continue
            if tr is not None:
                try:
                    p = tr.transform(QgsPointXY(p))
                except QgsCsException:
                    bad += 1
                    continue
            xs.append(p.x())
            ys.append(p.y())
            zs.append(v)
            ids.append(f.id())
        if empty:
            feedback.pushWarning(f"{empty} point(s) without a numeric value of {field} were left out.")
        if bad:
            feedback.pushWarning(f"{bad} point(s) without geometry (or not transformable) were left out.")
        return np.array(xs), np.array(ys), np.array(zs), np.array(ids, dtype=np.int64)

    def _drifts_at_points(self, layers, x, y, grid_crs, context):
        """Drift values (k x n) at the points, sampled bilinearly in each raster's own CRS."""
        rows = []
        for layer in layers:
            path = file_raster_path(layer, "DRIFTS")
            lx, ly = x, y
            if layer.crs().isValid() and grid_crs.isValid() and layer.crs() != grid_crs:
                tr = QgsCoordinateTransform(grid_crs, layer.crs(), context.transformContext())
                lx, ly = np.empty_like(x), np.empty_like(y)
                for i in range(x.size):
                    try:
                        p = tr.transform(QgsPointXY(x[i], y[i]))
                        lx[i], ly[i] = p.x(), p.y()
                    except QgsCsException:
                        lx[i] = ly[i] = math.nan
            rows.append(sample_points(path, lx, ly, "bilinear", bands=[1], label="DRIFTS").values[:, 0])
        return np.array(rows)

    def _output_grid(self, parameters, context, feedback, scratch):
        """(grid, path of a raster on it, its CRS, label): the REFERENCE raster's grid, or the grid of EXTENT and
        PIXEL_SIZE in TARGET_CRS (a raster without data, a VRT in a scratch folder beside the outputs, for the
        block executor; every pixel is kriged). Exactly one of the two must be given."""
        ref_layer = self.parameterAsRasterLayer(parameters, "REFERENCE", context)
        extent = parameters.get("EXTENT") not in (None, "")
        size = parameters.get("PIXEL_SIZE")
        size = None if size in (None, "") else self.parameterAsDouble(parameters, "PIXEL_SIZE", context)
        target = parameters.get("TARGET_CRS") not in (None, "")
        if ref_layer is not None and (extent or size is not None or target):
            raise ValueError("REFERENCE / EXTENT: give the output grid once: either a REFERENCE raster, or EXTENT "
                             "with PIXEL_SIZE (and TARGET_CRS). Clear EXTENT, PIXEL_SIZE and TARGET_CRS to use the "
                             "reference raster's grid.")
        if ref_layer is not None:
            ref_path = file_raster_path(ref_layer, "REFERENCE")
            grid, _bands, _names = engine.raster_info(ref_path, "REFERENCE")
            if grid.is_geographic:
                raise ValueError("REFERENCE: the raster is in a geographic CRS (degrees); kriging needs distances. "
                                 "Warp it to a projected CRS (e.g. its UTM zone) first.")
            return grid, ref_path, ref_layer.crs(), "REFERENCE"
        if not extent:
            if parameters.get("REFERENCE") not in (None, ""):
                raise ValueError("REFERENCE: no raster was given.")
            raise ValueError("REFERENCE / EXTENT: no output grid: give a REFERENCE raster, or an EXTENT with a "
                             "PIXEL_SIZE.")
        if size is None or not size > 0:
            raise ValueError("PIXEL_SIZE: give the pixel size of the grid (in units of its CRS, e.g. 30 for 30 m) "
                             "with EXTENT.")
        ext_crs = self.parameterAsExtentCrs(parameters, "EXTENT", context)
        crs = self.parameterAsCrs(parameters, "TARGET_CRS", context) if target else ext_crs
        if not crs.isValid():
            raise ValueError("EXTENT: it has no CRS, so the grid has none. Give the extent with its CRS (e.g. "
                             "'xmin,xmax,ymin,ymax [EPSG:32649]') or a TARGET_CRS.")
        if crs.isGeographic():
            raise ValueError(f"TARGET_CRS: the grid's CRS ({crs.authid() or crs.description()}) is geographic "
                             "(degrees); kriging needs distances. Give a projected TARGET_CRS, e.g. the UTM zone of "
                             "the samples (EXTENT may stay in degrees).")
        rect = self.parameterAsExtent(parameters, "EXTENT", context, crs if ext_crs.isValid() else
                                      QgsCoordinateReferenceSystem())
        bounds = (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum())
        if not all(math.isfinite(b) for b in bounds) or not (bounds[2] > bounds[0] and bounds[3] > bounds[1]):
            raise ValueError("EXTENT: the extent is empty (or cannot be transformed to TARGET_CRS). Give an area "
                             "with xmin < xmax and ymin < ymax.")
        cols = math.ceil((bounds[2] - bounds[0]) / size) + 1
        rows = math.ceil((bounds[3] - bounds[1]) / size) + 1
        if float(cols) * rows > limits.KRIGE_PIXELS_MAX:
            raise ValueError(f"EXTENT / PIXEL_SIZE: the grid would have about {cols} x {rows} pixels, more than the "
                             f"{limits.KRIGE_PIXELS_MAX:.0e} this tool writes. Give a larger PIXEL_SIZE or a smaller "
                             "EXTENT.")
        grid = target_grid(bounds, crs.toWkt(), size)
        feedback.pushInfo(f"Output grid: {grid.width} x {grid.height} pixels of {size:g} in {crs.authid()}, x "
                          f"{grid.geotransform[0]:.10g} .. {grid.geotransform[0] + size * grid.width:.10g}, y "
                          f"{grid.geotransform[3] - size * grid.height:.10g} .. {grid.geotransform[3]:.10g}.")
        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        folder = os.path.dirname(os.path.dirname(os.path.abspath(out)))
        try:
            scratch.append(tempfile.mkdtemp(prefix=".mining-eco-kriging-", dir=folder))
        except OSError as err:
            raise ValueError(f"OUTPUT: cannot create a temporary folder in {folder} ({err.strerror}). Choose a "
                             "writable folder.") from None
        return grid, grid_vrt(grid, os.path.join(scratch[-1], "grid.vrt")), crs, "EXTENT"

    def check_extent_and_cost(self, samples, grid, parameters, context, feedback, where="REFERENCE"):
        """Before any kriging: the samples must lie in (or near) the reference raster, so that a layer whose CRS is
        wrong or missing (degrees read as metres) does not give a constant raster; and global kriging costs about
        n^2 operations per pixel, so a run over KRIGE_COST_MAX is refused with the numbers."""
        source = self.parameterAsSource(parameters, "POINTS", context)
        if source is not None and not source.sourceCrs().isValid():
            feedback.pushWarning(f"POINTS: the layer has no CRS; its coordinates are taken as the {where}'s.")
        gt = grid.geotransform
        x0, x1 = sorted((gt[0], gt[0] + gt[1] * grid.width))
        y0, y1 = sorted((gt[3], gt[3] + gt[5] * grid.height))
        inside = (samples.x >= x0) & (samples.x <= x1) & (samples.y >= y0) & (samples.y <= y1)
        if not inside.any():
            raise ValueError(f"POINTS: none of the {samples.z.size} sample locations lies inside the {where} grid "
                             f"(x {x0:.6g} .. {x1:.6g}, y {y0:.6g} .. {y1:.6g}; the samples span x "
                             f"{samples.x.min():.6g} .. {samples.x.max():.6g}, y {samples.y.min():.6g} .. "
                             f"{samples.y.max():.6g}). Check the points layer's CRS, or give the grid of their area.")
        if not inside.all():
            feedback.pushInfo(f"{int((~inside).sum())} sample location(s) lie outside the {where} grid; they "
                              "are used in the kriging.")
        cost = float(samples.z.size) ** 2 * grid.width * grid.height
        if cost > KRIGE_COST_MAX:
            raise ValueError(f"POINTS / {where}: kriging {samples.z.size} samples onto {grid.width} x {grid.height} "
                             f"pixels is about {cost:.2g} operations (global kriging: samples^2 per pixel), more than "
                             f"the {KRIGE_COST_MAX:.0g} this tool runs (hours). Thin the samples, or give a coarser or "
                             f"smaller {where} grid.")

    # ------------------------------------------------------------------------------------------------ run
    def run_tool(self, parameters, context, feedback):
        missing = gstools_missing_message()
        if missing:
            raise ValueError(missing)
        scratch = []
        try:
            return self._krige(parameters, context, feedback, scratch)
        finally:
            for folder in scratch:
                shutil.rmtree(folder, ignore_errors=True)

    def _krige(self, parameters, context, feedback, scratch):
        field = self.parameterAsString(parameters, "FIELD", context)
        grid, ref_path, grid_crs, where = self._output_grid(parameters, context, feedback, scratch)
        drift_layers = self.parameterAsLayerList(parameters, "DRIFTS", context) or []
        drift_names = [layer.name() for layer in drift_layers]
        kind = core.MODELS[self.parameterAsEnum(parameters, "MODEL", context)]
        nu = self.parameterAsDouble(parameters, "NU", context)
        given = self.parameterAsEnum(parameters, "VARIOGRAM", context) == 1
        merge = self.parameterAsEnum(parameters, "DUPLICATES", context) == 0

        x, y, z, ids = self._points(parameters, context, feedback, grid_crs, field)
        drifts = None
        if drift_layers:
            drifts = self._drifts_at_points(drift_layers, x, y, grid_crs, context)
            ok = np.isfinite(drifts).all(axis=0)
            if (~ok).any():
                feedback.pushWarning(f"{int((~ok).sum())} point(s) outside a drift raster or on its nodata were "
                                     f"left out (feature ids {ids[~ok][:20].tolist()}).")
                x, y, z, ids, drifts = x[ok], y[ok], z[ok], ids[ok], drifts[:, ok]
        tolerance = 1e-6 * min(grid.pixel_size)
        samples = core.merge_duplicates(x, y, z, drifts, tolerance)
        if samples.merged_groups:
            what = (f"{samples.merged_points} points share {samples.merged_groups} location(s) (closer than "
                    f"{tolerance:g} map units)")
            if not merge:
                keys = np.round(np.column_stack([x, y]) / tolerance)
                _u, inv, cnt = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
                dup = ids[cnt[inv.ravel()] > 1][:20].tolist()
                raise ValueError(f"POINTS: {what}, e.g. feature ids {dup}. Remove or average them, or set DUPLICATES "
                                 "to 0 (merge: the mean value).")
            feedback.pushWarning(f"{what}: each location is one point with the mean value.")
        core.check_samples(samples, field, drift_names)
        n = samples.z.size
        self.check_extent_and_cost(samples, grid, parameters, context, feedback, where)

        # variogram
        residuals = core.ols_residuals(samples.z, samples.drifts)
        max_lag = self.parameterAsDouble(parameters, "MAX_LAG", context) or core.default_max_lag(samples.x, samples.y)
        emp = core.empirical_variogram(samples.x, samples.y, residuals,
                                       self.parameterAsInt(parameters, "N_BINS", context), max_lag)
        if given:
            sill = parameters.get("SILL")
            rng = parameters.get("RANGE")
            if sill is None or rng is None or sill == "" or rng == "":
                raise ValueError("SILL / RANGE: VARIOGRAM = 1 (given) needs the sill and the range; give both, or "
                                 "set VARIOGRAM to 0 to fit them.")
            nugget = self.parameterAsDouble(parameters, "NUGGET", context)
            sill = self.parameterAsDouble(parameters, "SILL", context)
            rng = self.parameterAsDouble(parameters, "RANGE", context)
            if not sill > nugget:
                raise ValueError(f"SILL: the sill ({sill:g}) must be larger than the nugget ({nugget:g}): the sill is "
                                 "nugget + partial sill.")
            if not rng > 0:
                raise ValueError("RANGE: the range must be larger than 0.")
            model = core.make_model(kind, nugget, sill, rng, nu)
        else:
            model = core.fit_model(emp, kind, nu)
            if not model.var > 0.01 * (model.var + model.nugget):
                feedback.pushWarning("The fitted partial sill is (nearly) 0, a pure nugget: the samples show no "
                                     "spatial correlation, so the prediction is about the mean everywhere.")
            self._warn_bounds(feedback, model, core.fit_bounds(emp))
        params = core.model_parameters(model)
        feedback.pushInfo(f"{n} sample locations; {kind} model{' (given)' if given else ' (fitted)'}: nugget "
                          f"{params['nugget']:.6g}, sill {params['sill']:.6g}, range {params['range']:.6g}"
                          + (f", nu {nu:g}" if kind == "matern" else "") +
                          f"; {'external drift: ' + ', '.join(drift_names) if drift_names else 'ordinary kriging'}.")
        mat = core.check_system(model, samples, drift_names)
        loo = core.leave_one_out(model, samples, mat)
        feedback.pushInfo(f"Leave-one-out: ME {loo.me:.6g}, RMSE {loo.rmse:.6g}, MSDR {loo.msdr:.4g}.")
        feedback.setProgress(5)

        # the grid, block by block
        krig = core.kriger(model, samples)
        refs = {"ref": BandRef(ref_path, 1, where)}
        keys = []
        for k, layer in enumerate(drift_layers):
            keys.append(f"drift{k}")
            refs[keys[-1]] = BandRef(file_raster_path(layer, "DRIFTS"), 1, f"DRIFTS ({layer.name()})")
        out_pred = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        out_var = self.parameterAsOutputLayer(parameters, "OUTPUT_VARIANCE", context)
        # the band is named by the field, so that rfcontribution and applymodel find the kriged raster by name
        outputs = [OutputSpec("prediction", out_pred, band_names=(field,))]
        if out_var:
            outputs.append(OutputSpec("variance", out_var, band_names=(f"{field} kriging variance",)))
        done = self.run_pass(BlockPass(
            inputs=refs, outputs=tuple(outputs), resampling="bilinear" if keys else None, reference="ref",
            compute=partial(core.krige_block, krig=krig, drift_keys=tuple(keys), mask_key="ref"),
            block_rows=BLOCK_ROWS), feedback, 5, 95)
        results = {"OUTPUT": done.paths["prediction"]}
        st = done.stats["prediction"][0]
        if not st.count:
            raise ValueError("REFERENCE / DRIFTS: every pixel of the grid is nodata in the reference raster or a "
                             "drift raster, so nothing was kriged.")
        style_output(results["OUTPUT"], RasterStyle("ramp", "neutral", float(st.minimum), float(st.maximum)),
                     context, f"{field} (kriged)")
        if out_var:
            results["OUTPUT_VARIANCE"] = done.paths["variance"]
            sv = done.stats["variance"][0]
            style_output(results["OUTPUT_VARIANCE"], RasterStyle("ramp", "salinity", 0.0,
                                                                  float(max(sv.maximum, 1e-12))),
                         context, f"{field} kriging variance")

        # tables and report
        cv_row = (n, loo.me, loo.rmse, loo.msdr, kind, params["nugget"], params["sill"], params["range"],
                  nu if kind == "matern" else None)
        results["OUTPUT_CV"] = self.write_table(parameters, "OUTPUT_CV", context, CV_FIELDS, [cv_row])
        results["OUTPUT_RESIDUALS"] = self._residuals(parameters, context, samples, loo, grid_crs)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        if report:
            self._report(report, field, kind, given, nu, model, emp, samples, loo, drift_names, results)
            results["OUTPUT_REPORT"] = report
        results.update({"ME": loo.me, "RMSE": loo.rmse, "MSDR": loo.msdr, "NUGGET_USED": params["nugget"],
                        "SILL_USED": params["sill"], "RANGE_USED": params["range"], "POINTS_USED": n})
        feedback.setProgress(100)
        return results

    @staticmethod
    def _warn_bounds(feedback, model, bounds):
        """A fitted parameter at its upper bound (core.fit_bounds): name it, its bound, and what to do."""
        what = {"len_scale": ("range", f"{core.RANGE_LAGS:g} x the largest lag"),
                "var": ("partial sill", f"{core.SILL_GAMMAS:g} x the largest bin's semivariance"),
                "nugget": ("nugget", "the largest bin's semivariance")}
        hit = core.bounds_hit(model, bounds)
        if hit:
            text = "; ".join(f"{what[k][0]} {float(getattr(model, k)):.6g} (bound: {what[k][1]}, "
                             f"{bounds[k][1]:.6g})" for k in hit)
            feedback.pushWarning(f"The variogram fit stopped at its bound: {text}. The semivariance keeps rising over "
                                 "the lags, as with a trend, so the bins do not fix sill and range. Give drift rasters "
                                 "(DRIFTS) that explain the trend, a larger MAX_LAG, or a variogram (VARIOGRAM = 1).")

    def _residuals(self, parameters, context, s, loo, crs):
        fields = QgsFields()
        for name in ("observed", "predicted", "residual", "variance", "std_residual"):
            fields.append(QgsField(name, compat.FieldType.Double))
        sink, dest = self.parameterAsSink(parameters, "OUTPUT_RESIDUALS", context, fields, compat.WkbType.Point, crs)
        if sink is None:
            return None
        feats = []
        for i in range(s.z.size):
            f = QgsFeature(fields)
            f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(s.x[i]), float(s.y[i]))))
            sd = loo.residual[i] / math.sqrt(loo.variance[i]) if loo.variance[i] > 0 else None
            f.setAttributes(csv_safe_attributes(dest, [float(s.z[i]), float(loo.predicted[i]),
                                                       float(loo.residual[i]), float(loo.variance[i]),
                                                       None if sd is None else float(sd)]))
            feats.append(f)
        try:
            self.add_features(sink, "OUTPUT_RESIDUALS", feats)
        finally:
            del sink
        return dest

    def _report(self, path, field, kind, given, nu, model, emp, s, loo, drift_names, results):
        from ..reports.html import write_html_report
        from ..reports.variogram_plot import variogram_png
        params = core.model_parameters(model)
        lags = np.linspace(0.0, max(emp.max_lag, float(emp.centers.max(initial=0.0))), 200)
        gamma = model.variogram(lags)
        gamma[0] = 0.0
        label = f"{MODEL_OPTIONS[core.MODELS.index(kind)]} ({'given' if given else 'WLS fit'})"
        settings = {"Field": field, "Sample locations": s.z.size,
                    "Merged locations": f"{s.merged_groups} ({s.merged_points} points)" if s.merged_groups else "none",
                    "Kriging": ("external drift: " + ", ".join(drift_names)) if drift_names else "ordinary",
                    "Model": f"{kind}: gamma(r) = nugget + (sill - nugget) (1 - rho(r / range)), rho(h) = "
                             f"{core.FORMULAS[kind]}" + (f", nu = {nu:g}" if kind == "matern" else ""),
                    "Nugget": params["nugget"], "Sill": params["sill"], "Range (length scale)": params["range"],
                    "Practical range (95 % of the partial sill)": core.practical_range(model),
                    "Variogram": "given" if given else "fitted by weighted least squares, weights = pairs per bin",
                    "Largest lag": emp.max_lag, "GSTools": core.library_version()}
        if not given:
            b = core.fit_bounds(emp)
            settings["Fit bounds (upper)"] = (f"nugget {b['nugget'][1]:.6g}, partial sill {b['var'][1]:.6g}, range "
                                              f"{b['len_scale'][1]:.6g}; reached: "
                                              f"{', '.join(core.bounds_hit(model, b)) or 'none'}")
        cv = {"ME": loo.me, "RMSE": loo.rmse, "MSDR": loo.msdr,
              "Outputs": ", ".join(self.destination(p) for k, p in results.items()
                                   if k in ("OUTPUT", "OUTPUT_VARIANCE") and p)}
        bins = [{"lag (centre)": float(c), "semivariance": float(g), "pairs": int(n)}
                for c, g, n in zip(emp.centers, emp.gamma, emp.counts)]
        with tempfile.TemporaryDirectory() as tmp:
            png = os.path.join(tmp, "variogram.png")
            variogram_png(png, emp.centers, emp.gamma, emp.counts, lags, gamma,
                          f"Variogram of {field}" + (" residuals" if drift_names else ""), label,
                          params["nugget"], params["sill"])
            write_html_report(path, f"Kriging of {field}", [
                ("Settings", settings), ("Variogram", png), ("Empirical variogram (Matheron)", bins),
                ("Leave-one-out cross-validation (Dubrule 1983)", cv),
                ("Formulas", "ME = mean(z - z*), RMSE = sqrt(mean((z - z*)^2)), MSDR = mean((z - z*)^2 / s^2), "
                             "where z* and s^2 are the prediction and kriging variance of each sample from all the "
                             "others.")])


def grid_vrt(grid, path):
    """A raster of ``grid`` without data (a VRT band without sources: zeros, no nodata), written to ``path``: the
    grid the block executor walks when the outputs' grid is an extent and a pixel size."""
    ds = gdal.GetDriverByName("VRT").Create(path, grid.width, grid.height, 1, gdal.GDT_Byte)
    if ds is None:
        raise ValueError(f"OUTPUT: cannot write {path} ({gdal.GetLastErrorMsg()}).")
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.wkt)
    ds = None
    return path
