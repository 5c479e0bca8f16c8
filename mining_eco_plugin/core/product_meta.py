"""Product metadata: one :class:`Product` description from a Landsat MTL (``.txt`` / ``.xml`` / ``.json``) or a
Sentinel-2 L2A ``MTD_MSIL2A.xml``.

Pure Python (no QGIS / GDAL): functions take metadata *text*; finding and opening the files (folders, ``.tar``
through ``/vsitar/``, ``.zip`` through ``/vsizip/``) is :mod:`mining_eco_plugin.raster.products`.

Landsat metadata is parsed by :func:`core.radiometry.parse_mtl` (the ODL ``KEY = VALUE`` text). The Collection 2
``*_MTL.xml`` and ``*_MTL.json`` carry the same groups and keys (USGS Landsat Collection 2 Level-1 / Level-2 Data
Format Control Books, LSDS-1822 / LSDS-1328: "the MTL is delivered as ODL, XML and JSON with identical content");
they are rewritten to ODL text here and parsed by the same function, so every key spelling and group rule is shared.

Levels (``Product.level``):

* ``"C2L2"``  Collection 2 Level-2 (``PROCESSING_LEVEL = L2SP / L2SR``): ``SR_B*`` scaled by
  ``LEVEL2_SURFACE_REFLECTANCE_PARAMETERS.REFLECTANCE_MULT/ADD_BAND_n``, ``ST_B*`` by
  ``LEVEL2_SURFACE_TEMPERATURE_PARAMETERS.TEMPERATURE_MULT/ADD_BAND_ST_Bn``, QA ``QA_PIXEL``;
* ``"C2L1"``  Collection 2 Level-1, QA ``QA_PIXEL``;
* ``"C1L1"``  Collection 1 Level-1, QA ``BQA``;
* ``"PRE"``   pre-collection Level-1 (no COLLECTION_NUMBER; radiance LMAX/LMIN/QCALMAX/QCALMIN), no QA band;
* ``"S2L2A"`` Sentinel-2 Level-2A, QA ``SCL``; reflectance ``(DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE``
  (ESA Sentinel-2 L2A Product Specification; the offset exists from processing baseline 04.00 on).

Band roles are the keys of :data:`core.sensors.ROLES` (``B G R NIR SWIR1 SWIR2 T``; T = thermal).
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import radiometry as _r
from .radiometry import MtlError, parse_mtl
from .sensors import ROLES, SENSORS, sensor_for_spacecraft

REFLECTIVE_ROLES = tuple(r for r in ROLES if r != "T")
SURFACE_REFLECTANCE_LEVELS = ("C2L2", "S2L2A")


class ProductError(MtlError):
    """A product is incomplete, damaged or not of the kind the tool needs (a ValueError worded for the user)."""


@dataclass(frozen=True)
class BandConstants:
    """Radiometric constants of one band; a field is None when the metadata does not give it."""
    scale: float | None = None            # C2 L2 / S2 L2A: value = DN * scale + offset
    offset: float | None = None
    reflectance_mult: float | None = None  # L1 TOA reflectance REFLECTANCE_MULT_BAND_x
    reflectance_add: float | None = None
    radiance_mult: float | None = None     # L1 radiance gain (RADIANCE_MULT, or from LMAX/LMIN for PRE)
    radiance_add: float | None = None
    lmax: float | None = None              # pre-collection LMAX/LMIN/QCALMAX/QCALMIN
    lmin: float | None = None
    qcalmax: float | None = None
    qcalmin: float | None = None
    k1: float | None = None                # thermal K1 (W m-2 sr-1 um-1), K2 (K)
    k2: float | None = None


@dataclass
class Product:
    """One scene product. ``bands`` / ``qa`` hold the file names the metadata gives (core) or the resolved paths
    (after :func:`raster.products.open_product`)."""
    source: str                       # what the user gave (MTL, folder, .tar, .zip, MTD_MSIL2A.xml)
    sensor: str                       # key of core.sensors.SENSORS: L5 L7 L8 L9 S2
    level: str                        # C2L2 C2L1 C1L1 PRE S2L2A
    date: str                         # acquisition date YYYY-MM-DD
    product_id: str                   # LANDSAT_PRODUCT_ID / LANDSAT_SCENE_ID / S2 PRODUCT_URI
    bands: dict[str, str] = field(default_factory=dict)       # role -> file
    qa: str | None = None
    qa_kind: str | None = None        # QA_PIXEL, BQA, SCL
    constants: dict[str, BandConstants] = field(default_factory=dict)   # role -> constants
    sun_elevation: float | None = None
    processing_baseline: str | None = None   # S2 only
    metadata: str | None = None       # path of the metadata file inside the product
    mtl: dict | None = field(default=None, repr=False)   # Landsat: the parsed MTL (radiometry.parse_mtl keys)

    @property
    def surface_reflectance(self) -> bool:
        return self.level in SURFACE_REFLECTANCE_LEVELS


# ----------------------------------------------------------------------------------------------------------------
# Landsat MTL in three encodings
# ----------------------------------------------------------------------------------------------------------------
def _odl_lines(name: str, node, out: list[str]) -> None:
    if isinstance(node, dict):
        out.append(f"GROUP = {name}")
        for k, v in node.items():
            _odl_lines(k, v, out)
        out.append(f"END_GROUP = {name}")
    elif isinstance(node, list):          # repeated keys: the first one wins, as in parse_mtl
        if node:
            _odl_lines(name, node[0], out)
    else:
        out.append(f'{name} = "{"" if node is None else node}"')


def _xml_to_odl(elem, out: list[str]) -> None:
    tag = elem.tag.split("}")[-1]
    children = list(elem)
    if children:
        out.append(f"GROUP = {tag}")
        for c in children:
            _xml_to_odl(c, out)
        out.append(f"END_GROUP = {tag}")
    else:
        out.append(f'{tag} = "{(elem.text or "").strip()}"')


def mtl_text_to_dict(text: str, name: str = "MTL") -> dict[str, str]:
    """Parse an MTL in any of its encodings (ODL text, XML, JSON; told apart by content) with
    :func:`radiometry.parse_mtl`. ProductError naming ``name`` when it is none of them or damaged."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    s = text.lstrip("\ufeff").replace("\x00", "").lstrip()
    try:
        if s.startswith("<"):
            lines: list[str] = []
            _xml_to_odl(ET.fromstring(s), lines)
            s = "\n".join(lines)
        elif s.startswith("{"):
            lines = []
            for k, v in json.loads(s).items():
                _odl_lines(k, v, lines)
            s = "\n".join(lines)
        return parse_mtl(s)
    except (ET.ParseError, json.JSONDecodeError) as e:
        raise ProductError(f"The metadata file {name} is damaged (it cannot be read: {e}). "
                           "Download the product again.") from None
    except MtlError as e:
        raise ProductError(f"{name}: {e}") from None


def _level(mtl: dict) -> str:
    coll = _r._lookup(mtl, ("COLLECTION_NUMBER",))
    if coll is None:
        return "PRE"
    try:
        c = int(coll)
    except ValueError:
        raise ProductError(f"The MTL value COLLECTION_NUMBER = {coll!r} is not a number.") from None
    if c == 1:
        return "C1L1"
    if c == 2:
        proc = (_r._lookup(mtl, ("PROCESSING_LEVEL",)) or "").upper()
        return "C2L2" if proc.startswith("L2") else "C2L1"
    raise ProductError(f"Landsat Collection {c} is not supported (Collection 1 and 2 and pre-collection are).")


def _need(mtl: dict, keys, name: str, what: str, groups=()) -> str:
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    v = _r._lookup(mtl, keys, groups)
    if v is None:
        raise ProductError(f"The metadata file {name} has no {keys[0]} ({what}); it is incomplete or not the "
                           "MTL of a Landsat product as delivered by USGS.")
    return v


def _need_float(mtl: dict, key: str, name: str, what: str, groups=()) -> float:
    v = _need(mtl, key, name, what, groups)
    try:
        return _r._finite(key, float(v))
    except ValueError:
        raise ProductError(f"The metadata file {name}: {key} = {v!r} is not a number ({what}).") from None
    except MtlError as e:
        raise ProductError(f"The metadata file {name}: {e}") from None


_L2_SR = ("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",)
_L2_ST = ("LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",)


def _qualified(mtl: dict, key: str, groups) -> str | None:
    """Only the group-qualified value (a C2 L2 MTL has REFLECTANCE_MULT_BAND_x for L2 and for L1)."""
    for g in groups:
        v = mtl.get(f"{g}.{key}")
        if v not in (None, ""):
            return v
    return None


def landsat_product(mtl_text: str, name: str = "MTL") -> Product:
    """The :class:`Product` of a Landsat MTL (text, XML or JSON). ``bands`` / ``qa`` are the file names listed
    in the MTL (FILE_NAME_BAND_x, FILE_NAME_BAND_ST_Bx, FILE_NAME_QUALITY_L1_PIXEL, FILE_NAME_BAND_QUALITY).

    ProductError (naming ``name`` and the key) when a needed key is missing."""
    mtl = mtl_text_to_dict(mtl_text, name)
    spacecraft = _need(mtl, "SPACECRAFT_ID", name, "which satellite")
    sensor = sensor_for_spacecraft(spacecraft)
    if sensor is None or sensor.key not in ("L5", "L7", "L8", "L9"):
        raise ProductError(f"The metadata file {name} is for {spacecraft}; Landsat 5, 7, 8 and 9 are supported.")
    level = _level(mtl)
    date = _need(mtl, ("DATE_ACQUIRED", "ACQUISITION_DATE"), name, "acquisition date")[:10]
    sun = _need_float(mtl, "SUN_ELEVATION", name, "sun elevation")
    pid = _r._lookup(mtl, ("LANDSAT_PRODUCT_ID", "LANDSAT_SCENE_ID")) or name
    bands: dict[str, str] = {}
    constants: dict[str, BandConstants] = {}
    for role in ROLES:
        if level == "C2L2":
            l2 = sensor.l2_names[role]                        # "SR_B4" / "ST_B10"
            num = l2.split("_B")[1]
            fkey = f"FILE_NAME_BAND_{l2}" if role == "T" else f"FILE_NAME_BAND_{num}"
        else:
            bid = sensor.band_ids[role]
            fkey = f"FILE_NAME_BAND_{bid}"
            if level == "PRE":
                fkey = (fkey, f"BAND{_r._old_band_ids(bid)[0]}_FILE_NAME")
        fname = _r._lookup(mtl, (fkey,) if isinstance(fkey, str) else fkey)
        if fname is None:
            if role == "T":
                continue                                       # products without thermal band
            _need(mtl, fkey, name, f"the file of the {role} band")
        bands[role] = fname
        constants[role] = _constants(mtl, name, level, sensor, role)
    if level in ("C2L2", "C2L1"):
        qa, qa_kind = _need(mtl, "FILE_NAME_QUALITY_L1_PIXEL", name, "the QA_PIXEL file"), "QA_PIXEL"
    elif level == "C1L1":
        qa, qa_kind = _need(mtl, "FILE_NAME_BAND_QUALITY", name, "the BQA file"), "BQA"
    else:
        qa, qa_kind = None, None
    return Product(source=name, sensor=sensor.key, level=level, date=date, product_id=pid, bands=bands, qa=qa,
                   qa_kind=qa_kind, constants=constants, sun_elevation=sun, metadata=name, mtl=mtl)


def _constants(mtl: dict, name: str, level: str, sensor, role: str) -> BandConstants:
    kw: dict[str, float | None] = {}
    if level == "C2L2":
        l2 = sensor.l2_names[role]
        if role == "T":
            keys, groups, what = (f"TEMPERATURE_MULT_BAND_{l2}", f"TEMPERATURE_ADD_BAND_{l2}"), _L2_ST, "ST scaling"
        else:
            n = l2.split("_B")[1]
            keys, groups, what = (f"REFLECTANCE_MULT_BAND_{n}", f"REFLECTANCE_ADD_BAND_{n}"), _L2_SR, "SR scaling"
        vals = []
        for k in keys:
            v = _qualified(mtl, k, groups)
            if v is None:
                raise ProductError(f"The metadata file {name} has no {groups[0]} {k} ({what} of {l2}); it is "
                                   "incomplete or not the MTL of a Collection 2 Level-2 product.")
            vals.append(_need_float({k: v}, k, name, what))
        kw["scale"], kw["offset"] = vals
    bid = sensor.band_ids[role]
    try:
        gain, off = _r.radiance_coefficients(mtl, bid)
    except MtlError as e:
        if level == "C2L2":
            gain = off = None             # the L1 block of an L2 MTL is informative only
        else:
            raise ProductError(f"The metadata file {name}: {e}") from None
    kw["radiance_mult"], kw["radiance_add"] = gain, off
    if level == "PRE":
        old = _r._old_band_ids(bid)
        for field_, keys in (("lmax", [f"RADIANCE_MAXIMUM_BAND_{bid}"] + [f"LMAX_BAND{o}" for o in old]),
                             ("lmin", [f"RADIANCE_MINIMUM_BAND_{bid}"] + [f"LMIN_BAND{o}" for o in old]),
                             ("qcalmax", [f"QUANTIZE_CAL_MAX_BAND_{bid}"] + [f"QCALMAX_BAND{o}" for o in old]),
                             ("qcalmin", [f"QUANTIZE_CAL_MIN_BAND_{bid}"] + [f"QCALMIN_BAND{o}" for o in old])):
            kw[field_] = _r._optional_float(mtl, keys)
    if role != "T":
        kw["reflectance_mult"] = _r._optional_float(mtl, f"REFLECTANCE_MULT_BAND_{bid}", _r._L1_RESCALING)
        kw["reflectance_add"] = _r._optional_float(mtl, f"REFLECTANCE_ADD_BAND_{bid}", _r._L1_RESCALING)
        if level == "C2L2" and _qualified(mtl, f"REFLECTANCE_MULT_BAND_{bid}", ("LEVEL1_RADIOMETRIC_RESCALING",)) \
                is None:
            kw["reflectance_mult"] = kw["reflectance_add"] = None   # only the L2 scaling is present
    else:
        try:
            kw["k1"], kw["k2"] = _r.thermal_constants(mtl, bid)
        except MtlError:
            if level != "C2L2":
                raise ProductError(f"The metadata file {name} has no K1/K2_CONSTANT_BAND_{bid} "
                                   "(thermal constants).") from None
    return BandConstants(**kw)


# ----------------------------------------------------------------------------------------------------------------
# Sentinel-2 L2A
# ----------------------------------------------------------------------------------------------------------------
#: BOA_ADD_OFFSET band_id -> band (ESA L2A Product Specification: band_id 0..12 = B01..B12 with B8A after B08).
S2_BAND_INDEX = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
S2_ROLES = {"B": "B02", "G": "B03", "R": "B04", "NIR": "B08", "SWIR1": "B11", "SWIR2": "B12"}
_S2_RES = {"R10m": 10, "R20m": 20, "R60m": 60}
_S2_IMG = re.compile(r"(?:^|/)GRANULE/[^/]+/IMG_DATA/(R10m|R20m|R60m)/[^/]*_(B\d\d|B8A|SCL)_(\d\d)m(?:\.jp2)?$",
                     re.IGNORECASE)


def _local(tag: str) -> str:
    return tag.split("}")[-1]


def s2_band_files(names) -> dict[str, str]:
    """Band (``B02`` .. ``B12``, ``SCL``) -> the name among ``names`` (paths inside the .SAFE) at the finest
    resolution available: GRANULE/*/IMG_DATA/R10m before R20m before R60m."""
    best: dict[str, tuple[int, str]] = {}
    for n in names:
        m = _S2_IMG.search(str(n).replace("\\", "/"))
        if not m:
            continue
        band, res = m.group(2).upper(), _S2_RES[m.group(1)]
        if band not in best or res < best[band][0]:
            best[band] = (res, n)
    return {b: v[1] for b, v in best.items()}


def s2_product(xml_text: str, names, name: str = "MTD_MSIL2A.xml") -> Product:
    """The :class:`Product` of a Sentinel-2 L2A product from its ``MTD_MSIL2A.xml`` text and the names of the
    files inside the ``.SAFE`` (relative to it, e.g. ``GRANULE/L2A_.../IMG_DATA/R10m/T32UMB_..._B02_10m.jp2``).

    Constants per band: ``scale = 1 / BOA_QUANTIFICATION_VALUE``, ``offset = BOA_ADD_OFFSET / QUANTIFICATION``
    (processing baseline >= 04.00: BOA_ADD_OFFSET from the file, normally -1000; before: 0)."""
    try:
        root = ET.fromstring(xml_text.lstrip("\ufeff") if isinstance(xml_text, str) else xml_text)
    except ET.ParseError as e:
        raise ProductError(f"The metadata file {name} is damaged (it cannot be read: {e}). "
                           "Download the product again.") from None
    if "Level-2A" not in _local(root.tag) and "L2A" not in _local(root.tag):
        raise ProductError(f"{name} is not the metadata of a Sentinel-2 Level-2A product (root element "
                           f"{_local(root.tag)}); Level-2A (surface reflectance) products are needed.")
    first: dict[str, ET.Element] = {}
    offsets: dict[str, float] = {}
    for el in root.iter():
        t = _local(el.tag)
        first.setdefault(t, el)
        if t == "BOA_ADD_OFFSET":
            try:
                offsets[S2_BAND_INDEX[int(el.get("band_id"))]] = float(el.text)
            except (TypeError, ValueError, IndexError):
                raise ProductError(f"The metadata file {name} has an unreadable BOA_ADD_OFFSET "
                                   f"(band_id={el.get('band_id')!r}, value {el.text!r}).") from None

    def text(*tags):
        for t in tags:
            if t in first and (first[t].text or "").strip():
                return first[t].text.strip()
        return None

    start = text("PRODUCT_START_TIME", "DATATAKE_SENSING_START")
    if not start:
        raise ProductError(f"The metadata file {name} has no PRODUCT_START_TIME (acquisition date).")
    quant = text("BOA_QUANTIFICATION_VALUE", "L2A_BOA_QUANTIFICATION_VALUE")
    if quant is None:
        raise ProductError(f"The metadata file {name} has no BOA_QUANTIFICATION_VALUE (reflectance scaling).")
    quant = float(quant)
    baseline = text("PROCESSING_BASELINE")
    try:
        new = baseline is not None and float(baseline) >= 4.0
    except ValueError:
        new = False
    files = s2_band_files(names)
    bands, constants = {}, {}
    for role, band in S2_ROLES.items():
        if band not in files:
            raise ProductError(f"The Sentinel-2 product {name} has no {band} band file (looked for "
                               f"GRANULE/*/IMG_DATA/R10m, R20m, R60m/*_{band}_*.jp2): the product is incomplete.")
        if new and band not in offsets:
            raise ProductError(f"The metadata file {name} (processing baseline {baseline}) has no BOA_ADD_OFFSET "
                               f"for {band} (band_id {S2_BAND_INDEX.index(band)}).")
        off = offsets.get(band, 0.0) if new else 0.0
        bands[role] = files[band]
        constants[role] = BandConstants(scale=1.0 / quant, offset=off / quant)
    if "SCL" not in files:
        raise ProductError(f"The Sentinel-2 product {name} has no SCL (scene classification) file in "
                           "GRANULE/*/IMG_DATA/R20m: the product is incomplete.")
    pid = text("PRODUCT_URI") or name
    return Product(source=name, sensor="S2", level="S2L2A", date=start[:10], product_id=pid, bands=bands,
                   qa=files["SCL"], qa_kind="SCL", constants=constants, processing_baseline=baseline, metadata=name)


def require_kind(product: Product, *, toa_ok: bool = False) -> Product:
    """``product`` if it gives surface reflectance, or ``toa_ok`` allows Level-1 TOA; else ProductError."""
    if not product.surface_reflectance and not toa_ok:
        raise ProductError(
            f"{product.source} is a Level-1 product ({product.level}, {product.product_id}): this tool needs surface "
            "reflectance (Landsat Collection 2 Level-2 or Sentinel-2 L2A). Give a Level-2 product, or choose "
            "'Level-1 top-of-atmosphere reflectance is fine' (TOA_OK) to use top-of-atmosphere reflectance.")
    return product


__all__ = ["BandConstants", "Product", "ProductError", "landsat_product", "mtl_text_to_dict", "require_kind",
           "s2_band_files", "s2_product", "REFLECTIVE_ROLES", "S2_BAND_INDEX", "S2_ROLES", "SENSORS"]
