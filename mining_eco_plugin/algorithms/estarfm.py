"""ESTARFM spatiotemporal fusion of fine (Landsat) and coarse (MODIS) images (miningeco:estarfm)."""
from __future__ import annotations

import os
from functools import partial

import numpy as np
from qgis.core import (
    QgsProcessingContext,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsRasterLayer,
)

from .. import compat
from ..core import estarfm as core
from ..raster import engine
from ..raster.engine import BandRef, raster_info
from ..raster.executor import BlockPass, OutputSpec, add
from ..raster.outputs import final_path
from ..styles.qgis_styles import RasterStyle, qml_path, style_output
from . import limits
from .base import MiningEcoAlgorithm
from .references import cite

PAIRS = (("FINE_TM", "Fine image at tm (e.g. Landsat)"), ("COARSE_TM", "Coarse image at tm (e.g. MODIS)"),
         ("FINE_TN", "Fine image at tn"), ("COARSE_TN", "Coarse image at tn"))
RESAMPLING = (("nearest", "Nearest neighbour (the coarse pixels kept as blocks, as the authors' data)"),
              ("bilinear", "Bilinear"), ("cubic", "Cubic"))
MASKS = (("FINE_TM_MASK", "FINE_TM", "F1_"), ("FINE_TN_MASK", "FINE_TN", "F2_"))
MASK_TYPES = (("MASK", "Mask: 0 clear, any other value masked (e.g. a cloud mask)"),
              ("QA_PIXEL", "Landsat Collection 2 QA_PIXEL"), ("BQA", "Landsat Collection 1 BQA"),
              ("SCL", "Sentinel-2 scene classification (SCL)"))
TABLE_FIELDS = (("date", str), ("band", int), ("nearest_fine", str), ("nearest_date", str), ("days", int),
                ("pixels", int), ("mean_abs_change", float))

SUMMARY = (
    "ESTARFM (Zhu et al. 2010): predicts the fine image (e.g. Landsat) at one or more dates tp from two fine / coarse "
    "pairs at tm and tn and the coarse image (e.g. MODIS) at tp. For every fine pixel, the similar pixels of a moving "
    "window, their spectral and spatial weights, the fine-to-coarse conversion coefficient of the two pairs and the "
    "temporal weights of the coarse change give the prediction.\n"
    "Inputs: the fine and coarse images at tm and tn, the coarse image(s) at tp (resampled onto the fine grid), the "
    "bands, the half window (25: a 51-pixel window), the number of classes and the valid data range; optional "
    "masks (or QA bands) of the fine images: masked pixels are nodata.\n"
    "Outputs: one fused GeoTIFF per date tp in the output folder (estarfm_YYYY-MM-DD.tif, styled like the fine "
    "input) and a table of the mean absolute change of each date against the nearest fine image.")


def _not_covering(grid, other):
    """Why raster grid ``other`` cannot mask ``grid`` (another CRS, or not covering its extent), or None."""
    from osgeo import osr
    if bool(grid.wkt) != bool(other.wkt):
        return "has no CRS" if grid.wkt else "has a CRS but FINE_TM has none"
    if grid.wkt:
        a, b = osr.SpatialReference(), osr.SpatialReference()
        a.ImportFromWkt(grid.wkt)
        b.ImportFromWkt(other.wkt)
        if not a.IsSame(b):
            return "is in another CRS than FINE_TM"

    def bounds(g):
        gt = g.geotransform
        xs = (gt[0], gt[0] + gt[1] * g.width)
        ys = (gt[3], gt[3] + gt[5] * g.height)
        return min(xs), min(ys), max(xs), max(ys)
    (fx0, fy0, fx1, fy1), (mx0, my0, mx1, my1) = bounds(grid), bounds(other)
    tx, ty = [abs(p) / 2 for p in grid.pixel_size]
    if mx0 > fx0 + tx or my0 > fy0 + ty or mx1 < fx1 - tx or my1 < fy1 - ty:
        return (f"covers {mx0:.3f} .. {mx1:.3f} x {my0:.3f} .. {my1:.3f}, not all of FINE_TM ({fx0:.3f} .. "
                f"{fx1:.3f} x {fy0:.3f} .. {fy1:.3f})")
    return None


def _masked(compute, masks, kind):
    """``compute`` with the masks applied to the fine images first (core.masked_block), or as is without masks."""
    if not masks:
        return compute
    return partial(core.masked_block, compute=compute, kind=kind,
                   masks={pid: prefix for pid, _fine, prefix in MASKS if pid in masks})


class EstarfmAlgorithm(MiningEcoAlgorithm):
    ID = "estarfm"
    NAME = "Spatiotemporal fusion (ESTARFM)"
    GROUP = "indices"
    SUMMARY = SUMMARY
    SOURCE = cite("zhu2010")
    SHORT_DESCRIPTION = "ESTARFM fusion of fine (Landsat) and coarse (MODIS) images into fine images at new dates"
    TAGS = ("estarfm", "starfm", "fusion", "spatiotemporal fusion", "data fusion", "modis", "downscaling", "ndvi",
            "gap filling", "monthly ndvi")

    def initAlgorithm(self, config=None):  # noqa: N802
        for pid, label in PAIRS:
            self.add(QgsProcessingParameterRasterLayer(pid, label),
                     "One or more bands (reflectance, or an index such as NDVI); nodata pixels are left out. "
                     + ("The fine images define the output grid; FINE_TN must be on the grid of FINE_TM."
                        if pid.startswith("FINE") else "Resampled onto the fine grid by RESAMPLING."))
        self.add(QgsProcessingParameterMultipleLayers("COARSE_TP", "Coarse image(s) at the prediction date(s)",
                                                      compat.ProcessingSourceType.Raster),
                 "One coarse image per date to predict, with the same bands as the others. With qgis_process, "
                 "repeat the key: COARSE_TP=a.tif COARSE_TP=b.tif ...")
        for pid, fine, _prefix in MASKS:
            self.add(QgsProcessingParameterRasterLayer(pid, f"Mask or QA band of {fine}", optional=True),
                     f"Clouds, shadows or gaps of {fine} in band 1 (read by nearest neighbour, in the CRS of "
                     "FINE_TM and covering it): a masked pixel is nodata, never a similar pixel and not predicted.")
        self.add(QgsProcessingParameterEnum("MASK_TYPE", "Mask type", [t for _, t in MASK_TYPES], defaultValue=0),
                 "What the masks hold: a mask (nonzero or nodata = masked), or a QA band whose cloud, shadow and fill "
                 "bits are masked as in the scene tools.")
        self.add(QgsProcessingParameterBand("BANDS", "Bands", None, "FINE_TM", optional=True, allowMultiple=True),
                 "The band numbers fused (the same numbers in every image); empty: all bands of FINE_TM.")
        self.add(QgsProcessingParameterString("DATES", "Dates tm, tn, tp ... (YYYY-MM-DD)", optional=True,
                                              defaultValue=""),
                 "The dates of FINE_TM / COARSE_TM, FINE_TN / COARSE_TN and of each COARSE_TP in order, separated "
                 "by commas. Empty: the date in each layer name (2000-03-09, 20000309, a Landsat product id, or "
                 "MODIS's A2000069).")
        self.add(QgsProcessingParameterNumber("HALF_WINDOW", "Half window w (fine pixels)",
                                              compat.ProcessingNumberParameterType.Integer,
                                              defaultValue=core.HALF_WINDOW, minValue=1,
                                              maxValue=limits.ESTARFM_HALF_WINDOW_MAX),
                 "Similar pixels are searched in a window of 2 w + 1 fine pixels (the authors' 25: 51 pixels, "
                 "about the size of a few coarse pixels).")
        self.add(QgsProcessingParameterNumber("CLASSES", "Number of classes",
                                              compat.ProcessingNumberParameterType.Double,
                                              defaultValue=core.CLASSES, minValue=1.0, maxValue=limits.CLASSES_MAX),
                 "Estimated number of land-cover classes: a pixel is similar when it differs from the central pixel "
                 "by less than stdev x 2 / CLASSES in every band of both fine images (the authors' 4; larger for "
                 "images with very few bands).")
        self.add(QgsProcessingParameterNumber("DN_MIN", "Valid range: minimum", compat.ProcessingNumberParameterType.Double,
                                              defaultValue=core.DN_MIN, minValue=-limits.TABLE_ABS_MAX,
                                              maxValue=limits.TABLE_ABS_MAX),
                 "Lowest valid value of the images (0 for reflectance x 10000 or DN; -1 for NDVI): a prediction at or "
                 "below it is replaced by the weighted mean of the similar pixels.")
        self.add(QgsProcessingParameterNumber("DN_MAX", "Valid range: maximum", compat.ProcessingNumberParameterType.Double,
                                              defaultValue=core.DN_MAX, minValue=-limits.TABLE_ABS_MAX,
                                              maxValue=limits.TABLE_ABS_MAX),
                 "Highest valid value (10000 for reflectance x 10000, 255 for byte DN, 1 for NDVI or reflectance): "
                 "predictions at or above it are replaced; the conversion coefficient is fitted only where the coarse "
                 "change of the similar pixels reaches 2 % of it.")
        self.add(QgsProcessingParameterEnum("RESAMPLING", "Resampling of the coarse images",
                                            [t for _, t in RESAMPLING], defaultValue=0),
                 "How the coarse images are put on the fine grid (GDAL warp): nearest neighbour (default) keeps each "
                 "coarse pixel as a block of fine pixels.", advanced=True)
        self.add_output(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Fused images folder"),
                        "One Float32 GeoTIFF per prediction date, estarfm_YYYY-MM-DD.tif, with the fused bands "
                        "(named as in FINE_TM), nodata -9999, styled like FINE_TM.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Change against the nearest fine image",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Table, one row per date and band: the nearest fine image (tm or tn) and its date, the days "
                        "between, the fused pixels and the mean absolute difference fused - fine.")
        self.add_result(QgsProcessingOutputMultipleLayers("FUSED_FILES", "Fused images"),
                        "The fused GeoTIFFs, in the order of COARSE_TP.")

    # -- inputs ---------------------------------------------------------------------------------------------------
    def _inputs(self, parameters, context):
        paths, names = {}, {}
        for pid, _label in PAIRS:
            layer = self.parameterAsRasterLayer(parameters, pid, context)
            if layer is None:
                raise ValueError(f"{pid}: give a raster layer.")
            paths[pid], names[pid] = layer.source().split("|")[0], layer.name()
        tps = self.parameterAsLayerList(parameters, "COARSE_TP", context)
        if not tps:
            raise ValueError("COARSE_TP: give at least one coarse image at a date to predict.")
        tp_paths = [layer.source().split("|")[0] for layer in tps]
        tp_names = [layer.name() for layer in tps]
        grid, count, descriptions = raster_info(paths["FINE_TM"], "FINE_TM")
        bands = self.parameterAsInts(parameters, "BANDS", context) or list(range(1, count + 1))
        for pid, path in list(paths.items()) + [(f"COARSE_TP ({os.path.basename(p)})", p) for p in tp_paths]:
            g, n, _d = raster_info(path, pid)
            missing = [b for b in bands if b > n]
            if missing:
                raise ValueError(f"{pid}: has {n} band(s), but band {missing[0]} is to be fused. Give images with the "
                                 "same bands (e.g. red and NIR in each), or choose BANDS that all have.")
            if pid == "FINE_TN":
                why = grid.mismatch(g)
                if why:
                    raise ValueError(f"FINE_TN is not on the grid of FINE_TM: {why}. Give both fine images on one "
                                     "grid (e.g. warp FINE_TN onto FINE_TM with GDAL).")
        dates = self._dates(parameters, context, [names["FINE_TM"], names["FINE_TN"]] + tp_names,
                            [paths["FINE_TM"], paths["FINE_TN"]] + tp_paths)
        band_names = tuple(descriptions[b - 1] or f"band_{b}" for b in bands)
        return paths, tp_paths, bands, dates, band_names

    def _masks(self, parameters, context, fine_path):
        """{mask key: BandRef} of the masks given (categorical: read by nearest neighbour), each checked to be in
        the CRS of FINE_TM and to cover it (another pixel size is warped), and the mask type."""
        grid = raster_info(fine_path, "FINE_TM")[0]
        refs = {}
        for pid, fine, _prefix in MASKS:
            layer = self.parameterAsRasterLayer(parameters, pid, context)
            if layer is None:
                continue
            path = layer.source().split("|")[0]
            g = raster_info(path, pid)[0]
            why = _not_covering(grid, g)
            if why:
                raise ValueError(f"{pid}: the mask {why}. Give the mask of {fine} on its grid (e.g. its QA band, or "
                                 "the mask warped onto FINE_TM with nearest neighbour).")
            refs[pid] = BandRef(path, 1, pid, categorical=True)
        return refs, MASK_TYPES[self.parameterAsEnum(parameters, "MASK_TYPE", context)][0]

    def _dates(self, parameters, context, names, paths):
        text = (self.parameterAsString(parameters, "DATES", context) or "").strip()
        what = ["FINE_TM", "FINE_TN"] + [f"COARSE_TP {i + 1}" for i in range(len(names) - 2)]
        if text:
            parts = [p for p in text.replace(";", ",").split(",") if p.strip()]
            if len(parts) != len(names):
                raise ValueError(f"DATES: {len(parts)} dates given for {len(names)} images (tm, tn and "
                                 f"{len(names) - 2} COARSE_TP); give one date per image, in that order.")
            dates = [core.parse_date(p, "DATES") for p in parts]
        else:
            dates = []
            for label, name, path in zip(what, names, paths):
                d = core.date_from_name(name) or core.date_from_name(path)
                if d is None:
                    raise ValueError(f"DATES: no date was found in the name of {label} ({name}). Type the dates "
                                     "in DATES (tm, tn, then each COARSE_TP, as YYYY-MM-DD), or name the files by "
                                     "date (e.g. modis_2000-06-01.tif).")
                dates.append(d)
        if dates[0] == dates[1]:
            raise ValueError(f"DATES: tm and tn are the same date ({dates[0]}); ESTARFM needs two pairs at two dates.")
        tp = dates[2:]
        if len(set(tp)) != len(tp):
            raise ValueError("DATES / COARSE_TP: two coarse images have the same date, so their fused images would "
                             "have one name. Give each date once.")
        return dates

    def output_claims(self, name, kind, path, parameters, context):
        if name != "OUTPUT_FOLDER" or not path or path == "TEMPORARY_OUTPUT":
            return super().output_claims(name, kind, path, parameters, context)
        try:
            tps = self.parameterAsLayerList(parameters, "COARSE_TP", context)
            _f, _t, _b, dates, _n = self._inputs(parameters, context)
        except Exception:  # noqa: BLE001 - inputs are checked (with their message) when the run starts
            return super().output_claims(name, kind, path, parameters, context)
        claims = []
        for d in dates[2:2 + len(tps)]:
            claims += super().output_claims(name, "rasterDestination", os.path.join(path, f"estarfm_{d}.tif"),
                                            parameters, context)
        return claims

    @staticmethod
    def check_value_range(ranges, bands, dn_min, dn_max, feedback):
        """DN_MIN / DN_MAX against the fine images' values (``ranges``: {pid: (minima, maxima)} per band over the
        pixels valid after the masks): values outside the range would have every prediction replaced (Zhu et
        al.'s out-of-range rule), e.g. NDVI or Collection 2 DN with the default 0 .. 10000: refused. Values that
        span less than 2 % of DN_MAX never reach the coarse change that fits the conversion coefficient (IDL line
        306): warned."""
        for pid in ("FINE_TM", "FINE_TN"):
            for b, lo, hi in zip(bands, *ranges[pid]):
                if not lo <= hi:
                    continue            # no valid pixel: refused with the thresholds, naming the band
                if lo < dn_min or hi > dn_max:
                    raise ValueError(f"DN_MIN / DN_MAX: {pid} band {b} has values from {lo:g} to {hi:g}, outside the "
                                     f"valid range {dn_min:g} .. {dn_max:g}: ESTARFM replaces every prediction outside "
                                     "it. Give the range of your data, e.g. -1 and 1 for NDVI, 0 and 1 for "
                                     "reflectance 0-1, 0 and 10000 for reflectance x 10000.")
                if hi - lo < 0.02 * (dn_max - dn_min):
                    feedback.pushWarning(f"{pid} band {b}: its values ({lo:g} .. {hi:g}) span less than 2 % of the "
                                         f"valid range {dn_min:g} .. {dn_max:g}, so the conversion coefficient is "
                                         "never fitted (V = 1). Give DN_MIN / DN_MAX close to your data's range.")

    # -- run ------------------------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        paths, tp_paths, bands, dates, band_names = self._inputs(parameters, context)
        w = self.parameterAsInt(parameters, "HALF_WINDOW", context)
        classes = self.parameterAsDouble(parameters, "CLASSES", context)
        dn_min = self.parameterAsDouble(parameters, "DN_MIN", context)
        dn_max = self.parameterAsDouble(parameters, "DN_MAX", context)
        if not dn_max > dn_min:
            raise ValueError(f"DN_MIN / DN_MAX: the valid range {dn_min:g} .. {dn_max:g} is empty; give DN_MAX above "
                             "DN_MIN (e.g. 0 and 10000 for reflectance x 10000, -1 and 1 for NDVI).")
        if len(set(bands)) != len(bands):
            raise ValueError(f"BANDS: a band is chosen twice ({', '.join(map(str, bands))}); it would count twice in "
                             "the spectral similarity. Choose each band once.")
        resampling = RESAMPLING[self.parameterAsEnum(parameters, "RESAMPLING", context)][0]
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        os.makedirs(folder, exist_ok=True)
        masks, mask_kind = self._masks(parameters, context, paths["FINE_TM"])
        nb = len(bands)
        refs = {}
        for i, b in enumerate(bands):
            refs[f"F1_{i}"] = BandRef(paths["FINE_TM"], b, "FINE_TM")
            refs[f"F2_{i}"] = BandRef(paths["FINE_TN"], b, "FINE_TN")
        # pass 1: the statistics of the whole fine images (the similar-pixel thresholds)
        span = 90.0 / (len(tp_paths) + 1)
        keys1 = tuple(f"F1_{i}" for i in range(nb))
        keys2 = tuple(f"F2_{i}" for i in range(nb))
        refs.update(masks)
        done = self.run_pass(BlockPass(inputs=dict(refs), compute=_masked(partial(
            core.with_range, compute=partial(core.moments_block, fine1=keys1, fine2=keys2), keys=keys1 + keys2),
            masks, mask_kind), combine=partial(core.combine_with_range, combine=core.combine_moments),
            resampling="nearest", reference="F1_0"), feedback, 0, span)
        (m1, m2), (lo, hi) = done.partial
        for (pid, fine, _prefix), m in zip(MASKS, (m1, m2)):
            if pid in masks and m[0] == 0:
                raise ValueError(f"{pid}: the mask leaves no pixel of {fine} with data (every pixel masked, or the "
                                 "mask has no value there). Check MASK_TYPE and the mask (0 = clear for a mask).")
        self.check_value_range({"FINE_TM": (lo[:nb], hi[:nb]), "FINE_TN": (lo[nb:], hi[nb:])}, bands, dn_min, dn_max,
                               feedback)
        th = core.thresholds(m1, m2, classes)
        for k, pid in enumerate(("FINE_TM", "FINE_TN")):
            for i, b in enumerate(bands):
                if not th[k, i] > 0:
                    mask = f" (outside the mask {pid}_MASK)" if f"{pid}_MASK" in masks else ""
                    raise ValueError(f"{pid}: band {b} has fewer than two valid pixels{mask} or one value everywhere, "
                                     "so no pixel can be told similar to another. Give a fine image with data (and a "
                                     "mask that leaves some clear), or leave that band out (BANDS).")
        shift = np.asarray(m1[1], dtype=np.float64)
        feedback.pushInfo("Similar-pixel thresholds (stdev x 2 / CLASSES), FINE_TM: "
                          + ", ".join(f"{t:.6g}" for t in th[0]) + "; FINE_TN: " + ", ".join(f"{t:.6g}" for t in th[1]))
        for i, b in enumerate(bands):
            refs[f"C1_{i}"] = BandRef(paths["COARSE_TM"], b, "COARSE_TM")
            refs[f"C2_{i}"] = BandRef(paths["COARSE_TN"], b, "COARSE_TN")
        tm, tn = dates[0], dates[1]
        rows, files = [], []
        style = self._style_source(paths["FINE_TM"], bands, context)
        for n, (path, tp) in enumerate(zip(tp_paths, dates[2:])):
            inputs = dict(refs)
            for i, b in enumerate(bands):
                inputs[f"C0_{i}"] = BandRef(path, b, f"COARSE_TP ({os.path.basename(path)})")
            out = os.path.join(folder, f"estarfm_{tp}.tif")
            feedback.pushInfo(f"Fusing {tp} ({os.path.basename(path)}) ...")
            done = self.run_pass(BlockPass(
                inputs=inputs, halo=w, resampling=resampling, reference="F1_0", combine=add,
                # blocks of a few strips: each costs seconds, so many small ones keep the threads evenly busy
                block_rows=min(engine.DEFAULT_BLOCK_ROWS, core.BLOCK_ROWS),
                outputs=(OutputSpec("FUSED", out, bands=nb, band_names=band_names, label="OUTPUT_FOLDER",
                                    metadata=(("DATE", str(tp)), ("METHOD", "ESTARFM (Zhu et al. 2010)"))),),
                compute=_masked(partial(core.estarfm_block, bands=nb, th=th, dn_min=dn_min, dn_max=dn_max,
                                        shift=shift, half_window=w), masks, mask_kind)), feedback, span * (n + 1), span * (n + 2))
            fused_path = done.paths["FUSED"]
            files.append(fused_path)
            pixels, diff1, diff2 = done.partial
            k = core.nearest_pair(tp, tm, tn)
            near, near_date, diffs = ("FINE_TM", tm, diff1) if k == 0 else ("FINE_TN", tn, diff2)
            for i, b in enumerate(bands):
                mean = float(diffs[i] / pixels[i]) if pixels[i] else None
                rows.append([str(tp), b, near, str(near_date), abs((tp - near_date).days), int(pixels[i]), mean])
                feedback.pushInfo(f"{tp} band {b}: mean |fused - {near}| = "
                                  + (f"{mean:.6g}" if mean is not None else "no pixel") + f" ({int(pixels[i])} pixels)")
            if not pixels.any():
                feedback.pushWarning(f"COARSE_TP ({os.path.basename(path)}): no pixel is valid in all five images, so "
                                     f"estarfm_{tp}.tif is all nodata. Check that the images overlap and hold data.")
            self._style(fused_path, style, done.stats["FUSED"], context, f"ESTARFM {tp}")
        load = context.project() is not None and not final_path(folder).startswith(QgsProcessingUtils.tempFolder())
        if load:
            for path, tp in zip(files, dates[2:]):
                context.addLayerToLoadOnCompletion(final_path(path), QgsProcessingContext.LayerDetails(
                    f"ESTARFM {tp}", context.project(), "FUSED_FILES"))
        table = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, rows)
        feedback.setProgress(100)
        return {"OUTPUT_FOLDER": folder, "OUTPUT_TABLE": table, "FUSED_FILES": files}

    @staticmethod
    def _style_source(path, bands, context):
        """The FINE_TM layer whose style the outputs copy, when the outputs have its bands in its order (a style
        names band numbers); else None."""
        layer = QgsRasterLayer(path, "FINE_TM", "gdal")
        if not layer.isValid() or list(bands) != list(range(1, layer.bandCount() + 1)):
            return None
        return layer

    @staticmethod
    def _style(path, source, stats, context, name):
        if source is not None:
            source.saveNamedStyle(qml_path(path))
            return
        st = stats[0]
        lo, hi = (st.minimum, st.maximum) if st.count else (0.0, 1.0)
        style_output(path, RasterStyle("ramp", "neutral", lo, hi), context, name)
