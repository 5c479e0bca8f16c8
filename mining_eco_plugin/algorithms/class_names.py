"""Shared by the class-map tools (transfer matrix, class areas): the optional class-name parameters
(a table layer with code and name fields, or a text ``1=Worst,2=Poor,...``). Their blocks are read by
raster/classes.py."""
from __future__ import annotations

import math

from qgis.core import (
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
)

from .. import compat
from ..core.transfer import parse_class_names

CODE_FIELD_GUESSES = ("code", "class", "value", "id", "grade")
NAME_FIELD_GUESSES = ("name", "label", "class_name", "description", "meaning")


def add_class_name_parameters(alg):
    """CLASS_NAMES (text), CLASS_TABLE + CLASS_CODE_FIELD + CLASS_NAME_FIELD (a table layer)."""
    alg.add(QgsProcessingParameterString("CLASS_NAMES", "Class names (code=name, ...)", optional=True,
                                         defaultValue=""),
            "Optional names of the class codes, e.g. 1=Worst,2=Poor,3=Moderate,4=Good,5=Excellent. "
            "Without names (here or in a table) the classes are labelled by their codes. A code named here "
            "but absent from the rasters still gets its row (of zeros).")
    alg.add(QgsProcessingParameterFeatureSource("CLASS_TABLE", "Class-name table", [compat.ProcessingSourceType.Vector],
                                                optional=True),
            "Optional table layer (CSV, GeoPackage table, any layer) with one row per class: a code field and "
            "a name field. Use this or the text above, not both.")
    alg.add(QgsProcessingParameterField("CLASS_CODE_FIELD", "Class code field", parentLayerParameterName="CLASS_TABLE",
                                        optional=True),
            "Field of the class-name table holding the integer code (default: a field named code / class / "
            "value / id / grade, else the first numeric field).", advanced=True)
    alg.add(QgsProcessingParameterField("CLASS_NAME_FIELD", "Class name field", parentLayerParameterName="CLASS_TABLE",
                                        optional=True),
            "Field of the class-name table holding the name (default: a field named name / label / "
            "class_name / description / meaning, else the first text field).", advanced=True)


def _pick_field(fields, wanted, guesses, numeric, param):
    names = [f.name() for f in fields]
    if wanted:
        if wanted not in names:
            raise ValueError(f"{param}: the class-name table has no field {wanted!r} (fields: {', '.join(names)}).")
        return wanted
    lower = {n.lower(): n for n in names}
    for g in guesses:
        if g in lower:
            return lower[g]
    for f in fields:
        if f.isNumeric() == numeric:
            return f.name()
    kind = "numeric code" if numeric else "text name"
    raise ValueError(f"{param}: the class-name table has no {kind} field (fields: {', '.join(names)}); "
                     f"choose it in {param}.")


def read_class_names(alg, parameters, context) -> dict[int, str]:
    """{code: name} from CLASS_NAMES or CLASS_TABLE (ValueError naming the parameter); {} when neither."""
    text = alg.parameterAsString(parameters, "CLASS_NAMES", context).strip()
    source = alg.parameterAsSource(parameters, "CLASS_TABLE", context)
    if text and source is not None:
        raise ValueError("CLASS_NAMES and CLASS_TABLE are both given: give the class names one way only.")
    if text:
        try:
            return parse_class_names(text)
        except ValueError as err:
            raise ValueError(f"CLASS_NAMES: {err}.") from None
    if source is None:
        return {}
    fields = source.fields()
    code_field = _pick_field(fields, alg.parameterAsString(parameters, "CLASS_CODE_FIELD", context), CODE_FIELD_GUESSES,
                             True, "CLASS_CODE_FIELD")
    name_field = _pick_field(fields, alg.parameterAsString(parameters, "CLASS_NAME_FIELD", context), NAME_FIELD_GUESSES,
                             False, "CLASS_NAME_FIELD")
    names = {}
    for feature in source.getFeatures():
        raw, name = feature[code_field], feature[name_field]
        if raw is None or str(raw).strip() in ("", "NULL"):
            continue
        try:
            value = float(str(raw).strip())
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and value == int(value)):
            raise ValueError(f"CLASS_TABLE: {raw!r} in field {code_field!r} is not an integer class code.")
        code = int(value)
        if code in names:
            raise ValueError(f"CLASS_TABLE: code {code} appears twice in field {code_field!r}.")
        names[code] = "" if name is None else str(name).strip() or str(code)
    return names

