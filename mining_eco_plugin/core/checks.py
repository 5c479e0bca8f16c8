"""Small checks and wordings shared by the core modules (issue 11, defect 13: unclear messages).

* ``MAX_ABS_VALUE``: the largest magnitude a sample value (target, predictor, driver) may have. Larger finite
  values (1e300 typed into a table) overflow where the models compute: tree models convert to float32 (largest
  3.4e38: scikit-learn then says "Input X contains infinity or a value too large for dtype('float32')", naming
  no field), sums of squares pass 1e308. No measured or remotely sensed quantity comes near 1e30.
* ``bad_value``: the first empty, non-finite or too large value of a column, for a message that names the field
  and the sample.
* ``listing``: the first few of a long list and the count ("1001, 1002, 1003, ... (1000 codes)"), so that a
  message listing unknown codes stays readable.
"""
from __future__ import annotations

import math

import numpy as np

MAX_ABS_VALUE = 1e30


def bad_value(values):
    """(0-based index, what is wrong) of the first NaN / infinite / too large value of ``values``, or None."""
    v = np.asarray(values, dtype=np.float64).ravel()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(v) | (np.abs(v) > MAX_ABS_VALUE)
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    x = float(v[i])
    if math.isnan(x):
        return i, "an empty, NaN or non-numeric value"
    if math.isinf(x):
        return i, f"an infinite value ({x:g})"
    return i, f"a value too large to compute with ({x:g}; at most +-{MAX_ABS_VALUE:g})"


def listing(items, limit: int = 10, noun: str = "") -> str:
    """``items`` joined by ", "; beyond ``limit`` the first ``limit`` then " ... (N <noun>)" (N = all of them)."""
    items = [str(i) for i in items]
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", ... ({len(items)}{' ' + noun if noun else ''} in all)"


def constant_columns(X, names):
    """Names of the columns of ``X`` (rows = samples) that hold one value only."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        return []
    return [name for j, name in enumerate(names) if np.ptp(X[:, j]) == 0]
