"""One small base class for every Mining Eco algorithm.

A subclass declares ID, NAME, GROUP, a SUMMARY and a SOURCE (formula reference), adds its
parameters with ``self.add(param, help)`` and implements ``run_tool``. The base turns the
per-parameter help into ``shortHelpString`` (readable in the toolbox and in
``qgis_process help``) and turns every user-facing error into a QgsProcessingException.
"""
from __future__ import annotations

import os

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterDefinition,
)
from qgis.PyQt.QtGui import QIcon

from ..raster.engine import Canceled

GROUPS = {
    "indices": "Indices",
    "ecology": "Ecology",
    "change": "Change",
    "salinity": "Salinity",
    "productivity": "Productivity",
    "drivers": "Drivers",
}

ICON = os.path.join(os.path.dirname(os.path.dirname(__file__)), "icon.svg")


class MiningEcoAlgorithm(QgsProcessingAlgorithm):
    ID = ""
    NAME = ""
    GROUP = ""
    SUMMARY = ""
    SOURCE = ""

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
            param.setFlags(param.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        if hasattr(param, "setHelp"):
            param.setHelp(help_text)
        self._help.append((param.name(), param.description(), help_text))
        return self.addParameter(param)

    def add_output(self, param, help_text: str):
        if hasattr(param, "setHelp"):
            param.setHelp(help_text)
        self._help.append((param.name(), param.description(), help_text))
        return self.addParameter(param)

    def shortHelpString(self):  # noqa: N802
        if not self._help:  # help is asked of instances that were never initialised
            self.initAlgorithm({})
        lines = [f"<p>{self.SUMMARY}</p>"]
        if self.SOURCE:
            lines.append(f"<p><b>Formula source:</b> {self.SOURCE}</p>")
        lines.append("<p><b>Parameters</b></p><ul>")
        lines += [f"<li><b>{desc}</b> (<code>{name}</code>): {text}</li>" for name, desc, text in self._help]
        lines.append("</ul>")
        return "\n".join(lines)

    def helpUrl(self):  # noqa: N802
        return ""

    # -- running ---------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            return self.run_tool(parameters, context, feedback)
        except Canceled:
            feedback.reportError("Cancelled: no output was written.")
            raise QgsProcessingException("Cancelled by the user; no output was written.") from None
        except QgsProcessingException:
            raise
        except ValueError as err:  # RasterError, MtlError, ExpressionError are ValueErrors
            msg = err.args[0] if err.args else str(err)
            raise QgsProcessingException(f"{self.NAME}: {msg}") from None

    def run_tool(self, parameters, context, feedback):
        raise NotImplementedError
