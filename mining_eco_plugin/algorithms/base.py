"""One small base class for every Mining Eco algorithm.

A subclass declares ID, NAME, GROUP, a SUMMARY and a SOURCE (formula reference), adds its
parameters with ``self.add(param, help)`` and implements ``run_tool``. The base turns the
per-parameter help into ``shortHelpString`` (readable in the toolbox and in
``qgis_process help``) and turns every user-facing error into a QgsProcessingException.
"""
from __future__ import annotations

import os

from qgis.core import (
    QgsFeature,
    QgsFeatureSink,
    QgsField,
    QgsFields,
    QgsProcessingAlgorithm,
    QgsProcessingException,
)
from qgis.PyQt.QtGui import QIcon

from .. import compat
from ..core.cancel import Cancelled
from ..core.plain import plain
from ..raster.engine import Canceled
from . import errors

_FIELD_TYPES = {str: compat.FieldType.QString, float: compat.FieldType.Double, int: compat.FieldType.LongLong,
                bool: compat.FieldType.Bool}

GROUPS = {
    "indices": "Indices",
    "ecology": "Ecology",
    "change": "Change",
    "salinity": "Salinity",
    "productivity": "Productivity",
    "drivers": "Drivers",
    "setup": "Set-up",
}

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class MiningEcoAlgorithm(QgsProcessingAlgorithm):
    ID = ""
    NAME = ""
    GROUP = ""
    SUMMARY = ""
    SOURCE = ""
    #: heading of SOURCE in shortHelpString
    SOURCE_LABEL = "Formula source"
    #: True: blank lines ("\n\n") in SUMMARY and the help texts start a new paragraph of shortHelpString
    PARAGRAPHS = False

    def __init__(self):
        super().__init__()
        self._help = []

    # -- identity -------------------------------------------------------------------------
    def name(self):
        return self.ID

    def displayName(self):  # noqa: N802 (QGIS API names below)
        return self.NAME

    def group(self):
        return GROUPS[self.GROUP]

    def groupId(self):  # noqa: N802
        return self.GROUP

    def icon(self):
        return QIcon(ICON)

    def createInstance(self):  # noqa: N802
        return type(self)()

    # -- parameters and help --------------------------------------------------------------
    def add(self, param, help_text: str, advanced: bool = False):
        """Add a parameter with its one-line help (shown in the help panel and qgis_process help)."""
        if advanced:
            param.setFlags(param.flags() | compat.ProcessingParameterFlag.Advanced)
        if hasattr(param, "setHelp"):
            param.setHelp(help_text)
        self._help.append((param.name(), param.description(), help_text))
        return self.addParameter(param)

    def add_output(self, param, help_text: str):
        if hasattr(param, "setHelp"):
            param.setHelp(help_text)
        self._help.append((param.name(), param.description(), help_text))
        return self.addParameter(param)

    def add_result(self, output, help_text: str):
        """Add a non-file output (e.g. QgsProcessingOutputNumber) with its help line."""
        self._help.append((output.name(), output.description(), help_text))
        return self.addOutput(output)

    def shortHelpString(self):  # noqa: N802
        if not self._help:  # help is asked of instances that were never initialised
            self.initAlgorithm({})
        lines = [f"<p>{self.SUMMARY}</p>"]
        if self.SOURCE:
            lines.append(f"<p><b>{self.SOURCE_LABEL}:</b> {self.SOURCE}</p>")
        lines.append("<p><b>Parameters</b></p><ul>")
        lines += [f"<li><b>{desc}</b> (<code>{name}</code>): {text}</li>" for name, desc, text in self._help]
        lines.append("</ul>")
        text = "\n".join(lines)
        return text.replace("\n\n", "</p>\n<p>") if self.PARAGRAPHS else text

    def helpUrl(self):  # noqa: N802
        return ""

    def checkParameterValues(self, parameters, context):  # noqa: N802
        problem = errors.out_of_range(self, parameters)     # with the bounds, before QGIS's terse message
        if problem:
            return False, f"{self.NAME}: {problem}"
        return super().checkParameterValues(parameters, context)

    # -- running ---------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            errors.check_destinations(self, parameters)
            # outputs are plain Python values: qgis_process prints a numpy scalar as empty
            return plain(self.run_tool(parameters, context, feedback))
        except (Canceled, Cancelled):
            feedback.reportError("Cancelled: no output was written.")
            raise QgsProcessingException("Cancelled by the user; no output was written.") from None
        except QgsProcessingException:
            raise
        except ValueError as err:  # RasterError, MtlError, ExpressionError are ValueErrors
            msg = err.args[0] if err.args else str(err)
            raise QgsProcessingException(f"{self.NAME}: {msg}") from None
        # no raw traceback ever (issue 11): the known causes are worded where they arise, these are the rest
        except OSError as err:
            raise QgsProcessingException(errors.os_error(self, err, parameters)) from None
        except MemoryError:
            raise QgsProcessingException(errors.memory_error(self)) from None
        except Exception as err:  # noqa: BLE001 - the last resort
            raise QgsProcessingException(errors.unexpected(self, err, feedback)) from None

    def run_tool(self, parameters, context, feedback):
        raise NotImplementedError

    # -- outputs -----------------------------------------------------------------------------
    def write_table(self, parameters, name, context, columns, rows):
        """Write ``rows`` (sequences matching ``columns`` = [(field name, str|float|int|bool)]) to the
        table sink parameter ``name`` (a geometry-less layer that the Modeler can chain); its id or None."""
        fields = QgsFields()
        for field, kind in columns:
            fields.append(QgsField(field, _FIELD_TYPES[kind]))
        sink, dest = self.parameterAsSink(parameters, name, context, fields, compat.WkbType.NoGeometry)
        if sink is None:
            return None
        for row in rows:
            feature = QgsFeature(fields)
            feature.setAttributes([None if v is None else kind(v) for v, (_f, kind) in zip(row, columns)])
            sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert)
        return dest
