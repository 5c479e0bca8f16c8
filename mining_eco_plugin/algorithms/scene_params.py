"""The scene inputs shared by every algorithm that reads a Landsat / Sentinel-2 scene.

Bands come from a product as USGS / ESA deliver it (PRODUCT: its MTL, .tar, S2 .zip or MTD_MSIL2A.xml; sensor,
level, bands, QA band, constants and date come from its metadata, raster/products.open_product), or from one
multi-band raster (SCENE, with an optional BAND_MAPPING) or from one layer per band (BLUE ... THERMAL, which win
over SCENE for their role). PRODUCT cannot be combined with SCENE or band layers (it gives every band). Without a
product the RADIOMETRY choice says how DN become reflectance and temperature; QA_BAND masks clouds.
"""
from __future__ import annotations

import os
import re

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from .. import compat
from ..core import plausibility as pl
from ..core import radiometry as rad
from ..core.plausibility import RadiometryCheck
from ..core.scene import LEVEL_MODES, LstOptions, build_radiometry, product_radiometry
from ..core.sensors import SENSORS, band_role_from_name
from ..core.product_meta import ProductError
from ..raster.engine import BandRef, raster_info
from ..raster.products import open_product
from . import limits

SENSOR_KEYS = ("L5", "L7", "L8", "L9", "S2")
RADIOMETRY_OPTIONS = (
    ("L2", "Landsat Collection 2 Level-2 (SR x 0.0000275 - 0.2; ST x 0.00341802 + 149 K)"),
    ("L1_MTL", "Landsat Level-1 DN with the scene's MTL file (TOA reflectance; thermal radiance)"),
    ("S2_L2A", "Sentinel-2 L2A ((DN + BOA_ADD_OFFSET) / 10000)"),
    ("REFLECTANCE", "Already reflectance 0-1 (thermal band in kelvin)"),
    ("CUSTOM", "Custom scale and offset (thermal band in kelvin)"),
)
QA_OPTIONS = (
    (None, "Automatic (from sensor and radiometry)"),
    ("QA_PIXEL", "Landsat Collection 2 QA_PIXEL"),
    ("BQA", "Landsat Collection 1 BQA"),
    ("SCL", "Sentinel-2 scene classification (SCL)"),
)
RESAMPLING_OPTIONS = (
    (None, "None: all inputs must share one grid"),
    ("nearest", "Nearest neighbour"),
    ("bilinear", "Bilinear"),
    ("cubic", "Cubic"),
    ("average", "Average"),
)
ROLE_PARAMS = (
    ("B", "BLUE", "Blue band"),
    ("G", "GREEN", "Green band"),
    ("R", "RED", "Red band"),
    ("NIR", "NIR", "Near-infrared band"),
    ("SWIR1", "SWIR1", "Shortwave-infrared 1 band"),
    ("SWIR2", "SWIR2", "Shortwave-infrared 2 band"),
    ("T", "THERMAL", "Thermal band"),
)
DEFAULT_ORDER = ("B", "G", "R", "NIR", "SWIR1", "SWIR2", "T")
#: the plausibility rules of core.plausibility, in the help of RADIOMETRY (every tool that reads a scene)
PLAUSIBILITY_HELP = (
    f"Refused as impossible: Level-1 DN above the band's QCALMAX; most of a block's reflectance above "
    f"{pl.REFLECTANCE_MAX:g}, or below {pl.VISIBLE_NIR_REFLECTANCE_MIN:g} (blue to NIR) / {pl.REFLECTANCE_MIN:g} "
    f"(SWIR). Warned as implausible: a scene mean LST below {pl.LST_MIN_C:g} or above {pl.LST_MAX_C:g} deg C, or "
    f"below {pl.LST_SUMMER_MIN_C:g} deg C in summer (June-August north, December-February south of the equator, "
    f"within {pl.SUMMER_RULE_MAX_LATITUDE:g} deg; date from the MTL or the Landsat file names).")
LST_METHODS = (
    ("rte", "Radiative transfer equation (Han et al. 2025, eqs. 6-8)"),
    ("single_channel", "Single channel, emissivity-corrected brightness temperature (Artis & Carnahan 1982)"),
)


#: how a product's level is read (core.product_meta levels -> RADIOMETRY modes)
PRODUCT_FILTER = ("Landsat / Sentinel-2 products (*_MTL.txt *_MTL.xml *_MTL.json *.tar *.tar.gz *.tgz *.zip "
                  "MTD_MSIL2A.xml);;All files (*)")
#: what the scene parameters need, said in every scene tool's summary and in the bands' help
NEEDS = "Give PRODUCT, or SCENE, or the band layers."


def add_scene_parameters(alg, thermal=True):
    """Add the scene parameters to ``alg`` (a MiningEcoAlgorithm)."""
    alg.add(QgsProcessingParameterFile("PRODUCT", "Product (Landsat MTL or .tar, Sentinel-2 L2A .zip or "
                                       "MTD_MSIL2A.xml)", extension="", optional=True, fileFilter=PRODUCT_FILTER),
            f"{NEEDS} The product as downloaded: a Landsat *_MTL.txt / .xml / .json (its folder holds the bands), "
            "the Landsat .tar, the Sentinel-2 L2A .zip or the MTD_MSIL2A.xml inside a .SAFE folder (archives are "
            "read in place). Sensor, level, bands, QA band, constants and date come from its metadata: SENSOR, "
            "RADIOMETRY are then ignored, and SCENE, band layers, MTL_FILE and QA_BAND cannot be added. "
            "Sentinel-2 20 m bands and SCL are resampled onto the 10 m grid of B02 (RESAMPLING, bilinear by "
            "default; SCL by nearest neighbour).")
    # optional: Modeler models saved before this parameter existed stay valid (a mandatory one would be missing)
    alg.add(QgsProcessingParameterBoolean("TOA_OK", "Level-1 top-of-atmosphere reflectance is fine",
                                          defaultValue=False, optional=True),
            "PRODUCT only: accept a Level-1 product (Landsat C2 L1, C1, pre-collection) and use its TOA "
            "reflectance. Off: only surface reflectance (Landsat C2 Level-2, Sentinel-2 L2A) is accepted.")
    alg.add(QgsProcessingParameterEnum("SENSOR", "Sensor", [SENSORS[k].title for k in SENSOR_KEYS],
                                       defaultValue=2),
            "Band preset: which band is blue, red, NIR ... and the thermal constants.")
    alg.add(QgsProcessingParameterEnum("RADIOMETRY", "Input product / radiometry",
                                       [t for _, t in RADIOMETRY_OPTIONS], defaultValue=0),
            "How pixel values become reflectance (0-1) and temperature. Indices are never computed on raw DN. "
            + PLAUSIBILITY_HELP)
    alg.add(QgsProcessingParameterFile("MTL_FILE", "Landsat MTL metadata file (*_MTL.txt)",
                                       extension="txt", optional=True),
            "Needed for Level-1 DN: reflectance multipliers and adders, sun elevation, K1/K2. "
            "It must belong to the same scene as the bands.")
    alg.add(QgsProcessingParameterRasterLayer("SCENE", "Multi-band scene", optional=True),
            "Without PRODUCT: one raster holding the bands. Bands are matched by their names (e.g. SR_B4, B4) or, "
            "failing "
            "that, taken in the order blue, green, red, NIR, SWIR1, SWIR2, thermal; BAND_MAPPING overrides.")
    alg.add(QgsProcessingParameterString("BAND_MAPPING", "Band mapping of the multi-band scene", optional=True,
                                         defaultValue=""),
            "Role=band number pairs, e.g. 'B=1,G=2,R=3,NIR=4,SWIR1=5,SWIR2=6,T=7'. Roles: B G R NIR SWIR1 SWIR2 T.")
    for role, pid, label in ROLE_PARAMS:
        if role == "T" and not thermal:
            continue
        alg.add(QgsProcessingParameterRasterLayer(pid, f"{label} (single-band layer)", optional=True),
                f"Without PRODUCT or SCENE: the {label.lower()} as its own layer (band 1); overrides SCENE for this "
                "role. Which bands are needed depends on the outputs.")
    alg.add(QgsProcessingParameterRasterLayer("QA_BAND", "Quality band for cloud masking", optional=True),
            "QA_PIXEL (Collection 2), BQA (Collection 1) or SCL (Sentinel-2). Masked pixels become nodata.")
    alg.add(QgsProcessingParameterEnum("QA_TYPE", "Quality band type", [t for _, t in QA_OPTIONS], defaultValue=0),
            "Which bit rules to apply to QA_BAND; Automatic picks BQA for Collection 1 MTLs, SCL for "
            "Sentinel-2 and QA_PIXEL otherwise.", advanced=True)
    alg.add(QgsProcessingParameterNumber("SCALE", "Custom scale", compat.ProcessingNumberParameterType.Double,
                                         defaultValue=1.0, minValue=-limits.SCALE_ABS_MAX,
                                         maxValue=limits.SCALE_ABS_MAX),
            "Custom radiometry only: reflectance = DN x scale + offset.", advanced=True)
    alg.add(QgsProcessingParameterNumber("OFFSET", "Custom offset", compat.ProcessingNumberParameterType.Double,
                                         defaultValue=0.0, minValue=-limits.SCALE_ABS_MAX,
                                         maxValue=limits.SCALE_ABS_MAX),
            "Custom radiometry only.", advanced=True)
    alg.add(QgsProcessingParameterNumber("S2_BOA_ADD_OFFSET", "Sentinel-2 BOA_ADD_OFFSET",
                                         compat.ProcessingNumberParameterType.Double, defaultValue=-1000.0,
                                         minValue=-limits.S2_OFFSET_ABS_MAX, maxValue=limits.S2_OFFSET_ABS_MAX),
            "From MTD_MSIL2A.xml: -1000 from processing baseline 04.00 (25 Jan 2022), 0 before.", advanced=True)
    alg.add(QgsProcessingParameterEnum("RESAMPLING", "Resample inputs onto the first input's grid",
                                       [t for _, t in RESAMPLING_OPTIONS], defaultValue=0),
            "By default inputs on different grids are an error (a Sentinel-2 PRODUCT: bilinear); choose a method "
            "to warp them instead (e.g. Sentinel-2 20 m SWIR onto 10 m). Quality bands always use nearest "
            "neighbour.", advanced=True)


def add_lst_parameters(alg):
    alg.add(QgsProcessingParameterEnum("LST_METHOD", "LST method for Level-1 thermal bands",
                                       [t for _, t in LST_METHODS], defaultValue=0),
            "Level-1 only (Level-2 ST bands are already surface temperature). Emissivity from NDVI "
            "(Sobrino et al. 2004 thresholds 0.2 / 0.5).")
    alg.add(QgsProcessingParameterNumber("ATM_TRANSMITTANCE", "Atmospheric transmittance (tau)",
                                         compat.ProcessingNumberParameterType.Double, defaultValue=1.0, minValue=0.01,
                                         maxValue=1.0),
            "Radiative transfer method: tau of eq. 6 (1 = no atmospheric correction).", advanced=True)
    alg.add(QgsProcessingParameterNumber("UPWELLING", "Upwelling radiance", compat.ProcessingNumberParameterType.Double,
                                         defaultValue=0.0, minValue=0.0, maxValue=limits.RADIANCE_MAX),
            "Radiative transfer method: R_up of eq. 6, W m-2 sr-1 um-1.", advanced=True)
    alg.add(QgsProcessingParameterNumber("DOWNWELLING", "Downwelling radiance",
                                         compat.ProcessingNumberParameterType.Double, defaultValue=0.0, minValue=0.0,
                                         maxValue=limits.RADIANCE_MAX),
            "Radiative transfer method: R_down of eq. 6, W m-2 sr-1 um-1.", advanced=True)


def lst_options(alg, parameters, context) -> LstOptions:
    return LstOptions(
        method=LST_METHODS[alg.parameterAsEnum(parameters, "LST_METHOD", context)][0],
        tau=alg.parameterAsDouble(parameters, "ATM_TRANSMITTANCE", context),
        up=alg.parameterAsDouble(parameters, "UPWELLING", context),
        down=alg.parameterAsDouble(parameters, "DOWNWELLING", context),
    )


def parse_band_mapping(text: str, band_count: int) -> dict:
    """'R=3, NIR=4' -> {"R": 3, "NIR": 4}; ValueError naming a bad entry or a missing band."""
    mapping = {}
    aliases = {"BLUE": "B", "GREEN": "G", "RED": "R", "THERMAL": "T", "TIR": "T"}
    for item in filter(None, (p.strip() for p in re.split(r"[,;\s]+", text or ""))):
        m = re.fullmatch(r"([A-Za-z0-9_]+)\s*[=:]\s*(\d+)", item)
        role = m and aliases.get(m.group(1).upper(), m.group(1).upper())
        if not m or role not in DEFAULT_ORDER:
            raise ValueError(f"BAND_MAPPING: cannot read {item!r}; write role=band pairs such as "
                             "'R=3,NIR=4' with roles B, G, R, NIR, SWIR1, SWIR2, T.")
        band = int(m.group(2))
        if not 1 <= band <= band_count:
            raise ValueError(f"BAND_MAPPING: {item} names band {band}, but SCENE has {band_count} band(s). "
                             "Fix the band number.")
        mapping[role] = band
    return mapping


class SceneInputs:
    """What the scene parameters resolve to: band references by role, QA reference, radiometry."""

    def __init__(self, refs, qa_ref, radiometry, sensor_key, date=None, latitude=None, product=None):
        self.refs = refs
        self.product = product      # the core.product_meta.Product the bands come from, or None
        self.qa = qa_ref
        self.radiometry = radiometry
        self.sensor_key = sensor_key
        self.date = date            # acquisition date "YYYY-MM-DD" (MTL, else the Landsat ids of the names) or None
        self.latitude = latitude    # latitude of the scene centre or None
        # sees every block as it is converted: refuses impossible values, collects warnings (core.plausibility)
        self.check = RadiometryCheck(radiometry.mode, {r: ref.describe() for r, ref in refs.items()}, date,
                                     latitude)

    def stack_refs(self, roles):
        refs = {r: self.refs[r] for r in roles}
        if self.qa is not None:
            refs["QA"] = self.qa
        return refs


def _layer_path(alg, parameters, name, context):
    layer = alg.parameterAsRasterLayer(parameters, name, context)
    if layer is None:
        return None
    return layer.source().split("|")[0]


def scene_product(alg, parameters, context):
    """The opened PRODUCT (core.product_meta.Product with GDAL paths, raster/products.open_product) or None when
    none is given; opened once per run. ValueError naming PRODUCT for a product that is missing, damaged,
    incomplete or Level-1 without TOA_OK."""
    if "PRODUCT" not in {d.name() for d in alg.parameterDefinitions()}:
        return None
    path = alg.parameterAsFile(parameters, "PRODUCT", context)
    if not path:
        return None
    toa_ok = alg.parameterAsBoolean(parameters, "TOA_OK", context)
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None
    key = (path, toa_ok, stamp)
    cache = alg.__dict__.setdefault("_scene_products", {})
    if key not in cache:
        try:
            product = open_product(path, toa_ok=toa_ok)
        except ProductError as err:
            msg = str(err.args[0] if err.args else err)
            if os.path.basename(os.path.normpath(path)) not in msg:     # a member's message: name the product too
                msg = f"{path}: {msg}"
            raise ValueError(f"PRODUCT: {msg}") from None
        cache.clear()
        cache[key] = product
    return cache[key]


def _product_scene(alg, parameters, context, roles, product) -> SceneInputs:
    """SceneInputs from an opened product: its sensor, level, band files, QA band and constants."""
    defined = {d.name() for d in alg.parameterDefinitions()}
    given = [pid for pid in ("SCENE",) + tuple(p for _, p, _ in ROLE_PARAMS) + ("QA_BAND",)
             if pid in defined and _layer_path(alg, parameters, pid, context)]
    if "MTL_FILE" in defined and alg.parameterAsFile(parameters, "MTL_FILE", context):
        given.append("MTL_FILE")
    if given:
        raise ValueError(f"PRODUCT and {', '.join(given)} were both given: the product gives its bands, its metadata "
                         f"and its quality band. Remove {', '.join(given)} (or PRODUCT to use your own layers).")
    names = {role: pid for role, pid, _ in ROLE_PARAMS}
    missing = [r for r in roles if r not in product.bands]
    if missing:
        what = ("Sentinel-2 has no thermal band (LST needs Landsat)" if product.sensor == "S2" and "T" in missing
                else "its metadata names no file for it")
        raise ValueError(f"PRODUCT: {os.path.basename(product.source)} ({product.product_id}) has no "
                         f"{', '.join(names[r] for r in missing)} band: {what}.")
    refs = {r: BandRef(product.bands[r], 1, f"PRODUCT {names[r]}") for r in roles}
    qa_ref = BandRef(product.qa, 1, f"PRODUCT {product.qa_kind}", categorical=True) if product.qa else None
    try:
        latitude = raster_info(refs[roles[0]].path)[0].center_latitude() if roles else None
    except ValueError:
        latitude = None
    radiometry = product_radiometry(
        product, roles, wet_set=getattr(alg, "wet_set", lambda p, c: None)(parameters, context),
        lst=lst_options(alg, parameters, context) if "LST_METHOD" in defined else LstOptions(),
        qa=qa_ref is not None)
    return SceneInputs(refs, qa_ref, radiometry, product.sensor, product.date, latitude, product)


def resolve_scene(alg, parameters, context, roles) -> SceneInputs:
    """Band references for ``roles`` and the radiometry, checked; ValueError with a clear message."""
    product = scene_product(alg, parameters, context)
    if product is not None:
        return _product_scene(alg, parameters, context, roles, product)
    sensor_key = SENSOR_KEYS[alg.parameterAsEnum(parameters, "SENSOR", context)]
    sensor = SENSORS[sensor_key]
    mode = radiometry_mode(alg, parameters, context)
    refs = {}
    scene_path = _layer_path(alg, parameters, "SCENE", context)
    if scene_path:
        _grid, count, names = raster_info(scene_path, "SCENE")
        mapping = parse_band_mapping(alg.parameterAsString(parameters, "BAND_MAPPING", context), count)
        if not mapping:
            by_name = {}
            for i, n in enumerate(names):
                role = band_role_from_name(sensor, n) if n else None
                if role and role not in by_name:
                    by_name[role] = i + 1
            mapping = by_name or {role: i + 1 for i, role in enumerate(DEFAULT_ORDER[:count])}
        refs = {role: BandRef(scene_path, band, f"SCENE band {band} ({role})") for role, band in mapping.items()}
    defined = {d.name() for d in alg.parameterDefinitions()}
    for role, pid, _label in ROLE_PARAMS:
        path = _layer_path(alg, parameters, pid, context) if pid in defined else None
        if path:
            refs[role] = BandRef(path, 1, pid)
    missing = [r for r in roles if r not in refs]
    if missing:
        names = {role: pid for role, pid, _ in ROLE_PARAMS}
        raise ValueError("missing band(s) " + ", ".join(f"{names[r]}" for r in missing)
                         + ": give them as single-band layers, or a SCENE that holds them "
                         "(with BAND_MAPPING if its bands are not named or ordered B, G, R, NIR, SWIR1, SWIR2, T).")
    mtl = None
    if mode == "L1_MTL":
        mtl_path = alg.parameterAsFile(parameters, "MTL_FILE", context)
        if not mtl_path:
            raise ValueError("MTL_FILE: Level-1 DN input needs the scene's *_MTL.txt. Give it, or choose another "
                             "radiometry.")
        try:
            with open(mtl_path, encoding="utf-8", errors="replace") as fh:
                mtl = rad.parse_mtl(fh.read())
        except OSError as err:
            raise ValueError(f"MTL_FILE: cannot read {mtl_path} ({err}).") from None
        try:
            rad.check_mtl_matches(mtl, sensor_key, [os.path.basename(refs[r].path) for r in roles])
        except rad.MtlError as err:
            raise ValueError(f"MTL_FILE: {err}") from None
    qa_path = _layer_path(alg, parameters, "QA_BAND", context)
    qa_ref, qa_kind = None, None
    if qa_path:
        qa_ref = BandRef(qa_path, 1, "QA_BAND", categorical=True)
        qa_kind = QA_OPTIONS[alg.parameterAsEnum(parameters, "QA_TYPE", context)][0]
        if qa_kind is None:
            if sensor_key == "S2":
                qa_kind = "SCL"
            elif mode == "L1_MTL" and rad.mtl_scene(mtl).collection < 2:
                qa_kind = "BQA"
            else:
                qa_kind = "QA_PIXEL"
    try:
        date = rad.mtl_scene(mtl).date if mtl is not None else _optional_mtl_date(alg, parameters, context)
    except rad.MtlError as err:
        raise ValueError(f"MTL_FILE: {err}") from None
    date = date or rad.acquisition_date_in_names([os.path.basename(refs[r].path) for r in roles])
    try:
        latitude = raster_info(refs[roles[0]].path)[0].center_latitude() if roles else None
    except ValueError:
        latitude = None
    radiometry = build_radiometry(
        sensor_key, mode, roles, mtl=mtl,
        scale=alg.parameterAsDouble(parameters, "SCALE", context),
        offset=alg.parameterAsDouble(parameters, "OFFSET", context),
        s2_offset=alg.parameterAsDouble(parameters, "S2_BOA_ADD_OFFSET", context),
        qa_kind=qa_kind,
        wet_set=getattr(alg, "wet_set", lambda p, c: None)(parameters, context),
        lst=lst_options(alg, parameters, context) if "LST_METHOD" in defined else LstOptions())
    return SceneInputs(refs, qa_ref, radiometry, sensor_key, date, latitude)


def _optional_mtl_date(alg, parameters, context):
    """The acquisition date of an MTL_FILE given with a radiometry that does not need it (it only dates the scene
    for the plausibility warnings); None when there is none or it cannot be read."""
    if "MTL_FILE" not in {d.name() for d in alg.parameterDefinitions()}:
        return None
    path = alg.parameterAsFile(parameters, "MTL_FILE", context)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return rad.mtl_scene(rad.parse_mtl(fh.read())).date
    except (OSError, rad.MtlError):
        return None


def resampling_choice(alg, parameters, context):
    """The RESAMPLING chosen; for a Sentinel-2 PRODUCT without a choice bilinear (its 20 m bands onto the 10 m
    grid of B02; the SCL band is categorical, so nearest neighbour)."""
    chosen = RESAMPLING_OPTIONS[alg.parameterAsEnum(parameters, "RESAMPLING", context)][0]
    if chosen is None:
        product = scene_product(alg, parameters, context)
        if product is not None and product.sensor == "S2":
            return "bilinear"
    return chosen


def radiometry_mode(alg, parameters, context):
    """The radiometry: the PRODUCT's own level when one is given, else the RADIOMETRY chosen."""
    product = scene_product(alg, parameters, context)
    if product is not None:
        return LEVEL_MODES[product.level]
    return RADIOMETRY_OPTIONS[alg.parameterAsEnum(parameters, "RADIOMETRY", context)][0]
