"""Radiometric conversion of Landsat / Sentinel-2 digital numbers, MTL parsing and QA masks.

Pure numpy: no QGIS / GDAL import, no file access. MTL functions take the MTL *text* (or the
dict returned by :func:`parse_mtl`).

Formulas and sources
--------------------
* Level-1 radiance (USGS Landsat 8 Data Users Handbook, sect. 5; Landsat 7 handbook):
  ``L = RADIANCE_MULT_BAND_x * Qcal + RADIANCE_ADD_BAND_x``. Pre-Collection MTL files:
  ``L = (LMAX - LMIN) / (QCALMAX - QCALMIN) * (Qcal - QCALMIN) + LMIN`` (Chander, Markham &
  Helder 2009, Remote Sens. Environ. 113:893-903, eq. 1).
* TOA reflectance with sun-angle correction (USGS Landsat 8 handbook, sect. 5.2):
  ``rho = (REFLECTANCE_MULT_BAND_x * Qcal + REFLECTANCE_ADD_BAND_x) / sin(SUN_ELEVATION)``.
  Without REFLECTANCE_* keys (Pre-Collection TM/ETM+): ``rho = pi L d^2 / (ESUN cos(SZA))``
  (Chander et al. 2009, eq. 2) with the ESUN of Chander et al. 2009 Table 4 and d from
  EARTH_SUN_DISTANCE or, if absent, from the acquisition date (see :func:`earth_sun_distance`).
* Brightness temperature (Chander et al. 2009, eq. 3): ``T = K2 / ln(K1 / L + 1)``.
* Collection 2 Level-2 scaling (INDICES.md; USGS C2 L2 Science Product Guide):
  reflectance = DN * 2.75e-5 - 0.2 (valid DN 1..65455); ST (K) = DN * 0.00341802 + 149.0.
* Sentinel-2 L2A (INDICES.md; ESA L2A product spec, baseline 04.00):
  reflectance = (DN + BOA_ADD_OFFSET) / 10000, DN 0 = no data.
* QA: C2 QA_PIXEL bits (INDICES.md), C1 BQA bits (USGS "Landsat Collection 1 Level-1 Quality
  Assessment Band", LSDS-1873 / Landsat C1 QA web page), Sentinel-2 SCL classes (INDICES.md).

Array outputs are float32 (bool for masks) with NaN for no data / undefined values; no
RuntimeWarning is emitted (``np.errstate``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date as _date, datetime as _datetime
from typing import Iterable

import numpy as np

from .sensors import SENSORS, normalise_spacecraft, sensor_for_spacecraft


class MtlError(ValueError):
    """An MTL file is unusable, incomplete or does not belong to the chosen inputs."""


# ----------------------------------------------------------------------------------------
# MTL parsing
# ----------------------------------------------------------------------------------------
_ROOT_GROUPS = ("L1_METADATA_FILE", "LANDSAT_METADATA_FILE")
_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$")


def parse_mtl(text: str) -> dict[str, str]:
    """Parse Landsat MTL text (ODL ``KEY = VALUE`` lines) into a flat dict.

    Quotes around values are stripped; CRLF line ends, a BOM and NUL padding are tolerated;
    the first occurrence of a key wins. In addition every
    key inside a group is also stored qualified by its innermost group, ``"GROUP.KEY"``
    (e.g. ``"LEVEL1_RADIOMETRIC_RESCALING.REFLECTANCE_MULT_BAND_4"``): in Collection 2
    Level-2 MTL files the same key appears both for the Level-2 surface reflectance scaling and
    for the Level-1 TOA rescaling, and the Level-1 functions below prefer the LEVEL1_ groups.

    Raises MtlError if the text is not a Landsat MTL (no ``GROUP = L1_METADATA_FILE`` or
    ``GROUP = LANDSAT_METADATA_FILE``).
    """
    if not isinstance(text, str):
        raise MtlError("The MTL metadata must be given as text.")
    out: dict[str, str] = {}
    stack: list[str] = []
    root_seen = False
    # some Pre-Collection files are padded with NUL bytes / blanks after the final END
    for raw in text.lstrip("\ufeff").replace("\x00", "").splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        key, value = m.group(1).upper(), m.group(2)
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        value = value.strip()
        if key == "GROUP":
            if value.upper() in _ROOT_GROUPS:
                root_seen = True
            stack.append(value.upper())
            continue
        if key == "END_GROUP":
            if stack:
                stack.pop()
            continue
        out.setdefault(key, value)
        if stack:
            out.setdefault(f"{stack[-1]}.{key}", value)
    if not root_seen:
        raise MtlError("This is not a Landsat MTL metadata file: it has no "
                       "'GROUP = L1_METADATA_FILE' or 'GROUP = LANDSAT_METADATA_FILE' line.")
    return out


def _as_mtl(mtl) -> dict:
    if isinstance(mtl, str):
        return parse_mtl(mtl)
    if not isinstance(mtl, dict):
        raise MtlError("Expected the MTL metadata (text or the dict returned by parse_mtl).")
    return mtl


def _lookup(mtl: dict, keys: Iterable[str], groups: Iterable[str] = ()) -> str | None:
    """First present value among ``keys``, trying the ``groups``-qualified form first."""
    keys = tuple(keys)
    for g in groups:
        for k in keys:
            v = mtl.get(f"{g}.{k}")
            if v not in (None, ""):
                return v
    for k in keys:
        v = mtl.get(k)
        if v not in (None, ""):
            return v
    return None


def _finite(key: str, value: float) -> float:
    """``value`` unless it is NaN or infinite (MtlError naming the key: such a constant makes every pixel
    nodata; ``float("nan")`` parses)."""
    if not math.isfinite(value):
        raise MtlError(f"The MTL value {key} = {value} is not a finite number: the file is damaged or was edited. "
                       "Use the MTL file as delivered with the scene.")
    return value


def _float(mtl: dict, keys, what: str, groups=()) -> float:
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    v = _lookup(mtl, keys, groups)
    if v is None:
        raise MtlError(f"The MTL file has no {keys[0]} ({what}).")
    try:
        value = float(v)
    except ValueError:
        raise MtlError(f"The MTL value {keys[0]} = {v!r} is not a number ({what}).") from None
    return _finite(keys[0], value)


def _optional_float(mtl: dict, keys, groups=()) -> float | None:
    """The value of the first present key, None when absent or not a number; MtlError when it is NaN / inf."""
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    v = _lookup(mtl, keys, groups)
    try:
        value = None if v is None else float(v)
    except ValueError:
        return None
    return None if value is None else _finite(keys[0], value)


def _positive(key: str, value: float, what: str) -> float:
    """``value`` unless it is <= 0 (MtlError: a gain or a thermal constant cannot be)."""
    if not value > 0:
        raise MtlError(f"The MTL value {key} = {value:g} is not positive, which a {what} cannot be: the file is "
                       "damaged or was edited. Use the MTL file as delivered with the scene.")
    return value


def _band_id(band_id) -> str:
    """``"4"``, ``4``, ``"B4"``, ``"b6_vcid_1"`` -> ``"4"`` / ``"6_VCID_1"``."""
    b = str(band_id).strip().upper()
    if b.startswith("BAND"):
        b = b[4:].lstrip("_ ")
    elif b.startswith("B"):
        b = b[1:]
    if not b:
        raise MtlError(f"Invalid Landsat band id {band_id!r}.")
    return b


def _old_band_ids(bid: str) -> tuple[str, ...]:
    """Old-format MTL spelling of a band id: ETM+ ``6_VCID_1`` -> ``61``."""
    m = re.fullmatch(r"(\d+)_VCID_(\d)", bid)
    return (m.group(1) + m.group(2),) if m else (bid,)


@dataclass(frozen=True)
class MtlScene:
    """The scene-level facts of an MTL file."""
    spacecraft: str                 # "LANDSAT_8"
    sensor_id: str                  # "OLI_TIRS", "ETM", "TM"
    product_id: str | None          # LANDSAT_PRODUCT_ID (Collection 1/2)
    scene_id: str | None            # LANDSAT_SCENE_ID
    date: str                       # acquisition date, ISO "YYYY-MM-DD"
    sun_elevation: float            # degrees
    earth_sun_distance: float | None  # AU, None when the MTL does not give it
    collection: int                 # 0 = pre-collection, 1, 2


def mtl_scene(mtl) -> MtlScene:
    """Extract :class:`MtlScene` from a parsed MTL (raises MtlError naming a missing key)."""
    mtl = _as_mtl(mtl)
    spacecraft = _lookup(mtl, ("SPACECRAFT_ID",))
    if not spacecraft:
        raise MtlError("The MTL file has no SPACECRAFT_ID.")
    date = _lookup(mtl, ("DATE_ACQUIRED", "ACQUISITION_DATE"))
    if not date:
        raise MtlError("The MTL file has no DATE_ACQUIRED (acquisition date).")
    coll = _lookup(mtl, ("COLLECTION_NUMBER",))
    try:
        collection = int(coll) if coll is not None else 0
    except ValueError:
        raise MtlError(f"The MTL value COLLECTION_NUMBER = {coll!r} is not a number.") from None
    return MtlScene(
        spacecraft=normalise_spacecraft(spacecraft),
        sensor_id=_lookup(mtl, ("SENSOR_ID",)) or "",
        product_id=_lookup(mtl, ("LANDSAT_PRODUCT_ID",)),
        scene_id=_lookup(mtl, ("LANDSAT_SCENE_ID",)),
        date=date[:10],
        sun_elevation=_float(mtl, ("SUN_ELEVATION",), "sun elevation"),
        earth_sun_distance=_optional_float(mtl, "EARTH_SUN_DISTANCE"),
        collection=collection,
    )


# ----------------------------------------------------------------------------------------
# Level-1 coefficients
# ----------------------------------------------------------------------------------------
_L1_RESCALING = ("LEVEL1_RADIOMETRIC_RESCALING", "RADIOMETRIC_RESCALING")
_L1_MINMAX_RAD = ("LEVEL1_MIN_MAX_RADIANCE", "MIN_MAX_RADIANCE")
_L1_MINMAX_PIX = ("LEVEL1_MIN_MAX_PIXEL_VALUE", "MIN_MAX_PIXEL_VALUE")
_L1_THERMAL = ("LEVEL1_THERMAL_CONSTANTS", "THERMAL_CONSTANTS", "TIRS_THERMAL_CONSTANTS")


def _lmax_lmin_coefficients(mtl: dict, bid: str) -> tuple[float, float] | None:
    old = _old_band_ids(bid)
    lmax = _lookup(mtl, [f"RADIANCE_MAXIMUM_BAND_{bid}"] + [f"LMAX_BAND{o}" for o in old],
                   _L1_MINMAX_RAD)
    lmin = _lookup(mtl, [f"RADIANCE_MINIMUM_BAND_{bid}"] + [f"LMIN_BAND{o}" for o in old],
                   _L1_MINMAX_RAD)
    qmax = _lookup(mtl, [f"QUANTIZE_CAL_MAX_BAND_{bid}"] + [f"QCALMAX_BAND{o}" for o in old],
                   _L1_MINMAX_PIX)
    qmin = _lookup(mtl, [f"QUANTIZE_CAL_MIN_BAND_{bid}"] + [f"QCALMIN_BAND{o}" for o in old],
                   _L1_MINMAX_PIX)
    if None in (lmax, lmin, qmax, qmin):
        return None
    try:
        lmax, lmin, qmax, qmin = float(lmax), float(lmin), float(qmax), float(qmin)
    except ValueError:
        raise MtlError(f"Non-numeric radiance range for band {bid} in the MTL file.") from None
    for key, value in ((f"RADIANCE_MAXIMUM_BAND_{bid}", lmax), (f"RADIANCE_MINIMUM_BAND_{bid}", lmin),
                       (f"QUANTIZE_CAL_MAX_BAND_{bid}", qmax), (f"QUANTIZE_CAL_MIN_BAND_{bid}", qmin)):
        _finite(key, value)
    if qmax == qmin:
        raise MtlError(f"QUANTIZE_CAL_MAX_BAND_{bid} equals QUANTIZE_CAL_MIN_BAND_{bid}.")
    gain = (lmax - lmin) / (qmax - qmin)
    _positive(f"(LMAX - LMIN) / (QCALMAX - QCALMIN) of band {bid}", gain, "radiance gain")
    return gain, lmin - gain * qmin


def radiance_coefficients(mtl, band_id) -> tuple[float, float]:
    """(gain, offset) with ``L = gain * DN + offset`` in W m-2 sr-1 um-1.

    Collection 1/2: RADIANCE_MULT_BAND_x / RADIANCE_ADD_BAND_x (USGS Landsat 8 handbook eq.
    5-1). Pre-Collection (no COLLECTION_NUMBER): LMAX/LMIN/QCALMAX/QCALMIN (Chander et al.
    2009 eq. 1: ``L = (LMAX-LMIN)/(QCALMAX-QCALMIN) * (Q-QCALMIN) + LMIN``), because the
    RADIANCE_MULT of those files is rounded to 3 decimals; each form is the fallback of the
    other. ``band_id`` like ``"4"``, ``"10"`` or ``"6_VCID_1"``.
    """
    mtl = _as_mtl(mtl)
    bid = _band_id(band_id)
    coll = _lookup(mtl, ("COLLECTION_NUMBER",))
    mult = _optional_float(mtl, f"RADIANCE_MULT_BAND_{bid}", _L1_RESCALING)
    add = _optional_float(mtl, f"RADIANCE_ADD_BAND_{bid}", _L1_RESCALING)
    minmax = _lmax_lmin_coefficients(mtl, bid)
    if coll is None and minmax is not None:
        return minmax
    if mult is not None and add is not None:
        return _positive(f"RADIANCE_MULT_BAND_{bid}", mult, "radiance gain"), add
    if minmax is not None:
        return minmax
    raise MtlError(f"The MTL file has no radiance rescaling for band {bid}: neither "
                   f"RADIANCE_MULT_BAND_{bid}/RADIANCE_ADD_BAND_{bid} nor "
                   f"RADIANCE_MAXIMUM/MINIMUM_BAND_{bid}. Is it the MTL of this sensor?")


# Mean exo-atmospheric solar irradiance ESUN (W m-2 um-1), Chander et al. 2009, Table 4.
ESUN: dict[str, dict[str, float]] = {
    "LANDSAT_5": {"1": 1983.0, "2": 1796.0, "3": 1536.0, "4": 1031.0, "5": 220.0, "7": 83.44},
    "LANDSAT_7": {"1": 1997.0, "2": 1812.0, "3": 1533.0, "4": 1039.0, "5": 230.8, "7": 84.90,
                  "8": 1362.0},
}


#: Accepted EARTH_SUN_DISTANCE of an MTL file (AU): the orbit keeps it within 0.9833 - 1.0167; a value outside
#: this range is a damaged or edited file.
EARTH_SUN_DISTANCE_RANGE = (0.975, 1.025)

#: The largest Level-1 DN (QCALMAX) per spacecraft when the MTL does not give QUANTIZE_CAL_MAX_BAND_x /
#: QCALMAX_BANDx: 8-bit TM / ETM+ (Chander et al. 2009, Table 1: QCALMAX 255), 16-bit scaled OLI / TIRS
#: (USGS Landsat 8 Data Users Handbook: 65535).
QCALMAX_DEFAULT = {"LANDSAT_4": 255.0, "LANDSAT_5": 255.0, "LANDSAT_7": 255.0, "LANDSAT_8": 65535.0,
                   "LANDSAT_9": 65535.0}


def qcal_max(mtl, band_id) -> float | None:
    """The largest Level-1 DN of band ``band_id``: QUANTIZE_CAL_MAX_BAND_x (Collection 1/2) or QCALMAX_BANDx
    (Pre-Collection) of the MTL, else :data:`QCALMAX_DEFAULT` of its SPACECRAFT_ID; None when unknown. A DN above
    it cannot belong to that sensor (e.g. Landsat 8 DN with a Landsat 7 MTL)."""
    mtl = _as_mtl(mtl)
    bid = _band_id(band_id)
    old = _old_band_ids(bid)
    v = _optional_float(mtl, [f"QUANTIZE_CAL_MAX_BAND_{bid}"] + [f"QCALMAX_BAND{o}" for o in old], _L1_MINMAX_PIX)
    if v is not None:
        return _positive(f"QUANTIZE_CAL_MAX_BAND_{bid}", v, "largest DN")
    return QCALMAX_DEFAULT.get(normalise_spacecraft(_lookup(mtl, ("SPACECRAFT_ID",)) or ""))


def earth_sun_distance(date_iso: str, time_utc: str | None = None) -> float:
    """Earth-Sun distance (AU) on a date ``"YYYY-MM-DD"`` (optional ``"HH:MM:SS.sZ"`` time).

    Low-precision solar ephemeris of the Astronomical Almanac (section C, "Low precision
    formulas for the Sun"): ``g = 357.529 + 0.98560028 n`` (deg), n = JD - 2451545.0,
    ``R = 1.00014 - 0.01671 cos g - 0.00014 cos 2g``. It reproduces the day-of-year table of
    Chander et al. 2009 (Table 6 / Landsat 7 handbook d.xls) to within 1.1e-4 AU over
    1990-2010 and the EARTH_SUN_DISTANCE of USGS Collection-1 MTL files to ~1e-5 AU when the
    scene centre time is used; it replaces the table look-up.
    """
    try:
        d = _date.fromisoformat(str(date_iso)[:10])
    except ValueError:
        raise MtlError(f"Invalid acquisition date {date_iso!r} (expected YYYY-MM-DD).") from None
    hours = 12.0
    if time_utc:
        m = re.match(r"\s*(\d{1,2}):(\d{2}):(\d{2}(?:\.\d*)?)", str(time_utc))
        if m:
            hours = int(m.group(1)) + int(m.group(2)) / 60.0 + float(m.group(3)) / 3600.0
    jd = d.toordinal() + 1721424.5 + hours / 24.0
    g = math.radians((357.529 + 0.98560028 * (jd - 2451545.0)) % 360.0)
    return 1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2.0 * g)


def _sin_sun_elevation(mtl: dict) -> float:
    se = _float(mtl, ("SUN_ELEVATION",), "sun elevation, needed for TOA reflectance")
    if not 0.0 < se <= 90.0:
        raise MtlError(f"SUN_ELEVATION = {se} degrees: TOA reflectance needs the sun above "
                       "the horizon (0 < elevation <= 90).")
    return math.sin(math.radians(se))


def toa_reflectance_coefficients(mtl, band_id) -> tuple[float, float]:
    """(gain, offset) with TOA reflectance ``rho = gain * DN + offset``, sun angle included.

    With REFLECTANCE_MULT/ADD_BAND_x (Landsat 8/9, Collection 1/2 TM/ETM+):
    ``rho = (M * DN + A) / sin(SUN_ELEVATION)`` (USGS Landsat 8 Data Users Handbook eq. 5-2
    and 5-3), i.e. gain = M / sin(SE), offset = A / sin(SE).

    Without them (Pre-Collection TM/ETM+): ``rho = pi * L * d^2 / (ESUN * cos(SZA))`` with
    SZA = 90 deg - SUN_ELEVATION (Chander et al. 2009 eq. 2), L from
    :func:`radiance_coefficients`, ESUN from Chander et al. 2009 Table 4 and d from
    EARTH_SUN_DISTANCE or :func:`earth_sun_distance` of the acquisition date; the factor
    multiplies the radiance gain and offset.
    """
    mtl = _as_mtl(mtl)
    bid = _band_id(band_id)
    sin_se = _sin_sun_elevation(mtl)
    mult = _optional_float(mtl, f"REFLECTANCE_MULT_BAND_{bid}", _L1_RESCALING)
    add = _optional_float(mtl, f"REFLECTANCE_ADD_BAND_{bid}", _L1_RESCALING)
    if mult is not None and add is not None:
        return _positive(f"REFLECTANCE_MULT_BAND_{bid}", mult, "reflectance gain") / sin_se, add / sin_se
    spacecraft = normalise_spacecraft(_lookup(mtl, ("SPACECRAFT_ID",)) or "")
    esun_table = ESUN.get(spacecraft)
    if esun_table is None:
        raise MtlError(f"The MTL file has no REFLECTANCE_MULT_BAND_{bid}/REFLECTANCE_ADD_BAND_"
                       f"{bid}, and no ESUN table is known for {spacecraft or 'this spacecraft'}.")
    esun = esun_table.get(bid)
    if esun is None:
        raise MtlError(f"Band {bid} of {spacecraft} has no solar irradiance (ESUN): it is not "
                       "a reflective band, so it has no TOA reflectance.")
    gain_l, off_l = radiance_coefficients(mtl, bid)
    d = _optional_float(mtl, "EARTH_SUN_DISTANCE")
    if d is not None and not EARTH_SUN_DISTANCE_RANGE[0] <= d <= EARTH_SUN_DISTANCE_RANGE[1]:
        raise MtlError(f"The MTL value EARTH_SUN_DISTANCE = {d:g} AU is impossible (the Earth-Sun distance stays "
                       "within 0.983 - 1.017 AU): the file is damaged or was edited. Use the MTL file as delivered "
                       "with the scene.")
    if d is None:
        date = _lookup(mtl, ("DATE_ACQUIRED", "ACQUISITION_DATE"))
        if not date:
            raise MtlError("The MTL file has neither EARTH_SUN_DISTANCE nor DATE_ACQUIRED, "
                           "needed for TOA reflectance.")
        d = earth_sun_distance(date, _lookup(mtl, ("SCENE_CENTER_TIME", "SCENE_CENTER_SCAN_TIME")))
    k = math.pi * d * d / (esun * sin_se)
    return gain_l * k, off_l * k


def thermal_constants(mtl, band_id) -> tuple[float, float]:
    """(K1, K2) of a thermal band: K1/K2_CONSTANT_BAND_x from the MTL, else the sensor preset.

    The fall-back (Pre-Collection files carry no constants) uses the preset of SPACECRAFT_ID,
    only for that sensor's thermal band (INDICES.md / Chander et al. 2009 Table 5).
    """
    mtl = _as_mtl(mtl)
    bid = _band_id(band_id)
    keys1 = [f"K1_CONSTANT_BAND_{bid}"] + [f"K1_CONSTANT_BAND_{o}" for o in _old_band_ids(bid)]
    keys2 = [f"K2_CONSTANT_BAND_{bid}"] + [f"K2_CONSTANT_BAND_{o}" for o in _old_band_ids(bid)]
    k1 = _optional_float(mtl, keys1, _L1_THERMAL)
    k2 = _optional_float(mtl, keys2, _L1_THERMAL)
    if k1 is not None and k2 is not None:
        return (_positive(keys1[0], k1, "thermal constant K1 (W m-2 sr-1 um-1)"),
                _positive(keys2[0], k2, "thermal constant K2 (K)"))
    spacecraft = _lookup(mtl, ("SPACECRAFT_ID",)) or ""
    sensor = sensor_for_spacecraft(spacecraft)
    if sensor is not None and sensor.k1 is not None:
        # the thermal band in any spelling: "6", "6_VCID_1"/"6_VCID_2" (ETM+, both gains share
        # K1/K2), old-format "61"/"62"
        base = sensor.band_ids.get("T", "").split("_VCID_")[0]
        spellings = {base, f"{base}_VCID_1", f"{base}_VCID_2"}
        if base == "6":
            spellings |= {"61", "62"}
        if bid in spellings:
            return sensor.k1, sensor.k2
    raise MtlError(f"The MTL file has no K1_CONSTANT_BAND_{bid}/K2_CONSTANT_BAND_{bid} and no "
                   f"preset thermal constants are known for band {bid} of "
                   f"{spacecraft or 'an unknown spacecraft'}.")


# ----------------------------------------------------------------------------------------
# MTL / input consistency
# ----------------------------------------------------------------------------------------
# Collection 1/2 product id: LXSS_LLLL_PPPRRR_YYYYMMDD_yyyymmdd_CC_TX
_PRODUCT_ID = re.compile(
    r"(?<![A-Z0-9])L([COTEM])0?(\d)_L[12][A-Z]{2}_(\d{3})(\d{3})_(\d{8})_\d{8}_\d{2}_[A-Z0-9]{2}"
    r"(?![A-Z0-9])", re.IGNORECASE)
# Pre-collection scene id: LXSPPPRRRYYYYDDDGSIVV
_SCENE_ID = re.compile(
    r"(?<![A-Z0-9])L([COTEM])(\d)(\d{3})(\d{3})(\d{4})(\d{3})[A-Z]{3}\d{2}(?![A-Z0-9])",
    re.IGNORECASE)
# Old NLAPS / early LPGS file names: L5PPPRRR_RRRYYYYMMDD, L71PPPRRR_RRRYYYYMMDD
_OLD_NAME = re.compile(r"(?<![A-Z0-9])L(\d)\d?(\d{3})(\d{3})_\d{3}(\d{8})(?![0-9])", re.IGNORECASE)


def _ids_in(text: str) -> list[tuple[int, tuple[int, str, str, str], str]]:
    """All Landsat ids in ``text``: (position, (satellite, path, row, YYYYMMDD), id text)."""
    found = []
    for m in _PRODUCT_ID.finditer(text):
        found.append((m.start(), (int(m.group(2)), m.group(3), m.group(4), m.group(5)), m.group(0)))
    for m in _SCENE_ID.finditer(text):
        try:
            d = _datetime.strptime(m.group(5) + m.group(6), "%Y%j").strftime("%Y%m%d")
        except ValueError:
            continue
        found.append((m.start(), (int(m.group(2)), m.group(3), m.group(4), d), m.group(0)))
    for m in _OLD_NAME.finditer(text):
        found.append((m.start(), (int(m.group(1)), m.group(2), m.group(3), m.group(4)), m.group(0)))
    return sorted(found)


def acquisition_date_in_names(names: Iterable[str]) -> str | None:
    """The acquisition date "YYYY-MM-DD" that the Landsat product / scene ids in ``names`` (file or layer names)
    agree on, or None when they name none or several dates."""
    dates = set()
    for name in names or ():
        ids = _ids_in(str(name or "").replace("\\", "/"))
        if ids:
            d = ids[-1][1][3]
            dates.add(f"{d[:4]}-{d[4:6]}-{d[6:]}")
    return dates.pop() if len(dates) == 1 else None


def _describe(key: tuple[int, str, str, str]) -> str:
    sat, path, row, d = key
    return f"Landsat {sat}, path/row {path}/{row}, acquired {d[:4]}-{d[4:6]}-{d[6:]}"


def check_mtl_matches(mtl, sensor_key: str, file_names: Iterable[str]) -> None:
    """Raise MtlError if the MTL does not belong to the sensor preset or to the input files.

    * SPACECRAFT_ID must be one of ``SENSORS[sensor_key].spacecraft``.
    * Every file name (or layer name) that contains a Landsat product id (Collection 1/2,
      e.g. ``LC08_L1TP_195025_20130707_20170503_01_T1``), a scene id (``LT51670552010352MLK00``)
      or an old-style name (``L5167055_05520101218``) must name the same satellite, WRS
      path/row and acquisition date as the MTL's LANDSAT_PRODUCT_ID / LANDSAT_SCENE_ID (or,
      without ids, its SPACECRAFT_ID / WRS_PATH / WRS_ROW / DATE_ACQUIRED). The processing
      date and collection are not compared. Names without an id are accepted.
    """
    mtl = _as_mtl(mtl)
    sensor = SENSORS.get(sensor_key)
    if sensor is None:
        raise MtlError(f"Unknown sensor preset {sensor_key!r}; known: {', '.join(SENSORS)}.")
    scene = mtl_scene(mtl)
    if scene.spacecraft not in sensor.spacecraft:
        raise MtlError(f"The MTL file is for {scene.spacecraft} but the sensor preset is "
                       f"{sensor.title}: choose the matching preset or the matching MTL file.")
    refs: list[tuple[tuple[int, str, str, str], str]] = []
    for ident in (scene.product_id, scene.scene_id):
        if ident:
            refs += [(k, t) for _, k, t in _ids_in(ident)]
    if not refs:
        path = _lookup(mtl, ("WRS_PATH",))
        row = _lookup(mtl, ("WRS_ROW", "STARTING_ROW"))
        sat = re.search(r"(\d+)$", scene.spacecraft)
        if path and row and sat:
            try:
                key = (int(sat.group(1)), f"{int(path):03d}", f"{int(row):03d}",
                       scene.date.replace("-", ""))
                refs.append((key, f"{scene.spacecraft} {int(path):03d}/{int(row):03d} {scene.date}"))
            except ValueError:
                pass
    if not refs:
        return
    ref_keys = {k for k, _ in refs}
    mtl_name = refs[0][1]
    for name in file_names or ():
        if not name:
            continue
        ids = _ids_in(str(name).replace("\\", "/"))
        if not ids:
            continue
        _, key, ident = ids[-1]       # the id closest to the end: the file's own name
        if key not in ref_keys:
            raise MtlError(
                f"The input '{name}' belongs to {ident} ({_describe(key)}) but the MTL file "
                f"describes {mtl_name} ({_describe(refs[0][0])}). Use the MTL file of the "
                "same scene.")


# ----------------------------------------------------------------------------------------
# Array conversions
# ----------------------------------------------------------------------------------------
L2_REFLECTANCE_SCALE = 2.75e-05
L2_REFLECTANCE_OFFSET = -0.2
L2_VALID_RANGE = (1, 65455)
L2_ST_SCALE = 0.00341802
L2_ST_OFFSET = 149.0


def scale_dn(dn, gain: float, offset: float, nodata_values=(0,), valid_range=None) -> np.ndarray:
    """``gain * dn + offset`` as float32; NaN where dn is NaN, in ``nodata_values`` or
    outside the inclusive ``valid_range`` (lo, hi).

    Computed in float32 (DN up to 2^24 are exact in float32; the relative rounding, ~6e-8,
    is far below the output's float32 resolution of the same size)."""
    a = np.asarray(dn)
    with np.errstate(all="ignore"):
        out = a.astype(np.float32, copy=False) * np.float32(gain)
        out += np.float32(offset)
        bad = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, dtype=bool)
        for v in nodata_values or ():
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue   # NaN is already bad
            bad |= a == v
        if valid_range is not None:
            lo, hi = valid_range
            if lo is not None:
                bad |= a < lo
            if hi is not None:
                bad |= a > hi
    np.copyto(out, np.float32(np.nan), where=bad)
    return out


def brightness_temperature(radiance, k1, k2) -> np.ndarray:
    """At-sensor brightness temperature (K): ``T = K2 / ln(K1 / L + 1)`` (Chander et al. 2009
    eq. 3); NaN where L <= 0 or L is NaN."""
    L = np.asarray(radiance, dtype=np.float64)
    with np.errstate(all="ignore"):
        ok = np.isfinite(L) & (L > 0)
        t = float(k2) / np.log(float(k1) / np.where(ok, L, 1.0) + 1.0)
        out = np.where(ok, t, np.nan).astype(np.float32)
    return out


def s2_reflectance(dn, boa_add_offset: float = -1000.0) -> np.ndarray:
    """Sentinel-2 L2A reflectance ``(DN + BOA_ADD_OFFSET) / 10000``; NaN where DN == 0 (no
    data) or DN is NaN. Use ``boa_add_offset=0`` before processing baseline 04.00."""
    a = np.asarray(dn)
    with np.errstate(all="ignore"):
        out = ((a.astype(np.float64, copy=False) + float(boa_add_offset)) / 10000.0).astype(np.float32)
        bad = a == 0
        if a.dtype.kind == "f":
            bad |= np.isnan(a)
    out[bad] = np.nan
    return out


def _as_int_bits(qa) -> tuple[np.ndarray, np.ndarray]:
    """QA array as int64 plus a validity mask (NaN / negative float values are invalid)."""
    a = np.asarray(qa)
    if a.dtype.kind == "f":
        with np.errstate(all="ignore"):
            valid = np.isfinite(a) & (a >= 0)
            bits = np.where(valid, a, 0).astype(np.int64)
        return bits, valid
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    return a.astype(np.int64, copy=False), np.ones(a.shape, dtype=bool)


def qa_pixel_clear(qa, mask_snow=False) -> np.ndarray:
    """Collection 2 QA_PIXEL, True = keep: ``(qa & 0b11111) == 0`` (bit 0 fill, 1 dilated
    cloud, 2 cirrus, 3 cloud, 4 cloud shadow); with ``mask_snow`` also bit 5 (snow).
    Source: INDICES.md / USGS Landsat C2 Level-2 Science Product Guide, QA_PIXEL table."""
    bits, valid = _as_int_bits(qa)
    mask = 0b111111 if mask_snow else 0b11111
    return valid & ((bits & mask) == 0)


def bqa_clear(qa, sensor_key) -> np.ndarray:
    """Collection 1 Level-1 BQA, True = keep.

    Dropped (USGS "Landsat Collection 1 Level-1 Quality Assessment Band" page and LSDS-1873):
    bit 0 designated fill; bit 4 cloud; bits 5-6 cloud confidence == 3 (high); bits 7-8
    cloud-shadow confidence == 3 (high); for Landsat 8/9 OLI also bits 11-12 cirrus
    confidence == 3 (high) (bits 11-12 are unused for TM/ETM+).
    """
    bits, valid = _as_int_bits(qa)
    keep = valid & ((bits & 1) == 0) & ((bits & (1 << 4)) == 0)
    keep &= ((bits >> 5) & 0b11) != 3
    keep &= ((bits >> 7) & 0b11) != 3
    if str(sensor_key).upper() in ("L8", "L9"):
        keep &= ((bits >> 11) & 0b11) != 3
    return keep


SCL_MASKED = (0, 1, 3, 8, 9, 10, 11)


def scl_clear(scl) -> np.ndarray:
    """Sentinel-2 L2A SCL, True = keep; dropped classes 0 no data, 1 saturated/defective,
    3 cloud shadow, 8/9 cloud medium/high probability, 10 thin cirrus, 11 snow (INDICES.md)."""
    bits, valid = _as_int_bits(scl)
    return valid & ~np.isin(bits, SCL_MASKED)
