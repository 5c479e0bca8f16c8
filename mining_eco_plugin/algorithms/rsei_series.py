"""RSEI of every year of a series of composites, resumable, with trend, summary and transfer matrices
(miningeco:rseiseries, issue 13 item 3).

Each year is computed by the code of ``miningeco:rsei`` (RseiAlgorithm.component_pass on the year's composite read
as reflectance with thermal in kelvin, then RseiBase.compute_rsei): the same orientation rule, sampling and grades.
The trend, the time-series summary and the transfer matrices are the tools ``trend``, ``timeseries`` and
``transfermatrix`` run as child algorithms on the yearly files.

Years are committed into OUTPUT_FOLDER one by one (each year's two rasters through a transaction of their own, so a
year is there whole or not at all) and recorded in a sidecar JSON (SIDECAR): a re-run with the same settings skips
the years already done. This is the one exception to "a failed run leaves nothing": the completed years stay.
"""
from __future__ import annotations

import json
import os
import re

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputFile,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterString,
)

from .. import compat
from ..core import rsei as core
from ..core import trend as trend_core
from ..core import timeseries as timeseries_core
from ..core.cancel import Cancelled
from ..raster.engine import Canceled, raster_info, raster_metadata
from ..raster.outputs import OutputTransaction, check_folder_destination, create_file
from .base import MiningEcoAlgorithm
from .destinations import RASTER_COMPANIONS
from .references import cite
from .rsei import NoValidPixel, RseiAlgorithm
from .scene_algorithm import WET_SETS
from .composite import (add_composite_parameters, composite_settings, make_composites, plan_periods,
                        prepare_periods, products_given, settings_record)
from .scene_params import RADIOMETRY_OPTIONS, SENSOR_KEYS

SIDECAR = "rsei_series.json"
SIDECAR_VERSION = 1
YEAR_MIN, YEAR_MAX = 1972, 2100
WET_SET_KEYS = ("OLI", "TM", "ETM")
DEFAULT_WET_SET = "OLI"
#: dataset metadata written by miningeco:composite
META_PERIOD, META_WET_SET = "MINING_ECO_PERIOD", "MINING_ECO_WET_SET"
LOADING_FIELDS = tuple(f"loading_{n.lower()}" for n in core.COMPONENTS)
AREA_FIELDS = tuple(f"area_km2_{label.lower()}" for label in core.GRADE_LABELS)
TABLE_FIELDS = ((("year", int), ("mean_rsei", float), ("pc1_share", float))
                + tuple((f, float) for f in LOADING_FIELDS) + tuple((f, float) for f in AREA_FIELDS)
                + (("valid_pixels", int),))
GRADE_NAMES = ",".join(f"{i + 1}={label}" for i, label in enumerate(core.GRADE_LABELS))
TREND_FILES = (("OUTPUT_SLOPE", "trend_slope.tif"), ("OUTPUT_CLASS", "trend_class.tif"), ("OUTPUT_Z", "trend_z.tif"),
               ("OUTPUT_P", "trend_p.tif"), ("OUTPUT_S", "trend_s.tif"), ("OUTPUT_COUNT", "trend_count.tif"),
               ("OUTPUT_TABLE", "trend_areas.csv"))
TIMESERIES_FILES = (("OUTPUT_TABLE", "timeseries.csv"), ("OUTPUT_PLOT", "timeseries.png"),
                    ("OUTPUT_REPORT", "timeseries.html"))
YEARS_SHARE = 90.0          # progress: the years take 0-90 %, trend / summary / transfer the rest
COMPOSITE_SHARE = 45.0      # from products: compositing takes 0-45 %, the years 45-90 %
COMPOSITE_FOLDER = "composites"

SUMMARY = (
    "RSEI of every year of a series, each year with its own normalisation and PCA, computed exactly as RSEI from a "
    "scene, with grades; optionally in the same run the per-pixel trend (Theil-Sen + Mann-Kendall), the time-series "
    "summary of the yearly mean RSEI and transfer matrices of the grades between chosen years.\n"
    "Inputs: one composite per year (year from MINING_ECO_PERIOD, else a year in the file name; wetness set from "
    "MINING_ECO_WET_SET, else OLI), or Landsat / Sentinel-2 products with the scene composite tool's settings, "
    "composited per year into OUTPUT_FOLDER/composites in the same run.\n"
    "Outputs in OUTPUT_FOLDER: rsei_YYYY.tif, rsei_grades_YYYY.tif, trend_*.tif, timeseries.*, transfer_Y1_Y2.*; a "
    "table of years (mean RSEI, PC1 share, loadings, grade areas) and a report.\n"
    f"Resumable: each year is kept as soon as it is complete and recorded in {SIDECAR}; a re-run with the same "
    "folder and settings skips the years done, so unlike the other tools a failed or cancelled run keeps them.")


def year_in_name(name: str):
    """The first stand-alone 4-digit number in ``name`` that is a year 1972-2100 (``composite_2005.tif``), or
    None; digits that belong to a longer number (a date 20130707, a path/row 195025) do not count."""
    for m in re.finditer(r"(?<![0-9])([0-9]{4})(?![0-9])", name):
        if YEAR_MIN <= int(m.group(1)) <= YEAR_MAX:
            return int(m.group(1))
    return None


def composite_year(path: str, label: str) -> int:
    """The year of a composite: its MINING_ECO_PERIOD metadata, else a year in its file name; ValueError naming
    ``label`` otherwise."""
    meta = raster_metadata(path, "COMPOSITES")
    text = (meta.get(META_PERIOD) or "").strip()
    if text:
        if not re.fullmatch(r"[0-9]{4}", text) or not YEAR_MIN <= int(text) <= YEAR_MAX:
            raise ValueError(f"COMPOSITES: {label} has {META_PERIOD}={text!r}, not a year {YEAR_MIN}-{YEAR_MAX}. "
                             "Fix the composite's metadata or rebuild it.")
        return int(text)
    year = year_in_name(os.path.basename(path))
    if year is None:
        raise ValueError(f"COMPOSITES: no year found for {label}: it has no {META_PERIOD} metadata and no year "
                         f"{YEAR_MIN}-{YEAR_MAX} in its file name. Rename it, e.g. composite_2005.tif.")
    return year


def composite_wet_set(path: str, label: str) -> str:
    """The tasselled-cap wetness set of a composite (MINING_ECO_WET_SET), OLI when it has none."""
    text = (raster_metadata(path, "COMPOSITES").get(META_WET_SET) or "").strip().upper()
    if not text:
        return DEFAULT_WET_SET
    if text not in WET_SET_KEYS:
        raise ValueError(f"COMPOSITES: {label} has {META_WET_SET}={text!r}; use one of {', '.join(WET_SET_KEYS)}.")
    return text


def fingerprint(path: str) -> dict:
    st = os.stat(path)
    return {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _same_file(record: dict, path: str) -> bool:
    try:
        return record == fingerprint(path)
    except OSError:
        return False


def parse_transfer_years(text: str, years) -> list[int]:
    """The years of TRANSFER_YEARS ("2000,2012,2024"), checked against the series' ``years``; [] when empty."""
    items = [t for t in re.split(r"[,;\s]+", text or "") if t]
    if not items:
        return []
    chosen = []
    for t in items:
        if not re.fullmatch(r"[0-9]{4}", t):
            raise ValueError(f"TRANSFER_YEARS: {t!r} is not a year; write years of the series such as 2000,2012,2024.")
        chosen.append(int(t))
    if len(chosen) < 2:
        raise ValueError("TRANSFER_YEARS: give at least two years (matrices go between consecutive years given).")
    if any(b <= a for a, b in zip(chosen, chosen[1:])):
        raise ValueError("TRANSFER_YEARS: give the years in increasing order, each once, e.g. 2000,2012,2024.")
    missing = [y for y in chosen if y not in years]
    if missing:
        raise ValueError(f"TRANSFER_YEARS: {', '.join(map(str, missing))} not in the series "
                         f"({', '.join(map(str, years))}). Choose years that have a composite.")
    return chosen


class RseiSeriesAlgorithm(MiningEcoAlgorithm):
    ID = "rseiseries"
    NAME = "RSEI series (one composite per year)"
    GROUP = "ecology"
    SUMMARY = SUMMARY
    SOURCE = cite("xu2013", "han2025")
    SHORT_DESCRIPTION = ("RSEI of every year of a series of composites, resumable, with trend, time-series summary "
                         "and transfer matrices")
    TAGS = ("rsei", "rsei series", "time series", "yearly", "annual", "composite", "trend", "transfer matrix",
            "resume", "batch")
    #: written year by year into the folder (not staged by the run's transaction): see the module docstring
    UNSTAGED_OUTPUTS = ("OUTPUT_FOLDER",)

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterMultipleLayers("COMPOSITES", "Composites (one per year)",
                                                      compat.ProcessingSourceType.Raster, optional=True),
                 "Multi-band rasters with bands named blue green red nir swir1 swir2 thermal (reflectance 0-1, "
                 f"thermal in kelvin), as the scene composite tool writes them. Year: {META_PERIOD} metadata, else "
                 f"a year {YEAR_MIN}-{YEAR_MAX} in the file name. With qgis_process repeat the key. Give COMPOSITES, "
                 "or PRODUCTS / PRODUCT_FOLDER with the compositing settings below.")
        add_composite_parameters(self)
        self.add(QgsProcessingParameterBoolean("WATER_MASK", "Mask water (MNDWI)", defaultValue=True),
                 "Exclude water pixels (MNDWI above the threshold) before normalisation and PCA, every year.")
        rsei = RseiAlgorithm()
        rsei.initAlgorithm({})
        for name in ("MNDWI_THRESHOLD", "CLIP_PERCENT", "SAMPLE_SIZE", "SEED"):     # the same as miningeco:rsei
            d = rsei.parameterDefinition(name)
            advanced = bool(d.flags() & compat.ProcessingParameterFlag.Advanced)
            self.add(d.clone(), d.help(), advanced=advanced)
        self.add(QgsProcessingParameterBoolean("TREND", "Per-pixel trend of the yearly RSEI", defaultValue=True),
                 "Theil-Sen slope and Mann-Kendall test per pixel (the trend tool, 95 %, at least 3 valid years) "
                 "written as trend_*.tif and trend_areas.csv. Needs 3 years or more.")
        self.add(QgsProcessingParameterBoolean("TIMESERIES", "Time-series summary of the yearly mean RSEI",
                                               defaultValue=True),
                 "Linear, two-segment and quadratic fits of the yearly mean RSEI (the time-series summary tool) "
                 "written as timeseries.csv / .png / .html. Needs 4 years or more.")
        self.add(QgsProcessingParameterString("TRANSFER_YEARS", "Years of the grade transfer matrices", optional=True,
                                              defaultValue=""),
                 "E.g. 2000,2012,2024: transfer matrices of the RSEI grades between consecutive years given (the "
                 "transfer matrix tool), written as transfer_Y1_Y2.csv / .tif / _legend.csv / .png. Empty: none.")
        self.add_output(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"),
                        f"Receives rsei_YYYY.tif, rsei_grades_YYYY.tif (styled), {SIDECAR} (settings and the "
                        "years done, for resuming) and the trend, summary and transfer files. Years are written as "
                        "they complete and stay if the run fails later.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "RSEI per year",
                                                          compat.ProcessingSourceType.Vector),
                        "Table, one row per year: year, mean_rsei, pc1_share, the PC1 loadings of NDVI, WET, NDBSI "
                        "and LST, area_km2 of each grade (worst ... excellent) and valid_pixels.")
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Series report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "HTML report: the composites and their years, the settings, which years were computed or "
                        "skipped, the table of years and the files written.")
        self.add_result(QgsProcessingOutputMultipleLayers("RSEI_LAYERS", "Yearly RSEI rasters"),
                        "The rsei_YYYY.tif files, in year order (e.g. for the trend tool in a model).")
        self.add_result(QgsProcessingOutputMultipleLayers("GRADE_LAYERS", "Yearly RSEI grade rasters"),
                        "The rsei_grades_YYYY.tif files, in year order.")
        self.add_result(QgsProcessingOutputString("YEARS", "Years"), "The years of the series, comma separated.")
        self.add_result(QgsProcessingOutputNumber("YEARS_COMPUTED", "Years computed in this run"),
                        "Years whose RSEI this run computed.")
        self.add_result(QgsProcessingOutputNumber("YEARS_SKIPPED", "Years skipped (already done)"),
                        f"Years found complete in OUTPUT_FOLDER ({SIDECAR}) and not computed again.")
        self.add_result(QgsProcessingOutputRasterLayer("TREND_SLOPE", "Trend: Theil-Sen slope"),
                        "trend_slope.tif (with TREND).")
        self.add_result(QgsProcessingOutputRasterLayer("TREND_CLASS", "Trend: class"),
                        "trend_class.tif: 1 significant decrease, 2 no significant change, 3 significant increase.")
        self.add_result(QgsProcessingOutputFile("TIMESERIES_REPORT", "Time-series report"),
                        "timeseries.html (with TIMESERIES).")
        self.add_result(QgsProcessingOutputFile("TIMESERIES_TABLE", "Time-series statistics"),
                        "timeseries.csv (with TIMESERIES).")
        self.add_result(QgsProcessingOutputMultipleLayers("TRANSFER_MATRICES", "Transfer matrices"),
                        "transfer_Y1_Y2.csv of each pair of TRANSFER_YEARS.")

    # -- inputs -----------------------------------------------------------------------------------------------
    def yearly_composites(self, parameters, context, feedback):
        """[(year, composite path)] in year order: the one seam between the inputs and the series (the products
        mode of issue 13 composites products into this list)."""
        layers = self.parameterAsLayerList(parameters, "COMPOSITES", context)
        if not layers:
            raise ValueError("COMPOSITES: give the composites, one raster per year.")
        found = {}
        for layer in layers:
            path = layer.source().split("|")[0]
            label = f"{layer.name()} ({path})" if layer.name() and layer.name() not in path else path
            year = composite_year(path, label)
            if year in found:
                raise ValueError(f"COMPOSITES: {found[year]} and {path} are both year {year}. Give one composite per "
                                 "year.")
            found[year] = path
        return sorted(found.items())

    def series_settings(self, parameters, context) -> dict:
        """The settings that make a year's RSEI (recorded in the sidecar; another value means another series)."""
        return {"WATER_MASK": self.parameterAsBoolean(parameters, "WATER_MASK", context),
                "MNDWI_THRESHOLD": self.parameterAsDouble(parameters, "MNDWI_THRESHOLD", context),
                "CLIP_PERCENT": self.parameterAsDouble(parameters, "CLIP_PERCENT", context),
                "SAMPLE_SIZE": self.parameterAsInt(parameters, "SAMPLE_SIZE", context),
                "SEED": self.parameterAsInt(parameters, "SEED", context)}

    # -- the sidecar ------------------------------------------------------------------------------------------
    @staticmethod
    def read_sidecar(folder):
        path = os.path.join(folder, SIDECAR)
        if not os.path.exists(path):
            return None
        try:
            with open(path, encoding="utf-8") as fh:
                state = json.load(fh)
            if not isinstance(state, dict) or not isinstance(state.get("years"), dict) or \
                    not isinstance(state.get("settings"), dict):
                raise ValueError("not a series record")
        except (OSError, ValueError) as err:
            raise ValueError(f"OUTPUT_FOLDER: {path} cannot be read as the record of an RSEI series ({err}). "
                             "Delete it to compute every year again, or choose another folder.") from None
        return state

    @staticmethod
    def write_sidecar(folder, state):
        """Write the record atomically (a new file moved over the old one)."""
        fd, tmp = create_file(folder, ".rsei_series-", ".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(state, fh, indent=1, sort_keys=True)
            os.replace(tmp, os.path.join(folder, SIDECAR))
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @staticmethod
    def year_done(record, folder, path):
        """True when ``record`` (the sidecar's entry of a year) says the year is complete for this very input and
        its output files are still as they were written."""
        if not isinstance(record, dict) or not _same_file(record.get("input"), path):
            return False
        outputs = record.get("outputs") or {}
        return bool(outputs) and all(_same_file(fp, os.path.join(folder, name)) for name, fp in outputs.items())

    # -- one year ---------------------------------------------------------------------------------------------
    def run_year(self, year, path, folder, settings, context, feedback, start, end):
        """RSEI of one year by miningeco:rsei's own code, its two rasters committed into ``folder`` together;
        the sidecar entry of the year."""
        wet = composite_wet_set(path, path)
        if "thermal" not in [n.strip().lower() for n in raster_info(path, "COMPOSITES")[2]]:
            raise NoValidPixel("the composite has no thermal band (its products have none), and RSEI needs heat.")
        helper = RseiAlgorithm()
        helper.initAlgorithm({})
        params = {"SCENE": path, "SENSOR": SENSOR_KEYS.index("L8"),
                  "RADIOMETRY": [k for k, _ in RADIOMETRY_OPTIONS].index("REFLECTANCE"),
                  "WET_COEFFICIENTS": [k for k, _ in WET_SETS].index(wet),
                  "WATER_MASK": settings["WATER_MASK"], "MNDWI_THRESHOLD": settings["MNDWI_THRESHOLD"]}
        feedback.pushInfo(f"year {year}: RSEI of {path} (wetness coefficients {wet})")
        names = {"rsei": f"rsei_{year}.tif", "grades": f"rsei_grades_{year}.tif"}
        with OutputTransaction() as txn:
            staged = {k: txn.stage_file(os.path.join(folder, n), "OUTPUT_FOLDER", RASTER_COMPANIONS)
                      for k, n in names.items()}
            run = helper.compute_rsei(helper.component_pass(params, context), staged["rsei"], staged["grades"],
                                      context, feedback, clip=settings["CLIP_PERCENT"],
                                      target=settings["SAMPLE_SIZE"], seed=settings["SEED"], start=start, end=end)
            txn.commit()
        loadings = run.result.loadings[:, 0]
        row = {"year": int(year), "mean_rsei": float(run.mean_rsei), "pc1_share": float(run.share),
               **{f: float(v) for f, v in zip(LOADING_FIELDS, loadings)},
               **{f: float(r["area_km2"]) for f, r in zip(AREA_FIELDS, run.grade_rows)},
               "valid_pixels": int(run.n_valid)}
        feedback.pushInfo(f"year {year}: mean RSEI {run.mean_rsei:.4f}, PC1 share {run.share:.3f}; written")
        return {"input": fingerprint(path), "wet_set": wet, "row": row,
                "outputs": {n: fingerprint(os.path.join(folder, n)) for n in names.values()}}

    # -- run --------------------------------------------------------------------------------------------------
    def run_tool(self, parameters, context, feedback):
        from_products = products_given(self, parameters, context)
        if from_products and parameters.get("COMPOSITES"):
            raise ValueError("COMPOSITES and PRODUCTS / PRODUCT_FOLDER were both given: give the composites, or the "
                             "products to composite, not both.")
        settings = self.series_settings(parameters, context)
        if from_products:
            csettings = composite_settings(self, parameters, context)
            settings["COMPOSITE"] = settings_record(csettings)
            periods = plan_periods(csettings, feedback)
            years = [p.year for p in periods]
        else:
            composites = self.yearly_composites(parameters, context, feedback)
            years = [y for y, _ in composites]
            for _year, path in composites:          # metadata errors before any year is computed
                composite_wet_set(path, path)
        trend = self.parameterAsBoolean(parameters, "TREND", context)
        summary = self.parameterAsBoolean(parameters, "TIMESERIES", context)
        transfer = parse_transfer_years(self.parameterAsString(parameters, "TRANSFER_YEARS", context), years)
        for flag, pid, needed in ((trend, "TREND", trend_core.MIN_DATES),
                                  (summary, "TIMESERIES", timeseries_core.MIN_POINTS)):
            if flag and len(years) < needed:
                raise ValueError(f"{pid}: needs at least {needed} years, the series has {len(years)} "
                                 f"({', '.join(map(str, years))}). Add {'products' if from_products else 'composites'}"
                                 f" or switch {pid} off.")
        folder = os.path.abspath(self.parameterAsFileOutput(parameters, "OUTPUT_FOLDER", context))
        made = check_folder_destination(folder, "OUTPUT_FOLDER")     # the folders this run makes, outermost first
        state = self.read_sidecar(folder) if os.path.isdir(folder) else None
        if state is not None and state["settings"] != settings:
            changed = ", ".join(f"{k} {state['settings'].get(k)} -> {v}" for k, v in settings.items()
                                if state["settings"].get(k) != v)
            raise ValueError(f"OUTPUT_FOLDER: {folder} holds an RSEI series made with other settings ({changed}); "
                             "resuming it would mix them. Choose another folder, or delete "
                             f"{os.path.join(folder, SIDECAR)} to compute every year again.")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise ValueError(f"OUTPUT_FOLDER: cannot make the folder {folder} ({err.strerror}).") from None
        state = state or {"tool": f"miningeco:{self.ID}", "version": SIDECAR_VERSION, "settings": settings,
                          "years": {}}
        if from_products:
            try:
                composites = self.composite_products(csettings, periods, folder, state, feedback)
            except BaseException as err:
                done_years = sorted(state.get("composites") or {})
                if not done_years:
                    self._remove_made(made)
                if isinstance(err, (Canceled, Cancelled)):
                    kept = (f" The composites done ({', '.join(done_years)}) stay in {folder}; run again with the "
                            "same folder and settings to resume after them.") if done_years else ""
                    raise QgsProcessingException(f"{self.NAME}: cancelled by the user.{kept}") from None
                raise
            years = [y for y, _ in composites]
            transfer = parse_transfer_years(self.parameterAsString(parameters, "TRANSFER_YEARS", context), years)
        done, computed, skipped = {}, [], []
        if not composites:
            raise ValueError("PRODUCTS: no period has a composite (see the log: products outside the study area or "
                             "the date window).")
        base = COMPOSITE_SHARE if from_products else 0.0
        span = (YEARS_SHARE - base) / len(composites)
        try:
            self._years(composites, folder, settings, state, done, computed, skipped, (base, span), context,
                        feedback)
        except BaseException:
            if not computed and not skipped and not state.get("composites"):     # nothing completed
                self._remove_made(made)
            raise
        empty = [y for y in years if done[y].get("empty")]
        years = [y for y in years if y not in empty]
        self.check_years_left(years, empty, trend, summary, transfer)
        rows = [done[y]["row"] for y in years]
        rsei = [os.path.join(folder, f"rsei_{y}.tif") for y in years]
        grades = [os.path.join(folder, f"rsei_grades_{y}.tif") for y in years]
        outputs = {"OUTPUT_FOLDER": folder, "RSEI_LAYERS": rsei, "GRADE_LAYERS": grades,
                   "YEARS": ",".join(map(str, years)), "YEARS_COMPUTED": len(computed), "YEARS_SKIPPED": len(skipped)}
        files = self.run_extras(folder, years, rsei, grades, trend, summary, transfer, context, feedback, outputs)
        outputs["OUTPUT_TABLE"] = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS,
                                                   [[r[f] for f, _ in TABLE_FIELDS] for r in rows])
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        if report:
            outputs["OUTPUT_REPORT"] = self.write_report(report, composites, done, computed, skipped, rows,
                                                         settings, files)
        feedback.setProgress(100)
        return outputs

    def _years(self, composites, folder, settings, state, done, computed, skipped, steps, context, feedback):
        """Each year in turn: skipped when the sidecar says it is complete, else computed, committed and recorded
        (``done``, ``computed``, ``skipped`` filled in place)."""
        base, span = steps
        try:
            for k, (year, path) in enumerate(composites):
                if feedback.isCanceled():
                    raise Canceled()
                record = state["years"].get(str(year))
                if self.year_done(record, folder, path):
                    feedback.pushInfo(f"year {year}: already done, skipped")
                    skipped.append(year)
                elif isinstance(record, dict) and record.get("empty") and _same_file(record.get("input"), path):
                    feedback.pushWarning(f"year {year}: no RSEI ({record['empty']}), left out of the series "
                                         "(COMPOSITES)")
                    skipped.append(year)
                else:
                    try:
                        record = self.run_year(year, path, folder, settings, context, feedback, base + k * span,
                                               base + (k + 1) * span)
                    except NoValidPixel as err:       # a year without a usable pixel (all cloud): left out
                        msg = err.args[0] if err.args else str(err)
                        feedback.pushWarning(f"year {year}: no RSEI ({msg}), left out of the series (COMPOSITES, "
                                             f"{path})")
                        record = {"input": fingerprint(path), "empty": msg}
                    except ValueError as err:
                        msg = err.args[0] if err.args else str(err)
                        raise ValueError(f"COMPOSITES, year {year} ({path}): {msg}"
                                         f"{self._kept(computed, skipped, folder)}") from None
                    state["years"][str(year)] = record
                    self.write_sidecar(folder, state)
                    computed.append(year)
                done[year] = record
                feedback.setProgress(base + (k + 1) * span)
        except (Canceled, Cancelled):
            raise QgsProcessingException(f"{self.NAME}: cancelled by the user.{self._kept(computed, skipped, folder)}"
                                         ) from None

    @staticmethod
    def check_years_left(years, empty, trend, summary, transfer):
        """ValueError when the years left out (no valid pixel) leave too few for what was asked."""
        if not empty:
            return
        why = (f"; {', '.join(map(str, empty))} had no valid pixel (all cloud, nodata or water) and are left out. "
               "The yearly RSEI stay in OUTPUT_FOLDER")
        if not years:
            raise ValueError(f"COMPOSITES: no year has RSEI{why}.")
        for flag, pid, needed in ((trend, "TREND", trend_core.MIN_DATES),
                                  (summary, "TIMESERIES", timeseries_core.MIN_POINTS)):
            if flag and len(years) < needed:
                raise ValueError(f"{pid}: needs at least {needed} years, {len(years)} have RSEI{why}; switch {pid} "
                                 "off or add years.")
        lost = [y for y in transfer if y in empty]
        if lost:
            raise ValueError(f"TRANSFER_YEARS: {', '.join(map(str, lost))} has no RSEI{why}; choose other years.")

    @staticmethod
    def _remove_made(made):
        """Remove the (empty) folders this run made, innermost first."""
        for path in reversed(made):
            try:
                os.rmdir(path)
            except OSError:
                pass

    def composite_products(self, csettings, periods, folder, state, feedback):
        """[(year, composite path)]: the products composited per period into OUTPUT_FOLDER/composites (the tool
        miningeco:composite's own code), each year's composite recorded in the sidecar (its file and the ids of its
        products) as it is written; a year whose composite is recorded for the same products and unchanged is not
        composited again. Only recorded composites are used (never a stale file of another run)."""
        target = os.path.join(folder, COMPOSITE_FOLDER)
        os.makedirs(target, exist_ok=True)
        record = state.setdefault("composites", {})
        name = "composite_{year}.tif"

        def path_of(year):
            return os.path.join(target, name.format(year=year))

        def ids(period):
            return sorted(p.product_id for p in period.products)

        def done(period):
            entry = record.get(str(period.year))
            return isinstance(entry, dict) and entry.get("products") == ids(period) and \
                _same_file(entry.get("file"), path_of(period.year))

        grid, periods = prepare_periods(csettings, periods, feedback, grid_record=state)
        todo = {p.year for p in periods if not done(p)}
        for year in sorted({p.year for p in periods} - todo):
            feedback.pushInfo(f"year {year}: composite already done, skipped")

        def written(period):
            record[str(period.year)] = {"file": fingerprint(period.path), "products": ids(period)}
            self.write_sidecar(folder, state)

        try:
            if todo:
                make_composites(self, csettings, target, feedback, 0.0, COMPOSITE_SHARE, years=todo,
                                periods=periods, on_period=written, prepared=(grid, periods))
        finally:
            try:
                os.rmdir(target)            # only when empty
            except OSError:
                pass
        feedback.setProgress(COMPOSITE_SHARE)
        return [(p.year, path_of(p.year)) for p in periods if done(p)]

    @staticmethod
    def _kept(computed, skipped, folder):
        kept = sorted(computed + skipped)
        if not kept:
            return " No year was completed."
        return (f" The years completed ({', '.join(map(str, kept))}) stay in {folder}; run again with the same "
                "folder and settings to resume after them.")

    # -- trend, summary, transfer: the tools themselves, as child algorithms -----------------------------------
    def _child(self, alg_id, params, context, feedback, label):
        import processing
        try:
            return processing.run(f"miningeco:{alg_id}", params, context=context, feedback=feedback,
                                  is_child_algorithm=True)
        except QgsProcessingException as err:
            raise ValueError(f"{label}: the {alg_id} tool failed on the yearly results ({err}). The years stay in "
                             "OUTPUT_FOLDER; a re-run resumes after them.") from None

    def run_extras(self, folder, years, rsei, grades, trend, summary, transfer, context, feedback, outputs):
        """Run trend / timeseries / transfermatrix on the yearly files, writing into ``folder`` through the run's
        transaction (committed with the table and report at the end); the destinations written."""
        txn = self._outputs

        def staged(name):
            return txn.stage_file(os.path.join(folder, name), "OUTPUT_FOLDER",
                                  RASTER_COMPANIONS if name.endswith(".tif") else ())
        text_years = ",".join(map(str, years))
        written = []
        if trend:
            feedback.pushInfo("Per-pixel trend of the yearly RSEI (miningeco:trend)")
            params = {"INPUTS": rsei, "YEARS": text_years, **{pid: staged(n) for pid, n in TREND_FILES}}
            res = self._child("trend", params, context, feedback, "TREND")
            outputs["TREND_SLOPE"], outputs["TREND_CLASS"] = res["OUTPUT_SLOPE"], res["OUTPUT_CLASS"]
            written += [n for _, n in TREND_FILES]
        feedback.setProgress(YEARS_SHARE + 3)
        if summary:
            feedback.pushInfo("Time-series summary of the yearly mean RSEI (miningeco:timeseries)")
            params = {"RASTERS": rsei, "YEARS": text_years, **{pid: staged(n) for pid, n in TIMESERIES_FILES}}
            res = self._child("timeseries", params, context, feedback, "TIMESERIES")
            outputs["TIMESERIES_TABLE"], outputs["TIMESERIES_REPORT"] = res["OUTPUT_TABLE"], res["OUTPUT_REPORT"]
            written += [n for _, n in TIMESERIES_FILES]
        feedback.setProgress(YEARS_SHARE + 6)
        matrices = []
        for a, b in zip(transfer, transfer[1:]):
            feedback.pushInfo(f"Transfer matrix of the grades {a} -> {b} (miningeco:transfermatrix)")
            stem = f"transfer_{a}_{b}"
            names = {"OUTPUT_MATRIX": f"{stem}.csv", "OUTPUT_CHANGE": f"{stem}.tif",
                     "OUTPUT_LEGEND": f"{stem}_legend.csv", "OUTPUT_HEATMAP": f"{stem}.png"}
            params = {"DATE1": grades[years.index(a)], "DATE2": grades[years.index(b)], "CLASS_NAMES": GRADE_NAMES,
                      **{pid: staged(n) for pid, n in names.items()}}
            matrices.append(self._child("transfermatrix", params, context, feedback, "TRANSFER_YEARS")["OUTPUT_MATRIX"])
            written += list(names.values())
        if transfer:
            outputs["TRANSFER_MATRICES"] = matrices
        return written

    # -- report -----------------------------------------------------------------------------------------------
    def write_report(self, path, composites, done, computed, skipped, rows, settings, files):
        from ..reports.html import write_html_report
        inputs = [{"year": y, "composite": p, "wetness coefficients": done[y].get("wet_set", ""),
                   "this run": "computed" if y in computed else "already done, skipped"} for y, p in composites]
        table = [{"year": r["year"], "mean RSEI": r["mean_rsei"], "PC1 share": r["pc1_share"],
                  **{f"PC1 {n}": r[f] for n, f in zip(core.COMPONENTS, LOADING_FIELDS)},
                  **{f"{label} km2": r[f] for label, f in zip(core.GRADE_LABELS, AREA_FIELDS)}} for r in rows]
        write_html_report(path, "RSEI series", [
            ("About", "RSEI of each year (Xu 2013; " + cite("han2025") + "), each year normalised and oriented on "
                      "its own, computed by the code of RSEI from a scene on the year's composite."),
            ("Composites", inputs),
            ("Settings", dict(settings)),
            ("Years", table),
            ("Files in the output folder", ", ".join(
                [f"rsei_{y}.tif, rsei_grades_{y}.tif" for y, _ in composites] + files + [SIDECAR])),
        ])
        return path

