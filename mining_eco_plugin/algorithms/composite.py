"""Scene composite: cloud-masked seasonal composites of many Landsat / Sentinel-2 products, mosaicked onto one
target grid and clipped to a study area (issue 13, item 2). The settings are shared with the RSEI series
(``add_composite_parameters`` / ``composite_settings`` / ``make_composites``)."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from functools import partial

from qgis.core import (
    QgsProcessingContext,
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
    QgsProcessingUtils,
)

from .. import compat
from ..core import composite as core
from ..core.product_meta import ProductError
from ..core.scene import LstOptions, product_radiometry
from ..core.sensors import SENSORS
from ..raster import composite as grid_tools
from ..raster.engine import BandRef, Canceled, grid_of, open_raster
from ..raster.executor import BlockPass, OutputSpec, add
from ..raster.outputs import final_path
from ..raster.products import open_product, search_products
from ..styles.qgis_styles import RasterStyle, style_output
from .base import MiningEcoAlgorithm
from .references import cite

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
METHOD_TITLES = (("medoid", "Medoid (all bands from one date; default)"), ("median", "Median of each band"),
                 ("maxndvi", "Maximum NDVI"), ("bap", "Best available pixel (Griffiths et al. 2013 scores)"))
# no "low": USGS sets the confidences of clear land pixels to low (QA_PIXEL 21824 on Landsat 8/9, 5440 on 4-7), so
# "low or higher" would mask every pixel
CONFIDENCE = (("none", "Not masked"), ("medium", "Medium or higher"), ("high", "High"))
CONFIDENCE_LEVEL = {"none": None, "medium": core.MEDIUM, "high": core.HIGH}
HARMONISE = (("auto", "When Landsat 5/7 and Landsat 8/9 are mixed"), ("always", "Always (every Landsat 5/7 product)"),
             ("never", "Never"))
RESAMPLINGS = ("nearest", "bilinear", "cubic", "average")
BLOCK = 256                      # composite blocks: at most 256 x 256 pixels of the target grid (block_side)
BAP_MAX_PX = 100                 # the cloud distance of best available pixel is measured up to this many pixels
MAX_DILATION = 100
BAP_REQUIRED_M = 3000.0          # FORCE's DREQ (metres): the cloud distance that scores ~1
#: how a composite opens in QGIS: natural colour, red / green / blue = bands 3 / 2 / 1, reflectance 0-0.3
NATURAL_COLOUR = RasterStyle("rgb", vmin=0.0, vmax=0.3, bands=(3, 2, 1))
TABLE_FIELDS = (("period", int), ("window_start", str), ("window_end", str), ("scenes", int), ("scene_ids", str),
                ("method", str), ("mean_clear_obs", float), ("min_clear_obs", int), ("max_clear_obs", int),
                ("no_clear_percent", float), ("area_pixels", int), ("harmonised", str), ("wet_set", str),
                ("file", str))
PRODUCT_HELP = ("Landsat Collection 2 Level-2, Collection 2 / Collection 1 Level-1 or older Level-1 products as "
                "their *_MTL.txt / .xml / .json or their .tar as downloaded (not unpacked); Sentinel-2 L2A as the "
                "MTD_MSIL2A.xml inside the .SAFE folder, or the .zip.")


def add_composite_parameters(alg, optional_products=True):
    """The compositing settings (products, date window, masks, method, grid), for composite and series tools."""
    alg.add(QgsProcessingParameterMultipleLayers("PRODUCTS", "Products (files)", compat.ProcessingSourceType.File,
                                                 optional=True),
            PRODUCT_HELP + " Give PRODUCTS, PRODUCT_FOLDER or both; on the command line repeat PRODUCTS= for "
            "each file.")
    alg.add(QgsProcessingParameterFile("PRODUCT_FOLDER", "Folder of products (searched recursively)",
                                       QgsProcessingParameterFile.Behavior.Folder, optional=True),
            "Every product found in this folder and its subfolders is used (an MTL's .txt, .xml and .json count "
            "as one product; a .tar and its unpacked copy count once). " + PRODUCT_HELP)
    alg.add(QgsProcessingParameterNumber("YEAR_FIRST", "First year (0 = no limit)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=2100),
            "One composite per year from this year on; 0 = from the earliest product's. A year is the year in "
            "which its date window starts (a window crossing New Year is named by its first month's year).")
    alg.add(QgsProcessingParameterNumber("YEAR_LAST", "Last year (0 = no limit)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=2100),
            "One composite per year up to this year; 0 = up to the latest product's. Products outside the years "
            "are listed in the log and not used.")
    alg.add(QgsProcessingParameterEnum("MONTH_FIRST", "Season: first month", MONTHS, defaultValue=5),
            "Start of the date window taken in each year (default June to September, the peak vegetation "
            "season). A first month after the last gives a window across New Year, e.g. November to February.")
    alg.add(QgsProcessingParameterEnum("MONTH_LAST", "Season: last month", MONTHS, defaultValue=8),
            "End of the date window, included: products of every day of this month are used.")
    alg.add(QgsProcessingParameterNumber("DOY_FIRST", "Season: first day of year (0 = use the months)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=366),
            "A window of days of year (1-366) instead of the months: give DOY_FIRST and DOY_LAST both; "
            "a first day after the last crosses New Year.", advanced=True)
    alg.add(QgsProcessingParameterNumber("DOY_LAST", "Season: last day of year (0 = use the months)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=366),
            "Last day of year of the window, included (with DOY_FIRST; 0 = use the months).", advanced=True)
    alg.add(QgsProcessingParameterEnum("METHOD", "Compositing method", [t for _, t in METHOD_TITLES],
                                       defaultValue=0),
            "Medoid: the observation closest to the band medians, so all bands (and the thermal band) come from one "
            "date, as RSEI's wetness needs. Median: per band. Maximum NDVI. Best available pixel: day-of-year and "
            "cloud-distance scores (Griffiths et al. 2013, with FORCE's defaults). Each composite has a count "
            "band; all but the median also a doy band (the date each pixel comes from).")
    alg.add(QgsProcessingParameterNumber("TARGET_DOY", "Best available pixel: target day of year (0 = middle of "
                                         "the season)", compat.ProcessingNumberParameterType.Integer, defaultValue=0,
                                         minValue=0, maxValue=366),
            "Only for the best available pixel: the day of year whose observations score highest (the score falls "
            "to 1/99 at 60 days from it); 0 = the middle of the date window.", advanced=True)
    alg.add(QgsProcessingParameterEnum("CLOUD_CONFIDENCE", "Mask clouds from confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=1),
            "Collection 2 QA_PIXEL: a pixel whose cloud confidence (bits 8-9) reaches this level is masked, and so "
            "are the CFMask cloud (bit 3) and dilated-cloud (bit 1) flags ('Not masked': none of them). There is "
            "no 'low' level: USGS gives clear pixels a low confidence. Fixed rules for the other QA bands: "
            "Collection 1 BQA masks fill, cloud and high cloud / shadow / cirrus confidence; Sentinel-2 SCL masks "
            "classes 0, 1, 3, 8, 9, 10 and 11.")
    alg.add(QgsProcessingParameterEnum("SHADOW_CONFIDENCE", "Mask cloud shadows from confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=2),
            "QA_PIXEL cloud-shadow confidence (bits 10-11) that masks a pixel, with the shadow flag (bit 4).",
            advanced=True)
    alg.add(QgsProcessingParameterEnum("SNOW_CONFIDENCE", "Mask snow / ice from confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=0),
            "QA_PIXEL snow / ice confidence (bits 12-13) that masks a pixel, with the snow flag (bit 5). Off by "
            "default: bare bright ground is often flagged as snow.",
            advanced=True)
    alg.add(QgsProcessingParameterEnum("CIRRUS_CONFIDENCE", "Mask cirrus from confidence",
                                       [t for _, t in CONFIDENCE], defaultValue=0),
            "QA_PIXEL cirrus confidence (bits 14-15, Landsat 8/9 only) that masks a pixel, with the cirrus flag "
            "(bit 2).",
            advanced=True)
    alg.add(QgsProcessingParameterNumber("DILATION", "Grow the cloud masks by (pixels)",
                                         compat.ProcessingNumberParameterType.Integer, defaultValue=0, minValue=0,
                                         maxValue=MAX_DILATION),
            "Also mask every pixel within this many rows and columns of a masked cloud, shadow, snow or cirrus "
            "pixel (a square neighbourhood; not around the products' no-data edge). 0 = no growing.")
    alg.add(QgsProcessingParameterEnum("HARMONISE", "Harmonise Landsat 5/7 to Landsat 8/9",
                                       [t for _, t in HARMONISE], defaultValue=0),
            "Landsat 5 TM and 7 ETM+ reflectance is converted to Landsat 8 OLI's with the Roy et al. 2016 (Table 2, "
            "OLS) ETM+ to OLI coefficients (TM uses the ETM+ ones); surface reflectance only (Level-1 TOA is left as it is). Harmonised composites use the OLI "
            "tasselled-cap wetness coefficients (metadata MINING_ECO_WET_SET).")
    alg.add(QgsProcessingParameterBoolean("TOA_OK", "Level-1 top-of-atmosphere reflectance is fine",
                                          defaultValue=False),
            "Level-1 products give top-of-atmosphere reflectance, not surface reflectance; they are refused unless "
            "this is on. Level-2 and Sentinel-2 L2A products are surface reflectance either way.")
    alg.add(QgsProcessingParameterFeatureSource("STUDY_AREA", "Study area", [compat.ProcessingSourceType.VectorPolygon],
                                                optional=True),
            "Polygon layer (any CRS): the composites cover its extent and are masked to its polygons (a pixel is "
            "kept when its centre is inside). It must overlap the products. Empty: the union of the products' "
            "footprints.")
    alg.add(QgsProcessingParameterCrs("TARGET_CRS", "Target CRS (empty = UTM zone of the centre)", optional=True),
            "A projected CRS in metres for the composites (geographic CRS are refused). Empty: the WGS 84 / UTM "
            "zone of the study area's centre, or of the products' centre without a study area.")
    alg.add(QgsProcessingParameterNumber("RESOLUTION", "Pixel size (0 = 30 m; 10 m for Sentinel-2 only)",
                                         compat.ProcessingNumberParameterType.Double, defaultValue=0.0, minValue=0.0,
                                         maxValue=100000.0),
            "Pixel size in metres (target CRS units). 0: 30 m, or 10 m when every product is Sentinel-2. A product "
            "already in the target CRS at this pixel size keeps its own pixel grid (no resampling).")
    alg.add(QgsProcessingParameterEnum("RESAMPLING", "Resampling of the reflectance bands", RESAMPLINGS,
                                       defaultValue=0),
            "How products are resampled onto the target grid when they are not on it already (QA bands: always "
            "nearest neighbour).", advanced=True)


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
    paths = [p for p in alg.parameterAsFileList(parameters, "PRODUCTS", context) if p]
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


def settings_record(settings: Settings) -> dict:
    """The settings as JSON values (the record of a series made from products: other values, another series).
    The study area is recorded by a digest of its geometries."""
    import dataclasses
    import hashlib
    record = dataclasses.asdict(settings)
    del record["paths"]     # which products: recorded per period by the caller (a new year's product may be added)
    if settings.area is not None:
        digest = hashlib.sha256()
        for wkb in settings.area[0]:
            digest.update(wkb)
        digest.update(settings.area[1].encode())
        record["area"] = digest.hexdigest()
    return json.loads(json.dumps(record))


def check_same_grid(grid, record: dict):
    """Record the target grid in ``record`` (key "grid"), or check that it is the grid recorded there."""
    this = {"width": grid.width, "height": grid.height, "crs": grid.wkt,
            "geotransform": [round(v, 6) for v in grid.geotransform]}
    before = record.get("grid")
    if before is None:
        record["grid"] = this
    elif before != this:
        raise ValueError("OUTPUT_FOLDER: the composites there were made on another target grid "
                         f"({before['width']} x {before['height']} px from {before['geotransform'][0]:.1f}, "
                         f"{before['geotransform'][3]:.1f}; now {grid.width} x {grid.height} px from "
                         f"{grid.geotransform[0]:.1f}, {grid.geotransform[3]:.1f}): the products' footprints changed "
                         "it. Give a STUDY_AREA (it fixes the grid), or choose another folder.")


def products_given(alg, parameters, context) -> bool:
    return bool(parameters.get("PRODUCTS")) or bool(alg.parameterAsFile(parameters, "PRODUCT_FOLDER", context))


@dataclass
class Period:
    year: int
    products: list
    path: str = ""
    row: tuple = ()
    thermal: bool = False           # every product of the period has a thermal band (set by prepare_periods)
    windows: dict = field(default_factory=dict)   # product id -> its footprint's window of the target grid


def _date(product) -> dt.date:
    try:
        return dt.date.fromisoformat(product.date[:10])
    except ValueError:
        raise ProductError(f"{product.source}: its acquisition date {product.date!r} cannot be read.") from None


def plan_periods(settings: Settings, feedback) -> list[Period]:
    """Open every product (refusing damaged ones, naming them) and group them into periods."""
    periods: dict[int, list] = {}
    seen: dict[str, str] = {}
    for i, path in enumerate(settings.paths):
        if feedback.isCanceled():
            raise Canceled()
        try:
            product = open_product(path, toa_ok=settings.toa_ok)
        except ProductError as err:
            raise ValueError(f"PRODUCTS: {err}") from None
        if product.product_id in seen:      # e.g. a .tar and its unpacked folder: one observation, not two
            feedback.pushWarning(f"{product.product_id} is given twice ({seen[product.product_id]} and {path}): "
                                 "used once.")
            continue
        seen[product.product_id] = path
        year = core.period_of(_date(product), settings.months, settings.doys)
        lo, hi = settings.years
        if year is None or (lo and year < lo) or (hi and year > hi):
            feedback.pushInfo(f"{product.product_id} ({product.date}) is outside the date window: not used.")
            continue
        periods.setdefault(year, []).append(product)
    if not periods:
        lo, hi = settings.years
        years = f"years {lo}-{hi}" if lo and hi else f"from {lo}" if lo else f"up to {hi}" if hi else "every year"
        season = (f"days of year {settings.doys[0]}-{settings.doys[1]}" if settings.doys else
                  f"{MONTHS[settings.months[0] - 1]}-{MONTHS[settings.months[1] - 1]}")
        raise ValueError(f"PRODUCTS: none of the products falls in the date window ({season}, {years}; "
                         "MONTH_FIRST / MONTH_LAST, DOY_FIRST / DOY_LAST, YEAR_FIRST / YEAR_LAST). Widen the window "
                         "or check the products' dates (listed in the log).")
    return [Period(y, sorted(ps, key=lambda p: (p.date, p.product_id))) for y, ps in sorted(periods.items())]


def _union(boxes):
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def choose_grid(settings: Settings, periods):
    """The target grid: CRS (chosen, or the UTM zone of the centre), resolution, extent (study area, or the
    union of the products' footprints), aligned on the first product's pixels when they map onto the target CRS by
    a shift (the same CRS, or USGS's northern zone of a southern scene) at the same resolution."""
    products = [p for period in periods for p in period.products]
    first = grid_of(open_raster(products[0].bands["B"], "PRODUCTS"))

    def bounds_in(wkt):
        if settings.area is not None:
            box = grid_tools.area_bounds(settings.area[0], settings.area[1], wkt)
            if box is None:
                raise ValueError("STUDY_AREA: its polygons are empty.")
            return box
        return _union(grid_tools.footprint(p.bands["B"], wkt, p.source) for p in products)

    wkt = settings.crs
    if not wkt:
        lonlat = bounds_in(grid_tools._srs(4326).ExportToWkt())
        wkt = grid_tools.utm_wkt((lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2)
    resolution = settings.resolution or (10.0 if all(p.sensor == "S2" for p in products) else 30.0)
    return grid_tools.target_grid(bounds_in(wkt), wkt, resolution,
                                  grid_tools.shifted_origin(first, wkt, resolution))


def _drop_products_off_the_grid(settings: Settings, periods, grid, feedback):
    """The periods without the products whose footprint misses the target grid (a study area elsewhere); a
    ValueError naming STUDY_AREA when no product meets it (the composites would be nodata everywhere)."""
    kept = []
    for period in periods:
        windows = {p.product_id: grid_tools.window_on(grid, grid_tools.footprint(p.bands["B"], grid.wkt, p.source))
                   for p in period.products}
        on = [p for p in period.products if windows[p.product_id] is not None]
        for p in period.products:
            if p not in on:
                feedback.pushInfo(f"{p.product_id} does not reach the study area: not used.")
        if on:
            kept.append(replace(period, products=on, windows={p.product_id: windows[p.product_id] for p in on}))
        else:
            feedback.pushWarning(f"Period {period.year}: no product reaches the study area; no composite.")
    if not kept:
        raise ValueError("STUDY_AREA: the study area does not overlap any of the products (checked in the target "
                         "CRS). Give the study area of these products (check its CRS), or products that cover it.")
    return kept


def _harmonise(settings: Settings, products) -> bool:
    """Whether Landsat 5/7 surface reflectance is harmonised to OLI (Roy et al. 2016 derived the coefficients for
    surface reflectance: Level-1 TOA products are never harmonised)."""
    sensors = {p.sensor for p in products if p.surface_reflectance}
    if settings.harmonise == "always":
        return bool(sensors & set(core.HARMONISED_SENSORS))
    if settings.harmonise == "never":
        return False
    return bool(sensors & set(core.HARMONISED_SENSORS)) and bool(sensors & {"L8", "L9"})


def _thermal_periods(periods, feedback):
    """Each period's thermal choice: products without a thermal band are left out of a period whose other
    products have one (the composite's bands must come from dates that have them all: RSEI needs heat); a period
    none of whose products has one gets no thermal band."""
    out = []
    for period in periods:
        with_t = [p for p in period.products if "T" in p.bands]
        if with_t and len(with_t) < len(period.products):
            for p in period.products:
                if "T" not in p.bands:
                    feedback.pushWarning(f"{p.product_id} has no thermal band, unlike the other products of "
                                         f"{period.year}: left out of that period.")
        out.append(replace(period, products=with_t or period.products, thermal=bool(with_t)))
        if not with_t:
            feedback.pushWarning(f"Period {period.year}: no product has a thermal band; the composite has none "
                                 "(RSEI needs one).")
    return out


def prepare_periods(settings: Settings, periods, feedback, grid_record=None):
    """(target grid, periods): the grid of the products or study area (checked against ``grid_record``, a dict
    holding the grid of composites made before, or receiving it), the periods without the products that miss it
    and with their thermal choice."""
    grid = choose_grid(settings, periods)
    feedback.pushInfo(f"Target grid: {grid.width} x {grid.height} pixels of {grid.pixel_size[0]:g} m.")
    if grid_record is not None:
        check_same_grid(grid, grid_record)
    return grid, _thermal_periods(_drop_products_off_the_grid(settings, periods, grid, feedback), feedback)


def make_composites(alg, settings: Settings, folder: str, feedback, start=0.0, end=100.0, years=None,
                    name="composite_{year}.tif", periods=None, on_period=None, prepared=None):
    """Composite every period into ``folder`` (one GeoTIFF per period, each complete or absent); the periods with
    their paths and table rows. ``years``: only these periods (the others are planned, and place the grid, but are
    not computed); ``periods``: the plan_periods of ``settings`` when the caller has it; ``prepared``: the
    prepare_periods of them when the caller has it; ``on_period(period)``: called as each period's file is in
    place."""
    periods = plan_periods(settings, feedback) if periods is None else periods
    all_products = [p for period in periods for p in period.products]
    grid, periods = prepared or prepare_periods(settings, periods, feedback)
    harmonise = _harmonise(settings, all_products)
    if harmonise and any(p.sensor in core.HARMONISED_SENSORS and not p.surface_reflectance for p in all_products):
        feedback.pushWarning("Landsat 5/7 Level-1 products are not harmonised: Roy et al. 2016's coefficients are "
                             "for surface reflectance.")
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
                alg, settings, period, grid, harmonise, scratch, area_path,
                os.path.join(folder, name.format(year=period.year)), feedback, start + k * step,
                start + (k + 1) * step)
            if on_period is not None:
                on_period(period)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return todo


def _composite_period(alg, settings, period, grid, harmonise, scratch, area_path, out_path, feedback, start, end):
    inputs, observations = {}, []
    roles = core.REFLECTIVE + (("T",) if period.thermal else ())
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
        d = _date(p)
        observations.append(core.Observation(key, radiometry, d.timetuple().tm_yday, d.toordinal(), p.sensor,
                                             harmonise and p.sensor in core.HARMONISED_SENSORS
                                             and p.surface_reflectance,
                                             period.windows[p.product_id], p.qa is not None))
    if area_path:
        inputs[core.AREA_KEY] = BandRef(area_path, 1, "STUDY_AREA")
    bap = ()
    if settings.method == "bap":
        bap = (("cloud_required", min(BAP_REQUIRED_M / grid.pixel_size[0], BAP_MAX_PX)),)
    plan = core.CompositePlan(tuple(observations), settings.method, period.thermal, settings.mask,
                              settings.target_doy, area_path is not None, bap)
    harmonised = any(o.harmonise for o in observations)
    # the sensors the composite's reflectance stands for: harmonised TM / ETM+ is OLI
    as_sensor = ["L8" if o.harmonise else o.sensor for o in observations]
    wet = "OLI" if all(k in ("L8", "L9", "S2") for k in as_sensor) else \
        SENSORS[max(as_sensor, key=as_sensor.count)].wet_set
    metadata = (("MINING_ECO_PERIOD", period.year), ("MINING_ECO_METHOD", settings.method),
                ("MINING_ECO_HARMONISED", "yes" if harmonised else "no"), ("MINING_ECO_WET_SET", wet),
                ("MINING_ECO_SCENES", ",".join(p.product_id for p in period.products)))
    result = alg.run_pass(BlockPass(
        inputs=inputs, load=partial(core.read_observations, plan=plan), compute=partial(core.composite_block,
                                                                                          plan=plan),
        combine=add, halo=plan.halo, block_rows=block_side(len(observations)),
        block_cols=block_side(len(observations)),
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
           pixels, "yes" if harmonised else "no", wet, os.path.basename(out_path))
    return result.paths["OUTPUT"], row


def block_side(observations: int) -> int:
    """Rows (= columns) of a composite block: 256 up to 16 observations in a period, smaller beyond, so that a
    block's stack of observations stays about the same size (memory bounded whatever the number of scenes, up to 256
    observations in one period; beyond, 64 x 64)."""
    if observations <= 16:
        return BLOCK
    return max(64, int(BLOCK * math.sqrt(16.0 / observations)) // 16 * 16)


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
        "(surface temperature, K, where the products have one), count (clear observations) and, except for the "
        "median, doy (day of year of the chosen observation). It opens in natural colour; every scene tool reads "
        "it as SCENE with the radiometry 'Already reflectance'. A table gives per year the scenes used and the "
        "clear-observation statistics.")
    SHORT_DESCRIPTION = "Cloud-masked seasonal composites of Landsat / Sentinel-2 products, mosaicked and clipped"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_composite_parameters(self)
        self.add_output(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Composites folder"),
                        "One GeoTIFF per year, composite_YYYY.tif (e.g. composite_2013.tif), each with its "
                        "natural-colour style (.qml).")
        self.add_output(QgsProcessingParameterFeatureSink("OUTPUT_TABLE", "Composite statistics",
                                                          compat.ProcessingSourceType.Vector, optional=True,
                                                          createByDefault=True),
                        "Per year: the date window, the scenes used, mean / min / max clear observations per pixel, "
                        "the share of the area with no clear observation, harmonisation and the wetness set.")
        self.add_result(QgsProcessingOutputMultipleLayers("COMPOSITES", "Composites"),
                        "The composites written, one per year in year order (for the Modeler: the input of RSEI, "
                        "spectral indices or LST with the radiometry 'Already reflectance').")

    def run_tool(self, parameters, context, feedback):
        settings = composite_settings(self, parameters, context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        os.makedirs(folder, exist_ok=True)
        periods = make_composites(self, settings, folder, feedback, 0, 97)
        table = self.write_table(parameters, "OUTPUT_TABLE", context, TABLE_FIELDS, [p.row for p in periods])
        # the composites of a folder the user chose open in the project, in natural colour (not those of a
        # temporary folder, e.g. inside a model); the .qml beside each file styles it wherever it is opened
        load = context.project() is not None and \
            not final_path(folder).startswith(QgsProcessingUtils.tempFolder())
        for period in periods:
            if load:
                context.addLayerToLoadOnCompletion(final_path(period.path), QgsProcessingContext.LayerDetails(
                    f"Composite {period.year}", context.project(), "COMPOSITES"))
            style_output(period.path, NATURAL_COLOUR, context)
        feedback.setProgress(100)
        return {"OUTPUT_FOLDER": folder, "OUTPUT_TABLE": table, "COMPOSITES": [p.path for p in periods]}


__all__ = ["CompositeAlgorithm", "add_composite_parameters", "composite_settings", "make_composites"]
