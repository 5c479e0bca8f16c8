"""Reading sample tables (field samples with a measured target and predictor fields) for the
Salinity tools: field checks that name the parameter, and numeric columns as arrays."""
from __future__ import annotations

import math

import numpy as np

from ..core.checks import bad_value
from ..raster.engine import Canceled


def as_float(value) -> float:
    """An attribute as a float; NULL (None / QVariant NULL) and text become NaN."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def numeric_field(fields, name: str, what: str) -> int:
    """Index of the numeric field ``name``; ValueError naming ``what`` (the parameter) otherwise."""
    idx = fields.lookupField(name)
    if idx < 0:
        raise ValueError(f"{what}: the field '{name}' is not in INPUT (fields: {', '.join(fields.names())}).")
    if not fields.at(idx).isNumeric():
        raise ValueError(f"{what}: the field '{name}' is not numeric ({fields.at(idx).typeName()}); choose a "
                         "numeric field or convert it to numbers first.")
    return idx


def sample_source(alg, parameters, context, target_param: str):
    """(source, its fields, the target field's name) of a Salinity / Drivers tool's INPUT and its numeric target
    field ``target_param``; ValueError naming the parameter otherwise."""
    source = alg.parameterAsSource(parameters, "INPUT", context)
    if source is None:
        raise ValueError("INPUT: no sample layer was given.")
    fields = source.fields()
    target = alg.parameterAsString(parameters, target_param, context)
    numeric_field(fields, target, target_param)
    return source, fields, target


def read_columns(source, names, feedback=None) -> np.ndarray:
    """Columns ``names`` of every feature of ``source`` as a float64 array (rows, len(names)), NaN for NULL."""
    fields = source.fields()
    cols = [fields.lookupField(n) for n in names]
    rows = []
    for feature in source.getFeatures():
        if feedback is not None and feedback.isCanceled():
            raise Canceled()
        attrs = feature.attributes()
        rows.append([as_float(attrs[c]) for c in cols])
    data = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(cols))
    for j, name in enumerate(names):
        col = data[:, j]
        known = np.flatnonzero(~np.isnan(col))
        bad = bad_value(col[known])
        if bad:     # empty cells leave their row out (each tool says so); an infinite or huge value is a data error
            raise ValueError(f"The field '{name}' of the input table has {bad[1]} in row {int(known[bad[0]]) + 1}. "
                             "Fix or remove that value (an empty value only leaves its row out).")
    return data
