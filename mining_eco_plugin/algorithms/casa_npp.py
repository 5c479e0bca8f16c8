"""Net primary productivity with the CASA light-use-efficiency model (miningeco:casanpp, changhe 2.2.2)."""
from __future__ import annotations

import os
import re
import tempfile
from functools import partial

import numpy as np
from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterMatrix,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameters,
)

from .. import compat
from ..core import casa as core
from ..raster import engine
from ..raster.engine import BandRef, RasterStack, raster_info
from ..raster.executor import BlockPass, OutputSpec
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from . import limits
from ..core.checks import listing
from .references import cite
from .scene_params import RESAMPLING_OPTIONS

SUMMARY = (
    "Net primary productivity (NPP) with the CASA light-use-efficiency model. For each pixel and month, NPP = APAR x "
    "eps: APAR = solar radiation x FPAR x 0.5 with FPAR from NDVI and the simple ratio, and eps = eps_max x two "
    "temperature stresses x a water stress from a regional evapotranspiration model. The annual NPP (gC m-2 yr-1) is "
    "the sum of the months.\n"
    "Inputs: monthly NDVI, mean temperature (deg C), precipitation (mm) and solar radiation (MJ m-2 month-1) as "
    "rasters (one band or one file per month) or as typed monthly values, and a land-cover raster with one parameter "
    "row per code (default: CLCD 1-9).\n"
    "Outputs: the annual NPP (styled), optionally the monthly NPP, and a table of mean, sd and CV per land-cover "
    "class. Implausible inputs (temperature in kelvin, scaled NDVI) are refused.")
SOURCE = cite("rs2022npp", "potter1993", "zhu2007", "zhou1995")

VARIABLES = (
    # parameter, label, kind for check_plausible, unit, example of a values text
    ("TEMPERATURE", "Monthly mean temperature", "temperature", "deg C",
     "-0.5, 0.8, 4.2, 8.1, 12.6, 15.6, 17.5, 17.1, 13.6, 9.1, 4.3, 1.2"),
    ("PRECIPITATION", "Monthly precipitation", "precipitation", "mm per month",
     "55, 45, 55, 45, 65, 75, 70, 65, 55, 55, 60, 65"),
    ("SOLAR_RADIATION", "Monthly total solar radiation", "radiation", "MJ m-2 month-1",
     "70, 120, 250, 380, 480, 500, 510, 430, 290, 170, 80, 55"),
)
TABLE_FIELDS = (("code", int), ("name", str), ("pixels", int), ("mean", float), ("sd", float), ("cv_percent", float))
TABLE_HEADERS = ["code", "name", "eps_max", "ndvi_min", "ndvi_max", "sr_min", "sr_max"]
#: Bytes of one pixel-month of the per-block working set: 4 inputs and about 12 float32 intermediates.
WORK_BYTES_PER_PIXEL_MONTH = 16 * 4
#: Working-set budget of one block (all months of all inputs and intermediates); the executor computes one block
#: per thread and reads a few ahead. 12 months: blocks of 256 x 256 px.
BLOCK_BUDGET_BYTES = 48 * 1024 * 1024
OVERALL = "(all classes)"
MONTH_INPUTS = core.MONTH_INPUTS
#: W_eps of frozen months: core.w_eps's ``frozen`` argument, label
FROZEN_OPTIONS = (("previous", "W_eps of the previous month, cyclically (Zhu et al. 2007 convention)"),
                  (1.0, "1.0 (no water stress)"))

def parse_values(text: str, param: str):
    """Monthly values typed as text ("-8.1, -4.2, 3.0 ..." or separated by ; or spaces) -> float64 array."""
    parts = [p for p in re.split(r"[,;\s]+", (text or "").strip()) if p]
    values = []
    for p in parts:
        try:
            values.append(float(p))
        except ValueError:
            raise ValueError(f"{param}: {p!r} is not a number. Give one value per month separated by commas, e.g. "
                             "-8.1, -4.2, 3.0, ... (decimal point, not comma).") from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{param}: every monthly value must be a finite number.")
    if values and max(abs(v) for v in values) > 1e5:    # mm, deg C, MJ m-2: no month reaches 10^5
        raise ValueError(f"{param}: {max(values, key=abs):g} is not a plausible monthly value.")
    return np.asarray(values, dtype=np.float64)


class CasaNppAlgorithm(MiningEcoAlgorithm):
    ID = "casanpp"
    NAME = "CASA net primary productivity (NPP)"
    GROUP = "productivity"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SHORT_DESCRIPTION = (
        "Net primary productivity (gC m-2 yr-1) with the CASA model from monthly NDVI, climate and land cover")
    TAGS = ("npp", "net primary productivity", "casa", "carbon", "light use efficiency", "apar", "fpar",
            "vegetation productivity", "ndvi")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterMultipleLayers("NDVI", "Monthly NDVI", compat.ProcessingSourceType.Raster),
                 "One multi-band raster with one band per month, or several single-band rasters, one per month, in "
                 "month order (e.g. January .. December), consecutive calendar months. NDVI in -1..1 (not scaled "
                 "by 10000: a month with more than half of a block's values above 1 stops the run; other values "
                 "outside [-1, 1], e.g. from negative Level-2 reflectance over dark water, are taken as -1 and counted "
                 "in a warning). In qgis_process repeat the key: NDVI=ndvi_01.tif NDVI=ndvi_02.tif ...")
        for pid, label, _kind, unit, example in VARIABLES:
            self.add(QgsProcessingParameterMultipleLayers(pid, f"{label} ({unit}) rasters",
                                                          compat.ProcessingSourceType.Raster,
                                                          optional=True),
                     f"{label} in {unit}: one multi-band raster (band = month) or one single-band raster per month, "
                     f"the same months as NDVI, on the NDVI grid. Give either these rasters or {pid}_VALUES.")
            self.add(QgsProcessingParameterString(f"{pid}_VALUES", f"{label} ({unit}) as monthly values",
                                                  optional=True, defaultValue=""),
                     f"Instead of {pid} rasters: one value per month applied to every pixel (e.g. a climate "
                     f"station's normals), separated by commas, e.g. {example}.")
        self.add(QgsProcessingParameterRasterLayer("LANDCOVER", "Land-cover raster (integer codes)"),
                 "Integer land-cover codes on the NDVI grid (default parameter table: CLCD 1 cropland, 2 forest, 3 "
                 "shrub, 4 grassland, 5 water, 6 snow/ice, 7 barren, 8 impervious, 9 wetland). Its nodata pixels are "
                 "nodata in the outputs. Every other code needs a row in CLASS_TABLE.")
        self.add(QgsProcessingParameterBand("LANDCOVER_BAND", "Land-cover band", 1, "LANDCOVER", optional=True),
                 "Band holding the land-cover codes.", advanced=True)
        default = [str(c) for c in core.default_table_cells()]
        self.add(QgsProcessingParameterMatrix("CLASS_TABLE", "CASA parameters per land-cover code",
                                              numberRows=len(default) // len(TABLE_HEADERS), hasFixedNumberRows=False,
                                              headers=TABLE_HEADERS, defaultValue=default, optional=True),
                 "One row per land-cover code: code, name, eps_max (maximum light use efficiency, gC MJ-1), "
                 "ndvi_min and ndvi_max (5 % and 95 % NDVI percentiles of the class), sr_min and sr_max (empty: "
                 "from ndvi_min / ndvi_max as SR = (1 + NDVI) / (1 - NDVI)). Default (also when left empty): the "
                 "published values (Zhu et al. 2006, 2007) mapped onto the CLCD legend (forest = mixed forest; water "
                 "and snow/ice eps_max 0). In qgis_process: CLASS_TABLE=" + ",".join(default[:14]) + ",... (names "
                 "without commas; empty cells stay empty).")
        self.add(QgsProcessingParameterEnum("RESAMPLING", "Resample inputs onto the NDVI grid",
                                            [t for _, t in RESAMPLING_OPTIONS], defaultValue=0),
                 "By default every raster must be on the grid of the first NDVI month (error otherwise); choose a "
                 "method to warp the climate rasters instead (e.g. coarse interpolated climate onto 30 m NDVI). The "
                 "land cover is then warped with nearest neighbour.", advanced=True)
        for pid, desc, default_value, text in (
                ("PAR_FRACTION", "PAR fraction of total solar radiation", core.PAR_FRACTION,
                 "APAR = SOL x FPAR x this (0.5: Potter et al. 1993)."),
                ("FPAR_MIN", "FPAR minimum", core.FPAR_MIN, "FPAR at the class's ndvi_min (0.001, Zhu 2006)."),
                ("FPAR_MAX", "FPAR maximum", core.FPAR_MAX, "FPAR at the class's ndvi_max (0.95, Zhu 2006)."),
                ("FPAR_NDVI_WEIGHT", "Weight of FPAR from NDVI", core.FPAR_NDVI_WEIGHT,
                 "FPAR = w FPAR_NDVI + (1 - w) FPAR_SR (0.5: their mean, Zhu 2006).")):
            self.add(QgsProcessingParameterNumber(pid, desc, compat.ProcessingNumberParameterType.Double,
                                                  defaultValue=default_value, minValue=0.0, maxValue=1.0),
                     text, advanced=True)
        for pid, desc, default_value, lo, text in (
                ("T_EPS1_COLD_LIMIT", "T_eps1 cold limit (deg C)", core.T_EPS1_COLD_LIMIT, -90.0,
                 "Months with a mean temperature at or below this get T_eps1 = 0, i.e. no NPP (-10 C: Zhu et al. "
                 "2007)."),
                ("T_EPS2_ABOVE", "T_eps2 half value: degrees above T_opt", core.T_EPS2_ABOVE, 0.0,
                 "In months more than this many degrees above T_opt, T_eps2 is half its value at T_opt (10 C: "
                 "Potter et al. 1993's description, Zhu et al. 2007's rule)."),
                ("T_EPS2_BELOW", "T_eps2 half value: degrees below T_opt", core.T_EPS2_BELOW, 0.0,
                 "In months more than this many degrees below T_opt, T_eps2 is half its value at T_opt (13 C: "
                 "Potter et al. 1993, Zhu et al. 2007).")):
            self.add(QgsProcessingParameterNumber(pid, desc, compat.ProcessingNumberParameterType.Double,
                                                  defaultValue=default_value, minValue=lo, maxValue=100.0),
                     text, advanced=True)
        self.add(QgsProcessingParameterEnum("FROZEN_W_EPS", "W_eps of frozen months (T <= 0 C)",
                                            [t for _, t in FROZEN_OPTIONS], defaultValue=0),
                 "Thornthwaite's E_p0 is 0 at or below 0 C, so EET / PET is undefined. Default: the W_eps of the "
                 "previous month, the months taken as a cycle (the convention of the Chinese CASA literature after "
                 "Zhu et al. 2007); or 1.0 (no water stress without evaporative demand).", advanced=True)
        self.add(QgsProcessingParameterNumber("HEAT_INDEX", "Annual heat index I (empty: from the months given)",
                                              compat.ProcessingNumberParameterType.Double, optional=True, minValue=0.0,
                                              maxValue=limits.HEAT_INDEX_MAX),
                 "Thornthwaite's (1948) annual heat index I = sum over the 12 months of (T/5)^1.514, for every "
                 "pixel, e.g. from a station's normals when fewer than 12 months are given. Empty: computed per "
                 "pixel from the temperature of the months given.", advanced=True)
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT", "Annual NPP (gC m-2 yr-1)"),
                        "Sum of the monthly NPP (float32, gC m-2 yr-1; nodata -9999 where an input is nodata in any "
                        "month or the land cover is nodata), styled with a green ramp.")
        self.add_output(QgsProcessingParameterRasterDestination("OUTPUT_MONTHLY", "Monthly NPP (gC m-2 month-1)",
                                                                optional=True, createByDefault=False),
                        "Optional: one band per month (band descriptions 'month 1', ...), float32 gC m-2 month-1; "
                        "nodata -9999 where an input of that month is nodata or the land cover is nodata.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Annual NPP per land-cover class",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Table: code, name, pixels, mean, sd (population) and coefficient of variation (sd / mean, "
                        "%) of the annual NPP per land-cover class, and a last row over all classes (code empty), "
                        "the statistics reported for the Changhe Basin mining area (Remote Sensing 14: 4177, 2022).")
        self.add_result(QgsProcessingOutputNumber("MEAN_NPP", "Mean annual NPP (gC m-2 yr-1)"),
                        "Mean of the annual NPP over every pixel with a value (the 'all classes' row of the table); "
                        "empty when no pixel has one.")
        self.add_result(QgsProcessingOutputNumber("VALID_PIXELS", "Pixels with an NPP value"),
                        "Number of pixels of OUTPUT with an annual NPP (not nodata).")

    # -- inputs ------------------------------------------------------------------------------------
    def month_files(self, parameters, context, pid):
        """The files of month parameter ``pid`` when every entry is the path of an existing file (qgis_process,
        scripts, Modeler outputs), else None (layer ids, layer objects, provider URIs: resolved as map layers).

        Resolving paths as map layers would make Processing build a QgsRasterLayer per input, whose default
        renderer computes band statistics: ~0.3 s and ~60 MB of GDAL block cache per 12-band 4000 x 4000 stack,
        before the tool reads a pixel. The files are opened (and checked) by the raster engine instead."""
        if pid not in parameters or parameters[pid] is None:
            return None
        files = QgsProcessingParameters.parameterAsFileList(self.parameterDefinition(pid), parameters[pid], context)
        if not files or not all(f and os.path.isfile(f) for f in files):
            return None
        return list(files)

    def checkParameterValues(self, parameters, context):  # noqa: N802
        """QGIS's check, except that month inputs given as existing files are not loaded as map layers (see
        month_files); on any other failing parameter QGIS's own check runs (and words the message)."""
        skip = {pid for pid in MONTH_INPUTS if self.month_files(parameters, context, pid)}
        if not skip:
            return super().checkParameterValues(parameters, context)
        for definition in self.parameterDefinitions():
            name = definition.name()
            if name not in skip and not definition.checkValueIsAcceptable(parameters.get(name), context):
                return super().checkParameterValues(parameters, context)
        clash = self.output_clash(parameters, context)    # as the base class checks (issue 11, defect 5)
        return (False, f"{self.NAME}: {clash}") if clash else (True, "")

    def validateInputCrs(self, parameters, context):  # noqa: N802
        """The raster engine refuses (or, with RESAMPLING, warps) inputs on another grid, CRS included; QGIS's
        check would load every month input as a map layer only to compare CRSs."""
        if any(self.month_files(parameters, context, pid) for pid in MONTH_INPUTS):
            return True
        return super().validateInputCrs(parameters, context)

    def monthly_refs(self, parameters, context, pid):
        """BandRefs of the months of raster parameter ``pid`` (bands of one raster, or band 1 of each layer)."""
        files = self.month_files(parameters, context, pid)
        if files is not None:
            paths = files
            names = [os.path.splitext(os.path.basename(f))[0] for f in files]   # as Processing names such layers
        else:
            layers = self.parameterAsLayerList(parameters, pid, context)
            if not layers:
                return []
            paths = [layer.source().split("|")[0] for layer in layers]
            names = [layer.name() for layer in layers]
        counts = []
        for path in paths:
            try:
                counts.append(raster_info(path)[1])
            except engine.RasterError as err:
                raise ValueError(f"{pid}: {err} Give a raster (e.g. GeoTIFF) with one band per month.") from None
        if len(paths) == 1:
            return [BandRef(paths[0], b + 1, f"{pid} month {b + 1}") for b in range(counts[0])]
        for path, count in zip(paths, counts):
            if count != 1:
                raise ValueError(f"{pid}: {os.path.basename(path)} has {count} bands, but with several layers each "
                                 "must be one month (one band). Give one multi-band raster (band = month) or one "
                                 "single-band raster per month.")
        return [BandRef(p, 1, f"{pid} month {k + 1} ({name})") for k, (name, p) in enumerate(zip(names, paths))]

    def climate_input(self, parameters, context, pid, kind):
        """(refs, values): the rasters of ``pid`` or its typed values (exactly one of them)."""
        refs = self.monthly_refs(parameters, context, pid)
        text = self.parameterAsString(parameters, f"{pid}_VALUES", context).strip()
        if refs and text:
            raise ValueError(f"{pid} / {pid}_VALUES: both rasters and typed monthly values were given. Give only "
                             f"one of them: the {pid} rasters or the {pid}_VALUES text.")
        if not refs and not text:
            raise ValueError(f"{pid} / {pid}_VALUES: give the monthly {kind} either as rasters ({pid}) or as one "
                             f"value per month ({pid}_VALUES, e.g. applied from a climate station).")
        if refs:
            return refs, None
        values = parse_values(text, f"{pid}_VALUES")
        if not len(values):
            raise ValueError(f"{pid}_VALUES: no value was given; give one value per month.")
        return [], values

    def class_table(self, parameters, context):
        cells = self.parameterAsMatrix(parameters, "CLASS_TABLE", context)
        cells = [("" if c is None else str(c)) for c in (cells or core.default_table_cells())]
        try:
            return core.parse_class_table(cells, len(TABLE_HEADERS))
        except ValueError as err:
            raise ValueError(f"CLASS_TABLE: {err}") from None

    def number(self, parameters, context, pid):
        return self.parameterAsDouble(parameters, pid, context)

    def rule_options(self, parameters, context):
        """core.npp_monthly keywords of the advanced rule parameters (cold limit, half-value thresholds, frozen-month
        W_eps, heat index)."""
        raw = parameters.get("HEAT_INDEX")
        heat = None if raw is None or str(raw).strip() in ("", "None", "NULL") else self.number(parameters, context,
                                                                                               "HEAT_INDEX")
        if heat is not None and not heat > 0:
            raise ValueError(f"HEAT_INDEX: {heat:g} is not a heat index: give Thornthwaite's annual I (> 0, e.g. 40-60 "
                             "in a temperate climate) or leave it empty to compute it from the months given.")
        return dict(cold_limit=self.number(parameters, context, "T_EPS1_COLD_LIMIT"),
                    t_eps2_above=self.number(parameters, context, "T_EPS2_ABOVE"),
                    t_eps2_below=self.number(parameters, context, "T_EPS2_BELOW"),
                    frozen=FROZEN_OPTIONS[self.parameterAsEnum(parameters, "FROZEN_W_EPS", context)][0],
                    heat_index_value=heat)

    @staticmethod
    def plausible(name, values, kind, warnings):
        """Hard errors raise (naming ``name``); warnings are collected once each."""
        for text in core.check_plausible(name, values, kind):
            if text not in warnings:
                warnings.append(text)

    # -- run ---------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        table = self.class_table(parameters, context)
        ndvi_refs = self.monthly_refs(parameters, context, "NDVI")
        if not ndvi_refs:
            raise ValueError("NDVI: give the monthly NDVI: one multi-band raster (band = month) or one raster per "
                             "month.")
        inputs = {"NDVI": (ndvi_refs, None)}
        for pid, _label, kind, _unit, _example in VARIABLES:
            inputs[pid] = self.climate_input(parameters, context, pid, kind)
        counts = {}
        for pid, (refs, values) in inputs.items():
            counts[pid if values is None else f"{pid}_VALUES"] = len(refs) if values is None else len(values)
        core.check_months(counts)
        months = len(ndvi_refs)
        warnings = []
        for pid, _label, kind, _unit, _example in VARIABLES:
            values = inputs[pid][1]
            if values is not None:
                self.plausible(f"{pid}_VALUES", values, kind, warnings)
        options = dict(par_fraction=self.number(parameters, context, "PAR_FRACTION"),
                       fpar_min=self.number(parameters, context, "FPAR_MIN"),
                       fpar_max=self.number(parameters, context, "FPAR_MAX"),
                       weight=self.number(parameters, context, "FPAR_NDVI_WEIGHT"))
        if not options["fpar_max"] > options["fpar_min"]:
            raise ValueError(f"FPAR_MIN / FPAR_MAX: FPAR_MAX ({options['fpar_max']:g}) must be larger than FPAR_MIN "
                             f"({options['fpar_min']:g}).")
        options.update(self.rule_options(parameters, context))

        layer = self.parameterAsRasterLayer(parameters, "LANDCOVER", context)
        if layer is None:
            raise ValueError("LANDCOVER: give the land-cover raster (integer codes).")
        lc_ref = BandRef(layer.source().split("|")[0], self.parameterAsInt(parameters, "LANDCOVER_BAND", context) or 1,
                         "LANDCOVER")
        resampling = RESAMPLING_OPTIONS[self.parameterAsEnum(parameters, "RESAMPLING", context)][0]
        out_path = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        monthly_path = self.parameterAsOutputLayer(parameters, "OUTPUT_MONTHLY", context) or None

        refs = {f"NDVI_{k}": r for k, r in enumerate(ndvi_refs)}
        for pid, (prefs, _values) in inputs.items():
            if pid != "NDVI":
                refs.update({f"{pid}_{k}": r for k, r in enumerate(prefs)})
        feedback.pushInfo(f"{months} month(s); climate: " + ", ".join(
            f"{pid} {'rasters' if v is None else 'typed values'}" for pid, (_r, v) in inputs.items() if pid != "NDVI"))

        lc_resampling = "nearest" if resampling else None
        # the inputs checked in the order of the passes' stacks: grids, then an integer land cover
        with RasterStack(refs, resampling=resampling, reference="NDVI_0"), \
                RasterStack({"NDVI_0": ndvi_refs[0], "LC": lc_ref}, resampling=lc_resampling,
                            reference="NDVI_0") as lc:
            lc.require_integer("LC")
        # with RESAMPLING the land cover is warped by nearest neighbour (the climate by RESAMPLING): the land-cover
        # pass keeps it on the NDVI grid in a scratch file beside the outputs, which the NPP pass reads
        scratch = self.scratch_path(out_path) if resampling else None
        try:
            found = self.run_pass(BlockPass(
                inputs={"NDVI_0": ndvi_refs[0], "LC": lc_ref}, resampling=lc_resampling, reference="NDVI_0",
                load=core.read_landcover, compute=partial(core.landcover_block, keep=bool(scratch)),
                combine=core.union, outputs=(OutputSpec("LC", scratch, nodata=float("nan"), label="LANDCOVER"),)
                if scratch else ()), feedback, 0, 5)
            codes_found = found.partial or frozenset()
            missing = sorted(set(codes_found) - set(table))
            if missing:
                raise ValueError(
                    f"CLASS_TABLE: land-cover code(s) {listing(missing, noun='codes')} occur in "
                    f"{lc_ref.describe()} but have no row in the CASA parameter table. Add a row (code, name, "
                    "eps_max, ndvi_min, ndvi_max, sr_min, sr_max) for each, or set those pixels to the raster's "
                    "nodata value.")
            refs["LC"] = BandRef(scratch, 1, lc_ref.label) if scratch else lc_ref
            names = [f"month {k + 1}" for k in range(months)]
            outputs = (OutputSpec("OUTPUT", out_path, band_names=("NPP gC m-2 yr-1",)),) + (
                (OutputSpec("OUTPUT_MONTHLY", monthly_path, bands=months, band_names=tuple(names)),)
                if monthly_path else ())
            kinds = {pid: kind for pid, _l, kind, _u, _e in VARIABLES if inputs[pid][1] is None}
            ndvi_labels = [ref.describe() for ref in ndvi_refs]
            rows, cols = self.block_shape(found.grid, months)
            done = self.run_pass(BlockPass(
                inputs=refs, resampling=resampling, reference="NDVI_0", outputs=outputs, combine=core.combine_npp,
                compute=partial(core.npp_block, months=months, values={pid: v for pid, (_r, v) in inputs.items()},
                                kinds=kinds, labels=ndvi_labels, table=table, options=options),
                block_rows=rows, block_cols=cols), feedback, 5, 97)
        finally:
            if scratch:
                for path in (scratch, scratch + ".aux.xml"):
                    if os.path.exists(path):
                        os.remove(path)
        result = done.partial
        if not result["lc_valid"]:
            raise ValueError(f"LANDCOVER: {lc_ref.describe()} has no valid pixel (all nodata), so no NPP can "
                             "be computed. Check its nodata value, or give the land-cover raster of this area.")
        out_path = done.paths["OUTPUT"]
        monthly_path = done.paths.get("OUTPUT_MONTHLY")
        ranges, screened, stats = result["ranges"], result["screened"], result["stats"]

        for pid, span in ranges.items():               # the warnings depend on the range only: once per input
            if span[0] <= span[1]:
                self.plausible(pid, np.asarray(span), kinds[pid], warnings)
        screen_text = core.ndvi_screen_warning(screened, ndvi_labels)
        for text in warnings + ([screen_text] if screen_text else []):
            feedback.pushWarning(text)
        st = done.stats["OUTPUT"][0]
        if st.count == 0:
            feedback.pushWarning("No pixel has every input valid in every month: the NPP is all nodata. Check that "
                                 "the rasters overlap and their nodata values.")
        style_output(out_path, RasterStyle("ramp", "npp", *self.stretch(st)), context, "Annual NPP")
        outputs = {"OUTPUT": out_path, "OUTPUT_MONTHLY": monthly_path, "VALID_PIXELS": int(st.count),
                   "MEAN_NPP": float(st.mean) if st.count else None}
        if monthly_path:
            top = max((self.stretch(s)[1] for s in done.stats["OUTPUT_MONTHLY"] if s.count), default=1.0)
            style_output(monthly_path, RasterStyle("ramp", "npp", 0.0, top), context, "Monthly NPP")
        names_by_code = {code: cls.name for code, cls in table.items()}
        rows_out = []
        for row in stats.rows(names_by_code):
            code = row["code"]
            rows_out.append((code, OVERALL if code is None else row["name"], row["n"], row["mean"], row["sd"],
                             row["cv"]))
        for r in rows_out:
            feedback.pushInfo(f"{r[1]}: {r[2]} px, mean {r[3]:.2f}, sd {r[4]:.2f} gC m-2 yr-1, cv {r[5]:.1f} %")
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, rows_out)
        feedback.setProgress(100)
        return outputs

    @staticmethod
    def block_shape(grid, months):
        """(rows, cols) of the blocks: the engine's strips, narrowed to whole tiles (each input tile is then read
        once) so that all months of all inputs and the intermediates of one block stay within BLOCK_BUDGET_BYTES."""
        rows = engine.DEFAULT_BLOCK_ROWS
        cols = min(engine.DEFAULT_BLOCK_COLS or grid.width, grid.width)
        pixels = max(1, BLOCK_BUDGET_BYTES // (WORK_BYTES_PER_PIXEL_MONTH * months))
        if rows * cols > pixels:
            cols = max(engine.TILE, pixels // rows // engine.TILE * engine.TILE)
            rows = max(1, min(rows, pixels // cols))
        return rows, cols

    @staticmethod
    def stretch(st):
        """Ramp limits: the valid range cut to mean +- 2.5 sd (contrast within a scene), never below 0."""
        if not st.count:
            return 0.0, 1.0
        lo = max(st.minimum, st.mean - 2.5 * st.std, 0.0)
        hi = min(st.maximum, st.mean + 2.5 * st.std)
        return lo, hi if hi > lo else lo + 1.0

    @staticmethod
    def scratch_path(out_path):
        """A new hidden file name for a scratch GeoTIFF beside the (staged) output."""
        folder = os.path.dirname(os.path.abspath(out_path))
        try:
            fd, path = tempfile.mkstemp(prefix=".casa-landcover-", suffix=".tif", dir=folder)
        except OSError as err:
            raise ValueError(f"OUTPUT: cannot create a temporary file in {folder} ({err.strerror}). Choose a "
                             "writable folder.") from None
        os.close(fd)
        return path
