"""Scene composite: cloud-masked seasonal composites of many Landsat / Sentinel-2 products, mosaicked onto one
target grid and clipped to a study area (issue 13, item 2). The settings are shared with the RSEI series
(``add_composite_parameters`` / ``composite_settings`` / ``make_composites``)."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from functools import partial

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterCrs,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSink,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
)

from .. import compat
from ..core import composite as core
from ..core.product_meta import ProductError
from ..core.scene import LstOptions, product_radiometry
from ..core.sensors import SENSORS
from ..raster import composite as grid_tools
from ..raster.engine import BandRef, Canceled, grid_of, open_raster
from ..raster.executor import BlockPass, OutputSpec, add
from ..raster.products import open_product, search_products
from .base import MiningEcoAlgorithm
from .references import cite

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
METHOD_TITLES = (("medoid", "Medoid (all bands from one date; default)"), ("median", "Median of each band"),
                 ("maxndvi", "Maximum NDVI"), ("bap", "Best available pixel (Griffiths et al. 2013 scores)"))
CONFIDENCE = (("none", "Not masked"), ("low", "Low or higher"), ("medium", "Medium or higher"),
              ("high", "High"))
CONFIDENCE_LEVEL = {"none": None, "low": core.LOW, "medium": core.MEDIUM, "high": core.HIGH}
HARMONISE = (("auto", "When Landsat 5/7 and Landsat 8/9 are mixed"), ("always", "Always (Landsat 5/7)"),
             ("never", "Never"))
RESAMPLINGS = ("nearest", "bilinear", "cubic", "average")
BLOCK = 256                      # composite blocks: 256 x 256 pixels of the target grid
MAX_DILATION = 100
BAP_REQUIRED_M = 3000.0          # FORCE's DREQ (metres): the cloud distance that scores ~1
TABLE_FIELDS = (("period", int), ("window_start", str), ("window_end", str), ("scenes", int), ("scene_ids", str),
                ("method", str), ("mean_clear_obs", float), ("min_clear_obs", int), ("max_clear_obs", int),
                ("no_clear_percent", float), ("area_pixels", int), ("harmonised", str), ("wet_set", str),
                ("file", str))
PRODUCT_HELP = ("Landsat products as their *_MTL.txt / .xml / .json or .tar, Sentinel-2 L2A as MTD_MSIL2A.xml "
                "(inside the .SAFE folder) or .zip.")


def add_composite_parameters(alg, optional_products=True):
    """The compositing settings (products, date window, masks, method, grid), for composite and series tools."""
    alg.add(QgsProcessingParameterMultipleLayers("PRODUCTS", "Products (files)", compat.ProcessingSourceType.File,
                                                 optional=True),
            PRODUCT_HELP + " Give PRODUCTS, PRODUCT_FOLDER or both.")
    alg.add(QgsProcessingParameterFile("PRODUCT_FOLDER", "Folder of products (searched recursively)",
                                       QgsProcessingParameterFile.Behavior.Folder, optional=True),
            "Every product below this folder: " + PRODUCT_HELP)
    alg.add(QgsProcessingParameterNumber("YEAR_FIRST", "First year (0 = from the products)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=2100),
            "Periods are named by the year in which their date window starts.")
    alg.add(QgsProcessingParameterNumber("YEAR_LAST", "Last year (0 = from the products)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=2100), "")
    alg.add(QgsProcessingParameterEnum("MONTH_FIRST", "Season: first month", MONTHS, defaultValue=5),
            "The date window in each year (default June-September, the peak vegetation season). A first month "
            "after the last crosses New Year.")
    alg.add(QgsProcessingParameterEnum("MONTH_LAST", "Season: last month", MONTHS, defaultValue=8), "")
    alg.add(QgsProcessingParameterNumber("DOY_FIRST", "Season: first day of year (0 = use the months)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=366),
            "A day-of-year window instead of the months (both DOY values must be given).", advanced=True)
    alg.add(QgsProcessingParameterNumber("DOY_LAST", "Season: last day of year (0 = use the months)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=366), "", advanced=True)
    alg.add(QgsProcessingParameterEnum("METHOD", "Compositing method", [t for _, t in METHOD_TITLES],
                                       defaultValue=0),
            "Medoid: the observation closest to the band medians, so all bands (and the thermal band) come from one "
            "date, as RSEI's wetness needs. Median: per band. Maximum NDVI. Best available pixel: day-of-year and "
            "cloud-distance scores (Griffiths et al. 2013, with FORCE's defaults).")
    alg.add(QgsProcessingParameterNumber("TARGET_DOY", "Best available pixel: target day of year (0 = middle of "
                                         "the season)", compat.ProcessingNumberParameterType.Integer, defaultValue=0,
                                         minValue=0, maxValue=366), "", advanced=True)
    alg.add(QgsProcessingParameterEnum("CLOUD_CONFIDENCE", "Mask clouds of confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=2),
            "Landsat Collection 2 QA_PIXEL cloud confidence (bits 8-9) that masks a pixel; the CFMask cloud and "
            "dilated-cloud flags mask too. Collection 1 BQA and Sentinel-2 SCL use their fixed rules.")
    alg.add(QgsProcessingParameterEnum("SHADOW_CONFIDENCE", "Mask cloud shadows of confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=3), "QA_PIXEL bits 10-11.",
            advanced=True)
    alg.add(QgsProcessingParameterEnum("SNOW_CONFIDENCE", "Mask snow / ice of confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=0), "QA_PIXEL bits 12-13.",
            advanced=True)
    alg.add(QgsProcessingParameterEnum("CIRRUS_CONFIDENCE", "Mask cirrus of confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=0), "QA_PIXEL bits 14-15.",
            advanced=True)
    alg.add(QgsProcessingParameterNumber("DILATION", "Grow cloud and shadow masks by (pixels)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=MAX_DILATION),
            "Also mask this many pixels around every masked cloud or shadow pixel (square neighbourhood).")
    alg.add(QgsProcessingParameterEnum("HARMONISE", "Harmonise Landsat 5/7 to Landsat 8/9",
                                       [t for _, t in HARMONISE], defaultValue=0),
            "Roy et al. 2016 (Table 2, OLS) ETM+ to OLI surface reflectance coefficients, applied to TM too. "
            "Harmonised composites use the OLI tasselled-cap wetness coefficients.")
    alg.add(QgsProcessingParameterBoolean("TOA_OK", "Level-1 top-of-atmosphere reflectance is fine",
                                          defaultValue=False),
            "Level-1 products give TOA reflectance, not surface reflectance; they are refused unless this is on.")
    alg.add(QgsProcessingParameterFeatureSource("STUDY_AREA", "Study area", [compat.ProcessingSourceType.VectorPolygon],
                                                optional=True),
            "The composites cover this area's extent and are masked to its polygons (pixel centres inside). "
            "Without it: the union of the products' footprints.")
    alg.add(QgsProcessingParameterCrs("TARGET_CRS", "Target CRS (empty = UTM zone of the centre)", optional=True),
            "The composites' CRS. Default: the WGS 84 / UTM zone of the study area's (or the products') centre.")
    alg.add(QgsProcessingParameterNumber("RESOLUTION", "Resolution (0 = 30 m Landsat, 10 m Sentinel-2)",
                                         compat.ProcessingNumberParameterType.Double, defaultValue=0.0, minValue=0.0,
                                         maxValue=100000.0),
            "Pixel size in target CRS units. A product on the target CRS and resolution keeps its pixel grid.")
    alg.add(QgsProcessingParameterEnum("RESAMPLING", "Resampling of the reflectance bands", RESAMPLINGS,
                                       defaultValue=0),
            "How products are warped onto the target grid (QA bands always nearest neighbour).", advanced=True)


@dataclass(frozen=True)
class Settings:
    paths: tuple
    years: tuple                    # (first, last), 0 = open
    months: tuple
    doys: tuple | None
    method: str
    target_doy: float
    mask: core.MaskOptions
    harmonise: str
    toa_ok: bool
    area: tuple | None              # (wkb geometries, wkt) or None
    crs: str                        # WKT or ""
    resolution: float
    resampling: str


def composite_settings(alg, parameters, context) -> Settings:
    """The settings, checked; ValueError naming the parameter."""
    paths = [p for p in alg.parameterAsFileList(parameters, "PRODUCTS", context) if p] \
        if hasattr(alg, "parameterAsFileList") else []
    if not paths:
        paths = [layer_path(v) for v in (parameters.get("PRODUCTS") or []) if v]
    folder = alg.parameterAsFile(parameters, "PRODUCT_FOLDER", context)
    if folder:
        if not os.path.isdir(folder):
            raise ValueError(f"PRODUCT_FOLDER: {folder} is not a folder.")
        found = search_products(folder)
        if not found:
            raise ValueError(f"PRODUCT_FOLDER: no product was found below {folder} (looked for Landsat *_MTL.txt/"
                             ".xml/.json and .tar files, Sentinel-2 MTD_MSIL2A.xml and S2*_MSIL2A_*.zip).")
        paths += found
    if not paths:
        raise ValueError("PRODUCTS / PRODUCT_FOLDER: give the products to composite (files, or a folder).")
    years = (alg.parameterAsInt(parameters, "YEAR_FIRST", context), alg.parameterAsInt(parameters, "YEAR_LAST",
                                                                                         context))
    if years[0] and years[1] and years[0] > years[1]:
        raise ValueError(f"YEAR_FIRST ({years[0]}) is after YEAR_LAST ({years[1]}).")
    months = (alg.parameterAsEnum(parameters, "MONTH_FIRST", context) + 1,
              alg.parameterAsEnum(parameters, "MONTH_LAST", context) + 1)
    d0, d1 = alg.parameterAsInt(parameters, "DOY_FIRST", context), alg.parameterAsInt(parameters, "DOY_LAST", context)
    if bool(d0) != bool(d1):
        raise ValueError("DOY_FIRST / DOY_LAST: give both days of the window (or neither, to use the months).")
    doys = (d0, d1) if d0 else None
    method = METHOD_TITLES[alg.parameterAsEnum(parameters, "METHOD", context)][0]
    target = alg.parameterAsInt(parameters, "TARGET_DOY", context) or core.window_middle_doy(months, doys)
    conf = {name: CONFIDENCE_LEVEL[CONFIDENCE[alg.parameterAsEnum(parameters, pid, context)][0]]
            for name, pid in (("cloud", "CLOUD_CONFIDENCE"), ("cloud_shadow", "SHADOW_CONFIDENCE"),
                              ("snow", "SNOW_CONFIDENCE"), ("cirrus", "CIRRUS_CONFIDENCE"))}
    mask = core.MaskOptions(dilation=alg.parameterAsInt(parameters, "DILATION", context), **conf)
    area = None
    source = alg.parameterAsSource(parameters, "STUDY_AREA", context)
    if source is not None:
        geoms = [f.geometry().asWkb() for f in source.getFeatures() if f.hasGeometry()
                 and not f.geometry().isEmpty()]
        if not geoms:
            raise ValueError("STUDY_AREA: the layer has no polygon. Give a polygon layer of the study area, or "
                             "leave it empty to composite the products' whole footprints.")
        area = (tuple(bytes(g) for g in geoms), source.sourceCrs().toWkt())
        if not source.sourceCrs().isValid():
            raise ValueError("STUDY_AREA: the layer has no CRS. Assign its CRS first.")
    crs = alg.parameterAsCrs(parameters, "TARGET_CRS", context)
    if crs.isValid() and crs.isGeographic():
        raise ValueError("TARGET_CRS: choose a projected CRS (metres), e.g. the UTM zone of the study area.")
    return Settings(tuple(dict.fromkeys(paths)), years, months, doys, method, float(target), mask,
                    HARMONISE[alg.parameterAsEnum(parameters, "HARMONISE", context)][0],
                    alg.parameterAsBoolean(parameters, "TOA_OK", context), area,
                    crs.toWkt() if crs.isValid() else "", alg.parameterAsDouble(parameters, "RESOLUTION", context),
                    RESAMPLINGS[alg.parameterAsEnum(parameters, "RESAMPLING", context)])


def layer_path(value) -> str:
    return str(value).split("|")[0]


@dataclass
class Period:
    year: int
    products: list
    path: str = ""
    row: tuple = ()


def _date(product) -> dt.date:
    try:
        return dt.date.fromisoformat(product.date[:10])
    except ValueError:
        raise ProductError(f"{product.source}: its acquisition date {product.date!r} cannot be read.") from None


def plan_periods(settings: Settings, feedback) -> list[Period]:
    """Open every product (refusing damaged ones, naming them) and group them into periods."""
    periods: dict[int, list] = {}
    for i, path in enumerate(settings.paths):
        if feedback.isCanceled():
            raise Canceled()
        try:
            product = open_product(path, toa_ok=settings.toa_ok)
        except ProductError as err:
            raise ValueError(f"PRODUCTS: {err}") from None
        year = core.period_of(_date(product), settings.months, settings.doys)
        lo, hi = settings.years
        if year is None or (lo and year < lo) or (hi and year > hi):
            feedback.pushInfo(f"{product.product_id} ({product.date}) is outside the date window: not used.")
            continue
        periods.setdefault(year, []).append(product)
    if not periods:
        raise ValueError("PRODUCTS: none of the products falls in the date window (years "
                         f"{settings.years[0] or 'any'}-{settings.years[1] or 'any'}, "
                         + (f"days {settings.doys[0]}-{settings.doys[1]}" if settings.doys else
                            f"{MONTHS[settings.months[0] - 1]}-{MONTHS[settings.months[1] - 1]}")
                         + "). Widen the window or check the products' dates.")
    return [Period(y, sorted(ps, key=lambda p: (p.date, p.product_id))) for y, ps in sorted(periods.items())]


def choose_grid(settings: Settings, periods):
    """The target grid: CRS (chosen, or the UTM zone of the centre), resolution, extent (study area, or the
    union of the products' footprints), aligned on the first product when it is on that CRS and resolution."""
    products = [p for period in periods for p in period.products]
    first = products[0].bands["B"]
    if settings.area is not None:
        probe_wkt = grid_tools._srs(4326).ExportToWkt()
        bounds = grid_tools.area_bounds(settings.area[0], settings.area[1], probe_wkt)
        if bounds is None:
            raise ValueError("STUDY_AREA: its polygons are empty.")
    else:
        probe_wkt = grid_of(open_raster(first, "PRODUCTS")).wkt
        boxes = [grid_tools.footprint(p.bands["B"], probe_wkt, p.source) for p in products]
        bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                  max(b[3] for b in boxes))
    wkt = settings.crs
    if not wkt:
        if probe_wkt and grid_tools._srs(probe_wkt).IsGeographic():
            lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        else:
            lon, lat = grid_tools.centre_lonlat(bounds, probe_wkt)
        wkt = grid_tools.utm_wkt(lon, lat)
    resolution = settings.resolution or (10.0 if all(p.sensor == "S2" for p in products) else 30.0)
    if settings.area is not None:
        bounds = grid_tools.area_bounds(settings.area[0], settings.area[1], wkt)
    else:
        boxes = [grid_tools.footprint(p.bands["B"], wkt, p.source) for p in products]
        bounds = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                  max(b[3] for b in boxes))
    align = None
    g = grid_of(open_raster(first, "PRODUCTS"))
    if grid_tools.same_crs(g.wkt, wkt) and abs(g.pixel_size[0] - resolution) < 1e-6 * resolution:
        align = (g.geotransform[0], g.geotransform[3])
    return grid_tools.target_grid(bounds, wkt, resolution, align)


def _harmonise(settings: Settings, products) -> bool:
    sensors = {p.sensor for p in products}
    if settings.harmonise == "always":
        return True
    if settings.harmonise == "never":
        return False
    return bool(sensors & {"L5", "L7"}) and bool(sensors & {"L8", "L9"})


def make_composites(alg, settings: Settings, folder: str, feedback, start=0.0, end=100.0, years=None,
                    name="composite_{year}.tif"):
    """Composite every period into ``folder`` (one GeoTIFF per period); the periods with their paths and table
    rows. ``years``: only these periods (the others are planned but not computed)."""
    periods = plan_periods(settings, feedback)
    all_products = [p for period in periods for p in period.products]
    grid = choose_grid(settings, periods)
    feedback.pushInfo(f"Target grid: {grid.width} x {grid.height} pixels of {grid.pixel_size[0]:g} m.")
    harmonise = _harmonise(settings, all_products)
    thermal = all("T" in p.bands for p in all_products)
    if not thermal and any("T" in p.bands for p in all_products):
        feedback.pushWarning("Some products have no thermal band: the composites have none (RSEI needs one).")
    roles = core.REFLECTIVE + (("T",) if thermal else ())
    scratch = tempfile.mkdtemp(prefix=".mining-eco-composite-", dir=os.path.dirname(os.path.abspath(folder)))
    todo = [p for p in periods if years is None or p.year in years]
    try:
        area_path = None
        if settings.area is not None:
            area_path = grid_tools.rasterize_area(settings.area[0], settings.area[1], grid,
                                                  os.path.join(scratch, "area.tif"))
        step = (end - start) / max(len(todo), 1)
        for k, period in enumerate(todo):
            feedback.pushInfo(f"Period {period.year}: {len(period.products)} product(s): "
                              + ", ".join(p.product_id for p in period.products))
            period.path, period.row = _composite_period(
                alg, settings, period, grid, roles, thermal, harmonise, scratch, area_path,
                os.path.join(folder, name.format(year=period.year)), feedback, start + k * step,
                start + (k + 1) * step)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return todo


def _composite_period(alg, settings, period, grid, roles, thermal, harmonise, scratch, area_path, out_path,
                      feedback, start, end):
    inputs, observations = {}, []
    lst = LstOptions()
    for i, p in enumerate(period.products):
        key = f"o{i}:"
        try:
            radiometry = product_radiometry(p, roles, lst=lst)
        except ValueError as err:
            raise ValueError(f"PRODUCTS: {p.source}: {err}") from None
        for role in roles:
            vrt = os.path.join(scratch, f"{period.year}_{i}_{role}.vrt")
            inputs[key + role] = BandRef(grid_tools.warp_to_grid(p.bands[role], grid, vrt, settings.resampling,
                                                                 label=p.source), 1, f"{p.product_id} {role}")
        if p.qa:
            vrt = os.path.join(scratch, f"{period.year}_{i}_QA.vrt")
            inputs[key + "QA"] = BandRef(grid_tools.warp_to_grid(p.qa, grid, vrt, "nearest",
                                                                 dst_nodata=grid_tools.QA_FILL[p.qa_kind],
                                                                 label=p.source), 1, f"{p.product_id} QA")
        else:
            feedback.pushWarning(f"{p.product_id} has no QA band: its clouds are not masked.")
        box = grid_tools.footprint(p.bands["B"], grid.wkt, p.source)
        d = _date(p)
        observations.append(core.Observation(key, radiometry, d.timetuple().tm_yday, d.toordinal(), p.sensor,
                                             harmonise and p.sensor in core.HARMONISED_SENSORS,
                                             grid_tools.window_on(grid, box), p.qa is not None))
    if area_path:
        inputs[core.AREA_KEY] = BandRef(area_path, 1, "STUDY_AREA")
    bap = ()
    if settings.method == "bap":
        bap = (("cloud_required", BAP_REQUIRED_M / grid.pixel_size[0]),)
    plan = core.CompositePlan(tuple(observations), settings.method, thermal, settings.mask, settings.target_doy,
                              area_path is not None, bap)
    wet = "OLI" if harmonise or all(p.sensor in ("L8", "L9", "S2") for p in period.products) else \
        SENSORS[max(period.products, key=lambda p: sum(q.sensor == p.sensor for q in period.products)).sensor].wet_set
    metadata = (("MINING_ECO_PERIOD", period.year), ("MINING_ECO_METHOD", settings.method),
                ("MINING_ECO_HARMONISED", "yes" if harmonise else "no"), ("MINING_ECO_WET_SET", wet),
                ("MINING_ECO_SCENES", ",".join(p.product_id for p in period.products)))
    result = alg.run_pass(BlockPass(
        inputs=inputs, load=partial(core.read_observations, plan=plan), compute=partial(core.composite_block,
                                                                                          plan=plan),
        combine=add, halo=plan.halo, block_rows=BLOCK, block_cols=BLOCK,
        outputs=(OutputSpec("OUTPUT", out_path, bands=len(plan.band_names()), band_names=plan.band_names(),
                            label="OUTPUT_FOLDER", metadata=metadata),)), feedback, start, end)
    hist, clear = result.partial["hist"], result.partial["clear"]
    pixels = int(hist.sum())
    counts = range(len(hist))
    mean = float(sum(c * h for c, h in zip(counts, hist)) / pixels) if pixels else float("nan")
    seen = [c for c, h in zip(counts, hist) if h]
    window = _window_text(settings, period.year)
    for p, c in zip(period.products, clear):
        feedback.pushInfo(f"  {p.product_id}: clear in {100.0 * c / pixels if pixels else 0:.1f} % of the area")
    no_clear = 100.0 * hist[0] / pixels if pixels else 100.0
    if no_clear > 0:
        feedback.pushWarning(f"Period {period.year}: {no_clear:.2f} % of the area has no clear observation "
                             "(nodata in the composite).")
    row = (period.year, window[0], window[1], len(period.products), ";".join(p.product_id for p in period.products),
           settings.method, round(mean, 4), min(seen) if seen else 0, max(seen) if seen else 0, round(no_clear, 4),
           pixels, "yes" if harmonise else "no", wet, os.path.basename(out_path))
    return result.paths["OUTPUT"], row


def _window_text(settings, year):
    if settings.doys:
        a = dt.date(year, 1, 1) + dt.timedelta(days=settings.doys[0] - 1)
        end_year = year + (1 if settings.doys[1] < settings.doys[0] else 0)
        b = dt.date(end_year, 1, 1) + dt.timedelta(days=settings.doys[1] - 1)
    else:
        a = dt.date(year, settings.months[0], 1)
        end_year = year + (1 if settings.months[1] < settings.months[0] else 0)
        nxt = dt.date(end_year + (settings.months[1] == 12), settings.months[1] % 12 + 1, 1)
        b = nxt - dt.timedelta(days=1)
    return a.isoformat(), b.isoformat()


class CompositeAlgorithm(MiningEcoAlgorithm):
    ID = "composite"
    NAME = "Scene composite"
    GROUP = "indices"
    SOURCE = cite("griffiths2013", "roy2016")
    TAGS = ("composite", "mosaic", "clip", "cloud mask", "medoid", "median", "best available pixel", "bap",
            "max ndvi", "cfmask", "qa_pixel", "scl", "harmonisation", "landsat", "sentinel-2", "season")
    SUMMARY = (
        "Cloud-masked seasonal composites of many Landsat / Sentinel-2 products: one image per year (the year in "
        "which the date window starts), mosaicked across path/rows onto one grid and clipped to a study area.\n"
        "Inputs: products as delivered (MTL, .tar, .SAFE, .zip; files or a folder), the years and season, the "
        "cloud mask settings and the compositing method (medoid by default).\n"
        "Outputs: per year a GeoTIFF with bands blue, green, red, nir, swir1, swir2 (reflectance 0-1), thermal "
        "(surface temperature, K, where every product has one), count (clear observations) and, except for the "
        "median, doy (day of year of the chosen observation); every scene tool reads it with the radiometry "
        "'Already reflectance'. A table gives per year the scenes used and the clear-observation statistics.")
    SHORT_DESCRIPTION = "Cloud-masked seasonal composites of Landsat / Sentinel-2 products, mosaicked and clipped"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_composite_parameters(self)
        self.add_output(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Composites folder"),
                        "One GeoTIFF per year: composite_<year>.tif.")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Composite statistics",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Per year: the date window, the scenes used, mean / min / max clear observations per pixel, "
                        "the share of the area with no clear observation, harmonisation and the wetness set.")
        self.addOutput(QgsProcessingOutputMultipleLayers("COMPOSITES", "Composites"))

    def run_tool(self, parameters, context, feedback):
        settings = composite_settings(self, parameters, context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        os.makedirs(folder, exist_ok=True)
        periods = make_composites(self, settings, folder, feedback, 0, 97)
        table = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, [p.row for p in periods])
        feedback.setProgress(100)
        return {"OUTPUT_FOLDER": folder, "OUTPUT_TABLE": table, "COMPOSITES": [p.path for p in periods]}


__all__ = ["CompositeAlgorithm", "add_composite_parameters", "composite_settings", "make_composites"]
