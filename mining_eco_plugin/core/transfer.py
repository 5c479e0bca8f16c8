"""Transfer (transition) matrices between two class maps, change codes, and class areas over dates.

Pure numpy: no file I/O, no qgis import. The algorithms walk the rasters block by block and
feed each block here; every total is a sum over blocks of integer pixel counts (and, for a
geographic CRS, of per-row cell areas), so the results do not depend on the block size.

Sources
-------
* Transfer matrix (land-use transfer matrix; zhundong seed section 2.3, Figure 4; ningdong
  section 4.2): ``A[i, j]`` = area that was class *i* at date 1 and is class *j* at date 2::

      area(i at date 1) = sum_j A[i, j]          (row sum)
      area(j at date 2) = sum_i A[i, j]          (column sum)
      transfer-out(i)   = sum_j A[i, j] - A[i, i]
      transfer-in(i)    = sum_j A[j, i] - A[i, i]
      net change(i)     = transfer-in(i) - transfer-out(i) = area(i, date 2) - area(i, date 1)

  The zhundong seed reports transfer-in / transfer-out / net areas in km2. Its wording is
  self-contradictory once ("non-salinized land showed an obvious expansion trend, with a net
  loss of 224.7 km2"): here the sign is fixed by the formula above, net > 0 is a gain.
* Change codes (Trends.Earth convention, STYLE.md): every valid pixel gets
  ``from * 10**k + to`` with ``k`` the number of decimal digits of the largest class code, so
  the code reads as the two class codes side by side (k = 1: 5 -> 1 is 51, 3 -> 3 is 33).
  Unchanged pixels are coded the same way (``i * 10**k + i``), not with their plain class code,
  so that one legend covers every pixel.
* Class areas over dates (ningdong Tables 6-7: RSEI class areas per year; zhundong 2.3:
  shares per salinity grade): area and share per class per date, and the relative change
  ``100 (A_t - A_s) / A_s`` between consecutive dates and from the first to the last date.
  The ningdong text says the moderate grade dominates (> 60 %) in most years, but its own
  Table 6 gives the poor grade 73 % (2463.928 of 3370.800 km2) in 2000 and moderate at most
  ~48 % in any tabulated year: the tables, not the sentence, are what this module reproduces.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "UNITS",
    "MAX_CLASSES",
    "MAX_CODE_DIGITS",
    "parse_class_names",
    "date_label_from_name",
    "code_digits",
    "crosstab_block",
    "TooManyClasses",
    "TransferAccumulator",
    "ClassAreaAccumulator",
    "transfer_summary",
    "in_units",
    "change_codes",
    "change_dtype",
    "transition_legend",
    "class_area_change",
    "transfer_block",
    "combine_transfer",
    "class_area_block",
    "combine_class_area",
    "change_block",
]

#: Units of the area tables: index = position in the UNITS enum of the algorithms.
UNITS = ("km2", "ha", "pixels", "% of total")
#: More distinct codes than this in a "class" raster means it is not a class map (a DEM, a count ...).
MAX_CLASSES = 255
#: Change codes from * 10**k + to must fit int32: k <= 4 (codes up to 9999).
MAX_CODE_DIGITS = 4


# --------------------------------------------------------------------------- names and labels
def parse_class_names(text: str) -> dict[int, str]:
    """``"1=Worst,2=Poor,3=Moderate"`` -> ``{1: "Worst", 2: "Poor", 3: "Moderate"}``.

    Entries are separated by commas, semicolons or new lines; each is ``code=name`` with an
    integer code. ValueError (worded for the user) on a malformed entry or a repeated code.
    """
    names: dict[int, str] = {}
    for entry in re.split(r"[,;\n]", text or ""):
        entry = entry.strip()
        if not entry:
            continue
        code, sep, name = entry.partition("=")
        code, name = code.strip(), name.strip()
        if not sep or not name or not re.fullmatch(r"[+-]?\d+", code):
            raise ValueError(f"{entry!r} is not of the form code=name (e.g. 1=Worst,2=Poor)")
        c = int(code)
        if c in names:
            raise ValueError(f"code {c} is given twice ({names[c]!r} and {name!r})")
        names[c] = name
    return names


_DATE8 = re.compile(r"(?<!\d)((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
_DATE_SEP = re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.](0[1-9]|1[0-2])[-_.](0[1-9]|[12]\d|3[01])(?!\d)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


def date_label_from_name(name: str) -> str | None:
    """The year a layer name refers to, or None.

    Looks for, in this order, a date YYYYMMDD (the acquisition date of a Landsat product id such
    as ``LE07_L1TP_195025_20010730_20170204_01_T1``: the first date is the acquisition), a date
    YYYY-MM-DD (or with _ / .), then a lone 4-digit year 1900-2099 (``salinity_2010``,
    ``rsei2024_grades``). Digits that run on into longer numbers are not a year.
    """
    for pattern in (_DATE8, _DATE_SEP, _YEAR):
        m = pattern.search(name or "")
        if m:
            return m.group(1)
    return None


def code_digits(max_code: int) -> int:
    """Number of decimal digits of the largest class code (``k`` of ``from * 10**k + to``); >= 1."""
    return len(str(abs(int(max_code)))) if max_code else 1


# --------------------------------------------------------------------------- cross-tabulation
def crosstab_block(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None,
                   weights: np.ndarray | None = None):
    """Cross-tabulation of one block: the (from, to) pairs that occur, their pixel counts and
    their summed ``weights`` (cell areas; None = no area sums).

    ``a``, ``b``: integer class codes of the same shape; ``valid``: pixels to count (both dates
    valid). Counting is ``np.bincount`` over the combined code ``(a - a_min) * n_b + (b - b_min)``
    (block-local offsets, so any integer codes work); when the code range is too sparse for a
    dense bincount the pairs are found with ``np.unique`` instead. Returns
    ``(from_codes, to_codes, counts int64, sums float64 or None)``, pairs in ascending order.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    valid = np.ones(a.shape, bool) if valid is None else np.asarray(valid, bool)
    a, b = a[valid], b[valid]
    if weights is not None:
        weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), valid.shape)[valid]
    a = a.astype(np.int64, copy=False)
    b = b.astype(np.int64, copy=False)
    empty = np.zeros(0, dtype=np.int64)
    if a.size == 0:
        return empty, empty, empty, (np.zeros(0) if weights is not None else None)
    w = weights
    a0, a1, b0, b1 = int(a.min()), int(a.max()), int(b.min()), int(b.max())
    na, nb = a1 - a0 + 1, b1 - b0 + 1
    if na * nb <= max(1 << 16, 4 * a.size):
        combined = (a - a0) * nb + (b - b0)
        counts = np.bincount(combined, minlength=na * nb)
        present = np.flatnonzero(counts)
        sums = np.bincount(combined, weights=w, minlength=na * nb)[present] if w is not None else None
        return present // nb + a0, present % nb + b0, counts[present], sums
    pairs, inverse = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, minlength=len(pairs))
    sums = np.bincount(inverse, weights=w, minlength=len(pairs)) if w is not None else None
    return pairs[:, 0], pairs[:, 1], counts, sums


class TooManyClasses(ValueError):
    """More distinct codes than a class raster may hold (the raster is not a class map)."""


@dataclass
class TransferAccumulator:
    """Pixel counts and areas per (from, to) pair, accumulated over blocks.

    ``add(a, b, a_valid, b_valid, cell_area)``: ``cell_area`` is the area (m2) of each pixel of
    the block, broadcastable to its shape (one value per row for a geographic CRS). Pixels with
    nodata at either date are left out of the matrix and counted in ``excluded``
    (``"date 1 only"``, ``"date 2 only"``, ``"both dates"``: pixels; ``..._m2``: their area).
    ValueError when more than ``max_classes`` distinct codes appear (not a class raster).
    """
    max_classes: int = MAX_CLASSES
    pairs: dict = field(default_factory=dict)       # (from, to) -> [pixels, area m2]
    excluded: dict = field(default_factory=lambda: {"date 1 only": 0, "date 2 only": 0, "both dates": 0})
    excluded_m2: dict = field(default_factory=lambda: {"date 1 only": 0.0, "date 2 only": 0.0, "both dates": 0.0})
    _from: set = field(default_factory=set)
    _to: set = field(default_factory=set)

    def add(self, a, b, a_valid=None, b_valid=None, cell_area=1.0):
        a, b = np.asarray(a), np.asarray(b)
        a_valid = np.ones(a.shape, bool) if a_valid is None else np.asarray(a_valid, bool)
        b_valid = np.ones(b.shape, bool) if b_valid is None else np.asarray(b_valid, bool)
        area = np.broadcast_to(np.asarray(cell_area, dtype=np.float64), a.shape)
        for key, mask in (("date 1 only", ~a_valid & b_valid), ("date 2 only", a_valid & ~b_valid),
                          ("both dates", ~a_valid & ~b_valid)):
            self.excluded[key] += int(np.count_nonzero(mask))
            self.excluded_m2[key] += float(area[mask].sum())
        valid = a_valid & b_valid
        f, t, counts, sums = crosstab_block(a, b, valid, area)
        for i in range(len(f)):
            key = (int(f[i]), int(t[i]))
            entry = self.pairs.get(key)
            if entry is None:
                self.pairs[key] = [int(counts[i]), float(sums[i])]
            else:
                entry[0] += int(counts[i])
                entry[1] += float(sums[i])
        self._from.update(int(x) for x in np.unique(f))
        self._to.update(int(x) for x in np.unique(t))
        self.check_classes()

    def check_classes(self):
        """TooManyClasses when either date holds more than ``max_classes`` distinct codes."""
        for which, codes in (("date 1", self._from), ("date 2", self._to)):
            if len(codes) > self.max_classes:
                raise TooManyClasses(f"{which} holds more than {self.max_classes} distinct codes: it does not look "
                                     "like a class raster (reclassify it into classes first)")

    @property
    def from_codes(self):
        return sorted(self._from)

    @property
    def to_codes(self):
        return sorted(self._to)

    def codes(self, extra=()):
        """Every class of either date (plus ``extra``, e.g. the codes of a class-name table), sorted:
        a class present at one date only still gets its row and column (of zeros)."""
        return sorted(self._from | self._to | {int(c) for c in extra})

    def matrices(self, codes):
        """``(pixels, area_m2)``: square matrices over ``codes`` (rows = date 1, columns = date 2)."""
        codes = list(codes)
        index = {c: i for i, c in enumerate(codes)}
        n = len(codes)
        pixels = np.zeros((n, n), dtype=np.int64)
        area = np.zeros((n, n), dtype=np.float64)
        for (f, t), (count, a) in self.pairs.items():
            pixels[index[f], index[t]] = count
            area[index[f], index[t]] = a
        return pixels, area

    @property
    def excluded_pixels(self):
        return sum(self.excluded.values())


@dataclass
class ClassAreaAccumulator:
    """Pixel count and area (m2) per class code of one class raster, accumulated over blocks."""
    max_classes: int = MAX_CLASSES
    counts: dict = field(default_factory=dict)       # code -> [pixels, area m2]
    nodata_pixels: int = 0

    def add(self, a, valid=None, cell_area=1.0):
        a = np.asarray(a)
        valid = np.ones(a.shape, bool) if valid is None else np.asarray(valid, bool)
        self.nodata_pixels += int(np.count_nonzero(~valid))
        area = np.broadcast_to(np.asarray(cell_area, dtype=np.float64), a.shape)
        codes, _, counts, sums = crosstab_block(a, np.zeros(a.shape, np.int64), valid, area)
        for c, n, s in zip(codes.tolist(), counts.tolist(), sums.tolist()):
            entry = self.counts.setdefault(int(c), [0, 0.0])
            entry[0] += int(n)
            entry[1] += float(s)
        self.check_classes()

    def check_classes(self):
        """TooManyClasses when more than ``max_classes`` distinct codes were counted."""
        if len(self.counts) > self.max_classes:
            raise TooManyClasses(f"more than {self.max_classes} distinct codes: it does not look like a class "
                                 "raster (reclassify it into classes first)")


# --------------------------------------------------------------------------- blocks (raster/executor.BlockPass)
# ``data[key]`` is (int64 codes, valid mask) of a class raster (raster.classes.read_classes); the pixel areas come
# from ``ctx.row_areas_m2()``. The accumulators are the partial results, combined into new ones.
def transfer_block(data, ctx, max_classes: int = MAX_CLASSES):
    """No output, and the :class:`TransferAccumulator` of one block of DATE1 and DATE2."""
    (a, a_valid), (b, b_valid) = data["DATE1"], data["DATE2"]
    acc = TransferAccumulator(max_classes)
    acc.add(a, b, a_valid, b_valid, ctx.row_areas_m2())
    return {}, acc


def combine_transfer(x: TransferAccumulator, y: TransferAccumulator) -> TransferAccumulator:
    """Two :class:`TransferAccumulator` together (TooManyClasses when the codes of both are too many)."""
    out = TransferAccumulator(x.max_classes)
    for src in (x, y):
        for key, (count, area) in src.pairs.items():
            entry = out.pairs.get(key)
            if entry is None:
                out.pairs[key] = [count, area]
            else:
                entry[0] += count
                entry[1] += area
        for key in out.excluded:
            out.excluded[key] += src.excluded[key]
            out.excluded_m2[key] += src.excluded_m2[key]
        out._from |= src._from
        out._to |= src._to
    out.check_classes()
    return out


def class_area_block(data, ctx, key: str = "CLASS", max_classes: int = MAX_CLASSES):
    """No output, and the :class:`ClassAreaAccumulator` of one block of class raster ``key``."""
    codes, valid = data[key]
    acc = ClassAreaAccumulator(max_classes)
    acc.add(codes, valid, ctx.row_areas_m2())
    return {}, acc


def combine_class_area(x: ClassAreaAccumulator, y: ClassAreaAccumulator) -> ClassAreaAccumulator:
    """Two :class:`ClassAreaAccumulator` together (TooManyClasses when their codes are too many)."""
    out = ClassAreaAccumulator(x.max_classes)
    for src in (x, y):
        for code, (n, s) in src.counts.items():
            entry = out.counts.setdefault(code, [0, 0.0])
            entry[0] += n
            entry[1] += s
        out.nodata_pixels += src.nodata_pixels
    out.check_classes()
    return out


def change_block(data, ctx, k: int, nodata: int):
    """The change codes ``from * 10**k + to`` of one block (``"OUTPUT_CHANGE"``), ``nodata`` where either date
    is nodata."""
    (a, a_valid), (b, b_valid) = data["DATE1"], data["DATE2"]
    return {"OUTPUT_CHANGE": change_codes(a, b, k, a_valid & b_valid, nodata)}


# --------------------------------------------------------------------------- summaries
def transfer_summary(matrix) -> dict:
    """Per-class totals of a transfer matrix (rows = date 1, columns = date 2), in its own units.

    ``date1`` = row sums, ``date2`` = column sums, ``unchanged`` = diagonal,
    ``out`` = row sum - diagonal, ``in`` = column sum - diagonal, ``net`` = in - out
    (= date2 - date1), ``net_pct`` = 100 net / date1 (NaN where date1 is 0).
    Zhundong seed section 2.3 (transfer-in / transfer-out / net areas).
    """
    m = np.asarray(matrix, dtype=np.float64)
    date1, date2, diag = m.sum(axis=1), m.sum(axis=0), np.diag(m).copy()
    out, inn = date1 - diag, date2 - diag
    net = inn - out
    with np.errstate(divide="ignore", invalid="ignore"):
        net_pct = np.where(date1 > 0, 100.0 * net / np.where(date1 > 0, date1, 1.0), np.nan)
    return {"date1": date1, "date2": date2, "unchanged": diag, "out": out, "in": inn, "net": net,
            "net_pct": net_pct}


def in_units(area_m2, pixels, unit: int, total_m2: float | None = None):
    """Areas in the unit of ``UNITS[unit]``: km2 (m2 / 1e6), ha (m2 / 1e4), pixels (the counts),
    % of total (100 area / ``total_m2``, default the sum of ``area_m2``).

    Linear, so totals, differences (transfer-out, net change ...) are best formed in m2 / pixels
    (exact sums of integer counts times the pixel area) and converted once, as the algorithms do."""
    if unit == 2:
        return np.asarray(pixels, dtype=np.int64)
    area_m2 = np.asarray(area_m2, dtype=np.float64)
    if unit == 0:
        return area_m2 / 1e6
    if unit == 1:
        return area_m2 / 1e4
    if unit == 3:
        total = float(area_m2.sum()) if total_m2 is None else float(total_m2)
        return 100.0 * area_m2 / total if total > 0 else np.zeros_like(area_m2)
    raise ValueError(f"unknown unit {unit}; choose one of {', '.join(UNITS)}")


# --------------------------------------------------------------------------- change codes
def change_dtype(k: int):
    """(numpy dtype name, nodata) of the change raster for ``k`` code digits: codes < 10**(2k).
    k = 1: uint8 / 255; k = 2: uint16 / 65535; k = 3..4: int32 / -1."""
    if k <= 1:
        return "uint8", 255
    if k == 2:
        return "uint16", 65535
    if k <= MAX_CODE_DIGITS:
        return "int32", -1
    raise ValueError(f"class codes with {k} digits give change codes beyond int32; codes must be at most "
                     f"{10 ** MAX_CODE_DIGITS - 1}")


def change_codes(a, b, k: int, valid=None, nodata: int = 255) -> np.ndarray:
    """``from * 10**k + to`` per pixel (int64); ``nodata`` where ``valid`` is False.

    Every valid pixel is coded, unchanged ones included (``i * 10**k + i``). Codes must be >= 0
    (a negative code would make the pair ambiguous).
    """
    a = np.asarray(a).astype(np.int64)
    b = np.asarray(b).astype(np.int64)
    out = a * (10 ** int(k)) + b
    if valid is not None:
        out = np.where(valid, out, nodata)
    return out


def transition_legend(pixels, area, codes, k: int, names: dict | None = None) -> list[dict]:
    """One entry per transition that occurs (pixels > 0), ordered by change code:
    ``code`` (from * 10**k + to), ``from``, ``to``, ``from_name``, ``to_name``, ``changed``,
    ``meaning`` ("Forest -> Developed" / "Forest (unchanged)"), ``pixels``, ``area`` (as given)."""
    names = names or {}
    rows = []
    for i, f in enumerate(codes):
        for j, t in enumerate(codes):
            if pixels[i][j] <= 0:
                continue
            fn, tn = names.get(f, str(f)), names.get(t, str(t))
            rows.append({"code": int(f) * 10 ** int(k) + int(t), "from": int(f), "to": int(t), "from_name": fn,
                         "to_name": tn, "changed": f != t,
                         "meaning": f"{fn} -> {tn}" if f != t else f"{fn} (unchanged)",
                         "pixels": int(pixels[i][j]), "area": float(area[i][j])})
    rows.sort(key=lambda r: r["code"])
    return rows


# --------------------------------------------------------------------------- class areas over dates
def class_area_change(areas) -> dict:
    """Shares and relative changes of class areas over dates.

    ``areas``: (n_dates, n_classes) areas (any unit; dates in time order). Returns arrays of the
    same shape: ``share`` = 100 A[t, c] / sum_c A[t, c] (% of that date's classified area);
    ``change`` = A[t] - A[t-1] and ``change_pct`` = 100 (A[t] - A[t-1]) / A[t-1] (NaN for the
    first date and where A[t-1] = 0); ``change_first`` / ``change_first_pct`` the same against the
    first date. Ningdong Tables 6-7 (class areas per year), zhundong 2.3 (shares per grade).
    """
    a = np.asarray(areas, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError("areas must be a (dates, classes) table")
    totals = a.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(totals > 0, 100.0 * a / np.where(totals > 0, totals, 1.0), 0.0)
        prev = np.vstack([np.full((1, a.shape[1]), np.nan), a[:-1]])
        change = a - prev
        change_pct = np.where(prev > 0, 100.0 * change / np.where(prev > 0, prev, 1.0), np.nan)
        first = np.broadcast_to(a[:1], a.shape)
        change_first = a - first
        change_first_pct = np.where(first > 0, 100.0 * change_first / np.where(first > 0, first, 1.0), np.nan)
    change_first = change_first.copy()
    change_first[0] = np.nan
    change_first_pct[0] = np.nan
    return {"share": share, "change": change, "change_pct": change_pct, "change_first": change_first,
            "change_first_pct": change_first_pct}


def finite_or_none(x):
    """A float, or None for NaN / inf (a NULL in the output tables)."""
    x = float(x)
    return x if math.isfinite(x) else None
