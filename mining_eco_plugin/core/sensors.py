"""Sensor presets: which band of which satellite plays which spectral role.

Roles (``ROLES``): B, G, R, NIR, SWIR1, SWIR2 and T (thermal). For every sensor the preset
gives the Level-1 band id (as used in Landsat file names and MTL keys, e.g. ``"4"`` or
``"6_VCID_1"``), the Collection 2 Level-2 band name (``SR_B4``, ``ST_B10``), the thermal
calibration constants K1/K2 and the effective wavelength of the thermal band.

Sources:

* Band roles and Level-2 names: docs/INDICES.md "Sensor presets" (USGS Landsat Collection 2
  Level-2 Science Product Guides; ESA Sentinel-2 L2A Product Specification).
* K1 (W m-2 sr-1 um-1) / K2 (K): docs/INDICES.md "Scaling", which are the USGS values (Chander
  et al. 2009, Remote Sens. Environ. 113:893-903, Table 5 for TM/ETM+; the K1/K2_CONSTANT_BAND_10
  values of the Landsat 8/9 MTL files).
* Effective thermal wavelengths for the single-channel emissivity correction (Artis & Carnahan
  1982): TM band 6 11.457 um and ETM+ band 6 11.269 um as tabulated by Jimenez-Munoz & Sobrino
  (2003, J. Geophys. Res. 108(D22), 4688); TIRS band 10 10.895 um, the centre of the
  10.60-11.19 um band pass (USGS Landsat 8 Data Users Handbook; used e.g. by Avdan & Jovanovska
  2016, J. Sensors 1480307); TIRS-2 band 10 has the same nominal band pass, rounded to 10.9 um.
* ``wet_set`` names the tasselled-cap wetness coefficients (INDICES.md: TM Crist 1985, ETM+
  Huang 2002, OLI Baig 2014). Sentinel-2 has no published set in INDICES.md; the OLI set is
  used as an approximation because the MSI bands B2-B4, B8, B11, B12 are close to OLI 2-7.

Pure Python: no QGIS / GDAL import.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

ROLES = ("B", "G", "R", "NIR", "SWIR1", "SWIR2", "T")   # T = thermal


@dataclass(frozen=True)
class Sensor:
    """One sensor preset (see the module docstring for the sources of every number)."""
    key: str                                   # "L5", "L7", "L8", "L9", "S2"
    title: str                                 # human readable, e.g. "Landsat 8 OLI/TIRS"
    spacecraft: tuple[str, ...]                # MTL SPACECRAFT_ID values; S2: ()
    band_ids: dict[str, str] = field(hash=False)   # role -> Level-1 band id ("4", "6_VCID_1")
    l2_names: dict[str, str] = field(hash=False)   # role -> C2 Level-2 band name ("SR_B4", "ST_B10")
    k1: float | None = None                    # thermal K1, W m-2 sr-1 um-1
    k2: float | None = None                    # thermal K2, K
    thermal_wavelength_um: float | None = None # effective wavelength of the thermal band, um
    wet_set: str = "OLI"                       # "TM" | "ETM" | "OLI"


_TM_L2 = {"B": "SR_B1", "G": "SR_B2", "R": "SR_B3", "NIR": "SR_B4", "SWIR1": "SR_B5",
          "SWIR2": "SR_B7", "T": "ST_B6"}
_OLI_L2 = {"B": "SR_B2", "G": "SR_B3", "R": "SR_B4", "NIR": "SR_B5", "SWIR1": "SR_B6",
           "SWIR2": "SR_B7", "T": "ST_B10"}
_OLI_L1 = {"B": "2", "G": "3", "R": "4", "NIR": "5", "SWIR1": "6", "SWIR2": "7", "T": "10"}

SENSORS: dict[str, Sensor] = {
    "L5": Sensor(
        key="L5", title="Landsat 5 TM", spacecraft=("LANDSAT_5",),
        band_ids={"B": "1", "G": "2", "R": "3", "NIR": "4", "SWIR1": "5", "SWIR2": "7", "T": "6"},
        l2_names=dict(_TM_L2),
        k1=607.76, k2=1260.56,
        thermal_wavelength_um=11.457,      # Jimenez-Munoz & Sobrino 2003
        wet_set="TM"),
    "L7": Sensor(
        key="L7", title="Landsat 7 ETM+", spacecraft=("LANDSAT_7",),
        band_ids={"B": "1", "G": "2", "R": "3", "NIR": "4", "SWIR1": "5", "SWIR2": "7",
                  "T": "6_VCID_1"},
        l2_names=dict(_TM_L2),
        k1=666.09, k2=1282.71,
        thermal_wavelength_um=11.269,      # Jimenez-Munoz & Sobrino 2003
        wet_set="ETM"),
    "L8": Sensor(
        key="L8", title="Landsat 8 OLI/TIRS", spacecraft=("LANDSAT_8",),
        band_ids=dict(_OLI_L1), l2_names=dict(_OLI_L2),
        k1=774.8853, k2=1321.0789,
        thermal_wavelength_um=10.895,      # centre of TIRS B10 10.60-11.19 um (USGS)
        wet_set="OLI"),
    "L9": Sensor(
        key="L9", title="Landsat 9 OLI-2/TIRS-2", spacecraft=("LANDSAT_9",),
        band_ids=dict(_OLI_L1), l2_names=dict(_OLI_L2),
        k1=799.0284, k2=1329.2405,
        thermal_wavelength_um=10.9,        # TIRS-2 B10 10.60-11.19 um (USGS), rounded
        wet_set="OLI"),
    "S2": Sensor(
        key="S2", title="Sentinel-2 MSI", spacecraft=(),
        band_ids={"B": "2", "G": "3", "R": "4", "NIR": "8", "SWIR1": "11", "SWIR2": "12"},
        l2_names={"B": "B2", "G": "B3", "R": "B4", "NIR": "B8", "SWIR1": "B11", "SWIR2": "B12"},
        k1=None, k2=None, thermal_wavelength_um=None,
        wet_set="OLI"),                    # approximation: no MSI wetness set in INDICES.md
}

# Old (pre-2012 NLAPS / early LPGS) spacecraft spellings seen in MTL files.
_SPACECRAFT_ALIASES = {"LANDSAT5": "LANDSAT_5", "LANDSAT7": "LANDSAT_7",
                       "LANDSAT8": "LANDSAT_8", "LANDSAT9": "LANDSAT_9"}


def normalise_spacecraft(spacecraft_id: str) -> str:
    """``"Landsat5"`` / ``"landsat_5"`` / ``"LANDSAT_5"`` -> ``"LANDSAT_5"``."""
    s = str(spacecraft_id).strip().strip('"').upper().replace("-", "_").replace(" ", "_")
    return _SPACECRAFT_ALIASES.get(s, s)


def sensor_for_spacecraft(spacecraft_id: str) -> Sensor | None:
    """The preset whose ``spacecraft`` contains the MTL SPACECRAFT_ID, else None."""
    if not spacecraft_id:
        return None
    s = normalise_spacecraft(spacecraft_id)
    for sensor in SENSORS.values():
        if s in sensor.spacecraft:
            return sensor
    return None


# A band token inside a name: optional SR_/ST_ prefix, "B" or "BAND" (optionally followed by
# "_" / " "), the band number with optional leading zeros, an optional ETM+ "_VCID_n" suffix
# and an optional Sentinel-2 "A" (B8A). It must not be glued to letters/digits on either side
# (so "B1" never matches inside "B10", and "T32UMB" is not a band).
_BAND_TOKEN = re.compile(
    r"(?<![A-Z0-9])(?:(SR|ST)_)?(?:BAND[_ ]?|B)0*(\d+)(A)?(?:_VCID_(\d))?(?![A-Z0-9])",
    re.IGNORECASE)


def _strip_extension(name: str) -> str:
    base = os.path.basename(str(name).replace("\\", "/").rstrip("/")) or str(name)
    # drop known raster / archive extensions, possibly chained (".TIF.aux.xml", ".jp2")
    return re.sub(r"(\.(tif|tiff|jp2|img|vrt|nc|hdf|h5|aux|xml|ovr|dat|bsq|bil|rst))+$", "", base,
                  flags=re.IGNORECASE)


#: band descriptions that name a role whatever the sensor (the band names of Mining Eco's composites)
ROLE_NAMES = {"blue": "B", "green": "G", "red": "R", "nir": "NIR", "swir1": "SWIR1", "swir2": "SWIR2",
              "thermal": "T"}


def band_role_from_name(sensor: Sensor, name: str) -> str | None:
    """Map a band description or file name to a role of ``sensor`` (None if nothing matches).

    A description that is exactly a role name (``blue``, ``green``, ``red``, ``nir``, ``swir1``, ``swir2``,
    ``thermal``; any case: :data:`ROLE_NAMES`, the band names of ``miningeco:composite``) is that role for every
    sensor.

    Accepted forms (case-insensitive): Level-2 names ``SR_B4`` / ``ST_B10``, plain ``B4`` /
    ``B04`` / ``Band 4``, Landsat file names ``LC08_..._B4.TIF``, ETM+ ``B6_VCID_1`` and
    Sentinel-2 ``..._B04_10m.jp2``. The band number is compared as a whole number, so ``B1``
    never matches ``B10``/``B11`` and ``B8A`` is not ``B8``. When several band tokens occur
    (a directory and a file name), the last one (the file's own suffix) decides.

    Landsat 5/7 have no two-digit bands, so the old (pre-Collection) file suffixes ``B10`` ..
    ``B70`` mean bands 1..7 and ETM+ ``B61`` / ``B62`` mean ``6_VCID_1`` / ``6_VCID_2``. For
    ETM+ a bare ``B6`` (and ``ST_B6``) is the thermal role. A Level-2 ``SR_`` prefix on a
    thermal band or ``ST_`` on a reflective band does not match.
    """
    if sensor is None or not name:
        return None
    role = ROLE_NAMES.get(str(name).strip().lower())
    if role is not None:
        return role
    text = _strip_extension(name)
    matches = list(_BAND_TOKEN.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    prefix = (m.group(1) or "").upper()
    number = m.group(2)
    narrow = bool(m.group(3))
    vcid = m.group(4)
    if narrow:                      # Sentinel-2 B8A: not part of any preset
        return None
    two_digit_bands = any(len(b.split("_")[0]) > 1 for b in sensor.band_ids.values())
    if not two_digit_bands and vcid is None and len(number) == 2:
        # old Landsat TM/ETM+ names: B10..B80 = band 1..8, B61/B62 = thermal low/high gain
        if number[1] == "0":
            number = number[0]
        elif number[0] == "6" and number[1] in "12":
            number, vcid = "6", number[1]
    band_id = number + (f"_VCID_{vcid}" if vcid else "")
    for role, bid in sensor.band_ids.items():
        ok = bid == band_id
        if not ok and vcid is None and "_VCID_" in bid:
            ok = bid.split("_VCID_")[0] == band_id      # ETM+ "B6" / "ST_B6" -> thermal
        if ok:
            if prefix == "SR" and role == "T":
                return None
            if prefix == "ST" and role != "T":
                return None
            return role
    return None
