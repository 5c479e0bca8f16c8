"""What a report records about its run: the input files and the settings, as the user chose them."""
from __future__ import annotations

import math
import os

from .. import compat
from . import destinations

LAYER_TYPES = ("raster", "multilayer", "file", "source", "vector", "layer", "mesh")


def inputs(alg, parameters, context):
    """[{"input": parameter id, "file": file name}] of every input layer or file given."""
    rows = []
    for d in alg.parameterDefinitions():
        if d.isDestination() or d.type() not in LAYER_TYPES:
            continue
        try:
            files = destinations.input_files(alg, d, parameters, context)
        except Exception:  # noqa: BLE001 - a report never fails on what it only records
            continue
        rows += [{"input": d.name(), "file": os.path.basename(path) + (f" ({layer})" if layer else "")}
                 for path, layer in files]
    return rows


def product_member(product, path):
    """How a report names a file of a product (core.product_meta.Product): ``archive.tar/member`` for a member of
    a .tar / .zip read in place (``/vsitar/`` / ``/vsizip/`` paths), else the file name."""
    for prefix in ("/vsitar/", "/vsizip/"):
        if path.startswith(prefix):
            archive = os.path.abspath(str(product.source))
            rest = path[len(prefix):]
            if rest.startswith(archive + "/"):
                return os.path.basename(archive) + "/" + rest[len(archive) + 1:]
            return rest
    return os.path.basename(path)


def _number(v):
    if not math.isfinite(v):
        return str(v)
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else f"{v:.6g}"


def settings(alg, parameters, context, skip=()):
    """{"Description (ID)": value text} of the parameters that are neither layers, files nor outputs (advanced
    ones only where they differ from their default)."""
    out = {}
    for d in alg.parameterDefinitions():
        name = d.name()
        if d.isDestination() or d.type() in LAYER_TYPES or name in skip:
            continue
        if parameters.get(name) is None and d.defaultValue() is None:
            continue
        text = _value_text(alg, d, parameters, context)
        if text in ("", None):
            continue
        if d.flags() & compat.ProcessingParameterFlag.Advanced and text == _value_text(alg, d, {}, context):
            continue
        out[f"{d.description()} ({name})"] = text
    return out


def _value_text(alg, d, parameters, context):
    """The value of parameter ``d`` as the user reads it (enum option texts, yes / no, 10 not 10.0)."""
    name, kind = d.name(), d.type()
    try:
        if kind == "enum":
            chosen = alg.parameterAsEnums(parameters, name, context) if d.allowMultiple() else \
                [alg.parameterAsEnum(parameters, name, context)]
            return ", ".join(d.options()[i] for i in chosen if 0 <= i < len(d.options()))
        if kind == "boolean":
            return "yes" if alg.parameterAsBoolean(parameters, name, context) else "no"
        if kind == "number":
            return _number(alg.parameterAsDouble(parameters, name, context))
        if kind == "band":
            return str(alg.parameterAsInt(parameters, name, context))
        if kind == "field":
            return ", ".join(alg.parameterAsFields(parameters, name, context))
        if kind == "matrix":
            return ", ".join(str(v) for v in alg.parameterAsMatrix(parameters, name, context))
        return alg.parameterAsString(parameters, name, context)
    except Exception:  # noqa: BLE001 - a report never fails on what it only records
        return None
