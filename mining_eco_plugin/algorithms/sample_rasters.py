"""Sample extraction: raster values at points (zhundong 2.2, coastal 2: index values at the soil samples)."""
from __future__ import annotations

import math

import numpy as np
from qgis.core import (
    QgsCoordinateTransform,
    QgsCsException,
    QgsFeature,
    QgsField,
    QgsFields,
    QgsPointXY,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterMultipleLayers,
    QgsWkbTypes,
)

from .. import compat
from ..raster.engine import Canceled
from ..raster.points import METHODS, open_raster, sample_points
from .base import MiningEcoAlgorithm, csv_safe_attributes
from .references import cite

MAX_LOGGED_IDS = 50   # per reason; OUTPUT_REJECTED lists them all


def band_fields(layer, ds):
    """Field names of one raster layer's bands: a single band is named by the layer name, the bands of a
    multi-band raster by their descriptions (``<layer>_b<k>`` where a band has none)."""
    if ds.RasterCount == 1:
        return [layer.name()]
    names = []
    for b in range(1, ds.RasterCount + 1):
        desc = ds.GetRasterBand(b).GetDescription().strip()
        names.append(desc or f"{layer.name()}_b{b}")
    return names


def unique_name(name, taken):
    candidate, k = name, 2
    while candidate.lower() in taken:
        candidate = f"{name}_{k}"
        k += 1
    taken.add(candidate.lower())
    return candidate


class SampleRastersAlgorithm(MiningEcoAlgorithm):
    ID = "samplerasters"
    NAME = "Sample rasters at points"
    GROUP = "salinity"
    SUMMARY = (
        "Extracts raster values at sample points (e.g. spectral indices at soil samples) into a point layer: the "
        "points' fields plus one field per raster band, named by its band description (multi-band rasters) or its "
        "layer name (single-band rasters). Nearest takes the pixel that holds the point; bilinear weights the four "
        "nearest pixel centres. Points in another CRS are transformed to each raster's CRS.\n"
        "Points outside a raster, on nodata or without geometry are dropped, counted, listed in the log and "
        "optionally written to a layer of rejected points with the reason: a value is never replaced by 0.")
    SOURCE = cite("he2026", "lan2025")
    SHORT_DESCRIPTION = (
        "Raster values (e.g. indices) at sample points, one field per band; rejected points reported")
    TAGS = ("sample", "extract", "point sampling", "raster values at points", "soil samples", "field samples",
            "salinity", "soil salt")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterFeatureSource("POINTS", "Sample points",
                                                     [compat.ProcessingSourceType.VectorPoint]),
                 "Point layer of the samples (any CRS); its fields are kept.")
        self.add(QgsProcessingParameterMultipleLayers("RASTERS", "Rasters", compat.ProcessingSourceType.Raster),
                 "One or more rasters: a multi-band index stack (fields named by band description) and/or "
                 "single-band rasters (fields named by layer name). They need not share a grid. qgis_process: repeat "
                 "the key (RASTERS=a.tif RASTERS=b.tif).")
        self.add(QgsProcessingParameterEnum("METHOD", "Sampling method", ["Nearest (pixel containing the point)",
                                                                          "Bilinear"], defaultValue=0),
                 "0 nearest: the value of the pixel that contains the point; 1 bilinear: the four pixel centres "
                 "around the point (a point whose weighted neighbours include nodata is rejected).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT", "Sampled points",
                                                          compat.ProcessingSourceType.VectorPoint),
                        "The points with a value in every band: input fields + one Double field per band.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_REJECTED", "Rejected points",
                                                          compat.ProcessingSourceType.VectorAnyGeometry, optional=True,
                                                          createByDefault=False),
                        "Optional: the dropped points with their input fields and a 'reason' field.")
        for output, text in ((QgsProcessingOutputNumber("SAMPLED_COUNT", "Number of sampled points"),
                              "Points written to OUTPUT."),
                             (QgsProcessingOutputNumber("REJECTED_COUNT", "Number of rejected points"),
                              "Points dropped (outside, nodata, no geometry, not transformable); ids in the log."),
                             (QgsProcessingOutputString("SAMPLED_FIELDS", "Sampled fields (comma-separated)"),
                              "The new band fields, e.g. NDVI,SI1,S2: the candidates of Variable screening.")):
            self.add_result(output, text)

    def run_tool(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "POINTS", context)
        if source is None:
            raise ValueError("POINTS: no point layer was given.")
        kind = QgsWkbTypes.displayString(source.wkbType()) or "no geometry"
        if "Point" not in kind:
            raise ValueError(f"POINTS: the layer holds {kind} geometries, not points. Give a point layer of the "
                             "samples (e.g. Vector > Geometry Tools > Centroids of polygons).")
        layers = self.parameterAsLayerList(parameters, "RASTERS", context)
        if not layers:
            raise ValueError("RASTERS: give at least one raster layer.")
        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]

        # 1. the points (ids, attributes, geometry, x / y in the layer CRS)
        feats, xs, ys, reasons = [], [], [], []
        total = source.featureCount() or 1
        for i, f in enumerate(source.getFeatures()):
            if feedback.isCanceled():
                raise Canceled()
            geom = f.geometry()
            x = y = math.nan
            reason = ""
            if geom is None or geom.isNull() or geom.isEmpty():
                reason = "no geometry"
            elif geom.isMultipart():
                parts = geom.asMultiPoint()
                if len(parts) == 1:
                    x, y = parts[0].x(), parts[0].y()
                else:
                    reason = f"multi-point with {len(parts)} parts"
            else:
                p = geom.asPoint()
                x, y = p.x(), p.y()
            feats.append(QgsFeature(f))
            xs.append(x)
            ys.append(y)
            reasons.append(reason)
            feedback.setProgress(10 * (i + 1) / total)
        if not feats:
            raise ValueError("POINTS: the layer has no feature to sample.")
        xs, ys = np.array(xs), np.array(ys)

        # 2. every raster: transform the points to its CRS, sample, note outside / nodata
        in_fields = source.fields()
        taken = {f.name().lower() for f in in_fields}
        new_fields, columns = [], []
        for k, layer in enumerate(layers):
            if layer.providerType() != "gdal":
                raise ValueError(f"RASTERS: {layer.name()} is not a file raster (provider {layer.providerType()}); "
                                 "save it as GeoTIFF first.")
            path = layer.source()
            ds = open_raster(path, "RASTERS")
            names = band_fields(layer, ds)
            ds = None
            lx, ly = xs, ys
            if source.sourceCrs().isValid() and layer.crs().isValid() and source.sourceCrs() != layer.crs():
                lx, ly = xs.copy(), ys.copy()
                tr = QgsCoordinateTransform(source.sourceCrs(), layer.crs(), context.transformContext())
                for i in range(lx.size):
                    if reasons[i]:
                        continue
                    try:
                        p = tr.transform(QgsPointXY(xs[i], ys[i]))
                        lx[i], ly[i] = p.x(), p.y()
                    except QgsCsException:
                        lx[i] = ly[i] = math.nan
                        reasons[i] = f"cannot transform to the CRS of {layer.name()}"
            start, span = 10 + 80 * k / len(layers), 80 / len(layers)
            result = sample_points(path, lx, ly, method, progress=lambda frac: feedback.setProgress(start + span * frac))
            if feedback.isCanceled():
                raise Canceled()
            for i in range(lx.size):
                if reasons[i]:
                    continue
                if result.outside[i]:
                    reasons[i] = f"outside {layer.name()}"
                else:
                    bad = np.flatnonzero(np.isnan(result.values[i]))
                    if bad.size:
                        reasons[i] = f"nodata in {layer.name()} ({names[bad[0]]})"
            for b, name in enumerate(names):
                field = unique_name(name, taken)
                if field != name:
                    feedback.pushWarning(f"Field {name} already exists: the band of {layer.name()} is written as {field}.")
                new_fields.append(field)
                columns.append(result.values[:, b])

        # 3. outputs: kept points, rejected points (with reason), log
        out_fields = QgsFields(in_fields)
        for name in new_fields:
            out_fields.append(QgsField(name, compat.FieldType.Double))
        keep = [i for i, r in enumerate(reasons) if not r]
        rejected = [i for i, r in enumerate(reasons) if r]
        if not keep:
            raise ValueError(f"POINTS: none of the {len(feats)} point(s) has a value in every raster of RASTERS "
                             f"(first reason: {reasons[0]}). Check that the points lie on the rasters.")
        sink, dest = self.parameterAsSink(parameters, "OUTPUT", context, out_fields, source.wkbType(),
                                          source.sourceCrs())
        if sink is None:
            raise ValueError("OUTPUT: give a file or a temporary layer for the sampled points.")
        values = np.column_stack(columns)
        kept = []
        for i in keep:
            out = QgsFeature(out_fields)
            out.setGeometry(feats[i].geometry())
            out.setAttributes(csv_safe_attributes(dest, list(feats[i].attributes()) + [float(v) for v in values[i]]))
            kept.append(out)
        try:
            self.add_features(sink, "OUTPUT", kept)
        finally:
            del sink
        results = {"OUTPUT": dest, "SAMPLED_COUNT": len(keep), "REJECTED_COUNT": len(rejected),
                   "SAMPLED_FIELDS": ",".join(new_fields), "OUTPUT_REJECTED": None}
        rej_fields = QgsFields(in_fields)
        reason_name = unique_name("reason", {f.name().lower() for f in in_fields})
        rej_fields.append(QgsField(reason_name, compat.FieldType.QString))
        rej_sink, rej_dest = self.parameterAsSink(parameters, "OUTPUT_REJECTED", context, rej_fields,
                                                  source.wkbType(), source.sourceCrs())
        if rej_sink is not None:
            dropped = []
            for i in rejected:
                out = QgsFeature(rej_fields)
                out.setGeometry(feats[i].geometry())
                out.setAttributes(csv_safe_attributes(rej_dest, list(feats[i].attributes()) + [reasons[i]]))
                dropped.append(out)
            try:
                self.add_features(rej_sink, "OUTPUT_REJECTED", dropped)
            finally:
                del rej_sink
            results["OUTPUT_REJECTED"] = rej_dest
        feedback.pushInfo(f"{len(keep)} of {len(feats)} point(s) sampled ({method}) in {len(new_fields)} band(s): "
                          f"{', '.join(new_fields)}.")
        if rejected:
            by_reason = {}
            for i in rejected:
                by_reason.setdefault(reasons[i], []).append(feats[i].id())
            feedback.pushWarning(f"{len(rejected)} point(s) rejected and dropped:")
            for reason, ids in by_reason.items():
                more = f" and {len(ids) - MAX_LOGGED_IDS} more" if len(ids) > MAX_LOGGED_IDS else ""
                feedback.pushWarning(f"  {reason}: {len(ids)} point(s), feature ids {ids[:MAX_LOGGED_IDS]}{more}")
        feedback.setProgress(100)
        return results
