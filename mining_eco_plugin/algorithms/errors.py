"""Messages for failures that are not a ValueError (issue 11, defect 2: raw Python tracebacks).

``MiningEcoAlgorithm.processAlgorithm`` turns every exception into a QgsProcessingException. The known causes
are fixed where they arise (a damaged raster in raster/engine.py, a bad model file in core/modelfile.py, ...);
what reaches this module is worded here:

* ``out_of_range`` before a run (``checkParameterValues``): a number beyond its parameter's bounds, with them;
* ``os_error``: an OSError while writing (disk full, permission denied, read-only file system, a path under a
  file, ...) names the output parameter whose path it concerns and the fix;
* ``memory_error``: what to make smaller;
* ``unexpected``: anything else, with the tool, the exception and a line saying that this is a bug to report.
"""
from __future__ import annotations

import errno
import math
import os
import traceback

from qgis.core import (
    QgsProcessingOutputLayerDefinition,
    QgsProcessingParameterFolderDestination,
    QgsProperty,
)

from . import destinations as outputs_of

REPORT = ("This is a bug in Mining Eco, not a problem with your inputs: please report it to the plugin's "
          "authors with this message and the parameters of the run (Processing > History).")


def _static(value):
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink
    if isinstance(value, QgsProperty):
        value = value.staticValue()     # an expression-based property has none: not checked
    return value


def destinations(alg, parameters, context):
    """[(parameter name, absolute local path, is a folder destination)] of the outputs given as files."""
    out = []
    for definition in alg.destinationParameterDefinitions():
        path = outputs_of.local_file(parameters.get(definition.name()), context)
        if path:
            out.append((definition.name(), os.path.abspath(path),
                        isinstance(definition, QgsProcessingParameterFolderDestination)))
    return out


def out_of_range(alg, parameters) -> str:
    """'' or the message for the first number outside its parameter's minimum .. maximum, with both bounds
    (QGIS's own check says only "Incorrect parameter value for X")."""
    from qgis.core import QgsProcessingParameterNumber
    for definition in alg.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterNumber):
            continue
        value = _static(parameters.get(definition.name()))
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue        # empty, an expression, or not a number: QGIS's own check words it
        lo, hi = definition.minimum(), definition.maximum()
        if not math.isfinite(number):       # nan passes every comparison; inf is no setting either
            return (f"{definition.name()} ({definition.description()}): {value} is not a number. Give a value "
                    f"from {lo:g} to {hi:g}.")
        if lo <= number <= hi:
            continue
        side = f"above the maximum {hi:g}" if number > hi else f"below the minimum {lo:g}"
        return (f"{definition.name()} ({definition.description()}): {number:g} is {side}. Give a value from "
                f"{lo:g} to {hi:g}.")
    return ""


def bad_band(alg, parameters, context) -> str:
    """'' or the message for the first band number that its raster does not have (bands count from 1): a band
    0 or 10^12 was read as band 1 before (issue 11)."""
    from qgis.core import QgsProcessingParameterBand
    for definition in alg.parameterDefinitions():
        if not isinstance(definition, QgsProcessingParameterBand):
            continue
        value = _static(parameters.get(definition.name()))
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            try:
                number = float(v)
            except (TypeError, ValueError):
                return f"{definition.name()} ({definition.description()}): {v!r} is not a band number. Give 1, 2, ..."
            layer = None
            parent = definition.parentLayerParameterName()
            if parent and parameters.get(parent) is not None:
                try:
                    layer = alg.parameterAsRasterLayer(parameters, parent, context)
                except Exception:  # noqa: BLE001 - an unreadable parent is refused by its own check
                    layer = None
            count = layer.bandCount() if layer is not None and layer.isValid() else None
            if not math.isfinite(number) or number != int(number) or number < 1 or \
                    (count is not None and number > count):
                has = (f"{parent} has {count} band{'s' if count != 1 else ''}" if count is not None
                       else "bands are numbered from 1")
                return (f"{definition.name()} ({definition.description()}): there is no band {v} ({has}). Give a "
                        f"band from 1{f' to {count}' if count else ''}.")
    return ""


def _concerns(path, target, is_folder):
    """Whether an OSError about ``path`` (a destination path: see os_error) concerns the output ``target`` (the
    file itself, a temporary file beside it, a folder on its way, or a file in an output folder)."""
    path, target = os.path.abspath(path), os.path.abspath(target)
    folder = target if is_folder else os.path.dirname(target)
    return path == target or os.path.dirname(path) == folder or target.startswith(path.rstrip(os.sep) + os.sep)


def os_error(alg, err: OSError, parameters, context) -> str:
    """The message of an OSError: which output (or input file) and what to do. A staged path (where the run
    writes until it commits) is named by its destination (``alg.destination``)."""
    path = err.filename if err.filename is not None else err.filename2
    path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else path
    what = os.strerror(err.errno) if err.errno else str(err)
    name = ""
    if path:
        path = alg.destination(str(path))
        for pname, target, is_folder in destinations(alg, parameters, context):
            if _concerns(str(path), target, is_folder):
                name, path = pname, target
                break
    subject = f"{name}: " if name else ""
    where = f"{path}" if path else "a file"
    folder = os.path.dirname(os.path.abspath(path)) if path else "the output folder"
    code = err.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        fix = (f"the disk holding {folder} is full (no space left to write {where}). Free some space or write the "
               "outputs to another disk.")
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = (f"writing {where} is not allowed ({what}): {folder} is read-only or belongs to someone else. Choose "
               "a folder you can write to." if name else
               f"{where} cannot be read or written ({what}). Check that the file exists and that you may use it.")
    elif code == errno.EISDIR:
        fix = f"{where} is a folder. Give a file name instead."
    elif code in (errno.ENOTDIR, errno.EEXIST):
        fix = (f"{where} cannot be created because a file stands where a folder is needed on its path. Choose an "
               "output path in an existing folder.")
    elif code == errno.ENOENT:
        fix = f"{where}: the file or its folder does not exist ({what}). Check the path."
    elif code == errno.ENAMETOOLONG:
        fix = f"the path {where} is too long. Choose a shorter path."
    else:
        fix = f"writing or reading {where} failed ({what}). Check the path, the disk and the permissions."
    return f"{alg.displayName()}: {subject}{fix}"


def memory_error(alg) -> str:
    return (f"{alg.displayName()}: the computer ran out of memory. Use a smaller sample or window (SAMPLE_SIZE, "
            "N_SAMPLES, N_TREES, WINDOW_SIZE where the tool has them), a smaller area (clip the inputs first), or "
            "close other programs.")


def unexpected(alg, err: BaseException, feedback=None) -> str:
    """The last resort: the tool, the exception (type and text, no traceback) and REPORT. The traceback goes to
    the log's debug information (Processing's log panel with debugging information on)."""
    if feedback is not None:
        try:
            feedback.pushDebugInfo("".join(traceback.format_exception(type(err), err, err.__traceback__)))
        except Exception:  # noqa: BLE001 - a log that cannot be written must not hide the error
            pass
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if len(text) > 400:
        text = text[:400] + " ..."
    return f"{alg.displayName()} failed: {type(err).__name__}{': ' + text if text else ''}. {REPORT}"
