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
from ..core.plain import plain
from ..raster.engine import Canceled
from ..raster.outputs import OutputTransaction
from . import destinations

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

    # -- running ---------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            # outputs are plain Python values: qgis_process prints a numpy scalar as empty
            return plain(self.run_committed(parameters, context, feedback))
        except Canceled:   # the exception is the one message: Processing reports it (not reportError as well)
            raise QgsProcessingException("Cancelled by the user; no output was written.") from None
        except QgsProcessingException:
            raise
        except ValueError as err:  # RasterError, MtlError, ExpressionError are ValueErrors
            msg = err.args[0] if err.args else str(err)
            raise QgsProcessingException(f"{self.NAME}: {msg}") from None

    def run_tool(self, parameters, context, feedback):
        raise NotImplementedError

    def run_committed(self, parameters, context, feedback):
        """``run_tool`` with every file output staged and committed together at the end (outputs.py): a failure or
        cancel at any step leaves nothing. ``run_tool`` sees staged paths; the results name the destinations."""
        clash = self.output_clash(parameters, context)
        if clash:
            raise QgsProcessingException(f"{self.NAME}: {clash}")
        txn = self._outputs = OutputTransaction()
        try:
            staged, named = destinations.stage(self, parameters, context, txn)
            results = self.run_tool(staged, context, feedback)
            txn.commit()
        except BaseException as err:
            txn.rollback()
            destinations.relink_layers(context, txn, drop=True)
            if err.args and isinstance(err.args[0], str):   # name the user's paths, not the staged ones
                err.args = (txn.unstage(err.args[0]),) + err.args[1:]
            raise
        results = {key: txn.final(value) for key, value in (results or {}).items()}
        destinations.relink_layers(context, txn)
        destinations.name_layers(context, results, named)
        return results

    def destination(self, path):
        """Where a staged output path of this run goes (for a report that names a file); ``path`` otherwise."""
        txn = getattr(self, "_outputs", None)
        return txn.final(path) if txn is not None else path

    # -- output checks (issue 11, defect 5) --------------------------------------------------------------------
    def checkParameterValues(self, parameters, context):  # noqa: N802
        ok, msg = super().checkParameterValues(parameters, context)
        if ok:
            clash = self.output_clash(parameters, context)
            if clash:
                return False, f"{self.NAME}: {clash}"
        return ok, msg

    def output_clash(self, parameters, context):
        """Why two outputs would write one file, or an output would overwrite an input; None when they do not."""
        return destinations.clash(self, parameters, context)

    def output_claims(self, name, kind, path, parameters, context):
        """[(path, what)] of the files that output ``name`` (a ``kind`` of destination at ``path``) writes;
        subclasses add what only they know (e.g. the files of a folder output)."""
        return destinations.claims(kind, path)

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
        features = []
        for row in rows:
            feature = QgsFeature(fields)
            feature.setAttributes([None if v is None else kind(v) for v, (_f, kind) in zip(row, columns)])
            features.append(feature)
        try:
            self.add_features(sink, name, features)
        finally:
            del sink      # closes the file (before the run commits it)
        return dest

    @staticmethod
    def add_features(sink, name, features):
        """Add ``features`` to the sink of parameter ``name`` and flush it; ValueError naming ``name`` when the
        sink refuses one (the run then fails and commits nothing)."""
        for n, feature in enumerate(features, start=1):
            if not sink.addFeature(feature, QgsFeatureSink.Flag.FastInsert):
                why = sink.lastError() or "refused by the output layer"
                raise ValueError(f"{name}: row {n} could not be written ({why}). Choose another output file or "
                                 "format.")
        if not sink.flushBuffer():
            raise ValueError(f"{name}: the table could not be written ({sink.lastError() or 'flush failed'}). "
                             "Choose another output file or format.")
