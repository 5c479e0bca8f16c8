"""RSEI x EG coupling overlay: three levels per index, codes ``EG_level * 10 + RSEI_level``.

Pure numpy: no file I/O, no qgis import.

Source: ningdong seed, section 5.1 and Figure 15 (results in section 4.3, Figure 13).  RSEI and
the EG index are each reclassified into three groups "1", "2", "3" and combined by a weighted
overlay ``EG x 10 + RSEI x 1`` into nine codes 11..33: 33 = both indices high (best ecological
condition, "HH"), 11 = both low (worst, "LL"), the others a moderate state.

The seed does not give the class breaks.  Defaults here:

* **equal thirds** of a value range: for RSEI its definition range [0, 1] (Xu 2013, eq. 13 of
  the seed), for EG - normalised and inverted, higher = better, as the seed tabulates it
  (section 4.3) - the minimum .. maximum of the EG raster over the pixels where both inputs are
  valid (the normalised EG spans only part of [0, 1] once averaged, e.g. Table 8's 0.54-0.56 for
  the whole area);
* or **terciles** (1/3 and 2/3 quantiles, ``numpy.quantile`` linear interpolation) of the valid
  pixels;
* or **user breaks** ``b1 < b2``.

A value ``v`` gets level ``1 + (v >= b1) + (v >= b2)``: a value equal to a break goes to the upper
level.  With ties (e.g. an EG raster from a one-pixel window has only a few distinct values) the
terciles can hold unequal shares.  Codes are ordered by the seed's weights (EG x 10 dominates):
11 < 12 < 13 < 21 < ... < 33; 0 = nodata.
"""
from __future__ import annotations

import math

import numpy as np

from .rsei import DEFAULT_SAMPLE_SEED, RunningMinMax, SampleCollector, sample_probability

__all__ = [
    "LEVEL_NAMES",
    "CODES",
    "code_label",
    "equal_breaks",
    "quantile_breaks",
    "check_breaks",
    "levels",
    "coupling_codes",
    "code_area_table",
    "statistics_block",
    "combine_statistics",
    "sample_of",
    "codes_block",
]

LEVEL_NAMES = {1: "low", 2: "medium", 3: "high"}
#: The nine codes of Figure 15, in the order of the weighted sum.
CODES = tuple(10 * e + r for e in (1, 2, 3) for r in (1, 2, 3))


def code_label(code: int) -> str:
    """Meaning of a coupling code, e.g. 31 -> "EG high / RSEI low"; 33 and 11 flagged best / worst."""
    e, r = divmod(int(code), 10)
    if e not in LEVEL_NAMES or r not in LEVEL_NAMES:
        raise ValueError(f"{code} is not a coupling code (11..33)")
    text = f"EG {LEVEL_NAMES[e]} / RSEI {LEVEL_NAMES[r]}"
    if code == 33:
        text += " (HH, best)"
    elif code == 11:
        text += " (LL, worst)"
    return text


def check_breaks(b1: float, b2: float, what: str = "breaks") -> tuple[float, float]:
    """``(b1, b2)`` as floats; ValueError unless both are finite and ``b1 < b2``."""
    b1, b2 = float(b1), float(b2)
    if not (math.isfinite(b1) and math.isfinite(b2)):
        raise ValueError(f"{what}: the breaks must be finite numbers, got {b1:g}, {b2:g}")
    if not b1 < b2:
        raise ValueError(f"{what}: the first break ({b1:g}) must be smaller than the second ({b2:g})")
    return b1, b2


def equal_breaks(lo: float, hi: float) -> tuple[float, float]:
    """Breaks of three equal intervals of ``[lo, hi]``: ``lo + (hi - lo)/3``, ``lo + 2 (hi - lo)/3``."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or not hi > lo:
        raise ValueError(f"cannot split [{lo:g}, {hi:g}] into three equal intervals (the values are constant "
                         "or missing)")
    step = (hi - lo) / 3.0
    return lo + step, lo + 2.0 * step


def quantile_breaks(values) -> tuple[float, float]:
    """Terciles (1/3 and 2/3 quantiles, linear interpolation) of the finite ``values``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise ValueError("no valid value to compute terciles from")
    b1, b2 = np.quantile(v, [1.0 / 3.0, 2.0 / 3.0])
    if not b2 > b1:
        raise ValueError(f"the terciles coincide ({b1:g}): too few distinct values for three quantile "
                         "classes; use equal thirds or user breaks")
    return float(b1), float(b2)


def levels(values: np.ndarray, breaks, higher_is_better: bool = True) -> np.ndarray:
    """Levels 1 (low) .. 3 (high) of ``values`` with ``breaks = (b1, b2)``: ``1 + (v >= b1) + (v >= b2)``;
    0 where NaN.  ``higher_is_better=False`` (e.g. raw EG grades, a negative indicator) flips the
    levels (4 - level) so that 3 is always the best ecological condition."""
    b1, b2 = check_breaks(*breaks)
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    lev = np.zeros(v.shape, dtype=np.uint8)
    vv = v[ok]
    lev[ok] = 1 + (vv >= b1).astype(np.uint8) + (vv >= b2).astype(np.uint8)
    if not higher_is_better:
        lev[ok] = 4 - lev[ok]
    return lev


def coupling_codes(eg_levels: np.ndarray, rsei_levels: np.ndarray) -> np.ndarray:
    """Figure 15: ``EG_level * 10 + RSEI_level`` (uint8, 11..33), 0 where either level is 0 (nodata)."""
    e = np.asarray(eg_levels, dtype=np.uint8)
    r = np.asarray(rsei_levels, dtype=np.uint8)
    code = (e * 10 + r).astype(np.uint8)
    code[(e == 0) | (r == 0)] = 0
    return code


def code_area_table(areas_m2, pixels) -> list[dict]:
    """Rows for the nine codes: code, EG level, RSEI level, meaning, pixels, area km2 and % of the coded
    area.  ``areas_m2`` / ``pixels`` are indexable by code (e.g. ``np.bincount(codes, minlength=34)``)."""
    total = float(sum(float(areas_m2[c]) for c in CODES))
    rows = []
    for c in CODES:
        a = float(areas_m2[c])
        rows.append({"code": c, "eg_level": c // 10, "rsei_level": c % 10, "meaning": code_label(c),
                     "pixels": int(pixels[c]), "area_km2": a / 1e6,
                     "percent": 100.0 * a / total if total > 0 else 0.0})
    return rows


# -- blocks of the coupling tool (raster/executor.BlockPass.compute and combine); data: {"RSEI": ..., "EG": ...} ----
def statistics_block(data, ctx, sample_size: int | None = None, seed: int = DEFAULT_SAMPLE_SEED):
    """No output, and the statistics of one block over the pixels where both RSEI and EG are valid: a
    RunningMinMax of (RSEI, EG) and, with ``sample_size``, the tercile sample of the block (pixels chosen by a
    fixed hash of their position, about ``sample_size`` over the whole grid ``ctx.grid``) as (global pixel
    indices, values (n, 2)), else None."""
    both = np.stack([data["RSEI"], data["EG"]], axis=2)
    valid = np.isfinite(both).all(axis=2)
    minmax = RunningMinMax(2)
    minmax.update(both[valid])
    if sample_size is None:
        return {}, (minmax, None)
    grid, w = ctx.grid, ctx.window
    sampler = SampleCollector(2, grid.width, sample_probability(grid.width * grid.height, sample_size), seed)
    sampler.add(w.yoff, w.xoff, np.where(valid[..., None], both, np.nan))
    return {}, (minmax, (sampler.indices(), sampler.array()))


def combine_statistics(a, b):
    """Two partial results of :func:`statistics_block` together (min / max merged, samples concatenated)."""
    minmax = RunningMinMax(2)
    minmax.merge(a[0])
    minmax.merge(b[0])
    if a[1] is None:
        return minmax, None
    return minmax, (np.concatenate([a[1][0], b[1][0]]), np.concatenate([a[1][1], b[1][1]], axis=0))


def sample_of(statistics) -> np.ndarray:
    """The tercile sample of combined statistics, (n, 2) rows sorted by global pixel index."""
    index, values = statistics[1]
    return values[np.argsort(index, kind="stable")]


def codes_block(data, ctx, breaks: dict, eg_higher_is_better: bool = True):
    """The coupling codes of one block (``"OUTPUT"``) and (pixels, area m2) per code (0..33) as the partial
    result; ``breaks``: {"RSEI": (b1, b2), "EG": (b1, b2)}."""
    codes = coupling_codes(levels(data["EG"], breaks["EG"], eg_higher_is_better), levels(data["RSEI"], breaks["RSEI"]))
    pixels = np.bincount(codes.ravel(), minlength=34)
    areas = np.bincount(codes.ravel(), weights=np.broadcast_to(ctx.row_areas_m2(), codes.shape).ravel(), minlength=34)
    return {"OUTPUT": codes}, (pixels, areas)
