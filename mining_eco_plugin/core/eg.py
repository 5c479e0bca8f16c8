"""Ecological grade (EG) index from land use: grade lookup, area-weighted mean (eq. 14), moving
window, normalisation and inversion.

Pure numpy / scipy: no file I/O, no qgis import.

Source: ningdong seed, section 3.2 (eq. 14, Table 3) and section 4.3 (Tables 8-9).

Every land-use class ``j`` gets an ecological grade ``EG_j`` (Table 3: 1 best .. 7 worst)::

    water body 1, wetland 1, forest 2, shrubland 3, grassland 4,
    cultivated land 5, construction land 6, barren land 7

and the EG index of a region ``i`` is the area-weighted mean grade (eq. 14)::

    EG_i = sum_j EG_ij * A_ij / sum_j A_ij

``EG`` is a negative indicator (lower = better).  Section 4.3 tabulates the EG "normalised and
inverted, higher = better" with values 0.540-0.560 for the whole study area, one value per year.
The seed does not print the normalisation.  Our reading::

    EG_norm = (EG_worst - EG) / (EG_worst - EG_best) = (7 - EG) / (7 - 1)

i.e. a min-max normalisation over the *grade scale* (best and worst grade of the table), not
over the data: a single whole-area value per year (Tables 8-9) can only be normalised against a
fixed scale (the data min-max of one number is undefined), and a fixed scale keeps the years
comparable.  Table 8's 0.54-0.56 then means EG = 3.64-3.76, a grassland-dominated area (grade 4)
with some forest / water on one side and cropland, mines and barren land on the other, which fits
the seed's description of Ningdong (section 2.1).  (The other plausible reading, 1 - EG/7, would
give EG = 3.1, i.e. a wetter / more forested area than the seed describes; it is not used.)

CLCD codes (Yang & Huang 2021: 1 cropland, 2 forest, 3 shrub, 4 grassland, 5 water, 6 snow/ice,
7 barren, 8 impervious, 9 wetland) are mapped to Table 3 in :data:`CLCD_GRADE_TABLE`.  Table 3 has
no snow / ice class; we give it grade 1 like water: China's land-use classification GB/T
21010-2017 puts "glaciers and permanent snow" (1110) under water areas (class 11), as does the
CAS land-use classification (class 44 "permanent glacier and snow" under 4 water).  Ningdong has
no snow / ice, so the seed's numbers are unaffected; users in alpine areas may prefer 7 (no
vegetation) - the table is a parameter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "NINGDONG_TABLE3",
    "CLCD_GRADE_TABLE",
    "GradeTable",
    "MissingCodesError",
    "grade_table",
    "ClassAreas",
    "eg_from_areas",
    "normalise_inverted",
    "window_sums",
    "moving_window_eg",
    "class_areas_block",
    "combine_class_areas",
    "combine_zone_areas",
    "window_block",
]

#: ningdong Table 3: (land use and land cover type, ecological grade).
NINGDONG_TABLE3 = (
    ("Water body", 1), ("Wetland", 1), ("Forest", 2), ("Shrubland", 3), ("Grassland", 4),
    ("Cultivated land", 5), ("Construction land", 6), ("Barren land", 7),
)

#: (CLCD code, grade, name): Table 3 mapped onto the CLCD legend (snow / ice: see module docstring).
CLCD_GRADE_TABLE = (
    (1, 5, "Cropland"),
    (2, 2, "Forest"),
    (3, 3, "Shrub"),
    (4, 4, "Grassland"),
    (5, 1, "Water"),
    (6, 1, "Snow/Ice"),
    (7, 7, "Barren"),
    (8, 6, "Impervious"),
    (9, 1, "Wetland"),
)


#: land-use codes a table may hold (a 32-bit raster's range) and the largest grade (Table 3 uses 1 .. 7)
MAX_CODE = 2 ** 31 - 1
MAX_GRADE = 1e6


class MissingCodesError(ValueError):
    """Land-use codes that occur in the raster but have no row in the grade table."""

    def __init__(self, codes):
        from .checks import listing
        self.codes = sorted(int(c) for c in codes)
        super().__init__(f"land-use code(s) {listing(self.codes, noun='codes')} occur in the raster but have no "
                         "row in the grade table")


@dataclass(frozen=True)
class GradeTable:
    """Land-use code -> ecological grade.  A NaN grade excludes the code (treated as nodata)."""
    codes: np.ndarray    # int64, sorted, unique
    grades: np.ndarray   # float64, NaN = excluded
    names: tuple

    @property
    def best(self) -> float:
        """Best (lowest) grade of the table: the upper end (1.0) of the normalised EG."""
        return float(np.nanmin(self.grades))

    @property
    def worst(self) -> float:
        """Worst (highest) grade of the table: 0.0 of the normalised EG."""
        return float(np.nanmax(self.grades))

    @property
    def grade_values(self) -> np.ndarray:
        """Distinct grades of the table, sorted (columns of the area-per-grade tables)."""
        g = self.grades[np.isfinite(self.grades)]
        return np.unique(g)

    def missing(self, codes) -> list[int]:
        """Codes among ``codes`` that have no row in the table (sorted)."""
        c = np.unique(np.asarray(codes, dtype=np.int64))
        return [int(x) for x in c[~np.isin(c, self.codes)]]

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        """Grades of integer ``codes`` (any shape) as float64; MissingCodesError for unknown codes."""
        c = np.asarray(codes, dtype=np.int64)
        idx = np.searchsorted(self.codes, c)
        idx_c = np.clip(idx, 0, self.codes.size - 1)
        known = self.codes[idx_c] == c
        if not known.all():
            raise MissingCodesError(np.unique(c[~known]))
        return self.grades[idx_c]

    def grades_of(self, classes: np.ndarray) -> np.ndarray:
        """Grades of a float block of class codes with NaN = nodata; NaN where nodata or excluded."""
        cls = np.asarray(classes)
        out = np.full(cls.shape, np.nan)
        valid = np.isfinite(cls)
        if valid.any():
            out[valid] = self.lookup(cls[valid])
        return out


def grade_table(rows) -> GradeTable:
    """A :class:`GradeTable` from rows ``(code, grade[, name])``.

    Codes must be integers and unique; a grade must be a number > 0 or empty / None (the code is
    then excluded like nodata, e.g. a fill value 0).  At least one row must have a grade.
    ValueError with the offending row otherwise.
    """
    codes, grades, names = [], [], []
    for i, row in enumerate(rows, start=1):
        row = tuple(row)
        if len(row) < 2:
            raise ValueError(f"row {i} {row!r}: give code and grade")
        code_text, grade_text = row[0], row[1]
        name = str(row[2]).strip() if len(row) > 2 and row[2] is not None else ""
        try:
            code_f = float(str(code_text).strip())
        except ValueError:
            raise ValueError(f"row {i}: code {code_text!r} is not a number") from None
        if not math.isfinite(code_f) or code_f != int(code_f):
            raise ValueError(f"row {i}: code {code_text!r} is not an integer land-use code")
        if abs(code_f) > MAX_CODE:
            raise ValueError(f"row {i}: code {code_text!r} is beyond the codes a land-use raster can hold "
                             f"(-{MAX_CODE} .. {MAX_CODE})")
        text = "" if grade_text is None else str(grade_text).strip()
        if text == "" or text.lower() in ("nan", "none", "nodata", "null"):
            g = math.nan
        else:
            try:
                g = float(text)
            except ValueError:
                raise ValueError(f"row {i} (code {int(code_f)}): grade {grade_text!r} is not a number") from None
            if not math.isfinite(g) or g <= 0 or g > MAX_GRADE:
                raise ValueError(f"row {i} (code {int(code_f)}): grade {grade_text!r} must be a number > 0 and "
                                 f"<= {MAX_GRADE:g} (Table 3: 1 best .. 7 worst)")
        codes.append(int(code_f))
        grades.append(g)
        names.append(name)
    if not codes:
        raise ValueError("the grade table is empty")
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        from .checks import listing
        raise ValueError(f"code(s) {listing(dup, noun='codes')} appear more than once")
    if all(math.isnan(g) for g in grades):
        raise ValueError("no row has a grade")
    order = np.argsort(codes, kind="stable")
    return GradeTable(np.asarray(codes, dtype=np.int64)[order], np.asarray(grades, dtype=np.float64)[order],
                      tuple(names[i] for i in order))


class ClassAreas:
    """Area (and pixel count) per land-use code accumulated over blocks (exact, block independent
    for integer-valued pixel areas; otherwise sums in block order)."""

    def __init__(self):
        self.area = {}
        self.pixels = {}

    def add(self, classes: np.ndarray, areas: np.ndarray, mask: np.ndarray | None = None):
        """Add a block of float codes (NaN = nodata) with per-pixel ``areas`` (broadcastable);
        ``mask`` (bool) restricts to a zone."""
        cls = np.asarray(classes)
        a = np.broadcast_to(np.asarray(areas, dtype=np.float64), cls.shape)
        keep = np.isfinite(cls)
        if mask is not None:
            keep &= mask
        if not keep.any():
            return
        c = cls[keep].astype(np.int64)
        u, inv = np.unique(c, return_inverse=True)
        sums = np.bincount(inv, weights=a[keep], minlength=u.size)
        counts = np.bincount(inv, minlength=u.size)
        for code, s, n in zip(u.tolist(), sums.tolist(), counts.tolist()):
            self.area[code] = self.area.get(code, 0.0) + s
            self.pixels[code] = self.pixels.get(code, 0) + n

    @property
    def codes(self) -> list[int]:
        return sorted(self.area)

    def graded(self, table: GradeTable):
        """(grades, areas m2) of the codes seen that have a grade (excluded codes dropped).
        MissingCodesError if a code seen has no row in ``table``."""
        codes = self.codes
        if not codes:
            return np.zeros(0), np.zeros(0)
        g = table.lookup(np.asarray(codes))
        a = np.asarray([self.area[c] for c in codes])
        keep = np.isfinite(g)
        return g[keep], a[keep]

    def area_per_grade(self, table: GradeTable) -> dict:
        """{grade value: area m2} for every grade of the table (0 where absent)."""
        out = {float(v): 0.0 for v in table.grade_values}
        for g, a in zip(*self.graded(table)):
            out[float(g)] += float(a)
        return out


def eg_from_areas(grades, areas) -> float:
    """EG index of one region, ningdong eq. 14: ``sum_j EG_j A_j / sum_j A_j``; NaN if no area."""
    g = np.asarray(grades, dtype=np.float64)
    a = np.asarray(areas, dtype=np.float64)
    total = a.sum()
    if not total > 0:
        return math.nan
    return float((g * a).sum() / total)


def normalise_inverted(eg, best: float = 1.0, worst: float = 7.0):
    """Normalised, inverted EG (higher = better) as ningdong Tables 8-9:
    ``(worst - EG) / (worst - best)``, 1 = everything of the best grade, 0 = everything of the worst
    (our reading of section 4.3, see the module docstring).  Works on scalars and arrays (NaN kept)."""
    if not worst > best:
        raise ValueError(f"the worst grade ({worst:g}) must be larger than the best grade ({best:g})")
    res = (worst - np.asarray(eg, dtype=np.float64)) / (worst - best)
    return float(res) if np.ndim(eg) == 0 else res


def window_sums(values: np.ndarray, size: int) -> np.ndarray:
    """Sum over a ``size`` x ``size`` window centred on each pixel of a padded block.

    ``values`` has the block plus a halo of ``size // 2`` on every side (NaN-free: callers put 0 for
    nodata); returns the sums for the inner block, shape ``(rows - 2 pad, cols - 2 pad)``.  Separable
    direct sums (``scipy.ndimage.correlate1d`` with a kernel of ones along each axis): every output
    adds the same values in the same order relative to its pixel, so the result is identical to the
    last bit whatever the block split (unlike running / cumulative sums).
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be an odd number >= 1, got {size}")
    pad = size // 2
    v = np.asarray(values, dtype=np.float64)
    if size == 1:
        return v.copy()
    k = np.ones(size)
    s = ndimage.correlate1d(v, k, axis=1, mode="constant", cval=0.0)
    s = ndimage.correlate1d(s, k, axis=0, mode="constant", cval=0.0)
    return s[pad:v.shape[0] - pad, pad:v.shape[1] - pad]


def moving_window_eg(grades_padded: np.ndarray, areas_padded, size: int) -> np.ndarray:
    """EG of eq. 14 with the region = a ``size`` x ``size`` window around each pixel.

    ``grades_padded``: grades of a block with a halo of ``size // 2`` (NaN = nodata / outside the
    raster); ``areas_padded``: pixel areas (broadcastable, e.g. one value per row for geographic
    CRS).  ``EG(p) = sum_{q in W(p)} g_q a_q / sum_{q in W(p), valid} a_q``: nodata pixels are left
    out of both sums.  The result is NaN where the centre pixel itself is nodata (the output keeps
    the land-use footprint) and where the window has no valid pixel.
    """
    g = np.asarray(grades_padded, dtype=np.float64)
    a = np.broadcast_to(np.asarray(areas_padded, dtype=np.float64), g.shape)
    valid = np.isfinite(g)
    num = window_sums(np.where(valid, g * a, 0.0), size)
    den = window_sums(np.where(valid, a, 0.0), size)
    pad = size // 2
    centre = valid[pad:g.shape[0] - pad, pad:g.shape[1] - pad]
    out = np.full(num.shape, np.nan)
    ok = centre & (den > 0)
    out[ok] = num[ok] / den[ok]
    return out


# -- blocks of the EG index tool (raster/executor.BlockPass.compute and combine) ---------------------------------
def class_areas_block(data, ctx, key="LU"):
    """No output, and the :class:`ClassAreas` of one block of the land use ``data[key]`` (float codes, NaN =
    nodata) weighted by the block's pixel areas (``ctx.row_areas_m2()``)."""
    areas = ClassAreas()
    areas.add(data[key], ctx.row_areas_m2())
    return {}, areas


def combine_class_areas(a: ClassAreas, b: ClassAreas) -> ClassAreas:
    """Two :class:`ClassAreas` together (a new one; area and pixels per code summed)."""
    out = ClassAreas()
    for src in (a, b):
        for code, s in src.area.items():
            out.area[code] = out.area.get(code, 0.0) + s
            out.pixels[code] = out.pixels.get(code, 0) + src.pixels[code]
    return out


def combine_zone_areas(a, b):
    """Two lists of per-zone :class:`ClassAreas` together, zone by zone."""
    return [combine_class_areas(x, y) for x, y in zip(a, b)]


def window_block(data, ctx, table: GradeTable, size: int, outputs=(), zones=None, key="LU"):
    """One block of the moving-window pass: the per-pixel EG (``"OUTPUT"``) and its normalised form
    (``"OUTPUT_NORMALISED"``) when in ``outputs``, and the :class:`ClassAreas` of each zone of ``zones`` (an
    object with ``names`` and ``masks(window)`` yielding (zone index, bool mask), e.g. raster.zones.ZoneMasks) as
    the partial result (None without zones). ``data[key]``: the land use grown by a halo of ``size // 2``."""
    padded, pad, w = data[key], size // 2, ctx.window
    blocks = {}
    if outputs:
        halo = type(w)(w.xoff - pad, w.yoff - pad, w.xsize + 2 * pad, w.ysize + 2 * pad)
        eg = moving_window_eg(table.grades_of(padded), ctx.grid.row_areas_m2(halo), size)
        if "OUTPUT" in outputs:
            blocks["OUTPUT"] = eg
        if "OUTPUT_NORMALISED" in outputs:
            blocks["OUTPUT_NORMALISED"] = normalise_inverted(eg, table.best, table.worst)
    if zones is None:
        return blocks, None
    classes, row_areas = padded[pad:pad + w.ysize, pad:pad + w.xsize], ctx.row_areas_m2()
    areas = [ClassAreas() for _ in zones.names]
    for i, mask in zones.masks(w):
        areas[i].add(classes, row_areas, mask)
    return blocks, areas
