"""Ecological grade (EG) index from a land-use raster: moving window, zones, whole area, yearly table."""
from __future__ import annotations

import os
from functools import partial

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsCsException,
    QgsGeometry,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsWkbTypes,
)

from .. import compat
from ..core import eg as core
from ..raster.classes import read_integer_floats
from ..raster.engine import BandRef, fit_window
from ..raster.executor import BlockPass, OutputSpec
from ..raster.zones import ZoneMasks
from ..styles import palettes
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from . import limits
from ..core.checks import listing
from .dated_inputs import add_dated_raster_parameters, dated_rasters
from .references import cite

WHOLE_AREA = "(whole area)"


def grade_column(g: float) -> str:
    return "area_grade_" + f"{g:g}".replace(".", "_").replace("-", "m") + "_km2"


def parse_matrix(values, columns=3):
    """Rows of a QgsProcessingParameterMatrix value (a flat list, row after row)."""
    flat = list(values or [])
    if len(flat) % columns:
        raise ValueError(f"GRADE_TABLE: {len(flat)} cells do not fill rows of {columns} columns (code, grade, name).")
    return [flat[i:i + columns] for i in range(0, len(flat), columns)]


class EgIndexAlgorithm(MiningEcoAlgorithm):
    ID = "egindex"
    NAME = "Ecological grade (EG) index"
    GROUP = "ecology"
    SUMMARY = (
        "Ecological grade (EG) index of land use: every land-use code gets a grade from 1 (best: water, wetland) to 7 "
        "(worst: barren land), and EG = sum(grade x area) / sum(area), a negative indicator. Also the normalised, "
        "inverted EG = (7 - EG) / 6, from 0 to 1 with higher = better, the form the RSEI x EG coupling expects.\n"
        "Inputs: a land-use raster of integer codes (the default grade table is for the CLCD legend 1-9; edit it for "
        "other legends), optionally zones such as mine polygons, and land-use rasters of several years.\n"
        "Outputs: EG per pixel over a moving window and its normalised form, a table of EG per zone and for the whole "
        "area, and a table of EG per year.")
    SOURCE = cite("han2025", "yang2021")
    SHORT_DESCRIPTION = (
        "Ecological grade index of land use (area-weighted grades 1 best .. 7 worst) per pixel, zone and year")
    TAGS = ("eg", "ecological grade", "land use", "land cover", "clcd", "mine", "zonal statistics",
            "landscape ecology")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterRasterLayer("LANDUSE", "Land-use raster"),
                 "Integer land-use codes (e.g. CLCD 1-9). Its nodata value is left out. Float rasters are refused.")
        self.add(QgsProcessingParameterBand("LANDUSE_BAND", "Land-use band", 1, "LANDUSE", optional=True),
                 "Band holding the land-use codes.", advanced=True)
        default = [v for row in core.CLCD_GRADE_TABLE for v in row]
        self.add(QgsProcessingParameterMatrix("GRADE_TABLE", "Ecological grade per land-use code",
                                              numberRows=len(core.CLCD_GRADE_TABLE), hasFixedNumberRows=False,
                                              headers=["code", "grade", "name"], defaultValue=default,
                                              optional=True),
                 "One row per land-use code: code, grade (1 best .. 7 worst), name. Default: Table 3 of Han et al. "
                 "2025 on the CLCD legend (1 cropland 5, 2 forest 2, 3 shrub 3, 4 grassland 4, 5 water 1, 6 snow/ice "
                 "1, 7 barren 7, 8 impervious 6, 9 wetland 1). An empty grade excludes the code like nodata. In "
                 "qgis_process: GRADE_TABLE=1,5,Cropland,2,2,Forest,... (names without commas). Empty = the default.")
        self.add(QgsProcessingParameterNumber("WINDOW_SIZE", "Moving window size (pixels, odd)",
                                              compat.ProcessingNumberParameterType.Integer, defaultValue=3, minValue=1,
                                              maxValue=limits.WINDOW_MAX),
                 "Side of the square window of the per-pixel EG, in pixels (1, 3, 5, ...; 1 = the pixel's own "
                 "grade). Han et al. 2025 give no size; 3 by default.")
        self.add(QgsProcessingParameterFeatureSource("ZONES", "Zones (e.g. mines)",
                                                     [compat.ProcessingSourceType.VectorPolygon],
                                                     optional=True),
                 "Optional polygons; EG is computed for each (pixels whose centre is inside). Any CRS: reprojected "
                 "onto the raster. Overlapping zones each keep all their pixels.")
        self.add(QgsProcessingParameterField("ZONE_FIELD", "Zone name field", parentLayerParameterName="ZONES",
                                             optional=True),
                 "Field naming each zone in the table (default: the feature id).")
        add_dated_raster_parameters(self, "LANDUSE_SERIES", "Land-use rasters of several years (optional)",
                                    optional=True, grid_note="same codes, each on its own grid; gives the yearly "
                                    "table of the whole-area EG")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "EG (moving window)", optional=True,
                                                                createByDefault=True),
                        "Per-pixel EG (float32, 1 best .. 7 worst; nodata where the land use is nodata).")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_NORMALISED", "EG normalised (higher = better)",
                                                                optional=True, createByDefault=True),
                        "Per-pixel (worst - EG) / (worst - best), 0..1, higher = better (the form RSEI x EG coupling "
                        "expects).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "EG per zone",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True, createByDefault=True),
                        "Table: zone (first row: the whole area), EG, EG normalised, area km2 of valid land use, area "
                        "km2 per grade.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_YEARLY", "EG per year",
                                                          compat.ProcessingSourceType.Vector,
                                                          optional=True, createByDefault=True),
                        "Table (only with LANDUSE_SERIES): year, EG, EG normalised, area km2.")
        self.addOutput(QgsProcessingOutputNumber("EG_WHOLE", "EG of the whole area"))
        self.addOutput(QgsProcessingOutputNumber("EG_WHOLE_NORMALISED", "Normalised EG of the whole area"))

    # -- inputs ---------------------------------------------------------------------------------
    def grade_table(self, parameters, context):
        # optional only so that QGIS 3.22 accepts a run without it: empty = the default (Table 3 on CLCD)
        values = self.parameterAsMatrix(parameters, "GRADE_TABLE", context)
        rows = parse_matrix(values) if values else [list(r) for r in core.CLCD_GRADE_TABLE]
        try:
            return core.grade_table(rows)
        except ValueError as err:
            raise ValueError(f"GRADE_TABLE: {err}.") from None

    @staticmethod
    def missing_codes_error(err, ref, label):
        return ValueError(
            f"GRADE_TABLE: land-use code(s) {listing(err.codes, noun='codes')} occur in {ref.describe()} "
            f"but have no row in the grade table. Add a row (code, grade, name) for each, leave its grade empty to "
            f"exclude it like nodata, or set the nodata value of {label}.")

    def class_areas(self, ref, table, label, feedback, start, end):
        """Area per code over the whole raster of ``ref`` (one pass; an integer raster is required), checked
        against the grade table; (ClassAreas, grid)."""
        done = self.run_pass(BlockPass(inputs={"LU": ref}, compute=core.class_areas_block,
                                       combine=core.combine_class_areas, load=read_integer_floats),
                             feedback, start, end)
        areas = done.partial
        missing = table.missing(areas.codes)
        if missing:
            raise self.missing_codes_error(core.MissingCodesError(missing), ref, label)
        return areas, done.grid

    def zones(self, parameters, context, grid, feedback):
        source = self.parameterAsSource(parameters, "ZONES", context)
        if source is None:
            return None
        field = self.parameterAsString(parameters, "ZONE_FIELD", context)
        raster_crs = QgsCoordinateReferenceSystem.fromWkt(grid.wkt) if grid.wkt else QgsCoordinateReferenceSystem()
        transform = None
        if source.sourceCrs().isValid() and raster_crs.isValid() and source.sourceCrs() != raster_crs:
            transform = QgsCoordinateTransform(source.sourceCrs(), raster_crs, context.transformContext())
        names, wkbs = [], []
        for f in source.getFeatures():
            geom = QgsGeometry(f.geometry())
            if not geom.isNull() and transform is not None:
                try:
                    geom.transform(transform)
                except QgsCsException as err:
                    raise ValueError(f"ZONES: feature {f.id()} cannot be transformed to the CRS of LANDUSE ({err}). "
                                     "Check the CRS of the zone layer.") from None
            if not geom.isNull() and QgsWkbTypes.isCurvedType(geom.wkbType()):
                geom = QgsGeometry(geom.constGet().segmentize())
            value = f[field] if field else None
            names.append(str(value) if value is not None and str(value) != "NULL" else f"feature {f.id()}")
            wkbs.append(bytes(geom.asWkb()) if not geom.isNull() else None)
        if not names:
            raise ValueError("ZONES: the zone layer has no feature.")
        masks = ZoneMasks(grid, wkbs, names)
        inside = masks.inside_extent()
        if not inside:
            gt = grid.geotransform
            raise ValueError(f"ZONES: none of the {len(names)} zone(s) overlaps the LANDUSE raster (extent x "
                             f"{gt[0]:.1f}..{gt[0] + gt[1] * grid.width:.1f}, y {gt[3] + gt[5] * grid.height:.1f}.."
                             f"{gt[3]:.1f} in its CRS). Check that the zones and the raster cover the same area and "
                             "that the zone layer's CRS is set correctly.")
        outside = [names[i] for i in range(len(names)) if i not in set(inside)]
        if outside:
            feedback.pushWarning(f"ZONES: {len(outside)} zone(s) lie outside the LANDUSE raster and get no EG: "
                                 + ", ".join(outside[:20]) + (" ..." if len(outside) > 20 else ""))
        return masks

    # -- run ----------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        table = self.grade_table(parameters, context)
        size = self.parameterAsInt(parameters, "WINDOW_SIZE", context)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"WINDOW_SIZE: {size} is not an odd number of pixels >= 1 (1, 3, 5, ...).")
        layer = self.parameterAsRasterLayer(parameters, "LANDUSE", context)
        if layer is None:
            raise ValueError("LANDUSE: give the land-use raster.")
        band = self.parameterAsInt(parameters, "LANDUSE_BAND", context) or 1
        eg_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        norm_path = self.parameterAsOutputLayer(parameters, "OUTPUT_NORMALISED", context)
        series, years = [], []
        if self.parameterAsLayerList(parameters, "LANDUSE_SERIES", context):
            series, years = dated_rasters(self, parameters, context, "LANDUSE_SERIES", 2, sort=True)
            years = [int(y) if float(y).is_integer() else float(y) for y in years]
        start = 30.0 if series else 0.0
        # the series first: a bad year raster must fail before any output file is written
        yearly = self.yearly(series, years, table, feedback, 0.0, start) if series else []

        ref = BandRef(layer.source().split("|")[0], band, "LANDUSE")
        feedback.pushInfo("Pass 1: land-use areas and codes")
        whole, grid = self.class_areas(ref, table, "LANDUSE", feedback, start, start + 0.3 * (100 - start))
        size = fit_window(grid, size, feedback)
        if not whole.graded(table)[1].sum() > 0:
            raise ValueError(f"LANDUSE: {ref.describe()} has no valid land-use pixel (all nodata or excluded "
                             "codes).")
        masks = self.zones(parameters, context, grid, feedback)
        paths, zone_areas = {}, []
        if eg_path or norm_path or masks:
            feedback.pushInfo("Pass 2: moving-window EG" + (" and zones" if masks else ""))
            paths, zone_areas = self.window_pass(ref, table, size, masks,
                                                 {"OUTPUT": eg_path, "OUTPUT_NORMALISED": norm_path}, context,
                                                 feedback, start + 0.3 * (100 - start), 99.0)

        rows = [self.table_row(WHOLE_AREA, whole, table)]
        if masks:
            rows += [self.table_row(name, areas, table) for name, areas in zip(masks.names, zone_areas)]
            empty = [r[0] for r in rows[1:] if r[1] is None]
            if empty:
                feedback.pushWarning(f"ZONES: no valid land-use pixel in {len(empty)} zone(s): "
                                     + ", ".join(empty[:20]) + (" ..." if len(empty) > 20 else ""))
        columns = [("zone", str), ("eg", float), ("eg_normalised", float), ("area_km2", float)]
        columns += [(grade_column(g), float) for g in table.grade_values]
        outputs = {"OUTPUT": paths.get("OUTPUT"), "OUTPUT_NORMALISED": paths.get("OUTPUT_NORMALISED"),
                   "EG_WHOLE": rows[0][1], "EG_WHOLE_NORMALISED": rows[0][2]}
        feedback.pushInfo(f"Whole area: EG = {rows[0][1]:.4f}, normalised (higher = better) = {rows[0][2]:.4f}")
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, columns, rows)
        if series:
            outputs["OUTPUT_YEARLY"] = self.write_table(
                parameters, "OUTPUT_YEARLY", context,
                [("year", int), ("eg", float), ("eg_normalised", float), ("area_km2", float)], yearly)
        feedback.setProgress(100)
        return outputs

    def window_pass(self, ref, table, size, masks, out_paths, context, feedback, start, end):
        """Per-pixel EG (moving window) into the requested outputs and the zone areas; ({output: path}, [ClassAreas
        of each zone] or None)."""
        bands = {"OUTPUT": "EG", "OUTPUT_NORMALISED": "EG_NORMALISED"}
        outputs = tuple(OutputSpec(key, path, band_names=(bands[key],)) for key, path in out_paths.items() if path)
        done = self.run_pass(BlockPass(
            inputs={"LU": ref}, outputs=outputs, halo=size // 2,
            compute=partial(core.window_block, table=table, size=size, outputs=tuple(o.key for o in outputs),
                            zones=masks),
            combine=core.combine_zone_areas if masks else None), feedback, start, end)
        paths = done.paths
        if "OUTPUT" in paths:
            style_output(paths["OUTPUT"], RasterStyle("ramp", palettes.ramp_for("EG"), table.best, table.worst),
                         context, "EG")
        if "OUTPUT_NORMALISED" in paths:
            style_output(paths["OUTPUT_NORMALISED"], RasterStyle("ramp", palettes.ramp_for("EG_NORMALISED"), 0.0, 1.0),
                         context, "EG normalised")
        return paths, done.partial

    @staticmethod
    def table_row(name, areas, table):
        grades, a = areas.graded(table)
        eg = core.eg_from_areas(grades, a)
        egn = core.normalise_inverted(eg, table.best, table.worst) if eg == eg else None
        per_grade = areas.area_per_grade(table)
        return [name, eg if eg == eg else None, egn, float(a.sum()) / 1e6] + \
            [per_grade[float(g)] / 1e6 for g in table.grade_values]

    def yearly(self, series, years, table, feedback, start, end):
        """Rows (year, EG, EG normalised, area km2) of the whole-area EG of each raster, sorted by year."""
        rows = []
        step = (end - start) / len(series)
        for k, (ref, year) in enumerate(zip(series, years)):
            label = f"LANDUSE_SERIES ({year})"
            areas, _grid = self.class_areas(BandRef(ref.path, ref.band, label), table, label, feedback,
                                            start + k * step, start + (k + 1) * step)
            grades, a = areas.graded(table)
            eg = core.eg_from_areas(grades, a)
            if eg != eg:
                raise ValueError(f"{label}: {os.path.basename(ref.path)} has no valid land-use pixel.")
            rows.append((year, eg, core.normalise_inverted(eg, table.best, table.worst), float(a.sum()) / 1e6))
            feedback.pushInfo(f"{year}: EG = {eg:.4f}, normalised = {rows[-1][2]:.4f}")
        return sorted(rows)
