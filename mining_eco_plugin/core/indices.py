"""Spectral indices on surface reflectance (pure numpy).

Every formula here follows ``docs/INDICES.md`` (checked against the literature). Inputs are
reflectance arrays in 0..1 (float32 or float64, any shape, NaN = nodata), never raw DN:
products, ratios, SAI and SBCI change with scale.

``compute_index`` and every ``SpectralIndex.func`` return float32 arrays in which every
undefined pixel (zero denominator, square root of a negative, NaN input, overflow) is NaN:
never inf, never a warning or an exception.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np

ROLES = ("B", "G", "R", "NIR", "SWIR1", "SWIR2")
ROLE_ALIASES = {"BLUE": "B", "GREEN": "G", "RED": "R"}

# Tasseled-cap wetness coefficients, in ROLES order (B, G, R, NIR, SWIR1, SWIR2).
WET_COEFFICIENTS: dict[str, tuple[float, ...]] = {
    # Crist 1985 (TM reflectance). The ningdong seed prints -0.6706 for SWIR1: a typo.
    "TM": (0.0315, 0.2021, 0.3102, 0.1594, -0.6806, -0.6109),
    # Huang et al. 2002 (Landsat 7 ETM+, at-satellite / TOA reflectance).
    "ETM": (0.2626, 0.2141, 0.0926, 0.0656, -0.7629, -0.5388),
    # Baig et al. 2014 (Landsat 8 OLI, TOA reflectance).
    "OLI": (0.1511, 0.1973, 0.3283, 0.3407, -0.7117, -0.4559),
}
_WET_SET_ALIASES = {"ETM+": "ETM", "L5": "TM", "L7": "ETM", "L8": "OLI", "L9": "OLI"}


@dataclass(frozen=True)
class SpectralIndex:
    key: str
    title: str
    bands: tuple[str, ...]
    formula: str
    source: str
    func: Callable  # func(bands: Mapping[str, np.ndarray]) -> np.ndarray (float32, NaN = undefined)


# ---------------------------------------------------------------------------------------
# Raw formulas. ``b`` maps canonical roles to float32/float64 arrays; numpy errors are silenced
# and non-finite values turned into NaN by the wrapper (_safe).
# ---------------------------------------------------------------------------------------

def _nd(a, b):
    return (a - b) / (a + b)


def ndvi(b):
    """NDVI = (NIR-R)/(NIR+R). Rouse et al. 1974."""
    return _nd(b["NIR"], b["R"])


def dvi(b):
    """DVI = NIR-R. Difference vegetation index, Tucker 1979."""
    return b["NIR"] - b["R"]


def rvi(b):
    """RVI = NIR/R. Ratio vegetation index, Jordan 1969."""
    return b["NIR"] / b["R"]


def evi(b):
    """EVI = 2.5(NIR-R)/(NIR+6R-7.5B+1). Huete et al. 2002."""
    n, r = b["NIR"], b["R"]
    return 2.5 * (n - r) / (n + 6.0 * r - 7.5 * b["B"] + 1.0)


def arvi(b):
    """ARVI = (NIR-RB)/(NIR+RB), RB = R - gamma(B-R), gamma = 1. Kaufman & Tanre 1992.

    Not the simplified form that reduces to (NIR-B)/(NIR+B).
    """
    rb = 2.0 * b["R"] - b["B"]  # R - 1*(B - R)
    return _nd(b["NIR"], rb)


def wet(b, wet_set="OLI"):
    """Tasseled-cap wetness WET = c1 B + c2 G + c3 R + c4 NIR + c5 SWIR1 + c6 SWIR2.

    Coefficients (WET_COEFFICIENTS) by sensor:
    TM  Crist 1985:          0.0315B+0.2021G+0.3102R+0.1594NIR-0.6806SWIR1-0.6109SWIR2
        (the ningdong seed prints -0.6706 for SWIR1: a typo; Crist 1985 gives -0.6806);
    ETM Huang et al. 2002:   0.2626B+0.2141G+0.0926R+0.0656NIR-0.7629SWIR1-0.5388SWIR2
        (derived for TOA reflectance);
    OLI Baig et al. 2014:    0.1511B+0.1973G+0.3283R+0.3407NIR-0.7117SWIR1-0.4559SWIR2
        (derived for TOA reflectance).
    """
    coeffs = WET_COEFFICIENTS[_wet_key(wet_set)]
    out = coeffs[0] * b[ROLES[0]]
    for c, role in zip(coeffs[1:], ROLES[1:]):
        out += c * b[role]
    return out


def si_bs(b):
    """SI_BS = ((SWIR1+R)-(NIR+B))/((SWIR1+R)+(NIR+B)). Bare-soil index, ningdong seed eq. 10."""
    return _nd(b["SWIR1"] + b["R"], b["NIR"] + b["B"])


def ibi(b):
    """IBI = [2S1/(S1+NIR) - NIR/(NIR+R) - G/(G+S1)] / [2S1/(S1+NIR) + NIR/(NIR+R) + G/(G+S1)].

    Index-based built-up index, Xu 2008; ningdong seed eq. 11 (S1 = SWIR1).
    """
    s1, n = b["SWIR1"], b["NIR"]
    t1 = 2.0 * s1 / (s1 + n)
    t23 = n / (n + b["R"]) + b["G"] / (b["G"] + s1)
    return (t1 - t23) / (t1 + t23)


def ndbsi(b):
    """NDBSI = (SI_BS + IBI)/2. Dryness index, ningdong seed eq. 9."""
    return (si_bs(b) + ibi(b)) / 2.0


def si_br(b):
    """SI_BR = sqrt(B*R). The common salinity index "SI"."""
    return np.sqrt(b["B"] * b["R"])


def si_gr(b):
    """SI_GR = sqrt(G*R). The coastal seed's "SI"."""
    return np.sqrt(b["G"] * b["R"])


def si1(b):
    """SI1 = sqrt(G+R), kept as printed in the coastal seed.

    Probably a typo of sqrt(G*R) (available as SI_GR); kept for reproducibility.
    """
    return np.sqrt(b["G"] + b["R"])


def si2(b):
    """SI2 = sqrt(G^2+R^2+NIR^2). Douaoui et al. 2006."""
    g, r, n = b["G"], b["R"], b["NIR"]
    return np.sqrt(g * g + r * r + n * n)


def si3(b):
    """SI3 = sqrt(G^2+R^2). Douaoui et al. 2006."""
    g, r = b["G"], b["R"]
    return np.sqrt(g * g + r * r)


def si4(b):
    """SI4 = SWIR1/NIR. Coastal seed (unverified in the literature)."""
    return b["SWIR1"] / b["NIR"]


def s1(b):
    """S1 = B/R. Salinization index 1, Abbas & Khan 2007 (zhundong seed)."""
    return b["B"] / b["R"]


def s2(b):
    """S2 = (B-R)/(B+R). Salinization index 2, Abbas & Khan 2007 (zhundong seed)."""
    return _nd(b["B"], b["R"])


def s3(b):
    """S3 = G*R/B. Abbas & Khan 2007."""
    return b["G"] * b["R"] / b["B"]


def s5(b):
    """S5 = B*R/G. Salinization index 5, Abbas & Khan 2007 (zhundong seed)."""
    return b["B"] * b["R"] / b["G"]


def s6(b):
    """S6 = R*NIR/G. Abbas & Khan 2007."""
    return b["R"] * b["NIR"] / b["G"]


def s8(b):
    """S8 = (G+R)/2. Coastal seed."""
    return (b["G"] + b["R"]) / 2.0


def s9(b):
    """S9 = (G+R+NIR)/2. Coastal seed."""
    return (b["G"] + b["R"] + b["NIR"]) / 2.0


def sssi1(b):
    """SSSI1 = SWIR1-SWIR2. Soil salinity and sodicity index 1, Bannari et al. 2008."""
    return b["SWIR1"] - b["SWIR2"]


def sssi1_rn(b):
    """SSSI1_RN = R-NIR. The coastal seed's substitute for Bannari's SSSI1 (SWIR1-SWIR2)."""
    return b["R"] - b["NIR"]


def sssi2(b):
    """SSSI2 = (SWIR1*SWIR2-SWIR2^2)/SWIR1. Bannari et al. 2008."""
    s1_, s2_ = b["SWIR1"], b["SWIR2"]
    return (s1_ * s2_ - s2_ * s2_) / s1_


def sssi2_rn(b):
    """SSSI2_RN = (R*NIR-NIR^2)/R. The coastal seed's variant of Bannari's SSSI2."""
    r, n = b["R"], b["NIR"]
    return (r * n - n * n) / r


def ndsi(b):
    """NDSI = (R-NIR)/(R+NIR). Normalized difference salinity index."""
    return _nd(b["R"], b["NIR"])


def ndmi(b):
    """NDMI = (NIR-SWIR1)/(NIR+SWIR1). Gao 1996 (NDWI); the coastal seed calls it NDSI."""
    return _nd(b["NIR"], b["SWIR1"])


def crsi(b):
    """CRSI = sqrt((NIR*R-G*B)/(NIR*R+G*B)). Scudiero et al. 2014; NaN where the ratio < 0."""
    nr = b["NIR"] * b["R"]
    gb = b["G"] * b["B"]
    return np.sqrt(_nd(nr, gb))


def srsi(b):
    """SRSI = sqrt((NDVI-1)^2 + SI_BR^2), SI_BR = sqrt(B*R).

    Provisional: the seed leaves its "SI" unspecified; SI_BR is used.
    """
    d = ndvi(b) - 1.0
    si = si_br(b)  # keeps NaN where B*R < 0
    return np.sqrt(d * d + si * si)


def sai(b):
    """SAI = (G^2-NIR^2+SWIR1^2)/(G*NIR*SWIR1). Coastal seed (new index)."""
    g, n, s = b["G"], b["NIR"], b["SWIR1"]
    return (g * g - n * n + s * s) / (g * n * s)


def trsi(b):
    """TRSI = (SWIR1-NIR+B)/(SWIR1+NIR-B). Coastal seed (new index)."""
    s, n, bl = b["SWIR1"], b["NIR"], b["B"]
    return (s - n + bl) / (s + n - bl)


def sbci(b):
    """SBCI = SWIR1/sqrt(R^2+G^2). Coastal seed (new index)."""
    r, g = b["R"], b["G"]
    return b["SWIR1"] / np.sqrt(r * r + g * g)


def gosi(b):
    """GOSI = R-0.5*NIR-0.5*SWIR1. Coastal seed (new index)."""
    return b["R"] - 0.5 * b["NIR"] - 0.5 * b["SWIR1"]


def mndwi(b):
    """MNDWI = (G-SWIR1)/(G+SWIR1). Xu 2006; used to mask water before RSEI."""
    return _nd(b["G"], b["SWIR1"])


# ---------------------------------------------------------------------------------------
# Wrapping: band look-up, float32 (float32 input) or float64 compute, float32 NaN-clean output.
# ---------------------------------------------------------------------------------------

def _canonical(name: str) -> str:
    up = str(name).strip().upper()
    return ROLE_ALIASES.get(up, up)


def _wet_key(wet_set: str) -> str:
    key = str(wet_set).strip().upper()
    key = _WET_SET_ALIASES.get(key, key)
    if key not in WET_COEFFICIENTS:
        raise KeyError(
            f"unknown wetness coefficient set {wet_set!r}; valid sets: {', '.join(WET_COEFFICIENTS)}"
        )
    return key


def _prepare(bands: Mapping[str, np.ndarray], needed: tuple[str, ...]) -> dict[str, np.ndarray]:
    lookup = {_canonical(k): v for k, v in bands.items()}
    missing = [role for role in needed if role not in lookup]
    if missing:
        raise KeyError(
            f"missing band role(s) {', '.join(missing)}; given: {', '.join(lookup) or 'none'}"
        )
    # float32 blocks (the raster engine's) are computed in float32, twice as fast as float64 and as
    # precise as the float32 output; anything else (lists, ints, float64) in float64
    arrays = {role: np.asarray(lookup[role]) for role in needed}
    dtype = np.float32 if all(a.dtype == np.float32 for a in arrays.values()) else np.float64
    return {role: a.astype(dtype, copy=False) for role, a in arrays.items()}


def _finish(result) -> np.ndarray:
    out = np.asarray(result).astype(np.float32, copy=False)  # overflow -> inf (warning silenced by caller)
    np.copyto(out, np.nan, where=~np.isfinite(out))
    return out


def _safe(raw: Callable, needed: tuple[str, ...]) -> Callable:
    def func(bands: Mapping[str, np.ndarray], **kwargs) -> np.ndarray:
        b = _prepare(bands, needed)
        with np.errstate(all="ignore"):
            return _finish(raw(b, **kwargs))

    func.__name__ = raw.__name__
    func.__qualname__ = raw.__name__
    func.__doc__ = raw.__doc__
    return func


def _wet_fixed(wet_set: str) -> Callable:
    def raw(b):
        return wet(b, wet_set)

    raw.__name__ = f"wet_{wet_set.lower()}"
    raw.__doc__ = f"WET with the {wet_set} coefficients.\n\n" + (wet.__doc__ or "")
    return raw


_ALL = ROLES
_WET_FORMULA = "{:+}B{:+}G{:+}R{:+}NIR{:+}SWIR1{:+}SWIR2"
_WET_SOURCE = {"TM": "Crist 1985", "ETM": "Huang et al. 2002", "OLI": "Baig et al. 2014"}

# key, title, bands, formula, source, raw function
_TABLE = [
    ("NDVI", "Normalized difference vegetation index", ("R", "NIR"), "(NIR-R)/(NIR+R)",
     "Rouse et al. 1974", ndvi),
    ("DVI", "Difference vegetation index", ("R", "NIR"), "NIR-R", "Tucker 1979", dvi),
    ("RVI", "Ratio vegetation index", ("R", "NIR"), "NIR/R", "Jordan 1969", rvi),
    ("EVI", "Enhanced vegetation index", ("B", "R", "NIR"), "2.5(NIR-R)/(NIR+6R-7.5B+1)",
     "Huete et al. 2002", evi),
    ("ARVI", "Atmospherically resistant vegetation index", ("B", "R", "NIR"),
     "(NIR-RB)/(NIR+RB), RB = R-(B-R) (gamma = 1)", "Kaufman & Tanre 1992", arvi),
    ("WET", "Tasseled-cap wetness (sensor coefficient set)", _ALL,
     "sum of c_i * band_i, c = WET_COEFFICIENTS[wet_set] (TM / ETM / OLI)",
     "Crist 1985 (TM); Huang et al. 2002 (ETM+); Baig et al. 2014 (OLI)", wet),
]
_TABLE += [
    (f"WET_{s}", f"Tasseled-cap wetness, {s} coefficients", _ALL,
     _WET_FORMULA.format(*WET_COEFFICIENTS[s]), _WET_SOURCE[s], _wet_fixed(s))
    for s in ("TM", "ETM", "OLI")
]
_TABLE += [
    ("SI_BS", "Bare-soil index", ("B", "R", "NIR", "SWIR1"),
     "((SWIR1+R)-(NIR+B))/((SWIR1+R)+(NIR+B))", "Han et al. 2025, eq. 10", si_bs),
    ("IBI", "Index-based built-up index", ("G", "R", "NIR", "SWIR1"),
     "[2S1/(S1+NIR) - NIR/(NIR+R) - G/(G+S1)] / [2S1/(S1+NIR) + NIR/(NIR+R) + G/(G+S1)]",
     "Xu 2008; Han et al. 2025, eq. 11", ibi),
    ("NDBSI", "Normalized difference built-up and soil index (dryness)",
     ("B", "G", "R", "NIR", "SWIR1"), "(SI_BS + IBI)/2", "Han et al. 2025, eq. 9", ndbsi),
    ("SI_BR", "Salinity index sqrt(B*R)", ("B", "R"), "sqrt(B*R)", "common salinity index SI", si_br),
    ("SI_GR", "Salinity index sqrt(G*R)", ("G", "R"), "sqrt(G*R)", "Lan et al. 2025 (their SI)", si_gr),
    ("SI1", "Salinity index 1 (as printed)", ("G", "R"), "sqrt(G+R)",
     "Lan et al. 2025, as printed (likely a typo of sqrt(G*R) = SI_GR)", si1),
    ("SI2", "Salinity index 2", ("G", "R", "NIR"), "sqrt(G^2+R^2+NIR^2)", "Douaoui et al. 2006", si2),
    ("SI3", "Salinity index 3", ("G", "R"), "sqrt(G^2+R^2)", "Douaoui et al. 2006", si3),
    ("SI4", "Salinity index 4", ("NIR", "SWIR1"), "SWIR1/NIR", "Lan et al. 2025 (unverified)", si4),
    ("S1", "Salinization index 1", ("B", "R"), "B/R", "Abbas & Khan 2007", s1),
    ("S2", "Salinization index 2", ("B", "R"), "(B-R)/(B+R)", "Abbas & Khan 2007", s2),
    ("S3", "Salinization index 3", ("B", "G", "R"), "G*R/B", "Abbas & Khan 2007", s3),
    ("S5", "Salinization index 5", ("B", "G", "R"), "B*R/G", "Abbas & Khan 2007", s5),
    ("S6", "Salinization index 6", ("G", "R", "NIR"), "R*NIR/G", "Abbas & Khan 2007", s6),
    ("S8", "Salinity index S8", ("G", "R"), "(G+R)/2", "Lan et al. 2025", s8),
    ("S9", "Salinity index S9", ("G", "R", "NIR"), "(G+R+NIR)/2", "Lan et al. 2025", s9),
    ("SSSI1", "Soil salinity and sodicity index 1", ("SWIR1", "SWIR2"), "SWIR1-SWIR2",
     "Bannari et al. 2008", sssi1),
    ("SSSI1_RN", "SSSI1, red/NIR variant of Lan et al. 2025", ("R", "NIR"), "R-NIR",
     "Lan et al. 2025, variant of Bannari et al. 2008", sssi1_rn),
    ("SSSI2", "Soil salinity and sodicity index 2", ("SWIR1", "SWIR2"),
     "(SWIR1*SWIR2-SWIR2^2)/SWIR1", "Bannari et al. 2008", sssi2),
    ("SSSI2_RN", "SSSI2, red/NIR variant of Lan et al. 2025", ("R", "NIR"), "(R*NIR-NIR^2)/R",
     "Lan et al. 2025, variant of Bannari et al. 2008", sssi2_rn),
    ("NDSI", "Normalized difference salinity index", ("R", "NIR"), "(R-NIR)/(R+NIR)",
     "salinity NDSI", ndsi),
    ("NDMI", "Normalized difference moisture index", ("NIR", "SWIR1"), "(NIR-SWIR1)/(NIR+SWIR1)",
     "Gao 1996 (Lan et al. 2025 call it NDSI)", ndmi),
    ("CRSI", "Canopy response salinity index", ("B", "G", "R", "NIR"),
     "sqrt((NIR*R-G*B)/(NIR*R+G*B))", "Scudiero et al. 2014", crsi),
    ("SRSI", "Soil remote sensing salinity index (provisional)", ("B", "R", "NIR"),
     "sqrt((NDVI-1)^2 + SI_BR^2)", "provisional: Lan et al. 2025 (after Alhammadi & Glenn 2008) leave its SI "
     "unspecified", srsi),
    ("SAI", "Salinity index SAI", ("G", "NIR", "SWIR1"), "(G^2-NIR^2+SWIR1^2)/(G*NIR*SWIR1)",
     "Lan et al. 2025 (new)", sai),
    ("TRSI", "Salinity index TRSI", ("B", "NIR", "SWIR1"), "(SWIR1-NIR+B)/(SWIR1+NIR-B)",
     "Lan et al. 2025 (new)", trsi),
    ("SBCI", "Salinity index SBCI", ("G", "R", "SWIR1"), "SWIR1/sqrt(R^2+G^2)",
     "Lan et al. 2025 (new)", sbci),
    ("GOSI", "Salinity index GOSI", ("R", "NIR", "SWIR1"), "R-0.5*NIR-0.5*SWIR1",
     "Lan et al. 2025 (new)", gosi),
    ("MNDWI", "Modified normalized difference water index", ("G", "SWIR1"), "(G-SWIR1)/(G+SWIR1)",
     "Xu 2006", mndwi),
]

INDICES: dict[str, SpectralIndex] = {
    key: SpectralIndex(key, title, bands, formula, source, _safe(raw, bands))
    for key, title, bands, formula, source, raw in _TABLE
}


def compute_index(key: str, bands: Mapping[str, np.ndarray], wet_set: str = "OLI") -> np.ndarray:
    """Compute index ``key`` (case-insensitive) from reflectance ``bands`` (role -> array).

    Returns float32; undefined pixels are NaN. ``wet_set`` (TM / ETM / OLI) selects the
    coefficients of the sensor-dependent "WET" index and is ignored by the others.
    Unknown key or missing band role -> KeyError.
    """
    k = str(key).strip().upper()
    if k not in INDICES:
        raise KeyError(f"unknown index {key!r}; valid keys: {', '.join(INDICES)}")
    if k == "WET":
        return INDICES[k].func(bands, wet_set=_wet_key(wet_set))
    return INDICES[k].func(bands)


def bands_for(keys: Iterable[str]) -> tuple[str, ...]:
    """Union of the band roles the given index keys need, in ROLES order."""
    needed: set[str] = set()
    for key in keys:
        k = str(key).strip().upper()
        if k not in INDICES:
            raise KeyError(f"unknown index {key!r}; valid keys: {', '.join(INDICES)}")
        needed.update(INDICES[k].bands)
    return tuple(r for r in ROLES if r in needed)
