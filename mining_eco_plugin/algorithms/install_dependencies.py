"""Install the Python packages of the Salinity model tools for QGIS (miningeco:installdependencies).

Thin wrapper of ``deps.pip_install.Installer``: parameters -> installer -> report and outputs."""
from __future__ import annotations

import re

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .. import compat, deps
from ..deps import pip_install
from ..raster.engine import Canceled
from .base import MiningEcoAlgorithm

SUMMARY = (
    "Installs the Python packages of the Salinity model tools for QGIS's own Python: skops and, if chosen, "
    "xgboost-cpu, GSTools (for Kriging), Optuna (Train model's search) and shap (explanations), with pip, into the "
    "plugin's folder in your QGIS profile (mining_eco/python3.x), which the plugin "
    "puts on Python's path: this works where 'pip install --user' is refused (Debian 12 and newer).\n"
    "Only what QGIS lacks is installed, in the newest versions that fit its numpy, scipy and scikit-learn (never "
    "replaced); each must import before the folder is replaced, and a failed or cancelled run changes nothing.\n"
    "Environment variable MINING_ECO_PYTHON: the Python to run pip with.")
SOURCE = ("the package index of pip's configuration, or INDEX_URL; versions chosen by pip's resolver (pip install "
          "--dry-run --report), installed with pip install --no-deps --target.")


class InstallDependenciesAlgorithm(MiningEcoAlgorithm):
    ID = "installdependencies"
    NAME = "Install Python dependencies"
    GROUP = "setup"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SOURCE_LABEL = "Source of the packages"
    SHORT_DESCRIPTION = (
        "Installs skops and, if chosen, xgboost-cpu, GSTools, Optuna and shap into QGIS's Python")
    TAGS = ("pip", "python", "skops", "xgboost", "gstools", "optuna", "shap", "packages", "setup")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterBoolean("INSTALL_XGBOOST", "Also install xgboost-cpu", defaultValue=False),
                 "XGBoost boosting (6 MB download).")
        self.add(QgsProcessingParameterBoolean("INSTALL_GSTOOLS", "Also install GSTools (kriging)",
                                               defaultValue=False),
                 "GSTools and what it needs (emcee, hankel, meshio, pyevtk, mpmath; about 5 MB) for the Kriging tool.")
        self.add(QgsProcessingParameterBoolean("INSTALL_OPTUNA", "Also install Optuna (model tuning)",
                                               defaultValue=False),
                 "Optuna and what it needs (SQLAlchemy, Alembic, Mako, colorlog; about 5 MB): TPE search of Train model.")
        self.add(QgsProcessingParameterBoolean("INSTALL_SHAP", "Also install shap (SHAP explanations)",
                                               defaultValue=False),
                 "shap, slicer and, unless QGIS has them, numba and llvmlite (about 45 MB) for the explanations of "
                 "Train model and Apply model; 0.49 on numpy 1.x, the newest on numpy 2.")
        self.add(QgsProcessingParameterString("INDEX_URL", "Package index URL", optional=True),
                 "Only this index (a mirror) is used. Empty: pip's settings.")
        self.add(QgsProcessingParameterNumber("TIMEOUT", "Network timeout (seconds)",
                                              compat.ProcessingNumberParameterType.Integer, 60, minValue=1, maxValue=600),
                 "Per connection.", advanced=True)
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "HTML: what was installed, where, how.")
        self.add_result(QgsProcessingOutputString("INSTALLED", "Installed packages"),
                        "name==version, comma separated.")
        self.addOutput(QgsProcessingOutputString("SKOPS_VERSION", "skops version (importable now)"))
        self.addOutput(QgsProcessingOutputString("XGBOOST_VERSION", "xgboost version (empty if none)"))
        self.addOutput(QgsProcessingOutputString("GSTOOLS_VERSION", "GSTools version (empty if none)"))
        self.addOutput(QgsProcessingOutputString("OPTUNA_VERSION", "Optuna version (empty if none)"))
        self.addOutput(QgsProcessingOutputString("SHAP_VERSION", "shap version (empty if none)"))
        self.addOutput(QgsProcessingOutputString("FOLDER", "Plugin package folder"))
        self.addOutput(QgsProcessingOutputString("PYTHON", "Python that ran pip (empty if not needed)"))

    def checkParameterValues(self, parameters, context):  # noqa: N802
        url = (self.parameterAsString(parameters, "INDEX_URL", context) or "").strip()
        if url and not re.match(r"^(https?|file)://\S+$", url):
            return False, (f"INDEX_URL: '{url}' is not a package index address; give one like "
                           "https://mirror.example/simple (or leave it empty for pip's own setting).")
        return super().checkParameterValues(parameters, context)

    def run_tool(self, parameters, context, feedback):
        folder = deps.deps_dir()
        if not folder:
            raise QgsProcessingException(f"{self.NAME}: QGIS has no profile folder in this session; nothing "
                                         "was installed.")
        requests = [pip_install.SKOPS]
        if self.parameterAsBool(parameters, "INSTALL_XGBOOST", context):
            requests.append(pip_install.XGBOOST)
        if self.parameterAsBool(parameters, "INSTALL_GSTOOLS", context):
            requests.append(pip_install.GSTOOLS)
        if self.parameterAsBool(parameters, "INSTALL_OPTUNA", context):
            requests.append(pip_install.OPTUNA)
        if self.parameterAsBool(parameters, "INSTALL_SHAP", context):
            requests.append(pip_install.SHAP)
        installer = pip_install.Installer(
            folder, index_url=self.parameterAsString(parameters, "INDEX_URL", context) or "",
            timeout=self.parameterAsInt(parameters, "TIMEOUT", context), log=feedback.pushConsoleInfo,
            progress=feedback.setProgress, cancelled=feedback.isCanceled, debug=feedback.pushDebugInfo)
        feedback.pushInfo(f"Plugin package folder: {folder}")
        try:
            result = installer.run(requests)
        except pip_install.Cancelled:
            raise Canceled() from None
        except pip_install.InstallError as err:
            raise QgsProcessingException(f"{self.NAME}: {err}") from None

        installed = ",".join(f"{n}=={v}" for n, v in result.installed)
        versions = {r["package"]: str(r["version"]) for r in result.requested}
        feedback.pushInfo(summary_text(result))
        outputs = {"INSTALLED": installed, "SKOPS_VERSION": versions.get("skops", ""),
                   "XGBOOST_VERSION": _xgboost_version(versions),
                   "GSTOOLS_VERSION": versions.get("gstools", "") or _module_version("gstools"),
                   "OPTUNA_VERSION": versions.get("optuna", "") or _module_version("optuna"),
                   "SHAP_VERSION": versions.get("shap", "") or _module_version("shap"), "FOLDER": folder,
                   "PYTHON": result.python.path if result.python else ""}
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context)
        if report:
            write_report(report, result)
            outputs["OUTPUT_REPORT"] = report
        return outputs


def _xgboost_version(versions):
    if "xgboost-cpu" in versions:
        return versions["xgboost-cpu"]
    try:
        import xgboost
        return str(xgboost.__version__)
    except Exception:  # noqa: BLE001 - not installed or broken: no version
        return ""


def _module_version(module):
    try:
        return str(__import__(module).__version__)
    except Exception:  # noqa: BLE001 - not installed or broken: no version
        return ""


def summary_text(result) -> str:
    lines = []
    if result.installed:
        lines.append("Installed: " + ", ".join(f"{n} {v}" for n, v in result.installed) +
                     f" ({result.seconds:.0f} s) into {result.folder}")
    else:
        lines.append("Nothing new was installed.")
    for r in result.requested:
        lines.append(f"{r['package']} {r['version']}: {r['status']} ({r['location']})")
    return "\n".join(lines)


def write_report(path, result):
    from ..reports.html import write_html_report
    py = result.python
    settings = {"Plugin package folder": result.folder,
                "Python that ran pip": f"{py.path} (Python {py.version}, pip {py.pip_version})" if py else
                "not needed (nothing was missing)",
                "Package index": result.index if py else "not used",
                "Time (s)": round(float(result.seconds), 1)}
    sections = [("Result", summary_text(result)), ("Settings", settings),
                ("Requested packages", [dict(r) for r in result.requested]),
                ("Installed in this run", [{"package": n, "version": v} for n, v in result.installed] or
                 "nothing (every requested package was already importable)")]
    if result.imports:
        sections.append(("Import check (a separate Python with only the new folder added)",
                         [dict(r) for r in result.imports]))
    sections.append(("Source of the packages", SOURCE[0].upper() + SOURCE[1:] + " Packages QGIS's Python already has are never installed or "
                     "replaced; numpy, scipy and scikit-learn are always left as they are."))
    write_html_report(path, "Mining Eco: Python dependencies", sections)
