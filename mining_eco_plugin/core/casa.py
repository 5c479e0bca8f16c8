"""Net primary productivity (NPP) with the CASA light-use-efficiency model.

Pure numpy: no file I/O, no qgis import.  Every month input is an array of shape (m, n): m months
(in calendar order) of n pixels (one block of a raster, flattened); per-class parameters are (n,)
arrays (see :func:`class_parameters`).

Sources
-------
* changhe seed, section 2.2.2 (eqs. 2-4) - the model as the seed applies it::

      NPP(x, t)  = APAR(x, t) * eps(x, t)                                 gC m-2 month-1   (2)
      APAR(x, t) = SOL(x, t) * FPAR(x, t) * 0.5                           MJ m-2 month-1   (3)
      eps(x, t)  = eps_max * T_eps1(x, t) * T_eps2(x, t) * W_eps(x, t)    gC MJ-1          (4)

  SOL is the total solar radiation of the month (MJ m-2 month-1); 0.5 is the share of
  photosynthetically active radiation in it (:data:`PAR_FRACTION`).  The seed defers every
  other detail to Potter et al. 1993 and to Zhu et al.; those are implemented here.
* Potter, C. S., Randerson, J. T., Field, C. B., Matson, P. A., Vitousek, P. M., Mooney, H. A.
  & Klooster, S. A. (1993). Terrestrial ecosystem production: a process model based on global
  satellite and surface data. Global Biogeochemical Cycles 7(4): 811-841.  (APAR, T_eps1,
  T_eps2, W_eps = 0.5 + 0.5 EET/PET.)
* Zhu Wenquan, Pan Yaozhong, Zhang Jinshui (2007). Estimation of net primary productivity of
  Chinese terrestrial vegetation based on remote sensing. Journal of Plant Ecology (Chinese
  Version, Zhiwu Shengtai Xuebao) 31(3): 413-424; and Zhu Wenquan, Pan Yaozhong, He Hao, Yu
  Deyong, Hu Haibo (2006). Simulation of maximum light use efficiency for some typical
  vegetation types in China. Chinese Science Bulletin 51(4): 457-463.  (FPAR from NDVI and SR
  between the 5 % / 95 % percentiles, averaged; eps_max and NDVI_max per vegetation type;
  NDVI_min = 0.023; T_opt = temperature of the month of maximum NDVI; the -10 C rule for
  T_eps1; the half-value rule for T_eps2.)
* Zhou Guangsheng & Zhang Xinshi (1995). A natural vegetation NPP model. Acta Phytoecologica
  Sinica 19(3): 193-200 (the regional evapotranspiration model: EET from P and the net
  radiation Rn, Rn from Thornthwaite's Ep0 and P), used for W_eps as in Zhu et al. 2007.
* Thornthwaite, C. W. (1948). An approach toward a rational classification of climate.
  Geographical Review 38: 55-94 (Ep0, the heat index I and its exponent a).

FPAR (Zhu et al. 2007, after Potter et al. 1993 and Los 1998)::

    SR          = (1 + NDVI) / (1 - NDVI)
    FPAR_NDVI   = (NDVI - NDVI_min) / (NDVI_max - NDVI_min) * (FPAR_max - FPAR_min) + FPAR_min
    FPAR_SR     = (SR - SR_min) / (SR_max - SR_min) * (FPAR_max - FPAR_min) + FPAR_min
    FPAR        = alpha FPAR_NDVI + (1 - alpha) FPAR_SR            alpha = 0.5
    FPAR_min = 0.001, FPAR_max = 0.95; NDVI_min/_max and SR_min/_max are the 5 % / 95 %
    percentiles of the land-cover class.  Both parts are clipped to [FPAR_min, FPAR_max].

Temperature stress (Potter et al. 1993; Zhu et al. 2007)::

    T_eps1 = 0.8 + 0.02 T_opt - 0.0005 T_opt^2                   (0 in months with T <= -10 C)
    T_eps2 = 1.1814 / (1 + exp(0.2 (T_opt - 10 - T))) / (1 + exp(0.3 (-T_opt - 10 + T)))
             and, where T > T_opt + 10 or T < T_opt - 13, half the value T_eps2 takes at T = T_opt.

Water stress (Potter et al. 1993; Zhou & Zhang 1995 as used by Zhu et al. 2007)::

    W_eps = 0.5 + 0.5 EET / PET,     PET = (EET + Ep0) / 2
    EET   = P Rn (P^2 + Rn^2 + P Rn) / ((P + Rn) (P^2 + Rn^2))
    Rn    = sqrt(Ep0 P) (0.369 + 0.598 sqrt(Ep0 / P))  = 0.369 sqrt(Ep0 P) + 0.598 Ep0
    Ep0   = 16 (10 T / I)^a  (T > 0; 0 otherwise)   mm month-1 (Thornthwaite, unadjusted)
    I     = sum over months with T > 0 of (T / 5)^1.514
    a     = 6.75e-7 I^3 - 7.71e-5 I^2 + 1.792e-2 I + 0.49239

Units: temperature deg C (monthly mean), precipitation mm month-1, SOL MJ m-2 month-1, NPP
gC m-2 month-1 (annual NPP = sum of the months, gC m-2 yr-1).

Every constant is a module-level default (its source in the comment above it) and a keyword
argument of the function that uses it; :func:`w_eps` and :func:`npp_monthly` (both its fused and
its per-formula path) take the coefficients of the published formulas as one
:class:`CasaConstants` (defaults: the published values) and the rules (T_eps1 cold limit,
half-value thresholds, frozen-month W_eps, heat index) as keywords of their own.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FPAR_MIN",
    "FPAR_MAX",
    "PAR_FRACTION",
    "FPAR_NDVI_WEIGHT",
    "NDVI_MIN_DEFAULT",
    "T_EPS1_COLD_LIMIT",
    "T_EPS2_ABOVE",
    "T_EPS2_BELOW",
    "T_EPS1_C0",
    "T_EPS1_C1",
    "T_EPS1_C2",
    "T_EPS2_SCALE",
    "T_EPS2_LOW_RATE",
    "T_EPS2_HIGH_RATE",
    "T_EPS2_LOW_SHIFT",
    "T_EPS2_HIGH_SHIFT",
    "HEAT_INDEX_DIVISOR",
    "HEAT_INDEX_EXPONENT",
    "THORNTHWAITE_SCALE",
    "THORNTHWAITE_T_FACTOR",
    "THORNTHWAITE_A",
    "RN_SQRT_COEFF",
    "RN_EP0_COEFF",
    "W_EPS_FROZEN",
    "CasaConstants",
    "DEFAULT_CONSTANTS",
    "TABLE_COLUMNS",
    "CasaClass",
    "CLCD_DEFAULTS",
    "ZHU_VEGETATION_TYPES",
    "sr_from_ndvi",
    "parse_class_table",
    "default_table_cells",
    "class_parameters",
    "fpar_ndvi",
    "fpar_sr",
    "fpar",
    "optimum_temperature",
    "t_eps1",
    "t_eps2",
    "heat_index",
    "thornthwaite_pet",
    "regional_eet",
    "net_radiation",
    "w_eps",
    "npp_monthly",
    "annual_npp",
    "check_months",
    "check_plausible",
    "NDVI_SCALED_SHARE",
    "NDVI_NO_SIGNAL",
    "screen_ndvi",
    "ndvi_screen_warning",
    "class_statistics",
    "RunningClassStats",
    "MONTH_INPUTS",
    "read_landcover",
    "landcover_block",
    "union",
    "npp_block",
    "combine_npp",
]

#: lower bound of FPAR (Zhu et al. 2007; Potter et al. 1993 use 0 .. 0.95)
FPAR_MIN = 0.001
#: upper bound of FPAR (Potter et al. 1993: FPAR never exceeds 0.95)
FPAR_MAX = 0.95
#: share of PAR in total solar radiation (changhe eq. 3; Potter et al. 1993)
PAR_FRACTION = 0.5
#: alpha in FPAR = alpha FPAR_NDVI + (1 - alpha) FPAR_SR (Zhu et al. 2007: the mean of both)
FPAR_NDVI_WEIGHT = 0.5
#: NDVI_min of every vegetation type (Zhu et al. 2007: 0.023, the 5 % NDVI of bare land)
NDVI_MIN_DEFAULT = 0.023
#: months with a mean temperature at or below this (deg C) get T_eps1 = 0 (Zhu et al. 2007)
T_EPS1_COLD_LIMIT = -10.0
#: T_eps2 half-value rule: more than this many degrees above T_opt (Potter et al. 1993)
T_EPS2_ABOVE = 10.0
#: T_eps2 half-value rule: more than this many degrees below T_opt (Potter et al. 1993)
T_EPS2_BELOW = 13.0
#: T_eps1 = C0 + C1 T_opt - C2 T_opt^2 (Potter et al. 1993; 1.0 at T_opt = 20 C)
T_EPS1_C0 = 0.8
T_EPS1_C1 = 0.02
T_EPS1_C2 = 0.0005
#: T_eps2 = SCALE / (1 + exp(LOW_RATE (T_opt - LOW_SHIFT - T))) / (1 + exp(HIGH_RATE (-T_opt - HIGH_SHIFT + T)))
#: (Potter et al. 1993; SCALE 1.1814 makes the peak 0.9912, many papers print 1.184)
T_EPS2_SCALE = 1.1814
T_EPS2_LOW_RATE = 0.2
T_EPS2_HIGH_RATE = 0.3
T_EPS2_LOW_SHIFT = 10.0
T_EPS2_HIGH_SHIFT = 10.0
#: Thornthwaite 1948 heat index I = sum (T / DIVISOR)^EXPONENT over the months with T > 0
HEAT_INDEX_DIVISOR = 5.0
HEAT_INDEX_EXPONENT = 1.514
#: Thornthwaite 1948 Ep0 = SCALE (T_FACTOR T / I)^a, mm month-1 (unadjusted: 30-day months of 12-hour days)
THORNTHWAITE_SCALE = 16.0
THORNTHWAITE_T_FACTOR = 10.0
#: Thornthwaite 1948 exponent a = A3 I^3 + A2 I^2 + A1 I + A0, as (A3, A2, A1, A0)
THORNTHWAITE_A = (6.75e-7, -7.71e-5, 1.792e-2, 0.49239)
#: Zhou & Zhang 1995 net radiation Rn = SQRT_COEFF sqrt(Ep0 P) + EP0_COEFF Ep0 (mm)
RN_SQRT_COEFF = 0.369
RN_EP0_COEFF = 0.598
#: W_eps of frozen months (Ep0 = 0): "previous" = that of the previous month (the Chinese CASA literature after
#: Zhu et al. 2007, see :func:`w_eps`), or a number
W_EPS_FROZEN = "previous"


@dataclass(frozen=True)
class CasaConstants:
    """The coefficients of the published formulas (module constants above, with their sources), for
    :func:`w_eps` and :func:`npp_monthly` (both paths); the defaults are the published values.  The
    rules a user may change (cold limit, half-value thresholds, frozen-month rule, heat index) are
    keyword arguments of :func:`npp_monthly` of their own."""

    t_eps1_c0: float = T_EPS1_C0
    t_eps1_c1: float = T_EPS1_C1
    t_eps1_c2: float = T_EPS1_C2
    t_eps2_scale: float = T_EPS2_SCALE
    t_eps2_low_rate: float = T_EPS2_LOW_RATE
    t_eps2_high_rate: float = T_EPS2_HIGH_RATE
    t_eps2_low_shift: float = T_EPS2_LOW_SHIFT
    t_eps2_high_shift: float = T_EPS2_HIGH_SHIFT
    heat_divisor: float = HEAT_INDEX_DIVISOR
    heat_exponent: float = HEAT_INDEX_EXPONENT
    ep0_scale: float = THORNTHWAITE_SCALE
    ep0_t_factor: float = THORNTHWAITE_T_FACTOR
    a_coeffs: tuple = THORNTHWAITE_A
    rn_sqrt_coeff: float = RN_SQRT_COEFF
    rn_ep0_coeff: float = RN_EP0_COEFF

    def t_eps1_kw(self):
        return dict(c0=self.t_eps1_c0, c1=self.t_eps1_c1, c2=self.t_eps1_c2)

    def t_eps2_kw(self):
        return dict(scale=self.t_eps2_scale, low_rate=self.t_eps2_low_rate, high_rate=self.t_eps2_high_rate,
                    low_shift=self.t_eps2_low_shift, high_shift=self.t_eps2_high_shift)


#: the published values
DEFAULT_CONSTANTS = CasaConstants()

#: columns of the class table (a Processing matrix parameter, flattened row-wise)
TABLE_COLUMNS = ("code", "name", "eps_max", "ndvi_min", "ndvi_max", "sr_min", "sr_max")


def sr_from_ndvi(ndvi):
    """Simple ratio from NDVI: ``SR = NIR / R = (1 + NDVI) / (1 - NDVI)`` (NDVI = 1 -> inf)."""
    ndvi = np.asarray(ndvi, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (1.0 + ndvi) / (1.0 - ndvi)


@dataclass(frozen=True)
class CasaClass:
    """CASA parameters of one land-cover class.

    ``eps_max`` maximum light use efficiency (gC MJ-1); ``ndvi_min`` / ``ndvi_max`` the 5 % and
    95 % NDVI percentiles of the class (Zhu et al. 2007); ``sr_min`` / ``sr_max`` the same for
    the simple ratio, ``None`` -> derived from the NDVI bounds with SR = (1 + NDVI)/(1 - NDVI)
    (which is how Zhu et al.'s SR column follows from their NDVI column).
    """

    code: int
    name: str
    eps_max: float
    ndvi_min: float
    ndvi_max: float
    sr_min: float | None = None
    sr_max: float | None = None

    def sr_bounds(self) -> tuple[float, float]:
        """(SR_min, SR_max): the given values, else computed from the NDVI bounds."""
        lo = float(sr_from_ndvi(self.ndvi_min)) if self.sr_min is None else float(self.sr_min)
        hi = float(sr_from_ndvi(self.ndvi_max)) if self.sr_max is None else float(self.sr_max)
        return lo, hi


#: Zhu et al. 2006 (eps_max, gC MJ-1) and Zhu et al. 2007 Table 1 (NDVI_max, 95 % percentile;
#: NDVI_min = 0.023 for every type) for the vegetation types of China, as reproduced in the
#: many studies that use this parameterisation (values transcribed from the literature; check
#: them against the original tables before a publication).  SR_max of Zhu's table equals
#: (1 + NDVI_max)/(1 - NDVI_max), e.g. 0.647 -> 4.67, 0.610 -> 4.13.
ZHU_VEGETATION_TYPES = {
    "evergreen needleleaf forest": (0.389, 0.647),
    "evergreen broadleaf forest": (0.985, 0.676),
    "deciduous needleleaf forest": (0.485, 0.738),
    "deciduous broadleaf forest": (0.692, 0.747),
    "mixed needleleaf-broadleaf forest": (0.475, 0.702),
    "shrub": (0.429, 0.636),
    "grassland": (0.542, 0.634),
    "cropland": (0.542, 0.610),
    "other": (0.542, 0.634),
}


def _zhu(code, name, zhu_type, eps_max=None):
    eps, ndvi_max = ZHU_VEGETATION_TYPES[zhu_type]
    return CasaClass(code, name, eps if eps_max is None else eps_max, NDVI_MIN_DEFAULT, ndvi_max)


#: Default parameters on the CLCD legend (Yang & Huang 2021).  Choices:
#:
#: * 1 cropland, 3 shrub, 4 grassland: Zhu's cropland, shrub and grassland types.
#: * 2 forest: Zhu's *mixed needleleaf-broadleaf forest* (eps_max 0.475, NDVI_max 0.702).  The
#:   forests of the loess-plateau / Taihang mining basins (e.g. Changhe, Shanxi) are mixtures of
#:   Chinese pine (Pinus tabuliformis) and deciduous oaks; CLCD does not separate leaf types.
#:   Users with a broadleaf-only forest may enter 0.692 / 0.747 (deciduous broadleaf).
#: * 5 water, 6 snow/ice: eps_max = 0, i.e. NPP = 0 (no terrestrial vegetation; the CASA
#:   literature masks them out).  Their NDVI bounds are the "other" type's, only so FPAR is
#:   defined.
#: * 7 barren, 8 impervious, 9 wetland: Zhu's "other" type (eps_max 0.542, NDVI_max 0.634).
#:   Their low NDVI gives a low FPAR by itself, so they are not forced to zero: changhe Table 2
#:   reports 167.5 gC m-2 yr-1 for construction land (rural settlements with gardens and trees).
#:   Set eps_max to 0 in the table to exclude them.
CLCD_DEFAULTS: dict[int, CasaClass] = {
    1: _zhu(1, "Cropland", "cropland"),
    2: _zhu(2, "Forest", "mixed needleleaf-broadleaf forest"),
    3: _zhu(3, "Shrub", "shrub"),
    4: _zhu(4, "Grassland", "grassland"),
    5: _zhu(5, "Water", "other", eps_max=0.0),
    6: _zhu(6, "Snow/Ice", "other", eps_max=0.0),
    7: _zhu(7, "Barren", "other"),
    8: _zhu(8, "Impervious", "other"),
    9: _zhu(9, "Wetland", "other"),
}


def default_table_cells() -> list[str]:
    """:data:`CLCD_DEFAULTS` flattened row-wise in :data:`TABLE_COLUMNS` order (matrix default).

    Empty strings stand for SR bounds derived from NDVI.
    """
    cells = []
    for c in CLCD_DEFAULTS.values():
        cells += [str(c.code), c.name, f"{c.eps_max:g}", f"{c.ndvi_min:g}", f"{c.ndvi_max:g}",
                  "" if c.sr_min is None else f"{c.sr_min:g}",
                  "" if c.sr_max is None else f"{c.sr_max:g}"]
    return cells


def _cell_text(cell) -> str:
    return "" if cell is None else str(cell).strip()


def parse_class_table(flat_cells, n_cols=7, *, parameter="CLASS_TABLE") -> dict[int, CasaClass]:
    """Parse a Processing matrix (flattened row-wise) into ``{code: CasaClass}``.

    Columns: ``code, name, eps_max, ndvi_min, ndvi_max, sr_min, sr_max``; the SR cells may be
    empty (-> derived from NDVI).  Checks: integer code (unique), eps_max >= 0,
    -1 <= ndvi_min < ndvi_max < 1, SR_min < SR_max.  Raises ValueError naming the parameter, the
    row (1-based) and the column.
    """
    cells = list(flat_cells or [])
    if n_cols != len(TABLE_COLUMNS):
        raise ValueError(f"{parameter}: the table has {len(TABLE_COLUMNS)} columns "
                         f"({', '.join(TABLE_COLUMNS)}), not {n_cols}")
    if not cells:
        raise ValueError(f"{parameter} is empty: give one row per land-cover code "
                         f"({', '.join(TABLE_COLUMNS)})")
    if len(cells) % n_cols:
        raise ValueError(f"{parameter} has {len(cells)} cells, not a multiple of {n_cols}: every "
                         f"row needs {', '.join(TABLE_COLUMNS)} (sr_min / sr_max may be empty)")
    table: dict[int, CasaClass] = {}
    for r in range(len(cells) // n_cols):
        row = [_cell_text(c) for c in cells[r * n_cols:(r + 1) * n_cols]]

        def where(col):
            return f"{parameter} row {r + 1}, column {TABLE_COLUMNS[col]}"

        def number(col, optional=False):
            text = row[col]
            if text == "":
                if optional:
                    return None
                raise ValueError(f"{where(col)} is empty: give a number")
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"{where(col)}: {text!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"{where(col)}: {text!r} is not a finite number")
            return value

        code_f = number(0)
        if code_f != int(code_f):
            raise ValueError(f"{where(0)}: {row[0]!r} is not an integer land-cover code")
        if abs(code_f) > 2 ** 31 - 1:
            raise ValueError(f"{where(0)}: {row[0]!r} is beyond the codes a land-cover raster holds "
                             "(32-bit integers)")
        code = int(code_f)
        if code in table:
            raise ValueError(f"{where(0)}: code {code} appears twice")
        name = row[1] or f"class {code}"
        eps_max = number(2)
        if eps_max < 0:
            raise ValueError(f"{where(2)}: {eps_max:g} is negative (gC/MJ, e.g. 0.542)")
        if eps_max > 5:
            raise ValueError(f"{where(2)}: {eps_max:g} gC/MJ is implausible (published values "
                             "are 0.2-1.3 gC/MJ)")
        ndvi_min, ndvi_max = number(3), number(4)
        for col, v in ((3, ndvi_min), (4, ndvi_max)):
            if not -1.0 <= v < 1.0:
                raise ValueError(f"{where(col)}: {v:g} is outside [-1, 1)")
        if ndvi_min >= ndvi_max:
            raise ValueError(f"{where(4)}: ndvi_max {ndvi_max:g} must be greater than "
                             f"ndvi_min {ndvi_min:g}")
        sr_min, sr_max = number(5, optional=True), number(6, optional=True)
        cls = CasaClass(code, name, eps_max, ndvi_min, ndvi_max, sr_min, sr_max)
        lo, hi = cls.sr_bounds()
        if not lo < hi:
            raise ValueError(f"{where(6)}: SR_max {hi:g} must be greater than SR_min {lo:g}")
        if lo <= 0:
            raise ValueError(f"{where(5)}: SR_min {lo:g} must be positive (SR = NIR/Red)")
        table[code] = cls
    return table


def _codes_as_int(codes, nodata_mask, parameter):
    codes = np.asarray(codes)
    valid = np.ones(codes.shape, dtype=bool)
    if nodata_mask is not None:
        valid &= ~np.asarray(nodata_mask, dtype=bool)
    if codes.dtype.kind == "f":
        valid &= np.isfinite(codes)
        vals = codes[valid]
        if vals.size and np.any(vals != np.rint(vals)):
            bad = np.unique(vals[vals != np.rint(vals)])[:5]
            raise ValueError(f"{parameter} has non-integer values ({', '.join(f'{b:g}' for b in bad)}):"
                             " give a land-cover raster of integer class codes")
        icodes = np.zeros(codes.shape, dtype=np.int64)
        icodes[valid] = vals.astype(np.int64)
    else:
        icodes = codes.astype(np.int64)
    return icodes, valid


def class_parameters(codes: np.ndarray, table: dict[int, CasaClass], nodata_mask=None, *,
                     parameter="LANDCOVER", table_parameter="CLASS_TABLE") -> dict[str, np.ndarray]:
    """Per-pixel CASA parameters from land-cover codes.

    Returns ``{"eps_max", "ndvi_min", "ndvi_max", "sr_min", "sr_max"}``: float32 arrays of the
    shape of ``codes``, NaN where ``nodata_mask`` is True (or the code is NaN).  Codes present
    without a table entry raise ValueError listing them.
    """
    icodes, valid = _codes_as_int(codes, nodata_mask, parameter)
    all_valid = bool(valid.all())
    found = icodes if all_valid else icodes[valid]
    present, labels = (_group_codes(found.ravel()) if found.size else
                       (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp)))
    missing = [int(c) for c in present if int(c) not in table]
    if missing:
        from .checks import listing
        listed = listing(missing, noun="codes")
        word = "code" if len(missing) == 1 else "codes"
        verb = "has" if len(missing) == 1 else "have"
        raise ValueError(f"{parameter} {word} {listed} {verb} no parameters in {table_parameter}: "
                         "add rows for them")
    rows = [table[int(c)] for c in present]
    lookup = {"eps_max": [c.eps_max for c in rows], "ndvi_min": [c.ndvi_min for c in rows],
              "ndvi_max": [c.ndvi_max for c in rows], "sr_min": [c.sr_bounds()[0] for c in rows],
              "sr_max": [c.sr_bounds()[1] for c in rows]}
    out = {}
    for key, values in lookup.items():          # one lookup per parameter, not one pass per class
        per_class = np.asarray(values, dtype=np.float32)[labels]
        if all_valid:
            out[key] = per_class.reshape(icodes.shape)
        else:
            out[key] = np.full(icodes.shape, np.nan, dtype=np.float32)
            out[key][valid] = per_class
    return out


def _scale(x, lo, hi, fpar_min, fpar_max):
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (x - lo) / (hi - lo) * (fpar_max - fpar_min) + fpar_min
    return np.clip(f, fpar_min, fpar_max)


def fpar_ndvi(ndvi, ndvi_min, ndvi_max, fpar_min=FPAR_MIN, fpar_max=FPAR_MAX):
    """FPAR from NDVI, linear between (NDVI_min, FPAR_min) and (NDVI_max, FPAR_max), clipped
    (Zhu et al. 2007, after Potter et al. 1993)."""
    return _scale(np.asarray(ndvi, dtype=np.float64), np.asarray(ndvi_min, dtype=np.float64),
                  np.asarray(ndvi_max, dtype=np.float64), fpar_min, fpar_max)


def fpar_sr(ndvi, sr_min, sr_max, fpar_min=FPAR_MIN, fpar_max=FPAR_MAX):
    """FPAR from the simple ratio SR = (1 + NDVI)/(1 - NDVI), linear between (SR_min, FPAR_min)
    and (SR_max, FPAR_max), clipped (Potter et al. 1993; Zhu et al. 2007).  NDVI = 1 gives
    SR = inf and FPAR_max."""
    return _scale(sr_from_ndvi(ndvi), np.asarray(sr_min, dtype=np.float64),
                  np.asarray(sr_max, dtype=np.float64), fpar_min, fpar_max)


def fpar(ndvi, ndvi_min, ndvi_max, sr_min, sr_max, weight=FPAR_NDVI_WEIGHT, fpar_min=FPAR_MIN,
         fpar_max=FPAR_MAX):
    """FPAR = weight FPAR_NDVI + (1 - weight) FPAR_SR (Zhu et al. 2007: weight 0.5), within
    [fpar_min, fpar_max].  All arguments broadcastable numpy arrays; NaN stays NaN."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"FPAR NDVI weight {weight:g} must lie in [0, 1]")
    if not 0.0 <= fpar_min < fpar_max <= 1.0:
        raise ValueError(f"FPAR bounds must satisfy 0 <= min < max <= 1 (got {fpar_min:g}, {fpar_max:g})")
    f = (weight * fpar_ndvi(ndvi, ndvi_min, ndvi_max, fpar_min, fpar_max)
         + (1.0 - weight) * fpar_sr(ndvi, sr_min, sr_max, fpar_min, fpar_max))
    return np.clip(f, fpar_min, fpar_max)


def optimum_temperature(ndvi_months, temp_months) -> np.ndarray:
    """T_opt per pixel: the mean temperature of the month in which NDVI is highest (Zhu et al.
    2007, after Potter et al. 1993's "month of maximum NDVI").  (m, n) -> (n,); ties take the
    first such month; NaN NDVI months are skipped; NaN where NDVI is NaN in every month."""
    ndvi = np.asarray(ndvi_months)
    temp = np.asarray(temp_months)
    if ndvi.dtype.kind != "f":
        ndvi = ndvi.astype(np.float64)
    top = np.fmax.reduce(ndvi, axis=0)          # NaN months skipped; NaN where every month is NaN
    t_opt = np.full(ndvi.shape[1:], np.nan)
    for k in range(ndvi.shape[0] - 1, -1, -1):  # backwards: on ties the first month is written last
        np.copyto(t_opt, temp[k], where=ndvi[k] == top)
    return t_opt


def t_eps1(t_opt, temp=None, *, cold_limit=T_EPS1_COLD_LIMIT, c0=T_EPS1_C0, c1=T_EPS1_C1,
           c2=T_EPS1_C2):
    """Low-temperature stress ``T_eps1 = c0 + c1 T_opt - c2 T_opt^2`` = ``0.8 + 0.02 T_opt -
    0.0005 T_opt^2`` (Potter et al. 1993), e.g. 1.0 at T_opt = 20 C.

    With ``temp`` (monthly temperatures, broadcast against ``t_opt``) the result is per month
    and months with ``temp <= cold_limit`` (-10 C) get 0: Zhu et al. 2007's rule ("when the mean
    temperature of a month is at or below -10 C, T_eps1 is 0").  ``cold_limit=None`` drops it.
    """
    t_opt = np.asarray(t_opt, dtype=np.float64)
    value = c0 + c1 * t_opt - c2 * t_opt ** 2
    if temp is None:
        return value
    temp = np.asarray(temp, dtype=np.float64)
    value = np.broadcast_to(value, np.broadcast_shapes(value.shape, temp.shape)).copy()
    if cold_limit is not None:
        value[np.broadcast_to(temp <= cold_limit, value.shape)] = 0.0
    return np.where(np.isnan(temp) | np.isnan(t_opt), np.nan, value)


def _t_eps2_curve(temp, t_opt, scale=T_EPS2_SCALE, low_rate=T_EPS2_LOW_RATE, high_rate=T_EPS2_HIGH_RATE,
                  low_shift=T_EPS2_LOW_SHIFT, high_shift=T_EPS2_HIGH_SHIFT):
    with np.errstate(over="ignore"):
        return (scale / (1.0 + np.exp(low_rate * (t_opt - low_shift - temp)))
                / (1.0 + np.exp(high_rate * (-t_opt - high_shift + temp))))


def t_eps2(temp, t_opt, *, half_rule=True, above=T_EPS2_ABOVE, below=T_EPS2_BELOW, scale=T_EPS2_SCALE,
           low_rate=T_EPS2_LOW_RATE, high_rate=T_EPS2_HIGH_RATE, low_shift=T_EPS2_LOW_SHIFT,
           high_shift=T_EPS2_HIGH_SHIFT):
    """High/low-temperature stress (Potter et al. 1993)::

        T_eps2 = scale / (1 + exp(low_rate (T_opt - low_shift - T)))
                       / (1 + exp(high_rate (-T_opt - high_shift + T)))
               = 1.1814 / (1 + exp(0.2 (T_opt - 10 - T))) / (1 + exp(0.3 (-T_opt - 10 + T)))

    The curve peaks near T = T_opt (0.9912 there, for any T_opt).  Potter et al. 1993 describe
    it as falling to half its T_opt value 10 C above and 13 C below T_opt; the curve itself only
    approximates that (0.585 and 0.422 of the peak).  Zhu et al. 2007 turn the description into
    a rule, implemented here (``half_rule=True``): where ``T - T_opt > above`` (10) or
    ``T_opt - T > below`` (13), T_eps2 = T_eps2(T_opt, T_opt) / 2 = 0.4956.  The strict
    inequality means the curve value is kept exactly at +10 / -13.  ``half_rule=False`` uses
    the bare curve (as some CASA implementations do).
    """
    temp = np.asarray(temp, dtype=np.float64)
    t_opt = np.asarray(t_opt, dtype=np.float64)
    curve = dict(scale=scale, low_rate=low_rate, high_rate=high_rate, low_shift=low_shift, high_shift=high_shift)
    value = _t_eps2_curve(temp, t_opt, **curve)
    if half_rule:
        half = 0.5 * _t_eps2_curve(t_opt, t_opt, **curve)
        value = np.where((temp - t_opt > above) | (t_opt - temp > below), half, value)
    return value


def heat_index(temp_months, *, divisor=HEAT_INDEX_DIVISOR, exponent=HEAT_INDEX_EXPONENT):
    """Thornthwaite's annual heat index ``I = sum_months (T/divisor)^exponent`` = ``(T/5)^1.514``
    over months with T > 0.

    (m, n) -> (n,).  Thornthwaite defines I over the 12 months of a year.  With fewer months
    (e.g. only the growing season) the sum runs over the months given, so I is lower than the
    annual value (cold months add little, so the difference is usually small); give
    ``heat_index=`` explicitly to :func:`w_eps` / :func:`npp_monthly` to use an annual I from
    other data.  NaN months are skipped; NaN where every month is NaN.
    """
    t = np.asarray(temp_months)
    total = np.zeros(t.shape[1:], dtype=np.float64)
    all_nan = np.ones(t.shape[1:], dtype=bool)
    for tk in t:                       # month by month: no (m, n) float64 copy of a large block
        tk = tk.astype(np.float64)
        warm = tk > 0
        total += np.where(warm, (np.where(warm, tk, 0.0) / divisor) ** exponent, 0.0)
        all_nan &= np.isnan(tk)
    return np.where(all_nan, np.nan, total)


def _thornthwaite_a(heat, coeffs=THORNTHWAITE_A):
    a3, a2, a1, a0 = coeffs
    return a3 * heat ** 3 + a2 * heat ** 2 + a1 * heat + a0


def thornthwaite_pet(temp_months, heat_index, *, scale=THORNTHWAITE_SCALE, t_factor=THORNTHWAITE_T_FACTOR,
                     a_coeffs=THORNTHWAITE_A):
    """Thornthwaite potential evapotranspiration Ep0 (mm month-1), unadjusted for day length
    and month length (30-day months of 12-hour days), as in Zhou & Zhang 1995::

        Ep0 = scale (t_factor T / I)^a = 16 (10 T / I)^a  for T > 0, else 0
        a   = A3 I^3 + A2 I^2 + A1 I + A0 = 6.75e-7 I^3 - 7.71e-5 I^2 + 1.792e-2 I + 0.49239

    ``temp_months`` (m, n) or (n,), ``heat_index`` (n,).  Where I = 0 (no month above 0 C),
    Ep0 = 0.  Thornthwaite's table for T >= 26.5 C is not applied (monthly means that hot are
    outside the temperate basins this tool targets).
    """
    t = np.asarray(temp_months, dtype=np.float64)
    i = np.asarray(heat_index, dtype=np.float64)
    a = _thornthwaite_a(i, a_coeffs)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((t > 0) & (i > 0), t_factor * t / np.where(i > 0, i, 1.0), 0.0)
        ep0 = np.where(ratio > 0, scale * ratio ** a, 0.0)
    return np.where(np.isnan(t) | np.isnan(i), np.nan, ep0)


def regional_eet(precip, rn):
    """Estimated actual evapotranspiration (mm), Zhou & Zhang 1995::

        EET = P Rn (P^2 + Rn^2 + P Rn) / ((P + Rn) (P^2 + Rn^2))

    Limits: EET -> 0 when P = 0 or Rn = 0 (0 also when both are 0); EET -> Rn for P >> Rn and
    -> P for Rn >> P.
    """
    p = np.asarray(precip, dtype=np.float64)
    r = np.asarray(rn, dtype=np.float64)
    den = (p + r) * (p * p + r * r)
    with np.errstate(divide="ignore", invalid="ignore"):
        eet = p * r * (p * p + r * r + p * r) / den
    return np.where(den > 0, eet, np.where(np.isnan(den), np.nan, 0.0))


def net_radiation(ep0, precip, *, sqrt_coeff=RN_SQRT_COEFF, ep0_coeff=RN_EP0_COEFF):
    """Net radiation in evaporation units (mm), Zhou & Zhang 1995::

        Rn = sqrt(Ep0 P) (0.369 + 0.598 sqrt(Ep0 / P)) = 0.369 sqrt(Ep0 P) + 0.598 Ep0
           (sqrt_coeff = 0.369, ep0_coeff = 0.598)

    computed in the second (equal) form, which is defined at P = 0 (Rn = 0.598 Ep0).
    """
    e = np.asarray(ep0, dtype=np.float64)
    p = np.asarray(precip, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return sqrt_coeff * np.sqrt(e * p) + ep0_coeff * e


def w_eps(temp_months, precip_months, *, heat_index_value=None, frozen=W_EPS_FROZEN, clip=True,
          constants=DEFAULT_CONSTANTS):
    """Water stress ``W_eps = 0.5 + 0.5 EET / PET`` with ``PET = (EET + Ep0) / 2`` (Potter et
    al. 1993; EET and Ep0 after Zhou & Zhang 1995 as in Zhu et al. 2007).  (m, n) -> (m, n).

    Limits and conventions:

    * P = 0 (and Ep0 > 0): EET = 0 -> W_eps = 0.5 (the driest value).
    * EET = PET (i.e. EET = Ep0) -> W_eps = 1.  EET can exceed Ep0 in very wet months (EET
      tends to Rn, and Rn > Ep0 when P is large); with ``clip=True`` EET/PET is limited to 1 so
      W_eps stays in [0.5, 1], the range Potter et al. 1993 give ("0.5 in very arid to 1 in
      very wet ecosystems").
    * Ep0 = 0 (monthly mean T <= 0 C, Thornthwaite): PET = 0 and EET/PET is undefined.
      ``frozen="previous"`` (default) takes the W_eps of the previous month: the convention of
      the CASA implementations of the Chinese literature that follows Zhu et al. ("when the
      monthly mean temperature is at or below 0 C, W_eps equals that of the previous month";
      stated here from that literature, the original texts could not be consulted while
      writing this).  Potter et al. 1993 do not need a rule: their EET/PET comes from a
      soil-water bucket model.  The months are taken as cyclic (a frozen January takes the
      last unfrozen month of the series, e.g. November), and a pixel with no unfrozen month
      gets 1.  A number (e.g. ``frozen=1.0``: no evaporative demand, no water stress) sets
      those months to it.  In such months T_eps2 (halved: T is far below T_opt) and T_eps1
      (0 at or below -10 C) already limit NPP strongly.

    ``constants``: the Thornthwaite and Zhou & Zhang coefficients (:class:`CasaConstants`).
    """
    t = np.asarray(temp_months)
    p = np.asarray(precip_months)
    if t.shape != p.shape:
        raise ValueError(f"temperature {t.shape} and precipitation {p.shape} differ in shape")
    if frozen != "previous":
        try:
            frozen_value = float(frozen)
        except (TypeError, ValueError):
            raise ValueError(f"frozen must be 'previous' or a number, not {frozen!r}") from None
    c = constants
    if heat_index_value is None:
        i = heat_index(t, divisor=c.heat_divisor, exponent=c.heat_exponent)
    else:
        i = np.broadcast_to(np.asarray(heat_index_value, dtype=np.float64), t.shape[1:])
    m = t.shape[0]
    w = np.empty(t.shape, dtype=np.float64)
    frozen_mask = np.empty(t.shape, dtype=bool)
    nan_in = np.empty(t.shape, dtype=bool)
    # month by month: the temporaries of one month stay small (cache-friendly on large blocks)
    for k in range(m):
        tk = t[k].astype(np.float64)
        pk = p[k].astype(np.float64)
        ep0 = thornthwaite_pet(tk, i, scale=c.ep0_scale, t_factor=c.ep0_t_factor, a_coeffs=c.a_coeffs)
        eet = regional_eet(pk, net_radiation(ep0, pk, sqrt_coeff=c.rn_sqrt_coeff, ep0_coeff=c.rn_ep0_coeff))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = 2.0 * eet / (eet + ep0)          # EET / PET with PET = (EET + Ep0) / 2
        if clip:
            np.clip(ratio, 0.0, 1.0, out=ratio)
        w[k] = 0.5 + 0.5 * ratio
        nan_in[k] = np.isnan(tk) | np.isnan(pk)
        frozen_mask[k] = (ep0 <= 0) & ~nan_in[k]
    if frozen == "previous":
        # last unfrozen value of the series, carried into the leading frozen months (cyclic)
        last = np.full(t.shape[1:], np.nan)
        for k in range(m):
            last = np.where(frozen_mask[k] | nan_in[k], last, w[k])
        for k in range(m):
            fill = frozen_mask[k]
            w[k] = np.where(fill, last, w[k])
            last = np.where(fill | nan_in[k], last, w[k])
        w[frozen_mask & np.isnan(w)] = 1.0
    else:
        w[frozen_mask] = frozen_value
    w[nan_in] = np.nan
    return w


def npp_monthly(ndvi, temp, precip, sol, params, *, par_fraction=PAR_FRACTION, fpar_min=FPAR_MIN,
                fpar_max=FPAR_MAX, weight=FPAR_NDVI_WEIGHT, heat_index_value=None,
                frozen=W_EPS_FROZEN, half_rule=True, cold_limit=T_EPS1_COLD_LIMIT,
                t_eps2_above=T_EPS2_ABOVE, t_eps2_below=T_EPS2_BELOW, constants=DEFAULT_CONSTANTS,
                components=False):
    """Monthly NPP (gC m-2 month-1), changhe eqs. 2-4::

        NPP = APAR * eps,  APAR = SOL * FPAR * par_fraction,
        eps = eps_max * T_eps1 * T_eps2 * W_eps

    ``ndvi``, ``temp`` (deg C), ``precip`` (mm month-1), ``sol`` (MJ m-2 month-1): (m, n) arrays
    of the same months; ``params``: :func:`class_parameters` of the n pixels.  Returns (m, n)
    float32, NaN where any input (or the class parameters) is NaN.  T_opt, Thornthwaite's I and
    the frozen-month rule of W_eps use the m months given.  With ``components=True`` returns
    ``(npp, {"fpar", "apar", "t_eps1", "t_eps2", "w_eps", "eps", "t_opt"})`` ((m, n) float64
    arrays, t_opt (n,)).  The keywords are those of :func:`fpar`, :func:`t_eps1`, :func:`t_eps2`
    and :func:`w_eps`; ``constants`` (:class:`CasaConstants`) holds the coefficients of the
    published formulas (T_eps1, T_eps2, Thornthwaite, Zhou & Zhang), used by both paths.  Computed in float64 month by month (memory: the inputs plus a few
    (m, n) arrays).

    Without ``components`` the same formulas run fused (:func:`_npp_fused`: per-pixel terms once
    per pixel instead of once per month, one logarithm of T shared by I and Ep0, Ep0 and T_eps2
    through one exponential each); with ``components=True`` every factor comes from its own
    function above.  Both are float64 throughout and agree to ~1e-15 relative before the
    float32 rounding of the result (test_casa.py checks both against a per-formula reference).
    """
    arrays = {"NDVI": np.asarray(ndvi), "TEMPERATURE": np.asarray(temp),
              "PRECIPITATION": np.asarray(precip), "SOLAR_RADIATION": np.asarray(sol)}
    shapes = {k: v.shape for k, v in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError("month inputs differ in shape: "
                         + ", ".join(f"{k} {v}" for k, v in shapes.items()))
    ndvi, temp, precip, sol = arrays.values()
    if ndvi.ndim != 2:
        raise ValueError(f"month inputs must be (months, pixels) arrays, got shape {ndvi.shape}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"FPAR NDVI weight {weight:g} must lie in [0, 1]")
    eps_max = np.asarray(params["eps_max"], dtype=np.float64)
    bounds = [np.asarray(params[k], dtype=np.float64)
              for k in ("ndvi_min", "ndvi_max", "sr_min", "sr_max")]
    if not components:
        if not 0.0 <= fpar_min < fpar_max <= 1.0:
            raise ValueError(f"FPAR bounds must satisfy 0 <= min < max <= 1 (got {fpar_min:g}, "
                             f"{fpar_max:g})")
        if frozen != "previous":
            try:
                frozen = float(frozen)
            except (TypeError, ValueError):
                raise ValueError(f"frozen must be 'previous' or a number, not {frozen!r}") from None
        options = dict(par_fraction=par_fraction, fpar_min=fpar_min, fpar_max=fpar_max,
                       weight=weight, frozen=frozen, half_rule=half_rule, cold_limit=cold_limit,
                       above=t_eps2_above, below=t_eps2_below, constants=constants)
        n = ndvi.shape[1]
        eps_max = np.broadcast_to(eps_max, (n,))
        bounds = [np.broadcast_to(b, (n,)) for b in bounds]
        heat = (None if heat_index_value is None else
                np.broadcast_to(np.asarray(heat_index_value, dtype=np.float64), (n,)))
        npp = np.empty(ndvi.shape, dtype=np.float32)
        for lo in range(0, n, FUSED_CHUNK):       # pixel chunks: the month rows stay in the cache
            sl = slice(lo, lo + FUSED_CHUNK)
            _npp_fused(ndvi[:, sl], temp[:, sl], precip[:, sl], sol[:, sl], eps_max[sl],
                       [b[sl] for b in bounds], npp[:, sl],
                       heat_index_value=None if heat is None else heat[sl], **options)
        return npp
    t_opt = optimum_temperature(ndvi, temp)
    we = w_eps(temp, precip, heat_index_value=heat_index_value, frozen=frozen, constants=constants)
    npp = np.empty(ndvi.shape, dtype=np.float32)
    comp = {k: np.empty(ndvi.shape) for k in ("fpar", "apar", "t_eps1", "t_eps2", "eps")}
    for k in range(ndvi.shape[0]):
        nd = ndvi[k].astype(np.float64)
        tk = temp[k].astype(np.float64)
        f = fpar(nd, *bounds, weight=weight, fpar_min=fpar_min, fpar_max=fpar_max)
        apar = sol[k] * f * par_fraction
        te1 = t_eps1(t_opt, tk, cold_limit=cold_limit, **constants.t_eps1_kw())
        te2 = t_eps2(tk, t_opt, half_rule=half_rule, above=t_eps2_above, below=t_eps2_below,
                     **constants.t_eps2_kw())
        eps = eps_max * te1 * te2 * we[k]
        out = apar * eps
        bad = np.isnan(nd) | np.isnan(tk) | np.isnan(precip[k]) | np.isnan(sol[k]) | np.isnan(out)
        out[bad] = np.nan
        npp[k] = out
        for name, v in (("fpar", f), ("apar", apar), ("t_eps1", te1), ("t_eps2", te2),
                        ("eps", eps)):
            comp[name][k] = v
    comp.update(w_eps=we, t_opt=t_opt)
    return npp, comp


def _clip(x, lo, hi):
    """np.clip in place (NaN stays NaN), with two ufunc passes instead of np.clip's slower path."""
    np.maximum(x, lo, out=x)
    np.minimum(x, hi, out=x)
    return x


def _fill_frozen(w, frozen_mask, nan_in, frozen):
    """W_eps of the frozen months (Ep0 = 0) in place, NaN months set to NaN (see :func:`w_eps`).

    ``frozen="previous"``: the W_eps of the nearest earlier month that is neither frozen nor NaN,
    the months taken as a cycle (the last such month of the series for the leading ones); 1
    where there is none (or that value is NaN): :func:`w_eps`'s rule, with in-place copies.
    """
    m, n = w.shape
    if frozen == "previous":
        if frozen_mask.any():
            valid = ~(frozen_mask | nan_in)
            last = np.full(n, np.nan)
            for k in range(m):                            # the last valid value of the series
                np.copyto(last, w[k], where=valid[k])
            for k in range(m):
                np.copyto(w[k], last, where=frozen_mask[k])
                np.copyto(last, w[k], where=valid[k])
            w[frozen_mask & np.isnan(w)] = 1.0
    else:
        w[frozen_mask] = frozen
    w[nan_in] = np.nan


#: pixels per piece of the fused computation (its per-month rows, 128 KB each, stay in the L2 cache)
FUSED_CHUNK = 16384
_WORKSPACE = threading.local()


def _workspace(m, n):
    """Per-thread scratch arrays of the fused computation, reused from call to call (fresh
    multi-megabyte temporaries cost page faults on every block)."""
    ws = getattr(_WORKSPACE, "arrays", None)
    if ws is None or ws["months"] != m or ws["pixels"] < n:
        size = max(n, FUSED_CHUNK)
        ws = {"months": m, "pixels": size,
              "logt": np.empty((m, size)), "w": np.empty((m, size)),
              "warm": np.empty((m, size), dtype=bool), "nan_t": np.empty((m, size), dtype=bool),
              "frozen": np.empty((m, size), dtype=bool), "nan_in": np.empty((m, size), dtype=bool),
              "rows": np.empty((8, size))}
        _WORKSPACE.arrays = ws
    return ({k: ws[k][:, :n] for k in ("logt", "w", "warm", "nan_t", "frozen", "nan_in")},
            [row[:n] for row in ws["rows"]])


def _npp_fused(ndvi, temp, precip, sol, eps_max, bounds, out, *, par_fraction, fpar_min, fpar_max,
               weight, heat_index_value, frozen, half_rule, cold_limit, above, below, constants):
    """:func:`npp_monthly` without components, into ``out`` ((m, n) float32): the same formulas,
    arranged for speed, in float64.

    * ``ln T`` once per warm pixel-month, shared by the heat index
      ``(T/5)^1.514 = exp(1.514 (ln T - ln 5))`` and by Thornthwaite's
      ``Ep0 = 16 (10 T / I)^a = exp(a ln T + c)``, ``c = ln 16 + a (ln 10 - ln I)``, where a, ln I
      and c are per pixel (computed once, not once per month);
    * T_eps2 with one exponential when the rates are 2 g and 3 g (Potter's 0.2 and 0.3, g = 0.1):
      with ``u = exp(g (T - T_opt))``, ``exp(0.2 (T_opt - 10 - T)) = e^-2 / u^2`` and
      ``exp(0.3 (T - T_opt - 10)) = e^-3 u^3``, so ``T_eps2 = 1.1814 u^2 / ((u^2 + e^-2)(1 + e^-3
      u^3))``; other rates take two exponentials; the half value is per pixel;
    * every coefficient comes from ``constants`` (:class:`CasaConstants`);
    * T_eps1 (per pixel) and the FPAR class spans once per piece; NaN needs no mask: a NaN input
      propagates through every product (FPAR, T_eps2, W_eps, APAR);
    * every array operation writes into reused per-thread buffers (:func:`_workspace`).
    Everything else is the expression of the per-formula functions, in their order.  The
    rewritten forms differ from the power / two-exponential forms by a few float64 ulps
    (~1e-15 relative), far below the float32 rounding of the result.
    """
    m, n = ndvi.shape
    ws, rows = _workspace(m, n)
    logt, w, warm, nan_t = ws["logt"], ws["w"], ws["warm"], ws["nan_t"]
    frozen_mask, nan_in = ws["frozen"], ws["nan_in"]
    r0, r1, r2, r3, r4, r5, r6, r7 = rows
    cst = constants
    t_opt = optimum_temperature(ndvi, temp)
    np.greater(temp, 0, out=warm)
    np.isnan(temp, out=nan_t)
    np.copyto(logt, temp)                                 # float64
    np.fmax(logt, 1e-30, out=logt)                        # finite where T <= 0 or NaN (masked below)
    np.log(logt, out=logt)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if heat_index_value is None:
            log_div = math.log(cst.heat_divisor)
            heat = np.zeros(n)
            for k in range(m):                            # (T/5)^1.514 over the months with T > 0
                np.subtract(logt[k], log_div, out=r0)
                r0 *= cst.heat_exponent
                np.exp(r0, out=r0)
                r0 *= warm[k]
                heat += r0
            heat[np.logical_and.reduce(nan_t, axis=0)] = np.nan
        else:
            heat = np.array(heat_index_value, dtype=np.float64)
        a = _thornthwaite_a(heat, cst.a_coeffs)
        has_heat = heat > 0
        c = np.zeros(n)                                   # c = ln 16 + a (ln 10 - ln I); 0 where I <= 0
        np.log(heat, out=c, where=has_heat)
        np.subtract(math.log(cst.ep0_t_factor), c, out=c)
        c *= a
        c += math.log(cst.ep0_scale)
        c[~has_heat] = 0.0                                # Ep0 = 0 there: no month above 0 C
        heat_nan = np.isnan(heat)
        any_heat_nan = bool(heat_nan.any())

        # water stress of every month (the frozen rule needs all of them)
        ep0, rn, pk, s2, den, num = r0, r1, r2, r3, r4, r5
        for k in range(m):
            np.copyto(pk, precip[k])                      # float64
            np.multiply(a, logt[k], out=ep0)              # Ep0 = exp(a ln T + c) where T > 0, else 0
            ep0 += c
            np.exp(ep0, out=ep0)
            ep0 *= warm[k]
            nan_k = nan_t[k] | heat_nan if any_heat_nan else nan_t[k]
            if nan_k.any():
                ep0[nan_k] = np.nan
            np.multiply(ep0, pk, out=rn)                  # Rn = 0.369 sqrt(Ep0 P) + 0.598 Ep0
            np.sqrt(rn, out=rn)
            rn *= cst.rn_sqrt_coeff
            np.multiply(ep0, cst.rn_ep0_coeff, out=s2)
            rn += s2
            np.multiply(pk, pk, out=s2)                   # EET = P Rn (P^2 + Rn^2 + P Rn) / den,
            np.multiply(rn, rn, out=den)                  # den = (P + Rn)(P^2 + Rn^2); 0 where den = 0
            s2 += den
            np.add(pk, rn, out=den)
            den *= s2
            np.multiply(pk, rn, out=num)
            s2 += num
            num *= s2
            eet = np.divide(num, den, out=num)
            positive = np.greater(den, 0.0, out=warm[k])  # warm[k] is not needed any more
            if not positive.all():
                not_pos = ~positive
                eet[not_pos] = np.where(np.isnan(den[not_pos]), np.nan, 0.0)
            np.add(eet, ep0, out=s2)                      # EET / PET = 2 EET / (EET + Ep0) in [0, 1]
            eet *= 2.0
            ratio = np.divide(eet, s2, out=eet)
            _clip(ratio, 0.0, 1.0)
            np.multiply(ratio, 0.5, out=w[k])             # W_eps = 0.5 + 0.5 EET / PET
            w[k] += 0.5
            np.isnan(pk, out=nan_in[k])
            nan_in[k] |= nan_t[k]
            np.less_equal(ep0, 0.0, out=frozen_mask[k])
            frozen_mask[k] &= ~nan_in[k]
        _fill_frozen(w, frozen_mask, nan_in, frozen)

        # per-pixel terms
        te1 = cst.t_eps1_c0 + cst.t_eps1_c1 * t_opt - cst.t_eps1_c2 * t_opt ** 2
        base = eps_max * te1                              # eps_max T_eps1 (0 in cold months)
        curve = cst.t_eps2_kw()
        half = 0.5 * _t_eps2_curve(t_opt, t_opt, **curve)
        low_rate, high_rate = curve["low_rate"], curve["high_rate"]
        e_low = math.exp(-low_rate * curve["low_shift"])    # e^-2 with Potter's constants
        e_high = math.exp(-high_rate * curve["high_shift"])  # e^-3
        one_exp = math.isclose(high_rate, 1.5 * low_rate, rel_tol=1e-12, abs_tol=0.0)
        g = low_rate / 2.0                                # 0.1 (exact: a division by 2)
        nmin, nmax, smin, smax = bounds
        span_n, span_s = nmax - nmin, smax - smin
        dfp = fpar_max - fpar_min
        fn, fs, tk, d, u, u2, te2 = r0, r1, r2, r3, r4, r5, r6
        for k in range(m):
            np.copyto(fn, ndvi[k])                        # float64
            np.copyto(tk, temp[k])
            # FPAR_SR from SR = (1 + NDVI) / (1 - NDVI), FPAR_NDVI, their weighted mean, each clipped
            np.subtract(1.0, fn, out=d)
            np.add(1.0, fn, out=fs)
            fs /= d
            fs -= smin
            fs /= span_s
            fs *= dfp
            fs += fpar_min
            _clip(fs, fpar_min, fpar_max)
            fn -= nmin
            fn /= span_n
            fn *= dfp
            fn += fpar_min
            _clip(fn, fpar_min, fpar_max)
            fn *= weight
            fs *= 1.0 - weight
            fn += fs
            _clip(fn, fpar_min, fpar_max)
            apar = np.multiply(sol[k], fn, out=fn)
            apar *= par_fraction
            np.subtract(tk, t_opt, out=d)
            if one_exp:                                   # T_eps2 from u = exp(g (T - T_opt))
                np.multiply(d, g, out=u)
                np.exp(u, out=u)
                np.multiply(u, u, out=u2)
                u *= u2
                u *= e_high
                u += 1.0                                  # 1 + e^-3 u^3
                np.multiply(u2, cst.t_eps2_scale, out=te2)
                u2 += e_low
                u2 *= u                                   # (u^2 + e^-2)(1 + e^-3 u^3)
                te2 /= u2
            else:                                         # scale / (1 + e_low e^(-r1 d)) / (1 + e_high e^(r2 d))
                np.multiply(d, -low_rate, out=u)
                np.exp(u, out=u)
                u *= e_low
                u += 1.0
                np.multiply(d, high_rate, out=u2)
                np.exp(u2, out=u2)
                u2 *= e_high
                u2 += 1.0
                u *= u2
                np.divide(cst.t_eps2_scale, u, out=te2)
            if half_rule:                                 # more than `above` over / `below` under T_opt
                outside = np.flatnonzero((d > above) | (d < -below))
                te2[outside] = half[outside]
            # eps = eps_max T_eps1 T_eps2 W_eps, with T_eps1 = 0 at or below the cold limit
            eps = np.multiply(base, te2, out=te2)
            if cold_limit is not None:
                cold = tk <= cold_limit
                if cold.any():
                    eps[cold] = 0.0 * np.abs(base[cold])  # +0 as T_eps1 = 0; NaN stays NaN (no T_opt)
            eps *= w[k]
            np.multiply(apar, eps, out=out[k])


def annual_npp(monthly, *, allow_missing=False):
    """Annual NPP (gC m-2 yr-1) = sum of the monthly NPP over axis 0.  NaN where any month is
    NaN, unless ``allow_missing`` (then the sum of the valid months; NaN if none)."""
    monthly = np.asarray(monthly, dtype=np.float64)
    if allow_missing:
        total = np.nansum(monthly, axis=0)
        return np.where(np.all(np.isnan(monthly), axis=0), np.nan, total).astype(np.float32)
    return np.sum(monthly, axis=0).astype(np.float32)


def check_months(counts: dict[str, int]) -> int:
    """Every month input must have the same number of months (bands / layers).

    ``counts`` e.g. ``{"NDVI": 12, "TEMPERATURE": 11, ...}``; returns the common count or raises
    ValueError naming the input(s) that differ from the others.
    """
    if not counts:
        raise ValueError("no month inputs given")
    for name, n in counts.items():
        if int(n) < 1:
            raise ValueError(f"{name} has no months: give one band (or layer) per month")
    values = [int(v) for v in counts.values()]
    if len(set(values)) == 1:
        return values[0]
    # the most common count is the reference; ties -> the first input's count
    ref = max(values, key=lambda v: (values.count(v), -values.index(v)))
    odd = [k for k, v in counts.items() if int(v) != ref]
    agree = [k for k, v in counts.items() if int(v) == ref]
    detail = ", ".join(f"{k} has {counts[k]}" for k in odd)
    raise ValueError(f"month counts differ: {detail} but {', '.join(agree)} "
                     f"{'has' if len(agree) == 1 else 'have'} {ref}: give the same months, in "
                     "the same order, for NDVI, TEMPERATURE, PRECIPITATION and SOLAR_RADIATION "
                     "(one band or layer per month)")


def _range_text(v):
    """"from -7619 to 6689": a range that stays readable with negative ends (not "-3.235-0.9")."""
    return f"from {np.min(v):.4g} to {np.max(v):.4g}"


#: NDVI screening (:func:`screen_ndvi`): when more than this share of the valid NDVI values of one month in one
#: block lie outside [-1, 1], the raster is a scaled product (e.g. MODIS NDVI x 10000), an error
NDVI_SCALED_SHARE = 0.5
#: otherwise those values are set to this: NDVI -1, no vegetation signal (FPAR_min from NDVI and from SR = 0)
NDVI_NO_SIGNAL = -1.0
_SCALED_HINT = ("multiply by 0.0001 for x 10000 products (e.g. MODIS MOD13 NDVI), by 0.01 for x 100 products")


def screen_ndvi(ndvi, labels, *, share=NDVI_SCALED_SHARE, parameter="NDVI"):
    """Screen one block of NDVI months ((m, n) float array, changed in place) for values outside [-1, 1].

    Landsat Collection 2 Level-2 surface reflectance is not clipped at 0: over dark water or in deep shadow the
    NIR (or red) reflectance can be slightly negative, and NDVI = (NIR - R) / (NIR + R) then falls outside
    [-1, 1] (e.g. R 0.009, NIR -0.00475 -> NDVI -3.24) at a few pixels.  Such a value carries no vegetation
    signal: it is set to :data:`NDVI_NO_SIGNAL` (-1, which gives FPAR_min from the NDVI and from the SR form,
    SR = 0) and counted.  A scaled NDVI (x 10000 or x 100) puts every vegetated or bare pixel far above 1: when
    more than ``share`` (half) of the valid (non-NaN) values of one month of the block are above 1, ValueError
    names the month (``labels[k]``, e.g. "NDVI month 4 (ndvi.tif, band 4)"), the count, the range and the fix.
    Only values above 1 count for that: the artefacts of dark water are mostly below -1 (NIR < 0 < red), so a
    block of open water is screened, not refused, however much of it is affected (values above 1 need a negative
    red, as in deep shadow: a few pixels).  Exactly half is screened, not refused.  Returns the number of values
    set to -1 per month ((m,) int64).
    """
    m = ndvi.shape[0]
    counts = np.zeros(m, dtype=np.int64)
    for k in range(m):
        row = ndvi[k]
        lo, hi = float(np.fmin.reduce(row)), float(np.fmax.reduce(row))   # NaN skipped (all NaN -> NaN)
        if not (lo < -1.0 or hi > 1.0):
            continue
        outside = (row < -1.0) | (row > 1.0)
        n_out = int(np.count_nonzero(outside))
        n_above = int(np.count_nonzero(row > 1.0))
        n_valid = row.size - int(np.count_nonzero(np.isnan(row)))
        if n_above > share * n_valid:
            raise ValueError(
                f"{parameter}: {labels[k]} has {n_above} of {n_valid} valid values of a block above 1, outside "
                f"[-1, 1] (values from {lo:.4g} to {hi:.4g}): that is a scaled NDVI, not -1..1: {_SCALED_HINT}. "
                "(A few values outside [-1, 1], from negative surface reflectance over dark water or in shadow, "
                "are accepted as NDVI -1; here most are above 1.)")
        row[outside] = NDVI_NO_SIGNAL
        counts[k] = n_out
    return counts


def ndvi_screen_warning(counts, labels, *, parameter="NDVI"):
    """The one warning of a run from the per-month totals of :func:`screen_ndvi` (None when nothing was set)."""
    parts = [f"{int(c)} in {label}" for c, label in zip(counts, labels) if c]
    if not parts:
        return None
    return (f"{parameter}: {int(np.sum(counts))} value(s) outside [-1, 1] were taken as NDVI -1 (no vegetation "
            f"signal, FPAR_min): {'; '.join(parts)}. Such values come from negative surface reflectance over dark "
            "water or in shadow (Landsat Collection 2 Level-2 is not clipped at 0). If there are many, check the "
            "NDVI rasters.")


def check_plausible(name, values, kind) -> list[str]:
    """Range checks of a month input; returns warnings (soft issues), raises ValueError (hard).

    ``kind``: ``"ndvi"`` (outside [-1, 1] -> error, the range as "from lo to hi"; the hint names a 10000
    scale; a raster's blocks go through :func:`screen_ndvi` first, which keeps a few such values), ``"temperature"``
    (deg C; any monthly mean above 60 -> error, saying Kelvin when the values lie in 200-340;
    below -90 -> error), ``"precipitation"`` (mm month-1; negative -> error; above 2000 -> warning),
    ``"radiation"`` (MJ m-2 month-1; negative -> error; a maximum below 50 looks like a daily
    total (MJ m-2 day-1), 50-300 like a W m-2 mean, above 1200 like kJ or Wh: warnings).
    NaN values are ignored.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return []
    lo, hi = float(np.min(v)), float(np.max(v))
    warnings: list[str] = []
    if kind == "ndvi":
        if lo < -1.0 or hi > 1.0:
            hint = (f" (it looks scaled: {_SCALED_HINT})" if hi <= 10000 and hi > 1.0 else "")
            raise ValueError(f"{name} has values {_range_text(v)} outside [-1, 1]: give NDVI{hint}")
    elif kind == "temperature":
        if hi > 60.0:
            if 200.0 <= lo and hi <= 340.0:
                raise ValueError(f"{name} looks like Kelvin (values {lo:.0f}-{hi:.0f}): give "
                                 "degrees Celsius (subtract 273.15)")
            raise ValueError(f"{name} has monthly means up to {hi:.4g}, implausible in degrees "
                             "Celsius (values in 0.1 C or Kelvin?): give degrees Celsius")
        if lo < -90.0:
            raise ValueError(f"{name} has monthly means down to {lo:.4g}, implausible in degrees "
                             "Celsius: give degrees Celsius")
    elif kind == "precipitation":
        if lo < 0:
            raise ValueError(f"{name} has negative values (down to {lo:.4g}): give monthly "
                             "precipitation totals in mm")
        if hi > 2000.0:
            warnings.append(f"{name} reaches {hi:.4g} mm in a month, more than nearly any station "
                            "records: check the unit (mm per month, not 0.1 mm)")
    elif kind == "radiation":
        if lo < 0:
            raise ValueError(f"{name} has negative values (down to {lo:.4g}): give monthly "
                             "total solar radiation in MJ/m2")
        if hi < 50.0:
            warnings.append(f"{name} is at most {hi:.4g}: that looks like a daily total "
                            "(MJ/m2/day); CASA needs the monthly total (MJ/m2/month = daily x "
                            "days in the month)")
        elif hi < 300.0:
            warnings.append(f"{name} is at most {hi:.4g} MJ/m2/month, low for monthly totals "
                            "(typically 300-800 in summer): if these are mean W/m2, multiply by "
                            "0.0864 x days in the month")
        elif hi > 1200.0:
            warnings.append(f"{name} reaches {hi:.4g}, more than the largest monthly totals "
                            "(about 1100 MJ/m2): check the unit (kJ/m2 or Wh/m2?)")
    else:
        raise ValueError(f"unknown plausibility kind {kind!r}")
    return warnings


def _group_codes(codes):
    """(classes, labels): the sorted distinct codes and each value's index among them (uint16
    when there are few classes, so that a stable argsort is a radix sort).  For codes within a
    span of 65536 values the labels come from the offset codes (no sort), else from np.unique."""
    lo, hi = int(codes.min()), int(codes.max())
    if hi - lo < 65536:
        offset = (codes - lo).astype(np.uint16)
        present = np.bincount(offset, minlength=hi - lo + 1) > 0
        classes = np.flatnonzero(present) + lo
        if classes.size == hi - lo + 1:
            return classes, offset
        index = np.cumsum(present) - 1
        return classes, index.astype(np.uint16)[offset]
    classes, labels = np.unique(codes, return_inverse=True)
    return classes, labels.astype(np.uint16) if classes.size <= 65536 else labels


class RunningClassStats:
    """Streaming per-class count / mean / sd / min / max of NPP over blocks.

    ``add(values, codes)`` once per block (NaN values are skipped), then ``rows(names)``.  The
    moments are merged with Chan et al.'s pairwise update (count, mean, sum of squared
    deviations per class), which gives the same result as a sum / sum-of-squares accumulator
    without its cancellation error and does not depend on the block size.

    The seed (changhe 2.2.2, 3.1) reports "average value, standard deviation, and coefficient
    of variation" without saying sample or population; ``ddof=0`` (population sd, over all
    pixels of the map) is the default here, ``ddof=1`` gives the sample sd.  CV = sd / mean x
    100 % (changhe: 110.18 / 290.13 = 37.98 %).
    """

    def __init__(self, ddof: int = 0):
        self.ddof = int(ddof)
        self._acc: dict[int, list[float]] = {}  # code -> [n, mean, M2, min, max]

    @staticmethod
    def _merge(acc, n_b, mean_b, m2_b, min_b, max_b):
        n_a, mean_a, m2_a, min_a, max_a = acc
        n = n_a + n_b
        delta = mean_b - mean_a
        acc[0] = n
        acc[1] = mean_a + delta * n_b / n
        acc[2] = m2_a + m2_b + delta * delta * n_a * n_b / n
        acc[3] = min(min_a, min_b)
        acc[4] = max(max_a, max_b)

    def add(self, values, codes) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        c = np.asarray(codes).ravel()
        if v.shape != c.shape:
            raise ValueError(f"values {v.shape} and codes {c.shape} differ in size")
        ok = np.isfinite(v)
        if c.dtype.kind == "f":
            ok &= np.isfinite(c)
        v, c = v[ok], c[ok].astype(np.int64)
        if v.size == 0:
            return
        uniq, inv = _group_codes(c)
        n = np.bincount(inv, minlength=uniq.size).astype(np.float64)
        s = np.bincount(inv, weights=v, minlength=uniq.size)
        mean = s / n
        m2 = np.bincount(inv, weights=(v - mean[inv]) ** 2, minlength=uniq.size)
        # min / max per class: values sorted by class (a stable radix sort of the small labels)
        order = np.argsort(inv, kind="stable")
        sorted_v = v[order]
        starts = np.zeros(uniq.size, dtype=np.intp)
        np.cumsum(n[:-1].astype(np.intp), out=starts[1:])
        mins = np.minimum.reduceat(sorted_v, starts)
        maxs = np.maximum.reduceat(sorted_v, starts)
        for k, code in enumerate(uniq):
            acc = self._acc.setdefault(int(code), [0.0, 0.0, 0.0, math.inf, -math.inf])
            self._merge(acc, n[k], mean[k], m2[k], mins[k], maxs[k])

    def merged(self, other: "RunningClassStats") -> "RunningClassStats":
        """A new accumulator holding this one's values and ``other``'s (the same pairwise update as :meth:`add`;
        a class of one side only is copied)."""
        out = RunningClassStats(self.ddof)
        out._acc = {code: list(acc) for code, acc in self._acc.items()}
        for code, acc in other._acc.items():
            if code in out._acc:
                self._merge(out._acc[code], *acc)
            else:
                out._acc[code] = list(acc)
        return out

    def _row(self, code, name, acc):
        n, mean, m2, lo, hi = acc
        sd = math.sqrt(m2 / (n - self.ddof)) if n - self.ddof > 0 else math.nan
        cv = sd / mean * 100.0 if mean != 0 and not math.isnan(sd) else math.nan
        return {"code": code, "name": name, "n": int(n), "mean": mean, "sd": sd, "cv": cv,
                "min": lo, "max": hi}

    def rows(self, names=None) -> list[dict]:
        """One dict per class (ascending code) and a last overall row (``code`` None, name
        "All"): ``code, name, n, mean, sd, cv`` (%), ``min, max``."""
        names = names or {}
        out = []
        total = [0.0, 0.0, 0.0, math.inf, -math.inf]
        for code in sorted(self._acc):
            acc = self._acc[code]
            out.append(self._row(code, names.get(code, f"class {code}"), acc))
            if total[0] == 0:
                total = list(acc)
            else:
                self._merge(total, *acc)
        out.append(self._row(None, "All", total) if total[0] > 0 else
                   {"code": None, "name": "All", "n": 0, "mean": math.nan, "sd": math.nan,
                    "cv": math.nan, "min": math.nan, "max": math.nan})
        return out


def class_statistics(npp, codes, names=None, *, ddof=0) -> list[dict]:
    """Per-class and overall n, mean, sd, cv (%), min, max of (annual) NPP in one go; see
    :class:`RunningClassStats` for the definitions and for block-wise use."""
    acc = RunningClassStats(ddof=ddof)
    acc.add(npp, codes)
    return acc.rows(names)


# -- the blocks of the CASA tool (raster/executor.BlockPass: load, compute, combine) -----------------------------
#: The month inputs of :func:`npp_monthly`, in its argument order.
MONTH_INPUTS = ("NDVI", "TEMPERATURE", "PRECIPITATION", "SOLAR_RADIATION")


def read_landcover(stack, ctx) -> dict:
    """``load`` of the land-cover pass: only the band "LC" of the stack (float32, nodata as NaN)."""
    return {"LC": stack.read("LC", ctx.window)}


def landcover_block(data, ctx, keep: bool = False):
    """The land-cover codes of one block (a frozenset of ints, the partial result); with ``keep`` the block itself
    as output "LC" (the land cover warped onto the NDVI grid, for the NPP pass)."""
    values = data["LC"]
    codes = frozenset(int(v) for v in np.unique(values[np.isfinite(values)]))
    return ({"LC": values} if keep else {}), codes


def union(a, b):
    """``combine`` of sets."""
    return a | b


def _month_rows(data, pid, months, n, values):
    """(months, n) float32 of month input ``pid``: its typed ``values`` repeated, or the bands "pid_k" of ``data``."""
    if values is not None:
        return np.repeat(values.astype(np.float32)[:, None], n, axis=1)
    out = np.empty((months, n), dtype=np.float32)
    for k in range(months):
        out[k] = data[f"{pid}_{k}"].ravel()
    return out


def npp_block(data, ctx, months: int, values: dict, kinds: dict, labels, table: dict, options: dict):
    """One block of the CASA tool. ``data``: {"NDVI_k" / "TEMPERATURE_k" / ...: month k of a raster input, "LC": the
    land cover} (float32, NaN = nodata); ``values``: {month input: typed monthly values or None (rasters)};
    ``kinds``: {raster climate input: :func:`check_plausible` kind}; ``labels``: the NDVI months' names;
    ``table``: :func:`parse_class_table`; ``options``: :func:`npp_monthly` keywords.

    The NDVI is screened (:func:`screen_ndvi`) and each raster climate input's range checked (hard errors raise
    here, naming the input). Returns {"OUTPUT": annual NPP (rows, cols), "OUTPUT_MONTHLY": (months, rows, cols)} and
    the partial result {"screened": NDVI values set to -1 per month, "ranges": {input: (min, max)}, "lc_valid":
    valid land-cover pixels, "stats": :class:`RunningClassStats` of the annual NPP} (:func:`combine_npp`)."""
    shape = ctx.window.shape
    n = shape[0] * shape[1]
    rows = {pid: _month_rows(data, pid, months, n, values.get(pid)) for pid in MONTH_INPUTS}
    screened = screen_ndvi(rows["NDVI"], labels)
    ranges = {}
    for pid, kind in kinds.items():
        # the checks depend on the range only; hard errors (kelvin, negative precipitation ...) stop the run here
        lo, hi = float(np.fmin.reduce(rows[pid], axis=None)), float(np.fmax.reduce(rows[pid], axis=None))
        if lo <= hi:
            check_plausible(pid, np.array([lo, hi]), kind)
            ranges[pid] = (lo, hi)
        else:
            ranges[pid] = (math.inf, -math.inf)
    lc_values = data["LC"].ravel()
    nodata = ~np.isfinite(lc_values)
    codes = np.where(nodata, 0, lc_values).astype(np.int64)
    lc_valid = int(nodata.size - np.count_nonzero(nodata))
    params = class_parameters(codes, table, nodata_mask=nodata)
    npp = npp_monthly(*(rows[pid] for pid in MONTH_INPUTS), params, **options)
    npp[:, nodata] = np.nan
    annual = npp[0].astype(np.float64)     # month by month: the same sum whatever the block shape
    for k in range(1, months):
        annual += npp[k]                   # NaN where any month is NaN
    annual = annual.astype(np.float32)
    ok = np.isfinite(annual)
    stats = RunningClassStats()
    stats.add(annual[ok], codes[ok])
    blocks = {"OUTPUT": annual.reshape(shape), "OUTPUT_MONTHLY": npp.reshape((months,) + shape)}
    return blocks, {"screened": screened, "ranges": ranges, "lc_valid": lc_valid, "stats": stats}


def combine_npp(a, b):
    """Two partial results of :func:`npp_block` together."""
    return {"screened": a["screened"] + b["screened"],
            "ranges": {pid: (min(lo, b["ranges"][pid][0]), max(hi, b["ranges"][pid][1]))
                       for pid, (lo, hi) in a["ranges"].items()},
            "lc_valid": a["lc_valid"] + b["lc_valid"],
            "stats": a["stats"].merged(b["stats"])}
