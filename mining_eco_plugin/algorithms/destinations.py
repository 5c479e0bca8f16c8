"""The QGIS side of a run's outputs (issue 11, defects 1, 5 and 17), used by the base class for every tool.

* ``stage``: every file destination of an algorithm (raster, file, folder, table sink) is checked and replaced
  by its staged path in an OutputTransaction (raster/outputs.py), so that the tool writes nothing at a
  destination until the run commits; a table sink is created by QGIS on the staged path, like any file.
* ``relink_layers``: the layers QGIS loads on completion were registered under their staged paths (with their
  style post-processors): after the commit they are registered under the destinations (dropped on failure).
* ``name_layers``: a layer saved where the user chose is named after its file (``rsei_2013``).
* ``clash``: two outputs that would write one file (also a raster and another output's .qml / .aux.xml), or an
  output that would overwrite an input, are refused in checkParameterValues, naming both parameters.
"""
from __future__ import annotations

import os
import re

from qgis.core import (
    QgsDataSourceUri,
    QgsMapLayer,
    QgsProcessing,
    QgsProcessingFeatureSourceDefinition,
    QgsProcessingOutputLayerDefinition,
    QgsProcessingUtils,
    QgsProperty,
    QgsProviderRegistry,
)

from ..raster.outputs import OutputError, check_file_destination

TEMPORARY = QgsProcessing.TEMPORARY_OUTPUT
_PROVIDER = re.compile(r"^[A-Za-z][A-Za-z0-9_]+:")      # "memory:", "ogr:", "postgres:" (not a drive "C:")
RASTER_COMPANIONS = (".aux.xml",)
SHAPEFILE_PARTS = (".shx", ".dbf", ".prj", ".cpg", ".qpj")


def _text(value, context) -> str:
    """A destination (or source) value as text: the path / URI of a definition or property, else str()."""
    if value is None:
        return ""
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink
    elif isinstance(value, QgsProcessingFeatureSourceDefinition):
        value = value.source
    if isinstance(value, QgsProperty):
        res = value.valueAsString(context.expressionContext())
        return (res[0] if isinstance(res, tuple) else res) or ""
    return "" if isinstance(value, QgsMapLayer) else str(value)


def _not_a_file(text: str) -> bool:
    return not text or text == TEMPORARY or text.startswith("memory:")


def local_file(value, context) -> str:
    """The local file of a destination value (an ``ogr:`` table's database file), '' for temporary, memory and
    database outputs."""
    text = _text(value, context).strip()
    if _not_a_file(text):
        return ""
    table = _ogr_table(text)
    if table is not None:
        return table[0]
    if text.startswith("ogr:") or _PROVIDER.match(text) and not os.path.splitdrive(text)[0]:
        return ""                     # a database connection (postgres:, spatialite:, ...) or a URL
    return text.split("|")[0]


def _ogr_table(text: str):
    """(file, table) of an ``ogr:dbname='...' table="..."`` destination (QGIS's "Save to GeoPackage"), else None."""
    if not text.startswith("ogr:"):
        return None
    uri = QgsDataSourceUri(text[4:])
    return (uri.database(), uri.table() or None) if uri.database() else None


def _rewrap(value, path):
    """``path`` in place of the destination of ``value``, keeping what QGIS needs to load it and the writer's
    options (a definition stays a definition)."""
    if not isinstance(value, QgsProcessingOutputLayerDefinition):
        return path
    new = QgsProcessingOutputLayerDefinition(path, value.destinationProject)
    new.destinationName = value.destinationName
    new.createOptions = value.createOptions
    return new


# -- staging ------------------------------------------------------------------------------------------------------
def stage(alg, parameters, context, txn):
    """(``parameters`` with every file destination replaced by its staged path, the names of the outputs the user
    gave a path for). Raises OutputError (a ValueError naming the parameter) for a destination that cannot be
    written, before any work."""
    staged = dict(parameters)
    named = []
    for d in alg.destinationParameterDefinitions():
        name, kind = d.name(), d.type()
        if name in alg.UNSTAGED_OUTPUTS:     # written by the tool itself (rseiseries' folder)
            continue
        value = parameters.get(name)
        text = _text(value, context)
        if kind == "sink":
            new = _stage_sink(name, value, text, txn)
            if new is None:
                continue
            staged[name] = new
        else:
            # resolved once (each call for TEMPORARY_OUTPUT gives another temporary path); a layer to load is
            # registered by QGIS under the destination, and the tool gets the staged path as a plain string
            if kind in ("rasterDestination", "vectorDestination"):
                path = alg.parameterAsOutputLayer(parameters, name, context)
            else:
                path = alg.parameterAsFileOutput(parameters, name, context)
            if not path or _PROVIDER.match(path) and not os.path.splitdrive(path)[0]:
                continue
            if kind == "folderDestination":
                staged[name] = txn.stage_folder(path, name)
            else:
                companions = RASTER_COMPANIONS if kind == "rasterDestination" else ()
                staged[name] = txn.stage_file(path, name, companions)
        if not _not_a_file(text):
            named.append(name)
    return staged, named


def _stage_sink(name, value, text, txn):
    """The staged value of table sink ``name``, or None to leave it as it is (memory layers, databases)."""
    if _not_a_file(text):
        return None
    if isinstance(value, QgsProcessingOutputLayerDefinition) and value.useRemapping():
        return None                   # appends to an existing layer: nothing to stage
    table = _ogr_table(text)
    if table is not None:
        path, layer = table
        if not os.path.exists(path):
            uri = QgsDataSourceUri(text[4:])
            uri.setDatabase(txn.stage_file(path, name))
            return _rewrap(value, "ogr:" + uri.uri())
        # a table added to an existing GeoPackage is written in place: dropped again if the run fails
        check_file_destination(path, name)
        if not os.access(path, os.W_OK):
            raise OutputError(f"{name}: cannot write into {path} (permission denied). Choose a writable file.")
        if layer and not _has_layer(path, layer):
            txn.on_rollback(lambda: _drop_layer(path, layer))
        return None
    if _PROVIDER.match(text) and not os.path.splitdrive(text)[0]:
        return None                   # a database connection (postgres:, spatialite:, ...)
    if "|" in text:
        return None
    return _rewrap(value, txn.stage_file(text, name))


def _has_layer(path, layer):
    from osgeo import ogr
    ds = ogr.Open(path)
    return ds is not None and ds.GetLayerByName(layer) is not None


def _drop_layer(path, layer):
    from osgeo import ogr
    ds = ogr.Open(path, 1)
    if ds is None:
        return
    for i in range(ds.GetLayerCount()):
        if ds.GetLayerByIndex(i).GetName() == layer:
            ds.DeleteLayer(i)
            break
    ds = None


# -- the layers QGIS loads --------------------------------------------------------------------------------------
def relink_layers(context, txn, drop=False):
    """Move the layers-to-load that QGIS registered under staged paths (the table sinks; rasters are registered
    under their destinations) to their destinations; or (``drop``: the run failed) forget every layer of the
    run, staged or not."""
    loads = context.layersToLoadOnCompletion()
    moved = {key: txn.final(key) for key in loads}
    if drop:
        gone = set(txn.destinations)
        kept = {key: details for key, details in loads.items()
                if moved[key] == key and key.split("|")[0] not in gone}
    else:
        # never re-key a layer with a post-processor: QGIS deletes the post-processor of a key it loses (the
        # rasters, styled on load, are registered under their destinations from the start)
        kept = {key: details for key, details in loads.items()
                if moved[key] == key or details.postProcessor() is not None}
        kept.update({moved[key]: details for key, details in loads.items()
                     if moved[key] != key and details.postProcessor() is None})
    if len(kept) != len(loads) or set(kept) != set(loads):
        context.setLayersToLoadOnCompletion(kept)


def layer_name(destination: str) -> str:
    """``rsei_2013`` of ``/data/rsei_2013.tif``; the table of ``x.gpkg|layername=t``."""
    path, _sep, rest = destination.partition("|")
    m = re.search(r"layername=([^|]+)", rest)
    return m.group(1) if m else os.path.splitext(os.path.basename(path))[0]


def name_layers(context, results, named):
    """Layers of outputs saved where the user chose are named after their files, not the parameter."""
    for name in named:
        value = results.get(name)
        if not isinstance(value, str) or not value or not context.willLoadLayerOnCompletion(value):
            continue
        details = context.layerToLoadOnCompletionDetails(value)
        details.name = layer_name(value)
        if hasattr(details, "forceName"):      # QGIS >= 3.32: even for a file in a temporary folder
            details.forceName = True


# -- two outputs on one file, an output on an input -------------------------------------------------------------
def _norm(path):
    return os.path.normcase(os.path.realpath(os.path.abspath(path)))


def claims(kind, text):
    """[(path, layer or None, what)] of the files that a ``kind`` of destination given as ``text`` writes."""
    if _not_a_file(text):
        return []
    table = _ogr_table(text)
    if table is not None:
        return [(table[0], table[1], "")]
    if _PROVIDER.match(text) and not os.path.splitdrive(text)[0]:
        return []
    path = text.split("|")[0]
    out = [(path, None, "")]
    stem, ext = os.path.splitext(path)
    if kind == "rasterDestination":
        out += [(stem + ".qml", None, " (the style file of a raster output)"),
                (path + ".aux.xml", None, " (the statistics file of a raster output)")]
    elif ext.lower() == ".shp":
        out += [(stem + e, None, " (part of a shapefile)") for e in SHAPEFILE_PARTS]
    return out


def _same(a_layer, b_layer):
    return a_layer is None or b_layer is None or a_layer == b_layer


def _file_of_layer(layer):
    parts = QgsProviderRegistry.instance().decodeUri(layer.providerType(), layer.source())
    path = parts.get("path") or ""
    return (path, parts.get("layerName") or None) if path else None


def input_files(alg, d, parameters, context):
    """[(path, layer name or None)] of the files behind input parameter ``d``. A value that is a file path is
    taken as it is (never loaded as a layer); a layer id or name is looked up, not loaded."""
    value = parameters.get(d.name())
    if value is None or d.type() not in ("raster", "multilayer", "file", "source", "vector", "layer", "mesh"):
        return []
    out = []
    for v in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(v, QgsMapLayer):
            found = _file_of_layer(v)
        else:
            text = _text(v, context)
            path, _sep, rest = text.partition("|")
            if path and os.path.isfile(path):
                m = re.search(r"layername=([^|]+)", rest)
                found = (path, m.group(1) if m else None)
            elif text and d.type() != "file":
                layer = QgsProcessingUtils.mapLayerFromString(text, context, False)
                found = _file_of_layer(layer) if layer is not None else None
            else:
                found = None
        if found:
            out.append(found)
    return out


def clash(alg, parameters, context):
    """Why two outputs would write one file, or an output would overwrite an input; None when they do not."""
    outs, mains = [], {}
    for d in alg.destinationParameterDefinitions():
        text = _text(parameters.get(d.name()), context)
        for path, layer, what in alg.output_claims(d.name(), d.type(), text, parameters, context):
            outs.append((_norm(path), layer, d.name(), path, what))
            mains.setdefault(d.name(), path)
    for i, (key, layer, pid, path, what) in enumerate(outs):
        for key2, layer2, pid2, path2, what2 in outs[:i]:
            if pid2 == pid or key2 != key or not _same(layer, layer2):
                continue
            if not what and not what2:
                return f"{pid2} and {pid} would both write {path}. Give each output its own file name."
            return (f"{pid2} ({mains[pid2]}) and {pid} ({mains[pid]}) would both write {path}"
                    f"{what or what2}. Give each output its own file name.")
    if not outs:
        return None
    for d in alg.parameterDefinitions():
        if d.isDestination():
            continue
        try:
            files = input_files(alg, d, parameters, context)
        except Exception:  # noqa: BLE001 - an unreadable input is the tool's own error to report, with its words
            continue
        for in_path, in_layer in files:
            in_key = _norm(in_path)
            for key, layer, pid, path, what in outs:
                if key == in_key and _same(layer, in_layer):
                    return (f"{pid} ({mains[pid]}) would overwrite the input {d.name()} ({in_path}). Choose another "
                            "output file.")
    return None
