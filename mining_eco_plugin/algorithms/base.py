"""One small base class for every Mining Eco algorithm.

A subclass declares ID, NAME, GROUP, a SUMMARY (the short description), a SOURCE (one citation line),
SHORT_DESCRIPTION and TAGS (what the Toolbox search matches), adds its parameters with
``self.add(param, help)`` and implements ``run_tool``. Every user-facing error becomes a
QgsProcessingException.

Help has two layers (issue 11, defect 15):

* ``shortHelpString``: SUMMARY (what the tool does, its inputs and outputs), the SOURCE line and where the
  manual is; at most SHORT_HELP_LIMIT characters of plain text, paragraphs separated by newlines. QGIS's
  dialog wraps each line in a paragraph of its help panel and ``qgis_process help`` prints the text as it is,
  so it holds no markup. Each parameter's one-line help is the parameter's own help (``param.setHelp``:
  its tooltip and ``qgis_process help``'s argument list) and is not repeated here.
* ``helpUrl``: the tool's page of the manual shipped in the plugin (docs/<ID>.html: formulas, defaults and
  why, a worked example, full references; the dialog's Help button opens it). scripts/build_manual.py renders
  every page from the algorithm's metadata (SUMMARY, parameters and their help, outputs) and a per-tool text.
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
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QIcon

from .. import compat
from ..core.cancel import Cancelled
from ..core.plain import plain, spreadsheet_safe
from ..raster import executor
from ..raster.engine import Canceled
from ..raster.outputs import OutputTransaction
from . import destinations, errors, execution

_FIELD_TYPES = {str: compat.FieldType.QString, float: compat.FieldType.Double, int: compat.FieldType.LongLong,
                bool: compat.FieldType.Bool}

# group id -> name, in the order of the workflow (indices -> ecology -> change -> salinity -> productivity ->
# drivers). The manual's index follows this order. QGIS's Processing Toolbox sorts groups alphabetically by their
# name (QgsProcessingToolboxProxyModel::lessThan, locale-aware; there is no API to order them); numbering the names
# or prefixing invisible characters would trade a readable name for an order, so the names stay as they are.
GROUPS = {
    "indices": "Indices",
    "ecology": "Ecology",
    "change": "Change",
    "salinity": "Salinity",
    "productivity": "Productivity",
    "drivers": "Drivers",
    "setup": "Set-up",
}
# search words every tool of a group shares (the Toolbox search matches tags(): each word of a search must be
# found in the tool's name, a tag or its short description)
GROUP_TAGS = {
    "indices": ("remote sensing", "landsat", "sentinel-2", "spectral index"),
    "ecology": ("ecology", "ecological quality", "remote sensing ecological index", "mining area"),
    "change": ("change detection", "time series", "mining area"),
    "salinity": ("salinity", "soil salinity", "soil salt", "salinization", "salt"),
    "productivity": ("vegetation", "carbon", "productivity"),
    "drivers": ("driving factors", "drivers", "attribution"),
    "setup": ("install", "dependencies"),
}

PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ICON = os.path.join(PLUGIN_DIR, "icon.svg")
DOCS = os.path.join(PLUGIN_DIR, "docs")
SHORT_HELP_LIMIT = 1500


def group_icon(group: str) -> str:
    """Path of the icon every tool of ``group`` shares (icons/<group id>.svg)."""
    return os.path.join(PLUGIN_DIR, "icons", f"{group}.svg")


def manual_page(alg_id: str) -> str:
    """Path of the manual page of the algorithm ``alg_id`` (without provider prefix) shipped in docs/."""
    return os.path.join(DOCS, f"{alg_id}.html")


def file_raster_path(layer, pid: str) -> str:
    """The file behind a raster layer of parameter ``pid`` (its GDAL source without "|" options); ValueError naming
    ``pid`` for a layer that is not a GDAL file (a WMS, a virtual raster of another provider)."""
    if layer.providerType() != "gdal":
        raise ValueError(f"{pid}: {layer.name()} is not a file raster (provider {layer.providerType()}); save it as "
                         "GeoTIFF first.")
    return layer.source().split("|")[0]


def is_csv_destination(dest) -> bool:
    """True when a sink's destination (a path, possibly with "|layername=...") is a CSV file."""
    return str(dest or "").split("|")[0].strip().lower().endswith(".csv")


def csv_safe_attributes(dest, values):
    """The attribute ``values`` of a feature going to sink ``dest``: in a CSV file every text is neutralised
    against formula injection (core.plain.spreadsheet_safe: a leading single quote before = + - @ ...); numbers
    stay numbers, and other formats (GeoPackage, XLSX / ODS, which type their cells, memory layers) are left as
    they are."""
    if not is_csv_destination(dest):
        return list(values)
    return [spreadsheet_safe(v) for v in values]


class MiningEcoAlgorithm(QgsProcessingAlgorithm):
    ID = ""
    NAME = ""
    GROUP = ""
    #: the short description (plain text, a newline starts a paragraph): what the tool does, its inputs, outputs
    SUMMARY = ""
    #: one citation line: authors, year, journal (references.cite)
    SOURCE = ""
    #: heading of SOURCE in shortHelpString
    SOURCE_LABEL = "Source"
    #: one line for the Toolbox (tooltip) and its search
    SHORT_DESCRIPTION = ""
    #: search words of this tool (its group's GROUP_TAGS are added)
    TAGS = ()
    #: destination parameters the tool writes itself, outside the run's transaction (rseiseries' folder, filled
    #: year by year); every other output is staged and committed at the end of the run
    UNSTAGED_OUTPUTS = ()

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
        return QIcon(group_icon(self.GROUP))

    def svgIconPath(self):  # noqa: N802
        return group_icon(self.GROUP)

    def shortDescription(self):  # noqa: N802
        return self.SHORT_DESCRIPTION

    def tags(self):
        return list(dict.fromkeys(list(self.TAGS) + list(GROUP_TAGS.get(self.GROUP, ()))))

    def createInstance(self):  # noqa: N802
        return type(self)()

    # -- parameters and help --------------------------------------------------------------
    def add(self, param, help_text: str, advanced: bool = False):
        """Add a parameter with its one-line help (its tooltip, qgis_process help's argument list, the manual)."""
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
        """Add a non-file output (e.g. QgsProcessingOutputNumber) with its help line (shown in the manual: QGIS
        has no help text for outputs)."""
        self._help.append((output.name(), output.description(), help_text))
        return self.addOutput(output)

    def help_lines(self):
        """(id, label, help) of every parameter and output, in the order they were added (for the manual)."""
        if not self._help:  # help is asked of instances that were never initialised
            self.initAlgorithm({})
        return list(self._help)

    def shortHelpString(self):  # noqa: N802
        paragraphs = [p.strip() for p in self.SUMMARY.split("\n") if p.strip()]
        if self.SOURCE:
            paragraphs.append(f"{self.SOURCE_LABEL}: {self.SOURCE.rstrip('.')}.")
        paragraphs.append(f"Manual (formulas, defaults, a worked example, references): the Help button, or "
                          f"docs/{self.ID}.html in the plugin folder.")
        return "\n".join(paragraphs)

    def helpUrl(self):  # noqa: N802
        return QUrl.fromLocalFile(manual_page(self.ID)).toString()

    # -- running ---------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        try:
            # outputs are plain Python values: qgis_process prints a numpy scalar as empty
            return plain(self.run_committed(parameters, context, feedback))
        except (Canceled, Cancelled):   # the exception is the one message: Processing reports it (not reportError as well)
            raise QgsProcessingException("Cancelled by the user; no output was written.") from None
        except QgsProcessingException:
            raise
        except ValueError as err:  # RasterError, MtlError, ExpressionError are ValueErrors
            msg = err.args[0] if err.args else str(err)
            raise QgsProcessingException(f"{self.NAME}: {msg}") from None
        # no raw traceback ever (issue 11): the known causes are worded where they arise, these are the rest
        except OSError as err:
            raise QgsProcessingException(errors.os_error(self, err, parameters, context)) from None
        except MemoryError:
            raise QgsProcessingException(errors.memory_error(self)) from None
        except Exception as err:  # noqa: BLE001 - the last resort
            raise QgsProcessingException(errors.unexpected(self, err, feedback)) from None

    def run_tool(self, parameters, context, feedback):
        raise NotImplementedError

    def run_pass(self, spec, feedback, start=0.0, end=100.0):
        """Run one raster pass (raster/executor.BlockPass) on the configured executor: local threads unless the
        Processing setting or MINING_ECO_EXECUTOR say otherwise (algorithms/execution.py)."""
        config = execution.current_config()
        if config.kind != executor.THREADS:
            feedback.pushInfo(f"Raster blocks run on {config.describe()}.")
        return executor.run_pass(spec, feedback, start, end, config)

    def run_committed(self, parameters, context, feedback):
        """``run_tool`` with every file output staged and committed together at the end (outputs.py): a failure or
        cancel at any step leaves nothing. ``run_tool`` sees staged paths; the results name the destinations."""
        clash = self.parameter_problem(parameters, context) or self.output_clash(parameters, context)
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
        problem = self.parameter_problem(parameters, context)     # before QGIS's terse message
        if problem:
            return False, f"{self.NAME}: {problem}"
        ok, msg = super().checkParameterValues(parameters, context)
        if ok:
            clash = self.output_clash(parameters, context)
            if clash:
                return False, f"{self.NAME}: {clash}"
        return ok, msg

    def parameter_problem(self, parameters, context):
        """'' or why a number or band parameter cannot be used: a number outside its bounds (stated), nan or inf;
        a band its raster does not have. Checked before the run and again at its start (a Modeler child's values
        are known only then)."""
        return errors.out_of_range(self, parameters) or errors.bad_band(self, parameters, context)

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
            feature.setAttributes(csv_safe_attributes(dest, [None if v is None else kind(v)
                                                             for v, (_f, kind) in zip(row, columns)]))
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
