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

from .. import deps
from ..deps import pip_install
from ..raster.engine import Canceled
from .base import MiningEcoAlgorithm

SUMMARY = (
    "Installs the Python packages of the Salinity model tools for QGIS's own Python: skops (model files) and, "
    "if chosen, xgboost-cpu (XGBoost boosting). pip puts them in a folder of the plugin in your QGIS profile "
    "(mining_eco/python3.x), which the plugin adds to Python's path when it loads: this works where "
    "'pip install --user' is refused (Debian 12 and newer). Only what QGIS lacks is installed, in the newest "
    "versions that fit the numpy, scipy and scikit-learn QGIS has (never those). Each new package must import "
    "before the folder is replaced: a failed or cancelled run changes nothing. Needs pip for QGIS's Python and "
    "the package index (or a mirror). Environment variable MINING_ECO_PYTHON: the Python to run pip with, if the "
    "automatic choice is wrong.")
SOURCE = ("the package index pip is configured with, or INDEX_URL; versions chosen by pip's resolver in a dry run "
          "(pip install --dry-run --report), installed with pip install --no-deps --target (allowed under PEP 668).")


class InstallDependenciesAlgorithm(MiningEcoAlgorithm):
    ID = "installdependencies"
    NAME = "Install Python dependencies"
    GROUP = "setup"
    SUMMARY = SUMMARY
    SOURCE = SOURCE
    SOURCE_LABEL = "Source of the packages"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add(QgsProcessingParameterBoolean("INSTALL_XGBOOST", "Also install xgboost-cpu", defaultValue=False),
                 "XGBoost for gradient boosting (about 6 MB to download, 20 MB installed).")
        self.add(QgsProcessingParameterString("INDEX_URL", "Package index URL", optional=True),
                 "A mirror, e.g. https://mirror.example/simple; only it is used. Empty: pip's configuration.")
        self.add(QgsProcessingParameterNumber("TIMEOUT", "Network timeout (seconds)",
                                              QgsProcessingParameterNumber.Integer, 60, minValue=1, maxValue=600),
                 "pip's timeout per connection.", advanced=True)
        self.add_output(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Report", "HTML files (*.html)",
                                                              optional=True, createByDefault=True),
                        "HTML: Python, folder, packages installed and checked.")
        self.add_result(QgsProcessingOutputString("INSTALLED", "Installed packages"),
                        "name==version, comma separated; empty if nothing was needed.")
        self.add_result(QgsProcessingOutputString("SKOPS_VERSION", "skops version"), "skops now importable.")
        self.add_result(QgsProcessingOutputString("XGBOOST_VERSION", "xgboost version"), "Empty if none.")
        self.add_result(QgsProcessingOutputString("FOLDER", "Plugin package folder"), "Where they are.")
        self.add_result(QgsProcessingOutputString("PYTHON", "Python that ran pip"), "Empty if pip was not needed.")

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
                   "XGBOOST_VERSION": _xgboost_version(versions), "FOLDER": folder,
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
