"""Radiometric conversion of one block of a scene, and the products computed from it.

A scene is a set of bands by role (B, G, R, NIR, SWIR1, SWIR2 and the thermal band T) plus
an optional QA band. ``build_radiometry`` turns the user's choice of input product into the
per-band conversions (INDICES.md "Scaling"):

* ``L2``: Landsat Collection 2 Level-2: reflectance = DN * 0.0000275 - 0.2 (DN 1..65455),
  surface temperature K = DN * 0.00341802 + 149.0.
* ``L1_MTL``: Landsat Level-1 DN with the scene's MTL: TOA reflectance (multiplier, adder and
  sun elevation) and thermal DN -> radiance -> LST (ningdong eqs. 6-8 or Artis & Carnahan).
* ``S2_L2A``: Sentinel-2 L2A: reflectance = (DN + BOA_ADD_OFFSET) / 10000.
* ``REFLECTANCE``: bands already hold reflectance 0..1; a thermal band holds temperature in K.
* ``CUSTOM``: reflectance = DN * scale + offset; a thermal band holds temperature in K.

``BlockProducts`` then computes, lazily and once per block, every index, LST and custom
expression asked for. Pixels masked by the QA band (clouds, shadow, fill) are NaN everywhere.

``read_scene`` and ``scene_block`` are the ``load`` and ``compute`` of a block pass over a scene
(raster/executor.BlockPass): its outputs, and per block the valid pixels of each band and the LST tally of the
plausibility check as the partial result (summed with ``executor.add``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import indices as ix
from . import lst as lstmod
from . import radiometry as rad
from .expression import BandExpression
from .sensors import SENSORS

RADIOMETRY_MODES = ("L2", "L1_MTL", "S2_L2A", "REFLECTANCE", "CUSTOM")
QA_KINDS = ("QA_PIXEL", "BQA", "SCL")
LST_METHODS = ("rte", "single_channel")
REFLECTIVE = ("B", "G", "R", "NIR", "SWIR1", "SWIR2")


@dataclass(frozen=True)
class BandConversion:
    """value = DN * gain + offset; DN in ``nodata_values`` or outside ``valid_range`` -> NaN. ``dn_max``: the
    largest DN the product can hold (Level-1 QCALMAX), checked by ``plausibility.RadiometryCheck``."""
    gain: float = 1.0
    offset: float = 0.0
    nodata_values: tuple = ()
    valid_range: tuple | None = None
    dn_max: float | None = None

    def apply(self, dn: np.ndarray) -> np.ndarray:
        return rad.scale_dn(dn, self.gain, self.offset, self.nodata_values, self.valid_range)


@dataclass(frozen=True)
class LstOptions:
    """How LST is obtained from thermal radiance (Level-1 input only).

    ``rte``: radiative transfer equation, ningdong eqs. 6-8, with atmospheric transmittance
    ``tau`` and up/down-welling radiance (W m-2 sr-1 um-1); the defaults (1, 0, 0) give the
    emissivity-corrected inversion without atmospheric correction.
    ``single_channel``: Artis & Carnahan (1982) emissivity correction of brightness temperature.
    Emissivity from NDVI by the threshold method of Sobrino et al. (2004).
    """
    method: str = "rte"
    tau: float = 1.0
    up: float = 0.0
    down: float = 0.0
    ndvi_soil: float = 0.2
    ndvi_veg: float = 0.5
    eps_soil: float = 0.97
    eps_veg: float = 0.99


@dataclass(frozen=True)
class ThermalConversion:
    kind: str                      # "kelvin": DN -> K directly; "radiance": DN -> radiance
    conversion: BandConversion
    k1: float | None = None
    k2: float | None = None
    wavelength_um: float | None = None


@dataclass(frozen=True)
class SceneRadiometry:
    sensor_key: str
    mode: str
    reflectance: dict = field(default_factory=dict)   # role -> BandConversion
    thermal: ThermalConversion | None = None
    qa_kind: str | None = None
    wet_set: str = "OLI"
    lst: LstOptions = LstOptions()


def build_radiometry(sensor_key: str, mode: str, roles, *, mtl: dict | None = None, scale: float = 1.0,
                     offset: float = 0.0, s2_offset: float = -1000.0, qa_kind: str | None = None,
                     wet_set: str | None = None, lst: LstOptions = LstOptions(),
                     band_scaling: dict | None = None) -> SceneRadiometry:
    """Per-band conversions for ``roles`` (reflective roles and optionally "T") of a scene.

    ``band_scaling``: role -> (scale, offset) read from a product's own metadata (the C2 L2 MTL's
    REFLECTANCE_MULT / ADD and TEMPERATURE_MULT / ADD, the S2 L2A BOA_ADD_OFFSET / QUANTIFICATION_VALUE); used
    instead of the documented defaults for the modes ``L2`` and ``S2_L2A``.

    Raises ValueError (a message for the user) when the mode and inputs do not fit together.
    """
    sensor = SENSORS[sensor_key]
    if mode not in RADIOMETRY_MODES:
        raise ValueError(f"unknown radiometry {mode!r}; use one of {', '.join(RADIOMETRY_MODES)}")
    if mode == "L1_MTL" and mtl is None:
        raise ValueError("Level-1 DN input needs the scene's *_MTL.txt file (MTL_FILE).")
    if mode == "S2_L2A" and sensor_key != "S2":
        raise ValueError(f"Sentinel-2 L2A scaling was chosen but the sensor preset is {sensor.title}.")
    if mode in ("L2", "L1_MTL") and sensor_key == "S2":
        raise ValueError("Landsat Level-1/Level-2 scaling was chosen but the sensor preset is Sentinel-2.")
    refl = {}
    thermal = None
    own = (band_scaling or {}) if mode in ("L2", "S2_L2A") else {}
    for role in roles:
        if role == "T":
            thermal = _thermal_conversion(sensor, mode, mtl)
            if "T" in own and thermal.kind == "kelvin":
                thermal = ThermalConversion("kelvin", BandConversion(*own["T"], (0,)))
            continue
        if role in own:
            refl[role] = BandConversion(*own[role], (0,), rad.L2_VALID_RANGE if mode == "L2" else None)
        elif mode == "L2":
            refl[role] = BandConversion(rad.L2_REFLECTANCE_SCALE, rad.L2_REFLECTANCE_OFFSET, (0,),
                                        rad.L2_VALID_RANGE)
        elif mode == "L1_MTL":
            gain, off = rad.toa_reflectance_coefficients(mtl, sensor.band_ids[role])
            refl[role] = BandConversion(gain, off, (0,), dn_max=rad.qcal_max(mtl, sensor.band_ids[role]))
        elif mode == "S2_L2A":
            refl[role] = BandConversion(1e-4, s2_offset * 1e-4, (0,))
        elif mode == "CUSTOM":
            refl[role] = BandConversion(scale, offset)
        else:
            refl[role] = BandConversion()
    return SceneRadiometry(sensor_key, mode, refl, thermal, qa_kind, wet_set or sensor.wet_set, lst)


#: the radiometry mode of each product level (core.product_meta.Product.level)
LEVEL_MODES = {"C2L2": "L2", "C2L1": "L1_MTL", "C1L1": "L1_MTL", "PRE": "L1_MTL", "S2L2A": "S2_L2A"}


def product_radiometry(product, roles, *, wet_set: str | None = None, lst: LstOptions = LstOptions(),
                       qa: bool = True) -> SceneRadiometry:
    """The conversions of a ``core.product_meta.Product`` for ``roles``, from its own metadata: the mode of its
    level (:data:`LEVEL_MODES`), Collection 2 Level-2 and Sentinel-2 L2A scale and offset as the product states
    them, Level-1 through the product's MTL; its QA kind (``qa=False``: none)."""
    mode = LEVEL_MODES[product.level]
    scaling = {r: (c.scale, c.offset) for r, c in product.constants.items()
               if r in roles and c.scale is not None and c.offset is not None}
    return build_radiometry(product.sensor, mode, roles, mtl=product.mtl if mode == "L1_MTL" else None,
                            qa_kind=product.qa_kind if qa and product.qa else None, wet_set=wet_set, lst=lst,
                            band_scaling=scaling)


def _thermal_conversion(sensor, mode, mtl):
    if sensor.key == "S2":
        raise ValueError("Sentinel-2 has no thermal band: give LST as its own layer "
                         "(e.g. RSEI from components) or use a Landsat scene.")
    if mode == "L2":
        return ThermalConversion("kelvin", BandConversion(rad.L2_ST_SCALE, rad.L2_ST_OFFSET, (0,)))
    if mode == "L1_MTL":
        band_id = sensor.band_ids["T"]
        gain, off = rad.radiance_coefficients(mtl, band_id)
        k1, k2 = rad.thermal_constants(mtl, band_id)
        return ThermalConversion("radiance", BandConversion(gain, off, (0,), dn_max=rad.qcal_max(mtl, band_id)), k1,
                                 k2, sensor.thermal_wavelength_um)
    return ThermalConversion("kelvin", BandConversion())


def clear_mask(qa: np.ndarray, qa_kind: str, sensor_key: str) -> np.ndarray:
    """True where the QA band says the pixel is usable (INDICES.md QA rules)."""
    if qa_kind == "QA_PIXEL":
        return rad.qa_pixel_clear(qa)
    if qa_kind == "BQA":
        return rad.bqa_clear(qa, sensor_key)
    if qa_kind == "SCL":
        return rad.scl_clear(qa)
    raise ValueError(f"unknown QA kind {qa_kind!r}; use one of {', '.join(QA_KINDS)}")


def product_bands(names, mode: str = "L1_MTL") -> tuple[str, ...]:
    """The band roles needed to compute products ``names`` (index keys, "LST", roles).

    LST needs NDVI (red, NIR) for its emissivity only when it comes from Level-1 radiance.
    """
    roles = set()
    for name in names:
        key = name.upper()
        if key == "LST":
            roles.update(("T", "R", "NIR") if mode == "L1_MTL" else ("T",))
        elif key in ix.INDICES:
            roles.update(ix.bands_for([key]))
        elif key in REFLECTIVE or key == "T":
            roles.add(key)
    return tuple(r for r in REFLECTIVE + ("T",) if r in roles)


class BlockProducts:
    """Reflectance, indices, LST and custom expressions of one block, each computed once.

    ``raw`` maps roles to DN blocks (float32, NaN = nodata); ``qa`` is the raw QA block or None; ``check`` a
    ``plausibility.RadiometryCheck`` of the scene (or None): it sees every band's DN and reflectance and the LST
    as they are computed, and raises ``ImplausibleRadiometry`` on impossible values.
    """

    def __init__(self, raw: dict, radiometry: SceneRadiometry, qa: np.ndarray | None = None, check=None):
        self.raw = raw
        self.radiometry = radiometry
        self.check = check
        self._cache = {}
        self.clear = None
        if qa is not None and radiometry.qa_kind:
            self.clear = clear_mask(qa, radiometry.qa_kind, radiometry.sensor_key)

    def _masked(self, arr):
        if self.clear is not None:
            arr = np.where(self.clear, arr, np.float32(np.nan)).astype(np.float32, copy=False)
        return arr

    def reflectance(self, role: str) -> np.ndarray:
        key = "band:" + role
        if key not in self._cache:
            conversion = self.radiometry.reflectance[role]
            value = self._masked(conversion.apply(self.raw[role]))
            if self.check is not None:
                self.check.check_dn(role, self.raw[role], conversion.dn_max)
                self.check.check_reflectance(role, value)
            self._cache[key] = value
        return self._cache[key]

    def bands(self, roles) -> dict:
        return {r: self.reflectance(r) for r in roles}

    def index(self, key: str) -> np.ndarray:
        key = key.upper()
        if key not in self._cache:
            spec = ix.INDICES[key]
            self._cache[key] = ix.compute_index(key, self.bands(spec.bands), wet_set=self.radiometry.wet_set)
        return self._cache[key]

    def lst(self) -> np.ndarray:
        """Land surface temperature in deg C."""
        if "LST" not in self._cache:
            th = self.radiometry.thermal
            if th is None:
                raise ValueError("LST needs a thermal band.")
            value = self._masked(th.conversion.apply(self.raw["T"]))
            if self.check is not None:
                self.check.check_dn("T", self.raw["T"], th.conversion.dn_max)
            if th.kind == "kelvin":
                out = (value - np.float32(273.15)).astype(np.float32)
            else:
                o = self.radiometry.lst
                eps = lstmod.ndvi_emissivity(self.index("NDVI"), o.ndvi_soil, o.ndvi_veg, o.eps_soil, o.eps_veg)
                if o.method == "single_channel":
                    bt = rad.brightness_temperature(value, th.k1, th.k2)
                    out = lstmod.lst_single_channel(bt, eps, th.wavelength_um)
                else:
                    out = lstmod.lst_radiative_transfer(value, eps, th.k1, th.k2, o.tau, o.up, o.down)
            self._cache["LST"] = np.asarray(out, dtype=np.float32)
            if self.check is not None:
                self.check.add_lst(self._cache["LST"])
        return self._cache["LST"]

    def get(self, name: str) -> np.ndarray:
        """An index key, "LST", or a band role (reflectance)."""
        key = name.upper()
        if key == "LST":
            return self.lst()
        if key in ix.INDICES:
            return self.index(key)
        if key in self.radiometry.reflectance:
            return self.reflectance(key)
        raise KeyError(name)

    def expression(self, expr) -> np.ndarray:
        """Evaluate a validated ``expression.BandExpression`` on this block."""
        return expr.evaluate({n: self.get(n) for n in expr.names})


# -- a block pass over a scene (raster/executor.BlockPass) ---------------------------------------------------------
QA_KEY = "QA"


def read_scene(stack, ctx):
    """``load`` of a scene pass: every band as float32 (nodata NaN) and the QA band raw (None without one)."""
    raw = {key: stack.read(key, ctx.window) for key in stack.refs if key != QA_KEY}
    qa = stack.read_raw(QA_KEY, ctx.window) if QA_KEY in stack.refs else None
    return raw, qa


def scene_block(data, ctx, radiometry: SceneRadiometry, check, sources: tuple, layout: tuple):
    """``compute`` of a scene pass: the products ``sources`` (index keys, "LST", band roles or
    ``expression.BandExpression``) of one block, each computed once, in this order.

    ``layout``: (output key, source positions) per output: one position gives a (rows, cols) block, several a
    (bands, rows, cols) block. ``check``: the scene's ``plausibility.RadiometryCheck`` or None; each block checks
    with its own ``check.fresh()``. The partial result: {"valid": {role: pixels not nodata}, "lst": the LST tally}.
    """
    raw, qa = data
    valid = {role: int(np.count_nonzero(~np.isnan(block))) for role, block in raw.items()}
    seen = check.fresh() if check is not None else None
    products = BlockProducts(raw, radiometry, qa, seen)
    values = [products.expression(s) if isinstance(s, BandExpression) else products.get(s) for s in sources]
    blocks = {key: values[at[0]] if len(at) == 1 else np.stack([values[i] for i in at]) for key, at in layout}
    return blocks, {"valid": valid, "lst": seen.tally() if seen is not None else (0.0, 0)}
