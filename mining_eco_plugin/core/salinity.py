"""Soil-salinity grades and the pixel bookkeeping of model application (pure numpy).

Grades (default): soil salt content (g/kg, topsoil 0-20 cm) in five classes, as in the coastal seed's
Table 5 (Third National Soil Census of China, coastal chloride soils) and the classification of
Wang Zunqin, *China's Saline Soil*, used by the zhundong seed (section 1.3 / 2.3, five classes:
non-saline, slight, moderate, severe, saline soil):

    non-saline < 1, slight 1~2, moderate 2~4, severe 4~6, saline soil (solonchak) > 6 g/kg.

Boundary rule: intervals are **upper-inclusive**, as the RSEI grades (``core.rsei.grade``):
``[.., 1] -> 1 non-saline, (1, 2] -> 2 slight, (2, 4] -> 3 moderate, (4, 6] -> 4 severe,
(6, ..] -> 5 saline soil``; a value of exactly 1 g/kg is non-saline, exactly 6 is severe. The seed
is not consistent at the two ends (its text says "normal (<1 g/kg)", which would put 1 into
"slight", and "salt earth (>6 g/kg)", which puts 6 into "severe"); Table 5 writes closed ranges
"1~2", "2~4". We keep one rule for every boundary and document it; with float32 predictions a
stored 1.0 is compared in float32 (exactly 1 g/kg is graded 1).
"""
from __future__ import annotations

import math

import numpy as np

from .rsei import grade as _grade_upper_inclusive
from .rsei import grade_area_table

#: Default thresholds (g/kg) and grade names (coastal Table 5; zhundong section 2.3).
DEFAULT_THRESHOLDS = (1.0, 2.0, 4.0, 6.0)
DEFAULT_LABELS = ("Non-saline", "Slightly saline", "Moderately saline", "Severely saline", "Saline soil")
DEFAULT_UNITS = "g/kg"
NODATA_GRADE = 0


def default_grade_table() -> list:
    """The default grade table as the flat list of a 2-column matrix parameter: upper bound, label; the
    last row has no upper bound (empty)."""
    flat = []
    for i, label in enumerate(DEFAULT_LABELS):
        flat += [f"{DEFAULT_THRESHOLDS[i]:g}" if i < len(DEFAULT_THRESHOLDS) else "", label]
    return flat


def parse_grade_table(values) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """(thresholds, labels) from a grade table.

    ``values``: rows ``(upper bound, label)`` as a flat list (a matrix parameter's value) or a list of
    pairs, or a string of thresholds only ("1,2,4,6", default labels "Grade 1" ... unless the count
    matches the default table). The last row's upper bound is empty (or "inf"): the open top class.
    Thresholds must be finite and strictly increasing; ValueError otherwise (message says the fix).
    """
    if isinstance(values, str):
        parts = [p.strip() for p in values.replace(";", ",").split(",") if p.strip()]
        try:
            bounds = tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"thresholds must be numbers separated by commas (e.g. 1,2,4,6), got {values!r}") from None
        labels = DEFAULT_LABELS if len(bounds) == len(DEFAULT_THRESHOLDS) else tuple(
            f"Grade {i + 1}" for i in range(len(bounds) + 1))
        return _checked(bounds, labels)
    flat = list(values or [])
    if flat and all(isinstance(r, (list, tuple)) for r in flat):
        flat = [x for r in flat for x in r]
    if len(flat) < 4 or len(flat) % 2:
        raise ValueError("give at least two rows of (upper bound, label); the last row's upper bound is left empty "
                         "(the open top grade), e.g. 1, Non-saline, 2, Slightly saline, , Saline soil")
    rows = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]
    bounds, labels = [], []
    for k, (b, label) in enumerate(rows):
        label = str(label).strip() or f"Grade {k + 1}"
        text = "" if b is None else str(b).strip()
        last = k == len(rows) - 1
        if last:
            if text not in ("", "inf", "+inf", "Infinity"):
                raise ValueError(f"the last row ({label}) is the open top grade: leave its upper bound empty, "
                                 f"got {text!r}")
        else:
            try:
                bounds.append(float(text))
            except ValueError:
                raise ValueError(f"row {k + 1} ({label}): upper bound {text!r} is not a number") from None
        labels.append(label)
    return _checked(tuple(bounds), tuple(labels))


#: largest |threshold|: predictions are float32 (at most 3.4e38), so larger bounds could never be reached
MAX_THRESHOLD = 1e30


def _checked(bounds, labels):
    if not bounds:
        raise ValueError("give at least one threshold (two grades)")
    if not all(math.isfinite(b) and abs(b) <= MAX_THRESHOLD for b in bounds):
        raise ValueError(f"thresholds must be finite numbers within +-{MAX_THRESHOLD:g}, got "
                         f"{', '.join(f'{b:g}' for b in bounds)}")
    if any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:])):
        raise ValueError(f"thresholds must be strictly increasing, got {', '.join(f'{b:g}' for b in bounds)}")
    if len(bounds) + 1 > 254:
        raise ValueError("at most 254 grades (uint8 codes, 0 = nodata)")
    return tuple(float(b) for b in bounds), tuple(labels)


def salinity_grade(values: np.ndarray, thresholds=DEFAULT_THRESHOLDS) -> np.ndarray:
    """Grade codes (uint8) 1 .. len(thresholds) + 1, 0 where NaN (nodata); upper-inclusive intervals
    (module docstring): code = 1 + number of thresholds strictly below the value."""
    return _grade_upper_inclusive(values, thresholds)


def grade_legend(thresholds, labels, units: str = DEFAULT_UNITS) -> list[str]:
    """Legend texts with the ranges, e.g. "Non-saline (<= 1 g/kg)", "Slightly saline (1-2 g/kg)",
    "Saline soil (> 6 g/kg)"."""
    u = f" {units}" if units else ""
    t = list(thresholds)
    out = []
    for i, label in enumerate(labels):
        if i == 0:
            rng = f"<= {t[0]:g}{u}"
        elif i == len(t):
            rng = f"> {t[-1]:g}{u}"
        else:
            rng = f"{t[i - 1]:g}-{t[i]:g}{u}"
        out.append(f"{label} ({rng})")
    return out


class GradeAreas:
    """Pixel count and area (m2) per grade code, accumulated block by block (index 0 = nodata)."""

    def __init__(self, n_grades: int):
        self.n = n_grades
        self.pixels = np.zeros(n_grades + 1, dtype=np.int64)
        self.area_m2 = np.zeros(n_grades + 1)

    def add(self, codes: np.ndarray, row_areas_m2: np.ndarray):
        """``codes`` (rows, cols) uint8; ``row_areas_m2`` (rows, 1): the pixel area of each row."""
        flat = codes.ravel()
        self.pixels += np.bincount(flat, minlength=self.n + 1)[: self.n + 1]
        self.area_m2 += np.bincount(flat, weights=np.broadcast_to(row_areas_m2, codes.shape).ravel(),
                                    minlength=self.n + 1)[: self.n + 1]

    @classmethod
    def of(cls, partial) -> "GradeAreas":
        """The accumulator holding ``partial``, the (pixels, area_m2) of :func:`predict_block` (combined)."""
        out = cls(len(partial[0]) - 1)
        out.pixels, out.area_m2 = partial
        return out

    def table(self, labels) -> list[dict]:
        """Rows {"grade", "label", "pixels", "area_km2", "percent"} (core.rsei.grade_area_table); area from
        the accumulated per-pixel areas (exact also for a geographic CRS), percent of the graded area."""
        rows = grade_area_table(self.pixels, 1.0, labels)
        total = float(self.area_m2[1:].sum())
        for r in rows:
            a = float(self.area_m2[r["grade"]])
            r["area_km2"] = a / 1e6
            r["percent"] = 100.0 * a / total if total > 0 else 0.0
        return rows


def feature_matrix(blocks: list, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-feature blocks (each (rows, cols) float32, NaN = nodata) into the model's input.

    Returns ``(X, valid)``: ``X`` of shape (number of valid pixels, number of features), float32, C order
    (the column order is the order of ``blocks``, i.e. the model's feature order), and ``valid``, the
    (rows, cols) mask of pixels whose every feature is finite. Pixels with any NaN / inf are left out
    (they become nodata in the prediction).
    """
    shape = blocks[0].shape
    full = np.empty((shape[0] * shape[1], len(blocks)), dtype=np.float32)
    for j, b in enumerate(blocks):
        full[:, j] = b.ravel()
    valid = np.isfinite(full).all(axis=1)
    X = full if valid.all() else full[valid]
    return np.ascontiguousarray(X), valid.reshape(shape)


def predict_chunked(predict, X: np.ndarray, chunk_rows: int, dtype=np.float32) -> np.ndarray:
    """``predict`` applied to ``X`` in chunks of at most ``chunk_rows`` rows (bounded memory for models whose
    predict allocates per row); 1-D result of ``dtype`` (float32 by default)."""
    out = np.empty(X.shape[0], dtype=dtype)
    for start in range(0, X.shape[0], chunk_rows):
        part = X[start:start + chunk_rows]
        out[start:start + part.shape[0]] = np.asarray(predict(part), dtype=np.float64).reshape(part.shape[0], -1)[:, 0]
    return out


def predict_block(data, ctx, estimator, thresholds, chunk_rows: int):
    """One block of the apply-model tool (raster/executor.BlockPass.compute): ``data`` {feature index: (rows, cols)
    float32 block, NaN = nodata} in the model's feature order; ``ctx``: the block's window and pixel areas.

    Returns the blocks {"OUTPUT": prediction (float32, NaN where any feature is nodata), "OUTPUT_GRADES": grade
    codes (uint8, 0 = nodata)} and the partial result (pixels, area_m2) per grade code (index 0 = nodata), which
    add up over blocks (:meth:`GradeAreas.of`)."""
    X, valid = feature_matrix([data[k] for k in range(len(data))])
    pred = np.full(ctx.window.shape, np.nan, dtype=np.float32)
    if X.shape[0]:
        pred[valid] = predict_chunked(estimator.predict, X, chunk_rows)
    codes = salinity_grade(pred, thresholds)
    areas = GradeAreas(len(thresholds) + 1)
    areas.add(codes, ctx.row_areas_m2())
    return {"OUTPUT": pred, "OUTPUT_GRADES": codes}, (areas.pixels, areas.area_m2)
